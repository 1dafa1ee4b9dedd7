/* policies/new.c - CPython >= 3.2's GIL (Python/ceval_gil.c): waiters wait one switch interval
 * at a time; a wait that times out while the same holder still runs sets the drop request, and
 * the holder drops at its next check point. With forced switching, a thread that drops while a
 * drop request is pending waits (once) until another thread has taken the GIL. Waiters are not
 * ordered: any woken waiter may win.
 *
 * One deliberate detail from ceval_gil.c: switch_number counts changes of holder, not acquires,
 * so a thread that releases around I/O and wins the GIL straight back does not reset a waiter's
 * interval. docs/policies.md says more. */
#include "../sim/policy.h"
#include "forced_switch.h"

struct new_gil {
    struct sync_mutex mutex;
    struct sync_cond cond;
    struct forced_switch fs;
    bool locked;
    int64_t interval_ns;
};

static int new_init(struct gil *g, const struct gil_params *p)
{
    struct new_gil *s = gil_state(g);
    forced_switch_setup(&s->fs, gil_param(p, "force_switching") != 0);
    /* CPython clamps a zero interval to 1 us. */
    s->interval_ns = (int64_t)gil_param(p, "interval_us") * 1000;
    if (s->interval_ns < 1000) s->interval_ns = 1000;
    return 0;
}

/* take_gil */
static bool new_acquire(struct gil *g, struct sim_thread *self)
{
    struct new_gil *s = gil_state(g);
    int me = gil_thread_id(self);
    sync_mutex_lock(&s->mutex);
    while (s->locked) {
        if (gil_stopping(g)) {
            sync_mutex_unlock(&s->mutex);
            return false;
        }
        forced_switch_wait_interval(&s->fs, g, self, &s->cond, &s->mutex, s->interval_ns,
                                    &s->locked);
    }
    /* At the end of the run, leave rather than take the GIL only to drop it again: a crowd of
     * woken waiters would otherwise pass it along one by one. */
    if (gil_stopping(g)) {
        sync_mutex_unlock(&s->mutex);
        return false;
    }
    s->locked = true;
    forced_switch_taken(&s->fs, me);
    /* A request aimed at the previous holder is void now. */
    if (gil_drop_requested(g)) gil_clear_drop(g);
    sync_mutex_unlock(&s->mutex);
    return true;
}

/* drop_gil */
static void new_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    (void)why;
    struct new_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    s->locked = false;
    sync_cond_signal(&s->cond);
    sync_mutex_unlock(&s->mutex);

    forced_switch_after_drop(&s->fs, g, self);
}

static void new_stop(struct gil *g)
{
    struct new_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    sync_cond_broadcast(&s->cond);
    sync_mutex_unlock(&s->mutex);
    forced_switch_stop(&s->fs);
}

static const struct gil_param new_params[] = {
    {"interval_us", "us", 5000, 0, 1e9, true,
     "switch interval: how long a waiter lets the holder run before asking it to drop "
     "(sys.setswitchinterval)"},
    FORCED_SWITCH_PARAM,
    {NULL, NULL, 0, 0, 0, false, NULL},
};

const struct gil_policy gil_policy_new = {
    .name = "new",
    .summary = "CPython 3.2+ GIL: timed waits, drop request after interval_us, forced switching",
    .params = new_params,
    .state_size = sizeof(struct new_gil),
    .init = new_init,
    .acquire = new_acquire,
    .release = new_release,
    .stop = new_stop,
};
