/* common/jparse.c - see jparse.h. Recursive descent over the tokens of common/jlex.h; strings
 * are decoded into one growing scratch buffer; depth is bounded by JP_MAX_DEPTH. */
#include "jparse.h"

#include "jlex.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp {
    struct jlex x; /* the cursor */
    unsigned flags;
    int depth;
    char *buf; /* scratch: the string or number being read */
    size_t cap;
    struct jp_error *err;
};

static int fail(struct jp *J, const char *at, const char *what)
{
    if (J->err) {
        J->err->line = (int)J->x.line;
        J->err->col = (int)jlex_column(&J->x, at);
        snprintf(J->err->text, sizeof J->err->text, "%s", what);
    }
    return JP_SYNTAX;
}

/* Makes room for n more bytes after used; JP_NOMEM when it cannot. */
static int reserve(struct jp *J, size_t used, size_t n)
{
    if (used + n <= J->cap) return JP_OK;
    size_t cap = J->cap ? J->cap : 64;
    while (cap < used + n) {
        if (cap > SIZE_MAX / 2) return JP_NOMEM;
        cap *= 2;
    }
    char *b = realloc(J->buf, cap);
    if (!b) return JP_NOMEM;
    J->buf = b;
    J->cap = cap;
    return JP_OK;
}

/* Reads a string at the cursor (a '"') into J->buf, decoded, NUL-terminated. */
static int parse_string(struct jp *J, struct jlex_text *text)
{
    const char *start = J->x.p;
    unsigned flags = J->flags & JP_ALLOW_NUL ? 0 : JLEX_REJECT_NUL;
    int rc;
    if (!J->cap && (rc = reserve(J, 0, 64))) return rc;
    for (;;) {
        enum jlex_status st = jlex_string(&J->x, J->buf, J->cap, text, flags);
        if (st) return fail(J, J->x.p, jlex_message(st));
        if (text->len < J->cap) return JP_OK;
        /* Longer than the scratch buffer: make room and read it again. */
        if ((rc = reserve(J, 0, text->len + 1))) return rc;
        J->x.p = start;
    }
}

static int parse_number(struct jp *J, json_t **out)
{
    struct jlex_number num;
    enum jlex_status st = jlex_number(&J->x, &num);
    if (st) return fail(J, J->x.p, jlex_message(st));
    if (num.integral) {
        if (!num.fits)
            return fail(J, num.start,
                        num.negative ? "too big negative integer" : "too big integer");
        *out = json_integer((json_int_t)num.value);
        return *out ? JP_OK : JP_NOMEM;
    }
    size_t n = (size_t)(J->x.p - num.start);
    int rc = reserve(J, 0, n + 1);
    if (rc) return rc;
    memcpy(J->buf, num.start, n);
    J->buf[n] = '\0';
    errno = 0;
    double d = strtod(J->buf, NULL);
    if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
        return fail(J, num.start, "real number overflow");
    *out = json_real(d);
    return *out ? JP_OK : JP_NOMEM;
}

static int parse_value(struct jp *J, json_t **out);

/* After a member or an element: a ',' (*more) or the container's close (!*more), stepped over. */
static int next_or_close(struct jp *J, char close, const char *expected, bool *more)
{
    char c = jlex_peek(&J->x);
    if (c != ',' && c != close) return fail(J, J->x.p, expected);
    J->x.p++;
    *more = c == ',';
    return JP_OK;
}

/* One "key": value, added to obj. */
static int parse_member(struct jp *J, json_t *obj)
{
    if (jlex_peek(&J->x) != '"') return fail(J, J->x.p, "string or '}' expected");
    const char *key_at = J->x.p;
    struct jlex_text key_text;
    int rc = parse_string(J, &key_text);
    if (rc) return rc;
    if (key_text.has_nul) return fail(J, key_at, "NUL byte in object key not supported");
    if ((J->flags & JP_REJECT_DUPLICATES) && json_object_get(obj, J->buf))
        return fail(J, key_at, "duplicate object key");
    char *key = malloc(key_text.len + 1); /* the scratch buffer serves the value next */
    if (!key) return JP_NOMEM;
    memcpy(key, J->buf, key_text.len + 1);
    json_t *v = NULL;
    if (jlex_peek(&J->x) != ':') {
        rc = fail(J, J->x.p, "':' expected");
    } else {
        J->x.p++;
        /* jansson takes v even when it fails */
        if ((rc = parse_value(J, &v)) == JP_OK)
            rc = json_object_set_new(obj, key, v) ? JP_NOMEM : JP_OK;
    }
    free(key);
    return rc;
}

static int parse_object(struct jp *J, json_t **out)
{
    json_t *obj = json_object();
    if (!obj) return JP_NOMEM;
    J->x.p++; /* '{' */
    bool more = jlex_peek(&J->x) != '}';
    int rc = JP_OK;
    if (!more) J->x.p++;
    while (more) {
        if ((rc = parse_member(J, obj)) ||
            (rc = next_or_close(J, '}', "',' or '}' expected", &more)))
            break;
    }
    if (rc) {
        json_decref(obj);
        return rc;
    }
    *out = obj;
    return JP_OK;
}

static int parse_array(struct jp *J, json_t **out)
{
    json_t *arr = json_array();
    if (!arr) return JP_NOMEM;
    J->x.p++; /* '[' */
    bool more = jlex_peek(&J->x) != ']';
    int rc = JP_OK;
    if (!more) J->x.p++;
    while (more) {
        json_t *v = NULL;
        if ((rc = parse_value(J, &v))) break;
        if (json_array_append_new(arr, v)) { /* jansson takes v even when it fails */
            rc = JP_NOMEM;
            break;
        }
        if ((rc = next_or_close(J, ']', "',' or ']' expected", &more))) break;
    }
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return JP_OK;
}

static int parse_value(struct jp *J, json_t **out)
{
    jlex_skip_ws(&J->x);
    if (J->x.p >= J->x.end) return fail(J, J->x.p, "unexpected end of input");
    char c = *J->x.p;
    int rc;
    if (c == '{' || c == '[') {
        if (J->depth >= JP_MAX_DEPTH) return fail(J, J->x.p, "maximum parsing depth reached");
        J->depth++;
        rc = c == '{' ? parse_object(J, out) : parse_array(J, out);
        J->depth--;
        return rc;
    }
    if (c == '"') {
        struct jlex_text text;
        if ((rc = parse_string(J, &text))) return rc;
        *out = json_stringn_nocheck(J->buf, text.len);
        return *out ? JP_OK : JP_NOMEM;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(J, out);
    switch (jlex_literal(&J->x)) {
    case JLEX_TRUE:
        *out = json_true();
        return JP_OK;
    case JLEX_FALSE:
        *out = json_false();
        return JP_OK;
    case JLEX_NULL:
        *out = json_null();
        return JP_OK;
    case JLEX_NOT_A_LITERAL:
        break;
    }
    return fail(J, J->x.p, "invalid token: expected a value");
}

enum jp_status jp_parse(const char *text, size_t len, unsigned flags, json_t **out,
                        struct jp_error *err)
{
    struct jp J = {.x = {.p = text, .end = text + len, .line_start = text, .line = 1},
                   .flags = flags,
                   .err = err};
    *out = NULL;
    jlex_skip_ws(&J.x);
    int rc;
    json_t *v = NULL;
    if (!(flags & JP_ANY) && (J.x.p >= J.x.end || (*J.x.p != '{' && *J.x.p != '[')))
        rc = fail(&J, J.x.p, "'[' or '{' expected");
    else if ((rc = parse_value(&J, &v)) == JP_OK) {
        jlex_skip_ws(&J.x);
        if (J.x.p < J.x.end) {
            rc = fail(&J, J.x.p, "end of file expected");
            json_decref(v);
            v = NULL;
        }
    }
    free(J.buf);
    *out = v;
    return (enum jp_status)rc;
}
