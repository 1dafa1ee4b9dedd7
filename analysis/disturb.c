/* analysis/disturb.c - see disturb.h. Two findings make a run disturbed:
 *   the tick: calibrated at start-up (wall clock) or re-measured after the run (CPU clock: what
 *     a tick really cost with the run's iterations) more than DISTURB_TICK off its target, so
 *     that every tick count and rate of the run is off by as much;
 *   the cores: the run's threads waited for a core, beyond what their own number explains
 *     (more runnable threads than CPUs), while other processes ran on the run's CPUs, for more
 *     than DISTURB_QUEUE of the run. Both are needed: a workload that wakes its threads
 *     thousands of times a second waits for a core (each wake-up's latency) on a quiet host
 *     too, and other processes that run while the run's threads sleep take nothing from it. */
#include "disturb.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double num_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void add_why(struct disturb *d, const char *text)
{
    size_t n = strlen(d->why);
    snprintf(d->why + n, sizeof d->why - n, "%s%s", n ? "; " : "", text);
}

/* The tick against its target, at start-up and after the run. */
static void judge_tick(const json_t *cal, struct disturb *d)
{
    double target = num_at(cal, "tick_ns_target"), start = num_at(cal, "ns_per_tick"),
           end = num_at(cal, "ns_per_tick_end");
    char text[160];
    d->tick_error = target > 0 ? start / target - 1 : NAN;
    d->tick_end_error = target > 0 ? end / target - 1 : NAN;
    if (fabs(d->tick_error) > DISTURB_TICK) {
        snprintf(text, sizeof text, "the tick calibrated at start-up took %.1f ns (target %.0f)",
                 start, target);
        add_why(d, text);
    }
    if (fabs(d->tick_end_error) > DISTURB_TICK) {
        snprintf(text, sizeof text, "a tick cost %.1f ns of CPU after the run (target %.0f)", end,
                 target);
        add_why(d, text);
    }
}

/* Waits for a core that other processes explain. */
static void judge_cores(const json_t *run, const json_t *load, struct disturb *d)
{
    double wait = num_at(load, "run_queue_wait_ns"), on = num_at(load, "on_cpu_ns"),
           cpus = num_at(load, "cpus"), busy = num_at(load, "cpus_busy_ns"),
           self = num_at(load, "self_cpu_ns"), elapsed = num_at(run, "elapsed_ns");
    if (!(wait >= 0 && on >= 0 && cpus > 0 && elapsed > 0)) return;
    /* runnable threads beyond the CPUs wait whatever else runs: at least (wait + on) - cpus*T */
    double own = wait + on - cpus * elapsed;
    double excess = wait - (own > 0 ? own : 0);
    double others = busy - self - DISTURB_STAT_SLACK_NS * cpus;
    if (!(others > 0)) others = 0; /* unreadable, or nothing beyond the slack */
    d->queue_wait_ns = (int64_t)wait;
    d->own_excess_ns = (int64_t)excess;
    d->others_cpu_ns = (int64_t)others;
    d->blamed_share = (excess < others ? excess : others) / elapsed;
    if (d->blamed_share > DISTURB_QUEUE) {
        char text[200];
        snprintf(text, sizeof text,
                 "its threads waited %.0f ms for a core while other processes ran %.0f ms on "
                 "its %.0f CPUs (%.2f times the run's length lost to them)",
                 wait / 1e6, (busy - self) / 1e6, cpus, d->blamed_share);
        add_why(d, text);
    }
}

void disturb_judge(const json_t *run, struct disturb *out)
{
    *out = (struct disturb){.tick_error = NAN,
                            .tick_end_error = NAN,
                            .queue_wait_ns = -1,
                            .own_excess_ns = -1,
                            .others_cpu_ns = -1,
                            .blamed_share = NAN};
    const json_t *cal = json_object_get(run, "calibration"),
                 *load = json_object_get(run, "host_load");
    /* host_load is the real engine's mark; a tick re-measured as null (unmeasurable) still
     * leaves the start-up tick and the waits to judge */
    if (!json_is_object(load)) return;
    out->checked = true;
    judge_tick(cal, out);
    judge_cores(run, load, out);
    out->disturbed = out->why[0] != '\0';
}

static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *ns_or_null(int64_t v)
{
    return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

json_t *disturb_json(const struct disturb *d)
{
    return json_pack("{sb sb ss so so so so so}", "checked", d->checked, "disturbed", d->disturbed,
                     "why", d->why, "tick_error", real_or_null(d->tick_error), "tick_end_error",
                     real_or_null(d->tick_end_error), "run_queue_wait_ns",
                     ns_or_null(d->queue_wait_ns), "others_cpu_ns", ns_or_null(d->others_cpu_ns),
                     "blamed_share", real_or_null(d->blamed_share));
}
