/* common/jlex.c - see jlex.h. */
#include "jlex.h"

#include <string.h>

const char *jlex_message(enum jlex_status st)
{
    switch (st) {
    case JLEX_OK:
        return "no error";
    case JLEX_UNTERMINATED:
        return "unterminated string";
    case JLEX_CONTROL:
        return "control character in a string";
    case JLEX_ESCAPE:
        return "invalid escape in a string";
    case JLEX_SURROGATE:
        return "invalid \\u surrogate pair in a string";
    case JLEX_NUL:
        return "\\u0000 is not allowed in a string";
    case JLEX_UTF8:
        return "invalid UTF-8 in a string";
    case JLEX_NUMBER:
        return "invalid number";
    case JLEX_FRACTION:
        return "expected a digit after the decimal point";
    case JLEX_EXPONENT:
        return "expected a digit in the exponent";
    case JLEX_DEPTH:
        return "nested too deeply";
    case JLEX_VALUE:
        return "expected a value";
    case JLEX_END:
        return "unexpected end of file";
    case JLEX_KEY:
        return "expected a string";
    case JLEX_COLON:
        return "expected ':'";
    case JLEX_OBJECT_NEXT:
        return "expected ',' or '}'";
    case JLEX_ARRAY_NEXT:
        return "expected ',' or ']'";
    }
    return "invalid JSON";
}

long jlex_column(const struct jlex *x, const char *at)
{
    long col = 1;
    for (const char *q = x->line_start; q < at && q < x->end; q++)
        col += ((unsigned char)*q & 0xC0) != 0x80; /* a UTF-8 continuation byte adds nothing */
    return col;
}

/* The four hex digits at p as a number, or -1 when one is not a hex digit. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

size_t jlex_utf8_len(const unsigned char *p, const unsigned char *end)
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

static size_t utf8_encode(unsigned long u, unsigned char out[4])
{
    if (u < 0x80) {
        out[0] = (unsigned char)u;
        return 1;
    }
    if (u < 0x800) {
        out[0] = (unsigned char)(0xc0 | (u >> 6));
        out[1] = (unsigned char)(0x80 | (u & 0x3f));
        return 2;
    }
    if (u < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (u >> 12));
        out[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (u & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (u >> 18));
    out[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (u & 0x3f));
    return 4;
}

/* The escape at *pp (a backslash) decoded into out[0, *n); *pp steps over it, or stays on the
 * backslash when it is wrong. */
static enum jlex_status unescape(const char **pp, const char *end, unsigned flags,
                                 unsigned char out[4], size_t *n)
{
    static const char names[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    const char *p = *pp;
    if (p + 1 >= end) return JLEX_UNTERMINATED;
    char x = p[1];
    const char *simple = x ? strchr(names, x) : NULL;
    if (simple) {
        out[0] = (unsigned char)decoded[simple - names];
        *n = 1;
        *pp = p + 2;
        return JLEX_OK;
    }
    long u;
    if (x != 'u' || end - p < 6 || (u = hex4(p + 2)) < 0) return JLEX_ESCAPE;
    const char *q = p + 6;
    if (u >= 0xd800 && u <= 0xdbff) { /* a high surrogate: a low one must follow */
        long lo;
        if (end - q < 6 || q[0] != '\\' || q[1] != 'u' || (lo = hex4(q + 2)) < 0 || lo < 0xdc00 ||
            lo > 0xdfff)
            return JLEX_SURROGATE;
        q += 6;
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
    } else if (u >= 0xdc00 && u <= 0xdfff) {
        return JLEX_SURROGATE;
    }
    if (u == 0 && (flags & JLEX_REJECT_NUL)) return JLEX_NUL;
    *n = utf8_encode((unsigned long)u, out);
    *pp = q;
    return JLEX_OK;
}

/* A byte that stands for itself in a string: printable ASCII and DEL, but '"' and '\\'. */
// clang-format off
static const unsigned char plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 20 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 50 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 70 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 80 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 90 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* a0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* b0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* c0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* d0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* e0 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* f0 */
};
// clang-format on

static inline bool plain(unsigned char c)
{
    return plain_byte[c];
}

/* The rest of a string after its first byte that is not plain: escapes, UTF-8, and the checks.
 * n bytes are decoded already; p is the first byte not read. Out of line (GCC and clang), so
 * that the usual string's path stays short. */
__attribute__((noinline)) static enum jlex_status string_rest(struct jlex *x, const char *p,
                                                              char *buf, size_t room, size_t n,
                                                              struct jlex_text *out, unsigned flags)
{
    const char *end = x->end;
    bool has_nul = false;
    enum jlex_status st = JLEX_OK;
    for (;;) {
        if (p >= end) {
            st = JLEX_UNTERMINATED;
            break;
        }
        unsigned char c = (unsigned char)*p, seq[4];
        size_t k;
        if (plain(c)) {
            seq[0] = c, k = 1;
            p++;
        } else if (c == '"') {
            break;
        } else if (c < 0x20) {
            st = JLEX_CONTROL;
            break;
        } else if (c == '\\') {
            if ((st = unescape(&p, end, flags, seq, &k))) break;
            has_nul |= seq[0] == 0;
        } else {
            if (!(k = jlex_utf8_len((const unsigned char *)p, (const unsigned char *)end))) {
                st = JLEX_UTF8;
                break;
            }
            memcpy(seq, p, k);
            p += k;
        }
        for (size_t i = 0; i < k; i++, n++)
            if (n < room) buf[n] = (char)seq[i];
    }
    if (st) {
        x->p = p;
        return st;
    }
    if (buf) buf[n < room ? n : room] = '\0';
    out->len = n;
    out->has_nul = has_nul;
    x->p = p + 1;
    return JLEX_OK;
}

enum jlex_status jlex_string(struct jlex *x, char *buf, size_t size, struct jlex_text *out,
                             unsigned flags)
{
    const char *start = x->p + 1, *p = start, *end = x->end;
    size_t room = size ? size - 1 : 0;
    /* The usual string: plain bytes, copied while they fit, then only counted. */
    const char *copy_end = room < (size_t)(end - p) ? p + room : end;
    for (; p < copy_end && plain((unsigned char)*p); p++)
        buf[p - start] = *p;
    while (p < end && plain((unsigned char)*p))
        p++;
    size_t n = (size_t)(p - start);
    if (p < end && *p == '"') {
        if (size) buf[n < room ? n : room] = '\0';
        out->len = n;
        out->has_nul = false;
        x->p = p + 1;
        return JLEX_OK;
    }
    return string_rest(x, p, size ? buf : NULL, room, n, out, flags);
}

static const char *digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

enum jlex_status jlex_number(struct jlex *x, struct jlex_number *out)
{
    const char *p = x->p, *end = x->end;
    bool too_long = false;
    uint64_t mag = 0;
    out->start = p;
    out->negative = p < end && *p == '-';
    out->integral = true;
    out->fits = false;
    out->value = 0;
    if (out->negative) p++;
    if (p >= end || *p < '0' || *p > '9') return JLEX_NUMBER;
    if (*p == '0') {
        p++;
    } else {
        const char *first = p;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            mag = mag * 10 + (unsigned)(*p - '0'); /* wraps past 20 digits: then unused */
        too_long = p - first > 19;                 /* 19 digits stay below 2^64 */
    }
    if (p < end && *p == '.') {
        out->integral = false;
        if (++p >= end || *p < '0' || *p > '9') {
            x->p = p;
            return JLEX_FRACTION;
        }
        p = digits(p, end);
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        out->integral = false;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') {
            x->p = p;
            return JLEX_EXPONENT;
        }
        p = digits(p, end);
    }
    uint64_t limit = out->negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    out->fits = out->integral && !too_long && mag <= limit;
    if (out->fits) out->value = out->negative ? (int64_t)(0 - mag) : (int64_t)mag;
    x->p = p;
    return JLEX_OK;
}

enum jlex_literal jlex_literal(struct jlex *x)
{
    static const char *const words[] = {
        [JLEX_FALSE] = "false", [JLEX_TRUE] = "true", [JLEX_NULL] = "null"};
    size_t left = (size_t)(x->end - x->p);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (left >= n && memcmp(x->p, words[i], n) == 0) {
            x->p += n;
            return (enum jlex_literal)i;
        }
    }
    return JLEX_NOT_A_LITERAL;
}

/* An object's key and its ':', at the cursor. */
static enum jlex_status skip_key(struct jlex *x)
{
    struct jlex_text text;
    if (jlex_peek(x) != '"') return JLEX_KEY;
    enum jlex_status st = jlex_string(x, NULL, 0, &text, 0);
    if (st) return st;
    if (jlex_peek(x) != ':') return JLEX_COLON;
    x->p++;
    return JLEX_OK;
}

/* One scalar at the cursor (c, its first byte). */
static enum jlex_status skip_scalar(struct jlex *x, char c)
{
    struct jlex_text text;
    struct jlex_number num;
    if (c == '"') return jlex_string(x, NULL, 0, &text, 0);
    if (c == '-' || (c >= '0' && c <= '9')) return jlex_number(x, &num);
    if (c == 't' || c == 'f' || c == 'n')
        return jlex_literal(x) == JLEX_NOT_A_LITERAL ? JLEX_VALUE : JLEX_OK;
    return c ? JLEX_VALUE : JLEX_END;
}

/* Iterative, with the open containers' closing bytes on a stack: no recursion on hostile
 * nesting. */
enum jlex_status jlex_skip_value(struct jlex *x, int max_depth)
{
    char stack[JLEX_MAX_DEPTH]; /* '}' or ']' per open container */
    int depth = 0;
    enum jlex_status st;
    if (max_depth > JLEX_MAX_DEPTH) max_depth = JLEX_MAX_DEPTH;
    for (;;) {
        char c = jlex_peek(x);
        if (c == '{' || c == '[') {
            if (depth == max_depth) return JLEX_DEPTH;
            x->p++;
            stack[depth++] = c == '{' ? '}' : ']';
            if (jlex_peek(x) == stack[depth - 1]) {
                x->p++;
                depth--;
            } else if (c == '{') {
                if ((st = skip_key(x))) return st;
                continue; /* the member's value */
            } else {
                continue; /* the first element */
            }
        } else if ((st = skip_scalar(x, c))) {
            return st;
        }
        /* After a value: close containers or go on to the next element or member. */
        for (;;) {
            if (depth == 0) return JLEX_OK;
            char n = jlex_peek(x);
            if (n == stack[depth - 1]) {
                x->p++;
                depth--;
                continue;
            }
            if (n != ',') return stack[depth - 1] == '}' ? JLEX_OBJECT_NEXT : JLEX_ARRAY_NEXT;
            x->p++;
            if (stack[depth - 1] == '}' && (st = skip_key(x))) return st;
            break;
        }
    }
}
