#!/usr/bin/python3
"""hashlib.sha256 over 1 MiB buffers in two threads, beside a CPU-bound thread.

hashlib releases the GIL while it hashes a large buffer, so the hashing threads can run
beside each other and beside Python code. Measures what a user would: hashes per second and
the counting thread's loop rate, against the same loop running alone first.
Prints JSON.

  hash_threads.py --interval-ms 5 --duration 2
"""
import argparse
import hashlib
import json
import platform
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--hash-threads", type=int, default=2)
    ap.add_argument("--cpu-threads", type=int, default=1)
    ap.add_argument("--mib", type=float, default=1.0, help="buffer size, MiB")
    ap.add_argument("--duration", type=float, default=2.0)
    a = ap.parse_args()
    sys.setswitchinterval(a.interval_ms / 1000)
    buf = bytes(int(a.mib * (1 << 20)))

    # alone: one hash, and the counting loop
    singles = []
    for _ in range(5):
        t = time.perf_counter()
        hashlib.sha256(buf).digest()
        singles.append(time.perf_counter() - t)
    singles.sort()
    running = True
    hashes = [0] * a.hash_threads
    loops = [0] * a.cpu_threads

    def hasher(i):
        k = 0
        while running:
            hashlib.sha256(buf).digest()
            k += 1
        hashes[i] = k

    def count(i):
        k = 0
        while running:
            k += 1
        loops[i] = k

    # the counting loop alone, in a thread as below
    alone = threading.Thread(target=count, args=(0,))
    t = time.perf_counter()
    alone.start()
    time.sleep(0.3)
    running = False
    alone.join()
    alone_rate = loops[0] / (time.perf_counter() - t)
    running = True

    threads = ([threading.Thread(target=hasher, args=(i,)) for i in range(a.hash_threads)] +
               [threading.Thread(target=count, args=(i,)) for i in range(a.cpu_threads)])
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(a.duration)
    running = False
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    cpu_rate = sum(loops) / elapsed / max(1, a.cpu_threads)
    print(json.dumps({
        "program": "hash_threads", "python": platform.python_version(),
        "interval_ms": a.interval_ms, "hash_threads": a.hash_threads,
        "cpu_threads": a.cpu_threads, "mib": a.mib,
        "hash_alone_us": singles[len(singles) // 2] * 1e6,
        "hashes_per_s": sum(hashes) / elapsed, "hashes": sum(hashes),
        "cpu_loops_per_s": cpu_rate, "cpu_loops_alone_per_s": alone_rate,
        "cpu_share": cpu_rate / alone_rate}))


if __name__ == "__main__":
    main()
