/* cli/compare_out.c - what `gilsim compare` writes from a plan and its results: the median,
 * min and max of each key metric per cell, the convoy factor against the lock-free baseline,
 * and the three forms of the result (table, CSV, JSON) into the output directory and on
 * stdout. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "cli/compare.h"
#include "common/outfile.h"
#include "common/text.h"
#include "common/utc.h"

#define km cmp_key_metrics

/* What the outputs are written from. */
struct view {
    const struct cmp_plan *p;
    const struct cmp_results *r;
    char created[32]; /* UTC, when the outputs were written */
};

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* How many runs a cell has, and how many of them failed and were disturbed. */
struct run_counts {
    size_t runs, failed, disturbed;
};

static struct run_counts cell_runs(const struct view *o, const struct cmp_cell *cfg)
{
    struct run_counts c = {0, 0, 0};
    for (size_t i = 0; i < o->p->nruns; i++) {
        if (o->p->runs[i].cell != cfg) continue;
        c.runs++;
        c.failed += o->r->runs[i].status > 0;
        c.disturbed += o->r->runs[i].disturbed;
    }
    return c;
}

/* "1 of 3 left out" ("kept" with --keep-disturbed); "-" when none was disturbed. */
static void format_disturbed(const struct view *o, const struct cmp_cell *cfg, char *buf,
                             size_t size)
{
    struct run_counts c = cell_runs(o, cfg);
    if (!c.disturbed)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%zu of %zu %s", c.disturbed, c.runs,
                 o->r->keep_disturbed ? "kept" : "left out");
}

/* The cell's baseline I/O rate (cmp_convoy_factors). */
static double baseline_io(const struct view *o, const struct cmp_cell *cell)
{
    return o->r->baseline_io_per_s[cell - o->p->cells];
}

/* Every note: the plan's, then the results'. */
static json_t *all_notes(const struct view *o)
{
    json_t *notes = json_copy(o->p->notes);
    json_array_extend(notes, o->r->notes);
    return notes;
}

/* The aggregate of metric k over the cell's runs (cli/compare_agg.c). */
static struct cmp_agg cell_agg(const struct view *o, const struct cmp_cell *cell, int k)
{
    return cmp_aggregate(o->p, o->r, cell, k);
}

/* ---- the three forms ----------------------------------------------------------------------- */

/* Scale and unit for a value: the median's, so that a range reads "5.14 ms (5.10..5.30)". */
struct scale {
    double div;
    const char *unit;
};

static struct scale scale_of(double v, enum cmp_unit u)
{
    double a = fabs(v);
    switch (u) {
    case CMP_NS:
        return a >= 1e9   ? (struct scale){1e9, " s"}
               : a >= 1e6 ? (struct scale){1e6, " ms"}
               : a >= 1e3 ? (struct scale){1e3, " us"}
                          : (struct scale){1, " ns"};
    case CMP_RATE:
        return a >= 1e9   ? (struct scale){1e9, "G"}
               : a >= 1e6 ? (struct scale){1e6, "M"}
               : a >= 1e4 ? (struct scale){1e3, "k"}
                          : (struct scale){1, ""};
    case CMP_FRACTION:
        return (struct scale){0.01, "%"};
    case CMP_RATIO:
        break;
    }
    return (struct scale){1, ""};
}

/* Three significant digits in the given scale (whole numbers when the scale is 1 and the
 * unit is a count or ns). */
static void fmt_scaled(char *buf, size_t size, double v, enum cmp_unit u, struct scale s)
{
    double x = v / s.div, ax = fabs(x);
    int decimals = ax >= 100 ? 0 : ax >= 10 ? 1 : 2;
    if (s.div == 1 && u != CMP_RATIO && x == floor(x)) decimals = 0;
    if (u == CMP_FRACTION) decimals = 1;
    snprintf(buf, size, "%.*f", decimals, x);
}

/* "5.14 ms (5.10..5.30)*": the median, its confidence interval, and * when the cell differs
 * from its reference (p < CMP_SIGNIFICANT). */
static void format_cell(char *cell, size_t size, const struct cmp_agg *a, enum cmp_unit u,
                        bool ranges)
{
    char m[16], lo[16], hi[16];
    const char *mark = a->p < CMP_SIGNIFICANT ? "*" : "";
    if (!a->n) {
        snprintf(cell, size, "-");
        return;
    }
    struct scale s = scale_of(a->median, u);
    fmt_scaled(m, sizeof m, a->median, u, s);
    if (!ranges || a->n < 2) {
        snprintf(cell, size, "%s%s%s", m, s.unit, mark);
        return;
    }
    fmt_scaled(lo, sizeof lo, a->lo, u, s);
    fmt_scaled(hi, sizeof hi, a->hi, u, s);
    snprintf(cell, size, "%s%s (%s..%s)%s", m, s.unit, lo, hi, mark);
}

/* A column's top blocker: the holder->waiter pair that is top in most of its measured runs
 * (ties: the earlier run's), in how many of them, and its share of the waiter's wait there. */
struct col_blocker {
    const struct cmp_blocker *b; /* NULL: no run has one */
    size_t agree, n;
    struct {
        size_t n;
        double median, min, max;
    } share;
};

static bool same_pair(const struct cmp_blocker *x, const struct cmp_blocker *y)
{
    return strcmp(x->holder, y->holder) == 0 && strcmp(x->waiter, y->waiter) == 0;
}

static struct col_blocker column_blocker(const struct view *o, const struct cmp_cell *cfg)
{
    struct col_blocker best = {0};
    for (size_t i = 0; i < o->p->nruns; i++) {
        const struct cmp_outcome *r = &o->r->runs[i];
        if (o->p->runs[i].cell != cfg || !cmp_run_counts(o->p, o->r, i)) continue;
        best.n++;
        if (!r->top.holder[0]) continue;
        size_t agree = 0;
        for (size_t j = 0; j < o->p->nruns; j++)
            agree += o->p->runs[j].cell == cfg && cmp_run_counts(o->p, o->r, j) &&
                     same_pair(&o->r->runs[j].top, &r->top);
        if (agree > best.agree) best.agree = agree, best.b = &r->top;
    }
    double *v = best.b ? malloc(best.agree * sizeof *v) : NULL;
    size_t k = 0;
    for (size_t i = 0; v && i < o->p->nruns; i++) {
        const struct cmp_outcome *r = &o->r->runs[i];
        if (o->p->runs[i].cell == cfg && cmp_run_counts(o->p, o->r, i) &&
            same_pair(&r->top, best.b))
            v[k++] = r->top.share;
    }
    if (v) {
        qsort(v, k, sizeof *v, by_value);
        best.share.n = k;
        best.share.median = stats_median(v, k);
        best.share.min = v[0];
        best.share.max = v[k - 1];
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

static uint64_t run_length_ms(const struct view *o)
{
    return o->p->req->duration_ms ? o->p->req->duration_ms
                                  : (uint64_t)(o->p->wl->duration_ns / 1000000);
}

/* The lines of a cell's column head: the policy, the engine (when the sweep has a virtual
 * one), then one line per --set and --var value. */
static unsigned head_lines(const struct view *o, const struct cmp_cell *cfg, const char **out)
{
    unsigned n = 0;
    out[n++] = cfg->subj.name;
    if (o->p->engine_in_names) out[n++] = cli_engine_names[cfg->engine];
    for (unsigned k = 0; k < cfg->nassign; k++)
        out[n++] = cfg->assign[k];
    for (unsigned k = 0; k < cfg->nvars; k++)
        out[n++] = cfg->vars[k];
    return n;
}

#define MAX_HEAD (2 + CLI_MAX_SETS + WL_MAX_VARS)

/* The table's cells: one column per cell except the extra baselines, one row per metric that
 * is not zero everywhere. Only for sweeps of at most CMP_TABLE_CELLS cells. */
enum { CELL = 64, BLOCKER_CELL = 160 };
struct table {
    size_t ncols, col_of[CMP_TABLE_CELLS];
    char cells[CMP_NKM][CMP_TABLE_CELLS][CELL];
    char blockers[CMP_TABLE_CELLS][BLOCKER_CELL]; /* the top blocker row */
    char disturbed[CMP_TABLE_CELLS][CELL];        /* the disturbed runs' row */
    size_t width[CMP_TABLE_CELLS + 1];            /* [0]: the row labels */
    bool show[CMP_NKM], show_blockers;
};

static void fill_table(const struct view *o, struct table *t)
{
    t->ncols = 0;
    for (size_t i = 0; i < o->p->ncells && t->ncols < CMP_TABLE_CELLS; i++)
        if (!o->p->cells[i].baseline_only) t->col_of[t->ncols++] = i;
    t->width[0] = 20;
    for (size_t j = 0; j < t->ncols; j++) {
        const char *head[MAX_HEAD];
        unsigned n = head_lines(o, &o->p->cells[t->col_of[j]], head);
        t->width[j + 1] = 0;
        for (unsigned k = 0; k < n; k++)
            t->width[j + 1] = strlen(head[k]) > t->width[j + 1] ? strlen(head[k]) : t->width[j + 1];
    }
    for (int k = 0; k < CMP_NKM; k++) {
        t->show[k] = false;
        for (size_t j = 0; j < t->ncols; j++) {
            struct cmp_agg a = cell_agg(o, &o->p->cells[t->col_of[j]], k);
            char *cell = t->cells[k][j];
            format_cell(cell, CELL, &a, km[k].unit, o->p->req->repeat > 1);
            t->show[k] |= a.n > 0 && (a.min != 0 || a.max != 0); /* all zero: nothing to see */
            t->width[j + 1] = strlen(cell) > t->width[j + 1] ? strlen(cell) : t->width[j + 1];
        }
    }
    t->show_blockers = false;
    for (size_t j = 0; j < t->ncols; j++) {
        struct col_blocker cb = column_blocker(o, &o->p->cells[t->col_of[j]]);
        format_blocker(t->blockers[j], BLOCKER_CELL, &cb, o->p->req->repeat > 1);
        t->show_blockers |= cb.b != NULL;
        size_t w = strlen(t->blockers[j]);
        t->width[j + 1] = w > t->width[j + 1] ? w : t->width[j + 1];
        format_disturbed(o, &o->p->cells[t->col_of[j]], t->disturbed[j], CELL);
        w = strlen(t->disturbed[j]);
        t->width[j + 1] = w > t->width[j + 1] ? w : t->width[j + 1];
    }
}

/* Header: the policy, then the engine and one line per swept parameter and variable. */
static void print_column_heads(const struct view *o, const struct table *t, FILE *f)
{
    const char *head[CMP_TABLE_CELLS][MAX_HEAD];
    unsigned n[CMP_TABLE_CELLS], lines = 1;
    for (size_t j = 0; j < t->ncols; j++) {
        n[j] = head_lines(o, &o->p->cells[t->col_of[j]], head[j]);
        lines = n[j] > lines ? n[j] : lines;
    }
    for (unsigned l = 0; l < lines; l++) {
        fprintf(f, "%-*s", (int)t->width[0], "");
        for (size_t j = 0; j < t->ncols; j++)
            fprintf(f, "  %*s", (int)t->width[j + 1], l < n[j] ? head[j][l] : "");
        fputc('\n', f);
    }
}

static void write_columns(const struct view *o, FILE *f)
{
    struct table t;
    fill_table(o, &t);
    print_column_heads(o, &t, f);
    for (int k = 0; k < CMP_NKM; k++) {
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
    if (o->r->disturbed) {
        fprintf(f, "%-*s", (int)t.width[0], "disturbed runs");
        for (size_t j = 0; j < t.ncols; j++)
            fprintf(f, "  %*s", (int)t.width[j + 1], t.disturbed[j]);
        fputc('\n', f);
    }
}

/* ---- one row per cell ------------------------------------------------------------------------ */

/* The key metrics of the pivoted table (the others are in cells.csv and index.json). */
static const int pivot_metrics[] = {
    CMP_KM_CONVOY_FACTOR, CMP_KM_IO_PER_S,       CMP_KM_IO_RESPONSE_P99, CMP_KM_GIL_WAIT_P99,
    CMP_KM_REQUEST_P99,   CMP_KM_SWITCHES_PER_S, CMP_KM_TICKS_PER_S};
#define NPIVOT (sizeof pivot_metrics / sizeof *pivot_metrics)

/* The value of the dimension named name in cfg ("-" when the cell has no such parameter). */
static const char *dim_value(char *const *assign, unsigned n, const char *name)
{
    const char *v = cmp_assigned(assign, n, name);
    return v ? v : "-";
}

/* Column heads: the dimensions, then the key metrics. */
static size_t pivot_heads(const struct view *o, const char **heads, size_t *ndims)
{
    size_t n = 0;
    heads[n++] = "policy";
    if (o->p->engine_in_names) heads[n++] = "engine";
    for (unsigned i = 0; i < o->p->req->sets.n; i++)
        heads[n++] = o->p->req->sets.l[i].name;
    for (unsigned i = 0; i < o->p->req->vars.n; i++)
        heads[n++] = o->p->req->vars.l[i].name;
    *ndims = n;
    for (size_t k = 0; k < NPIVOT; k++)
        heads[n++] = km[pivot_metrics[k]].label;
    if (o->r->disturbed) heads[n++] = "disturbed runs";
    return n;
}

/* One row's texts: the cell's dimensions, then its metrics; *nonzero[k] when a metric is. */
static void pivot_row(const struct view *o, const struct cmp_cell *cfg, char (*row)[CELL],
                      bool *nonzero)
{
    size_t n = 0;
    snprintf(row[n++], CELL, "%s", cfg->subj.name);
    if (o->p->engine_in_names) snprintf(row[n++], CELL, "%s", cli_engine_names[cfg->engine]);
    for (unsigned i = 0; i < o->p->req->sets.n; i++)
        snprintf(row[n++], CELL, "%s",
                 dim_value(cfg->assign, cfg->nassign, o->p->req->sets.l[i].name));
    for (unsigned i = 0; i < o->p->req->vars.n; i++)
        snprintf(row[n++], CELL, "%s", dim_value(cfg->vars, cfg->nvars, o->p->req->vars.l[i].name));
    for (size_t k = 0; k < NPIVOT; k++) {
        struct cmp_agg a = cell_agg(o, cfg, pivot_metrics[k]);
        format_cell(row[n++], CELL, &a, km[pivot_metrics[k]].unit, o->p->req->repeat > 1);
        nonzero[k] |= a.n > 0 && (a.min != 0 || a.max != 0);
    }
    if (o->r->disturbed) format_disturbed(o, cfg, row[n], CELL);
}

static void write_rows(const struct view *o, FILE *f)
{
    const char *heads[MAX_HEAD + NPIVOT + 1];
    size_t ndims, ncols = pivot_heads(o, heads, &ndims), nrows = 0, width[MAX_HEAD + NPIVOT + 1];
    char(*rows)[MAX_HEAD + NPIVOT + 1][CELL] = malloc(o->p->ncells * sizeof *rows);
    bool nonzero[NPIVOT] = {false};
    if (!rows) {
        fputs("(out of memory)\n", f);
        return;
    }
    for (size_t i = 0; i < o->p->ncells; i++)
        if (!o->p->cells[i].baseline_only) pivot_row(o, &o->p->cells[i], rows[nrows++], nonzero);
    for (size_t k = 0; k < ncols; k++) {
        width[k] = strlen(heads[k]);
        for (size_t r = 0; r < nrows; r++)
            width[k] = strlen(rows[r][k]) > width[k] ? strlen(rows[r][k]) : width[k];
    }
    for (size_t r = 0; r <= nrows; r++) {
        for (size_t k = 0; k < ncols; k++) {
            if (k >= ndims && k < ndims + NPIVOT && !nonzero[k - ndims]) continue;
            const char *text = r == 0 ? heads[k] : rows[r - 1][k];
            fprintf(f, k < ndims ? "%s%-*s" : "%s%*s", k ? "  " : "", (int)width[k], text);
        }
        fputc('\n', f);
    }
    free(rows);
}

/* "convoy factor = ..." with the baseline's figure when there is one baseline. */
static void write_baseline(const struct view *o, FILE *f)
{
    const struct cmp_cell *base = NULL;
    bool several = false;
    for (size_t i = 0; i < o->p->ncells; i++) {
        const struct cmp_cell *b = o->p->cells[i].baseline;
        several |= b && base && b != base;
        base = b ? b : base;
    }
    if (!base || !isfinite(baseline_io(o, base))) return;
    if (several) {
        fprintf(f,
                "convoy factor = I/O ops/s under %s (of the same engine and variables%s) / "
                "I/O ops/s under the policy\n",
                o->p->baseline_name, o->p->baseline_requested ? "" : ": extra runs");
        return;
    }
    char b[16];
    struct scale sc = scale_of(baseline_io(o, base), CMP_RATE);
    fmt_scaled(b, sizeof b, baseline_io(o, base), CMP_RATE, sc);
    fprintf(f, "convoy factor = I/O ops/s under %s (%s%s%s) / I/O ops/s under the policy\n",
            o->p->baseline_name, b, sc.unit, o->p->baseline_requested ? "" : ", one extra run");
}

static size_t table_cells(const struct view *o)
{
    size_t n = 0;
    for (size_t i = 0; i < o->p->ncells; i++)
        n += !o->p->cells[i].baseline_only;
    return n;
}

/* "seed 1", "seeds 1..3", "seeds 7, 9, 12" (cut with "..." when long). */
static void seeds_text(const struct cmp_request *req, char *buf, size_t size)
{
    if (req->repeat == 1) {
        snprintf(buf, size, "seed %llu", (unsigned long long)req->seed);
        return;
    }
    if (!req->seeds.n) {
        snprintf(buf, size, "seeds %llu..%llu", (unsigned long long)req->seed,
                 (unsigned long long)(req->seed + req->repeat - 1));
        return;
    }
    size_t n = (size_t)snprintf(buf, size, "seeds");
    for (unsigned k = 0; k < req->seeds.n && n < size; k++) {
        if (n + 28 >= size) {
            snprintf(buf + n, size - n, ", ...");
            return;
        }
        n += (size_t)snprintf(buf + n, size - n, "%s %llu", k ? "," : "",
                              (unsigned long long)req->seeds.v[k]);
    }
}

/* What the intervals and the marks of the table mean, when there are any: the fewest runs
 * behind an interval that falls short of 95% (min..max instead), and the reference. */
static void write_legend(const struct view *o, FILE *f)
{
    size_t short_n = 0, most = 0;
    bool tested = false;
    for (size_t i = 0; i < o->p->ncells; i++) {
        const struct cmp_cell *c = &o->p->cells[i];
        if (c->baseline_only) continue;
        tested |= c->reference != NULL;
        for (int k = 0; k < CMP_NKM; k++) {
            struct cmp_agg a = cell_agg(o, c, k);
            if (a.n >= 2 && !a.reached && (!short_n || a.n < short_n)) short_n = a.n;
            most = a.n > most ? a.n : most;
        }
    }
    if (short_n)
        fprintf(f,
                "intervals are wide: with %zu runs a 95%% interval of the median would reach "
                "beyond their min..max, shown instead (it covers the median with %.0f%% "
                "confidence); 6 runs or more give 95%%\n",
                short_n, 100 * stats_order_coverage(short_n, 1));
    if (o->r->disturbed)
        fprintf(f,
                "disturbed runs: %zu real run%s the host spoiled (a tick off its target, or "
                "threads kept off their cores by other processes: runs.csv says which and why) "
                "%s\n",
                o->r->disturbed, o->r->disturbed == 1 ? "" : "s",
                o->r->keep_disturbed ? "count all the same (--keep-disturbed)"
                                     : "are left out of the medians and intervals "
                                       "(--keep-disturbed counts them)");
    if (!tested || most < 2) return;
    fprintf(f,
            "* = differs from %s of the same engine and values (Mann-Whitney U over the runs, "
            "two-sided p < %.2f; every p in cells.csv and index.json)%s\n",
            o->p->reference_name, CMP_SIGNIFICANT,
            most < 4 ? ": with fewer than 4 runs a side no difference can reach it" : "");
}

/* Text from files (the description, notes quoting a trace, thread names) is escaped:
 * common/text.h. */
static void write_table(const struct view *o, FILE *f)
{
    fprintf(f, "%s: ", o->p->wl->name);
    text_put(f, o->p->wl->description ? o->p->wl->description : "");
    char seeds[120];
    seeds_text(o->p->req, seeds, sizeof seeds);
    if (o->p->req->repeat == 1)
        fprintf(f, "\n%llu ms, %s; traces in ", (unsigned long long)run_length_ms(o), seeds);
    else
        fprintf(f, "\n%llu ms, %llu repeats with %s: median (95%% confidence interval); traces in ",
                (unsigned long long)run_length_ms(o), (unsigned long long)o->p->req->repeat, seeds);
    text_put(f, o->p->dir);
    fputs("/\n", f);
    if (table_cells(o) <= CMP_TABLE_CELLS)
        write_columns(o, f);
    else
        write_rows(o, f);
    write_baseline(o, f);
    write_legend(o, f);
    json_t *notes = all_notes(o), *note;
    size_t i;
    json_array_foreach(notes, i, note)
    {
        fputs("note: ", f);
        text_put(f, json_string_value(note));
        fputc('\n', f);
    }
    json_decref(notes);
}

/* "a=1;b=2" */
static void csv_assign(FILE *f, char *const *assign, unsigned n)
{
    char buf[2048] = "";
    size_t len = 0;
    for (unsigned k = 0; k < n && len < sizeof buf; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", k ? ";" : "", assign[k]);
    cli_csv_field(f, buf);
}

/* runs.csv: one row per run, in plan order. */
static void write_csv(const struct view *o, FILE *f)
{
    fputs("policy,params,engine,vars,repeat,seed,duration_ms,baseline_only,status,trace", f);
    for (int k = 0; k < CMP_NKM; k++)
        fprintf(f, ",%s", km[k].key);
    fputs(",top_blocker_holder,top_blocker_waiter,top_blocker_share,disturbed,disturbed_why\n", f);
    for (size_t i = 0; i < o->p->nruns; i++) {
        const struct cmp_run *run = &o->p->runs[i];
        const struct cmp_outcome *r = &o->r->runs[i];
        cli_csv_field(f, run->cell->subj.name);
        fputc(',', f);
        csv_assign(f, run->cell->assign, run->cell->nassign);
        fprintf(f, ",%s,", cli_engine_names[run->cell->engine]);
        csv_assign(f, run->cell->vars, run->cell->nvars);
        fprintf(f, ",%u,%llu,%llu,%d,%d,", run->repeat, (unsigned long long)run->seed,
                (unsigned long long)run_length_ms(o), run->cell->baseline_only, r->status);
        cli_csv_field(f, run->trace);
        for (int k = 0; k < CMP_NKM; k++) {
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
            fprintf(f, ",%.10g", r->top.share);
        else
            fputc(',', f);
        fprintf(f, ",%d,", r->disturbed);
        cli_csv_field(f, r->why);
        fputc('\n', f);
    }
}

/* cells.csv: one row per cell: its dimensions (one column each), how many runs it has and
 * how many failed, then every metric's median, min, max, the median's confidence interval
 * and the p-value of the test against the reference cell. */
static void write_cells_csv(const struct view *o, FILE *f)
{
    fputs("cell,label,policy,engine", f);
    for (unsigned i = 0; i < o->p->req->sets.n; i++)
        fprintf(f, ",%s", o->p->req->sets.l[i].name);
    for (unsigned i = 0; i < o->p->req->vars.n; i++)
        fprintf(f, ",%s", o->p->req->vars.l[i].name);
    fputs(",baseline_only,runs,failed,disturbed", f);
    for (int k = 0; k < CMP_NKM; k++)
        fprintf(f, ",%s_median,%s_min,%s_max,%s_ci_low,%s_ci_high,%s_p", km[k].key, km[k].key,
                km[k].key, km[k].key, km[k].key, km[k].key);
    fputc('\n', f);
    for (size_t i = 0; i < o->p->ncells; i++) {
        const struct cmp_cell *cfg = &o->p->cells[i];
        struct run_counts c = cell_runs(o, cfg);
        fprintf(f, "%zu,", i);
        cli_csv_field(f, cfg->label);
        fputc(',', f);
        cli_csv_field(f, cfg->subj.name);
        fprintf(f, ",%s", cli_engine_names[cfg->engine]);
        for (unsigned k = 0; k < o->p->req->sets.n; k++) {
            const char *v = dim_value(cfg->assign, cfg->nassign, o->p->req->sets.l[k].name);
            fprintf(f, ",%s", strcmp(v, "-") ? v : "");
        }
        for (unsigned k = 0; k < o->p->req->vars.n; k++)
            fprintf(f, ",%s", dim_value(cfg->vars, cfg->nvars, o->p->req->vars.l[k].name));
        fprintf(f, ",%d,%zu,%zu,%zu", cfg->baseline_only, c.runs, c.failed, c.disturbed);
        for (int k = 0; k < CMP_NKM; k++) {
            struct cmp_agg a = cell_agg(o, cfg, k);
            if (a.n)
                fprintf(f, ",%.10g,%.10g,%.10g,%.10g,%.10g", a.median, a.min, a.max, a.lo, a.hi);
            else
                fputs(",,,,,", f);
            if (isfinite(a.p))
                fprintf(f, ",%.4g", a.p);
            else
                fputc(',', f);
        }
        fputc('\n', f);
    }
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

/* {"name": value} of "name=value" assignments. */
static json_t *assign_json(char *const *assign, unsigned n)
{
    json_t *o = json_object();
    for (unsigned k = 0; k < n; k++) {
        const char *eq = strchr(assign[k], '=');
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)(eq - assign[k]), assign[k]);
        json_object_set_new(o, name, param_json(eq + 1));
    }
    return o;
}

static json_t *runs_json(const struct view *o, const struct cmp_cell *cfg)
{
    json_t *runs = json_array();
    for (size_t i = 0; i < o->p->nruns; i++) {
        const struct cmp_run *run = &o->p->runs[i];
        const struct cmp_outcome *r = &o->r->runs[i];
        if (run->cell != cfg) continue;
        json_t *vals = json_object();
        for (int k = 0; k < CMP_NKM; k++)
            json_object_set_new(vals, km[k].key, num_or_null(r->value[k]));
        char summary[sizeof run->trace + 16];
        cmp_file_beside(run->trace, ".summary.json", summary, sizeof summary);
        json_t *top = r->top.holder[0] ? json_pack("{ss ss sI sf}", "holder", r->top.holder,
                                                   "waiter", r->top.waiter, "ns",
                                                   (json_int_t)r->top.ns, "share", r->top.share)
                                       : json_null();
        json_t *one = json_pack("{sI sI sI ss ss sI so so sb}", "index", (json_int_t)i, "repeat",
                                (json_int_t)run->repeat, "seed", (json_int_t)run->seed, "trace",
                                run->trace, "summary", summary, "status", (json_int_t)r->status,
                                "metrics", vals, "top_blocker", top, "disturbed", r->disturbed);
        if (r->disturbed) json_object_set_new(one, "disturbed_why", json_string(r->why));
        json_array_append_new(runs, one);
    }
    return runs;
}

static json_t *cell_json(const struct view *o, const struct cmp_cell *cfg)
{
    json_t *metrics = json_object();
    for (int k = 0; k < CMP_NKM; k++) {
        struct cmp_agg a = cell_agg(o, cfg, k);
        json_object_set_new(metrics, km[k].key,
                            json_pack("{sI so so so so so so so}", "n", (json_int_t)a.n, "median",
                                      num_or_null(a.median), "min", num_or_null(a.min), "max",
                                      num_or_null(a.max), "ci_low", num_or_null(a.lo), "ci_high",
                                      num_or_null(a.hi), "ci_level", num_or_null(a.coverage), "p",
                                      num_or_null(a.p)));
    }
    struct col_blocker cb = column_blocker(o, cfg);
    json_t *top = cb.b ? json_pack("{ss ss sI sI s{sf sf sf}}", "holder", cb.b->holder, "waiter",
                                   cb.b->waiter, "runs", (json_int_t)cb.agree, "of",
                                   (json_int_t)cb.n, "share", "median", cb.share.median, "min",
                                   cb.share.min, "max", cb.share.max)
                       : json_null();
    json_t *ref =
        cfg->reference ? json_integer((json_int_t)(cfg->reference - o->p->cells)) : json_null();
    return json_pack(
        "{sI ss ss ss so so sb so so so so so sI}", "cell", (json_int_t)(cfg - o->p->cells),
        "label", cfg->label, "policy", cfg->subj.name, "engine", cli_engine_names[cfg->engine],
        "set", assign_json(cfg->assign, cfg->nassign), "vars", assign_json(cfg->vars, cfg->nvars),
        "baseline_only", cfg->baseline_only, "baseline_io_per_s", num_or_null(baseline_io(o, cfg)),
        "reference", ref, "runs", runs_json(o, cfg), "metrics", metrics, "top_blocker", top,
        "disturbed_runs", (json_int_t)cell_runs(o, cfg).disturbed);
}

/* {"name": [values]} of --set or --var lists. */
static json_t *lists_json(const struct cmp_lists *lists)
{
    json_t *o = json_object();
    for (unsigned i = 0; i < lists->n; i++) {
        const struct cmp_list *l = &lists->l[i];
        json_t *vals = json_array();
        for (unsigned k = 0; k < l->nvalues; k++)
            json_array_append_new(vals, param_json(l->values[k]));
        json_object_set_new(o, l->name, vals);
    }
    return o;
}

/* What the sweep ran on: engines, and the virtual runs' machine. */
static json_t *engines_json(const struct view *o)
{
    json_t *engines = json_array(), *msets = json_array();
    for (unsigned i = 0; i < o->p->req->engines.n; i++)
        json_array_append_new(engines, json_string(cli_engine_names[o->p->req->engines.v[i]]));
    for (unsigned i = 0; i < o->p->req->machine_sets.n; i++)
        json_array_append_new(msets, json_string(o->p->req->machine_sets.v[i]));
    return json_pack("{so so so}", "engines", engines, "machine",
                     o->p->req->machine ? json_string(o->p->req->machine) : json_null(),
                     "machine_sets", msets);
}

/* The one baseline's I/O rate, or NaN when cells have different ones. */
static double single_baseline(const struct view *o)
{
    const struct cmp_cell *base = NULL;
    for (size_t i = 0; i < o->p->ncells; i++) {
        const struct cmp_cell *b = o->p->cells[i].baseline;
        if (b && base && b != base) return NAN;
        base = b ? b : base;
    }
    return base ? baseline_io(o, base) : NAN;
}

static json_t *compare_json(const struct view *o)
{
    char from[120] = "no lock-free policy";
    if (o->p->baseline_name)
        snprintf(from, sizeof from,
                 o->p->baseline_requested ? "requested %s runs"
                                          : "extra %s runs (one per engine "
                                            "and combination of variables)",
                 o->p->baseline_name);
    json_t *configs = json_array(), *metrics = json_array();
    static const char *const unit_names[] = {"1/s", "ns", "ratio", "fraction"};
    for (int k = 0; k < CMP_NKM; k++)
        json_array_append_new(metrics, json_pack("{ss ss ss}", "key", km[k].key, "label",
                                                 km[k].label, "unit", unit_names[km[k].unit]));
    for (size_t i = 0; i < o->p->ncells; i++)
        json_array_append_new(configs, cell_json(o, &o->p->cells[i]));
    json_t *doc = json_pack(
        "{ss sI s{ss so ss*} sI sI sI ss so sO so so so so s{so ss} sI sI so}", "format",
        "gilsim-compare", "version", (json_int_t)1, "workload", "name", o->p->wl->name, "path",
        text_json(o->p->req->workload), "description", o->p->wl->description, "duration_ms",
        (json_int_t)run_length_ms(o), "seed", (json_int_t)o->p->req->seed, "repeat",
        (json_int_t)o->p->req->repeat, "created_utc", o->created, "dir", text_json(o->p->dir),
        "host", o->r->host ? o->r->host : json_null(), "sets", lists_json(&o->p->req->sets), "vars",
        lists_json(&o->p->req->vars), "metrics", metrics, "notes", all_notes(o), "baseline",
        "io_per_s", num_or_null(single_baseline(o)), "from", from, "runs_total",
        (json_int_t)o->p->nruns, "runs_not_finished", (json_int_t)o->r->not_run, "configs",
        configs);
    if (doc) json_object_update_new(doc, engines_json(o));
    json_t *seeds = json_array();
    for (unsigned r = 1; r <= o->p->req->repeat; r++)
        json_array_append_new(seeds, json_integer((json_int_t)cmp_seed_of(o->p->req, r)));
    json_object_set_new(doc, "seeds", seeds);
    json_object_set_new(doc, "runs_disturbed", json_integer((json_int_t)o->r->disturbed));
    json_object_set_new(doc, "keep_disturbed", json_boolean(o->r->keep_disturbed));
    return doc;
}

static void dump_json(const struct view *o, FILE *f)
{
    json_t *doc = compare_json(o);
    json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    json_decref(doc);
}

/* ---- the directory ------------------------------------------------------------------------- */

struct form {
    const struct view *o;
    void (*write)(const struct view *o, FILE *f);
};

static int write_form(FILE *f, void *ctx, struct err *e)
{
    (void)e;
    const struct form *form = ctx;
    form->write(form->o, f);
    return 0;
}

/* DIR/name under the output rules (common/outfile.h); a write error is found by the commit. */
static int write_file(const char *name, void (*fn)(const struct view *, FILE *),
                      const struct view *o, struct err *e)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", o->p->dir, name);
    const char *inputs[] = {o->p->req->workload, NULL};
    struct form form = {o, fn};
    return outfile_write(path, 0, inputs, write_form, &form, e);
}

int cmp_write_outputs(const struct cmp_plan *p, const struct cmp_results *r, enum cmp_format format,
                      struct err *e)
{
    struct view view = {p, r, ""}, *o = &view;
    utc_stamp(o->created, sizeof o->created, UTC_EXTENDED, 0);
    /* A second signal meanwhile exits once the four are written: never beside a temporary file. */
    cli_signals_hold();
    int rc = write_file("index.json", dump_json, o, e);
    if (!rc) rc = write_file("runs.csv", write_csv, o, e);
    if (!rc) rc = write_file("cells.csv", write_cells_csv, o, e);
    if (!rc) rc = write_file("table.txt", write_table, o, e);
    cli_signals_release();
    if (rc) return rc;
    if (format == CMP_FORMAT_JSON)
        dump_json(o, stdout);
    else if (format == CMP_FORMAT_CSV)
        write_cells_csv(o, stdout);
    else
        write_table(o, stdout);
    fflush(stdout);
    fprintf(stderr, "gilsim compare: %zu runs, traces and index.json in ", o->p->nruns);
    text_put(stderr, o->p->dir);
    fputs("/\n", stderr);
    return 0;
}
