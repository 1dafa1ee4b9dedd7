/* common/jlex.h - the JSON lexer every reader shares: a cursor over a byte span that counts
 * lines, the scanners of RFC 8259's tokens (strings checked and decoded, numbers by the
 * grammar, the three literals), a checked skip over a whole value, and the one column count of
 * every message. The strict parser (common/jparse.c) builds jansson values with it; the trace
 * reader (analysis/trace_read.c) streams the event array with it; the format checker
 * (common/jcheck.c) finds a JSON path in the text with it. A scanner returns JLEX_OK or what was
 * wrong (jlex_message says it in words) and leaves the cursor at the offending byte; each reader
 * adds its JSON path. */
#ifndef GILSIM_JLEX_H
#define GILSIM_JLEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jlex {
    const char *p, *end;    /* the cursor and the end of the text */
    const char *line_start; /* the first byte of the cursor's line */
    long line;              /* 1-based */
};

enum jlex_status {
    JLEX_OK = 0,
    JLEX_UNTERMINATED, /* the text ends inside a string */
    JLEX_CONTROL,      /* a control character (< 0x20) inside a string */
    JLEX_ESCAPE,       /* a backslash not starting \" \\ \/ \b \f \n \r \t or \uXXXX */
    JLEX_SURROGATE,    /* a \u surrogate not in a high-low pair (cursor: at its backslash) */
    JLEX_NUL,          /* \u0000 under JLEX_REJECT_NUL (cursor: at its backslash) */
    JLEX_UTF8,         /* bytes that are not UTF-8 (overlong forms and surrogates included) */
    JLEX_NUMBER,       /* '-' without a digit after it (cursor: at the '-') */
    JLEX_FRACTION,     /* '.' without a digit after it */
    JLEX_EXPONENT,     /* 'e' without a digit in the exponent */
    /* The grammar, from jlex_skip_value only (the strict parser words these its own way). */
    JLEX_DEPTH,       /* containers nested deeper than the caller's limit */
    JLEX_VALUE,       /* no value starts here */
    JLEX_END,         /* the text ends where a value should start */
    JLEX_KEY,         /* no string where an object's key belongs */
    JLEX_COLON,       /* no ':' after a key */
    JLEX_OBJECT_NEXT, /* neither ',' nor '}' after a member */
    JLEX_ARRAY_NEXT,  /* neither ',' nor ']' after an element */
};

enum jlex_flags {
    JLEX_REJECT_NUL = 1, /* \u0000 in a string is an error (else it decodes to a NUL byte) */
};

/* The status in words, e.g. "unterminated string" (the readers' messages). */
const char *jlex_message(enum jlex_status st);
/* The length of the valid UTF-8 sequence at p (first byte >= 0x80), or 0: no overlong form,
 * surrogate or value past U+10FFFF. (common/text.c checks untrusted text with it too.) */
size_t jlex_utf8_len(const unsigned char *p, const unsigned char *end);

static inline void jlex_skip_ws(struct jlex *x)
{
    const char *p = x->p;
    while (p < x->end) {
        char c = *p;
        if (c == '\n') {
            x->line++;
            x->line_start = p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            break;
        }
        p++;
    }
    x->p = p;
}

/* The column of at, a byte on the cursor's line (at or before the cursor), 1-based, for
 * every reader's file:line:col: characters, not bytes (a UTF-8 sequence counts once, as in an
 * editor). */
long jlex_column(const struct jlex *x, const char *at);

/* Skips white space; returns the next byte, or 0 at the end. */
static inline char jlex_peek(struct jlex *x)
{
    jlex_skip_ws(x);
    return x->p < x->end ? *x->p : 0;
}

struct jlex_text {
    size_t len;   /* the whole decoded length, whether it fitted or not */
    bool has_nul; /* a \u0000 was decoded (to a NUL byte) */
};

/* Reads the string at x->p (a '"'). Decodes it into buf: at most size - 1 bytes, then a NUL
 * (nothing when size is 0; buf may then be NULL). When out->len is size or more, the decoded
 * text did not fit: a caller that needs it all makes room and reads again from the same '"'.
 * flags: JLEX_REJECT_NUL or 0. */
enum jlex_status jlex_string(struct jlex *x, char *buf, size_t size, struct jlex_text *out,
                             unsigned flags);

struct jlex_number {
    const char *start; /* its text is [start, cursor) */
    bool integral;     /* no fraction and no exponent */
    bool fits;         /* integral, and value holds it (within int64_t) */
    bool negative;
    int64_t value;
};

/* Reads the number at x->p, which the caller has seen start with '-' or a digit. */
enum jlex_status jlex_number(struct jlex *x, struct jlex_number *out);

enum jlex_literal { JLEX_NOT_A_LITERAL = -1, JLEX_FALSE, JLEX_TRUE, JLEX_NULL };
/* true, false or null at x->p: steps over it. Otherwise leaves the cursor. */
enum jlex_literal jlex_literal(struct jlex *x);

#define JLEX_MAX_DEPTH 512 /* the deepest max_depth jlex_skip_value takes */

/* Steps over the value after the cursor (white space first), checking all of it: its tokens
 * (strings may hold \u0000), its grammar, and at most max_depth nested containers. On an
 * error the cursor is at the offending byte. */
enum jlex_status jlex_skip_value(struct jlex *x, int max_depth);

#endif
