/* common/jparse.c - see jparse.h. Recursive descent over the text; strings are decoded into one
 * growing scratch buffer; depth is bounded by JP_MAX_DEPTH. */
#include "jparse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp {
    const char *base, *p, *end, *line_start;
    int line;
    unsigned flags;
    int depth;
    char *buf; /* scratch: the string or number being read */
    size_t cap;
    struct jp_error *err;
};

static int fail(struct jp *J, const char *at, const char *what)
{
    if (J->err) {
        int col = 1;
        for (const char *q = J->line_start; q < at && q < J->end; q++)
            col += ((unsigned char)*q & 0xC0) != 0x80; /* characters, not UTF-8 bytes */
        J->err->line = J->line;
        J->err->col = col;
        snprintf(J->err->text, sizeof J->err->text, "%s", what);
    }
    return JP_SYNTAX;
}

static void skip_ws(struct jp *J)
{
    while (J->p < J->end) {
        char c = *J->p;
        if (c == '\n') {
            J->line++;
            J->line_start = J->p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        J->p++;
    }
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

int jp_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

size_t jp_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], min;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - p) < n) return 0;
    unsigned v = c & (0x3f >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    return n;
}

/* Reads a string at J->p (a '"') into J->buf, decoded, NUL-terminated; *len without the NUL. */
static int parse_string(struct jp *J, size_t *len)
{
    const char *p = J->p + 1;
    size_t n = 0;
    int rc;
    for (;;) {
        if (p >= J->end) return fail(J, p, "unterminated string");
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if ((rc = reserve(J, n, 5))) return rc;
        if (c < 0x20) return fail(J, p, "control character in a string");
        if (c == '\\') {
            if (p + 1 >= J->end) return fail(J, p, "unterminated string");
            char x = p[1];
            const char *simple = x ? strchr("\"\\/bfnrt", x) : NULL;
            if (simple) {
                static const char decoded[] = "\"\\/\b\f\n\r\t";
                J->buf[n++] = decoded[simple - "\"\\/bfnrt"];
                p += 2;
                continue;
            }
            unsigned u;
            if (x != 'u' || J->end - p < 6 || jp_hex4(p + 2, &u) != 0)
                return fail(J, p, "invalid escape in a string");
            const char *esc = p;
            p += 6;
            if (u >= 0xd800 && u <= 0xdbff) {
                unsigned lo;
                if (J->end - p < 6 || p[0] != '\\' || p[1] != 'u' || jp_hex4(p + 2, &lo) != 0 ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return fail(J, esc, "invalid \\u surrogate pair in a string");
                p += 6;
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            } else if (u >= 0xdc00 && u <= 0xdfff) {
                return fail(J, esc, "invalid \\u surrogate pair in a string");
            }
            if (u == 0 && !(J->flags & JP_ALLOW_NUL))
                return fail(J, esc, "\\u0000 is not allowed in a string");
            if (u < 0x80) {
                J->buf[n++] = (char)u;
            } else if (u < 0x800) {
                J->buf[n++] = (char)(0xc0 | (u >> 6));
                J->buf[n++] = (char)(0x80 | (u & 0x3f));
            } else if (u < 0x10000) {
                J->buf[n++] = (char)(0xe0 | (u >> 12));
                J->buf[n++] = (char)(0x80 | ((u >> 6) & 0x3f));
                J->buf[n++] = (char)(0x80 | (u & 0x3f));
            } else {
                J->buf[n++] = (char)(0xf0 | (u >> 18));
                J->buf[n++] = (char)(0x80 | ((u >> 12) & 0x3f));
                J->buf[n++] = (char)(0x80 | ((u >> 6) & 0x3f));
                J->buf[n++] = (char)(0x80 | (u & 0x3f));
            }
            continue;
        }
        size_t k = 1;
        if (c >= 0x80 &&
            !(k = jp_utf8_len((const unsigned char *)p, (const unsigned char *)J->end)))
            return fail(J, p, "invalid UTF-8 in a string");
        memcpy(J->buf + n, p, k);
        n += k;
        p += k;
    }
    if ((rc = reserve(J, n, 1))) return rc;
    J->buf[n] = '\0';
    *len = n;
    J->p = p + 1;
    return JP_OK;
}

static int parse_number(struct jp *J, json_t **out)
{
    const char *start = J->p, *p = J->p;
    bool neg = false, integral = true;
    if (*p == '-') neg = true, p++;
    if (p >= J->end || *p < '0' || *p > '9') return fail(J, start, "invalid number");
    if (*p == '0')
        p++;
    else
        while (p < J->end && *p >= '0' && *p <= '9')
            p++;
    if (p < J->end && *p == '.') {
        integral = false;
        if (++p >= J->end || *p < '0' || *p > '9')
            return fail(J, p, "expected a digit after the decimal point");
        while (p < J->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < J->end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < J->end && (*p == '+' || *p == '-')) p++;
        if (p >= J->end || *p < '0' || *p > '9')
            return fail(J, p, "expected a digit in the exponent");
        while (p < J->end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - start);
    int rc = reserve(J, 0, n + 1);
    if (rc) return rc;
    memcpy(J->buf, start, n);
    J->buf[n] = '\0';
    errno = 0;
    if (integral) {
        long long v = strtoll(J->buf, NULL, 10);
        if (errno == ERANGE)
            return fail(J, start, neg ? "too big negative integer" : "too big integer");
        *out = json_integer((json_int_t)v);
    } else {
        double d = strtod(J->buf, NULL);
        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            return fail(J, start, "real number overflow");
        *out = json_real(d);
    }
    J->p = p;
    return *out ? JP_OK : JP_NOMEM;
}

static int parse_value(struct jp *J, json_t **out);

static int parse_object(struct jp *J, json_t **out)
{
    json_t *obj = json_object();
    if (!obj) return JP_NOMEM;
    J->p++; /* '{' */
    skip_ws(J);
    int rc = JP_OK;
    if (J->p < J->end && *J->p == '}') {
        J->p++;
        *out = obj;
        return JP_OK;
    }
    for (;;) {
        skip_ws(J);
        if (J->p >= J->end || *J->p != '"') {
            rc = fail(J, J->p, "string or '}' expected");
            break;
        }
        const char *key_at = J->p;
        size_t len;
        if ((rc = parse_string(J, &len))) break;
        if (strlen(J->buf) != len) {
            rc = fail(J, key_at, "NUL byte in object key not supported");
            break;
        }
        if ((J->flags & JP_REJECT_DUPLICATES) && json_object_get(obj, J->buf)) {
            rc = fail(J, key_at, "duplicate object key");
            break;
        }
        char *key = malloc(len + 1); /* the scratch buffer serves the value next */
        if (!key) {
            rc = JP_NOMEM;
            break;
        }
        memcpy(key, J->buf, len + 1);
        skip_ws(J);
        if (J->p >= J->end || *J->p != ':') {
            free(key);
            rc = fail(J, J->p, "':' expected");
            break;
        }
        J->p++;
        json_t *v = NULL;
        if ((rc = parse_value(J, &v))) {
            free(key);
            break;
        }
        /* jansson takes v even when it fails */
        rc = json_object_set_new(obj, key, v) ? JP_NOMEM : JP_OK;
        free(key);
        if (rc) break;
        skip_ws(J);
        if (J->p < J->end && *J->p == ',') {
            J->p++;
            continue;
        }
        if (J->p < J->end && *J->p == '}') {
            J->p++;
            *out = obj;
            return JP_OK;
        }
        rc = fail(J, J->p, "',' or '}' expected");
        break;
    }
    json_decref(obj);
    return rc;
}

static int parse_array(struct jp *J, json_t **out)
{
    json_t *arr = json_array();
    if (!arr) return JP_NOMEM;
    J->p++; /* '[' */
    skip_ws(J);
    int rc = JP_OK;
    if (J->p < J->end && *J->p == ']') {
        J->p++;
        *out = arr;
        return JP_OK;
    }
    for (;;) {
        json_t *v = NULL;
        if ((rc = parse_value(J, &v))) break;
        if (json_array_append_new(arr, v)) { /* jansson takes v even when it fails */
            rc = JP_NOMEM;
            break;
        }
        skip_ws(J);
        if (J->p < J->end && *J->p == ',') {
            J->p++;
            continue;
        }
        if (J->p < J->end && *J->p == ']') {
            J->p++;
            *out = arr;
            return JP_OK;
        }
        rc = fail(J, J->p, "',' or ']' expected");
        break;
    }
    json_decref(arr);
    return rc;
}

static bool literal(struct jp *J, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(J->end - J->p) < n || memcmp(J->p, word, n) != 0) return false;
    J->p += n;
    return true;
}

static int parse_value(struct jp *J, json_t **out)
{
    skip_ws(J);
    if (J->p >= J->end) return fail(J, J->p, "unexpected end of input");
    char c = *J->p;
    int rc;
    if (c == '{' || c == '[') {
        if (J->depth >= JP_MAX_DEPTH) return fail(J, J->p, "maximum parsing depth reached");
        J->depth++;
        rc = c == '{' ? parse_object(J, out) : parse_array(J, out);
        J->depth--;
        return rc;
    }
    if (c == '"') {
        size_t len;
        if ((rc = parse_string(J, &len))) return rc;
        *out = json_stringn_nocheck(J->buf, len);
        return *out ? JP_OK : JP_NOMEM;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(J, out);
    if (literal(J, "true")) {
        *out = json_true();
        return JP_OK;
    }
    if (literal(J, "false")) {
        *out = json_false();
        return JP_OK;
    }
    if (literal(J, "null")) {
        *out = json_null();
        return JP_OK;
    }
    return fail(J, J->p, "invalid token: expected a value");
}

enum jp_status jp_parse(const char *text, size_t len, unsigned flags, json_t **out,
                        struct jp_error *err)
{
    struct jp J = {.base = text,
                   .p = text,
                   .end = text + len,
                   .line_start = text,
                   .line = 1,
                   .flags = flags,
                   .err = err};
    *out = NULL;
    skip_ws(&J);
    int rc;
    json_t *v = NULL;
    if (!(flags & JP_ANY) && (J.p >= J.end || (*J.p != '{' && *J.p != '[')))
        rc = fail(&J, J.p, "'[' or '{' expected");
    else if ((rc = parse_value(&J, &v)) == JP_OK) {
        skip_ws(&J);
        if (J.p < J.end) {
            rc = fail(&J, J.p, "end of file expected");
            json_decref(v);
            v = NULL;
        }
    }
    free(J.buf);
    *out = v;
    return (enum jp_status)rc;
}
