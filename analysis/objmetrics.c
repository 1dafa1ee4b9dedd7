/* analysis/objmetrics.c - see objmetrics.h; docs/metrics.md ("Objects") defines each number. */
#include "objmetrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

#define NOPS TRACE_OBJ_OP_COUNT

struct om_object {
    const char *name, *type;
    bool is_lock, is_queue;
    struct st_samples wait[NOPS]; /* by op */
    struct st_stats wait_st[NOPS];
    uint64_t timed_out[NOPS];
    /* a lock: who holds it since when, and the threads waiting to acquire it */
    int holder;
    int64_t held_since;
    struct st_samples hold;
    struct st_stats hold_st;
    int *waiting;
    size_t nwaiting, capwaiting;
    /* a queue: its length over time, the times of the items in it (FIFO), their latency */
    int64_t len, len_max, len_since;
    long double len_area;
    int64_t *fifo;
    size_t fifo_head, fifo_n, fifo_cap;
    struct st_samples item;
    struct st_stats item_st;
    uint64_t puts, gets, acquires, releases, sets, clears, notifies, notified;
};

struct om_thread {
    bool waiting;
    unsigned obj;
    enum trace_obj_op op;
    int64_t begin, since; /* the wait's start; the start of its current piece (attribution) */
    int64_t total;
    struct objm_cell *cells;
    size_t ncells, capcells;
};

struct objm {
    const struct trace *hdr;
    struct om_object *obj;
    size_t nobj;
    struct om_thread *th;
    size_t nthreads;
    int64_t T;
};

/* ---- attribution ---------------------------------------------------------------------------- */

/* ns more of thread th's wait charged to (obj, op, holder). */
static int charge(struct om_thread *th, unsigned obj, enum trace_obj_op op, int holder, int64_t ns,
                  struct err *e)
{
    if (ns <= 0) return 0;
    th->total += ns;
    for (size_t i = 0; i < th->ncells; i++) {
        struct objm_cell *c = &th->cells[i];
        if (c->obj == obj && c->op == op && c->holder == holder) {
            c->ns += ns;
            return 0;
        }
    }
    if (th->ncells == th->capcells) {
        size_t cap = th->capcells ? th->capcells * 2 : 4;
        struct objm_cell *bigger = realloc(th->cells, cap * sizeof *bigger);
        if (!bigger) return err_set(e, ERR_RUNTIME, "out of memory");
        th->cells = bigger, th->capcells = cap;
    }
    th->cells[th->ncells++] = (struct objm_cell){obj, op, holder, ns};
    return 0;
}

/* Thread tid's open wait charged up to t: to the lock's holder, or to the object. */
static int charge_to(struct objm *o, int tid, int64_t t, struct err *e)
{
    struct om_thread *th = &o->th[tid];
    struct om_object *ob = &o->obj[th->obj];
    bool holder_wait = ob->is_lock && th->op == TRACE_OBJ_OP_ACQUIRE;
    int rc = charge(th, th->obj, th->op, holder_wait ? ob->holder : OBJM_NONE, t - th->since, e);
    th->since = t;
    return rc;
}

/* A lock's holder changes at t: the waits on it so far are charged to the old one. */
static int holder_changes(struct objm *o, struct om_object *ob, int holder, int64_t t,
                          struct err *e)
{
    int rc = 0;
    for (size_t i = 0; i < ob->nwaiting && !rc; i++)
        rc = charge_to(o, ob->waiting[i], t, e);
    ob->holder = holder;
    ob->held_since = t;
    return rc;
}

static int waiting_add(struct om_object *ob, int tid, struct err *e)
{
    if (ob->nwaiting == ob->capwaiting) {
        size_t cap = ob->capwaiting ? ob->capwaiting * 2 : 4;
        int *bigger = realloc(ob->waiting, cap * sizeof *bigger);
        if (!bigger) return err_set(e, ERR_RUNTIME, "out of memory");
        ob->waiting = bigger, ob->capwaiting = cap;
    }
    ob->waiting[ob->nwaiting++] = tid;
    return 0;
}

static void waiting_remove(struct om_object *ob, int tid)
{
    for (size_t i = 0; i < ob->nwaiting; i++)
        if (ob->waiting[i] == tid) {
            ob->waiting[i] = ob->waiting[--ob->nwaiting];
            return;
        }
}

/* ---- the events ----------------------------------------------------------------------------- */

static int wait_begin(struct objm *o, const struct trace_event *ev, struct err *e)
{
    struct om_thread *th = &o->th[ev->tid];
    if (th->waiting) return 0; /* a foreign trace's second begin: the first one counts */
    th->waiting = true;
    th->obj = trace_obj_index(ev->reason);
    th->op = trace_obj_op(ev->reason);
    th->begin = th->since = ev->t;
    struct om_object *ob = &o->obj[th->obj];
    return ob->is_lock && th->op == TRACE_OBJ_OP_ACQUIRE ? waiting_add(ob, ev->tid, e) : 0;
}

/* A wait ends at t: one sample (when `sample`: not one the window or the thread's exit cut). */
static int wait_end(struct objm *o, int tid, int64_t t, bool timed_out, bool sample, struct err *e)
{
    struct om_thread *th = &o->th[tid];
    if (!th->waiting) return 0;
    struct om_object *ob = &o->obj[th->obj];
    int rc = charge_to(o, tid, t, e);
    th->waiting = false;
    if (ob->is_lock && th->op == TRACE_OBJ_OP_ACQUIRE) waiting_remove(ob, tid);
    if (!sample || rc) return rc;
    ob->timed_out[th->op] += timed_out;
    return st_push(&ob->wait[th->op], t - th->begin, e);
}

/* A queue's length becomes len at t: the time at the old length is counted. */
static void queue_len(struct om_object *ob, int64_t len, int64_t t)
{
    ob->len_area += (long double)ob->len * (long double)(t - ob->len_since);
    ob->len_since = t;
    ob->len = len;
    if (len > ob->len_max) ob->len_max = len;
}

static int queue_put(struct om_object *ob, int64_t t, struct err *e)
{
    if (ob->fifo_n == ob->fifo_cap) {
        size_t cap = ob->fifo_cap ? ob->fifo_cap * 2 : 16;
        int64_t *bigger = malloc(cap * sizeof *bigger);
        if (!bigger) return err_set(e, ERR_RUNTIME, "out of memory");
        for (size_t i = 0; i < ob->fifo_n; i++)
            bigger[i] = ob->fifo[(ob->fifo_head + i) % ob->fifo_cap];
        free(ob->fifo);
        ob->fifo = bigger, ob->fifo_cap = cap, ob->fifo_head = 0;
    }
    ob->fifo[(ob->fifo_head + ob->fifo_n++) % ob->fifo_cap] = t;
    ob->puts++;
    return 0;
}

/* The get takes the oldest item (FIFO); one put before the trace began has no latency. */
static int queue_get(struct om_object *ob, int64_t t, struct err *e)
{
    ob->gets++;
    if (!ob->fifo_n) return 0;
    int64_t put = ob->fifo[ob->fifo_head];
    ob->fifo_head = (ob->fifo_head + 1) % ob->fifo_cap;
    ob->fifo_n--;
    return st_push(&ob->item, t - put, e);
}

/* A lock's acquire or release, a semaphore's (counted only). */
static int acquire_release(struct objm *o, struct om_object *ob, const struct trace_event *ev,
                           struct err *e)
{
    bool acquire = ev->ev == TRACE_EV_OBJ_ACQUIRE;
    if (acquire)
        ob->acquires++;
    else
        ob->releases++;
    if (!ob->is_lock) return 0;
    if (acquire) return holder_changes(o, ob, ev->tid, ev->t, e);
    if (ob->holder != ev->tid) return 0; /* a foreign trace's stray release */
    int rc = st_push(&ob->hold, ev->t - ob->held_since, e);
    return rc ? rc : holder_changes(o, ob, OBJM_FREE, ev->t, e);
}

int objm_event(struct objm *o, const struct trace_event *ev, struct err *e)
{
    if (!o) return 0;
    if (ev->ev == TRACE_EV_THREAD_EXIT) return wait_end(o, ev->tid, ev->t, false, false, e);
    if (!trace_ev_has_object(ev->ev)) return 0;
    struct om_object *ob = &o->obj[trace_obj_index(ev->reason)];
    switch ((enum trace_ev)ev->ev) {
    case TRACE_EV_OBJ_WAIT_BEGIN:
        return wait_begin(o, ev, e);
    case TRACE_EV_OBJ_WAIT_END:
        return wait_end(o, ev->tid, ev->t, ev->arg == 1, true, e);
    case TRACE_EV_OBJ_ACQUIRE:
    case TRACE_EV_OBJ_RELEASE:
        return acquire_release(o, ob, ev, e);
    case TRACE_EV_OBJ_PUT:
    case TRACE_EV_OBJ_GET:
        if (ev->arg != TRACE_NO_ARG) queue_len(ob, ev->arg, ev->t);
        return ev->ev == TRACE_EV_OBJ_PUT ? queue_put(ob, ev->t, e) : queue_get(ob, ev->t, e);
    case TRACE_EV_OBJ_SET:
        ob->sets++;
        return 0;
    case TRACE_EV_OBJ_CLEAR:
        ob->clears++;
        return 0;
    case TRACE_EV_OBJ_NOTIFY:
        ob->notifies++;
        ob->notified += ev->arg != TRACE_NO_ARG ? (uint64_t)ev->arg : 0;
        return 0;
    default:
        return 0;
    }
}

/* ---- set-up and the end ---------------------------------------------------------------------- */

int objm_new(struct objm **out, const struct trace *hdr, struct err *e)
{
    *out = NULL;
    if (!hdr->nobjects) return 0;
    struct objm *o = calloc(1, sizeof *o);
    if (!o) return err_set(e, ERR_RUNTIME, "out of memory");
    o->hdr = hdr;
    o->nobj = hdr->nobjects;
    o->nthreads = hdr->nthreads;
    o->obj = calloc(o->nobj, sizeof *o->obj);
    o->th = calloc(o->nthreads ? o->nthreads : 1, sizeof *o->th);
    if (!o->obj || !o->th) {
        objm_free(o);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    for (size_t i = 0; i < o->nobj; i++) {
        struct om_object *ob = &o->obj[i];
        ob->name = hdr->objects[i].name;
        ob->type = hdr->objects[i].type;
        ob->is_lock = strcmp(ob->type, "lock") == 0;
        ob->is_queue = strcmp(ob->type, "queue") == 0;
        ob->holder = OBJM_FREE;
    }
    *out = o;
    return 0;
}

static int cmp_cells(const void *a, const void *b)
{
    const struct objm_cell *x = a, *y = b;
    return (y->ns > x->ns) - (y->ns < x->ns);
}

int objm_finish(struct objm *o, int64_t T, struct err *e)
{
    if (!o) return 0;
    o->T = T;
    int rc = 0;
    for (size_t i = 0; i < o->nthreads && !rc; i++)
        rc = wait_end(o, (int)i, T, false, false, e);
    for (size_t i = 0; i < o->nthreads; i++)
        if (o->th[i].ncells)
            qsort(o->th[i].cells, o->th[i].ncells, sizeof *o->th[i].cells, cmp_cells);
    for (size_t i = 0; i < o->nobj; i++) {
        struct om_object *ob = &o->obj[i];
        queue_len(ob, ob->len, T);
        for (int k = 0; k < NOPS; k++)
            st_stats_of(ob->wait[k].v, ob->wait[k].n, &ob->wait_st[k]);
        st_stats_of(ob->hold.v, ob->hold.n, &ob->hold_st);
        st_stats_of(ob->item.v, ob->item.n, &ob->item_st);
    }
    return rc;
}

void objm_free(struct objm *o)
{
    if (!o) return;
    for (size_t i = 0; o->obj && i < o->nobj; i++) {
        struct om_object *ob = &o->obj[i];
        for (int k = 0; k < NOPS; k++)
            free(ob->wait[k].v);
        free(ob->hold.v);
        free(ob->item.v);
        free(ob->waiting);
        free(ob->fifo);
    }
    for (size_t i = 0; o->th && i < o->nthreads; i++)
        free(o->th[i].cells);
    free(o->obj);
    free(o->th);
    free(o);
}

/* ---- results -------------------------------------------------------------------------------- */

int64_t objm_wait_total(const struct objm *o, int tid)
{
    return o && tid >= 0 && (size_t)tid < o->nthreads ? o->th[tid].total : 0;
}

size_t objm_row(const struct objm *o, int tid, const struct objm_cell **cells)
{
    *cells = NULL;
    if (!o || tid < 0 || (size_t)tid >= o->nthreads) return 0;
    *cells = o->th[tid].cells;
    return o->th[tid].ncells;
}

const char *objm_cell_label(const struct objm *o, const struct objm_cell *c)
{
    if (c->holder >= 0) return o->hdr->threads[c->holder].name;
    if (c->holder == OBJM_FREE) return "(free)";
    const char *type = o->obj[c->obj].type;
    switch (c->op) {
    case TRACE_OBJ_OP_GET:
        return "(empty)";
    case TRACE_OBJ_OP_PUT:
        return "(full)";
    case TRACE_OBJ_OP_MUTEX:
        return "(its lock)";
    case TRACE_OBJ_OP_JOIN:
        return "(running)";
    case TRACE_OBJ_OP_ACQUIRE:
        return strcmp(type, "semaphore") == 0 ? "(value 0)" : "(held)";
    default:
        return strcmp(type, "event") == 0     ? "(not set)"
               : strcmp(type, "barrier") == 0 ? "(parties)"
                                              : "(notify)";
    }
}

/* Every sample of one kind over every object, for the pooled key figures. */
static void pooled(const struct objm *o, int which, double *p50, double *p99)
{
    size_t n = 0;
    for (size_t i = 0; i < o->nobj; i++)
        for (int k = 0; k < (which ? 1 : NOPS); k++)
            n += which == 1   ? o->obj[i].hold.n
                 : which == 2 ? o->obj[i].item.n
                              : o->obj[i].wait[k].n;
    *p50 = *p99 = NAN;
    int64_t *all = n ? malloc(n * sizeof *all) : NULL;
    if (!all) return;
    size_t j = 0;
    for (size_t i = 0; i < o->nobj; i++)
        for (int k = 0; k < (which ? 1 : NOPS); k++) {
            const struct st_samples *s = which == 1   ? &o->obj[i].hold
                                         : which == 2 ? &o->obj[i].item
                                                      : &o->obj[i].wait[k];
            if (s->n) memcpy(all + j, s->v, s->n * sizeof *all);
            j += s->n;
        }
    struct st_stats st;
    st_stats_of(all, n, &st);
    *p50 = (double)st.p50;
    *p99 = (double)st.p99;
    free(all);
}

void objm_key(const struct objm *o, struct objm_key *k)
{
    double unused;
    *k = (struct objm_key){NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    if (!o) return;
    pooled(o, 0, &k->wait_p50_ns, &k->wait_p99_ns);
    pooled(o, 1, &k->hold_p50_ns, &unused);
    pooled(o, 2, &k->item_p50_ns, &k->item_p99_ns);
    uint64_t gets = 0;
    bool queues = false;
    double len = 0;
    for (size_t i = 0; i < o->nobj; i++) {
        if (!o->obj[i].is_queue) continue;
        queues = true;
        gets += o->obj[i].gets;
        len += o->T > 0 ? (double)(o->obj[i].len_area / o->T) : 0;
    }
    if (queues && o->T > 0) {
        k->gets_per_s = (double)gets * 1e9 / (double)o->T;
        k->len_mean = len;
    }
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The waits on one object, by operation (only those that happened). */
static json_t *waits_json(const struct om_object *ob)
{
    json_t *arr = json_array();
    for (int k = 0; arr && k < NOPS; k++) {
        if (!ob->wait_st[k].count) continue;
        json_t *w = st_stats_json(&ob->wait_st[k]);
        if (!w || json_object_set_new(w, "op", json_string(trace_obj_op_name(k))) ||
            json_object_set_new(w, "timed_out", json_integer((json_int_t)ob->timed_out[k])) ||
            json_array_append_new(arr, w)) {
            json_decref(w);
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* What only some types have: a lock's holds, a queue's items, an event's sets, ... */
static int type_json(const struct objm *o, const struct om_object *ob, json_t *j)
{
    int rc = 0;
    double T = (double)o->T;
    if (ob->is_queue) {
        rc |= json_object_set_new(j, "puts", json_integer((json_int_t)ob->puts));
        rc |= json_object_set_new(j, "gets", json_integer((json_int_t)ob->gets));
        rc |= json_object_set_new(j, "gets_per_s", num_or_null(T > 0 ? ob->gets * 1e9 / T : NAN));
        rc |= json_object_set_new(j, "length_mean",
                                  num_or_null(T > 0 ? (double)(ob->len_area / o->T) : NAN));
        rc |= json_object_set_new(j, "length_max", json_integer(ob->len_max));
        rc |= json_object_set_new(j, "item_latency", st_stats_json(&ob->item_st));
    }
    if (ob->is_lock || strcmp(ob->type, "semaphore") == 0) {
        rc |= json_object_set_new(j, "acquires", json_integer((json_int_t)ob->acquires));
        rc |= json_object_set_new(j, "releases", json_integer((json_int_t)ob->releases));
    }
    if (ob->is_lock) rc |= json_object_set_new(j, "hold", st_stats_json(&ob->hold_st));
    if (strcmp(ob->type, "event") == 0) {
        rc |= json_object_set_new(j, "sets", json_integer((json_int_t)ob->sets));
        rc |= json_object_set_new(j, "clears", json_integer((json_int_t)ob->clears));
    }
    if (strcmp(ob->type, "condition") == 0 || strcmp(ob->type, "barrier") == 0) {
        rc |= json_object_set_new(j, "notifies", json_integer((json_int_t)ob->notifies));
        rc |= json_object_set_new(j, "notified", json_integer((json_int_t)ob->notified));
    }
    return rc;
}

json_t *objm_json(const struct objm *o)
{
    json_t *arr = json_array();
    for (size_t i = 0; o && arr && i < o->nobj; i++) {
        const struct om_object *ob = &o->obj[i];
        json_t *waits = waits_json(ob);
        json_t *j =
            waits ? json_pack("{ss ss so}", "name", ob->name, "type", ob->type, "waits", waits)
                  : NULL;
        if (!j || type_json(o, ob, j) || json_array_append_new(arr, j)) {
            json_decref(j);
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* One object's lines: a row per operation it was waited in, then what its type has. */
static void print_object(const struct objm *o, const struct om_object *ob, FILE *out)
{
    char name[160], a[32], b[32], c[32], d[32], e1[72], e2[24];
    snprintf(name, sizeof name, "%s (%s)", text_escape(ob->name, e1, sizeof e1),
             text_escape(ob->type, e2, sizeof e2));
    bool first = true;
    for (int k = 0; k < NOPS; k++) {
        const struct st_stats *st = &ob->wait_st[k];
        if (!st->count) continue;
        fprintf(out, "%-24s %-8s %8zu %9llu %9s %9s %9s %9s\n", first ? name : "",
                trace_obj_op_name(k), st->count, (unsigned long long)ob->timed_out[k],
                st_fmt_ns(a, sizeof a, st->mean), st_fmt_ns(b, sizeof b, (double)st->p50),
                st_fmt_ns(c, sizeof c, (double)st->p99), st_fmt_ns(d, sizeof d, (double)st->max));
        first = false;
    }
    if (first) fprintf(out, "%-24s (no waits)\n", name);
    double T = (double)o->T;
    if (ob->is_queue)
        fprintf(out,
                "%-24s %llu puts, %llu gets (%s/s), length mean %.2f max %lld; item latency "
                "p50 %s p99 %s\n",
                "", (unsigned long long)ob->puts, (unsigned long long)ob->gets,
                st_fmt_num(a, sizeof a, T > 0 ? ob->gets * 1e9 / T : NAN),
                T > 0 ? (double)(ob->len_area / o->T) : 0.0, (long long)ob->len_max,
                ob->item_st.count ? st_fmt_ns(b, sizeof b, (double)ob->item_st.p50) : "-",
                ob->item_st.count ? st_fmt_ns(c, sizeof c, (double)ob->item_st.p99) : "-");
    if (ob->is_lock && ob->hold_st.count)
        fprintf(out, "%-24s %llu acquires; hold p50 %s p99 %s max %s\n", "",
                (unsigned long long)ob->acquires, st_fmt_ns(a, sizeof a, (double)ob->hold_st.p50),
                st_fmt_ns(b, sizeof b, (double)ob->hold_st.p99),
                st_fmt_ns(c, sizeof c, (double)ob->hold_st.max));
}

void objm_print(const struct objm *o, FILE *out)
{
    if (!o) return;
    fprintf(out, "\n%-24s %-8s %8s %9s %9s %9s %9s %9s\n", "objects: waits", "op", "count",
            "timed out", "mean", "p50", "p99", "max");
    for (size_t i = 0; i < o->nobj; i++)
        if (!o->hdr->objects[i].implicit || o->obj[i].wait[TRACE_OBJ_OP_ACQUIRE].n ||
            o->obj[i].acquires || o->obj[i].wait[TRACE_OBJ_OP_JOIN].n)
            print_object(o, &o->obj[i], out);
}
