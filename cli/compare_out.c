/* cli/compare_out.c - what `gilsim compare` writes: the median, min and max of each key metric
 * per column, the convoy factor against the lock-free baseline, and the three forms of the
 * result (table, CSV, JSON) into the output directory and on stdout. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/compare.h"
#include "common/outfile.h"
#include "common/text.h"
#include "common/utc.h"

const struct key_metric compare_metrics[NKM] = {
#define X_ROW(e, key, label, path, unit) {key, label, path, unit},
    KEY_METRICS(X_ROW)
#undef X_ROW
};
#define km compare_metrics

/* ---- aggregation --------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct agg {
    size_t n;
    double median, min, max;
};

/* Median (mean of the middle two for an even count), min and max of the non-null values. */
static struct agg aggregate(const struct compare *c, const struct config *cfg, int k)
{
    double v[4096];
    struct agg a = {0, NAN, NAN, NAN};
    for (size_t i = 0; i < c->nruns && a.n < 4096; i++)
        if (c->runs[i].cfg == cfg && isfinite(c->runs[i].value[k])) v[a.n++] = c->runs[i].value[k];
    if (!a.n) return a;
    qsort(v, a.n, sizeof v[0], cmp_double);
    a.min = v[0];
    a.max = v[a.n - 1];
    a.median = a.n % 2 ? v[a.n / 2] : (v[a.n / 2 - 1] + v[a.n / 2]) / 2;
    return a;
}

void compare_convoy_factors(struct compare *c)
{
    const struct config *base = NULL;
    for (size_t i = 0; i < c->nconfigs; i++)
        if (c->configs[i].subj.policy && (c->configs[i].subj.policy->flags & GIL_POLICY_NO_LOCK))
            base = &c->configs[i];
    c->baseline_io_per_s = base ? aggregate(c, base, KM_IO_PER_S).median : NAN;
    for (size_t i = 0; i < c->nruns; i++) {
        double io = c->runs[i].value[KM_IO_PER_S];
        c->runs[i].value[KM_CONVOY_FACTOR] =
            isfinite(io) && io > 0 && c->baseline_io_per_s > 0 ? c->baseline_io_per_s / io : NAN;
    }
}

/* ---- the three forms ----------------------------------------------------------------------- */

/* Scale and unit for a value: the median's, so that a range reads "5.14 ms (5.10..5.30)". */
struct scale {
    double div;
    const char *unit;
};

static struct scale scale_of(double v, enum unit u)
{
    double a = fabs(v);
    switch (u) {
    case U_NS:
        return a >= 1e9   ? (struct scale){1e9, " s"}
               : a >= 1e6 ? (struct scale){1e6, " ms"}
               : a >= 1e3 ? (struct scale){1e3, " us"}
                          : (struct scale){1, " ns"};
    case U_RATE:
        return a >= 1e9   ? (struct scale){1e9, "G"}
               : a >= 1e6 ? (struct scale){1e6, "M"}
               : a >= 1e4 ? (struct scale){1e3, "k"}
                          : (struct scale){1, ""};
    case U_FRACTION:
        return (struct scale){0.01, "%"};
    case U_RATIO:
        break;
    }
    return (struct scale){1, ""};
}

/* Three significant digits in the given scale (whole numbers when the scale is 1 and the
 * unit is a count or ns). */
static void fmt_scaled(char *buf, size_t size, double v, enum unit u, struct scale s)
{
    double x = v / s.div, ax = fabs(x);
    int decimals = ax >= 100 ? 0 : ax >= 10 ? 1 : 2;
    if (s.div == 1 && u != U_RATIO && x == floor(x)) decimals = 0;
    if (u == U_FRACTION) decimals = 1;
    snprintf(buf, size, "%.*f", decimals, x);
}

static void format_cell(char *cell, size_t size, const struct agg *a, enum unit u, bool ranges)
{
    char m[16], lo[16], hi[16];
    if (!a->n) {
        snprintf(cell, size, "-");
        return;
    }
    struct scale s = scale_of(a->median, u);
    fmt_scaled(m, sizeof m, a->median, u, s);
    if (!ranges || a->n < 2) {
        snprintf(cell, size, "%s%s", m, s.unit);
        return;
    }
    fmt_scaled(lo, sizeof lo, a->min, u, s);
    fmt_scaled(hi, sizeof hi, a->max, u, s);
    snprintf(cell, size, "%s%s (%s..%s)", m, s.unit, lo, hi);
}

/* A column's top blocker: the holder->waiter pair that is top in most of its measured runs
 * (ties: the earlier run's), in how many of them, and its share of the waiter's wait there. */
struct col_blocker {
    const struct blocker *b; /* NULL: no run has one */
    size_t agree, n;
    struct agg share;
};

static bool same_pair(const struct blocker *x, const struct blocker *y)
{
    return strcmp(x->holder, y->holder) == 0 && strcmp(x->waiter, y->waiter) == 0;
}

static struct col_blocker column_blocker(const struct compare *c, const struct config *cfg)
{
    struct col_blocker best = {0};
    for (size_t i = 0; i < c->nruns; i++) {
        const struct run *r = &c->runs[i];
        if (r->cfg != cfg || r->status != 0) continue;
        best.n++;
        if (!r->top.holder[0]) continue;
        size_t agree = 0;
        for (size_t j = 0; j < c->nruns; j++)
            agree += c->runs[j].cfg == cfg && c->runs[j].status == 0 &&
                     same_pair(&c->runs[j].top, &r->top);
        if (agree > best.agree) best.agree = agree, best.b = &r->top;
    }
    double *v = best.b ? malloc(best.agree * sizeof *v) : NULL;
    size_t k = 0;
    for (size_t i = 0; v && i < c->nruns; i++) {
        const struct run *r = &c->runs[i];
        if (r->cfg == cfg && r->status == 0 && same_pair(&r->top, best.b)) v[k++] = r->top.share;
    }
    if (v) {
        qsort(v, k, sizeof *v, cmp_double);
        best.share =
            (struct agg){k, k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2, v[0], v[k - 1]};
    }
    free(v);
    return best;
}

/* "cpu.0->io.0 99.6%", with (min..max) over the runs that agree and [agree/n] when not all. */
static void format_blocker(char *cell, size_t size, const struct col_blocker *cb, bool ranges)
{
    if (!cb->b || !cb->share.n) {
        snprintf(cell, size, "-");
        return;
    }
    int len =
        snprintf(cell, size, "%s->%s %.1f%%", cb->b->holder, cb->b->waiter, 100 * cb->share.median);
    if (ranges && cb->share.n > 1 && len > 0 && (size_t)len < size)
        len += snprintf(cell + len, size - (size_t)len, " (%.1f..%.1f)", 100 * cb->share.min,
                        100 * cb->share.max);
    if (cb->agree < cb->n && len > 0 && (size_t)len < size)
        snprintf(cell + len, size - (size_t)len, " [%zu/%zu]", cb->agree, cb->n);
}

static uint64_t run_length_ms(const struct compare *c)
{
    return c->duration_ms ? c->duration_ms : (uint64_t)(c->wl->duration_ns / 1000000);
}

/* The table's cells: one column per configuration except the extra baseline, one row per
 * metric that is not zero everywhere. */
enum { CELL = 64, BLOCKER_CELL = 160 };
struct table {
    size_t ncols, col_of[COMPARE_MAX_COLUMNS];
    char (*cells)[COMPARE_MAX_COLUMNS][CELL]; /* [metric][column] */
    char (*blockers)[BLOCKER_CELL];           /* [column]: the top blocker row */
    size_t width[COMPARE_MAX_COLUMNS + 1];    /* [0]: the row labels */
    bool show[NKM], show_blockers;
};

static int fill_table(const struct compare *c, struct table *t)
{
    t->ncols = 0;
    for (size_t i = 0; i < c->nconfigs; i++)
        if (!c->configs[i].baseline_only) t->col_of[t->ncols++] = i;
    t->cells = malloc(NKM * sizeof *t->cells);
    t->blockers = malloc((t->ncols ? t->ncols : 1) * sizeof *t->blockers);
    if (!t->cells || !t->blockers) {
        free(t->cells);
        free(t->blockers);
        return -1;
    }
    t->width[0] = 20;
    for (size_t j = 0; j < t->ncols; j++) {
        const struct config *cfg = &c->configs[t->col_of[j]];
        size_t w = strlen(cfg->subj.name);
        for (unsigned k = 0; k < cfg->nassign; k++)
            w = strlen(cfg->assign[k]) > w ? strlen(cfg->assign[k]) : w;
        t->width[j + 1] = w;
    }
    for (int k = 0; k < NKM; k++) {
        t->show[k] = false;
        for (size_t j = 0; j < t->ncols; j++) {
            struct agg a = aggregate(c, &c->configs[t->col_of[j]], k);
            char *cell = t->cells[k][j];
            format_cell(cell, CELL, &a, km[k].unit, c->repeat > 1);
            t->show[k] |= a.n > 0 && (a.min != 0 || a.max != 0); /* all zero: nothing to see */
            t->width[j + 1] = strlen(cell) > t->width[j + 1] ? strlen(cell) : t->width[j + 1];
        }
    }
    t->show_blockers = false;
    for (size_t j = 0; j < t->ncols; j++) {
        struct col_blocker cb = column_blocker(c, &c->configs[t->col_of[j]]);
        format_blocker(t->blockers[j], BLOCKER_CELL, &cb, c->repeat > 1);
        t->show_blockers |= cb.b != NULL;
        size_t w = strlen(t->blockers[j]);
        t->width[j + 1] = w > t->width[j + 1] ? w : t->width[j + 1];
    }
    return 0;
}

/* Header: the policy, then one line per swept parameter. */
static void print_column_heads(const struct compare *c, const struct table *t, FILE *f)
{
    unsigned lines = 1;
    for (size_t j = 0; j < t->ncols; j++)
        if (c->configs[t->col_of[j]].nassign + 1 > lines)
            lines = c->configs[t->col_of[j]].nassign + 1;
    for (unsigned l = 0; l < lines; l++) {
        fprintf(f, "%-*s", (int)t->width[0], "");
        for (size_t j = 0; j < t->ncols; j++) {
            const struct config *cfg = &c->configs[t->col_of[j]];
            const char *text = l == 0              ? cfg->subj.name
                               : l <= cfg->nassign ? cfg->assign[l - 1]
                                                   : "";
            fprintf(f, "  %*s", (int)t->width[j + 1], text);
        }
        fputc('\n', f);
    }
}

/* Text from files (the description, notes quoting a trace) is escaped: common/text.h. */
static int write_table(const struct compare *c, FILE *f)
{
    fprintf(f, "%s: ", c->wl->name);
    text_put(f, c->wl->description ? c->wl->description : "");
    fprintf(f, "\n%llu ms, seed %llu, %llu repeat%s%s; traces in ",
            (unsigned long long)run_length_ms(c), (unsigned long long)c->seed,
            (unsigned long long)c->repeat, c->repeat == 1 ? "" : "s",
            c->repeat > 1 ? ": median (min..max)" : "");
    text_put(f, c->dir);
    fputs("/\n", f);
    struct table t;
    if (fill_table(c, &t) != 0) {
        fputs("(out of memory)\n", f);
        return -1;
    }
    print_column_heads(c, &t, f);
    for (int k = 0; k < NKM; k++) {
        if (!t.show[k]) continue;
        fprintf(f, "%-*s", (int)t.width[0], km[k].label);
        for (size_t j = 0; j < t.ncols; j++)
            fprintf(f, "  %*s", (int)t.width[j + 1], t.cells[k][j]);
        fputc('\n', f);
    }
    if (t.show_blockers) {
        fprintf(f, "%-*s", (int)t.width[0], "top blocker");
        for (size_t j = 0; j < t.ncols; j++)
            fprintf(f, "  %*s", (int)t.width[j + 1], t.blockers[j]);
        fputc('\n', f);
        fputs("top blocker = holder->waiter: the thread that held the GIL longest while another "
              "waited, and its share of that waiter's wait\n",
              f);
    }
    free(t.cells);
    free(t.blockers);
    if (isfinite(c->baseline_io_per_s)) {
        char b[16];
        struct scale sc = scale_of(c->baseline_io_per_s, U_RATE);
        fmt_scaled(b, sizeof b, c->baseline_io_per_s, U_RATE, sc);
        fprintf(f, "convoy factor = I/O ops/s under %s (%s%s%s) / I/O ops/s under the policy\n",
                c->baseline_name, b, sc.unit, c->baseline_requested ? "" : ", one extra run");
    }
    size_t i;
    json_t *note;
    json_array_foreach(c->notes, i, note)
    {
        fputs("note: ", f);
        text_put(f, json_string_value(note));
        fputc('\n', f);
    }
    return 0;
}

static int write_csv(const struct compare *c, FILE *f)
{
    fputs("policy,params,repeat,seed,duration_ms,baseline_only,status,trace", f);
    for (int k = 0; k < NKM; k++)
        fprintf(f, ",%s", km[k].key);
    fputs(",top_blocker_holder,top_blocker_waiter,top_blocker_share\n", f);
    for (size_t i = 0; i < c->nruns; i++) {
        const struct run *r = &c->runs[i];
        char params[512] = "";
        size_t n = 0;
        for (unsigned k = 0; k < r->cfg->nassign && n < sizeof params; k++)
            n += (size_t)snprintf(params + n, sizeof params - n, "%s%s", k ? ";" : "",
                                  r->cfg->assign[k]);
        cli_csv_field(f, r->cfg->subj.name);
        fputc(',', f);
        cli_csv_field(f, params);
        fprintf(f, ",%u,%llu,%llu,%d,%d,", r->repeat, (unsigned long long)c->seed,
                (unsigned long long)run_length_ms(c), r->cfg->baseline_only, r->status);
        cli_csv_field(f, r->trace);
        for (int k = 0; k < NKM; k++) {
            if (isfinite(r->value[k]))
                fprintf(f, ",%.10g", r->value[k]);
            else
                fputc(',', f);
        }
        fputc(',', f);
        cli_csv_field(f, r->top.holder);
        fputc(',', f);
        cli_csv_field(f, r->top.waiter);
        if (r->top.holder[0])
            fprintf(f, ",%.10g\n", r->top.share);
        else
            fputs(",\n", f);
    }
    return 0;
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* A parameter value as given: an integer stays an integer. */
static json_t *param_json(const char *text)
{
    double v = strtod(text, NULL);
    return v == floor(v) && fabs(v) < 9e15 ? json_integer((json_int_t)v) : json_real(v);
}

static json_t *config_json(const struct compare *c, const struct config *cfg)
{
    json_t *set = json_object(), *runs = json_array(), *metrics = json_object();
    for (unsigned k = 0; k < cfg->nassign; k++) {
        const char *eq = strchr(cfg->assign[k], '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - cfg->assign[k]), cfg->assign[k]);
        json_object_set_new(set, name, param_json(eq + 1));
    }
    for (size_t i = 0; i < c->nruns; i++) {
        const struct run *r = &c->runs[i];
        if (r->cfg != cfg) continue;
        json_t *vals = json_object();
        for (int k = 0; k < NKM; k++)
            json_object_set_new(vals, km[k].key, num_or_null(r->value[k]));
        char summary[sizeof r->trace + 16];
        compare_summary_name(r->trace, summary, sizeof summary);
        json_t *top = r->top.holder[0] ? json_pack("{ss ss sI sf}", "holder", r->top.holder,
                                                   "waiter", r->top.waiter, "ns",
                                                   (json_int_t)r->top.ns, "share", r->top.share)
                                       : json_null();
        json_array_append_new(runs, json_pack("{sI ss ss sI so so}", "repeat",
                                              (json_int_t)r->repeat, "trace", r->trace, "summary",
                                              summary, "status", (json_int_t)r->status, "metrics",
                                              vals, "top_blocker", top));
    }
    for (int k = 0; k < NKM; k++) {
        struct agg a = aggregate(c, cfg, k);
        json_object_set_new(metrics, km[k].key,
                            json_pack("{sI so so so}", "n", (json_int_t)a.n, "median",
                                      num_or_null(a.median), "min", num_or_null(a.min), "max",
                                      num_or_null(a.max)));
    }
    struct col_blocker cb = column_blocker(c, cfg);
    json_t *top = cb.b ? json_pack("{ss ss sI sI s{sf sf sf}}", "holder", cb.b->holder, "waiter",
                                   cb.b->waiter, "runs", (json_int_t)cb.agree, "of",
                                   (json_int_t)cb.n, "share", "median", cb.share.median, "min",
                                   cb.share.min, "max", cb.share.max)
                       : json_null();
    return json_pack("{ss ss so sb so so so}", "label", cfg->label, "policy", cfg->subj.name, "set",
                     set, "baseline_only", cfg->baseline_only, "runs", runs, "metrics", metrics,
                     "top_blocker", top);
}

static json_t *compare_json(const struct compare *c)
{
    char from[80] = "no lock-free policy";
    if (c->baseline_name)
        snprintf(from, sizeof from,
                 c->baseline_requested ? "requested %s runs" : "one extra %s run",
                 c->baseline_name);
    json_t *configs = json_array(), *metrics = json_array(), *sets = json_object();
    static const char *const unit_names[] = {"1/s", "ns", "ratio", "fraction"};
    for (int k = 0; k < NKM; k++)
        json_array_append_new(metrics, json_pack("{ss ss ss}", "key", km[k].key, "label",
                                                 km[k].label, "unit", unit_names[km[k].unit]));
    for (size_t i = 0; i < c->nconfigs; i++)
        json_array_append_new(configs, config_json(c, &c->configs[i]));
    for (unsigned i = 0; i < c->nsets; i++) {
        json_t *vals = json_array();
        for (unsigned k = 0; k < c->sets[i].nvalues; k++)
            json_array_append_new(vals, param_json(c->sets[i].values[k]));
        json_object_set_new(sets, c->sets[i].name, vals);
    }
    /* Paths are bytes: not UTF-8, they are written escaped (common/text.h). */
    return json_pack("{ss sI s{ss so ss*} sI sI sI ss so sO so so sO s{so ss} so}", "format",
                     "gilsim-compare", "version", (json_int_t)1, "workload", "name", c->wl->name,
                     "path", text_json(c->workload_path), "description", c->wl->description,
                     "duration_ms", (json_int_t)run_length_ms(c), "seed", (json_int_t)c->seed,
                     "repeat", (json_int_t)c->repeat, "created_utc", c->created, "dir",
                     text_json(c->dir), "host", c->host ? c->host : json_null(), "sets", sets,
                     "metrics", metrics, "notes", c->notes, "baseline", "io_per_s",
                     num_or_null(c->baseline_io_per_s), "from", from, "configs", configs);
}

static int dump_json(const struct compare *c, FILE *f)
{
    json_t *doc = compare_json(c);
    int rc = doc ? json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10)) : -1;
    fputc('\n', f);
    json_decref(doc);
    return rc;
}

/* ---- the files ----------------------------------------------------------------------------- */

struct form {
    const struct compare *c;
    int (*write)(const struct compare *c, FILE *f);
};

static int write_form(FILE *f, void *ctx, struct err *e)
{
    const struct form *form = ctx;
    return form->write(form->c, f) ? err_set(e, ERR_RUNTIME, "out of memory") : 0;
}

/* DIR/name under the output rules (common/outfile.h). */
static int write_file(const struct compare *c, const char *name,
                      int (*fn)(const struct compare *, FILE *), struct err *e)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    const char *inputs[] = {c->workload_path, NULL};
    struct form form = {c, fn};
    return outfile_write(path, 0, inputs, write_form, &form, e);
}

int compare_write_outputs(struct compare *c, struct err *e)
{
    utc_stamp(c->created, sizeof c->created, UTC_EXTENDED, 0);
    int rc;
    if ((rc = write_file(c, "index.json", dump_json, e)) ||
        (rc = write_file(c, "runs.csv", write_csv, e)) ||
        (rc = write_file(c, "table.txt", write_table, e)))
        return rc;
    if (strcmp(c->format, "json") == 0)
        dump_json(c, stdout);
    else if (strcmp(c->format, "csv") == 0)
        write_csv(c, stdout);
    else
        write_table(c, stdout);
    fflush(stdout);
    fprintf(stderr, "gilsim compare: %zu runs, traces and index.json in ", c->nruns);
    text_put(stderr, c->dir);
    fputs("/\n", stderr);
    return 0;
}
