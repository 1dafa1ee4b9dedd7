#!/usr/bin/python3
"""A producer and two consumers around a queue.Queue(maxsize=8): what their user measures.

One thread receives requests from a socket (a load generator process sends one byte every
1/--rate s, open loop) and puts each on the queue with its time; two threads take them off
and do --work-us of pure-Python work on each. Prints JSON: items taken per second, and how long
an item waited in the queue, from its put to the get that took it (p50, p99).

  producer_consumer.py --rate 4000 --work-us 300 --maxsize 8 --interval-ms 5 --duration 2
"""
import argparse
import json
import math
import os
import platform
import queue
import socket
import subprocess
import sys
import threading
import time
import timeit


def crunch(n):
    x = 0
    for i in range(n):
        x ^= i * 7
    return x


def calibrated(us):
    """Steps of crunch that take `us` microseconds alone (the best of seven timings)."""
    return max(1, round(150000 * us / 1e6 / min(timeit.repeat(lambda: crunch(150000),
                                                               number=1, repeat=7))))


def generate(fd, rate, seconds):
    """The load generator: one byte every 1/rate s on a fixed schedule, then the end."""
    period, t0 = 1.0 / rate, time.monotonic()
    k = 0
    while k * period < seconds:
        delay = t0 + k * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        os.write(fd, b"r")
        k += 1
    os.close(fd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for flag, default in (("rate", 4000.0), ("work-us", 300.0), ("maxsize", 8),
                          ("consumers", 2), ("interval-ms", 5.0), ("duration", 2.0)):
        ap.add_argument("--" + flag, type=type(default), default=default)
    ap.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.generate is not None:
        generate(a.generate, a.rate, a.duration)
        return
    steps = calibrated(a.work_us)
    sys.setswitchinterval(a.interval_ms / 1000)
    q = queue.Queue(maxsize=a.maxsize)
    waits, got = [], [0]
    mine, theirs = socket.socketpair()
    load = subprocess.Popen([sys.executable, __file__, "--generate", str(theirs.fileno()),
                             "--rate", str(a.rate), "--duration", str(a.duration)],
                            pass_fds=[theirs.fileno()])
    theirs.close()

    def produce():
        while mine.recv(1):
            q.put(time.perf_counter())
        for _ in range(a.consumers):
            q.put(None)

    def consume():
        while True:
            put_at = q.get()
            if put_at is None:
                return
            waits.append(time.perf_counter() - put_at)
            got[0] += 1
            crunch(steps)

    threads = [threading.Thread(target=produce)]
    threads += [threading.Thread(target=consume) for _ in range(a.consumers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    load.wait()
    waits.sort()
    report = {"program": "producer_consumer", "python": platform.python_version(),
              "steps": steps, "items": got[0], "items_per_s": got[0] / elapsed}
    report.update((k, v) for k, v in vars(a).items() if k != "generate")
    report["queue_wait_p50_us"] = waits[max(0, math.ceil(len(waits) / 2) - 1)] * 1e6
    report["queue_wait_p99_us"] = waits[max(0, math.ceil(0.99 * len(waits)) - 1)] * 1e6
    print(json.dumps(report))


if __name__ == "__main__":
    main()
