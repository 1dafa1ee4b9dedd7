/* cli/main.c - the gilsim command line: policies, check, run, and dispatch to summary,
 * compare, export and report (cli/summary.c, compare.c, export.c, report.c). Parses arguments,
 * turns library errors into messages and exit codes (0 ok, 1 runtime failure, 2 bad input). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "policies/registry.h"
#include "sim/engine.h"
#include "common/err.h"
#include "sim/trace_write.h"
#include "sim/wl.h"

#define MAX_SETS 32

int cli_fail(const struct err *e)
{
    fprintf(stderr, "gilsim: %s\n", e->msg);
    return (int)e->status;
}

int cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "gilsim %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'gilsim %s --help'.\n", cmd);
    return ERR_INPUT;
}

/* Whole-string unsigned integer in [min, max]. */
bool cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v < min || v > max) return false;
    *out = v;
    return true;
}

/* ---- policies ------------------------------------------------------------------------------ */

static const char policies_help[] =
    "usage: gilsim policies\n"
    "\n"
    "Lists every GIL policy with its parameters: name, default, unit and meaning.\n"
    "Set a parameter for a run with `gilsim run ... --set name=value`.\n";

static int cmd_policies(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            fputs(policies_help, stdout);
            return 0;
        }
        return cli_usage_error("policies", "unexpected argument '%s'", argv[1]);
    }
    for (const struct gil_policy *const *p = gil_policies; *p; p++) {
        printf("%-6s %s\n", (*p)->name, (*p)->summary);
        for (const struct gil_param *d = (*p)->params; d->name; d++)
            printf("       %-16s default %-6g %-6s %s\n", d->name, d->def, d->unit, d->doc);
        if (!(*p)->params->name) printf("       (no parameters)\n");
    }
    return 0;
}

/* ---- check --------------------------------------------------------------------------------- */

static const char check_help[] =
    "usage: gilsim check WORKLOAD.json...\n"
    "\n"
    "Validates workload files. Prints a one-line summary of each valid file on stdout and,\n"
    "for an invalid one, FILE:LINE:COL: JSON-PATH: what was expected, on stderr.\n"
    "Exit status: 0 all valid, 2 some file is invalid.\n";

static int cmd_check(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("check", "%s", "expected a workload file");
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(check_help, stdout);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        struct wl_workload *wl;
        struct err e = {0};
        if (wl_load(argv[i], &wl, &e) != 0) {
            status = cli_fail(&e) > status ? (int)e.status : status;
            continue;
        }
        char line[512];
        wl_describe(wl, line, sizeof line);
        printf("%s: ok: %s\n", argv[i], line);
        wl_free(wl);
    }
    return status;
}

/* ---- run ----------------------------------------------------------------------------------- */

static const char run_help[] =
    "usage: gilsim run WORKLOAD.json [options]\n"
    "\n"
    "Runs the workload on real threads under a GIL policy and writes a JSON trace.\n"
    "\n"
    "  -p, --policy NAME     GIL policy (default new; see `gilsim policies`)\n"
    "  -s, --set NAME=VALUE  set a policy parameter (repeatable)\n"
    "  -d, --duration MS     run length in ms (default: the workload's duration_ms)\n"
    "      --seed N          seed for every random draw (default 1)\n"
    "  -o, --output PATH     trace path (default results/<workload>-<policy>-<UTC stamp>.json)\n"
    "      --max-events N    per-thread event buffer; when full, further events are dropped\n"
    "                        and the trace says complete: false (default: ~32M events in all)\n"
    "      --stall-timeout MS  watchdog: when no thread makes progress for MS ms (a policy\n"
    "                        deadlock), report who holds the GIL and who waits, write the\n"
    "                        partial trace and exit 1 (default 10000; 0: off)\n"
    "      --no-trace        record nothing and write no trace (only the summary: what\n"
    "                        tracing costs, see tools/bench)\n"
    "  -q, --quiet           no summary on stderr\n"
    "\n"
    "SIGINT or SIGTERM stops the run: the trace is written with complete: false and\n"
    "stop_reason sigint or sigterm, exit status 130 or 143. A second SIGINT exits at once.\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure or stall, 2 bad input (workload, option,\n"
    "parameter; nothing is run or written), 130/143 stopped by SIGINT/SIGTERM.\n";

void cli_csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cli_utc_stamp(char *buf, size_t size)
{
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
    snprintf(buf, size, "%s.%03ldZ", stamp, ts.tv_nsec / 1000000);
}

static int default_trace_path(const char *workload, const char *policy, char *buf, size_t size)
{
    char stamp[40];
    cli_utc_stamp(stamp, sizeof stamp);
    if (mkdir("results", 0755) != 0 && errno != EEXIST) return -1;
    snprintf(buf, size, "results/%s-%s-%s.json", workload, policy, stamp);
    return 0;
}

static void print_summary(const struct eng_options *o, const struct eng_result *r, const char *path)
{
    double secs = (double)r->elapsed_ns / 1e9;
    fprintf(stderr, "gilsim: %s under %s", o->wl->name, o->policy->name);
    for (unsigned i = 0; i < o->params->n; i++)
        fprintf(stderr, "%s%s=%g", i ? ", " : " (", o->params->desc[i].name, o->params->value[i]);
    fprintf(stderr, "%s: %u threads, %.3f s (%s), tick %.1f ns\n", o->params->n ? ")" : "",
            r->nthreads, secs, r->stop_reason, r->ns_per_tick);
    /* Per group, so that 200 threads stay readable. */
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
        fprintf(stderr, "  %-12s x%-5u %12.0f ticks/s %10llu acquisitions", o->wl->groups[g].name,
                o->wl->groups[g].count, (double)ticks / secs, (unsigned long long)acq);
        if (ios) fprintf(stderr, " %9.0f io/s", (double)ios / secs);
        fputc('\n', stderr);
    }
    fprintf(stderr, "  total %.0f ticks/s, %llu acquisitions (%llu switches), %llu events",
            r->total_ticks / secs, (unsigned long long)r->acquisitions,
            (unsigned long long)r->switches, (unsigned long long)r->events);
    if (o->no_trace)
        fprintf(stderr, " (%llu not recorded: --no-trace)", (unsigned long long)r->events_dropped);
    else if (r->events_dropped)
        fprintf(stderr, ", %llu DROPPED (raise --max-events)",
                (unsigned long long)r->events_dropped);
    fprintf(stderr, "\n  trace: %s\n", path);
}

static void run_on_signal(void *ctx, int sig)
{
    fprintf(stderr, "gilsim: %s: stopping, writing the partial trace (again to quit at once)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    eng_ctl_stop(ctx, sig == SIGINT ? "sigint" : "sigterm");
}

/* Runs the workload and writes the trace; *abandoned tells when threads were left running
 * (the workload must then not be freed). */
static int run_and_write(struct eng_options *o, struct trace_out *out, const char *out_path,
                         bool quiet, bool *abandoned, struct err *e)
{
    struct eng_result *r = NULL;
    int rc = eng_run(o, &r, e);
    if (rc) {
        if (out) trace_out_abort(out);
        cli_signals_set_tmp(NULL);
        return rc;
    }
    *abandoned = r->abandoned > 0;
    if (out) rc = trace_out_commit(out, o, r, e);
    cli_signals_set_tmp(NULL);
    if (r->report) fprintf(stderr, "gilsim: %s", r->report);
    if (rc == 0 && !quiet) print_summary(o, r, out ? out_path : "nowhere (--no-trace)");
    if (rc == 0 && r->interrupted) {
        char where[600];
        if (out)
            snprintf(where, sizeof where, "partial trace written to %s", out_path);
        else
            snprintf(where, sizeof where, "no trace (--no-trace)");
        if (r->abandoned)
            rc = err_set(e, ERR_RUNTIME, "run ended (%s) with threads that would not stop: %s",
                         r->stop_reason, where);
        else if (strcmp(r->stop_reason, "stalled") == 0)
            rc = err_set(e, ERR_RUNTIME, "run stalled: %s", where);
        else
            fprintf(stderr, "gilsim: run stopped (%s): %s\n", r->stop_reason, where);
    }
    eng_result_free(r);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},
        {"set", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 'S'},
        {"output", required_argument, NULL, 'o'},
        {"max-events", required_argument, NULL, 'm'},
        {"stall-timeout", required_argument, NULL, 'T'},
        {"no-trace", no_argument, NULL, 'N'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *policy_name = "new", *out_path = NULL, *sets[MAX_SETS];
    unsigned nsets = 0;
    uint64_t duration_ms = 0, seed = 1, max_events = 0, stall_ms = 10000;
    bool quiet = false, no_trace = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":p:s:d:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            policy_name = optarg;
            break;
        case 's':
            if (nsets == MAX_SETS)
                return cli_usage_error("run", "too many --set options (at most %s)", "32");
            sets[nsets++] = optarg;
            break;
        case 'd':
            if (!cli_parse_u64(optarg, 1, (uint64_t)(WL_MAX_DURATION_NS / 1000000), &duration_ms))
                return cli_usage_error(
                    "run", "--duration: expected milliseconds in [1, 86400000], got '%s'", optarg);
            break;
        case 'S':
            if (!cli_parse_u64(optarg, 0, UINT64_MAX, &seed))
                return cli_usage_error("run", "--seed: expected a non-negative integer, got '%s'",
                                       optarg);
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'm':
            if (!cli_parse_u64(optarg, 16, UINT32_MAX, &max_events))
                return cli_usage_error(
                    "run", "--max-events: expected an integer in [16, 4294967295], got '%s'",
                    optarg);
            break;
        case 'T':
            if (!cli_parse_u64(optarg, 0, (uint64_t)(WL_MAX_DURATION_NS / 1000000), &stall_ms) ||
                (stall_ms > 0 && stall_ms < 10))
                return cli_usage_error(
                    "run",
                    "--stall-timeout: expected 0 (off) or milliseconds in [10, 86400000], got '%s'",
                    optarg);
            break;
        case 'N':
            no_trace = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            fputs(run_help, stdout);
            return 0;
        case ':':
            return cli_usage_error("run", "option '%s' needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("run", "%s",
                               optind >= argc ? "expected one workload file"
                                              : "expected one workload file, got more");

    struct err e = {0};
    const struct gil_policy *pol = gil_policy_find(policy_name);
    if (!pol) {
        char names[128] = "";
        size_t n = 0;
        for (const struct gil_policy *const *p = gil_policies; *p && n < sizeof names; p++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", (*p)->name);
        err_set(&e, ERR_INPUT, "--policy %s: no such policy (have: %s)", policy_name, names);
        return cli_fail(&e);
    }
    struct gil_params params;
    gil_params_defaults(&params, pol);
    for (unsigned i = 0; i < nsets; i++)
        if (gil_params_set(&params, pol, sets[i], &e) != 0) return cli_fail(&e);

    struct wl_workload *wl = NULL;
    if (wl_load(argv[optind], &wl, &e) != 0) return cli_fail(&e);

    if (no_trace && out_path) {
        wl_free(wl);
        return cli_usage_error("run", "%s", "--no-trace and --output exclude each other");
    }
    char default_path[512];
    if (!out_path && !no_trace) {
        if (default_trace_path(wl->name, pol->name, default_path, sizeof default_path) != 0) {
            err_set(&e, ERR_INPUT, "results: cannot create the results directory: %s",
                    strerror(errno));
            wl_free(wl);
            return cli_fail(&e);
        }
        out_path = default_path;
    }
    /* Signals are taken by their own thread from here on: before the output exists and
     * before any engine thread, which all inherit the blocked mask. */
    struct eng_ctl *ctl = NULL;
    int erc = eng_ctl_new(&ctl);
    if (erc == 0) erc = cli_signals_start(run_on_signal, ctl);
    if (erc != 0) {
        err_set(&e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(erc));
        eng_ctl_free(ctl);
        wl_free(wl);
        return cli_fail(&e);
    }
    struct trace_out *out = NULL;
    int rc = no_trace ? 0 : trace_out_open(&out, out_path, &e);
    bool abandoned = false;
    if (rc == 0) {
        if (out) cli_signals_set_tmp(trace_out_tmp_path(out));
        struct eng_options o = {
            .wl = wl,
            .policy = pol,
            .params = &params,
            .duration_ns = (int64_t)duration_ms * 1000000,
            .seed = seed,
            .max_events = (uint32_t)max_events,
            .stall_timeout_ns = stall_ms ? (int64_t)stall_ms * 1000000 : -1,
            .ctl = ctl,
            .no_trace = no_trace,
        };
        rc = run_and_write(&o, out, out_path, quiet, &abandoned, &e);
    }
    cli_signals_stop();
    eng_ctl_free(ctl);
    /* Threads left running still read the workload: the process ends soon anyway. */
    if (!abandoned) wl_free(wl);
    if (rc) return cli_fail(&e);
    int sig = cli_signals_received();
    return sig ? 128 + sig : 0;
}

/* ---- tools/ scripts ------------------------------------------------------------------------ */

#ifndef GILSIM_TOOLS_DIR
#define GILSIM_TOOLS_DIR "tools"
#endif

int cli_find_tool(const char *name, char *buf, size_t size, struct err *e)
{
    const char *tools = getenv("GILSIM_TOOLS_DIR");
    if (!tools || !*tools) tools = GILSIM_TOOLS_DIR;
    int n = snprintf(buf, size, "%s/%s", tools, name);
    if (n < 0 || (size_t)n >= size || access(buf, R_OK) != 0)
        return err_set(e, ERR_RUNTIME,
                       "cannot find %s/%s (set GILSIM_TOOLS_DIR to gilsim's tools/)", tools, name);
    return 0;
}

int cli_find_python(const char *var, const char *why, char *buf, size_t size, struct err *e)
{
    const char *py = getenv(var);
    if (!py || !*py) py = "/usr/bin/python3";
    if (strchr(py, '/')) {
        if ((size_t)snprintf(buf, size, "%s", py) < size && access(buf, X_OK) == 0) return 0;
    } else {
        /* a bare name (python3.12): the first executable of that name in PATH */
        const char *path = getenv("PATH");
        for (const char *p = path ? path : ""; *p;) {
            size_t len = strcspn(p, ":");
            int n = snprintf(buf, size, "%.*s/%s", (int)len, p, py);
            if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0) return 0;
            p += len + (p[len] == ':');
        }
    }
    return err_set(e, ERR_RUNTIME, "cannot run %s (%s; %s names another interpreter)", py, why,
                   var);
}

/* ---- main ---------------------------------------------------------------------------------- */

static const char main_help[] =
    "usage: gilsim COMMAND [options]\n"
    "\n"
    "GIL scheduling simulator: runs workload files on real threads under pluggable GIL\n"
    "policies and writes JSON traces.\n"
    "\n"
    "commands:\n"
    "  policies   list policies and their parameters\n"
    "  check      validate workload files\n"
    "  run        run a workload under a policy, write a trace\n"
    "  summary    latency, convoy and fairness metrics of a trace\n"
    "  compare    run a workload under several policies and parameters, tabulate the metrics\n"
    "  export     a trace as Chrome Trace Event JSON (Perfetto) or CSV\n"
    "  report     a self-contained HTML report (table, plots) of a compare directory\n"
    "\n"
    "`gilsim COMMAND --help` describes each. `gilsim --version` prints the version.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return ERR_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("gilsim %s\n", GILSIM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "policies") == 0) return cmd_policies(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "summary") == 0) return cli_summary(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cli_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return cli_export(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return cli_report(argc - 1, argv + 1);
    fprintf(stderr, "gilsim: unknown command '%s'\n\n%s", cmd, main_help);
    return ERR_INPUT;
}
