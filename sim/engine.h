/* sim/engine.h - the engine: runs a workload's threads under a GIL policy on one of two
 * backends (real pthreads on this machine with a calibrated tick, or simulated threads on a
 * modelled machine in virtual time), enforces the deadline, stops early when asked (eng_ctl)
 * or when no thread makes progress (the watchdog), and hands back every thread's recorded
 * events. It owns threads, time and events; the policy owns only its lock state. */
#ifndef GILSIM_ENGINE_H
#define GILSIM_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/err.h"
#include "machine.h"
#include "policy.h"
#include "../common/trace_events.h"
#include "wl.h"

#define ENG_DEFAULT_STALL_NS (10ll * 1000000000) /* the watchdog's default: 10 s */

/* Lets another thread stop a run (the CLI's signal thread): thread-safe, may be called before,
 * during or after eng_run. */
struct eng_ctl;
int eng_ctl_new(struct eng_ctl **out); /* 0 or an errno value */
void eng_ctl_free(struct eng_ctl *c);
/* reason (static storage) becomes the trace's stop_reason, e.g. "sigint"; the first one wins. */
void eng_ctl_stop(struct eng_ctl *c, const char *reason);

enum eng_kind {
    ENG_REAL,    /* real pthreads on this machine (the default) */
    ENG_VIRTUAL, /* simulated threads on a modelled machine, in virtual time */
};

struct eng_options {
    const struct wl_workload *wl;
    enum eng_kind engine;
    const struct machine *machine; /* ENG_VIRTUAL: the modelled machine */
    const struct gil_policy *policy;
    const struct gil_params *params;
    int64_t duration_ns; /* 0: the workload's duration_ms */
    uint64_t seed;
    uint32_t max_events;     /* per thread; 0: default (eng_default_max_events) */
    unsigned iters_per_tick; /* 0: calibrate at start-up; else this tick length (benchmarks
                                compare runs doing identical work) */
    bool no_trace;           /* record nothing and read no clock for it (benchmarks: the cost
                                of tracing); events_dropped then counts the events that
                                tracing would have recorded */
    /* Watchdog: stop with stop_reason "stalled" when no thread has made progress (an event, a
     * chunk of work) for this long and none is in a planned wait (io, sleep, arrival, start).
     * Also how long, after the stop, the engine waits for a thread that does not end before
     * giving up on it. 0: ENG_DEFAULT_STALL_NS; < 0: off (and wait for ever). */
    int64_t stall_timeout_ns;
    struct eng_ctl *ctl; /* NULL: none */
};

struct eng_thread_result {
    int tid;
    char name[80];
    const char *group;
    const struct trace_event *events; /* in time order */
    uint32_t nevents;
    uint64_t dropped;
    uint64_t ticks;
    uint64_t acquisitions;
    uint64_t switches; /* acquisitions right after another thread's */
};

/* The real engine's look at the host before and after a run (never during it): what
 * analysis/disturb.c judges a run by (docs/trace-format.md, run.calibration and run.host_load).
 * measured is false for the virtual engine, which no host can disturb. */
struct eng_host_check {
    bool measured;
    double ns_per_tick_end;            /* the tick re-measured after the run, on the CPU clock */
    double load_start[3], load_end[3]; /* the load averages (1, 5, 15 min); NAN: unreadable */
    int64_t queue_wait_ns, on_cpu_ns;  /* the workload threads' run-queue wait and CPU time
                                          between their start gate and their end (schedstat);
                                          -1: unreadable */
    unsigned threads_measured;         /* the threads they cover */
    int64_t cpus_busy_ns, self_cpu_ns; /* the run's CPUs' busy time (/proc/stat) and this
                                          process's CPU time over the run; -1: unreadable */
    unsigned cpus;                     /* the CPUs the run could use */
};

struct eng_result {
    const char *engine; /* "real" or "virtual" */
    char start_utc[32]; /* ISO 8601, UTC */
    int64_t duration_ns;
    int64_t stop_ns; /* when the run was told to stop, ns since start (-1: never) */
    int64_t elapsed_ns;
    /* "finished", "deadline", "stalled" (the watchdog) or the eng_ctl_stop reason */
    const char *stop_reason;
    bool interrupted;   /* ended by eng_ctl_stop, the watchdog or threads given up on: partial */
    unsigned abandoned; /* threads that did not stop; their memory is left to them */
    char *report;       /* watchdog and given-up threads: text for the user; NULL if none */
    int64_t stall_timeout_ns;
    unsigned tick_ns_target;
    unsigned iters_per_tick;
    double ns_per_tick; /* measured */
    uint32_t max_events;
    unsigned nthreads;
    struct eng_thread_result *threads;
    uint64_t total_ticks, acquisitions, switches, events, events_dropped;
    int64_t setup_ns;     /* event buffers, policy thread set-up and thread creation, until t = 0 */
    uint64_t virt_events; /* virtual engine: events the scheduler processed */
    struct eng_host_check host;
};

/* Per-thread event buffer size used when max_events is 0: about 32M events in all. */
uint32_t eng_default_max_events(unsigned nthreads);

/* Runs the workload to its end, its deadline, a stop request or a stall. ERR_RUNTIME when the
 * machine fails us (threads, memory); options are assumed validated by the caller. When some
 * thread does not stop (res->abandoned > 0), the engine's state is left to it, never freed:
 * the caller should end the process soon. */
int eng_run(const struct eng_options *o, struct eng_result **out, struct err *e);
void eng_result_free(struct eng_result *r);

/* What the trace's run object says of the engine that ran with options o beyond the keys every
 * engine shares (the virtual engine: its machine); adds to `run`. */
void eng_describe_run(const struct eng_options *o, json_t *run);

/* Benchmarks: n ticks of the calibrated busy work with no check points at all (the raw
 * baseline of the tick loop). Returns the work's value so that it cannot be optimized away. */
uint64_t eng_bare_ticks(unsigned iters_per_tick, uint64_t n);

#endif
