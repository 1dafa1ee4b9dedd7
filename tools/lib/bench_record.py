"""tools/lib/bench_record.py - figure 11 of docs/performance.md: what `gilsim record` costs the
program it records. Each validation program of tools/validation/ that reports a throughput runs
alone and under `gilsim record`, interleaved repeat by repeat (so that a machine getting busier
or quieter hits both alike), and the figure is its recorded throughput over its unrecorded one,
median and min..max over the repeats. Target: >= 0.90 (issue 24).

  /usr/bin/python3 tools/lib/bench_record.py [--repeat N] [--smoke] [--gilsim PATH]
      [-o OUT.json] [--table OUT.txt]

tools/bench runs it after gilsim-bench with the same --repeat and --smoke. Standard library;
the programs run on /usr/bin/python3 (the interpreter the recorder knows).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gilsim_output  # noqa: E402

PYTHON = "/usr/bin/python3"
TARGET = 0.90

# (name, program, its arguments, the throughput key it prints): the validation programs that
# report a rate, the most GIL hand-offs per second first
PROGRAMS = [
    ("echo client, peer at once, alone", "echo_client.py",
     ["--cpu-threads", "0", "--delay-us", "0"], "round_trips_per_s"),
    ("echo client, peer 40 us, 1 CPU thread, 1 ms", "echo_client.py",
     ["--cpu-threads", "1", "--delay-us", "40", "--interval-ms", "1"], "round_trips_per_s"),
    ("hashlib threads, 1 CPU thread, 5 ms", "hash_threads.py", ["--interval-ms", "5"],
     "hashes_per_s"),
    ("50 threads of short work, 5 ms", "many_threads.py", ["--interval-ms", "5"], "work_per_s"),
]


def run(cmd, key):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                         timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])[key]


def measure(gilsim, prog, args, key, seconds, tmp):
    """One repeat: the program alone, then recorded; returns (alone, recorded)."""
    cmd = [PYTHON, os.path.join(ROOT, "tools", "validation", prog), "--duration", str(seconds)]
    alone = run(cmd + args, key)
    trace = os.path.join(tmp, "bench-record.json")
    recorded = run([gilsim, "record", "-q", "-o", trace, "--"] + cmd + args, key)
    os.unlink(trace)
    return alone, recorded


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "all": xs}


def table(rows, load):
    lines = ["11. gilsim record: the recorded program's throughput against the same program alone, "
             "interleaved (median (min..max)); load average %s" % load,
             "%-46s %-26s %-26s %-22s %s" % ("program", "alone", "recorded", "recorded/alone",
                                             "met (>= %.2f)" % TARGET)]
    for r in rows:
        f = lambda s, fmt: (fmt + " (" + fmt + ".." + fmt + ")") % (s["median"], s["min"], s["max"])
        lines.append("%-46s %-26s %-26s %-22s %s" % (
            r["program"], f(r["alone"], "%.0f"), f(r["recorded"], "%.0f"),
            f(r["ratio"], "%.3f"), "yes" if r["met"] else "NO"))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--smoke", action="store_true", help="one short repeat")
    ap.add_argument("--gilsim", default=os.path.join(ROOT, "build", "gilsim"))
    ap.add_argument("-o", "--output")
    ap.add_argument("--table")
    a = ap.parse_args()
    for path in (a.output, a.table):
        if path:
            gilsim_output.preflight(path)
    repeats, seconds = (1, 0.3) if a.smoke else (a.repeat, 2.0)
    load = "%.2f" % os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="gilsim-bench-record.") as tmp:
        for name, prog, args, key in PROGRAMS:
            pairs = [measure(a.gilsim, prog, args, key, seconds, tmp) for _ in range(repeats)]
            ratios = [r / x for x, r in pairs]
            rows.append({"program": name, "key": key, "alone": spread([x for x, _ in pairs]),
                         "recorded": spread([r for _, r in pairs]), "ratio": spread(ratios),
                         "met": statistics.median(ratios) >= TARGET})
    load += " before, %.2f after" % os.getloadavg()[0]
    text = table(rows, load)
    sys.stdout.write(text)
    if a.table:
        gilsim_output.write_output(a.table, text)
    if a.output:
        gilsim_output.write_output(a.output, json.dumps(
            {"figure": 11, "target": TARGET, "load_average": load, "repeats": repeats,
             "seconds": seconds, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
