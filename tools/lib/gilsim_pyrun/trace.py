"""The trace: the exact events and the inferred lost GILs merged into one stream, with the run's
description, written as gilsim-trace version 1 (docs/trace-format.md)."""
import collections
import json
import os
import platform
import sys

from gilsim_output import output, path_text

from .base import ARG_KEY, E_RELEASE, EV, HASHLIB_GIL_MINSIZE, PYRUN_VERSION
from .ticks import BODY_STMT
from .infer import (Edge, evidence_times, infer_lost_gil, resolve_ends, separate_holds,
                    thread_ns_per_tick)

RANK = {"release": 0, "acquire": 2}


def build_events(logs, lost):
    """Per-thread event lists (exact events and the inferred lost GILs, merged in order) and
    the sorted stream. Items are lists [t, phase, seq, ev, fields, inferred, tid]."""
    per = []
    for log, mine in zip(logs, lost):
        items = []
        for seq, (t, code, arg, inferred) in enumerate(log.ev):
            fields = None
            if code == E_RELEASE:
                fields = (("reason", arg[0]), ("ticks", arg[1]))
            elif code in ARG_KEY:
                fields = ((ARG_KEY[code], arg),)
            items.append([t, 1, seq, EV[code], fields, inferred, log.tid])
        for L in mine:
            items.append([L.release, 2, 0, "release", (("reason", L.reason), ("ticks", L.ticks)),
                          True, log.tid])
            items.append([L.release, 2, 1, "request", None, True, log.tid])
            items.append([L.acquire, 0, 0, "acquire", None, True, log.tid])
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        per.append(items)
    return per


def holding_intervals(per, lost):
    """(acquire_t, release_t, tid, acq_edge, rel_edge) for separate_holds."""
    out = []
    for items, mine in zip(per, lost):
        bounds = {}
        for L in mine:
            bounds[("release", L.release)] = (L.rel_lo, L.rel_hi)
            bounds[("acquire", L.acquire)] = (L.acq_lo, L.acq_hi)
        acq = None
        for it in items:
            if it[3] == "acquire":
                acq = it
            elif it[3] == "release" and acq is not None:
                ae = re = None
                if acq[5] and ("acquire", acq[0]) in bounds:
                    ae = Edge(acq, *bounds[("acquire", acq[0])])
                if it[5] and ("release", it[0]) in bounds:
                    re = Edge(it, *bounds[("release", it[0])])
                out.append((acq[0], it[0], it[6], ae, re))
                acq = None
    return out


def finish_events(per, t0):
    """Moves an inferred request along with its release, keeps each thread's order, and
    returns the merged stream sorted by (t, release first, acquire last)."""
    stream = []
    for items in per:
        last_release = None
        prev_t, prev_rank = None, 0
        for idx, it in enumerate(items):
            if it[3] == "release" and it[5]:
                last_release = it
            elif it[3] == "request" and it[5] and it[1] == 2 and last_release is not None:
                it[0] = last_release[0]
            rank = RANK.get(it[3], 1)
            if prev_t is not None and (it[0] < prev_t or (it[0] == prev_t and rank < prev_rank)):
                # never before the thread's previous event, not even by the tie rule
                it[0] = prev_t if rank >= prev_rank else prev_t + 1
            prev_t, prev_rank = it[0], rank
            stream.append((it[0] - t0, rank, it[6], idx, it))
    stream.sort(key=lambda x: x[:4])
    return stream


def host_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    u = os.uname()
    return {"cpus": os.cpu_count() or 1, "cpu_model": model,
            "kernel": "%s %s %s" % (u.sysname, u.release, u.machine), "hostname": u.nodename}


def interpreter_info():
    impl = sys.implementation
    info = {"implementation": impl.name, "version": platform.python_version(),
            "executable": sys.executable, "build": " ".join(platform.python_build())}
    gil = getattr(sys, "_is_gil_enabled", None)
    info["gil_enabled"] = gil() if gil else True
    return info


def policy_name():
    return "%s-%s" % ("cpython" if sys.implementation.name == "cpython"
                      else sys.implementation.name, platform.python_version())


def infer_events(runner, threshold_ns):
    """Infers the lost GILs and the ends of calls made without the GIL, and builds the event
    stream of the run. Returns (stream, stats)."""
    logs = runner.logs
    threads = [{"prog": log.prog, "released": log.released, "syscall": log.syscall,
                "nocheck": log.nocheck} for log in logs]
    npt = [thread_ns_per_tick(log.prog, runner.cal.ns_per_tick) for log in logs]
    merged = evidence_times(threads, runner.main_stamps)
    lost, stats = infer_lost_gil(threads, threshold_ns, ns_per_tick=npt, merged=merged)
    if not interpreter_info()["gil_enabled"]:
        # A free-threaded build: threads run Python at the same time, so another thread's
        # progress proves nothing. Holdings overlap, as under gilsim's `none`.
        lost = [[] for _ in logs]
        stats["lost_gil"] = 0
    stats["ends_moved"] = resolve_ends(logs, merged)
    per = build_events(logs, lost)
    stats["overlaps_fixed"] = separate_holds(holding_intervals(per, lost))
    stats["stamps"] = sum(len(log.prog) // 2 for log in logs)
    return finish_events(per, runner.t0), stats


def calibration_json(wl, cal):
    """run.calibration: what the tick loop, the native and the hold calls measured."""
    out = {
        "tick_ns_target": wl["tick_ns"],
        "ns_per_tick": round(cal.ns_per_tick, 3),
        "iters_per_tick": max(1, cal.body_statements * max(1, cal.body_reps)),
        "tick_loop": "for _ in range(n): %s (x %d%s)" % (
            BODY_STMT, cal.body_statements,
            ", in an inner loop of %d" % cal.body_reps if cal.body_reps else ""),
        "stamp_every_ticks": cal.chunk_ticks,
        "stamp_every_ns": cal.stamp_every_ns(),
    }
    if cal.ns_per_byte:
        out["native"] = {"call": "hashlib.sha256(memoryview)", "min_bytes": HASHLIB_GIL_MINSIZE,
                         "ns_per_byte": round(cal.ns_per_byte, 4)}
    if cal.ns_per_item:
        out["hold"] = {"call": "itertools.islice(itertools.repeat(None, n), n, n) "
                               "consumed by list()",
                       "ns_per_item": round(cal.ns_per_item, 4)}
    return out


def run_json(runner, threshold_ns, stats):
    """The trace's "run" member."""
    wl = runner.wl
    return collections.OrderedDict([
        ("gilsim_version", "pyrun-%s" % PYRUN_VERSION),
        ("writer", "tools/pyrun"),
        ("workload", {"name": wl["name"], "path": path_text(wl["path"]), "sha256": wl["sha256"],
                      "description": wl["description"]}),
        ("policy", policy_name()),
        ("params", {"interval_us": runner.params_interval_us}),
    ] + ([("vars", wl["vars"])] if wl.get("vars") else []) + [
        ("seed", runner.seed),
        ("duration_ms", runner.duration_ns / 1e6),
        ("start_utc", runner.start_utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        ("stop_ns", runner.stop_ns),
        ("elapsed_ns", runner.elapsed_ns),
        ("stop_reason", runner.stop_reason),
        ("host", host_info()),
        ("interpreter", interpreter_info()),
        ("io", {"request": runner.io_request, "answer": "socketpair recv",
                "peers": len(runner.peers)}),
        ("calibration", calibration_json(wl, runner.cal)),
        ("inference", {
            "threshold_ns": threshold_ns,
            "resolution_ns": runner.cal.stamp_every_ns(),
            "progress_stamps": stats["stamps"],
            "gaps_over_threshold": stats["gaps_examined"],
            "lost_gil": stats["lost_gil"],
            "preempted_gaps": stats["preempted"],
            "preempted_ns": stats["preempted_ns"],
            "overlaps_fixed": stats["overlaps_fixed"],
            "blocking_ends_at_acquire": stats["ends_moved"],
        }),
    ])


def event_json(t, tid, item):
    """One event of the stream as its line of the trace."""
    parts = ['{"t":%d,"tid":%d,"ev":"%s"' % (t, tid, item[3])]
    if item[4]:
        for k, v in item[4]:
            parts.append(',"%s":%s' % (k, json.dumps(v)))
    if item[5]:
        parts.append(',"inferred":true')
    parts.append("}")
    return "".join(parts)


def write_trace(path, runner, threshold_ns, inputs=()):
    """Infers the lost GILs, builds the event stream and writes the trace under gilsim's output
    rules (tools/lib/gilsim_output.py: a temporary file, then a rename). Returns the run's
    statistics."""
    stream, stats = infer_events(runner, threshold_ns)
    run = run_json(runner, threshold_ns, stats)
    threads = [{"tid": log.tid, "name": log.name, "group": log.group, "events_dropped": 0}
               for log in runner.logs]

    def write(f):
        f.write('{"format":"gilsim-trace","version":1,\n"run":')
        f.write(json.dumps(run, separators=(",", ":")))
        f.write(',\n"threads":[')
        f.write(",\n".join(json.dumps(t, separators=(",", ":")) for t in threads))
        f.write('],\n"events":[\n')
        f.write(",\n".join(event_json(t, tid, it) for t, _, tid, _, it in stream))
        f.write('\n],\n"complete":true,"events_dropped":0}\n')

    with output(path, inputs, stdout_ok=True) as f:
        write(f)
    stats["events"] = len(stream)
    return stats
