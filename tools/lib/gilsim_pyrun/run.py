"""The run: Runner starts one threading.Thread per workload thread (and one peer process per
thread that does I/O), opens the start gate, stops them at the deadline; ThreadRun is one
thread's life: its ops, run holding the GIL like a Python thread, with progress stamps and
the exact events it can observe in its ThreadLog."""
import array
import datetime
import hashlib
import itertools
import math
import sys
import threading
import time

from .base import (E_ACQUIRE, E_ARRIVAL, E_DONE, E_EXIT, E_HOLD_BEGIN, E_HOLD_END, E_IO_BEGIN,
                   E_IO_END, E_NATIVE_BEGIN, E_NATIVE_END, E_RELEASE, E_REQUEST, E_SLEEP_BEGIN,
                   E_SLEEP_END, E_START, llround)
from .ticks import Calibration, hold_call, stamped
from .draws import Rng, sample_latency
from .peer import NO_ANSWER, REQ, WORKS, Peers, recv_exact
from .workload import walk_ops


class Stop(Exception):
    """The run is stopping: unwinds a thread's ops."""


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


class ThreadRun:
    """One workload thread: waits at the gate and its group's start time, runs the group's ops
    and records them in `log`. An op kind is one method, found through `self.ops`."""

    def __init__(self, runner, log, group, rng, peer):
        self.runner, self.cal, self.stop = runner, runner.cal, runner.stop
        self.log, self.group, self.rng, self.peer = log, group, rng, peer
        self.ops = {"cpu": self.cpu, "io": self.io, "sleep": self.sleep, "native": self.native,
                    "hold": self.hold, "loop": self.loop, "serve": self.serve,
                    "send": self.send}

    def main(self, gate):
        try:
            self.life(gate)
        except BaseException as e:  # reported by Runner.run(); the thread still counts as done
            self.runner.errors.append("%s: %s: %s" % (self.log.name, type(e).__name__, e))
            self.stop[0] = True
        self.runner.thread_done()

    def life(self, gate):
        """Start (as if it had requested the GIL at its start time), the ops, the exit."""
        mono, log = time.monotonic_ns, self.log
        gate.wait()
        t0 = self.runner.t0
        start = t0 + self.group["start_ns"]
        now = mono()
        if start > now:
            time.sleep((start - now) / 1e9)
        if self.stop[0]:
            return
        t = mono()
        log.started = True
        sched = max(start, t0)
        log.ev.append((sched, E_START, None, True))
        log.ev.append((sched, E_REQUEST, None, True))
        log.ev.append((t, E_ACQUIRE, None, False))
        log.prog.append(t)
        log.prog.append(0)
        reason = "exit"
        try:
            self.run_ops(self.group["ops"])
        except Stop:
            reason = "deadline"
        t = self.stamp()
        log.ev.append((t, E_RELEASE, (reason, log.ticks), False))
        log.ev.append((t, E_EXIT, log.ticks, False))

    def stamp(self):
        t = time.monotonic_ns()
        self.log.prog.append(t)
        self.log.prog.append(self.log.ticks)
        return t

    def call_without_gil(self, reason, begin_code, ns, calls, end_code):
        """Runs `calls`, which release the GIL (time.sleep, hashlib; see stamped()): the clock
        reads around them are the release and the acquire. The end of the call itself is not
        observable without the GIL: it is inferred (resolve_ends)."""
        log = self.log
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

    def run_ops(self, ops):
        stop, by_kind = self.stop, self.ops
        for op in ops:
            if stop[0]:
                raise Stop
            by_kind[op[0]](op)

    def repeat(self, count):
        """count times, or forever when count is None."""
        return itertools.count() if count is None else range(count)

    # -- the ops, one method each (op: the tuple load_workload made)

    def cpu(self, op):
        cal, log = self.cal, self.log
        n = op[1] if op[1] is not None else cal.ns_to_ticks(op[2])
        log.ticks, left = cal.cpu_loop(n, cal.chunk_ticks, log.ticks, log.prog.append,
                                       time.monotonic_ns, self.stop)
        if left:
            raise Stop

    def io(self, op):
        log, peer = self.log, self.peer
        lat = sample_latency(self.rng, op[1], op[2], op[3])
        req = lat | WORKS if op[6] else lat
        send_first = op[5] or self.runner.io_request == "send"
        if send_first:
            t0, sent, t1, data, t2 = peer.send_round_trip(req)
        else:
            t0, sent, t1, data, t2 = peer.round_trip(req)
        if sent not in (None, 8) or len(data) < 8:
            if not data:
                raise RuntimeError("the I/O peer process went away")
            data += recv_exact(peer.sock, 8 - len(data)) or b""
        log.prog.extend((t0, log.ticks, t1, log.ticks, t2, log.ticks))
        log.released.add(t1)
        if send_first:
            # the send released the GIL: t0 exact; it had it back at t1 (the stamp right
            # after the send); when it asked again is inferred (resolve_ends)
            log.released.add(t0)
            log.ev.append((t0, E_RELEASE, ("send", log.ticks), False))
            log.ev.append((t0, E_IO_BEGIN, lat, False))
            log.ends.append((len(log.ev), t0, t1))
            log.ev.append((t0, E_REQUEST, None, True))
            log.ev.append((t1, E_ACQUIRE, None, False))
            log.ev.append((t1, E_RELEASE, ("io", log.ticks), False))
        else:
            log.ev.append((t1, E_RELEASE, ("io", log.ticks), False))
            log.ev.append((t1, E_IO_BEGIN, lat, False))
        end, = REQ.unpack(data)
        end = min(max(end, t1), t2)
        log.ev.append((end, E_IO_END, None, False))
        log.ev.append((end, E_REQUEST, None, True))
        log.ev.append((t2, E_ACQUIRE, None, False))

    def send(self, op):
        """A short send to the peer (which drops it): the GIL released around it."""
        peer = self.peer
        self.call_without_gil("send", None, 0, [(peer.sock.send, REQ.pack(NO_ANSWER))], None)

    def sleep(self, op):
        self.call_without_gil("sleep", E_SLEEP_BEGIN, op[1], [(time.sleep, op[1] / 1e9)],
                              E_SLEEP_END)

    def native(self, op):
        nbytes, buf = self.cal.native_bytes(op[1]), self.cal.native_buf
        views = []
        while nbytes > 0:  # more than the buffer: several calls
            k = min(nbytes, len(buf))
            views.append((hashlib.sha256, buf[:k]))
            nbytes -= k
        self.call_without_gil("native", E_NATIVE_BEGIN, op[1], views, E_NATIVE_END)

    def hold(self, op):
        log = self.log
        t, t2 = hold_call(self.cal.hold_items(op[1]))
        log.prog.extend((t, log.ticks, t2, log.ticks))
        log.nocheck.add(t2)
        log.ev.append((t, E_HOLD_BEGIN, op[1], False))
        log.ev.append((t2, E_HOLD_END, None, False))

    def loop(self, op):
        count, body = op[1], op[2]
        for _ in self.repeat(count):
            if self.stop[0]:
                raise Stop
            self.run_ops(body)

    def serve(self, op):
        _, rate, arrivals, count, body = op
        log, t0, mono = self.log, self.runner.t0, time.monotonic_ns
        mean_ns = 1e9 / rate
        nxt = mono()
        for _ in self.repeat(count):
            if self.stop[0]:
                raise Stop
            now = mono()
            if now < nxt:
                wait = nxt - now
                self.call_without_gil("arrival", None, wait, [(time.sleep, wait / 1e9)], None)
            t = self.stamp()
            log.ev.append((t, E_ARRIVAL, nxt - t0, False))
            self.run_ops(body)
            t = self.stamp()
            log.ev.append((t, E_DONE, nxt - t0, False))
            gap = mean_ns if arrivals == "fixed" else -math.log1p(-self.rng.unit()) * mean_ns
            nxt += llround(gap)


class Runner:
    """One run of a workload: calibrate, start the threads behind a gate, let them run until
    they end or the deadline, stop them, join them. The trace is written from `logs` after."""

    def __init__(self, wl, seed, interval_us, duration_ns, stamp_ns, io_request="signal"):
        self.wl = wl
        self.io_request = io_request
        self.seed = seed
        self.interval_us = interval_us
        self.duration_ns = duration_ns
        self.stamp_ns = stamp_ns
        self.stop = [False]
        self.logs = []
        self.peers = Peers()
        self.main_stamps = []
        self.errors = []

    def thread_done(self):
        with self.live_lock:
            self.live -= 1
            if self.live == 0:
                self.all_done.set()

    def peer_mode(self, ops):
        """How a thread with these ops talks to its peer: None (no I/O), "signal" (io requests
        that keep the GIL), "send" (requests over the socket: io with "send": true, send ops,
        --io-request send) or "mixed" (both)."""
        plain = sends = False
        for op in walk_ops(ops):
            if op[0] == "send" or (op[0] == "io" and (op[5] or self.io_request == "send")):
                sends = True
            elif op[0] == "io":
                plain = True
        if plain and sends:
            return "mixed"
        return "send" if sends else "signal" if plain else None

    def create_threads(self, gate):
        """One ThreadLog, ThreadRun and (not yet started) threading.Thread per workload thread;
        a peer process for each thread whose ops do I/O."""
        threads = []
        for g in self.wl["groups"]:
            mode = self.peer_mode(g["ops"])
            for k in range(g["count"]):
                tid = len(self.logs)
                log = ThreadLog(tid, "%s.%d" % (g["name"], k), g["name"])
                self.logs.append(log)
                peer = self.peers.start(mode) if mode else None
                life = ThreadRun(self, log, g, Rng(self.seed, tid), peer)
                threads.append(threading.Thread(target=life.main, name=log.name, args=(gate,),
                                                daemon=True))
        return threads

    def run_threads(self, threads, gate):
        """Starts them, opens the gate (t0), waits until all are done or the deadline, stops
        and joins them."""
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

    def run(self):
        wl = self.wl
        self.cal = Calibration(wl, [op for g in wl["groups"] for op in walk_ops(g["ops"])],
                               self.stamp_ns)
        gate = threading.Event()
        self.all_done = threading.Event()
        self.live_lock = threading.Lock()
        self.live = sum(g["count"] for g in wl["groups"])
        try:
            threads = self.create_threads(gate)
            old_interval = sys.getswitchinterval()
            if self.interval_us is not None:
                sys.setswitchinterval(self.interval_us / 1e6)
            self.params_interval_us = llround(sys.getswitchinterval() * 1e6)
            self.run_threads(threads, gate)
            sys.setswitchinterval(old_interval)
        finally:
            self.stop[0] = True
            self.peers.close()
        if self.errors:
            raise RuntimeError("a thread failed: " + "; ".join(self.errors))
