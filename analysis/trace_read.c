/* analysis/trace_read.c - see trace_read.h.
 *
 * jansson has no streaming interface: loading a 10-million-event trace as a tree takes
 * gigabytes. So the top level and the event array are walked token by token with the shared
 * JSON lexer (common/jlex.h: strict RFC 8259, strings with escapes and UTF-8 checked, numbers
 * by the grammar), and only the small members (run, threads, scalars) are handed to the strict
 * parser (common/jparse.h) as byte spans. */
#define _GNU_SOURCE /* madvise(MADV_DONTNEED): drop mapped pages already read */
#include "trace_read.h"

#include "common/jlex.h"
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

/* ---- tokens, with this reader's messages ---------------------------------------------------- */

struct lex {
    const char *name; /* path, for messages */
    const char *base; /* the whole text */
    struct jlex cur;  /* the cursor; a copy of it is a saved position */
    char where[96];   /* JSON path of the value being read, for messages */
    long where_index; /* >= 0: the path is where[where_index] (set per event, formatted only
                         when a message needs it) */
    struct err *e;
};

/* "path:line:col: $.json.path: what" at the cursor. */
static int lex_fail(struct lex *L, const char *what)
{
    long col = jlex_column(&L->cur, L->cur.p);
    if (L->where_index >= 0)
        return err_set(L->e, ERR_INPUT, "%s:%ld:%ld: %s[%ld]: %s", L->name, L->cur.line, col,
                       L->where, L->where_index, what);
    return err_set(L->e, ERR_INPUT, "%s:%ld:%ld: %s: %s", L->name, L->cur.line, col,
                   L->where[0] ? L->where : "$", what);
}

/* An error about a value read earlier, at its saved position. */
static int fail_at(struct lex *L, struct jlex at, const char *where, const char *what)
{
    L->cur = at;
    snprintf(L->where, sizeof L->where, "%s", where);
    L->where_index = -1;
    return lex_fail(L, what);
}

/* A lexer error at the cursor. A broken \u surrogate is reported just past its escape and a
 * lone '-' as not a value, as this reader always has. */
static int lex_error(struct lex *L, enum jlex_status st)
{
    if (st == JLEX_SURROGATE) L->cur.p += 6;
    return lex_fail(L, st == JLEX_NUMBER ? "expected a value" : jlex_message(st));
}

static void skip_ws(struct lex *L)
{
    jlex_skip_ws(&L->cur);
}

/* Peeks the next significant byte; 0 at the end. */
static char peek(struct lex *L)
{
    return jlex_peek(&L->cur);
}

static int expect(struct lex *L, char c, const char *what)
{
    if (peek(L) != c) return lex_fail(L, what);
    L->cur.p++;
    return 0;
}

/* Reads a string. Its decoded bytes go to buf (up to size - 1, NUL-terminated) when buf is
 * not NULL; *fits tells whether all of it fitted, with no NUL inside. */
static int lex_string(struct lex *L, char *buf, size_t size, bool *fits)
{
    /* Set on the error paths too: GCC cannot see that lex_fail never returns 0 (err_set is in
     * another file), and at -O3 warns that a caller may read *fits uninitialized. */
    if (fits) *fits = false;
    if (peek(L) != '"') return lex_fail(L, "expected a string");
    struct jlex_text text;
    enum jlex_status st = jlex_string(&L->cur, buf, size, &text, 0);
    if (st) return lex_error(L, st);
    if (fits) *fits = text.len < size && !text.has_nul;
    return 0;
}

/* Reads a number by the JSON grammar; the cursor is at '-' or a digit. */
static int lex_number(struct lex *L, struct jlex_number *num)
{
    enum jlex_status st = jlex_number(&L->cur, num);
    return st ? lex_error(L, st) : 0;
}

/* Skips one value of any kind, checking it. */
static int skip_value(struct lex *L)
{
    enum jlex_status st = jlex_skip_value(&L->cur, MAX_DEPTH);
    return st ? lex_error(L, st) : 0;
}

/* Parses the value at the cursor with the strict parser (a small member: run, threads, a
 * scalar). */
static int load_value(struct lex *L, json_t **out)
{
    skip_ws(L);
    struct jlex start = L->cur;
    int rc = skip_value(L);
    if (rc) return rc;
    struct jp_error jerr;
    enum jp_status js = jp_parse(start.p, (size_t)(L->cur.p - start.p),
                                 JP_ANY | JP_ALLOW_NUL | JP_REJECT_DUPLICATES, out, &jerr);
    if (js == JP_OK) return 0;
    if (js == JP_NOMEM) return err_set(L->e, ERR_RUNTIME, "%s: out of memory", L->name);
    /* jerr counts from start: on its first line, columns add to start's */
    long col = jerr.line == 1 ? jlex_column(&start, start.p) - 1 + jerr.col : jerr.col;
    return err_set(L->e, ERR_INPUT, "%s:%ld:%ld: %s: %s", L->name, start.line + jerr.line - 1, col,
                   L->where, jerr.text);
}

/* ---- events -------------------------------------------------------------------------------- */

/* The argument keys any event type may carry: an event's value is stashed by key until its
 * type is known (keys may come in any order). */
#define ARG_KEYS(X) X(ticks) X(holder) X(ns) X(at) X(timeout_ns) X(timed_out) X(value) X(len) X(n)
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

/* run.objects' names, sorted, for an event's "object". */
struct obj_name {
    const char *name;
    unsigned index;
};

struct scan {
    struct lex L;
    const struct trace_sink *sink;
    struct trace *t;
    struct obj_name *by_name;       /* t->nobjects of them */
    int slot_of_ev[TRACE_EV_COUNT]; /* -1: no argument */
    const char *dropped_to;         /* pages before this were given back */
    bool mapped;                    /* the buffer is our mapping of the file */
};

/* What an event has said so far. */
struct event_fields {
    unsigned have; /* HAVE_* */
    int64_t t, tid;
    int evtype, reason;
    int obj, op;                    /* "object" (its index) and "op"; -1: absent */
    struct jlex t_at, ev_at;        /* where t's and ev's values are, for messages */
    int64_t slot_val[NSLOTS];       /* the arguments, by key */
    signed char slot_state[NSLOTS]; /* 0 absent, 1 integer, -1 other value */
};
enum { HAVE_T = 1, HAVE_TID = 2, HAVE_EV = 4, HAVE_REASON = 8, HAVE_OBJECT = 16, HAVE_OP = 32 };

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
static const char *op_name_of(int i)
{
    return trace_obj_op_name((enum trace_obj_op)i);
}

static int cmp_obj_name(const void *a, const void *b)
{
    return strcmp(((const struct obj_name *)a)->name, ((const struct obj_name *)b)->name);
}

/* The value of "object" (an object of run.objects, by name) or "op" (what a wait is for). */
static int read_object_or_op(struct scan *S, const char *key, struct event_fields *f)
{
    struct lex *L = &S->L;
    bool is_op = key[0] == 'o' && key[1] == 'p';
    char name[96];
    bool fits;
    struct jlex at = L->cur;
    int rc;
    if (peek(L) != '"')
        return lex_fail(L, is_op ? "expected op, a string" : "expected object, a string");
    if ((rc = lex_string(L, name, sizeof name, &fits))) return rc;
    if (is_op) {
        f->op = fits ? find_name(name, TRACE_OBJ_OP_COUNT, op_name_of) : -1;
        f->have |= HAVE_OP;
        if (f->op > 0) return 0;
        L->cur = at;
        return lex_fail(L, "unknown op (acquire, get, put, wait, join or mutex)");
    }
    struct obj_name want = {.name = name}, *hit = NULL;
    if (fits && S->t->nobjects)
        hit = bsearch(&want, S->by_name, S->t->nobjects, sizeof want, cmp_obj_name);
    f->have |= HAVE_OBJECT;
    if (hit) {
        f->obj = (int)hit->index;
        return 0;
    }
    L->cur = at;
    return lex_fail(L, "object names no object of run.objects");
}

/* An event's integer outside the format's range, reported at the value. */
static int range_fail(struct lex *L, struct jlex at, const char *key)
{
    char what[80];
    snprintf(what, sizeof what, "expected %s in [0, 2^53], the format's range", key);
    L->cur = at;
    return lex_fail(L, what);
}

/* A key given twice in one object (the workload reader refuses it too: which value counts
 * would be a guess). at: its value. */
static int duplicate(struct lex *L, struct jlex at, const char *key)
{
    char what[64];
    snprintf(what, sizeof what, "duplicate object key \"%s\"", key);
    L->cur = at;
    return lex_fail(L, what);
}

/* The value of t or tid (key), an integer; a tid must name a thread of the trace. */
static int read_t_or_tid(struct scan *S, const char *key, struct event_fields *f)
{
    struct lex *L = &S->L;
    bool is_tid = key[1] != '\0';
    const char *what = is_tid ? "expected tid, an integer" : "expected t, an integer";
    char c = peek(L);
    struct jlex at = L->cur;
    struct jlex_number num;
    int rc;
    if (f->have & (is_tid ? HAVE_TID : HAVE_T)) return duplicate(L, at, key);
    if (c != '-' && (c < '0' || c > '9')) return lex_fail(L, what);
    if ((rc = lex_number(L, &num))) return rc;
    if (!num.fits) {
        L->cur = at;
        return lex_fail(L, what);
    }
    if (is_tid) {
        if (num.value < 0 || (uint64_t)num.value >= S->t->nthreads) {
            L->cur = at;
            return lex_fail(L, "tid names no thread of the trace");
        }
        f->tid = num.value, f->have |= HAVE_TID;
    } else {
        if (num.value < 0 || num.value > TRACE_MAX_INT) return range_fail(L, at, "t");
        f->t = num.value, f->have |= HAVE_T;
        f->t_at = at;
    }
    return 0;
}

/* The value of ev or reason (key): a name of the vocabulary (common/trace_events.h). */
static int read_ev_or_reason(struct lex *L, const char *key, struct event_fields *f)
{
    bool is_ev = key[0] == 'e';
    char name[24];
    bool fits;
    char c = peek(L);
    struct jlex at = L->cur;
    int rc;
    if (f->have & (is_ev ? HAVE_EV : HAVE_REASON)) return duplicate(L, at, key);
    if (c != '"') return lex_fail(L, is_ev ? "expected ev, a string" : "expected reason, a string");
    if ((rc = lex_string(L, name, sizeof name, &fits))) return rc;
    if (is_ev) {
        f->evtype = fits ? find_name(name, TRACE_EV_COUNT, ev_name_of) : -1;
        f->ev_at = at;
        f->have |= HAVE_EV;
        if (f->evtype >= 0) return 0;
        L->cur = at;
        return lex_fail(L, "unknown event type");
    }
    f->reason = fits ? find_name(name, TRACE_REASON_COUNT, reason_name_of) : -1;
    f->have |= HAVE_REASON;
    if (f->reason >= 0) return 0;
    L->cur = at;
    return lex_fail(L, "unknown release reason");
}

/* Any other key: an argument (kept until the type is known) or a key this version does not
 * use (skipped). */
static int read_other(struct lex *L, const char *key, struct event_fields *f)
{
    int slot = -1;
    for (int i = 0; i < NSLOTS; i++)
        if (strcmp(key, slot_names[i]) == 0) slot = i;
    char c = peek(L);
    if (slot >= 0 && f->slot_state[slot] != 0) return duplicate(L, L->cur, key);
    if (slot >= 0 && (c == '-' || (c >= '0' && c <= '9'))) {
        struct jlex_number num;
        struct jlex at = L->cur;
        int rc = lex_number(L, &num);
        if (rc) return rc;
        if (num.fits && (num.value < 0 || num.value > TRACE_MAX_INT))
            return range_fail(L, at, slot_names[slot]);
        f->slot_val[slot] = num.value;
        f->slot_state[slot] = num.fits ? 1 : -1;
        return 0;
    }
    if (slot >= 0) f->slot_state[slot] = -1;
    return skip_value(L);
}

/* One "key": value of an event object. */
static int read_event_member(struct scan *S, struct event_fields *f)
{
    struct lex *L = &S->L;
    char key[16];
    bool fits;
    int rc;
    if ((rc = lex_string(L, key, sizeof key, &fits)) || (rc = expect(L, ':', "expected ':'")))
        return rc;
    if (!fits) return skip_value(L);
    if (strcmp(key, "t") == 0 || strcmp(key, "tid") == 0) return read_t_or_tid(S, key, f);
    if (strcmp(key, "ev") == 0 || strcmp(key, "reason") == 0) return read_ev_or_reason(L, key, f);
    if (strcmp(key, "object") == 0 || strcmp(key, "op") == 0) return read_object_or_op(S, key, f);
    return read_other(L, key, f);
}

/* The event's members are read (the cursor is at its '}'): checks them and fills ev. */
static int finish_event(struct scan *S, const struct event_fields *f, int64_t prev_t,
                        struct trace_event *ev)
{
    struct lex *L = &S->L;
    if ((f->have & (HAVE_T | HAVE_TID | HAVE_EV)) != (HAVE_T | HAVE_TID | HAVE_EV))
        return lex_fail(L, "expected an event with t, tid and ev");
    if (f->t < prev_t) {
        L->cur = f->t_at;
        return lex_fail(L, "events must be sorted by t");
    }
    ev->t = f->t;
    ev->tid = (int32_t)f->tid;
    ev->ev = (uint16_t)f->evtype;
    ev->reason = TRACE_REASON_NONE;
    ev->arg = TRACE_NO_ARG;
    int slot = S->slot_of_ev[f->evtype];
    if (slot >= 0 && f->slot_state[slot] != 0) {
        if (f->slot_state[slot] < 0) {
            char what[64];
            snprintf(what, sizeof what, "expected %s, an integer", slot_names[slot]);
            return lex_fail(L, what);
        }
        ev->arg = f->slot_val[slot];
    }
    if (f->evtype == TRACE_EV_RELEASE) {
        if (!(f->have & HAVE_REASON)) {
            L->cur = f->ev_at;
            return lex_fail(L, "release without a reason");
        }
        ev->reason = (uint16_t)f->reason;
    }
    if (trace_ev_has_object((enum trace_ev)f->evtype)) {
        bool wait = f->evtype == TRACE_EV_OBJ_WAIT_BEGIN;
        if (!(f->have & HAVE_OBJECT) || (wait && !(f->have & HAVE_OP))) {
            L->cur = f->ev_at;
            return lex_fail(L, wait ? "obj_wait_begin without an object and an op"
                                    : "an object event without an object");
        }
        ev->reason =
            trace_obj_pack((unsigned)f->obj, wait ? (enum trace_obj_op)f->op : TRACE_OBJ_OP_NONE);
    }
    L->cur.p++; /* '}' */
    return 0;
}

static int read_event(struct scan *S, size_t index, int64_t prev_t, struct trace_event *ev)
{
    struct lex *L = &S->L;
    struct event_fields f;
    int rc;
    f.have = 0;
    f.t = f.tid = 0;
    f.evtype = f.reason = f.obj = f.op = -1;
    memset(f.slot_state, 0, sizeof f.slot_state);
    L->where_index = (long)index;
    if ((rc = expect(L, '{', "expected an event object"))) return rc;
    if (peek(L) == '}') return lex_fail(L, "expected an event with t, tid and ev");
    for (;;) {
        if ((rc = read_event_member(S, &f))) return rc;
        if (peek(L) == '}') break;
        if ((rc = expect(L, ',', "expected ',' or '}'"))) return rc;
    }
    return finish_event(S, &f, prev_t, ev);
}

/* Gives back the mapped pages behind the cursor every DROP_BEHIND bytes: they are not read
 * again while streaming. */
static void drop_pages_behind(struct scan *S)
{
    const char *base = S->L.base, *p = S->L.cur.p;
    if (!S->mapped || (size_t)(p - S->dropped_to) < DROP_BEHIND) return;
    const char *upto = base + ((size_t)(p - base) & ~(size_t)(sysconf(_SC_PAGESIZE) - 1));
    if (upto > S->dropped_to)
        madvise((void *)S->dropped_to, (size_t)(upto - S->dropped_to), MADV_DONTNEED);
    S->dropped_to = upto;
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
        L->cur.p++;
    } else {
        for (;;) {
            struct trace_event ev;
            if ((rc = read_event(S, n, prev_t, &ev))) return rc;
            prev_t = ev.t;
            n++;
            if (S->sink && S->sink->event && (rc = S->sink->event(S->sink->ctx, &ev, L->e)))
                return rc;
            drop_pages_behind(S);
            if (peek(L) == ']') {
                L->cur.p++;
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

static int take_threads(struct scan *S, json_t *threads, struct jlex at)
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

/* run.objects (absent: none): names unique, at most TRACE_MAX_OBJECTS, sorted for lookups. */
static int take_objects(struct scan *S, json_t *run, struct jlex run_at)
{
    struct trace *t = S->t;
    json_t *objs = json_object_get(run, "objects");
    if (!objs) return 0;
    if (!json_is_array(objs) || json_array_size(objs) > TRACE_MAX_OBJECTS)
        return fail_at(&S->L, run_at, "$.run.objects", "expected an array of at most 4096 objects");
    t->nobjects = json_array_size(objs);
    t->objects = calloc(t->nobjects ? t->nobjects : 1, sizeof *t->objects);
    S->by_name = calloc(t->nobjects ? t->nobjects : 1, sizeof *S->by_name);
    if (!t->objects || !S->by_name) return err_set(S->L.e, ERR_RUNTIME, "out of memory");
    for (size_t i = 0; i < t->nobjects; i++) {
        json_t *o = json_array_get(objs, i), *name = json_object_get(o, "name"),
               *type = json_object_get(o, "type");
        char where[48];
        snprintf(where, sizeof where, "$.run.objects[%zu]", i);
        if (!json_is_string(name) || !json_is_string(type))
            return fail_at(&S->L, run_at, where, "expected an object with a name and a type");
        t->objects[i].name = strdup(json_string_value(name));
        t->objects[i].type = strdup(json_string_value(type));
        t->objects[i].implicit = json_is_true(json_object_get(o, "implicit"));
        if (!t->objects[i].name || !t->objects[i].type)
            return err_set(S->L.e, ERR_RUNTIME, "out of memory");
        S->by_name[i] = (struct obj_name){t->objects[i].name, (unsigned)i};
    }
    qsort(S->by_name, t->nobjects, sizeof *S->by_name, cmp_obj_name);
    for (size_t i = 1; i < t->nobjects; i++)
        if (strcmp(S->by_name[i - 1].name, S->by_name[i].name) == 0)
            return fail_at(&S->L, run_at, "$.run.objects", "expected unique object names");
    return 0;
}

/* Header complete: run and threads known. */
static int header_ready(struct scan *S, json_t *run, json_t *threads, struct jlex threads_at,
                        struct jlex run_at)
{
    int rc;
    S->t->run = json_incref(run);
    json_t *pol = json_object_get(run, "policy");
    S->t->policy = json_is_string(pol) ? json_string_value(pol) : "";
    if ((rc = take_threads(S, threads, threads_at))) return rc;
    if ((rc = take_objects(S, run, run_at))) return rc;
    if (S->sink && S->sink->header) return S->sink->header(S->sink->ctx, S->t, S->L.e);
    return 0;
}

/* The top-level members read so far (any order), and where each value starts, for messages
 * about it. */
struct doc {
    json_t *format, *version, *run, *threads, *complete, *dropped;
    struct jlex doc_at, format_at, version_at, run_at, threads_at, complete_at, dropped_at,
        events_at;
    bool have_events, header_done, events_done;
};

/* The value of "events": streamed now when the header came first (the usual order, one pass),
 * else checked and skipped, and streamed at the end. */
static int read_events_member(struct scan *S, struct doc *D)
{
    struct lex *L = &S->L;
    int rc;
    if (D->have_events) return lex_fail(L, "events given twice");
    D->have_events = true;
    D->events_at = L->cur;
    if (!(D->format && D->version && json_is_object(D->run) && json_is_array(D->threads)))
        return skip_value(L);
    if ((rc = header_ready(S, D->run, D->threads, D->threads_at, D->run_at))) return rc;
    D->header_done = true;
    if ((rc = scan_events(S))) return rc;
    D->events_done = true;
    return 0;
}

/* The threads member holds at most TRACE_MAX_THREADS entries: counted before jansson builds
 * them (two million would take gigabytes). The cursor is left where it was. */
static int check_thread_count(struct lex *L)
{
    struct jlex start = L->cur;
    int rc = 0;
    if (peek(L) == '[') {
        L->cur.p++;
        for (size_t n = 0; peek(L) != ']'; n++) {
            if (n == TRACE_MAX_THREADS) {
                rc = lex_fail(L, "expected at most 10000 threads (the workload format's limit)");
                break;
            }
            if ((rc = skip_value(L)) || peek(L) != ',') break; /* ']', or an error */
            L->cur.p++;
        }
    }
    L->cur = start;
    return rc;
}

/* A small member's value, parsed; format and version are checked at once. */
static int read_small_member(struct lex *L, struct doc *D, json_t **slot)
{
    json_decref(*slot);
    *slot = NULL;
    int rc = slot == &D->threads ? check_thread_count(L) : 0;
    if (!rc) rc = load_value(L, slot);
    if (rc) return rc;
    if (slot == &D->format &&
        (!json_is_string(D->format) || strcmp(json_string_value(D->format), "gilsim-trace") != 0))
        return fail_at(L, D->format_at, "$.format", "expected \"gilsim-trace\"");
    if (slot == &D->version &&
        (!json_is_integer(D->version) || json_integer_value(D->version) != 1))
        return fail_at(L, D->version_at, "$.version", "expected 1 (this gilsim reads version 1)");
    return 0;
}

/* One "key": value of the document. */
static int read_member(struct scan *S, struct doc *D)
{
    struct lex *L = &S->L;
    char key[32];
    bool fits;
    int rc;
    L->where[0] = '\0';
    if ((rc = lex_string(L, key, sizeof key, &fits)) || (rc = expect(L, ':', "expected ':'")))
        return rc;
    if (!fits) key[0] = '\0';
    snprintf(L->where, sizeof L->where, "$.%s", key);
    static const char *const keys[] = {"format",  "version",  "run",
                                       "threads", "complete", "events_dropped"};
    json_t **slots[] = {&D->format, &D->version, &D->run, &D->threads, &D->complete, &D->dropped};
    struct jlex *at[] = {&D->format_at,  &D->version_at,  &D->run_at,
                         &D->threads_at, &D->complete_at, &D->dropped_at};
    skip_ws(L);
    if (strcmp(key, "events") == 0) return read_events_member(S, D);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i]) == 0) {
            if (*slots[i]) return duplicate(L, L->cur, key);
            *at[i] = L->cur;
            return read_small_member(L, D, slots[i]);
        }
    }
    return skip_value(L);
}

/* After the document: what must be there, the events if they came before the header, the
 * members that follow them. */
static int finish_document(struct scan *S, struct doc *D)
{
    struct lex *L = &S->L;
    int rc;
    L->where[0] = '\0';
    if (peek(L) != 0) return lex_fail(L, "expected the end of the file after the document");
    if (!D->format || !D->version)
        return fail_at(L, D->doc_at, "$",
                       "expected a gilsim-trace document (\"format\": \"gilsim-trace\", "
                       "\"version\": 1)");
    if (D->run && !json_is_object(D->run))
        return fail_at(L, D->run_at, "$.run", "expected an object");
    if (D->threads && !json_is_array(D->threads))
        return fail_at(L, D->threads_at, "$.threads", "expected an array");
    if (!D->run || !D->threads || !D->have_events)
        return fail_at(L, D->doc_at, "$", "expected run (an object), threads and events (arrays)");
    if (!D->header_done && (rc = header_ready(S, D->run, D->threads, D->threads_at, D->run_at)))
        return rc;
    if (!D->events_done) {
        L->cur = D->events_at;
        if ((rc = scan_events(S))) return rc;
    }
    if (D->complete && !json_is_boolean(D->complete))
        return fail_at(L, D->complete_at, "$.complete", "expected true or false");
    if (D->dropped && (!json_is_integer(D->dropped) || json_integer_value(D->dropped) < 0))
        return fail_at(L, D->dropped_at, "$.events_dropped", "expected a non-negative integer");
    /* A writer that leaves `complete` out claims nothing was lost. */
    S->t->complete = D->complete ? json_is_true(D->complete) : true;
    S->t->events_dropped = D->dropped ? (uint64_t)json_integer_value(D->dropped) : 0;
    return 0;
}

static int read_members(struct scan *S, struct doc *D)
{
    struct lex *L = &S->L;
    int rc;
    L->cur.p++; /* '{' */
    if (peek(L) == '}') {
        L->cur.p++;
        return 0;
    }
    for (;;) {
        if ((rc = read_member(S, D))) return rc;
        L->where[0] = '\0';
        if (peek(L) == '}') {
            L->cur.p++;
            return 0;
        }
        if ((rc = expect(L, ',', "expected ',' or '}'"))) return rc;
    }
}

static int scan_document(struct scan *S)
{
    struct lex *L = &S->L;
    struct doc D = {0};
    int rc;
    L->where[0] = '\0';
    skip_ws(L);
    D.doc_at = L->cur;
    if (peek(L) != '{')
        rc = lex_fail(L, "expected a gilsim-trace document (a JSON object)");
    else if ((rc = read_members(S, &D)) == 0)
        rc = finish_document(S, &D);
    json_decref(D.format);
    json_decref(D.version);
    json_decref(D.run);
    json_decref(D.threads);
    json_decref(D.complete);
    json_decref(D.dropped);
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
              .cur = {.p = buf, .end = buf + len, .line_start = buf, .line = 1},
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
    free(S.by_name);
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

/* A pipe or a FIFO (or a file that cannot be mapped): read whole, up to TRACE_MAX_STREAM
 * bytes, checked as it comes. */
static int read_stream(int fd, const char *path, struct mapped *m, struct err *e)
{
    size_t cap = 1 << 16;
    if (!(m->buf = malloc(cap))) return err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    for (;;) {
        ssize_t n = read(fd, m->buf + m->len, cap - m->len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return err_set(e, err_status_of_errno(errno), "%s: cannot read: %s", path,
                           strerror(errno));
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
    if (fd < 0)
        return err_set(e, err_status_of_errno(errno), "%s: cannot open: %s", path, strerror(errno));
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
    if (!rc && !m->is_map) rc = read_stream(fd, path, m, e);
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
    for (size_t i = 0; t->objects && i < t->nobjects; i++) {
        free(t->objects[i].name);
        free(t->objects[i].type);
    }
    free(t->objects);
    free(t->events);
    json_decref(t->run);
    free(t);
}

double trace_param(const struct trace *t, const char *name, double def)
{
    json_t *v = json_object_get(json_object_get(t->run, "params"), name);
    return json_is_number(v) ? json_number_value(v) : def;
}
