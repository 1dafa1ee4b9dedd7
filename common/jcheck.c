/* common/jcheck.c - see jcheck.h. The parsed tree keeps no positions for values, so on an
 * error the offending JSON path is located again in the source text (locate, on the shared
 * lexer's cursor) to report line:column. */
#include "jcheck.h"

#include "jexpr.h"
#include "jlex.h"
#include "jparse.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- locating a JSON path in the source text ------------------------------------------- */

/* locate follows any document the parser accepted */
_Static_assert(JLEX_MAX_DEPTH >= JP_MAX_DEPTH, "locate must reach the parser's deepest value");

/* In the object at the cursor, the member key: the cursor goes to its value, or with at_key to
 * its key. False when the object has no such key (raw bytes compared, as the key is written). */
static bool find_key(struct jlex *x, const char *key, bool at_key)
{
    size_t n = strlen(key);
    x->p++; /* '{' */
    while (jlex_peek(x) == '"') {
        struct jlex at = *x;
        struct jlex_text text;
        if (jlex_string(x, NULL, 0, &text, 0)) return false;
        bool match = (size_t)(x->p - at.p) == n + 2 && memcmp(at.p + 1, key, n) == 0;
        if (jlex_peek(x) != ':') return false;
        x->p++;
        jlex_skip_ws(x);
        if (match) {
            if (at_key) *x = at;
            return true;
        }
        if (jlex_skip_value(x, JLEX_MAX_DEPTH) || jlex_peek(x) != ',') return false;
        x->p++;
    }
    return false;
}

/* In the array at the cursor, element i: the cursor goes to it. False when it has fewer. */
static bool find_index(struct jlex *x, size_t i)
{
    x->p++; /* '[' */
    for (size_t k = 0; k < i; k++) {
        if (jlex_peek(x) == ']' || jlex_skip_value(x, JLEX_MAX_DEPTH) || jlex_peek(x) != ',')
            return false;
        x->p++;
    }
    return jlex_peek(x) && *x->p != ']';
}

/* A cursor where the path's value (or, with at_key, its key) starts; on a path that cannot be
 * followed, the deepest container reached. The text parsed as JSON already. */
static struct jlex locate(const struct jc_ctx *c, int nseg, bool at_key)
{
    struct jlex x = {.p = c->text, .end = c->text + c->len, .line_start = c->text, .line = 1};
    jlex_skip_ws(&x);
    for (int i = 0; i < nseg && x.p < x.end; i++) {
        const struct jc_seg *s = &c->segs[i];
        struct jlex container = x;
        bool found;
        if (s->key && *x.p == '{')
            found = find_key(&x, s->key, at_key && i == nseg - 1);
        else if (!s->key && *x.p == '[')
            found = find_index(&x, s->index);
        else
            return x;
        if (!found) return container;
    }
    return x;
}

static void format_path(const struct jc_ctx *c, int nseg, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "$");
    for (int i = 0; i < nseg && n < size; i++) {
        if (c->segs[i].key)
            n += (size_t)snprintf(buf + n, size - n, ".%s", c->segs[i].key);
        else
            n += (size_t)snprintf(buf + n, size - n, "[%zu]", c->segs[i].index);
    }
}

/* A number as a person wrote it: integers without a point, reals in %g. */
static void json_number_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, size, "%g", json_number_value(v));
}

/* A cursor at a string value moves `offset` bytes into it, when no escape comes before (the
 * bytes are then the decoded ones). */
static void into_string(struct jlex *at, size_t offset)
{
    if (at->p >= at->end || *at->p != '"' || (size_t)(at->end - at->p) <= offset + 1) return;
    if (memchr(at->p + 1, '\\', offset) || memchr(at->p + 1, '"', offset)) return;
    at->p += 1 + offset;
}

/* The message at the current path; at_key: at the last segment's key. */
static int vfail(struct jc_ctx *c, bool at_key, const char *fmt, va_list ap)
{
    char what[512], jpath[384];
    vsnprintf(what, sizeof what, fmt, ap);
    struct jlex at = locate(c, c->nseg, at_key);
    if (c->err_at && !at_key) into_string(&at, c->err_at - 1);
    c->err_at = 0;
    format_path(c, c->nseg, jpath, sizeof jpath);
    char via[400] = "";
    bool here = !at_key && strcmp(jpath, c->via_path) == 0;
    if (c->via && here) {
        char value[64];
        json_number_text(c->via->value, value, sizeof value);
        snprintf(via, sizeof via, " (the value of $%s = %s, %s)", c->via->name, value,
                 c->via->from_option ? "set by --var" : "its default in \"vars\"");
    } else if (c->via_expr[0] && here) {
        snprintf(via, sizeof via, " (%s)", c->via_expr);
    }
    return err_set(c->e, ERR_INPUT, "%s:%ld:%ld: %s: %s%s%s%s", c->path, at.line,
                   jlex_column(&at, at.p), jpath, what, via, c->note[0] ? " " : "", c->note);
}

int jc_fail_at(struct jc_ctx *c, bool at_key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, at_key, fmt, ap);
    va_end(ap);
    return rc;
}

int jc_fail_key(struct jc_ctx *c, const char *key, bool at_key, const char *fmt, ...)
{
    int rc = jc_push_key(c, key);
    if (rc) return rc;
    va_list ap;
    va_start(ap, fmt);
    rc = vfail(c, at_key, fmt, ap);
    va_end(ap);
    jc_pop(c);
    return rc;
}

int jc_push_key(struct jc_ctx *c, const char *key)
{
    if (c->nseg >= JC_MAX_SEGS) return jc_fail(c, "nesting too deep");
    c->segs[c->nseg++] = (struct jc_seg){.key = key};
    return 0;
}

int jc_push_index(struct jc_ctx *c, size_t i)
{
    if (c->nseg >= JC_MAX_SEGS) return jc_fail(c, "nesting too deep");
    c->segs[c->nseg++] = (struct jc_seg){.key = NULL, .index = i};
    return 0;
}

void jc_pop(struct jc_ctx *c)
{
    c->nseg--;
}

/* ---- the file and its header ------------------------------------------------------------ */

int jc_read_file(const char *path, size_t max, const char *what, char **out, size_t *len,
                 struct err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, err_status_of_errno(errno), "%s: cannot open %s: %s", path, what,
                       strerror(errno));
    /* max + 1: a longer file is found without reading it all */
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int rc = 0;
    if (!buf)
        rc = err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    else if (ferror(f))
        rc = err_set(e, err_status_of_errno(errno), "%s: cannot read %s: %s", path, what,
                     strerror(errno));
    else if (n > max)
        rc = err_set(e, ERR_INPUT, "%s: expected a %s of at most %zu bytes", path, what, max);
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

int jc_parse(struct jc_ctx *c, json_t **root)
{
    struct jp_error jerr;
    enum jp_status js = jp_parse(c->text, c->len, JP_REJECT_DUPLICATES, root, &jerr);
    if (js == JP_NOMEM) return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    if (js != JP_OK)
        return err_set(c->e, ERR_INPUT, "%s:%d:%d: invalid JSON: %s", c->path, jerr.line, jerr.col,
                       jerr.text);
    return 0;
}

int jc_check_document(struct jc_ctx *c, json_t *root, const char *format, const char *const *keys,
                      enum jc_format_style style)
{
    char what[96];
    snprintf(what, sizeof what, "a %s document", format);
    int rc;
    if ((rc = jc_want_object(c, root, what)) || (rc = jc_check_keys(c, root, keys))) return rc;
    json_t *v = json_object_get(root, "format");
    bool as_string = style == JC_FORMAT_AS_STRING;
    if (!v)
        return as_string ? jc_fail(c, "missing field \"format\" (a string)")
                         : jc_fail(c, "missing field \"format\" (\"%s\")", format);
    if (as_string && !json_is_string(v))
        return jc_fail_key(c, "format", false, "expected a string, got %s", jc_type_name(v));
    if (!json_is_string(v) || strcmp(json_string_value(v), format) != 0)
        return jc_fail_key(c, "format", false, "expected \"%s\"", format);
    v = json_object_get(root, "version");
    if (!v) return jc_fail(c, "missing field \"version\" (1)");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return jc_fail_key(c, "version", false,
                           "expected 1, the only version of the format this gilsim reads");
    return 0;
}

/* ---- typed field access ----------------------------------------------------------------- */

const char *jc_type_name(const json_t *v)
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

/* ---- variables -------------------------------------------------------------------------- */

bool jc_is_var_ref(const json_t *v)
{
    return json_is_string(v) && json_string_value(v)[0] == '$';
}

void jc_done(struct jc_ctx *c)
{
    json_decref(c->scratch);
    c->scratch = NULL;
}

/* The declared names, for messages. */
static void var_names(const struct jc_vars *vars, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "%s", vars->n ? "" : "none");
    for (size_t i = 0; i < vars->n && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", vars->v[i].name);
}

/* The path a failure about obj[key] will name, for c->via_path. */
static void set_via_path(struct jc_ctx *c, const char *key)
{
    format_path(c, c->nseg, c->via_path, sizeof c->via_path);
    size_t n = strlen(c->via_path);
    snprintf(c->via_path + n, sizeof c->via_path - n, ".%s", key);
}

struct lookup_ctx {
    struct jc_ctx *c;
};

/* A name in an expression: a declared variable (a use), or one of c->names. */
static bool lookup_name(void *ctx, const char *name, size_t n, double *value, char *why,
                        size_t why_size)
{
    struct jc_ctx *c = ((struct lookup_ctx *)ctx)->c;
    for (size_t i = 0; c->vars && i < c->vars->n; i++) {
        struct jc_var *var = &c->vars->v[i];
        if (strlen(var->name) != n || memcmp(var->name, name, n) != 0) continue;
        var->uses++;
        *value = json_number_value(var->value);
        return true;
    }
    for (size_t i = 0; i < c->nnames; i++)
        if (strlen(c->names[i].name) == n && memcmp(c->names[i].name, name, n) == 0) {
            c->names[i].uses++;
            *value = c->names[i].value;
            return true;
        }
    char names[256];
    var_names(c->vars, names, sizeof names);
    bool contextual =
        (n == 5 && memcmp(name, "index", 5) == 0) || (n == 5 && memcmp(name, "count", 5) == 0);
    if (contextual && c->scope)
        snprintf(why, why_size, "\"%.*s\" is defined only %s", (int)n, name, c->scope);
    else
        snprintf(why, why_size, "undeclared name \"%.*s\" (\"vars\" declares: %s)",
                 (int)(n > 64 ? 64 : n), name, names);
    return false;
}

/* "$(expression)": its value, an integer when whole. */
static json_t *resolve_expr(struct jc_ctx *c, const char *key, const char *text, int *rc)
{
    size_t len = strlen(text);
    double v = 0;
    struct jx_error xe;
    struct lookup_ctx lc = {c};
    if (jx_eval(text + 2, len - 3, lookup_name, &lc, &v, &xe) != 0) {
        c->err_at = 1 + 2 + xe.offset;
        *rc = jc_fail_key(c, key, false, "in $(...): %s", xe.what);
        return NULL;
    }
    json_decref(c->scratch);
    bool whole = v == floor(v) && fabs(v) <= 9007199254740992.0;
    c->scratch = whole ? json_integer((json_int_t)v) : json_real(v);
    if (!c->scratch) {
        *rc = err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
        return NULL;
    }
    char value[64];
    json_number_text(c->scratch, value, sizeof value);
    snprintf(c->via_expr, sizeof c->via_expr, "the value of %.200s = %s", text, value);
    set_via_path(c, key);
    return c->scratch;
}

json_t *jc_resolve(struct jc_ctx *c, json_t *obj, const char *key, int *rc)
{
    json_t *v = json_object_get(obj, key);
    *rc = 0;
    c->via = NULL;
    c->via_expr[0] = '\0';
    if (!v || !c->vars || !jc_is_var_ref(v)) return v;
    const char *text = json_string_value(v);
    size_t len = strlen(text);
    if (len >= 2 && text[1] == '(') {
        if (text[len - 1] != ')') {
            c->err_at = 1 + len - 1;
            *rc = jc_fail_key(c, key, false, "expected an expression \"$(...)\" ending with ')'");
            return NULL;
        }
        return resolve_expr(c, key, text, rc);
    }
    const char *name = text + 1;
    for (size_t i = 0; i < c->vars->n; i++) {
        struct jc_var *var = &c->vars->v[i];
        if (strcmp(var->name, name) != 0) continue;
        var->uses++;
        c->via = var;
        set_via_path(c, key); /* the path a failure about this value will name */
        return var->value;
    }
    char names[256];
    var_names(c->vars, names, sizeof names);
    *rc = jc_fail_key(c, key, false, "undeclared variable \"$%s\" (\"vars\" declares: %s)", name,
                      names);
    return NULL;
}

/* Every key of obj must be in allowed (NULL-terminated). */
int jc_check_keys(struct jc_ctx *c, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (ok) continue;
        if (!allowed[0])
            return jc_fail_key(c, key, true, "unknown key \"%s\"; expected no keys ({})", key);
        char list[256];
        size_t n = 0;
        list[0] = 0;
        for (const char *const *a = allowed; *a && n < sizeof list; a++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", a == allowed ? "" : ", ", *a);
        return jc_fail_key(c, key, true, "unknown key \"%s\"; expected one of: %s", key, list);
    }
    return 0;
}

int jc_get_bool(struct jc_ctx *c, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_boolean(v))
        return jc_fail_key(c, key, false, "expected true or false, got %s", jc_type_name(v));
    *out = json_is_true(v);
    return 0;
}

int jc_want_object(struct jc_ctx *c, json_t *v, const char *what)
{
    if (!json_is_object(v))
        return jc_fail(c, "expected %s (an object), got %s", what, jc_type_name(v));
    return 0;
}

/* A number within [min, max]; *out unchanged when absent and not required. */
int jc_get_number(struct jc_ctx *c, json_t *obj, const char *key, bool required, double min,
                  double max, const char *unit, double *out)
{
    int rc;
    json_t *v = jc_resolve(c, obj, key, &rc);
    if (rc) return rc;
    if (!v) return required ? jc_fail(c, "missing field \"%s\" (a number of %s)", key, unit) : 0;
    if (!json_is_number(v))
        return jc_fail_key(c, key, false, "expected a number of %s, got %s", unit, jc_type_name(v));
    double d = json_number_value(v);
    if (!(d >= min && d <= max))
        return jc_fail_key(c, key, false, "expected a number of %s in [%g, %g], got %g", unit, min,
                           max, d);
    *out = d;
    return 0;
}

int jc_get_integer(struct jc_ctx *c, json_t *obj, const char *key, bool required, int64_t min,
                   int64_t max, const char *unit, int64_t *out)
{
    int rc;
    json_t *v = jc_resolve(c, obj, key, &rc);
    if (rc) return rc;
    if (!v)
        return required ? jc_fail(c, "missing field \"%s\" (an integer number of %s)", key, unit)
                        : 0;
    if (!json_is_integer(v))
        return jc_fail_key(c, key, false, "expected an integer number of %s, got %s", unit,
                           jc_type_name(v));
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return jc_fail_key(c, key, false,
                           "expected an integer number of %s in [%lld, %lld], got %lld", unit,
                           (long long)min, (long long)max, (long long)i);
    *out = i;
    return 0;
}

/* One of choices (NULL-terminated); *out is the index. */
int jc_get_choice(struct jc_ctx *c, json_t *obj, const char *key, const char *const *choices,
                  int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    char list[128];
    size_t n = 0;
    list[0] = 0;
    for (const char *const *a = choices; *a && n < sizeof list; a++)
        n +=
            (size_t)snprintf(list + n, sizeof list - n, "%s\"%s\"", a == choices ? "" : " or ", *a);
    if (!json_is_string(v))
        return jc_fail_key(c, key, false, "expected %s, got %s", list, jc_type_name(v));
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], json_string_value(v)) == 0) {
            *out = i;
            return 0;
        }
    return jc_fail_key(c, key, false, "expected %s, got \"%s\"", list, json_string_value(v));
}

bool jc_is_ident(const char *s)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 64;
    for (size_t i = 0; i < n && ok; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-';
    return ok;
}

int jc_get_string(struct jc_ctx *c, json_t *obj, const char *key, bool required, bool ident,
                  char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return required ? jc_fail(c, "missing field \"%s\" (a string)", key) : 0;
    if (!json_is_string(v))
        return jc_fail_key(c, key, false, "expected a string, got %s", jc_type_name(v));
    const char *s = json_string_value(v);
    if (ident && !jc_is_ident(s))
        return jc_fail_key(c, key, false,
                           "expected a name of 1 to 64 letters, digits, '_' or '-', got \"%s\"", s);
    if (!(*out = strdup(s))) return err_set(c->e, ERR_RUNTIME, "%s: out of memory", c->path);
    return 0;
}
