/* analysis/samples.c - see samples.h. */
#include "samples.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int st_push(struct st_samples *s, int64_t v, struct err *e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        int64_t *bigger = realloc(s->v, cap * sizeof *bigger);
        if (!bigger) return err_set(e, ERR_RUNTIME, "out of memory for %zu samples", cap);
        s->v = bigger, s->cap = cap;
    }
    s->v[s->n++] = v;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts ascending. Millions of samples are common (a 10M-event trace), so large arrays get an
 * LSD radix sort, byte by byte, skipping bytes that are the same in every sample (the high
 * bytes of nanosecond latencies). Falls back to qsort when the scratch buffer is missing. */
static void sort_i64(int64_t *v, size_t n)
{
    if (n < 512) {
        qsort(v, n, sizeof *v, cmp_i64);
        return;
    }
    uint64_t *a = (uint64_t *)v, *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        qsort(v, n, sizeof *v, cmp_i64);
        return;
    }
    static const uint64_t flip = (uint64_t)1 << 63; /* signed order as unsigned order */
    size_t count[8][256] = {{0}};
    for (size_t i = 0; i < n; i++) {
        uint64_t u = a[i] ^ flip;
        for (int d = 0; d < 8; d++)
            count[d][(u >> (8 * d)) & 0xff]++;
    }
    uint64_t *src = a, *dst = tmp;
    for (int d = 0; d < 8; d++) {
        size_t sum = 0, *c = count[d];
        bool constant = false;
        for (int b = 0; b < 256; b++) {
            if (c[b] == n) constant = true;
            size_t k = c[b];
            c[b] = sum;
            sum += k;
        }
        if (constant) continue;
        for (size_t i = 0; i < n; i++)
            dst[c[((src[i] ^ flip) >> (8 * d)) & 0xff]++] = src[i];
        uint64_t *swap = src;
        src = dst, dst = swap;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
    free(tmp);
}

/* Nearest rank: the ceil(q * n)-th smallest sample (1-based). */
static int64_t rank(const int64_t *sorted, size_t n, double q)
{
    double r = ceil(q * (double)n - 1e-9); /* 0.9 * 10 must give 9, not 10 */
    size_t k = r < 1 ? 1 : (size_t)r;
    return sorted[(k > n ? n : k) - 1];
}

/* Sorts v in place and fills st. */
void st_stats_of(int64_t *v, size_t n, struct st_stats *st)
{
    memset(st, 0, sizeof *st);
    st->count = n;
    if (!n) return;
    sort_i64(v, n);
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    st->mean = (double)(sum / n);
    st->p50 = rank(v, n, 0.5);
    st->p90 = rank(v, n, 0.9);
    st->p99 = rank(v, n, 0.99);
    st->p999 = rank(v, n, 0.999);
    st->max = v[n - 1];
}

json_t *st_stats_json(const struct st_stats *st)
{
    if (!st->count)
        return json_pack("{sI sn sn sn sn sn sn}", "count", (json_int_t)0, "mean_ns", "p50_ns",
                         "p90_ns", "p99_ns", "p999_ns", "max_ns");
    return json_pack("{sI sf sI sI sI sI sI}", "count", (json_int_t)st->count, "mean_ns", st->mean,
                     "p50_ns", (json_int_t)st->p50, "p90_ns", (json_int_t)st->p90, "p99_ns",
                     (json_int_t)st->p99, "p999_ns", (json_int_t)st->p999, "max_ns",
                     (json_int_t)st->max);
}

/* A duration with three significant digits and a unit. */
const char *st_fmt_ns(char *buf, size_t size, double ns)
{
    static const struct {
        double div;
        const char *unit;
    } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}};
    if (!isfinite(ns)) return "-";
    double a = fabs(ns);
    size_t u = 0;
    while (u < 3 && a < units[u].div)
        u++;
    double v = ns / units[u].div;
    double av = fabs(v);
    snprintf(buf, size, "%.*f %s", av >= 100 || u == 3 ? 0 : av >= 10 ? 1 : 2, v, units[u].unit);
    return buf;
}

/* A count or rate with three significant digits and k/M/G. */
const char *st_fmt_num(char *buf, size_t size, double v)
{
    if (!isfinite(v)) return "-";
    const char *suffix = "";
    double a = fabs(v);
    if (a >= 1e9)
        v /= 1e9, suffix = "G";
    else if (a >= 1e6)
        v /= 1e6, suffix = "M";
    else if (a >= 1e4)
        v /= 1e3, suffix = "k";
    a = fabs(v);
    if (!*suffix && v == floor(v))
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.*f%s", a >= 100 ? 0 : a >= 10 ? 1 : 2, v, suffix);
    return buf;
}
