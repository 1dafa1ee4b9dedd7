/* cli/model.c - `gilsim model TRACE [-o WORKLOAD]`: a workload file derived from a trace
 * (analysis/model.h; docs/record.md, "The model"), checked by the workload reader before it is
 * written, so that what gilsim model writes, gilsim check accepts. */
#define _GNU_SOURCE /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/model.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/outfile.h"
#include "sim/wl.h"

struct model_args {
    const char *output;
    unsigned slack_us;
    bool counts;
};

#define F(f) offsetof(struct model_args, f)
static const struct cli_opt model_opts[] = {
    CLI_ROW_STRING("output", 'o', F(output), "WORKLOAD",
                   "write the workload file to WORKLOAD (through a temporary file; default: "
                   "stdout)"),
    CLI_ROW_NUMBER("slack-us", 0, CLI_UNSIGNED, F(slack_us), "US", 0, 100000,
                   "microseconds taken off every measured I/O, the timer slack the engines add "
                   "back to each wait (default 50, Linux's for a normal thread)"),
    CLI_ROW_FLAG("counts", 0, F(counts),
                 "keep every loop's recorded count (a program that does a fixed amount of work); "
                 "by default a thread that lived until the end repeats its last pattern until the "
                 "replay's end (a server, or a program that measures for a while: its rate)"),
    {0},
};
#undef F

static const struct cli_command model_cmd = {
    "model",
    "usage: gilsim model TRACE.json [-o WORKLOAD.json] [--slack-us US] [--counts]\n"
    "\n"
    "Derives a workload file from a trace (one gilsim record wrote, or any): per thread, its\n"
    "GIL-held stretches as cpu, its blocking calls as io, send, sleep and native with their\n"
    "measured lengths, repeating patterns as loops, I/O latencies that vary as distributions,\n"
    "alike threads of a group as one group. The description says what was recorded and every\n"
    "choice made. Replay it under any policy: gilsim compare WORKLOAD.json -p new,bfs ...\n"
    "Details: docs/record.md.\n",
    model_opts,
    "Exit status: 0 ok, 1 runtime failure, 2 the trace is not readable or no thread in it ever\n"
    "held the GIL.\n",
};

/* The workload into memory, checked as gilsim check would. */
static int build(const char *trace, const struct model_options *o, char **text, size_t *len,
                 struct err *e)
{
    struct model_trace *m = NULL;
    int rc = model_read_trace(trace, o, &m, e);
    if (rc) return rc;
    FILE *mem = open_memstream(text, len);
    if (!mem) {
        model_trace_free(m);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    rc = model_write_workload(mem, m, o, e);
    fclose(mem);
    model_trace_free(m);
    struct wl_workload *wl = NULL;
    struct err check = {0};
    if (rc == 0 && wl_parse(*text, *len, "(the model)", &wl, &check) != 0)
        rc = err_set(e, ERR_RUNTIME, "the model of %s is not a valid workload: %s", trace,
                     check.msg);
    wl_free(wl);
    return rc;
}

static int write_text(FILE *f, void *ctx, struct err *e)
{
    const char *text = ctx;
    (void)e;
    fputs(text, f);
    return 0;
}

int cli_model(int argc, char **argv)
{
    struct model_args a = {.output = "-", .slack_us = (unsigned)MODEL_DEFAULT_SLACK_US};
    int operand, rc = cli_parse_options(&model_cmd, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    const char *trace = NULL;
    if ((rc = cli_one_trace("model", argc, argv, operand, &trace))) return rc;
    struct model_options o = {
        .slack_us = a.slack_us, .end_share = MODEL_DEFAULT_END_SHARE, .counts = a.counts};
    struct err e = {0};
    char *text = NULL;
    size_t len = 0;
    const char *inputs[] = {trace, NULL};
    rc = outfile_check_path(a.output, &e);
    if (rc == 0) rc = build(trace, &o, &text, &len, &e);
    if (rc == 0) rc = outfile_write(a.output, OUTFILE_STDOUT, inputs, write_text, text, &e);
    free(text);
    return rc ? cli_fail(&e) : 0;
}
