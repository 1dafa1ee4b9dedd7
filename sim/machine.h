/* sim/machine.h - the modelled machine of the virtual-time engine: how many cores, how long a
 * wake-up takes, how the OS shares cores among more runnable threads than there are, how late
 * timers fire, what a futex wake costs its caller. Read from a gilsim-machine JSON file
 * (docs/virtual.md, docs/machine.schema.json) or the built-in defaults, and overridden with
 * --machine-set name=value,... Every parameter is in MACH_PARAM_TABLE. */
#ifndef GILSIM_MACHINE_H
#define GILSIM_MACHINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/err.h"

#define MACH_MAX_CORES     1024
#define MACH_MAX_CURVE     24 /* points of a wake-up curve (and of its distributions) */
#define MACH_MAX_QUANTILES 32 /* probabilities of a wake-up distribution */

/* X(field, kind, "unit", min, max, drops, "doc"): every parameter, its name, its field in
 * struct mach_model and how it gets there follow from this one table.
 *   kind: US, a time in microseconds in files and on the command line (fractions allowed),
 *         named "<field>_us" there and <field>_ns (int64_t) in the model; COUNT, an integer,
 *         "<field>", unsigned in the model; FLAG, 0 or 1, "<field>", bool; FRACTION, "<field>",
 *         double.
 *   drops: what setting it by name (--machine-set, or a machine file without a curve of its
 *         own) takes from the machine it changes: NONE, CURVE (the wake-up curve and its
 *         distributions: the two-level model asked for by name replaces them), SIGNAL (the
 *         curve's signal costs, and their distributions) or DIST (the distributions: a jitter
 *         asked for by name replaces them).
 * There are no default values here: the default machine is the development VM's shipped
 * calibration, workloads/machines/vm-2cpu.json, compiled in at build time (mach_defaults). */
#define MACH_PARAM_TABLE(X)                                                                        \
    X(cores, COUNT, "cores", 1, MACH_MAX_CORES, NONE,                                              \
      "simulated cores (each runs one thread at a time)")                                          \
    X(wake_warm, US, "us", 0, 1e6, CURVE,                                                          \
      "wake-up latency onto a core that went idle less than idle_poll_us ago (still polling)")     \
    X(wake_cold, US, "us", 0, 1e6, CURVE,                                                          \
      "wake-up latency onto a core idle for longer (halted: an interrupt must wake it)")           \
    X(idle_poll, US, "us", 0, 1e7, CURVE, "how long an idle core keeps polling before it halts")   \
    X(wake_jitter, FRACTION, "fraction", 0, 1, DIST,                                               \
      "each wake-up latency is drawn uniformly within +-this fraction of its mean (unless the "    \
      "machine has measured distributions, wake_dist_us)")                                         \
    X(futex_wake, US, "us", 0, 1e6, SIGNAL,                                                        \
      "CPU time a wake-up costs the thread that calls it (a condition signal or an unlock that "   \
      "wakes a waiter) when the woken thread's core still polls")                                  \
    X(futex_wake_cold, US, "us", 0, 1e6, SIGNAL,                                                   \
      "the same when that core has halted (an interrupt to send: in a VM, an exit)")               \
    X(syscall, US, "us", 0, 1e6, NONE,                                                             \
      "CPU time of a short socket call (a send, or a recv that finds its answer there), besides "  \
      "any wake-up it causes")                                                                     \
    X(peer_local, FLAG, "0/1", 0, 1, NONE,                                                         \
      "1: a peer woken by a send runs on the sender's core (Linux's wake-affine choice): inside "  \
      "the send when wake-ups preempt the sender (wakeup_preempt_us), else once it blocks; 0: on " \
      "a core of its own, after a wake-up latency, and the send also pays the futex wake")         \
    X(clock_read, US, "us", 0, 1e3, NONE,                                                          \
      "CPU time of one clock read (every recorded event and policy clock read costs one)")         \
    X(lock, US, "us", 0, 1e3, NONE,                                                                \
      "CPU time of an uncontended lock or unlock of a mutex (a policy's own code is otherwise "    \
      "free)")                                                                                     \
    X(ctx_switch, US, "us", 0, 1e6, NONE,                                                          \
      "a core switching from one runnable thread to another (preemption, run-queue hand-over)")    \
    X(timer_slack, US, "us", 0, 1e6, NONE,                                                         \
      "timed waits, sleeps and I/O timeouts fire this long after their deadline (Linux's timer "   \
      "slack)")                                                                                    \
    X(sched_tick, US, "us", 1, 1e7, NONE,                                                          \
      "the scheduler tick: a thread is preempted for a waiting one only at a tick (CONFIG_HZ)")    \
    X(sched_slice, US, "us", 0, 1e7, NONE,                                                         \
      "a thread runs at least this long before a tick preempts it for a waiting thread")           \
    X(wakeup_preempt, US, "us", 0, 1e7, NONE,                                                      \
      "a woken thread with no idle core preempts the one on its previous core if that one has "    \
      "run at least this long (CFS's wake-up granularity)")

#define MACH_X_ENUM(field, kind, unit, min, max, drops, doc) MACH_##field,
enum mach_param { MACH_PARAM_TABLE(MACH_X_ENUM) MACH_NPARAMS };
#undef MACH_X_ENUM

/* What follows from a parameter's kind: its name in files, whether it is an integer, its field
 * in struct mach_model. */
#define MACH_NAME_US(field)        #field "_us"
#define MACH_NAME_COUNT(field)     #field
#define MACH_NAME_FLAG(field)      #field
#define MACH_NAME_FRACTION(field)  #field
#define MACH_INTEGER_US            false
#define MACH_INTEGER_COUNT         true
#define MACH_INTEGER_FLAG          true
#define MACH_INTEGER_FRACTION      false
#define MACH_FIELD_US(field)       int64_t field##_ns;
#define MACH_FIELD_COUNT(field)    unsigned field;
#define MACH_FIELD_FLAG(field)     bool field;
#define MACH_FIELD_FRACTION(field) double field;

enum mach_drops { MACH_DROPS_NONE, MACH_DROPS_CURVE, MACH_DROPS_SIGNAL, MACH_DROPS_DIST };

struct mach_param_desc {
    const char *name, *unit;
    double min, max;
    bool integer;
    enum mach_drops drops;
    const char *doc;
};
extern const struct mach_param_desc mach_params[MACH_NPARAMS];

/* A machine: every parameter's value in its table unit, and where the values came from. An
 * optional wake-up curve (a machine file's "wake_curve_us": [[idle_us, wake_us], ...], idle
 * ascending) gives the wake-up latency against how long the core was idle, interpolated
 * linearly and flat beyond its ends, instead of wake_warm_us / wake_cold_us; setting a
 * parameter that drops CURVE (those two, idle_poll_us) with --machine-set drops the curve.
 * Points may carry a third number, [idle_us, wake_us, signal_us]: what the wake-up cost the
 * waker (cheap when the sleeper had not yet left its core); when every point has it, it
 * replaces futex_wake_us / futex_wake_cold_us, and setting one of those (drops SIGNAL) drops
 * it. A machine with a curve may also have the measured distributions of the wake-up
 * (struct mach_dist): then each wake-up is drawn from them instead of the curve's median
 * with +-wake_jitter. */
struct mach_dist {
    double p[MACH_MAX_QUANTILES]; /* the probabilities, ascending from 0 to 1 */
    unsigned np;
    unsigned npoints; /* 0: no distributions */
    double idle[MACH_MAX_CURVE];
    /* at each idle time, the quantiles at p of the latency and of the waker's cost (in us in
     * struct machine, as the file gives them; in ns in struct mach_model) */
    double wake[MACH_MAX_CURVE][MACH_MAX_QUANTILES], signal[MACH_MAX_CURVE][MACH_MAX_QUANTILES];
    bool has_signal; /* every point has the waker's cost */
};

struct machine {
    double v[MACH_NPARAMS];
    double curve[MACH_MAX_CURVE][3]; /* idle, wake, signal (NAN: not given) */
    unsigned ncurve;
    bool curve_signal;     /* every point has its signal cost */
    struct mach_dist dist; /* "wake_dist_us" (npoints 0: none) */
    char name[65];         /* the file's "name" */
    char source[256];      /* the file path; the built-in machine: "built in (its path)" */
    bool builtin;          /* the built-in machine, perhaps changed by --machine-set */
};

/* The same in the engine's units (ns, counts), derived once per run: one field per parameter
 * (MACH_FIELD_<kind>: wake_warm_ns, cores, peer_local, ...), then the curve. */
#define MACH_X_FIELD(field, kind, unit, min, max, drops, doc) MACH_FIELD_##kind(field)
struct mach_model {
    MACH_PARAM_TABLE(MACH_X_FIELD)
    int64_t curve_idle_ns[MACH_MAX_CURVE], curve_wake_ns[MACH_MAX_CURVE],
        curve_signal_ns[MACH_MAX_CURVE];
    unsigned ncurve;
    bool curve_signal;
    struct mach_dist dist; /* in ns; npoints 0: none */
};
#undef MACH_X_FIELD

/* The mean wake-up latency onto a core idle for idle_ns, and what the wake costs its caller. */
int64_t mach_wake_latency(const struct mach_model *m, int64_t idle_ns);
int64_t mach_wake_cost(const struct mach_model *m, int64_t idle_ns);

/* ---- the distributions (sim/machine_dist.c) ---- */

/* A wake-up drawn from the distributions (m->dist.npoints > 0) at quantile u in [0, 1): its
 * latency and what it costs the waker, at the same quantile (a sleeper caught on its way to
 * sleep is both quick to wake and cheap for its waker); linear between probabilities and
 * between idle times, flat beyond the idle ends. Without the waker's cost (has_signal false)
 * the cost is mach_wake_cost's. */
void mach_wake_draw(const struct mach_model *m, int64_t idle_ns, double u, int64_t *latency,
                    int64_t *cost);
/* The quantile q of point i's latency (signal: of the waker's cost), in the distribution's
 * unit. */
double mach_dist_quantile(const struct mach_dist *d, unsigned i, bool signal, double q);
/* {"p": [...], "points": [{"idle_us", "wake_us", "signal_us"}, ...]}: a machine file's
 * params.wake_dist_us, from the distributions in us. */
json_t *mach_dist_json(const struct mach_dist *d);

/* The built-in machine: the development VM's calibration (workloads/machines/vm-2cpu.json,
 * compiled in by CMakeLists.txt), the machine of a virtual run without --machine. */
void mach_defaults(struct machine *m);
/* Reads a gilsim-machine file over m's values: keys it does not name keep theirs, as with
 * --machine-set; a file without a wake-up curve of its own that sets a parameter the curve
 * replaces (drops CURVE or SIGNAL) drops m's curve (or its signal costs). ERR_INPUT with
 * file:line:col on errors. */
int mach_load(struct machine *m, const char *path, struct err *e);
/* This host's own calibration, which tools/calibrate keeps besides the file it is asked to
 * write: <dir>/<host id>.json, dir being $GILSIM_MACHINES_DIR, else
 * $XDG_DATA_HOME/gilsim/machines, else ~/.local/share/gilsim/machines. mach_host_calibration_path
 * gives that path (ERR_RUNTIME when no directory can be named); mach_host_calibrated whether a
 * file is there. */
int mach_host_calibration_path(char *buf, size_t size, struct err *e);
bool mach_host_calibrated(char *path, size_t size);

/* "name=value[,name=value...]": ERR_INPUT naming the option, the parameter and the range. */
int mach_set(struct machine *m, const char *assignments, struct err *e);
void mach_model_of(const struct machine *m, struct mach_model *out);
/* {"name": ..., "source": ..., "<param>": value, ...}: the trace's run.machine. */
json_t *mach_to_json(const struct machine *m);

#endif
