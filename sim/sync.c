/* sim/sync.c - pthread-backed implementation of the sync/clock layer (see sync.h). */
#include "sync.h"

#include <errno.h>

int sync_mutex_init(struct sync_mutex *mx)
{
    return pthread_mutex_init(&mx->m, NULL);
}

void sync_mutex_destroy(struct sync_mutex *mx)
{
    pthread_mutex_destroy(&mx->m);
}

int sync_cond_init(struct sync_cond *cv)
{
    /* Deadlines are on CLOCK_MONOTONIC so that wall-clock steps cannot stretch a wait. */
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc) return rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!rc) rc = pthread_cond_init(&cv->c, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

void sync_cond_destroy(struct sync_cond *cv)
{
    pthread_cond_destroy(&cv->c);
}

void sync_cond_wait(struct sync_cond *cv, struct sync_mutex *mx)
{
    pthread_cond_wait(&cv->c, &mx->m);
}

bool sync_cond_wait_until(struct sync_cond *cv, struct sync_mutex *mx, int64_t deadline_ns)
{
    if (deadline_ns < 0) deadline_ns = 0;
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    return pthread_cond_timedwait(&cv->c, &mx->m, &ts) == ETIMEDOUT;
}
