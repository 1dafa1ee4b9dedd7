/* cli/compare_planfile.c - DIR/plan.json, the plan of a sweep (docs/sweeps.md): the options
 * that make it (with absolute paths, so that a run can start from any directory on any node
 * of a cluster), every cell, and every run with its full command line. `--run` and
 * `--collect` rebuild the plan from the options and check it against the runs listed. */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/compare.h"
#include "common/jparse.h"
#include "common/utc.h"

#define PLAN_NAME      "plan.json"
#define PLAN_MAX_BYTES (256u << 20)

static void push(json_t *argv, const char *s)
{
    json_array_append_new(argv, json_string(s));
}

/* "name=v1,v2,..." of a list option. */
static void push_list(json_t *argv, const char *opt, const struct cmp_list *l)
{
    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s=", l->name);
    for (unsigned k = 0; k < l->nvalues && n < sizeof buf; k++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", k ? "," : "", l->values[k]);
    push(argv, opt);
    push(argv, buf);
}

/* "--seeds S1,S2,...": every repeat's seed (at most CMP_MAX_REPEAT of 20 digits). */
static void push_seeds(json_t *argv, const struct cmp_request *req)
{
    char *buf = malloc(req->seeds.n * 22 + 1);
    size_t n = 0;
    for (unsigned k = 0; buf && k < req->seeds.n; k++)
        n += (size_t)sprintf(buf + n, "%s%llu", k ? "," : "", (unsigned long long)req->seeds.v[k]);
    push(argv, "--seeds");
    push(argv, buf ? buf : "");
    free(buf);
}

/* The options that rebuild the plan (absolute paths), as a JSON array of strings. */
static json_t *plan_argv(const struct cmp_plan *p)
{
    const struct cmp_request *req = p->req;
    json_t *argv = json_array();
    char num[32];
    push(argv, p->workload_abs);
    push(argv, "--policies");
    push(argv, req->policies);
    if (req->reference) {
        push(argv, "--reference");
        push(argv, req->reference);
    }
    for (unsigned i = 0; i < req->sets.n; i++)
        push_list(argv, "--set", &req->sets.l[i]);
    for (unsigned i = 0; i < req->vars.n; i++)
        push_list(argv, "--var", &req->vars.l[i]);
    push(argv, "--engine");
    char engines[64] = "";
    for (unsigned i = 0, n = 0; i < req->engines.n; i++)
        n += (unsigned)snprintf(engines + n, sizeof engines - n, "%s%s", i ? "," : "",
                                cli_engine_names[req->engines.v[i]]);
    push(argv, engines);
    if (req->machine) {
        push(argv, "--machine");
        push(argv, p->machine_abs);
    }
    for (unsigned i = 0; i < req->machine_sets.n; i++) {
        push(argv, "--machine-set");
        push(argv, req->machine_sets.v[i]);
    }
    if (req->seeds.n) {
        push_seeds(argv, req);
    } else {
        snprintf(num, sizeof num, "%llu", (unsigned long long)req->repeat);
        push(argv, "--repeat");
        push(argv, num);
        snprintf(num, sizeof num, "%llu", (unsigned long long)req->seed);
        push(argv, "--seed");
        push(argv, num);
    }
    if (req->duration_ms) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)req->duration_ms);
        push(argv, "--duration");
        push(argv, num);
    }
    return argv;
}

/* "name=value" assignments as an object; numbers stay numbers. */
static json_t *assign_json(char *const *assign, unsigned n)
{
    json_t *o = json_object();
    for (unsigned k = 0; k < n; k++) {
        const char *eq = strchr(assign[k], '=');
        char name[128], *end;
        snprintf(name, sizeof name, "%.*s", (int)(eq - assign[k]), assign[k]);
        double v = strtod(eq + 1, &end);
        json_t *val = *end                     ? json_string(eq + 1)
                      : strpbrk(eq + 1, ".eE") ? json_real(v)
                                               : json_integer((json_int_t)v);
        json_object_set_new(o, name, val);
    }
    return o;
}

/* One cell as the plan describes it. */
static json_t *cell_json(const struct cmp_plan *p, const struct cmp_cell *cfg)
{
    return json_pack("{sI ss ss ss so so sb}", "cell", (json_int_t)(cfg - p->cells), "label",
                     cfg->label, "policy", cfg->subj.name, "engine", cli_engine_names[cfg->engine],
                     "set", assign_json(cfg->assign, cfg->nassign), "vars",
                     assign_json(cfg->vars, cfg->nvars), "baseline_only", cfg->baseline_only);
}

static json_t *plan_json(const struct cmp_plan *p)
{
    char abs[PATH_MAX], created[32];
    utc_stamp(created, sizeof created, UTC_EXTENDED, 0);
    json_t *cells = json_array(), *runs = json_array();
    for (size_t i = 0; i < p->ncells; i++)
        json_array_append_new(cells, cell_json(p, &p->cells[i]));
    const char *dir = realpath(p->dir, abs) ? abs : p->dir;
    for (size_t i = 0; i < p->nruns; i++) {
        const struct cmp_run *r = &p->runs[i];
        json_array_append_new(runs, json_pack("{sI sI sI so ss so}", "index", (json_int_t)i, "cell",
                                              (json_int_t)(r->cell - p->cells), "repeat",
                                              (json_int_t)r->repeat, "seed",
                                              json_integer((json_int_t)r->seed), "trace", r->trace,
                                              "argv", cmp_child_argv(p, r, dir)));
    }
    return json_pack("{ss sI ss ss so s{ss ss ss} sI sI so so}", "format", "gilsim-compare-plan",
                     "version", (json_int_t)1, "created_utc", created, "gilsim", p->exe, "options",
                     plan_argv(p), "workload", "name", p->wl->name, "path", p->req->workload,
                     "sha256", p->wl->sha256, "cells_total", (json_int_t)p->ncells, "runs_total",
                     (json_int_t)p->nruns, "cells", cells, "runs", runs);
}

int cmp_write_plan(const struct cmp_plan *p, struct err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", p->dir, PLAN_NAME);
    json_t *doc = plan_json(p);
    if (!doc) return err_set(e, ERR_RUNTIME, "out of memory");
    const char *inputs[] = {p->req->workload, NULL};
    int rc = cli_write_json(path, inputs, doc, e);
    json_decref(doc);
    return rc;
}

static int read_file(const char *path, char **text, size_t *len, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > PLAN_MAX_BYTES) {
        int err = fd < 0 ? errno : EINVAL;
        if (fd >= 0) close(fd);
        return err_set(e, ERR_INPUT,
                       "%s: cannot read the plan: %s (make one with `gilsim "
                       "compare ... --plan -o DIR`)",
                       path, strerror(err));
    }
    *text = malloc((size_t)st.st_size + 1);
    ssize_t n = *text ? read(fd, *text, (size_t)st.st_size) : -1;
    close(fd);
    if (n != st.st_size) {
        free(*text);
        return err_set(e, ERR_RUNTIME, "%s: cannot read: %s", path, strerror(errno));
    }
    *len = (size_t)n;
    return 0;
}

int cmp_read_plan(const char *dir, json_t **plan, struct err *e)
{
    char path[PATH_MAX + 32], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, PLAN_NAME);
    int rc = read_file(path, &text, &len, e);
    if (rc) return rc;
    json_t *doc = NULL;
    struct jp_error jerr;
    enum jp_status js = jp_parse(text, len, 0, &doc, &jerr);
    free(text);
    if (js != JP_OK)
        return err_set(e, js == JP_NOMEM ? ERR_RUNTIME : ERR_INPUT, "%s:%d:%d: %s", path, jerr.line,
                       jerr.col, jerr.text);
    json_t *format = json_object_get(doc, "format"), *opts = json_object_get(doc, "options");
    bool ok = json_is_string(format) &&
              strcmp(json_string_value(format), "gilsim-compare-plan") == 0 &&
              json_is_array(opts) && json_array_size(opts) > 0 &&
              json_is_array(json_object_get(doc, "runs"));
    for (size_t i = 0; ok && i < json_array_size(opts); i++)
        ok = json_is_string(json_array_get(opts, i));
    if (ok) {
        *plan = doc;
        return 0;
    }
    json_decref(doc);
    return err_set(e, ERR_INPUT, "%s: not a gilsim-compare-plan (no options to rebuild it)", path);
}

int cmp_check_plan(const struct cmp_plan *p, json_t *plan, struct err *e)
{
    const char *sha =
        json_string_value(json_object_get(json_object_get(plan, "workload"), "sha256"));
    if (sha && strcmp(sha, p->wl->sha256) != 0)
        return err_set(e, ERR_INPUT,
                       "%s: changed since %s/%s was made (its SHA-256 differs): plan again",
                       p->req->workload, p->dir, PLAN_NAME);
    json_t *runs = json_object_get(plan, "runs");
    bool same = json_array_size(runs) == p->nruns;
    for (size_t i = 0; same && i < p->nruns; i++) {
        json_t *run = json_array_get(runs, i), *t = json_object_get(run, "trace");
        json_t *seed = json_object_get(run, "seed"); /* plans before per-run seeds had none */
        same = json_is_string(t) && strcmp(json_string_value(t), p->runs[i].trace) == 0 &&
               (!seed || json_integer_value(seed) == (json_int_t)p->runs[i].seed);
    }
    if (same) return 0;
    return err_set(e, ERR_INPUT,
                   "%s/%s: its options no longer make the runs it lists (another gilsim, or the "
                   "workload changed): plan again",
                   p->dir, PLAN_NAME);
}
