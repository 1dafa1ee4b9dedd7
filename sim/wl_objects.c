/* sim/wl_objects.c - the objects of a workload file: the "objects" a document declares (lock,
 * semaphore, condition, event, queue, barrier), the ops on them (acquire, release, put, get,
 * set, clear, wait, notify, join), and what can be seen of their misuse before a run. Every
 * error names file:line:col, the JSON path and what was expected, as the rest of the reader
 * (wl.c). docs/workload-format.md, "Objects". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl_internal.h"

#define MAX_US (86400.0 * 1e6) /* 24 h */

/* The Python code each call runs, in µs of interpreter time, measured on CPython 3.11.2
 * (/usr/bin/python3) on the 2-vCPU development VM with tools/dev/measure-object-costs (the
 * fastest of 31 rounds); docs/workload-format.md has the table. */
static const char *const cost_keys[WL_NCOSTS] = {
    [WL_COST_ACQUIRE] = "acquire_us", [WL_COST_RELEASE] = "release_us",
    [WL_COST_PUT] = "put_us",         [WL_COST_GET] = "get_us",
    [WL_COST_SET] = "set_us",         [WL_COST_CLEAR] = "clear_us",
    [WL_COST_WAIT] = "wait_us",       [WL_COST_NOTIFY] = "notify_us",
    [WL_COST_BLOCK] = "block_us",     [WL_COST_JOIN] = "join_us",
};

#define COND_WAIT_US 0.42 /* Condition.wait's Python code around its block */

struct type_info {
    const char *name;
    const char *size_key; /* NULL: none */
    int64_t size_min, size_max, size_def;
    bool size_required;
    const char *size_unit;
    double cost_us[WL_NCOSTS]; /* < 0: the type has no such call */
};

#define NO -1
static const struct type_info types[] = {
    [WL_OBJ_LOCK] = {"lock", NULL, 0, 0, 0, false, NULL, {NO, NO, NO, NO, NO, NO, NO, NO, NO, NO}},
    [WL_OBJ_SEMAPHORE] = {"semaphore",
                          "value",
                          0,
                          1000000000,
                          1,
                          false,
                          "units",
                          {0.33, 0.33, NO, NO, NO, NO, NO, NO, COND_WAIT_US, NO}},
    [WL_OBJ_CONDITION] = {"condition",
                          NULL,
                          0,
                          0,
                          0,
                          false,
                          NULL,
                          {NO, NO, NO, NO, NO, NO, COND_WAIT_US, 0.18, NO, NO}},
    [WL_OBJ_EVENT] = {"event",
                      NULL,
                      0,
                      0,
                      0,
                      false,
                      NULL,
                      {NO, NO, NO, NO, 0.33, 0.18, 0.19, NO, COND_WAIT_US, NO}},
    [WL_OBJ_QUEUE] = {"queue",
                      "maxsize",
                      0,
                      1000000000,
                      0,
                      false,
                      "items",
                      {NO, NO, 0.43, 0.59, NO, NO, NO, NO, COND_WAIT_US, NO}},
    [WL_OBJ_BARRIER] = {"barrier",
                        "parties",
                        1,
                        WL_MAX_THREADS,
                        0,
                        true,
                        "threads",
                        {NO, NO, NO, NO, NO, NO, 0.69, NO, COND_WAIT_US, NO}},
    [WL_OBJ_THREADS] =
        {"threads", NULL, 0, 0, 0, false, NULL, {NO, NO, NO, NO, NO, NO, NO, NO, NO, 0.12}},
};
#undef NO

const char *wl_cost_key(enum wl_cost k)
{
    return k < WL_NCOSTS ? cost_keys[k] : "?";
}

const char *wl_obj_type_name(enum wl_obj_type t)
{
    return t <= WL_OBJ_THREADS ? types[t].name : "?";
}

static int oom(struct wl_parse *p)
{
    return err_set(p->c->e, ERR_RUNTIME, "%s: out of memory", p->c->path);
}

/* A new object at the end of wl->objects (zeroed but for its name and type); NULL: out of
 * memory (reported) or too many (reported at the current path). */
static struct wl_object *add_object(struct wl_parse *p, const char *name, enum wl_obj_type type,
                                    int *rc)
{
    struct wl_workload *wl = p->wl;
    if (wl->nobjects >= WL_MAX_OBJECTS) {
        *rc = jc_fail(p->c,
                      "expected at most %d objects in all (declared ones, the conditions' "
                      "own locks and the joined thread groups)",
                      WL_MAX_OBJECTS);
        return NULL;
    }
    struct wl_object *bigger = realloc(wl->objects, (wl->nobjects + 1) * sizeof *bigger);
    char *copy = strdup(name);
    if (bigger) wl->objects = bigger;
    if (!bigger || !copy) {
        free(copy);
        *rc = oom(p);
        return NULL;
    }
    struct wl_object *o = &wl->objects[wl->nobjects++];
    *o = (struct wl_object){.name = copy, .type = type, .lock = -1};
    for (int k = 0; k < WL_NCOSTS; k++) {
        double us = types[type].cost_us[k];
        o->cost_ns[k] = us > 0 ? (int64_t)llround(us * 1000) : 0;
    }
    return o;
}

/* The index of the declared object called name, or -1. */
static int find_object(const struct wl_workload *wl, const char *name)
{
    for (size_t i = 0; i < wl->nobjects; i++)
        if (!wl->objects[i].implicit && strcmp(wl->objects[i].name, name) == 0) return (int)i;
    return -1;
}

/* The index of the thread group called name in the document, or -1. */
static int find_group(const json_t *threads, const char *name)
{
    for (size_t i = 0; i < json_array_size(threads); i++) {
        json_t *n = json_object_get(json_array_get(threads, i), "name");
        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0) return (int)i;
    }
    return -1;
}

/* ---- declarations ------------------------------------------------------------------------- */

/* The keys an object of type t may have. */
static void allowed_keys(enum wl_obj_type t, const char **keys)
{
    size_t n = 0;
    keys[n++] = "type";
    if (types[t].size_key) keys[n++] = types[t].size_key;
    if (t == WL_OBJ_CONDITION) keys[n++] = "lock";
    for (int k = 0; k < WL_NCOSTS; k++)
        if (types[t].cost_us[k] >= 0) keys[n++] = cost_keys[k];
    keys[n] = NULL;
}

/* A condition's "lock": a declared lock; without it, a lock of its own ("<name>.lock"). */
static int condition_lock(struct wl_parse *p, json_t *body, size_t i)
{
    struct jc_ctx *c = p->c;
    json_t *v = json_object_get(body, "lock");
    if (!v) return 0; /* its own lock comes after every declared object */
    if (!json_is_string(v))
        return jc_fail_key(c, "lock", false, "expected the name of a lock, got %s",
                           jc_type_name(v));
    const char *name = json_string_value(v);
    int k = find_object(p->wl, name);
    if (k < 0)
        return jc_fail_key(c, "lock", false,
                           "expected the name of an object of type lock, \"%s\" is not declared",
                           name);
    if (p->wl->objects[k].type != WL_OBJ_LOCK)
        return jc_fail_key(c, "lock", false,
                           "expected the name of an object of type lock, \"%s\" is a %s", name,
                           wl_obj_type_name(p->wl->objects[k].type));
    p->wl->objects[i].lock = k;
    return 0;
}

/* Object i's parameters (its size, its lock, its costs); the path is at its value. */
static int object_fields(struct wl_parse *p, json_t *body, size_t i)
{
    struct jc_ctx *c = p->c;
    struct wl_object *o = &p->wl->objects[i];
    const struct type_info *ti = &types[o->type];
    const char *keys[WL_NCOSTS + 4];
    allowed_keys(o->type, keys);
    int rc = jc_check_keys(c, body, keys);
    if (rc) return rc;
    if (ti->size_key) {
        o->size = ti->size_def;
        if ((rc = jc_get_integer(c, body, ti->size_key, ti->size_required, ti->size_min,
                                 ti->size_max, ti->size_unit, &o->size)))
            return rc;
    }
    if (o->type == WL_OBJ_CONDITION && (rc = condition_lock(p, body, i))) return rc;
    for (int k = 0; k < WL_NCOSTS && !rc; k++) {
        double us = -1;
        if (ti->cost_us[k] < 0) continue;
        rc = jc_get_number(c, body, cost_keys[k], false, 0, MAX_US, "microseconds", &us);
        if (!rc && us >= 0) o->cost_ns[k] = (int64_t)llround(us * 1000);
    }
    return rc;
}

/* Object `key`'s name and type (first pass: every name known before any reference). */
static int declare(struct wl_parse *p, const char *key, json_t *body)
{
    static const char *const names[] = {"lock",  "semaphore", "condition", "event",
                                        "queue", "barrier",   NULL};
    struct jc_ctx *c = p->c;
    int rc, type = -1;
    if (!jc_is_ident(key))
        return jc_fail_key(c, key, true,
                           "expected an object name of 1 to 64 letters, digits, '_' or '-', got "
                           "\"%s\"",
                           key);
    int g = find_group(p->threads, key);
    if (g >= 0)
        return jc_fail_key(c, key, true,
                           "expected an object name that no thread group has (threads[%d] is "
                           "\"%s\")",
                           g, key);
    if ((rc = jc_push_key(c, key))) return rc;
    if (!(rc = jc_want_object(c, body, "an object such as {\"type\": \"lock\"}"))) {
        if (!json_object_get(body, "type"))
            rc = jc_fail(c, "missing field \"type\" (lock, semaphore, condition, event, queue "
                            "or barrier)");
        else
            rc = jc_get_choice(c, body, "type", names, &type);
    }
    if (!rc) add_object(p, key, (enum wl_obj_type)type, &rc);
    jc_pop(c);
    return rc;
}

/* Every condition without a lock of its own declared gets one, "<name>.lock" (a name no
 * declared object can have). */
static int own_locks(struct wl_parse *p)
{
    int rc = 0;
    size_t n = p->wl->nobjects;
    for (size_t i = 0; i < n && !rc; i++) {
        if (p->wl->objects[i].type != WL_OBJ_CONDITION || p->wl->objects[i].lock >= 0) continue;
        char name[80];
        snprintf(name, sizeof name, "%s.lock", p->wl->objects[i].name);
        struct wl_object *l = add_object(p, name, WL_OBJ_LOCK, &rc);
        if (!l) break;
        l->implicit = true;
        p->wl->objects[i].lock = (int)(p->wl->nobjects - 1);
    }
    return rc;
}

int wlo_parse_objects(struct wl_parse *p, json_t *root)
{
    struct jc_ctx *c = p->c;
    json_t *objs = json_object_get(root, "objects");
    if (!objs) return 0;
    int rc = jc_push_key(c, "objects");
    if (rc) return rc;
    const char *key;
    json_t *body;
    if ((rc = jc_want_object(c, objs, "objects: {\"name\": {\"type\": ...}, ...}"))) goto out;
    json_object_foreach(objs, key, body)
    {
        if ((rc = declare(p, key, body))) goto out;
    }
    size_t i = 0;
    json_object_foreach(objs, key, body)
    {
        if ((rc = jc_push_key(c, key))) goto out;
        rc = object_fields(p, body, i++);
        jc_pop(c);
        if (rc) goto out;
    }
    rc = own_locks(p);
out:
    jc_pop(c);
    return rc;
}

/* ---- ops ---------------------------------------------------------------------------------- */

struct op_info {
    const char *name;
    enum wl_op_kind kind;
    unsigned types; /* bit per wl_obj_type it applies to */
    bool timeout;   /* takes "timeout_us" */
    const char *types_text;
};

#define T(x) (1u << WL_OBJ_##x)
static const struct op_info op_infos[] = {
    {"acquire", WL_OP_ACQUIRE, T(LOCK) | T(SEMAPHORE) | T(CONDITION), true,
     "a lock, a semaphore or a condition"},
    {"release", WL_OP_RELEASE, T(LOCK) | T(SEMAPHORE) | T(CONDITION), false,
     "a lock, a semaphore or a condition"},
    {"put", WL_OP_PUT, T(QUEUE), true, "a queue"},
    {"get", WL_OP_GET, T(QUEUE), true, "a queue"},
    {"set", WL_OP_SET, T(EVENT), false, "an event"},
    {"clear", WL_OP_CLEAR, T(EVENT), false, "an event"},
    {"wait", WL_OP_WAIT, T(EVENT) | T(CONDITION) | T(BARRIER), true,
     "an event, a condition or a barrier"},
    {"notify", WL_OP_NOTIFY, T(CONDITION), false, "a condition"},
    {"join", WL_OP_JOIN, T(THREADS), true, "a thread group"},
};
#undef T

static const struct op_info *op_info_of(const char *kind)
{
    for (size_t i = 0; i < sizeof op_infos / sizeof op_infos[0]; i++)
        if (strcmp(op_infos[i].name, kind) == 0) return &op_infos[i];
    return NULL;
}

bool wlo_is_object_op(const char *kind)
{
    return op_info_of(kind) != NULL;
}

/* The declared names, for messages. */
static void object_names(const struct wl_workload *wl, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "%s", "");
    for (size_t i = 0; i < wl->nobjects && n < size; i++)
        if (!wl->objects[i].implicit && wl->objects[i].type != WL_OBJ_THREADS)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", wl->objects[i].name);
    if (n == 0) snprintf(buf, size, "none");
}

/* "object": a declared object of a type the op applies to. */
static int op_object(struct wl_parse *p, const struct op_info *oi, json_t *body, struct wl_op *op)
{
    struct jc_ctx *c = p->c;
    json_t *v = json_object_get(body, "object");
    if (!v) return jc_fail(c, "missing field \"object\" (the name of %s)", oi->types_text);
    if (!json_is_string(v))
        return jc_fail_key(c, "object", false, "expected the name of %s, got %s", oi->types_text,
                           jc_type_name(v));
    int k = find_object(p->wl, json_string_value(v));
    if (k < 0) {
        char names[256];
        object_names(p->wl, names, sizeof names);
        return jc_fail_key(c, "object", false,
                           "undeclared object \"%s\" (\"objects\" declares: %s)",
                           json_string_value(v), names);
    }
    enum wl_obj_type t = p->wl->objects[k].type;
    if (!(oi->types & (1u << t)))
        return jc_fail_key(c, "object", false, "expected %s for %s, \"%s\" is a %s", oi->types_text,
                           oi->name, json_string_value(v), wl_obj_type_name(t));
    op->obj = k;
    return 0;
}

/* join's "threads": a thread group other than the joining one; its object is made on first
 * use. */
static int op_threads(struct wl_parse *p, json_t *body, struct wl_op *op)
{
    struct jc_ctx *c = p->c;
    json_t *v = json_object_get(body, "threads");
    if (!v) return jc_fail(c, "missing field \"threads\" (the name of a thread group)");
    if (!json_is_string(v))
        return jc_fail_key(c, "threads", false, "expected the name of a thread group, got %s",
                           jc_type_name(v));
    const char *name = json_string_value(v);
    int g = find_group(p->threads, name);
    if (g < 0) return jc_fail_key(c, "threads", false, "no thread group is called \"%s\"", name);
    if (g == p->group)
        return jc_fail_key(c, "threads", false,
                           "a thread cannot join its own group \"%s\" (Python raises "
                           "RuntimeError: cannot join current thread)",
                           name);
    for (size_t i = 0; i < p->wl->nobjects; i++)
        if (p->wl->objects[i].type == WL_OBJ_THREADS && p->wl->objects[i].size == g) {
            op->obj = (int)i;
            return 0;
        }
    int rc = 0;
    struct wl_object *o = add_object(p, name, WL_OBJ_THREADS, &rc);
    if (!o) return rc;
    o->implicit = true;
    o->size = g;
    op->obj = (int)(p->wl->nobjects - 1);
    return 0;
}

/* notify's "n": a positive integer or "all" (notify_all). */
static int op_notify_n(struct jc_ctx *c, json_t *body, struct wl_op *op)
{
    json_t *v = json_object_get(body, "n");
    op->count = 1;
    if (v && json_is_string(v) && !jc_is_var_ref(v)) {
        if (strcmp(json_string_value(v), "all") == 0) {
            op->count = WL_FOREVER;
            return 0;
        }
        return jc_fail_key(c, "n", false, "expected a positive integer or \"all\", got \"%s\"",
                           json_string_value(v));
    }
    int64_t n = 1;
    int rc = jc_get_integer(c, body, "n", false, 1, WL_MAX_THREADS, "waiters", &n);
    op->count = (uint64_t)n;
    return rc;
}

int wlo_parse_op(struct wl_parse *p, const char *kind, json_t *body, struct wl_op *op)
{
    const struct op_info *oi = op_info_of(kind);
    struct jc_ctx *c = p->c;
    const char *keys[4];
    size_t n = 0;
    keys[n++] = oi->kind == WL_OP_JOIN ? "threads" : "object";
    if (oi->timeout) keys[n++] = "timeout_us";
    if (oi->kind == WL_OP_NOTIFY) keys[n++] = "n";
    keys[n] = NULL;
    op->kind = oi->kind;
    op->timeout_ns = WL_NO_TIMEOUT;
    int rc = jc_check_keys(c, body, keys);
    if (!rc) rc = oi->kind == WL_OP_JOIN ? op_threads(p, body, op) : op_object(p, oi, body, op);
    if (!rc && oi->kind == WL_OP_NOTIFY) rc = op_notify_n(c, body, op);
    double us = -1;
    if (!rc && oi->timeout)
        rc = jc_get_number(c, body, "timeout_us", false, 0, MAX_US, "microseconds", &us);
    if (!rc && us >= 0) op->timeout_ns = (int64_t)llround(us * 1000);
    return rc;
}

/* ---- the static check ---------------------------------------------------------------------- */

static const char *kind_name(enum wl_op_kind k)
{
    static const char *const names[] = {
        [WL_OP_CPU] = "cpu",         [WL_OP_IO] = "io",       [WL_OP_SLEEP] = "sleep",
        [WL_OP_NATIVE] = "native",   [WL_OP_HOLD] = "hold",   [WL_OP_LOOP] = "loop",
        [WL_OP_SERVE] = "serve",     [WL_OP_SEND] = "send",   [WL_OP_ACQUIRE] = "acquire",
        [WL_OP_RELEASE] = "release", [WL_OP_PUT] = "put",     [WL_OP_GET] = "get",
        [WL_OP_SET] = "set",         [WL_OP_CLEAR] = "clear", [WL_OP_WAIT] = "wait",
        [WL_OP_NOTIFY] = "notify",   [WL_OP_JOIN] = "join",
    };
    return names[k];
}

/* What holding object k means: a condition is held through its lock. */
static int held_key(const struct wl_workload *wl, int k)
{
    return wl->objects[k].type == WL_OBJ_CONDITION ? wl->objects[k].lock : k;
}

/* An op that needs object op->obj held when nothing before it acquired it. */
static int misuse(struct wl_parse *p, const struct wl_op *op)
{
    const struct wl_object *o = &p->wl->objects[op->obj];
    const char *verb = op->kind == WL_OP_RELEASE ? "release" : kind_name(op->kind);
    const char *python = op->kind == WL_OP_RELEASE ? "release unlocked lock"
                         : op->kind == WL_OP_WAIT  ? "cannot wait on un-acquired lock"
                                                   : "cannot notify on un-acquired lock";
    char also[120] = "";
    if (o->type == WL_OBJ_CONDITION && !p->wl->objects[o->lock].implicit)
        snprintf(also, sizeof also, " (or of its lock \"%s\")", p->wl->objects[o->lock].name);
    return jc_fail_key(p->c, "object", false,
                       "expected an acquire of %s \"%s\"%s before this %s in the thread's ops "
                       "(Python raises RuntimeError: %s)",
                       wl_obj_type_name(o->type), o->name, also, verb, python);
}

/* Walks ops in program order (a loop's body once), marking what is acquired. */
static int check_ops(struct wl_parse *p, const struct wl_op *ops, size_t n, bool *seen)
{
    struct jc_ctx *c = p->c;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct wl_op *op = &ops[i];
        bool body = op->kind == WL_OP_LOOP || op->kind == WL_OP_SERVE;
        if ((rc = jc_push_index(c, i))) break;
        if ((rc = jc_push_key(c, kind_name(op->kind)))) {
            jc_pop(c);
            break;
        }
        if (body) {
            if (!(rc = jc_push_key(c, "ops"))) {
                rc = check_ops(p, op->body, op->nbody, seen);
                jc_pop(c);
            }
        } else if (op->kind == WL_OP_ACQUIRE) {
            seen[held_key(p->wl, op->obj)] = true;
        } else if (op->kind == WL_OP_RELEASE || op->kind == WL_OP_WAIT ||
                   op->kind == WL_OP_NOTIFY) {
            enum wl_obj_type t = p->wl->objects[op->obj].type;
            bool lockish = t == WL_OBJ_LOCK || t == WL_OBJ_CONDITION;
            if (lockish && !seen[held_key(p->wl, op->obj)]) rc = misuse(p, op);
        }
        jc_pop(c);
        jc_pop(c);
    }
    return rc;
}

int wlo_check_group(struct wl_parse *p, size_t gi)
{
    const struct wl_group *g = &p->wl->groups[gi];
    if (!p->wl->nobjects) return 0;
    bool *seen = calloc(p->wl->nobjects, sizeof *seen);
    if (!seen) return oom(p);
    int rc = jc_push_key(p->c, "ops");
    if (!rc) {
        rc = check_ops(p, g->ops, g->nops, seen);
        jc_pop(p->c);
    }
    free(seen);
    return rc;
}

void wlo_free(struct wl_workload *wl)
{
    for (size_t i = 0; i < wl->nobjects; i++)
        free(wl->objects[i].name);
    free(wl->objects);
}
