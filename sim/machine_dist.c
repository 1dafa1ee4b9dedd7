/* sim/machine_dist.c - a machine's measured wake-up distributions (docs/virtual.md, "Wake-ups
 * as distributions"): read from a machine file's params.wake_dist_us, converted for the model,
 * written into a trace's run.machine, and drawn from. At each of a few idle times the file
 * gives the quantiles of the wake-up latency and of what the wake cost the waker at the same
 * probabilities; a draw picks one probability u for both (the sub-us wake-ups are a sleeper
 * caught before it left its core, quick to wake and cheap for the waker: the two go together)
 * and interpolates linearly between probabilities and between idle times. */
#include "machine_dist.h"

#include <math.h>

/* ---- reading -------------------------------------------------------------------------------- */

/* "p": 2 to MACH_MAX_QUANTILES probabilities, ascending, from 0 to 1. */
static int parse_p(struct jc_ctx *c, json_t *arr, struct mach_dist *d)
{
    int rc = jc_push_key(c, "p");
    if (rc) return rc;
    size_t n = json_array_size(arr);
    bool ok = json_is_array(arr) && n >= 2 && n <= MACH_MAX_QUANTILES;
    for (size_t i = 0; ok && i < n; i++) {
        json_t *v = json_array_get(arr, i);
        d->p[i] = json_is_number(v) ? json_number_value(v) : NAN;
        ok = d->p[i] >= 0 && d->p[i] <= 1 && (i == 0 || d->p[i] > d->p[i - 1]);
    }
    if (!ok || d->p[0] != 0 || d->p[n - 1] != 1)
        rc = jc_fail(c, "expected 2 to %d probabilities ascending from 0 to 1", MACH_MAX_QUANTILES);
    d->np = (unsigned)n;
    jc_pop(c);
    return rc;
}

/* point[key]: np quantiles in us, not decreasing. false (nothing read) when absent. */
static int parse_quantiles(struct jc_ctx *c, json_t *point, const char *key, unsigned np,
                           double *out, bool *present)
{
    json_t *arr = json_object_get(point, key);
    *present = arr != NULL;
    if (!arr) return 0;
    bool ok = json_is_array(arr) && json_array_size(arr) == np;
    for (unsigned i = 0; ok && i < np; i++) {
        json_t *v = json_array_get(arr, i);
        out[i] = json_is_number(v) ? json_number_value(v) : NAN;
        ok = out[i] >= 0 && out[i] <= 1e6 && (i == 0 || out[i] >= out[i - 1]);
    }
    if (ok) return 0;
    return jc_fail_key(c, key, false,
                       "expected %u quantiles in us (one per probability of \"p\"), numbers in "
                       "[0, 1e6], not decreasing",
                       np);
}

static int parse_point(struct jc_ctx *c, json_t *pt, unsigned i, struct mach_dist *d)
{
    static const char *const keys[] = {"idle_us", "wake_us", "signal_us", NULL};
    int rc = jc_push_index(c, i);
    if (rc) return rc;
    bool wake = false, signal = false;
    d->idle[i] = NAN;
    if (!(rc = jc_want_object(c, pt, "a point {\"idle_us\", \"wake_us\", \"signal_us\"}")) &&
        !(rc = jc_check_keys(c, pt, keys)) &&
        !(rc = jc_get_number(c, pt, "idle_us", true, 0, 1e8, "us", &d->idle[i])) &&
        !(rc = parse_quantiles(c, pt, "wake_us", d->np, d->wake[i], &wake)) &&
        !(rc = parse_quantiles(c, pt, "signal_us", d->np, d->signal[i], &signal))) {
        if (!wake)
            rc = jc_fail(c, "missing field \"wake_us\" (the latency's quantiles)");
        else if (i > 0 && d->idle[i] <= d->idle[i - 1])
            rc = jc_fail_key(c, "idle_us", false,
                             "expected an idle time above the previous point's (%g us), got %g",
                             d->idle[i - 1], d->idle[i]);
    }
    d->has_signal = d->has_signal && signal;
    jc_pop(c);
    return rc;
}

int mach_dist_parse(struct jc_ctx *c, json_t *v, struct mach_dist *d)
{
    static const char *const keys[] = {"p", "points", NULL};
    int rc = jc_push_key(c, MACH_DIST_KEY);
    if (rc) return rc;
    struct mach_dist next = {.has_signal = true};
    json_t *points = json_object_get(v, "points");
    size_t n = json_array_size(points);
    if (!(rc = jc_want_object(c, v, "the wake-up's distributions {\"p\", \"points\"}")) &&
        !(rc = jc_check_keys(c, v, keys)) && !(rc = parse_p(c, json_object_get(v, "p"), &next))) {
        if (!json_is_array(points) || n < 1 || n > MACH_MAX_CURVE)
            rc = jc_fail_key(c, "points", false, "expected an array of 1 to %d points",
                             MACH_MAX_CURVE);
        if (!rc && (rc = jc_push_key(c, "points")) == 0) {
            for (unsigned i = 0; i < n && !rc; i++)
                rc = parse_point(c, json_array_get(points, i), i, &next);
            jc_pop(c);
        }
    }
    if (!rc) {
        next.npoints = (unsigned)n;
        *d = next;
    }
    jc_pop(c);
    return rc;
}

/* ---- the model and the trace ------------------------------------------------------------------
 */

void mach_dist_to_ns(const struct mach_dist *us, struct mach_dist *ns)
{
    *ns = *us;
    for (unsigned i = 0; i < us->npoints; i++) {
        ns->idle[i] = us->idle[i] * 1000;
        for (unsigned k = 0; k < us->np; k++) {
            ns->wake[i][k] = us->wake[i][k] * 1000;
            ns->signal[i][k] = us->signal[i][k] * 1000;
        }
    }
}

static json_t *numbers(const double *v, unsigned n)
{
    json_t *a = json_array();
    for (unsigned i = 0; a && i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

json_t *mach_dist_json(const struct mach_dist *d)
{
    json_t *points = json_array();
    for (unsigned i = 0; points && i < d->npoints; i++) {
        json_t *pt =
            json_pack("{sf so}", "idle_us", d->idle[i], "wake_us", numbers(d->wake[i], d->np));
        if (d->has_signal) json_object_set_new(pt, "signal_us", numbers(d->signal[i], d->np));
        json_array_append_new(points, pt);
    }
    return json_pack("{so so}", "p", numbers(d->p, d->np), "points", points);
}

/* ---- drawing ------------------------------------------------------------------------------------
 */

double mach_dist_quantile(const struct mach_dist *d, unsigned i, bool signal, double q)
{
    const double *v = signal ? d->signal[i] : d->wake[i];
    unsigned k = 1;
    while (k + 1 < d->np && d->p[k] < q)
        k++;
    double f = (q - d->p[k - 1]) / (d->p[k] - d->p[k - 1]);
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    return v[k - 1] + f * (v[k] - v[k - 1]);
}

/* At idle_ns: between which points, and how far from the first (flat beyond the ends). */
static double quantile_at(const struct mach_dist *d, double idle_ns, bool signal, double u)
{
    if (idle_ns <= d->idle[0] || d->npoints == 1) return mach_dist_quantile(d, 0, signal, u);
    for (unsigned i = 1; i < d->npoints; i++)
        if (idle_ns <= d->idle[i]) {
            double f = (idle_ns - d->idle[i - 1]) / (d->idle[i] - d->idle[i - 1]);
            double a = mach_dist_quantile(d, i - 1, signal, u),
                   b = mach_dist_quantile(d, i, signal, u);
            return a + f * (b - a);
        }
    return mach_dist_quantile(d, d->npoints - 1, signal, u);
}

void mach_wake_draw(const struct mach_model *m, int64_t idle_ns, double u, int64_t *latency,
                    int64_t *cost)
{
    const struct mach_dist *d = &m->dist;
    *latency = llround(quantile_at(d, (double)idle_ns, false, u));
    *cost = d->has_signal ? llround(quantile_at(d, (double)idle_ns, true, u))
                          : mach_wake_cost(m, idle_ns);
}
