"""What the modules of tools/pyrun share: constants, the input error, C's rounding, and the
event codes a thread records in its log (ThreadLog.ev)."""
import math
import os

PYRUN_VERSION = "1"
# The command, tools/pyrun (peers are started as `pyrun --peer`); this package is
# tools/lib/gilsim_pyrun/.
PYRUN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                     "pyrun")

NS_PER_US = 1000
MAX_DURATION_NS = 24 * 3600 * 10**9
HASHLIB_GIL_MINSIZE = 2048  # CPython's hashlib releases the GIL from this many bytes on


class InputError(Exception):
    """Bad input (workload, option): the command prints it and exits 2."""


def llround(x):
    """C's llround for the values used here: halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


# Exact event codes recorded by the threads (tuples (t, code, arg, inferred) in ThreadLog.ev).
EV = ("thread_start", "thread_exit", "request", "acquire", "release", "io_begin", "io_end",
      "sleep_begin", "sleep_end", "native_begin", "native_end", "hold_begin", "hold_end",
      "arrival", "done")
(E_START, E_EXIT, E_REQUEST, E_ACQUIRE, E_RELEASE, E_IO_BEGIN, E_IO_END, E_SLEEP_BEGIN,
 E_SLEEP_END, E_NATIVE_BEGIN, E_NATIVE_END, E_HOLD_BEGIN, E_HOLD_END, E_ARRIVAL,
 E_DONE) = range(len(EV))
# The argument key of each code that has one (release has two: reason and ticks).
ARG_KEY = {E_EXIT: "ticks", E_IO_BEGIN: "ns", E_SLEEP_BEGIN: "ns", E_NATIVE_BEGIN: "ns",
           E_HOLD_BEGIN: "ns", E_ARRIVAL: "at", E_DONE: "at"}
