/* policies/registry.c - every policy gilsim knows. Adding one: a file in policies/ defining
 * `const struct gil_policy gil_policy_<name>`, and its name in this list. */
#include "registry.h"

#include <string.h>

#define GIL_POLICY_LIST(X) X(old) X(new) X(fifo) X(none) X(prio) X(bfs) X(ruby)

#define X_DECLARE(name) extern const struct gil_policy gil_policy_##name;
GIL_POLICY_LIST(X_DECLARE)
#undef X_DECLARE

#define X_ENTRY(name) &gil_policy_##name,
const struct gil_policy *const gil_policies[] = {GIL_POLICY_LIST(X_ENTRY) NULL};
#undef X_ENTRY

const struct gil_policy *gil_policy_find(const char *name)
{
    for (const struct gil_policy *const *p = gil_policies; *p; p++)
        if (strcmp((*p)->name, name) == 0) return *p;
    return NULL;
}
