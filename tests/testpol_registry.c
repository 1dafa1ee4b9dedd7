/* tests/testpol_registry.c - the policy list of the test binary gilsim-testpol: the shipped
 * policies plus the failing ones of tests/testpol.c. gilsim itself links policies/registry.c. */
#include <string.h>

#include "policies/registry.h"

#define X_DECLARE(name) extern const struct gil_policy gil_policy_##name;
GIL_POLICY_LIST(X_DECLARE)
#undef X_DECLARE
extern const struct gil_policy gil_policy_deadlock, gil_policy_deaf;

#define X_ENTRY(name) &gil_policy_##name,
const struct gil_policy *const gil_policies[] = {GIL_POLICY_LIST(X_ENTRY) & gil_policy_deadlock,
                                                 &gil_policy_deaf, NULL};
#undef X_ENTRY

const struct gil_policy *gil_policy_find(const char *name)
{
    for (const struct gil_policy *const *p = gil_policies; *p; p++)
        if (strcmp((*p)->name, name) == 0) return *p;
    return NULL;
}
