/* common/trace_emit.c - see trace_emit.h. A trace can hold tens of millions of events, so they
 * are formatted by hand into one line buffer each, not built as JSON values. */
#include "trace_emit.h"

#include <stdlib.h>
#include <string.h>

/* At equal times a release (of the GIL or a lock) sorts before other events and an acquire
 * after them, so that a reader never sees two holders at one instant. */
static int ev_rank(const struct trace_event *ev)
{
    if (ev->ev == TRACE_EV_RELEASE || ev->ev == TRACE_EV_OBJ_RELEASE) return 0;
    return ev->ev == TRACE_EV_ACQUIRE || ev->ev == TRACE_EV_OBJ_ACQUIRE ? 2 : 1;
}

static bool ev_before(const struct trace_event *a, const struct trace_event *b)
{
    if (a->t != b->t) return a->t < b->t;
    if (ev_rank(a) != ev_rank(b)) return ev_rank(a) < ev_rank(b);
    return a->tid < b->tid;
}

static void sift_down(struct trace_emit_src *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && ev_before(h[l].ev, h[m].ev)) m = l;
        if (l + 1 < n && ev_before(h[l + 1].ev, h[m].ev)) m = l + 1;
        if (m == i) return;
        struct trace_emit_src tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

static char *put_i64(char *p, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) *p++ = '-';
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* The event's own fields, without the closing brace. */
static char *format_event(char *p, const struct trace_event *ev, const struct trace_emit_doc *doc)
{
    p = put_str(p, "{\"t\":");
    p = put_i64(p, ev->t);
    p = put_str(p, ",\"tid\":");
    p = put_i64(p, ev->tid);
    p = put_str(p, ",\"ev\":\"");
    p = put_str(p, trace_ev_name((enum trace_ev)ev->ev));
    *p++ = '"';
    if (ev->ev == TRACE_EV_RELEASE) {
        p = put_str(p, ",\"reason\":\"");
        p = put_str(p, trace_reason_name((enum trace_reason)ev->reason));
        *p++ = '"';
    }
    if (trace_ev_has_object((enum trace_ev)ev->ev) && trace_obj_index(ev->reason) < doc->nobjects) {
        p = put_str(p, ",\"object\":\"");
        p = put_str(p, doc->object_names[trace_obj_index(ev->reason)]);
        *p++ = '"';
        if (ev->ev == TRACE_EV_OBJ_WAIT_BEGIN) {
            p = put_str(p, ",\"op\":\"");
            p = put_str(p, trace_obj_op_name(trace_obj_op(ev->reason)));
            *p++ = '"';
        }
    }
    const char *key = trace_ev_arg_key((enum trace_ev)ev->ev);
    if (key && ev->arg != TRACE_NO_ARG) {
        p = put_str(p, ",\"");
        p = put_str(p, key);
        p = put_str(p, "\":");
        p = put_i64(p, ev->arg);
    }
    return p;
}

static int write_events(FILE *f, const struct trace_emit_doc *doc,
                        const struct trace_emit_src *srcs, size_t nsrc)
{
    struct trace_emit_src *heap = malloc((nsrc ? nsrc : 1) * sizeof *heap);
    if (!heap) return -1;
    size_t n = 0;
    for (size_t i = 0; i < nsrc; i++)
        if (srcs[i].ev < srcs[i].end) heap[n++] = srcs[i];
    for (size_t i = n; i-- > 0;)
        sift_down(heap, n, i);
    /* the longest event: an object's wait with its name (64), op and timeout */
    char line[384 + TRACE_EMIT_EXTRA_MAX];
    bool first = true;
    while (n > 0) {
        char *p = line;
        if (!first) *p++ = ',';
        *p++ = '\n';
        first = false;
        p = format_event(p, heap[0].ev, doc);
        if (doc->extra) p = doc->extra(doc->extra_ctx, heap[0].ev, p);
        *p++ = '}';
        if (fwrite(line, 1, (size_t)(p - line), f) != (size_t)(p - line)) break;
        if (++heap[0].ev == heap[0].end) heap[0] = heap[--n];
        sift_down(heap, n, 0);
    }
    free(heap);
    return ferror(f) ? -1 : 0;
}

int trace_emit_document(FILE *f, const struct trace_emit_doc *doc,
                        const struct trace_emit_src *srcs, size_t n)
{
    fprintf(f,
            "{\"format\":\"gilsim-trace\",\"version\":1,\n\"run\":%s,\n\"threads\":%s,\n"
            "\"events\":[",
            doc->run_json, doc->threads_json);
    if (write_events(f, doc, srcs, n)) return -1;
    fprintf(f, "\n],\n\"complete\":%s,\"events_dropped\":%llu}\n", doc->complete ? "true" : "false",
            (unsigned long long)doc->events_dropped);
    return ferror(f) ? -1 : 0;
}
