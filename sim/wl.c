/* sim/wl.c - workload reader (see wl.h).
 *
 * common/jparse.c parses the text into jansson values; this file validates the tree against the
 * format and compiles it into wl_op trees. The tree keeps no positions for values, so on an
 * error the offending JSON path is located again in the source text by a small scanner
 * (locate) to report line:column. */
#include "wl.h"

#include "../common/jparse.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 128

struct seg {
    const char *key; /* NULL: an array index */
    size_t index;
};

struct vctx {
    const char *path;
    const char *text;
    size_t len;
    struct seg segs[MAX_SEGS];
    int nseg;
    struct err *e;
    unsigned nthreads;
};

/* ---- locating a JSON path in the source text ------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end && *p != '"'; p++)
        if (*p == '\\') p++;
    return p < end ? p + 1 : end;
}

/* Skips one value; the text already parsed as JSON, so only the shape matters. */
static const char *skip_value(const char *p, const char *end)
{
    p = skip_ws(p, end);
    if (p >= end) return end;
    if (*p == '"') return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            if (*p == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (*p == '{' || *p == '[')
                depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
           *p != '\r' && *p != '\t')
        p++;
    return p;
}

/* Returns where the path's value (or, with at_key, its key) starts; on a path that cannot be
 * followed, the deepest position reached. */
static const char *locate(const struct vctx *c, int nseg, bool at_key)
{
    const char *p = skip_ws(c->text, c->text + c->len), *end = c->text + c->len;
    for (int i = 0; i < nseg && p < end; i++) {
        const struct seg *s = &c->segs[i];
        const char *container = p;
        if (s->key && *p == '{') {
            const char *found = NULL;
            p = skip_ws(p + 1, end);
            while (p < end && *p == '"') {
                const char *k = p + 1, *kend = skip_string(p, end) - 1;
                const char *v = skip_ws(skip_ws(kend + 1, end) + 1, end); /* past ':' */
                if ((size_t)(kend - k) == strlen(s->key) && memcmp(k, s->key, kend - k) == 0) {
                    found = (at_key && i == nseg - 1) ? p : v;
                    break;
                }
                p = skip_ws(skip_value(v, end), end);
                if (p < end && *p == ',') p = skip_ws(p + 1, end);
            }
            if (!found) return container;
            p = found;
        } else if (!s->key && *p == '[') {
            p = skip_ws(p + 1, end);
            for (size_t k = 0; k < s->index && p < end && *p != ']'; k++) {
                p = skip_ws(skip_value(p, end), end);
                if (p < end && *p == ',') p = skip_ws(p + 1, end);
            }
            if (p >= end || *p == ']') return container;
        } else {
            return p;
        }
    }
    return p;
}

static void line_col(const char *text, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) { /* count characters, not UTF-8 bytes */
            (*col)++;
        }
    }
}

static void format_path(const struct vctx *c, int nseg, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "$");
    for (int i = 0; i < nseg && n < size; i++) {
        if (c->segs[i].key)
            n += (size_t)snprintf(buf + n, size - n, ".%s", c->segs[i].key);
        else
            n += (size_t)snprintf(buf + n, size - n, "[%zu]", c->segs[i].index);
    }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
fail_at(struct vctx *c, bool at_key, const char *fmt, ...)
{
    char what[512], jpath[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int line, col;
    line_col(c->text, locate(c, c->nseg, at_key), &line, &col);
    format_path(c, c->nseg, jpath, sizeof jpath);
    return err_set(c->e, ERR_INPUT, "%s:%d:%d: %s: %s", c->path, line, col, jpath, what);
}

#define fail(c, ...) fail_at((c), false, __VA_ARGS__)

static int push_key(struct vctx *c, const char *key)
{
    if (c->nseg >= MAX_SEGS) return fail(c, "nesting too deep");
    c->segs[c->nseg++] = (struct seg){.key = key};
    return 0;
}

static int push_index(struct vctx *c, size_t i)
{
    if (c->nseg >= MAX_SEGS) return fail(c, "nesting too deep");
    c->segs[c->nseg++] = (struct seg){.key = NULL, .index = i};
    return 0;
}

static void pop(struct vctx *c)
{
    c->nseg--;
}

/* ---- typed field access ----------------------------------------------------------------- */

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int check_keys(struct vctx *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok && !allowed[0]) {
            int rc = push_key(c, key);
            if (!rc) rc = fail_at(c, true, "unknown key \"%s\"; expected no keys ({})", key);
            return rc;
        }
        if (!ok) {
            char list[256];
            size_t n = 0;
            list[0] = 0;
            for (const char *const *a = allowed; *a && n < sizeof list; a++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", a == allowed ? "" : ", ",
                                      *a);
            int rc = push_key(c, key);
            if (!rc) rc = fail_at(c, true, "unknown key \"%s\"; expected one of: %s", key, list);
            return rc;
        }
    }
    return 0;
}

static int want_object(struct vctx *c, json_t *v, const char *what)
{
    if (!json_is_object(v)) return fail(c, "expected %s (an object), got %s", what, type_name(v));
    return 0;
}

/* A number within [min, max]; *out unchanged when absent and not required. */
static int get_number(struct vctx *c, json_t *obj, const char *key, bool required, double min,
                      double max, const char *unit, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return fail(c, "missing field \"%s\" (a number of %s)", key, unit);
        return 0;
    }
    int rc = push_key(c, key);
    if (rc) return rc;
    if (!json_is_number(v)) {
        rc = fail(c, "expected a number of %s, got %s", unit, type_name(v));
    } else {
        double d = json_number_value(v);
        if (!(d >= min && d <= max))
            rc = fail(c, "expected a number of %s in [%g, %g], got %g", unit, min, max, d);
        else
            *out = d;
    }
    pop(c);
    return rc;
}

static int get_integer(struct vctx *c, json_t *obj, const char *key, bool required, int64_t min,
                       int64_t max, const char *unit, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return fail(c, "missing field \"%s\" (an integer number of %s)", key, unit);
        return 0;
    }
    int rc = push_key(c, key);
    if (rc) return rc;
    if (!json_is_integer(v)) {
        rc = fail(c, "expected an integer number of %s, got %s", unit, type_name(v));
    } else {
        json_int_t i = json_integer_value(v);
        if (i < min || i > max)
            rc = fail(c, "expected an integer number of %s in [%lld, %lld], got %lld", unit,
                      (long long)min, (long long)max, (long long)i);
        else
            *out = i;
    }
    pop(c);
    return rc;
}

/* A count: an integer in [1, max] or, when forever_ok, the string "forever". */
static int get_count(struct vctx *c, json_t *obj, const char *key, bool required, int64_t max,
                     uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (v && json_is_string(v)) {
        if (strcmp(json_string_value(v), "forever") == 0) {
            *out = WL_FOREVER;
            return 0;
        }
        int rc = push_key(c, key);
        if (!rc) {
            rc = fail(c, "expected a positive integer or \"forever\", got \"%s\"",
                      json_string_value(v));
            pop(c);
        }
        return rc;
    }
    if (v && !json_is_integer(v)) {
        int rc = push_key(c, key);
        if (!rc) {
            rc = fail(c, "expected a positive integer or \"forever\", got %s", type_name(v));
            pop(c);
        }
        return rc;
    }
    int64_t n = 0;
    int rc = get_integer(c, obj, key, required, 1, max, "iterations", &n);
    if (!rc && v) *out = (uint64_t)n;
    return rc;
}

/* One of choices (NULL-terminated); *out is the index. */
static int get_choice(struct vctx *c, json_t *obj, const char *key, const char *const *choices,
                      int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    int rc = push_key(c, key);
    if (rc) return rc;
    char list[128];
    size_t n = 0;
    list[0] = 0;
    for (const char *const *a = choices; *a && n < sizeof list; a++)
        n +=
            (size_t)snprintf(list + n, sizeof list - n, "%s\"%s\"", a == choices ? "" : " or ", *a);
    if (!json_is_string(v)) {
        rc = fail(c, "expected %s, got %s", list, type_name(v));
    } else {
        rc = -1;
        for (int i = 0; choices[i]; i++)
            if (strcmp(choices[i], json_string_value(v)) == 0) {
                *out = i;
                rc = 0;
            }
        if (rc) rc = fail(c, "expected %s, got \"%s\"", list, json_string_value(v));
    }
    pop(c);
    return rc;
}

static int get_bool(struct vctx *c, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    int rc = push_key(c, key);
    if (rc) return rc;
    if (!json_is_boolean(v))
        rc = fail(c, "expected true or false, got %s", type_name(v));
    else
        *out = json_is_true(v);
    pop(c);
    return rc;
}

static int get_string(struct vctx *c, json_t *obj, const char *key, bool required, bool ident,
                      char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return fail(c, "missing field \"%s\" (a string)", key);
        return 0;
    }
    int rc = push_key(c, key);
    if (rc) return rc;
    if (!json_is_string(v)) {
        rc = fail(c, "expected a string, got %s", type_name(v));
    } else if (ident) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        bool ok = n >= 1 && n <= 64;
        for (size_t i = 0; i < n && ok; i++)
            ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                 (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-';
        if (!ok)
            rc = fail(c, "expected a name of 1 to 64 letters, digits, '_' or '-', got \"%s\"", s);
    }
    if (!rc) {
        *out = strdup(json_string_value(v));
        if (!*out) rc = err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    }
    pop(c);
    return rc;
}

/* ---- ops ------------------------------------------------------------------------------- */

#define MAX_US (86400.0 * 1e6) /* 24 h */

static int parse_ops(struct vctx *c, json_t *arr, struct wl_op **out, size_t *nout, int depth);

static int us_field(struct vctx *c, json_t *body, const char *key, bool required, int64_t *ns)
{
    double us = -1;
    int rc = get_number(c, body, key, required, 0, MAX_US, "microseconds", &us);
    if (!rc && us >= 0) *ns = (int64_t)llround(us * 1000.0);
    return rc;
}

static int parse_io(struct vctx *c, json_t *body, struct wl_op *op)
{
    static const char *const keys[] = {"us", "dist", "max_us", "peer", "send", NULL};
    static const char *const dists[] = {"fixed", "uniform", "exponential", NULL};
    int dist = WL_DIST_FIXED;
    op->kind = WL_OP_IO;
    int rc;
    if ((rc = check_keys(c, body, keys)) || (rc = us_field(c, body, "us", true, &op->ns)) ||
        (rc = get_choice(c, body, "dist", dists, &dist)) ||
        (rc = us_field(c, body, "max_us", false, &op->max_ns)) ||
        (rc = get_bool(c, body, "peer", &op->peer)) || (rc = get_bool(c, body, "send", &op->send)))
        return rc;
    op->dist = (enum wl_dist)dist;
    const char *bad = NULL, *msg = NULL;
    if (json_object_get(body, "max_us") && op->max_ns < op->ns) {
        bad = "max_us";
        msg = "expected max_us >= us";
    } else if (op->send && !op->peer) {
        bad = "send";
        msg = "expected \"peer\": true beside \"send\": true (the send goes to the thread's "
              "peer)";
    }
    if (bad) {
        push_key(c, bad);
        rc = fail(c, "%s", msg);
        pop(c);
    }
    return rc;
}

static int parse_op(struct vctx *c, json_t *obj, struct wl_op *op, int depth)
{
    static const char *const kinds[] = {"cpu",  "io",    "sleep", "native", "hold",
                                        "loop", "serve", "send",  NULL};
    int rc = want_object(c, obj, "an op such as {\"cpu\": {\"ticks\": 1000}}");
    if (rc) return rc;
    if (json_object_size(obj) != 1)
        return fail(c, "expected an object with exactly one key, one of: cpu, io, sleep, "
                       "native, hold, loop, serve, send");
    rc = check_keys(c, obj, kinds);
    if (rc) return rc;
    const char *kind = json_object_iter_key(json_object_iter(obj));
    json_t *body = json_object_iter_value(json_object_iter(obj));
    if ((rc = push_key(c, kind))) return rc;
    if ((rc = want_object(c, body, "the op's parameters"))) goto out;

    if (strcmp(kind, "cpu") == 0) {
        static const char *const keys[] = {"ticks", "us", NULL};
        op->kind = WL_OP_CPU;
        if ((rc = check_keys(c, body, keys))) goto out;
        bool has_ticks = json_object_get(body, "ticks"), has_us = json_object_get(body, "us");
        if (has_ticks == has_us) {
            rc = fail(c, "expected exactly one of \"ticks\" (an integer) or \"us\" (a number)");
            goto out;
        }
        int64_t ticks = 0;
        if (has_ticks)
            rc = get_integer(c, body, "ticks", true, 1, (int64_t)1e15, "ticks", &ticks);
        else
            rc = us_field(c, body, "us", true, &op->ns);
        op->ticks = (uint64_t)ticks;
        if (!rc && has_us && op->ns <= 0) rc = fail(c, "\"us\" must be greater than 0");
    } else if (strcmp(kind, "io") == 0) {
        rc = parse_io(c, body, op);
    } else if (strcmp(kind, "send") == 0) {
        static const char *const keys[] = {NULL};
        op->kind = WL_OP_SEND;
        rc = check_keys(c, body, keys);
    } else if (strcmp(kind, "sleep") == 0 || strcmp(kind, "native") == 0 ||
               strcmp(kind, "hold") == 0) {
        static const char *const keys[] = {"us", NULL};
        op->kind = kind[0] == 's' ? WL_OP_SLEEP : kind[0] == 'n' ? WL_OP_NATIVE : WL_OP_HOLD;
        if (!(rc = check_keys(c, body, keys))) rc = us_field(c, body, "us", true, &op->ns);
    } else { /* loop, serve */
        bool is_loop = kind[0] == 'l';
        static const char *const loop_keys[] = {"count", "ops", NULL};
        static const char *const serve_keys[] = {"rate_hz", "arrivals", "count", "ops", NULL};
        static const char *const arrivals[] = {"poisson", "fixed", NULL};
        op->kind = is_loop ? WL_OP_LOOP : WL_OP_SERVE;
        op->count = WL_FOREVER;
        if (depth + 1 > WL_MAX_DEPTH) {
            rc = fail(c, "expected loop/serve nesting of at most %d levels", WL_MAX_DEPTH);
            goto out;
        }
        if ((rc = check_keys(c, body, is_loop ? loop_keys : serve_keys))) goto out;
        if ((rc = get_count(c, body, "count", is_loop, (int64_t)1e15, &op->count))) goto out;
        if (!is_loop) {
            int arr = WL_ARRIVALS_POISSON;
            if ((rc = get_number(c, body, "rate_hz", true, 1e-3, 1e6, "requests per second",
                                 &op->rate_hz)) ||
                (rc = get_choice(c, body, "arrivals", arrivals, &arr)))
                goto out;
            op->arrivals = (enum wl_arrivals)arr;
        }
        json_t *ops = json_object_get(body, "ops");
        if (!ops) {
            rc = fail(c, "missing field \"ops\" (an array of ops)");
            goto out;
        }
        if (!(rc = push_key(c, "ops"))) {
            rc = parse_ops(c, ops, &op->body, &op->nbody, depth + 1);
            pop(c);
        }
    }
out:
    pop(c);
    return rc;
}

static void free_ops(struct wl_op *ops, size_t n)
{
    if (!ops) return;
    for (size_t i = 0; i < n; i++)
        free_ops(ops[i].body, ops[i].nbody);
    free(ops);
}

static int parse_ops(struct vctx *c, json_t *arr, struct wl_op **out, size_t *nout, int depth)
{
    if (!json_is_array(arr)) return fail(c, "expected an array of ops, got %s", type_name(arr));
    size_t n = json_array_size(arr);
    if (n == 0) return fail(c, "expected at least one op");
    struct wl_op *ops = calloc(n, sizeof *ops);
    if (!ops) return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    for (size_t i = 0; i < n; i++) {
        int rc = push_index(c, i);
        if (!rc) {
            rc = parse_op(c, json_array_get(arr, i), &ops[i], depth);
            pop(c);
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

static int parse_group(struct vctx *c, json_t *obj, struct wl_group *g, int64_t duration_ns)
{
    static const char *const keys[] = {"name", "count", "start_ms", "ops", NULL};
    int rc;
    if ((rc = want_object(c, obj, "a thread group")) || (rc = check_keys(c, obj, keys)) ||
        (rc = get_string(c, obj, "name", true, true, &g->name)))
        return rc;
    int64_t count = 1;
    double start_ms = 0;
    if ((rc = get_integer(c, obj, "count", false, 1, WL_MAX_THREADS, "threads", &count)) ||
        (rc = get_number(c, obj, "start_ms", false, 0, (double)duration_ns / 1e6,
                         "milliseconds within the run", &start_ms)))
        return rc;
    g->count = (unsigned)count;
    g->start_ns = (int64_t)llround(start_ms * 1e6);
    c->nthreads += g->count;
    if (c->nthreads > WL_MAX_THREADS) {
        if (!(rc = push_key(c, "count"))) {
            rc = fail(c, "expected at most %d threads in all, this group brings it to %u",
                      WL_MAX_THREADS, c->nthreads);
            pop(c);
        }
        return rc;
    }
    json_t *ops = json_object_get(obj, "ops");
    if (!ops) return fail(c, "missing field \"ops\" (an array of ops)");
    if ((rc = push_key(c, "ops"))) return rc;
    rc = parse_ops(c, ops, &g->ops, &g->nops, 0);
    pop(c);
    if (!rc) g->uses_peer = uses_peer(g->ops, g->nops);
    return rc;
}

static int parse_doc(struct vctx *c, json_t *root, struct wl_workload *wl)
{
    static const char *const keys[] = {"format",      "version", "name",    "description",
                                       "duration_ms", "tick_ns", "threads", NULL};
    int rc;
    if ((rc = want_object(c, root, "a gilsim-workload document")) ||
        (rc = check_keys(c, root, keys)))
        return rc;
    char *format = NULL;
    if ((rc = get_string(c, root, "format", true, false, &format))) return rc;
    bool format_ok = strcmp(format, "gilsim-workload") == 0;
    free(format);
    if (!format_ok) {
        push_key(c, "format");
        rc = fail(c, "expected \"gilsim-workload\"");
        pop(c);
        return rc;
    }
    int64_t tick_ns = 50;
    double duration_ms = 1000;
    json_t *version = json_object_get(root, "version");
    if (!version) return fail(c, "missing field \"version\" (1)");
    if (!json_is_integer(version) || json_integer_value(version) != 1) {
        push_key(c, "version");
        rc = fail(c, "expected 1, the only version of the format this gilsim reads");
        pop(c);
        return rc;
    }
    if ((rc = get_string(c, root, "name", true, true, &wl->name)) ||
        (rc = get_string(c, root, "description", false, false, &wl->description)) ||
        (rc = get_number(c, root, "duration_ms", false, 1, (double)WL_MAX_DURATION_NS / 1e6,
                         "milliseconds", &duration_ms)) ||
        (rc = get_integer(c, root, "tick_ns", false, 5, 1000000, "nanoseconds", &tick_ns)))
        return rc;
    wl->duration_ns = (int64_t)llround(duration_ms * 1e6);
    wl->tick_ns = (unsigned)tick_ns;
    if (!wl->description && !(wl->description = strdup("")))
        return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);

    json_t *threads = json_object_get(root, "threads");
    if (!threads) return fail(c, "missing field \"threads\" (an array of thread groups)");
    if ((rc = push_key(c, "threads"))) return rc;
    size_t n = json_array_size(threads);
    if (!json_is_array(threads) || n == 0) {
        rc = fail(c, "expected a non-empty array of thread groups");
        goto out;
    }
    if (!(wl->groups = calloc(n, sizeof *wl->groups))) {
        rc = err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if ((rc = push_index(c, i))) break;
        wl->ngroups = i + 1;
        rc = parse_group(c, json_array_get(threads, i), &wl->groups[i], wl->duration_ns);
        for (size_t j = 0; j < i && !rc; j++)
            if (strcmp(wl->groups[j].name, wl->groups[i].name) == 0) {
                push_key(c, "name");
                rc = fail(c, "expected a unique group name, \"%s\" is also threads[%zu]",
                          wl->groups[i].name, j);
                pop(c);
            }
        pop(c);
    }
    wl->nthreads = c->nthreads;
out:
    pop(c);
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
    struct vctx c = {.path = path, .text = text, .len = len, .e = e};
    struct jp_error jerr;
    json_t *root = NULL;
    *out = NULL;
    enum jp_status js = jp_parse(text, len, JP_REJECT_DUPLICATES, &root, &jerr);
    if (js == JP_NOMEM) return err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    if (js != JP_OK)
        return err_set(e, ERR_INPUT, "%s:%d:%d: invalid JSON: %s", path, jerr.line, jerr.col,
                       jerr.text);
    struct wl_workload *wl = calloc(1, sizeof *wl);
    int rc = wl ? 0 : err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    if (!rc && !(wl->path = strdup(path))) rc = err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    if (!rc) rc = parse_doc(&c, root, wl);
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
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_INPUT, "%s: cannot open workload file: %s", path, strerror(errno));
    char *buf = malloc(WL_MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, WL_MAX_FILE_BYTES + 1, f);
    int rc = 0;
    if (ferror(f))
        rc = err_set(e, ERR_INPUT, "%s: cannot read workload file: %s", path, strerror(errno));
    else if (n > WL_MAX_FILE_BYTES)
        rc = err_set(e, ERR_INPUT, "%s: expected a workload file of at most %u bytes", path,
                     WL_MAX_FILE_BYTES);
    fclose(f);
    if (!rc) rc = wl_parse(buf, n, path, out, e);
    free(buf);
    return rc;
}

void wl_free(struct wl_workload *wl)
{
    if (!wl) return;
    for (size_t i = 0; i < wl->ngroups; i++) {
        free(wl->groups[i].name);
        free_ops(wl->groups[i].ops, wl->groups[i].nops);
    }
    free(wl->groups);
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
        snprintf(buf + n, size - n, "), %.0f ms, tick %u ns", (double)wl->duration_ns / 1e6,
                 wl->tick_ns);
}
