/* analysis/disturb.h - whether the host spoiled a real run, judged from what the real engine
 * recorded around it (the trace's run.calibration and run.host_load; docs/metrics.md,
 * "Disturbed runs"): a tick off its target, or threads kept off a core by other processes.
 * A trace without those checks (the virtual engine, an older gilsim, another writer) is not
 * checked, and so never disturbed. */
#ifndef GILSIM_DISTURB_H
#define GILSIM_DISTURB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define DISTURB_TICK  0.10 /* a tick more than 10% off its target */
#define DISTURB_QUEUE 0.10 /* waits for a core blamed on others: over 10% of the run */
/* /proc/stat counts in USER_HZ (100/s on Linux): two ticks per CPU are below its resolution */
#define DISTURB_STAT_SLACK_NS 20000000

struct disturb {
    bool checked; /* the trace has the real engine's checks */
    bool disturbed;
    double tick_error;     /* ns_per_tick / tick_ns_target - 1 (start-up, wall clock) */
    double tick_end_error; /* ns_per_tick_end / tick_ns_target - 1 (after, CPU clock) */
    int64_t queue_wait_ns; /* the threads' waits for a core */
    int64_t own_excess_ns; /* ... beyond what the threads' own number explains */
    int64_t others_cpu_ns; /* other processes' CPU time on the run's CPUs, less the slack */
    double blamed_share;   /* min(own_excess, others) / the run's elapsed time */
    char why[400];         /* what made it disturbed, "" when not */
};

/* The verdict on a trace's run object. */
void disturb_judge(const json_t *run, struct disturb *out);
/* {"checked", "disturbed", "why", "tick_error", "tick_end_error", "run_queue_wait_ns",
 * "others_cpu_ns", "blamed_share"}: gilsim summary's "disturbance". */
json_t *disturb_json(const struct disturb *d);

#endif
