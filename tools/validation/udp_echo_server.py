#!/usr/bin/python3
"""A UDP echo server thread beside CPU-bound threads, its client in another process: what the
server's user measures.

The server thread loops on ``recvfrom`` and ``sendto`` (the echo) on a UDP socket while N
threads count in a pure-Python loop. The client, a separate process, sends a packet, waits for
its echo and sends the next one at once (a Python loop: its own work between the echo and the
next packet is measured and reported, ``client_work_us``). Prints JSON: packets echoed per
second and the client's round trip p50/p99.

  udp_echo_server.py --cpu-threads 2 --interval-ms 5 --duration 5
"""
import argparse
import json
import platform
import socket
import subprocess
import sys
import threading
import time


def percentile(sorted_xs, q):
    if not sorted_xs:
        return None
    k = max(0, min(len(sorted_xs) - 1, int(round(q * len(sorted_xs) + 0.5)) - 1))
    return sorted_xs[k]


def client(port, warmup_s, duration_s):
    """The other process: closed loop, one packet in flight; prints its figures as JSON."""
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(("127.0.0.1", port))
    start = time.monotonic() + warmup_s
    end = start + duration_s
    rtts, work = [], []
    back = None
    while True:
        t0 = time.perf_counter()
        if back is not None and t0 >= start:
            work.append(t0 - back)  # the client's own code between an echo and the next send
        tx.send(b"x")
        tx.recv(64)
        back = time.perf_counter()
        if t0 >= start:
            rtts.append(back - t0)
        if back >= end:
            break
    tx.send(b"end")
    rtts.sort()
    work.sort()
    print(json.dumps({"packets": len(rtts), "seconds": back - start,
                      "rtt_p50_us": percentile(rtts, 0.5) * 1e6,
                      "rtt_p99_us": percentile(rtts, 0.99) * 1e6,
                      "client_work_us": percentile(work, 0.5) * 1e6}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu-threads", type=int, default=1)
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds measured")
    ap.add_argument("--warmup", type=float, default=0.3, help="seconds before measuring")
    ap.add_argument("--client", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client is not None:
        client(a.client, a.warmup, a.duration)
        return

    sys.setswitchinterval(a.interval_ms / 1000)
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
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
    proc = subprocess.Popen([sys.executable, __file__, "--client", str(srv.getsockname()[1]),
                             "--warmup", str(a.warmup), "--duration", str(a.duration)],
                            stdout=subprocess.PIPE, text=True)
    while True:
        data, addr = srv.recvfrom(64)
        if data == b"end":
            break
        srv.sendto(data, addr)
    out, _ = proc.communicate()
    running = False
    for t in threads:
        t.join()
    c = json.loads(out)
    print(json.dumps({
        "program": "udp_echo_server",
        "python": platform.python_version(),
        "cpu_threads": a.cpu_threads, "interval_ms": a.interval_ms,
        "packets": c["packets"], "packets_per_s": c["packets"] / c["seconds"],
        "rtt_p50_us": c["rtt_p50_us"], "rtt_p99_us": c["rtt_p99_us"],
        "client_work_us": c["client_work_us"],
    }))


if __name__ == "__main__":
    main()
