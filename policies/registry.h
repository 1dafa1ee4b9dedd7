/* policies/registry.h - the list of policies compiled into gilsim. */
#ifndef GILSIM_REGISTRY_H
#define GILSIM_REGISTRY_H

#include "../sim/policy.h"

/* The shipped policies, in listing order. A binary with extra policies (the tests' deadlocking
 * ones) defines its own gil_policies from this list plus its own. */
#define GIL_POLICY_LIST(X) X(old) X(new) X(fifo) X(none) X(prio) X(bfs) X(ruby)

/* NULL-terminated, in the order `gilsim policies` lists them. */
extern const struct gil_policy *const gil_policies[];

/* NULL when no policy has that name. */
const struct gil_policy *gil_policy_find(const char *name);

#endif
