/* common/jcheck.h - checking a parsed JSON document against a format (workload files, sim/wl.c;
 * machine files, sim/machine.c): the file read and its parse, the document's format/version
 * header, typed fields with ranges, unknown keys, variables ("$name"). Every error names the
 * file, line and column, the JSON path and what was expected, e.g.
 *
 *     w.json:7:24: $.threads[0].count: expected an integer number of threads in [1, 10000], got 0
 *
 * The checker keeps a stack of path segments (jc_push_key / jc_push_index / jc_pop) while it
 * descends; a failure at one key below the current path is jc_fail_key, which pushes and pops
 * that key itself. */
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

/* A name an expression may read where the document says so (a workload's `index` and
 * `count` in a thread group's ops), with its value there. */
struct jc_name {
    const char *name;
    double value;
    unsigned uses;
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
    char via_expr[288]; /* the same for an expression: "the value of $(...) = v" */
    /* Names expressions may read besides the variables (NULL: none); `scope` says where they
     * are defined, for the message when one is read elsewhere. */
    struct jc_name *names;
    size_t nnames;
    const char *scope;
    /* Appended to every message while set (which of several threads a value was read for). */
    char note[96];
    json_t *scratch; /* the value of the last expression (owned; jc_done frees it) */
    size_t err_at;   /* 0, or 1 + how many bytes into a string value a failure points */
};

/* ERR_INPUT "path:line:col: $.json.path: what" at the current path; at_key points at the
 * last segment's key instead of its value. Returns ERR_INPUT. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int jc_fail_at(struct jc_ctx *c, bool at_key, const char *fmt, ...);
#define jc_fail(c, ...) jc_fail_at((c), false, __VA_ARGS__)
/* The same at key of the current path's object (its value, or with at_key the key). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
int jc_fail_key(struct jc_ctx *c, const char *key, bool at_key, const char *fmt, ...);

int jc_push_key(struct jc_ctx *c, const char *key);
int jc_push_index(struct jc_ctx *c, size_t i);
void jc_pop(struct jc_ctx *c);
/* The whole file at path, at most max bytes (what names it in messages: "workload file"):
 * *out (free it) and *len. ERR_INPUT when it cannot be read or is longer. */
int jc_read_file(const char *path, size_t max, const char *what, char **out, size_t *len,
                 struct err *e);

/* c->text as JSON (common/jparse.h, a key twice in one object refused) into *root (a new
 * reference): ERR_INPUT "path:line:col: invalid JSON: what" or ERR_RUNTIME out of memory. */
int jc_parse(struct jc_ctx *c, json_t **root);

/* How a missing or non-string "format" is reported: as a string field (workload files:
 * `missing field "format" (a string)`, `expected a string, got ...`) or by the format's name
 * (machine files: `missing field "format" ("gilsim-machine")`, `expected "gilsim-machine"`). */
enum jc_format_style { JC_FORMAT_AS_STRING, JC_FORMAT_AS_NAME };
/* root must be "a <format> document": an object with only the keys allowed (NULL-terminated),
 * its "format" the string format and its "version" 1 (the only version of either format). */
int jc_check_document(struct jc_ctx *c, json_t *root, const char *format,
                      const char *const *allowed, enum jc_format_style style);

/* "an object", "an integer", ...: for messages. */
const char *jc_type_name(const json_t *v);

/* obj[key] with a variable resolved: "$name" becomes the variable's value (counted as a use,
 * remembered in c->via), "$(expression)" its value (common/jexpr.h; variables and c->names;
 * an integer when the value is whole, valid until the next call). NULL when absent; *rc is
 * non-zero (reported) for an undeclared variable or a bad expression. */
json_t *jc_resolve(struct jc_ctx *c, json_t *obj, const char *key, int *rc);
/* True when v is a string of the form "$name" or "$(expression)". */
bool jc_is_var_ref(const json_t *v);
/* Frees what the context holds (the last expression's value). */
void jc_done(struct jc_ctx *c);

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
/* A name of 1 to 64 letters, digits, '_' or '-' (thread groups, objects). */
bool jc_is_ident(const char *s);
/* A string (ident: a name of 1 to 64 letters, digits, '_' or '-'), strdup'ed into *out. */
int jc_get_string(struct jc_ctx *c, json_t *obj, const char *key, bool required, bool ident,
                  char **out);

#endif
