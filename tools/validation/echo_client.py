#!/usr/bin/python3
"""An echo client beside CPU-bound threads: what its user measures.

The client sends one byte over a socket (``sendall``) and waits for the answer (``recv``),
over and over, while N threads count in a pure-Python loop. The answering side is a separate
process (this file with ``--peer``) that echoes each byte at once or after a short pause.
Prints JSON: round trips per second and the round trip's p50/p99 as the client sees them,
the shares of round trips that waited under half, about one and 1.5 or more switch intervals,
how long ``sendall`` took (p50) and the share of round trips in which it waited half an
interval or more.

  echo_client.py --cpu-threads 1 --interval-ms 5 --delay-us 40 --duration 2
"""
import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time


def peer(fd, delay_us):
    """Answer every byte: at once, or after sleeping delay_us."""
    sock = socket.socket(fileno=fd)
    delay = delay_us / 1e6
    while True:
        data = sock.recv(64)
        if not data:
            return
        if delay:
            time.sleep(delay)
        sock.sendall(data)


def percentile(sorted_xs, q):
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, int(round(q * len(sorted_xs) + 0.5)) - 1))
    return sorted_xs[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu-threads", type=int, default=1)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--delay-us", type=float, default=40.0)
    ap.add_argument("--duration", type=float, default=2.0, help="seconds measured")
    ap.add_argument("--warmup", type=float, default=0.2, help="seconds before measuring")
    ap.add_argument("--peer", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer is not None:
        peer(a.peer, a.delay_us)
        return

    sys.setswitchinterval(a.interval_ms / 1000)
    mine, theirs = socket.socketpair()
    answerer = subprocess.Popen([sys.executable, __file__, "--peer", str(theirs.fileno()),
                                 "--delay-us", str(a.delay_us)], pass_fds=[theirs.fileno()])
    theirs.close()

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

    # warm up, then measure for the duration
    rtts, sends = [], []
    end_warmup = time.monotonic() + a.warmup
    warmup = 0
    while time.monotonic() < end_warmup:
        mine.sendall(b"x")
        mine.recv(1)
        warmup += 1
    start = time.monotonic()
    end = start + a.duration
    while True:
        t0 = time.perf_counter()
        mine.sendall(b"x")
        ts = time.perf_counter()
        mine.recv(1)
        t1 = time.perf_counter()
        rtts.append(t1 - t0)
        sends.append(ts - t0)
        if t1 >= end:  # perf_counter and monotonic are the same clock on Linux
            break
    elapsed = time.monotonic() - start
    running = False
    for t in threads:
        t.join()
    mine.close()
    answerer.wait()

    iv = a.interval_ms / 1000
    # where the round trip waited: in sendall (another thread took the GIL while it sent)
    sendall_waited = sum(1 for x in sends if x >= 0.5 * iv) / len(sends)
    sends.sort()
    rtts.sort()
    print(json.dumps({
        "program": "echo_client",
        "python": platform.python_version(),
        "cpu_threads": a.cpu_threads, "interval_ms": a.interval_ms, "delay_us": a.delay_us,
        "round_trips": len(rtts), "round_trips_total": warmup + len(rtts),
        "round_trips_per_s": len(rtts) / elapsed,
        "rtt_p50_us": percentile(rtts, 0.50) * 1e6,
        "rtt_p99_us": percentile(rtts, 0.99) * 1e6,
        "waited_0": sum(1 for x in rtts if x < 0.5 * iv) / len(rtts),
        "waited_1": sum(1 for x in rtts if 0.5 * iv <= x < 1.5 * iv) / len(rtts),
        "waited_2plus": sum(1 for x in rtts if x >= 1.5 * iv) / len(rtts),
        "sendall_p50_us": percentile(sends, 0.50) * 1e6,
        "sendall_waited": sendall_waited,
    }))


if __name__ == "__main__":
    main()
