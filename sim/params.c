/* sim/params.c - policy parameters: defaults, `--set name=value` parsing and lookup. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "policy.h"

void gil_params_defaults_of(struct gil_params *p, const struct gil_param *table)
{
    memset(p, 0, sizeof *p);
    p->desc = table;
    for (const struct gil_param *d = table; d && d->name && p->n < GIL_MAX_PARAMS; d++)
        p->value[p->n++] = d->def;
}

void gil_params_defaults(struct gil_params *p, const struct gil_policy *pol)
{
    gil_params_defaults_of(p, pol->params);
}

static int find(const struct gil_params *p, const char *name, size_t len)
{
    for (unsigned i = 0; i < p->n; i++)
        if (strlen(p->desc[i].name) == len && strncmp(p->desc[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

double gil_param(const struct gil_params *p, const char *name)
{
    int i = find(p, name, strlen(name));
    return i >= 0 ? p->value[i] : NAN;
}

int gil_params_set(struct gil_params *p, const struct gil_policy *pol, const char *assignment,
                   struct err *e)
{
    return gil_params_set_for(p, pol->name, assignment, e);
}

int gil_params_set_for(struct gil_params *p, const char *owner, const char *assignment,
                       struct err *e)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return err_set(e, ERR_INPUT, "--set %s: expected name=value", assignment);
    int i = find(p, assignment, (size_t)(eq - assignment));
    if (i < 0) {
        char names[256] = "";
        size_t n = 0;
        for (unsigned k = 0; k < p->n && n < sizeof names; k++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", k ? ", " : "",
                                  p->desc[k].name);
        return err_set(e, ERR_INPUT, "--set %.*s: policy %s has no such parameter (it has: %s)",
                       (int)(eq - assignment), assignment, owner, p->n ? names : "none");
    }
    const struct gil_param *d = &p->desc[i];
    const char *text = eq + 1;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v))
        return err_set(e, ERR_INPUT, "--set %s: expected a number of %s", d->name, d->unit);
    if (d->integer && v != floor(v))
        return err_set(e, ERR_INPUT, "--set %s: expected an integer number of %s, got %s", d->name,
                       d->unit, text);
    if (v < d->min || v > d->max)
        return err_set(e, ERR_INPUT, "--set %s: expected a value in [%g, %g] %s, got %s", d->name,
                       d->min, d->max, d->unit, text);
    p->value[i] = v;
    return 0;
}
