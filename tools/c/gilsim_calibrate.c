/* tools/c/gilsim_calibrate.c - measures this host's machine parameters (sim/machine.h) and writes
 * them as a gilsim-machine file for the virtual engine, with every raw measurement behind them
 * (order statistics) and how each parameter was derived in its "measured" object. tools/calibrate
 * drives it; docs/virtual.md ("Calibrating a machine") explains each measurement. The
 * experiments are in baselines.c (shared with gilsim-bench) and calibrate_measure.c. */
#define _GNU_SOURCE /* sched_getaffinity, popen */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/utc.h"
#include "sim/machine.h"
#include "common/host.h"
#include "common/version.h"
#include "baselines.h"
#include "calibrate_measure.h"

#define NS_US 1e-3 /* ns -> us */
#define PS_US 1e-6 /* ps -> us */

struct opts {
    const char *out, *name, *description, *raw, *slow_wake;
    bool quick, no_curve;
    int cpu[2]; /* -1: the first two CPUs this process may run on */
};

/* Everything measured, then derived. */
struct calib {
    struct opts o;
    int cpu_a, cpu_b, online;
    double param[MACH_NPARAMS];
    struct machine builtin;          /* what a parameter not measured keeps */
    bool busy;                       /* other work disturbed a measurement */
    int hog_ticks;                   /* the two hogs' median run, in ticks */
    double curve[MACH_MAX_CURVE][3]; /* gap, median latency, median signal cost (us) */
    int ncurve;
    struct mach_dist dist; /* the curve's gaps: the quantiles of latency and signal cost (us) */
    json_t *measured, *derivation, *raw;
};

static json_t *num(double v)
{
    return isfinite(v) ? json_real(round(v * 1000) / 1000) : json_null();
}

/* Order statistics in us (scale: from the samples' unit). */
static json_t *stats_json(struct cal_samples *s, double scale)
{
    struct bl_stats st = bl_stats_of(s->v, s->n);
    return json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "n", st.n, "min",
                     num(st.min * scale), "p10", num(st.p10 * scale), "p25", num(st.p25 * scale),
                     "p50", num(st.p50 * scale), "p75", num(st.p75 * scale), "p90",
                     num(st.p90 * scale), "p99", num(st.p99 * scale), "max", num(st.max * scale));
}

static double median_of(struct cal_samples *s, double scale)
{
    return bl_pct(s->v, s->n, 0.5) * scale;
}

/* raw[name] = the samples in us, when --raw asked for them. */
static void keep_raw(struct calib *c, const char *name, const struct cal_samples *s, double scale)
{
    if (!c->raw) return;
    json_t *a = json_array();
    for (int i = 0; i < s->n; i++)
        json_array_append_new(a, num((double)s->v[i] * scale));
    json_object_set_new(c->raw, name, a);
}

/* Three significant digits: the measurements are not better than that. */
static double round3(double v)
{
    if (v == 0 || !isfinite(v)) return v;
    double mag = pow(10, floor(log10(fabs(v))) - 2);
    return round(v / mag) * mag;
}

/* The parameter's value (clamped to its range; NAN: the built-in machine's) and how it was
 * obtained. */
static void derive(struct calib *c, enum mach_param p, double v, const char *how)
{
    const struct mach_param_desc *d = &mach_params[p];
    if (!isfinite(v)) v = c->builtin.v[p];
    v = d->integer ? round(v) : round3(v);
    if (v < d->min) v = d->min;
    if (v > d->max) v = d->max;
    c->param[p] = v;
    json_object_set_new(c->derivation, d->name, json_string(how));
}

/* ---- the host ------------------------------------------------------------------------------- */

static void first_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (f) {
        if (!fgets(buf, (int)size, f)) buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
}

static int scan_hz(FILE *f)
{
    char line[256];
    int hz = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CONFIG_HZ=%d", &hz) == 1) return hz;
    return 0;
}

/* CONFIG_HZ of the running kernel from its config; 0 when neither place has it. */
static int config_hz(char *source, size_t size)
{
    struct utsname u;
    char path[400];
    int hz = 0;
    if (uname(&u) == 0) {
        snprintf(path, sizeof path, "/boot/config-%s", u.release);
        FILE *f = fopen(path, "r");
        if (f) {
            hz = scan_hz(f);
            fclose(f);
        }
        if (hz > 0) {
            snprintf(source, size, "%s", path);
            return hz;
        }
    }
    if (access("/proc/config.gz", R_OK) == 0) {
        FILE *p = popen("gzip -dc /proc/config.gz 2>/dev/null", "r");
        if (p) {
            hz = scan_hz(p);
            pclose(p);
        }
        if (hz > 0) snprintf(source, size, "/proc/config.gz");
    }
    return hz > 0 ? hz : 0;
}

/* Every file of a /sys/module/<m>/parameters directory, as strings. */
static json_t *module_params(const char *module)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/sys/module/%s/parameters", module);
    DIR *d = opendir(dir);
    if (!d) return json_null();
    json_t *o = json_object();
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[600], v[128];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        first_line(path, v, sizeof v);
        json_object_set_new(o, de->d_name, json_string(v));
    }
    closedir(d);
    return o;
}

static json_t *host_json(const struct calib *c, int hz, const char *hz_source)
{
    json_t *h = host_info_json();
    char v[128];
    first_line("/sys/devices/system/cpu/cpuidle/current_driver", v, sizeof v);
    json_object_set_new(h, "cpuidle_driver", json_string(*v ? v : "unknown"));
    first_line("/sys/devices/system/cpu/cpuidle/current_governor_ro", v, sizeof v);
    if (!*v) first_line("/sys/devices/system/cpu/cpuidle/current_governor", v, sizeof v);
    json_object_set_new(h, "cpuidle_governor", json_string(*v ? v : "unknown"));
    json_object_set_new(h, "haltpoll_governor_params", module_params("haltpoll"));
    json_object_set_new(h, "cpuidle_haltpoll_params", module_params("cpuidle_haltpoll"));
    json_object_set_new(h, "config_hz", hz > 0 ? json_integer(hz) : json_null());
    json_object_set_new(h, "config_hz_source", hz > 0 ? json_string(hz_source) : json_null());
    json_object_set_new(h, "cpus_used",
                        c->cpu_b >= 0 ? json_pack("[i, i]", c->cpu_a, c->cpu_b)
                                      : json_pack("[i]", c->cpu_a));
    return h;
}

/* The 1, 5 and 15 minute load averages, from /proc/loadavg (glibc's getloadavg reads zeros in
 * some containers). */
static json_t *loadavg_json(double *per_cpu, int online)
{
    double la[3] = {NAN, NAN, NAN};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = la[1] = la[2] = NAN;
        fclose(f);
    }
    *per_cpu = la[0] / online;
    return json_pack("[o, o, o]", num(la[0]), num(la[1]), num(la[2]));
}

/* The first two CPUs this process may run on, unless --cpus named them. */
static int pick_cpus(struct calib *c)
{
    c->online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (c->online < 1) c->online = 1;
    c->cpu_a = c->o.cpu[0];
    c->cpu_b = c->o.cpu[1];
    if (c->cpu_a >= 0) return 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (!CPU_ISSET(i, &set)) continue;
        if (c->cpu_a < 0)
            c->cpu_a = i;
        else if (c->cpu_b < 0)
            c->cpu_b = i;
    }
    return c->cpu_a >= 0 ? 0 : -1;
}

/* ---- how idle a CPU was: /proc/stat ---------------------------------------------------------- */

struct jiffies {
    unsigned long long idle, total;
};

static struct jiffies cpu_jiffies(int cpu)
{
    struct jiffies j = {0, 0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return j;
    char line[512], want[24];
    int len = snprintf(want, sizeof want, "cpu%d ", cpu);
    while (fgets(line, sizeof line, f)) {
        unsigned long long v[8] = {0};
        if (strncmp(line, want, (size_t)len) != 0) continue;
        /* user nice system idle iowait irq softirq steal */
        if (sscanf(line + len, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) >= 5) {
            j.idle = v[3] + v[4];
            for (int i = 0; i < 8; i++)
                j.total += v[i];
        }
        break;
    }
    fclose(f);
    return j;
}

static double idle_share(struct jiffies from, struct jiffies to)
{
    unsigned long long total = to.total - from.total;
    return total ? (double)(to.idle - from.idle) / (double)total : NAN;
}

/* ---- clock reads ---------------------------------------------------------------------------- */

static int measure_clock(struct calib *c)
{
    struct cal_samples s;
    int batches = c->o.quick ? 40 : 200;
    if (cal_samples_init(&s, batches) != 0) return -1;
    cal_clock_read(batches, 2000, &s);
    json_object_set_new(c->measured, "clock_read",
                        json_pack("{s:s, s:o}", "what",
                                  "clock_gettime(CLOCK_MONOTONIC): batches of 2000 reads, the "
                                  "time per read of each batch",
                                  "us_per_read", stats_json(&s, PS_US)));
    derive(c, MACH_clock_read, median_of(&s, PS_US), "median over the batches");
    keep_raw(c, "clock_read_us", &s, PS_US);
    cal_samples_free(&s);
    if (cal_samples_init(&s, batches) != 0) return -1;
    cal_lock_unlock(batches, 2000, &s);
    json_object_set_new(c->measured, "lock",
                        json_pack("{s:s, s:o}", "what",
                                  "pthread_mutex_lock + pthread_mutex_unlock, uncontended: "
                                  "batches of 2000 pairs, the time per operation (half a pair)",
                                  "us_per_op", stats_json(&s, PS_US)));
    derive(c, MACH_lock, median_of(&s, PS_US), "median over the batches");
    cal_samples_free(&s);
    return 0;
}

/* ---- a short socket call, and where a woken peer runs ------------------------------------- */

static int measure_syscall(struct calib *c)
{
    struct cal_samples s;
    int batches = c->o.quick ? 40 : 200;
    if (cal_samples_init(&s, batches) != 0) return -1;
    if (cal_socket_call(batches, 500, &s) == 0) {
        json_object_set_new(c->measured, "socket_call",
                            json_pack("{s:s, s:o}", "what",
                                      "a 1-byte write and the read that finds its byte there, "
                                      "over a UNIX socket pair: batches of 500 pairs, the time "
                                      "per call (half a pair)",
                                      "us_per_call", stats_json(&s, PS_US)));
        derive(c, MACH_syscall, median_of(&s, PS_US), "median over the batches");
    } else {
        derive(c, MACH_syscall, NAN, "not measured (no socket pair): the default");
    }
    cal_samples_free(&s);
    derive(c, MACH_peer_local, NAN,
           "not measured: Linux wakes a task its waker talks to onto the waker's CPU "
           "(wake-affine), as the echo client's scheduler trace shows (docs/validation.md): "
           "the default");
    return 0;
}

/* ---- wake-up latency against the idle gap --------------------------------------------------- */

/* Gaps under 2 us catch the sleeper before it has left its core (a thread woken as it goes to
 * sleep runs at once): the GIL's hand-offs live there (docs/virtual.md, the regimes). */
static const double gap_us[] = {0,   0.25, 0.5, 0.75, 1,   2,   5,   10,  20,  30,   50,   75,  100,
                                125, 150,  175, 200,  225, 250, 300, 400, 600, 1000, 2000, 5000};
#define NGAPS      ((int)(sizeof gap_us / sizeof *gap_us))
#define WARM_LO_US 10   /* the warm figure: gaps WARM_LO_US..WARM_HI_US (a real sleep, well */
#define WARM_HI_US 30   /* inside any polling window) */
#define COLD_LO_US 1000 /* the cold figure: gaps from here on (halted long before) */

static int gap_block(double g, bool quick)
{
    int n = g <= 400 ? 80 : g <= 1000 ? 40 : g <= 2000 ? 25 : 12;
    return quick ? (n + 3) / 4 : n;
}

/* The pooled samples (latencies, or the signal's cost) of the gaps within [lo, hi] us. */
static int pool(struct cal_gap *gaps, double lo, double hi, bool cost, struct cal_samples *out)
{
    int cap = 0;
    for (int i = 0; i < NGAPS; i++)
        if (gap_us[i] >= lo && gap_us[i] <= hi) cap += gaps[i].lat.n;
    if (cal_samples_init(out, cap) != 0) return -1;
    for (int i = 0; i < NGAPS; i++)
        if (gap_us[i] >= lo && gap_us[i] <= hi)
            for (int k = 0; k < gaps[i].lat.n; k++)
                cal_add(out, cost ? gaps[i].cost.v[k] : gaps[i].lat.v[k]);
    return 0;
}

/* Where the median latency steps up: the two neighbouring gaps (from WARM_LO_US on) whose
 * medians differ by the largest ratio, and halfway between them. *ratio: that ratio. */
static double step_gap(const double *med, double *ratio)
{
    int best = -1;
    *ratio = 1;
    for (int i = 0; i + 1 < NGAPS; i++) {
        if (gap_us[i] < WARM_LO_US || !(med[i] > 0)) continue;
        double r = med[i + 1] / med[i];
        if (r > *ratio) {
            *ratio = r;
            best = i;
        }
    }
    return best < 0 ? NAN : (gap_us[best] + gap_us[best + 1]) / 2;
}

/* warm, cold, idle_poll, jitter and futex_wake from the sweep. */
static void derive_wake(struct calib *c, struct cal_gap *gaps, const double *med, json_t *m)
{
    struct cal_samples warm, cold, sig_warm, sig_cold;
    pool(gaps, WARM_LO_US, WARM_HI_US, false, &warm);
    pool(gaps, COLD_LO_US, 1e9, false, &cold);
    pool(gaps, WARM_LO_US, WARM_HI_US, true, &sig_warm);
    pool(gaps, COLD_LO_US, 1e9, true, &sig_cold);
    struct bl_stats w = bl_stats_of(warm.v, warm.n);
    double warm_us = w.p50 * NS_US, cold_us = median_of(&cold, NS_US);
    json_object_set_new(m, "warm_pool", stats_json(&warm, NS_US));
    json_object_set_new(m, "cold_pool", stats_json(&cold, NS_US));
    json_object_set_new(m, "signal_warm_pool", stats_json(&sig_warm, NS_US));
    json_object_set_new(m, "signal_cold_pool", stats_json(&sig_cold, NS_US));
    derive(c, MACH_wake_warm, warm_us, "median latency, gaps 10..30 us pooled");
    derive(c, MACH_wake_cold, cold_us, "median latency, gaps 1..5 ms pooled");
    /* A wake-up after a long gap that is as fast as a warm one means that CPU b did not idle
     * through the gap: another task ran there (on a quiet host with a polling window, ~0%). */
    int fast = 0;
    for (int i = 0; i < cold.n; i++)
        fast += (double)cold.v[i] * NS_US < 1.5 * warm_us;
    double fast_share = cold.n ? (double)fast / cold.n : 0;
    json_object_set_new(m, "cold_pool_share_as_fast_as_warm", num(fast_share));
    if (cold_us >= 1.5 * warm_us && fast_share > 0.1) {
        fprintf(stderr,
                "gilsim-calibrate: warning: %.0f%% of the wake-ups after idle gaps of 1 ms or "
                "more were as fast as warm ones: CPU %d did not idle through those gaps (other "
                "work ran there), and the cold figure is too low\n",
                fast_share * 100, c->cpu_b);
        c->busy = true;
    }
    /* A step worth modelling: the cold figure at least 1.5x the warm one and 2 us above it,
     * and one pair of neighbouring gaps 1.3x apart. */
    double ratio, step = step_gap(med, &ratio), poll = 0;
    const char *how = "no step between the warm and the cold latency: 0 (every wake-up cold)";
    json_object_set_new(m, "step_ratio", num(ratio));
    if (cold_us >= 1.5 * warm_us && cold_us - warm_us >= 2 && ratio >= 1.3) {
        poll = step;
        how = "where the median latency steps up: halfway between the neighbouring gaps whose "
              "medians differ by the largest ratio (step_ratio)";
    }
    derive(c, MACH_idle_poll, poll, how);
    /* uniform +-f around m: p10..p90 spans 0.8 * 2f * m */
    derive(c, MACH_wake_jitter, (w.p90 - w.p10) / (1.6 * w.p50),
           "(p90 - p10) / (1.6 p50) of the warm pool: the +-fraction of a uniform spread with "
           "the same p10..p90");
    derive(c, MACH_futex_wake, median_of(&sig_warm, NS_US),
           "median time pthread_cond_signal took the waker at gaps 10..30 us (the sleeper's "
           "core still polling)");
    derive(c, MACH_futex_wake_cold, median_of(&sig_cold, NS_US),
           "median time pthread_cond_signal took the waker at gaps 1..5 ms (the sleeper's core "
           "halted)");
    cal_samples_free(&warm);
    cal_samples_free(&cold);
    cal_samples_free(&sig_warm);
    cal_samples_free(&sig_cold);
}

/* The gaps whose median latencies make the wake-up curve (at most MACH_MAX_CURVE): from a
 * sleeper caught on its way to sleep, through a real sleep, and fine around a step near 200 us. */
static const double curve_gap_us[] = {0,   0.25, 0.5, 0.75, 1,    2,    5,   10,
                                      20,  30,   50,  100,  150,  175,  200, 225,
                                      250, 300,  400, 600,  1000, 2000, 5000};
#define NCURVE ((int)(sizeof curve_gap_us / sizeof *curve_gap_us))

/* wake_curve_us: the median latency and the signal's median cost at each of those gaps (linear
 * between them in the model). */
static void derive_curve(struct calib *c, const double *med, const double *med_signal, json_t *m)
{
    c->ncurve = 0;
    for (int k = 0; k < NCURVE && c->ncurve < MACH_MAX_CURVE; k++)
        for (int i = 0; i < NGAPS; i++)
            if (gap_us[i] == curve_gap_us[k] && med[i] > 0 && med_signal[i] >= 0) {
                c->curve[c->ncurve][0] = gap_us[i];
                c->curve[c->ncurve][1] = round(med[i] * NS_US * 10) / 10;
                c->curve[c->ncurve][2] = round(med_signal[i] * NS_US * 100) / 100;
                c->ncurve++;
            }
    json_t *pts = json_array();
    for (int k = 0; k < c->ncurve; k++)
        json_array_append_new(pts, json_pack("[o, o, o]", num(c->curve[k][0]), num(c->curve[k][1]),
                                             num(c->curve[k][2])));
    json_object_set_new(m, "curve_us", pts);
    if (c->o.no_curve)
        json_object_set_new(c->derivation, "wake_curve_us",
                            json_string("not written (--no-curve): wake_warm_us, wake_cold_us and "
                                        "idle_poll_us model the wake-up latency"));
    else
        json_object_set_new(
            c->derivation, "wake_curve_us",
            json_sprintf("the median latency and the median signal cost at %d of the gaps, "
                         "[gap, latency, signal] (the model interpolates linearly between "
                         "them); it replaces wake_warm_us and wake_cold_us, and the signal "
                         "replaces futex_wake_us and futex_wake_cold_us (a sleeper caught "
                         "before it left its core is cheap to wake)",
                         c->ncurve));
}

/* The probabilities of wake_dist_us: the ends, 1% and 99%, and every 5% between. */
static const double dist_p[] = {0,    0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4,  0.45, 0.5,
                                0.55, 0.6,  0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99, 1};
#define NDIST_P ((int)(sizeof dist_p / sizeof *dist_p))

/* wake_dist_us: at the gaps of the curve, the quantiles of the latency and of the signal's
 * cost (the model draws both at one probability). */
static void derive_dist(struct calib *c, struct cal_gap *gaps)
{
    struct mach_dist *d = &c->dist;
    *d = (struct mach_dist){.np = NDIST_P, .has_signal = true};
    memcpy(d->p, dist_p, sizeof dist_p);
    for (int k = 0; k < c->ncurve && d->npoints < MACH_MAX_CURVE; k++)
        for (int i = 0; i < NGAPS; i++) {
            if (gap_us[i] != c->curve[k][0] || gaps[i].lat.n == 0 || gaps[i].cost.n == 0) continue;
            d->idle[d->npoints] = gap_us[i];
            for (int q = 0; q < NDIST_P; q++) {
                d->wake[d->npoints][q] =
                    round(bl_pct(gaps[i].lat.v, gaps[i].lat.n, dist_p[q]) * NS_US * 1000) / 1000;
                d->signal[d->npoints][q] =
                    round(bl_pct(gaps[i].cost.v, gaps[i].cost.n, dist_p[q]) * NS_US * 1000) / 1000;
            }
            d->npoints++;
        }
    json_object_set_new(
        c->derivation, "wake_dist_us",
        c->o.no_curve ? json_string("not written (--no-curve)")
                      : json_sprintf("at the curve's %u gaps, the latency's and the signal's "
                                     "quantiles (nearest rank) at %d probabilities from 0 to 1: "
                                     "the model draws each wake-up from them, at one "
                                     "probability for both, instead of the median with "
                                     "wake_jitter",
                                     d->npoints, NDIST_P));
}

static int measure_wake(struct calib *c)
{
    int passes = c->o.quick ? 1 : 5;
    struct cal_gap gaps[NGAPS];
    for (int i = 0; i < NGAPS; i++) {
        gaps[i].gap_ns = (int64_t)(gap_us[i] * 1000);
        gaps[i].per_pass = gap_block(gap_us[i], c->o.quick);
        if (cal_samples_init(&gaps[i].lat, passes * gaps[i].per_pass) != 0 ||
            cal_samples_init(&gaps[i].cost, passes * gaps[i].per_pass) != 0)
            return -1;
    }
    struct jiffies j0 = cpu_jiffies(c->cpu_b);
    if (cal_gap_sweep(gaps, NGAPS, passes, c->cpu_a, c->cpu_b, 12345) != 0) return -1;
    double idle = idle_share(j0, cpu_jiffies(c->cpu_b));
    json_t *list = json_array();
    double med[NGAPS], med_signal[NGAPS];
    for (int i = 0; i < NGAPS; i++) {
        char name[64];
        snprintf(name, sizeof name, "wake_latency_us_gap_%g", gap_us[i]);
        keep_raw(c, name, &gaps[i].lat, NS_US);
        snprintf(name, sizeof name, "signal_us_gap_%g", gap_us[i]);
        keep_raw(c, name, &gaps[i].cost, NS_US);
        med[i] = median_of(&gaps[i].lat, 1);
        med_signal[i] = median_of(&gaps[i].cost, 1);
        json_array_append_new(list, json_pack("{s:o, s:o, s:o}", "gap_us", num(gap_us[i]),
                                              "latency_us", stats_json(&gaps[i].lat, NS_US),
                                              "signal_us", stats_json(&gaps[i].cost, NS_US)));
    }
    json_t *m = json_pack(
        "{s:s, s:i, s:o}", "what",
        "a sleeper waits on a condition (CPU b); a waker (CPU a) spins for the idle gap after "
        "it went to sleep, stamps the clock and signals; latency: signal -> the sleeper "
        "running; signal: how long pthread_cond_signal took the waker. Blocks of samples per "
        "gap, the gaps in a different order in each pass",
        "passes", passes, "gaps", list);
    /* The gaps are most of the sweep's time: CPU b should have idled through ~90% of it. */
    json_object_set_new(m, "cpu_b_idle_share", num(idle));
    if (idle < 0.6) {
        fprintf(stderr,
                "gilsim-calibrate: warning: CPU %d was idle for only %.0f%% of the wake-up "
                "sweep: other work ran in the idle gaps, and the wake-up figures are those of a "
                "busy CPU, not of its idle states\n",
                c->cpu_b, idle * 100);
        c->busy = true;
    }
    derive_wake(c, gaps, med, m);
    derive_curve(c, med, med_signal, m);
    derive_dist(c, gaps);
    json_object_set_new(c->measured, "wake_after_idle", m);
    for (int i = 0; i < NGAPS; i++) {
        cal_samples_free(&gaps[i].lat);
        cal_samples_free(&gaps[i].cost);
    }
    return 0;
}

/* ---- context switch: a ping-pong on one CPU ------------------------------------------------- */

static int measure_ctx(struct calib *c)
{
    int want = c->o.quick ? 2000 : 20000;
    struct cal_samples ow, cost, rest;
    if (cal_samples_init(&ow, want) != 0 || cal_samples_init(&cost, want) != 0 ||
        cal_samples_init(&rest, want) != 0)
        return -1;
    if (bl_pingpong(want, c->cpu_a, c->cpu_a, ow.v, cost.v) != 0) return -1;
    ow.n = cost.n = want;
    /* Per sample, before anything sorts them: the signal sometimes switches to the woken side at
     * once (which finds the mutex held and switches back), and then costs two switches more;
     * the rest of the hand-over is the same either way. */
    for (int i = 0; i < want; i++)
        cal_add(&rest, ow.v[i] - cost.v[i]);
    keep_raw(c, "same_cpu_one_way_us", &ow, NS_US);
    keep_raw(c, "same_cpu_signal_us", &cost, NS_US);
    json_object_set_new(
        c->measured, "same_cpu_pingpong",
        json_pack("{s:s, s:o, s:o, s:o}", "what",
                  "two threads pinned to CPU a ping-pong a condition (tools/c/baselines.c, as "
                  "gilsim-bench's baseline): one_way: signal -> the other side running; signal: "
                  "how long each pthread_cond_signal took its caller; after_signal: one_way - "
                  "signal, per sample",
                  "one_way_us", stats_json(&ow, NS_US), "signal_us", stats_json(&cost, NS_US),
                  "after_signal_us", stats_json(&rest, NS_US)));
    derive(c, MACH_ctx_switch, median_of(&rest, NS_US),
           "median of one-way latency minus the signal's cost, per sample, same CPU: from the "
           "end of the signal to the other thread running (the signaller blocks, the core "
           "switches)");
    cal_samples_free(&ow);
    cal_samples_free(&cost);
    cal_samples_free(&rest);
    return 0;
}

/* ---- timed waits ---------------------------------------------------------------------------- */

static const double wait_us[] = {40, 1000, 5000};
static const int wait_count[] = {300, 120, 40};
#define NWAITS 3
static const char *const wait_kind[] = {"cond_timedwait", "ppoll", "nanosleep"};

/* The overshoot less the wake-up latency the model gives a core idle for wait + overshoot (the
 * curve, or warm or cold): the slack that makes the model's timed wait as late as the host's. */
static double slack_of(const struct calib *c, double wait, double overshoot, const char **state)
{
    struct machine m;
    mach_defaults(&m);
    memcpy(m.v, c->param, sizeof m.v);
    m.ncurve = 0; /* this host's curve, if measured, not the built-in machine's */
    m.curve_signal = false;
    if (!c->o.no_curve && c->ncurve >= 2) {
        m.ncurve = (unsigned)c->ncurve;
        memcpy(m.curve, c->curve, sizeof m.curve);
    }
    struct mach_model mm;
    mach_model_of(&m, &mm);
    double idle = wait + overshoot;
    *state = m.ncurve                                                        ? "curve"
             : mm.idle_poll_ns > 0 && idle * 1000 <= (double)mm.idle_poll_ns ? "warm"
                                                                             : "cold";
    return overshoot - (double)mach_wake_latency(&mm, (int64_t)(idle * 1000)) * NS_US;
}

static json_t *timed_kind(struct calib *c, enum bl_wait kind, double *slack)
{
    json_t *list = json_array();
    for (int w = 0; w < NWAITS; w++) {
        int n = c->o.quick ? wait_count[w] / 5 : wait_count[w];
        struct cal_samples late;
        if (cal_samples_init(&late, n) != 0 ||
            bl_timed_overshoot(kind, (int64_t)(wait_us[w] * 1000), n, c->cpu_a, c->cpu_b, late.v) !=
                0) {
            cal_samples_free(&late);
            json_decref(list);
            return NULL;
        }
        late.n = n;
        char name[64];
        snprintf(name, sizeof name, "%s_overshoot_us_wait_%g", wait_kind[kind], wait_us[w]);
        keep_raw(c, name, &late, NS_US);
        const char *state;
        slack[w] = slack_of(c, wait_us[w], median_of(&late, NS_US), &state);
        json_array_append_new(list,
                              json_pack("{s:o, s:o, s:s, s:o}", "wait_us", num(wait_us[w]),
                                        "overshoot_us", stats_json(&late, NS_US), "idle_state",
                                        state, "p50_minus_wake_us", num(slack[w])));
        cal_samples_free(&late);
    }
    return list;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int measure_timers(struct calib *c)
{
    json_t *m = json_pack(
        "{s:s}", "what",
        "timed waits one after the other on CPU a while a spinner keeps CPU b busy: overshoot = "
        "wake-up time - deadline; p50_minus_wake_us: the median overshoot less the wake-up "
        "latency of the idle state (warm or cold) the waiter's core was in for that long");
    double slack[3][NWAITS];
    struct jiffies j0 = cpu_jiffies(c->cpu_a);
    for (int k = 0; k < 3; k++) {
        json_t *list = timed_kind(c, (enum bl_wait)k, slack[k]);
        if (!list) {
            json_decref(m);
            return -1;
        }
        json_object_set_new(m, wait_kind[k], list);
    }
    /* The waits are most of the time: CPU a should have idled through most of it. */
    double idle = idle_share(j0, cpu_jiffies(c->cpu_a));
    json_object_set_new(m, "cpu_a_idle_share", num(idle));
    if (idle < 0.6) c->busy = true;
    json_object_set_new(c->measured, "timed_wait_overshoot", m);
    qsort(slack[BL_WAIT_COND], NWAITS, sizeof **slack, cmp_double);
    derive(c, MACH_timer_slack, slack[BL_WAIT_COND][NWAITS / 2],
           "cond_timedwait (the policies' timed waits): the median over the three waits of "
           "p50_minus_wake_us; ppoll (gilsim's io and sleep) and nanosleep recorded beside it");
    return 0;
}

/* ---- the scheduler: two hogs on one CPU ----------------------------------------------------- */

/* How strongly the events' times lock to a period: the length of the mean of their phases as
 * unit vectors (1: every event at the same phase; ~0: spread evenly). */
static double phase_lock(const struct cal_samples *ev, double period_ns)
{
    double x = 0, y = 0;
    for (int i = 0; i < ev->n; i++) {
        double a = 2 * M_PI * fmod((double)ev->v[i], period_ns) / period_ns;
        x += cos(a);
        y += sin(a);
    }
    return ev->n ? sqrt(x * x + y * y) / ev->n : 0;
}

static const int hz_candidates[] = {1000, 300, 250, 100}; /* Linux's CONFIG_HZ choices */

/* The longest tick period the switches lock to (shorter ones that divide it lock too). */
static double tick_from_switches(const struct cal_samples *breaks, json_t *m)
{
    json_t *locks = json_object();
    double tick = NAN;
    for (int i = 0; i < 4; i++) {
        double p = 1e9 / hz_candidates[i], r = phase_lock(breaks, p);
        char key[16];
        snprintf(key, sizeof key, "%d", hz_candidates[i]);
        json_object_set_new(locks, key, num(r));
        if (r >= 0.5 && breaks->n >= 20) tick = p * NS_US;
    }
    json_object_set_new(m, "switch_phase_lock_by_hz", locks);
    json_object_set_new(m, "tick_us_from_switches", num(tick));
    return tick;
}

static int measure_hogs(struct calib *c, int hz)
{
    struct cal_hogs h;
    int64_t dur = c->o.quick ? 400000000 : 2000000000;
    if (cal_samples_init(&h.runs, 100000) || cal_samples_init(&h.breaks, 100000) ||
        cal_samples_init(&h.blips, 100000) || cal_two_hogs(c->cpu_a, dur, &h) != 0)
        return -1;
    keep_raw(c, "hog_run_us", &h.runs, NS_US);
    json_t *m = json_pack("{s:s, s:o, s:i}", "what",
                          "two CPU hogs pinned to CPU a, each reading the clock in a loop: a "
                          "pause over 50 us ends a run; run_us: the runs' lengths",
                          "run_us", stats_json(&h.runs, NS_US), "blips", h.blips.n);
    double held = 0;
    for (int i = 0; i < h.runs.n; i++)
        held += (double)h.runs.v[i];
    /* Two hogs fill the CPU but for the first and last runs: less means other work ran there. */
    json_object_set_new(m, "hogs_share_of_cpu_a", num(held / (double)dur));
    if (held < 0.8 * (double)dur) {
        fprintf(stderr,
                "gilsim-calibrate: warning: the hogs had only %.0f%% of CPU %d: other work ran "
                "there, and the run lengths are shorter than the scheduler's own\n",
                held / (double)dur * 100, c->cpu_a);
        c->busy = true;
    }
    double measured = tick_from_switches(&h.breaks, m);
    if (hz > 0)
        derive(c, MACH_sched_tick, 1e6 / hz, "1 / CONFIG_HZ of the running kernel's config");
    else
        derive(c, MACH_sched_tick, measured,
               isfinite(measured) ? "the longest of 1/1000, 1/300, 1/250, 1/100 s that the "
                                    "hogs' switches lock to in phase"
                                  : "not measured (no kernel config, switches not locked to a "
                                    "tick): the default");
    int k = (int)round(median_of(&h.runs, NS_US) / c->param[MACH_sched_tick]);
    c->hog_ticks = k < 1 ? 1 : k;
    json_object_set_new(m, "ticks_per_run", json_integer(c->hog_ticks));
    json_object_set_new(c->measured, "two_hogs_one_cpu", m);
    cal_samples_free(&h.runs);
    cal_samples_free(&h.breaks);
    cal_samples_free(&h.blips);
    return 0;
}

/* ---- wake-up preemption and the time slice: a sleeper woken onto a hog's CPU ---------------- */

/* Bins of how long the hog had run when the sleeper's timer fired, in us. */
static const double ran_edge_us[] = {0, 50, 100, 200, 500, 1000, 2000, 4000, INFINITY};
#define NRAN       8
#define AT_ONCE_US 100 /* a sleeper that ran within this of its deadline preempted the hog */
#define MIN_BIN    10  /* bins with fewer samples say nothing */

/* The least run of the hog from which on every wake-up preempts (at least half of those in
 * each bin), with none before: the lower edge of that bin; NAN when the bins do not split so. */
static double preempt_edge(const int *n, const int *now)
{
    int k = -1;
    for (int b = NRAN - 1; b >= 0; b--) {
        if (n[b] < MIN_BIN) continue;
        if (2 * now[b] < n[b]) break;
        k = b;
    }
    if (k < 0) return NAN;
    for (int b = 0; b < k; b++)
        if (n[b] >= MIN_BIN && 2 * now[b] >= n[b]) return NAN;
    return ran_edge_us[k];
}

static int measure_preempt(struct calib *c)
{
    struct cal_preempt p;
    int64_t dur = c->o.quick ? 400000000 : 3000000000;
    if (cal_samples_init(&p.ran, 50000) || cal_samples_init(&p.lat, 50000) ||
        cal_samples_init(&p.run, 1) || cal_wake_onto_hog(c->cpu_a, dur, 777, false, &p) != 0)
        return -1;
    int n[NRAN] = {0}, now[NRAN] = {0};
    for (int i = 0; i < p.ran.n; i++) {
        int b = 0;
        while (b + 1 < NRAN && (double)p.ran.v[i] / 1000 >= ran_edge_us[b + 1])
            b++;
        n[b]++;
        now[b] += p.lat.v[i] <= AT_ONCE_US * 1000;
    }
    json_t *bins = json_array();
    for (int b = 0; b < NRAN; b++)
        json_array_append_new(bins, json_pack("{s:o, s:o, s:i, s:o}", "hog_ran_from_us",
                                              num(ran_edge_us[b]), "to_us", num(ran_edge_us[b + 1]),
                                              "n", n[b], "at_once",
                                              n[b] ? num((double)now[b] / n[b]) : json_null()));
    keep_raw(c, "preempt_hog_ran_us", &p.ran, NS_US);
    keep_raw(c, "preempt_latency_us", &p.lat, NS_US);
    json_object_set_new(c->measured, "wake_onto_hog",
                        json_pack("{s:s, s:o, s:o}", "what",
                                  "a sleeper and a hog pinned to CPU a; the sleeper's timer "
                                  "fires after a log-uniform 20 us .. 8 ms, then it is busy "
                                  "100 us; at_once: the share of its wake-ups that ran within "
                                  "100 us of the deadline, by how long the hog had been running",
                                  "latency_us", stats_json(&p.lat, NS_US), "bins", bins));
    double edge = preempt_edge(n, now);
    derive(c, MACH_wakeup_preempt, edge,
           isfinite(edge) ? "the least hog run from which on at least half of the wake-ups in "
                            "every bin ran at once (and under half before): that bin's lower edge"
                          : "not measured: the bins do not split into waited and preempted (at "
                            "once under half before a run length, at least half from it on): "
                            "the default");
    cal_samples_free(&p.ran);
    cal_samples_free(&p.lat);
    cal_samples_free(&p.run);
    return 0;
}

/* Runs of k ticks between two hogs fit "preempted at the first tick at which it has run
 * sched_slice" for any slice in ((k-1) tick, k tick]. A thread that starts at a random phase
 * against the tick runs, under that rule, uniformly (slice, slice + tick]: slice = its median
 * run - tick / 2, kept within the hogs' range. */
static void derive_slice(struct calib *c, struct cal_samples *run, json_t *m)
{
    double tick = c->param[MACH_sched_tick], lo = (c->hog_ticks - 1) * tick,
           hi = c->hog_ticks * tick, est = NAN;
    if (run->n >= 20) {
        struct bl_stats st = bl_stats_of(run->v, run->n);
        est = st.p50 * NS_US - tick / 2;
        json_object_set_new(m, "p10_p90_span_ticks", num((st.p90 - st.p10) * NS_US / tick));
    }
    json_object_set_new(m, "slice_estimate_us", num(est));
    json_object_set_new(m, "hogs_range_us", json_pack("[o, o]", num(lo), num(hi)));
    if (isfinite(est) && est > lo && est <= hi)
        derive(c, MACH_sched_slice, est,
               "median run of a thread woken at a random phase against the tick, minus half a "
               "tick (the rule 'preempted at the first tick after running sched_slice' makes "
               "those runs uniform over (slice, slice + tick]); within the two hogs' range");
    else
        derive(c, MACH_sched_slice, hi > lo ? (lo + hi) / 2 : NAN,
               "the middle of the range the two hogs' runs allow (the woken thread's runs "
               "gave no estimate within it)");
}

static int measure_slice(struct calib *c)
{
    struct cal_preempt p;
    int64_t dur = c->o.quick ? 400000000 : 2000000000;
    if (cal_samples_init(&p.ran, 10000) || cal_samples_init(&p.lat, 10000) ||
        cal_samples_init(&p.run, 10000) || cal_wake_onto_hog(c->cpu_a, dur, 4242, true, &p) != 0)
        return -1;
    struct cal_samples run; /* the runs that began at once, at a random phase */
    if (cal_samples_init(&run, p.run.n) != 0) return -1;
    for (int i = 0; i < p.run.n; i++)
        if (p.lat.v[i] <= AT_ONCE_US * 1000) cal_add(&run, p.run.v[i]);
    keep_raw(c, "slice_woken_run_us", &p.run, NS_US);
    keep_raw(c, "slice_woken_latency_us", &p.lat, NS_US);
    json_t *m = json_pack("{s:s, s:i, s:o}", "what",
                          "a thread and a hog pinned to CPU a: the thread sleeps a uniform "
                          "1 .. 5 ms, then stays busy until preempted; run_us: how long it kept "
                          "the CPU, of the wake-ups that ran within 100 us",
                          "wake_ups", p.run.n, "run_us", stats_json(&run, NS_US));
    derive_slice(c, &run, m);
    json_object_set_new(c->measured, "woken_spinner", m);
    cal_samples_free(&p.ran);
    cal_samples_free(&p.lat);
    cal_samples_free(&p.run);
    cal_samples_free(&run);
    return 0;
}

/* ---- output --------------------------------------------------------------------------------- */

/* The parameters, the wake-up curve when there is one (ncurve > 0) and its distributions
 * (dist: NULL or none). */
static json_t *params_json(const double *param, const double (*curve)[3], int ncurve,
                           const struct mach_dist *dist)
{
    json_t *p = json_object();
    for (int i = 0; i < MACH_NPARAMS; i++) {
        const struct mach_param_desc *d = &mach_params[i];
        json_object_set_new(p, d->name,
                            d->integer ? json_integer((json_int_t)param[i]) : json_real(param[i]));
    }
    if (ncurve > 0) {
        json_t *pts = json_array();
        for (int k = 0; k < ncurve; k++)
            json_array_append_new(pts,
                                  json_pack("[f, f, f]", curve[k][0], curve[k][1], curve[k][2]));
        json_object_set_new(p, "wake_curve_us", pts);
    }
    if (ncurve > 0 && dist && dist->npoints)
        json_object_set_new(p, "wake_dist_us", mach_dist_json(dist));
    return p;
}

/* Writes a machine file (through a temporary one) and reads it back as gilsim would. */
static int write_doc(const char *path, const char *name, const char *desc, json_t *measured,
                     json_t *params)
{
    json_t *doc =
        json_pack("{s:s, s:i, s:s, s:s, s:O, s:o}", "format", "gilsim-machine", "version", 1,
                  "name", name, "description", desc, "measured", measured, "params", params);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int rc = doc ? json_dump_file(doc, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : -1;
    json_decref(doc);
    if (rc != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "gilsim-calibrate: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    struct machine m;
    struct err e = {0};
    mach_defaults(&m);
    if (mach_load(&m, path, &e) != 0) {
        fprintf(stderr, "gilsim-calibrate: the file written does not load: %s\n", e.msg);
        return 1;
    }
    return 0;
}

static int write_machine(const struct calib *c, const char *path)
{
    return write_doc(path, c->o.name,
                     c->o.description ? c->o.description
                                      : "measured on this host by tools/calibrate (see "
                                        "\"measured\")",
                     c->measured,
                     params_json(c->param, c->curve, c->o.no_curve ? 0 : c->ncurve, &c->dist));
}

/* Creates the directories above path (mkdir -p of its dirname). */
static int make_parents(const char *path)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

/* A full calibration is also kept as this host's own (sim/machine.h, mach_host_calibrated):
 * `gilsim run --engine virtual` then knows the host has been calibrated and where the file is.
 * A --quick one is too rough to stand for the host. */
static int keep_for_host(const struct calib *c)
{
    char path[4200];
    struct err e = {0};
    if (c->o.quick) {
        printf("not kept as this host's calibration (--quick: rough figures)\n");
        return 0;
    }
    if (mach_host_calibration_path(path, sizeof path, &e) != 0) {
        fprintf(stderr, "gilsim-calibrate: %s\n", e.msg);
        return 1;
    }
    if (make_parents(path) != 0) {
        fprintf(stderr, "gilsim-calibrate: cannot create the directory of %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    int rc = write_machine(c, path);
    if (!rc) printf("kept as this host's calibration: %s\n", path);
    return rc;
}

/* The same machine in the other wake-up regime: every wake-up takes the cold latency, as on a
 * host whose idle CPUs halt at once (issue 18's regime question). */
static int write_slow_wake(const struct calib *c)
{
    if (!c->o.slow_wake) return 0;
    double param[MACH_NPARAMS];
    memcpy(param, c->param, sizeof param);
    param[MACH_wake_warm] = param[MACH_wake_cold];
    param[MACH_idle_poll] = 0;
    char name[80], desc[600];
    snprintf(name, sizeof name, "%s-slow-wake", c->o.name);
    snprintf(desc, sizeof desc,
             "%s, in the slow wake-up regime: wake_warm_us = wake_cold_us and idle_poll_us = 0 "
             "(every wake-up as slow as onto a halted CPU), for comparing the two regimes",
             c->o.name);
    json_t *measured = json_deep_copy(c->measured);
    json_t *how = json_object_get(measured, "derivation");
    json_object_set_new(how, "wake_warm_us",
                        json_string("set to wake_cold_us (the slow wake-up regime)"));
    json_object_set_new(how, "idle_poll_us", json_string("0 (the slow wake-up regime)"));
    json_object_set_new(measured, "regime",
                        json_pack("{s:s, s:o, s:o}", "what",
                                  "written with --slow-wake beside the measured file: the "
                                  "measured values but for these two",
                                  "measured_wake_warm_us", json_real(c->param[MACH_wake_warm]),
                                  "measured_idle_poll_us", json_real(c->param[MACH_idle_poll])));
    json_object_set_new(how, "wake_curve_us", json_string("none (the slow wake-up regime)"));
    json_object_set_new(how, "wake_dist_us", json_string("none (the slow wake-up regime)"));
    int rc = write_doc(c->o.slow_wake, name, desc, measured, params_json(param, NULL, 0, NULL));
    json_decref(measured);
    if (!rc) printf("written: %s (the slow wake-up regime)\n", c->o.slow_wake);
    return rc;
}

static void print_params(const struct calib *c)
{
    for (int i = 0; i < MACH_NPARAMS; i++) {
        const struct mach_param_desc *d = &mach_params[i];
        printf("  %-18s %-9g %-8s (built in %g)\n", d->name, c->param[i], d->unit, c->builtin.v[i]);
    }
    if (c->ncurve && !c->o.no_curve) {
        printf("  wake_curve_us      idle -> wake-up (the waker's cost):");
        for (int k = 0; k < c->ncurve; k++)
            printf("%s %g -> %g (%g)", k ? "," : "", c->curve[k][0], c->curve[k][1],
                   c->curve[k][2]);
        printf(" us\n");
    }
    printf("written: %s\n", c->o.out);
}

/* ---- the run -------------------------------------------------------------------------------- */

static const char usage[] =
    "usage: gilsim-calibrate [--quick] [--name NAME] [--description TEXT] [--cpus A,B]\n"
    "                        [--raw RAW.json] [--slow-wake SLOW.json] [--no-curve] -o OUT.json\n"
    "\n"
    "Measures this host's machine parameters for the virtual engine (gilsim machines lists\n"
    "them) and writes a gilsim-machine file: params, and in \"measured\" the host, the load,\n"
    "every measurement's order statistics and how each parameter came from them\n"
    "(docs/virtual.md). About 15 seconds; --quick: 2, rough figures. Pins its\n"
    "threads to two CPUs (--cpus, default the first two it may use). --raw: every sample.\n"
    "--slow-wake: also the same machine in the slow wake-up regime (every wake-up cold).\n"
    "--no-curve: no wake_curve_us (the latency against idle time) in the file, only the two\n"
    "levels wake_warm_us / wake_cold_us.\n"
    "Run it on an otherwise idle machine.\n";

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

static int parse_cpus(const char *s, int cpu[2])
{
    char *end;
    long a = strtol(s, &end, 10), b;
    if (*end != ',' || a < 0 || a >= CPU_SETSIZE) return -1;
    b = strtol(end + 1, &end, 10);
    if (*end || b < 0 || b >= CPU_SETSIZE || b == a) return -1;
    cpu[0] = (int)a;
    cpu[1] = (int)b;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {{"output", required_argument, NULL, 'o'},
                                          {"quick", no_argument, NULL, 'q'},
                                          {"name", required_argument, NULL, 'n'},
                                          {"description", required_argument, NULL, 'd'},
                                          {"cpus", required_argument, NULL, 'c'},
                                          {"raw", required_argument, NULL, 'r'},
                                          {"slow-wake", required_argument, NULL, 's'},
                                          {"no-curve", no_argument, NULL, 'C'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    *o = (struct opts){.name = "calibrated", .cpu = {-1, -1}};
    int ch;
    while ((ch = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'o':
            o->out = optarg;
            break;
        case 'q':
            o->quick = true;
            break;
        case 'C':
            o->no_curve = true;
            break;
        case 'n':
            o->name = optarg;
            break;
        case 'd':
            o->description = optarg;
            break;
        case 'r':
            o->raw = optarg;
            break;
        case 's':
            o->slow_wake = optarg;
            break;
        case 'c':
            if (parse_cpus(optarg, o->cpu) != 0) {
                fprintf(stderr,
                        "gilsim-calibrate: --cpus: expected two different CPU numbers "
                        "A,B, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return -1;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!o->out || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    /* as the file format wants it, with room for "-slow-wake" */
    size_t len = strlen(o->name);
    if (len < 1 || len > 54 || strspn(o->name, NAME_CHARS) != len) {
        fprintf(stderr,
                "gilsim-calibrate: --name: expected 1 to 54 letters, digits, '_' or '-', got "
                "'%s'\n",
                o->name);
        return 2;
    }
    return 0;
}

/* The command as typed: tools/calibrate passes its own in GILSIM_CALIBRATE_COMMAND. */
static json_t *command_json(int argc, char **argv)
{
    const char *env = getenv("GILSIM_CALIBRATE_COMMAND");
    if (env && *env) return json_string(env);
    char buf[2048];
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < argc && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "", argv[i]);
    return json_string(buf);
}

static void warn_load(double per_cpu, const char *when)
{
    if (per_cpu > 0.5)
        fprintf(stderr,
                "gilsim-calibrate: warning: load average %.2f per CPU %s (over 0.5): other "
                "work shares the CPUs and the figures will be noisy\n",
                per_cpu, when);
}

static void not_measured(struct calib *c, const enum mach_param *ps, int n, const char *why)
{
    for (int i = 0; i < n; i++)
        derive(c, ps[i], NAN, why);
}

/* Every measurement in turn; the cross-CPU ones need two CPUs. */
static int measure_all(struct calib *c, int hz)
{
    static const enum mach_param two_cpus[] = {
        MACH_wake_warm,  MACH_wake_cold,       MACH_idle_poll,  MACH_wake_jitter,
        MACH_futex_wake, MACH_futex_wake_cold, MACH_timer_slack};
    fprintf(stderr, "gilsim-calibrate: clock reads\n");
    if (measure_clock(c) != 0 || measure_syscall(c) != 0) return -1;
    if (c->cpu_b >= 0) {
        fprintf(stderr, "gilsim-calibrate: wake-up latency against the idle gap (CPUs %d, %d)\n",
                c->cpu_a, c->cpu_b);
        if (measure_wake(c) != 0) return -1;
        fprintf(stderr, "gilsim-calibrate: timed waits\n");
        if (measure_timers(c) != 0) return -1;
    } else {
        not_measured(c, two_cpus, (int)(sizeof two_cpus / sizeof *two_cpus),
                     "not measured (one CPU): the default");
    }
    fprintf(stderr, "gilsim-calibrate: ping-pong on one CPU\n");
    if (measure_ctx(c) != 0) return -1;
    fprintf(stderr, "gilsim-calibrate: two CPU hogs on one CPU\n");
    if (measure_hogs(c, hz) != 0) return -1;
    fprintf(stderr, "gilsim-calibrate: a thread woken onto a busy CPU\n");
    if (measure_preempt(c) != 0) return -1;
    fprintf(stderr, "gilsim-calibrate: a woken thread's time slice\n");
    return measure_slice(c);
}

static int write_raw(const struct calib *c)
{
    if (!c->raw) return 0;
    if (json_dump_file(c->raw, c->o.raw, JSON_COMPACT) == 0) return 0;
    fprintf(stderr, "gilsim-calibrate: cannot write %s\n", c->o.raw);
    return 1;
}

int main(int argc, char **argv)
{
    struct calib c = {0};
    int rc = parse_opts(argc, argv, &c.o);
    if (rc) return rc < 0 ? 0 : rc;
    if (pick_cpus(&c) != 0) {
        fprintf(stderr, "gilsim-calibrate: cannot tell which CPUs I may run on\n");
        return 1;
    }
    mach_defaults(&c.builtin);
    for (int i = 0; i < MACH_NPARAMS; i++)
        c.param[i] = c.builtin.v[i];
    c.measured = json_object();
    c.derivation = json_object();
    c.raw = c.o.raw ? json_object() : NULL;
    double before, after;
    json_t *la_before = loadavg_json(&before, c.online);
    warn_load(before, "before the run");
    char hz_source[400] = "";
    int hz = config_hz(hz_source, sizeof hz_source);
    char date[32];
    utc_stamp(date, sizeof date, UTC_EXTENDED, 0);
    json_object_set_new(c.measured, "command", command_json(argc, argv));
    json_object_set_new(c.measured, "date", json_string(date));
    json_object_set_new(c.measured, "gilsim_version", json_string(GILSIM_VERSION));
    json_object_set_new(c.measured, "quick", json_boolean(c.o.quick));
    json_object_set_new(c.measured, "host", host_json(&c, hz, hz_source));
    derive(&c, MACH_cores, c.online, "online CPUs (sysconf _SC_NPROCESSORS_ONLN)");
    rc = measure_all(&c, hz);
    json_t *la_after = loadavg_json(&after, c.online);
    warn_load(after, "after the run");
    json_object_set_new(c.measured, "load_average_1_5_15min",
                        json_pack("{s:o, s:o, s:b}", "before", la_before, "after", la_after,
                                  "over_half_per_cpu", before > 0.5 || after > 0.5));
    json_object_set_new(c.measured, "disturbed", json_boolean(c.busy));
    json_object_set_new(c.measured, "derivation", c.derivation);
    if (rc != 0) {
        fprintf(stderr, "gilsim-calibrate: a measurement failed (out of memory or threads)\n");
        rc = 1;
    } else {
        rc = write_machine(&c, c.o.out) || write_raw(&c);
        if (!rc) print_params(&c);
        if (!rc) rc = keep_for_host(&c);
        if (!rc) rc = write_slow_wake(&c);
    }
    json_decref(c.measured);
    json_decref(c.raw);
    return rc;
}
