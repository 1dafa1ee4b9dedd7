"""The command line of tools/pyrun: options, the output's checks, the run, the summary line."""
import datetime
import math
import os
import platform
import signal
import sys

from gilsim_output import OutputError, WriteError, escape, exit_status, preflight

from .base import NS_PER_US, InputError, llround
from .peer import IO_REQUESTS, peer_main
from .run import Runner
from .trace import policy_name, write_trace
from .workload import load_workload, parse_var_arg

USAGE = """\
usage: pyrun WORKLOAD.json [options]

Runs a gilsim workload on real interpreter threads (this Python: %s %s) and writes a
trace in gilsim's format (docs/trace-format.md), with run.policy = %s and the
interpreter's switch interval as its parameter interval_us. docs/pyrun.md says how every
op is run and which events are inferred.

  --set interval_us=N   the switch interval (sys.setswitchinterval), us (default: the
                        interpreter's, %d)
  --var NAME=VALUE      set a workload variable (repeatable; docs/workload-format.md)
  -d, --duration MS     run length (default: the workload's duration_ms)
  --seed N              seed of the random draws, as gilsim run (default 1)
  -o, --output PATH     the trace (default results/<workload>-cpython-<UTC stamp>.json)
  --stamp-us US         progress stamp period of interpreter work (default 5)
  --gap-us US           a gap longer than this is examined as a lost GIL (default 10)
  --io-request HOW      how an io op asks its peer: signal (default: shared memory and
                        SIGUSR1, which keep the GIL, so the I/O releases it once, in recv,
                        as gilsim's io does) or send (every io as with "send": true: an
                        echo client's send + recv, two releases)
  -q, --quiet           no summary on stderr

Run it with the interpreter to measure: /usr/bin/python3 tools/pyrun ..., python3.12
tools/pyrun ... Exit status: 0 ok, 1 runtime failure, 2 bad input.
"""


def _usage():
    return USAGE % (sys.implementation.name, platform.python_version(), policy_name(),
                    llround(sys.getswitchinterval() * 1e6))


def parse_args(argv):
    opts = {"set": {}, "vars": [], "duration": None, "seed": 1, "output": None, "quiet": False,
            "stamp_us": 5.0, "gap_us": 10.0, "workload": None, "io_request": "signal"}
    i = 0

    def value(name):
        nonlocal i
        if "=" in argv[i] and argv[i].startswith("--"):
            return argv[i].split("=", 1)[1]
        i += 1
        if i >= len(argv):
            raise InputError("option '%s' needs a value" % name)
        return argv[i]

    def number(text, name, lo, hi, integer=False):
        try:
            v = int(text) if integer else float(text)
        except ValueError:
            v = None
        if v is None or not (lo <= v <= hi) or (not integer and not math.isfinite(v)):
            raise InputError("%s: expected %s in [%g, %g], got '%s'"
                             % (name, "an integer" if integer else "a number", lo, hi, text))
        return v

    while i < len(argv):
        a = argv[i]
        name = a.split("=", 1)[0] if a.startswith("--") else a
        if name in ("-h", "--help"):
            opts["help"] = True
        elif name == "--set":
            v = value(name)
            k, eq, val = v.partition("=")
            if not eq:
                raise InputError("--set %s: expected NAME=VALUE" % v)
            if k != "interval_us":
                raise InputError("--set %s: cpython has no parameter '%s' (it has: interval_us)"
                                 % (v, k))
            opts["set"][k] = number(val, "--set interval_us", 1, 1e9)
        elif name == "--var":
            v = value(name)
            parse_var_arg(v)
            opts["vars"].append(v)
        elif name in ("-d", "--duration"):
            opts["duration"] = number(value(name), "--duration", 1, 86400000, True)
        elif name == "--seed":
            opts["seed"] = number(value(name), "--seed", 0, 2**64 - 1, True)
        elif name in ("-o", "--output"):
            opts["output"] = value(name)
        elif name == "--stamp-us":
            opts["stamp_us"] = number(value(name), "--stamp-us", 0.1, 100000)
        elif name == "--gap-us":
            opts["gap_us"] = number(value(name), "--gap-us", 0.1, 1e6)
        elif name == "--io-request":
            v = value(name)
            if v not in IO_REQUESTS:
                raise InputError("--io-request: expected signal or send, got '%s'" % v)
            opts["io_request"] = v
        elif name in ("-q", "--quiet"):
            opts["quiet"] = True
        elif a.startswith("-") and a != "-":
            raise InputError("unknown option '%s'" % a)
        elif opts["workload"] is None:
            opts["workload"] = a
        else:
            raise InputError("expected one workload file, got more")
        i += 1
    if not opts.get("help") and opts["workload"] is None:
        raise InputError("expected one workload file")
    return opts


def default_output(wl_name):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%f")[:-3]
    os.makedirs("results", exist_ok=True)
    return os.path.join("results", "%s-cpython-%sZ.json" % (wl_name, stamp))


def main(argv):
    if sys.version_info < (3, 7):
        sys.stderr.write("pyrun: needs Python 3.7 or later (time.monotonic_ns); this is %s\n"
                         % platform.python_version())
        return 2
    if argv and argv[0] == "--peer" and len(argv) in (2, 3, 4):
        mixed = argv[-1] == "mixed"
        return peer_main(*[int(a) for a in argv[1:len(argv) - mixed]], mixed=mixed)
    try:
        opts = parse_args(argv)
        if opts.get("help"):
            sys.stdout.write(_usage())
            return 0
        wl = load_workload(opts["workload"], opts["vars"])
        out = opts["output"] or default_output(wl["name"])
        # The output is checked before anything runs, like gilsim run does.
        preflight(out, [opts["workload"]], stdout_ok=True)
    except (InputError, OutputError) as e:
        sys.stderr.write("pyrun: %s\n" % escape(str(e)))
        if "expected one workload" in str(e) or "option" in str(e):
            sys.stderr.write("usage: pyrun WORKLOAD.json [options]; pyrun --help says more\n")
        return 2
    duration_ns = opts["duration"] * 10**6 if opts["duration"] else wl["duration_ns"]
    runner = Runner(wl, opts["seed"], opts["set"].get("interval_us"), duration_ns,
                    opts["stamp_us"] * NS_PER_US, opts["io_request"])
    stopped = [signal.SIGINT]

    def stop(signo, frame):  # SIGTERM and SIGHUP stop a run as SIGINT does (gilsim run's way)
        stopped[0] = signo
        raise KeyboardInterrupt

    for signo in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signo, stop)
    try:
        runner.run()
        stats = write_trace(out, runner, int(opts["gap_us"] * NS_PER_US), [opts["workload"]])
    except (OSError, RuntimeError, OutputError, WriteError) as e:
        sys.stderr.write("pyrun: %s\n" % escape(str(e)))
        return exit_status(e) if isinstance(e, (OutputError, WriteError)) else 1
    except KeyboardInterrupt:
        sys.stderr.write("pyrun: interrupted: nothing written\n")
        return 128 + stopped[0]
    if not opts["quiet"]:
        sys.stderr.write(
            "pyrun: %s under %s, interval %d us, %d threads, %.0f ms; tick %.1f ns (target %d), "
            "stamps every %d ticks; %d lost GILs inferred, %d gaps without another thread "
            "(preemption); %d events -> %s\n"
            % (wl["name"], policy_name(), runner.params_interval_us, len(runner.logs),
               runner.elapsed_ns / 1e6, runner.cal.ns_per_tick, wl["tick_ns"],
               runner.cal.chunk_ticks, stats["lost_gil"], stats["preempted"], stats["events"], out))
    return 0
