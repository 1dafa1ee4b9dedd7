"""tools/validate's part 2, the regime question: why an echo client beside one CPU thread waits
one switch interval per round trip on one host and two on another, answered on the virtual
engine. The echo case (a peer answering after 40 µs, one CPU thread) runs at every interval on
the machine of --machine (this host, calibrated) and on variants of it that each change one
thing, beside the real program and gilsim's real engine on this host.

The mechanism: each of the client's two GIL releases per round trip (around its send, and
around a recv that finds the answer already there) wakes the waiting CPU thread; the release
lasts A, the CPU thread takes W to run. The send's A is the signal + the call + (the peer
preempting its sender on their shared core) two switches and the peer's recv. W > A of the
send: the client is back first, keeps the GIL, and waits once, in its recv. W < A: the CPU
thread takes the GIL during the send; the client gets it back at the next forced switch and
calls recv at once, while the CPU thread that handed it over is still awake (W0, the wake-up
of a thread caught on its way to sleep): W0 < A of the recv loses the recv too, two
intervals; otherwise one, waited in the send. Standard library only."""
import os

LABEL = "peer 40 µs, 1 CPU, %s"  # the echo table's case whose real runs the table reuses
WORKLOAD = os.path.join("workloads", "validation", "echo-40us-cpu1.json")
PARKED_US = 5  # how long the CPU thread has slept when the send's release wakes it


def on_curve(curve, idle_us, column):
    """A column of a wake-up curve at idle_us: linear between points, flat beyond."""
    if idle_us <= curve[0][0]:
        return curve[0][column]
    for p0, p1 in zip(curve, curve[1:]):
        if idle_us <= p1[0]:
            return p0[column] + (idle_us - p0[0]) / (p1[0] - p0[0]) * (p1[column] - p0[column])
    return curve[-1][column]


def wake_us(m, idle_us):
    """The machine's mean wake-up latency onto a core idle for idle_us (as sim/machine.c)."""
    curve = m.get("wake_curve_us")
    if curve:
        return on_curve(curve, idle_us, 1)
    return m["wake_warm_us"] if idle_us <= m["idle_poll_us"] else m["wake_cold_us"]


def futex_us(m, idle_us):
    """What that wake-up costs the waker (the curve's third column when every point has it)."""
    curve = m.get("wake_curve_us")
    if curve and all(len(p) == 3 for p in curve):
        return on_curve(curve, idle_us, 2)
    return m["futex_wake_us"] if idle_us <= m["idle_poll_us"] else m["futex_wake_cold_us"]


def figures(m, interval_us):
    """(W, W0, A of the send, A of the recv) in µs for machine m's run.machine."""
    recv = futex_us(m, PARKED_US) + m.get("syscall_us", 0)
    send = recv
    if not m.get("peer_local", 0):  # the peer on a core of its own, idle for a round trip
        send += futex_us(m, interval_us)
    elif m.get("wakeup_preempt_us", 0) == 0:  # it preempts its sender: switch, recv, back
        send += 2 * m.get("ctx_switch_us", 0) + m.get("syscall_us", 0)
    return wake_us(m, PARKED_US), wake_us(m, 0), send, recv


def outcome(w, w0, send, recv):
    if w > send:
        return "the client is back from its send before the CPU thread runs: it keeps the " \
               "GIL and waits once per round trip, in its recv"
    if w0 > recv:
        return "the CPU thread takes the GIL during the send, not during the recv: one " \
               "interval per round trip, waited in the send"
    return "the CPU thread takes the GIL during the send and again during the recv: two " \
           "intervals per round trip"


class Regime:
    def __init__(self, nat, intervals, smoke, echo_sim):
        self.nat, self.intervals = nat, intervals[:1] if smoke else intervals
        self.smoke, self.echo_sim = smoke, echo_sim
        self.rows = []     # (name, what changes, --machine-set or None)
        self.results = {}  # (row name, interval) -> {"rate", "send_waited", "two"}
        self.machines = {}  # row name -> the run's effective machine (run.machine)

    def duration_s(self, iv):
        return 0.3 if self.smoke else max(2.0, 150 * iv / 1e6)

    def run_one(self, name, machine_set, iv):
        trace = os.path.join(self.nat.keep, "regime-%s-%d.json" % (name.split()[0], iv))
        tr = self.nat.gilsim_run(WORKLOAD, "new", iv, self.duration_s(iv), trace, True,
                                 machine_set)
        self.machines[name] = tr.run["machine"]
        self.results[(name, iv)] = self.echo_sim(tr, iv / 1000)

    def variants(self, m):
        """The host's machine and one-change variants of it, from its effective figures."""
        cold = wake_us(m, 10**7)
        w = wake_us(m, PARKED_US)
        return [
            ("this host", "the machine as calibrated" if self.nat.machine else
             "the built-in machine (the shipped calibration): no machine file was given", None),
            ("slow wake-up", "every wake-up %.1f µs, as onto a halted core" % cold,
             "wake_warm_us=%g,wake_cold_us=%g" % (cold, cold)),
            ("no quick wake-up", "two levels, every wake-up after a short idle %.1f µs: a "
             "thread caught on its way to sleep is no quicker" % w,
             "wake_warm_us=%g" % round(w, 2)),
            ("a peer that waits its turn", "`wakeup_preempt_us` = %g: the woken peer does not "
             "preempt its sender" % m.get("sched_tick_us", 4000),
             "wakeup_preempt_us=%g" % m.get("sched_tick_us", 4000)),
            ("the peer on a core of its own", "`peer_local=0`: the send also wakes the peer "
             "with an interrupt", "peer_local=0"),
        ]

    def run_all(self):
        first = self.intervals[0]
        self.run_one("this host", None, first)
        self.rows = self.variants(self.machines["this host"])
        for name, _, mset in self.rows:
            for iv in self.intervals:
                if (name, iv) not in self.results:
                    self.run_one(name, mset, iv)

    # -- the document

    def cell(self, r):
        if not r or r.get("rate") is None:
            return "–"

        def share(x):
            return "–" if x is None else "%.0f%%" % (100 * x)
        return "%.0f/s · %s · %s" % (r["rate"], share(r.get("send_waited")), share(r.get("two")))

    def measured_rows(self, w):
        """The real program and gilsim's real engine on this host (the echo table's runs)."""
        nat = self.nat
        wk = nat.wakeup
        host_w = next((p["p50_ns"] / 1e3 for p in wk["futex_wake"]
                       if p["idle_us"] == PARKED_US), None) if wk else None
        label = [LABEL % fmt_ms(iv) for iv in self.intervals]
        sends = [nat.med("echo", l, 0, "send_p50") for l in label]
        sends = sorted(x for x in sends if x is not None)
        for side, name in ((0, "the real program"), (1, "gilsim's real engine")):
            cells = [self.cell({k: nat.med("echo", l, side, k)
                                for k in ("rate", "send_waited", "two")}) for l in label]
            w("| %s, this host | %s | %s | %s |" % (
                name, "%.1f µs / – (gilsim-wakeup, slept %d µs)" % (host_w, PARKED_US)
                if host_w and side == 0 else "–",
                "`sendall` p50 %.1f µs" % (sends[len(sends) // 2] / 1e3)
                if sends and side == 0 else "–", " | ".join(cells)))

    def document(self, w):
        if not self.rows:
            return
        w("### The regime question: one interval or two per round trip")
        w("")
        w(INTRO)
        w("")
        w("| machine | W / W0: the woken CPU thread runs after | A: a send / a recv keeps the "
          "client away | " + " | ".join(fmt_ms(iv) for iv in self.intervals) + " |")
        w("|---|---|---|" + "---|" * len(self.intervals))
        self.measured_rows(w)
        first = self.intervals[0]
        for name, what, _ in self.rows:
            wu, w0, send, recv = figures(self.machines[name], first)
            w("| virtual: %s (%s) | %.1f µs / %.1f µs | %.1f / %.1f µs | %s |" % (
                name, what, wu, w0, send, recv,
                " | ".join(self.cell(self.results.get((name, iv))) for iv in self.intervals)))
        w("")
        wu, w0, send, recv = figures(self.machines["this host"], first)
        w("On %s W is %.1f µs, W0 %.1f µs, and A %.1f µs for a send, %.1f µs for a recv: %s."
          % ("this host's machine" if self.nat.machine else "the built-in machine", wu, w0,
             send, recv, outcome(wu, w0, send, recv)))
        real = median_of(self.nat.med("echo", LABEL % fmt_ms(iv), 0, "send_waited")
                         for iv in self.intervals)
        virt = [median_of(self.results.get((name, iv), {}).get("send_waited")
                          for iv in self.intervals) for name, _, _ in self.rows]
        if real is not None and None not in virt:
            w("Measured (medians over the intervals): the real client's `sendall` waited in "
              "%.0f%% of its round trips; on the virtual engine, %.0f%% on this host's machine "
              "and %.0f%% with the peer on a core of its own." % (
                  100 * real, 100 * virt[0], 100 * virt[-1]))
        w("")
        w(MECHANISM)
        w("")


def median_of(xs):
    xs = sorted(x for x in xs if x is not None)
    return xs[len(xs) // 2] if xs else None


def fmt_ms(iv):
    return "%g ms" % (iv / 1000)


INTRO = """\
The echo client with a peer answering after 40 µs, beside one pure-Python CPU thread, on the \
virtual engine: on this host's machine and on variants that each change one parameter, beside \
the real program and gilsim's real engine on this host (the echo table's runs). Each cell: \
round trips/s · the share of round trips whose send waited (half an interval or more) · the \
share that waited two intervals (1.5 intervals or more, as `echo_client.py` counts them). *W* \
is how long the CPU thread, parked a few µs earlier, takes to run once the client's release \
wakes it; *W0* the same for a thread woken as it goes to sleep (the machine's wake-up latency \
at an idle of 0: the calibration's sleeper caught before it left its core); *A* how long the \
client is away from the GIL in that release: the signal + the socket call, and for the send \
either two context switches and the peer's recv (the peer, woken on the sender's core, \
preempts it when wake-ups preempt at once: `wakeup_preempt_us` 0) or the peer's futex wake \
(the peer on a core of its own)."""

MECHANISM = """\
Every release of the GIL wakes the thread waiting for it, and the client releases twice per \
round trip: around its `sendall`, and around its `recv`. If the woken CPU thread runs before \
the client is back (W < A), it takes the GIL, and the client waits a whole interval for it. \
The send is long on this host: Linux queues the woken peer on the sender's own CPU \
(wake-affine; the scheduler trace shows `sched_waking` of the peer with the sender's CPU as \
its target), and on this kernel a woken thread preempts at once, so the peer runs inside the \
send (two switches and its recv; `gilsim-wakeup` measures such a send at several µs, above). \
Once the send is lost, the answer arrives during the interval, and the client gets the GIL \
back at the next forced switch: the CPU thread drops it on request, and the client, which \
went back to sleep a moment before, is woken before it has left its core and takes the GIL \
at once, while the CPU thread is still awake (W0). The client then calls `recv` at once, a \
release as short as a signal and a call, and the CPU thread takes the GIL again: two \
intervals per round trip. So two margins decide: W against the send's A, and W0 against the \
recv's A. Each variant moves one parameter: the slow wake-up raises W above the send's A (the \
client keeps the GIL through its send and waits once, in the recv, for the peer's answer); \
without quick wake-ups (two levels, no curve) W0 is W, above the recv's A (one interval, \
waited in the send); a peer that waits its turn (no preemption) leaves the send a signal and \
a call, under W (one interval, in the recv); the peer on a core of its own lengthens the send \
by a futex wake instead of two switches."""
