/* sim/sync.h - the sync/clock layer: mutexes, conditions with deadlines and the monotonic clock.
 *
 * Policies use these and nothing from pthreads or clock_gettime directly, so that the
 * virtual-time engine can run the same policy files (the rule is stated in policy.h). Times
 * are nanoseconds on CLOCK_MONOTONIC.
 *
 * A zeroed struct sync_mutex or sync_cond is ready to use and holds no resource: there is no
 * init and no destroy (tests/test_protocol.c checks that the C library agrees). Policy state
 * and per-thread records are allocated zeroed by the engine, so their locks need no set-up.
 *
 * By default each call is the pthreads one (or the vDSO clock). An engine backend that runs
 * simulated threads on an OS thread of its own installs a redirect on that OS thread
 * (sync_redirect_set): every call made there then goes to the backend's implementations,
 * which block and wake simulated threads and read simulated time. Each call tests one
 * thread-local pointer to choose; nothing here knows what the redirect does. */
#ifndef GILSIM_SYNC_H
#define GILSIM_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Room for a redirect's own lock and condition state: a zeroed one must be ready to use. */
#define SYNC_REDIRECT_WORDS 4

struct sync_mutex {
    union {
        pthread_mutex_t m;
        void *redirected[SYNC_REDIRECT_WORDS];
    };
};

struct sync_cond {
    union {
        pthread_cond_t c;
        void *redirected[SYNC_REDIRECT_WORDS];
    };
};

/* The implementations a redirect provides; ctx is passed back to each. */
struct sync_redirect {
    void *ctx;
    void (*mutex_lock)(void *ctx, struct sync_mutex *mx);
    void (*mutex_unlock)(void *ctx, struct sync_mutex *mx);
    void (*cond_signal)(void *ctx, struct sync_cond *cv);
    void (*cond_broadcast)(void *ctx, struct sync_cond *cv);
    /* INT64_MAX: no deadline. True when the deadline passed. */
    bool (*cond_wait_until)(void *ctx, struct sync_cond *cv, struct sync_mutex *mx,
                            int64_t deadline_ns);
    int64_t (*now_ns)(void *ctx);
};

/* The redirect of this OS thread; NULL (pthreads) on every thread that has not set one. */
extern _Thread_local const struct sync_redirect *sync_redirected;

/* Installs (or, with NULL, removes) the calling OS thread's redirect. */
static inline void sync_redirect_set(const struct sync_redirect *r)
{
    sync_redirected = r;
}

static inline const struct sync_redirect *sync_redirect_get(void)
{
    return __builtin_expect(sync_redirected != NULL, 0) ? sync_redirected : NULL;
}

static inline void sync_mutex_lock(struct sync_mutex *mx)
{
    const struct sync_redirect *r = sync_redirect_get();
    if (r)
        r->mutex_lock(r->ctx, mx);
    else
        pthread_mutex_lock(&mx->m);
}
static inline void sync_mutex_unlock(struct sync_mutex *mx)
{
    const struct sync_redirect *r = sync_redirect_get();
    if (r)
        r->mutex_unlock(r->ctx, mx);
    else
        pthread_mutex_unlock(&mx->m);
}
static inline void sync_cond_signal(struct sync_cond *cv)
{
    const struct sync_redirect *r = sync_redirect_get();
    if (r)
        r->cond_signal(r->ctx, cv);
    else
        pthread_cond_signal(&cv->c);
}
static inline void sync_cond_broadcast(struct sync_cond *cv)
{
    const struct sync_redirect *r = sync_redirect_get();
    if (r)
        r->cond_broadcast(r->ctx, cv);
    else
        pthread_cond_broadcast(&cv->c);
}

/* Waits with mx held; may return spuriously, so callers loop on their predicate. */
void sync_cond_wait(struct sync_cond *cv, struct sync_mutex *mx);

/* Waits until signalled or the monotonic clock reaches deadline_ns.
 * Returns true when the deadline passed (timed out). */
bool sync_cond_wait_until(struct sync_cond *cv, struct sync_mutex *mx, int64_t deadline_ns);

/* CLOCK_MONOTONIC in ns (served by the vDSO on Linux: no syscall); under a redirect, its
 * clock (a virtual run's simulated time). */
static inline int64_t sync_now_ns(void)
{
    const struct sync_redirect *r = sync_redirect_get();
    if (r) return r->now_ns(r->ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
