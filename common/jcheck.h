/* common/jcheck.h - checking a parsed JSON document against a format, with errors that name
 * the file, line and column, the JSON path and what was expected:
 *   workloads.json:7:24: $.threads[0].count: expected an integer number of threads in [1, 10000],
 * got 0 Used by the readers of workload files (sim/wl.c) and machine files (sim/machine.c). The
 * checker keeps a stack of path segments (push_key / push_index / pop); every get_* pushes
 * its key while it reports. */
#ifndef GILSIM_JCHECK_H
#define GILSIM_JCHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define JC_MAX_SEGS 128

struct jc_seg {
    const char *key; /* NULL: an array index */
    size_t index;
};

/* A variable of the document ("vars" of a workload): "$name" stands for its value wherever a
 * number is read (jc_get_number, jc_get_integer, jc_resolve). */
struct jc_var {
    char *name;
    json_t *value;    /* a number (owned) */
    bool from_option; /* set by --var, not the declared default */
    unsigned uses;
};

struct jc_vars {
    struct jc_var *v;
    size_t n;
};

struct jc_ctx {
    const char *path;
    const char *text;
    size_t len;
    struct jc_seg segs[JC_MAX_SEGS];
    int nseg;
    struct err *e;
    struct jc_vars *vars; /* NULL: "$name" is an ordinary string */
    /* The variable behind the value last read, and where it was used: a failure reported at
     * that path names the variable. */
    const struct jc_var *via;
    char via_path[384];
};

/* ERR_INPUT "path:line:col: $.json.path: what" at the current path; at_key points at the
 * last segment's key instead of its value. Returns ERR_INPUT. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int jc_fail_at(struct jc_ctx *c, bool at_key, const char *fmt, ...);
#define jc_fail(c, ...) jc_fail_at((c), false, __VA_ARGS__)

int jc_push_key(struct jc_ctx *c, const char *key);
int jc_push_index(struct jc_ctx *c, size_t i);
void jc_pop(struct jc_ctx *c);
/* "an object", "an integer", ...: for messages. */
const char *jc_type_name(const json_t *v);

/* obj[key] with a variable resolved: "$name" becomes the variable's value (counted as a use,
 * remembered in c->via). NULL when absent; *rc is non-zero (reported) for an undeclared
 * variable. */
json_t *jc_resolve(struct jc_ctx *c, json_t *obj, const char *key, int *rc);
/* True when v is a string of the form "$name". */
bool jc_is_var_ref(const json_t *v);

/* Every key of obj must be in allowed (NULL-terminated). */
int jc_check_keys(struct jc_ctx *c, json_t *obj, const char *const *allowed);
int jc_want_object(struct jc_ctx *c, json_t *v, const char *what);
/* A number within [min, max]; *out unchanged when absent and not required. */
int jc_get_number(struct jc_ctx *c, json_t *obj, const char *key, bool required, double min,
                  double max, const char *unit, double *out);
int jc_get_integer(struct jc_ctx *c, json_t *obj, const char *key, bool required, int64_t min,
                   int64_t max, const char *unit, int64_t *out);
/* true or false; *out unchanged when absent. */
int jc_get_bool(struct jc_ctx *c, json_t *obj, const char *key, bool *out);
/* One of choices (NULL-terminated); *out is the index. */
int jc_get_choice(struct jc_ctx *c, json_t *obj, const char *key, const char *const *choices,
                  int *out);
/* A string (ident: a name of 1 to 64 letters, digits, '_' or '-'), strdup'ed into *out. */
int jc_get_string(struct jc_ctx *c, json_t *obj, const char *key, bool required, bool ident,
                  char **out);

#endif
