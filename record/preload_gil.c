/* record/preload_gil.c - the GIL's own calls, interposed: what CPython 3.11's take_gil and
 * drop_gil (Python/ceval_gil.h) do to its mutex, switch mutex and conditions, read as GIL
 * events (docs/record.md, "How it works"):
 *
 *   take_gil:  lock(mutex) [timedwait(cond, mutex) ...] lock(switch_mutex) ... unlock(mutex)
 *   drop_gil:  lock(mutex) ... unlock(mutex) [lock(switch_mutex) wait(switch_cond) unlock]
 *
 * A thread's state (not holding, waiting, holding) tells which of the two a lock of the mutex
 * begins. request: before take_gil's lock of the mutex. acquire: when take_gil has the switch
 * mutex, which it takes only once the GIL is free, holding the mutex, just before it sets
 * `locked`. release: when drop_gil has the mutex, before it clears `locked`. Both are stamped
 * while the GIL's mutex is held, so the mutex orders them: one holder at a time in the trace,
 * as in the interpreter. Every other mutex and condition goes straight to libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "record/preload.h"

typedef int (*mutex_fn)(pthread_mutex_t *);

static int64_t holder_arg(void)
{
    int h = __atomic_load_n(&rp.holder, __ATOMIC_RELAXED);
    return h < 0 ? TRACE_NO_ARG : h;
}

void rp_release_close(struct rp_thread *s, int64_t now, bool ending)
{
    struct rec_thread *h = s->hdr;
    uint64_t at = h->release_at;
    struct rec_event *rel = rp_event_at(s, at);
    h->release_at = REC_NONE;
    if (!rel || rel->reason != TRACE_REASON_NONE) return; /* a blocking call gave the reason */
    if (ending) {
        rel->reason = TRACE_REASON_EXIT;
    } else if (h->drop_pending || h->count > at + 1) {
        /* dropped on request (events after the release: the forced switch's wait) */
        rel->reason = TRACE_REASON_DROP_REQUEST;
    } else {
        /* the GIL released around no call the library sees: C code working without it (or a
         * call not interposed): native work as long as the release lasted, and counted */
        rel->reason = TRACE_REASON_NATIVE;
        rp_count(REC_COUNTER_RELEASES_WITHOUT_CALL);
        rp_emit(s, h->release_t, TRACE_EV_NATIVE_BEGIN, now - h->release_t, TRACE_REASON_NONE,
                REC_CALL_NONE);
        rp_emit(s, now, TRACE_EV_NATIVE_END, TRACE_NO_ARG, TRACE_REASON_NONE, REC_CALL_NONE);
    }
}

/* drop_gil has the mutex: the holder releases. The reason comes later (preload_calls.c or
 * rp_release_close). */
static void on_release(struct rp_thread *s)
{
    struct rec_thread *h = s->hdr;
    int64_t t = rp_now();
    h->held_ns += t - h->acquire_t;
    h->release_t = t;
    h->drop_pending = (uint32_t)__atomic_load_n(&rp.drop_pending, __ATOMIC_RELAXED);
    h->calls = 0;
    h->span_at = REC_NONE;
    h->state = REC_ST_RELEASED;
    h->release_at =
        rp_emit(s, t, TRACE_EV_RELEASE, h->held_ns / REC_TICK_NS, TRACE_REASON_NONE, REC_CALL_NONE);
    __atomic_store_n(&rp.holder, -1, __ATOMIC_RELAXED);
}

static int lock_gil_mutex(mutex_fn real, pthread_mutex_t *m)
{
    struct rp_thread *s = rp_thread_register();
    if (!s) return real(m);
    struct rec_thread *h = s->hdr;
    if (h->state == REC_ST_HOLDING) {
        int rc = real(m);
        on_release(s);
        return rc;
    }
    if (h->state == REC_ST_WAITING || h->state == REC_ST_EXITED) {
        rp_count(REC_COUNTER_UNEXPECTED_GIL_CALLS);
        return real(m);
    }
    int64_t t = rp_now();
    if (h->state == REC_ST_RELEASED)
        rp_release_close(s, t, false);
    else
        rp_emit(s, t, TRACE_EV_THREAD_START, TRACE_NO_ARG, TRACE_REASON_NONE, REC_CALL_NONE);
    rp_emit(s, t, TRACE_EV_REQUEST, TRACE_NO_ARG, TRACE_REASON_NONE, REC_CALL_NONE);
    h->state = REC_ST_WAITING;
    return real(m);
}

/* take_gil has the switch mutex: the GIL is free and this thread takes it. (drop_gil's forced
 * switch also takes it, after the release: nothing to record then.) */
static int lock_switch_mutex(mutex_fn real, pthread_mutex_t *m)
{
    struct rp_thread *s = rp_thread_self();
    if (!s || s->hdr->state != REC_ST_WAITING) return real(m);
    int rc = real(m);
    struct rec_thread *h = s->hdr;
    int64_t t = rp_now();
    rp_emit(s, t, TRACE_EV_ACQUIRE, TRACE_NO_ARG, TRACE_REASON_NONE, REC_CALL_NONE);
    h->acquire_t = t;
    h->state = REC_ST_HOLDING;
    __atomic_store_n(&rp.holder, (int)h->index, __ATOMIC_RELAXED);
    __atomic_store_n(&rp.drop_pending, 0, __ATOMIC_RELAXED); /* take_gil resets the request */
    return rc;
}

RP_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    mutex_fn real = RP_REAL(mutex_fn, pthread_mutex_lock);
    struct rp_gil311 *g = rp_gil();
    if (g && m == &g->mutex) return lock_gil_mutex(real, m);
    if (g && m == &g->switch_mutex) return lock_switch_mutex(real, m);
    return real(m);
}

/* take_gil unlocks the mutex while still waiting only when it gives up: the interpreter is
 * finalizing and the thread exits without the GIL. */
RP_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    mutex_fn real = RP_REAL(mutex_fn, pthread_mutex_unlock);
    struct rp_gil311 *g = rp_gil();
    struct rp_thread *s;
    if (g && m == &g->mutex && (s = rp_thread_self()) && s->hdr->state == REC_ST_WAITING) {
        int64_t t = rp_now();
        rp_emit(s, t, TRACE_EV_THREAD_EXIT, rp_ticks(s, t), TRACE_REASON_NONE, REC_CALL_NONE);
        s->hdr->state = REC_ST_EXITED;
    }
    return real(m);
}

/* A waiter's timed wait of one switch interval. As take_gil: timed out with the GIL still held
 * by the holder it saw (no switch since) means it now sets the drop request. */
RP_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     const struct timespec *abstime)
{
    typedef int (*fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    fn real = RP_REAL(fn, pthread_cond_timedwait);
    struct rp_gil311 *g = rp_gil();
    struct rp_thread *s;
    if (!g || c != &g->cond || !(s = rp_thread_self()) || s->hdr->state != REC_ST_WAITING)
        return real(c, m, abstime);
    unsigned long before = __atomic_load_n(&g->switch_number, __ATOMIC_RELAXED);
    rp_note_interval(__atomic_load_n(&g->interval, __ATOMIC_RELAXED));
    int rc = real(c, m, abstime);
    int64_t t = rp_now();
    bool locked = __atomic_load_n(&g->locked, __ATOMIC_RELAXED) != 0;
    if (rc == ETIMEDOUT) {
        rp_emit(s, t, TRACE_EV_WAIT_TIMEOUT, holder_arg(), TRACE_REASON_NONE, REC_CALL_NONE);
        if (locked && __atomic_load_n(&g->switch_number, __ATOMIC_RELAXED) == before) {
            rp_emit(s, t, TRACE_EV_DROP_REQUEST, holder_arg(), TRACE_REASON_NONE, REC_CALL_NONE);
            __atomic_store_n(&rp.drop_pending, 1, __ATOMIC_RELAXED);
        }
    } else if (rc == 0 && locked) {
        rp_emit(s, t, TRACE_EV_WAKEUP_FAILED, holder_arg(), TRACE_REASON_NONE, REC_CALL_NONE);
    }
    return rc;
}

/* drop_gil's forced switch: after a release on request, wait until another thread has taken
 * the GIL. */
RP_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    typedef int (*fn)(pthread_cond_t *, pthread_mutex_t *);
    fn real = RP_REAL(fn, pthread_cond_wait);
    struct rp_gil311 *g = rp_gil();
    struct rp_thread *s;
    if (!g || c != &g->switch_cond || !(s = rp_thread_self()) || s->hdr->state != REC_ST_RELEASED)
        return real(c, m);
    rp_emit(s, rp_now(), TRACE_EV_FORCE_WAIT_BEGIN, TRACE_NO_ARG, TRACE_REASON_NONE, REC_CALL_NONE);
    int rc = real(c, m);
    rp_emit(s, rp_now(), TRACE_EV_FORCE_WAIT_END, TRACE_NO_ARG, TRACE_REASON_NONE, REC_CALL_NONE);
    return rc;
}

RP_EXPORT int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
    typedef int (*fn)(pthread_mutex_t *, const pthread_mutexattr_t *);
    int rc = RP_REAL(fn, pthread_mutex_init)(m, a);
    if (rc == 0) rp_note_mutex_init(m);
    return rc;
}

RP_EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    typedef int (*fn)(pthread_cond_t *, const pthread_condattr_t *);
    int rc = RP_REAL(fn, pthread_cond_init)(c, a);
    if (rc == 0) rp_note_cond_init(c);
    return rc;
}
