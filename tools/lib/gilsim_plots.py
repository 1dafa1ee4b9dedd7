"""tools/lib/gilsim_plots.py - the plots of tools/plot-timeline, plot-cdf, plot-sweep and report.

Reads only what gilsim writes for others: traces (through `gilsim export --format csv`, which
streams), latency samples (`gilsim summary --samples`) and a compare directory's index.json.
No metric is recomputed here, so a plot shows exactly the numbers `gilsim summary` defines.
Runs on Debian's /usr/bin/python3 with python3-matplotlib.
"""
import argparse
import contextlib
import csv
import io
import os
import stat
import sys
import tempfile

from gilsim_cli import GilsimError, find_gilsim, run_gilsim, samples_of  # noqa: F401
from gilsim_output import (InputError, OutputError, WriteError, escape,  # noqa: F401
                           exit_on_interrupt, exit_status, output, print_out, read_json,
                           run_main, show)

INDEX_MAX = 256 << 20  # bytes of a compare index or summary these tools read
LONGEST_MS = 86400000.0  # 24 h: the longest run gilsim makes (docs/reliability.md, Limits)


def ms_arg(text):
    """An argparse type: a time in ms, finite and within [0, 24 h] (inf, nan and 1e308 would
    end in an OverflowError deep in the plotting)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected milliseconds, got '%s'" % escape(text))
    if not 0 <= v <= LONGEST_MS:  # nan fails both
        raise argparse.ArgumentTypeError("expected milliseconds in [0, %g], got '%s'"
                                         % (LONGEST_MS, escape(text)))
    return v

exit_on_interrupt(os.path.basename(sys.argv[0]))  # before matplotlib's slow import

try:
    import matplotlib
except ImportError:
    sys.exit("gilsim plots need matplotlib for %s: on Debian, apt-get install python3-matplotlib "
             "(tools/install-deps does) and run the tools with /usr/bin/python3" % sys.executable)
matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


# Reproducible SVGs: no random ids, no creation date.
matplotlib.rcParams["svg.hashsalt"] = "gilsim"
SVG_METADATA = {"Date": None}
PNG_METADATA = {"Software": None}

# Thread states drawn by the timeline, in legend order, with their colours.
STATES = [
    ("GIL", "#2ca02c"),
    ("hold (no check points)", "#17becf"),
    ("wait for GIL", "#d62728"),
    ("forced wait", "#ff7f0e"),
    ("I/O", "#1f77b4"),
    ("sleep", "#9467bd"),
    ("native", "#8c564b"),
    ("object wait", "#bcbd22"),
]
STATE_COLOR = dict(STATES)

# Latency metrics the CDF plot offers, with axis titles.
CDF_METRICS = {
    "gil_wait": "GIL wait",
    "io_response": "I/O response",
    "request_latency": "request latency",
    "sleep_overshoot": "sleep overshoot",
    "slice": "GIL slice",
    "handoff_gap": "hand-off gap",
}
DEFAULT_CDF_METRICS = ["gil_wait", "io_response", "request_latency"]


# A problem with the input (gilsim's refusals included); the scripts print it and exit 2.
PlotError = GilsimError


def save(fig, out_base, inputs=(), formats=("png", "svg")):
    """Writes out_base.png and out_base.svg under the output rules (gilsim_output), both or
    neither; returns the paths. inputs: what the figure was drawn from."""
    paths = ["%s.%s" % (out_base, fmt) for fmt in formats]
    try:
        d = os.path.dirname(out_base)
        if d:
            os.makedirs(d, exist_ok=True)
        with contextlib.ExitStack() as stack:
            files = [stack.enter_context(output(p, inputs, binary=True)) for p in paths]
            for f, fmt in zip(files, formats):
                meta = SVG_METADATA if fmt == "svg" else PNG_METADATA
                fig.savefig(f, format=fmt, dpi=110, bbox_inches="tight", metadata=meta)
                f.flush()
    except OSError as e:
        if isinstance(e, (OutputError, WriteError)):
            raise
        raise OutputError("%s: %s" % (escape(e.filename or out_base), e.strerror))
    finally:
        plt.close(fig)
    return paths


def png_bytes(fig):
    """The figure as PNG bytes (for the report); closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata=PNG_METADATA)
    plt.close(fig)
    return buf.getvalue()


def text(s):
    """Text from a file for a figure: escaped (gilsim_output.escape: control characters and
    bytes that were not UTF-8), and '$' taken literally, not as the start of mathtext."""
    return escape(s).replace("$", r"\$")


def fmt_ns(ns):
    """A duration in the unit that suits it: 870 ns, 41.2 us, 5.09 ms, 1.20 s."""
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= scale:
            return "%.3g %s" % (ns / scale, unit)
    return "%.3g ns" % ns


def fail(prog, err):
    """Prints the error (escaped: it may quote names from files); the exit status: 1 when a
    write failed, else 2."""
    print("%s: %s" % (prog, escape(str(err))), file=sys.stderr)
    return exit_status(err)


def print_path(path):
    """A path on stdout as the bytes it is (it may not be UTF-8); WriteError when stdout cannot
    take it."""
    print_out(os.fsencode(path))


def save_and_print(fig, out_base, inputs=()):
    """save(), then each path written on stdout; the script's exit status (0)."""
    for path in save(fig, out_base, inputs):
        print_path(path)
    return 0


def main_of(prog, body):
    """Runs a script's body: its errors as one line and an exit status (Ctrl-C: 130 without a
    traceback, exit_on_interrupt)."""
    try:
        return body()
    except (PlotError, OutputError, WriteError) as e:
        return fail(prog, e)


# ---- timeline ---------------------------------------------------------------------------------


def read_spans(trace, gilsim, t0_ns, t1_ns):
    """Per-thread state spans and instant marks inside [t0_ns, t1_ns), from the trace's CSV
    export. Returns (threads, spans, marks, run_end_ns): threads = [(tid, name)], spans =
    {tid: {state: [(start, length)]}}, marks = {kind: [(t, tid)]}."""
    with tempfile.TemporaryDirectory(prefix="gilsim-plot-") as tmp:
        csv_path = os.path.join(tmp, "trace.csv")
        run_gilsim(gilsim, ["export", trace, "--format", "csv", "-o", csv_path])
        threads = {}
        spans = {}
        marks = {"drop request": [], "failed wakeup": [], "forced switch": []}
        open_at = {}  # (tid, state) -> start
        last_t = 0
        pending_drop = {}  # releaser tid -> release time, until we see who acquires next

        def close(tid, state, t):
            start = open_at.pop((tid, state), None)
            if start is None:
                return
            a, b = max(start, t0_ns), min(t, t1_ns)
            if b > a:
                spans.setdefault(tid, {}).setdefault(state, []).append((a, b - a))

        enders = {"io_end": "I/O", "sleep_end": "sleep", "native_end": "native",
                  "hold_end": "hold (no check points)", "force_wait_end": "forced wait",
                  "obj_wait_end": "object wait"}
        starters = {"io_begin": "I/O", "sleep_begin": "sleep", "native_begin": "native",
                    "hold_begin": "hold (no check points)", "force_wait_begin": "forced wait",
                    "obj_wait_begin": "object wait"}
        with open(csv_path, newline="") as f:
            for row in csv.DictReader(f):
                t = int(row["t_ns"])
                tid = int(row["tid"])
                ev = row["ev"]
                if t >= t1_ns:
                    last_t = t1_ns  # events are sorted: what is open lasts past the window
                    break
                threads.setdefault(tid, row["thread"])
                last_t = t
                if ev == "request":
                    open_at[(tid, "wait for GIL")] = t
                elif ev == "acquire":
                    close(tid, "wait for GIL", t)
                    open_at[(tid, "GIL")] = t
                    for releaser, rt in list(pending_drop.items()):
                        if releaser != tid and t0_ns <= rt < t1_ns:
                            marks["forced switch"].append((rt, releaser))
                        pending_drop.pop(releaser)
                elif ev == "release":
                    close(tid, "GIL", t)
                    if row["reason"] == "drop_request":
                        pending_drop[tid] = t
                elif ev in starters:
                    open_at[(tid, starters[ev])] = t
                elif ev in enders:
                    close(tid, enders[ev], t)
                elif ev == "thread_exit":
                    for key in [k for k in open_at if k[0] == tid]:
                        close(tid, key[1], t)
                elif ev == "drop_request" and t0_ns <= t < t1_ns and row["holder"]:
                    # drawn on the lane of the thread asked to drop (the holder is optional)
                    marks["drop request"].append((t, int(row["holder"])))
                elif ev == "wakeup_failed" and t0_ns <= t < t1_ns:
                    marks["failed wakeup"].append((t, tid))
        for tid, state in list(open_at):
            close(tid, state, last_t)
    return sorted(threads.items()), spans, marks, last_t


def timeline_figure(trace, gilsim, t0_ms, t1_ms, title=None, max_lanes=40):
    t0_ns, t1_ns = int(t0_ms * 1e6), int(t1_ms * 1e6)
    if t1_ns <= t0_ns:
        raise PlotError("the window is empty: --to-ms must be after --from-ms")
    threads, spans, marks, end_ns = read_spans(trace, gilsim, t0_ns, t1_ns)
    if not threads:
        raise PlotError("%s: the trace has no events" % trace)
    shown = threads[:max_lanes]
    lane = {tid: i for i, (tid, _) in enumerate(shown)}
    height = 1.2 + 0.32 * len(shown)
    fig, ax = plt.subplots(figsize=(11, max(2.4, height)))
    for tid, states in spans.items():
        if tid not in lane:
            continue
        y = lane[tid]
        for state, segs in states.items():
            inner = state == "hold (no check points)"
            ax.broken_barh([(s / 1e6, d / 1e6) for s, d in segs],
                           (y - (0.2 if inner else 0.38), 0.4 if inner else 0.76),
                           facecolors=STATE_COLOR[state], linewidth=0)
    mark_style = {"drop request": ("v", "#000000"), "failed wakeup": ("x", "#e377c2"),
                  "forced switch": ("|", "#7f7f7f")}
    for kind, pts in marks.items():
        pts = [(t, tid) for t, tid in pts if tid in lane]
        if pts:
            m, c = mark_style[kind]
            ax.scatter([t / 1e6 for t, _ in pts], [lane[tid] - 0.5 for _, tid in pts],
                       marker=m, color=c, s=18, zorder=3, label=kind)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([text(name) for _, name in shown])
    ax.set_ylim(len(shown) - 0.4, -0.8)
    ax.set_xlim(t0_ms, min(t1_ms, max(end_ns / 1e6, t0_ms + 1e-3)))
    ax.set_xlabel("time since run start (ms)")
    handles = [matplotlib.patches.Patch(color=c, label=s) for s, c in STATES]
    handles += [h for h in ax.get_legend_handles_labels()[0]]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              frameon=False)
    note = "" if len(shown) == len(threads) else " (first %d of %d threads)" % (
        len(shown), len(threads))
    ax.set_title(text(title or os.path.basename(os.fsencode(trace))) + note, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


# ---- compare directories ----------------------------------------------------------------------


def inputs_of(compare_dir):
    """The files a tool reads from a compare directory (index.json, the traces and summaries it
    lists): what its outputs may not replace."""
    paths = [os.path.join(compare_dir, "index.json")]
    try:
        for c in read_index(compare_dir)["configs"]:
            for r in c.get("runs", []):
                paths += [os.path.join(compare_dir, r[k]) for k in ("trace", "summary")
                          if isinstance(r.get(k), str) and r[k]]
    except PlotError:
        pass
    return paths


def read_index(compare_dir):
    path = os.path.join(compare_dir, "index.json")
    try:  # bounded, never waiting on a FIFO planted at the name
        index = read_json(path, INDEX_MAX, "compare index")
    except InputError as e:
        raise PlotError("%s (is %s a `gilsim compare` directory?)" % (e, show(compare_dir)))
    if not isinstance(index, dict) or index.get("format") != "gilsim-compare":
        raise PlotError('%s: expected an object with "format": "gilsim-compare"' % path)
    # the shape the plots read, checked once here so that a damaged index gives a message
    ok = (isinstance(index.get("workload"), dict) and isinstance(index["workload"].get("name"), str)
          and isinstance(index.get("configs"), list) and isinstance(index.get("metrics", []), list)
          and isinstance(index.get("sets", {}), dict))
    for c in index.get("configs") or []:
        ok = ok and isinstance(c, dict) and isinstance(c.get("label"), str) and \
            isinstance(c.get("policy"), str) and isinstance(c.get("runs"), list) and \
            all(isinstance(r, dict) for r in c["runs"]) and \
            isinstance(c.get("metrics", {}), dict) and isinstance(c.get("set", {}), dict)
    if not ok:
        raise PlotError("%s: not the index of a gilsim compare directory (workload, configs "
                        "with label, policy and runs expected)" % path)
    return index


def listed_file(path):
    """path, a file a compare index lists, checked without opening it: a regular file (a FIFO
    planted at the name would hang the reader it is handed to); PlotError otherwise."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise PlotError("%s: %s" % (show(path), e.strerror))
    if not stat.S_ISREG(st.st_mode):
        raise PlotError("%s: not a regular file" % show(path))
    return path


def run_counts(index, run):
    """Whether a run counts, as in compare's aggregates: finished, and not disturbed by the
    host unless the compare kept disturbed runs (docs/metrics.md, "Disturbed runs")."""
    return run.get("status") == 0 and (not run.get("disturbed") or index.get("keep_disturbed"))


def config_traces(compare_dir, config, index=None):
    """The traces of a column's runs that count (index None: every finished run)."""
    return [listed_file(os.path.join(compare_dir, r["trace"])) for r in config["runs"]
            if r.get("trace") and (run_counts(index, r) if index else r.get("status") == 0)]


def cdf_figure(compare_dir, gilsim, metrics=None, title=None):
    """One panel per latency metric with samples, one line per compare column (repeats
    pooled), log x-axis."""
    index = read_index(compare_dir)
    metrics = metrics or DEFAULT_CDF_METRICS
    for m in metrics:
        if m not in CDF_METRICS:
            raise PlotError("unknown latency metric '%s' (expected one of %s)"
                            % (m, ", ".join(CDF_METRICS)))
    per_config = []
    for cfg in index["configs"]:
        if cfg.get("baseline_only"):
            continue
        pooled = {m: [] for m in metrics}
        for trace in config_traces(compare_dir, cfg, index):
            for m, v in samples_of(trace, gilsim, metrics).items():
                pooled[m].extend(v)
        per_config.append((cfg["label"], pooled))
    shown = [m for m in metrics if any(p[m] for _, p in per_config)]
    if not shown:
        raise PlotError("%s: no run has samples of %s" % (compare_dir, ", ".join(metrics)))
    colors = config_colors(per_config_policies(index))
    fig, axes = plt.subplots(1, len(shown), figsize=(4.6 * len(shown) + 2.4, 4), squeeze=False)
    for ax, m in zip(axes[0], shown):
        for (label, pooled), color in zip(per_config, colors):
            v = sorted(pooled[m])
            if not v:
                continue
            n = len(v)
            # log axis: a 0 ns sample is drawn at 1 ns
            x = [max(1, s) for s in v]
            y = [(i + 1) / n for i in range(n)]
            ax.step(x, y, where="post", color=color, label="%s (n=%d)" % (text(label), n))
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: fmt_ns(x)))
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("%s (log scale)" % CDF_METRICS[m])
        ax.set_ylabel("fraction of samples ≤ x")
        ax.set_title(CDF_METRICS[m], fontsize=10)
        ax.grid(alpha=0.3, which="both")
    # one legend for all panels, beside them: a column's line has the same colour everywhere
    handles, labels = {}, []
    for ax in axes[0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            key = lab.split(" (n=")[0]
            if key not in handles:
                handles[key] = h
                labels.append(key)
    fig.legend([handles[k] for k in labels], labels, loc="center left",
               bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.suptitle(text(title or "%s: latency CDFs" % index["workload"]["name"]), fontsize=11)
    fig.tight_layout()
    return fig


def cause_label(cell):
    """An object cell's column: "jobs: get (empty)", "mu: held by w.1", "mu: (free)"."""
    what = cell["name"] if cell["holder"] is None else "held by " + cell["name"]
    if cell["holder"] is None and cell["name"] != "(free)":
        what = "%s %s" % (cell["op"], cell["name"])
    return "%s: %s" % (cell["object"], what)


def config_attribution(compare_dir, config, index=None):
    """(waiters, holders, ns, wait): the wait attribution of a column's runs that count added
    up, from their summaries (docs/metrics.md): ns[(waiter, holder)] and wait[waiter] in ns,
    names as in the traces, the free GIL as "(free)"; waiters and holders in the traces' thread
    order. When the runs have objects, a row's waits on them join it (columns "jobs: get
    (empty)", ...) and wait is all of the row's waiting, the GIL's and the objects'."""
    ns, wait, order, causes = {}, {}, [], []
    for r in config["runs"]:
        counts = run_counts(index, r) if index else r.get("status") == 0
        if not counts or not r.get("summary"):
            continue
        try:  # one listed but missing or damaged: said in one line, never a traceback
            doc = read_json(os.path.join(compare_dir, r["summary"]), INDEX_MAX, "summary")
        except InputError as e:
            raise PlotError(str(e))
        if not isinstance(doc, dict):
            raise PlotError("%s: not a gilsim summary" % show(os.path.join(compare_dir,
                                                                          r["summary"])))
        if not order:
            order = [t["name"] for t in doc.get("threads", [])]
        for row in doc.get("wait_attribution", []):
            wait[row["name"]] = wait.get(row["name"], 0) + row.get("all_wait_ns", row["wait_ns"])
            cells = [(c["name"], c["ns"]) for c in row["by_holder"]]
            cells += [(cause_label(c), c["ns"]) for c in row.get("by_object", [])]
            for name, cell_ns in cells:
                key = (row["name"], name)
                ns[key] = ns.get(key, 0) + cell_ns
                if ":" in name and name not in causes:
                    causes.append(name)
    waiters = [t for t in order if wait.get(t)]
    holders = [t for t in order if any(h == t for _, h in ns)]
    if any(h == "(free)" for _, h in ns):
        holders.append("(free)")
    return waiters, holders + sorted(causes), ns, wait


def attribution_figure(compare_dir, max_threads=16, title=None):
    """One heatmap per compare column: rows the waiting threads, columns the threads holding
    the GIL meanwhile (and the free GIL), colour the share of the row's wait; repeats added
    up. Columns with many threads show the max_threads that waited longest."""
    index = read_index(compare_dir)
    panels = []
    for cfg in index["configs"]:
        if cfg.get("baseline_only"):
            continue
        waiters, holders, ns, wait = config_attribution(compare_dir, cfg, index)
        if not waiters:
            continue
        keep = set(sorted(waiters, key=lambda w: -wait[w])[:max_threads])
        waiters = [w for w in waiters if w in keep]
        load = {h: sum(ns.get((w, h), 0) for w in waiters) for h in holders}
        keep = set(sorted((h for h in holders if h != "(free)"), key=lambda h: -load[h])
                   [:max_threads])
        holders = [h for h in holders if h in keep or h == "(free)"]
        panels.append((cfg["label"], waiters, holders, ns, wait))
    if not panels:
        raise PlotError("%s: no thread waited for the GIL in any run" % compare_dir)
    per_row = min(4, len(panels))
    nrows = (len(panels) + per_row - 1) // per_row
    side = max(len(p[1]) for p in panels), max(len(p[2]) for p in panels)
    cell = 0.55 if side[1] <= 8 else 0.25
    fig, axes = plt.subplots(nrows, per_row, squeeze=False, constrained_layout=True,
                             figsize=(per_row * (1.8 + cell * side[1]) + 1,
                                      nrows * (1.6 + cell * side[0])))
    image = None
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for ax, (label, waiters, holders, ns, wait) in zip(axes.flat, panels):
        share = [[ns.get((w, h), 0) / wait[w] for h in holders] for w in waiters]
        image = ax.imshow(share, cmap="Reds", vmin=0, vmax=1, aspect="auto")
        small = len(waiters) <= 8 and len(holders) <= 9
        ax.set_xticks(range(len(holders)))
        ax.set_yticks(range(len(waiters)))
        ax.set_xticklabels(holders if small or len(holders) <= 30 else [], rotation=45,
                           ha="right", fontsize=8)
        ax.set_yticklabels(waiters if small or len(waiters) <= 30 else [], fontsize=8)
        ax.set_title(label, fontsize=9)
        if small:
            for i, row in enumerate(share):
                for j, v in enumerate(row):
                    if v > 0:
                        ax.text(j, i, "%.0f%%" % (100 * v) if v >= 0.01 else "<1%",
                                ha="center", va="center", fontsize=7,
                                color="white" if v > 0.6 else "black")
    fig.supxlabel("holding the GIL meanwhile (or an object: what the thread waited on)",
                  fontsize=9)
    fig.supylabel("waiting", fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="share of the waiter's wait")
    if title:
        fig.suptitle(title)
    return fig


# The key metrics the report draws with error bars, when a column has them.
INTERVAL_METRICS = ["io_per_s", "convoy_factor", "io_response_p99_ns", "gil_wait_p99_ns",
                    "request_latency_p99_ns", "ticks_per_s"]


def intervals_figure(compare_dir, metrics=None, title=None):
    """One panel per key metric, one row per column: its median over the runs that count and,
    as an error bar, the median's 95% confidence interval that `gilsim compare` computed
    (min..max below 6 runs, drawn dashed); a * marks a column that differs from its reference
    column (p < 0.05)."""
    index = read_index(compare_dir)
    units = {m["key"]: m for m in index.get("metrics", [])}
    configs = [c for c in index["configs"] if not c.get("baseline_only")]
    shown = [k for k in (metrics or INTERVAL_METRICS) if k in units and any(
        (c.get("metrics", {}).get(k) or {}).get("median") not in (None, 0) for c in configs)]
    if not shown or not configs:
        raise PlotError("%s: no column has a value of %s" % (compare_dir, ", ".join(
            metrics or INTERVAL_METRICS)))
    colors = config_colors(per_config_policies(index))
    fig, axes = plt.subplots(1, len(shown), figsize=(3.3 * len(shown) + 2.2,
                                                      0.32 * len(configs) + 1.6), squeeze=False)
    for ax, k in zip(axes[0], shown):
        for row, (c, color) in enumerate(zip(configs, colors)):
            st = c.get("metrics", {}).get(k) or {}
            if st.get("median") is None:
                continue
            lo, hi, level = interval(st)
            bar = ax.errorbar([st["median"]], [row], xerr=[[st["median"] - lo], [hi - st["median"]]],
                              fmt="o", color=color, capsize=3, markersize=4)
            if level is not None and level < 0.95:
                bar[-1][0].set_linestyle("--")
            if st.get("p") is not None and st["p"] < 0.05:
                ax.annotate("*", (hi, row), xytext=(3, -4), textcoords="offset points")
        meds = [(c.get("metrics", {}).get(k) or {}).get("median") for c in configs]
        meds = [m for m in meds if m is not None]
        if min(meds) > 0 and max(meds) / min(meds) >= 100:  # e.g. new's convoy beside prio's
            ax.set_xscale("log")
        ax.set_yticks(range(len(configs)))
        ax.set_yticklabels([text(c["label"]) if ax is axes[0][0] else "" for c in configs],
                           fontsize=8)
        ax.invert_yaxis()
        ax.set_title(text(units[k]["label"]), fontsize=9)
        if units[k]["unit"] == "ns":
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: fmt_ns(x)))
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(alpha=0.3, axis="x")
    fig.suptitle(text(title or "%s: median and its 95%% confidence interval over the runs"
                      % index["workload"]["name"]), fontsize=10)
    fig.tight_layout()
    return fig


def per_config_policies(index):
    return [c["policy"] for c in index["configs"] if not c.get("baseline_only")]


# One hue per policy, a shade per column of that policy (e.g. per swept interval), so that
# lines of one policy read as a family and no two columns share a colour.
POLICY_MAPS = ["Blues", "Oranges", "Greens", "Reds", "Purples", "Greys", "YlOrBr", "PuRd",
               "BuGn", "GnBu"]


def config_colors(policies):
    order = list(dict.fromkeys(policies))
    counts = {p: policies.count(p) for p in order}
    seen = {p: 0 for p in order}
    colors = []
    for p in policies:
        cmap = matplotlib.colormaps[POLICY_MAPS[order.index(p) % len(POLICY_MAPS)]]
        k, n = seen[p], counts[p]
        seen[p] += 1
        colors.append(cmap(0.7 if n == 1 else 0.45 + 0.5 * k / (n - 1)))
    return colors


def metric_label(index, key):
    for m in index.get("metrics", []):
        if m["key"] == key:
            unit = m.get("unit") or ""
            return m["label"] + (" (%s)" % unit if unit and unit != "1" else "")
    return key


def sweep_params(index):
    """The variables and parameters a compare directory sweeps (more than one value), the
    workload's variables first."""
    dims = list(index.get("vars", {}).items()) + list(index.get("sets", {}).items())
    return [p for p, vals in dims if len(vals) > 1]


def cell_dims(cfg):
    """A cell's coordinates: policy, engine, its parameters and variables."""
    dims = {"policy": cfg["policy"], "engine": cfg.get("engine", "real")}
    dims.update(cfg.get("set", {}))
    dims.update(cfg.get("vars", {}))
    return dims


def interval(st):
    """(low, high, level) of a metric's aggregate: the median's confidence interval that
    `gilsim compare` computed (docs/metrics.md, "Intervals and significance"), or min..max
    from an index.json written before intervals (level None)."""
    if st.get("ci_low") is not None:
        return st["ci_low"], st["ci_high"], st.get("ci_level")
    return st.get("min"), st.get("max"), None


def _sweep_lines(index, param, metric, by, where):
    """{line label: [(x, median, low, high, level)]} (low..high: the median's interval) and
    {label: level} for the cells without param."""
    others = [d for d in sweep_params(index) + (["engine"] if len(index.get("engines", [])) > 1
                                                else [])
              if d not in (param, by) and d not in where]
    lines, levels = {}, {}
    for cfg in index["configs"]:
        if cfg.get("baseline_only"):
            continue
        dims = cell_dims(cfg)
        if any(str(dims.get(k)) != str(v) for k, v in where.items()):
            continue
        st = cfg.get("metrics", {}).get(metric)
        if not st or st.get("median") is None:
            continue
        label = str(dims.get(by, "?")) + "".join(
            ", %s=%s" % (d, dims[d]) for d in others if d in dims)
        if param in dims:
            lines.setdefault(label, []).append((dims[param], st["median"]) + interval(st))
        else:
            levels.setdefault(label, st["median"])
    return lines, levels


def sweep_figure(compare_dir, param, metric, title=None, by="policy", where=None):
    """metric (a key of index.json's metrics) against param (a swept variable or parameter),
    one line per value of `by` (default: per policy; other swept dimensions make lines of their
    own unless fixed by where, {name: value}): the median over repeats, a band over its 95%
    confidence interval (min..max where fewer than 6 runs cannot give 95%: the title says so).
    A cell without the parameter (a policy that lacks it) is a dashed level."""
    index = read_index(compare_dir)
    where = where or {}
    keys = [m["key"] for m in index.get("metrics", [])]
    if metric not in keys:
        raise PlotError("%s: unknown metric '%s' (expected one of %s)"
                        % (compare_dir, metric, ", ".join(keys)))
    lines, levels = _sweep_lines(index, param, metric, by, where)
    if not lines:
        raise PlotError("%s: no cell has '%s' with %s (swept: %s)"
                        % (compare_dir, param, metric, ", ".join(sweep_params(index)) or "none"))
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    xs_all = []
    for label, pts in lines.items():
        pts.sort(key=lambda p: p[0])
        xs = [p[0] for p in pts]
        xs_all += xs
        line, = ax.plot(xs, [p[1] for p in pts], marker="o", markersize=3.5, label=text(label))
        ax.fill_between(xs, [p[2] for p in pts], [p[3] for p in pts], color=line.get_color(),
                        alpha=0.18, linewidth=0)
    styles = ["--", ":", "-.", (0, (5, 1, 1, 1))]
    for k, (label, level) in enumerate(levels.items()):
        ax.axhline(level, linestyle=styles[k % len(styles)], linewidth=1.2, color="#555555",
                   label="%s (has no %s)" % (text(label), param))
    if min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 10 and len(set(xs_all)) > 2 and \
            not all(float(x).is_integer() and x <= 64 for x in xs_all):
        ax.set_xscale("log")
    ys = [p[1] for pts in lines.values() for p in pts] + list(levels.values())
    if min(ys) > 0 and max(ys) / min(ys) >= 100:  # e.g. old's convoy beside prio's
        ax.set_yscale("log")
    ax.set_xlabel(param)
    ax.set_ylabel(metric_label(index, metric))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2 if len(lines) + len(levels) > 8 else 1)
    fixed = "".join(", %s=%s" % kv for kv in where.items())
    levels_of = [p[4] for pts in lines.values() for p in pts]
    band = ("min..max" if all(lv is None for lv in levels_of) else
            "95% CI of the median" if all(lv is not None and lv >= 0.95 for lv in levels_of)
            else "95% CI, min..max below 6 runs")
    ax.set_title(text(title or "%s: %s vs %s%s (median, band: %s)"
                      % (index["workload"]["name"], metric, param, fixed, band)), fontsize=10)
    fig.tight_layout()
    return fig
