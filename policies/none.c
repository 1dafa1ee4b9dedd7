/* policies/none.c - no GIL at all: every thread runs at once. The baseline that shows what a
 * lock costs (PEP 703 free-threading), and the denominator of the convoy factor. */
#include "../sim/policy.h"

static bool none_acquire(struct gil *g, struct sim_thread *self)
{
    (void)g;
    (void)self;
    return true;
}

static void none_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    (void)g;
    (void)self;
    (void)why;
}

static const struct gil_param none_params[] = {{NULL, NULL, 0, 0, 0, false, NULL}};

/* Nobody ever sets the drop bit, so the default check hook never yields. */
const struct gil_policy gil_policy_none = {
    .name = "none",
    .summary = "no lock: all threads run in parallel (the free-threading baseline)",
    .params = none_params,
    .flags = GIL_POLICY_NO_LOCK,
    .acquire = none_acquire,
    .release = none_release,
};
