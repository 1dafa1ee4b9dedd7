/* cli/export.c - `gilsim export TRACE --format chrome|speedscope|csv [-o OUT]`: a trace for the
 * tools researchers already use. chrome: Chrome Trace Event JSON for the Perfetto UI,
 * chrome://tracing and Speedscope; speedscope: Speedscope's own format (cli/speedscope.c); csv:
 * one row per event for pandas and R. One pass over the trace (trace_scan); chrome and csv are
 * written as they are read. Every format goes through a temporary file renamed into place. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/trace_read.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/speedscope.h"
#include "cli/states.h"
#include "common/outfile.h"
#include "common/text.h"

enum format { FMT_CHROME, FMT_SPEEDSCOPE, FMT_CSV };
static const char *const format_names[] = {"chrome", "speedscope", "csv", NULL};
static const char *const format_suffixes[] = {".trace.json", ".speedscope.json", ".csv"};

struct exporter {
    FILE *out;
    enum format format;
    const struct trace *hdr;
    struct states *states;
    struct speedscope *speedscope;
    bool *waiting; /* chrome: per thread, for the waiters counter */
    bool first;    /* no event written yet (chrome: comma placement) */
    int waiters;
    int64_t last_t;
    bool forced_pending;
    int forced_from;
    int64_t forced_t;
};

/* Chrome timestamps are µs; three decimals keep the nanoseconds. Slices are B/E pairs, so a
 * slice's end and the next one's start are the same decimal string: no reader has to add a
 * duration to a start in floating point and land a hair past the next slice. */
static void put_us(FILE *f, int64_t ns)
{
    if (ns < 0) {
        fputc('-', f);
        ns = -ns;
    }
    fprintf(f, "%" PRId64 ".%03d", ns / 1000, (int)(ns % 1000));
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

/* A slice boundary: B or E with the same name and category (viewers pair them by name). */
static void chrome_boundary(struct exporter *x, char ph, int tid, enum state_kind k, int64_t t)
{
    sep(x);
    fprintf(x->out,
            "{\"ph\":\"%c\",\"pid\":1,\"tid\":%d,\"name\":\"%s\",\"cat\":\"%s\",\"ts\":", ph,
            chrome_tid(tid), state_name(k), state_category(k));
    put_us(x->out, t);
    fputc('}', x->out);
}

static void chrome_open(void *ctx, int tid, enum state_kind k, int64_t t)
{
    chrome_boundary(ctx, 'B', tid, k, t);
}

static void chrome_close(void *ctx, int tid, enum state_kind k, int64_t t)
{
    chrome_boundary(ctx, 'E', tid, k, t);
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

/* An object event as an instant on its thread ("put jobs" with the queue's length, "blocks in
 * get on jobs" where its object wait slice begins, ...), and a queue's length as a counter of
 * its own. */
static void object_instant(struct exporter *x, const struct trace_event *ev)
{
    const char *name = x->hdr->objects[trace_obj_index(ev->reason)].name;
    const char *what = trace_ev_name((enum trace_ev)ev->ev) + 4; /* "obj_put" -> "put" */
    sep(x);
    fprintf(x->out, "{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":%d,\"cat\":\"object\",\"name\":",
            chrome_tid(ev->tid));
    char label[160];
    if (ev->ev == TRACE_EV_OBJ_WAIT_BEGIN) /* "blocks in get on jobs" */
        snprintf(label, sizeof label, "blocks in %s on %s",
                 trace_obj_op_name(trace_obj_op(ev->reason)), name);
    else if (ev->ev == TRACE_EV_OBJ_WAIT_END)
        snprintf(label, sizeof label, "timed out on %s", name);
    else
        snprintf(label, sizeof label, "%s %s", what, name);
    cli_json_string(x->out, label);
    fputs(",\"ts\":", x->out);
    put_us(x->out, ev->t);
    const char *key = trace_ev_arg_key((enum trace_ev)ev->ev);
    if (key && ev->arg != TRACE_NO_ARG)
        fprintf(x->out, ",\"args\":{\"%s\":%" PRId64 "}", key, ev->arg);
    fputc('}', x->out);
    if ((ev->ev != TRACE_EV_OBJ_PUT && ev->ev != TRACE_EV_OBJ_GET) || ev->arg == TRACE_NO_ARG)
        return;
    sep(x);
    snprintf(label, sizeof label, "queue %s", name);
    fputs("{\"ph\":\"C\",\"pid\":1,\"name\":", x->out);
    cli_json_string(x->out, label);
    fputs(",\"ts\":", x->out);
    put_us(x->out, ev->t);
    fprintf(x->out, ",\"args\":{\"length\":%" PRId64 "}}", ev->arg);
}

static void counter(struct exporter *x, int64_t t)
{
    sep(x);
    fputs("{\"ph\":\"C\",\"pid\":1,\"name\":\"GIL waiters\",\"ts\":", x->out);
    put_us(x->out, t);
    fprintf(x->out, ",\"args\":{\"waiters\":%d}}", x->waiters);
}

/* "gilsim: <workload> under <policy>": the process in Chrome viewers, the file in Speedscope. */
static void run_name(const struct trace *hdr, char *buf, size_t size)
{
    json_t *wl = json_object_get(json_object_get(hdr->run, "workload"), "name");
    int n = snprintf(buf, size, "gilsim: %s under %s",
                     json_is_string(wl) ? json_string_value(wl) : "?", hdr->policy);
    if (n >= (int)size) buf[text_utf8_cut(buf, size - 1)] = '\0'; /* whole characters only */
}

static void chrome_header(struct exporter *x, const struct trace *hdr)
{
    char pname[256];
    run_name(hdr, pname, sizeof pname);
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", x->out);
    sep(x);
    fputs("{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{\"name\":", x->out);
    cli_json_string(x->out, pname);
    fputs("}}", x->out);
    for (size_t i = 0; i < hdr->nthreads; i++) {
        sep(x);
        fprintf(x->out,
                "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":{\"name\":",
                chrome_tid((int)i));
        cli_json_string(x->out, hdr->threads[i].name);
        fputs("}},\n", x->out);
        fprintf(x->out,
                "{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_sort_index\",\"args\":{"
                "\"sort_index\":%zu}}",
                chrome_tid((int)i), i);
    }
}

static int on_header(void *ctx, const struct trace *hdr, struct err *e)
{
    struct exporter *x = ctx;
    x->hdr = hdr;
    if (x->format == FMT_CSV) {
        fputs("t_ns,tid,thread,group,ev,reason,ticks,holder,ns,at,object,op,timeout_ns,timed_out,"
              "value,len,n\n",
              x->out);
        return 0;
    }
    struct states_sink sink = {.open = chrome_open, .close = chrome_close, .ctx = x};
    if (x->format == FMT_SPEEDSCOPE) {
        int rc = speedscope_new(&x->speedscope, hdr, e);
        if (rc) return rc;
        sink = speedscope_sink(x->speedscope);
    } else {
        x->waiting = calloc(hdr->nthreads ? hdr->nthreads : 1, sizeof *x->waiting);
        if (!x->waiting) return err_set(e, ERR_RUNTIME, "out of memory");
        chrome_header(x, hdr);
    }
    return states_new(&x->states, hdr->nthreads, &sink, e);
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
    /* One column per argument key, the object's between them; empty when the event has none. */
    static const char *const keys[] = {"ticks",      "holder",    "ns",    "at",  "", "",
                                       "timeout_ns", "timed_out", "value", "len", "n"};
    const char *key = trace_ev_arg_key((enum trace_ev)ev->ev);
    bool obj = trace_ev_has_object((enum trace_ev)ev->ev);
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        fputc(',', f);
        if (k == 4 && obj)
            cli_csv_field(f, x->hdr->objects[trace_obj_index(ev->reason)].name);
        else if (k == 5 && ev->ev == TRACE_EV_OBJ_WAIT_BEGIN)
            fputs(trace_obj_op_name(trace_obj_op(ev->reason)), f);
        else if (key && ev->arg != TRACE_NO_ARG && keys[k][0] && strcmp(key, keys[k]) == 0)
            fprintf(f, "%" PRId64, ev->arg);
    }
    fputc('\n', f);
    return 0;
}

/* The waiters counter and the instants of the Chrome format. */
static void chrome_event(struct exporter *x, const struct trace_event *ev)
{
    int64_t t = ev->t;
    bool was_waiting = x->waiting[ev->tid];
    switch ((enum trace_ev)ev->ev) {
    case TRACE_EV_REQUEST:
        x->waiting[ev->tid] = true;
        break;
    case TRACE_EV_ACQUIRE:
        x->waiting[ev->tid] = false;
        if (x->forced_pending && x->forced_from != ev->tid)
            instant(x, x->forced_from, "forced switch", x->forced_t, TRACE_NO_ARG);
        x->forced_pending = false;
        break;
    case TRACE_EV_RELEASE:
        x->forced_pending = ev->reason == TRACE_REASON_DROP_REQUEST;
        x->forced_from = ev->tid;
        x->forced_t = t;
        break;
    case TRACE_EV_THREAD_EXIT:
        x->waiting[ev->tid] = false;
        break;
    case TRACE_EV_DROP_REQUEST:
        instant(x, ev->tid, "drop request", t, ev->arg);
        break;
    case TRACE_EV_WAIT_TIMEOUT:
        instant(x, ev->tid, "wait timeout", t, ev->arg);
        break;
    case TRACE_EV_WAKEUP_FAILED:
        instant(x, ev->tid, "failed wakeup", t, ev->arg);
        break;
    case TRACE_EV_ARRIVAL:
    case TRACE_EV_DONE:
        /* Requests overlap the GIL slices without nesting: async slices, their own track. */
        sep(x);
        fprintf(x->out,
                "{\"ph\":\"%s\",\"pid\":1,\"tid\":%d,\"cat\":\"request\",\"name\":\"request\","
                "\"id\":\"%d-%" PRId64 "\",\"ts\":",
                ev->ev == TRACE_EV_ARRIVAL ? "b" : "e", chrome_tid(ev->tid), ev->tid, ev->arg);
        put_us(x->out, t);
        fputc('}', x->out);
        break;
    default:
        /* every object event but the end of a wait that did not time out */
        if (trace_ev_has_object((enum trace_ev)ev->ev) &&
            (ev->ev != TRACE_EV_OBJ_WAIT_END || ev->arg == 1))
            object_instant(x, ev);
        break;
    }
    if (was_waiting != x->waiting[ev->tid]) {
        x->waiters += was_waiting ? -1 : 1;
        counter(x, t);
    }
}

static int on_event(void *ctx, const struct trace_event *ev, struct err *e)
{
    (void)e;
    struct exporter *x = ctx;
    if (x->format == FMT_CSV) return csv_event(x, ev);
    x->last_t = ev->t;
    states_event(x->states, ev);
    if (x->format == FMT_CHROME) chrome_event(x, ev);
    return 0;
}

/* Ends the document after the last event: slices still open (a partial trace) close at it. */
static int finish(struct exporter *x, const char *trace_path, const struct trace *hdr,
                  struct err *e)
{
    if (x->format == FMT_CSV) return 0;
    states_close_all(x->states, x->last_t);
    if (x->format == FMT_SPEEDSCOPE) {
        char name[256];
        run_name(hdr, name, sizeof name);
        json_t *elapsed = json_object_get(hdr->run, "elapsed_ns");
        int64_t end = x->last_t;
        if (json_is_integer(elapsed) && json_integer_value(elapsed) > end)
            end = (int64_t)json_integer_value(elapsed);
        return speedscope_write(x->speedscope, x->out, name, end, e);
    }
    fputs("\n],\"otherData\":{\"source\":", x->out);
    cli_json_string(x->out, trace_path);
    fprintf(x->out, ",\"complete\":%s}}\n", hdr->complete ? "true" : "false");
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* word followed by a <8 digits>T<6 digits> time stamp somewhere in s. */
static bool has_stamp_after(const char *s, const char *word)
{
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
        const char *d = p + strlen(word);
        bool stamp = strlen(d) >= 15 && d[8] == 'T';
        for (int i = 0; i < 15 && stamp; i++)
            stamp = i == 8 || (d[i] >= '0' && d[i] <= '9');
        if (stamp) return true;
    }
    return false;
}

/* Speedscope chooses its importer by the file's name before it looks inside: *.chrome.json and
 * Trace-/Profile-<date>T<time> names are taken for Chrome DevTools recordings (and fail on a
 * trace), *.cpuprofile likewise, *.speedscope.json for its own format. */
static bool speedscope_misreads(const char *path, enum format f)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (f == FMT_CSV) return false;
    return ends_with(base, ".chrome.json") || ends_with(base, ".cpuprofile") ||
           (f == FMT_CHROME && ends_with(base, ".speedscope.json")) ||
           has_stamp_after(base, "Trace-") || has_stamp_after(base, "Profile-");
}

/* The default output: the trace's path with .json replaced by the format's suffix. */
static int default_output(const char *trace, enum format f, char *buf, size_t size)
{
    size_t n = strlen(trace);
    if (ends_with(trace, ".json")) n -= 5;
    int len = snprintf(buf, size, "%.*s%s", (int)n, trace, format_suffixes[f]);
    return len < 0 || (size_t)len >= size ? -1 : 0;
}

struct export_args {
    int format; /* enum format, -1 until given */
    const char *output;
};

static const char *const format_help[] = {
    "Chrome Trace Event JSON: open it in https://ui.perfetto.dev, chrome://tracing or "
    "https://www.speedscope.app. One track per thread with slices (B/E pairs) for holding the "
    "GIL, waiting for it, I/O, sleep, native and hold; instants for drop requests, failed "
    "wakeups, wait timeouts and forced switches; a counter of GIL waiters; serve requests as "
    "async slices.",
    /* In parentheses: one string in two pieces, not a missing comma (clang's
     * -Wstring-concatenation). */
    ("Speedscope's own format: one profile per thread, its states as frames, in ns "
     "(https://www.speedscope.app)"),
    "one row per event (columns in docs/analysis.md)",
};

static const struct cli_opt export_opts[] = {
    {.name = "format",
     .letter = 'f',
     .kind = CLI_ENUM,
     .field = offsetof(struct export_args, format),
     .names = format_names,
     .names_help = format_help},
    CLI_ROW_STRING("output", 'o', offsetof(struct export_args, output), "OUT",
                   "output file (written through a temporary file; - for stdout); default: the "
                   "trace's name with .json replaced by .trace.json, .speedscope.json or .csv"),
    {0},
};

static const struct cli_command export_cmd = {
    "export",
    "usage: gilsim export TRACE.json --format chrome|speedscope|csv [-o OUT]\n",
    export_opts,
    "Exit status: 0 ok, 1 runtime failure, 2 bad input (the trace or an option).\n",
};

/* Streams the trace at path into out in format f. */
static int export_to(const char *path, enum format f, FILE *out, struct err *e)
{
    struct exporter x = {.out = out, .format = f, .first = true};
    struct trace_sink sink = {.header = on_header, .event = on_event, .ctx = &x};
    struct trace *hdr = NULL;
    int rc = trace_scan(path, &sink, &hdr, e);
    if (!rc) rc = finish(&x, path, hdr, e);
    states_free(x.states);
    speedscope_free(x.speedscope);
    free(x.waiting);
    trace_free(hdr);
    return rc;
}

int cli_export(int argc, char **argv)
{
    struct export_args a = {.format = -1};
    int operand, rc = cli_parse_options(&export_cmd, &a, argc, argv, &operand);
    if (rc) return rc == CLI_HELP_SHOWN ? 0 : rc;
    if (operand != argc - 1) return cli_usage_error("export", "%s", "expected one trace file");
    if (a.format < 0)
        return cli_usage_error("export", "%s", "expected --format chrome, speedscope or csv");
    enum format format = (enum format)a.format;
    const char *trace = argv[operand], *out_path = a.output;
    char default_path[4096];
    if (!out_path) {
        if (default_output(trace, format, default_path, sizeof default_path))
            return cli_usage_error("export", "%s", "trace path too long for a default -o");
        out_path = default_path;
    }
    if (speedscope_misreads(out_path, format))
        fprintf(stderr,
                "gilsim export: note: Speedscope takes a file named like %s for another format "
                "and fails to open it; %s avoids that\n",
                out_path, format_suffixes[format]);

    struct err e = {0};
    /* SIGINT/SIGTERM: remove the temporary file and exit at once (128 + the signal). */
    int src = cli_signals_start(NULL, NULL);
    if (src != 0) {
        err_set(&e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(src));
        return cli_fail(&e);
    }
    const char *inputs[] = {trace, NULL};
    struct outfile *of = NULL;
    cli_signals_hold();
    rc = outfile_open(&of, out_path, OUTFILE_STDOUT, inputs, &e);
    if (!rc) cli_signals_set_tmp(outfile_tmp_path(of));
    cli_signals_release();
    if (!rc) {
        rc = export_to(trace, format, outfile_stream(of), &e);
        rc = rc ? (outfile_abort(of), rc) : outfile_commit(of, &e);
    }
    cli_signals_set_tmp(NULL);
    cli_signals_stop();
    if (!rc && isatty(STDERR_FILENO) && strcmp(out_path, "-") != 0) {
        text_put(stderr, out_path);
        fputc('\n', stderr);
    }
    return rc ? cli_fail(&e) : 0;
}
