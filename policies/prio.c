/* policies/prio.c - David Beazley's priority GIL for bpo-7946: CPython's new GIL (as in new.c:
 * timed waits of interval_us, drop request on a timeout, forced switching) plus one priority
 * rule. A thread that is forced to drop the GIL (by a drop request) is marked CPU-bound; one
 * that gives it up on its own (io, sleep, native, arrival) is unmarked. An unmarked thread
 * that asks for the GIL while a CPU-bound thread holds it sets the drop request at once
 * instead of after an interval, so the holder drops at its next check point: an I/O thread no
 * longer waits out a switch interval after every I/O (the convoy effect).
 *
 * So that the GIL a preemption frees reaches the thread that asked for it, unmarked waiters
 * wait on their own condition, are signalled first, and marked waiters do not take a free GIL
 * while an unmarked one waits (otherwise, with two CPU-bound threads, the preempted holder's
 * signal could wake the other CPU-bound thread, and the I/O thread would have to preempt it
 * in turn). The marks live in per-thread state, read and written under the mutex only. */
#include "../sim/policy.h"
#include "forced_switch.h"

struct prio_thread {
    bool cpu_bound; /* its last slice ended by a drop request */
};

struct prio_gil {
    struct sync_mutex mutex;
    struct sync_cond cond;      /* marked (CPU-bound) waiters */
    struct sync_cond prio_cond; /* unmarked waiters, signalled first */
    unsigned prio_waiting;      /* unmarked threads in prio_acquire */
    struct forced_switch fs;    /* as new.c: last holder, switch number, forced switching */
    bool locked;
    struct prio_thread *holder; /* the last thread to take the GIL; NULL before the first */
    int64_t interval_ns;
};

static int prio_init(struct gil *g, const struct gil_params *p)
{
    struct prio_gil *s = gil_state(g);
    forced_switch_setup(&s->fs, gil_param(p, "force_switching") != 0);
    s->interval_ns = (int64_t)gil_param(p, "interval_us") * 1000;
    if (s->interval_ns < 1000) s->interval_ns = 1000; /* as new.c (and CPython) */
    return 0;
}

/* With the mutex held and the GIL locked: the priority rule. Once per holder, since the drop
 * bit stays set until that holder drops or a new one takes the GIL. */
static void prio_preempt(struct gil *g, struct prio_gil *s, struct sim_thread *self,
                         const struct prio_thread *me)
{
    if (me->cpu_bound || !s->holder || !s->holder->cpu_bound || gil_drop_requested(g)) return;
    gil_request_drop(g);
    gil_record(self, TRACE_EV_DROP_REQUEST, s->fs.last_holder);
}

/* With the mutex held: a marked waiter leaves a free GIL to the unmarked ones. */
static bool prio_must_wait(const struct prio_gil *s, const struct prio_thread *me)
{
    return s->locked || (me->cpu_bound && s->prio_waiting > 0);
}

static bool prio_acquire(struct gil *g, struct sim_thread *self)
{
    struct prio_gil *s = gil_state(g);
    struct prio_thread *me = gil_thread_data(self);
    /* The mark cannot change while we wait: only our own release sets it. */
    struct sync_cond *cond = me->cpu_bound ? &s->cond : &s->prio_cond;
    sync_mutex_lock(&s->mutex);
    if (!me->cpu_bound) s->prio_waiting++;
    while (prio_must_wait(s, me) && !gil_stopping(g)) {
        /* Checked on every pass: a CPU-bound thread may take the GIL while we wait. */
        if (s->locked) prio_preempt(g, s, self, me);
        forced_switch_wait_interval(&s->fs, g, self, cond, &s->mutex, s->interval_ns, &s->locked);
    }
    if (!me->cpu_bound) s->prio_waiting--;
    /* At the end of the run, leave rather than take the GIL only to drop it again. */
    if (gil_stopping(g)) {
        sync_mutex_unlock(&s->mutex);
        return false;
    }
    s->locked = true;
    s->holder = me;
    forced_switch_taken(&s->fs, gil_thread_id(self));
    /* A request aimed at the previous holder is void now. */
    if (gil_drop_requested(g)) gil_clear_drop(g);
    sync_mutex_unlock(&s->mutex);
    return true;
}

static void prio_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    struct prio_gil *s = gil_state(g);
    struct prio_thread *me = gil_thread_data(self);
    sync_mutex_lock(&s->mutex);
    /* The mark says how the last slice ended: forced (CPU-bound) or given up to block. */
    if (why == GIL_REASON_DROP_REQUEST)
        me->cpu_bound = true;
    else if (gil_reason_blocks(why))
        me->cpu_bound = false;
    s->locked = false;
    sync_cond_signal(s->prio_waiting > 0 ? &s->prio_cond : &s->cond);
    sync_mutex_unlock(&s->mutex);

    forced_switch_after_drop(&s->fs, g, self); /* as new.c */
}

static void prio_stop(struct gil *g)
{
    struct prio_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    sync_cond_broadcast(&s->cond);
    sync_cond_broadcast(&s->prio_cond);
    sync_mutex_unlock(&s->mutex);
    forced_switch_stop(&s->fs);
}

static const struct gil_param prio_params[] = {
    {"interval_us", "us", 5000, 0, 1e9, true,
     "switch interval: how long a waiter lets the holder run before asking it to drop, unless "
     "the waiter has priority (sys.setswitchinterval)"},
    FORCED_SWITCH_PARAM,
    {NULL, NULL, 0, 0, 0, false, NULL},
};

const struct gil_policy gil_policy_prio = {
    .name = "prio",
    .summary = "Beazley's priority GIL (bpo-7946): new, but a thread back from I/O preempts a "
               "CPU-bound holder at once",
    .params = prio_params,
    .state_size = sizeof(struct prio_gil),
    .thread_size = sizeof(struct prio_thread),
    .init = prio_init,
    .acquire = prio_acquire,
    .release = prio_release,
    .stop = prio_stop,
};
