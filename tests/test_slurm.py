#!/usr/bin/python3
"""tests/test_slurm.py GILSIM - a sweep through a real Slurm cluster (issue 17): a single-node
cluster started in a temporary directory (tests/slurm_cluster.py: Debian's munge and
slurm-wlm), a plan of 24 runs, real and virtual, submitted with tools/slurm-sweep (one
`sbatch --array` task per run), collected, and compared with the local `--jobs 2` run of the
same plan: identical figures for every virtual cell (they are deterministic), the same cells
and counts for the real ones. Resubmitting the finished plan submits nothing. Needs root and
the packages of tools/install-deps --test; it fails, never skips, when the cluster cannot run.
"""
import csv
import ctypes
import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import slurm_cluster  # noqa: E402

GILSIM = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                         os.path.join(SRC, "build", "gilsim"))
SWEEP = ["workloads/convoy-n.json", "-p", "new,none", "-e", "real,virtual",
         "--var", "cpu_threads=1,2", "--set", "interval_us=1000,5000", "-r", "2", "-d", "100"]


def cells(d):
    with open(os.path.join(d, "cells.csv"), newline="") as f:
        return {row["label"]: row for row in csv.DictReader(f)}


class Slurm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = slurm_cluster.missing()
        if missing:
            raise AssertionError("not installed (tools/install-deps --test): %s"
                                 % ", ".join(missing))
        if os.geteuid() != 0:
            raise AssertionError("the test cluster runs its daemons as root")
        cls.tmp = tempfile.TemporaryDirectory(prefix="gilsim-slurm-")
        cls.cluster = slurm_cluster.Cluster(os.path.join(cls.tmp.name, "cluster"))
        try:
            cls.cluster.__enter__()
        except slurm_cluster.SlurmError:
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)
        cls.tmp.cleanup()

    def run_cmd(self, cmd, expect=0, timeout=900):
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=SRC, env=self.cluster.env,
                           timeout=timeout)
        self.assertEqual(p.returncode, expect, "%s\nstdout: %s\nstderr: %s\n%s"
                         % (" ".join(cmd), p.stdout, p.stderr, self.cluster.log_tail()))
        return p

    def test_sweep_through_sbatch_array(self):
        planned = os.path.join(self.tmp.name, "slurm")
        local = os.path.join(self.tmp.name, "local")
        p = self.run_cmd([GILSIM, "compare"] + SWEEP + ["--plan", "-o", planned])
        self.assertIn("24 runs in 12 cells planned", p.stdout)
        p = self.run_cmd([os.path.join(SRC, "tools", "slurm-sweep"), planned, "--wait",
                          "--cpus-per-task", "1"])
        print(p.stdout, file=sys.stderr)
        self.assertIn("--array 0-", p.stdout)  # one array task per run
        self.assertIn("Submitted batch job", p.stdout)
        self.assertIn("24 of 24 runs finished", p.stdout)
        logs = os.listdir(os.path.join(planned, ".slurm"))
        self.assertEqual(sum(name.endswith(".out") for name in logs), 24)
        self.run_cmd([GILSIM, "compare", "--collect", planned])
        self.run_cmd([GILSIM, "compare"] + SWEEP + ["-j", "2", "-o", local])
        from_slurm, from_local = cells(planned), cells(local)
        self.assertEqual(sorted(from_slurm), sorted(from_local))  # the same cells
        self.assertEqual(len(from_slurm), 12)
        for label, row in from_slurm.items():
            other = from_local[label]
            self.assertEqual((row["runs"], row["failed"]), (other["runs"], other["failed"]))
            self.assertEqual(row["failed"], "0", label)
            if row["engine"] == "virtual":
                self.assertEqual(row, other, label)  # deterministic: identical figures
        # resubmitting a finished plan submits nothing
        p = self.run_cmd([os.path.join(SRC, "tools", "slurm-sweep"), planned])
        self.assertIn("all 24 runs have finished", p.stdout)
        self.assertNotIn("sbatch", p.stdout)

    def test_resubmit_only_what_is_missing(self):
        planned = os.path.join(self.tmp.name, "partial")
        self.run_cmd([GILSIM, "compare", "workloads/convoy.json", "-p", "new,fifo,prio,bfs",
                      "-e", "virtual", "-r", "5", "-d", "100", "--plan", "-o", planned])
        for i in (0, 3, 4, 5):  # four runs done before the cluster sees the plan
            self.run_cmd([GILSIM, "compare", "--run", planned, "--index", str(i)])
        p = self.run_cmd([os.path.join(SRC, "tools", "slurm-sweep"), planned, "--wait",
                          "--max-running", "2"])
        self.assertIn("4 of 21 runs finished already: not submitted again", p.stdout)
        self.assertIn("--array 1-2,6-20%2", p.stdout)
        self.assertIn("21 of 21 runs finished", p.stdout)
        self.run_cmd([GILSIM, "compare", "--collect", planned])


FAKE_SBATCH = """#!/bin/sh
printf '%s\\n' "$*" >> "$FAKE_LOG"
echo "4242;test"
"""
FAKE_SQUEUE = """#!/bin/sh
cat "$FAKE_QUEUE" 2>/dev/null
"""
FAKE_SCONTROL = """#!/bin/sh
echo "MaxArraySize = 1001"
"""


class SweepScript(unittest.TestCase):
    """tools/slurm-sweep on hostile and broken sweep directories (issue 27 items 1, 2, 6, 17),
    against stand-ins for sbatch, squeue and scontrol that record what they are asked: no
    cluster needed. Every case ends within its bound (a FIFO never hangs), with one line on
    stderr and no traceback."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gilsim-sweep-")
        self.addCleanup(self.tmp.cleanup)
        bin_dir = os.path.join(self.tmp.name, "bin")
        os.mkdir(bin_dir)
        for name, text in (("sbatch", FAKE_SBATCH), ("squeue", FAKE_SQUEUE),
                           ("scontrol", FAKE_SCONTROL)):
            with open(os.path.join(bin_dir, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(bin_dir, name), 0o755)
        self.log = os.path.join(self.tmp.name, "sbatch.log")
        self.queue = os.path.join(self.tmp.name, "queue")
        self.env = dict(os.environ, PATH=bin_dir + ":" + os.environ["PATH"], FAKE_LOG=self.log,
                        FAKE_QUEUE=self.queue, GILSIM=GILSIM)

    def plan(self, name="d"):
        d = os.path.join(self.tmp.name, name)
        p = subprocess.run([GILSIM, "compare", "workloads/convoy-n.json", "-p", "new", "-e",
                            "virtual", "-r", "3", "-d", "20", "--plan", "-o", d], cwd=SRC,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return d

    def sweep(self, d, *args, expect=0):
        p = subprocess.run([os.path.join(SRC, "tools", "slurm-sweep"), d] + list(args),
                           capture_output=True, text=True, env=self.env, timeout=60)
        self.assertEqual(p.returncode, expect, "stdout: %s\nstderr: %s" % (p.stdout, p.stderr))
        self.assertNotIn("Traceback", p.stderr)
        if expect:
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        return p

    def submitted(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def test_task_script_never_through_a_symlink(self):
        d = self.plan()
        victim = os.path.join(self.tmp.name, "victim")
        with open(victim, "w") as f:
            f.write("mine\n")
        os.chmod(victim, 0o644)
        os.mkdir(os.path.join(d, ".slurm"))
        os.symlink(victim, os.path.join(d, ".slurm", "task.sh"))
        self.sweep(d)
        task = os.path.join(d, ".slurm", "task.sh")
        st = os.lstat(task)
        self.assertTrue(stat.S_ISREG(st.st_mode))  # the link replaced
        self.assertTrue(st.st_mode & 0o100)
        with open(victim) as f:
            self.assertEqual(f.read(), "mine\n")
        self.assertEqual(stat.S_IMODE(os.stat(victim).st_mode), 0o644)
        self.assertFalse([n for n in os.listdir(os.path.dirname(task)) if ".tmp" in n])

    def test_slurm_dir_a_symlink(self):
        d = self.plan()
        elsewhere = os.path.join(self.tmp.name, "elsewhere")
        os.mkdir(elsewhere)
        os.symlink(elsewhere, os.path.join(d, ".slurm"))
        p = self.sweep(d, expect=2)
        self.assertIn("not a directory", p.stderr)
        self.assertEqual(os.listdir(elsewhere), [])
        self.assertEqual(self.submitted(), "")

    def test_tampered_plan_program_never_run(self):
        d = self.plan()
        path = os.path.join(d, "plan.json")
        with open(path) as f:
            plan = json.load(f)
        plan["gilsim"] = "/bin/touch"
        with open(path, "w") as f:
            json.dump(plan, f)
        self.sweep(d)
        with open(os.path.join(d, ".slurm", "task.sh")) as f:
            script = f.read()
        self.assertNotIn("/bin/touch", script)
        self.assertIn("exec '%s' compare --run" % os.path.abspath(GILSIM), script)

    def test_fifos_never_hang(self):
        d = self.plan()
        with open(os.path.join(d, "plan.json")) as f:
            trace = json.load(f)["runs"][0]["trace"]
        os.mkfifo(os.path.join(d, trace[:-5] + ".result.json"))
        self.sweep(d)  # a FIFO at a result: not finished, submitted
        self.assertIn("--array 0-3", self.submitted())
        os.unlink(os.path.join(d, "plan.json"))
        os.mkfifo(os.path.join(d, "plan.json"))
        p = self.sweep(d, expect=2)
        self.assertIn("not a regular file", p.stderr)

    def test_malformed_plans(self):
        d = self.plan()
        path = os.path.join(d, "plan.json")
        with open(path) as f:
            good = f.read()
        broken = ["[]", "{}", "not json", '{"format": "gilsim-compare-plan"}',
                  good.replace('"runs": [', '"runs": [7, '),
                  good.replace('"trace": "', '"trace": "../'),
                  good.replace('"engine": "virtual"', '"engine": 3'),
                  good.replace('"version": 2', '"version": 1'),
                  good.replace('"format"', '"format": 1, "format"'),
                  "\u202e{"]
        for text in broken:
            with self.subTest(plan=text[:40]):
                with open(path, "w") as f:
                    f.write(text)
                self.sweep(d, expect=2)
        os.unlink(path)
        os.symlink("/dev/zero", path)  # a device: refused at once, never read
        self.sweep(d, expect=2)
        os.unlink(path)
        with open(path, "wb") as f:
            f.write(b'{"format": "\xff"}')
        self.sweep(d, expect=2)
        self.assertEqual(self.submitted(), "")

    def test_dry_run_writes_nothing(self):
        d = self.plan()
        p = self.sweep(d, "--dry-run")
        self.assertIn("sbatch", p.stdout)
        self.assertFalse(os.path.exists(os.path.join(d, ".slurm")))
        self.assertEqual(self.submitted(), "")

    def test_percent_in_dir(self):
        d = self.plan("100%done")
        self.sweep(d)
        self.assertIn("--output %s/.slurm/%%A_%%a.out" % d.replace("%", "%%"), self.submitted())

    def test_queued_runs_not_resubmitted(self):
        d = self.plan()
        self.sweep(d)
        with open(self.queue, "w") as f:
            f.write("4242_1\n4242_3\n")
        os.unlink(self.log)
        p = self.sweep(d)
        self.assertIn("2 of 4 runs queued or running already: not submitted again", p.stdout)
        self.assertIn("--array 0,2 ", self.submitted())

    def test_full_disk(self):
        mnt = os.path.join(self.tmp.name, "full")
        os.mkdir(mnt)
        libc = ctypes.CDLL(None, use_errno=True)
        if os.geteuid() != 0 or libc.mount(b"gilsim-test", mnt.encode(), b"tmpfs", 0,
                                           b"size=256k") != 0:
            self.skipTest("cannot mount a tmpfs: %s" % os.strerror(ctypes.get_errno()))
        self.addCleanup(libc.umount, mnt.encode())
        d = self.plan("full/d")
        os.mkdir(os.path.join(d, ".slurm"))
        subprocess.run("dd if=/dev/zero of='%s/filler' bs=4k 2>/dev/null" % mnt, shell=True)
        p = self.sweep(d, expect=1)
        self.assertIn("No space left on device", p.stderr)
        self.assertFalse(os.listdir(os.path.join(d, ".slurm")))
        self.assertEqual(self.submitted(), "")


if __name__ == "__main__":
    # further arguments name tests: test_slurm.py GILSIM SweepScript
    unittest.main(argv=sys.argv[:1] + sys.argv[2:], verbosity=2)
