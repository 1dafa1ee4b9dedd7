#!/usr/bin/python3
"""tests/test_record.py - `gilsim record` on real CPython programs, and `gilsim model`.

  * a program with a CPU thread and a thread doing socket round trips with a peer process:
    the trace agrees with the program's own counts (one recv span and one send release per
    round trip, on the thread that made them), names come from threading, one holder at a
    time, each thread's request/acquire/release in order, the JSON Schema accepts it, every
    reader takes it (summary, the three exports); the peer process, a child, runs unrecorded;
  * Ctrl-C (SIGINT to gilsim record): the program stops as it would, its exit status is
    gilsim record's, the trace keeps everything up to the end (stop_reason sigint); SIGTERM
    to a program that does not catch it, SIGKILL, sys.exit: the program's status, the threads'
    ends placed at the process' end (inferred);
  * a program that starts 200 threads;
  * the model round trip: gilsim model's workload is accepted by gilsim check, runs, and its
    summary is near the recording's (generous bounds); a loop's I/O whose first latency is
    250 times the others' keeps the others' mean (the outlier left out, and said);
  * what is refused: a command that runs no CPython, an interpreter other than 3.11.

Real programs on a shared machine: the tests wait for what they need by reading the program's
output (never a fixed sleep) and bound times generously, so that they pass 20 times in a row
beside a CPU hog. usage: test_record.py GILSIM_BINARY (ctest runs it with /usr/bin/python3).
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from trace_checks import check_order, check_schema  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GILSIM = os.environ.get("GILSIM") or os.path.join(SRC, "build", "gilsim")
PYTHON = "/usr/bin/python3"  # Debian's python3.11: the interpreter the recorder knows
ROUND_TRIPS = 300

# a pure-Python loop until the flag is set
SPIN = textwrap.dedent("""
    import os, signal, sys, threading, time
    stop = False
    def spin():
        x = 0
        while not stop:
            x += 1
""")

PINGER = SPIN + textwrap.dedent("""
    import json, socket, subprocess
    N = int(sys.argv[1])
    mine, theirs = socket.socketpair()
    peer = subprocess.Popen([sys.executable, "-c", '''
    import os, socket, sys
    s = socket.socket(fileno=int(sys.argv[1]))
    s.sendall(os.environ.get("LD_PRELOAD", "-").encode() or b"-")
    while True:
        b = s.recv(1)
        if not b:
            break
        s.sendall(b)
    ''', str(theirs.fileno())], pass_fds=[theirs.fileno()])
    theirs.close()
    def ping(out):
        out["peer_preload"] = mine.recv(4096).decode()
        for _ in range(N):
            mine.sendall(b"x")
            mine.recv(1)
        out["round_trips"] = N
    out = {}
    counter = threading.Thread(target=spin, name="counter")
    pinger = threading.Thread(target=ping, args=(out,), name="pinger")
    counter.start(); pinger.start(); pinger.join()
    stop = True
    counter.join(); mine.close(); peer.wait()
    print(json.dumps(out))
""")

# everything after the threads start is inside the try: a SIGINT handled between the "ready"
# line and the loop would otherwise end the main thread with the spinners still running, and
# the interpreter's shutdown would wait for them for ever
SPIN_UNTIL_INT = SPIN + textwrap.dedent("""
    ts = [threading.Thread(target=spin, name="spin-%d" % i) for i in range(2)]
    try:
        for t in ts: t.start()
        time.sleep(0.005)  # a sleep recorded before the signal can come
        print("ready", flush=True)
        while True:
            time.sleep(0.005)
    except KeyboardInterrupt:
        stop = True
        for t in ts: t.join()
        sys.exit(3)
""")

ENDS = SPIN + textwrap.dedent("""
    threading.Thread(target=spin, name="spin", daemon=True).start()
    time.sleep(0.05)
    how = sys.argv[1]
    if how == "exit":
        sys.exit(7)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    print("ready", flush=True)
    while True:
        time.sleep(0.005)
""")

MANY = textwrap.dedent("""
    import threading, time
    def work():
        x = 0
        for _ in range(20000): x += 1
        time.sleep(0.005)
        for _ in range(20000): x += 1
    ts = [threading.Thread(target=work, name="w-%d" % i) for i in range(200)]
    for t in ts: t.start()
    for t in ts: t.join()
""")

MODELLED = SPIN + textwrap.dedent("""
    def nap():
        for _ in range(150):
            time.sleep(0.002)
            sum(range(200))
    c = threading.Thread(target=spin, name="counter")
    n = threading.Thread(target=nap, name="napper")
    c.start(); n.start(); n.join()
    stop = True
    c.join()
""")


class Recorded(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="gilsim-test-record.")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def program(self, name, text):
        path = os.path.join(self.tmp.name, name + ".py")
        with open(path, "w") as f:
            f.write(text)
        return path

    def record(self, name, text, args=(), expect=0, options=()):
        out = os.path.join(self.tmp.name, name + ".json")
        cmd = [GILSIM, "record", "-q", "-o", out] + list(options) + \
            ["--", PYTHON, self.program(name, text)] + list(args)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=300)
        self.assertEqual(proc.returncode, expect, proc.stderr)
        with open(out) as f:
            return out, json.load(f), proc.stdout

    def check_trace(self, path, doc):
        """What every recorded trace must be: sorted, each thread in order, one holder at a
        time, the schema's, and read by every reader."""
        self.assertEqual(doc["run"]["engine"], "recorded")
        self.assertTrue(doc["run"]["policy"].startswith("cpython-3.11"))
        state = check_order(self, doc)
        self.assertNotIn("none", [e["reason"] for e in doc["events"] if e["ev"] == "release"])
        for tid in range(len(doc["threads"])):
            self.assertEqual(state.get(tid), "ended", "thread %d has no thread_exit" % tid)
        for fmt in ("chrome", "speedscope", "csv"):
            subprocess.run([GILSIM, "export", path, "--format", fmt, "-o",
                            path + "." + fmt], check=True, stdout=subprocess.DEVNULL)
        check_schema(self, doc, SRC)

    def summary(self, path):
        return json.loads(subprocess.run([GILSIM, "summary", path, "--json"], check=True,
                                         stdout=subprocess.PIPE, text=True).stdout)

    def tid_of(self, doc, name):
        return next(t["tid"] for t in doc["threads"] if t["name"] == name)

    def test_counts_names_children(self):
        path, doc, out = self.record("pinger", PINGER, [str(ROUND_TRIPS)])
        self.check_trace(path, doc)
        told = json.loads(out)
        self.assertEqual(told["round_trips"], ROUND_TRIPS)
        self.assertEqual(told["peer_preload"], "-", "the child process must run unrecorded")
        self.assertEqual(sorted(t["name"] for t in doc["threads"]),
                         ["MainThread", "counter", "pinger"])
        pinger = self.tid_of(doc, "pinger")
        mine = [e for e in doc["events"] if e["tid"] == pinger]
        recvs = [e for e in mine if e["ev"] == "io_begin" and e.get("call") == "recv"]
        sends = [e for e in mine if e["ev"] == "release" and e["reason"] == "send"]
        # the peer's first message, then one recv per round trip; one send per round trip
        self.assertEqual(len(recvs), ROUND_TRIPS + 1)
        self.assertEqual(len(sends), ROUND_TRIPS)
        self.assertTrue(all(e.get("call") == "send" for e in sends))
        self.assertTrue(doc["complete"])
        self.assertEqual(doc["run"]["exit"], {"code": 0})
        s = self.summary(path)
        self.assertGreater(s["threads"][pinger]["io_ops"], ROUND_TRIPS)
        self.assertGreater(s["run"]["acquisitions"], 2 * ROUND_TRIPS)

    def start(self, name, text, args=()):
        out = os.path.join(self.tmp.name, name + ".json")
        # SIGINT as a terminal's: at its default action (a shell that started this test in the
        # background may have left it ignored, and a program that ignores it never stops)
        proc = subprocess.Popen([GILSIM, "record", "-q", "-o", out, "--", PYTHON,
                                 self.program(name, text)] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.assertEqual(proc.stdout.readline().strip(), "ready")
        return proc, out

    def finish(self, proc, out, expect):
        try:
            rc = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            for _ in range(3):  # the third makes gilsim record kill the program
                proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            self.fail("gilsim record did not end in 120 s; its stderr and the program's:\n" +
                      proc.stderr.read())
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        self.assertEqual(rc, expect, err)
        with open(out) as f:
            return json.load(f)

    def test_ctrl_c(self):
        proc, out = self.start("spin", SPIN_UNTIL_INT)
        proc.send_signal(signal.SIGINT)
        doc = self.finish(proc, out, 3)  # the program's own exit status
        self.check_trace(out, doc)
        self.assertEqual(doc["run"]["stop_reason"], "sigint")
        self.assertFalse(doc["complete"])
        self.assertEqual(doc["events_dropped"], 0)
        main = self.tid_of(doc, "MainThread")
        self.assertTrue(any(e["ev"] == "sleep_begin" and e["tid"] == main
                            for e in doc["events"]))
        # the threads stopped by the program itself: nothing placed by gilsim record but,
        # perhaps, their thread_exit (join returns when the Python thread is done, before its
        # OS thread ends, and the process may end first)
        self.assertFalse(any(e.get("inferred") for e in doc["events"]
                             if e["tid"] != main and e["ev"] != "thread_exit"))

    def test_sigterm_uncaught(self):
        proc, out = self.start("term", ENDS, ["wait"])
        proc.send_signal(signal.SIGTERM)
        doc = self.finish(proc, out, 128 + signal.SIGTERM)
        self.check_trace(out, doc)
        self.assertEqual(doc["run"]["stop_reason"], "sigterm")
        self.assertEqual(doc["run"]["exit"], {"signal": signal.SIGTERM})
        self.assertTrue(any(e.get("inferred") for e in doc["events"]))

    def test_exit_statuses(self):
        path, doc, _ = self.record("exit", ENDS, ["exit"], expect=7)
        self.check_trace(path, doc)
        self.assertEqual(doc["run"]["exit"], {"code": 7})
        path, doc, _ = self.record("kill", ENDS, ["kill"], expect=128 + signal.SIGKILL)
        self.check_trace(path, doc)
        self.assertEqual(doc["run"]["stop_reason"], "finished")
        ends = [e for e in doc["events"] if e["ev"] == "thread_exit"]
        self.assertTrue(all(e.get("inferred") for e in ends))

    def test_200_threads(self):
        path, doc, _ = self.record("many", MANY)
        self.check_trace(path, doc)
        names = [t["name"] for t in doc["threads"]]
        self.assertEqual(len(names), 201)
        self.assertEqual(sorted(n for n in names if n.startswith("w-")),
                         sorted("w-%d" % i for i in range(200)))
        sleeps = [e for e in doc["events"] if e["ev"] == "sleep_begin" and e["tid"] != 0]
        self.assertEqual(len(sleeps), 200)
        self.assertTrue(all(t["group"] == "w" for t in doc["threads"] if t["name"] != "MainThread"))

    def test_model_round_trip(self):
        path, doc, _ = self.record("modelled", MODELLED)
        self.check_trace(path, doc)
        model = os.path.join(self.tmp.name, "modelled-model.json")
        subprocess.run([GILSIM, "model", path, "--counts", "-o", model], check=True)
        subprocess.run([GILSIM, "check", model], check=True, stdout=subprocess.DEVNULL)
        with open(model) as f:
            wl = json.load(f)
        self.assertEqual({g["name"] for g in wl["threads"]}, {"MainThread", "counter", "napper"})
        replay = os.path.join(self.tmp.name, "modelled-replay.json")
        subprocess.run([GILSIM, "run", model, "--policy", "new", "--set", "interval_us=5000",
                        "-o", replay], check=True, stderr=subprocess.DEVNULL)
        rec, rep = self.summary(path), self.summary(replay)
        napper_rec = rec["threads"][self.tid_of(doc, "napper")]
        napper_rep = next(t for t in rep["threads"] if t["name"].startswith("napper"))
        # the napper's sleeps: as many in the replay (--counts: every loop as recorded)
        self.assertEqual(napper_rec["sleep_overshoot"]["count"], 150)
        self.assertEqual(napper_rep["sleep_overshoot"]["count"], 150)
        # the counter holds the GIL most of the run in both (generous: a CPU hog beside)
        self.assertGreater(rep["run"]["gil_busy"], 0.3)
        self.assertGreater(rec["run"]["gil_busy"], 0.3)
        # by default, threads that lived until the end repeat their last pattern until the
        # replay's: the counter's work as a loop for ever
        rates = os.path.join(self.tmp.name, "modelled-rates.json")
        subprocess.run([GILSIM, "model", path, "-o", rates], check=True)
        with open(rates) as f:
            wl = json.load(f)
        counter = next(g for g in wl["threads"] if g["name"] == "counter")
        self.assertEqual(counter["ops"][-1]["loop"]["count"], "forever")

    def test_model_outlier(self):
        """A first I/O that waited for its peer to start (here 50 ms before 30 of 200 µs) must
        not set the mean of the loop it begins: the model leaves it out and says so. A
        simulated trace (virtual engine), so that the latencies are exact."""
        wl = os.path.join(self.tmp.name, "outlier.json")
        with open(wl, "w") as f:
            json.dump({"format": "gilsim-workload", "version": 1, "name": "outlier",
                       "duration_ms": 200, "threads": [{"name": "client", "ops": [
                           {"io": {"us": 50000}},
                           {"loop": {"count": 30, "ops": [{"cpu": {"us": 100}},
                                                          {"io": {"us": 200}}]}}]}]}, f)
        trace = os.path.join(self.tmp.name, "outlier-trace.json")
        subprocess.run([GILSIM, "run", wl, "--engine", "virtual", "-q", "-o", trace],
                       check=True)
        model = os.path.join(self.tmp.name, "outlier-model.json")
        subprocess.run([GILSIM, "model", trace, "--counts", "-o", model], check=True)
        with open(model) as f:
            doc = json.load(f)
        ios = [op["io"]["us"] for g in doc["threads"] for item in g["ops"]
               for op in item.get("loop", {}).get("ops", [item]) if "io" in op]
        self.assertEqual(len(ios), 1, doc["threads"])
        self.assertLess(ios[0], 400)  # 200 µs less the slack, with the virtual machine's own
        self.assertIn("1 I/O latencies over 10 times their op's median left out",
                      doc["description"])

    def test_refused(self):
        out = os.path.join(self.tmp.name, "refused.json")
        proc = subprocess.run([GILSIM, "record", "-o", out, "--", "/bin/true"],
                              stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no CPython", proc.stderr)
        self.assertFalse(os.path.exists(out))
        # real interpreters, not launchers (a pyenv shim that runs nothing)
        others = [os.path.realpath(p) for v in ("3.12", "3.13", "3.10")
                  for p in [shutil.which("python" + v)] +
                  sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/%s*/bin/python3" % v)))
                  if p and "/shims/" not in p]
        if not others:
            print("\nnote: no CPython other than 3.11 here: refusal not tried", file=sys.stderr)
            return
        proc = subprocess.run([GILSIM, "record", "-o", out, "--", others[0], "-c", "pass"],
                              stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("knows the GIL of CPython 3.11 only", proc.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        GILSIM = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
