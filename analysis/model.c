/* analysis/model.c - from each thread's ops (model_ops.c) to a workload file: a send and the
 * receive after it as one I/O with a peer, repeating patterns as loops (a tandem repeat of up to
 * MAX_UNIT ops, at least MIN_REPS times), short interruptions absorbed, irregular stretches
 * (start-up) summarised, the last pattern of a thread that lives to the end repeated until the
 * run ends, I/O latencies that vary as distributions, alike threads of one group as one group.
 * Every choice made is said in the file's description. See model.h. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/model.h"
#include "common/text.h"

#define MAX_UNIT       16    /* ops in a repeating pattern */
#define MIN_REPS       3     /* repetitions that make a loop */
#define ABSORB_OPS     4     /* ops between two runs of one pattern that are folded into it */
#define SUMMARY_OPS    8     /* a stretch of minor items this long is summarised */
#define MINOR_SHARE    0.02  /* an item spanning less of its thread's life is minor */
#define PEER_GAP_US    100.0 /* interpreter work between a send and its receive, at most */
#define FOREVER_CPU_US 1000.0
#define OUTLIER_X      10.0 /* an I/O latency over this many times its op's median is left out */

static const char *const kind_key[MK_COUNT] = {"cpu",    "io",   "send", "sleep",
                                               "native", "hold", "io"};

/* A loop: unit ops repeated, repetition r beginning at ops[starts[r]]; a single op is a loop of
 * one op once; a summary holds the nops ops from first, written as their averages. */
struct item {
    size_t unit, nreps, first, nops;
    size_t *starts;
    bool forever, summary;
};

struct shaped {
    const struct model_thread *th;
    struct item *items;
    size_t n;
    size_t dropped_tail; /* ops after the pattern that repeats until the end */
    size_t summarised;   /* ops in summaries */
    size_t absorbed;     /* ops left out between two runs of one pattern */
};

/* ---- a thread's ops -------------------------------------------------------------------------- */

/* A send, at most a few µs of interpreter work, then an I/O: an echo client's sendall + recv,
 * which a workload says as one I/O with a peer whose request is the send. Its latency is what
 * the client spent in the two calls and between them holding the GIL, not a wait for the GIL
 * between them (the replay's policy makes that wait); when that wait let the answer arrive
 * first, the receive returned at once and the latency looks short. The work in between joins the
 * work before. */
static void merge_peer_io(struct model_thread *th)
{
    size_t k = 0;
    for (size_t i = 0; i < th->n; i++) {
        size_t j = i + 1;
        double between = 0;
        if (th->ops[i].kind == MK_SEND && j + 1 < th->n && th->ops[j].kind == MK_CPU &&
            th->ops[j].us <= PEER_GAP_US)
            between = th->ops[j++].us;
        if (th->ops[i].kind != MK_SEND || j >= th->n || th->ops[j].kind != MK_IO) {
            th->ops[k++] = th->ops[i];
            continue;
        }
        double latency = th->ops[i].us + between + th->ops[j].us; /* the io's less the slack */
        if (between > 0 && k > 0 && th->ops[k - 1].kind == MK_CPU) th->ops[k - 1].us += between;
        th->ops[k++] = (struct model_op){.t = th->ops[i].t, .us = latency, .kind = MK_PEER_IO};
        i = j;
    }
    th->n = k;
}

static bool same_kinds(const struct model_op *ops, size_t a, size_t b, size_t len)
{
    for (size_t k = 0; k < len; k++)
        if (ops[a + k].kind != ops[b + k].kind || ops[a + k].lock != ops[b + k].lock) return false;
    return true;
}

/* The longest run of repetitions starting at i: the unit (up to MAX_UNIT ops) whose repetitions
 * cover the most ops, the shorter unit on a tie. */
static size_t best_unit(const struct model_thread *th, size_t i, size_t *reps)
{
    size_t best = 0, best_cover = 0;
    for (size_t p = 1; p <= MAX_UNIT && i + MIN_REPS * p <= th->n; p++) {
        size_t r = 1;
        while (i + (r + 1) * p <= th->n && same_kinds(th->ops, i, i + r * p, p))
            r++;
        if (r >= MIN_REPS && r * p > best_cover) {
            best = p;
            best_cover = r * p;
            *reps = r;
        }
    }
    return best;
}

static int add_item(struct shaped *s, size_t *cap, struct item it)
{
    if (s->n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        struct item *items = realloc(s->items, c * sizeof *items);
        if (!items) return -1;
        s->items = items;
        *cap = c;
    }
    s->items[s->n++] = it;
    return 0;
}

static int new_loop(struct shaped *s, size_t *cap, size_t first, size_t unit, size_t reps)
{
    struct item it = {.unit = unit, .nreps = reps, .first = first, .nops = unit * reps};
    if (!(it.starts = malloc(reps * sizeof *it.starts))) return -1;
    for (size_t r = 0; r < reps; r++)
        it.starts[r] = first + r * unit;
    if (add_item(s, cap, it) == 0) return 0;
    free(it.starts);
    return -1;
}

/* A run of the previous loop's pattern after at most ABSORB_OPS other ops: its repetitions join
 * the loop, the ops between are left out (said in the description). */
static bool absorb(struct shaped *s, const struct model_thread *th, size_t i, size_t unit,
                   size_t reps)
{
    size_t k = s->n;
    size_t singles = 0;
    while (k > 0 && s->items[k - 1].nreps == 1 && !s->items[k - 1].summary && singles < ABSORB_OPS)
        k--, singles++;
    if (k == 0) return false;
    struct item *prev = &s->items[k - 1];
    if (prev->unit != unit || prev->nreps < MIN_REPS || prev->summary ||
        !same_kinds(th->ops, prev->first, i, unit))
        return false;
    size_t *starts = realloc(prev->starts, (prev->nreps + reps) * sizeof *starts);
    if (!starts) return false;
    for (size_t r = 0; r < reps; r++)
        starts[prev->nreps + r] = i + r * unit;
    prev->starts = starts;
    prev->nreps += reps;
    prev->nops += reps * unit;
    for (size_t j = k; j < s->n; j++)
        free(s->items[j].starts);
    s->absorbed += s->n - k;
    s->n = k;
    return true;
}

/* Items from the ops: loops where a pattern repeats, single ops elsewhere. */
static int find_items(struct shaped *s, const struct model_thread *th)
{
    size_t cap = 0;
    for (size_t i = 0; i < th->n;) {
        size_t reps = 0, unit = best_unit(th, i, &reps);
        if (unit == 0) {
            if (new_loop(s, &cap, i, 1, 1)) return -1;
            i++;
            continue;
        }
        if (!absorb(s, th, i, unit, reps) && new_loop(s, &cap, i, unit, reps)) return -1;
        i += unit * reps;
    }
    return 0;
}

static size_t item_last(const struct item *it)
{
    return it->summary ? it->first + it->nops - 1 : it->starts[it->nreps - 1] + it->unit - 1;
}

/* Whether an item spans under MINOR_SHARE of the thread's life. */
static bool minor(const struct model_thread *th, const struct item *it)
{
    const struct model_op *last = &th->ops[item_last(it)];
    double span = (double)(last->t - th->ops[it->first].t) + last->us * 1e3;
    return span < MINOR_SHARE * (double)(th->end_ns - th->start_ns);
}

/* Runs of minor items that hold SUMMARY_OPS ops or more (start-up: imports, each a few short
 * loops) become one summary each. */
static void summarise(struct shaped *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n;) {
        size_t j = i, ops = 0;
        while (j < s->n && minor(s->th, &s->items[j]))
            ops += s->items[j++].nops;
        if (ops >= SUMMARY_OPS) {
            size_t first = s->items[i].first, last = item_last(&s->items[j - 1]);
            for (size_t x = i; x < j; x++)
                free(s->items[x].starts);
            struct item sum = {
                .summary = true, .first = first, .nops = last + 1 - first, .nreps = 1};
            s->summarised += sum.nops;
            s->items[k++] = sum;
            i = j;
        } else {
            size_t end = j > i ? j : i + 1;
            while (i < end)
                s->items[k++] = s->items[i++];
        }
    }
    s->n = k;
}

/* A thread that lives until the run's end repeats its last pattern until then: the last item
 * that is not a short tail (under 5% of the thread's life). What came after it is left out. */
static void repeat_last(struct shaped *s, const struct model_trace *m, double end_share)
{
    const struct model_thread *th = s->th;
    int64_t life = th->end_ns - th->start_ns;
    if (s->n == 0 || (double)(m->window_ns - th->end_ns) > end_share * (double)m->window_ns) return;
    size_t k = s->n;
    while (k > 1 && (double)(th->end_ns - th->ops[s->items[k - 1].first].t) < 0.05 * (double)life)
        k--;
    struct item *it = &s->items[k - 1];
    if (it->summary) return;
    for (size_t j = k; j < s->n; j++) {
        s->dropped_tail += s->items[j].nops;
        free(s->items[j].starts);
    }
    s->n = k;
    it->forever = true;
}

static int shape_thread(struct shaped *s, struct model_thread *th, const struct model_trace *m,
                        const struct model_options *o)
{
    memset(s, 0, sizeof *s);
    s->th = th;
    merge_peer_io(th);
    if (find_items(s, th)) return -1;
    summarise(s);
    if (!o->counts) repeat_last(s, m, o->end_share);
    return 0;
}

static void free_shaped(struct shaped *s)
{
    for (size_t i = 0; s->items && i < s->n; i++)
        free(s->items[i].starts);
    free(s->items);
}

/* ---- groups ---------------------------------------------------------------------------------- */

/* What must be equal for two threads of one group to be written as one group with a count: the
 * items, their patterns and counts. */
static char *signature(const struct shaped *s)
{
    size_t cap = 64, len = 0;
    char *sig = malloc(cap);
    for (size_t i = 0; sig && i < s->n; i++) {
        const struct item *it = &s->items[i];
        char head[48];
        int h = it->summary     ? snprintf(head, sizeof head, "Z")
                : it->forever   ? snprintf(head, sizeof head, "LF:")
                : it->nreps > 1 ? snprintf(head, sizeof head, "L%zu:", it->nreps)
                                : snprintf(head, sizeof head, "S");
        size_t need = len + (size_t)h + (it->summary ? 0 : 2 * it->unit) + 2;
        if (need > cap) {
            char *more = realloc(sig, cap = 2 * need);
            if (!more) break;
            sig = more;
        }
        memcpy(sig + len, head, (size_t)h);
        len += (size_t)h;
        for (size_t k = 0; !it->summary && k < it->unit; k++) {
            const struct model_op *op = &s->th->ops[it->first + k];
            sig[len++] = (char)('a' + op->kind);
            sig[len++] = op->lock ? 'l' : '.';
        }
        sig[len++] = '|';
    }
    if (sig) sig[len] = '\0';
    return sig;
}

struct group {
    char name[72];
    size_t *members; /* indexes of struct shaped */
    size_t n;
    size_t outliers; /* durations left out of its ops' means (unit_stat) */
};

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* The group's name in a workload's characters, unique among the groups so far. */
static void group_name(char *out, const char *group, const struct group *gs, size_t ng)
{
    char base[60];
    size_t n = 0;
    for (const char *p = group; *p && n < sizeof base - 1; p++)
        base[n++] = name_char(*p) ? *p : '_';
    base[n] = '\0';
    if (n == 0) snprintf(base, sizeof base, "thread");
    snprintf(out, 72, "%s", base);
    for (int k = 2;; k++) {
        bool taken = false;
        for (size_t i = 0; i < ng && !taken; i++)
            taken = strcmp(gs[i].name, out) == 0;
        if (!taken) return;
        snprintf(out, 72, "%s_%d", base, k);
    }
}

/* Threads with items, into groups: a thread joins the first group of its own group whose
 * members have its signature. Returns the number of groups, or -1. */
static long make_groups(const struct shaped *sh, size_t nsh, struct group *gs)
{
    char **sigs = calloc(nsh ? nsh : 1, sizeof *sigs);
    long ng = sigs ? 0 : -1;
    for (size_t i = 0; ng >= 0 && i < nsh; i++) {
        if (sh[i].n == 0) continue;
        if (!(sigs[i] = signature(&sh[i]))) ng = -1;
        long g = 0;
        for (; ng >= 0 && g < ng; g++) {
            size_t m = gs[g].members[0];
            if (strcmp(sh[m].th->group, sh[i].th->group) == 0 && strcmp(sigs[m], sigs[i]) == 0)
                break;
        }
        if (ng < 0) break;
        if (g == ng) {
            group_name(gs[g].name, sh[i].th->group, gs, (size_t)ng);
            if (!(gs[g].members = calloc(nsh, sizeof *gs[g].members))) ng = -1;
            if (ng >= 0) ng++;
        }
        if (ng >= 0) gs[g].members[gs[g].n++] = i;
    }
    for (size_t i = 0; sigs && i < nsh; i++)
        free(sigs[i]);
    free(sigs);
    return ng;
}

/* ---- numbers --------------------------------------------------------------------------------- */

struct stat {
    double n, mean, m2, max;
};

static void stat_add(struct stat *s, double v)
{
    s->n++;
    double d = v - s->mean;
    s->mean += d / s->n;
    s->m2 += d * (v - s->mean);
    if (v > s->max) s->max = v;
}

/* Microseconds, as few digits as say them to about 0.1%. */
static void put_us(FILE *f, double us)
{
    char buf[48];
    snprintf(buf, sizeof buf, us >= 1000 ? "%.0f" : us >= 10 ? "%.2f" : "%.4f", us);
    if (strchr(buf, '.')) {
        size_t n = strlen(buf);
        while (buf[n - 1] == '0')
            buf[--n] = '\0';
        if (buf[n - 1] == '.') buf[--n] = '\0';
    }
    fputs(buf, f);
}

/* One op from the statistics of its durations. An I/O whose latency varies gets a
 * distribution: uniform (on [0, 2·mean]) when its coefficient of variation is 0.3 to 0.8,
 * exponential above, capped at the largest seen. */
static void put_op(FILE *f, enum model_kind kind, const struct stat *st)
{
    double us = st->mean;
    if (kind == MK_SEND) {
        fputs("{\"send\": {}}", f);
        return;
    }
    if (kind == MK_CPU && us < 0.001) us = 0.001;
    fprintf(f, "{\"%s\": {\"us\": ", kind_key[kind]);
    put_us(f, us);
    if (kind == MK_IO || kind == MK_PEER_IO) {
        double cv = st->n > 1 && us > 0 ? sqrt(st->m2 / (st->n - 1)) / us : 0;
        if (cv >= 0.3) {
            fprintf(f, ", \"dist\": \"%s\", \"max_us\": ", cv >= 0.8 ? "exponential" : "uniform");
            put_us(f, fmax(st->max, us));
        }
        if (kind == MK_PEER_IO) fputs(", \"peer\": true, \"send\": true", f);
    }
    fputs("}}", f);
}

/* ---- the workload file ----------------------------------------------------------------------- */

struct writer {
    FILE *f;
    const struct shaped *sh;
    const struct group *g;
    double *scratch; /* room for every op of every thread: one op's samples */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The statistics of op k of item x's pattern over every repetition in every member. For an I/O,
 * latencies over OUTLIER_X times the op's median are left out and counted in *left_out: a
 * program's first receive that waited while its peer started (400 ms among round trips of
 * 130 µs) would otherwise set the mean of hundreds of repetitions, and the replay would run a
 * program that never was. Work (cpu, native) keeps every sample: its total is the program's. */
static struct stat unit_stat(const struct writer *w, size_t x, size_t k, size_t *left_out)
{
    const struct shaped *s0 = &w->sh[w->g->members[0]];
    enum model_kind kind = (enum model_kind)s0->th->ops[s0->items[x].first + k].kind;
    bool trim = kind == MK_IO || kind == MK_PEER_IO;
    size_t n = 0;
    for (size_t m = 0; m < w->g->n; m++) {
        const struct shaped *s = &w->sh[w->g->members[m]];
        const struct item *it = &s->items[x];
        for (size_t r = 0; r < it->nreps; r++)
            w->scratch[n++] = s->th->ops[it->starts[r] + k].us;
    }
    qsort(w->scratch, n, sizeof *w->scratch, cmp_double);
    double median = n ? w->scratch[(n - 1) / 2] : 0;
    struct stat st = {0};
    for (size_t i = 0; i < n; i++) {
        if (trim && median > 0 && w->scratch[i] > OUTLIER_X * median)
            (*left_out)++;
        else
            stat_add(&st, w->scratch[i]);
    }
    return st;
}

/* One op repeated for ever that is GIL-held work: written as 1 ms slices, whatever was seen. */
static bool forever_cpu(const struct item *it, enum model_kind kind)
{
    return it->forever && it->unit == 1 && kind == MK_CPU;
}

/* How many durations the group's means leave out (said in the description). */
static size_t count_outliers(const struct writer *w)
{
    size_t left_out = 0;
    const struct shaped *s0 = &w->sh[w->g->members[0]];
    for (size_t x = 0; x < s0->n; x++) {
        const struct item *it = &s0->items[x];
        for (size_t k = 0; !it->summary && k < it->unit; k++)
            if (!forever_cpu(it, (enum model_kind)s0->th->ops[it->first + k].kind))
                (void)unit_stat(w, x, k, &left_out);
    }
    return left_out;
}

/* A summary: per kind of op away from the GIL (in the order they first came), a loop of that
 * many ops, each after its share of the stretch's GIL-held work; averaged over the members. */
static void put_summary(const struct writer *w, size_t x, bool *first)
{
    double count[MK_COUNT] = {0}, total[MK_COUNT] = {0};
    int order[MK_COUNT], norder = 0;
    for (size_t m = 0; m < w->g->n; m++) {
        const struct shaped *s = &w->sh[w->g->members[m]];
        const struct item *it = &s->items[x];
        for (size_t i = it->first; i < it->first + it->nops; i++) {
            const struct model_op *op = &s->th->ops[i];
            if (op->kind != MK_CPU && count[op->kind] == 0) order[norder++] = op->kind;
            count[op->kind] += 1.0 / (double)w->g->n;
            total[op->kind] += op->us / (double)w->g->n;
        }
    }
    double away = 0;
    for (int k = 0; k < norder; k++)
        away += count[order[k]];
    for (int k = 0; k < norder || (k == 0 && total[MK_CPU] > 0); k++) {
        enum model_kind kind = norder ? (enum model_kind)order[k] : MK_CPU;
        double n = norder ? fmax(1, round(count[kind])) : 1;
        struct stat cpu = {.n = 1, .mean = total[MK_CPU] * (norder ? count[kind] / away : 1) / n};
        struct stat op = {.n = 1, .mean = norder ? total[kind] / fmax(count[kind], 1) : 0};
        fprintf(w->f, "%s\n    {\"loop\": {\"count\": %.0f, \"ops\": [", *first ? "" : ",", n);
        put_op(w->f, MK_CPU, &cpu);
        if (norder) {
            fputs(", ", w->f);
            put_op(w->f, kind, &op);
        }
        fputs("]}}", w->f);
        *first = false;
    }
}

static void put_item(const struct writer *w, size_t x, bool *first)
{
    const struct item *it = &w->sh[w->g->members[0]].items[x];
    const struct model_op *ops = w->sh[w->g->members[0]].th->ops;
    if (it->summary) {
        put_summary(w, x, first);
        return;
    }
    fprintf(w->f, "%s\n    ", *first ? "" : ",");
    *first = false;
    bool loop = it->nreps > 1 || it->forever;
    if (it->forever)
        fputs("{\"loop\": {\"count\": \"forever\", \"ops\": [", w->f);
    else if (loop)
        fprintf(w->f, "{\"loop\": {\"count\": %zu, \"ops\": [", it->nreps);
    for (size_t k = 0; k < it->unit; k++) {
        size_t left_out = 0;
        struct stat st = unit_stat(w, x, k, &left_out);
        enum model_kind kind = (enum model_kind)ops[it->first + k].kind;
        /* one op repeated for ever: cpu in slices, so that a thread's work lasts the run */
        if (forever_cpu(it, kind)) st.mean = FOREVER_CPU_US;
        if (k) fputs(", ", w->f);
        put_op(w->f, kind, &st);
    }
    if (loop) fputs("]}}", w->f);
}

static void put_group(FILE *f, const struct shaped *sh, const struct group *g, double *scratch,
                      bool last)
{
    struct writer w = {f, sh, g, scratch};
    double start = 0;
    for (size_t m = 0; m < g->n; m++)
        start += (double)sh[g->members[m]].th->start_ns / 1e6 / (double)g->n;
    fputs("  {\"name\": ", f);
    text_put_json(f, g->name);
    fprintf(f, ", \"count\": %zu, \"start_ms\": %.3f,\n   \"ops\": [", g->n, start);
    bool first = true;
    for (size_t x = 0; x < sh[g->members[0]].n; x++)
        put_item(&w, x, &first);
    fprintf(f, "]}%s\n", last ? "" : ",");
}

/* ---- the description ------------------------------------------------------------------------- */

struct text {
    char *s;
    size_t len, cap;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
say(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = 2 * (t->len + (size_t)n + 1);
        char *s = realloc(t->s, cap);
        if (!s) return;
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* What each thread's ops became, where a choice was made. */
static void say_threads(struct text *t, const struct shaped *sh, size_t nsh)
{
    for (size_t i = 0; i < nsh; i++) {
        const struct shaped *s = &sh[i];
        if (s->n == 0) {
            say(t, " Thread %s: never held the GIL, left out.", s->th->name);
            continue;
        }
        if (!s->summarised && !s->absorbed && !s->dropped_tail && !s->items[s->n - 1].forever)
            continue;
        say(t, " Thread %s:", s->th->name);
        if (s->summarised)
            say(t,
                " %zu ops of short irregular stretches (start-up: imports) summarised as loops of "
                "their averages;",
                s->summarised);
        if (s->absorbed) say(t, " %zu ops between runs of one pattern left out;", s->absorbed);
        if (s->items[s->n - 1].forever)
            say(t, " it lived until the end, so its last pattern repeats until the run ends (a "
                   "rate, not a count);");
        if (s->dropped_tail) say(t, " the %zu ops after that pattern left out;", s->dropped_tail);
        t->s[t->len - 1] = '.';
    }
}

static char *description(const struct model_trace *m, const struct model_options *o,
                         const struct shaped *sh, size_t nsh, const struct group *gs, size_t ng)
{
    struct text t = {0};
    say(&t, "Model of the trace %s (%s under %s", m->path, m->workload, m->policy);
    if (m->start_utc[0]) say(&t, ", started %s", m->start_utc);
    if (m->command[0]) say(&t, ": %s", m->command);
    say(&t, "), by gilsim model.");
    if (m->interval_us > 0)
        say(&t,
            " Recorded at a switch interval of %.0f us: replay under new with --set "
            "interval_us=%.0f.",
            m->interval_us, m->interval_us);
    say(&t,
        " GIL-held stretches are cpu (a forced switch does not end one: the policy decides "
        "those); I/O latencies are the measured ones less %.0f us of timer slack, which the "
        "engines add back; a send followed by a receive is one io with a peer whose request is "
        "the send.",
        o->slack_us);
    if (o->counts)
        say(&t, " Every loop keeps its recorded count (--counts): a thread ends when its work is "
                "done, and duration_ms is three times the trace's, room for a slower replay.");
    if (m->lock_waits)
        say(&t,
            " %llu lock waits are sleeps of their measured length (workloads have no locks "
            "yet).",
            (unsigned long long)m->lock_waits);
    say_threads(&t, sh, nsh);
    for (size_t g = 0; g < ng; g++)
        if (gs[g].outliers)
            say(&t,
                " Group %s: %zu I/O latencies over %.0f times their op's median left out of its "
                "mean (a first receive that waited for its peer to start).",
                gs[g].name, gs[g].outliers, OUTLIER_X);
    if (!m->complete) say(&t, " The trace is partial (complete: false).");
    return t.s;
}

static void put_header(FILE *f, const struct model_trace *m, const struct model_options *o,
                       const char *desc)
{
    char name[65];
    size_t n = 0;
    for (const char *p = m->workload; *p && n < 64; p++)
        name[n++] = name_char(*p) ? *p : '_';
    name[n] = '\0';
    fputs("{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": ", f);
    text_put_json(f, n ? name : "model");
    fputs(",\n \"description\": ", f);
    text_put_json(f, desc ? desc : "");
    /* with counts, threads end when their work is done: room for a slower replay */
    double ms = ceil((double)m->window_ns / 1e6) * (o->counts ? 3 : 1);
    fprintf(f, ",\n \"duration_ms\": %.0f, \"tick_ns\": 50,\n \"threads\": [\n", ms < 1 ? 1 : ms);
}

int model_write_workload(FILE *f, const struct model_trace *m, const struct model_options *o,
                         struct err *e)
{
    struct shaped *sh = calloc(m->nthreads ? m->nthreads : 1, sizeof *sh);
    struct group *gs = calloc(m->nthreads ? m->nthreads : 1, sizeof *gs);
    size_t nops = 1;
    for (size_t i = 0; i < m->nthreads; i++)
        nops += m->threads[i].n;
    double *scratch = malloc(nops * sizeof *scratch);
    int rc = sh && gs && scratch ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < m->nthreads; i++) {
        struct model_thread *th = &m->threads[i];
        if (th->ever_held)
            rc = shape_thread(&sh[i], th, m, o);
        else
            sh[i].th = th;
    }
    long ng = rc == 0 ? make_groups(sh, m->nthreads, gs) : -1;
    if (ng == 0)
        rc = err_set(e, ERR_INPUT, "%s: no thread of the trace ever held the GIL", m->path);
    if (ng > 0) {
        for (long g = 0; g < ng; g++)
            gs[g].outliers = count_outliers(&(struct writer){f, sh, &gs[g], scratch});
        char *desc = description(m, o, sh, m->nthreads, gs, (size_t)ng);
        put_header(f, m, o, desc);
        free(desc);
        for (long g = 0; g < ng; g++)
            put_group(f, sh, &gs[g], scratch, g + 1 == ng);
        fputs(" ]}\n", f);
    }
    for (size_t i = 0; sh && i < m->nthreads; i++)
        free_shaped(&sh[i]);
    for (size_t g = 0; gs && g < m->nthreads; g++)
        free(gs[g].members);
    free(sh);
    free(gs);
    free(scratch);
    if (ng < 0 || rc < 0) return err_set(e, ERR_RUNTIME, "out of memory while modelling");
    return rc;
}
