/* policies/waiter.h - the per-thread record of policies that wake one chosen waiter on its own
 * condition (fifo, bfs, ruby): allocated and attached in thread_init, freed in thread_fini.
 * The record's first member must be its struct sync_cond. */
#ifndef GILSIM_WAITER_H
#define GILSIM_WAITER_H

#include <errno.h>
#include <stdlib.h>

#include "../sim/policy.h"

/* A zeroed record of size bytes for t, its condition initialized; 0 or an errno value. */
static inline int waiter_attach(struct sim_thread *t, size_t size, void **out)
{
    struct sync_cond *cond = calloc(1, size);
    if (!cond) return ENOMEM;
    int rc = sync_cond_init(cond);
    if (rc) {
        free(cond);
        return rc;
    }
    gil_thread_set_data(t, cond);
    *out = cond;
    return 0;
}

static inline void waiter_detach(struct sim_thread *t)
{
    struct sync_cond *cond = gil_thread_data(t);
    if (!cond) return;
    sync_cond_destroy(cond);
    free(cond);
    gil_thread_set_data(t, NULL);
}

#endif
