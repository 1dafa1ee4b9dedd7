/* cli/compare_agg.c - what `gilsim compare` says of a cell over its repeats: for each key
 * metric the median, min and max of the runs that count, a confidence interval for the median
 * (an exact interval from order statistics: distribution-free and deterministic) and the
 * Mann-Whitney U test of the cell's runs against its reference cell's (analysis/stats.h,
 * docs/metrics.md "Intervals and significance"); which runs count (finished, and not disturbed
 * unless --keep-disturbed); and the convoy factor of every run against its cell's baseline. */
#include <math.h>
#include <stdlib.h>

#include "analysis/stats.h"
#include "cli/compare.h"

bool cmp_run_counts(const struct cmp_plan *p, const struct cmp_results *r, size_t i)
{
    (void)p;
    return r->runs[i].status == 0 && (!r->runs[i].disturbed || r->keep_disturbed);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The defined values of metric k over the cell's runs that count, sorted, into v (at most
 * CMP_MAX_REPEAT: a cell has no more runs); *left_out: the disturbed ones left out. */
static size_t cell_values(const struct cmp_plan *p, const struct cmp_results *r,
                          const struct cmp_cell *cell, int k, double *v, size_t *left_out)
{
    size_t n = 0;
    *left_out = 0;
    for (size_t i = 0; i < p->nruns && n < CMP_MAX_REPEAT; i++) {
        if (p->runs[i].cell != cell || !isfinite(r->runs[i].value[k])) continue;
        if (cmp_run_counts(p, r, i))
            v[n++] = r->runs[i].value[k];
        else if (r->runs[i].status == 0)
            ++*left_out;
    }
    qsort(v, n, sizeof *v, by_value);
    return n;
}

struct cmp_agg cmp_aggregate(const struct cmp_plan *p, const struct cmp_results *r,
                             const struct cmp_cell *cell, int k)
{
    double v[CMP_MAX_REPEAT], ref[CMP_MAX_REPEAT];
    struct cmp_agg a = {
        .median = NAN, .min = NAN, .max = NAN, .lo = NAN, .hi = NAN, .coverage = NAN, .p = NAN};
    a.n = cell_values(p, r, cell, k, v, &a.left_out);
    if (!a.n) return a;
    a.median = stats_median(v, a.n);
    a.min = v[0];
    a.max = v[a.n - 1];
    struct stats_interval ci = stats_median_interval(v, a.n, STATS_LEVEL);
    a.lo = ci.lo;
    a.hi = ci.hi;
    a.coverage = ci.coverage;
    a.reached = ci.reached;
    if (cell->reference) {
        size_t ignored, nref = cell_values(p, r, cell->reference, k, ref, &ignored);
        a.p = stats_mann_whitney(v, a.n, ref, nref);
    }
    return a;
}

/* Each run's convoy factor against its cell's baseline: the median I/O rate of the lock-free
 * cell of the same engine and variables. */
void cmp_convoy_factors(const struct cmp_plan *p, struct cmp_results *r)
{
    for (size_t i = 0; i < p->ncells; i++) {
        const struct cmp_cell *base = p->cells[i].baseline;
        r->baseline_io_per_s[i] = base ? cmp_aggregate(p, r, base, CMP_KM_IO_PER_S).median : NAN;
    }
    for (size_t i = 0; i < p->nruns; i++) {
        double io = r->runs[i].value[CMP_KM_IO_PER_S],
               base = r->baseline_io_per_s[p->runs[i].cell - p->cells];
        r->runs[i].value[CMP_KM_CONVOY_FACTOR] =
            isfinite(io) && io > 0 && base > 0 ? base / io : NAN;
    }
}
