/* policies/registry.h - the list of policies compiled into gilsim. */
#ifndef GILSIM_REGISTRY_H
#define GILSIM_REGISTRY_H

#include "../sim/policy.h"

/* NULL-terminated, in the order `gilsim policies` lists them. */
extern const struct gil_policy *const gil_policies[];

/* NULL when no policy has that name. */
const struct gil_policy *gil_policy_find(const char *name);

#endif
