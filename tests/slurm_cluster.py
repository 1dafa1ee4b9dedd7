"""tests/slurm_cluster.py - a real single-node Slurm cluster in a temporary directory, for
tests/test_slurm.py and the sweep docs: Debian's munge and slurm-wlm (tools/install-deps
--test), configured here (its own munge key and socket, free ports, state and logs in the
directory), daemons started and stopped by this module. Runs as root (SlurmUser=root)."""
import os
import shutil
import socket
import subprocess
import time

DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")

CONF = """ClusterName=gilsimtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
AuthInfo=socket={d}/munge/socket
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=sched_min_interval=0
MinJobAge=300
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class SlurmError(RuntimeError):
    pass


def missing():
    """The daemons and commands that are not installed."""
    need = list(DAEMONS) + [shutil.which(c) or c for c in ("sbatch", "squeue", "sinfo",
                                                           "scontrol")]
    return [p for p in need if not os.path.exists(p)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """with Cluster(tmpdir) as cl: cl.env is the environment for sbatch and friends."""

    def __init__(self, d):
        self.d = d
        self.env = dict(os.environ, SLURM_CONF=os.path.join(d, "slurm.conf"))

    def _run(self, cmd, **kw):
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, **kw)

    def _start_munge(self):
        m = os.path.join(self.d, "munge")
        os.makedirs(m, mode=0o700)
        with open(os.path.join(m, "munge.key"), "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(os.path.join(m, "munge.key"), 0o400)
        p = self._run([DAEMONS[0], "--force", "--socket", os.path.join(m, "socket"),
                       "--key-file", os.path.join(m, "munge.key"),
                       "--pid-file", os.path.join(m, "munged.pid"),
                       "--seed-file", os.path.join(m, "seed"),
                       "--log-file", os.path.join(self.d, "log", "munged.log")])
        if p.returncode != 0:
            raise SlurmError("munged: %s" % p.stderr.strip())

    def __enter__(self):
        for sub in ("state", "spool", "log"):
            os.makedirs(os.path.join(self.d, sub))
        self._start_munge()
        with open(self.env["SLURM_CONF"], "w") as f:
            f.write(CONF.format(host=socket.gethostname().split(".")[0], d=self.d,
                                ctld_port=free_port(), d_port=free_port(),
                                cpus=os.cpu_count()))
        for daemon in DAEMONS[1:]:
            p = self._run([daemon, "-f", self.env["SLURM_CONF"]])
            if p.returncode != 0:
                self.__exit__(None, None, None)
                raise SlurmError("%s: %s %s" % (daemon, p.stderr.strip(), self.log_tail()))
        try:
            self._wait_idle()
        except SlurmError:
            self.__exit__(None, None, None)  # no daemon left behind
            raise
        return self

    def _wait_idle(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            p = self._run(["sinfo", "-h", "-o", "%t"])
            if p.returncode == 0 and p.stdout.strip() in ("idle", "mix", "alloc"):
                return
            time.sleep(0.5)
        raise SlurmError("the node did not come up: %s" % self.log_tail())

    def log_tail(self):
        out = []
        for name in ("slurmctld.log", "slurmd.log", "munged.log"):
            try:
                with open(os.path.join(self.d, "log", name)) as f:
                    out.append("%s: %s" % (name, " | ".join(f.read().splitlines()[-5:])))
            except OSError:
                pass
        return "; ".join(out)

    def _kill(self, pidfile):
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, 15)
        except OSError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.1)

    def __exit__(self, *exc):
        self._run(["scancel", "--full", "--user", "root"])
        self._kill(os.path.join(self.d, "slurmd.pid"))
        self._kill(os.path.join(self.d, "slurmctld.pid"))
        self._kill(os.path.join(self.d, "munge", "munged.pid"))
        return False
