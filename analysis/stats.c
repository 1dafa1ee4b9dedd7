/* analysis/stats.c - see stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

#define LN_2   0.69314718055994530942
#define SQRT_2 1.41421356237309504880

double stats_median(const double *sorted, size_t n)
{
    if (!n) return NAN;
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/* P(Binomial(n, 1/2) = i), from logarithms: n may be in the thousands, where 2^-n underflows. */
static double binom_half_pmf(size_t n, size_t i)
{
    double lc = lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1);
    return exp(lc - (double)n * LN_2);
}

double stats_order_coverage(size_t n, size_t k)
{
    double below = 0; /* P(B <= k - 1) */
    for (size_t i = 0; i + 1 <= k && i <= n; i++)
        below += binom_half_pmf(n, i);
    double c = 1 - 2 * below;
    return c < 0 ? 0 : c;
}

struct stats_interval stats_median_interval(const double *sorted, size_t n, double level)
{
    struct stats_interval ci = {NAN, NAN, NAN, 0, false};
    if (!n) return ci;
    /* the largest k with P(B <= k - 1) <= (1 - level) / 2; k stays at 1 (min..max) when even
     * that is too likely */
    double tail = (1 - level) / 2, below = 0;
    size_t k = 1, most = (n + 1) / 2;
    for (size_t j = 0; j < most; j++) {
        below += binom_half_pmf(n, j);
        if (below > tail) break;
        k = j + 1; /* P(B <= k - 1) = below, small enough */
    }
    ci.k = k;
    ci.lo = sorted[k - 1];
    ci.hi = sorted[n - k];
    ci.coverage = stats_order_coverage(n, k);
    ci.reached = ci.coverage >= level - 1e-12;
    return ci;
}

/* ---- Mann-Whitney U ---------------------------------------------------------------------------
 */

struct pooled {
    double v;
    bool in_x;
};

static int by_value(const void *a, const void *b)
{
    double x = ((const struct pooled *)a)->v, y = ((const struct pooled *)b)->v;
    return (x > y) - (x < y);
}

/* Twice each value's mid-rank (an integer: ranks of a tie group a..b are (a + b) / 2), the sum
 * of x's, and sum(t^3 - t) over the tie groups (their sizes t). */
static void mid_ranks(const struct pooled *p, size_t n, long *rank2, long *x_sum2, double *ties)
{
    *x_sum2 = 0;
    *ties = 0;
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b + 1 < n && p[b + 1].v == p[a].v)
            b++;
        double t = (double)(b - a + 1);
        *ties += t * t * t - t;
        for (size_t i = a; i <= b; i++) {
            rank2[i] = (long)(a + 1 + b + 1);
            if (p[i].in_x) *x_sum2 += rank2[i];
        }
        a = b + 1;
    }
}

/* Every way of choosing nx of the n pooled values, by the sum of their doubled ranks: the
 * share of them whose sum is at least as far from the mean as the observed one. */
static double exact_p(const long *rank2, size_t n, size_t nx, long x_sum2)
{
    long most = (long)(n * (n + 1)); /* the sum of every doubled rank */
    size_t width = (size_t)most + 1;
    double *ways = calloc((nx + 1) * width, sizeof *ways);
    if (!ways) return NAN;
    ways[0] = 1; /* ways[j * width + s]: j values chosen, doubled ranks summing to s */
    for (size_t i = 0; i < n; i++)
        for (size_t j = (i + 1 < nx ? i + 1 : nx); j >= 1; j--)
            for (long s = most; s >= rank2[i]; s--)
                ways[j * width + (size_t)s] += ways[(j - 1) * width + (size_t)(s - rank2[i])];
    long mean2 = (long)(nx * (n + 1)); /* twice the mean rank sum, doubled ranks */
    long far = labs(x_sum2 - mean2);
    double all = 0, as_far = 0;
    for (long s = 0; s <= most; s++) {
        double w = ways[nx * width + (size_t)s];
        all += w;
        if (labs(s - mean2) >= far) as_far += w;
    }
    free(ways);
    return as_far / all;
}

static double normal_p(size_t nx, size_t ny, long x_sum2, double ties)
{
    double n = (double)(nx + ny), u = (double)x_sum2 / 2 - (double)nx * (double)(nx + 1) / 2;
    double mean = (double)nx * (double)ny / 2;
    double var = (double)nx * (double)ny / 12 * ((n + 1) - ties / (n * (n - 1)));
    if (!(var > 0)) return 1; /* every value the same */
    double z = (fabs(u - mean) - 0.5) / sqrt(var);
    double p = z > 0 ? erfc(z / SQRT_2) : 1;
    return p > 1 ? 1 : p;
}

double stats_mann_whitney(const double *x, size_t nx, const double *y, size_t ny)
{
    if (nx < 2 || ny < 2) return NAN;
    size_t n = nx + ny;
    struct pooled *p = malloc(n * sizeof *p);
    long *rank2 = malloc(n * sizeof *rank2);
    double pv = NAN;
    if (p && rank2) {
        for (size_t i = 0; i < n; i++)
            p[i] = i < nx ? (struct pooled){x[i], true} : (struct pooled){y[i - nx], false};
        qsort(p, n, sizeof *p, by_value);
        long x_sum2;
        double ties;
        mid_ranks(p, n, rank2, &x_sum2, &ties);
        pv = n <= STATS_EXACT_MAX ? exact_p(rank2, n, nx, x_sum2) : normal_p(nx, ny, x_sum2, ties);
    }
    free(p);
    free(rank2);
    return pv;
}
