/* cli/summary.c - `gilsim summary TRACE [--json | --samples LIST]`: the metrics of one trace
 * (docs/metrics.md), read in one streaming pass, or the latency samples behind them. */
#include <stdio.h>
#include <string.h>

#include "analysis/metrics.h"
#include "cli/cli.h"
#include "cli/commands.h"

static const char summary_help[] =
    "usage: gilsim summary TRACE.json [--json | --samples LIST]\n"
    "\n"
    "Computes latency, throughput, convoy and fairness metrics from a trace's events, for the\n"
    "run and for every thread, and who made whom wait (the wait attribution: for each thread,\n"
    "which threads held the GIL while it waited); docs/metrics.md defines each. Any trace in\n"
    "the gilsim-trace format works, whoever wrote it. A partial trace (complete: false) is\n"
    "summarized and marked as such.\n"
    "\n"
    "  --json          print one JSON document (gilsim-summary, version 1) instead of text\n"
    "  --samples LIST  print every sample of the named latency metrics as CSV\n"
    "                  (metric,tid,thread,ns; each thread's sorted ascending), for CDFs.\n"
    "                  LIST: comma-separated among gil_wait, io_response, sleep_overshoot,\n"
    "                  request_latency, slice, handoff_gap; or all (these six); and\n"
    "                  wait_attribution: the waiter x holder matrix, one row per cell, in\n"
    "                  three more columns holder_tid,holder,share\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 the file is not a readable gilsim trace.\n";

#define ATTRIBUTION "wait_attribution"

/* Parses a --samples list into wanted[] (latency metrics) and *attribution; 0, or a usage
 * error's status. */
static int parse_sample_list(const char *list, bool *wanted, unsigned n, bool *attribution)
{
    char name[64];
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        bool known = false;
        if (len > 0 && len < sizeof name) {
            memcpy(name, p, len);
            name[len] = '\0';
            int idx = met_latency_index(name);
            if (idx >= 0) wanted[idx] = known = true;
            if (strcmp(name, ATTRIBUTION) == 0) *attribution = known = true;
            if (strcmp(name, "all") == 0) {
                for (unsigned i = 0; i < n; i++)
                    wanted[i] = true;
                known = true;
            }
        }
        if (!known) {
            char msg[512] = "--samples: expected latency metrics (";
            for (unsigned l = 0; met_latency_name(l); l++)
                snprintf(msg + strlen(msg), sizeof msg - strlen(msg), "%s%s", l ? ", " : "",
                         met_latency_name(l));
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
                     "), all or " ATTRIBUTION ", got '%s'", list);
            return cli_usage_error("summary", "%s", msg);
        }
        if (!p[len]) return 0;
        p += len + 1;
    }
}

/* The waiter x holder matrix as CSV rows (docs/metrics.md). */
static void print_attribution(const struct met_run *m, const struct trace *hdr)
{
    for (size_t w = 0; w < hdr->nthreads; w++) {
        const struct attr_cell *c;
        size_t n = met_wait_row(m, w, &c);
        double total = (double)met_wait_total(m, w);
        for (size_t i = 0; i < n; i++) {
            printf(ATTRIBUTION ",%zu,", w);
            cli_csv_field(stdout, hdr->threads[w].name);
            printf(",%lld,", (long long)c[i].ns);
            if (c[i].holder != ATTR_FREE) printf("%d", c[i].holder);
            putchar(',');
            cli_csv_field(stdout,
                          c[i].holder == ATTR_FREE ? "(free)" : hdr->threads[c[i].holder].name);
            printf(",%.10g\n", (double)c[i].ns / total);
        }
    }
}

static void print_samples(const struct met_run *m, const struct trace *hdr, const bool *wanted,
                          bool attribution)
{
    const char *more = attribution ? ",,," : "";
    puts(attribution ? "metric,tid,thread,ns,holder_tid,holder,share" : "metric,tid,thread,ns");
    for (unsigned l = 0; met_latency_name(l); l++) {
        if (!wanted[l]) continue;
        for (size_t t = 0; t < hdr->nthreads; t++) {
            const int64_t *v;
            size_t n = met_samples(m, l, t, &v);
            for (size_t i = 0; i < n; i++) {
                printf("%s,%zu,", met_latency_name(l), t);
                cli_csv_field(stdout, hdr->threads[t].name);
                printf(",%lld%s\n", (long long)v[i], more);
            }
        }
    }
    if (attribution) print_attribution(m, hdr);
}

int cli_summary(int argc, char **argv)
{
    const char *path = NULL;
    bool as_json = false;
    const char *sample_list = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(summary_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (strcmp(argv[i], "--samples") == 0) {
            if (i + 1 >= argc) return cli_usage_error("summary", "%s", "--samples needs a list");
            sample_list = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("summary", "unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage_error("summary", "expected one trace file, got also '%s'", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return cli_usage_error("summary", "%s", "expected a trace file");
    if (as_json && sample_list)
        return cli_usage_error("summary", "%s", "--json and --samples exclude each other");
    bool wanted[MET_MAX_LATENCIES] = {false}, attribution = false;
    if (sample_list) {
        int rc =
            parse_sample_list(sample_list, wanted, sizeof wanted / sizeof *wanted, &attribution);
        if (rc) return rc;
    }

    struct err e = {0};
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    if (met_summarize_file(path, sample_list ? MET_KEEP_SAMPLES : 0, &m, &hdr, &e) != 0)
        return cli_fail(&e);
    int status = 0;
    if (sample_list) {
        print_samples(m, hdr, wanted, attribution);
    } else if (as_json) {
        json_t *doc = met_to_json(m, path);
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) != 0) {
            err_set(&e, ERR_RUNTIME, "%s: cannot write the summary", path);
            status = cli_fail(&e);
        } else {
            fputc('\n', stdout);
        }
        json_decref(doc);
    } else {
        met_print(m, path, stdout);
    }
    met_free(m);
    trace_free(hdr);
    if ((fflush(stdout) != 0 || ferror(stdout)) && !status) {
        err_set(&e, ERR_RUNTIME, "cannot write to standard output");
        status = cli_fail(&e);
    }
    return status;
}
