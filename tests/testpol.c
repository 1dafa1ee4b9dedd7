/* tests/testpol.c - policies that fail on purpose, built only into the tests (the test binary
 * gilsim-testpol and the suites), never into gilsim: they prove the watchdog and the stop path.
 *
 *   deadlock  hands the GIL to the first thread that asks and never takes it back (release
 *             forgets to mark it free), so every later acquire waits for ever. Its stop hook
 *             works: waiters leave when the run stops.
 *   deaf      the same, and its waiters ignore the stop: they can only be given up on. */
#include "policies/registry.h"

struct stuck_gil {
    struct sync_mutex mutex;
    struct sync_cond cond;
    bool taken;
    bool deaf;
};

static int deaf_init(struct gil *g, const struct gil_params *p)
{
    (void)p;
    struct stuck_gil *s = gil_state(g);
    s->deaf = true;
    return 0;
}

static bool stuck_acquire(struct gil *g, struct sim_thread *self)
{
    (void)self;
    struct stuck_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    while (s->taken && (s->deaf || !gil_stopping(g)))
        sync_cond_wait(&s->cond, &s->mutex);
    bool got = !s->taken;
    s->taken = true;
    sync_mutex_unlock(&s->mutex);
    return got;
}

static void stuck_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    (void)g, (void)self, (void)why; /* the bug: the lock stays taken */
}

static void stuck_stop(struct gil *g)
{
    struct stuck_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    sync_cond_broadcast(&s->cond);
    sync_mutex_unlock(&s->mutex);
}

static const struct gil_param no_params[] = {{NULL, NULL, 0, 0, 0, false, NULL}};

const struct gil_policy gil_policy_deadlock = {
    .name = "deadlock",
    .summary = "test only: never gives the GIL back after the first holder releases it",
    .params = no_params,
    .state_size = sizeof(struct stuck_gil),
    .acquire = stuck_acquire,
    .release = stuck_release,
    .stop = stuck_stop,
};

const struct gil_policy gil_policy_deaf = {
    .name = "deaf",
    .summary = "test only: deadlocks like `deadlock` and its waiters ignore the stop",
    .params = no_params,
    .state_size = sizeof(struct stuck_gil),
    .init = deaf_init,
    .acquire = stuck_acquire,
    .release = stuck_release,
    .stop = stuck_stop,
};

/* gilsim-testpol lists these after the shipped policies (policies/registry.h). */
const struct gil_policy *const gil_policies_extra[] = {&gil_policy_deadlock, &gil_policy_deaf,
                                                       NULL};
