/* sim/sync.h - the sync/clock layer: mutexes, conditions with deadlines and the monotonic clock.
 *
 * Policies use these and nothing from pthreads or clock_gettime directly, so that the
 * virtual-time engine can run the same policy files by providing this header's functions.
 * Times are nanoseconds on CLOCK_MONOTONIC.
 *
 * A zeroed struct sync_mutex or sync_cond is ready to use and holds no resource: there is no
 * init and no destroy (tests/test_workload.c checks that the C library agrees). Policy state
 * and per-thread records are allocated zeroed by the engine, so their locks need no set-up. */
#ifndef GILSIM_SYNC_H
#define GILSIM_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct sync_mutex {
    pthread_mutex_t m;
};

struct sync_cond {
    pthread_cond_t c;
};

static inline void sync_mutex_lock(struct sync_mutex *mx)
{
    pthread_mutex_lock(&mx->m);
}
static inline void sync_mutex_unlock(struct sync_mutex *mx)
{
    pthread_mutex_unlock(&mx->m);
}
static inline void sync_cond_signal(struct sync_cond *cv)
{
    pthread_cond_signal(&cv->c);
}
static inline void sync_cond_broadcast(struct sync_cond *cv)
{
    pthread_cond_broadcast(&cv->c);
}

/* Waits with mx held; may return spuriously, so callers loop on their predicate. */
void sync_cond_wait(struct sync_cond *cv, struct sync_mutex *mx);

/* Waits until signalled or the monotonic clock reaches deadline_ns.
 * Returns true when the deadline passed (timed out). */
bool sync_cond_wait_until(struct sync_cond *cv, struct sync_mutex *mx, int64_t deadline_ns);

/* CLOCK_MONOTONIC in ns. Served by the vDSO on Linux: no syscall. */
static inline int64_t sync_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
