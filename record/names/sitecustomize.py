"""gilsim record's names hook: threading's thread names for the trace (docs/record.md).

gilsim record puts this directory first on PYTHONPATH, so the recorded interpreter imports this
module at start-up (site.py imports `sitecustomize`). It removes itself from the environment and
sys.path, then imports the next `sitecustomize` there is (Debian ships one), so the program sees
its usual start-up. It notes each thread's native id and name as the thread starts, and every
live thread's name again at exit (a thread renamed after its start), into the session's file
`names`, mapped into memory: noting a name is a copy into memory, not a system call, so it adds
no event to the trace. Standard library only; any CPython 3.8+.
"""
import os
import sys

_ROOM = 1 << 20  # bytes of names; more are left out (the trace then names such threads by id)


def _note_names(mem, pid):
    """Returns note(native_id, name): one line into mem, in this process only."""
    state = {"at": 0}

    def note(native_id, name):
        if os.getpid() != pid:  # a forked child: not recorded
            return
        line = ("%d\t%s\n" % (native_id, name.replace("\n", " "))).encode("utf-8", "replace")
        at = state["at"]
        if at + len(line) <= len(mem):
            mem[at:at + len(line)] = line
            state["at"] = at + len(line)

    return note


def _install(session):
    import mmap
    import threading

    fd = os.open(os.path.join(session, "names"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.ftruncate(fd, _ROOM)
        mem = mmap.mmap(fd, _ROOM)
    finally:
        os.close(fd)
    note = _note_names(mem, os.getpid())
    note(threading.get_native_id(), threading.current_thread().name)
    bootstrap = threading.Thread._bootstrap_inner

    def _bootstrap_inner(self):
        note(threading.get_native_id(), self.name)
        bootstrap(self)

    threading.Thread._bootstrap_inner = _bootstrap_inner

    def at_exit():
        for t in threading.enumerate():
            if t.native_id is not None:
                note(t.native_id, t.name)

    import atexit
    atexit.register(at_exit)


def _leave():
    """Removes this hook from the environment and sys.path; returns the session directory."""
    here = os.environ.pop("GILSIM_RECORD_NAMES", None)
    session = os.environ.pop("GILSIM_RECORD_DIR", None)
    path = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if here and path and path[0] == here:
        rest = os.pathsep.join(path[1:])
        if rest:
            os.environ["PYTHONPATH"] = rest
        else:
            del os.environ["PYTHONPATH"]
    mine = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != mine]
    return session


def _chain():
    """Runs the sitecustomize this one hid, if there is one, and leaves it in sys.modules in
    this one's place (the import system reads the name back once this module has run)."""
    import importlib.machinery
    import importlib.util
    spec = importlib.machinery.PathFinder.find_spec(__name__, sys.path)
    if spec is None or spec.loader is None:
        return
    other = importlib.util.module_from_spec(spec)
    sys.modules[__name__] = other
    spec.loader.exec_module(other)


_session = _leave()
if _session:
    try:
        _install(_session)
    except OSError:
        pass  # no names: the trace names threads by their native ids
_chain()
