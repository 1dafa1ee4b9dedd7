/* cli/summary.c - `gilsim summary TRACE [--json]`: the metrics of one trace (docs/metrics.md),
 * read in one streaming pass. */
#include <stdio.h>
#include <string.h>

#include "analysis/metrics.h"
#include "cli/cli.h"

static const char summary_help[] =
    "usage: gilsim summary TRACE.json [--json]\n"
    "\n"
    "Computes latency, throughput, convoy and fairness metrics from a trace's events, for the\n"
    "run and for every thread; docs/metrics.md defines each. Any trace in the gilsim-trace\n"
    "format works, whoever wrote it. A partial trace (complete: false) is summarized and\n"
    "marked as such.\n"
    "\n"
    "  --json      print one JSON document (gilsim-summary, version 1) instead of text\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 the file is not a readable gilsim trace.\n";

int cli_summary(int argc, char **argv)
{
    const char *path = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(summary_help, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("summary", "unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage_error("summary", "expected one trace file, got also '%s'", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return cli_usage_error("summary", "%s", "expected a trace file");

    struct err e = {0};
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    if (met_summarize_file(path, &m, &hdr, &e) != 0) return cli_fail(&e);
    int status = 0;
    if (as_json) {
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
    if (fflush(stdout) != 0 && !status) {
        err_set(&e, ERR_RUNTIME, "cannot write to standard output");
        status = cli_fail(&e);
    }
    return status;
}
