#!/usr/bin/python3
"""tests/test_calibrate.py - gilsim-calibrate (tools/calibrate) and the shipped machine files.

  * `gilsim-calibrate --quick` (a few seconds) writes a well-formed gilsim-machine file: every
    parameter `gilsim machines` lists is present, `gilsim machines --machine FILE` reads it
    (so every value is in range) and shows the same values, and a virtual run with it exits 0
    and records it; "measured" has the command, date, host, load and each measurement, and says
    for every parameter how it was derived; --raw writes every sample; --slow-wake writes the
    same machine with every wake-up cold;
  * it refuses bad options with exit 2 and writes nothing;
  * every shipped machine file (workloads/machines/) is read by `gilsim machines` and a
    virtual run, and names a command and date in "measured".
Figures are not checked: they are the host's, and this machine is shared.

usage: test_calibrate.py GILSIM_CALIBRATE GILSIM (ctest runs it with /usr/bin/python3).
Standard library, plus python3-jsonschema when present (the schema check is skipped, visibly,
without it)."""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALIBRATE = os.environ.get("GILSIM_CALIBRATE") or os.path.join(SRC, "build", "gilsim-calibrate")
GILSIM = os.environ.get("GILSIM") or os.path.join(SRC, "build", "gilsim")


# A machine file's params that are not parameters of the table: the wake-up curve and its
# distributions.
CURVES = {"wake_curve_us", "wake_dist_us"}


def run(*args, timeout=120):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=SRC)


def machine_params():
    """The parameters `gilsim machines` lists, name -> unit (not the built-in machine's wake-up
    curve and distributions, printed after them)."""
    out = run(GILSIM, "machines").stdout
    return {m.group(1): m.group(2) for m in re.finditer(r"^  (\S+)\s+\S+\s+(\S+)", out, re.M)
            if m.group(1) not in CURVES}


def shown_values(path):
    """`gilsim machines --machine path`: (exit status, name -> value as printed, header line);
    the wake-up curve, when there is one, as a list of [idle, wake] or [idle, wake, signal]
    (printed "idle -> wake (signal)") under "wake_curve_us"."""
    p = run(GILSIM, "machines", "--machine", path)
    values = {m.group(1): float(m.group(2))
              for m in re.finditer(r"^  (\S+)\s+([-0-9.e+]+)\s", p.stdout, re.M)}
    curve = re.search(r"^  wake_curve_us .*: (.*) us$", p.stdout, re.M)
    if curve:
        values["wake_curve_us"] = [[float(x) for x in re.findall(r"[0-9][0-9.e+-]*", pt)]
                                   for pt in curve.group(1).split(", ")]
    return p.returncode, values, p.stdout.split("\n")[0], p.stderr


def check_virtual_run(test, path, name):
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "t.json")
        p = run(GILSIM, "run", "workloads/cpu2.json", "--engine", "virtual", "--machine", path,
                "--duration", "200", "-q", "-o", trace)
        test.assertEqual(p.returncode, 0, p.stderr)
        with open(trace) as f:
            machine = json.load(f)["run"]["machine"]
        test.assertEqual(machine["name"], name)
        return machine


class Calibrate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "host.json")
        cls.raw = os.path.join(cls.tmp.name, "raw.json")
        cls.slow = os.path.join(cls.tmp.name, "slow.json")
        cls.proc = run(CALIBRATE, "--quick", "--name", "test-host", "-o", cls.out,
                       "--raw", cls.raw, "--slow-wake", cls.slow)
        cls.doc = None
        if cls.proc.returncode == 0:
            with open(cls.out) as f:
                cls.doc = json.load(f)
        cls.params = machine_params()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)

    def test_quick_not_kept(self):
        """A full calibration is kept as this host's own (gilsim run then stops warning that
        the host was never calibrated); a --quick one is too rough to stand for the host."""
        self.assertIn("not kept as this host's calibration (--quick", self.proc.stdout)

    def test_document(self):
        d = self.doc
        self.assertEqual((d["format"], d["version"], d["name"]), ("gilsim-machine", 1, "test-host"))
        self.assertTrue(d["description"])
        self.assertGreaterEqual(len(self.params), 12)
        self.assertEqual(set(d["params"]) - CURVES, set(self.params))
        for name, v in d["params"].items():
            if name not in CURVES:
                self.assertIsInstance(v, int if name == "cores" else (int, float), name)
        if self.doc["measured"]["host"]["cpus"] >= 2:  # the curve: 2 to 24 points, idle ascending
            curve = d["params"]["wake_curve_us"]
            self.assertTrue(2 <= len(curve) <= 24)
            self.assertEqual([p[0] for p in curve], sorted(set(p[0] for p in curve)))
            # each point also has what the wake-up cost the waker, from the same gap's samples
            gaps = {g["gap_us"]: g for g in d["measured"]["wake_after_idle"]["gaps"]}
            for idle, wake, signal in curve:
                self.assertAlmostEqual(signal, gaps[idle]["signal_us"]["p50"], delta=0.01)
            self.check_dist(d["params"]["wake_dist_us"], curve)
        self.assertEqual(d["params"]["cores"], os.sysconf("SC_NPROCESSORS_ONLN"))
        self.assertIn("written: " + self.out, self.proc.stdout)

    def check_dist(self, dist, curve):
        """wake_dist_us: at the curve's idle times, quantiles of the latency and of the
        signal's cost at probabilities from 0 to 1, not decreasing, their median the curve's."""
        p = dist["p"]
        self.assertEqual((p[0], p[-1]), (0, 1))
        self.assertEqual(p, sorted(set(p)))
        self.assertEqual([pt["idle_us"] for pt in dist["points"]], [c[0] for c in curve])
        for pt, (idle, wake, signal) in zip(dist["points"], curve):
            for key, median in (("wake_us", wake), ("signal_us", signal)):
                q = pt[key]
                self.assertEqual(len(q), len(p))
                self.assertEqual(q, sorted(q))
                self.assertAlmostEqual(q[p.index(0.5)], median, delta=0.06, msg=(idle, key))

    def test_measured(self):
        m = self.doc["measured"]
        self.assertIn("--quick", m["command"])
        self.assertRegex(m["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(m["quick"])
        for key in ("cpus", "cpu_model", "kernel", "cpuidle_driver", "cpuidle_governor",
                    "config_hz", "cpus_used"):
            self.assertIn(key, m["host"])
        self.assertEqual(len(m["load_average_1_5_15min"]["before"]), 3)
        self.assertIsInstance(m["disturbed"], bool)
        self.assertEqual(set(m["derivation"]) - CURVES, set(self.params))
        for section in ("clock_read", "same_cpu_pingpong", "two_hogs_one_cpu", "wake_onto_hog",
                        "woken_spinner"):
            self.assertIn(section, m)
        if m["host"]["cpus"] >= 2:  # the cross-CPU measurements
            gaps = m["wake_after_idle"]["gaps"]
            self.assertGreaterEqual(len(gaps), 10)
            for g in gaps:
                self.assertGreater(g["latency_us"]["n"], 0)
                self.assertLessEqual(g["latency_us"]["p10"], g["latency_us"]["p90"])
            for kind in ("cond_timedwait", "ppoll", "nanosleep"):
                waits = m["timed_wait_overshoot"][kind]
                self.assertEqual([w["wait_us"] for w in waits], [40, 1000, 5000])
        if m["host"]["config_hz"]:
            self.assertEqual(self.doc["params"]["sched_tick_us"], 1e6 / m["host"]["config_hz"])

    def test_gilsim_reads_it(self):
        rc, values, header, err = shown_values(self.out)
        self.assertEqual(rc, 0, err)
        self.assertIn("machine test-host", header)
        for name, v in self.doc["params"].items():
            if name == "wake_curve_us":
                self.assertEqual(values[name], v)
            elif name != "wake_dist_us":  # its p5 / p50 / p95 only
                self.assertAlmostEqual(values[name], v, delta=abs(v) * 1e-5, msg=name)
        machine = check_virtual_run(self, self.out, "test-host")
        for name, v in self.doc["params"].items():
            if name in CURVES:
                self.assertEqual(machine[name], v)
            else:
                self.assertAlmostEqual(machine[name], v, delta=abs(v) * 1e-9, msg=name)

    def test_raw(self):
        with open(self.raw) as f:
            raw = json.load(f)
        self.assertIn("clock_read_us", raw)
        self.assertIn("hog_run_us", raw)
        self.assertTrue(all(isinstance(v, list) for v in raw.values()))

    def test_slow_wake(self):
        with open(self.slow) as f:
            slow = json.load(f)
        self.assertEqual(slow["name"], "test-host-slow-wake")
        p, q = slow["params"], self.doc["params"]
        self.assertEqual(p["wake_warm_us"], q["wake_cold_us"])
        self.assertEqual(p["wake_cold_us"], q["wake_cold_us"])
        self.assertEqual(p["idle_poll_us"], 0)
        self.assertNotIn("wake_curve_us", p)  # it would replace the two levels
        self.assertNotIn("wake_dist_us", p)
        for name in set(q) - {"wake_warm_us", "idle_poll_us"} - CURVES:
            self.assertEqual(p[name], q[name], name)
        self.assertEqual(slow["measured"]["regime"]["measured_wake_warm_us"], q["wake_warm_us"])
        self.assertEqual(shown_values(self.slow)[0], 0)

    def test_schema(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("python3-jsonschema not installed")
        with open(os.path.join(SRC, "docs", "machine.schema.json")) as f:
            schema = json.load(f)
        jsonschema.Draft202012Validator(schema).validate(self.doc)


class BadOptions(unittest.TestCase):
    def test_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "x.json")
            for args in ([], ["--quick"], ["-o", out, "extra"], ["-o", out, "--cpus", "1,1"],
                         ["-o", out, "--cpus", "x"], ["-o", out, "--bogus"],
                         ["-o", out, "--name", "my host"], ["-o", out, "--name", "x" * 55]):
                p = run(CALIBRATE, *args)
                self.assertEqual(p.returncode, 2, args)
                named = [a for a in ("--cpus", "--name") if a in args]
                self.assertIn(named[0] if named else "usage", p.stderr)
            self.assertEqual(os.listdir(tmp), [])
        self.assertEqual(run(CALIBRATE, "--help").returncode, 0)


class ShippedMachines(unittest.TestCase):
    def test_shipped(self):
        files = sorted(glob.glob(os.path.join(SRC, "workloads", "machines", "*.json")))
        self.assertGreaterEqual(len(files), 2)
        for path in files:
            with open(path) as f:
                doc = json.load(f)
            self.assertIn("command", doc["measured"], path)
            self.assertIn("date", doc["measured"], path)
            rc, values, _, err = shown_values(path)
            self.assertEqual(rc, 0, err)
            check_virtual_run(self, path, doc["name"])

    def test_builtin_is_the_shipped_calibration(self):
        """Without --machine the virtual engine uses workloads/machines/vm-2cpu.json, compiled
        in: the same values and curve, named as the file names itself."""
        rc, shipped, _, err = shown_values(os.path.join("workloads", "machines", "vm-2cpu.json"))
        self.assertEqual(rc, 0, err)
        p = run(GILSIM, "machines")
        builtin = {m.group(1): float(m.group(2))
                   for m in re.finditer(r"^  (\S+)\s+([-0-9.e+]+)\s", p.stdout, re.M)}
        curve = re.search(r"^  wake_curve_us .*: (.*) us$", p.stdout, re.M)
        self.assertTrue(curve, p.stdout)
        builtin["wake_curve_us"] = [[float(x) for x in re.findall(r"[0-9][0-9.e+-]*", pt)]
                                    for pt in curve.group(1).split(", ")]
        self.assertEqual(builtin, shipped)
        self.assertIn("machine vm-2cpu (built in (workloads/machines/vm-2cpu.json))",
                      p.stdout.split("\n")[0])


if __name__ == "__main__":
    if len(sys.argv) > 2:
        CALIBRATE, GILSIM = sys.argv[1], sys.argv[2]
        del sys.argv[1:3]
    unittest.main(verbosity=2)
