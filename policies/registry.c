/* policies/registry.c - every policy gilsim knows. Adding one: a file in policies/ defining
 * `const struct gil_policy gil_policy_<name>`, and its name in GIL_POLICY_LIST (registry.h). */
#include "registry.h"

#include <string.h>

#define X_DECLARE(name) extern const struct gil_policy gil_policy_##name;
GIL_POLICY_LIST(X_DECLARE)
#undef X_DECLARE

#define X_ENTRY(name) &gil_policy_##name,
const struct gil_policy *const gil_policies[] = {GIL_POLICY_LIST(X_ENTRY) NULL};
#undef X_ENTRY

const struct gil_policy *gil_policy_at(size_t i)
{
    size_t shipped = sizeof gil_policies / sizeof gil_policies[0] - 1;
    if (i < shipped) return gil_policies[i];
    if (!gil_policies_extra) return NULL;
    for (size_t k = 0; gil_policies_extra[k]; k++)
        if (k == i - shipped) return gil_policies_extra[k];
    return NULL;
}

const struct gil_policy *gil_policy_find(const char *name)
{
    const struct gil_policy *p;
    for (size_t i = 0; (p = gil_policy_at(i)); i++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}
