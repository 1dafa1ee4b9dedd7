/* policies/old.c - Python 2's GIL (CPython <= 3.1): a plain, unfair binary lock (mutex +
 * condition + `locked`), released and at once re-acquired by the holder every check_interval
 * ticks, signalling one waiter. On a multicore machine the releasing thread usually wins the
 * race back, so woken waiters find the lock taken again (failed wakeups). */
#include <stdatomic.h>

#include "../sim/policy.h"

/* Python 2.7 on Linux built its lock on a POSIX semaphore (USE_SEMAPHORES in
 * thread_pthread.h): sem_post is an atomic increment plus a futex wake when someone sleeps,
 * sem_wait an atomic decrement when the count is positive. The same here: `locked` is taken
 * with a compare-and-swap, and the mutex + condition only put waiters to sleep. A releasing
 * thread takes the lock straight back with one CAS while the waiter it woke is still waking. */
struct old_gil {
    _Atomic bool locked;
    _Atomic int holder;  /* tid, GIL_NO_THREAD when free: for the events only */
    _Atomic int waiters; /* threads asleep or about to sleep on cond */
    struct sync_mutex mutex;
    struct sync_cond cond;
    uint64_t check_interval;
};

static bool try_take(struct old_gil *s)
{
    bool expected = false;
    return atomic_compare_exchange_strong(&s->locked, &expected, true);
}

static int old_init(struct gil *g, const struct gil_params *p)
{
    struct old_gil *s = gil_state(g);
    atomic_init(&s->locked, false);
    atomic_init(&s->holder, GIL_NO_THREAD);
    atomic_init(&s->waiters, 0);
    s->check_interval = (uint64_t)gil_param(p, "check_interval");
    return 0;
}

static int old_thread_init(struct gil *g, struct sim_thread *t)
{
    struct old_gil *s = gil_state(g);
    gil_thread_set_tick_budget(t, s->check_interval);
    return 0;
}

static bool old_acquire(struct gil *g, struct sim_thread *self)
{
    struct old_gil *s = gil_state(g);
    bool got = try_take(s);
    if (!got) {
        sync_mutex_lock(&s->mutex);
        atomic_fetch_add(&s->waiters, 1);
        bool woken = false;
        while (!gil_stopping(g) && !(got = try_take(s))) {
            /* Woken by a release, but somebody (usually the releaser) took the lock first. */
            if (woken) gil_record(self, TRACE_EV_WAKEUP_FAILED, atomic_load(&s->holder));
            sync_cond_wait(&s->cond, &s->mutex);
            woken = true;
        }
        atomic_fetch_sub(&s->waiters, 1);
        sync_mutex_unlock(&s->mutex);
    }
    if (got) atomic_store(&s->holder, gil_thread_id(self));
    return got;
}

static void old_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    (void)self;
    (void)why;
    struct old_gil *s = gil_state(g);
    atomic_store(&s->holder, GIL_NO_THREAD);
    atomic_store(&s->locked, false);
    /* A waiter counts itself under the mutex before its last try, so it is either seen here or
     * sees the lock free: no lost wake-up. */
    if (atomic_load(&s->waiters) > 0) {
        sync_mutex_lock(&s->mutex);
        sync_cond_signal(&s->cond);
        sync_mutex_unlock(&s->mutex);
    }
}

static void old_stop(struct gil *g)
{
    struct old_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    sync_cond_broadcast(&s->cond);
    sync_mutex_unlock(&s->mutex);
}

static enum gil_reason old_check(struct gil *g, struct sim_thread *self, unsigned cause)
{
    (void)g;
    (void)self;
    /* Python 2 released at every "periodic thing" whether or not anyone waited. */
    return (cause & GIL_CHECK_TICKS) ? GIL_REASON_CHECK : GIL_REASON_NONE;
}

static const struct gil_param old_params[] = {
    {"check_interval", "ticks", 100, 1, 1e9, true,
     "release and re-acquire the lock every this many ticks (sys.setcheckinterval)"},
    {NULL, NULL, 0, 0, 0, false, NULL},
};

const struct gil_policy gil_policy_old = {
    .name = "old",
    .summary = "Python 2 tick-count GIL: unfair lock, release+reacquire every check_interval ticks",
    .params = old_params,
    .state_size = sizeof(struct old_gil),
    .init = old_init,
    .thread_init = old_thread_init,
    .acquire = old_acquire,
    .release = old_release,
    .check = old_check,
    .stop = old_stop,
};
