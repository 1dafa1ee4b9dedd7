/* cli/compare.c - `gilsim compare`: runs one workload under several policies and parameter
 * values, repeated and interleaved, keeps every trace, and tabulates the key metrics with the
 * convoy factor against `none`. Each run is a child `gilsim run` process, and every number is
 * read back from its trace by the analysis side (docs/metrics.md), exactly as `gilsim summary`
 * would compute it. The pseudo-policy `cpython` runs the workload on real CPython threads instead:
 * its child is tools/pyrun (docs/pyrun.md), which writes a trace in the same format. */
#define _GNU_SOURCE /* posix_spawn's environ */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/metrics.h"
#include "cli/cli.h"
#include "policies/registry.h"
#include "sim/wl.h"

extern char **environ;

#define MAX_SETS     8
#define MAX_VALUES   32
#define MAX_POLICIES 16
#define MAX_COLUMNS  256 /* configurations, the extra baseline included */

/* `cpython`: not a simulator policy but real interpreter threads, run by tools/pyrun with the
 * interpreter GILSIM_PYTHON (default /usr/bin/python3). Only its parameter table is used here:
 * --set interval_us is validated like any policy parameter and passed on. */
static const struct gil_param cpython_params[] = {
    {"interval_us", "us", 5000, 1, 1e9, true,
     "the interpreter's switch interval (sys.setswitchinterval)"},
    {NULL, NULL, 0, 0, 0, false, NULL},
};
static const struct gil_policy compare_cpython = {
    .name = "cpython",
    .summary = "real CPython threads (tools/pyrun)",
    .params = cpython_params,
};

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
static const struct {
    const char *key, *label, *path;
    enum unit unit;
} km[] = {
#define X_ROW(e, key, label, path, unit) {key, label, path, unit},
    KEY_METRICS(X_ROW)
#undef X_ROW
};

/* ---- configurations and runs --------------------------------------------------------------- */

struct set_opt {
    char name[64];
    char *values[MAX_VALUES]; /* point into a copy of the option */
    unsigned nvalues;
    char *copy;
};

struct config {
    const struct gil_policy *pol;
    char *assign[MAX_SETS]; /* "name=value" for the parameters this policy has */
    unsigned nassign;
    char label[256];
    char file_stem[256];
    bool baseline_only; /* the extra `none` run for the convoy factor */
};

struct run {
    struct config *cfg;
    unsigned repeat;
    char trace[512]; /* relative to the directory */
    int status;      /* exit status of the child; -1 not run */
    double value[NKM];
};

struct compare {
    const char *workload_path;
    const char *exe;
    struct wl_workload *wl;
    const char *dir;
    char dir_buf[512];
    uint64_t duration_ms, seed, repeat;
    const char *format;
    struct set_opt sets[MAX_SETS];
    unsigned nsets;
    struct config *configs;
    size_t nconfigs;
    struct run *runs;
    size_t nruns;
    json_t *notes;
    json_t *host;
    double baseline_io_per_s;
    bool baseline_requested;
    char python[PATH_MAX]; /* for cpython columns */
    char pyrun[PATH_MAX];
    bool cpython_noted;
    _Atomic pid_t child;   /* the run in progress, 0 between runs */
    _Atomic int interrupt; /* SIGINT/SIGTERM taken: finish with what has run */
};

/* First SIGINT/SIGTERM (cli/signals.c's thread): pass it to the run in progress (a terminal's
 * Ctrl-C reaches it anyway, a kill of compare alone does not), start no further run, and write
 * the index of the runs done. A second signal exits at once. */
static void compare_on_signal(void *ctx, int sig)
{
    struct compare *c = ctx;
    atomic_store(&c->interrupt, sig);
    pid_t child = atomic_load(&c->child);
    if (child > 0) kill(child, sig);
    fprintf(stderr,
            "\ngilsim compare: %s: finishing the current run, then writing the index of "
            "the runs done (again to quit at once)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static const char compare_help[] =
    "usage: gilsim compare WORKLOAD.json [options]\n"
    "\n"
    "Runs the workload under each policy (and each value of swept parameters), N times,\n"
    "interleaved (A B C A B C ...) so that drift on a noisy machine hits all alike; keeps every\n"
    "trace in DIR with an index, and prints the key metrics (docs/metrics.md), median and\n"
    "min-max across repeats, with convoy_factor = I/O ops/s under `none` / under the policy.\n"
    "\n"
    "  -p, --policies LIST    comma-separated policies (default old,new,fifo,none); `cpython`\n"
    "                         runs the workload on real CPython threads (tools/pyrun with\n"
    "                         GILSIM_PYTHON, default /usr/bin/python3; --set interval_us\n"
    "                         sets its switch interval)\n"
    "  -s, --set NAME=V1,V2   values of a parameter, one column each (repeatable; a policy\n"
    "                         without the parameter ignores it, with a note)\n"
    "  -r, --repeat N         runs per column (default 1)\n"
    "  -d, --duration MS      run length (default: the workload's duration_ms)\n"
    "      --seed N           seed of every run (default 1)\n"
    "  -f, --format FMT       table (default), csv or json, on stdout\n"
    "  -o, --output DIR       directory for traces and the index\n"
    "                         (default results/compare-<workload>-<UTC stamp>/)\n"
    "\n"
    "DIR receives every trace, its summary (*.summary.json), index.json (the json format),\n"
    "runs.csv and table.txt. Progress goes to stderr when it is a terminal.\n"
    "SIGINT or SIGTERM: the run in progress stops, no other starts, and the index of what ran\n"
    "is written. Exit status: 0 ok, 1 a run failed, 2 bad input, 130/143 interrupted.\n";

static void free_compare(struct compare *c)
{
    for (unsigned i = 0; i < c->nsets; i++)
        free(c->sets[i].copy);
    for (size_t i = 0; i < c->nconfigs; i++)
        for (unsigned k = 0; k < c->configs[i].nassign; k++)
            free(c->configs[i].assign[k]);
    free(c->configs);
    free(c->runs);
    json_decref(c->notes);
    json_decref(c->host);
    wl_free(c->wl);
}

static int parse_set(struct compare *c, const char *arg, struct err *e)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= sizeof c->sets[0].name)
        return err_set(e, ERR_INPUT, "--set %s: expected NAME=VALUE[,VALUE...]", arg);
    if (c->nsets == MAX_SETS)
        return err_set(e, ERR_INPUT, "--set: at most %d parameters", MAX_SETS);
    struct set_opt *s = &c->sets[c->nsets];
    memcpy(s->name, arg, (size_t)(eq - arg));
    s->name[eq - arg] = '\0';
    for (unsigned i = 0; i < c->nsets; i++)
        if (strcmp(c->sets[i].name, s->name) == 0)
            return err_set(e, ERR_INPUT, "--set %s: given twice; list every value in one --set",
                           s->name);
    s->copy = strdup(eq + 1);
    if (!s->copy) return err_set(e, ERR_RUNTIME, "out of memory");
    c->nsets++;
    char *save = NULL;
    for (char *v = strtok_r(s->copy, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        if (s->nvalues == MAX_VALUES)
            return err_set(e, ERR_INPUT, "--set %s: at most %d values", s->name, MAX_VALUES);
        s->values[s->nvalues++] = v;
    }
    if (!s->nvalues || eq[strlen(eq) - 1] == ',' || strstr(eq, ",,"))
        return err_set(e, ERR_INPUT, "--set %s: expected NAME=VALUE[,VALUE...]", arg);
    return 0;
}

static bool policy_has(const struct gil_policy *p, const char *name)
{
    for (const struct gil_param *d = p->params; d->name; d++)
        if (strcmp(d->name, name) == 0) return true;
    return false;
}

static int add_config(struct compare *c, const struct gil_policy *pol, char **assign,
                      unsigned nassign, struct err *e)
{
    if (c->nconfigs == MAX_COLUMNS)
        return err_set(e, ERR_INPUT, "--set: at most %d columns (policies x values)", MAX_COLUMNS);
    struct config *cfgs = realloc(c->configs, (c->nconfigs + 1) * sizeof *cfgs);
    if (!cfgs) return err_set(e, ERR_RUNTIME, "out of memory");
    c->configs = cfgs;
    struct config *cfg = &cfgs[c->nconfigs++];
    memset(cfg, 0, sizeof *cfg);
    cfg->pol = pol;
    size_t ln = (size_t)snprintf(cfg->label, sizeof cfg->label, "%s", pol->name);
    size_t fn = (size_t)snprintf(cfg->file_stem, sizeof cfg->file_stem, "%s", pol->name);
    for (unsigned k = 0; k < nassign; k++) {
        cfg->assign[k] = strdup(assign[k]);
        if (!cfg->assign[k]) return err_set(e, ERR_RUNTIME, "out of memory");
        cfg->nassign++;
        if (ln < sizeof cfg->label)
            ln += (size_t)snprintf(cfg->label + ln, sizeof cfg->label - ln, " %s", assign[k]);
        if (fn < sizeof cfg->file_stem)
            fn +=
                (size_t)snprintf(cfg->file_stem + fn, sizeof cfg->file_stem - fn, "-%s", assign[k]);
    }
    /* Validate every assignment now: nothing runs when one is wrong. */
    struct gil_params params;
    gil_params_defaults(&params, pol);
    for (unsigned k = 0; k < nassign; k++)
        if (gil_params_set(&params, pol, assign[k], e) != 0) return e->status;
    return 0;
}

/* One configuration per combination of the values of the parameters the policy has. */
static int expand_policy(struct compare *c, const struct gil_policy *pol, struct err *e)
{
    unsigned idx[MAX_SETS] = {0}, have[MAX_SETS], nhave = 0;
    for (unsigned i = 0; i < c->nsets; i++) {
        if (policy_has(pol, c->sets[i].name)) {
            have[nhave++] = i;
        } else {
            char note[160];
            snprintf(note, sizeof note, "%s has no parameter %s: ignored for it", pol->name,
                     c->sets[i].name);
            json_array_append_new(c->notes, json_string(note));
        }
    }
    for (;;) {
        char buf[MAX_SETS][128], *assign[MAX_SETS];
        for (unsigned k = 0; k < nhave; k++) {
            const struct set_opt *s = &c->sets[have[k]];
            snprintf(buf[k], sizeof buf[k], "%s=%s", s->name, s->values[idx[k]]);
            assign[k] = buf[k];
        }
        int rc = add_config(c, pol, assign, nhave, e);
        if (rc) return rc;
        unsigned k = nhave;
        while (k > 0) { /* odometer: the last parameter varies fastest */
            k--;
            if (++idx[k] < c->sets[have[k]].nvalues) break;
            idx[k] = 0;
            if (k == 0) return 0;
        }
        if (nhave == 0) return 0;
    }
}

static int parse_policies(struct compare *c, const char *list, struct err *e)
{
    char *copy = strdup(list), *save = NULL;
    const struct gil_policy *seen[MAX_POLICIES];
    unsigned n = 0;
    int rc = 0;
    if (!copy) return err_set(e, ERR_RUNTIME, "out of memory");
    for (char *name = strtok_r(copy, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save)) {
        const struct gil_policy *p = gil_policy_find(name);
        if (!p && strcmp(name, compare_cpython.name) == 0) p = &compare_cpython;
        if (!p) {
            rc = err_set(e, ERR_INPUT,
                         "--policies: no such policy '%s' (see `gilsim policies`; `cpython` runs "
                         "real CPython threads)",
                         name);
            break;
        }
        for (unsigned i = 0; i < n; i++)
            if (seen[i] == p) rc = err_set(e, ERR_INPUT, "--policies: '%s' given twice", name);
        if (!rc && n == MAX_POLICIES)
            rc = err_set(e, ERR_INPUT, "--policies: at most %d", MAX_POLICIES);
        if (!rc) seen[n++] = p;
    }
    free(copy);
    if (rc) return rc;
    if (!n) return err_set(e, ERR_INPUT, "--policies: expected a comma-separated list");
    for (unsigned i = 0; i < c->nsets; i++) {
        bool used = false;
        for (unsigned k = 0; k < n; k++)
            used |= policy_has(seen[k], c->sets[i].name);
        if (!used)
            return err_set(e, ERR_INPUT, "--set %s: none of the chosen policies has this parameter",
                           c->sets[i].name);
    }
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(seen[i]->name, "none") == 0) c->baseline_requested = true;
        if ((rc = expand_policy(c, seen[i], e))) return rc;
    }
    if (!c->baseline_requested) { /* the convoy factor's denominator, run once */
        const struct gil_policy *none = gil_policy_find("none");
        if (none && (rc = add_config(c, none, NULL, 0, e))) return rc;
        if (none) {
            struct config *b = &c->configs[c->nconfigs - 1];
            b->baseline_only = true;
            snprintf(b->file_stem, sizeof b->file_stem, "none-baseline");
        }
    }
    return 0;
}

/* ---- running ------------------------------------------------------------------------------- */

/* When a cpython column is asked for: the interpreter and tools/pyrun, found like `gilsim
 * report` finds tools/report (GILSIM_PYTHON, GILSIM_TOOLS_DIR), checked before anything runs. */
static int find_pyrun(struct compare *c, struct err *e)
{
    bool wanted = false;
    for (size_t i = 0; i < c->nconfigs; i++)
        wanted |= c->configs[i].pol == &compare_cpython;
    if (!wanted) return 0;
    if (cli_find_tool("pyrun", c->pyrun, sizeof c->pyrun, e) != 0 ||
        cli_find_python("GILSIM_PYTHON", "policy cpython: the interpreter to measure", c->python,
                        sizeof c->python, e) != 0)
        return e->status;
    return 0;
}

static int spawn_run(struct compare *c, struct run *r, struct err *e)
{
    char path[1024], dur[32], seed[32];
    snprintf(path, sizeof path, "%s/%s", c->dir, r->trace);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    const char *argv[16 + 2 * MAX_SETS];
    int n = 0;
    argv[n++] = c->exe;
    argv[n++] = "run";
    argv[n++] = c->workload_path;
    argv[n++] = "--policy";
    argv[n++] = r->cfg->pol->name;
    for (unsigned k = 0; k < r->cfg->nassign; k++) {
        argv[n++] = "--set";
        argv[n++] = r->cfg->assign[k];
    }
    if (c->duration_ms) {
        snprintf(dur, sizeof dur, "%llu", (unsigned long long)c->duration_ms);
        argv[n++] = "--duration";
        argv[n++] = dur;
    }
    argv[n++] = "--seed";
    argv[n++] = seed;
    argv[n++] = "-o";
    argv[n++] = path;
    argv[n++] = "-q";
    argv[n] = NULL;
    const char *prog = c->exe;
    if (r->cfg->pol == &compare_cpython) { /* python tools/pyrun WORKLOAD ...: the same options */
        prog = c->python;
        argv[0] = c->python;
        argv[1] = c->pyrun;
        int m = 2;
        for (int k = 2; k < n; k++) /* drop "--policy cpython" */
            if (k != 3 && k != 4) argv[m++] = argv[k];
        argv[m] = NULL;
    }
    /* The child takes its own signals: not compare's blocked mask. */
    posix_spawnattr_t attr;
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int err = posix_spawn(&pid, prog, NULL, &attr, (char *const *)argv, environ);
    posix_spawnattr_destroy(&attr);
    if (err) return err_set(e, ERR_RUNTIME, "cannot start %s: %s", prog, strerror(err));
    atomic_store(&c->child, pid);
    /* a signal taken between the spawn and the store above: the child must hear it too */
    int pending = atomic_load(&c->interrupt);
    if (pending) kill(pid, pending);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return err_set(e, ERR_RUNTIME, "waitpid: %s", strerror(errno));
    atomic_store(&c->child, 0);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

static double json_at(json_t *doc, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = doc;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Reads the run's trace back and keeps its key metrics; writes the summary beside it. */
static int measure_run(struct compare *c, struct run *r, struct err *e)
{
    char path[1024], spath[1100];
    snprintf(path, sizeof path, "%s/%s", c->dir, r->trace);
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    int rc = met_summarize_file(path, 0, &m, &hdr, e);
    if (rc) return rc;
    json_t *doc = met_to_json(m, r->trace);
    if (!doc) {
        rc = err_set(e, ERR_RUNTIME, "out of memory");
        goto done;
    }
    if (!c->host) c->host = json_incref(json_object_get(hdr->run, "host"));
    if (r->cfg->pol == &compare_cpython && !c->cpython_noted) {
        char note[256];
        snprintf(note, sizeof note,
                 "cpython = %.40s on real threads (tools/pyrun); its slices and hand-offs are "
                 "inferred from progress stamps (docs/pyrun.md)",
                 hdr->policy);
        json_array_append_new(c->notes, json_string(note));
        c->cpython_noted = true;
    }
    double window_s = json_at(doc, "window_ns") / 1e9;
    for (int k = 0; k < NKM; k++) {
        if (!km[k].path) continue;
        double v = json_at(doc, km[k].path);
        /* Counts become rates so that runs of slightly different lengths compare. */
        if (k == KM_SWITCHES_PER_S || k == KM_FORCED_PER_S || k == KM_FAILED_WAKEUPS_PER_S)
            v = window_s > 0 ? v / window_s : NAN;
        r->value[k] = v;
    }
    snprintf(spath, sizeof spath, "%.*s.summary.json", (int)(strlen(path) - 5), path);
    if (json_dump_file(doc, spath, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) != 0)
        rc = err_set(e, ERR_RUNTIME, "%s: cannot write", spath);
done:
    json_decref(doc);
    met_free(m);
    trace_free(hdr);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct agg {
    size_t n;
    double median, min, max;
};

/* Median (mean of the middle two for an even count), min and max of the non-null values. */
static struct agg aggregate(const struct compare *c, const struct config *cfg, int k)
{
    double v[4096];
    struct agg a = {0, NAN, NAN, NAN};
    for (size_t i = 0; i < c->nruns && a.n < 4096; i++)
        if (c->runs[i].cfg == cfg && isfinite(c->runs[i].value[k])) v[a.n++] = c->runs[i].value[k];
    if (!a.n) return a;
    qsort(v, a.n, sizeof v[0], cmp_double);
    a.min = v[0];
    a.max = v[a.n - 1];
    a.median = a.n % 2 ? v[a.n / 2] : (v[a.n / 2 - 1] + v[a.n / 2]) / 2;
    return a;
}

static void convoy_factors(struct compare *c)
{
    const struct config *base = NULL;
    for (size_t i = 0; i < c->nconfigs; i++)
        if (strcmp(c->configs[i].pol->name, "none") == 0) base = &c->configs[i];
    c->baseline_io_per_s = base ? aggregate(c, base, KM_IO_PER_S).median : NAN;
    for (size_t i = 0; i < c->nruns; i++) {
        double io = c->runs[i].value[KM_IO_PER_S];
        c->runs[i].value[KM_CONVOY_FACTOR] =
            isfinite(io) && io > 0 && c->baseline_io_per_s > 0 ? c->baseline_io_per_s / io : NAN;
    }
}

/* ---- output -------------------------------------------------------------------------------- */

/* Scale and unit for a value: the median's, so that a range reads "5.14 ms (5.10..5.30)". */
struct scale {
    double div;
    const char *unit;
};

static struct scale scale_of(double v, enum unit u)
{
    double a = fabs(v);
    switch (u) {
    case U_NS:
        return a >= 1e9   ? (struct scale){1e9, " s"}
               : a >= 1e6 ? (struct scale){1e6, " ms"}
               : a >= 1e3 ? (struct scale){1e3, " us"}
                          : (struct scale){1, " ns"};
    case U_RATE:
        return a >= 1e9   ? (struct scale){1e9, "G"}
               : a >= 1e6 ? (struct scale){1e6, "M"}
               : a >= 1e4 ? (struct scale){1e3, "k"}
                          : (struct scale){1, ""};
    case U_FRACTION:
        return (struct scale){0.01, "%"};
    case U_RATIO:
        break;
    }
    return (struct scale){1, ""};
}

/* Three significant digits in the given scale (whole numbers when the scale is 1 and the
 * unit is a count or ns). */
static void fmt_scaled(char *buf, size_t size, double v, enum unit u, struct scale s)
{
    double x = v / s.div, ax = fabs(x);
    int decimals = ax >= 100 ? 0 : ax >= 10 ? 1 : 2;
    if (s.div == 1 && u != U_RATIO && x == floor(x)) decimals = 0;
    if (u == U_FRACTION) decimals = 1;
    snprintf(buf, size, "%.*f", decimals, x);
}

static void format_cell(char *cell, size_t size, const struct agg *a, enum unit u, bool ranges)
{
    char m[16], lo[16], hi[16];
    if (!a->n) {
        snprintf(cell, size, "-");
        return;
    }
    struct scale s = scale_of(a->median, u);
    fmt_scaled(m, sizeof m, a->median, u, s);
    if (!ranges || a->n < 2) {
        snprintf(cell, size, "%s%s", m, s.unit);
        return;
    }
    fmt_scaled(lo, sizeof lo, a->min, u, s);
    fmt_scaled(hi, sizeof hi, a->max, u, s);
    snprintf(cell, size, "%s%s (%s..%s)", m, s.unit, lo, hi);
}

static void write_table(const struct compare *c, FILE *f)
{
    size_t ncols = 0, col_of[MAX_COLUMNS];
    for (size_t i = 0; i < c->nconfigs; i++)
        if (!c->configs[i].baseline_only) col_of[ncols++] = i;
    const char *desc = c->wl->description ? c->wl->description : "";
    fprintf(f, "%s: %s\n", c->wl->name, desc);
    fprintf(f, "%llu ms, seed %llu, %llu repeat%s%s; traces in %s/\n",
            (unsigned long long)(c->duration_ms ? c->duration_ms
                                                : (uint64_t)(c->wl->duration_ns / 1000000)),
            (unsigned long long)c->seed, (unsigned long long)c->repeat, c->repeat == 1 ? "" : "s",
            c->repeat > 1 ? ": median (min..max)" : "", c->dir);
    enum { CELL = 64 };
    char(*cells)[MAX_COLUMNS][CELL] = malloc(NKM * sizeof *cells);
    size_t width[MAX_COLUMNS + 1] = {0};
    if (!cells) {
        fputs("(out of memory)\n", f);
        return;
    }
    bool show[NKM];
    width[0] = 20;
    for (size_t j = 0; j < ncols; j++) {
        const struct config *cfg = &c->configs[col_of[j]];
        size_t w = strlen(cfg->pol->name);
        for (unsigned k = 0; k < cfg->nassign; k++)
            w = strlen(cfg->assign[k]) > w ? strlen(cfg->assign[k]) : w;
        width[j + 1] = w;
    }
    for (int k = 0; k < NKM; k++) {
        show[k] = false;
        for (size_t j = 0; j < ncols; j++) {
            struct agg a = aggregate(c, &c->configs[col_of[j]], k);
            format_cell(cells[k][j], sizeof cells[k][j], &a, km[k].unit, c->repeat > 1);
            show[k] |= a.n > 0 && (a.min != 0 || a.max != 0); /* all zero: nothing to see */
            size_t w = strlen(cells[k][j]);
            width[j + 1] = w > width[j + 1] ? w : width[j + 1];
        }
    }
    /* Header: the policy, then one line per swept parameter. */
    unsigned lines = 1;
    for (size_t j = 0; j < ncols; j++)
        lines =
            c->configs[col_of[j]].nassign + 1 > lines ? c->configs[col_of[j]].nassign + 1 : lines;
    for (unsigned l = 0; l < lines; l++) {
        fprintf(f, "%-*s", (int)width[0], "");
        for (size_t j = 0; j < ncols; j++) {
            const struct config *cfg = &c->configs[col_of[j]];
            const char *text = l == 0              ? cfg->pol->name
                               : l <= cfg->nassign ? cfg->assign[l - 1]
                                                   : "";
            fprintf(f, "  %*s", (int)width[j + 1], text);
        }
        fputc('\n', f);
    }
    for (int k = 0; k < NKM; k++) {
        if (!show[k]) continue;
        fprintf(f, "%-*s", (int)width[0], km[k].label);
        for (size_t j = 0; j < ncols; j++)
            fprintf(f, "  %*s", (int)width[j + 1], cells[k][j]);
        fputc('\n', f);
    }
    free(cells);
    if (isfinite(c->baseline_io_per_s)) {
        char b[16];
        struct scale sc = scale_of(c->baseline_io_per_s, U_RATE);
        fmt_scaled(b, sizeof b, c->baseline_io_per_s, U_RATE, sc);
        fprintf(f, "convoy factor = I/O ops/s under none (%s%s%s) / I/O ops/s under the policy\n",
                b, sc.unit, c->baseline_requested ? "" : ", one extra run");
    }
    size_t i;
    json_t *note;
    json_array_foreach(c->notes, i, note) fprintf(f, "note: %s\n", json_string_value(note));
}

static void write_csv(const struct compare *c, FILE *f)
{
    fputs("policy,params,repeat,seed,duration_ms,baseline_only,status,trace", f);
    for (int k = 0; k < NKM; k++)
        fprintf(f, ",%s", km[k].key);
    fputc('\n', f);
    for (size_t i = 0; i < c->nruns; i++) {
        const struct run *r = &c->runs[i];
        char params[512] = "";
        size_t n = 0;
        for (unsigned k = 0; k < r->cfg->nassign && n < sizeof params; k++)
            n += (size_t)snprintf(params + n, sizeof params - n, "%s%s", k ? ";" : "",
                                  r->cfg->assign[k]);
        cli_csv_field(f, r->cfg->pol->name);
        fputc(',', f);
        cli_csv_field(f, params);
        fprintf(f, ",%u,%llu,%llu,%d,%d,", r->repeat, (unsigned long long)c->seed,
                (unsigned long long)(c->duration_ms ? c->duration_ms
                                                    : (uint64_t)(c->wl->duration_ns / 1000000)),
                r->cfg->baseline_only, r->status);
        cli_csv_field(f, r->trace);
        for (int k = 0; k < NKM; k++) {
            if (isfinite(r->value[k]))
                fprintf(f, ",%.10g", r->value[k]);
            else
                fputc(',', f);
        }
        fputc('\n', f);
    }
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* A parameter value as given: an integer stays an integer. */
static json_t *param_json(const char *text)
{
    double v = strtod(text, NULL);
    return v == floor(v) && fabs(v) < 9e15 ? json_integer((json_int_t)v) : json_real(v);
}

static json_t *config_json(const struct compare *c, const struct config *cfg)
{
    json_t *set = json_object(), *runs = json_array(), *metrics = json_object();
    for (unsigned k = 0; k < cfg->nassign; k++) {
        const char *eq = strchr(cfg->assign[k], '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - cfg->assign[k]), cfg->assign[k]);
        json_object_set_new(set, name, param_json(eq + 1));
    }
    for (size_t i = 0; i < c->nruns; i++) {
        const struct run *r = &c->runs[i];
        if (r->cfg != cfg) continue;
        json_t *vals = json_object();
        for (int k = 0; k < NKM; k++)
            json_object_set_new(vals, km[k].key, num_or_null(r->value[k]));
        char summary[600];
        snprintf(summary, sizeof summary, "%.*s.summary.json", (int)(strlen(r->trace) - 5),
                 r->trace);
        json_array_append_new(runs, json_pack("{sI ss ss sI so}", "repeat", (json_int_t)r->repeat,
                                              "trace", r->trace, "summary", summary, "status",
                                              (json_int_t)r->status, "metrics", vals));
    }
    for (int k = 0; k < NKM; k++) {
        struct agg a = aggregate(c, cfg, k);
        json_object_set_new(metrics, km[k].key,
                            json_pack("{sI so so so}", "n", (json_int_t)a.n, "median",
                                      num_or_null(a.median), "min", num_or_null(a.min), "max",
                                      num_or_null(a.max)));
    }
    return json_pack("{ss ss so sb so so}", "label", cfg->label, "policy", cfg->pol->name, "set",
                     set, "baseline_only", cfg->baseline_only, "runs", runs, "metrics", metrics);
}

static json_t *compare_json(const struct compare *c, const char *created)
{
    json_t *configs = json_array(), *metrics = json_array(), *sets = json_object();
    static const char *const unit_names[] = {"1/s", "ns", "ratio", "fraction"};
    for (int k = 0; k < NKM; k++)
        json_array_append_new(metrics, json_pack("{ss ss ss}", "key", km[k].key, "label",
                                                 km[k].label, "unit", unit_names[km[k].unit]));
    for (size_t i = 0; i < c->nconfigs; i++)
        json_array_append_new(configs, config_json(c, &c->configs[i]));
    for (unsigned i = 0; i < c->nsets; i++) {
        json_t *vals = json_array();
        for (unsigned k = 0; k < c->sets[i].nvalues; k++)
            json_array_append_new(vals, param_json(c->sets[i].values[k]));
        json_object_set_new(sets, c->sets[i].name, vals);
    }
    return json_pack(
        "{ss sI s{ss ss ss*} sI sI sI ss ss sO so so sO s{so ss} so}", "format", "gilsim-compare",
        "version", (json_int_t)1, "workload", "name", c->wl->name, "path", c->workload_path,
        "description", c->wl->description, "duration_ms",
        (json_int_t)(c->duration_ms ? c->duration_ms : (uint64_t)(c->wl->duration_ns / 1000000)),
        "seed", (json_int_t)c->seed, "repeat", (json_int_t)c->repeat, "created_utc", created, "dir",
        c->dir, "host", c->host ? c->host : json_null(), "sets", sets, "metrics", metrics, "notes",
        c->notes, "baseline", "io_per_s", num_or_null(c->baseline_io_per_s), "from",
        c->baseline_requested ? "requested none runs" : "one extra none run", "configs", configs);
}

/* Writes text through a temporary file and a rename, like traces. */
static int write_file(const char *dir, const char *name, void (*fn)(const struct compare *, FILE *),
                      const struct compare *c, struct err *e)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return err_set(e, ERR_RUNTIME, "%s: cannot write: %s", tmp, strerror(errno));
    fn(c, f);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return err_set(e, ERR_RUNTIME, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

/* ---- the command --------------------------------------------------------------------------- */

static int prepare_dir(struct compare *c, struct err *e)
{
    if (!c->dir) {
        char stamp[40];
        cli_utc_stamp(stamp, sizeof stamp);
        if (mkdir("results", 0755) != 0 && errno != EEXIST)
            return err_set(e, ERR_INPUT, "results: cannot create: %s", strerror(errno));
        snprintf(c->dir_buf, sizeof c->dir_buf, "results/compare-%s-%s", c->wl->name, stamp);
        c->dir = c->dir_buf;
    }
    if (mkdir(c->dir, 0755) != 0 && errno != EEXIST)
        return err_set(e, ERR_INPUT, "%s: cannot create the directory: %s", c->dir,
                       strerror(errno));
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/index.json", c->dir);
    if (access(probe, F_OK) == 0)
        return err_set(e, ERR_INPUT,
                       "%s: holds an earlier compare (index.json); choose another -o or remove it",
                       c->dir);
    snprintf(probe, sizeof probe, "%s/.write-test", c->dir);
    FILE *f = fopen(probe, "w");
    if (!f)
        return err_set(e, ERR_INPUT, "%s: cannot write into the directory: %s", c->dir,
                       strerror(errno));
    fclose(f);
    unlink(probe);
    return 0;
}

static const char *created_stamp;

static void dump_json(const struct compare *c, FILE *f)
{
    json_t *doc = compare_json(c, created_stamp);
    json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    json_decref(doc);
}

int cli_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policies", required_argument, NULL, 'p'},
        {"set", required_argument, NULL, 's'},
        {"repeat", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 'S'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct compare c = {.repeat = 1, .seed = 1, .format = "table"};
    const char *policies = "old,new,fifo,none";
    struct err e = {0};
    int rc = 0, ch;
    c.notes = json_array();
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":p:s:r:d:f:o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            policies = optarg;
            break;
        case 's':
            if ((rc = parse_set(&c, optarg, &e))) goto out;
            break;
        case 'r':
            if (!cli_parse_u64(optarg, 1, 1000, &c.repeat)) {
                rc = cli_usage_error(
                    "compare", "--repeat: expected an integer in [1, 1000], got '%s'", optarg);
                goto out_quiet;
            }
            break;
        case 'd':
            if (!cli_parse_u64(optarg, 1, (uint64_t)(WL_MAX_DURATION_NS / 1000000),
                               &c.duration_ms)) {
                rc = cli_usage_error("compare",
                                     "--duration: expected milliseconds in [1, 86400000], got '%s'",
                                     optarg);
                goto out_quiet;
            }
            break;
        case 'S':
            if (!cli_parse_u64(optarg, 0, UINT64_MAX, &c.seed)) {
                rc = cli_usage_error("compare", "--seed: expected a non-negative integer, got '%s'",
                                     optarg);
                goto out_quiet;
            }
            break;
        case 'f':
            if (strcmp(optarg, "table") && strcmp(optarg, "csv") && strcmp(optarg, "json")) {
                rc = cli_usage_error("compare", "--format: expected table, csv or json, got '%s'",
                                     optarg);
                goto out_quiet;
            }
            c.format = optarg;
            break;
        case 'o':
            c.dir = optarg;
            break;
        case 'h':
            fputs(compare_help, stdout);
            goto out_quiet;
        case ':':
            rc = cli_usage_error("compare", "option '%s' needs a value", argv[optind - 1]);
            goto out_quiet;
        default:
            rc = cli_usage_error("compare", "unknown option '%s'", argv[optind - 1]);
            goto out_quiet;
        }
    }
    if (optind != argc - 1) {
        rc = cli_usage_error("compare", "%s",
                             optind >= argc ? "expected one workload file"
                                            : "expected one workload file, got more");
        goto out_quiet;
    }
    c.workload_path = argv[optind];
    if ((rc = parse_policies(&c, policies, &e))) goto out;
    if ((rc = wl_load(c.workload_path, &c.wl, &e))) goto out;
    if (c.duration_ms && (int64_t)c.duration_ms * 1000000 > WL_MAX_DURATION_NS) {
        rc = err_set(&e, ERR_INPUT, "--duration: at most 24 h");
        goto out;
    }
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        rc = err_set(&e, ERR_RUNTIME, "cannot find the gilsim binary (/proc/self/exe): %s",
                     strerror(errno));
        goto out;
    }
    exe[n] = '\0';
    c.exe = exe;
    if ((rc = find_pyrun(&c, &e))) goto out;
    if ((rc = prepare_dir(&c, &e))) goto out;

    /* Runs: the extra baseline first, then repeat by repeat, every configuration in turn. */
    size_t total = 0;
    for (size_t i = 0; i < c.nconfigs; i++)
        total += c.configs[i].baseline_only ? 1 : c.repeat;
    c.runs = calloc(total, sizeof *c.runs);
    if (!c.runs) {
        rc = err_set(&e, ERR_RUNTIME, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c.nconfigs; i++)
        if (c.configs[i].baseline_only)
            c.runs[c.nruns++] = (struct run){.cfg = &c.configs[i], .repeat = 1};
    for (unsigned r = 1; r <= c.repeat; r++)
        for (size_t i = 0; i < c.nconfigs; i++)
            if (!c.configs[i].baseline_only)
                c.runs[c.nruns++] = (struct run){.cfg = &c.configs[i], .repeat = r};
    bool tty = isatty(STDERR_FILENO);
    unsigned failed = 0;
    size_t not_run = 0;
    if ((rc = cli_signals_start(compare_on_signal, &c)) != 0) {
        rc = err_set(&e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < c.nruns; i++) {
        struct run *r = &c.runs[i];
        for (int k = 0; k < NKM; k++)
            r->value[k] = NAN;
        if (atomic_load(&c.interrupt)) { /* interrupted: the rest is not run */
            r->status = -1;
            not_run++;
            continue;
        }
        if (r->cfg->baseline_only)
            snprintf(r->trace, sizeof r->trace, "%s.json", r->cfg->file_stem);
        else
            snprintf(r->trace, sizeof r->trace, "%s-r%u.json", r->cfg->file_stem, r->repeat);
        if (tty)
            fprintf(stderr, "\r\033[K[%zu/%zu] %s, repeat %u ...", i + 1, c.nruns, r->cfg->label,
                    r->repeat);
        if ((rc = spawn_run(&c, r, &e))) goto out;
        if (r->status == 0) rc = measure_run(&c, r, &e);
        if (r->status != 0 || rc) {
            if (tty) fputc('\n', stderr);
            if (rc) cli_fail(&e);
            fprintf(stderr, "gilsim compare: run %s (repeat %u) failed with status %d\n",
                    r->cfg->label, r->repeat, r->status ? r->status : rc);
            if (!r->status) r->status = rc;
            failed++;
            rc = 0;
        }
    }
    if (tty) fputs("\r\033[K", stderr);
    int interrupt = atomic_load(&c.interrupt);
    if (interrupt) {
        char note[200];
        snprintf(note, sizeof note,
                 "interrupted by %s: %zu of %zu runs not run (status -1), the run in progress "
                 "kept as a partial trace",
                 interrupt == SIGINT ? "SIGINT" : "SIGTERM", not_run, c.nruns);
        json_array_append_new(c.notes, json_string(note));
    }
    convoy_factors(&c);

    char created[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    created_stamp = created;
    if ((rc = write_file(c.dir, "index.json", dump_json, &c, &e)) ||
        (rc = write_file(c.dir, "runs.csv", write_csv, &c, &e)) ||
        (rc = write_file(c.dir, "table.txt", write_table, &c, &e)))
        goto out;
    if (strcmp(c.format, "json") == 0)
        dump_json(&c, stdout);
    else if (strcmp(c.format, "csv") == 0)
        write_csv(&c, stdout);
    else
        write_table(&c, stdout);
    fflush(stdout);
    fprintf(stderr, "gilsim compare: %zu runs, traces and index.json in %s/\n", c.nruns, c.dir);
    if (interrupt) {
        rc = 128 + interrupt;
        goto out_quiet;
    }
    if (failed) {
        rc = err_set(&e, ERR_RUNTIME, "%u of %zu runs failed (see above)", failed, c.nruns);
        goto out;
    }
out:
    if (rc) cli_fail(&e);
out_quiet:
    cli_signals_stop();
    free_compare(&c);
    return rc;
}
