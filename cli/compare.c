/* cli/compare.c - `gilsim compare`: runs one workload under several policies, engines,
 * parameter values and workload variable values (a sweep: every combination is a cell),
 * repeated and interleaved, keeps every trace, and tabulates the key metrics with the convoy
 * factor against the lock-free baseline (`none`). Each run is a child `gilsim run` process, and
 * every number is read back from its trace by the analysis side (docs/metrics.md), exactly as
 * `gilsim summary` would compute it. The pseudo-policy `cpython` runs the workload on real
 * CPython threads instead: its child is tools/pyrun (docs/pyrun.md).
 *
 * One code path for a laptop and a cluster (docs/sweeps.md): the options are a request; the
 * plan made from it (compare_plan.c) is written to DIR/plan.json (compare_planfile.c); every
 * run is `gilsim compare --run DIR --index I` (compare_run.c), started here N at a time
 * (compare_jobs.c) or by a Slurm array; `--collect` reads what finished (compare_results.c)
 * and writes the outputs (compare_out.c). cli/compare.h says which file calls which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/compare.h"

/* ---- options ------------------------------------------------------------------------------- */

/* The command line: the request, and how and where to carry it out (not in the plan). */
struct compare_args {
    struct cmp_request req;
    const char *dir; /* -o */
    bool force;
    int format; /* enum cmp_format */
    unsigned jobs, cpus_per_run;
    bool keep_disturbed, strict;        /* disturbed runs: counted, or an error */
    bool plan_only;                     /* --plan */
    const char *run_dir, *index, *cpus; /* --run */
    const char *collect_dir;            /* --collect */
};

/* Equal values (1000 and 1e3 too) would make two cells of one configuration. */
static bool same_value(const char *a, const char *b)
{
    char *end_a, *end_b;
    double va = strtod(a, &end_a), vb = strtod(b, &end_b);
    return strcmp(a, b) == 0 || (end_a != a && !*end_a && end_b != b && !*end_b && va == vb);
}

/* NAME=V1,V2,... into l (values point into a copy); opt names the option in messages. */
static int parse_list(struct cmp_list *l, const char *opt, const char *arg, struct err *e)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= sizeof l->name)
        return err_set(e, ERR_INPUT, "%s %s: expected NAME=VALUE[,VALUE...]", opt, arg);
    memcpy(l->name, arg, (size_t)(eq - arg));
    l->name[eq - arg] = '\0';
    if (!(l->copy = strdup(eq + 1))) return err_set(e, ERR_RUNTIME, "out of memory");
    char *save = NULL;
    for (char *v = strtok_r(l->copy, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        if (l->nvalues == CMP_MAX_VALUES)
            return err_set(e, ERR_INPUT, "%s %s: at most %d values", opt, l->name, CMP_MAX_VALUES);
        for (unsigned k = 0; k < l->nvalues; k++)
            if (same_value(l->values[k], v))
                return err_set(e, ERR_INPUT, "%s %s: the value %s is given twice (as %s)", opt,
                               l->name, v, l->values[k]);
        l->values[l->nvalues++] = v;
    }
    if (!l->nvalues || eq[strlen(eq) - 1] == ',' || strstr(eq, ",,"))
        return err_set(e, ERR_INPUT, "%s %s: expected NAME=VALUE[,VALUE...]", opt, arg);
    return 0;
}

/* --set and --var: a new list in the field (struct cmp_lists), each name once, each
 * NAME=VALUE through the option's check. */
static int add_list(const struct cli_opt *o, void *field, const char *arg, struct err *e)
{
    struct cmp_lists *lists = field;
    char opt[40];
    snprintf(opt, sizeof opt, "--%s", o->name);
    if (lists->n == o->max)
        return err_set(e, ERR_INPUT, "%s: at most %u names", opt, (unsigned)o->max);
    struct cmp_list *l = &lists->l[lists->n++];
    memset(l, 0, sizeof *l);
    int rc = parse_list(l, opt, arg, e);
    for (unsigned i = 0; !rc && i + 1 < lists->n; i++)
        if (strcmp(lists->l[i].name, l->name) == 0)
            rc = err_set(e, ERR_INPUT, "%s %s: given twice; list every value in one %s", opt,
                         l->name, opt);
    for (unsigned k = 0; !rc && o->check && k < l->nvalues; k++) {
        char one[200];
        snprintf(one, sizeof one, "%s=%s", l->name, l->values[k]);
        rc = o->check(one, e);
    }
    return rc;
}

/* --seed: noted as given, because it excludes --seeds. */
static int set_seed(const struct cli_opt *o, void *field, const char *arg, struct err *e)
{
    (void)o;
    struct cmp_request *req = field;
    if (!cli_parse_u64(arg, 0, UINT64_MAX, &req->seed))
        return err_set(e, ERR_INPUT, "--seed: expected a non-negative integer, got '%s'", arg);
    req->seed_given = true;
    return 0;
}

/* --seeds S1,S2,...: one seed per repeat, in order. */
static int set_seeds(const struct cli_opt *o, void *field, const char *arg, struct err *e)
{
    (void)o;
    struct cmp_request *req = field;
    req->seeds.n = 0;
    for (const char *p = arg;; p++) {
        char one[32];
        size_t len = strcspn(p, ",");
        snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one ? len : sizeof one - 1), p);
        if (req->seeds.n == CMP_MAX_REPEAT)
            return err_set(e, ERR_INPUT, "--seeds: at most %d seeds", CMP_MAX_REPEAT);
        if (len >= sizeof one || !cli_parse_u64(one, 0, UINT64_MAX, &req->seeds.v[req->seeds.n]))
            return err_set(e, ERR_INPUT,
                           "--seeds: expected comma-separated non-negative integers, got '%s'",
                           arg);
        req->seeds.n++;
        p += len;
        if (!*p) break;
    }
    return 0;
}

/* --seeds gives the repeats: --repeat, when given too, must agree, and --seed cannot. */
static int settle_seeds(struct cmp_request *req, struct err *e)
{
    if (!req->seeds.n) {
        if (!req->repeat) req->repeat = 1;
        if (req->seed > UINT64_MAX - (req->repeat - 1))
            return err_set(e, ERR_INPUT,
                           "--seed %llu with --repeat %llu: the seeds would pass 2^64 - 1",
                           (unsigned long long)req->seed, (unsigned long long)req->repeat);
        return 0;
    }
    if (req->seed_given)
        return err_set(e, ERR_INPUT,
                       "--seed and --seeds exclude each other (--seeds %llu,... "
                       "lists every repeat's seed)",
                       (unsigned long long)req->seeds.v[0]);
    if (req->repeat && req->repeat != req->seeds.n)
        return err_set(e, ERR_INPUT, "--repeat %llu with --seeds of %u seeds: one seed per repeat",
                       (unsigned long long)req->repeat, req->seeds.n);
    req->repeat = req->seeds.n;
    req->seed = req->seeds.v[0];
    return 0;
}

static int not_stdout(const char *v, struct err *e)
{
    if (strcmp(v, "-") != 0) return 0;
    return err_set(e, ERR_INPUT, "--output: a directory, not standard output (got '%s')", v);
}

static const char *const format_names[] = {"table", "csv", "json", NULL}; /* enum cmp_format */

#define A    struct compare_args
#define F(f) offsetof(struct compare_args, f)
static const struct cli_opt compare_opts[] = {
    CLI_ROW_STRING("policies", 'p', F(req.policies), "LIST",
                   "comma-separated policies (default old,new,fifo,none); `cpython` runs the "
                   "workload on real CPython threads (tools/pyrun with GILSIM_PYTHON, default "
                   "/usr/bin/python3; --set interval_us sets its switch interval)"),
    /* clang-format off */
    {.name = "set", .letter = 's', .kind = CLI_CALL, .field = F(req.sets), .value = "NAME=V1,V2",
     .max = CLI_MAX_SETS, .call = add_list,
     .help = "values of a parameter, one cell each (repeatable; a policy without the parameter "
             "ignores it, with a note)"},
    {.name = "var", .kind = CLI_CALL, .field = F(req.vars), .value = "NAME=V1,V2",
     .max = WL_MAX_VARS, .check = cli_check_var, .call = add_list,
     .help = "values of a workload variable, one cell each (repeatable)"},
    /* clang-format on */
    CLI_ROW_STRING("reference", 0, F(req.reference), "POLICY",
                   "the policy every other cell is tested against (Mann-Whitney U over the "
                   "repeats; default the first of --policies): the cell of the same engine, "
                   "variables and parameter values"),
    CLI_ROW_ENGINE(F(req.engines), 2, "LIST",
                   "real (default), virtual, or real,virtual side by side"),
    CLI_ROW_MACHINE(F(req.machine), "the virtual runs' machine (gilsim-machine file)"),
    CLI_ROW_MACHINE_SET(F(req.machine_sets), "machine parameters of the virtual runs (repeatable)"),
    CLI_ROW_NUMBER("repeat", 'r', CLI_U64, F(req.repeat), "N", 1, CMP_MAX_REPEAT,
                   "runs per cell (default 1), repeat r with seed S + r - 1 (S: --seed)"),
    CLI_ROW_DURATION(F(req.duration_ms), "run length (default: the workload's duration_ms)"),
    /* clang-format off */
    {.name = "seed", .kind = CLI_CALL, .field = F(req), .value = "S", .call = set_seed,
     .help = "the first repeat's seed (default 1); repeat r runs with S + r - 1"},
    {.name = "seeds", .kind = CLI_CALL, .field = F(req), .value = "LIST", .call = set_seeds,
     .help = "comma-separated seeds, one per repeat (instead of --seed; --repeat is their "
             "number)"},
    /* clang-format on */
    CLI_ROW_ENUM("format", 'f', F(format), "FMT", format_names,
                 "table (default; one row per cell when there are more than 8), csv or json (one "
                 "row per cell: every metric's median, min, max)"),
    /* clang-format off */
    {.name = "output", .letter = 'o', .kind = CLI_STRING, .field = F(dir), .value = "DIR",
     .check = not_stdout,
     .help = "directory for the plan, traces and the index (default "
             "results/compare-<workload>-<UTC stamp>/): new, empty, or with --force one an "
             "earlier compare wrote"},
    /* clang-format on */
    CLI_ROW_FLAG("force", 0, F(force),
                 "replace the earlier compare in DIR (says what it replaces)"),
    CLI_ROW_NUMBER("jobs", 'j', CLI_UNSIGNED, F(jobs), "N", 1, 1024,
                   "runs at once (default 1); real-engine runs only with --cpus-per-run, else one "
                   "at a time"),
    CLI_ROW_NUMBER("cpus-per-run", 0, CLI_UNSIGNED, F(cpus_per_run), "K", 1, 1024,
                   "pin each run to K cores of its own (sched_setaffinity)"),
    CLI_ROW_FLAG("keep-disturbed", 0, F(keep_disturbed),
                 "count real runs the host disturbed (a tick off its target, threads kept off "
                 "their cores by other processes) in the medians; by default they are left out "
                 "and listed"),
    CLI_ROW_FLAG("strict", 0, F(strict), "exit 1 when a run was disturbed (after writing it all)"),
    CLI_ROW_FLAG("plan", 0, F(plan_only),
                 "write DIR/plan.json (every run's command line) and stop"),
    CLI_ROW_STRING("run", 0, F(run_dir), "DIR",
                   "run one run of DIR's plan: --index I, or SLURM_ARRAY_TASK_ID"),
    CLI_ROW_STRING("index", 0, F(index), "I", "(with --run) the run, 0 to runs - 1"),
    CLI_ROW_STRING("cpus", 0, F(cpus), "LIST", "(with --run) the cores to pin it to, e.g. 2-3"),
    CLI_ROW_STRING("collect", 0, F(collect_dir), "DIR",
                   "read what DIR's runs left: table, index, report; lists the runs that have not "
                   "finished"),
    {0},
};
#undef F

static const struct cli_command compare_cmd = {
    "compare",
    "usage: gilsim compare WORKLOAD.json [options]        run a sweep here, print the table\n"
    "       gilsim compare WORKLOAD.json [options] --plan -o DIR    write the plan, run nothing\n"
    "       gilsim compare --run DIR [--index I]          run one run of the plan\n"
    "       gilsim compare --collect DIR                  the table of what has finished\n"
    "\n"
    "Runs the workload in every cell (policy x engine x --set values x --var values), N times\n"
    "with the seeds S..S+N-1, interleaved (A B C A B C ...) so that drift on a noisy machine\n"
    "hits all alike; keeps every trace in DIR with an index, and prints the key metrics\n"
    "(docs/metrics.md): the median over the repeats with its 95% confidence interval, a * where\n"
    "a cell differs from the reference policy's (Mann-Whitney U, p < 0.05), and convoy_factor =\n"
    "I/O ops/s under `none` / under the policy (of the same engine and variables).\n"
    "docs/sweeps.md has the whole story.\n",
    compare_opts,
    "DIR receives plan.json, every trace, its summary (*.summary.json) and result\n"
    "(*.result.json), index.json (the json format), runs.csv (one row per run), cells.csv\n"
    "(one row per cell) and table.txt; one compare plans, sweeps or collects in DIR at a time\n"
    "(DIR/.gilsim-compare is its lock). A run that finished is not run again. Progress goes\n"
    "to stderr when it is a terminal. SIGINT or SIGTERM: the runs in progress stop and leave\n"
    "no trace, no other starts, and the index of what finished is written.\n"
    "Exit status: 0 ok, 1 a run failed (or, --collect, has not finished; --strict, was\n"
    "disturbed), 2 bad input, 130/143 interrupted.\n",
};

/* ---- the modes ----------------------------------------------------------------------------- */

static void init_args(struct compare_args *a)
{
    memset(a, 0, sizeof *a);
    a->req.policies = "old,new,fifo,none";
    a->req.engines = (struct cli_choices){{ENG_REAL}, 1};
    a->req.repeat = 0; /* settle_seeds: 1, or the number of --seeds */
    a->req.seed = 1;
    a->format = CMP_FORMAT_TABLE;
}

static void free_request(struct cmp_request *req)
{
    for (unsigned i = 0; i < req->sets.n; i++)
        free(req->sets.l[i].copy);
    for (unsigned i = 0; i < req->vars.n; i++)
        free(req->vars.l[i].copy);
}

/* Collects DIR's results and writes the outputs: 0, or 1 when runs failed or are missing, or
 * with --strict were disturbed. signal: the one that stopped the sweep (0: none). */
static int collect_and_write(const struct compare_args *a, const struct cmp_plan *p, int signal,
                             struct err *e)
{
    struct cmp_results r;
    int rc = cmp_collect(p, signal, &r, e);
    if (!rc) {
        r.keep_disturbed = a->keep_disturbed;
        cmp_convoy_factors(p, &r);
        rc = cmp_write_outputs(p, &r, (enum cmp_format)a->format, e);
    }
    if (!rc && r.failed)
        rc = err_set(e, ERR_RUNTIME, "%u of %zu runs failed (see above)", r.failed, p->nruns);
    else if (!rc && r.not_run)
        rc = err_set(e, ERR_RUNTIME, "%zu of %zu runs have not finished (listed in the notes)",
                     r.not_run, p->nruns);
    else if (!rc && a->strict && r.disturbed)
        rc = err_set(e, ERR_RUNTIME, "%zu of %zu runs were disturbed by the host (--strict)",
                     r.disturbed, p->nruns);
    cmp_results_free(&r);
    return rc;
}

/* A sweep here: plan, write the plan, run what has not finished, collect. */
static int sweep(const struct compare_args *a, struct err *e)
{
    struct cmp_plan *p = NULL;
    int lock_fd = -1, sig = 0;
    /* every check before the directory is made or touched */
    int rc = cmp_plan_make(&a->req, a->dir, &p, e);
    if (!rc && !(rc = cmp_check_paths(p, e)) && !(rc = cmp_claim_dir(p, a->force, &lock_fd, e)))
        rc = cmp_write_plan(p, e);
    if (!rc && a->plan_only) {
        printf("%zu runs in %zu cells planned in %s/plan.json\n"
               "run them: tools/slurm-sweep %s, or gilsim compare --run %s --index I (0 to %zu)\n"
               "then: gilsim compare --collect %s\n",
               p->nruns, p->ncells, p->dir, p->dir, p->dir, p->nruns - 1, p->dir);
    } else if (!rc && !(rc = cmp_run_jobs(p, a->jobs, a->cpus_per_run, &sig, e))) {
        rc = collect_and_write(a, p, sig, e);
        rc = sig ? 128 + sig : rc;
    }
    if (lock_fd >= 0) close(lock_fd);
    cmp_plan_free(p);
    return rc;
}

/* --run: the run --index or SLURM_ARRAY_TASK_ID names. */
static int run_index(const struct compare_args *a, const struct cmp_plan *p, struct err *e)
{
    const char *index = a->index ? a->index : getenv("SLURM_ARRAY_TASK_ID");
    uint64_t i;
    if (!index || !cli_parse_u64(index, 0, CMP_MAX_RUNS, &i))
        return err_set(e, ERR_INPUT,
                       "--run: expected --index I or SLURM_ARRAY_TASK_ID (an integer), got '%s'",
                       index ? index : "neither");
    return cmp_run_one(p, (size_t)i, a->cpus, e);
}

/* --run and --collect: the plan rebuilt from the options DIR/plan.json keeps. */
static int from_plan(const struct compare_args *a, const char *dir, struct err *e)
{
    json_t *doc = NULL;
    int rc = cmp_read_plan(dir, &doc, e);
    if (rc) return rc;
    json_t *opts = json_object_get(doc, "options");
    size_t n = json_array_size(opts);
    char **argv = calloc(n + 2, sizeof *argv);
    struct compare_args planned;
    struct cmp_plan *p = NULL;
    int operand = (int)n + 1, lock_fd = -1;
    init_args(&planned);
    for (size_t i = 0; argv && i < n; i++)
        argv[i + 1] = (char *)json_string_value(json_array_get(opts, i));
    if (argv) argv[0] = "compare";
    rc = argv ? cli_parse_options(&compare_cmd, &planned, (int)n + 1, argv, &operand)
              : err_set(e, ERR_RUNTIME, "out of memory");
    planned.req.workload = operand < (int)n + 1 ? argv[operand] : "";
    if (!rc) rc = settle_seeds(&planned.req, e);
    if (!rc) rc = cmp_plan_make(&planned.req, dir, &p, e);
    if (!rc) rc = cmp_check_plan(p, doc, e);
    if (!rc && a->run_dir)
        rc = run_index(a, p, e);
    else if (!rc && !(rc = cmp_lock_dir(p, &lock_fd, e)))
        rc = collect_and_write(a, p, 0, e);
    if (lock_fd >= 0) close(lock_fd);
    cmp_plan_free(p);
    free_request(&planned.req);
    free(argv);
    json_decref(doc);
    return rc;
}

int cli_compare(int argc, char **argv)
{
    struct compare_args a;
    struct err e = {0};
    init_args(&a);
    int operand, rc = cli_parse_options(&compare_cmd, &a, argc, argv, &operand);
    const char *dir = a.run_dir ? a.run_dir : a.collect_dir;
    if (rc == 0 && a.run_dir && a.collect_dir) {
        rc = cli_usage_error("compare", "%s", "--run and --collect exclude each other");
    } else if (rc == 0 && dir && operand != argc) {
        rc = cli_usage_error("compare", "%s: the workload and options come from DIR's plan",
                             a.run_dir ? "--run" : "--collect");
    } else if (rc == 0 && dir) {
        rc = from_plan(&a, dir, &e);
    } else if (rc == 0 && operand != argc - 1) {
        rc = cli_usage_error("compare", "%s",
                             operand >= argc ? "expected one workload file"
                                             : "expected one workload file, got more");
    } else if (rc == 0 && !(rc = settle_seeds(&a.req, &e))) {
        a.req.workload = argv[operand];
        rc = sweep(&a, &e);
    }
    if (rc > 0 && rc < 128 && e.msg[0]) cli_fail(&e);
    free_request(&a.req);
    return rc == CLI_HELP_SHOWN ? 0 : rc;
}
