/* sim/sync.h - the sync/clock layer: mutexes, conditions with deadlines and the monotonic clock.
 *
 * Policies use these and nothing from pthreads or clock_gettime directly, so that the
 * virtual-time engine can run the same policy files by providing this header's functions.
 * Times are nanoseconds on CLOCK_MONOTONIC.
 *
 * A zeroed struct sync_mutex or sync_cond is ready to use and holds no resource: there is no
 * init and no destroy (tests/test_protocol.c checks that the C library agrees). Policy state
 * and per-thread records are allocated zeroed by the engine, so their locks need no set-up.
 *
 * Two implementations: pthreads and the monotonic clock (sync.c), and, on the OS thread that
 * runs a virtual-time simulation (sync_virtual set), simulated locks, conditions and clock
 * (vsync.c), which block and wake simulated threads and advance virtual time. Each call
 * tests one thread-local pointer to choose. */
#ifndef GILSIM_SYNC_H
#define GILSIM_SYNC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct vt_run;
struct vt_thread;

/* A simulated thread queue (virtual engine): FIFO. */
struct sync_vqueue {
    struct vt_thread *head, *tail;
};

struct sync_mutex {
    union {
        pthread_mutex_t m;
        struct {
            struct vt_thread *owner;
            struct sync_vqueue waiters;
        } v;
    };
};

struct sync_cond {
    union {
        pthread_cond_t c;
        struct sync_vqueue v;
    };
};

/* The virtual-time run this OS thread is simulating; NULL on every other thread. */
extern _Thread_local struct vt_run *sync_virtual;

/* vsync.c: the simulated implementations. */
void vsync_mutex_lock(struct vt_run *r, struct sync_mutex *mx);
void vsync_mutex_unlock(struct vt_run *r, struct sync_mutex *mx);
void vsync_cond_signal(struct vt_run *r, struct sync_cond *cv);
void vsync_cond_broadcast(struct vt_run *r, struct sync_cond *cv);
bool vsync_cond_wait_until(struct vt_run *r, struct sync_cond *cv, struct sync_mutex *mx,
                           int64_t deadline_ns);
int64_t vsync_now(struct vt_run *r);

static inline bool sync_is_virtual(void)
{
    return __builtin_expect(sync_virtual != NULL, 0);
}

static inline void sync_mutex_lock(struct sync_mutex *mx)
{
    if (sync_is_virtual())
        vsync_mutex_lock(sync_virtual, mx);
    else
        pthread_mutex_lock(&mx->m);
}
static inline void sync_mutex_unlock(struct sync_mutex *mx)
{
    if (sync_is_virtual())
        vsync_mutex_unlock(sync_virtual, mx);
    else
        pthread_mutex_unlock(&mx->m);
}
static inline void sync_cond_signal(struct sync_cond *cv)
{
    if (sync_is_virtual())
        vsync_cond_signal(sync_virtual, cv);
    else
        pthread_cond_signal(&cv->c);
}
static inline void sync_cond_broadcast(struct sync_cond *cv)
{
    if (sync_is_virtual())
        vsync_cond_broadcast(sync_virtual, cv);
    else
        pthread_cond_broadcast(&cv->c);
}

/* Waits with mx held; may return spuriously, so callers loop on their predicate. */
void sync_cond_wait(struct sync_cond *cv, struct sync_mutex *mx);

/* Waits until signalled or the monotonic clock reaches deadline_ns.
 * Returns true when the deadline passed (timed out). */
bool sync_cond_wait_until(struct sync_cond *cv, struct sync_mutex *mx, int64_t deadline_ns);

/* CLOCK_MONOTONIC in ns (served by the vDSO on Linux: no syscall); in a virtual run, the
 * simulated clock. */
static inline int64_t sync_now_ns(void)
{
    if (sync_is_virtual()) return vsync_now(sync_virtual);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
