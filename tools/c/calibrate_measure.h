/* tools/c/calibrate_measure.h - the experiments of gilsim-calibrate that the benchmarks do not
 * share (those are in baselines.h): the wake-up latency of a sleeper against how long its core
 * idled, the cost of a clock read and of a short socket call, two CPU hogs sharing one CPU, and a
 * sleeper woken onto a CPU where a hog runs. Each fills sample arrays; tools/c/gilsim_calibrate.c
 * turns them into machine parameters. Times in nanoseconds (CLOCK_MONOTONIC). */
#ifndef GILSIM_TOOLS_CALIBRATE_MEASURE_H
#define GILSIM_TOOLS_CALIBRATE_MEASURE_H

#include <stdbool.h>
#include <stdint.h>

/* A growable-up-to-cap sample array; samples beyond cap are dropped. */
struct cal_samples {
    int64_t *v;
    int n, cap;
};
int cal_samples_init(struct cal_samples *s, int cap);
void cal_samples_free(struct cal_samples *s);
void cal_add(struct cal_samples *s, int64_t v);

/* clock_gettime(CLOCK_MONOTONIC): batches of `calls` reads; each sample is one batch's time in
 * picoseconds per read. */
int cal_clock_read(int batches, int calls, struct cal_samples *ps_per_read);
/* An uncontended mutex lock or unlock (half a pair), in ps per operation. */
int cal_lock_unlock(int batches, int pairs, struct cal_samples *ps_per_op);
/* A short socket call: a 1-byte write and the read that finds the byte there, over a UNIX
 * socket pair, in ps per call (half a pair). -1 when no socket pair can be had. */
int cal_socket_call(int batches, int pairs, struct cal_samples *ps_per_call);

/* One idle gap of the wake-up sweep: a sleeper waits on a condition; a waker on another CPU
 * spins (its core never idles) for gap_ns after the sleeper went to sleep, stamps the clock and
 * signals; the sleeper stamps when it runs. lat: signal -> sleeper running; cost: how long the
 * pthread_cond_signal call took the waker. per_pass samples in each pass. */
struct cal_gap {
    int64_t gap_ns;
    int per_pass;
    struct cal_samples lat, cost;
};
/* passes over every gap, in a different order each pass, a block of samples per gap (after a
 * few unrecorded ones that let the host settle into that gap's idle state). seed: the order. */
int cal_gap_sweep(struct cal_gap *gaps, int ngaps, int passes, int waker_cpu, int sleeper_cpu,
                  unsigned seed);

/* Two CPU hogs pinned to one CPU for duration_ns, each reading the clock in a loop: a pause of
 * more than CAL_RUN_BREAK_NS ends one of its runs. runs: the lengths of the runs between the
 * first and the last; breaks: when each hog was taken off (the scheduler's switches); blips:
 * when a hog lost the CPU for a short while (interrupts, among them the scheduler tick). */
#define CAL_RUN_BREAK_NS 50000
#define CAL_BLIP_NS      1000
struct cal_hogs {
    struct cal_samples runs, breaks, blips;
};
int cal_two_hogs(int cpu, int64_t duration_ns, struct cal_hogs *out);

/* A sleeper woken by its own timer onto a CPU where a hog runs (both pinned to cpu; timer slack
 * 1 ns). ran[i]: how long the hog had been running at the deadline; lat[i]: how late the
 * sleeper ran after it. Without spin_on the sleeper sleeps a log-uniform 20 us .. 8 ms and
 * busies itself 100 us after each wake-up (does a wake-up preempt the hog?); with spin_on it
 * sleeps a uniform 1 .. 5 ms (a random phase against the scheduler tick) and then stays busy
 * until it is preempted: run[i], how long it kept the CPU (its time slice). */
struct cal_preempt {
    struct cal_samples ran, lat, run;
};
int cal_wake_onto_hog(int cpu, int64_t duration_ns, unsigned seed, bool spin_on,
                      struct cal_preempt *out);

#endif
