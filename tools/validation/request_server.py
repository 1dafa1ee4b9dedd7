#!/usr/bin/python3
"""A threaded request server beside a CPU-bound thread, driven by an open-loop load generator.

The server accepts TCP connections on the loopback and serves each with a thread of its own:
read a request line, do about 100 µs of Python work, send the answer. One more thread counts
in a pure-Python loop. The load generator is a separate process (this file with --loadgen)
that sends requests at Poisson-distributed times over several connections whatever the
answers do (open loop), and measures each request's response time from its scheduled send
time to its answer. Prints JSON: response time p50/p99 and requests answered per second.

  request_server.py --rate 200 --interval-ms 5 --duration 3
"""
import argparse
import json
import os
import platform
import random
import selectors
import socket
import subprocess
import sys
import threading
import time


def work(n):
    """The request's Python work: a small computation, n steps."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def steps_for(us):
    """How many steps of work() take `us` microseconds here, alone."""
    n = 2000
    while True:
        t = time.perf_counter()
        work(n)
        took = time.perf_counter() - t
        if took > 0.02:
            break
        n *= 2
    best = min(timed(n) for _ in range(9))  # other processes only ever slow a run down
    return max(1, int(n * us / 1e6 / best))


def timed(n):
    t = time.perf_counter()
    work(n)
    return time.perf_counter() - t


def serve_connection(conn, steps):
    f = conn.makefile("rb")
    while True:
        line = f.readline()
        if not line:
            break
        work(steps)
        conn.sendall(line)
    conn.close()


def loadgen(port, rate, connections, duration, warmup, seed):
    """Open loop: Poisson arrivals, each on a connection chosen at random; pipelined."""
    rng = random.Random(seed)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    sel = selectors.DefaultSelector()
    pending = {s: [] for s in socks}   # scheduled times of requests in flight, in order
    buffers = {s: b"" for s in socks}
    for s in socks:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sel.register(s, selectors.EVENT_READ)
    start = time.monotonic()
    measure_from = start + warmup
    end = measure_from + duration
    next_at = start + rng.expovariate(rate)
    times = []
    sent = 0
    while True:
        now = time.monotonic()
        while next_at <= now and next_at < end:
            s = socks[rng.randrange(connections)]
            pending[s].append(next_at)
            s.sendall(b"%d\n" % sent)
            sent += 1
            next_at += rng.expovariate(rate)
        if next_at >= end and not any(pending.values()):
            break
        timeout = max(0.0, next_at - now) if next_at < end else 0.5
        for key, _ in sel.select(timeout):
            s = key.fileobj
            data = s.recv(4096)
            if not data:
                raise SystemExit("loadgen: the server closed a connection")
            got = time.monotonic()
            buffers[s] += data
            while b"\n" in buffers[s]:
                _, buffers[s] = buffers[s].split(b"\n", 1)
                at = pending[s].pop(0)
                if at >= measure_from:
                    times.append(got - at)
        if time.monotonic() > end + 10:
            raise SystemExit("loadgen: answers still missing 10 s after the end")
    for s in socks:
        s.close()
    times.sort()
    n = len(times)
    print(json.dumps({"answered": n, "per_s": n / duration, "sent": sent,
                      "p50_us": times[n // 2] * 1e6 if n else None,
                      "p99_us": times[min(n - 1, int(0.99 * n))] * 1e6 if n else None,
                      "max_us": times[-1] * 1e6 if n else None}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=200, help="requests per second")
    ap.add_argument("--interval-ms", type=float, default=5.0)
    ap.add_argument("--work-us", type=float, default=100.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--cpu-threads", type=int, default=1)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loadgen", type=int, metavar="PORT", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.loadgen is not None:
        loadgen(a.loadgen, a.rate, a.connections, a.duration, a.warmup, a.seed)
        return

    steps = steps_for(a.work_us)
    sys.setswitchinterval(a.interval_ms / 1000)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=serve_connection, args=(conn, steps), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    running = True
    counts = [0] * a.cpu_threads

    def count(i):
        n = 0
        while running:
            n += 1
        counts[i] = n

    cpu = [threading.Thread(target=count, args=(i,)) for i in range(a.cpu_threads)]
    for t in cpu:
        t.start()
    gen = subprocess.run([sys.executable, __file__, "--loadgen", str(port), "--rate", str(a.rate),
                          "--connections", str(a.connections), "--duration", str(a.duration),
                          "--warmup", str(a.warmup), "--seed", str(a.seed)],
                         stdout=subprocess.PIPE, text=True, check=True)
    running = False
    for t in cpu:
        t.join()
    listener.close()
    result = json.loads(gen.stdout)
    print(json.dumps({
        "program": "request_server", "python": platform.python_version(),
        "rate": a.rate, "interval_ms": a.interval_ms, "work_us": a.work_us,
        "work_steps": steps, "connections": a.connections, "cpu_threads": a.cpu_threads,
        "answered_per_s": result["per_s"], "requests_total": result["sent"],
        "response_p50_us": result["p50_us"],
        "response_p99_us": result["p99_us"], "response_max_us": result["max_us"]}))


if __name__ == "__main__":
    main()
