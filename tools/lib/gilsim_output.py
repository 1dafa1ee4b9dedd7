"""tools/lib/gilsim_output.py - the output rules of docs/reliability.md for the Python tools, the
same as common/outfile.c for the C commands (standard library only; any CPython 3.7+, since
tools/pyrun uses it on the interpreter it measures):

- the output is never one of the inputs (same device and inode): refused;
- a directory, socket or block device at the path: refused; a character device or a FIFO is
  written in place; "-" is standard output where the tool allows it;
- anything else is written to a temporary file beside the path, created exclusively with an
  unpredictable name (tempfile.mkstemp), and renamed over the path when complete: a symlink at
  the path is replaced, never written through, and a failed write leaves the old file;
- the file gets the umask's mode; path lengths are checked up front;
- the file is fsynced before the rename and its directory after it (a crash of the machine on
  a network filesystem must not leave an empty file under the name).

A refusal raises OutputError (exit 2, before any work); a failed write (a full disk) raises
WriteError (exit 1), with nothing replaced. escape() makes text from files safe for a terminal.
Inputs that a hostile directory could hold (a plan, a summary) are read with read_input() or
read_json(): never waiting on a FIFO, never reading a device, bounded; InputError (exit 2).
"""
import contextlib
import errno
import json
import os
import re
import signal
import stat
import sys
import tempfile

PATH_MAX = 4096
NAME_MAX = 255
TMP_RANDOM = 8  # the characters mkstemp adds to the prefix


class OutputError(Exception):
    """The output may not be written (exit 2): the message names the path and why."""


class WriteError(Exception):
    """Writing the output failed (exit 1): nothing was replaced."""


class InputError(OutputError):
    """An input may not be read (exit 2, as a refused output): absent, not a regular file (a
    FIFO planted at its name is never waited on), a symlink where none may be, too large."""


def _tmp_prefix(path):
    base = os.fsencode(os.path.basename(path))
    return (os.path.basename(path) + ".tmp." if len(base) + 5 + TMP_RANDOM <= NAME_MAX
            else ".gilsim.tmp.")


def check_path(path):
    """The checks that need no file: the path's length, its names', its temporary name's."""
    b = os.fsencode(path)
    if not b:
        raise OutputError("an empty output path")
    if any(len(part) > NAME_MAX for part in b.split(b"/")):
        raise OutputError("%s: a name in the path is longer than %d bytes" % (show(path), NAME_MAX))
    tmp_len = len(os.path.dirname(b)) + 1 + len(os.fsencode(_tmp_prefix(path))) + TMP_RANDOM
    if len(b) >= PATH_MAX or tmp_len >= PATH_MAX:
        raise OutputError("%s: the path is too long (%d bytes)" % (show(path), len(b)))


def same_file(a, b):
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _check_inputs(path, inputs, st):
    for inp in inputs:
        try:
            si = os.stat(inp)
        except OSError:
            continue
        if (si.st_dev, si.st_ino) == (st.st_dev, st.st_ino):
            raise OutputError("%s: is the input %s; choose another output" % (show(path), show(inp)))


def _umask_mode(executable=False):
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if executable else 0o666) & ~mask


def read_input(path, limit, what="file", follow=True):
    """The bytes of the regular file at path, at most limit of them: opened without blocking
    (a FIFO at the name is found by fstat, never waited on; a device such as /dev/zero is
    refused before a byte is read), and without following a symlink at the last name unless
    follow. InputError (exit 2) says why not; a read error (EIO) is WriteError's status, 1."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        why = "a symlink, not followed" if e.errno == errno.ELOOP and not follow else e.strerror
        raise InputError("%s: cannot read the %s: %s" % (show(path), what, why))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("%s: not a regular file, expected a %s" % (show(path), what))
        if st.st_size > limit:
            raise InputError("%s: %d bytes, expected a %s of at most %d" % (show(path), st.st_size,
                                                                           what, limit))
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise WriteError("%s: cannot read: %s" % (show(path), e.strerror))
    if len(data) > limit:
        raise InputError("%s: expected a %s of at most %d bytes" % (show(path), what, limit))
    return data


def read_json(path, limit, what="file", follow=True):
    """read_input's file as JSON (duplicate keys refused, as gilsim's readers refuse them);
    InputError when it is not JSON."""
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        for k in keys:
            if keys.count(k) > 1:
                raise ValueError("duplicate object key %s" % json.dumps(k))
        return dict(pairs)

    def no_constant(name):  # Python's json takes NaN and Infinity, which JSON has not
        raise ValueError("%s is not JSON" % name)

    try:
        return json.loads(read_input(path, limit, what, follow).decode("utf-8"),
                          object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise InputError("%s: not a valid %s: %s" % (show(path), what, escape(str(e))))


def _kind(path, inputs):
    """What the path is: None (new, or a dangling symlink: the rename replaces the link),
    "in place" (a character device or a FIFO) or "replace" (a regular file); OutputError for
    an input or a kind not to be replaced."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise OutputError("%s: cannot write here: %s" % (show(path), e.strerror))
    _check_inputs(path, inputs, st)
    if stat.S_ISDIR(st.st_mode):
        raise OutputError("%s: is a directory" % show(path))
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return "in place"
    if not stat.S_ISREG(st.st_mode):
        raise OutputError("%s: not a regular file, character device or FIFO; not replacing it"
                          % show(path))
    return "replace"


def preflight(path, inputs=(), stdout_ok=False):
    """Every check output() makes, without creating anything: for tools that work a long time
    before they write, so that a refusal comes first."""
    if stdout_ok and path == "-":
        return
    check_path(path)
    if _kind(path, inputs) != "in place":
        d = os.path.dirname(path) or "."
        if not os.access(d, os.W_OK | os.X_OK):
            raise OutputError("%s: cannot write into %s" % (show(path), show(d)))


@contextlib.contextmanager
def output(path, inputs=(), binary=False, stdout_ok=False, executable=False):
    """A file object to write path's new contents to, under the rules above; the rename (or, in
    place, the close) happens when the block ends without an exception. An OSError while
    writing becomes WriteError. executable: a script, mode 0777 & ~umask, set on the temporary
    file before the rename (never a chmod by name, which a symlink would redirect)."""
    if stdout_ok and path == "-":
        f = sys.stdout.buffer if binary else sys.stdout
        _check_inputs("standard output", inputs, os.fstat(f.fileno()))
        with _writing("standard output"):
            yield f
            f.flush()
        return
    check_path(path)
    if _kind(path, inputs) == "in place":
        with _in_place(path, binary) as f:
            yield f
    else:
        with _replacing(path, binary, executable) as f:
            yield f


@contextlib.contextmanager
def _writing(path):
    try:
        yield
    except OSError as e:
        if isinstance(e, (OutputError, WriteError)):
            raise
        raise WriteError("%s: cannot write: %s (nothing replaced)" % (show(path), e.strerror))


@contextlib.contextmanager
def _in_place(path, binary):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    except OSError as e:
        raise OutputError("%s: cannot write here: %s" % (show(path), e.strerror))
    f = os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8")
    with _writing(path), f:
        yield f


@contextlib.contextmanager
def _replacing(path, binary, executable=False):
    d = os.path.dirname(path) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), dir=d)
    except OSError as e:
        raise OutputError("%s: cannot write here: %s" % (show(path), e.strerror))
    try:
        os.fchmod(fd, _umask_mode(executable))
        f = os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8")
        with _writing(path):
            with f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            sync_dir(path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def sync_dir(path):
    """fsyncs the directory holding path, after a rename into it (a filesystem that cannot sync
    a directory, EINVAL, is not an error)."""
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def write_output(path, data, inputs=(), stdout_ok=False, executable=False):
    """The whole of path at once: data (str or bytes)."""
    with output(path, inputs, isinstance(data, bytes), stdout_ok, executable) as f:
        f.write(data)


# Control characters (C0, DEL, C1) and the bidirectional controls (U+061C, U+200E, U+200F,
# U+202A..U+202E, U+2066..U+2069), as common/text.c escapes them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text):
    """Text from a file made safe for a terminal: control characters (C0, DEL, C1), the
    bidirectional controls and bytes that were not UTF-8 (surrogate escapes) as \\xNN, one per
    byte of their UTF-8, as gilsim's C side writes them (common/text.h)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    text = "".join("\\x%02x" % (ord(c) - 0xdc00) if 0xdc80 <= ord(c) <= 0xdcff else c
                   for c in str(text))
    return _CONTROL.sub(lambda m: "".join("\\x%02x" % b for b in m.group().encode("utf-8")),
                        text)


def path_text(path):
    """A path as text for JSON: bytes that are not UTF-8 as the text \\xNN (gilsim's C side
    writes them the same way), so that the document stays valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def show(path):
    """A path for a message: escaped like any text from outside."""
    return escape(os.fsencode(path) if isinstance(path, str) else path)


# The signals that stop a tool, as they stop gilsim's C commands (cli/signals.c).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_on_interrupt(prog):
    """SIGINT, SIGTERM and SIGHUP (a closed terminal: a stop like SIGTERM) end the tool with one
    line and 128 + the signal, wherever they come (an import too), without a traceback;
    temporary files are removed on the way out."""
    interrupted = []

    def handler(signo, frame):
        if not interrupted:
            sys.stderr.write("%s: interrupted\n" % prog)
        interrupted.append(signo)
        raise SystemExit(128 + signo)

    def excepthook(kind, value, tb):
        # The SystemExit can arrive wrapped: Python 3.11 turns an exception raised inside
        # __set_name__ (matplotlib's import runs some) into a RuntimeError. The stack has
        # unwound by now, so the temporary files are gone; only the status is left to set.
        if interrupted:
            sys.stderr.flush()
            os._exit(128 + interrupted[0])
        previous_hook(kind, value, tb)

    previous_hook = sys.excepthook
    sys.excepthook = excepthook
    for signo in STOP_SIGNALS:
        signal.signal(signo, handler)
    # `gilsim report` execs the tool with them blocked, so that none comes before this
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))


class _Stdout:
    """sys.stdout with its write errors named: every write or flush that fails (a full disk,
    an I/O error) raises WriteError naming standard output, wherever the write was (print,
    argparse's --help, a progress line)."""

    def __init__(self, f):
        self._f = f

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except OSError as e:
            raise WriteError("standard output: cannot write: %s" % (e.strerror or e))

    def write(self, s):
        return self._call(self._f.write, s)

    def flush(self):
        return self._call(self._f.flush)

    def __getattr__(self, name):
        return getattr(self._f, name)


def close_stdout(prog, status):
    """Flushes and closes standard output at the end of a tool, as the C commands do
    (common/outfile.h, coreutils' close_stdout): a write error there is one line on stderr and
    exit status 1 (a failure the tool reported already keeps its own status)."""
    f = sys.stdout._f if isinstance(sys.stdout, _Stdout) else sys.stdout
    try:
        f.flush()
        f.close()
    except OSError as e:
        try:
            f.close()  # the buffer is dropped: Python's own exit must not try it again
        except OSError:
            pass
        if not status:
            sys.stderr.write("%s: standard output: cannot write: %s\n" % (prog, e.strerror or e))
        return status or 1
    return status


def run_main(prog, main, *args):
    """main(*args)'s exit status, with standard output checked as the C commands check it: a
    write error on it, in the middle (print, --help) or at the end, is one line on stderr and
    exit status 1, never a traceback or a silently short output."""
    sys.stdout = _Stdout(sys.stdout)
    try:
        status = main(*args)
    except WriteError as e:
        sys.stderr.write("%s: %s\n" % (prog, e))
        status = 1
    except SystemExit as e:  # argparse's --help and refusals
        status = e.code if isinstance(e.code, int) else 0 if e.code is None else 2
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
    return close_stdout(prog, status)


def print_out(data):
    """data (str, or bytes: written as they are, e.g. a path that is not UTF-8) and a newline
    on standard output at once; WriteError when standard output cannot take it."""
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write((data if isinstance(data, bytes) else data.encode()) + b"\n")
        sys.stdout.buffer.flush()
    except OSError as e:
        raise WriteError("standard output: cannot write: %s" % (e.strerror or e))


def exit_status(err):
    """The exit status for an error: 1 when a write failed (WriteError), 2 for a refusal or
    bad input."""
    return 1 if isinstance(err, WriteError) else 2


def parse_or_none(parse, argv):
    """parse(argv)'s options, or None when parse refused them by raising SystemExit with a
    message (printed here; the caller exits 2). --help's SystemExit passes through."""
    try:
        return parse(argv)
    except SystemExit as e:
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
            return None
        raise
