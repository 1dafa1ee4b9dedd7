/* analysis/samples.h - latency samples and their statistics (docs/metrics.md, "Latency
 * metrics"): a growing list of ns samples, exact nearest-rank percentiles after a sort (a radix
 * sort for millions), their JSON form, and numbers for text. Shared by metrics.c and objmetrics.c.
 */
#ifndef GILSIM_SAMPLES_H
#define GILSIM_SAMPLES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct st_samples {
    int64_t *v;
    size_t n, cap;
};

struct st_stats {
    size_t count;
    double mean;
    int64_t p50, p90, p99, p999, max;
};

/* Appends v; ERR_RUNTIME when out of memory. */
int st_push(struct st_samples *s, int64_t v, struct err *e);
/* Sorts v (n samples) in place and fills st; all zero when n is 0. */
void st_stats_of(int64_t *v, size_t n, struct st_stats *st);
/* {"count", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"} (nulls when empty). */
json_t *st_stats_json(const struct st_stats *st);

/* For text: a duration with three significant digits and a unit ("5.08 ms"), a count or rate
 * with three and k/M/G ("19.8M"); "-" when not finite. Return buf. */
const char *st_fmt_ns(char *buf, size_t size, double ns);
const char *st_fmt_num(char *buf, size_t size, double v);

#endif
