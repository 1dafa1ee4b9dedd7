/* sim/objects.c - see objects.h. Each object is written as the CPython 3.11 code it models
 * (Lib/threading.py, Lib/queue.py, Modules/_threadmodule.c): the names of the helpers follow
 * it (enter/leave: `with self._cond:`; cond_wait: Condition.wait; cond_notify: notify), so the
 * model can be read beside the source. The C lock (struct nlock) is the only thing that
 * blocks. */
#include <stdlib.h>
#include <string.h>

#include "objects.h"

#define FREE (-1) /* an nlock's holder when nobody holds it */

enum { GOT, TIMEDOUT, STOPPED }; /* how a blocking call ended */

enum { FILLING = 0, DRAINING = 1, BROKEN = -2 }; /* a barrier's state, as Barrier._state */

/* A C lock (PyThread_type_lock: a semaphore on Linux): no owner, no queue order; a woken
 * waiter tries again and may lose to a thread that came by meanwhile. */
struct nlock {
    struct sync_mutex m;
    struct sync_cond c;
    _Atomic int holder; /* tid or FREE; written under m, read anywhere (reports) */
    unsigned nwait;     /* threads waiting on c (under m) */
};

/* A workload thread's part: its waiter lock (Condition.wait), its state lock (join), its
 * place in a Condition's waiters, and what it is blocked on now (for the stall report). */
struct othread {
    struct nlock waiter;
    struct nlock tstate;
    struct othread *next; /* in a Condition's waiters */
    struct nlock *_Atomic blocked;
    _Atomic int blocked_obj, blocked_op;
};

/* threading.Condition: a lock and the FIFO of its waiters (guarded by holding the lock). */
struct pycond {
    struct nlock *lock;
    struct othread *head, *tail;
};

struct object {
    const struct wl_object *w;
    int index;
    struct nlock lock;      /* a lock: itself; the others: the Lock their Conditions share */
    struct pycond cond;     /* a condition; a semaphore's, event's or barrier's; not_empty */
    struct pycond not_full; /* a queue */
    /* semaphore: its value; event: its flag; queue: its items; barrier: threads in it.
     * Guarded by the object's lock; atomic for the stall report, which reads it anyway. */
    _Atomic int64_t value;
    _Atomic int state; /* a barrier's */
};

struct obj_world {
    struct object *objs;
    size_t n;
    struct othread *threads;
    unsigned nthreads;
    unsigned *first_tid; /* per thread group: its first thread (join) */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int64_t get(_Atomic int64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}
static void put(_Atomic int64_t *v, int64_t x)
{
    atomic_store_explicit(v, x, memory_order_relaxed);
}
static int holder_of(struct nlock *l)
{
    return atomic_load_explicit(&l->holder, memory_order_relaxed);
}
static void set_holder(struct nlock *l, int tid)
{
    atomic_store_explicit(&l->holder, tid, memory_order_relaxed);
}

static struct othread *me_of(struct sim_thread *t)
{
    return &t->eng->objects->threads[t->tid];
}

static void record(struct sim_thread *t, enum trace_ev ev, const struct object *o,
                   enum trace_obj_op op, int64_t arg)
{
    eng_record(t, ev, (enum trace_reason)trace_obj_pack((unsigned)o->index, op), arg);
}

/* The release reason of a thread that blocks on o: o's type. */
static enum gil_reason reason_of(const struct object *o)
{
    static const enum gil_reason r[] = {
        [WL_OBJ_LOCK] = GIL_REASON_LOCK,           [WL_OBJ_SEMAPHORE] = GIL_REASON_SEMAPHORE,
        [WL_OBJ_CONDITION] = GIL_REASON_CONDITION, [WL_OBJ_EVENT] = GIL_REASON_EVENT,
        [WL_OBJ_QUEUE] = GIL_REASON_QUEUE,         [WL_OBJ_BARRIER] = GIL_REASON_BARRIER,
        [WL_OBJ_THREADS] = GIL_REASON_JOIN,
    };
    return r[o->w->type];
}

/* The Python code of a call: interpreter ticks holding the GIL, check points included. */
static int python(struct sim_thread *t, const struct object *o, enum wl_cost k)
{
    int64_t ns = o->w->cost_ns[k];
    return ns > 0 ? interp_cpu(t, interp_ns_to_ticks(t->eng, ns)) : RUN_ON;
}

static int python_ns(struct sim_thread *t, int64_t ns)
{
    return ns > 0 ? interp_cpu(t, interp_ns_to_ticks(t->eng, ns)) : RUN_ON;
}

/* ---- the C lock ---------------------------------------------------------------------------- */

static bool nlock_try(struct nlock *l, int tid)
{
    sync_mutex_lock(&l->m);
    bool got = holder_of(l) == FREE;
    if (got) set_holder(l, tid);
    sync_mutex_unlock(&l->m);
    return got;
}

static void nlock_release(struct nlock *l)
{
    sync_mutex_lock(&l->m);
    set_holder(l, FREE);
    if (l->nwait) sync_cond_signal(&l->c);
    sync_mutex_unlock(&l->m);
}

/* The wait itself, the GIL given up: until l is free and taken, the deadline or the stop. */
static int nlock_wait(struct sim_thread *t, struct nlock *l, int64_t deadline)
{
    struct eng *eng = t->eng;
    bool timed_out = false;
    sync_mutex_lock(&l->m);
    while (holder_of(l) != FREE && !eng_stopping(eng) && !timed_out) {
        l->nwait++;
        if (deadline == INT64_MAX)
            sync_cond_wait(&l->c, &l->m);
        else
            timed_out = sync_cond_wait_until(&l->c, &l->m, deadline);
        l->nwait--;
    }
    int rc = eng_stopping(eng) ? STOPPED : holder_of(l) == FREE ? GOT : TIMEDOUT;
    if (rc == GOT) set_holder(l, t->tid);
    sync_mutex_unlock(&l->m);
    return rc;
}

/* A workload's lock (or a condition's), whose acquires and releases the trace shows; the
 * objects' own locks and the waiter and state locks are not shown. */
static bool traced_lock(const struct object *o, enum trace_obj_op op)
{
    return o->w->type == WL_OBJ_LOCK && op == TRACE_OBJ_OP_ACQUIRE;
}

/* A blocking acquire of l as CPython's acquire_timed does it once the try failed: the GIL
 * released, the wait (o and op name it in the trace: the workload's object and call), the GIL
 * asked for again. A timed wait is a planned one for the watchdog. */
static int nlock_block(struct sim_thread *t, struct nlock *l, int64_t timeout_ns,
                       const struct object *o, enum trace_obj_op op)
{
    struct eng *eng = t->eng;
    struct othread *me = me_of(t);
    interp_release_gil(t, reason_of(o));
    int64_t start = sync_now_ns();
    int64_t deadline = timeout_ns == WL_NO_TIMEOUT ? INT64_MAX : start + timeout_ns;
    record(t, TRACE_EV_OBJ_WAIT_BEGIN, o, op,
           timeout_ns == WL_NO_TIMEOUT ? TRACE_NO_ARG : timeout_ns);
    eng_set_state(t, TH_OBJECT, start - eng->t0);
    if (deadline != INT64_MAX)
        atomic_store_explicit(&t->idle_until, deadline, memory_order_relaxed);
    atomic_store_explicit(&me->blocked_obj, o->index, memory_order_relaxed);
    atomic_store_explicit(&me->blocked_op, (int)op, memory_order_relaxed);
    atomic_store_explicit(&me->blocked, l, memory_order_release);
    int rc = nlock_wait(t, l, deadline);
    atomic_store_explicit(&me->blocked, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->idle_until, 0, memory_order_relaxed);
    record(t, TRACE_EV_OBJ_WAIT_END, o, op, rc == TIMEDOUT ? 1 : TRACE_NO_ARG);
    /* a workload lock is the thread's from here on, while it waits for the GIL */
    if (rc == GOT && traced_lock(o, op))
        record(t, TRACE_EV_OBJ_ACQUIRE, o, TRACE_OBJ_OP_NONE, TRACE_NO_ARG);
    if (rc == STOPPED || interp_acquire_gil(t) == RUN_STOP) return STOPPED;
    return rc;
}

/* lock.acquire(True, timeout) from Python, holding the GIL: a try, then the blocking wait (a
 * timeout of 0 only tries). */
static int c_acquire(struct sim_thread *t, struct nlock *l, int64_t timeout_ns,
                     const struct object *o, enum trace_obj_op op)
{
    if (nlock_try(l, t->tid)) {
        if (traced_lock(o, op)) record(t, TRACE_EV_OBJ_ACQUIRE, o, TRACE_OBJ_OP_NONE, TRACE_NO_ARG);
        return GOT;
    }
    if (timeout_ns == 0) return TIMEDOUT;
    return nlock_block(t, l, timeout_ns, o, op);
}

/* ---- Condition ------------------------------------------------------------------------------ */

static void waiters_push(struct pycond *cv, struct othread *w)
{
    w->next = NULL;
    if (cv->tail)
        cv->tail->next = w;
    else
        cv->head = w;
    cv->tail = w;
}

static void waiters_remove(struct pycond *cv, struct othread *w)
{
    struct othread *prev = NULL;
    for (struct othread *x = cv->head; x; prev = x, x = x->next) {
        if (x != w) continue;
        if (prev)
            prev->next = x->next;
        else
            cv->head = x->next;
        if (cv->tail == x) cv->tail = prev;
        return;
    }
}

/* Condition.notify(n), by a thread holding cv->lock: releases the first n waiters' locks.
 * Returns how many. */
static unsigned cond_notify(struct pycond *cv, uint64_t n)
{
    unsigned k = 0;
    for (; cv->head && n > 0; n--, k++) {
        struct othread *w = cv->head;
        cv->head = w->next;
        if (!cv->head) cv->tail = NULL;
        nlock_release(&w->waiter);
    }
    return k;
}

/* Condition.wait(timeout) by a thread holding cv->lock: a new waiter lock, taken and queued;
 * cv's lock released; the waiter lock acquired again (the block: o and op say what for); cv's
 * lock taken back. `lk`: cv's lock when it is a workload's lock (its release and re-acquire are
 * traced on it), NULL when it is o's own. cost_ns: the Python code, half on each side. */
static int cond_wait(struct sim_thread *t, struct pycond *cv, int64_t timeout_ns, struct object *o,
                     enum trace_obj_op op, struct object *lk, int64_t cost_ns)
{
    struct othread *me = me_of(t);
    if (python_ns(t, cost_ns / 2) == RUN_STOP) return STOPPED;
    nlock_try(&me->waiter, t->tid);
    waiters_push(cv, me);
    if (lk) record(t, TRACE_EV_OBJ_RELEASE, lk, TRACE_OBJ_OP_NONE, TRACE_NO_ARG);
    nlock_release(cv->lock);
    int got = c_acquire(t, &me->waiter, timeout_ns, o, op);
    if (got == STOPPED) return STOPPED;
    int back = lk ? c_acquire(t, cv->lock, WL_NO_TIMEOUT, lk, TRACE_OBJ_OP_ACQUIRE)
                  : c_acquire(t, cv->lock, WL_NO_TIMEOUT, o, TRACE_OBJ_OP_MUTEX);
    if (back == STOPPED) return STOPPED;
    if (got != GOT) waiters_remove(cv, me);
    set_holder(&me->waiter, FREE); /* nobody waits on it: Python drops it */
    if (python_ns(t, cost_ns - cost_ns / 2) == RUN_STOP) return STOPPED;
    return got;
}

/* `with self._cond:` (the object's own Lock): entered as a C lock; a wait there is on the
 * object's mutex. */
static int enter(struct sim_thread *t, struct object *o)
{
    return c_acquire(t, &o->lock, WL_NO_TIMEOUT, o, TRACE_OBJ_OP_MUTEX);
}

static void leave(struct object *o)
{
    nlock_release(&o->lock);
}

/* The time left of a timeout that started at `end - timeout` (WL_NO_TIMEOUT: none). */
static int64_t left_of(int64_t timeout_ns, int64_t end)
{
    if (timeout_ns == WL_NO_TIMEOUT) return WL_NO_TIMEOUT;
    int64_t left = end - sync_now_ns();
    return left > 0 ? left : 0;
}

/* A wait loop's body: cond_wait on cv while `blocked` holds, until the timeout (Python's
 * `while ...: if remaining <= 0: break; cv.wait(remaining)`). Returns GOT when the predicate
 * no longer holds, TIMEDOUT or STOPPED. */
static int wait_while(struct sim_thread *t, struct object *o, struct pycond *cv,
                      enum trace_obj_op op, int64_t timeout_ns, bool (*blocked)(struct object *))
{
    int64_t end = timeout_ns == WL_NO_TIMEOUT ? 0 : sync_now_ns() + timeout_ns;
    while (blocked(o)) {
        int64_t left = left_of(timeout_ns, end);
        if (left == 0) return TIMEDOUT;
        if (cond_wait(t, cv, left, o, op, NULL, o->w->cost_ns[WL_COST_BLOCK]) == STOPPED)
            return STOPPED;
    }
    return GOT;
}

/* ---- the objects' calls ------------------------------------------------------------------- */

static struct object *obj(struct sim_thread *t, int index)
{
    return &t->eng->objects->objs[index];
}

/* Thread tid's name, <group>.<i>. */
static void name_of(const struct eng *eng, int tid, char *buf, size_t size)
{
    const struct obj_world *w = eng->objects;
    const struct wl_workload *wl = eng->o->wl;
    size_t g = 0;
    while (g + 1 < wl->ngroups && (unsigned)tid >= w->first_tid[g + 1])
        g++;
    snprintf(buf, size, "%s.%u", wl->groups[g].name, (unsigned)tid - w->first_tid[g]);
}

/* A misuse (Python raises RuntimeError): the run ends with an error naming who did what. */
static int misuse(struct sim_thread *t, const char *op, const struct object *o, const char *what)
{
    char msg[400], me[80];
    name_of(t->eng, t->tid, me, sizeof me);
    snprintf(msg, sizeof msg, "thread %s: %s on %s \"%s\": %s (Python raises RuntimeError)", me, op,
             wl_obj_type_name(o->w->type), o->w->name, what);
    eng_fail_run(t->eng, msg);
    return RUN_STOP;
}

/* The lock of a lock or a condition, and whether t holds it (else the run fails). */
static struct object *lock_of(struct sim_thread *t, struct object *o)
{
    return o->w->type == WL_OBJ_CONDITION ? obj(t, o->w->lock) : o;
}

static int not_held(struct sim_thread *t, const char *op, struct object *o)
{
    struct object *lk = lock_of(t, o);
    int h = holder_of(&lk->lock);
    char what[200], holder[80];
    if (h == FREE) {
        snprintf(what, sizeof what, "%s is not held", lk == o ? "it" : "its lock");
    } else {
        name_of(t->eng, h, holder, sizeof holder);
        snprintf(what, sizeof what, "%s is held by %s, not by this thread",
                 lk == o ? "it" : "its lock", holder);
    }
    return misuse(t, op, o, what);
}

static int sem_acquire(struct sim_thread *t, struct object *o, int64_t timeout_ns);
static int sem_release(struct sim_thread *t, struct object *o);

static bool sem_empty(struct object *o)
{
    return get(&o->value) == 0;
}

static int op_acquire(struct sim_thread *t, struct object *o, int64_t timeout_ns)
{
    if (o->w->type == WL_OBJ_SEMAPHORE) return sem_acquire(t, o, timeout_ns);
    struct object *lk = lock_of(t, o);
    int rc = c_acquire(t, &lk->lock, timeout_ns, lk, TRACE_OBJ_OP_ACQUIRE);
    return rc == STOPPED ? RUN_STOP : RUN_ON;
}

static int op_release(struct sim_thread *t, struct object *o)
{
    if (o->w->type == WL_OBJ_SEMAPHORE) return sem_release(t, o);
    struct object *lk = lock_of(t, o);
    if (holder_of(&lk->lock) != t->tid) return not_held(t, "release", o);
    /* recorded first: no other thread's acquire of it can carry an earlier time */
    record(t, TRACE_EV_OBJ_RELEASE, lk, TRACE_OBJ_OP_NONE, TRACE_NO_ARG);
    nlock_release(&lk->lock);
    return RUN_ON;
}

/* Semaphore.acquire: `with self._cond: while self._value == 0: ... wait; self._value -= 1`. */
static int sem_acquire(struct sim_thread *t, struct object *o, int64_t timeout_ns)
{
    if (enter(t, o) == STOPPED || python(t, o, WL_COST_ACQUIRE) == RUN_STOP) return RUN_STOP;
    int rc = wait_while(t, o, &o->cond, TRACE_OBJ_OP_ACQUIRE, timeout_ns, sem_empty);
    if (rc == STOPPED) return RUN_STOP;
    if (rc == GOT) {
        put(&o->value, get(&o->value) - 1);
        record(t, TRACE_EV_OBJ_ACQUIRE, o, TRACE_OBJ_OP_NONE, get(&o->value));
    }
    leave(o);
    return RUN_ON;
}

/* Semaphore.release: `with self._cond: self._value += 1; self._cond.notify()`. */
static int sem_release(struct sim_thread *t, struct object *o)
{
    if (enter(t, o) == STOPPED || python(t, o, WL_COST_RELEASE) == RUN_STOP) return RUN_STOP;
    put(&o->value, get(&o->value) + 1);
    cond_notify(&o->cond, 1);
    record(t, TRACE_EV_OBJ_RELEASE, o, TRACE_OBJ_OP_NONE, get(&o->value));
    leave(o);
    return RUN_ON;
}

/* A workload condition's wait and notify, by a thread that must hold its lock. */
static int op_cond(struct sim_thread *t, struct object *o, const struct wl_op *op)
{
    struct object *lk = obj(t, o->w->lock);
    bool wait = op->kind == WL_OP_WAIT;
    if (holder_of(&lk->lock) != t->tid) return not_held(t, wait ? "wait" : "notify", o);
    if (wait) {
        int rc = cond_wait(t, &o->cond, op->timeout_ns, o, TRACE_OBJ_OP_WAIT, lk,
                           o->w->cost_ns[WL_COST_WAIT]);
        return rc == STOPPED ? RUN_STOP : RUN_ON;
    }
    if (python(t, o, WL_COST_NOTIFY) == RUN_STOP) return RUN_STOP;
    record(t, TRACE_EV_OBJ_NOTIFY, o, TRACE_OBJ_OP_NONE, cond_notify(&o->cond, op->count));
    return RUN_ON;
}

static bool queue_full(struct object *o)
{
    return o->w->size > 0 && get(&o->value) >= o->w->size;
}

static bool queue_empty(struct object *o)
{
    return get(&o->value) == 0;
}

/* Queue.put / Queue.get: `with self.not_full:` (the mutex), wait while full (empty), the item
 * in (out), not_empty.notify() (not_full's). A timeout that runs out leaves the item. */
static int op_queue(struct sim_thread *t, struct object *o, const struct wl_op *op)
{
    bool is_put = op->kind == WL_OP_PUT;
    if (enter(t, o) == STOPPED) return RUN_STOP;
    if (python(t, o, is_put ? WL_COST_PUT : WL_COST_GET) == RUN_STOP) return RUN_STOP;
    int rc = wait_while(t, o, is_put ? &o->not_full : &o->cond,
                        is_put ? TRACE_OBJ_OP_PUT : TRACE_OBJ_OP_GET, op->timeout_ns,
                        is_put ? queue_full : queue_empty);
    if (rc == STOPPED) return RUN_STOP;
    if (rc == GOT) {
        put(&o->value, get(&o->value) + (is_put ? 1 : -1));
        record(t, is_put ? TRACE_EV_OBJ_PUT : TRACE_EV_OBJ_GET, o, TRACE_OBJ_OP_NONE,
               get(&o->value));
        cond_notify(is_put ? &o->cond : &o->not_full, 1);
    }
    leave(o);
    return RUN_ON;
}

static bool event_clear(struct object *o)
{
    return get(&o->value) == 0;
}

/* Event.set / clear / wait, each `with self._cond:`; set is notify_all, wait waits once. */
static int op_event(struct sim_thread *t, struct object *o, const struct wl_op *op)
{
    enum wl_cost cost = op->kind == WL_OP_SET     ? WL_COST_SET
                        : op->kind == WL_OP_CLEAR ? WL_COST_CLEAR
                                                  : WL_COST_WAIT;
    if (enter(t, o) == STOPPED || python(t, o, cost) == RUN_STOP) return RUN_STOP;
    if (op->kind == WL_OP_SET) {
        put(&o->value, 1);
        /* recorded as the flag is set, before the waiters' wake-ups (each a futex wake the
         * setter pays): a waiter's lag from the set holds them, as a program timing it does */
        record(t, TRACE_EV_OBJ_SET, o, TRACE_OBJ_OP_NONE, TRACE_NO_ARG);
        cond_notify(&o->cond, WL_FOREVER);
    } else if (op->kind == WL_OP_CLEAR) {
        put(&o->value, 0);
        record(t, TRACE_EV_OBJ_CLEAR, o, TRACE_OBJ_OP_NONE, TRACE_NO_ARG);
    } else if (event_clear(o) && cond_wait(t, &o->cond, op->timeout_ns, o, TRACE_OBJ_OP_WAIT, NULL,
                                           o->w->cost_ns[WL_COST_BLOCK]) == STOPPED) {
        return RUN_STOP;
    }
    leave(o);
    return RUN_ON;
}

static bool barrier_draining(struct object *o)
{
    return atomic_load_explicit(&o->state, memory_order_relaxed) == DRAINING;
}

static bool barrier_filling(struct object *o)
{
    return atomic_load_explicit(&o->state, memory_order_relaxed) == FILLING;
}

static void barrier_state(struct object *o, int s)
{
    atomic_store_explicit(&o->state, s, memory_order_relaxed);
}

/* Barrier.wait: _enter (wait while draining), count in, the last party releases the others,
 * the rest wait_for(state != filling, timeout) (running out breaks the barrier for good),
 * count out, _exit (the last one out refills it). A broken barrier lets everyone through. */
static int op_barrier(struct sim_thread *t, struct object *o, int64_t timeout_ns)
{
    if (enter(t, o) == STOPPED || python(t, o, WL_COST_WAIT) == RUN_STOP) return RUN_STOP;
    int rc = wait_while(t, o, &o->cond, TRACE_OBJ_OP_WAIT, WL_NO_TIMEOUT, barrier_draining);
    if (rc == STOPPED) return RUN_STOP;
    if (atomic_load_explicit(&o->state, memory_order_relaxed) == BROKEN) {
        leave(o);
        return RUN_ON;
    }
    int64_t index = get(&o->value);
    put(&o->value, index + 1);
    if (index + 1 == o->w->size) {
        barrier_state(o, DRAINING);
        record(t, TRACE_EV_OBJ_NOTIFY, o, TRACE_OBJ_OP_NONE, cond_notify(&o->cond, WL_FOREVER));
    } else {
        rc = wait_while(t, o, &o->cond, TRACE_OBJ_OP_WAIT, timeout_ns, barrier_filling);
        if (rc == STOPPED) return RUN_STOP;
        if (rc == TIMEDOUT) { /* _break */
            barrier_state(o, BROKEN);
            cond_notify(&o->cond, WL_FOREVER);
        }
    }
    put(&o->value, get(&o->value) - 1);
    if (get(&o->value) == 0 && barrier_draining(o)) {
        barrier_state(o, FILLING);
        cond_notify(&o->cond, WL_FOREVER);
    }
    leave(o);
    return RUN_ON;
}

/* Thread.join on every thread of the group in turn: its state lock acquired (it is released
 * when the thread ends) and released again. */
static int op_join(struct sim_thread *t, struct object *o, int64_t timeout_ns)
{
    struct obj_world *w = t->eng->objects;
    const struct wl_group *g = &t->eng->o->wl->groups[o->w->size];
    for (unsigned k = 0; k < g->count; k++) {
        if (python(t, o, WL_COST_JOIN) == RUN_STOP) return RUN_STOP;
        struct nlock *l = &w->threads[w->first_tid[o->w->size] + k].tstate;
        int rc = c_acquire(t, l, timeout_ns, o, TRACE_OBJ_OP_JOIN);
        if (rc == STOPPED) return RUN_STOP;
        if (rc == GOT) nlock_release(l);
    }
    return RUN_ON;
}

int obj_run_op(struct sim_thread *t, const struct wl_op *op)
{
    struct object *o = obj(t, op->obj);
    switch (op->kind) {
    case WL_OP_ACQUIRE:
        return op_acquire(t, o, op->timeout_ns);
    case WL_OP_RELEASE:
        return op_release(t, o);
    case WL_OP_PUT:
    case WL_OP_GET:
        return op_queue(t, o, op);
    case WL_OP_SET:
    case WL_OP_CLEAR:
        return op_event(t, o, op);
    case WL_OP_NOTIFY:
        return op_cond(t, o, op);
    case WL_OP_WAIT:
        if (o->w->type == WL_OBJ_CONDITION) return op_cond(t, o, op);
        if (o->w->type == WL_OBJ_BARRIER) return op_barrier(t, o, op->timeout_ns);
        return op_event(t, o, op);
    case WL_OP_JOIN:
        return op_join(t, o, op->timeout_ns);
    default:
        return RUN_ON;
    }
}

void obj_thread_exit(struct sim_thread *t)
{
    if (t->eng->objects) nlock_release(&me_of(t)->tstate);
}

/* ---- set-up and the stop ------------------------------------------------------------------ */

int obj_open(struct eng *eng, struct err *e)
{
    const struct wl_workload *wl = eng->o->wl;
    if (!wl->nobjects) return 0;
    struct obj_world *w = calloc(1, sizeof *w);
    if (!w) return err_set(e, ERR_RUNTIME, "out of memory for the workload's objects");
    eng->objects = w;
    w->objs = calloc(wl->nobjects, sizeof *w->objs);
    w->threads = calloc(eng->nthreads ? eng->nthreads : 1, sizeof *w->threads);
    w->first_tid = calloc(wl->ngroups, sizeof *w->first_tid);
    if (!w->objs || !w->threads || !w->first_tid)
        return err_set(e, ERR_RUNTIME, "out of memory for the workload's objects");
    w->n = wl->nobjects;
    w->nthreads = eng->nthreads;
    for (size_t g = 1; g < wl->ngroups; g++)
        w->first_tid[g] = w->first_tid[g - 1] + wl->groups[g - 1].count;
    for (size_t i = 0; i < w->n; i++) {
        struct object *o = &w->objs[i];
        o->w = &wl->objects[i];
        o->index = (int)i;
        set_holder(&o->lock, FREE);
        if (o->w->type == WL_OBJ_SEMAPHORE) put(&o->value, o->w->size);
        o->cond.lock = &o->lock;
        o->not_full.lock = &o->lock;
    }
    for (size_t i = 0; i < w->n; i++)
        if (w->objs[i].w->type == WL_OBJ_CONDITION)
            w->objs[i].cond.lock = &w->objs[w->objs[i].w->lock].lock;
    for (unsigned i = 0; i < w->nthreads; i++) {
        set_holder(&w->threads[i].waiter, FREE);
        set_holder(&w->threads[i].tstate, (int)i); /* held while the thread lives */
        atomic_init(&w->threads[i].blocked, NULL);
    }
    return 0;
}

void obj_close(struct eng *eng)
{
    struct obj_world *w = eng->objects;
    if (!w) return;
    free(w->objs);
    free(w->threads);
    free(w->first_tid);
    free(w);
    eng->objects = NULL;
}

static void wake_all(struct nlock *l)
{
    sync_mutex_lock(&l->m);
    sync_cond_broadcast(&l->c);
    sync_mutex_unlock(&l->m);
}

void obj_stop(struct eng *eng)
{
    struct obj_world *w = eng->objects;
    if (!w) return;
    for (size_t i = 0; i < w->n; i++)
        wake_all(&w->objs[i].lock);
    for (unsigned i = 0; i < w->nthreads; i++) {
        wake_all(&w->threads[i].waiter);
        wake_all(&w->threads[i].tstate);
    }
}

/* ---- the stall report ---------------------------------------------------------------------- */

/* What thread i is blocked on: its text ("lock mu held by b.0") and the thread whose action it
 * waits for (the holder of the lock, the thread to join), or -1 (nobody in particular). */
static int describe_wait(struct eng *eng, unsigned i, char *buf, size_t size)
{
    struct obj_world *w = eng->objects;
    struct othread *me = &w->threads[i];
    struct nlock *l = atomic_load_explicit(&me->blocked, memory_order_acquire);
    const struct object *o = &w->objs[atomic_load_explicit(&me->blocked_obj, memory_order_relaxed)];
    int op = atomic_load_explicit(&me->blocked_op, memory_order_relaxed);
    const char *type = wl_obj_type_name(o->w->type), *name = o->w->name;
    int h = l ? holder_of(l) : FREE;
    char who[80] = "nobody";
    if (h != FREE) name_of(eng, h, who, sizeof who);
    long long v =
        (long long)atomic_load_explicit(&((struct object *)o)->value, memory_order_relaxed);
    switch (op) {
    case TRACE_OBJ_OP_ACQUIRE:
        if (o->w->type == WL_OBJ_SEMAPHORE) {
            snprintf(buf, size, "semaphore %s (value %lld)", name, v);
            return -1;
        }
        snprintf(buf, size, "lock %s held by %s", name, who);
        return h;
    case TRACE_OBJ_OP_MUTEX:
        snprintf(buf, size, "the lock of %s %s held by %s", type, name, who);
        return h;
    case TRACE_OBJ_OP_JOIN:
        snprintf(buf, size, "the end of %s (join %s)", who, name);
        return h;
    case TRACE_OBJ_OP_GET:
        snprintf(buf, size, "an item in queue %s (%lld queued)", name, v);
        return -1;
    case TRACE_OBJ_OP_PUT:
        snprintf(buf, size, "room in queue %s (%lld of %lld queued)", name, v,
                 (long long)o->w->size);
        return -1;
    default:
        if (o->w->type == WL_OBJ_BARRIER)
            snprintf(buf, size, "barrier %s (%lld of %lld parties there)", name, v,
                     (long long)o->w->size);
        else if (o->w->type == WL_OBJ_EVENT)
            snprintf(buf, size, "event %s to be set", name);
        else
            snprintf(buf, size, "a notify of %s %s", type, name);
        return -1;
    }
}

static bool blocked(struct eng *eng, unsigned i)
{
    return atomic_load_explicit(&eng->objects->threads[i].blocked, memory_order_acquire) != NULL;
}

/* From thread s, who waits for whom: the chain in path (length returned); *cycle_at: where the
 * cycle starts in it, or -1 when the chain ends at a thread not blocked on an object. */
static unsigned follow(struct eng *eng, unsigned s, unsigned *path, int *cycle_at)
{
    unsigned n = 0;
    int next = (int)s;
    char text[200];
    *cycle_at = -1;
    while (next >= 0) {
        for (unsigned k = 0; k < n; k++)
            if (path[k] == (unsigned)next) {
                *cycle_at = (int)k;
                return n;
            }
        if (n == eng->nthreads) break; /* cannot happen: a longer chain repeats a thread */
        path[n++] = (unsigned)next;
        if (!blocked(eng, (unsigned)next)) break;
        next = describe_wait(eng, (unsigned)next, text, sizeof text);
    }
    return n;
}

/* One line: "a.0 waits for lock mu held by b.0, which waits for ..." over path[from..n). */
static void print_chain(struct eng *eng, const unsigned *path, unsigned from, unsigned n,
                        bool cycle, FILE *f)
{
    char text[200], name[80];
    name_of(eng, (int)path[from], name, sizeof name);
    fprintf(f, "%s%s", cycle ? "deadlock: " : "  ", name);
    for (unsigned k = from; k < n && k < from + 16; k++) {
        if (!blocked(eng, path[k])) {
            fprintf(f, ", which is not blocked on an object");
            break;
        }
        describe_wait(eng, path[k], text, sizeof text);
        fprintf(f, "%s waits for %s", k == from ? "" : ", which", text);
    }
    fputc('\n', f);
}

void obj_report(struct eng *eng, const struct eng_result *res, FILE *f)
{
    (void)res;
    struct obj_world *w = eng->objects;
    if (!w) return;
    unsigned *path = calloc(eng->nthreads, sizeof *path);
    if (!path) return;
    unsigned shown = 0;
    for (unsigned i = 0; i < eng->nthreads && shown < 20; i++) {
        if (!blocked(eng, i)) continue;
        int at;
        unsigned n = follow(eng, i, path, &at);
        /* a cycle is told once, from its lowest tid; a thread that leads into one, as a chain */
        bool in_cycle = at == 0, lowest = true;
        for (unsigned k = 0; in_cycle && k < n; k++)
            lowest = lowest && path[k] >= i;
        if (in_cycle && !lowest) continue;
        if (!shown++) fprintf(f, "  what the threads blocked on objects wait for:\n");
        print_chain(eng, path, 0, n, in_cycle, f);
    }
    free(path);
}
