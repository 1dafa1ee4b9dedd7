#!/usr/bin/python3
"""tests/test_outputs.py - the output rules of docs/reliability.md on every writing tool in
Python (and gilsim-bench), the same table of hostile situations as tests/test_outputs.c: output
= input, a symlink at the output and at temporary names, a directory, a FIFO, /dev/null, a
read-only directory, a full disk (a small tmpfs where the test may mount one, else skipped with
the reason), paths at the length limits, a non-UTF-8 path, the umask's mode; and Ctrl-C
without a traceback. Adding a writing tool is one line in WRITERS.

  test_outputs.py GILSIM [GILSIM-BENCH]   (GILSIM-BENCH "-": bench skipped, sanitizer builds)
"""
import concurrent.futures
import ctypes
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(SRC, "tools")
PY = "/usr/bin/python3"
failures = []
skipped = []

# name: (command with {IN} and {OUT}, the file written is OUT + suffix, the input kind
# (None: reads no file named on the command line), "-o -" allowed)
WRITERS = [
    ("plot-timeline", [PY, "tools/plot-timeline", "{IN}", "-o", "{OUT}", "--gilsim", "{G}"],
     ".png", "trace", False),
    ("plot-cdf", [PY, "tools/plot-cdf", "{IN}", "-o", "{OUT}", "--gilsim", "{G}"],
     ".png", "dir", False),
    ("plot-sweep", [PY, "tools/plot-sweep", "{IN}", "-o", "{OUT}"], ".png", "dir", False),
    ("report", ["{G}", "report", "{IN}", "-o", "{OUT}"], "", "dir", True),
    ("pyrun", [PY, "tools/pyrun", "{IN}", "-d", "50", "-q", "-o", "{OUT}"], "", "workload", True),
    ("validate", [PY, "tools/validate", "--smoke", "--quiet", "--gilsim", "{G}", "-o", "{OUT}"],
     "", None, False),
    ("bench", ["{B}", "--smoke", "-o", "{OUT}"], "", None, False),
]

VICTIM = "the victim: must never change\n"


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


def wait_until_interruptible(pid, timeout=60):
    """Waits until the tool owns Ctrl-C: SIGINT blocked (`gilsim report` until its Python tool
    has a handler) or SIGHUP caught (exit_on_interrupt installs it after SIGINT's and SIGTERM's;
    pyrun before its run).
    Before that, Python's start-up default (KeyboardInterrupt, death by SIGINT) is not the
    tool's; a loaded machine can take over a second to get there (CI's TSan run did)."""
    def mask(status, field):
        line = [x for x in status.splitlines() if x.startswith(field + ":")]
        return int(line[0].split()[1], 16) if line else 0

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open("/proc/%d/status" % pid) as f:
                status = f.read()
        except OSError:
            return  # gone: its exit status tells
        if mask(status, "SigBlk") & (1 << (signal.SIGINT - 1)) or \
                mask(status, "SigCgt") & (1 << (signal.SIGHUP - 1)):
            return
        time.sleep(0.005)


class Env:
    def __init__(self, gilsim, bench, tmp):
        self.gilsim, self.bench, self.tmp = gilsim, bench, tmp
        self.victim = os.path.join(tmp, "victim")
        self.inputs = {}

    def argv(self, w, inp, out):
        subst = {"{IN}": inp, "{OUT}": out, "{G}": self.gilsim, "{B}": self.bench}
        return [subst.get(a, a) for a in w[1]]

    def run(self, w, inp, out, expect, what, signal_after=None, signo=signal.SIGINT):
        """Runs writer w; checks the exit status; returns the process."""
        args = self.argv(w, inp, out)
        proc = subprocess.Popen(args, cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, GILSIM=self.gilsim))
        if signal_after is not None:
            wait_until_interruptible(proc.pid)
            time.sleep(signal_after)
            proc.send_signal(signo)
        try:
            out_b, err_b = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            out_b, err_b = proc.communicate()
            err_b += b"\n(killed: no end after 300 s)"
        proc.stdout_b, proc.stderr_b = out_b, err_b
        check(proc.returncode == expect, "%s, %s: exit %d, expected %d\n%s"
              % (w[0], what, proc.returncode, expect, err_b.decode("utf-8", "replace")))
        return proc

    def fresh(self, name):
        d = os.path.join(self.tmp, name)
        subprocess.run(["rm", "-rf", d], check=True)
        os.mkdir(d)
        with open(self.victim, "w") as f:
            f.write(VICTIM)
        return d

    def victim_intact(self, w, what):
        with open(self.victim) as f:
            check(f.read() == VICTIM, "%s, %s: the symlink's target changed" % (w[0], what))


def written_ok(path):
    return os.path.isfile(path) and os.path.getsize(path) > 0


def copy_input(env, w, d, name):
    """The writer's input, copied into d under name (a directory: copied whole)."""
    src = env.inputs[w[3]]
    dst = os.path.join(d, name)
    subprocess.run(["cp", "-r", src, dst], check=True)
    return dst


def situations(env, w):
    name, suffix, kind = w[0], w[2], w[3]
    inp = env.inputs.get(kind, "")

    if kind in ("trace", "workload"):  # output = input (for plots: a trace named t.png)
        d = env.fresh("same")
        src = copy_input(env, w, d, "t" + (suffix or ".json"))
        before = open(src, "rb").read()
        env.run(w, src, src[:len(src) - len(suffix)] if suffix else src, 2, "output = input")
        check(open(src, "rb").read() == before, "%s: output = input: the input changed" % name)
    if kind == "dir" and not suffix:  # the report over its compare directory's index
        d = env.fresh("same")
        src = copy_input(env, w, d, "cmp")
        index = os.path.join(src, "index.json")
        before = open(index, "rb").read()
        env.run(w, src, index, 2, "output = the index")
        check(open(index, "rb").read() == before, "%s: the index changed" % name)

    d = env.fresh("symlink")  # a symlink at the output: replaced, its target untouched
    out = os.path.join(d, "out")
    os.symlink(env.victim, out + suffix)
    env.run(w, inp, out, 0, "symlink at the output")
    env.victim_intact(w, "symlink at the output")
    check(os.path.isfile(out + suffix) and not os.path.islink(out + suffix),
          "%s: the symlink was not replaced by the output" % name)

    d = env.fresh("tmpnames")  # symlinks at the fixed names older versions used
    out = os.path.join(d, "out")
    for t in (".tmp", ".tmp.0", ".tmp.XXXXXX"):
        os.symlink(env.victim, out + suffix + t)
    env.run(w, inp, out, 0, "symlinks at temporary names")
    env.victim_intact(w, "symlinks at temporary names")
    check(written_ok(out + suffix), "%s: no output beside the planted links" % name)

    d = env.fresh("kind")  # a directory at the output
    out = os.path.join(d, "out")
    os.mkdir(out + suffix)
    env.run(w, inp, out, 2, "a directory at the output")
    check(os.path.isdir(out + suffix), "%s: the directory was replaced" % name)

    d = env.fresh("fifo")  # a FIFO: written in place while read
    out = os.path.join(d, "out")
    os.mkfifo(out + suffix)
    got = os.path.join(d, "got")
    reader = subprocess.Popen(["sh", "-c", "exec timeout 300 cat '%s' > '%s'" % (out + suffix, got)])
    env.run(w, inp, out, 0, "a FIFO at the output")
    reader.wait()
    check(stat.S_ISFIFO(os.lstat(out + suffix).st_mode), "%s: the FIFO was replaced" % name)
    check(written_ok(got), "%s: nothing came through the FIFO" % name)

    if os.geteuid() == 0:  # as root, a node of our own: a broken writer would replace /dev/null
        null = os.path.join(env.fresh("null"), "null")
        os.mknod(null + suffix, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        env.run(w, inp, null, 0, "/dev/null")
        check(stat.S_ISCHR(os.lstat(null + suffix).st_mode), "%s: /dev/null was replaced" % name)
    elif not suffix:
        env.run(w, inp, "/dev/null", 0, "/dev/null")

    if w[4]:  # standard output
        p = env.run(w, inp, "-", 0, "-o -")
        check(len(p.stdout_b) > 0, "%s: -o -: nothing on stdout" % name)

    readonly(env, w, inp)
    full_disk(env, w, inp)

    d = env.fresh("limits")  # a name of NAME_MAX bytes works; a path at PATH_MAX is refused
    out = os.path.join(d, "n" * (255 - len(suffix)))
    env.run(w, inp, out, 0, "a name of NAME_MAX bytes")
    check(written_ok(out + suffix), "%s: no output at NAME_MAX" % name)
    deep = d
    while len(deep) + 201 < 4096 - 30:
        deep = os.path.join(deep, "d" * 200)
        os.mkdir(deep)
    out = os.path.join(deep, "n" * (4095 - len(deep) - 1 - len(suffix)))
    env.run(w, inp, out, 2, "a path at PATH_MAX")
    check(not os.path.exists(out + suffix), "%s: written at PATH_MAX" % name)

    d = env.fresh("utf8")  # paths that are not UTF-8
    src = copy_input(env, w, d, os.fsdecode(b"in-\xff\xfe" + (suffix or ".json").encode())) \
        if kind else inp
    out = os.path.join(d, os.fsdecode(b"out-\xff\xc3"))
    env.run(w, src, out, 0, "non-UTF-8 paths")
    check(written_ok(out + suffix), "%s: no output at a non-UTF-8 path" % name)
    if not suffix and name != "validate" and os.path.exists(out):
        try:
            with open(out + suffix, "rb") as f:
                data = f.read()
            data.decode("utf-8")
            if name != "report":
                json.loads(data)
        except ValueError as e:
            check(False, "%s: non-UTF-8 paths: the output is not valid UTF-8 JSON: %s" % (name, e))

    old = os.umask(0o027)  # the umask's mode
    try:
        d = env.fresh("mode")
        out = os.path.join(d, "out")
        env.run(w, inp, out, 0, "umask 027")
        check(written_ok(out + suffix) and stat.S_IMODE(os.stat(out + suffix).st_mode) == 0o640,
              "%s: umask 027 did not give mode 0640" % name)
    finally:
        os.umask(old)


def mount_tmpfs(d, opts):
    libc = ctypes.CDLL(None, use_errno=True)
    flags = 1 if "ro" in opts.split(",") else 0  # MS_RDONLY
    data = ",".join(o for o in opts.split(",") if o != "ro").encode()
    if libc.mount(b"gilsim-test", d.encode(), b"tmpfs", flags, data) == 0:
        return True
    why = "not root" if os.geteuid() else os.strerror(ctypes.get_errno())
    skipped.append("cannot mount a tmpfs (%s): %s" % (opts, why))
    return False


def umount(d):
    ctypes.CDLL(None, use_errno=True).umount(d.encode())


def readonly(env, w, inp):
    """A read-only directory: refused before any work, nothing created."""
    d = env.fresh("readonly")
    mounted = os.geteuid() == 0 and mount_tmpfs(d, "ro,size=64k")
    if os.geteuid() == 0 and not mounted:
        return
    if not mounted:
        os.chmod(d, 0o555)
    out = os.path.join(d, "out")
    env.run(w, inp, out, 2, "a read-only directory")
    check(not os.path.exists(out + w[2]), "%s: written into a read-only directory" % w[0])
    if mounted:
        umount(d)


def full_disk(env, w, inp):
    """A full disk: exit 1, the old file kept, no temporary file left."""
    d = env.fresh("full")
    if not mount_tmpfs(d, "size=256k"):
        return
    try:
        out = os.path.join(d, "out")
        with open(out + w[2], "w") as f:
            f.write(VICTIM)
        subprocess.run("dd if=/dev/zero of='%s/filler' bs=4k 2>/dev/null" % d, shell=True)
        env.run(w, inp, out, 1, "a full disk")
        with open(out + w[2]) as f:
            check(f.read() == VICTIM, "%s: a full disk: the old file changed" % w[0])
        check(not [n for n in os.listdir(d) if ".tmp" in n],
              "%s: a full disk: temporary files left" % w[0])
    finally:
        umount(d)


WRAPPED_INTERRUPT = """
import os, signal, sys, time
sys.path.insert(0, "tools/lib")
import gilsim_output
gilsim_output.exit_on_interrupt("wrapped")

class Descriptor:
    def __set_name__(self, owner, name):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)

class Owner:  # Python 3.11 wraps the handler's SystemExit in a RuntimeError here
    field = Descriptor()
"""


def interrupted(env):
    """Ctrl-C: one line and 130, no Python traceback (the report, a plot; an interrupt that
    library code wrapped in another exception, as matplotlib's import can)."""
    p = subprocess.run([PY, "-c", WRAPPED_INTERRUPT], cwd=SRC, capture_output=True)
    check(p.returncode == 130 and b"Traceback" not in p.stderr,
          "an interrupt wrapped in another exception: exit %d, expected 130 without a "
          "traceback\n%s" % (p.returncode, p.stderr.decode("utf-8", "replace")))
    # after the tool owns Ctrl-C: report's tool starting, plot-cdf importing matplotlib; SIGHUP
    # (a closed terminal) and SIGTERM the same way, and pyrun during its run
    cases = [(WRITERS[3], 0.0, signal.SIGINT), (WRITERS[1], 0.3, signal.SIGINT),
             (WRITERS[3], 0.0, signal.SIGHUP), (WRITERS[1], 0.3, signal.SIGHUP),
             (WRITERS[4], 0.3, signal.SIGHUP), (WRITERS[4], 0.3, signal.SIGTERM)]
    for w, after, signo in cases:
        d = env.fresh("sigint")
        out = os.path.join(d, "out")
        if w[0] == "pyrun":  # a run long enough to be under way
            p = env.run(("pyrun", w[1] + ["-d", "20000"]) + w[2:], env.inputs[w[3]], out,
                        128 + signo, signal.Signals(signo).name, after, signo)
        else:
            p = env.run(w, env.inputs[w[3]], out, 128 + signo, signal.Signals(signo).name,
                        after, signo)
        name = signal.Signals(signo).name
        check(b"Traceback" not in p.stderr_b, "%s: %s printed a traceback" % (w[0], name))
        check(not [n for n in os.listdir(d) if ".tmp" in n], "%s: %s left a temporary file"
              % (w[0], name))


BIDI = "\u202e\u2066\u200f\u061c"


def terminal_safe(data):
    """No control character a terminal acts on (C0 but newline, DEL, C1) and no bidirectional
    control in what a tool printed."""
    text = data.decode("utf-8", "replace")
    return not any((ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f or c in BIDI
                   for c in text)


def hostile_text(env):
    """Escape sequences and bidirectional controls in a name reach a message escaped, as the C
    side writes them (gilsim_output.escape)."""
    d = env.fresh("hostile")
    name = os.path.join(d, "\x1b[2J" + BIDI + "gnp.json")
    for w in (WRITERS[0], WRITERS[2], WRITERS[4]):  # a trace, a directory, a workload
        p = env.run(w, name, os.path.join(d, "out"), 2, "a missing input named with controls")
        check(terminal_safe(p.stderr_b) and b"\\x1b[2J\\xe2\\x80\\xae" in p.stderr_b,
              "%s: controls in a name reach the terminal raw: %r" % (w[0], p.stderr_b))


def stdout_full(env):
    """Every tool that prints, standard output a full disk (/dev/full): exit 1 and one line
    saying so (gilsim_output.run_main), as the C commands; no traceback, never exit 0."""
    d = env.fresh("stdout")
    plan = os.path.join(d, "plan")
    subprocess.run([env.gilsim, "compare", env.inputs["workload"], "-p", "new", "-e", "virtual",
                    "-d", "20", "--plan", "-o", plan], cwd=SRC, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = os.path.join(d, "out")
    tools = [[PY, "tools/plot-timeline", env.inputs["trace"], "-o", out, "--gilsim", env.gilsim],
             [PY, "tools/plot-cdf", env.inputs["dir"], "-o", out, "--gilsim", env.gilsim],
             [PY, "tools/plot-sweep", env.inputs["dir"], "-o", out],
             [env.gilsim, "report", env.inputs["dir"], "-o", out + ".html"],
             [PY, "tools/pyrun", env.inputs["workload"], "-d", "30", "-q", "-o", "-"],
             [PY, "tools/slurm-sweep", plan, "--dry-run"],
             [os.path.join(os.path.dirname(env.gilsim), "gilsim-calibrate"), "--help"]]
    tools += [[PY, "tools/" + t, "--help"] for t in ("plot-timeline", "plot-cdf", "plot-sweep",
                                                      "report", "pyrun", "validate",
                                                      "slurm-sweep")]
    if os.access(env.bench, os.X_OK):
        tools.append([env.bench, "--help"])
    for argv in tools:
        with open("/dev/full", "wb") as full:
            p = subprocess.run(argv, cwd=SRC, stdout=full, stderr=subprocess.PIPE,
                               env=dict(os.environ, GILSIM=env.gilsim))
        err = p.stderr.decode("utf-8", "replace")
        check(p.returncode == 1 and "standard output: cannot write" in err
              and "Traceback" not in err,
              "%s > /dev/full: exit %d, expected 1 with one line\n%s"
              % (" ".join(argv[1:3]), p.returncode, err))


def hostile_dir(env):
    """A compare directory with holes and traps (issue 27 items 6, 17): a FIFO at index.json,
    at a listed summary or trace, a listed summary missing; times that are not finite or too
    large. The report and the plots never hang and never end in a traceback: one line and
    exit 2, or a report that says what it could not draw."""
    d = env.fresh("hostile-dir")
    cmp = os.path.join(d, "cmp")
    subprocess.run(["cp", "-r", env.inputs["dir"], cmp], check=True)
    with open(os.path.join(cmp, "index.json")) as f:
        run = json.load(f)["configs"][0]["runs"][0]
    out = os.path.join(d, "out")
    report = [env.gilsim, "report", cmp, "-o", out + ".html"]
    cases = []
    for name, what in (("index.json", "a FIFO at index.json"),
                       (run["summary"], "a FIFO at a listed summary"),
                       (run["trace"], "a FIFO at a listed trace"),
                       (run["summary"], "a listed summary missing")):
        for argv, expect in ((report, 2 if name == "index.json" else 0),
                             ([PY, "tools/plot-sweep", cmp, "-o", out],
                              2 if name == "index.json" else None),
                             ([PY, "tools/plot-cdf", cmp, "-o", out, "--gilsim", env.gilsim],
                              2 if name in ("index.json", run["trace"]) else 0)):
            cases.append((name, what, argv, expect))
    for value in ("inf", "1e308", "nan", "-1"):
        cases.append((None, "--timeline-ms " + value, report + ["--timeline-ms", value], 2))
        for opt in ("--from-ms", "--to-ms"):
            cases.append((None, "%s %s" % (opt, value),
                          [PY, "tools/plot-timeline", env.inputs["trace"], opt, value, "-o", out,
                           "--gilsim", env.gilsim], 2))
    for name, what, argv, expect in cases:
        path = os.path.join(cmp, name) if name else None
        if path:
            os.rename(path, path + ".keep")
            if "FIFO" in what:
                os.mkfifo(path)
        try:
            p = subprocess.run(argv, cwd=SRC, capture_output=True, timeout=120,
                               env=dict(os.environ, GILSIM=env.gilsim))
            status, err = p.returncode, p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            status, err = -1, "(hung: killed after 120 s)"
        finally:
            if path:
                if os.path.exists(path):
                    os.unlink(path)
                os.rename(path + ".keep", path)
        ok = status in ((0, 1, 2) if expect is None else (expect,)) and "Traceback" not in err
        check(ok, "%s, %s: exit %d, expected %s\n%s" % (" ".join(argv[:2]), what, status,
                                                        "0-2" if expect is None else expect, err))


def durability(env):
    """fsync of the temporary file before its rename and of the directory after it, as the C
    commands (a crash on NFS must not leave an empty file under the name): report and a plot,
    traced with strace where it can trace."""
    if subprocess.run(["strace", "-qq", "-e", "trace=none", "true"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        skipped.append("durability: strace cannot trace here")
        return
    d = env.fresh("fsync")
    log = os.path.join(d, "strace.log")
    for w in (WRITERS[3], WRITERS[2]):
        subprocess.run(["strace", "-f", "-y", "-qq", "-e", "trace=fsync,rename", "-o", log]
                       + env.argv(w, env.inputs[w[3]], os.path.join(d, "out")), cwd=SRC,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, GILSIM=env.gilsim))
        lines = [line.split(None, 1) for line in open(log) if line[:1].isdigit()]
        renames = 0
        for i, (pid, call) in enumerate(lines):
            if not call.startswith("rename(") or ".tmp." not in call.split(",")[0]:
                continue
            renames += 1
            tmp = os.path.basename(call.split('"')[1])
            mine = [c for p, c in lines if p == pid]
            k = mine.index(call)
            check(k > 0 and mine[k - 1].startswith("fsync(") and tmp in mine[k - 1] and
                  k + 1 < len(mine) and mine[k + 1].startswith("fsync(") and
                  ".tmp." not in mine[k + 1],
                  "%s: %s renamed without fsync of it before and of its directory after"
                  % (w[0], tmp))
        check(renames > 0, "%s: no rename of a temporary file traced" % w[0])


def writer_situations(env, w):
    """situations() for one writer in a pool's process, in a directory of its own: what
    failed and what was skipped there."""
    del failures[:], skipped[:]
    mine = Env(env.gilsim, env.bench, os.path.join(env.tmp, "w-" + w[0]))
    os.mkdir(mine.tmp)
    mine.inputs = env.inputs
    situations(mine, w)
    return list(failures), list(skipped)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    gilsim = os.path.abspath(sys.argv[1])
    bench = os.path.abspath(sys.argv[2] if len(sys.argv) == 3 else
                            os.path.join(os.path.dirname(gilsim), "gilsim-bench"))
    tmp = tempfile.mkdtemp(prefix="gilsim-outputs-")
    env = Env(gilsim, bench, tmp)
    cmp = os.path.join(tmp, "cmp")
    subprocess.run([gilsim, "compare", "workloads/convoy.json", "-p", "new",
                    "-s", "interval_us=1000,5000", "-d", "50", "--keep-disturbed", "-o", cmp],
                   cwd=SRC, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    trace = [f for f in sorted(os.listdir(cmp)) if f.endswith("-r1.json")][0]
    env.inputs = {"dir": cmp, "trace": os.path.join(cmp, trace),
                  "workload": os.path.join(SRC, "workloads", "io-only.json"), None: ""}
    only = os.environ.get("GILSIM_OUTPUTS_ONLY")  # one writer, when debugging
    todo = []
    for w in WRITERS:
        if w[0] == "bench" and sys.argv[2:] == ["-"]:
            skipped.append("bench: gilsim-bench --smoke is not run under a sanitizer")
        elif not only or only == w[0]:
            todo.append(w)
    # Two writers at a time (half the suite's time on 2 cores), each in a process of its own
    # (the umask situation changes a process-wide setting) and a directory of its own.
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        for fails, skips in pool.map(writer_situations, [env] * len(todo), todo):
            failures.extend(fails)
            skipped.extend(skips)
    interrupted(env)
    hostile_text(env)
    stdout_full(env)
    hostile_dir(env)
    durability(env)
    if not failures:
        subprocess.run(["rm", "-rf", tmp])
    for s in sorted(set(skipped)):
        print("SKIPPED: " + s, file=sys.stderr)
    print("outputs: %s" % ("%d failures (files in %s)" % (len(failures), tmp) if failures
                           else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
