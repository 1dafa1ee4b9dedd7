#!/usr/bin/python3
"""ThreadPoolExecutor(4).map over 2,000 items: what its user measures.

Each item runs a pure-Python function of about --work-us microseconds; with --blocking, half
of that work, then a socket round trip to a peer process that answers after --delay-us (one
peer per worker: `sendall` one byte, `recv` the answer), then the other half. Prints JSON:
items per second over the whole map, and how long one call of the function took, from its
start to its end as it times itself (p50, p99).

  thread_pool.py --workers 4 --items 2000 --work-us 200 --interval-ms 5 [--blocking]
"""
import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def spin(n):
    acc = 0
    for i in range(n):
        acc += i % 3
    return acc


def steps_per(us):
    """How many steps of spin take `us` microseconds here (the fastest of seven timings)."""
    probe = 200000
    best = None
    for _ in range(7):
        t = time.perf_counter()
        spin(probe)
        took = time.perf_counter() - t
        best = took if best is None else min(best, took)
    return max(1, round(probe * us / 1e6 / best))


def answer(fd, delay_us):
    """The peer: every byte back after delay_us."""
    pause = delay_us / 1e6
    for chunk in iter(lambda: os.read(fd, 64), b""):
        time.sleep(pause)
        os.write(fd, chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--work-us", type=float, default=200.0)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--blocking", action="store_true", help="a socket round trip in each call")
    ap.add_argument("--delay-us", type=float, default=40.0, help="the peer's pause (--blocking)")
    ap.add_argument("--peer", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer is not None:
        answer(a.peer, a.delay_us)
        return
    steps = steps_per(a.work_us / 2 if a.blocking else a.work_us)
    sys.setswitchinterval(a.interval_ms / 1000)
    socks, peers = [], []
    if a.blocking:
        for _ in range(a.workers):
            mine, theirs = socket.socketpair()
            peers.append(subprocess.Popen([sys.executable, __file__, "--peer",
                                           str(theirs.fileno()), "--delay-us", str(a.delay_us)],
                                          pass_fds=[theirs.fileno()]))
            theirs.close()
            socks.append(mine)
    local = threading.local()
    taken = iter(socks)
    took = []

    def task(i):
        t0 = time.perf_counter()
        spin(steps)
        if a.blocking:
            if not hasattr(local, "sock"):
                local.sock = next(taken)  # each worker its own connection (the GIL orders this)
            local.sock.sendall(b"x")
            local.sock.recv(1)
            spin(steps)
        took.append(time.perf_counter() - t0)
        return i

    with ThreadPoolExecutor(max_workers=a.workers) as pool:
        list(pool.map(task, range(a.workers)))  # the workers exist before the measured map
        took.clear()
        start = time.perf_counter()
        done = list(pool.map(task, range(a.items)))
        elapsed = time.perf_counter() - start
    for s in socks:
        s.close()
    for p in peers:
        p.wait()
    took.sort()

    def rank(q):
        return took[max(0, math.ceil(q * len(took)) - 1)] * 1e6
    print(json.dumps({
        "program": "thread_pool", "python": platform.python_version(), "workers": a.workers,
        "items": len(done), "work_us": a.work_us, "work_steps": steps, "blocking": a.blocking,
        "delay_us": a.delay_us, "interval_ms": a.interval_ms, "elapsed_s": elapsed,
        "items_per_s": len(done) / elapsed, "task_p50_us": rank(0.5), "task_p99_us": rank(0.99)}))


if __name__ == "__main__":
    main()
