/* common/jexpr.c - see jexpr.h. A recursive-descent parser that evaluates as it goes:
 *   expr  := term (('+' | '-') term)*
 *   term  := unary (('*' | '/' | '%') unary)*
 *   unary := ('-' | '+') unary | primary
 *   primary := number | name | '(' expr ')' */
#include "jexpr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct px {
    const char *s;
    size_t len, i;
    int depth;
    jx_lookup lookup;
    void *ctx;
    struct jx_error *err;
};

static int fail(struct px *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->what, sizeof p->err->what, fmt, ap);
    va_end(ap);
    p->err->offset = at;
    return -1;
}

/* A character for a message: itself when printable ASCII. */
static const char *shown(char c, char buf[8])
{
    if (c > ' ' && c < 127)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02x", (unsigned char)c);
    return buf;
}

static void skip_ws(struct px *p)
{
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
        p->i++;
}

static char peek(struct px *p)
{
    skip_ws(p);
    return p->i < p->len ? p->s[p->i] : '\0';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && is_digit(c));
}

/* A number: digits, an optional fraction, an optional exponent. */
static int number(struct px *p, double *out)
{
    size_t start = p->i, i = p->i;
    while (i < p->len && is_digit(p->s[i]))
        i++;
    if (i < p->len && p->s[i] == '.') {
        i++;
        while (i < p->len && is_digit(p->s[i]))
            i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->len && (p->s[j] == '+' || p->s[j] == '-')) j++;
        if (j < p->len && is_digit(p->s[j])) {
            while (j < p->len && is_digit(p->s[j]))
                j++;
            i = j;
        }
    }
    char buf[64];
    if (i - start >= sizeof buf) return fail(p, start, "number too long");
    memcpy(buf, p->s + start, i - start);
    buf[i - start] = '\0';
    char *end;
    *out = strtod(buf, &end);
    if (end == buf || *end || !isfinite(*out)) return fail(p, start, "expected a number");
    p->i = i;
    return 0;
}

static int expr(struct px *p, double *out);

static int primary(struct px *p, double *out)
{
    char c = peek(p);
    size_t at = p->i;
    if (c == '(') {
        p->i++;
        if (expr(p, out)) return -1;
        if (peek(p) != ')') return fail(p, p->i, "expected ')'");
        p->i++;
        return 0;
    }
    if (is_digit(c) || c == '.') return number(p, out);
    if (is_name_char(c, true)) {
        size_t n = 0;
        while (at + n < p->len && is_name_char(p->s[at + n], n == 0))
            n++;
        char why[160] = "";
        if (!p->lookup(p->ctx, p->s + at, n, out, why, sizeof why))
            return fail(p, at, "%s", why[0] ? why : "unknown name");
        p->i = at + n;
        return 0;
    }
    if (c == '\0') return fail(p, at, "expected a number, a name or '(' at the end");
    char b[8];
    return fail(p, at, "expected a number, a name or '(', got %s", shown(c, b));
}

static int unary(struct px *p, double *out)
{
    char c = peek(p);
    if (c != '-' && c != '+') return primary(p, out);
    size_t at = p->i;
    if (++p->depth > JX_MAX_DEPTH) return fail(p, at, "expression nested too deeply");
    p->i++;
    int rc = unary(p, out);
    p->depth--;
    if (!rc && c == '-') *out = -*out;
    return rc;
}

/* Python's modulo: the result has the sign of the divisor. */
static double py_mod(double a, double b)
{
    double r = fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

static int term(struct px *p, double *out)
{
    if (unary(p, out)) return -1;
    for (;;) {
        char op = peek(p);
        if (op != '*' && op != '/' && op != '%') return 0;
        size_t at = p->i++;
        double r;
        if (unary(p, &r)) return -1;
        if (op != '*' && r == 0)
            return fail(p, at, "division by zero ('%c' with a right side of 0)", op);
        *out = op == '*' ? *out * r : op == '/' ? *out / r : py_mod(*out, r);
        if (!isfinite(*out)) return fail(p, at, "the result is too large");
    }
}

static int expr(struct px *p, double *out)
{
    size_t at = p->i;
    if (++p->depth > JX_MAX_DEPTH) return fail(p, at, "expression nested too deeply");
    int rc = term(p, out);
    while (!rc) {
        char op = peek(p);
        if (op != '+' && op != '-') break;
        at = p->i++;
        double r;
        if ((rc = term(p, &r))) break;
        *out = op == '+' ? *out + r : *out - r;
        if (!isfinite(*out)) rc = fail(p, at, "the result is too large");
    }
    p->depth--;
    return rc;
}

int jx_eval(const char *text, size_t len, jx_lookup lookup, void *ctx, double *out,
            struct jx_error *err)
{
    struct px p = {.s = text, .len = len, .lookup = lookup, .ctx = ctx, .err = err};
    if (len > JX_MAX_TEXT)
        return fail(&p, 0, "expected an expression of at most %d characters", JX_MAX_TEXT);
    if (peek(&p) == '\0') return fail(&p, p.i, "expected an expression inside $( )");
    if (expr(&p, out)) return -1;
    char b[8];
    if (peek(&p) != '\0')
        return fail(&p, p.i, "expected an operator or the end, got %s", shown(p.s[p.i], b));
    return 0;
}
