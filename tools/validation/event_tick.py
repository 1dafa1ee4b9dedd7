#!/usr/bin/python3
"""An Event set every millisecond by one thread, waited on by another, beside a CPU thread.

The ticker sleeps --period-ms and sets the event, over and over; the waiter waits for it,
notes how long after the set it got going, and clears it; one more thread counts in a
pure-Python loop. Prints JSON: wake-ups per second, and the wake-up's latency from the set to
the waiter running again (p50, p99), with the share of latencies over half a switch interval.

  event_tick.py --period-ms 1 --interval-ms 5 --duration 2
"""
import argparse
import json
import math
import platform
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for flag, default in (("period-ms", 1.0), ("cpu-threads", 1), ("interval-ms", 5.0),
                          ("duration", 2.0)):
        ap.add_argument("--" + flag, type=type(default), default=default)
    a = ap.parse_args()
    sys.setswitchinterval(a.interval_ms / 1000)
    ev = threading.Event()
    set_at = [0.0]
    lags = []
    running = [True]

    def ticker():
        while running[0]:
            time.sleep(a.period_ms / 1000)
            set_at[0] = time.perf_counter()
            ev.set()
        ev.set()  # let the waiter see the end

    def waiter():
        while running[0]:
            ev.wait()
            lags.append(time.perf_counter() - set_at[0])
            ev.clear()

    def count():
        n = 0
        while running[0]:
            n += 1

    threads = [threading.Thread(target=f) for f in [ticker, waiter] + [count] * a.cpu_threads]
    start = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(a.duration)
    running[0] = False
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lags.sort()
    result = dict(vars(a), program="event_tick", python=platform.python_version())
    result["wakeups"], result["wakeups_per_s"] = len(lags), len(lags) / elapsed
    for name, q in (("lag_p50_us", 0.5), ("lag_p99_us", 0.99)):  # nearest rank
        result[name] = lags[max(0, math.ceil(q * len(lags)) - 1)] * 1e6
    # the waiter lost the GIL to the CPU thread and waited for its slice
    result["late_share"] = sum(1 for x in lags if x > a.interval_ms / 2000) / max(1, len(lags))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
