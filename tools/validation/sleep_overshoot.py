#!/usr/bin/python3
"""time.sleep(0.001) in a loop beside a CPU-bound thread: how late each sleep returns.

Prints JSON: the sleeps' overshoot (how much longer than 1 ms each took), p50/p99, with and
without the CPU thread running beside the sleeper.

  sleep_overshoot.py --interval-ms 5 --duration 2
"""
import argparse
import json
import platform
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--cpu-threads", type=int, default=1)
    ap.add_argument("--sleep-ms", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=2.0)
    a = ap.parse_args()
    sys.setswitchinterval(a.interval_ms / 1000)
    want = a.sleep_ms / 1000
    running = True

    def count():
        n = 0
        while running:
            n += 1

    threads = [threading.Thread(target=count) for _ in range(a.cpu_threads)]
    for t in threads:
        t.start()
    over = []
    end = time.perf_counter() + a.duration
    while True:
        t = time.perf_counter()
        time.sleep(want)
        t1 = time.perf_counter()
        over.append(t1 - t - want)
        if t1 >= end:
            break
    running = False
    for t in threads:
        t.join()
    over.sort()
    n = len(over)
    print(json.dumps({
        "program": "sleep_overshoot", "python": platform.python_version(),
        "interval_ms": a.interval_ms, "cpu_threads": a.cpu_threads, "sleep_ms": a.sleep_ms,
        "sleeps": n, "sleeps_per_s": n / a.duration,
        "overshoot_p50_us": over[n // 2] * 1e6,
        "overshoot_p99_us": over[min(n - 1, int(0.99 * n))] * 1e6}))


if __name__ == "__main__":
    main()
