/* cli/compare_plan.c - what `gilsim compare` will run: the cells (each chosen policy under each
 * engine, once per combination of the --set values it has a parameter for and of the --var
 * values; an extra lock-free baseline per engine and variable combination when no lock-free
 * policy was chosen) and the run list (the baselines first, then repeat by repeat, every cell
 * in turn). Everything is validated here, before anything runs: every combination of --var
 * values is read into the workload once. The plan is a function of the options alone, so
 * `--run` and `--collect` rebuild it from the options the plan file keeps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/compare.h"
#include "policies/registry.h"
#include "sim/machine.h"

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

static void note(struct compare *c, const char *text)
{
    json_array_append_new(c->notes, json_string(text));
}

static bool subject_has(const struct subject *s, const char *name)
{
    for (const struct gil_param *d = s->params; d->name; d++)
        if (strcmp(d->name, name) == 0) return true;
    return false;
}

/* ---- combinations ------------------------------------------------------------------------ */

/* "name=value" strings of one combination of lists[have[k]], value idx[k] of each. */
struct combo {
    char buf[WL_MAX_VARS > CLI_MAX_SETS ? WL_MAX_VARS : CLI_MAX_SETS][128];
    char *assign[WL_MAX_VARS > CLI_MAX_SETS ? WL_MAX_VARS : CLI_MAX_SETS];
    unsigned n;
};

static void make_combo(const struct cmp_list *lists, const unsigned *have, unsigned nhave,
                       const unsigned *idx, struct combo *out)
{
    out->n = nhave;
    for (unsigned k = 0; k < nhave; k++) {
        const struct cmp_list *l = &lists[have[k]];
        snprintf(out->buf[k], sizeof out->buf[k], "%s=%s", l->name, l->values[idx[k]]);
        out->assign[k] = out->buf[k];
    }
}

/* Odometer over the lists: the last varies fastest. False after the last combination. */
static bool next_combo(const struct cmp_list *lists, const unsigned *have, unsigned nhave,
                       unsigned *idx)
{
    for (unsigned k = nhave; k > 0; k--) {
        if (++idx[k - 1] < lists[have[k - 1]].nvalues) return true;
        idx[k - 1] = 0;
    }
    return false;
}

/* Every combination of the --var values, each read into the workload once (an unknown name
 * or a value out of range is found here, at its file:line:col). */
static int plan_var_combos(struct compare *c, struct err *e)
{
    unsigned idx[WL_MAX_VARS] = {0}, have[WL_MAX_VARS];
    for (unsigned k = 0; k < c->vars.n; k++)
        have[k] = k;
    size_t total = 1;
    for (unsigned k = 0; k < c->vars.n && total <= COMPARE_MAX_CELLS; k++)
        total *= c->vars.l[k].nvalues;
    if (total > COMPARE_MAX_CELLS)
        return err_set(e, ERR_INPUT, "--var: at most %d combinations", COMPARE_MAX_CELLS);
    if (!(c->combos = calloc(total, sizeof *c->combos)))
        return err_set(e, ERR_RUNTIME, "out of memory");
    do {
        struct combo cb;
        make_combo(c->vars.l, have, c->vars.n, idx, &cb);
        struct wl_workload *wl = NULL;
        int rc = wl_load_vars(c->workload_path, (const char *const *)cb.assign, cb.n, &wl, e);
        wl_free(wl);
        if (rc) return rc;
        memcpy(c->combos[c->ncombos++], idx, sizeof idx);
    } while (next_combo(c->vars.l, have, c->vars.n, idx));
    return 0;
}

/* ---- cells ------------------------------------------------------------------------------- */

/* Validates every assignment now: nothing runs when one is wrong. */
static int check_assignments(const struct config *cfg, struct err *e)
{
    struct gil_params params;
    gil_params_defaults_of(&params, cfg->subj.params);
    for (unsigned k = 0; k < cfg->nassign; k++)
        if (gil_params_set_for(&params, cfg->subj.name, cfg->assign[k], e) != 0) return e->status;
    return 0;
}

/* label "new virtual interval_us=1000 n=4", file stem "new-virtual-interval_us=1000-n=4" */
static int name_config(const struct compare *c, struct config *cfg, struct err *e)
{
    size_t ln = (size_t)snprintf(cfg->label, sizeof cfg->label, "%s", cfg->subj.name);
    size_t fn = (size_t)snprintf(cfg->file_stem, sizeof cfg->file_stem, "%s%s", cfg->subj.name,
                                 cfg->baseline_only ? "-baseline" : "");
    if (c->engine_in_names) {
        const char *en = cli_engine_names[cfg->engine];
        ln += (size_t)snprintf(cfg->label + ln, sizeof cfg->label - ln, " %s", en);
        fn += (size_t)snprintf(cfg->file_stem + fn, sizeof cfg->file_stem - fn, "-%s", en);
    }
    for (unsigned k = 0; k < cfg->nassign + cfg->nvars; k++) {
        const char *a = k < cfg->nassign ? cfg->assign[k] : cfg->vars[k - cfg->nassign];
        if (ln < sizeof cfg->label)
            ln += (size_t)snprintf(cfg->label + ln, sizeof cfg->label - ln, " %s", a);
        if (fn < sizeof cfg->file_stem)
            fn += (size_t)snprintf(cfg->file_stem + fn, sizeof cfg->file_stem - fn, "-%s", a);
    }
    if (ln >= sizeof cfg->label || fn >= sizeof cfg->file_stem) /* cut: names could collide */
        return err_set(e, ERR_INPUT, "--set/--var: %s with %u values makes too long a name",
                       cfg->subj.name, cfg->nassign + cfg->nvars);
    return 0;
}

static int add_config(struct compare *c, const struct config *proto, const struct combo *sets,
                      const struct combo *vars, struct err *e)
{
    if (c->nconfigs == COMPARE_MAX_CELLS)
        return err_set(e, ERR_INPUT, "at most %d cells (policies x engines x values)",
                       COMPARE_MAX_CELLS);
    if (c->nconfigs == c->cap_configs) {
        size_t cap = c->cap_configs ? 2 * c->cap_configs : 16;
        struct config *cfgs = realloc(c->configs, cap * sizeof *cfgs);
        if (!cfgs) return err_set(e, ERR_RUNTIME, "out of memory");
        c->configs = cfgs;
        c->cap_configs = cap;
    }
    struct config *cfg = &c->configs[c->nconfigs++];
    *cfg = *proto;
    cfg->nassign = cfg->nvars = 0;
    for (unsigned k = 0; k < sets->n; k++)
        if ((cfg->assign[cfg->nassign] = strdup(sets->assign[k]))) cfg->nassign++;
    for (unsigned k = 0; k < vars->n; k++)
        if ((cfg->vars[cfg->nvars] = strdup(vars->assign[k]))) cfg->nvars++;
    if (cfg->nassign != sets->n || cfg->nvars != vars->n)
        return err_set(e, ERR_RUNTIME, "out of memory");
    int rc = name_config(c, cfg, e);
    return rc ? rc : check_assignments(cfg, e);
}

/* The --set options the subject has a parameter for (into have[]); a note for each other. */
static unsigned sets_of(struct compare *c, const struct subject *subj, unsigned *have)
{
    unsigned nhave = 0;
    for (unsigned i = 0; i < c->sets.n; i++) {
        if (subject_has(subj, c->sets.l[i].name)) {
            have[nhave++] = i;
        } else {
            char text[160];
            snprintf(text, sizeof text, "%s has no parameter %s: ignored for it", subj->name,
                     c->sets.l[i].name);
            note(c, text);
        }
    }
    return nhave;
}

/* One cell per combination of the subject's --set values and of the --var values. */
static int expand_subject(struct compare *c, const struct subject *subj, enum eng_kind engine,
                          struct err *e)
{
    unsigned idx[CLI_MAX_SETS] = {0}, have[CLI_MAX_SETS], vhave[WL_MAX_VARS];
    unsigned nhave = sets_of(c, subj, have);
    for (unsigned k = 0; k < c->vars.n; k++)
        vhave[k] = k;
    struct config proto = {.subj = *subj, .engine = engine};
    do {
        struct combo sets;
        make_combo(c->sets.l, have, nhave, idx, &sets);
        for (size_t v = 0; v < c->ncombos; v++) {
            struct combo vars;
            make_combo(c->vars.l, vhave, c->vars.n, c->combos[v], &vars);
            int rc = add_config(c, &proto, &sets, &vars, e);
            if (rc) return rc;
        }
    } while (next_combo(c->sets.l, have, nhave, idx));
    return 0;
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
 * registry's lock-free policy per engine and combination of variables. */
static int add_baselines(struct compare *c, struct err *e)
{
    const struct gil_policy *base = NULL;
    const struct gil_policy *p;
    for (size_t i = 0; (p = gil_policy_at(i)) && !base; i++)
        if (p->flags & GIL_POLICY_NO_LOCK) base = p;
    if (!base) return 0;
    c->baseline_name = base->name;
    unsigned vhave[WL_MAX_VARS];
    for (unsigned k = 0; k < c->vars.n; k++)
        vhave[k] = k;
    struct combo none = {.n = 0};
    for (unsigned en = 0; en < c->engines.n; en++)
        for (size_t v = 0; v < c->ncombos; v++) {
            struct config proto = {.subj = {base->name, base->params, base},
                                   .engine = (enum eng_kind)c->engines.v[en],
                                   .baseline_only = true};
            struct combo vars;
            make_combo(c->vars.l, vhave, c->vars.n, c->combos[v], &vars);
            int rc = add_config(c, &proto, &none, &vars, e);
            if (rc) return rc;
        }
    return 0;
}

/* Each cell's baseline: the lock-free cell of the same engine and variables. */
static void link_baselines(struct compare *c)
{
    for (size_t i = 0; i < c->nconfigs; i++) {
        struct config *cfg = &c->configs[i];
        cfg->baseline = NULL;
        for (size_t k = 0; k < c->nconfigs && !cfg->baseline; k++) {
            const struct config *b = &c->configs[k];
            bool same = lock_free(&b->subj) && b->engine == cfg->engine && b->nvars == cfg->nvars &&
                        b->nassign == 0;
            for (unsigned v = 0; same && v < b->nvars; v++)
                same = strcmp(b->vars[v], cfg->vars[v]) == 0;
            if (same) cfg->baseline = b;
        }
    }
}

/* The virtual runs' machine: the file and every --machine-set, checked now. */
static int check_machine(const struct compare *c, struct err *e)
{
    struct machine m;
    mach_defaults(&m);
    if (c->machine && mach_load(&m, c->machine, e) != 0) return e->status;
    for (unsigned i = 0; i < c->machine_sets.n; i++)
        if (mach_set(&m, c->machine_sets.v[i], e) != 0) return e->status;
    return 0;
}

static int check_options(struct compare *c, const struct subject *seen, unsigned n, struct err *e)
{
    for (unsigned i = 0; i < c->sets.n; i++) {
        bool used = false;
        for (unsigned k = 0; k < n; k++)
            used |= subject_has(&seen[k], c->sets.l[i].name);
        if (!used)
            return err_set(e, ERR_INPUT, "--set %s: none of the chosen policies has this parameter",
                           c->sets.l[i].name);
    }
    bool has_virtual = false;
    for (unsigned en = 0; en < c->engines.n; en++)
        has_virtual |= (enum eng_kind)c->engines.v[en] == ENG_VIRTUAL;
    if (!has_virtual && (c->machine || c->machine_sets.n))
        return err_set(e, ERR_INPUT,
                       "%s: only the virtual engine has a modelled machine (add --engine virtual)",
                       c->machine ? "--machine" : "--machine-set");
    c->engine_in_names = c->engines.n > 1 || c->engines.v[0] != ENG_REAL;
    return has_virtual ? check_machine(c, e) : 0;
}

int compare_plan_columns(struct compare *c, const char *policies, struct err *e)
{
    struct subject seen[COMPARE_MAX_POLICIES];
    unsigned n = 0;
    int rc;
    if ((rc = parse_policy_list(policies, seen, &n, e)) || (rc = check_options(c, seen, n, e)) ||
        (rc = plan_var_combos(c, e)))
        return rc;
    for (unsigned i = 0; i < n; i++) {
        if (lock_free(&seen[i])) {
            c->baseline_requested = true;
            c->baseline_name = seen[i].name;
        }
        for (unsigned en = 0; en < c->engines.n && !rc; en++) {
            if (!seen[i].policy && (enum eng_kind)c->engines.v[en] == ENG_VIRTUAL) {
                note(c, "cpython runs on real interpreter threads only: no virtual cells for it");
                continue;
            }
            rc = expand_subject(c, &seen[i], (enum eng_kind)c->engines.v[en], e);
        }
        if (rc) return rc;
    }
    if (!c->baseline_requested && (rc = add_baselines(c, e))) return rc;
    link_baselines(c);
    return 0;
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
    if (total > COMPARE_MAX_RUNS)
        return err_set(e, ERR_INPUT, "%zu runs: at most %d in one sweep", total, COMPARE_MAX_RUNS);
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
        c->runs[i].status = -1;
        for (int k = 0; k < NKM; k++)
            c->runs[i].value[k] = NAN;
    }
    return 0;
}
