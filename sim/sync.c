/* sim/sync.c - pthread-backed implementation of the sync/clock layer (see sync.h). */
#define _GNU_SOURCE /* pthread_cond_clockwait (glibc >= 2.30; POSIX.1-2024) */
#include "sync.h"

#include <errno.h>

void sync_cond_wait(struct sync_cond *cv, struct sync_mutex *mx)
{
    pthread_cond_wait(&cv->c, &mx->m);
}

bool sync_cond_wait_until(struct sync_cond *cv, struct sync_mutex *mx, int64_t deadline_ns)
{
    if (deadline_ns < 0) deadline_ns = 0;
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    /* The clock is named per wait, so a zeroed condition (no clock attribute) serves: a
     * wall-clock step cannot stretch the wait. */
    return pthread_cond_clockwait(&cv->c, &mx->m, CLOCK_MONOTONIC, &ts) == ETIMEDOUT;
}
