#!/usr/bin/python3
"""tests/test_outputs.py - the output rules of docs/reliability.md on every writing tool in
Python (and gilsim-bench), the same table of hostile situations as tests/test_outputs.c: output
= input, a symlink at the output and at temporary names, a directory, a FIFO, /dev/null, a
read-only directory, a full disk (a small tmpfs where the test may mount one, else skipped with
the reason), paths at the length limits, a non-UTF-8 path, the umask's mode; and Ctrl-C
without a traceback. Adding a writing tool is one line in WRITERS.

  test_outputs.py GILSIM [GILSIM-BENCH]   (GILSIM-BENCH "-": bench skipped, sanitizer builds)
"""
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
    has a handler) or SIGTERM caught (exit_on_interrupt installs it after SIGINT's handler).
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
                mask(status, "SigCgt") & (1 << (signal.SIGTERM - 1)):
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

    def run(self, w, inp, out, expect, what, signal_after=None):
        """Runs writer w; checks the exit status; returns the process."""
        args = self.argv(w, inp, out)
        proc = subprocess.Popen(args, cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=dict(os.environ, GILSIM=self.gilsim))
        if signal_after is not None:
            wait_until_interruptible(proc.pid)
            time.sleep(signal_after)
            proc.send_signal(signal.SIGINT)
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
    # after the tool owns Ctrl-C: report's tool starting, plot-cdf importing matplotlib
    for w, after in ((WRITERS[3], 0.0), (WRITERS[1], 0.3)):
        d = env.fresh("sigint")
        p = env.run(w, env.inputs[w[3]], os.path.join(d, "out"), 130, "SIGINT", after)
        check(b"Traceback" not in p.stderr_b, "%s: SIGINT printed a traceback" % w[0])
        check(not [n for n in os.listdir(d) if ".tmp" in n], "%s: SIGINT left a temporary file"
              % w[0])


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
    for w in WRITERS:
        if w[0] == "bench" and sys.argv[2:] == ["-"]:
            skipped.append("bench: gilsim-bench --smoke is not run under a sanitizer")
        elif not only or only == w[0]:
            situations(env, w)
    interrupted(env)
    if not failures:
        subprocess.run(["rm", "-rf", tmp])
    for s in sorted(set(skipped)):
        print("SKIPPED: " + s, file=sys.stderr)
    print("outputs: %s" % ("%d failures (files in %s)" % (len(failures), tmp) if failures
                           else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
