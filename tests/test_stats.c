/* tests/test_stats.c - analysis/stats.c: the median, the order-statistic interval of the median
 * (its ranks and exact confidence for known n, and its coverage by simulation: for known
 * distributions the 95% interval covers the true median in 90-99% of 200 seeded trials), and
 * the Mann-Whitney U test against values worked out by hand (every split enumerated). */
#include <math.h>
#include <stdlib.h>

#include "analysis/stats.h"
#include "sim/rng.h"
#include "testutil.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_median(void)
{
    const double odd[] = {1, 2, 9}, even[] = {1, 2, 4, 9};
    CU_ASSERT_DOUBLE_EQUAL(stats_median(odd, 3), 2, 0);
    CU_ASSERT_DOUBLE_EQUAL(stats_median(even, 4), 3, 0);
    CU_ASSERT(isnan(stats_median(odd, 0)));
}

/* [x(k), x(n+1-k)] with the largest k that reaches 95%; min..max below 6 values. */
static void test_interval_ranks(void)
{
    double v[40];
    for (int i = 0; i < 40; i++)
        v[i] = i + 1;
    struct {
        size_t n, k;
        double coverage;
        bool reached;
    } want[] = {
        {1, 1, 0, false},
        {2, 1, 0.5, false},
        {3, 1, 0.75, false},
        {5, 1, 0.9375, false},
        {6, 1, 0.96875, true},
        {9, 2, 1 - 20.0 / 512, true},
        {10, 2, 1 - 22.0 / 1024, true},
        {20, 6, 0.958611, true},
        {40, 14, 0.961523, true},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct stats_interval ci = stats_median_interval(v, want[i].n, 0.95);
        tu_context("n = %zu", want[i].n);
        TU_ASSERT_CMP(ci.k, ==, want[i].k);
        CU_ASSERT_DOUBLE_EQUAL(ci.coverage, want[i].coverage, 1e-6);
        CU_ASSERT_EQUAL(ci.reached, want[i].reached);
        CU_ASSERT_DOUBLE_EQUAL(ci.lo, v[want[i].k - 1], 0);
        CU_ASSERT_DOUBLE_EQUAL(ci.hi, v[want[i].n - want[i].k], 0);
    }
    struct stats_interval none = stats_median_interval(v, 0, 0.95);
    CU_ASSERT(none.k == 0 && isnan(none.lo) && isnan(none.hi));
    /* thousands of values: no underflow, the interval narrows around the middle */
    double *many = malloc(4001 * sizeof *many);
    CU_ASSERT_PTR_NOT_NULL_FATAL(many);
    for (int i = 0; i < 4001; i++)
        many[i] = i;
    struct stats_interval ci = stats_median_interval(many, 4001, 0.95);
    TU_ASSERT_CMP(ci.lo, >, 1900);
    TU_ASSERT_CMP(ci.hi, <, 2100);
    CU_ASSERT(ci.reached);
    free(many);
}

/* trials samples of n values drawn by draw(), seeded: how many intervals cover the median. */
static int covered(double (*draw)(uint64_t *), double median, size_t n, int trials, uint64_t seed)
{
    uint64_t rng[4];
    rng_seed(rng, seed, 0);
    double v[64];
    int hits = 0;
    for (int t = 0; t < trials; t++) {
        for (size_t i = 0; i < n; i++)
            v[i] = draw(rng);
        qsort(v, n, sizeof v[0], by_value);
        struct stats_interval ci = stats_median_interval(v, n, 0.95);
        hits += ci.lo <= median && median <= ci.hi;
    }
    return hits;
}

static double draw_exponential(uint64_t *rng)
{
    return rng_exponential(rng, 1.0); /* median ln 2 */
}

static double draw_lognormal_ish(uint64_t *rng)
{
    /* exp of a sum of 12 uniforms - 6 (nearly normal): skewed, median exp(0) = 1 */
    double s = -6;
    for (int i = 0; i < 12; i++)
        s += rng_unit(rng);
    return exp(s);
}

/* The check: a 95% interval covers the true median in 90-99% of 200 trials. */
static void test_interval_coverage(void)
{
    struct {
        const char *what;
        double (*draw)(uint64_t *);
        double median;
        size_t n;
    } cases[] = {
        {"exponential, 20 runs", draw_exponential, log(2.0), 20},
        {"exponential, 9 runs", draw_exponential, log(2.0), 9},
        {"skewed, 12 runs", draw_lognormal_ish, 1.0, 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int hits = covered(cases[i].draw, cases[i].median, cases[i].n, 200, 29 + i);
        printf("\n  %s: the 95%% interval covers the median in %d of 200 trials", cases[i].what,
               hits);
        tu_context("%s", cases[i].what);
        TU_ASSERT_CMP(hits, >=, 180);
        TU_ASSERT_CMP(hits, <=, 198);
    }
}

/* p-values worked out outside gilsim by enumerating every split of the pooled values (mid-ranks
 * for ties); beyond STATS_EXACT_MAX values, the normal approximation's formula by hand. */
static void test_mann_whitney(void)
{
    const double a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
    CU_ASSERT_DOUBLE_EQUAL(stats_mann_whitney(a, 4, b, 4), 2.0 / 70, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(stats_mann_whitney(b, 4, a, 4), 2.0 / 70, 1e-12);
    /* ties across the groups: mid-ranks, every split counted */
    const double c[] = {1, 2, 2, 3, 5}, d[] = {2, 3, 4, 5, 6, 6};
    CU_ASSERT_DOUBLE_EQUAL(stats_mann_whitney(c, 5, d, 6), 0.11471861471861472, 1e-12);
    /* identical runs (a deterministic cell): nothing to tell apart */
    const double same[] = {7, 7, 7};
    CU_ASSERT_DOUBLE_EQUAL(stats_mann_whitney(same, 3, same, 3), 1, 1e-12);
    /* three against three can never reach 5%: 2/20 at best */
    const double lo3[] = {1, 2, 3}, hi3[] = {4, 5, 6};
    CU_ASSERT_DOUBLE_EQUAL(stats_mann_whitney(lo3, 3, hi3, 3), 0.1, 1e-12);
    CU_ASSERT(isnan(stats_mann_whitney(a, 1, b, 4)));
    /* 30 values: the normal approximation (tie and continuity corrections) */
    double x[15], y[15];
    for (int i = 0; i < 15; i++) {
        x[i] = i;
        y[i] = 10 + i;
    }
    CU_ASSERT_DOUBLE_EQUAL(stats_mann_whitney(x, 15, y, 15), 3.637664763858052e-05, 1e-12);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"median", test_median},
        {"interval: ranks and exact confidence", test_interval_ranks},
        {"interval: 95% covers the median in 90-99% of 200 trials", test_interval_coverage},
        {"Mann-Whitney U: exact and approximate p-values", test_mann_whitney},
        CU_TEST_INFO_NULL,
    };
    return tu_main("stats", tests);
}
