/* analysis/model_ops.c - a trace's events read into each thread's ops, in one streaming pass
 * (analysis/trace_read.h): what a workload would have to do to leave that trace. See model.h.
 *
 *   acquire .. release         cpu, as long as the GIL was held; a release on a drop request
 *                              (or a tick check) does not end it: the policy takes the GIL
 *                              away, the work goes on
 *   io_begin .. io_end         io, as long as the call blocked, less the timer slack
 *   sleep_begin                sleep, as long as asked
 *   native_begin               native, as long as it worked
 *   hold_begin .. hold_end     hold
 *   release (send) .. request  send
 *   release (lock) .. request  sleep as long as the wait (a lock wait, until workloads have
 *                              locks)
 *   release (io), no span      native as long as the release (a file-system call: kernel work
 *                              without the GIL, not an I/O operation) */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/model.h"
#include "analysis/trace_read.h"

/* Where each thread stands while the events are read. */
struct cursor {
    bool holding, span, in_cpu;
    int64_t acquire_t, cpu_t, hold_t, span_t, release_t;
    double held_ns;
    int release_reason; /* -1: none open */
};

struct scan {
    struct model_trace *m;
    const struct model_options *o;
    struct cursor *cur;
};

static int push(struct model_thread *th, uint8_t kind, int64_t t, double us)
{
    if (th->n == th->cap) {
        size_t cap = th->cap ? 2 * th->cap : 64;
        struct model_op *ops = realloc(th->ops, cap * sizeof *ops);
        if (!ops) return -1;
        th->ops = ops;
        th->cap = cap;
    }
    th->ops[th->n++] = (struct model_op){.t = t, .us = us < 0 ? 0 : us, .kind = kind};
    return 0;
}

static int flush_cpu(struct model_thread *th, struct cursor *c)
{
    int rc = c->in_cpu && c->held_ns > 0 ? push(th, MK_CPU, c->cpu_t, c->held_ns / 1e3) : 0;
    c->in_cpu = false;
    c->held_ns = 0;
    return rc;
}

/* The thread asks for the GIL again: a release whose time no span accounted for becomes an op
 * of its own. */
static int close_release(struct scan *S, struct model_thread *th, struct cursor *c, int64_t t)
{
    int reason = c->release_reason;
    c->release_reason = -1;
    if (reason < 0 || c->span) return 0;
    double gap = (double)(t - c->release_t) / 1e3;
    switch (reason) {
    case TRACE_REASON_SEND:
        return push(th, MK_SEND, c->release_t, gap);
    case TRACE_REASON_LOCK:
        S->m->lock_waits++;
        if (push(th, MK_SLEEP, c->release_t, gap)) return -1;
        th->ops[th->n - 1].lock = 1;
        return 0;
    case TRACE_REASON_ARRIVAL:
    case TRACE_REASON_SLEEP:
        return push(th, MK_SLEEP, c->release_t, gap);
    default: /* io without a span (a file-system call), native without one */
        return push(th, MK_NATIVE, c->release_t, gap);
    }
}

static int on_release(struct model_thread *th, struct cursor *c, const struct trace_event *ev)
{
    if (c->holding) c->held_ns += (double)(ev->t - c->acquire_t);
    c->holding = false;
    if (ev->reason == TRACE_REASON_DROP_REQUEST || ev->reason == TRACE_REASON_CHECK) return 0;
    c->release_reason = ev->reason;
    c->release_t = ev->t;
    c->span = false;
    return flush_cpu(th, c);
}

/* The events that begin or end what a thread does away from the GIL, and holds. */
static int on_span(struct scan *S, struct model_thread *th, struct cursor *c,
                   const struct trace_event *ev)
{
    double ns = ev->arg == TRACE_NO_ARG ? 0 : (double)ev->arg;
    switch (ev->ev) {
    case TRACE_EV_IO_BEGIN:
        c->span = true;
        c->span_t = ev->t;
        return 0;
    case TRACE_EV_IO_END:
        c->span = true;
        return push(th, MK_IO, c->span_t, (double)(ev->t - c->span_t) / 1e3 - S->o->slack_us);
    case TRACE_EV_SLEEP_BEGIN:
        c->span = true;
        return push(th, MK_SLEEP, ev->t, ns / 1e3);
    case TRACE_EV_NATIVE_BEGIN:
        c->span = true;
        return push(th, MK_NATIVE, ev->t, ns / 1e3);
    case TRACE_EV_HOLD_BEGIN:
        if (c->holding) c->held_ns += (double)(ev->t - c->acquire_t);
        c->hold_t = ev->t;
        return flush_cpu(th, c);
    case TRACE_EV_HOLD_END:
        c->acquire_t = ev->t;
        return push(th, MK_HOLD, c->hold_t, (double)(ev->t - c->hold_t) / 1e3);
    default:
        return 0;
    }
}

static int on_event(void *ctx, const struct trace_event *ev, struct err *e)
{
    struct scan *S = ctx;
    struct model_thread *th = &S->m->threads[ev->tid];
    struct cursor *c = &S->cur[ev->tid];
    int rc = 0;
    if (ev->t > S->m->window_ns) S->m->window_ns = ev->t;
    switch (ev->ev) {
    case TRACE_EV_THREAD_START:
        th->started = true;
        th->start_ns = ev->t;
        break;
    case TRACE_EV_REQUEST:
        rc = close_release(S, th, c, ev->t);
        break;
    case TRACE_EV_ACQUIRE:
        c->holding = th->ever_held = true;
        c->acquire_t = ev->t;
        if (!c->in_cpu) c->cpu_t = ev->t;
        c->in_cpu = true;
        break;
    case TRACE_EV_RELEASE:
        rc = on_release(th, c, ev);
        break;
    case TRACE_EV_THREAD_EXIT:
        if (c->holding) c->held_ns += (double)(ev->t - c->acquire_t);
        c->holding = false;
        rc = flush_cpu(th, c);
        th->ended = true;
        th->end_ns = ev->t;
        break;
    default:
        rc = on_span(S, th, c, ev);
    }
    if (!th->ended) th->end_ns = ev->t;
    return rc ? err_set(e, ERR_RUNTIME, "out of memory for the ops of thread %d", ev->tid) : 0;
}

/* ---- the header ----------------------------------------------------------------------------- */

static char *dup_str(json_t *v)
{
    return strdup(json_is_string(v) ? json_string_value(v) : "");
}

/* run.command as one line, arguments separated by spaces ("" when absent). */
static char *command_line(json_t *cmd)
{
    size_t len = 1, i;
    json_t *a;
    json_array_foreach(cmd, i, a) len += (json_is_string(a) ? strlen(json_string_value(a)) : 0) + 1;
    char *s = calloc(len, 1);
    json_array_foreach(cmd, i, a) if (s && json_is_string(a))
    {
        if (i) strcat(s, " ");
        strcat(s, json_string_value(a));
    }
    return s;
}

static int on_header(void *ctx, const struct trace *hdr, struct err *e)
{
    struct scan *S = ctx;
    struct model_trace *m = S->m;
    json_t *run = hdr->run;
    m->workload = dup_str(json_object_get(json_object_get(run, "workload"), "name"));
    m->policy = dup_str(json_object_get(run, "policy"));
    m->start_utc = dup_str(json_object_get(run, "start_utc"));
    m->command = command_line(json_object_get(run, "command"));
    m->interval_us =
        json_number_value(json_object_get(json_object_get(run, "params"), "interval_us"));
    m->window_ns = json_integer_value(json_object_get(run, "elapsed_ns"));
    m->threads = calloc(hdr->nthreads ? hdr->nthreads : 1, sizeof *m->threads);
    S->cur = calloc(hdr->nthreads ? hdr->nthreads : 1, sizeof *S->cur);
    bool ok = m->workload && m->policy && m->start_utc && m->command && m->threads && S->cur;
    for (size_t i = 0; ok && i < hdr->nthreads; i++) {
        struct model_thread *th = &m->threads[i];
        th->tid = (int)i;
        th->name = strdup(hdr->threads[i].name);
        th->group = strdup(hdr->threads[i].group ? hdr->threads[i].group : hdr->threads[i].name);
        S->cur[i].release_reason = -1;
        ok = th->name && th->group;
        m->nthreads = i + 1;
    }
    return ok ? 0 : err_set(e, ERR_RUNTIME, "out of memory");
}

int model_read_trace(const char *path, const struct model_options *o, struct model_trace **out,
                     struct err *e)
{
    *out = NULL;
    struct model_trace *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    struct scan S = {.m = m, .o = o};
    struct trace_sink sink = {.header = on_header, .event = on_event, .ctx = &S};
    struct trace *hdr = NULL;
    int rc = trace_scan(path, &sink, &hdr, e);
    if (hdr) m->complete = hdr->complete;
    trace_free(hdr);
    free(S.cur);
    if (rc) {
        model_trace_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void model_trace_free(struct model_trace *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nthreads; i++) {
        free(m->threads[i].name);
        free(m->threads[i].group);
        free(m->threads[i].ops);
    }
    char *strings[] = {m->path, m->workload, m->policy, m->command, m->start_utc};
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        free(strings[i]);
    free(m->threads);
    free(m);
}
