#!/usr/bin/python3
"""A thread woken by a UDP packet now and then, beside CPU-bound threads: what its user measures.

One thread blocks in ``recvfrom`` on a UDP socket; another process sends it a packet every
``--period-ms`` (stamped with the send time, CLOCK_MONOTONIC), while N threads count in a
pure-Python loop. The latency is from the packet's send to the thread handling it (``recvfrom``
returned, so the thread holds the GIL again). Prints JSON: packets handled, the latency's mean,
p50, p99, standard deviation and max, and the shares of packets that waited under half, about
one and 1.5 or more switch intervals.

  udp_wake.py --cpu-threads 2 --interval-ms 5 --period-ms 100 --duration 10
"""
import argparse
import json
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time


def sender(port, period_s, duration_s):
    """The other process: a packet every period, carrying its send time."""
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    end = time.monotonic() + duration_s
    nxt = time.monotonic() + period_s / 2
    while nxt < end:
        time.sleep(max(0.0, nxt - time.monotonic()))
        tx.sendto(str(time.monotonic_ns()).encode(), ("127.0.0.1", port))
        nxt += period_s
    tx.sendto(b"end", ("127.0.0.1", port))


def percentile(sorted_xs, q):
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, int(round(q * len(sorted_xs) + 0.5)) - 1))
    return sorted_xs[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu-threads", type=int, default=2)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--period-ms", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds")
    ap.add_argument("--sender", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.sender is not None:
        sender(a.sender, a.period_ms / 1e3, a.duration)
        return

    sys.setswitchinterval(a.interval_ms / 1000)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    running = True
    counts = [0] * a.cpu_threads

    def count(i):
        n = 0
        while running:
            n += 1
        counts[i] = n

    threads = [threading.Thread(target=count, args=(i,)) for i in range(a.cpu_threads)]
    for t in threads:
        t.start()
    proc = subprocess.Popen([sys.executable, __file__, "--sender", str(rx.getsockname()[1]),
                             "--period-ms", str(a.period_ms), "--duration", str(a.duration)])
    lat = []
    while True:
        data, _ = rx.recvfrom(64)
        now = time.monotonic_ns()
        if data == b"end":
            break
        lat.append((now - int(data)) / 1e3)
    running = False
    for t in threads:
        t.join()
    proc.wait()
    iv = a.interval_ms * 1e3
    s = sorted(lat)
    print(json.dumps({
        "program": "udp_wake",
        "python": platform.python_version(),
        "cpu_threads": a.cpu_threads, "interval_ms": a.interval_ms, "period_ms": a.period_ms,
        "packets": len(lat),
        "latency_mean_us": statistics.mean(lat),
        "latency_p50_us": percentile(s, 0.5),
        "latency_p99_us": percentile(s, 0.99),
        "latency_sd_us": statistics.pstdev(lat),
        "latency_max_us": s[-1],
        "waited_0": sum(1 for x in lat if x < 0.5 * iv) / len(lat),
        "waited_1": sum(1 for x in lat if 0.5 * iv <= x < 1.5 * iv) / len(lat),
        "waited_2plus": sum(1 for x in lat if x >= 1.5 * iv) / len(lat),
    }))


if __name__ == "__main__":
    main()
