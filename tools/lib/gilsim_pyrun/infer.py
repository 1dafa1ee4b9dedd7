"""Gap inference: where a thread lost the GIL, found from gaps in its progress stamps that
another thread's stamps fill (docs/pyrun.md#inference); the ends of calls that released the
GIL; mutual exclusion of the inferred holdings."""
import bisect
import itertools

from .base import E_ACQUIRE, median

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
    return median(rates) if rates else fallback


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
    done between them (ticks x the thread's ns per tick). It is a lost GIL when some other
    thread stamped inside (a, b), however short it is: stamps are only taken while holding the
    GIL, so the thread cannot have held it throughout. A gap over threshold_ns without such
    evidence is the OS preempting the holder (or the interpreter pausing) and is only counted;
    a shorter one is timing noise.

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
            k = bisect.bisect_right(merged, a)
            evidence = k < len(merged) and merged[k] < b
            if gap > threshold_ns:
                stats["gaps_examined"] += 1
            elif not evidence:
                continue  # timing noise
            if not evidence:
                stats["preempted"] += 1
                stats["preempted_ns"] += int(gap)
                continue
            # Another thread's stamp inside proves a lost GIL however short the gap: a thread
            # that takes the GIL and gives it straight back (recv after a forced switch) costs
            # the loser one wake-up, which may be under the threshold.
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


class Edge:
    """An inferred event time that separate_holds may move within [lo, hi]."""

    __slots__ = ("item", "lo", "hi")

    def __init__(self, item, lo, hi):
        self.item, self.lo, self.hi = item, lo, hi

    def set(self, t):
        self.item[0] = int(t)
