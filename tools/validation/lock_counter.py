#!/usr/bin/python3
"""Four threads increment a shared counter under one threading.Lock: what their user measures.

Each thread loops: --outside-us of pure-Python work, then `with lock:` the increment and
--inside-us of work. Prints JSON: increments per second in all, and one loop iteration's time
as its thread sees it (p50, p99), with the share of iterations whose acquire found the lock
held (timed around the `with`, longer than 50 µs).

  lock_counter.py --threads 4 --inside-us 5 --outside-us 20 --interval-ms 5 --duration 2
"""
import argparse
import json
import math
import platform
import sys
import threading
import time
import timeit


def busy(n):
    s = 1
    for i in range(n):
        s = (s * 31 + i) & 0xFFFF
    return s


def steps_for_us(us, probe=100000):
    """Steps of busy that take `us` microseconds alone: the fastest of seven timings."""
    timings = timeit.repeat(lambda: busy(probe), number=1, repeat=7)
    return max(1, round(probe * us / 1e6 / min(timings)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for flag, default in (("threads", 4), ("inside-us", 5.0), ("outside-us", 20.0),
                          ("interval-ms", 5.0), ("duration", 2.0)):
        ap.add_argument("--" + flag, type=type(default), default=default)
    a = ap.parse_args()
    inside, outside = steps_for_us(a.inside_us), steps_for_us(a.outside_us)
    sys.setswitchinterval(a.interval_ms / 1000)
    lock = threading.Lock()
    counter = [0]
    laps = [[] for _ in range(a.threads)]
    contended = [0] * a.threads
    stop = [False]

    def worker(k):
        mine = laps[k]
        last = time.perf_counter()
        while not stop[0]:
            busy(outside)
            t = time.perf_counter()
            with lock:
                if time.perf_counter() - t > 50e-6:
                    contended[k] += 1
                counter[0] += 1
                busy(inside)
            now = time.perf_counter()
            mine.append(now - last)
            last = now

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(a.threads)]
    start = time.perf_counter()
    list(map(threading.Thread.start, threads))
    time.sleep(a.duration)
    stop[0] = True
    list(map(threading.Thread.join, threads))
    elapsed = time.perf_counter() - start
    all_laps = sorted(x for lap in laps for x in lap)
    at = {q: all_laps[max(0, math.ceil(q / 100 * len(all_laps)) - 1)] * 1e6 for q in (50, 99)}
    print(json.dumps(dict(vars(a), program="lock_counter", python=platform.python_version(),
                          increments=counter[0], increments_per_s=counter[0] / elapsed,
                          iteration_p50_us=at[50], iteration_p99_us=at[99],
                          contended_share=sum(contended) / max(1, counter[0]))))


if __name__ == "__main__":
    main()
