/* sim/engine_virtual.c - the virtual-time engine: the workload's threads as coroutines
 * (coro.h) on a modelled machine (machine.h), scheduled by a discrete-event loop, running the
 * same op interpreter and policy files as the real engine (vt.h says how). Nothing real
 * happens: no busy loops, no sleeping, no clock reads; a million ticks of cpu cost one event.
 *
 * The machine: a thread that is woken takes a wake-up latency to run (warm onto a core that
 * idled recently and still polls, cold onto a halted one; +-wake_jitter, or drawn from the
 * machine's measured distributions, from the run's seed); with no idle core it preempts the thread
 * on its last core if that one has run for wakeup_preempt, else it waits in the ready queue, where
 * a scheduler tick gives it a core held longer than sched_slice. A wake-up costs its caller
 * futex_wake, a clock read clock_read, a switch of core ctx_switch, a short socket call to a peer
 * syscall; timed waits fire timer_slack late. docs/virtual.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/utc.h"
#include "rng.h"
#include "vt.h"

/* Operations in a row that do not advance virtual time before the run counts as stalled (a
 * policy that loops without blocking). Far above anything a policy does at one instant. */
#define STILL_LIMIT 20000000u

/* ---- the event queue: a binary heap of threads by (time, order of scheduling) ---------- */

static bool ev_before(const struct vt_thread *a, const struct vt_thread *b)
{
    return a->ev_t < b->ev_t || (a->ev_t == b->ev_t && a->ev_seq < b->ev_seq);
}

static void heap_place(struct vt_run *r, int i, struct vt_thread *th)
{
    r->heap[i] = th;
    th->heap_pos = i;
}

static void sift_up(struct vt_run *r, int i)
{
    struct vt_thread *th = r->heap[i];
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!ev_before(th, r->heap[p])) break;
        heap_place(r, i, r->heap[p]);
        i = p;
    }
    heap_place(r, i, th);
}

static void sift_down(struct vt_run *r, int i)
{
    struct vt_thread *th = r->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= r->heap_len) break;
        if (c + 1 < r->heap_len && ev_before(r->heap[c + 1], r->heap[c])) c++;
        if (!ev_before(r->heap[c], th)) break;
        heap_place(r, i, r->heap[c]);
        i = c;
    }
    heap_place(r, i, th);
}

static void ev_cancel(struct vt_run *r, struct vt_thread *th)
{
    if (th->heap_pos < 0) return;
    int i = th->heap_pos;
    if (th->st) r->thread_events--;
    th->heap_pos = -1;
    th->ev = VT_EV_NONE;
    struct vt_thread *last = r->heap[--r->heap_len];
    if (i == r->heap_len) return;
    heap_place(r, i, last);
    sift_down(r, i);
    sift_up(r, last->heap_pos);
}

/* th's one pending event becomes `ev` at t (replacing any). */
static void ev_set(struct vt_run *r, struct vt_thread *th, enum vt_event ev, int64_t t)
{
    ev_cancel(r, th);
    th->ev = ev;
    th->ev_t = t;
    th->ev_seq = r->seq++;
    if (th->st) r->thread_events++;
    heap_place(r, r->heap_len++, th);
    sift_up(r, th->heap_pos);
}

static struct vt_thread *ev_pop(struct vt_run *r)
{
    if (r->heap_len == 0) return NULL;
    struct vt_thread *th = r->heap[0];
    enum vt_event ev = th->ev;
    ev_cancel(r, th);
    th->ev = ev; /* for the dispatcher */
    return th;
}

/* ---- cores --------------------------------------------------------------------------------- */

static void idle_unlink(struct vt_run *r, int c)
{
    struct vt_core *k = &r->cores[c];
    if (k->idle_prev >= 0)
        r->cores[k->idle_prev].idle_next = k->idle_next;
    else
        r->idle_head = k->idle_next;
    if (k->idle_next >= 0) r->cores[k->idle_next].idle_prev = k->idle_prev;
    k->idle = false;
}

static void idle_push(struct vt_run *r, int c)
{
    struct vt_core *k = &r->cores[c];
    k->idle = true;
    k->idle_since = r->now;
    k->idle_prev = -1;
    k->idle_next = r->idle_head;
    if (r->idle_head >= 0) r->cores[r->idle_head].idle_prev = c;
    r->idle_head = c;
}

/* th's work on core c begins at start_at; it is resumed when the work is done. */
static void core_assign(struct vt_run *r, int c, struct vt_thread *th, int64_t start_at)
{
    r->cores[c].cur = th;
    r->cores[c].since = r->now;
    th->where = VT_ONCORE;
    th->core = c;
    th->start_at = start_at;
    ev_set(r, th, VT_EV_RESUME, start_at + th->work_left);
}

static void arm_tick(struct vt_run *r)
{
    if (r->tick->heap_pos >= 0) return;
    int64_t p = r->m.sched_tick_ns;
    ev_set(r, r->tick, VT_EV_TICK, (r->now / p + 1) * p);
}

/* Core c has nobody now: the ready queue's head, or idle. */
static void core_free(struct vt_run *r, int c)
{
    r->cores[c].cur = NULL;
    struct vt_thread *next = vq_pop(&r->ready);
    if (next)
        core_assign(r, c, next, r->now + r->m.ctx_switch_ns);
    else
        idle_push(r, c);
}

/* th, on a core, stops there; its work so far is counted. */
static void take_off_core(struct vt_run *r, struct vt_thread *th)
{
    if (r->now > th->start_at) {
        int64_t d = r->now - th->start_at;
        if (d > th->work_left) d = th->work_left;
        th->work_left -= d;
        th->work_done += d;
        th->start_at = r->now;
    }
    ev_cancel(r, th);
}

/* The thread on core c goes back to the ready queue. */
static void preempt(struct vt_run *r, int c)
{
    struct vt_thread *victim = r->cores[c].cur;
    take_off_core(r, victim);
    victim->where = VT_READY;
    vq_push(&r->ready, victim);
    r->cores[c].cur = NULL;
}

/* A wake-up onto a core idle for idle_ns: its latency, and in *cost what it costs the waker.
 * A machine with measured distributions draws both from them, at one quantile of the run's
 * machine stream; otherwise the latency is the curve's (or the two levels') with +-wake_jitter
 * and the cost its mean, drawing exactly as before distributions existed (old machine files
 * give the same runs). */
static int64_t wake_draw(struct vt_run *r, int64_t idle_ns, int64_t *cost)
{
    const struct mach_model *m = &r->m;
    if (m->dist.npoints) {
        int64_t lat;
        mach_wake_draw(m, idle_ns, rng_unit(r->rng), &lat, cost);
        return lat;
    }
    *cost = mach_wake_cost(m, idle_ns);
    double lat = (double)mach_wake_latency(m, idle_ns);
    if (m->wake_jitter > 0) lat *= 1.0 + m->wake_jitter * (2.0 * rng_unit(r->rng) - 1.0);
    return (int64_t)llround(lat);
}

/* Whether a wake-up onto core c preempts what runs there: it has run long enough (CFS's
 * wake-up granularity; 0 on EEVDF). */
static bool wakeup_may_preempt(const struct vt_run *r, int c)
{
    return r->now - r->cores[c].since >= r->m.wakeup_preempt_ns;
}

/* No idle core for th: take the core it last ran on (or the waker's) if its thread has run
 * long enough, as CFS's wake-up preemption does; true when th got a core or will. */
static bool wakeup_preempt(struct vt_run *r, struct vt_thread *th)
{
    int c = th->core >= 0 ? th->core : r->current && r->current->st ? r->current->core : -1;
    if (c < 0 || !r->cores[c].cur) return false;
    struct vt_thread *victim = r->cores[c].cur;
    if (!wakeup_may_preempt(r, c)) return false;
    if (victim == r->current) {
        /* The waker itself: it gives the core up when it next spends time. */
        if (victim->preempt_pending) return false;
        victim->preempt_pending = true;
        th->where = VT_READY;
        vq_push_front(&r->ready, th); /* first in line */
        return true;
    }
    preempt(r, c);
    core_assign(r, c, th, r->now + r->m.ctx_switch_ns);
    return true;
}

/* th (not on a core) becomes runnable now. Returns what waking it costs the waker: more when
 * its core has halted. */
static int64_t make_runnable(struct vt_run *r, struct vt_thread *th)
{
    th->work_left = 0;
    if (!th->st) { /* the main thread needs no core of the workload's */
        th->where = VT_ONCORE;
        ev_set(r, th, VT_EV_RESUME, r->now);
        return r->m.futex_wake_ns;
    }
    int c = th->core >= 0 && r->cores[th->core].idle ? th->core : r->idle_head;
    if (c >= 0) {
        int64_t idle = r->now - r->cores[c].idle_since, cost;
        idle_unlink(r, c);
        core_assign(r, c, th, r->now + wake_draw(r, idle, &cost));
        return cost;
    }
    if (!wakeup_preempt(r, th)) {
        th->where = VT_READY;
        vq_push(&r->ready, th);
        arm_tick(r);
    }
    return r->m.futex_wake_ns;
}

/* The scheduler tick: threads that have had their slice give their core to waiting ones. */
static void on_tick(struct vt_run *r)
{
    for (unsigned c = 0; c < r->m.cores && r->ready.head; c++) {
        struct vt_core *k = &r->cores[c];
        if (!k->cur || r->now - k->since < r->m.sched_slice_ns) continue;
        if (k->cur->work_left <= 0 || k->cur->start_at + k->cur->work_left <= r->now) continue;
        preempt(r, (int)c);
        struct vt_thread *next = vq_pop(&r->ready);
        core_assign(r, (int)c, next, r->now + r->m.ctx_switch_ns);
    }
    if (r->ready.head) arm_tick(r);
}

/* ---- what simulated threads call (vt.h) ----------------------------------------------------- */

struct vt_thread *vt_self(struct vt_run *r)
{
    return r->current ? r->current : r->main;
}

void vt_note_still(struct vt_run *r)
{
    if (++r->still_steps < STILL_LIMIT) return;
    r->stalled = true;
    if (!r->current) return;
    /* A thread that goes round without ever spending time: park it for good. */
    for (;;)
        coro_yield();
}

static void list_cuttable(struct vt_run *r, struct vt_thread *th, bool on)
{
    if (on == th->cuttable) return;
    th->cuttable = on;
    if (on) {
        th->cprev = NULL;
        th->cnext = r->cuttable;
        if (r->cuttable) r->cuttable->cprev = th;
        r->cuttable = th;
        return;
    }
    if (th->cprev)
        th->cprev->cnext = th->cnext;
    else
        r->cuttable = th->cnext;
    if (th->cnext) th->cnext->cprev = th->cprev;
}

/* The running thread works ns on its core (the main thread just lets the time pass). */
static void work(struct vt_run *r, int64_t ns, unsigned cut_on, int64_t grain)
{
    struct vt_thread *self = r->current;
    self->work_left = ns;
    self->work_total = ns;
    self->work_done = 0;
    self->was_cut = false;
    self->cut_on = cut_on;
    self->grain = grain;
    self->start_at = r->now;
    /* Nothing else happens before the work is done: yielding would only have the scheduler
     * resume this thread next, at the same time and in the same order, so skip the round
     * trip. The same run, several times faster where one thread does many short things. */
    if (!self->preempt_pending && (r->heap_len == 0 || r->heap[0]->ev_t > r->now + ns)) {
        r->now += ns;
        r->still_steps = 0;
        r->steps++;
        self->work_left = 0;
        return;
    }
    if (self->preempt_pending && r->ready.head) { /* a woken thread has its turn first */
        self->preempt_pending = false;
        int c = self->core;
        self->where = VT_READY;
        vq_push(&r->ready, self);
        core_free(r, c);
        arm_tick(r);
    } else {
        self->preempt_pending = false;
        ev_set(r, self, VT_EV_RESUME, r->now + ns);
    }
    if (cut_on) list_cuttable(r, self, true);
    coro_yield();
    list_cuttable(r, self, false);
}

void vt_spend(struct vt_run *r, int64_t ns)
{
    if (!r->current || ns <= 0) {
        vt_note_still(r);
        return;
    }
    work(r, ns, 0, 0);
}

void vt_block(struct vt_run *r)
{
    struct vt_thread *self = r->current;
    if (self->st) {
        int c = self->core;
        self->preempt_pending = false;
        self->where = VT_BLOCKED;
        core_free(r, c);
    } else {
        self->where = VT_BLOCKED;
    }
    coro_yield();
}

int64_t vt_wake(struct vt_run *r, struct vt_thread *th)
{
    if (th->where != VT_BLOCKED) return 0;
    if (th->wq) vq_remove(th->wq, th);
    ev_cancel(r, th);
    return make_runnable(r, th);
}

void vt_set_timer(struct vt_run *r, struct vt_thread *th, int64_t t)
{
    ev_set(r, th, VT_EV_TIMER, t);
}

/* A pending bit rose: busy work it concerns ends at the first tick boundary after now (a
 * request exactly at a boundary is seen at the next one: the check there has begun). */
static void cut(struct vt_run *r, struct vt_thread *th)
{
    int64_t done = th->work_done;
    if (th->where == VT_ONCORE && r->now > th->start_at) done += r->now - th->start_at;
    int64_t target = (done / th->grain + 1) * th->grain;
    if (target >= th->work_total) return;
    int64_t remaining = target - done;
    th->work_total = target;
    th->was_cut = true;
    if (th->where == VT_ONCORE) {
        int64_t begin = r->now > th->start_at ? r->now : th->start_at;
        th->work_left = (begin - th->start_at) + remaining;
        ev_set(r, th, VT_EV_RESUME, begin + remaining);
    } else {
        th->work_left = remaining;
    }
}

/* ---- the backend ---------------------------------------------------------------------------- */

static struct vt_run *run_of(const struct sim_thread *t)
{
    return t->eng->backend_state;
}

static uint64_t vt_ticks(struct sim_thread *t, uint64_t n)
{
    struct vt_run *r = run_of(t);
    int64_t tick = (int64_t)t->eng->o->wl->tick_ns;
    /* As the real loop: a tick is done before the pending word is looked at. */
    if (atomic_load_explicit(&t->gil->pending, memory_order_relaxed)) n = 1;
    int64_t ns = n > (uint64_t)(INT64_MAX / 4 / tick) ? INT64_MAX / 4 : (int64_t)n * tick;
    work(r, ns, PENDING_DROP | PENDING_STOP, tick);
    return r->current->was_cut ? (uint64_t)(r->current->work_total / tick) : n;
}

static int vt_busy(struct sim_thread *t, int64_t ns, bool stoppable)
{
    struct vt_run *r = run_of(t);
    if (stoppable && eng_stopping(t->eng)) return RUN_STOP;
    work(r, ns < 1 ? 1 : ns, stoppable ? PENDING_STOP : 0, (int64_t)t->eng->o->wl->tick_ns);
    return stoppable && eng_stopping(t->eng) ? RUN_STOP : RUN_ON;
}

static int vt_block_until(struct sim_thread *t, int64_t until)
{
    struct vt_run *r = run_of(t);
    struct vt_thread *self = r->current;
    if (eng_stopping(t->eng)) return RUN_STOP;
    if (until <= r->now) return RUN_ON;
    self->planned = true;
    self->stopped_wait = false;
    vt_set_timer(r, self, until + r->m.timer_slack_ns);
    vt_block(r);
    self->planned = false;
    return self->stopped_wait ? RUN_STOP : RUN_ON;
}

static void vt_pending_raised(struct eng *eng)
{
    struct vt_run *r = eng->backend_state;
    uint32_t pending = atomic_load_explicit(&eng->gil.pending, memory_order_relaxed);
    for (struct vt_thread *th = r->cuttable; th; th = th->cnext)
        if (th->cut_on & pending) cut(r, th);
    if (!(pending & PENDING_STOP)) return;
    /* The stop pipe: every planned wait ends now. */
    for (unsigned i = 0; i < r->n; i++) {
        struct vt_thread *th = &r->threads[i];
        if (th->where == VT_BLOCKED && th->planned) {
            th->stopped_wait = true;
            vt_wake(r, th);
        }
    }
}

/* The peer (io with "peer", send): not a simulated thread but a modelled process that answers
 * each request. Where the kernel wakes it decides how long the send keeps the sender away from
 * the GIL, and so who wins the race for it (docs/validation.md, the regime question):
 * peer_local (Linux's wake-affine choice, seen in the scheduler trace): the peer is queued on
 * the sender's core, which needs no interrupt. When wake-ups preempt (the sender has run
 * wakeup_preempt_us on its core; 0 on EEVDF) the peer runs at once: the send lasts the call,
 * a switch to the peer, the peer's recv (and its answer, when it answers at once) and a switch
 * back. Otherwise the send costs syscall_us alone and the peer runs a context switch after it,
 * when the sender blocks (in recv, or waiting for the GIL). Without peer_local the peer is on a
 * core of its own: the send also pays a futex wake (warm or cold by how long the peer slept)
 * and the peer runs a wake-up latency later. Either way the peer waits its latency as a timer
 * does (with the timer slack) and answers: the answer wakes the thread blocked in recv onto a
 * core as any wake-up does. A peer that works (peer_works) spends its latency on a core of its
 * own instead: no timer, so no slack. The peer takes no simulated core and no CPU time beyond
 * that. */
static int vt_peer_send(struct sim_thread *t, int64_t ns, bool works)
{
    struct vt_run *r = run_of(t);
    struct vt_thread *self = r->current;
    if (eng_stopping(t->eng)) return RUN_STOP;
    int64_t cost = r->m.syscall_ns, start;
    int core = r->current->core;
    if (r->m.peer_local && core >= 0 && wakeup_may_preempt(r, core)) {
        /* the peer's recv, and its answer when there is one at once, inside the send */
        int64_t peer = r->m.syscall_ns * (ns == 0 ? 2 : 1);
        cost += 2 * r->m.ctx_switch_ns + peer;
        start = -r->m.ctx_switch_ns; /* it read the request before the switch back */
    } else if (r->m.peer_local) {
        start = r->m.ctx_switch_ns;
    } else {
        /* the peer's idleness, as its core's: long, before its first request */
        int64_t idle = self->peer_last == INT64_MIN ? INT64_MAX / 2 : r->now - self->peer_last,
                waker;
        start = wake_draw(r, idle, &waker);
        cost += waker;
    }
    vt_spend(r, cost);
    if (ns == PEER_NO_ANSWER) return eng_stopping(t->eng) ? RUN_STOP : RUN_ON;
    int64_t at = r->now + start;
    if (ns > 0) at += ns + (works ? 0 : r->m.timer_slack_ns);
    self->peer_answer_at = self->peer_last = at;
    return eng_stopping(t->eng) ? RUN_STOP : RUN_ON;
}

static int vt_peer_recv(struct sim_thread *t, int64_t until)
{
    (void)until;
    struct vt_run *r = run_of(t);
    struct vt_thread *self = r->current;
    int64_t at = self->peer_answer_at;
    self->peer_answer_at = INT64_MIN;
    if (eng_stopping(t->eng)) return RUN_STOP;
    if (at == INT64_MIN || at <= r->now) { /* the answer is there: a short syscall */
        vt_spend(r, r->m.syscall_ns);
        return eng_stopping(t->eng) ? RUN_STOP : RUN_ON;
    }
    self->planned = true;
    self->stopped_wait = false;
    vt_set_timer(r, self, at);
    vt_block(r);
    self->planned = false;
    return self->stopped_wait ? RUN_STOP : RUN_ON;
}

/* ---- the run --------------------------------------------------------------------------------- */

static void thread_entry(void *arg)
{
    struct vt_thread *th = arg;
    interp_thread_body(th->st);
    atomic_store_explicit(&th->st->exited, true, memory_order_relaxed);
    struct vt_run *r = th->run;
    r->live--;
    th->where = VT_DONE;
    core_free(r, th->core);
    coro_exit();
}

static void main_entry(void *arg)
{
    struct vt_thread *th = arg;
    eng_stop_run(th->run->eng);
    th->where = VT_DONE;
    coro_exit();
}

static int vt_open(struct eng *eng, struct err *e)
{
    unsigned n = eng->nthreads;
    struct vt_run *r = calloc(1, sizeof *r);
    if (!r) return err_set(e, ERR_RUNTIME, "out of memory");
    mach_model_of(eng->o->machine, &r->m);
    r->eng = eng;
    r->n = n;
    r->live = n;
    r->idle_head = -1;
    r->threads = calloc(n + 3, sizeof *r->threads);
    r->heap = calloc(n + 3, sizeof *r->heap);
    r->cores = calloc(r->m.cores, sizeof *r->cores);
    eng->backend_state = r;
    if (!r->threads || !r->heap || !r->cores)
        return err_set(e, ERR_RUNTIME, "out of memory for %u simulated threads", n);
    for (unsigned i = 0; i < n + 3; i++) {
        struct vt_thread *th = &r->threads[i];
        th->run = r;
        th->id = (int)i;
        th->core = -1;
        th->heap_pos = -1;
        th->peer_answer_at = th->peer_last = INT64_MIN;
    }
    r->main = &r->threads[n];
    r->tick = &r->threads[n + 1];
    r->deadline = &r->threads[n + 2];
    rng_seed(r->rng, eng->o->seed, -2);
    for (unsigned c = 0; c < r->m.cores; c++)
        idle_push(r, (int)(r->m.cores - 1 - c)); /* core 0 first in line */
    vsync_install(r);
    return 0;
}

static void vt_end(struct eng *eng)
{
    struct vt_run *r = eng->backend_state;
    if (!r) return;
    if (sync_redirect_get() == &r->redirect) vsync_install(NULL);
    coro_set_free(r->coros);
    free(r->threads);
    free(r->heap);
    free(r->cores);
    free(r);
    eng->backend_state = NULL;
}

static int create_coroutines(struct vt_run *r, struct eng_result *res, struct err *e)
{
    if (coro_set_new(&r->coros, r->n + 1, coro_default_stack()) != 0)
        return err_set(e, ERR_RUNTIME, "cannot map the stacks of %u simulated threads", r->n + 1);
    for (unsigned i = 0; i <= r->n; i++) {
        struct vt_thread *th = &r->threads[i];
        if (i < r->n) {
            th->st = &r->eng->threads[i];
            th->st->be_thread = th;
        }
        if (coro_set_start(r->coros, i, i < r->n ? thread_entry : main_entry, th, &th->co) != 0)
            return err_set(e, ERR_RUNTIME, "cannot create simulated thread %u of %u (%s)", i + 1,
                           r->n, i < r->n ? res->threads[i].name : "main");
    }
    return 0;
}

/* The stop, at the deadline, a signal or a stall: the main thread runs the stop path. */
static void begin_stop(struct vt_run *r, struct eng_result *res, const char *reason)
{
    res->stop_reason = reason;
    res->stop_ns = r->now;
    ev_cancel(r, r->deadline);
    make_runnable(r, r->main);
}

static void run_coroutine(struct vt_run *r, struct vt_thread *th)
{
    r->current = th;
    coro_resume(th->co);
    r->current = NULL;
}

static void dispatch(struct vt_run *r, struct vt_thread *th, struct eng_result *res)
{
    switch (th->ev) {
    case VT_EV_DEADLINE:
        begin_stop(r, res, "deadline");
        break;
    case VT_EV_TICK:
        on_tick(r);
        break;
    case VT_EV_TIMER:
        th->signalled = false;
        vt_wake(r, th);
        break;
    case VT_EV_RESUME:
        th->work_left = 0;
        run_coroutine(r, th);
        break;
    case VT_EV_NONE:
        break;
    }
}

/* After each event, before the stop: a reason to stop other than the deadline. */
static const char *stop_reason(struct vt_run *r, struct eng_result *res)
{
    struct eng *eng = r->eng;
    if (atomic_load_explicit(&eng->ext_requested, memory_order_relaxed)) {
        pthread_mutex_lock(&eng->mutex);
        const char *reason = eng->ext_reason;
        pthread_mutex_unlock(&eng->mutex);
        res->interrupted = true;
        return reason;
    }
    if (r->live == 0) return "finished";
    if (r->stalled) {
        res->interrupted = true;
        res->report = eng_stall_report(eng, res, r->now, -1,
                                       "virtual time stopped advancing: a thread went round "
                                       "without blocking or spending time");
        return "stalled";
    }
    if (r->thread_events == 0 && !r->ready.head) {
        res->interrupted = true;
        res->report = eng_stall_report(eng, res, r->now, -1,
                                       "every thread waits and nothing is scheduled to wake any "
                                       "(a deadlock)");
        return "stalled";
    }
    return NULL;
}

static void simulate(struct vt_run *r, struct eng_result *res)
{
    for (unsigned i = 0; i < r->n; i++)
        make_runnable(r, &r->threads[i]);
    ev_set(r, r->deadline, VT_EV_DEADLINE, res->duration_ns);
    struct vt_thread *th;
    bool stopping = false;
    while ((th = ev_pop(r))) {
        if (th->ev_t > r->now) {
            r->now = th->ev_t;
            r->still_steps = 0;
        } else {
            vt_note_still(r);
        }
        r->steps++;
        dispatch(r, th, res);
        if (stopping || (stopping = eng_stopping(r->eng))) continue;
        const char *reason = stop_reason(r, res);
        if (reason) {
            begin_stop(r, res, reason);
            stopping = true;
        }
    }
}

static int vt_run_threads(struct eng *eng, struct eng_result *res, struct err *e)
{
    struct vt_run *r = eng->backend_state;
    int rc = create_coroutines(r, res, e);
    if (rc) return rc;
    eng_ctl_attach(eng->o->ctl, eng);
    eng->t0 = 0;
    res->setup_ns = 0;
    utc_stamp(res->start_utc, sizeof res->start_utc, UTC_EXTENDED, 6);
    simulate(r, res);
    eng_ctl_attach(eng->o->ctl, NULL);
    res->elapsed_ns = r->now;
    res->virt_events = r->steps;
    if (r->live) {
        res->abandoned = r->live;
        eng_report_abandoned(eng, res, r->n, "never stopped (they wait for ever)");
    }
    return 0;
}

/* A tick takes tick_ns exactly, and nothing real runs that a watchdog would need to see. */
static void vt_set_tick(struct eng *eng)
{
    eng->ns_per_tick = eng->o->wl->tick_ns;
    eng->chunk_ticks = UINT64_MAX;
}

static void vt_describe(const struct eng_options *o, json_t *run)
{
    json_object_set_new(run, "machine", mach_to_json(o->machine));
    /* no busy loop to calibrate: a tick takes tick_ns exactly */
    json_object_del(json_object_get(run, "calibration"), "iters_per_tick");
}

const struct eng_backend eng_virtual_backend = {
    .name = "virtual",
    .threads_outlive_run = false, /* coroutines: nothing runs once the loop ends */
    .set_tick = vt_set_tick,
    .open = vt_open,
    .close = vt_end,
    .run = vt_run_threads,
    .describe = vt_describe,
    .ticks = vt_ticks,
    .busy = vt_busy,
    .block_until = vt_block_until,
    .pending_raised = vt_pending_raised,
    .peer_send = vt_peer_send,
    .peer_recv = vt_peer_recv,
};
