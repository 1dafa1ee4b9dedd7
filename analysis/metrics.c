/* analysis/metrics.c - see metrics.h; docs/metrics.md defines every number computed here. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/attribution.h"
#include "analysis/disturb.h"
#include "analysis/objmetrics.h"
#include "analysis/samples.h"
#include "common/text.h"

/* Latency metrics: name in the output, in the order printed. */
#define LATENCY_TABLE(X)                                                                           \
    X(GIL_WAIT, "gil_wait")                                                                        \
    X(IO_RESPONSE, "io_response")                                                                  \
    X(SLEEP_OVERSHOOT, "sleep_overshoot")                                                          \
    X(REQUEST_LATENCY, "request_latency")                                                          \
    X(SLICE, "slice")                                                                              \
    X(HANDOFF_GAP, "handoff_gap")

/* Counts: name in the output. */
#define COUNT_TABLE(X)                                                                             \
    X(ACQUISITIONS, "acquisitions")                                                                \
    X(SWITCHES, "switches")                                                                        \
    X(REACQUIRES, "reacquires")                                                                    \
    X(DROP_REQUESTS, "drop_requests")                                                              \
    X(FORCED_SWITCHES, "forced_switches")                                                          \
    X(WAIT_TIMEOUTS, "wait_timeouts")                                                              \
    X(FAILED_WAKEUPS, "failed_wakeups")                                                            \
    X(IO_OPS, "io_ops")                                                                            \
    X(REQUESTS, "requests")

#define X_ENUM(e, name) LAT_##e,
enum lat { LATENCY_TABLE(X_ENUM) NLAT };
#undef X_ENUM
#define X_ENUM(e, name) CNT_##e,
enum cnt { COUNT_TABLE(X_ENUM) NCNT };
#undef X_ENUM
#define X_NAME(e, name) name,
static const char *const lat_names[] = {LATENCY_TABLE(X_NAME)};
_Static_assert(NLAT < MET_MAX_LATENCIES, "raise MET_MAX_LATENCIES");
static const char *const cnt_names[] = {COUNT_TABLE(X_NAME)};
#undef X_NAME

struct met_thread {
    /* state while streaming */
    bool started, waiting, holding, after_io, after_sleep, exited;
    bool non_cpu; /* did io, sleep, native, hold or serve work */
    int last_ev;  /* its previous event type, -1 before the first */
    int64_t request_t, acquire_t, io_end_t, sleep_end_t;
    /* results */
    int64_t ticks;
    int64_t unserved_wait_ns;
    uint64_t count[NCNT];
    struct st_samples lat[NLAT];
    struct st_stats st[NLAT];
};

struct met_run {
    const struct trace *hdr;
    struct met_thread *th;
    size_t nthreads;
    /* state while streaming */
    int holders, waiters, last_holder;
    bool handoff_pending, forced_pending;
    int64_t handoff_t;
    int handoff_from, forced_from;
    int64_t clock_t; /* time accounted up to */
    int64_t last_event_t;
    int64_t busy_ns, idle_waiting_ns;
    uint64_t nevents;
    bool keep_samples; /* met_keep_samples: per-thread samples outlive met_end */
    struct attr *attr; /* who held the GIL during each wait */
    struct objm *objm; /* the objects' metrics; NULL when the trace names none */
    /* results */
    bool complete;
    uint64_t events_dropped;
    int64_t window_ns;
    double busy, idle_with_waiters;
    int64_t ticks;
    uint64_t count[NCNT];
    struct st_stats st[NLAT];
    size_t fair_n;
    double jain, max_share, min_share, max_min_ratio; /* NAN: not defined */
};

int met_begin(struct met_run **out, const struct trace *hdr, struct err *e)
{
    *out = NULL;
    struct met_run *m = calloc(1, sizeof *m);
    if (!m) return err_set(e, ERR_RUNTIME, "out of memory");
    m->hdr = hdr;
    m->nthreads = hdr->nthreads;
    m->th = calloc(m->nthreads ? m->nthreads : 1, sizeof *m->th);
    if (!m->th) {
        free(m);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    for (size_t i = 0; i < m->nthreads; i++)
        m->th[i].last_ev = -1;
    m->last_holder = -1;
    int rc = attr_new(&m->attr, m->nthreads, e);
    if (!rc) rc = objm_new(&m->objm, hdr, e);
    if (rc) {
        met_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Accounts the time up to t to busy or idle-with-waiters. */
static void advance(struct met_run *m, int64_t t)
{
    if (t <= m->clock_t) return;
    int64_t from = m->clock_t < 0 ? 0 : m->clock_t;
    if (t > from) {
        if (m->holders > 0)
            m->busy_ns += t - from;
        else if (m->waiters > 0)
            m->idle_waiting_ns += t - from;
    }
    m->clock_t = t;
}

/* A REQUEST: the thread starts waiting (once: a policy may record several while it waits). */
static void on_request(struct met_run *m, struct met_thread *th, int tid, int64_t t)
{
    if (!th->waiting) {
        th->waiting = true;
        th->request_t = t;
        m->waiters++;
        attr_wait_begin(m->attr, tid, t);
    }
    th->after_io = th->last_ev == TRACE_EV_IO_END;
}

/* An ACQUIRE: counts the acquisition, closes the handoff gap, credits a forced switch to the
 * thread that was asked to drop, ends the wait with its latencies, opens the hold. */
static int on_acquire(struct met_run *m, struct met_thread *th, int tid, int64_t t, struct err *e)
{
    int rc = 0;
    th->count[CNT_ACQUISITIONS]++;
    if (m->last_holder >= 0) th->count[m->last_holder == tid ? CNT_REACQUIRES : CNT_SWITCHES]++;
    m->last_holder = tid;
    if (m->handoff_pending && m->handoff_from != tid)
        rc = st_push(&th->lat[LAT_HANDOFF_GAP], t - m->handoff_t, e);
    m->handoff_pending = false;
    if (m->forced_pending && m->forced_from != tid)
        m->th[m->forced_from].count[CNT_FORCED_SWITCHES]++;
    m->forced_pending = false;
    if (th->waiting) {
        th->waiting = false;
        m->waiters--;
        if (!rc) rc = attr_wait_end(m->attr, tid, t, e);
        if (!rc) rc = st_push(&th->lat[LAT_GIL_WAIT], t - th->request_t, e);
        if (th->after_io && !rc) rc = st_push(&th->lat[LAT_IO_RESPONSE], t - th->io_end_t, e);
    }
    th->after_io = false;
    if (th->after_sleep && !rc) rc = st_push(&th->lat[LAT_SLEEP_OVERSHOOT], t - th->sleep_end_t, e);
    th->after_sleep = false;
    if (!th->holding) {
        th->holding = true;
        th->acquire_t = t;
        m->holders++;
        if (!rc) rc = attr_hold_begin(m->attr, tid, t, e);
    }
    return rc;
}

/* A RELEASE: closes the hold (a slice) and arms the handoff gap and the forced switch that
 * the next ACQUIRE by another thread completes. */
static int on_release(struct met_run *m, struct met_thread *th, const struct trace_event *ev,
                      struct err *e)
{
    int rc = 0;
    if (ev->arg != TRACE_NO_ARG && ev->arg > th->ticks) th->ticks = ev->arg;
    if (th->holding) {
        th->holding = false;
        m->holders--;
        rc = attr_hold_end(m->attr, ev->tid, ev->t, e);
        if (!rc) rc = st_push(&th->lat[LAT_SLICE], ev->t - th->acquire_t, e);
    }
    m->handoff_pending = m->waiters > 0;
    m->handoff_t = ev->t;
    m->handoff_from = ev->tid;
    m->forced_pending = ev->reason == TRACE_REASON_DROP_REQUEST;
    m->forced_from = ev->tid;
    return rc;
}

/* A THREAD_EXIT: a wait still open is unserved; a hold still open is closed uncounted. */
static int on_thread_exit(struct met_run *m, struct met_thread *th, const struct trace_event *ev,
                          struct err *e)
{
    int rc = 0;
    if (ev->arg != TRACE_NO_ARG && ev->arg > th->ticks) th->ticks = ev->arg;
    if (th->waiting) {
        th->waiting = false;
        m->waiters--;
        th->unserved_wait_ns = ev->t - th->request_t;
        rc = attr_wait_end(m->attr, ev->tid, ev->t, e);
    }
    if (th->holding) { /* a writer that left out the release: close the hold */
        th->holding = false;
        m->holders--;
        if (!rc) rc = attr_hold_end(m->attr, ev->tid, ev->t, e);
    }
    th->exited = true;
    return rc;
}

int met_event(struct met_run *m, const struct trace_event *ev, struct err *e)
{
    struct met_thread *th = &m->th[ev->tid];
    int64_t t = ev->t;
    int rc = 0;
    advance(m, t);
    m->last_event_t = t;
    m->nevents++;
    if ((ev->ev == TRACE_EV_THREAD_EXIT || trace_ev_has_object(ev->ev)) &&
        (rc = objm_event(m->objm, ev, e)))
        return rc;
    switch ((enum trace_ev)ev->ev) {
    case TRACE_EV_THREAD_START:
        th->started = true;
        break;
    case TRACE_EV_REQUEST:
        on_request(m, th, ev->tid, t);
        break;
    case TRACE_EV_ACQUIRE:
        rc = on_acquire(m, th, ev->tid, t, e);
        break;
    case TRACE_EV_RELEASE:
        rc = on_release(m, th, ev, e);
        break;
    case TRACE_EV_THREAD_EXIT:
        rc = on_thread_exit(m, th, ev, e);
        break;
    case TRACE_EV_DROP_REQUEST:
        th->count[CNT_DROP_REQUESTS]++;
        break;
    case TRACE_EV_WAIT_TIMEOUT:
        th->count[CNT_WAIT_TIMEOUTS]++;
        break;
    case TRACE_EV_WAKEUP_FAILED:
        th->count[CNT_FAILED_WAKEUPS]++;
        break;
    case TRACE_EV_IO_END:
        th->count[CNT_IO_OPS]++;
        th->io_end_t = t;
        break;
    case TRACE_EV_SLEEP_BEGIN: /* arg: the planned sleep; the overshoot is measured from its end */
        th->non_cpu = true;
        th->after_sleep = ev->arg != TRACE_NO_ARG;
        th->sleep_end_t = t + (th->after_sleep ? ev->arg : 0);
        break;
    case TRACE_EV_IO_BEGIN:
    case TRACE_EV_NATIVE_BEGIN:
    case TRACE_EV_HOLD_BEGIN:
    case TRACE_EV_ARRIVAL:
    case TRACE_EV_OBJ_WAIT_BEGIN:
        th->non_cpu = true;
        break;
    case TRACE_EV_DONE:
        th->count[CNT_REQUESTS]++;
        if (ev->arg != TRACE_NO_ARG) rc = st_push(&th->lat[LAT_REQUEST_LATENCY], t - ev->arg, e);
        break;
    case TRACE_EV_FORCE_WAIT_BEGIN:
    case TRACE_EV_FORCE_WAIT_END:
    case TRACE_EV_SLEEP_END:
    case TRACE_EV_NATIVE_END:
    case TRACE_EV_HOLD_END:
    case TRACE_EV_OBJ_WAIT_END:
    case TRACE_EV_OBJ_ACQUIRE:
    case TRACE_EV_OBJ_RELEASE:
    case TRACE_EV_OBJ_PUT:
    case TRACE_EV_OBJ_GET:
    case TRACE_EV_OBJ_SET:
    case TRACE_EV_OBJ_CLEAR:
    case TRACE_EV_OBJ_NOTIFY:
    case TRACE_EV_COUNT:
        break;
    }
    th->last_ev = ev->ev;
    return rc;
}

static void fairness(struct met_run *m)
{
    double sum = 0, sumsq = 0, maxx = 0, minx = INFINITY;
    size_t n = 0;
    for (size_t i = 0; i < m->nthreads; i++) {
        const struct met_thread *th = &m->th[i];
        if (!th->started || th->non_cpu) continue;
        double x = (double)th->ticks;
        n++;
        sum += x;
        sumsq += x * x;
        maxx = x > maxx ? x : maxx;
        minx = x < minx ? x : minx;
    }
    m->fair_n = n;
    m->jain = m->max_share = m->min_share = m->max_min_ratio = NAN;
    if (n < 2 || sum <= 0) return;
    m->jain = sum * sum / ((double)n * sumsq);
    m->max_share = maxx / sum;
    m->min_share = minx / sum;
    if (minx > 0) m->max_min_ratio = maxx / minx;
}

int met_end(struct met_run *m, const struct trace *hdr, struct err *e)
{
    m->complete = hdr->complete;
    m->events_dropped = hdr->events_dropped;
    json_t *elapsed = json_object_get(hdr->run, "elapsed_ns");
    int64_t T = m->nevents ? m->last_event_t : 0;
    if (json_is_integer(elapsed) && json_integer_value(elapsed) >= T)
        T = (int64_t)json_integer_value(elapsed);
    m->window_ns = T > 0 ? T : 0;
    advance(m, m->window_ns);
    int rc = attr_finish(m->attr, m->window_ns, e);
    if (!rc) rc = objm_finish(m->objm, m->window_ns, e);
    if (rc) return rc;
    m->busy = m->window_ns ? (double)m->busy_ns / (double)m->window_ns : NAN;
    m->idle_with_waiters = m->window_ns ? (double)m->idle_waiting_ns / (double)m->window_ns : NAN;

    size_t total[NLAT] = {0};
    for (size_t i = 0; i < m->nthreads; i++) {
        struct met_thread *th = &m->th[i];
        if (th->waiting) th->unserved_wait_ns = m->window_ns - th->request_t;
        /* each thread's count is at most 2^53 (the reader's range); 10,000 of them may not fit */
        m->ticks = th->ticks > INT64_MAX - m->ticks ? INT64_MAX : m->ticks + th->ticks;
        for (int c = 0; c < NCNT; c++)
            m->count[c] += th->count[c];
        for (int l = 0; l < NLAT; l++)
            total[l] += th->lat[l].n;
    }
    for (int l = 0; l < NLAT; l++) {
        /* The run's samples are every thread's: gathered before the per-thread sort. */
        int64_t *all = malloc((total[l] ? total[l] : 1) * sizeof *all);
        if (!all) return err_set(e, ERR_RUNTIME, "out of memory for %zu samples", total[l]);
        size_t k = 0;
        for (size_t i = 0; i < m->nthreads; i++) {
            struct st_samples *s = &m->th[i].lat[l];
            if (s->n) memcpy(all + k, s->v, s->n * sizeof *all);
            k += s->n;
            st_stats_of(s->v, s->n, &m->th[i].st[l]);
            if (!m->keep_samples) {
                free(s->v);
                s->v = NULL;
                s->n = s->cap = 0;
            }
        }
        st_stats_of(all, k, &m->st[l]);
        free(all);
    }
    fairness(m);
    return 0;
}

void met_keep_samples(struct met_run *m)
{
    m->keep_samples = true;
}

const char *met_latency_name(unsigned i)
{
    return i < NLAT ? lat_names[i] : NULL;
}

int met_latency_index(const char *name)
{
    for (int l = 0; l < NLAT; l++)
        if (strcmp(lat_names[l], name) == 0) return l;
    return -1;
}

size_t met_samples(const struct met_run *m, unsigned latency, size_t tid, const int64_t **v)
{
    *v = NULL;
    if (!m->keep_samples || latency >= NLAT || tid >= m->nthreads) return 0;
    *v = m->th[tid].lat[latency].v;
    return m->th[tid].lat[latency].n;
}

int64_t met_wait_total(const struct met_run *m, size_t tid)
{
    return tid < m->nthreads ? attr_wait_total(m->attr, (int)tid) : 0;
}

size_t met_wait_row(const struct met_run *m, size_t tid, const struct attr_cell **cells)
{
    *cells = NULL;
    return tid < m->nthreads ? attr_row(m->attr, (int)tid, cells) : 0;
}

void met_free(struct met_run *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nthreads; i++)
        for (int l = 0; l < NLAT; l++)
            free(m->th[i].lat[l].v);
    free(m->th);
    attr_free(m->attr);
    objm_free(m->objm);
    free(m);
}

struct summarize {
    struct met_run *m;
    unsigned flags;
};

static int on_header(void *ctx, const struct trace *hdr, struct err *e)
{
    struct summarize *s = ctx;
    int rc = met_begin(&s->m, hdr, e);
    if (rc == 0 && (s->flags & MET_KEEP_SAMPLES)) met_keep_samples(s->m);
    return rc;
}

static int on_event(void *ctx, const struct trace_event *ev, struct err *e)
{
    return met_event(((struct summarize *)ctx)->m, ev, e);
}

int met_summarize_file(const char *path, unsigned flags, struct met_run **out,
                       struct trace **hdr_out, struct err *e)
{
    *out = NULL;
    *hdr_out = NULL;
    struct summarize s = {NULL, flags};
    struct trace_sink sink = {.header = on_header, .event = on_event, .ctx = &s};
    struct trace *hdr = NULL;
    int rc = trace_scan(path, &sink, &hdr, e);
    if (rc == 0) rc = met_end(s.m, hdr, e);
    if (rc) {
        met_free(s.m);
        trace_free(hdr);
        return rc;
    }
    s.m->hdr = hdr;
    *out = s.m;
    *hdr_out = hdr;
    return 0;
}

/* ---- output -------------------------------------------------------------------------------- */

static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static double per_s(uint64_t n, int64_t window_ns)
{
    return window_ns > 0 ? (double)n * 1e9 / (double)window_ns : NAN;
}

/* The keys run and threads share. */
static int common_json(json_t *o, const struct st_stats *st, const uint64_t *count, int64_t ticks,
                       int64_t window_ns)
{
    int rc = 0;
    for (int l = 0; l < NLAT; l++)
        rc |= json_object_set_new(o, lat_names[l], st_stats_json(&st[l]));
    rc |= json_object_set_new(o, "ticks", json_integer(ticks));
    rc |= json_object_set_new(o, "ticks_per_s", real_or_null(per_s((uint64_t)ticks, window_ns)));
    rc |= json_object_set_new(o, "io_ops", json_integer((json_int_t)count[CNT_IO_OPS]));
    rc |= json_object_set_new(o, "io_per_s", real_or_null(per_s(count[CNT_IO_OPS], window_ns)));
    rc |= json_object_set_new(o, "requests", json_integer((json_int_t)count[CNT_REQUESTS]));
    rc |= json_object_set_new(o, "requests_per_s",
                              real_or_null(per_s(count[CNT_REQUESTS], window_ns)));
    for (int c = 0; c < NCNT; c++)
        if (c != CNT_IO_OPS && c != CNT_REQUESTS)
            rc |= json_object_set_new(o, cnt_names[c], json_integer((json_int_t)count[c]));
    return rc;
}

/* A row's object waits (docs/metrics.md, "Objects"): object_wait_ns, all_wait_ns (the GIL's and
 * the objects' together) and by_object, each cell's share of all of it. */
static int object_cells_json(const struct met_run *m, size_t w, json_t *row)
{
    const struct objm_cell *c;
    size_t n = objm_row(m->objm, (int)w, &c);
    int64_t obj_total = objm_wait_total(m->objm, (int)w), all = obj_total + met_wait_total(m, w);
    json_t *cells = json_array();
    for (size_t i = 0; cells && i < n; i++) {
        json_t *cell = json_pack("{ss ss so ss sI sf}", "object", m->hdr->objects[c[i].obj].name,
                                 "op", trace_obj_op_name(c[i].op), "holder",
                                 c[i].holder >= 0 ? json_integer(c[i].holder) : json_null(), "name",
                                 objm_cell_label(m->objm, &c[i]), "ns", (json_int_t)c[i].ns,
                                 "share", (double)c[i].ns / (double)all);
        if (!cell || json_array_append_new(cells, cell)) json_decref(cells), cells = NULL;
    }
    if (!cells) return -1;
    return json_object_set_new(row, "object_wait_ns", json_integer(obj_total)) |
           json_object_set_new(row, "all_wait_ns", json_integer(all)) |
           json_object_set_new(row, "by_object", cells);
}

/* The waiter x holder matrix: one row per thread (docs/metrics.md, "Wait attribution"). */
static json_t *attribution_json(const struct met_run *m)
{
    const struct trace *h = m->hdr;
    json_t *rows = json_array();
    for (size_t w = 0; rows && w < m->nthreads; w++) {
        int64_t total = met_wait_total(m, w);
        const struct attr_cell *c;
        size_t n = met_wait_row(m, w, &c);
        json_t *cells = json_array();
        for (size_t i = 0; cells && i < n; i++) {
            bool free_gil = c[i].holder == ATTR_FREE;
            /* not json_pack: a 200-thread run has 40,000 cells */
            json_t *cell = json_object();
            if (cell &&
                (json_object_set_new_nocheck(cell, "holder",
                                             free_gil ? json_null() : json_integer(c[i].holder)) ||
                 json_object_set_new_nocheck(
                     cell, "name",
                     json_string(free_gil ? "(free)" : h->threads[c[i].holder].name)) ||
                 json_object_set_new_nocheck(cell, "ns", json_integer((json_int_t)c[i].ns)) ||
                 json_object_set_new_nocheck(cell, "share",
                                             json_real((double)c[i].ns / (double)total))))
                json_decref(cell), cell = NULL;
            if (!cell || json_array_append_new(cells, cell)) json_decref(cells), cells = NULL;
        }
        json_t *row =
            cells ? json_pack("{sI ss sI so}", "waiter", (json_int_t)w, "name", h->threads[w].name,
                              "wait_ns", (json_int_t)total, "by_holder", cells)
                  : NULL;
        if (row && m->objm && object_cells_json(m, w, row)) json_decref(row), row = NULL;
        if (!row || json_array_append_new(rows, row)) json_decref(rows), rows = NULL;
    }
    return rows;
}

/* run.objects: the figures over every object (docs/metrics.md, "Objects"), null when none
 * defines one: compare's rows. */
static json_t *objects_key_json(const struct met_run *m)
{
    struct objm_key k;
    objm_key(m->objm, &k);
    return json_pack("{so so so so so so so}", "wait_p50_ns", real_or_null(k.wait_p50_ns),
                     "wait_p99_ns", real_or_null(k.wait_p99_ns), "hold_p50_ns",
                     real_or_null(k.hold_p50_ns), "item_latency_p50_ns",
                     real_or_null(k.item_p50_ns), "item_latency_p99_ns",
                     real_or_null(k.item_p99_ns), "gets_per_s", real_or_null(k.gets_per_s),
                     "queue_length_mean", real_or_null(k.len_mean));
}

json_t *met_to_json(const struct met_run *m, const char *trace_path)
{
    const struct trace *h = m->hdr;
    json_t *run = json_object(), *threads = json_array(), *doc = NULL;
    if (!run || !threads) goto fail;
    int rc = common_json(run, m->st, m->count, m->ticks, m->window_ns);
    rc |= json_object_set_new(run, "gil_busy", real_or_null(m->busy));
    rc |= json_object_set_new(run, "gil_idle_with_waiters", real_or_null(m->idle_with_waiters));
    rc |= json_object_set_new(
        run, "fairness",
        json_pack("{sI so so so so}", "threads", (json_int_t)m->fair_n, "jain",
                  real_or_null(m->jain), "max_share", real_or_null(m->max_share), "min_share",
                  real_or_null(m->min_share), "max_min_ratio", real_or_null(m->max_min_ratio)));
    if (m->objm) rc |= json_object_set_new(run, "objects", objects_key_json(m));
    for (size_t i = 0; i < m->nthreads && !rc; i++) {
        const struct met_thread *th = &m->th[i];
        json_t *o =
            json_pack("{sI ss ss sb sI}", "tid", (json_int_t)i, "name", h->threads[i].name, "group",
                      h->threads[i].group, "cpu_bound", th->started && !th->non_cpu,
                      "unserved_wait_ns", (json_int_t)th->unserved_wait_ns);
        if (!o) goto fail;
        rc |= common_json(o, th->st, th->count, th->ticks, m->window_ns);
        rc |= json_array_append_new(threads, o);
    }
    if (rc) goto fail;
    json_t *params = json_object_get(h->run, "params"), *seed = json_object_get(h->run, "seed");
    json_t *wl = json_object_get(json_object_get(h->run, "workload"), "name");
    json_t *attribution = attribution_json(m);
    if (!attribution) goto fail;
    json_t *objects = m->objm ? objm_json(m->objm) : NULL;
    if (m->objm && !objects) {
        json_decref(attribution);
        goto fail;
    }
    struct disturb d;
    disturb_judge(h->run, &d);
    /* the path is bytes: not UTF-8, it is written escaped (common/text.h) */
    doc = json_pack("{ss sI so sO* ss sO sO sb sI sI sI so sO sO so}", "format", "gilsim-summary",
                    "version", (json_int_t)1, "trace", text_json(trace_path ? trace_path : ""),
                    "workload", wl ? wl : json_null(), "policy", h->policy, "params",
                    params ? params : json_null(), "seed", seed ? seed : json_null(), "complete",
                    m->complete, "events_dropped", (json_int_t)m->events_dropped, "events",
                    (json_int_t)m->nevents, "window_ns", (json_int_t)m->window_ns, "disturbance",
                    disturb_json(&d), "run", run, "threads", threads, "wait_attribution",
                    attribution);
    if (doc && objects)
        json_object_set_new(doc, "objects", objects);
    else
        json_decref(objects);
fail:
    json_decref(run);
    json_decref(threads);
    return doc;
}

/* ---- text ---------------------------------------------------------------------------------- */

/* "1.88 s 99.6%": a cell's time and its share of the waiter's wait. */
static const char *fmt_cell(char *buf, size_t size, int64_t ns, int64_t total)
{
    char t[32];
    snprintf(buf, size, "%s %.1f%%", st_fmt_ns(t, sizeof t, (double)ns),
             100.0 * (double)ns / (double)total);
    return buf;
}

/* A holder's name for the text, escaped (common/text.h): it comes from the trace. */
static const char *holder_name(const struct met_run *m, int holder, char *buf, size_t size)
{
    return holder == ATTR_FREE ? "(free)" : text_escape(m->hdr->threads[holder].name, buf, size);
}

enum { MAX_ROWS = 64, GRID_COLS = 6, TOP = 3 }; /* threads and waiters listed, matrix shape */

/* The holders of the matrix's columns when there are at most GRID_COLS, by tid, the free GIL
 * last (as in a row); 0 when there are more. *waiters: rows with a cell. */
static size_t grid_columns(const struct met_run *m, int *cols, size_t *waiters)
{
    size_t ncols = 0;
    *waiters = 0;
    for (size_t w = 0; w < m->nthreads; w++) {
        const struct attr_cell *c;
        size_t n = met_wait_row(m, w, &c);
        *waiters += n > 0;
        for (size_t i = 0; i < n && ncols <= GRID_COLS; i++) {
            size_t k = 0;
            while (k < ncols && cols[k] != c[i].holder)
                k++;
            if (k == ncols && ncols == GRID_COLS) ncols = GRID_COLS + 1;
            if (k == ncols) cols[ncols++] = c[i].holder;
        }
    }
    if (ncols > GRID_COLS) return 0;
    for (size_t i = 1; i < ncols; i++) /* insertion sort; ATTR_FREE as unsigned sorts last */
        for (size_t j = i; j > 0 && (unsigned)cols[j] < (unsigned)cols[j - 1]; j--) {
            int x = cols[j];
            cols[j] = cols[j - 1], cols[j - 1] = x;
        }
    return ncols;
}

/* A row's three largest cells, largest first, and how many more it has. */
static void print_top_cells(const struct attr_cell *c, size_t n, int64_t total,
                            const struct met_run *m, FILE *out)
{
    size_t order[TOP], nt = 0;
    char b[48], name[64];
    for (size_t i = 0; i < n; i++) {
        size_t j;
        if (nt < TOP)
            j = nt++;
        else if (c[i].ns > c[order[TOP - 1]].ns)
            j = TOP - 1; /* replaces the smallest kept */
        else
            continue;
        for (; j > 0 && c[order[j - 1]].ns < c[i].ns; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (size_t k = 0; k < nt; k++)
        fprintf(out, "  %s %s", holder_name(m, c[order[k]].holder, name, sizeof name),
                fmt_cell(b, sizeof b, c[order[k]].ns, total));
    if (n > nt) fprintf(out, "  (+%zu more)", n - nt);
}

/* The waiter x holder matrix: a grid when it has few columns, else each waiter's top three. */
static void print_attribution(const struct met_run *m, FILE *out)
{
    int cols[GRID_COLS + 1];
    size_t waiters, ncols = grid_columns(m, cols, &waiters), shown = 0;
    if (!waiters) return;
    fprintf(out,
            "\nwait attribution: who held the GIL while each thread waited (share of its wait)\n");
    char a[32], b[48], name[64];
    if (ncols) {
        fprintf(out, "%-14s %9s", "waiter", "wait");
        for (size_t k = 0; k < ncols; k++)
            fprintf(out, k + 1 < ncols ? "  %-16s" : "  %s",
                    holder_name(m, cols[k], name, sizeof name));
        fputc('\n', out);
    }
    for (size_t w = 0; w < m->nthreads && shown < MAX_ROWS; w++) {
        const struct attr_cell *c;
        size_t n = met_wait_row(m, w, &c);
        int64_t total = met_wait_total(m, w);
        if (!n) continue;
        shown++;
        fprintf(out, "%-14s %9s", text_escape(m->hdr->threads[w].name, name, sizeof name),
                st_fmt_ns(a, sizeof a, (double)total));
        for (size_t k = 0, i = 0; k < ncols; k++) {
            bool here = i < n && c[i].holder == cols[k];
            fprintf(out, k + 1 < ncols ? "  %-16s" : "  %s",
                    here ? fmt_cell(b, sizeof b, c[i].ns, total) : "-");
            i += here;
        }
        if (!ncols) print_top_cells(c, n, total, m, out);
        fputc('\n', out);
    }
    if (waiters > shown)
        fprintf(out, "... %zu more waiters (`gilsim summary --json` lists every one)\n",
                waiters - shown);
}

/* The run's identity: trace, workload, policy, parameters, seed, window, completeness. */
static void print_run(const struct met_run *m, const char *trace_path, FILE *out)
{
    const struct trace *h = m->hdr;
    json_t *wl = json_object_get(json_object_get(h->run, "workload"), "name");
    char e1[256], e2[256]; /* names from the file, control characters escaped */
    fputs("trace     ", out);
    text_put(out, trace_path);
    fprintf(out, "\nrun       %s under %s",
            text_escape(json_is_string(wl) ? json_string_value(wl) : "?", e1, sizeof e1),
            text_escape(h->policy[0] ? h->policy : "?", e2, sizeof e2));
    json_t *params = json_object_get(h->run, "params");
    const char *key;
    json_t *val;
    int i = 0;
    json_object_foreach(params, key, val)
    {
        fprintf(out, "%s%s=%g", i++ ? ", " : " (", text_escape(key, e1, sizeof e1),
                json_number_value(val));
    }
    fprintf(out, "%s", i ? ")" : "");
    json_t *seed = json_object_get(h->run, "seed");
    if (json_is_integer(seed)) fprintf(out, ", seed %lld", (long long)json_integer_value(seed));
    fprintf(out, "\nwindow    %.3f s, %zu threads, %llu events, %s\n", (double)m->window_ns / 1e9,
            m->nthreads, (unsigned long long)m->nevents, m->complete ? "complete" : "PARTIAL");
    json_t *why = json_object_get(h->run, "stop_reason");
    if (!m->complete && m->events_dropped)
        fprintf(out,
                "          %llu events were dropped: each thread's record stops where its buffer "
                "filled,\n          so these numbers cover only the events kept.\n",
                (unsigned long long)m->events_dropped);
    else if (!m->complete)
        fprintf(
            out,
            "          the run was cut short (stop_reason %s): these numbers cover "
            "what ran until then.\n",
            text_escape(json_is_string(why) ? json_string_value(why) : "unknown", e1, sizeof e1));
    struct disturb d;
    disturb_judge(h->run, &d);
    if (d.disturbed)
        fprintf(out,
                "WARNING   disturbed: %s.\n          The host spoiled this run: its figures are "
                "those of a busy machine (docs/metrics.md).\n",
                d.why);
}

/* The run's totals: GIL occupancy, counts, throughput, fairness. */
static void print_totals(const struct met_run *m, FILE *out)
{
    char a[32], b[32], c[32];
    fprintf(out, "GIL       busy %.1f%%, idle with waiters %.2f%%\n", 100 * m->busy,
            100 * m->idle_with_waiters);
    fprintf(out,
            "          %llu acquisitions: %llu switches, %llu reacquires; %llu drop requests, "
            "%llu forced switches,\n          %llu wait timeouts, %llu failed wakeups\n",
            (unsigned long long)m->count[CNT_ACQUISITIONS],
            (unsigned long long)m->count[CNT_SWITCHES],
            (unsigned long long)m->count[CNT_REACQUIRES],
            (unsigned long long)m->count[CNT_DROP_REQUESTS],
            (unsigned long long)m->count[CNT_FORCED_SWITCHES],
            (unsigned long long)m->count[CNT_WAIT_TIMEOUTS],
            (unsigned long long)m->count[CNT_FAILED_WAKEUPS]);
    fprintf(out, "work      %s ticks/s, %s io/s",
            st_fmt_num(a, sizeof a, per_s((uint64_t)m->ticks, m->window_ns)),
            st_fmt_num(b, sizeof b, per_s(m->count[CNT_IO_OPS], m->window_ns)));
    if (m->count[CNT_REQUESTS])
        fprintf(out, ", %s requests/s",
                st_fmt_num(c, sizeof c, per_s(m->count[CNT_REQUESTS], m->window_ns)));
    fprintf(out, "\nfairness  %zu CPU-bound thread%s", m->fair_n, m->fair_n == 1 ? "" : "s");
    if (isfinite(m->jain))
        fprintf(out, ": Jain %.3f, shares %.3f..%.3f, max/min %s\n", m->jain, m->min_share,
                m->max_share,
                isfinite(m->max_min_ratio) ? st_fmt_num(a, sizeof a, m->max_min_ratio) : "inf");
    else
        fprintf(out, ": n/a\n");
}

static void print_latencies(const struct met_run *m, FILE *out)
{
    char a[32], b[32], c[32], d[32], f[32], g[32];
    fprintf(out, "\n%-16s %9s %9s %9s %9s %9s %9s %9s\n", "latency", "count", "mean", "p50", "p90",
            "p99", "p99.9", "max");
    for (int l = 0; l < NLAT; l++) {
        const struct st_stats *st = &m->st[l];
        if (!st->count) {
            fprintf(out, "%-16s %9s\n", lat_names[l], "0");
            continue;
        }
        fprintf(out, "%-16s %9zu %9s %9s %9s %9s %9s %9s\n", lat_names[l], st->count,
                st_fmt_ns(a, sizeof a, st->mean), st_fmt_ns(b, sizeof b, (double)st->p50),
                st_fmt_ns(c, sizeof c, (double)st->p90), st_fmt_ns(d, sizeof d, (double)st->p99),
                st_fmt_ns(f, sizeof f, (double)st->p999), st_fmt_ns(g, sizeof g, (double)st->max));
    }
}

/* One row per thread, the first MAX_ROWS of them. */
static void print_threads(const struct met_run *m, FILE *out)
{
    const struct trace *h = m->hdr;
    char a[32], b[32], c[32], d[32];
    fprintf(out, "\n%-4s %-14s %9s %8s %9s %9s %11s %11s %11s %11s\n", "tid", "name", "ticks/s",
            "io/s", "acquires", "switches", "wait p50", "io_resp p50", "slice p50", "unserved");
    for (size_t k = 0; k < m->nthreads && k < MAX_ROWS; k++) {
        const struct met_thread *th = &m->th[k];
        char e1[32], e2[32], name[64];
        const struct st_stats *w = &th->st[LAT_GIL_WAIT], *io = &th->st[LAT_IO_RESPONSE],
                              *sl = &th->st[LAT_SLICE];
        fprintf(out, "%-4zu %-14s %9s %8s %9llu %9llu %11s %11s %11s %11s\n", k,
                text_escape(h->threads[k].name, name, sizeof name),
                st_fmt_num(a, sizeof a, per_s((uint64_t)th->ticks, m->window_ns)),
                st_fmt_num(b, sizeof b, per_s(th->count[CNT_IO_OPS], m->window_ns)),
                (unsigned long long)th->count[CNT_ACQUISITIONS],
                (unsigned long long)th->count[CNT_SWITCHES],
                w->count ? st_fmt_ns(c, sizeof c, (double)w->p50) : "-",
                io->count ? st_fmt_ns(d, sizeof d, (double)io->p50) : "-",
                sl->count ? st_fmt_ns(e1, sizeof e1, (double)sl->p50) : "-",
                th->unserved_wait_ns ? st_fmt_ns(e2, sizeof e2, (double)th->unserved_wait_ns)
                                     : "-");
    }
    if (m->nthreads > MAX_ROWS)
        fprintf(out, "... %zu more threads (`gilsim summary --json` lists every one)\n",
                m->nthreads - MAX_ROWS);
}

static int cells_by_ns(const void *a, const void *b)
{
    int64_t x = ((const struct attr_cell *)a)->ns, y = ((const struct attr_cell *)b)->ns;
    return (y > x) - (y < x);
}

/* A waiter's largest causes over the GIL's and the objects' cells together, largest first. */
static void print_causes(const struct met_run *m, size_t w, FILE *out)
{
    const struct attr_cell *row;
    const struct objm_cell *o;
    size_t ng = met_wait_row(m, w, &row), no = objm_row(m->objm, (int)w, &o);
    int64_t all = met_wait_total(m, w) + objm_wait_total(m->objm, (int)w);
    struct attr_cell *g = malloc((ng ? ng : 1) * sizeof *g);
    if (!g) return;
    if (ng) {
        memcpy(g, row, ng * sizeof *g);
        qsort(g, ng, sizeof *g, cells_by_ns); /* o is sorted largest first already */
    }
    char b[48], name[64], obj[64];
    for (size_t i = 0, j = 0, shown = 0; shown < 4 && (i < ng || j < no); shown++) {
        if (i < ng && (j >= no || g[i].ns >= o[j].ns)) {
            fprintf(out, g[i].holder == ATTR_FREE ? "  GIL %s %s" : "  GIL held by %s %s",
                    holder_name(m, g[i].holder, name, sizeof name),
                    fmt_cell(b, sizeof b, g[i].ns, all));
            i++;
            continue;
        }
        const char *on = text_escape(m->hdr->objects[o[j].obj].name, obj, sizeof obj);
        const char *label = text_escape(objm_cell_label(m->objm, &o[j]), name, sizeof name);
        fmt_cell(b, sizeof b, o[j].ns, all);
        if (o[j].holder >= 0)
            fprintf(out, "  %s held by %s %s", on, label, b);
        else if (o[j].holder == OBJM_FREE)
            fprintf(out, "  %s %s %s", on, label, b);
        else
            fprintf(out, "  %s %s %s %s", on, trace_obj_op_name(o[j].op), label, b);
        j++;
    }
    free(g);
}

/* Who made whom wait on the GIL and on objects together: each thread that blocked on an object,
 * with its largest causes as shares of all its waiting. */
static void print_object_attribution(const struct met_run *m, FILE *out)
{
    size_t shown = 0;
    char a[32], name[64];
    for (size_t w = 0; w < m->nthreads && shown < MAX_ROWS; w++) {
        int64_t obj = objm_wait_total(m->objm, (int)w);
        if (!obj) continue;
        if (!shown++)
            fprintf(out, "\nwho made whom wait, the GIL and objects (share of all of each "
                         "thread's waiting)\n");
        fprintf(out, "%-14s %9s", text_escape(m->hdr->threads[w].name, name, sizeof name),
                st_fmt_ns(a, sizeof a, (double)(obj + met_wait_total(m, w))));
        print_causes(m, w, out);
        fputc('\n', out);
    }
}

void met_print(const struct met_run *m, const char *trace_path, FILE *out)
{
    print_run(m, trace_path, out);
    print_totals(m, out);
    print_latencies(m, out);
    print_threads(m, out);
    print_attribution(m, out);
    if (m->objm) {
        objm_print(m->objm, out);
        print_object_attribution(m, out);
    }
}

void met_objects_key(const struct met_run *m, struct objm_key *k)
{
    objm_key(m->objm, k);
}
