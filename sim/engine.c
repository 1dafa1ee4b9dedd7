/* sim/engine.c - eng_run: what both engines share around a run (the threads' records and event
 * buffers, the policy's state, the results, the stall report), the engine services of
 * policy.h, and eng_ctl. The backends are engine_real.c and engine_virtual.c; what a thread
 * does is interp.c. */
#define _GNU_SOURCE /* open_memstream */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/utc.h"
#include "engine_internal.h"
#include "objects.h"
#include "rng.h"

static const char *const th_state_names[] = {"not started",
                                             "holding the GIL",
                                             "waiting for the GIL",
                                             "releasing the GIL",
                                             "blocked (io/sleep)",
                                             "native work",
                                             "exited",
                                             "blocked on an object"};

/* ---- engine services for policies (policy.h) --------------------------------------------- */

void *gil_state(const struct gil *g)
{
    return g->state;
}
/* A per-thread record is allocated after a header that names its thread. */
union record_header {
    struct sim_thread *thread;
    max_align_t align; /* the record after it is aligned for anything */
};

void *gil_thread_data(const struct sim_thread *t)
{
    return t->policy_data;
}

struct sim_thread *gil_thread_of(const void *record)
{
    return ((const union record_header *)record - 1)->thread;
}

static void *record_new(struct sim_thread *t, size_t size)
{
    union record_header *h = calloc(1, sizeof *h + size);
    if (!h) return NULL;
    h->thread = t;
    return h + 1;
}

static void record_free(void *record)
{
    if (record) free((union record_header *)record - 1);
}
int gil_thread_id(const struct sim_thread *t)
{
    return t ? t->tid : GIL_NO_THREAD;
}

void gil_thread_set_tick_budget(struct sim_thread *t, uint64_t ticks)
{
    t->tick_budget = ticks;
    t->budget_left = ticks ? ticks : UINT64_MAX;
}

void gil_request_drop(struct gil *g)
{
    uint32_t before = atomic_fetch_or(&g->pending, PENDING_DROP);
    if (!(before & PENDING_DROP) && g->eng->be->pending_raised) g->eng->be->pending_raised(g->eng);
}
bool gil_stopping(const struct gil *g)
{
    return atomic_load_explicit(&((struct gil *)g)->pending, memory_order_relaxed) & PENDING_STOP;
}

void gil_clear_drop(struct gil *g)
{
    atomic_fetch_and(&g->pending, ~PENDING_DROP);
}
bool gil_drop_requested(const struct gil *g)
{
    return atomic_load_explicit(&((struct gil *)g)->pending, memory_order_relaxed) & PENDING_DROP;
}

enum gil_reason gil_check_drop_request(struct gil *g, struct sim_thread *self, unsigned cause)
{
    (void)self;
    if ((cause & GIL_CHECK_PENDING) && gil_drop_requested(g)) return GIL_REASON_DROP_REQUEST;
    return GIL_REASON_NONE;
}

void gil_record(struct sim_thread *self, enum trace_ev ev, int64_t arg)
{
    if (arg == GIL_NO_THREAD && (ev == TRACE_EV_DROP_REQUEST || ev == TRACE_EV_WAIT_TIMEOUT ||
                                 ev == TRACE_EV_WAKEUP_FAILED))
        arg = TRACE_NO_ARG; /* no holder known */
    eng_record(self, ev, TRACE_REASON_NONE, arg);
}

/* ---- stopping ----------------------------------------------------------------------------- */

void eng_stop_run(struct eng *eng)
{
    if (atomic_fetch_or(&eng->gil.pending, PENDING_STOP) & PENDING_STOP) return;
    if (eng->be->pending_raised) eng->be->pending_raised(eng);
    if (eng->gil.policy->stop) eng->gil.policy->stop(&eng->gil);
    obj_stop(eng);
}

void eng_fail_run(struct eng *eng, const char *message)
{
    pthread_mutex_lock(&eng->mutex);
    if (!eng->ext_reason) {
        eng->ext_reason = "error";
        snprintf(eng->error, sizeof eng->error, "%s", message);
    }
    atomic_store_explicit(&eng->ext_requested, true, memory_order_relaxed);
    pthread_cond_broadcast(&eng->cond);
    pthread_mutex_unlock(&eng->mutex);
}

/* A handle another thread (the CLI's signal thread) stops a run through. */
struct eng_ctl {
    pthread_mutex_t mutex; /* guards reason and running */
    const char *reason;
    struct eng *running;
};

int eng_ctl_new(struct eng_ctl **out)
{
    struct eng_ctl *c = calloc(1, sizeof *c);
    *out = c;
    return c ? 0 : ENOMEM;
}

void eng_ctl_free(struct eng_ctl *c)
{
    free(c);
}

static void ctl_reach(struct eng_ctl *c, struct eng *eng)
{
    pthread_mutex_lock(&eng->mutex);
    if (!eng->ext_reason) eng->ext_reason = c->reason;
    atomic_store_explicit(&eng->ext_requested, true, memory_order_relaxed);
    pthread_cond_broadcast(&eng->cond);
    pthread_mutex_unlock(&eng->mutex);
}

void eng_ctl_stop(struct eng_ctl *c, const char *reason)
{
    pthread_mutex_lock(&c->mutex);
    if (!c->reason) c->reason = reason;
    if (c->running) ctl_reach(c, c->running);
    pthread_mutex_unlock(&c->mutex);
}

/* Lock order: ctl, then eng->mutex; the main thread never takes ctl while holding eng's. */
void eng_ctl_attach(struct eng_ctl *c, struct eng *eng)
{
    if (!c) return;
    pthread_mutex_lock(&c->mutex);
    c->running = eng;
    if (eng && c->reason) ctl_reach(c, eng);
    pthread_mutex_unlock(&c->mutex);
}

/* ---- the stall report ---------------------------------------------------------------------- */

static void list_threads(FILE *f, struct eng *eng, const struct eng_result *res, enum th_state st,
                         int64_t now)
{
    unsigned n = 0;
    for (unsigned i = 0; i < eng->nthreads; i++)
        n += atomic_load_explicit(&eng->threads[i].state, memory_order_relaxed) == (int)st;
    if (n == 0 && st != TH_RUNNING && st != TH_WAITING) return;
    if (n == 0)
        fprintf(f, "  %s: none\n", th_state_names[st]);
    else
        fprintf(f, "  %s: %u thread%s\n", th_state_names[st], n, n == 1 ? "" : "s");
    unsigned shown = 0;
    for (unsigned i = 0; i < eng->nthreads && shown < 10; i++) {
        struct sim_thread *t = &eng->threads[i];
        if (atomic_load_explicit(&t->state, memory_order_relaxed) != (int)st) continue;
        int64_t since = atomic_load_explicit(&t->state_since, memory_order_relaxed);
        if (since == NO_TIME)
            fprintf(f, "    %s (tid %d), since when not known (--no-trace)\n", res->threads[i].name,
                    t->tid);
        else
            fprintf(f, "    %s (tid %d) since t=%.3f ms, %.1f s ago\n", res->threads[i].name,
                    t->tid, (double)since / 1e6, (double)(now - since) / 1e9);
        shown++;
    }
    if (n > shown) fprintf(f, "    ... and %u more\n", n - shown);
}

char *eng_stall_report(struct eng *eng, const struct eng_result *res, int64_t now,
                       int64_t silent_ns, const char *why)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    if (silent_ns >= 0)
        fprintf(f,
                "stalled: %s for %.1f s (--stall-timeout %.0f ms) at t=%.3f ms under policy %s: "
                "a deadlock?\n",
                why, (double)silent_ns / 1e9, (double)res->stall_timeout_ns / 1e6,
                (double)now / 1e6, eng->gil.policy->name);
    else
        fprintf(f, "stalled: %s at t=%.3f ms under policy %s\n", why, (double)now / 1e6,
                eng->gil.policy->name);
    static const enum th_state order[] = {TH_RUNNING, TH_WAITING, TH_RELEASING, TH_NATIVE,
                                          TH_BLOCKED, TH_OBJECT,  TH_GATE};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        list_threads(f, eng, res, order[k], now);
    obj_report(eng, res, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void eng_report_abandoned(struct eng *eng, struct eng_result *res, unsigned among, const char *what)
{
    char line[512];
    size_t n = (size_t)snprintf(line, sizeof line, "%u thread%s %s:", res->abandoned,
                                res->abandoned == 1 ? "" : "s", what);
    for (unsigned i = 0, shown = 0; i < among && shown < 10 && n < sizeof line; i++)
        if (!atomic_load_explicit(&eng->threads[i].exited, memory_order_relaxed)) {
            n += (size_t)snprintf(line + n, sizeof line - n, " %s", res->threads[i].name);
            shown++;
        }
    if (n < sizeof line)
        snprintf(line + n, sizeof line - n, "%s\n", res->abandoned > 10 ? " ..." : "");
    eng_report_append(&res->report, line);
    res->interrupted = true;
}

void eng_report_append(char **report, const char *line)
{
    size_t a = *report ? strlen(*report) : 0, b = strlen(line);
    char *r = realloc(*report, a + b + 1);
    if (!r) return;
    memcpy(r + a, line, b + 1);
    *report = r;
}

uint32_t eng_default_max_events(unsigned nthreads)
{
    uint64_t per = (32ull << 20) / (nthreads ? nthreads : 1);
    if (per < 4096) per = 4096;
    if (per > (4u << 20)) per = 4u << 20;
    return (uint32_t)per;
}

/* ---- set-up and results -------------------------------------------------------------------- */

/* The tick: the backend's (calibrated busy work, or exactly tick_ns in virtual time). */
static void set_tick(struct eng *eng, struct eng_result *res)
{
    res->tick_ns_target = eng->o->wl->tick_ns;
    eng->be->set_tick(eng);
    res->ns_per_tick = eng->ns_per_tick;
    res->iters_per_tick = eng->iters_per_tick;
}

/* One workload thread's record, event buffer and policy record; thread_init last. */
static int setup_thread(struct eng *eng, struct eng_result *res, unsigned tid,
                        const struct wl_group *grp, unsigned k, struct err *e)
{
    const struct gil_policy *pol = eng->gil.policy;
    struct sim_thread *t = &eng->threads[tid];
    struct eng_thread_result *r = &res->threads[tid];
    t->tid = (int)tid;
    t->eng = eng;
    t->gil = &eng->gil;
    t->group = grp;
    t->ops = wl_thread_ops(grp, k);
    t->start_ns = wl_thread_start_ns(grp, k);
    t->cap = eng->o->no_trace ? 0 : res->max_events;
    t->budget_left = UINT64_MAX;
    t->work = tid + 1;
    rng_seed(t->rng, eng->o->seed, t->tid);
    r->tid = t->tid;
    r->group = grp->name;
    snprintf(r->name, sizeof r->name, "%s.%u", grp->name, k);
    if (t->cap && !(t->events = malloc((size_t)t->cap * sizeof *t->events)))
        return err_set(e, ERR_RUNTIME, "out of memory for the event buffer of thread %s", r->name);
    if (pol->thread_size && !(t->policy_data = record_new(t, pol->thread_size)))
        return err_set(e, ERR_RUNTIME, "out of memory for thread %s", r->name);
    int rc = pol->thread_init ? pol->thread_init(&eng->gil, t) : 0;
    if (rc)
        return err_set(e, ERR_RUNTIME, "policy %s failed to set up thread %s: %s", pol->name,
                       r->name, strerror(rc));
    return 0;
}

/* Everything before the backend runs: threads, buffers, the policy's state and init. Sets
 * *inited to the threads whose thread_init succeeded. */
static int setup_run(struct eng *eng, struct eng_result *res, unsigned *inited, bool *policy_up,
                     struct err *e)
{
    const struct wl_workload *wl = eng->o->wl;
    const struct gil_policy *pol = eng->gil.policy;
    eng->threads = calloc(eng->nthreads, sizeof *eng->threads);
    res->threads = calloc(eng->nthreads, sizeof *res->threads);
    if (!eng->threads || !res->threads)
        return err_set(e, ERR_RUNTIME, "out of memory for %u threads", eng->nthreads);
    if (pol->state_size && !(eng->gil.state = calloc(1, pol->state_size)))
        return err_set(e, ERR_RUNTIME, "out of memory for policy %s", pol->name);
    int rc = pol->init ? pol->init(&eng->gil, eng->o->params) : 0;
    if (rc)
        return err_set(e, ERR_RUNTIME, "policy %s failed to start: %s", pol->name, strerror(rc));
    *policy_up = true;
    unsigned tid = 0;
    for (size_t gi = 0; gi < wl->ngroups; gi++)
        for (unsigned k = 0; k < wl->groups[gi].count; k++, tid++) {
            if ((rc = setup_thread(eng, res, tid, &wl->groups[gi], k, e))) return rc;
            (*inited)++;
        }
    return obj_open(eng, e);
}

static void collect_results(struct eng *eng, struct eng_result *res)
{
    for (unsigned i = 0; i < eng->nthreads; i++) {
        struct sim_thread *t = &eng->threads[i];
        struct eng_thread_result *r = &res->threads[i];
        /* A thread given up on may still write past what it published: copy what it had. */
        uint32_t n = atomic_load_explicit(&t->published, memory_order_acquire);
        if (atomic_load_explicit(&t->exited, memory_order_relaxed) || !res->abandoned) {
            r->events = t->events;
            t->events = NULL; /* now the result's */
        } else {
            struct trace_event *copy = malloc((n ? n : 1) * sizeof *copy);
            if (copy && n) memcpy(copy, t->events, n * sizeof *copy);
            r->events = copy;
            n = copy ? n : 0;
        }
        r->nevents = n;
        r->dropped = counter_read(&t->dropped);
        r->ticks = counter_read(&t->ticks);
        r->acquisitions = counter_read(&t->acquisitions);
        r->switches = counter_read(&t->switches);
        res->total_ticks += r->ticks;
        res->acquisitions += r->acquisitions;
        res->switches += r->switches;
        res->events += n;
        res->events_dropped += r->dropped;
    }
}

static void free_engine(struct eng *eng, unsigned inited, bool policy_up)
{
    const struct gil_policy *pol = eng->gil.policy;
    for (unsigned i = 0; i < inited; i++)
        if (pol->thread_fini) pol->thread_fini(&eng->gil, &eng->threads[i]);
    if (policy_up && pol->destroy) pol->destroy(&eng->gil);
    obj_close(eng);
    /* last: the policy's hooks may use the locks the backend provides */
    if (eng->be->close) eng->be->close(eng);
    for (unsigned i = 0; eng->threads && i < eng->nthreads; i++) {
        free(eng->threads[i].events);
        record_free(eng->threads[i].policy_data);
    }
    free(eng->gil.state);
    free(eng->threads);
    free(eng);
}

/* The one place that maps an engine kind to its backend. */
static const struct eng_backend *backend_of(enum eng_kind kind)
{
    return kind == ENG_VIRTUAL ? &eng_virtual_backend : &eng_real_backend;
}

void eng_describe_run(const struct eng_options *o, json_t *run)
{
    const struct eng_backend *be = backend_of(o->engine);
    if (be->describe) be->describe(o, run);
}

/* A backend without peers (peer_send NULL) cannot run a workload that talks to one. */
static int check_backend(const struct eng *eng, struct err *e)
{
    const struct wl_workload *wl = eng->o->wl;
    for (size_t i = 0; i < wl->ngroups && !eng->be->peer_send; i++)
        if (wl->groups[i].uses_peer)
            return err_set(e, ERR_INPUT,
                           "%s: threads[%zu] (%s) talks to a peer (io with \"peer\", send), "
                           "which the %s engine does not run yet",
                           wl->path, i, wl->groups[i].name, eng->be->name);
    return 0;
}

int eng_run(const struct eng_options *o, struct eng_result **out, struct err *e)
{
    /* On the heap: when threads cannot be stopped, this is left to them (never freed). */
    struct eng *eng = calloc(1, sizeof *eng);
    struct eng_result *res = calloc(1, sizeof *res);
    unsigned inited = 0;
    bool policy_up = false;
    *out = NULL;
    if (!res || !eng) {
        free(eng);
        free(res);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    eng->o = o;
    eng->be = backend_of(o->engine);
    eng->nthreads = o->wl->nthreads;
    eng->gil.policy = o->policy;
    eng->gil.check = o->policy->check ? o->policy->check : gil_check_drop_request;
    eng->gil.eng = eng;
    atomic_init(&eng->gil.last_holder, -1);
    res->engine = eng->be->name;
    set_tick(eng, res);
    eng->setup_start = sync_now_ns();
    res->duration_ns = o->duration_ns > 0 ? o->duration_ns : o->wl->duration_ns;
    res->max_events = o->max_events ? o->max_events : eng_default_max_events(o->wl->nthreads);
    res->stall_timeout_ns = o->stall_timeout_ns == 0  ? ENG_DEFAULT_STALL_NS
                            : o->stall_timeout_ns < 0 ? 0
                                                      : o->stall_timeout_ns;
    res->nthreads = eng->nthreads;

    int rc = check_backend(eng, e);
    if (!rc && eng->be->open) rc = eng->be->open(eng, e);
    if (!rc) rc = setup_run(eng, res, &inited, &policy_up, e);
    if (!rc) rc = eng->be->run(eng, res, e);
    if (!rc && res->stop_reason && strcmp(res->stop_reason, "error") == 0) {
        eng_report_append(&res->report, eng->error);
        eng_report_append(&res->report, "\n");
    }
    if (res->abandoned && eng->be->threads_outlive_run) {
        /* what the abandoned threads use stays theirs */
        collect_results(eng, res);
        if (!rc) {
            *out = res;
            return 0;
        }
        eng_result_free(res);
        return rc;
    }
    if (!rc) {
        collect_results(eng, res);
        *out = res;
    } else {
        eng_result_free(res);
    }
    free_engine(eng, inited, policy_up);
    return rc;
}

void eng_result_free(struct eng_result *r)
{
    if (!r) return;
    for (unsigned i = 0; r->threads && i < r->nthreads; i++)
        free((void *)r->threads[i].events);
    free(r->threads);
    free(r->report);
    free(r);
}
