/* record/rec_trace.c - a recording as a gilsim-trace v1 document: run (what was run, the
 * interpreter, how it was recorded and what was only counted), threads (threading's names),
 * the events through common/trace_emit.h with the recorder's own keys: `call` (the blocking
 * call behind a release or a span) and `inferred` (placed at the process' end). See record.h
 * and docs/trace-format.md. */
#define _GNU_SOURCE /* memrchr */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/host.h"
#include "common/text.h"
#include "common/trace_emit.h"
#include "common/version.h" /* generated into the build tree */
#include "record/record.h"

#define X_NAME(name, str, kind) str,
static const char *const call_names[] = {REC_CALL_TABLE(X_NAME)};
#undef X_NAME
#define X_KEY(name, key) key,
static const char *const counter_keys[] = {REC_COUNTER_TABLE(X_KEY)};
#undef X_KEY

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

void rec_command_name(char *const *argv, char *buf, size_t size)
{
    const char *pick = argv[0] ? argv[0] : "";
    size_t len = strlen(pick);
    for (size_t i = 1; argv[0] && argv[i]; i++) {
        size_t n = strlen(argv[i]);
        if (strcmp(argv[i], "-m") == 0 && argv[i + 1]) {
            pick = argv[i + 1], len = strlen(pick);
            break;
        }
        if (n > 3 && strcmp(argv[i] + n - 3, ".py") == 0) {
            pick = argv[i], len = n - 3;
            break;
        }
    }
    const char *slash = memrchr(pick, '/', len);
    if (slash) len -= (size_t)(slash + 1 - pick), pick = slash + 1;
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < size && k < 64; i++)
        buf[k++] = name_char(pick[i]) ? pick[i] : '_';
    if (k == 0) k = (size_t)snprintf(buf, size, "recorded");
    buf[k] = '\0';
}

/* ---- run ------------------------------------------------------------------------------------ */

static json_t *command_json(char *const *argv)
{
    json_t *a = json_array();
    for (size_t i = 0; a && argv[i]; i++)
        json_array_append_new(a, text_json(argv[i]));
    return a;
}

static json_t *exit_json(const struct rec_child *c)
{
    if (WIFSIGNALED(c->status)) return json_pack("{s:i}", "signal", WTERMSIG(c->status));
    return json_pack("{s:i}", "code", WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
}

static json_t *recording_json(const struct rec_data *d, const struct rec_options *o)
{
    const struct rec_process *p = &d->proc;
    json_t *r = json_pack(
        "{s:s, s:o, s:I, s:I, s:I, s:I, s:I, s:I}", "method",
        "LD_PRELOAD interposition of the GIL's pthread calls and the blocking libc calls "
        "(docs/record.md)",
        "library", text_json(o->lib), "pid", (json_int_t)p->pid, "gil_offset",
        (json_int_t)p->gil_offset, "interval_first_us", (json_int_t)p->interval_first_us,
        "interval_changes", (json_int_t)(p->interval_changes ? p->interval_changes - 1 : 0),
        "threads_missing", (json_int_t)d->threads_missing, "events_clamped",
        (json_int_t)d->events_clamped);
    for (int i = 0; r && i < REC_COUNTER_COUNT; i++)
        json_object_set_new(r, counter_keys[i], json_integer((json_int_t)p->counters[i]));
    return r;
}

static const char *stop_reason(const struct rec_child *c)
{
    return c->stop_signal == SIGINT ? "sigint" : c->stop_signal == SIGTERM ? "sigterm" : "finished";
}

static json_t *run_json(const struct rec_data *d, const struct rec_child *c,
                        const struct rec_options *o)
{
    const struct rec_process *p = &d->proc;
    char name[72], version[32], policy[48];
    rec_command_name(o->argv, name, sizeof name);
    snprintf(version, sizeof version, "%llu.%llu.%llu", (unsigned long long)(p->py_version >> 24),
             (unsigned long long)((p->py_version >> 16) & 0xff),
             (unsigned long long)((p->py_version >> 8) & 0xff));
    snprintf(policy, sizeof policy, "cpython-%s", version);
    int64_t elapsed = c->end_ns - c->t0_ns;
    int64_t stop = (p->end_ns ? p->end_ns : c->end_ns) - c->t0_ns;
    char desc[256];
    snprintf(desc, sizeof desc, "recorded by gilsim record, %s (the command is run.command)",
             c->start_utc);
    json_t *run = json_pack(
        "{s:s, s:{s:s, s:s}, s:s, s:{s:I}, s:I, s:f, s:s, s:I, s:I, s:s, s:I, s:o, s:{s:i, s:f}, "
        "s:s}",
        "gilsim_version", GILSIM_VERSION, "workload", "name", name, "description", desc, "policy",
        policy, "params", "interval_us", (json_int_t)p->interval_us, "seed", (json_int_t)0,
        "duration_ms", (double)(elapsed > 0 ? elapsed : 1) / 1e6, "start_utc", c->start_utc,
        "stop_ns", (json_int_t)(stop < 0 ? 0 : stop), "elapsed_ns", (json_int_t)elapsed,
        "stop_reason", stop_reason(c), "max_events_per_thread", (json_int_t)o->max_events, "host",
        host_info_json(), "calibration", "tick_ns_target", REC_TICK_NS, "ns_per_tick",
        (double)REC_TICK_NS, "engine", "recorded");
    if (!run) return NULL;
    json_object_set_new(run, "command", command_json(o->argv));
    json_object_set_new(run, "exit", exit_json(c));
    json_object_set_new(run, "interpreter",
                        json_pack("{s:s, s:s, s:o, s:b}", "implementation", "cpython", "version",
                                  version, "executable", text_json(p->executable), "gil", 1));
    json_object_set_new(run, "recording", recording_json(d, o));
    return run;
}

static json_t *threads_json(const struct rec_data *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < d->nthreads; i++) {
        const struct rec_thread_data *t = &d->threads[i];
        json_array_append_new(arr,
                              json_pack("{s:i, s:o, s:s, s:I, s:i}", "tid", t->tid, "name",
                                        text_json(t->name), "group", t->group, "events_dropped",
                                        (json_int_t)t->dropped, "native_id", t->os_tid));
    }
    return arr;
}

/* ---- events --------------------------------------------------------------------------------- */

static char *put(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* The recorder's keys: `call` on a release and on the begin of a span, `inferred`. */
static char *extra_keys(void *ctx, const struct trace_event *ev, char *p)
{
    const struct rec_data *d = ctx;
    const struct rec_thread_data *td = &d->threads[ev->tid];
    size_t i = (size_t)(ev - td->ev);
    uint16_t call = td->call[i];
    bool named =
        ev->ev == TRACE_EV_RELEASE || ev->ev == TRACE_EV_IO_BEGIN || ev->ev == TRACE_EV_SLEEP_BEGIN;
    if (call != REC_CALL_NONE && named) {
        p = put(p, ",\"call\":\"");
        p = put(p, call_names[call]);
        *p++ = '"';
    }
    if (td->inferred[i]) p = put(p, ",\"inferred\":true");
    return p;
}

int rec_write_trace(FILE *f, const struct rec_data *d, const struct rec_child *c,
                    const struct rec_options *o, struct err *e)
{
    json_t *run = run_json(d, c, o), *threads = threads_json(d);
    char *run_s = run ? json_dumps(run, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    char *threads_s = threads ? json_dumps(threads, JSON_COMPACT) : NULL;
    json_decref(run);
    json_decref(threads);
    struct trace_emit_src *srcs = calloc(d->nthreads ? d->nthreads : 1, sizeof *srcs);
    int rc = 0;
    if (!run_s || !threads_s || !srcs) {
        rc = err_set(e, ERR_RUNTIME, "out of memory while writing the trace");
        goto done;
    }
    for (size_t i = 0; i < d->nthreads; i++)
        srcs[i] = (struct trace_emit_src){d->threads[i].ev, d->threads[i].ev + d->threads[i].n};
    bool complete = !d->events_dropped && !d->threads_missing && !c->stop_signal &&
                    !d->proc.counters[REC_COUNTER_THREADS_NOT_RECORDED];
    struct trace_emit_doc doc = {.run_json = run_s,
                                 .threads_json = threads_s,
                                 .complete = complete,
                                 .events_dropped = d->events_dropped,
                                 .extra = extra_keys,
                                 .extra_ctx = (void *)(uintptr_t)d};
    if (trace_emit_document(f, &doc, srcs, d->nthreads) && !ferror(f))
        rc = err_set(e, ERR_RUNTIME, "out of memory while writing the trace");
done:
    free(srcs);
    free(run_s);
    free(threads_s);
    return rc;
}
