/* sim/wl.c - workload reader (see wl.h).
 *
 * The toolkit of common/ reads the file and parses it (common/jparse.c, through jc_parse);
 * this file validates the tree against the format with the checker of common/jcheck.h, which
 * locates every error in the text, and compiles it into wl_op trees. */
#include "wl.h"

#include "../common/jcheck.h"
#include "wl_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A count: an integer in [1, max] or the string "forever" (or a variable: a number). */
static int get_count(struct jc_ctx *c, json_t *obj, const char *key, bool required, int64_t max,
                     uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (v && jc_is_var_ref(v)) v = NULL; /* jc_get_integer resolves it */
    if (v && json_is_string(v)) {
        if (strcmp(json_string_value(v), "forever") == 0) {
            *out = WL_FOREVER;
            return 0;
        }
        return jc_fail_key(c, key, false, "expected a positive integer or \"forever\", got \"%s\"",
                           json_string_value(v));
    }
    if (v && !json_is_integer(v))
        return jc_fail_key(c, key, false, "expected a positive integer or \"forever\", got %s",
                           jc_type_name(v));
    int64_t n = 0;
    int rc = jc_get_integer(c, obj, key, required, 1, max, "iterations", &n);
    if (!rc && json_object_get(obj, key)) *out = (uint64_t)n;
    return rc;
}

/* ---- ops ------------------------------------------------------------------------------- */

#define MAX_US (86400.0 * 1e6) /* 24 h */

static int parse_ops(struct wl_parse *p, json_t *arr, struct wl_op **out, size_t *nout, int depth);

static int us_field(struct jc_ctx *c, json_t *body, const char *key, bool required, int64_t *ns)
{
    double us = -1;
    int rc = jc_get_number(c, body, key, required, 0, MAX_US, "microseconds", &us);
    if (!rc && us >= 0) *ns = (int64_t)llround(us * 1000.0);
    return rc;
}

/* The parameters of each op kind (body: the op's object, checked to be one; the path is at
 * the kind's key). */

static int parse_cpu(struct jc_ctx *c, json_t *body, struct wl_op *op)
{
    static const char *const keys[] = {"ticks", "us", NULL};
    op->kind = WL_OP_CPU;
    int rc = jc_check_keys(c, body, keys);
    if (rc) return rc;
    bool has_ticks = json_object_get(body, "ticks"), has_us = json_object_get(body, "us");
    if (has_ticks == has_us)
        return jc_fail(c, "expected exactly one of \"ticks\" (an integer) or \"us\" (a number)");
    int64_t ticks = 0;
    if (has_ticks)
        rc = jc_get_integer(c, body, "ticks", true, 1, (int64_t)1e15, "ticks", &ticks);
    else
        rc = us_field(c, body, "us", true, &op->ns);
    op->ticks = (uint64_t)ticks;
    if (!rc && has_us && op->ns <= 0)
        rc = jc_fail_key(c, "us", false, "expected a number of microseconds greater than 0");
    return rc;
}

static int parse_io(struct jc_ctx *c, json_t *body, struct wl_op *op)
{
    static const char *const keys[] = {"us", "dist", "max_us", "peer", "send", "peer_works", NULL};
    static const char *const dists[] = {"fixed", "uniform", "exponential", NULL};
    int dist = WL_DIST_FIXED, rc;
    op->kind = WL_OP_IO;
    if ((rc = jc_check_keys(c, body, keys)) || (rc = us_field(c, body, "us", true, &op->ns)) ||
        (rc = jc_get_choice(c, body, "dist", dists, &dist)) ||
        (rc = us_field(c, body, "max_us", false, &op->max_ns)) ||
        (rc = jc_get_bool(c, body, "peer", &op->peer)) ||
        (rc = jc_get_bool(c, body, "send", &op->send)) ||
        (rc = jc_get_bool(c, body, "peer_works", &op->peer_works)))
        return rc;
    op->dist = (enum wl_dist)dist;
    if (json_object_get(body, "max_us") && op->max_ns < op->ns)
        return jc_fail_key(c, "max_us", false, "expected max_us >= us");
    if (op->send && !op->peer)
        return jc_fail_key(c, "send", false,
                           "expected \"peer\": true beside \"send\": true (the send goes to "
                           "the thread's peer)");
    if (op->peer_works && !op->peer)
        return jc_fail_key(c, "peer_works", false,
                           "expected \"peer\": true beside \"peer_works\": true (the thread's "
                           "peer does the work)");
    return 0;
}

/* sleep, native, hold: a duration only. */
static int parse_timed(struct jc_ctx *c, const char *kind, json_t *body, struct wl_op *op)
{
    static const char *const keys[] = {"us", NULL};
    op->kind = kind[0] == 's' ? WL_OP_SLEEP : kind[0] == 'n' ? WL_OP_NATIVE : WL_OP_HOLD;
    int rc = jc_check_keys(c, body, keys);
    return rc ? rc : us_field(c, body, "us", true, &op->ns);
}

/* loop and serve: a count, (serve) an arrival rate and process, and a body of ops. */
static int parse_block(struct wl_parse *p, bool is_loop, json_t *body, struct wl_op *op, int depth)
{
    struct jc_ctx *c = p->c;
    static const char *const loop_keys[] = {"count", "ops", NULL};
    static const char *const serve_keys[] = {"rate_hz", "arrivals", "count", "ops", NULL};
    static const char *const arrivals[] = {"poisson", "fixed", NULL};
    int rc;
    op->kind = is_loop ? WL_OP_LOOP : WL_OP_SERVE;
    op->count = WL_FOREVER;
    if (depth + 1 > WL_MAX_DEPTH)
        return jc_fail(c, "expected loop/serve nesting of at most %d levels", WL_MAX_DEPTH);
    if ((rc = jc_check_keys(c, body, is_loop ? loop_keys : serve_keys)) ||
        (rc = get_count(c, body, "count", is_loop, (int64_t)1e15, &op->count)))
        return rc;
    if (!is_loop) {
        int arr = WL_ARRIVALS_POISSON;
        if ((rc = jc_get_number(c, body, "rate_hz", true, 1e-3, 1e6, "requests per second",
                                &op->rate_hz)) ||
            (rc = jc_get_choice(c, body, "arrivals", arrivals, &arr)))
            return rc;
        op->arrivals = (enum wl_arrivals)arr;
    }
    json_t *ops = json_object_get(body, "ops");
    if (!ops) return jc_fail(c, "missing field \"ops\" (an array of ops)");
    if ((rc = jc_push_key(c, "ops"))) return rc;
    rc = parse_ops(p, ops, &op->body, &op->nbody, depth + 1);
    jc_pop(c);
    return rc;
}

/* send: no parameters. */
static int parse_send(struct jc_ctx *c, json_t *body, struct wl_op *op)
{
    static const char *const keys[] = {NULL};
    op->kind = WL_OP_SEND;
    return jc_check_keys(c, body, keys);
}

static int parse_op(struct wl_parse *p, json_t *obj, struct wl_op *op, int depth)
{
    static const char *const kinds[] = {"cpu",   "io",    "sleep",   "native",  "hold", "loop",
                                        "serve", "send",  "acquire", "release", "put",  "get",
                                        "set",   "clear", "wait",    "notify",  "join", NULL};
    struct jc_ctx *c = p->c;
    int rc = jc_want_object(c, obj, "an op such as {\"cpu\": {\"ticks\": 1000}}");
    if (rc) return rc;
    if (json_object_size(obj) != 1)
        return jc_fail(c, "expected an object with exactly one key, one of: cpu, io, sleep, "
                          "native, hold, loop, serve, send, acquire, release, put, get, set, "
                          "clear, wait, notify, join");
    rc = jc_check_keys(c, obj, kinds);
    if (rc) return rc;
    const char *kind = json_object_iter_key(json_object_iter(obj));
    json_t *body = json_object_iter_value(json_object_iter(obj));
    if ((rc = jc_push_key(c, kind))) return rc;
    if ((rc = jc_want_object(c, body, "the op's parameters")) == 0) {
        if (strcmp(kind, "cpu") == 0)
            rc = parse_cpu(c, body, op);
        else if (strcmp(kind, "io") == 0)
            rc = parse_io(c, body, op);
        else if (strcmp(kind, "send") == 0)
            rc = parse_send(c, body, op);
        else if (strcmp(kind, "loop") == 0 || strcmp(kind, "serve") == 0)
            rc = parse_block(p, kind[0] == 'l', body, op, depth);
        else if (wlo_is_object_op(kind))
            rc = wlo_parse_op(p, kind, body, op);
        else
            rc = parse_timed(c, kind, body, op);
    }
    jc_pop(c);
    return rc;
}

static void free_ops(struct wl_op *ops, size_t n)
{
    if (!ops) return;
    for (size_t i = 0; i < n; i++)
        free_ops(ops[i].body, ops[i].nbody);
    free(ops);
}

static int parse_ops(struct wl_parse *p, json_t *arr, struct wl_op **out, size_t *nout, int depth)
{
    struct jc_ctx *c = p->c;
    if (!json_is_array(arr))
        return jc_fail(c, "expected an array of ops, got %s", jc_type_name(arr));
    size_t n = json_array_size(arr);
    if (n == 0) return jc_fail(c, "expected at least one op");
    struct wl_op *ops = calloc(n, sizeof *ops);
    if (!ops) return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    for (size_t i = 0; i < n; i++) {
        int rc = jc_push_index(c, i);
        if (!rc) {
            rc = parse_op(p, json_array_get(arr, i), &ops[i], depth);
            jc_pop(c);
        }
        if (rc) {
            free_ops(ops, n);
            return rc;
        }
    }
    *out = ops;
    *nout = n;
    return 0;
}

/* ---- threads and the document ----------------------------------------------------------- */

static bool uses_peer(const struct wl_op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((ops[i].kind == WL_OP_IO && ops[i].peer) || ops[i].kind == WL_OP_SEND ||
            uses_peer(ops[i].body, ops[i].nbody))
            return true;
    return false;
}

/* start_ms and ops, read with `index` at the value names[0] holds. */
static int group_program(struct wl_parse *p, json_t *obj, int64_t duration_ns, int64_t *start_ns,
                         struct wl_op **ops, size_t *nops)
{
    struct jc_ctx *c = p->c;
    double start_ms = 0;
    int rc = jc_get_number(c, obj, "start_ms", false, 0, (double)duration_ns / 1e6,
                           "milliseconds within the run", &start_ms);
    if (rc) return rc;
    *start_ns = (int64_t)llround(start_ms * 1e6);
    json_t *arr = json_object_get(obj, "ops");
    if (!arr) return jc_fail(c, "missing field \"ops\" (an array of ops)");
    if ((rc = jc_push_key(c, "ops"))) return rc;
    rc = parse_ops(p, arr, ops, nops, 0);
    jc_pop(c);
    return rc;
}

/* When start_ms or the ops read `index`, every thread's own, read again for index 1, 2, ...
 * (thread 0's are the group's). */
static int per_thread(struct wl_parse *p, json_t *obj, struct wl_group *g, int64_t duration_ns,
                      struct jc_name *names)
{
    struct jc_ctx *c = p->c;
    g->thread_start_ns = calloc(g->count, sizeof *g->thread_start_ns);
    g->thread_ops = calloc(g->count, sizeof *g->thread_ops);
    if (!g->thread_start_ns || !g->thread_ops)
        return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    g->thread_start_ns[0] = g->start_ns;
    g->thread_ops[0] = g->ops;
    int rc = 0;
    for (unsigned k = 1; k < g->count && !rc; k++) {
        names[0].value = k;
        snprintf(c->note, sizeof c->note, "(for thread %s.%u: index = %u)", g->name, k, k);
        size_t n = 0;
        rc = group_program(p, obj, duration_ns, &g->thread_start_ns[k], &g->thread_ops[k], &n);
    }
    c->note[0] = '\0';
    return rc;
}

/* *nthreads: the threads of the groups so far, this one's added. */
static int parse_group(struct wl_parse *p, json_t *obj, struct wl_group *g, int64_t duration_ns,
                       unsigned *nthreads)
{
    static const char *const keys[] = {"name", "count", "start_ms", "ops", NULL};
    struct jc_ctx *c = p->c;
    int rc;
    if ((rc = jc_want_object(c, obj, "a thread group")) || (rc = jc_check_keys(c, obj, keys)) ||
        (rc = jc_get_string(c, obj, "name", true, true, &g->name)))
        return rc;
    int64_t count = 1;
    if ((rc = jc_get_integer(c, obj, "count", false, 1, WL_MAX_THREADS, "threads", &count)))
        return rc;
    g->count = (unsigned)count;
    *nthreads += g->count;
    if (*nthreads > WL_MAX_THREADS)
        return jc_fail_key(c, "count", false,
                           "expected at most %d threads in all, this group brings it to %u",
                           WL_MAX_THREADS, *nthreads);
    struct jc_name names[] = {{"index", 0, 0}, {"count", (double)g->count, 0}};
    c->names = names;
    c->nnames = 2;
    rc = group_program(p, obj, duration_ns, &g->start_ns, &g->ops, &g->nops);
    if (!rc && names[0].uses) rc = per_thread(p, obj, g, duration_ns, names);
    c->names = NULL;
    c->nnames = 0;
    if (!rc) g->uses_peer = uses_peer(g->ops, g->nops);
    return rc;
}

static int parse_doc(struct wl_parse *p, json_t *root)
{
    struct jc_ctx *c = p->c;
    struct wl_workload *wl = p->wl;
    static const char *const keys[] = {"format",      "version", "name", "description",
                                       "duration_ms", "tick_ns", "vars", "objects",
                                       "threads",     NULL};
    int rc = jc_check_document(c, root, "gilsim-workload", keys, JC_FORMAT_AS_STRING);
    if (rc) return rc;
    int64_t tick_ns = 50;
    double duration_ms = 1000;
    if ((rc = jc_get_string(c, root, "name", true, true, &wl->name)) ||
        (rc = jc_get_string(c, root, "description", false, false, &wl->description)) ||
        (rc = jc_get_number(c, root, "duration_ms", false, 1, (double)WL_MAX_DURATION_NS / 1e6,
                            "milliseconds", &duration_ms)) ||
        (rc = jc_get_integer(c, root, "tick_ns", false, 5, 1000000, "nanoseconds", &tick_ns)))
        return rc;
    wl->duration_ns = (int64_t)llround(duration_ms * 1e6);
    wl->tick_ns = (unsigned)tick_ns;
    if (!wl->description && !(wl->description = strdup("")))
        return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);

    json_t *threads = json_object_get(root, "threads");
    if (!threads) return jc_fail(c, "missing field \"threads\" (an array of thread groups)");
    p->threads = threads;
    if ((rc = wlo_parse_objects(p, root))) return rc;
    if ((rc = jc_push_key(c, "threads"))) return rc;
    size_t n = json_array_size(threads);
    if (!json_is_array(threads) || n == 0) {
        rc = jc_fail(c, "expected a non-empty array of thread groups");
        goto out;
    }
    if (!(wl->groups = calloc(n, sizeof *wl->groups))) {
        rc = err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if ((rc = jc_push_index(c, i))) break;
        wl->ngroups = i + 1;
        p->group = (int)i;
        rc = parse_group(p, json_array_get(threads, i), &wl->groups[i], wl->duration_ns,
                         &wl->nthreads);
        for (size_t j = 0; j < i && !rc; j++)
            if (strcmp(wl->groups[j].name, wl->groups[i].name) == 0)
                rc = jc_fail_key(c, "name", false,
                                 "expected a unique group name, \"%s\" is also threads[%zu]",
                                 wl->groups[i].name, j);
        jc_pop(c);
    }
    for (size_t i = 0; i < wl->ngroups && !rc; i++) {
        if ((rc = jc_push_index(c, i))) break;
        rc = wlo_check_group(p, i);
        jc_pop(c);
    }
out:
    jc_pop(c);
    return rc;
}

/* ---- variables ------------------------------------------------------------------------- */

static bool var_name_ok(const char *s)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 64 && !(s[0] >= '0' && s[0] <= '9');
    for (size_t i = 0; i < n && ok; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '_';
    return ok;
}

/* A decimal number, whole string: an integer when it has no point or exponent. */
static bool number_text(const char *s, double *v, bool *integer)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s)) return false;
    char *end;
    errno = 0;
    *integer = strpbrk(s, ".eE") == NULL;
    *v = *integer ? (double)strtoll(s, &end, 10) : strtod(s, &end);
    /* 1e3 or 1000.0 is the integer 1000 where one is expected (a thread count) */
    *integer = *integer || (*v == trunc(*v) && fabs(*v) <= 9007199254740992.0);
    return *end == '\0' && errno == 0 && isfinite(*v);
}

int wl_var_arg(const char *arg, char *name, double *value, bool *integer, struct err *e)
{
    const char *eq = strchr(arg, '=');
    char n[65];
    double v;
    bool i;
    if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof n)
        return err_set(e, ERR_INPUT, "--var %s: expected NAME=NUMBER", arg);
    memcpy(n, arg, (size_t)(eq - arg));
    n[eq - arg] = '\0';
    if (!var_name_ok(n))
        return err_set(e, ERR_INPUT,
                       "--var %s: expected a name of 1 to 64 letters, digits or '_' (not starting "
                       "with a digit)",
                       arg);
    if (!number_text(eq + 1, &v, &i))
        return err_set(e, ERR_INPUT, "--var %s: expected a number after '=', got '%s'", arg,
                       eq + 1);
    if (name) memcpy(name, n, strlen(n) + 1);
    if (value) *value = v;
    if (integer) *integer = i;
    return 0;
}

static void free_vars(struct jc_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        free(vars->v[i].name);
        json_decref(vars->v[i].value);
    }
    free(vars->v);
}

/* The "vars" object (the path is at it): names and default values. */
static int read_var_list(struct jc_ctx *c, json_t *obj, struct jc_vars *vars)
{
    int rc = jc_want_object(c, obj, "variables: {\"name\": number, ...}");
    if (rc) return rc;
    if (json_object_size(obj) > WL_MAX_VARS)
        return jc_fail(c, "expected at most %d variables", WL_MAX_VARS);
    if (!(vars->v = calloc(json_object_size(obj) + 1, sizeof *vars->v)))
        return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!var_name_ok(key))
            return jc_fail_key(c, key, true,
                               "expected a variable name of 1 to 64 letters, digits or '_' (not "
                               "starting with a digit), got \"%s\"",
                               key);
        if (strcmp(key, "index") == 0 || strcmp(key, "count") == 0)
            return jc_fail_key(c, key, true,
                               "\"%s\" is reserved: in a thread group's ops and start_ms it is "
                               "the thread's %s",
                               key, key[0] == 'i' ? "index in its group" : "group's count");
        if (!json_is_number(v))
            return jc_fail_key(c, key, false,
                               "expected the variable's default value, a number, got %s",
                               jc_type_name(v));
        struct jc_var *var = &vars->v[vars->n];
        if (!(var->name = strdup(key)))
            return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
        var->value = json_incref(v);
        vars->n++;
    }
    return 0;
}

static int read_vars(struct jc_ctx *c, json_t *root, struct jc_vars *vars)
{
    json_t *obj = json_object_get(root, "vars");
    if (!obj) return 0;
    int rc = jc_push_key(c, "vars");
    if (rc) return rc;
    rc = read_var_list(c, obj, vars);
    jc_pop(c);
    return rc;
}

/* --var name=value: replaces the default; an unknown name is reported at "vars". */
static int assign_var(struct jc_ctx *c, json_t *root, struct jc_vars *vars, const char *arg)
{
    char name[65];
    double value;
    bool integer;
    int rc = wl_var_arg(arg, name, &value, &integer, c->e);
    if (rc) return rc;
    for (size_t i = 0; i < vars->n; i++) {
        struct jc_var *var = &vars->v[i];
        if (strcmp(var->name, name) != 0) continue;
        if (var->from_option) return err_set(c->e, ERR_INPUT, "--var %s: given twice", name);
        json_decref(var->value);
        var->value = integer ? json_integer((json_int_t)value) : json_real(value);
        var->from_option = true;
        return var->value ? 0 : err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    }
    char names[256];
    size_t n = (size_t)snprintf(names, sizeof names, "%s", vars->n ? "" : "none");
    for (size_t i = 0; i < vars->n && n < sizeof names; i++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", vars->v[i].name);
    /* at "vars" when there is one, else at the document */
    char what[512];
    snprintf(what, sizeof what,
             "--var %s: the workload has no variable \"%s\" (\"vars\" declares: %s)", arg, name,
             names);
    if (json_object_get(root, "vars")) return jc_fail_key(c, "vars", false, "%s", what);
    return jc_fail(c, "%s", what);
}

/* Every declared variable must be used somewhere: a name nothing reads is a mistake. */
static int check_all_used(struct jc_ctx *c, const struct jc_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        if (vars->v[i].uses) continue;
        int rc = jc_push_key(c, "vars");
        if (rc) return rc;
        rc = jc_fail_key(c, vars->v[i].name, true,
                         "variable \"%s\" is declared but never used (write \"$%s\" in place "
                         "of a number)",
                         vars->v[i].name, vars->v[i].name);
        jc_pop(c);
        return rc;
    }
    return 0;
}

static int keep_vars(struct wl_workload *wl, const struct jc_vars *vars, struct err *e)
{
    if (!vars->n) return 0;
    if (!(wl->vars = calloc(vars->n, sizeof *wl->vars)))
        return err_set(e, ERR_RUNTIME, "%s: out of memory", wl->path);
    for (size_t i = 0; i < vars->n; i++) {
        struct wl_var *w = &wl->vars[wl->nvars];
        if (!(w->name = strdup(vars->v[i].name)))
            return err_set(e, ERR_RUNTIME, "%s: out of memory", wl->path);
        w->value = json_number_value(vars->v[i].value);
        w->integer = json_is_integer(vars->v[i].value);
        w->from_option = vars->v[i].from_option;
        wl->nvars++;
    }
    return 0;
}

/* Variables, then the document with "$name" resolved, then the unused ones. */
static int parse_with_vars(struct jc_ctx *c, json_t *root, const char *const *assign,
                           size_t nassign, struct wl_workload *wl)
{
    struct jc_vars vars = {0};
    int rc = json_is_object(root) ? read_vars(c, root, &vars) : 0;
    for (size_t i = 0; i < nassign && !rc && json_is_object(root); i++)
        rc = assign_var(c, root, &vars, assign[i]);
    c->vars = &vars;
    c->scope = "in a thread group's ops and start_ms";
    struct wl_parse p = {.c = c, .wl = wl, .group = -1};
    if (!rc) rc = parse_doc(&p, root);
    if (!rc) rc = check_all_used(c, &vars);
    if (!rc) rc = keep_vars(wl, &vars, c->e);
    c->vars = NULL;
    c->via = NULL;
    jc_done(c);
    free_vars(&vars);
    return rc;
}

static void sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) return;
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int wl_parse(const char *text, size_t len, const char *path, struct wl_workload **out,
             struct err *e)
{
    return wl_parse_vars(text, len, path, NULL, 0, out, e);
}

int wl_parse_vars(const char *text, size_t len, const char *path, const char *const *assign,
                  size_t nassign, struct wl_workload **out, struct err *e)
{
    struct jc_ctx c = {.path = path, .text = text, .len = len, .e = e};
    json_t *root = NULL;
    *out = NULL;
    int rc = jc_parse(&c, &root);
    if (rc) return rc;
    struct wl_workload *wl = calloc(1, sizeof *wl);
    rc = wl ? 0 : err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    if (!rc && !(wl->path = strdup(path))) rc = err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    if (!rc) rc = parse_with_vars(&c, root, assign, nassign, wl);
    json_decref(root);
    if (rc) {
        wl_free(wl);
        return rc;
    }
    sha256_hex(text, len, wl->sha256);
    *out = wl;
    return 0;
}

int wl_load(const char *path, struct wl_workload **out, struct err *e)
{
    return wl_load_vars(path, NULL, 0, out, e);
}

int wl_load_vars(const char *path, const char *const *assign, size_t nassign,
                 struct wl_workload **out, struct err *e)
{
    char *buf = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = jc_read_file(path, WL_MAX_FILE_BYTES, "workload file", &buf, &n, e);
    if (rc) return rc;
    rc = wl_parse_vars(buf, n, path, assign, nassign, out, e);
    free(buf);
    return rc;
}

void wl_free(struct wl_workload *wl)
{
    if (!wl) return;
    for (size_t i = 0; i < wl->ngroups; i++) {
        struct wl_group *g = &wl->groups[i];
        free(g->name);
        free_ops(g->ops, g->nops);
        for (unsigned k = 1; g->thread_ops && k < g->count; k++)
            free_ops(g->thread_ops[k], g->nops);
        free(g->thread_ops);
        free(g->thread_start_ns);
    }
    wlo_free(wl);
    free(wl->groups);
    for (size_t i = 0; i < wl->nvars; i++)
        free(wl->vars[i].name);
    free(wl->vars);
    free(wl->path);
    free(wl->name);
    free(wl->description);
    free(wl);
}

void wl_describe(const struct wl_workload *wl, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "%s: %u thread%s (", wl->name, wl->nthreads,
                                wl->nthreads == 1 ? "" : "s");
    for (size_t i = 0; i < wl->ngroups && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s x%u", i ? ", " : "", wl->groups[i].name,
                              wl->groups[i].count);
    if (n < size)
        n += (size_t)snprintf(buf + n, size - n, "), %.0f ms, tick %u ns",
                              (double)wl->duration_ns / 1e6, wl->tick_ns);
    for (size_t i = 0; i < wl->nvars && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s=%.10g", i ? " " : "; vars ",
                              wl->vars[i].name, wl->vars[i].value);
    for (size_t i = 0, k = 0; i < wl->nobjects && n < size; i++)
        if (!wl->objects[i].implicit)
            n += (size_t)snprintf(buf + n, size - n, "%s%s (%s)", k++ ? ", " : "; objects ",
                                  wl->objects[i].name, wl_obj_type_name(wl->objects[i].type));
}
