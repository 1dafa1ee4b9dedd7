/* cli/compare.h - what the parts of `gilsim compare` share (private to them).
 *
 * Three records, each made in one place and passed where it is needed (const where only read):
 *   struct cmp_request  what was asked: the options that make the plan (cli/compare.c fills it
 *                       from the command line; --run and --collect from DIR/plan.json's options)
 *   struct cmp_plan     made from a request by compare_plan.c, never changed after: the cells,
 *                       the runs, every path (workload, machine, directory, the binaries)
 *   struct cmp_results  what the runs left: each run's status, key metrics and top blocker,
 *                       the convoy factors, the notes of the collect (compare_results.c fills
 *                       it, compare_out.c adds the convoy factors)
 *
 * The files form a line: each calls only files below it.
 *   cli/compare.c          the command: its options into a request, then one mode: a sweep here
 *                          (plan, runs, collect), --plan, --run, --collect
 *   cli/compare_jobs.c     a plan on this machine: N runs at once (--jobs), each a child
 *                          `gilsim compare --run`, real runs alone or pinned to cores
 *   cli/compare_run.c      one run of the plan (--run): the child (`gilsim run`, or
 *                          tools/pyrun for `cpython`), its trace read back, its result file
 *   cli/compare_out.c      the table (or one row per cell), CSV and JSON
 *   cli/compare_agg.c      a cell's aggregates over its runs: median, confidence interval, the
 *                          test against the reference cell (analysis/stats.h); the runs that
 *                          count (disturbed ones left out); the convoy factors
 *   cli/compare_results.c  the key metrics; NAME.result.json read back: which runs finished,
 *                          and every result into a struct cmp_results (--collect)
 *   cli/compare_dir.c      the output directory: path checks, its lock, what it may replace
 *   cli/compare_planfile.c DIR/plan.json: written by the plan, read back by --run and --collect
 *   cli/compare_plan.c     the plan from a request: the cells (policies x engines x --set values
 *                          x --var values), the runs, their names and command lines, the paths */
#ifndef GILSIM_COMPARE_H
#define GILSIM_COMPARE_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "sim/engine.h"
#include "sim/policy.h"
#include "sim/wl.h"

#define CMP_MAX_VALUES   64   /* values of one --set or --var */
#define CMP_MAX_POLICIES 16   /* entries of --policies */
#define CMP_MAX_CELLS    4096 /* cells, the extra baselines included */
#define CMP_MAX_RUNS     100000
#define CMP_TABLE_CELLS  8    /* more cells than this: one row per cell, not a column */
#define CMP_MAX_REPEAT   1000 /* --repeat, and the seeds of --seeds */
#define CMP_PLAN_ID_LEN  32   /* hexadecimal digits of a plan's id */

/* ---- the request ---------------------------------------------------------------------------- */

/* One --set or --var option: NAME=V1,V2,... */
struct cmp_list {
    char name[64];
    char *values[CMP_MAX_VALUES]; /* point into a copy of the option */
    unsigned nvalues;
    char *copy;
};

/* Every --set (at most CLI_MAX_SETS) or every --var (at most WL_MAX_VARS), each name once. */
struct cmp_lists {
    struct cmp_list l[WL_MAX_VARS > CLI_MAX_SETS ? WL_MAX_VARS : CLI_MAX_SETS];
    unsigned n;
};

/* What was asked: the options that make the plan (DIR/plan.json keeps them). */
struct cmp_request {
    const char *workload;         /* the workload file as given */
    const char *policies;         /* comma-separated */
    struct cmp_lists sets, vars;  /* --set, --var */
    struct cli_choices engines;   /* enum eng_kind values, in the order given */
    const char *machine;          /* NULL: the built-in machine */
    struct cli_list machine_sets; /* --machine-set */
    const char *reference;        /* --reference: the policy of the cells every other is tested
                                     against (NULL: the first of --policies) */
    uint64_t duration_ms;         /* 0: the workload's */
    /* Repeat r (1, 2, ...) runs with seed + r - 1, or with seeds.v[r - 1] when --seeds gave
     * them (repeat is then seeds.n): cmp_seed_of. */
    uint64_t seed, repeat;
    bool seed_given; /* --seed was on the command line (it excludes --seeds) */
    struct {
        uint64_t v[CMP_MAX_REPEAT];
        unsigned n;
    } seeds;
};

enum cmp_format { CMP_FORMAT_TABLE, CMP_FORMAT_CSV, CMP_FORMAT_JSON };

/* ---- the plan ------------------------------------------------------------------------------- */

/* What a cell runs: a simulator policy, or the pseudo-policy `cpython` (real interpreter
 * threads, tools/pyrun), which has parameters of its own but no hooks. */
struct cmp_subject {
    const char *name;
    const struct gil_param *params;
    const struct gil_policy *policy; /* NULL: cpython */
};

/* One cell of the sweep. */
struct cmp_cell {
    struct cmp_subject subj;
    enum eng_kind engine;
    char *assign[CLI_MAX_SETS]; /* "name=value" for the parameters this subject has */
    unsigned nassign;
    char *vars[WL_MAX_VARS]; /* "name=value" for every --var */
    unsigned nvars;
    char label[512];
    char file_stem[512];
    bool baseline_only;              /* an extra lock-free run for the convoy factor */
    const struct cmp_cell *baseline; /* the cell whose I/O rate the convoy factor divides by */
    /* the cell of the reference policy with the same engine, variables and the --set values
     * both have, whose runs this one's are tested against (NULL: none, or itself) */
    const struct cmp_cell *reference;
};

struct cmp_run {
    const struct cmp_cell *cell;
    unsigned repeat;
    uint64_t seed;   /* cmp_seed_of its repeat (the extra baselines: the first seed) */
    char trace[600]; /* relative to the directory */
};

struct cmp_plan {
    const struct cmp_request *req; /* what it was made from (it outlives the plan) */
    struct wl_workload *wl;        /* with its default variables */
    char workload_abs[PATH_MAX];   /* what child runs and the plan file use */
    char machine_abs[PATH_MAX];    /* with --machine */
    const char *dir;               /* the output directory */
    char dir_buf[512];             /* the default one */
    char exe[PATH_MAX];            /* this gilsim, for the child runs */
    char python[PATH_MAX];         /* for cpython cells */
    char pyrun[PATH_MAX];
    struct cmp_cell *cells;
    size_t ncells;
    struct cmp_run *runs;
    size_t nruns;
    bool engine_in_names;         /* not a real-only sweep: labels and file names say the engine */
    const char *baseline_name;    /* the lock-free policy the convoy factor divides by */
    bool baseline_requested;      /* among the policies (else extra runs) */
    const char *reference_name;   /* the reference policy (cmp_cell.reference) */
    json_t *notes;                /* what the planning found worth saying */
    char id[CMP_PLAN_ID_LEN + 1]; /* the plan file's identity, which its results carry */
};

/* ---- the results ---------------------------------------------------------------------------- */

enum cmp_unit { CMP_RATE, CMP_NS, CMP_RATIO, CMP_FRACTION };

/* key (csv column, json key), label (table row), JSON path in the summary (NULL: computed). */
#define CMP_KEY_METRICS(X)                                                                         \
    X(TICKS_PER_S, "ticks_per_s", "ticks/s", "run.ticks_per_s", CMP_RATE)                          \
    X(IO_PER_S, "io_per_s", "I/O ops/s", "run.io_per_s", CMP_RATE)                                 \
    X(CONVOY_FACTOR, "convoy_factor", "convoy factor", NULL, CMP_RATIO)                            \
    X(IO_RESPONSE_P50, "io_response_p50_ns", "I/O response p50", "run.io_response.p50_ns", CMP_NS) \
    X(IO_RESPONSE_P99, "io_response_p99_ns", "I/O response p99", "run.io_response.p99_ns", CMP_NS) \
    X(GIL_WAIT_P50, "gil_wait_p50_ns", "GIL wait p50", "run.gil_wait.p50_ns", CMP_NS)              \
    X(GIL_WAIT_P99, "gil_wait_p99_ns", "GIL wait p99", "run.gil_wait.p99_ns", CMP_NS)              \
    X(SLICE_P50, "slice_p50_ns", "slice p50", "run.slice.p50_ns", CMP_NS)                          \
    X(HANDOFF_GAP_P50, "handoff_gap_p50_ns", "hand-off gap p50", "run.handoff_gap.p50_ns", CMP_NS) \
    X(SLEEP_OVERSHOOT_P50, "sleep_overshoot_p50_ns", "sleep overshoot p50",                        \
      "run.sleep_overshoot.p50_ns", CMP_NS)                                                        \
    X(REQUEST_P50, "request_latency_p50_ns", "request latency p50", "run.request_latency.p50_ns",  \
      CMP_NS)                                                                                      \
    X(REQUEST_P99, "request_latency_p99_ns", "request latency p99", "run.request_latency.p99_ns",  \
      CMP_NS)                                                                                      \
    X(REQUESTS_PER_S, "requests_per_s", "requests/s", "run.requests_per_s", CMP_RATE)              \
    X(SWITCHES_PER_S, "switches_per_s", "switches/s", "run.switches", CMP_RATE)                    \
    X(FORCED_PER_S, "forced_switches_per_s", "forced switches/s", "run.forced_switches", CMP_RATE) \
    X(FAILED_WAKEUPS_PER_S, "failed_wakeups_per_s", "failed wakeups/s", "run.failed_wakeups",      \
      CMP_RATE)                                                                                    \
    X(GIL_BUSY, "gil_busy", "GIL busy", "run.gil_busy", CMP_FRACTION)                              \
    X(GIL_IDLE_WAITING, "gil_idle_with_waiters", "GIL idle, waiters", "run.gil_idle_with_waiters", \
      CMP_FRACTION)                                                                                \
    X(JAIN, "fairness_jain", "fairness (Jain)", "run.fairness.jain", CMP_RATIO)                    \
    CMP_OBJECT_METRICS(X)

/* The workload's objects, over all of them (the summary's run.objects; undefined without). */
/* clang-format off */
#define CMP_OBJECT_METRICS(X)                                                                      \
    X(OBJ_WAIT_P50, "object_wait_p50_ns", "object wait p50", "run.objects.wait_p50_ns", CMP_NS)    \
    X(OBJ_WAIT_P99, "object_wait_p99_ns", "object wait p99", "run.objects.wait_p99_ns", CMP_NS)    \
    X(LOCK_HOLD_P50, "lock_hold_p50_ns", "lock hold p50", "run.objects.hold_p50_ns", CMP_NS)       \
    X(ITEM_P50, "queue_item_latency_p50_ns", "queue item latency p50",                             \
      "run.objects.item_latency_p50_ns", CMP_NS) X(ITEM_P99, "queue_item_latency_p99_ns",          \
      "queue item latency p99", "run.objects.item_latency_p99_ns", CMP_NS)                         \
    X(GETS_PER_S, "queue_gets_per_s", "queue gets/s", "run.objects.gets_per_s", CMP_RATE)          \
    X(QUEUE_LENGTH, "queue_length_mean", "queue length mean", "run.objects.queue_length_mean",     \
      CMP_RATIO)
/* clang-format on */

#define X_ENUM(e, key, label, path, unit) CMP_KM_##e,
enum cmp_km { CMP_KEY_METRICS(X_ENUM) CMP_NKM };
#undef X_ENUM

struct cmp_key_metric {
    const char *key, *label, *path;
    enum cmp_unit unit;
};
extern const struct cmp_key_metric cmp_key_metrics[CMP_NKM];

/* The top blocker of a run: the cell of the wait attribution (docs/metrics.md) with the most
 * time behind another thread, and its share of that waiter's wait. holder[0] == 0: no thread
 * waited behind another. */
struct cmp_blocker {
    char holder[64], waiter[64];
    int64_t ns;
    double share;
};

/* What one run left. */
struct cmp_outcome {
    int status; /* exit status of the child; -1 not run (or not finished) */
    double value[CMP_NKM];
    struct cmp_blocker top;
    bool disturbed; /* a real run the host disturbed (analysis/disturb.h) */
    char why[256];  /* what disturbed it (cut: the whole in its summary) */
};

struct cmp_results {
    struct cmp_outcome *runs;  /* one per run of the plan, in its order */
    double *baseline_io_per_s; /* one per cell: its baseline's median I/O rate (NaN: none) */
    unsigned failed;           /* runs with a status > 0 */
    size_t not_run;            /* runs without a result */
    size_t disturbed;          /* finished runs marked disturbed */
    bool keep_disturbed;       /* --keep-disturbed: they count in the aggregates all the same */
    json_t *host;              /* the first real run's host */
    json_t *notes;             /* after the plan's: the interrupt, cpython, the runs missing */
};

/* ---- compare_plan.c: the plan -------------------------------------------------------------- */

/* Makes the plan of req, everything checked (a workload for every combination of --var
 * values, every parameter, the machine, cpython's interpreter). dir: the output directory,
 * NULL for the default (results/ is made then). */
int cmp_plan_make(const struct cmp_request *req, const char *dir, struct cmp_plan **out,
                  struct err *e);
void cmp_plan_free(struct cmp_plan *p);
/* The value of "name=value" among n assignments (a cell's --set or --var); NULL: none. */
const char *cmp_assigned(char *const *assign, unsigned n, const char *name);
/* The seed of repeat r (1-based): --seed + r - 1, or the r-th of --seeds. */
uint64_t cmp_seed_of(const struct cmp_request *req, unsigned r);
/* The names kept beside a trace in DIR: NAME.json -> NAME.summary.json, NAME.result.json. */
void cmp_file_beside(const char *trace, const char *suffix, char *buf, size_t size);
/* The child's command line: what the plan lists and --run runs (output: DIR/.partial/NAME). */
json_t *cmp_child_argv(const struct cmp_plan *p, const struct cmp_run *r, const char *dir);

/* ---- compare_planfile.c: DIR/plan.json, and reading DIR's files --------------------------- */

/* Draws the plan's id (p->id) and writes DIR/plan.json. */
int cmp_write_plan(struct cmp_plan *p, struct err *e);
/* DIR/plan.json into *doc, refused unless it is what a plan holds (format, version, id,
 * the workload's SHA-256, only the options that make a plan); its "options" (the workload
 * first) rebuild the plan. ERR_INPUT when DIR holds no plan. cmp_check_plan: the rebuilt runs
 * are the ones it lists, from the same workload; p->id from the file. */
int cmp_read_plan(const char *dir, json_t **doc, struct err *e);
int cmp_check_plan(struct cmp_plan *p, json_t *doc, struct err *e);
/* Whether a command line of the plan (cmp_child_argv) holds only strings. */
bool cmp_argv_ok(json_t *argv);
/* DIR/name, at most max bytes, into *text (malloc'd, NUL-terminated; *len its length): never
 * through a symlink (O_NOFOLLOW), never waiting on a FIFO (O_NONBLOCK, then only a regular
 * file is read). ERR_INPUT when absent or not a regular file, ERR_RUNTIME when reading fails. */
int cmp_read_dir_file(const char *dir, const char *name, size_t max, char **text, size_t *len,
                      struct err *e);

/* ---- compare_dir.c: the output directory --------------------------------------------------- */

/* What a compare holds of DIR: the lock file DIR/.gilsim-compare (open file description locks
 * on its bytes: 0 the owner, that plans, sweeps or collects; 1 the plan, shared by every --run
 * of it, exclusive while a plan is written; 2 + I run I), and what cmp_claim_dir made, which
 * cmp_unclaim_dir undoes after a failure. */
struct cmp_lock {
    int fd; /* -1: none; closing it releases every lock */
    bool made_dir, made_file;
};
#define CMP_LOCK_INIT                                                                              \
    {                                                                                              \
        .fd = -1                                                                                   \
    }

/* Every path checked before anything is made, in the form the child runs get (absolute) too;
 * every path of the plan UTF-8. */
int cmp_check_paths(const struct cmp_plan *p, struct err *e);
/* A sweep or a plan: DIR made or taken (a compare directory is recognised by what compare
 * wrote in it, never by a name: refused when it holds something else; an earlier compare
 * only with force, when no run of its plan is running), locked as its owner and for writing
 * its plan. cmp_claim_done once the plan is written lets runs of it start. */
int cmp_claim_dir(const struct cmp_plan *p, bool force, struct cmp_lock *l, struct err *e);
void cmp_claim_done(struct cmp_lock *l);
/* After a failure: the lock file and DIR removed when this compare made them (DIR when empty). */
void cmp_unclaim_dir(const struct cmp_plan *p, struct cmp_lock *l);
/* --collect: locked as DIR's owner; temporary files that killed runs and compares left
 * removed (said on stderr). */
int cmp_lock_dir(const struct cmp_plan *p, struct cmp_lock *l, struct err *e);
/* --run of run index, before DIR's plan is read: the plan locked shared (a plan being replaced
 * refuses), the run exclusive (another --run of it refuses); what a killed earlier attempt of
 * it left is removed (cmp_clean_run, once the plan is known). */
int cmp_lock_run(const char *dir, size_t index, struct cmp_lock *l, struct err *e);
void cmp_clean_run(const struct cmp_plan *p, size_t index);
void cmp_unlock(struct cmp_lock *l);
int cmp_partial_dir(const struct cmp_plan *p, char *buf, size_t size, struct err *e);
/* DIR as an absolute path (what child runs get), into buf. */
int cmp_dir_abs(const struct cmp_plan *p, char *buf, size_t size, struct err *e);

/* ---- compare_results.c: what the runs left ------------------------------------------------- */

/* The key metrics of a run's summary (gilsim summary --json), as its result file keeps them:
 * {key: value or null}, counts as rates. */
json_t *cmp_result_metrics(json_t *summary);
/* Whether run i has a result with status 0. */
bool cmp_run_done(const struct cmp_plan *p, size_t i);
/* Every finished run's result into r (made here; cmp_results_free frees it, whatever this
 * returns), status -1 for the runs that have not finished (listed in a note). signal: the one
 * that stopped the sweep (0: none), said in a note first. */
int cmp_collect(const struct cmp_plan *p, int signal, struct cmp_results *r, struct err *e);
void cmp_results_free(struct cmp_results *r);

/* ---- compare_agg.c: aggregates over repeats ------------------------------------------------ */

/* Whether run i counts in its cell's aggregates: finished (status 0), and not disturbed unless
 * r->keep_disturbed. */
bool cmp_run_counts(const struct cmp_plan *p, const struct cmp_results *r, size_t i);

/* One key metric of a cell over the runs that count and define it (docs/metrics.md,
 * "Intervals and significance"). */
struct cmp_agg {
    size_t n;        /* the values */
    size_t left_out; /* disturbed runs (with a value) left out */
    double median, min, max;
    double lo, hi, coverage; /* the median's confidence interval and its exact confidence */
    bool reached;            /* coverage >= STATS_LEVEL (else lo..hi is min..max) */
    double p;                /* Mann-Whitney U against the reference cell, two-sided; NAN: none */
};
struct cmp_agg cmp_aggregate(const struct cmp_plan *p, const struct cmp_results *r,
                             const struct cmp_cell *cell, int k);
#define CMP_SIGNIFICANT 0.05 /* the p below which the table marks a difference */

/* Each cell's baseline I/O rate and each run's convoy factor, into r. */
void cmp_convoy_factors(const struct cmp_plan *p, struct cmp_results *r);

/* ---- compare_out.c: the outputs ------------------------------------------------------------ */

/* index.json, runs.csv, cells.csv, table.txt in DIR, and one of them on stdout. */
int cmp_write_outputs(const struct cmp_plan *p, const struct cmp_results *r, enum cmp_format f,
                      struct err *e);

/* ---- compare_run.c: one run ---------------------------------------------------------------- */

/* Run index of the plan (`--run DIR --index I`): the child, its trace moved into DIR only
 * when it succeeded, its summary and result file. Returns the exit status for the run: 0, the
 * child's status, or 128 + a signal. cpus: the cores to pin it to (NULL: any). */
int cmp_run_one(const struct cmp_plan *p, size_t index, const char *cpus, struct err *e);

/* ---- compare_jobs.c: a plan on this machine ------------------------------------------------ */

/* Every run of the plan not finished yet: jobs at a time (real runs alone, or pinned to
 * cpus_per_run cores each; 0: alone), each a child `gilsim compare --run DIR --index I`; a
 * progress line on a terminal. *signal: the SIGINT or SIGTERM that stopped it, or 0. */
int cmp_run_jobs(const struct cmp_plan *p, unsigned jobs, unsigned cpus_per_run, int *signal,
                 struct err *e);

#endif
