"""Ticks: the tick loop (a pure-Python loop calibrated to the workload's tick_ns), the
native call (hashlib over a memoryview, which releases the GIL) and the hold call (a C loop
that keeps it), and the stamped() call sequence that reads the clock from C around calls."""
import array
import hashlib
import itertools
import time

from .base import HASHLIB_GIL_MINSIZE, llround, median

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


def measure_tick(loop, ticks, chunk, runs=7):
    """Median ns per tick of `runs` runs of `ticks` ticks, stamps included."""
    out = []
    mono = time.monotonic_ns
    for _ in range(runs):
        a = array.array("q")
        t = time.perf_counter_ns()
        loop(ticks, chunk, 0, a.append, mono, [False])
        out.append((time.perf_counter_ns() - t) / ticks)
    return median(out)


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
    return median(out)


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
    return median(out)


class Calibration:
    """What a run measures before it starts: the tick loop and its speed, the progress stamp
    period in ticks, and (when the workload uses them) the native and hold calls' speeds."""

    def __init__(self, wl, ops, stamp_ns):
        (self.cpu_loop, self.body_statements, self.body_reps, self.ns_per_tick,
         self.chunk_ticks) = calibrate_tick(wl["tick_ns"], stamp_ns)
        self.ns_per_byte = calibrate_native() if any(op[0] == "native" for op in ops) else None
        self.ns_per_item = calibrate_hold() if any(op[0] == "hold" for op in ops) else None
        self.native_buf = None
        if self.ns_per_byte:
            need = max(self.native_bytes(op[1]) for op in ops if op[0] == "native")
            self.native_buf = memoryview(bytearray(min(need, 256 << 20)))

    def native_bytes(self, ns):
        """Bytes to hash for a native op of ns (never below hashlib's GIL-releasing size)."""
        return max(HASHLIB_GIL_MINSIZE, llround(ns / self.ns_per_byte))

    def ns_to_ticks(self, ns):
        t = ns / self.ns_per_tick
        return 1 if t < 1 else llround(t)

    def hold_items(self, ns):
        return max(1, llround(ns / self.ns_per_item))

    def stamp_every_ns(self):
        return round(self.chunk_ticks * self.ns_per_tick)
