/* cli/compare_plan.c - what `gilsim compare` will run: the columns (each chosen policy once per
 * combination of the --set values it has a parameter for, plus an extra lock-free baseline when
 * none was chosen) and the run list (the baseline first, then repeat by repeat, every column in
 * turn). Everything is validated here, before anything runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/compare.h"
#include "policies/registry.h"

/* `cpython`: not a simulator policy but real interpreter threads, run by tools/pyrun with the
 * interpreter GILSIM_PYTHON (default /usr/bin/python3). --set interval_us is validated like
 * any policy parameter and passed on. */
static const struct gil_param cpython_params[] = {
    {"interval_us", "us", 5000, 1, 1e9, true,
     "the interpreter's switch interval (sys.setswitchinterval)"},
    {NULL, NULL, 0, 0, 0, false, NULL},
};
static const struct subject cpython = {"cpython", cpython_params, NULL};

static bool lock_free(const struct subject *s)
{
    return s->policy && (s->policy->flags & GIL_POLICY_NO_LOCK);
}

/* Two equal values would make two columns of one configuration (and, written alike, share one
 * trace file). */
static int distinct_values(const struct set_opt *s, struct err *e)
{
    for (unsigned i = 0; i < s->nvalues; i++)
        for (unsigned k = 0; k < i; k++) {
            char *end_i, *end_k;
            double vi = strtod(s->values[i], &end_i), vk = strtod(s->values[k], &end_k);
            if (strcmp(s->values[i], s->values[k]) == 0 || (!*end_i && !*end_k && vi == vk))
                return err_set(e, ERR_INPUT, "--set %s: the value %s is given twice (as %s)",
                               s->name, s->values[i], s->values[k]);
        }
    return 0;
}

int compare_parse_set(struct compare *c, const char *arg, struct err *e)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= sizeof c->sets[0].name)
        return err_set(e, ERR_INPUT, "--set %s: expected NAME=VALUE[,VALUE...]", arg);
    if (c->nsets == CLI_MAX_SETS)
        return err_set(e, ERR_INPUT, "--set: at most %d parameters", CLI_MAX_SETS);
    struct set_opt *s = &c->sets[c->nsets];
    memcpy(s->name, arg, (size_t)(eq - arg));
    s->name[eq - arg] = '\0';
    for (unsigned i = 0; i < c->nsets; i++)
        if (strcmp(c->sets[i].name, s->name) == 0)
            return err_set(e, ERR_INPUT, "--set %s: given twice; list every value in one --set",
                           s->name);
    s->copy = strdup(eq + 1);
    if (!s->copy) return err_set(e, ERR_RUNTIME, "out of memory");
    c->nsets++;
    char *save = NULL;
    for (char *v = strtok_r(s->copy, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        if (s->nvalues == COMPARE_MAX_VALUES)
            return err_set(e, ERR_INPUT, "--set %s: at most %d values", s->name,
                           COMPARE_MAX_VALUES);
        s->values[s->nvalues++] = v;
    }
    if (!s->nvalues || eq[strlen(eq) - 1] == ',' || strstr(eq, ",,"))
        return err_set(e, ERR_INPUT, "--set %s: expected NAME=VALUE[,VALUE...]", arg);
    return distinct_values(s, e);
}

static bool subject_has(const struct subject *s, const char *name)
{
    for (const struct gil_param *d = s->params; d->name; d++)
        if (strcmp(d->name, name) == 0) return true;
    return false;
}

/* Validates every assignment now: nothing runs when one is wrong. */
static int check_assignments(const struct config *cfg, struct err *e)
{
    struct gil_params params;
    gil_params_defaults_of(&params, cfg->subj.params);
    for (unsigned k = 0; k < cfg->nassign; k++)
        if (gil_params_set_for(&params, cfg->subj.name, cfg->assign[k], e) != 0) return e->status;
    return 0;
}

static int add_config(struct compare *c, const struct subject *subj, char **assign,
                      unsigned nassign, struct err *e)
{
    if (c->nconfigs == COMPARE_MAX_COLUMNS)
        return err_set(e, ERR_INPUT, "--set: at most %d columns (policies x values)",
                       COMPARE_MAX_COLUMNS);
    struct config *cfgs = realloc(c->configs, (c->nconfigs + 1) * sizeof *cfgs);
    if (!cfgs) return err_set(e, ERR_RUNTIME, "out of memory");
    c->configs = cfgs;
    struct config *cfg = &cfgs[c->nconfigs++];
    memset(cfg, 0, sizeof *cfg);
    cfg->subj = *subj;
    size_t ln = (size_t)snprintf(cfg->label, sizeof cfg->label, "%s", subj->name);
    size_t fn = (size_t)snprintf(cfg->file_stem, sizeof cfg->file_stem, "%s", subj->name);
    for (unsigned k = 0; k < nassign; k++) {
        cfg->assign[k] = strdup(assign[k]);
        if (!cfg->assign[k]) return err_set(e, ERR_RUNTIME, "out of memory");
        cfg->nassign++;
        if (ln < sizeof cfg->label)
            ln += (size_t)snprintf(cfg->label + ln, sizeof cfg->label - ln, " %s", assign[k]);
        if (fn < sizeof cfg->file_stem)
            fn +=
                (size_t)snprintf(cfg->file_stem + fn, sizeof cfg->file_stem - fn, "-%s", assign[k]);
    }
    if (ln >= sizeof cfg->label || fn >= sizeof cfg->file_stem) /* cut: names could collide */
        return err_set(e, ERR_INPUT, "--set: %s with %u parameters makes too long a name",
                       subj->name, nassign);
    return check_assignments(cfg, e);
}

/* The --set options the subject has a parameter for (into have[]); a note for each other. */
static unsigned sets_of(struct compare *c, const struct subject *subj, unsigned *have)
{
    unsigned nhave = 0;
    for (unsigned i = 0; i < c->nsets; i++) {
        if (subject_has(subj, c->sets[i].name)) {
            have[nhave++] = i;
        } else {
            char note[160];
            snprintf(note, sizeof note, "%s has no parameter %s: ignored for it", subj->name,
                     c->sets[i].name);
            json_array_append_new(c->notes, json_string(note));
        }
    }
    return nhave;
}

/* One configuration per combination of the values of the parameters the subject has. */
static int expand_subject(struct compare *c, const struct subject *subj, struct err *e)
{
    unsigned idx[CLI_MAX_SETS] = {0}, have[CLI_MAX_SETS];
    unsigned nhave = sets_of(c, subj, have);
    for (;;) {
        char buf[CLI_MAX_SETS][128], *assign[CLI_MAX_SETS];
        for (unsigned k = 0; k < nhave; k++) {
            const struct set_opt *s = &c->sets[have[k]];
            snprintf(buf[k], sizeof buf[k], "%s=%s", s->name, s->values[idx[k]]);
            assign[k] = buf[k];
        }
        int rc = add_config(c, subj, assign, nhave, e);
        if (rc) return rc;
        unsigned k = nhave;
        while (k > 0) { /* odometer: the last parameter varies fastest */
            k--;
            if (++idx[k] < c->sets[have[k]].nvalues) break;
            idx[k] = 0;
            if (k == 0) return 0;
        }
        if (nhave == 0) return 0;
    }
}

/* The comma-separated --policies list into seen[] (each name once); returns how many. */
static int parse_policy_list(const char *list, struct subject *seen, unsigned *n, struct err *e)
{
    char *copy = strdup(list), *save = NULL;
    int rc = 0;
    if (!copy) return err_set(e, ERR_RUNTIME, "out of memory");
    for (char *name = strtok_r(copy, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save)) {
        const struct gil_policy *p = gil_policy_find(name);
        struct subject s = p ? (struct subject){p->name, p->params, p} : cpython;
        if (!p && strcmp(name, cpython.name) != 0) {
            rc = err_set(e, ERR_INPUT,
                         "--policies: no such policy '%s' (see `gilsim policies`; `cpython` runs "
                         "real CPython threads)",
                         name);
            break;
        }
        for (unsigned i = 0; i < *n; i++)
            if (strcmp(seen[i].name, s.name) == 0)
                rc = err_set(e, ERR_INPUT, "--policies: '%s' given twice", name);
        if (!rc && *n == COMPARE_MAX_POLICIES)
            rc = err_set(e, ERR_INPUT, "--policies: at most %d", COMPARE_MAX_POLICIES);
        if (!rc) seen[(*n)++] = s;
    }
    free(copy);
    if (!rc && !*n) rc = err_set(e, ERR_INPUT, "--policies: expected a comma-separated list");
    return rc;
}

/* The convoy factor's denominator when no lock-free policy was chosen: one extra run of the
 * registry's lock-free policy. */
static int add_baseline(struct compare *c, struct err *e)
{
    const struct gil_policy *base = NULL, *p;
    for (size_t i = 0; (p = gil_policy_at(i)) && !base; i++)
        if (p->flags & GIL_POLICY_NO_LOCK) base = p;
    if (!base) return 0;
    struct subject s = {base->name, base->params, base};
    int rc = add_config(c, &s, NULL, 0, e);
    if (rc) return rc;
    struct config *b = &c->configs[c->nconfigs - 1];
    b->baseline_only = true;
    snprintf(b->file_stem, sizeof b->file_stem, "%s-baseline", base->name);
    c->baseline_name = base->name;
    return 0;
}

int compare_plan_columns(struct compare *c, const char *policies, struct err *e)
{
    struct subject seen[COMPARE_MAX_POLICIES];
    unsigned n = 0;
    int rc = parse_policy_list(policies, seen, &n, e);
    if (rc) return rc;
    for (unsigned i = 0; i < c->nsets; i++) {
        bool used = false;
        for (unsigned k = 0; k < n; k++)
            used |= subject_has(&seen[k], c->sets[i].name);
        if (!used)
            return err_set(e, ERR_INPUT, "--set %s: none of the chosen policies has this parameter",
                           c->sets[i].name);
    }
    for (unsigned i = 0; i < n; i++) {
        if (lock_free(&seen[i])) {
            c->baseline_requested = true;
            c->baseline_name = seen[i].name;
        }
        if ((rc = expand_subject(c, &seen[i], e))) return rc;
    }
    return c->baseline_requested ? 0 : add_baseline(c, e);
}

/* The trace of each run, relative to the directory. */
static void name_trace(struct run *r)
{
    if (r->cfg->baseline_only)
        snprintf(r->trace, sizeof r->trace, "%s.json", r->cfg->file_stem);
    else
        snprintf(r->trace, sizeof r->trace, "%s-r%u.json", r->cfg->file_stem, r->repeat);
}

int compare_plan_runs(struct compare *c, struct err *e)
{
    size_t total = 0;
    for (size_t i = 0; i < c->nconfigs; i++)
        total += c->configs[i].baseline_only ? 1 : c->repeat;
    c->runs = calloc(total, sizeof *c->runs);
    if (!c->runs) return err_set(e, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < c->nconfigs; i++)
        if (c->configs[i].baseline_only)
            c->runs[c->nruns++] = (struct run){.cfg = &c->configs[i], .repeat = 1};
    for (unsigned r = 1; r <= c->repeat; r++)
        for (size_t i = 0; i < c->nconfigs; i++)
            if (!c->configs[i].baseline_only)
                c->runs[c->nruns++] = (struct run){.cfg = &c->configs[i], .repeat = r};
    for (size_t i = 0; i < c->nruns; i++) {
        name_trace(&c->runs[i]);
        for (int k = 0; k < NKM; k++)
            c->runs[i].value[k] = NAN;
    }
    return 0;
}
