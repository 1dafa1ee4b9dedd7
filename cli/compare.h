/* cli/compare.h - what the parts of `gilsim compare` share (private to them):
 *   cli/compare.c       the command: options, then plan, run, write in that order
 *   cli/compare_plan.c  the columns (policies x --set values) and the list of runs
 *   cli/compare_run.c   the child processes (`gilsim run`, or tools/pyrun for `cpython`) and
 *                       reading each trace back
 *   cli/compare_dir.c   the output directory: path checks, its lock, what it may replace
 *   cli/compare_out.c   aggregation, and the table, CSV and JSON in the directory and on stdout */
#ifndef GILSIM_COMPARE_H
#define GILSIM_COMPARE_H

#include <jansson.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "cli/cli.h"
#include "sim/policy.h"
#include "sim/wl.h"

#define COMPARE_MAX_VALUES   32  /* values of one --set */
#define COMPARE_MAX_POLICIES 16  /* entries of --policies */
#define COMPARE_MAX_COLUMNS  256 /* configurations, the extra baseline included */

/* ---- the metrics of the table -------------------------------------------------------------- */

enum unit { U_RATE, U_NS, U_RATIO, U_FRACTION };

/* key (csv column, json key), label (table row), JSON path in the summary (NULL: computed). */
#define KEY_METRICS(X)                                                                             \
    X(TICKS_PER_S, "ticks_per_s", "ticks/s", "run.ticks_per_s", U_RATE)                            \
    X(IO_PER_S, "io_per_s", "I/O ops/s", "run.io_per_s", U_RATE)                                   \
    X(CONVOY_FACTOR, "convoy_factor", "convoy factor", NULL, U_RATIO)                              \
    X(IO_RESPONSE_P50, "io_response_p50_ns", "I/O response p50", "run.io_response.p50_ns", U_NS)   \
    X(IO_RESPONSE_P99, "io_response_p99_ns", "I/O response p99", "run.io_response.p99_ns", U_NS)   \
    X(GIL_WAIT_P50, "gil_wait_p50_ns", "GIL wait p50", "run.gil_wait.p50_ns", U_NS)                \
    X(GIL_WAIT_P99, "gil_wait_p99_ns", "GIL wait p99", "run.gil_wait.p99_ns", U_NS)                \
    X(SLICE_P50, "slice_p50_ns", "slice p50", "run.slice.p50_ns", U_NS)                            \
    X(HANDOFF_GAP_P50, "handoff_gap_p50_ns", "hand-off gap p50", "run.handoff_gap.p50_ns", U_NS)   \
    X(SLEEP_OVERSHOOT_P50, "sleep_overshoot_p50_ns", "sleep overshoot p50",                        \
      "run.sleep_overshoot.p50_ns", U_NS)                                                          \
    X(REQUEST_P50, "request_latency_p50_ns", "request latency p50", "run.request_latency.p50_ns",  \
      U_NS)                                                                                        \
    X(REQUEST_P99, "request_latency_p99_ns", "request latency p99", "run.request_latency.p99_ns",  \
      U_NS)                                                                                        \
    X(REQUESTS_PER_S, "requests_per_s", "requests/s", "run.requests_per_s", U_RATE)                \
    X(SWITCHES_PER_S, "switches_per_s", "switches/s", "run.switches", U_RATE)                      \
    X(FORCED_PER_S, "forced_switches_per_s", "forced switches/s", "run.forced_switches", U_RATE)   \
    X(FAILED_WAKEUPS_PER_S, "failed_wakeups_per_s", "failed wakeups/s", "run.failed_wakeups",      \
      U_RATE)                                                                                      \
    X(GIL_BUSY, "gil_busy", "GIL busy", "run.gil_busy", U_FRACTION)                                \
    X(GIL_IDLE_WAITING, "gil_idle_with_waiters", "GIL idle, waiters", "run.gil_idle_with_waiters", \
      U_FRACTION)                                                                                  \
    X(JAIN, "fairness_jain", "fairness (Jain)", "run.fairness.jain", U_RATIO)

#define X_ENUM(e, key, label, path, unit) KM_##e,
enum km { KEY_METRICS(X_ENUM) NKM };
#undef X_ENUM

struct key_metric {
    const char *key, *label, *path;
    enum unit unit;
};
extern const struct key_metric compare_metrics[NKM];

/* ---- columns and runs ---------------------------------------------------------------------- */

/* What a column runs: a simulator policy, or the pseudo-policy `cpython` (real interpreter
 * threads, tools/pyrun), which has parameters of its own but no hooks. */
struct subject {
    const char *name;
    const struct gil_param *params;
    const struct gil_policy *policy; /* NULL: cpython */
};

struct set_opt {
    char name[64];
    char *values[COMPARE_MAX_VALUES]; /* point into a copy of the option */
    unsigned nvalues;
    char *copy;
};

struct config {
    struct subject subj;
    char *assign[CLI_MAX_SETS]; /* "name=value" for the parameters this subject has */
    unsigned nassign;
    char label[256];
    char file_stem[256];
    bool baseline_only; /* the extra lock-free run for the convoy factor */
};

/* The top blocker of a run: the cell of the wait attribution (docs/metrics.md) with the most
 * time behind another thread, and its share of that waiter's wait. holder[0] == 0: no thread
 * waited behind another. */
struct blocker {
    char holder[64], waiter[64];
    int64_t ns;
    double share;
};

struct run {
    struct config *cfg;
    unsigned repeat;
    char trace[512]; /* relative to the directory */
    int status;      /* exit status of the child; -1 not run */
    double value[NKM];
    struct blocker top;
};

struct compare {
    /* what was asked for */
    const char *workload_path;
    struct wl_workload *wl;
    const char *dir;
    bool force; /* replace an earlier compare in dir */
    uint64_t duration_ms, seed, repeat;
    const char *format;
    struct set_opt sets[CLI_MAX_SETS];
    unsigned nsets;
    /* the plan */
    struct config *configs;
    size_t nconfigs;
    struct run *runs;
    size_t nruns;
    char dir_buf[512];
    int lock_fd;           /* dir's lock, held until exit (-1: none) */
    char exe[PATH_MAX];    /* this gilsim, for the child runs */
    char python[PATH_MAX]; /* for cpython columns */
    char pyrun[PATH_MAX];
    /* while running */
    _Atomic pid_t child;   /* the run in progress, 0 between runs */
    _Atomic int interrupt; /* SIGINT/SIGTERM taken: finish with what has run */
    unsigned failed;
    size_t not_run;
    /* results */
    json_t *notes;
    json_t *host;
    bool cpython_noted;
    double baseline_io_per_s;
    bool baseline_requested;
    const char *baseline_name; /* the lock-free policy the convoy factor divides by */
    char created[32];          /* UTC, when the runs ended */
};

/* compare_plan.c */
int compare_parse_set(struct compare *c, const char *arg, struct err *e);
int compare_plan_columns(struct compare *c, const char *policies, struct err *e);
int compare_plan_runs(struct compare *c, struct err *e);

/* compare_run.c: every run of the plan in turn (until a signal); failures are counted in
 * c->failed and reported on stderr, not returned. */
int compare_find_pyrun(struct compare *c, struct err *e);
int compare_run_all(struct compare *c, struct err *e);

/* compare_dir.c: the default directory name; every path checked before anything is made; the
 * directory claimed (locked, and refused when it holds something else, unless --force). */
int compare_choose_dir(struct compare *c, struct err *e);
int compare_check_paths(const struct compare *c, struct err *e);
int compare_claim_dir(struct compare *c, struct err *e);
/* The summary kept beside a trace: NAME.json -> NAME.summary.json. */
void compare_summary_name(const char *trace, char *buf, size_t size);

/* compare_out.c */
void compare_convoy_factors(struct compare *c);
int compare_write_outputs(struct compare *c, struct err *e);

#endif
