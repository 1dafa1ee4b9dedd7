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
import timeit
from concurrent.futures import ThreadPoolExecutor


def spin(n):
    acc = 0
    for i in range(n):
        acc += i % 3
    return acc


def steps_per(us):
    """How many steps of spin take `us` microseconds here (the fastest of seven timings)."""
    fastest = min(timeit.repeat(lambda: spin(200000), number=1, repeat=7))
    return max(1, round(200000 * us / 1e6 / fastest))


def answer(fd, delay_us):
    """The peer: every byte back after delay_us."""
    pause = delay_us / 1e6
    for chunk in iter(lambda: os.read(fd, 64), b""):
        time.sleep(pause)
        os.write(fd, chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for flag, default in (("workers", 4), ("items", 2000), ("work-us", 200.0),
                          ("interval-ms", 5.0), ("delay-us", 40.0)):
        ap.add_argument("--" + flag, type=type(default), default=default)
    ap.add_argument("--blocking", action="store_true", help="a socket round trip in each call")
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
    out = dict(program="thread_pool", python=platform.python_version(), steps=steps,
               items=len(done), elapsed_s=elapsed, items_per_s=len(done) / elapsed)
    out.update(vars(a))
    for q in (50, 99):  # nearest rank
        out["task_p%d_us" % q] = took[max(0, math.ceil(q / 100 * len(took)) - 1)] * 1e6
    print(json.dumps(out))


if __name__ == "__main__":
    main()
