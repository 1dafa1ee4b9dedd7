/* cli/export.c - `gilsim export TRACE --format chrome|csv -o OUT`: a trace for the tools
 * researchers already use. chrome: Chrome Trace Event JSON for the Perfetto UI and
 * chrome://tracing; csv: one row per event for pandas and R. Both stream: one pass over the
 * trace (trace_scan), written as it is read, through a temporary file renamed into place. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/trace_read.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "common/outfile.h"
#include "common/text.h"

static const char export_help[] =
    "usage: gilsim export TRACE.json --format chrome|csv -o OUT\n"
    "\n"
    "  -f, --format chrome   Chrome Trace Event JSON: open it in https://ui.perfetto.dev or\n"
    "                        chrome://tracing. One track per thread with slices for holding\n"
    "                        the GIL, waiting for it, I/O, sleep, native and hold; instants for\n"
    "                        drop requests, failed wakeups, wait timeouts and forced switches;\n"
    "                        a counter of GIL waiters; serve requests as async slices.\n"
    "  -f, --format csv      one row per event (columns in docs/analysis.md)\n"
    "  -o, --output OUT      output file (written through a temporary file; - for stdout)\n"
    "\n"
    "Exit status: 0 ok, 1 runtime failure, 2 bad input (the trace or an option).\n";

/* Per-thread open slices: start time, or -1. */
enum slice_kind { SL_WAIT, SL_HOLD_GIL, SL_IO, SL_SLEEP, SL_NATIVE, SL_HOLD, SL_FORCE, NSLICE };
static const char *const slice_names[] = {"wait for GIL", "GIL",  "I/O",        "sleep",
                                          "native",       "hold", "forced wait"};
static const char *const slice_cats[] = {"gil", "gil", "op", "op", "op", "op", "gil"};

struct exp_thread {
    int64_t open[NSLICE];
};

struct exporter {
    FILE *out;
    bool chrome;
    const struct trace *hdr;
    struct exp_thread *th;
    size_t nthreads;
    bool first;  /* no event written yet (chrome: comma placement) */
    int waiters; /* chrome counter */
    int64_t last_t;
    bool forced_pending;
    int forced_from;
    int64_t forced_t;
    uint64_t request_id;
};

/* Chrome timestamps are µs; three decimals keep the nanoseconds. */
static void put_us(FILE *f, int64_t ns)
{
    uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns; /* INT64_MIN too */
    fprintf(f, "%s%" PRIu64 ".%03d", ns < 0 ? "-" : "", mag / 1000, (int)(mag % 1000));
}

static void sep(struct exporter *x)
{
    if (!x->first) fputs(",\n", x->out);
    x->first = false;
}

/* Chrome tids start at 1: some viewers treat 0 specially. */
static int chrome_tid(int tid)
{
    return tid + 1;
}

static void slice(struct exporter *x, int tid, enum slice_kind k, int64_t end)
{
    struct exp_thread *th = &x->th[tid];
    if (th->open[k] < 0) return;
    sep(x);
    fprintf(x->out, "{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"name\":\"%s\",\"cat\":\"%s\",\"ts\":",
            chrome_tid(tid), slice_names[k], slice_cats[k]);
    put_us(x->out, th->open[k]);
    fputs(",\"dur\":", x->out);
    put_us(x->out, end - th->open[k]);
    fputc('}', x->out);
    th->open[k] = -1;
}

static void instant(struct exporter *x, int tid, const char *name, int64_t t, int64_t holder)
{
    sep(x);
    fprintf(
        x->out,
        "{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%d,\"name\":\"%s\",\"cat\":\"gil\",\"ts\":",
        chrome_tid(tid), name);
    put_us(x->out, t);
    if (holder != TRACE_NO_ARG) fprintf(x->out, ",\"args\":{\"holder\":%" PRId64 "}", holder);
    fputc('}', x->out);
}

static void counter(struct exporter *x, int64_t t)
{
    sep(x);
    fputs("{\"ph\":\"C\",\"pid\":1,\"name\":\"GIL waiters\",\"ts\":", x->out);
    put_us(x->out, t);
    fprintf(x->out, ",\"args\":{\"waiters\":%d}}", x->waiters);
}

static int on_header(void *ctx, const struct trace *hdr, struct err *e)
{
    struct exporter *x = ctx;
    x->hdr = hdr;
    x->nthreads = hdr->nthreads;
    x->th = malloc((hdr->nthreads ? hdr->nthreads : 1) * sizeof *x->th);
    if (!x->th) return err_set(e, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < hdr->nthreads; i++)
        for (int k = 0; k < NSLICE; k++)
            x->th[i].open[k] = -1;
    if (!x->chrome) {
        fputs("t_ns,tid,thread,group,ev,reason,ticks,holder,ns,at\n", x->out);
        return 0;
    }
    json_t *wl = json_object_get(json_object_get(hdr->run, "workload"), "name");
    const char *wl_name = json_is_string(wl) ? json_string_value(wl) : "?";
    char *pname = malloc(strlen(wl_name) + strlen(hdr->policy) + 32);
    if (!pname) return err_set(e, ERR_RUNTIME, "out of memory");
    sprintf(pname, "gilsim: %s under %s", wl_name, hdr->policy);
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", x->out);
    sep(x);
    fputs("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":", x->out);
    text_put_json(x->out, pname);
    free(pname);
    fputs("}}", x->out);
    for (size_t i = 0; i < hdr->nthreads; i++) {
        sep(x);
        fprintf(x->out,
                "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":",
                chrome_tid((int)i));
        text_put_json(x->out, hdr->threads[i].name);
        fputs("}},\n", x->out);
        fprintf(x->out,
                "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":{"
                "\"sort_index\":%zu}}",
                chrome_tid((int)i), i);
    }
    return 0;
}

static int csv_event(struct exporter *x, const struct trace_event *ev)
{
    FILE *f = x->out;
    const struct trace_thread *th = &x->hdr->threads[ev->tid];
    fprintf(f, "%" PRId64 ",%d,", ev->t, ev->tid);
    cli_csv_field(f, th->name);
    fputc(',', f);
    cli_csv_field(f, th->group);
    fprintf(f, ",%s,%s", trace_ev_name((enum trace_ev)ev->ev),
            ev->ev == TRACE_EV_RELEASE ? trace_reason_name((enum trace_reason)ev->reason) : "");
    /* One column per argument key; empty when the event has none. */
    static const char *const keys[] = {"ticks", "holder", "ns", "at"};
    const char *key = trace_ev_arg_key((enum trace_ev)ev->ev);
    for (int k = 0; k < 4; k++) {
        fputc(',', f);
        if (key && ev->arg != TRACE_NO_ARG && strcmp(key, keys[k]) == 0)
            fprintf(f, "%" PRId64, ev->arg);
    }
    fputc('\n', f);
    return 0;
}

/* The GIL's own events: waiting for it, holding it, the waiter counter, forced switches. */
static void gil_event(struct exporter *x, const struct trace_event *ev)
{
    struct exp_thread *th = &x->th[ev->tid];
    int64_t t = ev->t;
    switch ((enum trace_ev)ev->ev) {
    case TRACE_EV_REQUEST:
        if (th->open[SL_WAIT] < 0) {
            th->open[SL_WAIT] = t;
            x->waiters++;
            counter(x, t);
        }
        break;
    case TRACE_EV_ACQUIRE:
        if (th->open[SL_WAIT] >= 0) {
            slice(x, ev->tid, SL_WAIT, t);
            x->waiters--;
            counter(x, t);
        }
        if (x->forced_pending && x->forced_from != ev->tid)
            instant(x, x->forced_from, "forced switch", x->forced_t, TRACE_NO_ARG);
        x->forced_pending = false;
        if (th->open[SL_HOLD_GIL] < 0) th->open[SL_HOLD_GIL] = t;
        break;
    case TRACE_EV_RELEASE:
        slice(x, ev->tid, SL_HOLD, t); /* a hold cut short by the end of the record */
        slice(x, ev->tid, SL_HOLD_GIL, t);
        x->forced_pending = ev->reason == TRACE_REASON_DROP_REQUEST;
        x->forced_from = ev->tid;
        x->forced_t = t;
        break;
    default: /* TRACE_EV_THREAD_EXIT */
        for (int k = 0; k < NSLICE; k++) {
            if (k == SL_WAIT && th->open[k] >= 0) {
                x->waiters--;
                counter(x, t);
            }
            slice(x, ev->tid, (enum slice_kind)k, t);
        }
        break;
    }
}

/* The slice an op's begin or end event opens or closes. */
static enum slice_kind op_slice(enum trace_ev ev)
{
    switch (ev) {
    case TRACE_EV_FORCE_WAIT_BEGIN:
    case TRACE_EV_FORCE_WAIT_END:
        return SL_FORCE;
    case TRACE_EV_IO_BEGIN:
    case TRACE_EV_IO_END:
        return SL_IO;
    case TRACE_EV_SLEEP_BEGIN:
    case TRACE_EV_SLEEP_END:
        return SL_SLEEP;
    case TRACE_EV_NATIVE_BEGIN:
    case TRACE_EV_NATIVE_END:
        return SL_NATIVE;
    default: /* TRACE_EV_HOLD_BEGIN, TRACE_EV_HOLD_END */
        return SL_HOLD;
    }
}

/* Requests overlap the GIL slices without nesting: async slices, their own track. */
static void request_event(struct exporter *x, const struct trace_event *ev)
{
    sep(x);
    fprintf(x->out,
            "{\"ph\":\"%s\",\"pid\":1,\"tid\":%d,\"cat\":\"request\",\"name\":\"request\","
            "\"id\":\"%d-%" PRId64 "\",\"ts\":",
            ev->ev == TRACE_EV_ARRIVAL ? "b" : "e", chrome_tid(ev->tid), ev->tid, ev->arg);
    put_us(x->out, ev->t);
    fputc('}', x->out);
}

static int on_event(void *ctx, const struct trace_event *ev, struct err *e)
{
    (void)e;
    struct exporter *x = ctx;
    if (!x->chrome) return csv_event(x, ev);
    x->last_t = ev->t;
    switch ((enum trace_ev)ev->ev) {
    case TRACE_EV_REQUEST:
    case TRACE_EV_ACQUIRE:
    case TRACE_EV_RELEASE:
    case TRACE_EV_THREAD_EXIT:
        gil_event(x, ev);
        break;
    case TRACE_EV_DROP_REQUEST:
        instant(x, ev->tid, "drop request", ev->t, ev->arg);
        break;
    case TRACE_EV_WAIT_TIMEOUT:
        instant(x, ev->tid, "wait timeout", ev->t, ev->arg);
        break;
    case TRACE_EV_WAKEUP_FAILED:
        instant(x, ev->tid, "failed wakeup", ev->t, ev->arg);
        break;
    case TRACE_EV_FORCE_WAIT_BEGIN:
    case TRACE_EV_IO_BEGIN:
    case TRACE_EV_SLEEP_BEGIN:
    case TRACE_EV_NATIVE_BEGIN:
    case TRACE_EV_HOLD_BEGIN:
        x->th[ev->tid].open[op_slice((enum trace_ev)ev->ev)] = ev->t;
        break;
    case TRACE_EV_FORCE_WAIT_END:
    case TRACE_EV_IO_END:
    case TRACE_EV_SLEEP_END:
    case TRACE_EV_NATIVE_END:
    case TRACE_EV_HOLD_END:
        slice(x, ev->tid, op_slice((enum trace_ev)ev->ev), ev->t);
        break;
    case TRACE_EV_ARRIVAL:
    case TRACE_EV_DONE:
        request_event(x, ev);
        break;
    case TRACE_EV_THREAD_START:
    case TRACE_EV_COUNT:
        break;
    }
    return 0;
}

/* The whole export: the trace read and written as it is read. */
static int export_trace(struct exporter *x, const char *path, struct trace **hdr, struct err *e)
{
    struct trace_sink sink = {.header = on_header, .event = on_event, .ctx = x};
    int rc = trace_scan(path, &sink, hdr, e);
    if (!rc && x->chrome) {
        /* Slices still open when the record ends (a partial trace) close at its last event. */
        for (size_t i = 0; i < x->nthreads; i++)
            for (int k = 0; k < NSLICE; k++)
                slice(x, (int)i, (enum slice_kind)k, x->last_t);
        fputs("\n],\"otherData\":{\"source\":", x->out);
        text_put_json(x->out, path);
        fprintf(x->out, ",\"complete\":%s}}\n", (*hdr)->complete ? "true" : "false");
    }
    return rc;
}

struct export_args {
    const char *format, *output;
};

static int opt_format(void *args, const char *v)
{
    if (strcmp(v, "chrome") && strcmp(v, "csv"))
        return cli_usage_error("export", "--format: expected chrome or csv, got '%s'", v);
    ((struct export_args *)args)->format = v;
    return 0;
}

static int opt_output(void *args, const char *v)
{
    ((struct export_args *)args)->output = v;
    return 0;
}

static const struct cli_opt export_opts[] = {
    {"format", 'f', true, opt_format},
    {"output", 'o', true, opt_output},
    {NULL, 0, false, NULL},
};

int cli_export(int argc, char **argv)
{
    struct export_args a = {0};
    int operand,
        rc = cli_parse_options("export", export_help, export_opts, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (operand != argc - 1) return cli_usage_error("export", "%s", "expected one trace file");
    if (!a.format) return cli_usage_error("export", "%s", "expected --format chrome or csv");
    if (!a.output) return cli_usage_error("export", "%s", "expected -o OUT");
    const char *format = a.format, *out_path = a.output;

    struct err e = {0};
    /* SIGINT/SIGTERM: remove the temporary file and exit at once (128 + the signal). */
    int src = cli_signals_start(NULL, NULL);
    if (src != 0) {
        err_set(&e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(src));
        return cli_fail(&e);
    }
    const char *inputs[] = {argv[operand], NULL};
    struct outfile *of = NULL;
    rc = outfile_open(&of, out_path, OUTFILE_STDOUT, inputs, &e);
    struct exporter x = {.chrome = strcmp(format, "chrome") == 0, .first = true};
    struct trace *hdr = NULL;
    if (!rc) {
        cli_signals_set_tmp(outfile_tmp_path(of));
        x.out = outfile_stream(of);
        rc = export_trace(&x, argv[operand], &hdr, &e);
        rc = rc ? (outfile_abort(of), rc) : outfile_commit(of, &e);
    }
    cli_signals_set_tmp(NULL);
    cli_signals_stop();
    free(x.th);
    trace_free(hdr);
    return rc ? cli_fail(&e) : 0;
}
