/* tools/c/baselines.h - raw measurements of the host with no gilsim code in what they time,
 * shared by gilsim-bench (the baselines its figures are compared with) and gilsim-calibrate
 * (the machine parameters of the virtual engine): condition-variable ping-pong, timed-wait
 * overshoot (a timed condition wait, ppoll, nanosleep), a busy spinner, CPU pinning and
 * nearest-rank percentiles. Times are CLOCK_MONOTONIC nanoseconds. */
#ifndef GILSIM_TOOLS_BASELINES_H
#define GILSIM_TOOLS_BASELINES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

int64_t bl_now_ns(void);

/* Nearest rank, as docs/metrics.md defines percentiles; sorts v. NAN when n is 0. */
double bl_pct(int64_t *v, int n, double q);

/* Order statistics of n samples (sorts v). */
struct bl_stats {
    int n;
    double min, p10, p25, p50, p75, p90, p99, max;
};
struct bl_stats bl_stats_of(int64_t *v, int n);

/* Pins the calling thread to one CPU; cpu < 0 leaves it where it is. 0 or an errno. */
int bl_pin(int cpu);

/* A thread that spins (its core never idles) until stopped, pinned to cpu unless it is < 0. */
struct bl_spinner {
    pthread_t thread;
    atomic_bool on;
    int cpu;
    bool started;
};
void bl_spin_start(struct bl_spinner *s, int cpu);
void bl_spin_stop(struct bl_spinner *s);

/* Condition ping-pong between two threads (this one and one it starts), pinned to cpu0 and
 * cpu1 unless < 0. Each side stamps the time and signals under the mutex, then waits; the
 * woken side stamps when it runs: one_way[i] = the difference (gilsim's hand-off gap is the
 * same path, release -> acquire). signal_cost, when not NULL: how long each of those
 * pthread_cond_signal calls took its caller. want samples; 0, or -1 on failure. */
int bl_pingpong(int want, int cpu0, int cpu1, int64_t *one_way, int64_t *signal_cost);

/* Timed waits of wait_ns, one after the other, in the calling thread (pinned to wait_cpu unless
 * it is < 0) while a spinner keeps another core busy (pinned to spin_cpu unless < 0), as the
 * GIL holder does in gilsim: late[i] = wake-up time - deadline. BL_WAIT_COND: a timed
 * condition wait on CLOCK_MONOTONIC (the policies' timed waits); BL_WAIT_PPOLL: ppoll on a
 * pipe with a relative timeout (the engine's io and sleep ops); BL_WAIT_NANOSLEEP: nanosleep.
 * 0, or -1 on failure. */
enum bl_wait { BL_WAIT_COND, BL_WAIT_PPOLL, BL_WAIT_NANOSLEEP };
int bl_timed_overshoot(enum bl_wait kind, int64_t wait_ns, int count, int wait_cpu, int spin_cpu,
                       int64_t *late);

#endif
