/* cli/compare.h - what the parts of `gilsim compare` share (private to them):
 *   cli/compare.c          the command: options, then one of its modes (run a sweep, --plan,
 *                          --run, --collect)
 *   cli/compare_plan.c     the cells (policies x engines x --set values x --var values) and
 *                          the list of runs
 *   cli/compare_planfile.c DIR/plan.json: every run with its command line; written by the
 *                          plan, read back by --run and --collect
 *   cli/compare_run.c      one run of the plan (--run): the child (`gilsim run`, or
 *                          tools/pyrun for `cpython`), its trace read back, its result file
 *   cli/compare_jobs.c     running a plan on this machine: N runs at once (--jobs), each a
 *                          child `gilsim compare --run`, real runs alone or pinned to cores
 *   cli/compare_collect.c  reading the results of the runs that finished
 *   cli/compare_dir.c      the output directory: path checks, its lock, what it may replace
 *   cli/compare_out.c      aggregation, the table (or one row per cell), CSV and JSON */
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
#include "sim/engine.h"
#include "sim/policy.h"
#include "sim/wl.h"

#define COMPARE_MAX_VALUES   64   /* values of one --set or --var */
#define COMPARE_MAX_POLICIES 16   /* entries of --policies */
#define COMPARE_MAX_CELLS    4096 /* configurations, the extra baselines included */
#define COMPARE_MAX_RUNS     100000
#define COMPARE_TABLE_CELLS  8 /* more cells than this: one row per cell, not a column */

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

/* One --set or --var option: NAME=V1,V2,... */
struct cmp_list {
    char name[64];
    char *values[COMPARE_MAX_VALUES]; /* point into a copy of the option */
    unsigned nvalues;
    char *copy;
};

/* Every --set (at most CLI_MAX_SETS) or every --var (at most WL_MAX_VARS), each name once. */
struct cmp_lists {
    struct cmp_list l[WL_MAX_VARS > CLI_MAX_SETS ? WL_MAX_VARS : CLI_MAX_SETS];
    unsigned n;
};

enum cmp_format { CMP_FORMAT_TABLE, CMP_FORMAT_CSV, CMP_FORMAT_JSON };

/* One cell of the sweep. */
struct config {
    struct subject subj;
    enum eng_kind engine;
    char *assign[CLI_MAX_SETS]; /* "name=value" for the parameters this subject has */
    unsigned nassign;
    char *vars[WL_MAX_VARS]; /* "name=value" for every --var */
    unsigned nvars;
    char label[512];
    char file_stem[512];
    bool baseline_only;            /* an extra lock-free run for the convoy factor */
    const struct config *baseline; /* the cell whose I/O rate the convoy factor divides by */
    double baseline_io_per_s;      /* its median (compare_convoy_factors) */
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
    char trace[600]; /* relative to the directory */
    int status;      /* exit status of the child; -1 not run (or not finished) */
    double value[NKM];
    struct blocker top;
};

struct compare {
    /* what was asked for: the options that make the plan (kept in the plan file) */
    const char *workload_path;
    struct wl_workload *wl;      /* with its default variables */
    char workload_abs[PATH_MAX]; /* what child runs and the plan use */
    char machine_abs[PATH_MAX];
    uint64_t duration_ms, seed, repeat;
    struct cmp_lists sets, vars;
    struct cli_choices engines; /* enum eng_kind values */
    const char *machine;
    struct cli_list machine_sets;
    const char *policies;
    /* how: not part of the plan */
    const char *dir;
    bool force;  /* replace an earlier compare in dir */
    int lock_fd; /* dir's lock, held until exit (-1: none) */
    int format;  /* enum cmp_format */
    unsigned jobs, cpus_per_run;
    /* the plan */
    unsigned (*combos)[WL_MAX_VARS]; /* every combination of --var values (value indices) */
    size_t ncombos;
    bool engine_in_names; /* not a real-only sweep: labels and file names say the engine */
    struct config *configs;
    size_t nconfigs, cap_configs;
    struct run *runs;
    size_t nruns;
    char dir_buf[512];
    char exe[PATH_MAX];    /* this gilsim, for the child runs */
    char python[PATH_MAX]; /* for cpython columns */
    char pyrun[PATH_MAX];
    /* while running */
    _Atomic int interrupt; /* SIGINT/SIGTERM taken: finish with what has run */
    unsigned failed;
    size_t not_run;
    /* results */
    json_t *notes;
    json_t *host;
    bool cpython_noted;
    bool baseline_requested;
    const char *baseline_name; /* the lock-free policy the convoy factor divides by */
    char created[32];          /* UTC, when the runs ended */
};

/* compare_plan.c: the plan from the options. */
int compare_plan_columns(struct compare *c, const char *policies, struct err *e);
int compare_plan_runs(struct compare *c, struct err *e);

/* compare_planfile.c: DIR/plan.json. compare_plan_argv gives the options that rebuild the plan
 * (absolute paths), as a JSON array of strings. */
json_t *compare_plan_argv(const struct compare *c);
int compare_write_plan(const struct compare *c, struct err *e);
/* DIR/plan.json into *plan; its "options" (the workload first) rebuild the plan. ERR_INPUT
 * when DIR holds no plan. compare_check_plan: the rebuilt runs are the ones it lists. */
int compare_read_plan(const char *dir, json_t **plan, struct err *e);
int compare_check_plan(const struct compare *c, json_t *plan, struct err *e);
/* One cell as the plan and the index describe it. */
json_t *compare_cell_json(const struct compare *c, const struct config *cfg);

/* compare_run.c: one run of the plan (`--run DIR --index I`): the child, its trace moved into
 * DIR only when it succeeded, its summary and result file. Returns the exit status for the
 * run: 0, the child's status, or 128 + a signal. cpus: the cores to pin it to (NULL: any). */
int compare_find_pyrun(struct compare *c, struct err *e);
int compare_run_one(struct compare *c, size_t index, const char *cpus, struct err *e);
/* The names kept beside a trace in DIR: NAME.json -> NAME.summary.json, NAME.result.json. */
void compare_file_beside(const char *trace, const char *suffix, char *buf, size_t size);
/* The child's command line: what the plan lists and --run runs (output: DIR/.partial/NAME). */
json_t *compare_child_argv(const struct compare *c, const struct run *r, const char *dir);

/* compare_jobs.c: every run of the plan not finished yet, on this machine: c->jobs at a time
 * (real runs alone, or pinned to c->cpus_per_run cores each), each a child
 * `gilsim compare --run DIR --index I`; a progress line on a terminal. */
int compare_run_jobs(struct compare *c, struct err *e);

/* compare_collect.c: the result of every finished run into c->runs; status -1 for the runs
 * that have not finished; c->failed counts the failed ones, c->not_run the missing ones. */
int compare_collect(struct compare *c, struct err *e);
/* Whether run i has a result with status 0. */
bool compare_run_done(const struct compare *c, size_t i);

/* compare_dir.c: the default directory name; every path checked before anything is made; the
 * directory claimed by a sweep or a plan (locked, refused when it holds something else,
 * unless --force) or locked by --collect; DIR/.partial, made and checked by --run. */
int compare_choose_dir(struct compare *c, struct err *e);
int compare_check_paths(const struct compare *c, struct err *e);
int compare_claim_dir(struct compare *c, struct err *e);
int compare_lock_dir(struct compare *c, struct err *e);
int compare_partial_dir(const struct compare *c, char *buf, size_t size, struct err *e);

/* compare_out.c */
void compare_convoy_factors(struct compare *c);
int compare_write_outputs(struct compare *c, struct err *e);

#endif
