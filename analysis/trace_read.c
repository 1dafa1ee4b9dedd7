/* analysis/trace_read.c - see trace_read.h.
 *
 * jansson has no streaming interface: loading a 10-million-event trace as a tree takes
 * gigabytes. So the top level and the event array are walked by a small JSON lexer written
 * for this (strict RFC 8259: strings with escapes and UTF-8 checked, numbers by the grammar),
 * and only the small members (run, threads, scalars) are handed to jansson as byte spans. */
#define _GNU_SOURCE /* madvise(MADV_DONTNEED): drop mapped pages already read */
#include "trace_read.h"

#include "common/jparse.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH   64
#define DROP_BEHIND (64u << 20) /* give back mapped pages every 64 MiB read */

/* ---- lexer --------------------------------------------------------------------------------- */

struct lex {
    const char *name; /* path, for messages */
    const char *base, *p, *end;
    const char *line_start;
    long line;
    char where[96];   /* JSON path of the value being read, for messages */
    long where_index; /* >= 0: the path is where[where_index] (set per event, formatted only
                         when a message needs it) */
    struct err *e;
};

static int lex_fail(struct lex *L, const char *what)
{
    long col = (long)(L->p - L->line_start) + 1;
    if (L->where_index >= 0)
        return err_set(L->e, ERR_INPUT, "%s:%ld:%ld: %s[%ld]: %s", L->name, L->line, col, L->where,
                       L->where_index, what);
    return err_set(L->e, ERR_INPUT, "%s:%ld:%ld: %s: %s", L->name, L->line, col,
                   L->where[0] ? L->where : "$", what);
}

/* A saved position, to report an error at a value read earlier. */
struct pos {
    const char *p, *line_start;
    long line;
};

static struct pos pos_here(const struct lex *L)
{
    return (struct pos){L->p, L->line_start, L->line};
}

static int fail_at(struct lex *L, struct pos at, const char *where, const char *what)
{
    L->p = at.p, L->line_start = at.line_start, L->line = at.line;
    snprintf(L->where, sizeof L->where, "%s", where);
    L->where_index = -1;
    return lex_fail(L, what);
}

static void skip_ws(struct lex *L)
{
    const char *p = L->p;
    while (p < L->end) {
        char c = *p;
        if (c == '\n') {
            L->line++;
            L->line_start = p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            break;
        }
        p++;
    }
    L->p = p;
}

/* Peeks the next significant byte; 0 at the end. */
static char peek(struct lex *L)
{
    skip_ws(L);
    return L->p < L->end ? *L->p : 0;
}

static int expect(struct lex *L, char c, const char *what)
{
    if (peek(L) != c) return lex_fail(L, what);
    L->p++;
    return 0;
}

/* Reads a string. Its decoded bytes go to buf (up to size - 1, NUL-terminated) when buf is
 * not NULL; *fits tells whether all of it fitted. */
static int lex_string(struct lex *L, char *buf, size_t size, bool *fits)
{
    if (peek(L) != '"') return lex_fail(L, "expected a string");
    const char *p = L->p + 1;
    size_t n = 0;
    bool ok = true;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (buf && n + 1 < size)                                                                   \
            buf[n++] = (char)(ch);                                                                 \
        else                                                                                       \
            ok = false;                                                                            \
    } while (0)
    for (;;) {
        if (p >= L->end) {
            L->p = p;
            return lex_fail(L, "unterminated string");
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"') break;
        if (c < 0x20) {
            L->p = p;
            return lex_fail(L, "control character in a string");
        }
        if (c == '\\') {
            if (p + 1 >= L->end) {
                L->p = p;
                return lex_fail(L, "unterminated string");
            }
            char x = p[1];
            const char *simple = strchr("\"\\/bfnrt", x);
            if (x && simple) {
                static const char decoded[] = "\"\\/\b\f\n\r\t";
                PUT(decoded[simple - "\"\\/bfnrt"]);
                p += 2;
                continue;
            }
            unsigned u;
            if (x != 'u' || L->end - p < 6 || jp_hex4(p + 2, &u) != 0) {
                L->p = p;
                return lex_fail(L, "invalid escape in a string");
            }
            p += 6;
            if (u >= 0xd800 && u <= 0xdbff) { /* a surrogate pair */
                unsigned lo;
                if (L->end - p < 6 || p[0] != '\\' || p[1] != 'u' || jp_hex4(p + 2, &lo) != 0 ||
                    lo < 0xdc00 || lo > 0xdfff) {
                    L->p = p;
                    return lex_fail(L, "invalid \\u surrogate pair in a string");
                }
                p += 6;
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
            } else if (u >= 0xdc00 && u <= 0xdfff) {
                L->p = p;
                return lex_fail(L, "invalid \\u surrogate pair in a string");
            }
            if (u == 0) ok = false; /* an embedded NUL names nothing we know */
            if (u < 0x80) {
                PUT(u);
            } else if (u < 0x800) {
                PUT(0xc0 | (u >> 6));
                PUT(0x80 | (u & 0x3f));
            } else if (u < 0x10000) {
                PUT(0xe0 | (u >> 12));
                PUT(0x80 | ((u >> 6) & 0x3f));
                PUT(0x80 | (u & 0x3f));
            } else {
                PUT(0xf0 | (u >> 18));
                PUT(0x80 | ((u >> 12) & 0x3f));
                PUT(0x80 | ((u >> 6) & 0x3f));
                PUT(0x80 | (u & 0x3f));
            }
            continue;
        }
        if (c < 0x80) {
            PUT(c);
            p++;
            continue;
        }
        size_t k = jp_utf8_len((const unsigned char *)p, (const unsigned char *)L->end);
        if (!k) {
            L->p = p;
            return lex_fail(L, "invalid UTF-8 in a string");
        }
        for (size_t i = 0; i < k; i++)
            PUT(p[i]);
        p += k;
    }
#undef PUT
    if (buf && size) buf[n < size ? n : size - 1] = '\0';
    if (fits) *fits = ok;
    L->p = p + 1;
    return 0;
}

/* Reads a number by the JSON grammar. *is_int: no fraction or exponent and fits int64_t. */
static int lex_number(struct lex *L, int64_t *out, bool *is_int)
{
    const char *p = L->p;
    bool neg = false, integral = true, overflow = false;
    uint64_t mag = 0;
    if (p < L->end && *p == '-') neg = true, p++;
    if (p >= L->end || *p < '0' || *p > '9') return lex_fail(L, "expected a value");
    if (*p == '0') {
        p++;
    } else {
        while (p < L->end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (mag > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                mag = mag * 10 + d;
            p++;
        }
    }
    if (p < L->end && *p == '.') {
        integral = false;
        p++;
        if (p >= L->end || *p < '0' || *p > '9') {
            L->p = p;
            return lex_fail(L, "expected a digit after the decimal point");
        }
        while (p < L->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < L->end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < L->end && (*p == '+' || *p == '-')) p++;
        if (p >= L->end || *p < '0' || *p > '9') {
            L->p = p;
            return lex_fail(L, "expected a digit in the exponent");
        }
        while (p < L->end && *p >= '0' && *p <= '9')
            p++;
    }
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    *is_int = integral && !overflow && mag <= limit;
    if (*is_int) *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    L->p = p;
    return 0;
}

static int lex_literal(struct lex *L)
{
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(L->end - L->p) >= n && memcmp(L->p, words[i], n) == 0) {
            L->p += n;
            return 0;
        }
    }
    return lex_fail(L, "expected a value");
}

/* Skips one value of any kind, checking it. */
static int skip_value(struct lex *L)
{
    char stack[MAX_DEPTH]; /* '}' or ']' per open container */
    int depth = 0;
    for (;;) {
        char c = peek(L);
        int rc;
        if (c == '{' || c == '[') {
            if (depth == MAX_DEPTH) return lex_fail(L, "nested too deeply");
            L->p++;
            stack[depth++] = c == '{' ? '}' : ']';
            char close = peek(L);
            if (close == stack[depth - 1]) {
                L->p++;
                depth--;
            } else if (c == '{') {
                if ((rc = lex_string(L, NULL, 0, NULL)) || (rc = expect(L, ':', "expected ':'")))
                    return rc;
                continue; /* the member's value */
            } else {
                continue; /* the first element */
            }
        } else if (c == '"') {
            if ((rc = lex_string(L, NULL, 0, NULL))) return rc;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            int64_t v;
            bool is_int;
            if ((rc = lex_number(L, &v, &is_int))) return rc;
        } else if (c == 't' || c == 'f' || c == 'n') {
            if ((rc = lex_literal(L))) return rc;
        } else {
            return lex_fail(L, c ? "expected a value" : "unexpected end of file");
        }
        /* After a value: close containers or go on to the next element or member. */
        for (;;) {
            if (depth == 0) return 0;
            char n = peek(L);
            if (n == stack[depth - 1]) {
                L->p++;
                depth--;
                continue;
            }
            if (n != ',')
                return lex_fail(L, stack[depth - 1] == '}' ? "expected ',' or '}'"
                                                           : "expected ',' or ']'");
            L->p++;
            if (stack[depth - 1] == '}' &&
                ((rc = lex_string(L, NULL, 0, NULL)) || (rc = expect(L, ':', "expected ':'"))))
                return rc;
            break;
        }
    }
}

/* Parses the value at the cursor with jansson (a small member: run, threads, a scalar). */
static int load_value(struct lex *L, json_t **out)
{
    skip_ws(L);
    const char *start = L->p, *start_line = L->line_start;
    long line = L->line;
    int rc = skip_value(L);
    if (rc) return rc;
    struct jp_error jerr;
    enum jp_status js = jp_parse(start, (size_t)(L->p - start), JP_ANY | JP_ALLOW_NUL, out, &jerr);
    if (js == JP_OK) return 0;
    if (js == JP_NOMEM) return err_set(L->e, ERR_RUNTIME, "%s: out of memory", L->name);
    long col = jerr.line == 1 ? (long)(start - start_line) + jerr.col : jerr.col;
    return err_set(L->e, ERR_INPUT, "%s:%ld:%ld: %s: %s", L->name, line + jerr.line - 1, col,
                   L->where, jerr.text);
}

/* ---- events -------------------------------------------------------------------------------- */

/* The argument keys any event type may carry: an event's value is stashed by key until its
 * type is known (keys may come in any order). */
#define ARG_KEYS(X) X(ticks) X(holder) X(ns) X(at)
enum arg_slot {
#define X_SLOT(k) SLOT_##k,
    ARG_KEYS(X_SLOT)
#undef X_SLOT
        NSLOTS
};
static const char *const slot_names[] = {
#define X_NAME(k) #k,
    ARG_KEYS(X_NAME)
#undef X_NAME
};

struct scan {
    struct lex L;
    const struct trace_sink *sink;
    struct trace *t;
    int slot_of_ev[TRACE_EV_COUNT]; /* -1: no argument */
    const char *dropped_to;         /* pages before this were given back */
    bool mapped;                    /* the buffer is our mapping of the file */
};

static int find_name(const char *s, int count, const char *(*name_of)(int))
{
    size_t n = strlen(s);
    for (int i = 0; i < count; i++) {
        const char *name = name_of(i);
        if (name[0] == s[0] && strlen(name) == n && memcmp(name, s, n) == 0) return i;
    }
    return -1;
}
static const char *ev_name_of(int i)
{
    return trace_ev_name((enum trace_ev)i);
}
static const char *reason_name_of(int i)
{
    return trace_reason_name((enum trace_reason)i);
}

/* An event's integer outside the format's range, reported at the value. */
static int range_fail(struct lex *L, const char *at, const char *key)
{
    char what[80];
    snprintf(what, sizeof what, "expected %s in [0, 2^53], the format's range", key);
    L->p = at;
    return lex_fail(L, what);
}

static int read_event(struct scan *S, size_t index, int64_t prev_t, struct trace_event *ev)
{
    struct lex *L = &S->L;
    enum { HAVE_T = 1, HAVE_TID = 2, HAVE_EV = 4, HAVE_REASON = 8 };
    unsigned have = 0;
    int64_t slot_val[NSLOTS];
    signed char slot_state[NSLOTS] = {0}; /* 0 absent, 1 integer, -1 other value */
    int64_t t = 0, tid = 0;
    int evtype = -1, reason = -1;
    const char *ev_at = NULL, *ev_line_start = NULL, *t_at = NULL, *t_line_start = NULL;
    long ev_line = 0, t_line = 0;
    int rc;
    L->where_index = (long)index;
    if ((rc = expect(L, '{', "expected an event object"))) return rc;
    if (peek(L) == '}') return lex_fail(L, "expected an event with t, tid and ev");
    for (;;) {
        char key[16];
        bool fits;
        if ((rc = lex_string(L, key, sizeof key, &fits)) || (rc = expect(L, ':', "expected ':'")))
            return rc;
        char c = peek(L);
        if (!fits) {
            if ((rc = skip_value(L))) return rc;
        } else if (strcmp(key, "t") == 0 || strcmp(key, "tid") == 0) {
            int64_t v;
            bool is_int;
            const char *at = L->p;
            if (c != '-' && (c < '0' || c > '9'))
                return lex_fail(L, key[1] ? "expected tid, an integer" : "expected t, an integer");
            if ((rc = lex_number(L, &v, &is_int))) return rc;
            if (!is_int) {
                L->p = at;
                return lex_fail(L, key[1] ? "expected tid, an integer" : "expected t, an integer");
            }
            if (!key[1] && (v < 0 || v > TRACE_MAX_INT)) return range_fail(L, at, "t");
            if (key[1]) {
                if (v < 0 || (uint64_t)v >= S->t->nthreads) {
                    L->p = at;
                    return lex_fail(L, "tid names no thread of the trace");
                }
                tid = v, have |= HAVE_TID;
            } else {
                t = v, have |= HAVE_T;
                t_at = at, t_line_start = L->line_start, t_line = L->line;
            }
        } else if (strcmp(key, "ev") == 0 || strcmp(key, "reason") == 0) {
            char name[24];
            bool name_fits;
            const char *at = L->p, *at_line_start = L->line_start;
            long at_line = L->line;
            if (c != '"')
                return lex_fail(L, key[0] == 'e' ? "expected ev, a string"
                                                 : "expected reason, a string");
            if ((rc = lex_string(L, name, sizeof name, &name_fits))) return rc;
            if (key[0] == 'e') {
                evtype = name_fits ? find_name(name, TRACE_EV_COUNT, ev_name_of) : -1;
                ev_at = at, ev_line_start = at_line_start, ev_line = at_line;
                have |= HAVE_EV;
                if (evtype < 0) {
                    L->p = at;
                    return lex_fail(L, "unknown event type");
                }
            } else {
                reason = name_fits ? find_name(name, TRACE_REASON_COUNT, reason_name_of) : -1;
                have |= HAVE_REASON;
                if (reason < 0) {
                    L->p = at;
                    return lex_fail(L, "unknown release reason");
                }
            }
        } else {
            int slot = -1;
            for (int i = 0; i < NSLOTS; i++)
                if (strcmp(key, slot_names[i]) == 0) slot = i;
            if (slot >= 0 && (c == '-' || (c >= '0' && c <= '9'))) {
                bool is_int;
                const char *at = L->p;
                if ((rc = lex_number(L, &slot_val[slot], &is_int))) return rc;
                if (is_int && (slot_val[slot] < 0 || slot_val[slot] > TRACE_MAX_INT))
                    return range_fail(L, at, slot_names[slot]);
                slot_state[slot] = is_int ? 1 : -1;
            } else {
                if (slot >= 0) slot_state[slot] = -1;
                if ((rc = skip_value(L))) return rc; /* a key this version does not use */
            }
        }
        c = peek(L);
        if (c == '}') break;
        if ((rc = expect(L, ',', "expected ',' or '}'"))) return rc;
    }
    if ((have & (HAVE_T | HAVE_TID | HAVE_EV)) != (HAVE_T | HAVE_TID | HAVE_EV))
        return lex_fail(L, "expected an event with t, tid and ev");
    if (t < prev_t) {
        L->p = t_at, L->line_start = t_line_start, L->line = t_line;
        return lex_fail(L, "events must be sorted by t");
    }
    ev->t = t;
    ev->tid = (int32_t)tid;
    ev->ev = (uint16_t)evtype;
    ev->reason = TRACE_REASON_NONE;
    ev->arg = TRACE_NO_ARG;
    int slot = S->slot_of_ev[evtype];
    if (slot >= 0 && slot_state[slot] != 0) {
        if (slot_state[slot] < 0) {
            char what[64];
            snprintf(what, sizeof what, "expected %s, an integer", slot_names[slot]);
            return lex_fail(L, what);
        }
        ev->arg = slot_val[slot];
    }
    if (evtype == TRACE_EV_RELEASE) {
        if (!(have & HAVE_REASON)) {
            L->p = ev_at, L->line_start = ev_line_start, L->line = ev_line;
            return lex_fail(L, "release without a reason");
        }
        ev->reason = (uint16_t)reason;
    }
    L->p++; /* '}' */
    return 0;
}

static int scan_events(struct scan *S)
{
    struct lex *L = &S->L;
    int rc;
    snprintf(L->where, sizeof L->where, "$.events");
    if ((rc = expect(L, '[', "expected an array of events"))) return rc;
    size_t n = 0;
    int64_t prev_t = INT64_MIN;
    if (peek(L) == ']') {
        L->p++;
    } else {
        for (;;) {
            struct trace_event ev;
            if ((rc = read_event(S, n, prev_t, &ev))) return rc;
            prev_t = ev.t;
            n++;
            if (S->sink && S->sink->event && (rc = S->sink->event(S->sink->ctx, &ev, L->e)))
                return rc;
            if (S->mapped && (size_t)(L->p - S->dropped_to) >= DROP_BEHIND) {
                /* Mapped pages behind the cursor are not read again while streaming. */
                const char *upto =
                    L->base + ((size_t)(L->p - L->base) & ~(size_t)(sysconf(_SC_PAGESIZE) - 1));
                if (upto > S->dropped_to)
                    madvise((void *)S->dropped_to, (size_t)(upto - S->dropped_to), MADV_DONTNEED);
                S->dropped_to = upto;
            }
            char c = peek(L);
            if (c == ']') {
                L->p++;
                break;
            }
            L->where_index = -1;
            if ((rc = expect(L, ',', "expected ',' or ']'"))) return rc;
        }
    }
    S->t->nevents = n;
    L->where_index = -1;
    return 0;
}

/* ---- the document -------------------------------------------------------------------------- */

static int take_threads(struct scan *S, json_t *threads, struct pos at)
{
    struct trace *t = S->t;
    t->nthreads = json_array_size(threads);
    t->threads = calloc(t->nthreads ? t->nthreads : 1, sizeof *t->threads);
    if (!t->threads) return err_set(S->L.e, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < t->nthreads; i++) {
        json_t *th = json_array_get(threads, i);
        json_t *jtid = json_object_get(th, "tid"), *name = json_object_get(th, "name"),
               *group = json_object_get(th, "group");
        if (!json_is_integer(jtid) || json_integer_value(jtid) != (json_int_t)i ||
            !json_is_string(name)) {
            char where[48];
            snprintf(where, sizeof where, "$.threads[%zu]", i);
            return fail_at(&S->L, at, where, "expected tid equal to its index and a name");
        }
        t->threads[i].tid = (int)i;
        t->threads[i].name = strdup(json_string_value(name));
        t->threads[i].group = strdup(json_is_string(group) ? json_string_value(group) : "");
        if (!t->threads[i].name || !t->threads[i].group)
            return err_set(S->L.e, ERR_RUNTIME, "out of memory");
    }
    return 0;
}

/* Header complete: run and threads known. */
static int header_ready(struct scan *S, json_t *run, json_t *threads, struct pos threads_at)
{
    int rc;
    S->t->run = json_incref(run);
    json_t *pol = json_object_get(run, "policy");
    S->t->policy = json_is_string(pol) ? json_string_value(pol) : "";
    if ((rc = take_threads(S, threads, threads_at))) return rc;
    if (S->sink && S->sink->header) return S->sink->header(S->sink->ctx, S->t, S->L.e);
    return 0;
}

/* The threads member holds at most TRACE_MAX_THREADS entries: counted before jansson builds
 * them (two million would take gigabytes). The cursor is left where it was. */
static int check_thread_count(struct lex *L)
{
    skip_ws(L);
    struct pos start = pos_here(L);
    int rc = 0;
    if (peek(L) == '[') {
        L->p++;
        for (size_t n = 0; peek(L) != ']'; n++) {
            if (n == TRACE_MAX_THREADS) {
                rc = lex_fail(L, "expected at most 10000 threads (the workload format's limit)");
                break;
            }
            if ((rc = skip_value(L)) || peek(L) != ',') break; /* ']', or an error */
            L->p++;
        }
    }
    L->p = start.p, L->line_start = start.line_start, L->line = start.line;
    return rc;
}

static int scan_document(struct scan *S)
{
    struct lex *L = &S->L;
    json_t *format = NULL, *version = NULL, *run = NULL, *threads = NULL, *complete = NULL,
           *dropped = NULL;
    const char *events_at = NULL, *events_line_start = NULL;
    long events_line = 0;
    bool events_done = false, header_done = false;
    int rc = 0;
    /* where each member's value starts, for messages about it */
    struct pos doc_at, format_at = {0}, version_at = {0}, run_at = {0}, threads_at = {0},
                       complete_at = {0}, dropped_at = {0}, *value_at = NULL;
    L->where[0] = '\0';
    skip_ws(L);
    doc_at = pos_here(L);
    if (peek(L) != '{') {
        rc = lex_fail(L, "expected a gilsim-trace document (a JSON object)");
        goto done;
    }
    L->p++;
    if (peek(L) == '}') {
        L->p++;
    } else {
        for (;;) {
            char key[32];
            bool fits;
            L->where[0] = '\0';
            if ((rc = lex_string(L, key, sizeof key, &fits)) ||
                (rc = expect(L, ':', "expected ':'")))
                goto done;
            json_t **slot = NULL;
            value_at = NULL;
            if (!fits) key[0] = '\0';
            snprintf(L->where, sizeof L->where, "$.%s", key);
            if (strcmp(key, "format") == 0)
                slot = &format, value_at = &format_at;
            else if (strcmp(key, "version") == 0)
                slot = &version, value_at = &version_at;
            else if (strcmp(key, "run") == 0)
                slot = &run, value_at = &run_at;
            else if (strcmp(key, "threads") == 0)
                slot = &threads, value_at = &threads_at;
            else if (strcmp(key, "complete") == 0)
                slot = &complete, value_at = &complete_at;
            else if (strcmp(key, "events_dropped") == 0)
                slot = &dropped, value_at = &dropped_at;
            skip_ws(L);
            if (value_at) *value_at = pos_here(L);
            if (strcmp(key, "events") == 0) {
                if (events_at) {
                    rc = lex_fail(L, "events given twice");
                    goto done;
                }
                skip_ws(L);
                events_at = L->p, events_line_start = L->line_start, events_line = L->line;
                if (format && version && json_is_object(run) && json_is_array(threads)) {
                    /* The usual order: stream the events now, in one pass. */
                    if ((rc = header_ready(S, run, threads, threads_at))) goto done;
                    header_done = true;
                    if ((rc = scan_events(S))) goto done;
                    events_done = true;
                } else if ((rc = skip_value(L))) {
                    goto done;
                }
            } else if (slot) {
                json_decref(*slot);
                *slot = NULL;
                if (slot == &threads && (rc = check_thread_count(L))) goto done;
                if ((rc = load_value(L, slot))) goto done;
                if (slot == &format && (!json_is_string(format) ||
                                        strcmp(json_string_value(format), "gilsim-trace") != 0)) {
                    rc = fail_at(L, format_at, "$.format", "expected \"gilsim-trace\"");
                    goto done;
                }
                if (slot == &version &&
                    (!json_is_integer(version) || json_integer_value(version) != 1)) {
                    rc = fail_at(L, version_at, "$.version",
                                 "expected 1 (this gilsim reads version 1)");
                    goto done;
                }
            } else if ((rc = skip_value(L))) {
                goto done;
            }
            L->where[0] = '\0';
            char c = peek(L);
            if (c == '}') {
                L->p++;
                break;
            }
            if ((rc = expect(L, ',', "expected ',' or '}'"))) goto done;
        }
    }
    L->where[0] = '\0';
    if (peek(L) != 0) {
        rc = lex_fail(L, "expected the end of the file after the document");
        goto done;
    }
    if (!format || !version) {
        rc = fail_at(L, doc_at, "$",
                     "expected a gilsim-trace document (\"format\": \"gilsim-trace\", "
                     "\"version\": 1)");
        goto done;
    }
    if (run && !json_is_object(run)) {
        rc = fail_at(L, run_at, "$.run", "expected an object");
        goto done;
    }
    if (threads && !json_is_array(threads)) {
        rc = fail_at(L, threads_at, "$.threads", "expected an array");
        goto done;
    }
    if (!run || !threads || !events_at) {
        rc = fail_at(L, doc_at, "$", "expected run (an object), threads and events (arrays)");
        goto done;
    }
    if (!header_done && (rc = header_ready(S, run, threads, threads_at))) goto done;
    if (!events_done) {
        L->p = events_at, L->line_start = events_line_start, L->line = events_line;
        if ((rc = scan_events(S))) goto done;
    }
    if (complete && !json_is_boolean(complete)) {
        rc = fail_at(L, complete_at, "$.complete", "expected true or false");
        goto done;
    }
    if (dropped && (!json_is_integer(dropped) || json_integer_value(dropped) < 0)) {
        rc = fail_at(L, dropped_at, "$.events_dropped", "expected a non-negative integer");
        goto done;
    }
    /* A writer that leaves `complete` out claims nothing was lost. */
    S->t->complete = complete ? json_is_true(complete) : true;
    S->t->events_dropped = dropped ? (uint64_t)json_integer_value(dropped) : 0;
done:
    json_decref(format);
    json_decref(version);
    json_decref(run);
    json_decref(threads);
    json_decref(complete);
    json_decref(dropped);
    return rc;
}

static int scan_buffer(const char *name, const char *buf, size_t len, bool mapped,
                       const struct trace_sink *sink, struct trace **out, struct err *e)
{
    *out = NULL;
    struct trace *t = calloc(1, sizeof *t);
    if (!t) return err_set(e, ERR_RUNTIME, "out of memory");
    struct scan S = {
        .L = {.where_index = -1,
              .name = name,
              .base = buf,
              .p = buf,
              .end = buf + len,
              .line_start = buf,
              .line = 1,
              .e = e},
        .sink = sink,
        .t = t,
        .dropped_to = buf,
        .mapped = mapped,
    };
    for (int i = 0; i < TRACE_EV_COUNT; i++) {
        const char *key = trace_ev_arg_key((enum trace_ev)i);
        S.slot_of_ev[i] = -1;
        for (int k = 0; key && k < NSLOTS; k++)
            if (strcmp(key, slot_names[k]) == 0) S.slot_of_ev[i] = k;
    }
    if (len == 0) {
        trace_free(t);
        return err_set(e, ERR_INPUT, "%s:1:1: expected a gilsim-trace document, got an empty file",
                       name);
    }
    int rc = scan_document(&S);
    if (rc) {
        trace_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int trace_scan_buffer(const char *name, const char *buf, size_t len, const struct trace_sink *sink,
                      struct trace **out, struct err *e)
{
    return scan_buffer(name, buf, len, false, sink, out, e);
}

struct mapped {
    char *buf;
    size_t len;
    bool is_map;
};

/* A byte JSON text never holds outside a string, nor inside one unescaped: a stream of such
 * bytes (/dev/zero, random data) is refused at the first one, not after reading it all. */
static bool json_text_byte(unsigned char c)
{
    return c >= 0x20 || c == '\n' || c == '\t' || c == '\r';
}

/* A pipe or a FIFO: read whole, up to TRACE_MAX_STREAM bytes, checked as it comes. */
static int read_stream(int fd, const char *path, struct mapped *m, struct err *e)
{
    size_t cap = 1 << 16;
    if (!(m->buf = malloc(cap))) return err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    for (;;) {
        ssize_t n = read(fd, m->buf + m->len, cap - m->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return err_set(e, ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
        if (n == 0) return 0;
        for (size_t i = m->len; i < m->len + (size_t)n; i++)
            if (!json_text_byte((unsigned char)m->buf[i]))
                return err_set(e, ERR_INPUT, "%s: byte %zu is 0x%02x: not a JSON text", path, i,
                               (unsigned char)m->buf[i]);
        m->len += (size_t)n;
        if (m->len == cap) {
            if (cap >= TRACE_MAX_STREAM)
                return err_set(e, ERR_INPUT,
                               "%s: more than %zu bytes from a pipe; a larger trace must be a file",
                               path, (size_t)TRACE_MAX_STREAM);
            char *bigger = realloc(m->buf, cap * 2);
            if (!bigger) return err_set(e, ERR_RUNTIME, "%s: out of memory", path);
            m->buf = bigger;
            cap *= 2;
        }
    }
}

/* A regular file is mapped; a pipe or FIFO read; anything else refused before it is opened
 * (a device could stream forever). */
static int map_file(const char *path, struct mapped *m, struct err *e)
{
    m->buf = NULL, m->len = 0, m->is_map = false;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
        return err_set(e, ERR_INPUT, "%s: %s, expected a trace file", path,
                       S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file or a pipe");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = err_set(e, ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        rc = err_set(e, ERR_INPUT, "%s: not a regular file or a pipe, expected a trace file", path);
    } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
            m->buf = p, m->len = (size_t)st.st_size, m->is_map = true;
        }
    }
    if (!rc && !m->is_map) rc = read_stream(fd, path, m, e); /* also a file mmap refused */
    close(fd);
    if (rc && !m->is_map) {
        free(m->buf);
        m->buf = NULL;
    }
    return rc;
}

static void unmap_file(struct mapped *m)
{
    if (m->is_map)
        munmap(m->buf, m->len);
    else
        free(m->buf);
}

int trace_scan(const char *path, const struct trace_sink *sink, struct trace **out, struct err *e)
{
    *out = NULL;
    struct mapped m;
    int rc = map_file(path, &m, e);
    if (rc) return rc;
    rc = scan_buffer(path, m.buf, m.len, m.is_map, sink, out, e);
    unmap_file(&m);
    return rc;
}

/* ---- the whole trace in memory ------------------------------------------------------------- */

struct collect {
    struct trace_event *events;
    size_t n, cap;
};

static int collect_event(void *ctx, const struct trace_event *ev, struct err *e)
{
    struct collect *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct trace_event *bigger = realloc(c->events, cap * sizeof *bigger);
        if (!bigger) return err_set(e, ERR_RUNTIME, "out of memory for %zu events", cap);
        c->events = bigger, c->cap = cap;
    }
    c->events[c->n++] = *ev;
    return 0;
}

int trace_read(const char *path, struct trace **out, struct err *e)
{
    struct collect c = {0};
    struct trace_sink sink = {.event = collect_event, .ctx = &c};
    int rc = trace_scan(path, &sink, out, e);
    if (rc) {
        free(c.events);
        return rc;
    }
    (*out)->events = c.events;
    return 0;
}

void trace_free(struct trace *t)
{
    if (!t) return;
    for (size_t i = 0; t->threads && i < t->nthreads; i++) {
        free(t->threads[i].name);
        free(t->threads[i].group);
    }
    free(t->threads);
    free(t->events);
    json_decref(t->run);
    free(t);
}

double trace_param(const struct trace *t, const char *name, double def)
{
    json_t *v = json_object_get(json_object_get(t->run, "params"), name);
    return json_is_number(v) ? json_number_value(v) : def;
}
