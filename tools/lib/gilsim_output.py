"""tools/lib/gilsim_output.py - the output rules of docs/reliability.md for the Python tools, the
same as common/outfile.c for the C commands (standard library only; any CPython 3.7+, since
tools/pyrun uses it on the interpreter it measures):

- the output is never one of the inputs (same device and inode): refused;
- a directory, socket or block device at the path: refused; a character device or a FIFO is
  written in place; "-" is standard output where the tool allows it;
- anything else is written to a temporary file beside the path, created exclusively with an
  unpredictable name (tempfile.mkstemp), and renamed over the path when complete: a symlink at
  the path is replaced, never written through, and a failed write leaves the old file;
- the file gets the umask's mode; path lengths are checked up front.

A refusal raises OutputError (exit 2, before any work); a failed write (a full disk) raises
WriteError (exit 1), with nothing replaced. escape() makes text from files safe for a terminal.
"""
import contextlib
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


def _umask_mode():
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


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
def output(path, inputs=(), binary=False, stdout_ok=False):
    """A file object to write path's new contents to, under the rules above; the rename (or, in
    place, the close) happens when the block ends without an exception. An OSError while
    writing becomes WriteError."""
    if stdout_ok and path == "-":
        f = sys.stdout.buffer if binary else sys.stdout
        _check_inputs("standard output", inputs, os.fstat(f.fileno()))
        with _writing("standard output"):
            yield f
            f.flush()
        return
    check_path(path)
    opener = _in_place if _kind(path, inputs) == "in place" else _replacing
    with opener(path, binary) as f:
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
def _replacing(path, binary):
    d = os.path.dirname(path) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), dir=d)
    except OSError as e:
        raise OutputError("%s: cannot write here: %s" % (show(path), e.strerror))
    try:
        os.fchmod(fd, _umask_mode())
        f = os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8")
        with _writing(path):
            with f:
                yield f
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_output(path, data, inputs=(), stdout_ok=False):
    """The whole of path at once: data (str or bytes)."""
    with output(path, inputs, isinstance(data, bytes), stdout_ok) as f:
        f.write(data)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def escape(text):
    """Text from a file made safe for a terminal: control characters (C0, DEL, C1) as \\xNN,
    bytes that were not UTF-8 (surrogate escapes) as \\xNN, as gilsim's C side writes them."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "surrogateescape")
    text = "".join("\\x%02x" % (ord(c) - 0xdc00) if 0xdc80 <= ord(c) <= 0xdcff else c
                   for c in str(text))
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()), text)


def path_text(path):
    """A path as text for JSON: bytes that are not UTF-8 as the text \\xNN (gilsim's C side
    writes them the same way), so that the document stays valid UTF-8."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def show(path):
    """A path for a message: escaped like any text from outside."""
    return escape(os.fsencode(path) if isinstance(path, str) else path)


def exit_on_interrupt(prog):
    """SIGINT and SIGTERM end the tool with one line and 128 + the signal, wherever they come
    (an import too), without a traceback; temporary files are removed on the way out."""
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
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    # `gilsim report` execs the tool with both blocked, so that none comes before this
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


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
