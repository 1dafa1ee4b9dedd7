/* sim/sync.c - the sync/clock layer (see sync.h): pthreads, or the calling OS thread's
 * redirect (a virtual run's simulated locks and clock). */
#define _GNU_SOURCE /* pthread_cond_clockwait (glibc >= 2.30; POSIX.1-2024) */
#include "sync.h"

#include <errno.h>

_Thread_local const struct sync_redirect *sync_redirected;

void sync_cond_wait(struct sync_cond *cv, struct sync_mutex *mx)
{
    const struct sync_redirect *r = sync_redirect_get();
    if (r)
        r->cond_wait_until(r->ctx, cv, mx, INT64_MAX);
    else
        pthread_cond_wait(&cv->c, &mx->m);
}

bool sync_cond_wait_until(struct sync_cond *cv, struct sync_mutex *mx, int64_t deadline_ns)
{
    const struct sync_redirect *r = sync_redirect_get();
    if (r) return r->cond_wait_until(r->ctx, cv, mx, deadline_ns);
    if (deadline_ns < 0) deadline_ns = 0;
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    /* The clock is named per wait, so a zeroed condition (no clock attribute) serves: a
     * wall-clock step cannot stretch the wait. */
    return pthread_cond_clockwait(&cv->c, &mx->m, CLOCK_MONOTONIC, &ts) == ETIMEDOUT;
}
