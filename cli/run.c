/* cli/run.c - `gilsim run`: one workload under one policy, on real threads or in virtual time
 * on a modelled machine, the trace written
 * through sim/trace_write.c, a summary on stderr. Options are one table (run_opts): adding
 * one is a field in struct run_args and a row in the table (cli/cli.h). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/outfile.h"
#include "common/text.h"
#include "common/utc.h"
#include "policies/registry.h"
#include "sim/engine.h"
#include "sim/trace_write.h"
#include "sim/wl.h"

/* What the command line asked for. */
struct run_args {
    const char *policy, *output, *workload, *machine;
    struct cli_choices engine; /* none: real */
    struct cli_list sets, machine_sets, vars;
    uint64_t duration_ms, seed, max_events, stall_ms;
    bool quiet, no_trace, no_fsync;
};

#define F(f) offsetof(struct run_args, f)
static const struct cli_opt run_opts[] = {
    CLI_ROW_STRING("policy", 'p', F(policy), "NAME",
                   "GIL policy (default new; see `gilsim policies`)"),
    CLI_ROW_ENGINE(F(engine), 1, "NAME",
                   "real (default): pthreads on this machine; virtual: simulated threads on the "
                   "machine of --machine (docs/virtual.md)"),
    CLI_ROW_MACHINE(F(machine), "the modelled machine, a gilsim-machine file (default: built-in "
                                "defaults, this development VM's; see `gilsim machines`)"),
    CLI_ROW_MACHINE_SET(F(machine_sets), "override machine parameters (repeatable)"),
    /* clang-format off */
    {.name = "set", .letter = 's', .kind = CLI_LIST, .field = F(sets), .value = "NAME=VALUE",
     .max = CLI_MAX_SETS, .distinct = true, .help = "set a policy parameter (repeatable)"},
    /* clang-format on */
    CLI_ROW_VAR(F(vars), "set a workload variable (repeatable; docs/workload-format.md)"),
    CLI_ROW_DURATION(F(duration_ms), "run length in ms (default: the workload's duration_ms)"),
    CLI_ROW_SEED(F(seed), "seed for every random draw (default 1)"),
    CLI_ROW_STRING("output", 'o', F(output), "PATH",
                   "trace path (default results/<workload>-<policy>-<UTC stamp>.json)"),
    CLI_ROW_NUMBER("max-events", 0, CLI_U64, F(max_events), "N", 16, UINT32_MAX,
                   "per-thread event buffer; when full, further events are dropped and the trace "
                   "says complete: false (default: ~32M events in all)"),
    /* clang-format off */
    {.name = "stall-timeout", .kind = CLI_U64, .field = F(stall_ms), .value = "MS", .min = 10,
     .max = CLI_MAX_DURATION_MS, .what = "milliseconds", .zero_off = true,
     .help = "watchdog: when no thread makes progress for MS ms (a policy deadlock), report who "
             "holds the GIL and who waits, write the partial trace and exit 1 (default 10000; 0: "
             "off)"},
    /* clang-format on */
    CLI_ROW_FLAG("no-trace", 0, F(no_trace),
                 "record nothing and write no trace (only the summary: what tracing costs, see "
                 "tools/bench)"),
    CLI_ROW_FLAG("no-fsync", 0, F(no_fsync),
                 "do not fsync the trace and its directory after writing it (faster for a large "
                 "trace on a network filesystem; a crash of the machine may then leave it empty "
                 "or partial under its name)"),
    CLI_ROW_FLAG("quiet", 'q', F(quiet), "no summary on stderr"),
    {0},
};
#undef F

static const struct cli_command run_cmd = {
    "run",
    "usage: gilsim run WORKLOAD.json [options]\n"
    "\n"
    "Runs the workload under a GIL policy and writes a JSON trace: on real threads, or\n"
    "simulated in virtual time on a modelled machine (deterministic: the same inputs give\n"
    "the same events on any host).\n",
    run_opts,
    "SIGINT, SIGTERM or SIGHUP stops the run: the trace is written with complete: false and\n"
    "stop_reason sigint, sigterm or sighup, exit status 130, 143 or 129. A second one exits at\n"
    "once.\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure or stall, 2 bad input (workload, option,\n"
    "parameter; nothing is run or written), 130/143/129 stopped by SIGINT/SIGTERM/SIGHUP.\n",
};

static enum eng_kind run_engine(const struct run_args *a)
{
    return a->engine.n ? (enum eng_kind)a->engine.v[0] : ENG_REAL;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* The policy by name and its parameters with every --set applied. */
static int resolve_policy(const struct run_args *a, const struct gil_policy **pol,
                          struct gil_params *params, struct err *e)
{
    *pol = gil_policy_find(a->policy);
    if (!*pol) {
        char names[128] = "";
        size_t n = 0;
        const struct gil_policy *p;
        for (size_t i = 0; (p = gil_policy_at(i)) && n < sizeof names; i++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", p->name);
        return err_set(e, ERR_INPUT, "--policy %s: no such policy (have: %s)", a->policy, names);
    }
    gil_params_defaults(params, *pol);
    for (unsigned i = 0; i < a->sets.n; i++)
        if (gil_params_set(params, *pol, a->sets.v[i], e) != 0) return e->status;
    return 0;
}

/* The modelled machine: defaults, the file, then every --machine-set in turn. */
static int resolve_machine(const struct run_args *a, struct machine *m, struct err *e)
{
    mach_defaults(m);
    if (run_engine(a) != ENG_VIRTUAL && (a->machine || a->machine_sets.n))
        return err_set(e, ERR_INPUT,
                       "%s: only the virtual engine has a modelled machine "
                       "(add --engine virtual)",
                       a->machine ? "--machine" : "--machine-set");
    if (a->machine && mach_load(m, a->machine, e) != 0) return e->status;
    for (unsigned i = 0; i < a->machine_sets.n; i++)
        if (mach_set(m, a->machine_sets.v[i], e) != 0) return e->status;
    return 0;
}

static void print_group_rates(const struct eng_options *o, const struct eng_result *r, double secs)
{
    for (size_t g = 0; g < o->wl->ngroups; g++) {
        uint64_t ticks = 0, acq = 0, ios = 0;
        for (unsigned i = 0; i < r->nthreads; i++) {
            const struct eng_thread_result *t = &r->threads[i];
            if (t->group != o->wl->groups[g].name) continue;
            ticks += t->ticks;
            acq += t->acquisitions;
            for (uint32_t k = 0; k < t->nevents; k++)
                ios += t->events[k].ev == TRACE_EV_IO_END;
        }
        char name[64];
        fprintf(stderr, "  %-12s x%-5u %12.0f ticks/s %10llu acquisitions",
                text_escape(o->wl->groups[g].name, name, sizeof name), o->wl->groups[g].count,
                (double)ticks / secs, (unsigned long long)acq);
        if (ios) fprintf(stderr, " %9.0f io/s", (double)ios / secs);
        fputc('\n', stderr);
    }
}

/* This process's peak resident memory in KiB (VmHWM: unlike getrusage's maxrss, it does not
 * count what the process that started us held before the exec); -1 when unknown. */
static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

static void print_summary(const struct eng_options *o, const struct eng_result *r, const char *path)
{
    double secs = (double)r->elapsed_ns / 1e9;
    char machine[256];
    fputs("gilsim: ", stderr);
    text_put(stderr, o->wl->name);
    fprintf(stderr, " under %s", o->policy->name);
    for (unsigned i = 0; i < o->params->n; i++)
        fprintf(stderr, "%s%s=%g", i ? ", " : " (", o->params->desc[i].name, o->params->value[i]);
    fprintf(stderr, "%s: %u threads, %.3f s (%s), tick %.1f ns", o->params->n ? ")" : "",
            r->nthreads, secs, r->stop_reason, r->ns_per_tick);
    if (o->engine == ENG_VIRTUAL) {
        char source[600];
        fprintf(stderr, ", virtual time on machine %s (%s, %g cores)",
                text_escape(o->machine->name, machine, sizeof machine),
                text_escape(o->machine->source, source, sizeof source), o->machine->v[MACH_cores]);
    }
    fputc('\n', stderr);
    if (o->engine == ENG_VIRTUAL && o->machine->builtin) cli_note_host_calibration(o->machine);
    print_group_rates(o, r, secs); /* per group, so that 200 threads stay readable */
    fprintf(stderr, "  total %.0f ticks/s, %llu acquisitions (%llu switches), %llu events",
            r->total_ticks / secs, (unsigned long long)r->acquisitions,
            (unsigned long long)r->switches, (unsigned long long)r->events);
    if (o->no_trace)
        fprintf(stderr, " (%llu not recorded: --no-trace)", (unsigned long long)r->events_dropped);
    else if (r->events_dropped)
        fprintf(stderr, ", %llu DROPPED (raise --max-events)",
                (unsigned long long)r->events_dropped);
    fprintf(stderr, "\n  peak RSS %ld KiB\n  trace: %s\n", peak_rss_kib(), path);
}

/* What the signal thread shares with the run: the engine's stop, and whether the run is over
 * (a signal then lets the trace be finished: it is complete, and the exit status says so). */
struct run_signals {
    struct eng_ctl *ctl;
    _Atomic bool over;
};

static void run_on_signal(void *ctx, int sig)
{
    struct run_signals *rs = ctx;
    const char *name = cli_signal_name(sig);
    if (atomic_load(&rs->over)) {
        fprintf(stderr,
                "gilsim: %s: the run is over, finishing its trace (again to quit at once)\n", name);
        return;
    }
    fprintf(stderr, "gilsim: %s: stopping, writing the partial trace (again to quit at once)\n",
            name);
    eng_ctl_stop(rs->ctl, cli_signal_reason(sig));
}

/* The exit status of a run that ended: what its trace says, 128 + the signal that stopped it. */
static int stop_status(const struct eng_result *r)
{
    int signo = cli_signal_of_reason(r->stop_reason);
    return signo ? 128 + signo : 0;
}

/* A run that ended early: a message, and an error when it stalled or left threads behind. */
static int report_interrupted(const struct eng_result *r, const char *out_path, struct err *e)
{
    char where[600];
    if (out_path)
        snprintf(where, sizeof where, "partial trace written to %s", out_path);
    else
        snprintf(where, sizeof where, "no trace (--no-trace)");
    if (r->abandoned)
        return err_set(e, ERR_RUNTIME, "run ended (%s) with threads that would not stop: %s",
                       r->stop_reason, where);
    if (strcmp(r->stop_reason, "stalled") == 0)
        return err_set(e, ERR_RUNTIME, "run stalled: %s", where);
    if (strcmp(r->stop_reason, "error") == 0)
        return err_set(e, ERR_RUNTIME, "run failed: %s", where);
    fprintf(stderr, "gilsim: run stopped (%s): %s\n", r->stop_reason, where);
    return 0;
}

/* Runs the workload and writes the trace; *abandoned tells when threads were left running
 * (the workload must then not be freed), *status the exit status the trace agrees with. */
static int run_and_write(struct eng_options *o, struct run_signals *rs, struct trace_out *out,
                         const struct run_args *a, bool *abandoned, int *status, struct err *e)
{
    struct eng_result *r = NULL;
    int rc = eng_run(o, &r, e);
    atomic_store(&rs->over, true);
    if (rc) {
        if (out) trace_out_abort(out);
        cli_signals_set_tmp(NULL);
        return rc;
    }
    *abandoned = r->abandoned > 0;
    *status = stop_status(r);
    if (out) rc = trace_out_commit(out, o, r, e);
    cli_signals_set_tmp(NULL);
    if (r->report) fprintf(stderr, "gilsim: %s", r->report);
    if (rc == 0 && !a->quiet) print_summary(o, r, out ? a->output : "nowhere (--no-trace)");
    if (rc == 0 && r->interrupted) rc = report_interrupted(r, out ? a->output : NULL, e);
    eng_result_free(r);
    return rc;
}

/* Signal handling, the reserved output, the run. */
static int run_with_signals(const struct run_args *a, struct eng_options *o, bool *abandoned,
                            int *status, struct err *e)
{
    /* Signals are taken by their own thread from here on: before the output exists and
     * before any engine thread, which all inherit the blocked mask. */
    struct run_signals rs = {NULL, false};
    int erc = eng_ctl_new(&rs.ctl);
    if (erc == 0) erc = cli_signals_start(run_on_signal, &rs);
    if (erc != 0) {
        eng_ctl_free(rs.ctl);
        return err_set(e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(erc));
    }
    struct trace_out *out = NULL;
    const char *inputs[] = {a->workload, a->machine, NULL}; /* the machine is an input too */
    cli_signals_hold();
    int rc = a->no_trace
                 ? 0
                 : trace_out_open(&out, a->output, a->no_fsync ? OUTFILE_NO_SYNC : 0, inputs, e);
    if (rc == 0 && out) cli_signals_set_tmp(trace_out_tmp_path(out));
    cli_signals_release();
    if (rc == 0) {
        o->ctl = rs.ctl;
        rc = run_and_write(o, &rs, out, a, abandoned, status, e);
    }
    cli_signals_stop();
    eng_ctl_free(rs.ctl);
    return rc;
}

int cli_run(int argc, char **argv)
{
    struct run_args a = {.policy = "new", .seed = 1, .stall_ms = 10000};
    int operand, rc = cli_parse_options(&run_cmd, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (operand != argc - 1)
        return cli_usage_error("run", "%s",
                               operand >= argc ? "expected one workload file"
                                               : "expected one workload file, got more");
    a.workload = argv[operand];

    struct err e = {0};
    const struct gil_policy *pol;
    struct gil_params params;
    struct wl_workload *wl = NULL;
    struct machine machine;
    if (resolve_policy(&a, &pol, &params, &e) != 0 || resolve_machine(&a, &machine, &e) != 0 ||
        wl_load_vars(a.workload, a.vars.v, a.vars.n, &wl, &e) != 0)
        return cli_fail(&e);
    if (a.no_trace && a.output) {
        wl_free(wl);
        return cli_usage_error("run", "%s", "--no-trace and --output exclude each other");
    }
    char default_path[512];
    if (!a.output && !a.no_trace) {
        char stamp[32];
        utc_stamp(stamp, sizeof stamp, UTC_BASIC, 3);
        if (cli_results_dir() != 0) {
            err_set(&e, ERR_INPUT, "results: cannot create the results directory: %s",
                    strerror(errno));
            wl_free(wl);
            return cli_fail(&e);
        }
        snprintf(default_path, sizeof default_path, "results/%s-%s-%s.json", wl->name, pol->name,
                 stamp);
        a.output = default_path;
    }
    struct eng_options o = {
        .wl = wl,
        .engine = run_engine(&a),
        .machine = &machine,
        .policy = pol,
        .params = &params,
        .duration_ns = (int64_t)a.duration_ms * 1000000,
        .seed = a.seed,
        .max_events = (uint32_t)a.max_events,
        .stall_timeout_ns = a.stall_ms ? (int64_t)a.stall_ms * 1000000 : -1,
        .no_trace = a.no_trace,
    };
    bool abandoned = false;
    int status = 0;
    rc = run_with_signals(&a, &o, &abandoned, &status, &e);
    /* Threads left running still read the workload: the process ends soon anyway. */
    if (!abandoned) wl_free(wl);
    return rc ? cli_fail(&e) : status;
}
