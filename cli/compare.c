/* cli/compare.c - `gilsim compare`: runs one workload under several policies, engines,
 * parameter values and workload variable values (a sweep: every combination is a cell),
 * repeated and interleaved, keeps every trace, and tabulates the key metrics with the convoy
 * factor against the lock-free baseline (`none`). Each run is a child `gilsim run` process, and
 * every number is read back from its trace by the analysis side (docs/metrics.md), exactly as
 * `gilsim summary` would compute it. The pseudo-policy `cpython` runs the workload on real
 * CPython threads instead: its child is tools/pyrun (docs/pyrun.md).
 *
 * One code path for a laptop and a cluster (docs/sweeps.md): the plan (compare_plan.c) is
 * written to DIR/plan.json (compare_planfile.c); every run is `gilsim compare --run DIR
 * --index I` (compare_run.c), started here N at a time (compare_jobs.c) or by a Slurm array;
 * `--collect` (compare_collect.c) reads what finished and writes the outputs (compare_out.c). */
#define _GNU_SOURCE /* realpath */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/compare.h"

static const char compare_help[] =
    "usage: gilsim compare WORKLOAD.json [options]        run a sweep here, print the table\n"
    "       gilsim compare WORKLOAD.json [options] --plan -o DIR    write the plan, run nothing\n"
    "       gilsim compare --run DIR [--index I]          run one run of the plan\n"
    "       gilsim compare --collect DIR                  the table of what has finished\n"
    "\n"
    "Runs the workload in every cell (policy x engine x --set values x --var values), N times,\n"
    "interleaved (A B C A B C ...) so that drift on a noisy machine hits all alike; keeps every\n"
    "trace in DIR with an index, and prints the key metrics (docs/metrics.md), median and\n"
    "min-max across repeats, with convoy_factor = I/O ops/s under `none` / under the policy\n"
    "(of the same engine and variables). docs/sweeps.md has the whole story.\n"
    "\n"
    "  -p, --policies LIST    comma-separated policies (default old,new,fifo,none); `cpython`\n"
    "                         runs the workload on real CPython threads (tools/pyrun with\n"
    "                         GILSIM_PYTHON, default /usr/bin/python3; --set interval_us\n"
    "                         sets its switch interval)\n"
    "  -s, --set NAME=V1,V2   values of a parameter, one cell each (repeatable; a policy\n"
    "                         without the parameter ignores it, with a note)\n"
    "      --var NAME=V1,V2   values of a workload variable, one cell each (repeatable)\n"
    "  -e, --engine LIST      real (default), virtual, or real,virtual side by side\n"
    "      --machine FILE     the virtual runs' machine (gilsim-machine file)\n"
    "      --machine-set NAME=VALUE[,...]  machine parameters of the virtual runs (repeatable)\n"
    "  -r, --repeat N         runs per cell (default 1)\n"
    "  -d, --duration MS      run length (default: the workload's duration_ms)\n"
    "      --seed N           seed of every run (default 1)\n"
    "  -f, --format FMT       table (default; one row per cell when there are more than 8),\n"
    "                         csv or json (one row per cell: every metric's median, min, max)\n"
    "  -o, --output DIR       directory for the plan, traces and the index\n"
    "                         (default results/compare-<workload>-<UTC stamp>/): new, empty,\n"
    "                         or with --force one an earlier compare wrote\n"
    "      --force            replace the earlier compare in DIR (says what it replaces)\n"
    "  -j, --jobs N           runs at once (default 1); real-engine runs only with\n"
    "                         --cpus-per-run, else one at a time\n"
    "      --cpus-per-run K   pin each run to K cores of its own (sched_setaffinity)\n"
    "      --plan             write DIR/plan.json (every run's command line) and stop\n"
    "      --run DIR          run one run of DIR's plan: --index I, or SLURM_ARRAY_TASK_ID\n"
    "      --index I          (with --run) the run, 0 to runs - 1\n"
    "      --cpus LIST        (with --run) the cores to pin it to, e.g. 2-3\n"
    "      --collect DIR      read what DIR's runs left: table, index, report; lists the runs\n"
    "                         that have not finished\n"
    "\n"
    "DIR receives plan.json, every trace, its summary (*.summary.json) and result\n"
    "(*.result.json), index.json (the json format), runs.csv (one row per run), cells.csv\n"
    "(one row per cell) and table.txt; one compare plans, sweeps or collects in DIR at a time\n"
    "(DIR/.gilsim-compare is its lock). A run that finished is not run again. Progress goes\n"
    "to stderr when it is a terminal. SIGINT or SIGTERM: the runs in progress stop and leave\n"
    "no trace, no other starts, and the index of what finished is written.\n"
    "Exit status: 0 ok, 1 a run failed (or, --collect, has not finished), 2 bad input,\n"
    "130/143 interrupted.\n";

/* ---- options ------------------------------------------------------------------------------- */

struct compare_args {
    struct compare *c;
    bool plan_only;
    const char *run_dir, *collect_dir, *index, *cpus;
    struct err e;
};

#define ARGS(a) ((struct compare_args *)(a))

static int opt_policies(void *a, const char *v)
{
    ARGS(a)->c->policies = v;
    return 0;
}

static int opt_set(void *a, const char *v)
{
    struct compare *c = ARGS(a)->c;
    int rc = compare_add_list(c->sets, &c->nsets, CLI_MAX_SETS, "--set", v, &ARGS(a)->e);
    return rc ? cli_fail(&ARGS(a)->e) : 0;
}

static int opt_var(void *a, const char *v)
{
    struct compare *c = ARGS(a)->c;
    int rc = compare_add_list(c->vars, &c->nvars, WL_MAX_VARS, "--var", v, &ARGS(a)->e);
    for (unsigned k = 0; !rc && k < c->vars[c->nvars - 1].nvalues; k++) {
        char one[200];
        snprintf(one, sizeof one, "%s=%s", c->vars[c->nvars - 1].name,
                 c->vars[c->nvars - 1].values[k]);
        rc = wl_var_arg(one, NULL, NULL, NULL, &ARGS(a)->e);
    }
    return rc ? cli_fail(&ARGS(a)->e) : 0;
}

static int opt_engine(void *a, const char *v)
{
    struct compare *c = ARGS(a)->c;
    static const char *const lists[] = {"real", "virtual", "real,virtual", "virtual,real"};
    for (unsigned i = 0; i < 4; i++) {
        if (strcmp(v, lists[i]) != 0) continue;
        c->nengines = i < 2 ? 1 : 2;
        c->engines[0] = i == 1 || i == 3 ? ENGINE_VIRTUAL : ENGINE_REAL;
        c->engines[1] = c->engines[0] == ENGINE_REAL ? ENGINE_VIRTUAL : ENGINE_REAL;
        return 0;
    }
    return cli_usage_error("compare", "--engine: expected real, virtual or real,virtual, got '%s'",
                           v);
}

static int opt_machine(void *a, const char *v)
{
    ARGS(a)->c->machine = v;
    return 0;
}

static int opt_machine_set(void *a, const char *v)
{
    struct compare *c = ARGS(a)->c;
    if (c->nmachine_sets == CLI_MAX_SETS)
        return cli_usage_error("compare", "too many --machine-set options: %s", v);
    c->machine_sets[c->nmachine_sets++] = v;
    return 0;
}

static int opt_repeat(void *a, const char *v)
{
    if (cli_parse_u64(v, 1, 1000, &ARGS(a)->c->repeat)) return 0;
    return cli_usage_error("compare", "--repeat: expected an integer in [1, 1000], got '%s'", v);
}

static int opt_duration(void *a, const char *v)
{
    return cli_parse_duration("compare", v, &ARGS(a)->c->duration_ms);
}

static int opt_seed(void *a, const char *v)
{
    return cli_parse_seed("compare", v, &ARGS(a)->c->seed);
}

static int opt_format(void *a, const char *v)
{
    if (strcmp(v, "table") && strcmp(v, "csv") && strcmp(v, "json"))
        return cli_usage_error("compare", "--format: expected table, csv or json, got '%s'", v);
    ARGS(a)->c->format = v;
    return 0;
}

static int opt_output(void *a, const char *v)
{
    if (strcmp(v, "-") == 0)
        return cli_usage_error("compare", "--output: a directory, not standard output (got '%s')",
                               v);
    ARGS(a)->c->dir = v;
    return 0;
}

static int opt_force(void *a, const char *v)
{
    (void)v;
    ARGS(a)->c->force = true;
    return 0;
}

static int opt_count(const char *name, const char *v, uint64_t max, unsigned *out)
{
    uint64_t n;
    if (!cli_parse_u64(v, 1, max, &n)) {
        char fmt[80];
        snprintf(fmt, sizeof fmt, "%s: expected an integer in [1, %llu], got '%%s'", name,
                 (unsigned long long)max);
        return cli_usage_error("compare", fmt, v);
    }
    *out = (unsigned)n;
    return 0;
}

static int opt_jobs(void *a, const char *v)
{
    return opt_count("--jobs", v, 1024, &ARGS(a)->c->jobs);
}

static int opt_cpus_per_run(void *a, const char *v)
{
    return opt_count("--cpus-per-run", v, 1024, &ARGS(a)->c->cpus_per_run);
}

static int opt_plan(void *a, const char *v)
{
    (void)v;
    ARGS(a)->plan_only = true;
    return 0;
}

static int opt_run(void *a, const char *v)
{
    ARGS(a)->run_dir = v;
    return 0;
}

static int opt_index(void *a, const char *v)
{
    ARGS(a)->index = v;
    return 0;
}

static int opt_cpus(void *a, const char *v)
{
    ARGS(a)->cpus = v;
    return 0;
}

static int opt_collect(void *a, const char *v)
{
    ARGS(a)->collect_dir = v;
    return 0;
}

static const struct cli_opt compare_opts[] = {
    {"policies", 'p', true, opt_policies},
    {"set", 's', true, opt_set},
    {"var", 0, true, opt_var},
    {"engine", 'e', true, opt_engine},
    {"machine", 0, true, opt_machine},
    {"machine-set", 0, true, opt_machine_set},
    {"repeat", 'r', true, opt_repeat},
    {"duration", 'd', true, opt_duration},
    {"seed", 0, true, opt_seed},
    {"format", 'f', true, opt_format},
    {"output", 'o', true, opt_output},
    {"force", 0, false, opt_force},
    {"jobs", 'j', true, opt_jobs},
    {"cpus-per-run", 0, true, opt_cpus_per_run},
    {"plan", 0, false, opt_plan},
    {"run", 0, true, opt_run},
    {"index", 0, true, opt_index},
    {"cpus", 0, true, opt_cpus},
    {"collect", 0, true, opt_collect},
    {NULL, 0, false, NULL},
};

/* ---- the modes ----------------------------------------------------------------------------- */

static void init_compare(struct compare *c)
{
    memset(c, 0, sizeof *c);
    c->repeat = 1;
    c->seed = 1;
    c->format = "table";
    c->notes = json_array();
    c->policies = "old,new,fifo,none";
    c->nengines = 1;
    c->engines[0] = ENGINE_REAL;
    c->lock_fd = -1;
}

static void free_compare(struct compare *c)
{
    for (unsigned i = 0; i < c->nsets; i++)
        free(c->sets[i].copy);
    for (unsigned i = 0; i < c->nvars; i++)
        free(c->vars[i].copy);
    for (size_t i = 0; i < c->nconfigs; i++) {
        for (unsigned k = 0; k < c->configs[i].nassign; k++)
            free(c->configs[i].assign[k]);
        for (unsigned k = 0; k < c->configs[i].nvars; k++)
            free(c->configs[i].vars[k]);
    }
    free(c->configs);
    free(c->combos);
    free(c->runs);
    json_decref(c->notes);
    json_decref(c->host);
    wl_free(c->wl);
    if (c->lock_fd >= 0) close(c->lock_fd);
}

/* The cells and runs, everything checked. */
static int plan(struct compare *c, struct err *e)
{
    int rc;
    if (!realpath(c->workload_path, c->workload_abs))
        snprintf(c->workload_abs, sizeof c->workload_abs, "%s", c->workload_path);
    if (c->machine && !realpath(c->machine, c->machine_abs))
        snprintf(c->machine_abs, sizeof c->machine_abs, "%s", c->machine);
    if ((rc = compare_plan_columns(c, c->policies, e)) ||
        (rc = wl_load(c->workload_path, &c->wl, e)) ||
        (rc = cli_self_exe(c->exe, sizeof c->exe, e)) || (rc = compare_find_pyrun(c, e)) ||
        (rc = compare_plan_runs(c, e)))
        return rc;
    return 0;
}

/* Collects DIR's results and writes the outputs: 0, or 1 when runs failed or are missing. */
static int collect_and_write(struct compare *c, struct err *e)
{
    int rc;
    if ((rc = compare_collect(c, e))) return rc;
    compare_convoy_factors(c);
    if ((rc = compare_write_outputs(c, e))) return rc;
    if (c->failed)
        return err_set(e, ERR_RUNTIME, "%u of %zu runs failed (see above)", c->failed, c->nruns);
    if (c->not_run)
        return err_set(e, ERR_RUNTIME, "%zu of %zu runs have not finished (listed in the notes)",
                       c->not_run, c->nruns);
    return 0;
}

/* A sweep here: plan, write the plan, run what has not finished, collect. */
static int sweep(struct compare *c, bool plan_only, struct err *e)
{
    int rc;
    /* every check before the directory is made or touched */
    if ((rc = plan(c, e)) || (rc = compare_choose_dir(c, e)) || (rc = compare_check_paths(c, e)) ||
        (rc = compare_claim_dir(c, e)) || (rc = compare_write_plan(c, e)))
        return rc;
    if (plan_only) {
        printf("%zu runs in %zu cells planned in %s/plan.json\n"
               "run them: tools/slurm-sweep %s, or gilsim compare --run %s --index I (0 to %zu)\n"
               "then: gilsim compare --collect %s\n",
               c->nruns, c->nconfigs, c->dir, c->dir, c->dir, c->nruns - 1, c->dir);
        return 0;
    }
    if ((rc = compare_run_jobs(c, e))) return rc;
    int sig = atomic_load(&c->interrupt);
    if (sig) {
        char note[200];
        snprintf(note, sizeof note,
                 "interrupted by %s: the runs in progress were stopped and left no trace; "
                 "`gilsim compare --collect` after `--run` of the others completes it",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
        json_array_append_new(c->notes, json_string(note));
    }
    rc = collect_and_write(c, e);
    return sig ? 128 + sig : rc;
}

/* --run and --collect: the plan rebuilt from the options DIR/plan.json keeps. */
static int from_plan(struct compare_args *a, const char *dir)
{
    json_t *doc = NULL;
    int rc = compare_read_plan(dir, &doc, &a->e);
    if (rc) return rc;
    json_t *opts = json_object_get(doc, "options");
    size_t n = json_array_size(opts);
    char **argv = calloc(n + 2, sizeof *argv);
    struct compare c;
    init_compare(&c);
    struct compare_args pa = {.c = &c};
    argv[0] = "compare";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)json_string_value(json_array_get(opts, i));
    int operand;
    rc = cli_parse_options("compare", compare_help, compare_opts, &pa, (int)n + 1, argv, &operand);
    c.workload_path = operand < (int)n + 1 ? argv[operand] : "";
    c.dir = dir;
    c.format = a->c->format;
    if (!rc) rc = plan(&c, &a->e);
    if (!rc) rc = compare_check_plan(&c, doc, &a->e);
    if (!rc && a->run_dir) {
        const char *index = a->index ? a->index : getenv("SLURM_ARRAY_TASK_ID");
        uint64_t i;
        if (!index || !cli_parse_u64(index, 0, COMPARE_MAX_RUNS, &i))
            rc = err_set(&a->e, ERR_INPUT,
                         "--run: expected --index I or SLURM_ARRAY_TASK_ID "
                         "(an integer), got '%s'",
                         index ? index : "neither");
        else
            rc = compare_run_one(&c, (size_t)i, a->cpus, &a->e);
    } else if (!rc && !(rc = compare_lock_dir(&c, &a->e))) {
        rc = collect_and_write(&c, &a->e);
    }
    free(argv);
    free_compare(&c);
    json_decref(doc);
    return rc;
}

int cli_compare(int argc, char **argv)
{
    struct compare c;
    init_compare(&c);
    struct compare_args a = {.c = &c};
    int operand,
        rc = cli_parse_options("compare", compare_help, compare_opts, &a, argc, argv, &operand);
    const char *dir = a.run_dir ? a.run_dir : a.collect_dir;
    if (rc == 0 && a.run_dir && a.collect_dir) {
        rc = cli_usage_error("compare", "%s", "--run and --collect exclude each other");
    } else if (rc == 0 && dir && operand != argc) {
        rc = cli_usage_error("compare", "%s: the workload and options come from DIR's plan",
                             a.run_dir ? "--run" : "--collect");
    } else if (rc == 0 && dir) {
        rc = from_plan(&a, dir);
    } else if (rc == 0 && operand != argc - 1) {
        rc = cli_usage_error("compare", "%s",
                             operand >= argc ? "expected one workload file"
                                             : "expected one workload file, got more");
    } else if (rc == 0) {
        c.workload_path = argv[operand];
        rc = sweep(&c, a.plan_only, &a.e);
    }
    if (rc > 0 && rc < 128 && a.e.msg[0]) cli_fail(&a.e);
    free_compare(&c);
    return rc == CLI_HELP_SHOWN ? 0 : rc;
}
