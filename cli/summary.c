/* cli/summary.c - `gilsim summary TRACE [--json | --samples LIST]`: the metrics of one trace
 * (docs/metrics.md), read in one streaming pass, or the latency samples behind them. */
#include <stdio.h>
#include <string.h>

#include "analysis/metrics.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/outfile.h"

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
static void print_attribution(const struct met_run *m, const struct trace *hdr, FILE *out)
{
    for (size_t w = 0; w < hdr->nthreads; w++) {
        const struct attr_cell *c;
        size_t n = met_wait_row(m, w, &c);
        double total = (double)met_wait_total(m, w);
        for (size_t i = 0; i < n; i++) {
            fprintf(out, ATTRIBUTION ",%zu,", w);
            cli_csv_field(out, hdr->threads[w].name);
            fprintf(out, ",%lld,", (long long)c[i].ns);
            if (c[i].holder != ATTR_FREE) fprintf(out, "%d", c[i].holder);
            fputc(',', out);
            cli_csv_field(out,
                          c[i].holder == ATTR_FREE ? "(free)" : hdr->threads[c[i].holder].name);
            fprintf(out, ",%.10g\n", (double)c[i].ns / total);
        }
    }
}

static void print_samples(const struct met_run *m, const struct trace *hdr, const bool *wanted,
                          bool attribution, FILE *out)
{
    const char *more = attribution ? ",,," : "";
    fputs(attribution ? "metric,tid,thread,ns,holder_tid,holder,share\n" : "metric,tid,thread,ns\n",
          out);
    for (unsigned l = 0; met_latency_name(l); l++) {
        if (!wanted[l]) continue;
        for (size_t t = 0; t < hdr->nthreads; t++) {
            const int64_t *v;
            size_t n = met_samples(m, l, t, &v);
            for (size_t i = 0; i < n; i++) {
                fprintf(out, "%s,%zu,", met_latency_name(l), t);
                cli_csv_field(out, hdr->threads[t].name);
                fprintf(out, ",%lld%s\n", (long long)v[i], more);
            }
        }
    }
    if (attribution) print_attribution(m, hdr, out);
}

struct summary_args {
    const char *path, *samples, *output;
    bool json;
};

#define F(f) offsetof(struct summary_args, f)
static const struct cli_opt summary_opts[] = {
    CLI_ROW_FLAG("json", 0, F(json),
                 "print one JSON document (gilsim-summary, version 1) instead of text"),
    CLI_ROW_STRING("samples", 0, F(samples), "LIST",
                   "print every sample of the named latency metrics as CSV (metric,tid,thread,ns; "
                   "each thread's sorted ascending), for CDFs. LIST: comma-separated among "
                   "gil_wait, io_response, sleep_overshoot, request_latency, slice, handoff_gap; "
                   "or all (these six); and wait_attribution: the waiter x holder matrix, one row "
                   "per cell, in three more columns holder_tid,holder,share"),
    CLI_ROW_STRING("output", 'o', F(output), "OUT",
                   "write to OUT (through a temporary file) instead of stdout"),
    {0},
};
#undef F

static const struct cli_command summary_cmd = {
    "summary",
    "usage: gilsim summary TRACE.json [--json | --samples LIST] [-o OUT]\n"
    "\n"
    "Computes latency, throughput, convoy and fairness metrics from a trace's events, for the\n"
    "run and for every thread, and who made whom wait (the wait attribution: for each thread,\n"
    "which threads held the GIL while it waited); docs/metrics.md defines each. Any trace in\n"
    "the gilsim-trace format works, whoever wrote it. A partial trace (complete: false) is\n"
    "summarized and marked as such.\n",
    summary_opts,
    "Exit status: 0 ok, 1 runtime failure, 2 the file is not a readable gilsim trace.\n",
};

/* What the summary writes: the text, the JSON document or the samples. */
struct summary_out {
    const struct summary_args *a;
    const struct met_run *m;
    const struct trace *hdr;
    const bool *wanted;
    bool attribution;
};

static int write_summary(FILE *f, const struct summary_out *s, struct err *e)
{
    if (s->a->samples) {
        print_samples(s->m, s->hdr, s->wanted, s->attribution, f);
    } else if (s->a->json) {
        json_t *doc = met_to_json(s->m, s->a->path);
        int rc = doc ? json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) : -1;
        json_decref(doc);
        if (rc) return err_set(e, ERR_RUNTIME, "%s: cannot write the summary", s->a->path);
        fputc('\n', f);
    } else {
        met_print(s->m, s->a->path, f);
    }
    return 0;
}

int cli_summary(int argc, char **argv)
{
    struct summary_args a = {.output = "-"};
    int operand, rc = cli_parse_options(&summary_cmd, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if ((rc = cli_one_trace("summary", argc, argv, operand, &a.path))) return rc;
    if (a.json && a.samples)
        return cli_usage_error("summary", "%s", "--json and --samples exclude each other");
    bool wanted[MET_MAX_LATENCIES] = {false}, attribution = false;
    if (a.samples && (rc = parse_sample_list(a.samples, wanted, MET_MAX_LATENCIES, &attribution)))
        return rc;

    struct err e = {0};
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    const char *inputs[] = {a.path, NULL};
    struct outfile *of = NULL;
    /* With -o FILE, SIGINT/SIGTERM remove its temporary file and exit at once (128 + the
     * signal); writing to standard output keeps the default actions. */
    int src = strcmp(a.output, "-") != 0 ? cli_signals_start(NULL, NULL) : 0;
    if (src != 0) {
        err_set(&e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(src));
        return cli_fail(&e);
    }
    /* the output is checked before the trace is read */
    cli_signals_hold();
    rc = outfile_open(&of, a.output, OUTFILE_STDOUT, inputs, &e);
    if (rc == 0) cli_signals_set_tmp(outfile_tmp_path(of));
    cli_signals_release();
    if (rc == 0 &&
        (rc = met_summarize_file(a.path, a.samples ? MET_KEEP_SAMPLES : 0, &m, &hdr, &e)) == 0) {
        struct summary_out out = {&a, m, hdr, wanted, attribution};
        rc = write_summary(outfile_stream(of), &out, &e);
    }
    rc = rc ? (outfile_abort(of), rc) : outfile_commit(of, &e);
    cli_signals_set_tmp(NULL);
    cli_signals_stop();
    met_free(m);
    trace_free(hdr);
    return rc ? cli_fail(&e) : 0;
}
