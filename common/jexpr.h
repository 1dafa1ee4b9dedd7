/* common/jexpr.h - arithmetic expressions in JSON documents: the text of a "$(...)" string in a
 * workload (docs/workload-format.md, "Expressions"): + - * / %, unary minus, parentheses,
 * numbers (integers, decimals, exponents) and names, which the caller resolves (variables,
 * and in a thread group's ops `index` and `count`). Evaluated in doubles; `%` is Python's
 * (the result takes the divisor's sign). Errors give the offset in the text where they are. */
#ifndef GILSIM_JEXPR_H
#define GILSIM_JEXPR_H

#include <stdbool.h>
#include <stddef.h>

#define JX_MAX_TEXT  256 /* longest expression */
#define JX_MAX_DEPTH 32  /* nesting of parentheses and unary signs */

/* Resolves name (n bytes, not NUL-terminated) into *value; returns false when it names nothing
 * the expression may read, with why (at most 160 bytes) filled in. */
typedef bool (*jx_lookup)(void *ctx, const char *name, size_t n, double *value, char *why,
                          size_t why_size);

struct jx_error {
    size_t offset; /* byte offset in the text where the error is */
    char what[200];
};

/* Evaluates the len bytes at text. 0 and *out, or -1 with *err filled in. */
int jx_eval(const char *text, size_t len, jx_lookup lookup, void *ctx, double *out,
            struct jx_error *err);

#endif
