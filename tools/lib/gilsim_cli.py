"""tools/lib/gilsim_cli.py - the gilsim binary as the Python tools use it (standard library only):
find it, run it, read the latency samples of a trace. tools/lib/gilsim_plots.py, tools/report and
tools/validate share these."""
import csv
import io
import os
import subprocess

# The repository: this file is tools/lib/gilsim_cli.py.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class GilsimError(Exception):
    """gilsim is missing or refused the input; the message says why."""


def find_gilsim(given=None):
    """The gilsim binary: the given path (--gilsim), $GILSIM, or the repository's build/gilsim."""
    for cand in (given, os.environ.get("GILSIM"),
                 os.path.join(ROOT, "build", "gilsim")):
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    raise GilsimError("cannot find the gilsim binary: build it (cmake --build build), "
                      "or pass --gilsim PATH or set GILSIM")


def run_gilsim(gilsim, args):
    """gilsim's standard output; GilsimError with its message when it fails."""
    proc = subprocess.run([gilsim] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    if proc.returncode != 0:
        raise GilsimError(proc.stderr.strip() or "gilsim %s failed (exit %d)"
                          % (" ".join(args), proc.returncode))
    return proc.stdout


def samples_of(trace, gilsim, metrics):
    """{metric: [ns, ...]} of one trace, every thread pooled (`gilsim summary --samples`)."""
    out = {m: [] for m in metrics}
    text = run_gilsim(gilsim, ["summary", trace, "--samples", ",".join(metrics)])
    for row in csv.DictReader(io.StringIO(text)):
        out[row["metric"]].append(int(row["ns"]))
    return out
