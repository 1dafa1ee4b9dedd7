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
import os
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


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
