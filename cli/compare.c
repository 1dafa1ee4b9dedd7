/* cli/compare.c - `gilsim compare`: runs one workload under several policies and parameter
 * values, repeated and interleaved, keeps every trace, and tabulates the key metrics with the
 * convoy factor against the lock-free baseline (`none`). Each run is a child `gilsim run`
 * process, and every number is read back from its trace by the analysis side
 * (docs/metrics.md), exactly as `gilsim summary` would compute it. The pseudo-policy `cpython`
 * runs the workload on real CPython threads instead: its child is tools/pyrun (docs/pyrun.md),
 * which writes a trace in the same format. This file is the command: options, then the plan
 * (compare_plan.c), the runs (compare_run.c) and the outputs (compare_out.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/compare.h"

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
    "                         (default results/compare-<workload>-<UTC stamp>/): new, empty,\n"
    "                         or with --force one an earlier compare wrote\n"
    "      --force            replace the earlier compare in DIR (says what it replaces)\n"
    "\n"
    "DIR receives every trace, its summary (*.summary.json), index.json (the json format),\n"
    "runs.csv and table.txt; one compare at a time (DIR/.gilsim-compare is its lock).\n"
    "Progress goes to stderr when it is a terminal.\n"
    "SIGINT or SIGTERM: the run in progress stops, no other starts, and the index of what ran\n"
    "is written. Exit status: 0 ok, 1 a run failed, 2 bad input, 130/143 interrupted.\n";

/* ---- options ------------------------------------------------------------------------------- */

struct compare_args {
    struct compare *c;
    const char *policies;
    struct err e;
};

static int opt_policies(void *args, const char *v)
{
    ((struct compare_args *)args)->policies = v;
    return 0;
}

static int opt_set(void *args, const char *v)
{
    struct compare_args *a = args;
    return compare_parse_set(a->c, v, &a->e) ? cli_fail(&a->e) : 0;
}

static int opt_repeat(void *args, const char *v)
{
    if (cli_parse_u64(v, 1, 1000, &((struct compare_args *)args)->c->repeat)) return 0;
    return cli_usage_error("compare", "--repeat: expected an integer in [1, 1000], got '%s'", v);
}

static int opt_duration(void *args, const char *v)
{
    return cli_parse_duration("compare", v, &((struct compare_args *)args)->c->duration_ms);
}

static int opt_seed(void *args, const char *v)
{
    return cli_parse_seed("compare", v, &((struct compare_args *)args)->c->seed);
}

static int opt_format(void *args, const char *v)
{
    if (strcmp(v, "table") && strcmp(v, "csv") && strcmp(v, "json"))
        return cli_usage_error("compare", "--format: expected table, csv or json, got '%s'", v);
    ((struct compare_args *)args)->c->format = v;
    return 0;
}

static int opt_output(void *args, const char *v)
{
    if (strcmp(v, "-") == 0)
        return cli_usage_error("compare", "--output: a directory, not standard output (got '%s')",
                               v);
    ((struct compare_args *)args)->c->dir = v;
    return 0;
}

static int opt_force(void *args, const char *v)
{
    (void)v;
    ((struct compare_args *)args)->c->force = true;
    return 0;
}

/* clang-format off */
static const struct cli_opt compare_opts[] = {
    {"policies", 'p', true,  opt_policies},
    {"set",      's', true,  opt_set},
    {"repeat",   'r', true,  opt_repeat},
    {"duration", 'd', true,  opt_duration},
    {"seed",     0,   true,  opt_seed},
    {"format",   'f', true,  opt_format},
    {"output",   'o', true,  opt_output},
    {"force",    0,   false, opt_force},
    {NULL,       0,   false, NULL},
};
/* clang-format on */

/* ---- the command --------------------------------------------------------------------------- */

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
    if (c->lock_fd >= 0) close(c->lock_fd);
}

/* Everything checked and the directory ready before the first run; nothing is made or
 * touched until every check has passed. */
static int plan(struct compare *c, const char *policies, struct err *e)
{
    int rc;
    if ((rc = compare_plan_columns(c, policies, e)) ||
        (rc = wl_load(c->workload_path, &c->wl, e)) ||
        (rc = cli_self_exe(c->exe, sizeof c->exe, e)) || (rc = compare_find_pyrun(c, e)) ||
        (rc = compare_plan_runs(c, e)) || (rc = compare_choose_dir(c, e)) ||
        (rc = compare_check_paths(c, e)) || (rc = compare_claim_dir(c, e)))
        return rc;
    return 0;
}

/* Runs the plan and writes the outputs: 0, 128 + a signal that cut it short, or an error. */
static int run_and_write(struct compare *c, struct err *e)
{
    int rc = cli_signals_start(compare_on_signal, c);
    if (rc != 0) return err_set(e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(rc));
    if ((rc = compare_run_all(c, e))) return rc;
    int interrupt = atomic_load(&c->interrupt);
    if (interrupt) {
        char note[200];
        snprintf(note, sizeof note,
                 "interrupted by %s: %zu of %zu runs not run (status -1), the run in progress "
                 "kept as a partial trace",
                 interrupt == SIGINT ? "SIGINT" : "SIGTERM", c->not_run, c->nruns);
        json_array_append_new(c->notes, json_string(note));
    }
    compare_convoy_factors(c);
    if ((rc = compare_write_outputs(c, e))) return rc;
    if (interrupt) return 128 + interrupt;
    if (c->failed)
        return err_set(e, ERR_RUNTIME, "%u of %zu runs failed (see above)", c->failed, c->nruns);
    return 0;
}

int cli_compare(int argc, char **argv)
{
    struct compare c = {
        .repeat = 1, .seed = 1, .format = "table", .notes = json_array(), .lock_fd = -1};
    struct compare_args a = {.c = &c, .policies = "old,new,fifo,none"};
    int operand,
        rc = cli_parse_options("compare", compare_help, compare_opts, &a, argc, argv, &operand);
    if (rc == 0 && operand != argc - 1) {
        rc = cli_usage_error("compare", "%s",
                             operand >= argc ? "expected one workload file"
                                             : "expected one workload file, got more");
    } else if (rc == 0) {
        c.workload_path = argv[operand];
        rc = plan(&c, a.policies, &a.e);
        if (rc == 0) rc = run_and_write(&c, &a.e);
        if (rc > 0 && rc < 128) cli_fail(&a.e);
    }
    cli_signals_stop();
    free_compare(&c);
    return rc == CLI_HELP_SHOWN ? 0 : rc;
}
