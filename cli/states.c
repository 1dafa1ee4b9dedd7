/* cli/states.c - see states.h. */
#include "cli/states.h"

#include <stdbool.h>
#include <stdlib.h>

static const char *const names[NSTATES] = {"wait for GIL", "GIL",  "I/O",         "sleep",
                                           "native",       "hold", "forced wait", "object wait"};
static const char *const categories[NSTATES] = {"gil", "gil", "op", "op", "op", "op", "gil", "op"};

struct thread_stack {
    unsigned char kind[NSTATES]; /* open slices, outermost first; each kind at most once */
    unsigned char depth;
};

struct states {
    struct states_sink sink;
    struct thread_stack *th;
    size_t nthreads;
};

const char *state_name(enum state_kind k)
{
    return names[k];
}

const char *state_category(enum state_kind k)
{
    return categories[k];
}

int states_new(struct states **out, size_t nthreads, const struct states_sink *sink, struct err *e)
{
    *out = NULL;
    struct states *s = calloc(1, sizeof *s);
    if (s) s->th = calloc(nthreads ? nthreads : 1, sizeof *s->th);
    if (!s || !s->th) {
        free(s);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    s->sink = *sink;
    s->nthreads = nthreads;
    *out = s;
    return 0;
}

void states_free(struct states *s)
{
    if (!s) return;
    free(s->th);
    free(s);
}

static bool is_open(const struct thread_stack *st, enum state_kind k)
{
    for (unsigned i = 0; i < st->depth; i++)
        if (st->kind[i] == k) return true;
    return false;
}

static void open_slice(struct states *s, int tid, enum state_kind k, int64_t t)
{
    struct thread_stack *st = &s->th[tid];
    if (is_open(st, k)) return;
    st->kind[st->depth++] = (unsigned char)k;
    s->sink.open(s->sink.ctx, tid, k, t);
}

/* Closes k and, first, everything opened inside it. */
static void close_slice(struct states *s, int tid, enum state_kind k, int64_t t)
{
    struct thread_stack *st = &s->th[tid];
    if (!is_open(st, k)) return;
    enum state_kind top;
    do {
        top = (enum state_kind)st->kind[--st->depth];
        s->sink.close(s->sink.ctx, tid, top, t);
    } while (top != k);
}

static void close_thread(struct states *s, int tid, int64_t t)
{
    struct thread_stack *st = &s->th[tid];
    while (st->depth)
        s->sink.close(s->sink.ctx, tid, (enum state_kind)st->kind[--st->depth], t);
}

/* The op events: the slice each opens or closes. */
static const struct {
    enum trace_ev ev;
    enum state_kind kind;
    bool opens;
} op_events[] = {
    {TRACE_EV_FORCE_WAIT_BEGIN, ST_FORCE, true},
    {TRACE_EV_FORCE_WAIT_END, ST_FORCE, false},
    {TRACE_EV_IO_BEGIN, ST_IO, true},
    {TRACE_EV_IO_END, ST_IO, false},
    {TRACE_EV_SLEEP_BEGIN, ST_SLEEP, true},
    {TRACE_EV_SLEEP_END, ST_SLEEP, false},
    {TRACE_EV_NATIVE_BEGIN, ST_NATIVE, true},
    {TRACE_EV_NATIVE_END, ST_NATIVE, false},
    {TRACE_EV_HOLD_BEGIN, ST_HOLD, true},
    {TRACE_EV_HOLD_END, ST_HOLD, false},
    {TRACE_EV_OBJ_WAIT_BEGIN, ST_OBJECT, true},
    {TRACE_EV_OBJ_WAIT_END, ST_OBJECT, false},
};

void states_event(struct states *s, const struct trace_event *ev)
{
    int tid = ev->tid;
    int64_t t = ev->t;
    switch ((enum trace_ev)ev->ev) {
    case TRACE_EV_REQUEST:
        open_slice(s, tid, ST_WAIT, t);
        return;
    case TRACE_EV_ACQUIRE:
        close_slice(s, tid, ST_WAIT, t);
        open_slice(s, tid, ST_GIL, t);
        return;
    case TRACE_EV_RELEASE:
        close_slice(s, tid, ST_GIL, t); /* and a hold cut short by the end of the record */
        return;
    case TRACE_EV_THREAD_EXIT:
        close_thread(s, tid, t);
        return;
    default: /* an op's begin or end; instants and serve requests are no slices */
        break;
    }
    for (size_t i = 0; i < sizeof op_events / sizeof *op_events; i++) {
        if (op_events[i].ev != ev->ev) continue;
        if (op_events[i].opens)
            open_slice(s, tid, op_events[i].kind, t);
        else
            close_slice(s, tid, op_events[i].kind, t);
        return;
    }
}

void states_close_all(struct states *s, int64_t t)
{
    for (size_t i = 0; i < s->nthreads; i++)
        close_thread(s, (int)i, t);
}
