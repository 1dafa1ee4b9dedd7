/* analysis/model.h - `gilsim model`: a workload file derived from a trace (a recording, or any
 * gilsim trace), meant to be read, edited and replayed under every policy (docs/record.md,
 * "The model"). Per thread: its GIL-held stretches as `cpu`, its blocking calls as `io`,
 * `send`, `sleep` and `native`, repeating patterns as loops, varying I/O latencies as
 * distributions; alike threads of one group as one group with a count.
 *
 *   model_ops.c  the trace's events into each thread's ops (one pass, trace_scan)
 *   model.c      loops, distributions, groups, the workload file */
#ifndef GILSIM_MODEL_H
#define GILSIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

struct model_options {
    /* µs taken off each measured I/O: the engines add the kernel's timer slack to every wait
     * they make (docs/workload-format.md), so an I/O measured at D µs is asked as D - slack */
    double slack_us;
    /* a thread whose life ends within this share of the run's end keeps its last pattern
     * going until the run ends (a rate, not a count) */
    double end_share;
    /* keep every loop's count instead (a program that does a fixed amount of work) */
    bool counts;
};
#define MODEL_DEFAULT_SLACK_US  50.0
#define MODEL_DEFAULT_END_SHARE 0.05

/* ---- a thread's ops (model_ops.c) ----------------------------------------------------------- */

enum model_kind { MK_CPU, MK_IO, MK_SEND, MK_SLEEP, MK_NATIVE, MK_HOLD, MK_PEER_IO, MK_COUNT };

struct model_op {
    int64_t t; /* when it began, ns since the run's start */
    double us; /* how long: held, blocked, asked for (sleep), or the peer's latency */
    uint8_t kind;
    uint8_t lock; /* a sleep that stands for a lock wait (a release with reason lock) */
};

struct model_thread {
    int tid;
    char *name, *group;
    int64_t start_ns, end_ns; /* thread_start .. thread_exit (or its last event) */
    bool started, ended, ever_held;
    struct model_op *ops;
    size_t n, cap;
};

struct model_trace {
    char *path;
    char *workload, *policy, *command, *start_utc; /* from run, "" when absent */
    double interval_us;                            /* run.params.interval_us, 0 when absent */
    int64_t window_ns;
    bool complete;
    struct model_thread *threads;
    size_t nthreads;
    uint64_t lock_waits; /* lock waits written as sleeps */
};

/* Reads the trace at path into each thread's ops. ERR_INPUT when it is not a readable trace. */
int model_read_trace(const char *path, const struct model_options *o, struct model_trace **out,
                     struct err *e);
void model_trace_free(struct model_trace *m);

/* ---- the workload (model.c) ----------------------------------------------------------------- */

/* Writes the workload file derived from m to f. */
int model_write_workload(FILE *f, const struct model_trace *m, const struct model_options *o,
                         struct err *e);

#endif
