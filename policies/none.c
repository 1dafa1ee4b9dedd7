/* policies/none.c - no GIL at all: every thread runs at once. The baseline that shows what a
 * lock costs (PEP 703 free-threading), and the denominator of the convoy factor. */
#include "../sim/policy.h"

static int none_init(struct gil *g, const struct gil_params *p)
{
    (void)g;
    (void)p;
    return 0;
}

static void none_destroy(struct gil *g)
{
    (void)g;
}

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

static enum gil_reason none_check(struct gil *g, struct sim_thread *self, unsigned cause)
{
    (void)g;
    (void)self;
    (void)cause;
    return GIL_REASON_NONE;
}

static const struct gil_param none_params[] = {{NULL, NULL, 0, 0, 0, false, NULL}};

const struct gil_policy gil_policy_none = {
    .name = "none",
    .summary = "no lock: all threads run in parallel (the free-threading baseline)",
    .params = none_params,
    .flags = GIL_POLICY_NO_LOCK,
    .init = none_init,
    .destroy = none_destroy,
    .acquire = none_acquire,
    .release = none_release,
    .check = none_check,
};
