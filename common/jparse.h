/* common/jparse.h - a strict JSON (RFC 8259) parser that builds jansson values, used by both
 * readers instead of jansson's own parser.
 *
 * Why: jansson 2.14 (Debian 12) ignores an allocation failure while growing its token buffer
 * and then reads and writes past it (jansson issue #362): out of memory, json_loadb can corrupt
 * the heap or return a silently truncated string. This parser calls only jansson's value
 * constructors, which fail cleanly, and its own allocations are checked, so running out of
 * memory is always reported as such and never corrupts anything. Its tokens come from the
 * lexer the trace reader uses too (common/jlex.h). */
#ifndef GILSIM_JPARSE_H
#define GILSIM_JPARSE_H

#include <jansson.h>
#include <stddef.h>

enum jp_status { JP_OK = 0, JP_SYNTAX = 1, JP_NOMEM = 2 };

enum jp_flags {
    JP_ANY = 1,               /* any value at the top, not only an object or an array */
    JP_REJECT_DUPLICATES = 2, /* a key twice in one object is an error (else the last wins) */
    JP_ALLOW_NUL = 4,         /* \u0000 in strings (never in keys) */
};

#define JP_MAX_DEPTH 512 /* nesting of objects and arrays */

struct jp_error {
    int line, col; /* 1-based; col counts characters (jlex_column) */
    char text[160];
};

/* Parses text[0, len) (no NUL needed). On JP_OK *out is a new reference; on an error *out is
 * NULL and, for JP_SYNTAX, err says where and what. */
enum jp_status jp_parse(const char *text, size_t len, unsigned flags, json_t **out,
                        struct jp_error *err);

#endif
