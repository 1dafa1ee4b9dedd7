/* cli/compare_plan.c - what `gilsim compare` will run, made from a request (struct cmp_plan):
 * the cells (each chosen policy under each engine, once per combination of the --set values it
 * has a parameter for and of the --var values; an extra lock-free baseline per engine and
 * variable combination when no lock-free policy was chosen), the run list (the baselines first,
 * then repeat by repeat, every cell in turn, repeat r with its own seed: cmp_seed_of), every
 * run's trace name and command line, and the
 * paths (the workload's and machine's, the directory, this gilsim, cpython's interpreter).
 * Everything is validated here, before anything runs: every combination of --var values is
 * read into the workload once. The plan is a function of the request alone, so `--run` and
 * `--collect` rebuild it from the options the plan file keeps; once made it is not changed. */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/compare.h"
#include "common/utc.h"
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
static const struct cmp_subject cpython = {"cpython", cpython_params, NULL};

/* The plan while it is made: its request, and the combinations of --var values. */
struct builder {
    const struct cmp_request *req;
    struct cmp_plan *p;
    unsigned (*combos)[WL_MAX_VARS]; /* every combination of --var values (value indices) */
    size_t ncombos;
    size_t cap_cells;
};

static bool lock_free(const struct cmp_subject *s)
{
    return s->policy && (s->policy->flags & GIL_POLICY_NO_LOCK);
}

static void note(struct builder *b, const char *text)
{
    json_array_append_new(b->p->notes, json_string(text));
}

static bool subject_has(const struct cmp_subject *s, const char *name)
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
static int plan_var_combos(struct builder *b, struct err *e)
{
    const struct cmp_lists *vars = &b->req->vars;
    unsigned idx[WL_MAX_VARS] = {0}, have[WL_MAX_VARS];
    for (unsigned k = 0; k < vars->n; k++)
        have[k] = k;
    size_t total = 1;
    for (unsigned k = 0; k < vars->n && total <= CMP_MAX_CELLS; k++)
        total *= vars->l[k].nvalues;
    if (total > CMP_MAX_CELLS)
        return err_set(e, ERR_INPUT, "--var: at most %d combinations", CMP_MAX_CELLS);
    if (!(b->combos = calloc(total, sizeof *b->combos)))
        return err_set(e, ERR_RUNTIME, "out of memory");
    do {
        struct combo cb;
        make_combo(vars->l, have, vars->n, idx, &cb);
        struct wl_workload *wl = NULL;
        int rc = wl_load_vars(b->req->workload, (const char *const *)cb.assign, cb.n, &wl, e);
        wl_free(wl);
        if (rc) return rc;
        memcpy(b->combos[b->ncombos++], idx, sizeof idx);
    } while (next_combo(vars->l, have, vars->n, idx));
    return 0;
}

/* ---- cells ------------------------------------------------------------------------------- */

/* Validates every assignment now: nothing runs when one is wrong. */
static int check_assignments(const struct cmp_cell *cfg, struct err *e)
{
    struct gil_params params;
    gil_params_defaults_of(&params, cfg->subj.params);
    for (unsigned k = 0; k < cfg->nassign; k++)
        if (gil_params_set_for(&params, cfg->subj.name, cfg->assign[k], e) != 0) return e->status;
    return 0;
}

/* label "new virtual interval_us=1000 n=4", file stem "new-virtual-interval_us=1000-n=4" */
static int name_cell(const struct cmp_plan *p, struct cmp_cell *cfg, struct err *e)
{
    size_t ln = (size_t)snprintf(cfg->label, sizeof cfg->label, "%s", cfg->subj.name);
    size_t fn = (size_t)snprintf(cfg->file_stem, sizeof cfg->file_stem, "%s%s", cfg->subj.name,
                                 cfg->baseline_only ? "-baseline" : "");
    if (p->engine_in_names) {
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

static int add_cell(struct builder *b, const struct cmp_cell *proto, const struct combo *sets,
                    const struct combo *vars, struct err *e)
{
    struct cmp_plan *p = b->p;
    if (p->ncells == CMP_MAX_CELLS)
        return err_set(e, ERR_INPUT, "at most %d cells (policies x engines x values)",
                       CMP_MAX_CELLS);
    if (p->ncells == b->cap_cells) {
        size_t cap = b->cap_cells ? 2 * b->cap_cells : 16;
        struct cmp_cell *cells = realloc(p->cells, cap * sizeof *cells);
        if (!cells) return err_set(e, ERR_RUNTIME, "out of memory");
        p->cells = cells;
        b->cap_cells = cap;
    }
    struct cmp_cell *cfg = &p->cells[p->ncells++];
    *cfg = *proto;
    cfg->nassign = cfg->nvars = 0;
    for (unsigned k = 0; k < sets->n; k++)
        if ((cfg->assign[cfg->nassign] = strdup(sets->assign[k]))) cfg->nassign++;
    for (unsigned k = 0; k < vars->n; k++)
        if ((cfg->vars[cfg->nvars] = strdup(vars->assign[k]))) cfg->nvars++;
    if (cfg->nassign != sets->n || cfg->nvars != vars->n)
        return err_set(e, ERR_RUNTIME, "out of memory");
    int rc = name_cell(p, cfg, e);
    return rc ? rc : check_assignments(cfg, e);
}

/* The --set options the subject has a parameter for (into have[]); a note for each other. */
static unsigned sets_of(struct builder *b, const struct cmp_subject *subj, unsigned *have)
{
    const struct cmp_lists *sets = &b->req->sets;
    unsigned nhave = 0;
    for (unsigned i = 0; i < sets->n; i++) {
        if (subject_has(subj, sets->l[i].name)) {
            have[nhave++] = i;
        } else {
            char text[160];
            snprintf(text, sizeof text, "%s has no parameter %s: ignored for it", subj->name,
                     sets->l[i].name);
            note(b, text);
        }
    }
    return nhave;
}

/* One cell per combination of the subject's --set values and of the --var values. */
static int expand_subject(struct builder *b, const struct cmp_subject *subj, enum eng_kind engine,
                          struct err *e)
{
    const struct cmp_request *req = b->req;
    unsigned idx[CLI_MAX_SETS] = {0}, have[CLI_MAX_SETS], vhave[WL_MAX_VARS];
    unsigned nhave = sets_of(b, subj, have);
    for (unsigned k = 0; k < req->vars.n; k++)
        vhave[k] = k;
    struct cmp_cell proto = {.subj = *subj, .engine = engine};
    do {
        struct combo sets;
        make_combo(req->sets.l, have, nhave, idx, &sets);
        for (size_t v = 0; v < b->ncombos; v++) {
            struct combo vars;
            make_combo(req->vars.l, vhave, req->vars.n, b->combos[v], &vars);
            int rc = add_cell(b, &proto, &sets, &vars, e);
            if (rc) return rc;
        }
    } while (next_combo(req->sets.l, have, nhave, idx));
    return 0;
}

/* The comma-separated --policies list into seen[] (each name once); returns how many. */
static int parse_policy_list(const char *list, struct cmp_subject *seen, unsigned *n, struct err *e)
{
    char *copy = strdup(list), *save = NULL;
    int rc = 0;
    if (!copy) return err_set(e, ERR_RUNTIME, "out of memory");
    for (char *name = strtok_r(copy, ",", &save); name && !rc; name = strtok_r(NULL, ",", &save)) {
        const struct gil_policy *p = gil_policy_find(name);
        struct cmp_subject s = p ? (struct cmp_subject){p->name, p->params, p} : cpython;
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
        if (!rc && *n == CMP_MAX_POLICIES)
            rc = err_set(e, ERR_INPUT, "--policies: at most %d", CMP_MAX_POLICIES);
        if (!rc) seen[(*n)++] = s;
    }
    free(copy);
    if (!rc && !*n) rc = err_set(e, ERR_INPUT, "--policies: expected a comma-separated list");
    return rc;
}

/* The convoy factor's denominator when no lock-free policy was chosen: one extra run of the
 * registry's lock-free policy per engine and combination of variables. */
static int add_baselines(struct builder *b, struct err *e)
{
    const struct cmp_request *req = b->req;
    const struct gil_policy *base = NULL;
    const struct gil_policy *p;
    for (size_t i = 0; (p = gil_policy_at(i)) && !base; i++)
        if (p->flags & GIL_POLICY_NO_LOCK) base = p;
    if (!base) return 0;
    b->p->baseline_name = base->name;
    unsigned vhave[WL_MAX_VARS];
    for (unsigned k = 0; k < req->vars.n; k++)
        vhave[k] = k;
    struct combo none = {.n = 0};
    for (unsigned en = 0; en < req->engines.n; en++)
        for (size_t v = 0; v < b->ncombos; v++) {
            struct cmp_cell proto = {.subj = {base->name, base->params, base},
                                     .engine = (enum eng_kind)req->engines.v[en],
                                     .baseline_only = true};
            struct combo vars;
            make_combo(req->vars.l, vhave, req->vars.n, b->combos[v], &vars);
            int rc = add_cell(b, &proto, &none, &vars, e);
            if (rc) return rc;
        }
    return 0;
}

const char *cmp_assigned(char *const *assign, unsigned n, const char *name)
{
    size_t len = strlen(name);
    for (unsigned k = 0; k < n; k++)
        if (strncmp(assign[k], name, len) == 0 && assign[k][len] == '=') return assign[k] + len + 1;
    return NULL;
}

/* The same engine and workload variables. */
static bool same_run_of(const struct cmp_cell *a, const struct cmp_cell *b)
{
    if (a->engine != b->engine || a->nvars != b->nvars) return false;
    for (unsigned v = 0; v < a->nvars; v++)
        if (strcmp(a->vars[v], b->vars[v]) != 0) return false;
    return true;
}

/* Whether b is c's baseline: the lock-free cell (no parameters) of the same engine and
 * variables. */
static bool baseline_of(const struct cmp_cell *b, const struct cmp_cell *c)
{
    return lock_free(&b->subj) && b->nassign == 0 && same_run_of(b, c);
}

/* Whether r can be c's reference: a cell of the reference policy with the same engine and
 * variables and the same value of every --set parameter both have. */
static bool reference_of(const struct cmp_plan *p, const struct cmp_cell *r,
                         const struct cmp_cell *c)
{
    if (r->baseline_only || strcmp(r->subj.name, p->reference_name) != 0 || !same_run_of(r, c))
        return false;
    for (unsigned i = 0; i < p->req->sets.n; i++) {
        const char *name = p->req->sets.l[i].name, *a = cmp_assigned(r->assign, r->nassign, name),
                   *b = cmp_assigned(c->assign, c->nassign, name);
        if (a && b && strcmp(a, b) != 0) return false;
    }
    return true;
}

/* Each cell's baseline and reference (the first cell that can be, the reference unless it is
 * the cell itself; the extra baselines have none). */
static void link_cells(struct cmp_plan *p)
{
    for (size_t i = 0; i < p->ncells; i++) {
        struct cmp_cell *c = &p->cells[i];
        bool ref_found = c->baseline_only;
        c->baseline = c->reference = NULL;
        for (size_t k = 0; k < p->ncells; k++) {
            const struct cmp_cell *o = &p->cells[k];
            if (!c->baseline && baseline_of(o, c)) c->baseline = o;
            if (!ref_found && reference_of(p, o, c)) {
                ref_found = true;
                c->reference = o != c ? o : NULL;
            }
        }
    }
}

/* --reference names one of the policies; by default the first. */
static int pick_reference(struct builder *b, const struct cmp_subject *seen, unsigned n,
                          struct err *e)
{
    const char *want = b->req->reference ? b->req->reference : seen[0].name;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(seen[i].name, want) == 0) {
            b->p->reference_name = seen[i].name;
            return 0;
        }
    return err_set(e, ERR_INPUT, "--reference %s: expected one of the policies of --policies (%s)",
                   want, b->req->policies);
}

/* The virtual runs' machine: the file and every --machine-set, checked now. */
static int check_machine(const struct cmp_request *req, struct err *e)
{
    struct machine m;
    mach_defaults(&m);
    if (req->machine && mach_load(&m, req->machine, e) != 0) return e->status;
    for (unsigned i = 0; i < req->machine_sets.n; i++)
        if (mach_set(&m, req->machine_sets.v[i], e) != 0) return e->status;
    return 0;
}

static int check_options(struct builder *b, const struct cmp_subject *seen, unsigned n,
                         struct err *e)
{
    const struct cmp_request *req = b->req;
    for (unsigned i = 0; i < req->sets.n; i++) {
        bool used = false;
        for (unsigned k = 0; k < n; k++)
            used |= subject_has(&seen[k], req->sets.l[i].name);
        if (!used)
            return err_set(e, ERR_INPUT, "--set %s: none of the chosen policies has this parameter",
                           req->sets.l[i].name);
    }
    bool has_virtual = false;
    for (unsigned en = 0; en < req->engines.n; en++)
        has_virtual |= (enum eng_kind)req->engines.v[en] == ENG_VIRTUAL;
    if (!has_virtual && (req->machine || req->machine_sets.n))
        return err_set(e, ERR_INPUT,
                       "%s: only the virtual engine has a modelled machine (add --engine virtual)",
                       req->machine ? "--machine" : "--machine-set");
    b->p->engine_in_names = req->engines.n > 1 || req->engines.v[0] != ENG_REAL;
    char path[4200];
    if (has_virtual && !req->machine && !mach_host_calibrated(path, sizeof path))
        note(b, "the virtual cells run on the built-in machine (the development VM's calibration, "
                "workloads/machines/vm-2cpu.json): this host has never been calibrated "
                "(tools/calibrate; then --machine)");
    return has_virtual ? check_machine(req, e) : 0;
}

/* The cells: every chosen policy under every engine, expanded; the extra baselines. */
static int plan_cells(struct builder *b, struct err *e)
{
    const struct cmp_request *req = b->req;
    struct cmp_subject seen[CMP_MAX_POLICIES];
    unsigned n = 0;
    int rc;
    if ((rc = parse_policy_list(req->policies, seen, &n, e)) ||
        (rc = pick_reference(b, seen, n, e)) || (rc = check_options(b, seen, n, e)) ||
        (rc = plan_var_combos(b, e)))
        return rc;
    for (unsigned i = 0; i < n; i++) {
        if (lock_free(&seen[i])) {
            b->p->baseline_requested = true;
            b->p->baseline_name = seen[i].name;
        }
        for (unsigned en = 0; en < req->engines.n && !rc; en++) {
            if (!seen[i].policy && (enum eng_kind)req->engines.v[en] == ENG_VIRTUAL) {
                note(b, "cpython runs on real interpreter threads only: no virtual cells for it");
                continue;
            }
            rc = expand_subject(b, &seen[i], (enum eng_kind)req->engines.v[en], e);
        }
        if (rc) return rc;
    }
    if (!b->p->baseline_requested && (rc = add_baselines(b, e))) return rc;
    link_cells(b->p);
    return 0;
}

/* ---- runs and paths ------------------------------------------------------------------------ */

/* The trace of each run, relative to the directory. */
static void name_trace(struct cmp_run *r)
{
    if (r->cell->baseline_only)
        snprintf(r->trace, sizeof r->trace, "%s.json", r->cell->file_stem);
    else
        snprintf(r->trace, sizeof r->trace, "%s-r%u.json", r->cell->file_stem, r->repeat);
}

static int plan_runs(struct cmp_plan *p, struct err *e)
{
    size_t total = 0;
    for (size_t i = 0; i < p->ncells; i++)
        total += p->cells[i].baseline_only ? 1 : p->req->repeat;
    if (total > CMP_MAX_RUNS)
        return err_set(e, ERR_INPUT, "%zu runs: at most %d in one sweep", total, CMP_MAX_RUNS);
    p->runs = calloc(total, sizeof *p->runs);
    if (!p->runs) return err_set(e, ERR_RUNTIME, "out of memory");
    /* the extra baselines run once, with the first seed */
    for (size_t i = 0; i < p->ncells; i++)
        if (p->cells[i].baseline_only)
            p->runs[p->nruns++] =
                (struct cmp_run){.cell = &p->cells[i], .repeat = 1, .seed = cmp_seed_of(p->req, 1)};
    for (unsigned r = 1; r <= p->req->repeat; r++)
        for (size_t i = 0; i < p->ncells; i++)
            if (!p->cells[i].baseline_only)
                p->runs[p->nruns++] = (struct cmp_run){
                    .cell = &p->cells[i], .repeat = r, .seed = cmp_seed_of(p->req, r)};
    for (size_t i = 0; i < p->nruns; i++)
        name_trace(&p->runs[i]);
    return 0;
}

/* When a cpython cell is planned: the interpreter and tools/pyrun, found like `gilsim report`
 * finds tools/report (GILSIM_PYTHON, GILSIM_TOOLS_DIR), checked before anything runs. */
static int find_pyrun(struct cmp_plan *p, struct err *e)
{
    bool wanted = false;
    for (size_t i = 0; i < p->ncells; i++)
        wanted |= !p->cells[i].subj.policy;
    if (!wanted) return 0;
    if (cli_find_tool("pyrun", p->pyrun, sizeof p->pyrun, e) != 0 ||
        cli_find_python("GILSIM_PYTHON", "policy cpython: the interpreter to measure", p->python,
                        sizeof p->python, e) != 0)
        return e->status;
    return 0;
}

/* The default directory: results/compare-<workload>-<UTC stamp> (results/ made now). */
static int default_dir(struct cmp_plan *p, struct err *e)
{
    char stamp[32];
    utc_stamp(stamp, sizeof stamp, UTC_BASIC, 3);
    if (cli_results_dir() != 0)
        return err_set(e, ERR_INPUT, "results: cannot create: %s", strerror(errno));
    snprintf(p->dir_buf, sizeof p->dir_buf, "results/compare-%s-%s", p->wl->name, stamp);
    p->dir = p->dir_buf;
    return 0;
}

static int make(struct builder *b, const char *dir, struct err *e)
{
    struct cmp_plan *p = b->p;
    const struct cmp_request *req = b->req;
    int rc;
    if (!realpath(req->workload, p->workload_abs))
        snprintf(p->workload_abs, sizeof p->workload_abs, "%s", req->workload);
    if (req->machine && !realpath(req->machine, p->machine_abs))
        snprintf(p->machine_abs, sizeof p->machine_abs, "%s", req->machine);
    if ((rc = plan_cells(b, e)) || (rc = wl_load(req->workload, &p->wl, e)) ||
        (rc = cli_self_exe(p->exe, sizeof p->exe, e)) || (rc = find_pyrun(p, e)) ||
        (rc = plan_runs(p, e)))
        return rc;
    p->dir = dir;
    return dir ? 0 : default_dir(p, e);
}

int cmp_plan_make(const struct cmp_request *req, const char *dir, struct cmp_plan **out,
                  struct err *e)
{
    struct builder b = {.req = req, .p = calloc(1, sizeof *b.p)};
    *out = NULL;
    if (!b.p || !(b.p->notes = json_array())) {
        free(b.p);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    b.p->req = req;
    int rc = make(&b, dir, e);
    free(b.combos);
    if (rc) {
        cmp_plan_free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}

void cmp_plan_free(struct cmp_plan *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->ncells; i++) {
        for (unsigned k = 0; k < p->cells[i].nassign; k++)
            free(p->cells[i].assign[k]);
        for (unsigned k = 0; k < p->cells[i].nvars; k++)
            free(p->cells[i].vars[k]);
    }
    free(p->cells);
    free(p->runs);
    json_decref(p->notes);
    wl_free(p->wl);
    free(p);
}

uint64_t cmp_seed_of(const struct cmp_request *req, unsigned r)
{
    return req->seeds.n ? req->seeds.v[r - 1] : req->seed + (r - 1);
}

void cmp_file_beside(const char *trace, const char *suffix, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s%s", (int)(strlen(trace) - 5), trace, suffix);
}

static void push(json_t *argv, const char *s)
{
    json_array_append_new(argv, json_string(s));
}

static void push2(json_t *argv, const char *opt, const char *value)
{
    push(argv, opt);
    push(argv, value);
}

/* `gilsim run WORKLOAD --policy P ...`, or `python tools/pyrun WORKLOAD ...` (no policy, real
 * threads only). */
json_t *cmp_child_argv(const struct cmp_plan *p, const struct cmp_run *r, const char *dir)
{
    const struct cmp_request *req = p->req;
    const struct cmp_cell *cell = r->cell;
    json_t *argv = json_array();
    char buf[PATH_MAX + 700];
    push(argv, cell->subj.policy ? p->exe : p->python);
    push(argv, cell->subj.policy ? "run" : p->pyrun);
    push(argv, p->workload_abs);
    if (cell->subj.policy) push2(argv, "--policy", cell->subj.name);
    if (cell->engine == ENG_VIRTUAL) {
        push2(argv, "--engine", "virtual");
        if (req->machine) push2(argv, "--machine", p->machine_abs);
        for (unsigned k = 0; k < req->machine_sets.n; k++)
            push2(argv, "--machine-set", req->machine_sets.v[k]);
    }
    for (unsigned k = 0; k < cell->nassign; k++)
        push2(argv, "--set", cell->assign[k]);
    for (unsigned k = 0; k < cell->nvars; k++)
        push2(argv, "--var", cell->vars[k]);
    if (req->duration_ms) {
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)req->duration_ms);
        push2(argv, "--duration", buf);
    }
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->seed);
    push2(argv, "--seed", buf);
    snprintf(buf, sizeof buf, "%s/.partial/%s", dir, r->trace);
    push2(argv, "-o", buf);
    push(argv, "-q");
    return argv;
}
