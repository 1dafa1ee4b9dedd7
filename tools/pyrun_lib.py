"""tools/pyrun_lib.py - the logic of tools/pyrun: a gilsim workload on real interpreter threads.

Python 3 standard library only; runs on any CPython 3.7+ (the one that imports it is the one
measured). tools/pyrun is the command; tests/test_pyrun.py tests the pieces (the gap inference
on synthetic progress logs, the random draws, the workload checks). docs/pyrun.md says what is
measured and how exactly; this file is the reference for the details.

Layout:
  workload   load_workload(): read and check a gilsim-workload file (exit 2 on errors)
  draws      Rng: gilsim's xoshiro256** per thread, so the same seed gives the same latencies
  calibrate  the tick loop, the native call (hashlib), the hold call (deque over repeat)
  run        Runner: one threading.Thread per workload thread, one peer process per I/O
             thread, progress stamps and exact events per thread
  infer      infer_lost_gil(): lost-GIL intervals from gaps in the progress stamps
  trace      build_events(), write_trace(): gilsim-trace version 1
"""
import array
import bisect
import collections
import datetime
import functools
import hashlib
import itertools
import json
import math
import mmap
import os
import platform
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PYRUN_VERSION = "1"
TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
PYRUN = os.path.join(TOOLS_DIR, "pyrun")

NS_PER_US = 1000
MAX_DURATION_NS = 24 * 3600 * 10**9
HASHLIB_GIL_MINSIZE = 2048  # CPython's hashlib releases the GIL from this many bytes on


class InputError(Exception):
    """Bad input (workload, option): the command prints it and exits 2."""


def llround(x):
    """C's llround for the values used here: halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


# ---- workload ----------------------------------------------------------------------------------

NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
MAX_THREADS = 10000
MAX_NEST = 16
MAX_COUNT = 10**15
OPS = ("cpu", "io", "sleep", "native", "hold", "loop", "serve")


def _no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise InputError("duplicate key %r" % k)
        seen[k] = v
    return seen


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class _Checker:
    def __init__(self, path):
        self.path = path
        self.nthreads = 0

    def fail(self, where, msg):
        raise InputError("%s: %s: %s" % (self.path, where, msg))

    def keys(self, obj, where, required, optional=()):
        if not isinstance(obj, dict):
            self.fail(where, "expected an object")
        for k in obj:
            if k not in required and k not in optional:
                self.fail(where, "unknown key %r; expected one of: %s"
                          % (k, ", ".join(list(required) + list(optional))))
        for k in required:
            if k not in obj:
                self.fail(where, "missing key %r" % k)

    def us(self, v, where, positive=False):
        if not _is_num(v) or v < 0 or v > MAX_DURATION_NS / NS_PER_US or (positive and v == 0):
            self.fail(where, "expected a number of microseconds in %s0, 8.64e+10], got %r"
                      % ("(" if positive else "[", v))
        return llround(v * NS_PER_US)

    def count(self, v, where, forever_ok):
        if forever_ok and v == "forever":
            return None
        if not _is_int(v) or v < 1 or v > MAX_COUNT:
            self.fail(where, "expected an integer in [1, 1e15]%s, got %r"
                      % (' or "forever"' if forever_ok else "", v))
        return v

    def ops(self, ops, where, depth):
        if depth > MAX_NEST + 1:
            self.fail(where, "expected loop/serve nesting of at most %d levels" % MAX_NEST)
        if not isinstance(ops, list) or not ops:
            self.fail(where, "expected a non-empty array of ops")
        return [self.op(op, "%s[%d]" % (where, i), depth) for i, op in enumerate(ops)]

    def op(self, op, where, depth):
        if not isinstance(op, dict) or len(op) != 1:
            self.fail(where, "expected an object with exactly one key: %s" % ", ".join(OPS))
        (kind, a), = op.items()
        w = "%s.%s" % (where, kind)
        if kind not in OPS:
            self.fail(w, "unknown key %r; expected one of: %s" % (kind, ", ".join(OPS)))
        if kind == "cpu":
            self.keys(a, w, (), ("ticks", "us"))
            if ("ticks" in a) == ("us" in a):
                self.fail(w, "expected exactly one of ticks and us")
            if "ticks" in a:
                return ("cpu", self.count(a["ticks"], w + ".ticks", False), None)
            return ("cpu", None, self.us(a["us"], w + ".us", positive=True))
        if kind == "io":
            self.keys(a, w, ("us",), ("dist", "max_us"))
            ns = self.us(a["us"], w + ".us")
            dist = a.get("dist", "fixed")
            if dist not in ("fixed", "uniform", "exponential"):
                self.fail(w + ".dist", "expected fixed, uniform or exponential, got %r" % dist)
            max_ns = 0
            if "max_us" in a:
                max_ns = self.us(a["max_us"], w + ".max_us")
                if max_ns < ns:
                    self.fail(w + ".max_us", "expected at least us (%r)" % a["us"])
            return ("io", ns, dist, max_ns)
        if kind in ("sleep", "native", "hold"):
            self.keys(a, w, ("us",))
            return (kind, self.us(a["us"], w + ".us"))
        if kind == "loop":
            self.keys(a, w, ("count", "ops"))
            return ("loop", self.count(a["count"], w + ".count", True),
                    self.ops(a["ops"], w + ".ops", depth + 1))
        self.keys(a, w, ("rate_hz", "ops"), ("arrivals", "count"))
        rate = a["rate_hz"]
        if not _is_num(rate) or rate < 0.001 or rate > 1e6:
            self.fail(w + ".rate_hz", "expected a number in [0.001, 1e6], got %r" % rate)
        arrivals = a.get("arrivals", "poisson")
        if arrivals not in ("poisson", "fixed"):
            self.fail(w + ".arrivals", "expected poisson or fixed, got %r" % arrivals)
        count = self.count(a.get("count", "forever"), w + ".count", True)
        return ("serve", float(rate), arrivals, count, self.ops(a["ops"], w + ".ops", depth + 1))

    def name(self, v, where):
        if not isinstance(v, str) or not 1 <= len(v) <= 64 or not set(v) <= NAME_CHARS:
            self.fail(where, "expected a name of 1-64 of A-Z a-z 0-9 _ -, got %r" % (v,))
        return v


def _finite_float(text):
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError("invalid JSON: real number overflow: %s" % text)
    return v


def _no_constant(name):
    raise InputError("invalid JSON: %s is not JSON" % name)


def _strict_strings(v, depth=0):
    """What gilsim's reader refuses and Python's json takes: \\u0000 and lone surrogates in
    strings and keys; nesting deeper than gilsim's parser allows."""
    if depth > 512:
        raise InputError("invalid JSON: maximum parsing depth reached")
    if isinstance(v, str):
        if "\0" in v:
            raise InputError("invalid JSON: \\u0000 is not allowed")
        if any("\ud800" <= ch <= "\udfff" for ch in v):
            raise InputError("invalid JSON: invalid \\u surrogate pair")
    elif isinstance(v, dict):
        for k, x in v.items():
            _strict_strings(k, depth + 1)
            _strict_strings(x, depth + 1)
    elif isinstance(v, list):
        for x in v:
            _strict_strings(x, depth + 1)


def load_workload(path):
    """Reads and checks a gilsim-workload file: a dict with name, description, duration_ns,
    tick_ns, sha256 and groups (name, count, start_ns, ops as tuples). Raises InputError."""
    try:
        with open(path, "rb") as f:
            raw = f.read(16 * 2**20 + 1)
    except OSError as e:
        raise InputError("%s: cannot read: %s" % (path, e.strerror))
    if len(raw) > 16 * 2**20:
        raise InputError("%s: larger than 16 MiB" % path)
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates,
                         parse_float=_finite_float, parse_constant=_no_constant)
        _strict_strings(doc)
    except InputError as e:
        raise InputError("%s: %s" % (path, e))
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError("%s: invalid JSON: %s" % (path, e))
    except RecursionError:
        raise InputError("%s: invalid JSON: maximum parsing depth reached" % path)
    c = _Checker(path)
    c.keys(doc, "$", ("format", "version", "name", "threads"),
           ("description", "duration_ms", "tick_ns"))
    if doc["format"] != "gilsim-workload":
        c.fail("$.format", 'expected "gilsim-workload"')
    if doc["version"] != 1 or not _is_int(doc["version"]):
        c.fail("$.version", "expected 1")
    desc = doc.get("description", "")
    if not isinstance(desc, str):
        c.fail("$.description", "expected a string")
    dur = doc.get("duration_ms", 1000)
    if not _is_num(dur) or not 1 <= dur <= MAX_DURATION_NS / 1e6:
        c.fail("$.duration_ms", "expected milliseconds in [1, 86400000], got %r" % (dur,))
    tick = doc.get("tick_ns", 50)
    if not _is_int(tick) or not 5 <= tick <= 10**6:
        c.fail("$.tick_ns", "expected an integer in [5, 1000000], got %r" % (tick,))
    groups = doc["threads"]
    if not isinstance(groups, list) or not groups:
        c.fail("$.threads", "expected a non-empty array of thread groups")
    out, names, total = [], set(), 0
    for i, g in enumerate(groups):
        w = "$.threads[%d]" % i
        c.keys(g, w, ("name", "ops"), ("count", "start_ms"))
        name = c.name(g["name"], w + ".name")
        if name in names:
            c.fail(w + ".name", "group name %r given twice" % name)
        names.add(name)
        count = g.get("count", 1)
        if not _is_int(count) or not 1 <= count <= MAX_THREADS:
            c.fail(w + ".count", "expected an integer in [1, 10000], got %r" % (count,))
        total += count
        if total > MAX_THREADS:
            c.fail(w + ".count", "expected at most 10000 threads in all, this group brings "
                   "it to %d" % total)
        start = g.get("start_ms", 0)
        if not _is_num(start) or not 0 <= start <= dur:
            c.fail(w + ".start_ms", "expected milliseconds in [0, duration_ms], got %r"
                   % (start,))
        out.append({"name": name, "count": count, "start_ns": llround(start * 1e6),
                    "ops": c.ops(g["ops"], w + ".ops", 1)})
    return {"name": c.name(doc["name"], "$.name"), "description": desc,
            "duration_ns": llround(dur * 1e6), "tick_ns": tick, "groups": out,
            "sha256": hashlib.sha256(raw).hexdigest(), "path": path}


def walk_ops(ops):
    for op in ops:
        yield op
        if op[0] == "loop":
            yield from walk_ops(op[2])
        elif op[0] == "serve":
            yield from walk_ops(op[4])


# ---- random draws: exactly gilsim's (sim/engine.c) ----------------------------------------------

M64 = (1 << 64) - 1


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M64


class Rng:
    """xoshiro256** seeded by splitmix64 from (seed, tid), as gilsim run seeds each thread."""

    def __init__(self, seed, tid):
        s = (seed ^ ((0xd1342543de82ef95 * (tid + 1)) & M64)) & M64
        self.r = []
        for _ in range(4):
            s = (s + 0x9e3779b97f4a7c15) & M64
            z = s
            z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
            z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
            self.r.append(z ^ (z >> 31))

    def next(self):
        r = self.r
        result = (_rotl((r[1] * 5) & M64, 7) * 9) & M64
        t = (r[1] << 17) & M64
        r[2] ^= r[0]
        r[3] ^= r[1]
        r[1] ^= r[2]
        r[0] ^= r[3]
        r[2] ^= t
        r[3] = _rotl(r[3], 45)
        return result

    def unit(self):
        return (self.next() >> 11) * 2.0**-53


def sample_latency(rng, mean_ns, dist, max_ns):
    ns = float(mean_ns)
    if dist == "uniform":
        ns = rng.unit() * 2.0 * mean_ns
    elif dist == "exponential":
        ns = -math.log1p(-rng.unit()) * mean_ns
    if max_ns > 0 and ns > max_ns:
        ns = float(max_ns)
    return llround(ns)


# ---- calibration --------------------------------------------------------------------------------

# One tick is one iteration of a pure-Python for loop whose body is BODY_STMT repeated k
# times (k calibrated); the loop's backward jump is the eval breaker's check point. The
# function runs a cpu op in chunks of `chunk` ticks and stamps (time, ticks) after each.
BODY_STMT = "x = x + 1"
INNER_MAX = 256  # longer bodies: an inner loop of `reps` x INNER_BODY statements


def make_cpu_loop(k, reps=0):
    if reps:
        body = ("            for _j in range(%d):\n" % reps
                + "".join("                %s\n" % BODY_STMT for _ in range(k)))
    elif k:
        body = "".join("            %s\n" % BODY_STMT for _ in range(k))
    else:
        body = "            pass\n"
    src = ("def cpu_loop(n, chunk, ticks, ap, mono, stop):\n"
           "    x = 0\n"
           "    while n > 0:\n"
           "        m = chunk if n > chunk else n\n"
           "        for _ in range(m):\n"
           + body +
           "        n -= m\n"
           "        ticks += m\n"
           "        ap(mono())\n"
           "        ap(ticks)\n"
           "        if stop[0]:\n"
           "            break\n"
           "    return ticks, n\n")
    ns = {}
    exec(compile(src, "<pyrun tick loop>", "exec"), ns)
    return ns["cpu_loop"]


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure_tick(loop, ticks, chunk, runs=7):
    """Median ns per tick of `runs` runs of `ticks` ticks, stamps included."""
    out = []
    mono = time.monotonic_ns
    for _ in range(runs):
        a = array.array("q")
        t = time.perf_counter_ns()
        loop(ticks, chunk, 0, a.append, mono, [False])
        out.append((time.perf_counter_ns() - t) / ticks)
    return _median(out)


def calibrate_tick(tick_ns, stamp_ns):
    """Chooses the loop body whose iteration (with its share of the progress stamps) costs
    closest to tick_ns. Returns (loop, body_statements, reps, ns_per_tick, chunk_ticks)."""
    def cost(k, reps):
        loop = make_cpu_loop(k, reps)
        guess = max(5.0, (reps or 1) * k * 8.0)
        n = max(2000, int(20e6 / guess))  # about 20 ms a run
        chunk = max(1, int(stamp_ns / guess))
        return measure_tick(loop, n, chunk, runs=3)

    # Linear model from two bodies, then the neighbours of the model's choice.
    c1, c9 = cost(1, 0), cost(9, 0)
    per = max(0.5, (c9 - c1) / 8)
    base = c1 - per
    k = max(0, int(round((tick_ns - base) / per)))
    reps = 0
    if k > INNER_MAX:  # long ticks: an inner loop of 16-statement bodies
        c16 = cost(16, 4)
        per_rep = max(1.0, c16 / 4)
        reps = max(1, int(round(tick_ns / per_rep)))
        candidates = [(16, r) for r in sorted({max(1, reps - 1), reps, reps + 1})]
    else:
        candidates = [(kk, 0) for kk in sorted({max(0, k - 1), k, k + 1})]
    best = None
    for kk, rr in candidates:
        c = cost(kk, rr)
        if best is None or abs(c - tick_ns) < abs(best[2] - tick_ns):
            best = (kk, rr, c)
    kk, rr, _ = best
    loop = make_cpu_loop(kk, rr)
    # Final measurement as gilsim does it: median of 7 runs, stamps at the run's chunk size.
    rough = best[2]
    chunk = max(1, int(round(stamp_ns / rough)))
    n = max(chunk * 4, int(20e6 / rough))
    ns_per_tick = measure_tick(loop, min(n, 2_000_000), chunk, runs=7)
    chunk = max(1, int(round(stamp_ns / ns_per_tick)))
    return loop, kk, rr, ns_per_tick, chunk


def calibrate_native():
    """ns per byte of hashlib.sha256 over a memoryview (median of 5 runs of 1 MiB)."""
    buf = memoryview(bytearray(1 << 20))
    out = []
    for _ in range(5):
        t = time.perf_counter_ns()
        hashlib.sha256(buf)
        out.append((time.perf_counter_ns() - t) / len(buf))
    return _median(out)


_NOARGS = ((),)


def stamped(*calls):
    """Runs calls (func, arg) in turn, with a CLOCK_MONOTONIC read before the first, between
    each two and after the last, all from C: returns [t0, r1, t1, r2, t2, ...]. No eval-breaker
    check point lies between a read and the next call or between a call's return and the next
    read, so the thread cannot drop the GIL there: a read just before a call that releases the
    GIL (send, recv, time.sleep, hashlib) is when it released it, to within the call's entry,
    and the read just after is when it had it back."""
    mono = time.monotonic_ns
    parts = [itertools.starmap(mono, _NOARGS)]
    for func, arg in calls:
        parts.append(map(func, (arg,)))
        parts.append(itertools.starmap(mono, _NOARGS))
    return list(itertools.chain.from_iterable(parts))


def hold_iter(n):
    """n steps of C work that keep the GIL and never reach the eval breaker: islice skipping
    n items of repeat(None) is one C loop."""
    return itertools.islice(itertools.repeat(None, n), n, n)


def hold_call(n):
    """A C call that keeps the GIL for n items, stamped from C on both sides: [t0, t1]."""
    mono = time.monotonic_ns
    return list(itertools.chain(itertools.starmap(mono, _NOARGS), hold_iter(n),
                                itertools.starmap(mono, _NOARGS)))


def calibrate_hold():
    """ns per item of hold_call (median of 5 runs of 1 M items)."""
    out = []
    for _ in range(5):
        t0, t1 = hold_call(1_000_000)
        out.append((t1 - t0) / 1e6)
    return _median(out)


# ---- the peer: answers each I/O request after its latency ----------------------------------------

REQ = struct.Struct("<q")


def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            return None
        got += k
    return bytes(buf)


IO_REQUESTS = ("signal", "send")


def peer_main(fd, shm_fd=None):
    """Peer process: answers each I/O request after its latency (time.sleep, a real blocking
    wait like gilsim's ppoll) by sending a CLOCK_MONOTONIC stamp, taken just before, back over
    the socketpair: that is the I/O's io_end. A negative latency ends the peer.

    Requests come one of two ways. With shm_fd (--io-request signal, the default) the thread
    writes the latency into a shared 8-byte page and sends SIGUSR1, which the peer takes with
    sigwait: neither releases the thread's GIL, so the I/O releases it once, in the blocking
    recv, as a gilsim `io` op does. Without it (--io-request send) the latency comes as 8 bytes
    over the socket: an echo client's send + recv, two GIL releases."""
    sock = socket.socket(fileno=fd)
    mono = time.monotonic_ns
    shm = None
    if shm_fd is not None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        shm = mmap.mmap(shm_fd, 8)
    sock.sendall(REQ.pack(0))  # ready
    while True:
        if shm is not None:
            signal.sigwait({signal.SIGUSR1})
            lat, = REQ.unpack_from(shm, 0)
        else:
            data = recv_exact(sock, 8)
            if data is None:
                return 0
            lat, = REQ.unpack(data)
        if lat < 0:
            return 0
        if lat > 0:
            time.sleep(lat / 1e9)
        sock.sendall(REQ.pack(mono()))


class Peer:
    """The thread's side of one peer process."""

    def __init__(self, mode):
        self.mode = mode
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        args, fds = [sys.executable, PYRUN, "--peer", str(b.fileno())], [b.fileno()]
        self.shm_file = self.shm = None
        if mode == "signal":
            self.shm_file = tempfile.TemporaryFile()
            self.shm_file.truncate(8)
            self.shm = mmap.mmap(self.shm_file.fileno(), 8)
            args.append(str(self.shm_file.fileno()))
            fds.append(self.shm_file.fileno())
        self.proc = subprocess.Popen(args, pass_fds=fds, stdin=subprocess.DEVNULL)
        b.close()
        self.sock = a
        if recv_exact(a, 8) is None:  # ready: SIGUSR1 is blocked there
            raise RuntimeError("the I/O peer process did not start")
        self.kill = functools.partial(os.kill, self.proc.pid)

    def round_trip(self, lat):
        """[t0, _, t1, answer, t2]: t1 just before the blocking recv (the GIL's release), t2
        as it returned; t0 before the request (send mode: the send releases the GIL too)."""
        if self.mode == "signal":
            REQ.pack_into(self.shm, 0, lat)  # a memcpy: keeps the GIL
            return stamped((self.kill, signal.SIGUSR1), (self.sock.recv, 8))
        return stamped((self.sock.send, REQ.pack(lat)), (self.sock.recv, 8))

    def close(self):
        try:
            if self.mode == "signal":
                REQ.pack_into(self.shm, 0, -1)
                self.kill(signal.SIGUSR1)
            else:
                self.sock.sendall(REQ.pack(-1))
        except OSError:
            pass
        self.sock.close()

    def wait(self):
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.shm is not None:
            self.shm.close()
            self.shm_file.close()


# ---- the run ------------------------------------------------------------------------------------

# Exact event codes recorded by the threads (tuples (t, code, arg) in self.ev of ThreadLog).
EV = ("thread_start", "thread_exit", "request", "acquire", "release", "io_begin", "io_end",
      "sleep_begin", "sleep_end", "native_begin", "native_end", "hold_begin", "hold_end",
      "arrival", "done")
(E_START, E_EXIT, E_REQUEST, E_ACQUIRE, E_RELEASE, E_IO_BEGIN, E_IO_END, E_SLEEP_BEGIN,
 E_SLEEP_END, E_NATIVE_BEGIN, E_NATIVE_END, E_HOLD_BEGIN, E_HOLD_END, E_ARRIVAL,
 E_DONE) = range(len(EV))
ARG_KEY = {E_EXIT: "ticks", E_IO_BEGIN: "ns", E_SLEEP_BEGIN: "ns", E_NATIVE_BEGIN: "ns",
           E_HOLD_BEGIN: "ns", E_ARRIVAL: "at", E_DONE: "at"}


class Stop(Exception):
    pass


class ThreadLog:
    """What one thread records. `prog` holds progress stamps (t, ticks) interleaved, taken only
    while the thread holds the GIL (it runs Python code); `ev` holds exact and inferred events
    as (t, code, arg, inferred); `released` the stamp times at which the thread gave the GIL up
    itself (the next gap is not a lost GIL); `syscall` the stamps whose preceding gap holds a
    GIL-releasing call (send); `nocheck` the stamps whose preceding gap holds a hold call;
    `ends` the inferred ends of sleeps, native calls and arrival waits (resolve_ends)."""

    __slots__ = ("tid", "name", "group", "prog", "ev", "released", "syscall", "nocheck",
                 "ticks", "started", "ends")

    def __init__(self, tid, name, group):
        self.tid, self.name, self.group = tid, name, group
        self.prog = array.array("q")
        self.ev = []
        self.released, self.syscall, self.nocheck = set(), set(), set()
        self.ticks = 0
        self.started = False
        self.ends = []  # (index in ev, earliest end, next acquire) of sleeps, native, waits


class Runner:
    def __init__(self, wl, seed, interval_us, duration_ns, stamp_ns, io_request="signal"):
        self.wl = wl
        self.io_request = io_request
        self.seed = seed
        self.interval_us = interval_us
        self.duration_ns = duration_ns
        self.stamp_ns = stamp_ns
        self.stop = [False]
        self.logs = []
        self.peers = []
        self.main_stamps = []
        self.errors = []

    # -- set-up

    def calibrate(self):
        wl = self.wl
        (self.cpu_loop, self.body_statements, self.body_reps, self.ns_per_tick,
         self.chunk_ticks) = calibrate_tick(wl["tick_ns"], self.stamp_ns)
        ops = [op for g in wl["groups"] for op in walk_ops(g["ops"])]
        self.ns_per_byte = calibrate_native() if any(op[0] == "native" for op in ops) else None
        self.ns_per_item = calibrate_hold() if any(op[0] == "hold" for op in ops) else None
        self.native_buf = None
        if self.ns_per_byte:
            need = max(self.native_bytes(op[1]) for op in ops if op[0] == "native")
            self.native_buf = memoryview(bytearray(min(need, 256 << 20)))

    def native_bytes(self, ns):
        return max(HASHLIB_GIL_MINSIZE, llround(ns / self.ns_per_byte))

    def ns_to_ticks(self, ns):
        t = ns / self.ns_per_tick
        return 1 if t < 1 else llround(t)

    def start_peer(self):
        peer = Peer(self.io_request)
        self.peers.append(peer)
        return peer

    def close_peers(self):
        for peer in self.peers:
            peer.close()
        for peer in self.peers:
            peer.wait()

    # -- one thread

    def thread_main(self, log, group, gate, rng, peer):
        try:
            self.thread_body(log, group, gate, rng, peer)
        except BaseException as e:  # reported by run(); the thread still counts as done
            self.errors.append("%s: %s: %s" % (log.name, type(e).__name__, e))
            self.stop[0] = True
        self.thread_done()

    def thread_body(self, log, group, gate, rng, peer):
        mono = time.monotonic_ns
        gate.wait()
        start = self.t0 + group["start_ns"]
        now = mono()
        if start > now:
            time.sleep((start - now) / 1e9)
        if self.stop[0]:
            return
        t = mono()
        log.started = True
        sched = max(start, self.t0)
        log.ev.append((sched, E_START, None, True))
        log.ev.append((sched, E_REQUEST, None, True))
        log.ev.append((t, E_ACQUIRE, None, False))
        log.prog.append(t)
        log.prog.append(0)
        reason = "exit"
        try:
            self.run_ops(log, group["ops"], rng, peer)
        except Stop:
            reason = "deadline"
        t = mono()
        log.prog.append(t)
        log.prog.append(log.ticks)
        log.ev.append((t, E_RELEASE, (reason, log.ticks), False))
        log.ev.append((t, E_EXIT, log.ticks, False))

    def thread_done(self):
        with self.live_lock:
            self.live -= 1
            if self.live == 0:
                self.all_done.set()

    def stamp(self, log):
        t = time.monotonic_ns()
        log.prog.append(t)
        log.prog.append(log.ticks)
        return t

    def blocking(self, log, reason, begin_code, ns, calls, end_code):
        """Releases the GIL in `calls` (time.sleep, hashlib; see stamped()): the clock reads
        around them are the release and the acquire. The end of the call itself is not
        observable without the GIL: it is inferred (resolve_ends)."""
        r = stamped(*calls)
        t, t2 = r[0], r[-1]
        log.prog.extend((t, log.ticks, t2, log.ticks))
        log.released.add(t)
        log.ev.append((t, E_RELEASE, (reason, log.ticks), False))
        if begin_code is not None:
            log.ev.append((t, begin_code, ns, False))
        end = min(t + ns, t2)
        log.ends.append((len(log.ev), end, t2))  # resolve_ends() may move it to t2
        if end_code is not None:
            log.ev.append((end, end_code, None, True))
        log.ev.append((end, E_REQUEST, None, True))
        log.ev.append((t2, E_ACQUIRE, None, False))

    def run_ops(self, log, ops, rng, peer):
        stop = self.stop
        mono = time.monotonic_ns
        for op in ops:
            if stop[0]:
                raise Stop
            kind = op[0]
            if kind == "cpu":
                n = op[1] if op[1] is not None else self.ns_to_ticks(op[2])
                log.ticks, left = self.cpu_loop(n, self.chunk_ticks, log.ticks, log.prog.append,
                                                mono, stop)
                if left:
                    raise Stop
            elif kind == "io":
                lat = sample_latency(rng, op[1], op[2], op[3])
                t0, sent, t1, data, t2 = peer.round_trip(lat)
                if sent not in (None, 8) or len(data) < 8:
                    if not data:
                        raise RuntimeError("the I/O peer process went away")
                    data += recv_exact(peer.peer, 8 - len(data)) or b""
                log.prog.extend((t0, log.ticks, t1, log.ticks, t2, log.ticks))
                if peer.mode == "send":
                    log.syscall.add(t1)  # the send may have lost the GIL
                log.released.add(t1)
                log.ev.append((t1, E_RELEASE, ("io", log.ticks), False))
                log.ev.append((t1, E_IO_BEGIN, lat, False))
                end, = REQ.unpack(data)
                end = min(max(end, t1), t2)
                log.ev.append((end, E_IO_END, None, False))
                log.ev.append((end, E_REQUEST, None, True))
                log.ev.append((t2, E_ACQUIRE, None, False))
            elif kind == "sleep":
                self.blocking(log, "sleep", E_SLEEP_BEGIN, op[1], [(time.sleep, op[1] / 1e9)],
                              E_SLEEP_END)
            elif kind == "native":
                nbytes, buf = self.native_bytes(op[1]), self.native_buf
                views = []
                while nbytes > 0:  # more than the buffer: several calls
                    k = min(nbytes, len(buf))
                    views.append((hashlib.sha256, buf[:k]))
                    nbytes -= k
                self.blocking(log, "native", E_NATIVE_BEGIN, op[1], views, E_NATIVE_END)
            elif kind == "hold":
                t, t2 = hold_call(max(1, llround(op[1] / self.ns_per_item)))
                log.prog.extend((t, log.ticks, t2, log.ticks))
                log.nocheck.add(t2)
                log.ev.append((t, E_HOLD_BEGIN, op[1], False))
                log.ev.append((t2, E_HOLD_END, None, False))
            elif kind == "loop":
                count, body = op[1], op[2]
                it = itertools.count() if count is None else range(count)
                for _ in it:
                    if stop[0]:
                        raise Stop
                    self.run_ops(log, body, rng, peer)
            else:
                self.serve(log, op, rng, peer)

    def serve(self, log, op, rng, peer):
        _, rate, arrivals, count, body = op
        mean_ns = 1e9 / rate
        mono = time.monotonic_ns
        nxt = mono()
        it = itertools.count() if count is None else range(count)
        for _ in it:
            if self.stop[0]:
                raise Stop
            now = mono()
            if now < nxt:
                wait = nxt - now
                self.blocking(log, "arrival", None, wait, [(time.sleep, wait / 1e9)], None)
            t = self.stamp(log)
            log.ev.append((t, E_ARRIVAL, nxt - self.t0, False))
            self.run_ops(log, body, rng, peer)
            t = self.stamp(log)
            log.ev.append((t, E_DONE, nxt - self.t0, False))
            gap = mean_ns if arrivals == "fixed" else -math.log1p(-rng.unit()) * mean_ns
            nxt += llround(gap)

    # -- the whole run

    def run(self):
        wl = self.wl
        self.calibrate()
        threads, tid = [], 0
        gate = threading.Event()
        self.all_done = threading.Event()
        self.live_lock = threading.Lock()
        self.live = sum(g["count"] for g in wl["groups"])
        try:
            for g in wl["groups"]:
                has_io = any(op[0] == "io" for op in walk_ops(g["ops"]))
                for k in range(g["count"]):
                    log = ThreadLog(tid, "%s.%d" % (g["name"], k), g["name"])
                    self.logs.append(log)
                    peer = self.start_peer() if has_io else None
                    th = threading.Thread(target=self.thread_main, name=log.name,
                                          args=(log, g, gate, Rng(self.seed, tid), peer),
                                          daemon=True)
                    threads.append(th)
                    tid += 1
            old_interval = sys.getswitchinterval()
            if self.interval_us is not None:
                sys.setswitchinterval(self.interval_us / 1e6)
            self.params_interval_us = llround(sys.getswitchinterval() * 1e6)
            for th in threads:
                th.start()
            self.start_utc = datetime.datetime.now(datetime.timezone.utc)
            self.t0 = time.monotonic_ns()
            gate.set()
            finished = self.all_done.wait(self.duration_ns / 1e9)
            self.stop[0] = True
            stop_t = time.monotonic_ns()
            self.main_stamps.append(stop_t)  # the main thread holds the GIL here
            self.stop_ns = stop_t - self.t0
            self.stop_reason = "finished" if finished else "deadline"
            for th in threads:
                th.join()
            self.elapsed_ns = time.monotonic_ns() - self.t0
            sys.setswitchinterval(old_interval)
        finally:
            self.stop[0] = True
            self.close_peers()
        if self.errors:
            raise RuntimeError("a thread failed: " + "; ".join(self.errors))


# ---- gap inference ------------------------------------------------------------------------------

class Lost:
    """One inferred lost GIL inside a thread's gap (a, b): released at `release`, acquired
    again at `acquire`; `lo`/`hi` bound where each may lie given the other threads' stamps."""

    __slots__ = ("release", "acquire", "ticks", "reason", "rel_lo", "rel_hi", "acq_lo",
                 "acq_hi")

    def __init__(self, release, acquire, ticks, reason, rel_lo, rel_hi, acq_lo, acq_hi):
        self.release, self.acquire, self.ticks, self.reason = release, acquire, ticks, reason
        self.rel_lo, self.rel_hi, self.acq_lo, self.acq_hi = rel_lo, rel_hi, acq_lo, acq_hi

    def __repr__(self):
        return "Lost(%d..%d, %s)" % (self.release, self.acquire, self.reason)


def thread_ns_per_tick(prog, fallback):
    """Median ns per tick between consecutive stamps that carry ticks: the loop's speed as this
    thread saw it during the run (a minority of gaps does not move the median)."""
    rates = []
    for i in range(2, len(prog), 2):
        dt = prog[i + 1] - prog[i - 1]
        if dt > 0:
            rates.append((prog[i] - prog[i - 2]) / dt)
    return _median(rates) if rates else fallback


def evidence_times(threads, extra=()):
    """Every time at which some thread is known to have held the GIL, sorted."""
    return sorted(itertools.chain(extra, *(th["prog"][0::2] for th in threads)))


def any_between(merged, a, b):
    """True when some time of `merged` lies strictly between a and b."""
    k = bisect.bisect_right(merged, a)
    return k < len(merged) and merged[k] < b


HANDOFF_NS = 100000  # longer than a hand-off: a GIL free this long had no waiter


def resolve_ends(logs, merged, handoff_ns=HANDOFF_NS):
    """The end of a sleep, native call or arrival wait cannot be stamped (the thread does not
    hold the GIL): it is at least the requested end (begin + ns) and at most the next acquire.
    When no other thread was seen holding the GIL in the last handoff_ns before that acquire
    (nor since the requested end), the thread was not queued behind anybody: the call ended
    when it ran again (a native call that ran long on a busy CPU, a sleep's timer slack).
    Otherwise it may have waited for the GIL, and the requested end, the earliest the call
    can have ended, is kept. Returns how many ends moved to the acquire."""
    moved = 0
    for log in logs:
        for idx, end, t2 in log.ends:
            if end < t2 and not any_between(merged, max(end, t2 - handoff_ns), t2):
                moved += 1
                k = idx
                while k < len(log.ev) and log.ev[k][0] == end and log.ev[k][1] != E_ACQUIRE:
                    t, code, arg, inferred = log.ev[k]
                    log.ev[k] = (t2, code, arg, inferred)
                    k += 1
    return moved


def infer_lost_gil(threads, threshold_ns, extra_evidence=(), ns_per_tick=None, merged=None):
    """Finds the lost-GIL intervals of every thread.

    threads: list of dicts with `prog` (flat sequence t0, ticks0, t1, ticks1, ... of stamps
    taken while holding the GIL, in time order), `released` (stamp times at which the thread
    released the GIL itself: the gap after them is not examined), and optionally `syscall`
    (stamps whose preceding gap holds a GIL-releasing call: reason io, no interpreter work)
    and `nocheck` (stamps whose preceding gap is a hold call: not examined). extra_evidence:
    times at which some other thread (the main thread) held the GIL.

    A gap between consecutive stamps a < b is the time not explained by the interpreter work
    done between them (ticks x the thread's ns per tick). It is a lost GIL when it exceeds
    threshold_ns and some other thread stamped inside (a, b): stamps are only taken while
    holding the GIL, so the thread cannot have held it throughout. A long gap without such
    evidence is the OS preempting the holder (or the interpreter pausing) and is only counted.

    The release lies in [a, a + work] and the acquire exactly `gap` later; the other threads'
    first stamp s1 after a and last stamp s2 before b narrow it (release <= s1, acquire >= s2).
    The estimate is the middle of what remains, so its error is at most half the work between
    two stamps. Returns (lost, stats): lost[i] is thread i's list of Lost in time order."""
    if merged is None:
        merged = evidence_times(threads, extra_evidence)
    lost = []
    stats = {"gaps_examined": 0, "lost_gil": 0, "preempted": 0, "preempted_ns": 0}
    for i, th in enumerate(threads):
        prog = th["prog"]
        npt = (ns_per_tick[i] if ns_per_tick else None) or thread_ns_per_tick(prog, 0.0)
        released = th.get("released", ())
        syscall = th.get("syscall", ())
        nocheck = th.get("nocheck", ())
        mine = []
        for j in range(2, len(prog), 2):
            a, b = prog[j - 2], prog[j]
            if a in released or b in nocheck:
                continue
            work = min(b - a, (prog[j + 1] - prog[j - 1]) * npt)
            gap = (b - a) - work
            if gap <= threshold_ns:
                continue
            stats["gaps_examined"] += 1
            k = bisect.bisect_right(merged, a)
            if k >= len(merged) or merged[k] >= b:
                stats["preempted"] += 1
                stats["preempted_ns"] += int(gap)
                continue
            s1 = merged[k]
            s2 = merged[bisect.bisect_left(merged, b) - 1]
            rel_lo, rel_hi = a + 1, max(a + 1, min(a + work, s1))
            lo, hi = max(rel_lo, s2 - gap), min(rel_hi, s1)
            r = (lo + hi) / 2 if lo <= hi else min(max(a + work / 2, rel_lo), s1)
            r = int(round(min(max(r, rel_lo), s1)))
            acq_lo, acq_hi = s2, b - 1
            q = int(round(min(max(r + gap, acq_lo), acq_hi)))
            if q <= r:
                q = r + 1
            reason = "io" if b in syscall else "drop_request"
            mine.append(Lost(r, q, prog[j - 1], reason, rel_lo, s1, acq_lo, acq_hi))
        stats["lost_gil"] += len(mine)
        lost.append(mine)
    return lost, stats


def separate_holds(intervals):
    """Mutual exclusion for the inferred edges. intervals: (acquire_t, release_t, tid,
    acq_fix, rel_fix) where *_fix is None for an exact time or a callable(new_t, lo, hi)
    setting an inferred one, with its bounds. When one holding starts before the previous one
    ended, the inferred edge(s) move to meet: both to the middle when both are inferred."""
    intervals.sort(key=lambda x: (x[0], x[1]))
    fixed = 0
    for p, q in zip(intervals, intervals[1:]):
        if p[2] == q[2] or q[0] >= p[1]:
            continue
        rel, acq = p[4], q[3]
        if rel is None and acq is None:
            continue
        if rel is not None and acq is not None:
            lo, hi = max(rel.lo, acq.lo), min(rel.hi, acq.hi)
            m = (p[1] + q[0]) // 2
            m = min(max(m, lo), hi) if lo <= hi else m
            rel.set(m)
            acq.set(m)
        elif rel is not None:
            rel.set(max(rel.lo, q[0]))
        else:
            acq.set(min(acq.hi, p[1]))
        fixed += 1
    return fixed


class _Edge:
    """An inferred event time that separate_holds may move within [lo, hi]."""

    __slots__ = ("item", "lo", "hi")

    def __init__(self, item, lo, hi):
        self.item, self.lo, self.hi = item, lo, hi

    def set(self, t):
        self.item[0] = int(t)


# ---- trace --------------------------------------------------------------------------------------

RANK = {"release": 0, "acquire": 2}


def build_events(logs, lost):
    """Per-thread event lists (exact events and the inferred lost GILs, merged in order) and
    the sorted stream. Items are lists [t, phase, seq, ev, fields, inferred, tid]."""
    per = []
    for log, mine in zip(logs, lost):
        items = []
        for seq, (t, code, arg, inferred) in enumerate(log.ev):
            fields = None
            if code == E_RELEASE:
                fields = (("reason", arg[0]), ("ticks", arg[1]))
            elif code in ARG_KEY:
                fields = ((ARG_KEY[code], arg),)
            items.append([t, 1, seq, EV[code], fields, inferred, log.tid])
        for L in mine:
            items.append([L.release, 2, 0, "release", (("reason", L.reason), ("ticks", L.ticks)),
                          True, log.tid])
            items.append([L.release, 2, 1, "request", None, True, log.tid])
            items.append([L.acquire, 0, 0, "acquire", None, True, log.tid])
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        per.append(items)
    return per


def holding_intervals(per, lost):
    """(acquire_t, release_t, tid, acq_edge, rel_edge) for separate_holds."""
    out = []
    for items, mine in zip(per, lost):
        bounds = {}
        for L in mine:
            bounds[("release", L.release)] = (L.rel_lo, L.rel_hi)
            bounds[("acquire", L.acquire)] = (L.acq_lo, L.acq_hi)
        acq = None
        for it in items:
            if it[3] == "acquire":
                acq = it
            elif it[3] == "release" and acq is not None:
                ae = re = None
                if acq[5] and ("acquire", acq[0]) in bounds:
                    ae = _Edge(acq, *bounds[("acquire", acq[0])])
                if it[5] and ("release", it[0]) in bounds:
                    re = _Edge(it, *bounds[("release", it[0])])
                out.append((acq[0], it[0], it[6], ae, re))
                acq = None
    return out


def finish_events(per, t0):
    """Moves an inferred request along with its release, keeps each thread's order, and
    returns the merged stream sorted by (t, release first, acquire last)."""
    stream = []
    for items in per:
        last_release = None
        prev_t, prev_rank = None, 0
        for idx, it in enumerate(items):
            if it[3] == "release" and it[5]:
                last_release = it
            elif it[3] == "request" and it[5] and it[1] == 2 and last_release is not None:
                it[0] = last_release[0]
            rank = RANK.get(it[3], 1)
            if prev_t is not None and (it[0] < prev_t or (it[0] == prev_t and rank < prev_rank)):
                # never before the thread's previous event, not even by the tie rule
                it[0] = prev_t if rank >= prev_rank else prev_t + 1
            prev_t, prev_rank = it[0], rank
            stream.append((it[0] - t0, rank, it[6], idx, it))
    stream.sort(key=lambda x: x[:4])
    return stream


def host_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = os.uname()
    return {"cpus": os.cpu_count() or 1, "cpu_model": model,
            "kernel": "%s %s %s" % (u.sysname, u.release, u.machine), "hostname": u.nodename}


def interpreter_info():
    impl = sys.implementation
    info = {"implementation": impl.name, "version": platform.python_version(),
            "executable": sys.executable, "build": " ".join(platform.python_build())}
    gil = getattr(sys, "_is_gil_enabled", None)
    info["gil_enabled"] = gil() if gil else True
    return info


def policy_name():
    return "%s-%s" % ("cpython" if sys.implementation.name == "cpython"
                      else sys.implementation.name, platform.python_version())


def write_trace(path, runner, threshold_ns, quiet=False):
    """Infers the lost GILs, builds the event stream and writes the trace (temp file, rename).
    Returns the run's statistics."""
    logs = runner.logs
    threads = [{"prog": log.prog, "released": log.released, "syscall": log.syscall,
                "nocheck": log.nocheck} for log in logs]
    npt = [thread_ns_per_tick(log.prog, runner.ns_per_tick) for log in logs]
    merged = evidence_times(threads, runner.main_stamps)
    lost, stats = infer_lost_gil(threads, threshold_ns, ns_per_tick=npt, merged=merged)
    if not interpreter_info()["gil_enabled"]:
        # A free-threaded build: threads run Python at the same time, so another thread's
        # progress proves nothing. Holdings overlap, as under gilsim's `none`.
        lost = [[] for _ in logs]
        stats["lost_gil"] = 0
    stats["ends_moved"] = resolve_ends(logs, merged)
    per = build_events(logs, lost)
    stats["overlaps_fixed"] = separate_holds(holding_intervals(per, lost))
    stream = finish_events(per, runner.t0)
    stamps = sum(len(log.prog) // 2 for log in logs)
    wl = runner.wl
    run = collections.OrderedDict([
        ("gilsim_version", "pyrun-%s" % PYRUN_VERSION),
        ("writer", "tools/pyrun"),
        ("workload", {"name": wl["name"], "path": wl["path"], "sha256": wl["sha256"],
                      "description": wl["description"]}),
        ("policy", policy_name()),
        ("params", {"interval_us": runner.params_interval_us}),
        ("seed", runner.seed),
        ("duration_ms", runner.duration_ns / 1e6),
        ("start_utc", runner.start_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        ("stop_ns", runner.stop_ns),
        ("elapsed_ns", runner.elapsed_ns),
        ("stop_reason", runner.stop_reason),
        ("host", host_info()),
        ("interpreter", interpreter_info()),
        ("io", {"request": runner.io_request, "answer": "socketpair recv",
                "peers": len(runner.peers)}),
        ("calibration", {
            "tick_ns_target": wl["tick_ns"],
            "ns_per_tick": round(runner.ns_per_tick, 3),
            "iters_per_tick": max(1, runner.body_statements * max(1, runner.body_reps)),
            "tick_loop": "for _ in range(n): %s (x %d%s)" % (
                BODY_STMT, runner.body_statements,
                ", in an inner loop of %d" % runner.body_reps if runner.body_reps else ""),
            "stamp_every_ticks": runner.chunk_ticks,
            "stamp_every_ns": round(runner.chunk_ticks * runner.ns_per_tick),
        }),
        ("inference", {
            "threshold_ns": threshold_ns,
            "resolution_ns": round(runner.chunk_ticks * runner.ns_per_tick),
            "progress_stamps": stamps,
            "gaps_over_threshold": stats["gaps_examined"],
            "lost_gil": stats["lost_gil"],
            "preempted_gaps": stats["preempted"],
            "preempted_ns": stats["preempted_ns"],
            "overlaps_fixed": stats["overlaps_fixed"],
            "blocking_ends_at_acquire": stats["ends_moved"],
        }),
    ])
    cal = run["calibration"]
    if runner.ns_per_byte:
        cal["native"] = {"call": "hashlib.sha256(memoryview)", "min_bytes": HASHLIB_GIL_MINSIZE,
                         "ns_per_byte": round(runner.ns_per_byte, 4)}
    if runner.ns_per_item:
        cal["hold"] = {"call": "itertools.islice(itertools.repeat(None, n), n, n) "
                               "consumed by list()",
                        "ns_per_item": round(runner.ns_per_item, 4)}
    threads_json = [{"tid": log.tid, "name": log.name, "group": log.group, "events_dropped": 0}
                    for log in logs]
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write('{"format":"gilsim-trace","version":1,\n"run":')
            f.write(json.dumps(run, separators=(",", ":")))
            f.write(',\n"threads":[')
            f.write(",\n".join(json.dumps(t, separators=(",", ":")) for t in threads_json))
            f.write('],\n"events":[\n')
            first = True
            for t, _, tid, _, it in stream:
                parts = ['{"t":%d,"tid":%d,"ev":"%s"' % (t, tid, it[3])]
                if it[4]:
                    for k, v in it[4]:
                        parts.append(',"%s":%s' % (k, json.dumps(v)))
                if it[5]:
                    parts.append(',"inferred":true')
                parts.append("}")
                f.write(("" if first else ",\n") + "".join(parts))
                first = False
            f.write('\n],\n"complete":true,"events_dropped":0}\n')
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    stats["events"] = len(stream)
    stats["stamps"] = stamps
    return stats


# ---- command line -------------------------------------------------------------------------------

USAGE = """\
usage: pyrun WORKLOAD.json [options]

Runs a gilsim workload on real interpreter threads (this Python: %s %s) and writes a
trace in gilsim's format (docs/trace-format.md), with run.policy = %s and the
interpreter's switch interval as its parameter interval_us. docs/pyrun.md says how every
op is run and which events are inferred.

  --set interval_us=N   the switch interval (sys.setswitchinterval), us (default: the
                        interpreter's, %d)
  -d, --duration MS     run length (default: the workload's duration_ms)
  --seed N              seed of the random draws, as gilsim run (default 1)
  -o, --output PATH     the trace (default results/<workload>-cpython-<UTC stamp>.json)
  --stamp-us US         progress stamp period of interpreter work (default 5)
  --gap-us US           a gap longer than this is examined as a lost GIL (default 10)
  --io-request HOW      how an io op asks its peer: signal (default: shared memory and
                        SIGUSR1, which keep the GIL, so the I/O releases it once, in recv,
                        as gilsim's io does) or send (an echo client: send + recv, two
                        releases)
  -q, --quiet           no summary on stderr

Run it with the interpreter to measure: /usr/bin/python3 tools/pyrun ..., python3.12
tools/pyrun ... Exit status: 0 ok, 1 runtime failure, 2 bad input.
"""


def _usage():
    return USAGE % (sys.implementation.name, platform.python_version(), policy_name(),
                    llround(sys.getswitchinterval() * 1e6))


def parse_args(argv):
    opts = {"set": {}, "duration": None, "seed": 1, "output": None, "quiet": False,
            "stamp_us": 5.0, "gap_us": 10.0, "workload": None, "io_request": "signal"}
    i = 0

    def value(name):
        nonlocal i
        if "=" in argv[i] and argv[i].startswith("--"):
            return argv[i].split("=", 1)[1]
        i += 1
        if i >= len(argv):
            raise InputError("option '%s' needs a value" % name)
        return argv[i]

    def number(text, name, lo, hi, integer=False):
        try:
            v = int(text) if integer else float(text)
        except ValueError:
            v = None
        if v is None or not (lo <= v <= hi) or (not integer and not math.isfinite(v)):
            raise InputError("%s: expected %s in [%g, %g], got '%s'"
                             % (name, "an integer" if integer else "a number", lo, hi, text))
        return v

    while i < len(argv):
        a = argv[i]
        name = a.split("=", 1)[0] if a.startswith("--") else a
        if name in ("-h", "--help"):
            opts["help"] = True
        elif name == "--set":
            v = value(name)
            k, eq, val = v.partition("=")
            if not eq:
                raise InputError("--set %s: expected NAME=VALUE" % v)
            if k != "interval_us":
                raise InputError("--set %s: cpython has no parameter '%s' (it has: interval_us)"
                                 % (v, k))
            opts["set"][k] = number(val, "--set interval_us", 1, 1e9)
        elif name in ("-d", "--duration"):
            opts["duration"] = number(value(name), "--duration", 1, 86400000, True)
        elif name == "--seed":
            opts["seed"] = number(value(name), "--seed", 0, 2**64 - 1, True)
        elif name in ("-o", "--output"):
            opts["output"] = value(name)
        elif name == "--stamp-us":
            opts["stamp_us"] = number(value(name), "--stamp-us", 0.1, 100000)
        elif name == "--gap-us":
            opts["gap_us"] = number(value(name), "--gap-us", 0.1, 1e6)
        elif name == "--io-request":
            v = value(name)
            if v not in IO_REQUESTS:
                raise InputError("--io-request: expected signal or send, got '%s'" % v)
            opts["io_request"] = v
        elif name in ("-q", "--quiet"):
            opts["quiet"] = True
        elif a.startswith("-") and a != "-":
            raise InputError("unknown option '%s'" % a)
        elif opts["workload"] is None:
            opts["workload"] = a
        else:
            raise InputError("expected one workload file, got more")
        i += 1
    if not opts.get("help") and opts["workload"] is None:
        raise InputError("expected one workload file")
    return opts


def default_output(wl_name):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%f")[:-3]
    os.makedirs("results", exist_ok=True)
    return os.path.join("results", "%s-cpython-%sZ.json" % (wl_name, stamp))


def main(argv):
    if sys.version_info < (3, 7):
        sys.stderr.write("pyrun: needs Python 3.7 or later (time.monotonic_ns); this is %s\n"
                         % platform.python_version())
        return 2
    if argv and argv[0] == "--peer" and len(argv) in (2, 3):
        return peer_main(*[int(a) for a in argv[1:]])
    try:
        opts = parse_args(argv)
        if opts.get("help"):
            sys.stdout.write(_usage())
            return 0
        wl = load_workload(opts["workload"])
        out = opts["output"] or default_output(wl["name"])
        # The output is checked before anything runs, like gilsim run does.
        d = os.path.dirname(os.path.abspath(out))
        if os.path.isdir(out):
            raise InputError("%s: is a directory, expected a trace file name" % out)
        if not os.path.isdir(d) or not os.access(d, os.W_OK):
            raise InputError("%s: cannot write into %s" % (out, d))
    except InputError as e:
        sys.stderr.write("pyrun: %s\n" % e)
        if "expected one workload" in str(e) or "option" in str(e):
            sys.stderr.write("usage: pyrun WORKLOAD.json [options]; pyrun --help says more\n")
        return 2
    duration_ns = opts["duration"] * 10**6 if opts["duration"] else wl["duration_ns"]
    runner = Runner(wl, opts["seed"], opts["set"].get("interval_us"), duration_ns,
                    opts["stamp_us"] * NS_PER_US, opts["io_request"])
    try:
        runner.run()
        stats = write_trace(out, runner, int(opts["gap_us"] * NS_PER_US))
    except (OSError, RuntimeError) as e:
        sys.stderr.write("pyrun: %s\n" % e)
        return 1
    if not opts["quiet"]:
        sys.stderr.write(
            "pyrun: %s under %s, interval %d us, %d threads, %.0f ms; tick %.1f ns (target %d), "
            "stamps every %d ticks; %d lost GILs inferred, %d gaps without another thread "
            "(preemption); %d events -> %s\n"
            % (wl["name"], policy_name(), runner.params_interval_us, len(runner.logs),
               runner.elapsed_ns / 1e6, runner.ns_per_tick, wl["tick_ns"], runner.chunk_ticks,
               stats["lost_gil"], stats["preempted"], stats["events"], out))
    return 0
