/* analysis/stats.h - statistics over a few repeated runs, distribution-free: the median, an
 * exact confidence interval for it from order statistics, and the Mann-Whitney U test of two
 * groups of runs (docs/metrics.md, "Intervals and significance"). Deterministic: no random
 * draws, no iteration that depends on anything but the values. */
#ifndef GILSIM_STATS_H
#define GILSIM_STATS_H

#include <stdbool.h>
#include <stddef.h>

#define STATS_LEVEL 0.95 /* the confidence of compare's intervals */

/* The median of v[0..n-1] sorted ascending (the mean of the middle two for an even n); NAN
 * when n is 0. */
double stats_median(const double *sorted, size_t n);

/* A confidence interval for the median: [x(k), x(n+1-k)] of the sorted values, which covers
 * the true median of any continuous distribution with probability coverage = 1 - 2 P(B < k),
 * B ~ Binomial(n, 1/2) (at least that with ties). k is the largest that reaches the level;
 * when even k = 1 (min..max) does not (n < 6 at 95%), the interval is min..max and reached is
 * false. n = 0: every field NAN, k 0. */
struct stats_interval {
    double lo, hi;
    double coverage; /* the interval's exact confidence */
    size_t k;        /* lo is the k-th smallest value, hi the k-th largest */
    bool reached;    /* coverage >= the level asked for */
};
struct stats_interval stats_median_interval(const double *sorted, size_t n, double level);

/* The confidence of [x(k), x(n+1-k)] among n values: 1 - 2 P(Binomial(n, 1/2) <= k - 1). */
double stats_order_coverage(size_t n, size_t k);

/* Mann-Whitney U test (the Wilcoxon rank-sum test), two-sided: the probability, were both
 * groups drawn from one distribution, of a rank sum of x at least as far from its mean as the
 * one observed. Ties get mid-ranks. Exact (every split of the pooled values, ties included)
 * up to STATS_EXACT_MAX values in all, else the normal approximation with the tie correction
 * and a continuity correction. NAN when either group has fewer than 2 values. The values need
 * not be sorted. */
#define STATS_EXACT_MAX 24
double stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny);

#endif
