/* policies/registry.h - the list of policies compiled into gilsim. */
#ifndef GILSIM_REGISTRY_H
#define GILSIM_REGISTRY_H

#include <stddef.h>

#include "../sim/policy.h"

/* The shipped policies, in listing order. */
#define GIL_POLICY_LIST(X) X(old) X(new) X(fifo) X(none) X(prio) X(bfs) X(ruby)

/* The shipped policies, NULL-terminated, in the order `gilsim policies` lists them. */
extern const struct gil_policy *const gil_policies[];

/* Policies a binary adds after the shipped ones, NULL-terminated. gilsim defines none (the
 * weak reference is then NULL); the tests' binary defines it to list its deliberately failing
 * policies (tests/testpol.c). */
extern const struct gil_policy *const gil_policies_extra[] __attribute__((weak));

/* The i-th policy of the shipped list followed by the extra one; NULL past the end. */
const struct gil_policy *gil_policy_at(size_t i);

/* NULL when no policy has that name. */
const struct gil_policy *gil_policy_find(const char *name);

#endif
