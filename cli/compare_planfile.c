/* cli/compare_planfile.c - DIR/plan.json, the plan of a sweep (docs/sweeps.md): the options
 * that make it (with absolute paths, so that a run can start from any directory on any node
 * of a cluster), every cell, and every run with its full command line, under an identity of
 * its own (a random id that every result of the plan carries). `--run` and `--collect` read it
 * back refusing anything a plan would not hold (another format or version, an option that does
 * not make a plan, no workload SHA-256), rebuild the plan from the options and check it against
 * the runs listed. And how every file of DIR is read: never through a symlink, never waiting on
 * a FIFO. */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/compare.h"
#include "common/jparse.h"
#include "common/outfile.h"
#include "common/utc.h"

#define PLAN_NAME      "plan.json"
#define PLAN_MAX_BYTES (256u << 20)
#define PLAN_VERSION   2 /* 2: the plan's id, the workload's SHA-256 required */

/* A string into argv; a string that cannot be JSON text (not UTF-8) leaves a null, which the
 * check of the argv finds (never a shorter command line). */
static void push(json_t *argv, const char *s)
{
    json_t *v = json_string(s);
    json_array_append_new(argv, v ? v : json_null());
}

/* "name=v1,v2,..." of a list option, whatever its length. */
static void push_list(json_t *argv, const char *opt, const struct cmp_list *l)
{
    size_t len = strlen(l->name) + 2;
    for (unsigned k = 0; k < l->nvalues; k++)
        len += strlen(l->values[k]) + 1;
    char *buf = malloc(len);
    if (!buf) {
        json_array_append_new(argv, json_null());
        return;
    }
    size_t n = (size_t)snprintf(buf, len, "%s=", l->name);
    for (unsigned k = 0; k < l->nvalues; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? "," : "", l->values[k]);
    push(argv, opt);
    push(argv, buf);
    free(buf);
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
    return json_pack("{ss sI ss ss ss so s{ss ss ss} sI sI so so}", "format", "gilsim-compare-plan",
                     "version", (json_int_t)PLAN_VERSION, "id", p->id, "created_utc", created,
                     "gilsim", p->exe, "options", plan_argv(p), "workload", "name", p->wl->name,
                     "path", p->req->workload, "sha256", p->wl->sha256, "cells_total",
                     (json_int_t)p->ncells, "runs_total", (json_int_t)p->nruns, "cells", cells,
                     "runs", runs);
}

/* Whether argv (a command line the plan lists) holds only strings: a path that is not UTF-8
 * leaves a null (push). */
bool cmp_argv_ok(json_t *argv)
{
    size_t i;
    json_t *v;
    json_array_foreach(argv, i, v) if (!json_is_string(v)) return false;
    return json_array_size(argv) > 0;
}

int cmp_write_plan(struct cmp_plan *p, struct err *e)
{
    unsigned char id[16];
    if (getrandom(id, sizeof id, 0) != (ssize_t)sizeof id)
        return err_set(e, ERR_RUNTIME, "cannot draw the plan's id: %s", strerror(errno));
    for (size_t i = 0; i < sizeof id; i++)
        snprintf(p->id + 2 * i, 3, "%02x", id[i]);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", p->dir, PLAN_NAME);
    json_t *doc = plan_json(p);
    if (!doc) return err_set(e, ERR_RUNTIME, "out of memory");
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(doc, "runs"), i, run)
    {
        if (cmp_argv_ok(json_object_get(run, "argv"))) continue;
        json_decref(doc);
        return err_set(e, ERR_INPUT, "run %zu: a path of its command line is not UTF-8", i);
    }
    const char *inputs[] = {p->req->workload, p->req->machine, NULL};
    int rc = cli_write_json(path, OUTFILE_REPLACE, inputs, doc, e);
    json_decref(doc);
    return rc;
}

int cmp_read_dir_file(const char *dir, const char *name, size_t max, char **text, size_t *len,
                      struct err *e)
{
    char path[PATH_MAX + 700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    *text = NULL;
    /* O_NONBLOCK: a FIFO planted at the name is found by fstat, not waited on */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    int err = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : 0;
    if (!err && (!S_ISREG(st.st_mode) || (size_t)st.st_size > max))
        err = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
    if (err) {
        if (fd >= 0) close(fd);
        return err_set(e, err == ENOENT ? ERR_INPUT : err_status_of_errno(err), "%s: %s", path,
                       err == ELOOP    ? "a symlink, not followed"
                       : err == EINVAL ? "not a regular file"
                       : err == EFBIG  ? "larger than a file compare writes"
                                       : strerror(err));
    }
    *text = malloc((size_t)st.st_size + 1);
    ssize_t n = *text ? read(fd, *text, (size_t)st.st_size) : -1;
    err = errno;
    close(fd);
    if (n != st.st_size) {
        free(*text);
        *text = NULL;
        return err_set(e, ERR_RUNTIME, "%s: cannot read: %s", path,
                       n < 0 ? strerror(err) : "it changed while read");
    }
    (*text)[n] = '\0';
    *len = (size_t)n;
    return 0;
}

/* The options a plan holds (plan_argv): the workload, then pairs of an option that makes a plan
 * and its value. Anything else (--help, --run, -o, a flag) was not written by a plan. */
static int check_plan_options(const char *path, json_t *opts, struct err *e)
{
    static const char *const made_by[] = {"--policies", "--reference",   "--set",     "--var",
                                          "--engine",   "--machine",     "--seeds",   "--repeat",
                                          "--seed",     "--machine-set", "--duration"};
    const char *wl = json_string_value(json_array_get(opts, 0));
    if (!wl || wl[0] != '/')
        return err_set(e, ERR_INPUT, "%s: $.options[0]: expected the workload's absolute path",
                       path);
    for (size_t i = 1; i < json_array_size(opts); i += 2) {
        const char *opt = json_string_value(json_array_get(opts, i));
        bool known = false;
        for (size_t k = 0; opt && k < sizeof made_by / sizeof *made_by; k++)
            known |= strcmp(opt, made_by[k]) == 0;
        if (!known || !json_is_string(json_array_get(opts, i + 1)))
            return err_set(e, ERR_INPUT,
                           "%s: $.options[%zu]: %s%s%s: a plan holds only the options that make "
                           "it, each with its value (plan again)",
                           path, i, opt ? "unexpected '" : "expected a string", opt ? opt : "",
                           opt ? "'" : "");
    }
    return 0;
}

/* s is n lowercase hexadecimal digits. */
static bool is_hex(const char *s, size_t n)
{
    return s && strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* What --run and --collect rely on: the format and version, the plan's id, the workload's
 * SHA-256, the runs and the options. */
static int check_plan_doc(const char *path, json_t *doc, struct err *e)
{
    json_t *format = json_object_get(doc, "format"), *version = json_object_get(doc, "version");
    json_t *opts = json_object_get(doc, "options");
    const char *sha =
        json_string_value(json_object_get(json_object_get(doc, "workload"), "sha256"));
    if (!json_is_string(format) || strcmp(json_string_value(format), "gilsim-compare-plan") != 0)
        return err_set(e, ERR_INPUT, "%s: not a gilsim-compare-plan", path);
    if (!json_is_integer(version) || json_integer_value(version) != PLAN_VERSION)
        return err_set(e, ERR_INPUT,
                       "%s: $.version: expected %d (a plan of another gilsim version: plan again "
                       "with this one)",
                       path, PLAN_VERSION);
    if (!is_hex(json_string_value(json_object_get(doc, "id")), CMP_PLAN_ID_LEN))
        return err_set(e, ERR_INPUT, "%s: $.id: expected the plan's id, %d hexadecimal digits",
                       path, CMP_PLAN_ID_LEN);
    if (!is_hex(sha, 64))
        return err_set(e, ERR_INPUT,
                       "%s: $.workload.sha256: expected the workload's SHA-256 (64 hexadecimal "
                       "digits): without it a changed workload would pass",
                       path);
    if (!json_is_array(json_object_get(doc, "runs")))
        return err_set(e, ERR_INPUT, "%s: $.runs: expected the runs", path);
    if (!json_is_array(opts) || json_array_size(opts) % 2 != 1)
        return err_set(e, ERR_INPUT, "%s: $.options: expected the workload and option pairs", path);
    return check_plan_options(path, opts, e);
}

int cmp_read_plan(const char *dir, json_t **plan, struct err *e)
{
    char path[PATH_MAX + 32], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, PLAN_NAME);
    int rc = cmp_read_dir_file(dir, PLAN_NAME, PLAN_MAX_BYTES, &text, &len, e);
    if (rc == ERR_INPUT) { /* "PATH: why" */
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s",
                 e->msg + (strncmp(e->msg, path, strlen(path)) == 0 && e->msg[strlen(path)] == ':'
                               ? strlen(path) + 2
                               : 0));
        return err_set(e, rc,
                       "%s: cannot read the plan: %s (make one with `gilsim compare ... --plan "
                       "-o DIR`)",
                       path, why);
    }
    if (rc) return rc;
    json_t *doc = NULL;
    struct jp_error jerr;
    enum jp_status js = jp_parse(text, len, JP_REJECT_DUPLICATES, &doc, &jerr);
    free(text);
    if (js != JP_OK)
        return err_set(e, js == JP_NOMEM ? ERR_RUNTIME : ERR_INPUT, "%s:%d:%d: %s", path, jerr.line,
                       jerr.col, jerr.text);
    if ((rc = check_plan_doc(path, doc, e)) != 0) {
        json_decref(doc);
        return rc;
    }
    *plan = doc;
    return 0;
}

int cmp_check_plan(struct cmp_plan *p, json_t *plan, struct err *e)
{
    const char *sha =
        json_string_value(json_object_get(json_object_get(plan, "workload"), "sha256"));
    snprintf(p->id, sizeof p->id, "%s", json_string_value(json_object_get(plan, "id")));
    if (strcmp(sha, p->wl->sha256) != 0)
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
