/* tools/c/gilsim_bench.c - gilsim's own overhead and precision. Every figure is measured beside
 * a raw baseline in the same run (these shared 2-core machines drift from run to run), over
 * several interleaved repeats, and reported as median and min..max (the raw baselines are
 * tools/c/baselines.c, shared with gilsim-calibrate). Writes a JSON document and prints a table;
 * tools/bench drives it and docs/performance.md explains each figure.
 *
 * It uses the engine, the trace writer and the metrics in-process (what they cost is what is
 * measured), and the gilsim binary for `summary` (its peak RSS is a child's). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analysis/metrics.h"
#include "common/host.h"
#include "common/outfile.h"
#include "common/utc.h"
#include "common/version.h"
#include "policies/registry.h"
#include "sim/coro.h"
#include "sim/engine.h"
#include "sim/sync.h"
#include "sim/trace_write.h"
#include "sim/wl.h"
#include "baselines.h"

#define MAX_REPEAT 32

/* ---- figures: one row per quantity ------------------------------------------------------- */

enum goal { GOAL_NONE, GOAL_MAX, GOAL_MIN }; /* target: value <= limit, value >= limit */

struct row {
    const char *fig, *unit;
    char what[96];
    double subject[MAX_REPEAT], baseline[MAX_REPEAT], value[MAX_REPEAT];
    int n;
    bool has_baseline;
    const char *baseline_what;
    const char *value_what; /* how value derives from subject and baseline */
    enum goal goal;
    double limit;
    const char *target_text;
};

#define MAX_ROWS 40
static struct row rows[MAX_ROWS];
static int nrows;
static bool smoke;
static int repeats = 5;
static const char *gilsim_path;
static unsigned iters_per_tick; /* calibrated by the first run, then fixed for every run */
static char tmp_dir[256];

/* The row of (fig, what), added when it is not there yet. */
static struct row *row_for(const char *fig, const char *what, const char *unit)
{
    for (int i = 0; i < nrows; i++)
        if (strcmp(rows[i].fig, fig) == 0 && strcmp(rows[i].what, what) == 0) return &rows[i];
    if (nrows == MAX_ROWS) {
        fprintf(stderr, "gilsim-bench: too many rows\n");
        abort();
    }
    struct row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    r->fig = fig, r->unit = unit;
    snprintf(r->what, sizeof r->what, "%s", what);
    return r;
}

static void row_target(struct row *r, enum goal g, double limit, const char *text)
{
    r->goal = g, r->limit = limit, r->target_text = text;
}

/* One repeat's measurement: value is what the target applies to (a ratio or overhead when
 * there is a baseline, else the subject itself). */
static void row_add(struct row *r, double subject, double baseline, double value)
{
    if (r->n == MAX_REPEAT) return;
    r->subject[r->n] = subject;
    r->baseline[r->n] = baseline;
    r->value[r->n] = value;
    r->n++;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct spread {
    double median, min, max;
};

static struct spread spread_of(const double *v, int n)
{
    struct spread s = {NAN, NAN, NAN};
    if (n <= 0) return s;
    double sorted[MAX_REPEAT];
    memcpy(sorted, v, (size_t)n * sizeof *v);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_d);
    s.min = sorted[0], s.max = sorted[n - 1];
    s.median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    return s;
}

/* ---- engine runs ------------------------------------------------------------------------- */

/* COUNT alike threads looping over OPS (a JSON array), a workload built in memory. */
static struct wl_workload *loop_workload(const char *name, unsigned threads, const char *ops)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"%s%u\", "
             "\"tick_ns\": 50, \"threads\": [{\"name\": \"t\", \"count\": %u, \"ops\": "
             "[{\"loop\": {\"count\": \"forever\", \"ops\": %s}}]}]}",
             name, threads, threads, ops);
    struct wl_workload *wl = NULL;
    struct err e = {0};
    if (wl_parse(text, strlen(text), "bench", &wl, &e) != 0) {
        fprintf(stderr, "gilsim-bench: %s\n", e.msg);
        return NULL;
    }
    return wl;
}

static struct wl_workload *cpu_workload(unsigned threads)
{
    return loop_workload("bench-cpu", threads, "[{\"cpu\": {\"ticks\": 100000}}]");
}

struct run_spec {
    unsigned threads;
    const char *policy;
    const char *set; /* "name=value" or NULL */
    int duration_ms;
    bool no_trace;
    uint32_t max_events;
};

static int run_engine(const struct run_spec *s, struct eng_options *o, struct gil_params *params,
                      struct wl_workload **wl, struct eng_result **res)
{
    struct err e = {0};
    const struct gil_policy *pol = gil_policy_find(s->policy);
    if (!pol) {
        fprintf(stderr, "gilsim-bench: no policy %s\n", s->policy);
        return -1;
    }
    *wl = cpu_workload(s->threads);
    if (!*wl) return -1;
    gil_params_defaults(params, pol);
    if (s->set && gil_params_set(params, pol, s->set, &e) != 0) goto fail;
    *o = (struct eng_options){.wl = *wl,
                              .policy = pol,
                              .params = params,
                              .duration_ns = (int64_t)s->duration_ms * 1000000,
                              .seed = 1,
                              .max_events = s->max_events,
                              .no_trace = s->no_trace,
                              .iters_per_tick = iters_per_tick};
    if (eng_run(o, res, &e) != 0) goto fail;
    /* The same work per tick in every run, so that ticks/s compare across runs. */
    if (!iters_per_tick) iters_per_tick = (*res)->iters_per_tick;
    return 0;
fail:
    fprintf(stderr, "gilsim-bench: %s\n", e.msg);
    wl_free(*wl);
    *wl = NULL;
    return -1;
}

static int write_trace(const struct eng_options *o, const struct eng_result *r, const char *path)
{
    struct err e = {0};
    struct trace_out *out = NULL;
    if (trace_out_open(&out, path, NULL, &e) != 0 || trace_out_commit(out, o, r, &e) != 0) {
        fprintf(stderr, "gilsim-bench: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* The run's summary (gilsim-summary JSON) of a trace written from r. */
static json_t *summarize(const struct eng_options *o, const struct eng_result *r)
{
    char path[512];
    snprintf(path, sizeof path, "%s/summary-input.json", tmp_dir);
    if (write_trace(o, r, path) != 0) return NULL;
    struct err e = {0};
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    json_t *doc = NULL;
    if (met_summarize_file(path, 0, &m, &hdr, &e) == 0)
        doc = met_to_json(m, path);
    else
        fprintf(stderr, "gilsim-bench: %s\n", e.msg);
    met_free(m);
    trace_free(hdr);
    unlink(path);
    return doc;
}

static double stat_ns(json_t *doc, const char *metric, const char *key)
{
    json_t *v = json_object_get(json_object_get(json_object_get(doc, "run"), metric), key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Runs the spec and returns the summary of its trace. */
static json_t *run_and_summarize(const struct run_spec *s)
{
    struct eng_options o;
    struct gil_params params;
    struct wl_workload *wl = NULL;
    struct eng_result *r = NULL;
    if (run_engine(s, &o, &params, &wl, &r) != 0) return NULL;
    json_t *doc = summarize(&o, r);
    eng_result_free(r);
    wl_free(wl);
    return doc;
}

/* ---- raw baselines (tools/c/baselines.c) ------------------------------------------------ */

static int condvar_one_way(int want, double *p50, double *p99)
{
    int64_t *samples = calloc((size_t)want, sizeof *samples);
    if (!samples) return -1;
    int rc = bl_pingpong(want, -1, -1, samples, NULL);
    if (rc == 0) {
        *p50 = bl_pct(samples, want, 0.5);
        *p99 = bl_pct(samples, want, 0.99);
    }
    free(samples);
    return rc;
}

/* A busy thread on the other core while the timed waits run, as the holder is in gilsim. */
static double timedwait_overshoot_p50(int64_t wait_ns, int count)
{
    int64_t *late = calloc((size_t)count, sizeof *late);
    if (!late) return NAN;
    double p50 = bl_timed_overshoot(BL_WAIT_COND, wait_ns, count, -1, -1, late) == 0
                     ? bl_pct(late, count, 0.5)
                     : NAN;
    free(late);
    return p50;
}

/* ---- the figures ------------------------------------------------------------------------- */

/* 1, 2: one-way hand-off latency of fifo and of new's forced switch, against the raw condvar
 * one-way wake-up. cpu2 with a short interval gives thousands of hand-offs per second. In
 * both policies the waiter asks for the hand-off (its timed wait ran out) and sleeps again a
 * few µs before the holder releases, as each side of a ping-pong does. */
static void fig_handoff(void)
{
    int ms = smoke ? 200 : 1000, trips = smoke ? 1000 : 20000;
    double c50, c99;
    if (condvar_one_way(trips, &c50, &c99) != 0) return;
    static const struct {
        const char *fig, *policy, *p50, *p99;
    } cases[] = {
        {"1", "fifo", "fifo hand-off p50", "fifo hand-off p99"},
        {"2", "new", "new forced-switch hand-off p50", "new forced-switch hand-off p99"},
    };
    for (size_t i = 0; i < 2; i++) {
        struct run_spec s = {
            .threads = 2, .policy = cases[i].policy, .set = "interval_us=200", .duration_ms = ms};
        json_t *doc = run_and_summarize(&s);
        if (!doc) continue;
        double h50 = stat_ns(doc, "handoff_gap", "p50_ns"),
               h99 = stat_ns(doc, "handoff_gap", "p99_ns");
        json_decref(doc);
        struct row *r = row_for(cases[i].fig, cases[i].p50, "ns");
        r->has_baseline = true, r->baseline_what = "condvar ping-pong, one way, p50";
        r->value_what = "ratio";
        row_target(r, GOAL_MAX, 1.5, "<= 1.5x");
        row_add(r, h50, c50, h50 / c50);
        r = row_for(cases[i].fig, cases[i].p99, "ns");
        r->has_baseline = true, r->baseline_what = "condvar ping-pong, one way, p99";
        r->value_what = "ratio";
        row_target(r, GOAL_MAX, 1.5, "<= 1.5x");
        row_add(r, h99, c99, h99 / c99);
    }
}

/* n bare ticks' rate, in ticks/s. */
static double bare_rate(unsigned iters, uint64_t n)
{
    int64_t t = sync_now_ns();
    volatile uint64_t sink = eng_bare_ticks(iters, n);
    (void)sink;
    return (double)n / ((double)(sync_now_ns() - t) / 1e9);
}

/* 3: one CPU thread under new, nothing pending, against the bare tick loop (same calibrated
 * busy work, no check points). The bare loop runs half before and half after the run, so that
 * a machine getting slower or faster during the repeat hits both sides alike. */
static void fig_tick_overhead(void)
{
    int ms = smoke ? 200 : 1000;
    struct run_spec s = {.threads = 1, .policy = "new", .duration_ms = ms, .no_trace = true};
    struct eng_options o;
    struct gil_params params;
    struct wl_workload *wl = NULL;
    struct eng_result *res = NULL;
    if (!iters_per_tick) { /* calibrate first, so that the bare loop can run before */
        if (run_engine(&s, &o, &params, &wl, &res) != 0) return;
        eng_result_free(res);
        wl_free(wl);
    }
    uint64_t half = (uint64_t)((double)ms * 1e6 / 2 / 50.0);
    double before = bare_rate(iters_per_tick, half);
    if (run_engine(&s, &o, &params, &wl, &res) != 0) return;
    double under = (double)res->total_ticks / ((double)res->stop_ns / 1e9);
    eng_result_free(res);
    wl_free(wl);
    double bare = (before + bare_rate(iters_per_tick, half)) / 2;
    struct row *r = row_for("3", "ticks/s, 1 CPU thread under new, nothing pending", "1/s");
    r->has_baseline = true, r->baseline_what = "bare tick loop, no check points";
    r->value_what = "overhead";
    row_target(r, GOAL_MAX, 0.02, "overhead <= 2%");
    row_add(r, under, bare, 1 - under / bare);
}

/* 4: cpu2 under old (the policy with the most events) with full tracing, against tracing off. */
static double events_per_s_old; /* for figure 5's run length */
static void fig_trace_overhead(void)
{
    int ms = smoke ? 200 : 1000;
    double ticks[2], switches[2];
    for (int traced = 0; traced < 2; traced++) {
        struct run_spec s = {.threads = 2, .policy = "old", .duration_ms = ms, .no_trace = !traced};
        struct eng_options o;
        struct gil_params params;
        struct wl_workload *wl = NULL;
        struct eng_result *res = NULL;
        if (run_engine(&s, &o, &params, &wl, &res) != 0) return;
        double secs = (double)res->stop_ns / 1e9;
        ticks[traced] = (double)res->total_ticks / secs;
        switches[traced] = (double)res->switches / secs;
        if (traced) events_per_s_old = (double)res->events / secs;
        eng_result_free(res);
        wl_free(wl);
    }
    struct row *r = row_for("4", "ticks/s, cpu2 under old, traced", "1/s");
    r->has_baseline = true, r->baseline_what = "tracing off", r->value_what = "overhead";
    row_target(r, GOAL_MAX, 0.05, "overhead <= 5%");
    row_add(r, ticks[1], ticks[0], 1 - ticks[1] / ticks[0]);
    r = row_for("4", "hand-offs/s, cpu2 under old, traced", "1/s");
    r->has_baseline = true, r->baseline_what = "tracing off", r->value_what = "overhead";
    row_target(r, GOAL_MAX, 0.05, "overhead <= 5%");
    row_add(r, switches[1], switches[0], 1 - switches[1] / switches[0]);
}

/* 5, 6: writing and reading a big trace (cpu2 under old until it has enough events). */
static struct eng_result *big_res;
static struct eng_options big_o;
static struct gil_params big_params;
static struct wl_workload *big_wl;
static char big_path[512];

static int make_big_run(void)
{
    double want = smoke ? 2e5 : 1e7;
    double rate = events_per_s_old > 1e4 ? events_per_s_old : 2e5;
    int ms = (int)(want / rate * 1000 * 1.3) + 300;
    struct run_spec s = {.threads = 2,
                         .policy = "old",
                         .duration_ms = ms,
                         .max_events = (uint32_t)(want * 1.5 / 2)}; /* per thread */
    if (run_engine(&s, &big_o, &big_params, &big_wl, &big_res) != 0) return -1;
    snprintf(big_path, sizeof big_path, "%s/big-trace.json", tmp_dir);
    fprintf(stderr, "gilsim-bench: big trace: %llu events from a %d ms run\n",
            (unsigned long long)big_res->events, ms);
    return 0;
}

static void fig_trace_write(void)
{
    if (!big_res) return;
    int64_t t = sync_now_ns();
    if (write_trace(&big_o, big_res, big_path) != 0) return;
    double secs = (double)(sync_now_ns() - t) / 1e9;
    struct stat st;
    if (stat(big_path, &st) != 0) return;
    double ev = (double)big_res->events;
    struct row *r = row_for("5", "trace writing, events/s", "1/s");
    row_target(r, GOAL_MIN, 3e6, ">= 3M events/s");
    row_add(r, ev / secs, NAN, ev / secs);
    r = row_for("5", "bytes/event in memory", "B");
    row_target(r, GOAL_MAX, 32, "<= 32 B");
    row_add(r, (double)sizeof(struct trace_event), NAN, (double)sizeof(struct trace_event));
    r = row_for("5", "bytes/event in the file", "B");
    row_target(r, GOAL_MAX, 64, "<= 64 B");
    row_add(r, (double)st.st_size / ev, NAN, (double)st.st_size / ev);
    r = row_for("5", "events in the trace", "");
    row_add(r, ev, NAN, ev);
}

static void fig_summary_read(void)
{
    if (!big_res) return;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    char *argv[] = {(char *)gilsim_path, "summary", "--json", big_path, NULL};
    int64_t t = sync_now_ns();
    int err = posix_spawn(&pid, gilsim_path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        fprintf(stderr, "gilsim-bench: cannot run %s: %s\n", gilsim_path, strerror(err));
        return;
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "gilsim-bench: gilsim summary failed\n");
        return;
    }
    double secs = (double)(sync_now_ns() - t) / 1e9, ev = (double)big_res->events;
    struct row *r = row_for("6", "summary reading, events/s", "1/s");
    row_target(r, GOAL_MIN, 2e6, ">= 2M events/s");
    row_add(r, ev / secs, NAN, ev / secs);
    r = row_for("6", "summary peak RSS", "KiB");
    row_add(r, (double)ru.ru_maxrss, NAN, (double)ru.ru_maxrss);
}

/* 7: many threads. Each count runs in a forked child so that its peak RSS is its own; RSS per
 * thread = (peak with N threads - peak with 1) / (N - 1). fifo: the policy that wakes one
 * waiter per hand-off (under new every waiter times out each interval). */
struct many_result {
    double setup_ms, rss_kib, switches_per_s;
    int ok;
};

static struct many_result many_threads_child(unsigned n, int ms)
{
    struct many_result out = {0};
    int fd[2];
    if (pipe(fd) != 0) return out;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        struct run_spec s = {
            .threads = n, .policy = "fifo", .set = "interval_us=1000", .duration_ms = ms};
        struct eng_options o;
        struct gil_params params;
        struct wl_workload *wl = NULL;
        struct eng_result *res = NULL;
        struct many_result m = {0};
        if (run_engine(&s, &o, &params, &wl, &res) == 0) {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            m.setup_ms = (double)res->setup_ns / 1e6;
            m.rss_kib = (double)ru.ru_maxrss;
            m.switches_per_s = (double)res->switches / ((double)res->stop_ns / 1e9);
            m.ok = 1;
        }
        ssize_t w = write(fd[1], &m, sizeof m);
        _exit(w == (ssize_t)sizeof m && m.ok ? 0 : 1);
    }
    close(fd[1]);
    if (pid > 0) {
        if (read(fd[0], &out, sizeof out) != (ssize_t)sizeof out) out.ok = 0;
        waitpid(pid, NULL, 0);
    }
    close(fd[0]);
    return out;
}

static void fig_many_threads(void)
{
    int ms = smoke ? 200 : 1000;
    struct many_result one = many_threads_child(1, ms);
    if (!one.ok) return;
    static const unsigned counts[] = {1000, 10000};
    for (size_t i = 0; i < 2; i++) {
        unsigned n = counts[i];
        if (smoke && n > 1000) continue; /* the smoke only checks the machinery */
        struct many_result m = many_threads_child(n, ms);
        if (!m.ok) continue;
        char what[96];
        struct row *r;
        snprintf(what, sizeof what, "%u threads: set-up time", n);
        r = row_for("7", what, "ms");
        r->has_baseline = true, r->baseline_what = "1 thread", r->value_what = "ms";
        row_add(r, m.setup_ms, one.setup_ms, m.setup_ms);
        snprintf(what, sizeof what, "%u threads: RSS per thread", n);
        r = row_for("7", what, "KiB");
        r->has_baseline = true, r->baseline_what = "1 thread (whole process)";
        r->value_what = "KiB per thread";
        row_target(r, GOAL_MAX, 80, "<= 80 KiB");
        row_add(r, m.rss_kib, one.rss_kib, (m.rss_kib - one.rss_kib) / (n - 1));
        snprintf(what, sizeof what, "%u threads: hand-offs/s (fifo, 1 ms)", n);
        r = row_for("7", what, "1/s");
        r->has_baseline = true, r->baseline_what = "1 thread", r->value_what = "1/s";
        row_add(r, m.switches_per_s, one.switches_per_s, m.switches_per_s);
    }
}

/* 9: the virtual engine's speed: simulated seconds per wall second of eng_run (events recorded
 * in memory, no trace written), for every shipped workload under every policy, and the events
 * the scheduler processes per wall second; then many-threads on 64 simulated cores and 10,000
 * CPU-bound threads under fifo. No baseline: the figure is a ratio to real time itself. */
static double virtual_speed(const struct wl_workload *wl, const char *policy, const char *set,
                            const char *machine_set, int ms, double *events_per_s)
{
    const struct gil_policy *pol = gil_policy_find(policy);
    struct gil_params params;
    struct machine m;
    struct err e = {0};
    gil_params_defaults(&params, pol);
    mach_defaults(&m);
    if ((set && gil_params_set(&params, pol, set, &e) != 0) ||
        (machine_set && mach_set(&m, machine_set, &e) != 0)) {
        fprintf(stderr, "gilsim-bench: %s\n", e.msg);
        return NAN;
    }
    struct eng_options o = {.wl = wl,
                            .engine = ENG_VIRTUAL,
                            .machine = &m,
                            .policy = pol,
                            .params = &params,
                            .duration_ns = (int64_t)ms * 1000000,
                            .seed = 1};
    struct eng_result *res = NULL;
    int64_t t = sync_now_ns();
    if (eng_run(&o, &res, &e) != 0) {
        fprintf(stderr, "gilsim-bench: %s\n", e.msg);
        return NAN;
    }
    double wall = (double)(sync_now_ns() - t) / 1e9;
    if (events_per_s) *events_per_s = (double)res->virt_events / wall;
    eng_result_free(res);
    return (double)ms / 1e3 / wall;
}

/* A coroutine that yields for ever: each resume + yield is a round trip of two switches. */
static void yield_forever(void *arg)
{
    (void)arg;
    for (;;)
        coro_yield();
}

/* One way of a coroutine switch (half a resume + yield), against the one-way hand-off of two
 * pthreads over a condition: what simulated threads as real threads passing a baton would pay
 * per switch. Why the virtual engine uses coroutines (docs/architecture.md). */
static void coroutine_switch_row(void)
{
    struct coro *c = NULL;
    if (coro_new(&c, 64u << 10, yield_forever, NULL) != 0) return;
    int n = smoke ? 100000 : 2000000;
    int64_t t = sync_now_ns();
    for (int i = 0; i < n; i++)
        coro_resume(c);
    double one_way = (double)(sync_now_ns() - t) / (2.0 * n);
    coro_free(c);
    double c50, c99;
    if (condvar_one_way(smoke ? 1000 : 20000, &c50, &c99) != 0) return;
    struct row *r = row_for("9", "virtual: coroutine switch, one way", "ns");
    r->has_baseline = true, r->baseline_what = "condvar ping-pong between pthreads, one way, p50";
    r->value_what = "ratio";
    row_add(r, one_way, c50, c50 / one_way);
}

/* Events per wall second as the thread count grows (issue 30 item 5): many-threads' mix (200 us
 * of CPU, then 10 ms asleep) scaled to 2 and to 2,000 and 10,000 threads under new on 64
 * cores, untraced, setup included. The per-event cost must not grow with the count. */
static void many_threads_event_rows(int ms)
{
    static const struct {
        unsigned threads, cores;
        double target;
        const char *target_text;
    } cases[] = {{2, 2, NAN, NULL}, {2000, 64, 5e6, ">= 5M/s"}, {10000, 64, 2e6, ">= 2M/s"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct wl_workload *wl =
            loop_workload("bench-mix", cases[i].threads,
                          "[{\"cpu\": {\"us\": 200}}, {\"sleep\": {\"us\": 10000}}]");
        if (!wl) continue;
        char cores[32], what[128];
        snprintf(cores, sizeof cores, "cores=%u", cases[i].cores);
        double events = NAN;
        double s = virtual_speed(wl, "new", NULL, cores, ms, &events);
        wl_free(wl);
        if (isnan(s)) continue;
        snprintf(what, sizeof what,
                 "virtual: events per wall s, %u threads (200 us CPU, 10 ms sleep; new) on %u "
                 "cores, untraced",
                 cases[i].threads, cases[i].cores);
        struct row *r = row_for("9", what, "1/s");
        if (cases[i].target_text) row_target(r, GOAL_MIN, cases[i].target, cases[i].target_text);
        row_add(r, events, NAN, events);
    }
}

static const char *const shipped_workloads[] = {"cpu1",        "cpu2",        "cpu4",   "convoy",
                                                "convoy-2cpu", "io-only",     "server", "long-hold",
                                                "native-par",  "many-threads"};

static void fig_virtual_speed(void)
{
    int ms = smoke ? 100 : 1000;
    double speed[128], events[128], worst = INFINITY;
    int n = 0;
    char worst_cell[64] = "";
    for (size_t w = 0; w < sizeof shipped_workloads / sizeof *shipped_workloads; w++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/workloads/%s.json", GILSIM_SOURCE_DIR,
                 shipped_workloads[w]);
        struct wl_workload *wl = NULL;
        struct err e = {0};
        if (wl_load(path, &wl, &e) != 0) {
            fprintf(stderr, "gilsim-bench: %s\n", e.msg);
            continue;
        }
        const struct gil_policy *p;
        for (size_t i = 0; (p = gil_policy_at(i)) && n < 128; i++) {
            double s = virtual_speed(wl, p->name, NULL, NULL, ms, &events[n]);
            if (isnan(s)) continue;
            if (s < worst) {
                worst = s;
                snprintf(worst_cell, sizeof worst_cell, "%s/%s", shipped_workloads[w], p->name);
            }
            speed[n++] = s;
        }
        wl_free(wl);
    }
    if (n == 0) return;
    fprintf(stderr, "gilsim-bench: virtual engine, slowest cell %s: %.1fx real time\n", worst_cell,
            worst);
    qsort(speed, (size_t)n, sizeof *speed, cmp_d);
    qsort(events, (size_t)n, sizeof *events, cmp_d);
    double med = speed[n / 2], ev_med = events[n / 2];
    struct row *r =
        row_for("9", "virtual: simulated s per wall s, median of workload x policy", "x");
    row_target(r, GOAL_MIN, 20, ">= 20x");
    row_add(r, med, NAN, med);
    r = row_for("9", "virtual: simulated s per wall s, slowest workload x policy", "x");
    row_target(r, GOAL_MIN, 2, ">= 2x");
    row_add(r, worst, NAN, worst);
    r = row_for("9", "virtual: events processed per wall s, median cell", "1/s");
    row_add(r, ev_med, NAN, ev_med);
    struct wl_workload *mt = NULL, *big = cpu_workload(10000);
    struct err e = {0};
    char path[4200];
    snprintf(path, sizeof path, "%s/workloads/many-threads.json", GILSIM_SOURCE_DIR);
    if (wl_load(path, &mt, &e) == 0) {
        double s = virtual_speed(mt, "new", NULL, "cores=64", ms, NULL);
        r = row_for("9", "virtual: many-threads (new) on 64 cores", "x");
        row_add(r, s, NAN, s);
        wl_free(mt);
    }
    if (big) {
        double s = virtual_speed(big, "fifo", "interval_us=1000", "cores=64", ms, NULL);
        r = row_for("9", "virtual: 10,000 CPU-bound threads (fifo, 1 ms) on 64 cores", "x");
        row_add(r, s, NAN, s);
        wl_free(big);
    }
    many_threads_event_rows(ms);
    coroutine_switch_row();
}

/* 8: how much longer than the interval new's slices are, against how late a timed wait of the
 * same length wakes up (new's waiter sleeps exactly such a wait before it asks for the drop). */
static void fig_slice_precision(void)
{
    static const struct {
        const char *what, *set;
        int64_t ns;
        int ms, waits;
    } cases[] = {
        {"new slice - interval, 0.1 ms", "interval_us=100", 100000, 500, 400},
        {"new slice - interval, 1 ms", "interval_us=1000", 1000000, 1000, 200},
        {"new slice - interval, 5 ms", "interval_us=5000", 5000000, 2000, 60},
    };
    for (size_t i = 0; i < 3; i++) {
        struct run_spec s = {.threads = 2,
                             .policy = "new",
                             .set = cases[i].set,
                             .duration_ms = smoke ? 200 : cases[i].ms};
        json_t *doc = run_and_summarize(&s);
        if (!doc) continue;
        double over = stat_ns(doc, "slice", "p50_ns") - (double)cases[i].ns;
        json_decref(doc);
        double base = timedwait_overshoot_p50(cases[i].ns, smoke ? 10 : cases[i].waits);
        struct row *r = row_for("8", cases[i].what, "ns");
        r->has_baseline = true, r->baseline_what = "pthread_cond_timedwait overshoot, p50";
        r->value_what = "ns";
        if (cases[i].ns == 5000000) row_target(r, GOAL_MAX, 140000, "<= +0.14 ms (CPython)");
        row_add(r, over, base, over);
    }
}

/* ---- output ------------------------------------------------------------------------------ */

static json_t *spread_json(const double *v, int n)
{
    struct spread s = spread_of(v, n);
    json_t *vals = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(vals, isfinite(v[i]) ? json_real(v[i]) : json_null());
    return json_pack("{s:o, s:o, s:o, s:o}", "median",
                     isfinite(s.median) ? json_real(s.median) : json_null(), "min",
                     isfinite(s.min) ? json_real(s.min) : json_null(), "max",
                     isfinite(s.max) ? json_real(s.max) : json_null(), "values", vals);
}

static bool row_met(const struct row *r, bool *known)
{
    struct spread s = spread_of(r->value, r->n);
    *known = r->goal != GOAL_NONE && isfinite(s.median);
    if (!*known) return false;
    return r->goal == GOAL_MAX ? s.median <= r->limit : s.median >= r->limit;
}

static json_t *report_json(void)
{
    json_t *list = json_array();
    for (int i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        bool known, met = row_met(r, &known);
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:i, s:o}", "figure", r->fig, "what", r->what, "unit",
                      r->unit, "repeats", r->n, "subject", spread_json(r->subject, r->n));
        if (r->has_baseline) {
            json_object_set_new(o, "baseline", spread_json(r->baseline, r->n));
            json_object_set_new(o, "baseline_what", json_string(r->baseline_what));
        }
        json_object_set_new(o, "value", spread_json(r->value, r->n));
        json_object_set_new(o, "value_what", json_string(r->value_what ? r->value_what : r->unit));
        json_object_set_new(o, "target",
                            r->target_text ? json_string(r->target_text) : json_null());
        json_object_set_new(o, "met", known ? json_boolean(met) : json_null());
        json_array_append_new(list, o);
    }
    char stamp[32];
    utc_stamp(stamp, sizeof stamp, UTC_EXTENDED, 0);
    return json_pack("{s:s, s:i, s:s, s:s, s:b, s:i, s:o, s:o}", "format", "gilsim-bench",
                     "version", 1, "gilsim_version", GILSIM_VERSION, "created_utc", stamp, "smoke",
                     smoke, "repeat", repeats, "host", host_info_json(), "rows", list);
}

static void fmt_val(char *buf, size_t size, double v, const char *unit)
{
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else if (strcmp(unit, "ns") == 0 && fabs(v) >= 1000)
        snprintf(buf, size, "%.3g us", v / 1000);
    else if (strcmp(unit, "ns") == 0)
        snprintf(buf, size, "%.3g ns", v);
    else if (fabs(v) >= 1e6)
        snprintf(buf, size, "%.3gM%s%s", v / 1e6, *unit ? " " : "", unit);
    else
        snprintf(buf, size, "%.4g%s%s", v, *unit ? " " : "", unit);
}

/* The value column: a ratio as "1.23x", an overhead as a percentage, else in the row's unit. */
static void fmt_value_cell(char *buf, size_t size, const struct row *r, double v)
{
    const char *what = r->value_what ? r->value_what : "";
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else if (strcmp(what, "ratio") == 0)
        snprintf(buf, size, "%.2fx", v);
    else if (strcmp(what, "overhead") == 0)
        snprintf(buf, size, "%.2f%%", v * 100);
    else if (strcmp(what, "KiB per thread") == 0)
        snprintf(buf, size, "%.1f KiB", v);
    else
        fmt_val(buf, size, v, r->unit);
}

static void cell(char *buf, size_t size, const struct row *r, const double *v, bool value)
{
    struct spread s = spread_of(v, r->n);
    char med[40], lo[40], hi[40];
    if (value) {
        fmt_value_cell(med, sizeof med, r, s.median);
        fmt_value_cell(lo, sizeof lo, r, s.min);
        fmt_value_cell(hi, sizeof hi, r, s.max);
    } else {
        fmt_val(med, sizeof med, s.median, r->unit);
        fmt_val(lo, sizeof lo, s.min, r->unit);
        fmt_val(hi, sizeof hi, s.max, r->unit);
    }
    if (r->n > 1)
        snprintf(buf, size, "%s (%s..%s)", med, lo, hi);
    else
        snprintf(buf, size, "%s", med);
}

static void print_table(FILE *f)
{
    fprintf(f, "%-2s %-46s %-32s %-32s %-30s %-22s %s\n", "#", "figure", "gilsim", "baseline",
            "value", "target", "met");
    for (int i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        char subject[128], baseline[128] = "-", value[128];
        cell(subject, sizeof subject, r, r->subject, false);
        if (r->has_baseline) cell(baseline, sizeof baseline, r, r->baseline, false);
        cell(value, sizeof value, r, r->value, true);
        bool known, met = row_met(r, &known);
        fprintf(f, "%-2s %-46s %-32s %-32s %-30s %-22s %s\n", r->fig, r->what, subject, baseline,
                value, r->target_text ? r->target_text : "(report)",
                known ? (met ? "yes" : "NO") : "-");
    }
}

static const char usage[] =
    "usage: gilsim-bench [--smoke] [--repeat N] [--gilsim PATH] -o OUT.json [--table OUT.txt]\n"
    "\n"
    "Measures gilsim's own overhead and precision against raw baselines in the same run\n"
    "(docs/performance.md); writes OUT.json and prints a table (also to OUT.txt with --table;\n"
    "both reserved before anything is measured). --smoke: one short repeat, to check that\n"
    "every figure is produced (the targets are not checked).\n";

/* Options into the globals; *out_path, *table_path. Returns -1 to go on, else the exit
 * status. */
static int parse_options(int argc, char **argv, const char **out_path, const char **table_path)
{
    static const struct option opts[] = {{"smoke", no_argument, NULL, 's'},
                                         {"repeat", required_argument, NULL, 'r'},
                                         {"gilsim", required_argument, NULL, 'g'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"table", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "r:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            smoke = true;
            break;
        case 'r': {
            char *end;
            long v = strtol(optarg, &end, 10);
            repeats = *end || v < 1 || v > MAX_REPEAT ? 0 : (int)v;
            if (!repeats) {
                fprintf(stderr, "gilsim-bench: --repeat: expected 1..%d, got '%s'\n", MAX_REPEAT,
                        optarg);
                return 2;
            }
            break;
        }
        case 'g':
            gilsim_path = optarg;
            break;
        case 'o':
            *out_path = optarg;
            break;
        case 't':
            *table_path = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!*out_path || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (smoke) repeats = 1;
    return -1;
}

/* The gilsim binary beside this one, unless --gilsim named it. */
static int find_gilsim(void)
{
    static char beside[4096];
    if (gilsim_path) return 0;
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "gilsim-bench: cannot find my own binary; pass --gilsim PATH\n");
        return 1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(beside, sizeof beside, "%s/gilsim", exe);
    gilsim_path = beside;
    return 0;
}

/* 10: sweeps (docs/sweeps.md): a 2,016-run virtual sweep of a 1 s convoy (7 policies x 6
 * CPU thread counts x 6 I/O latencies x 8 repeats) with `gilsim compare --jobs 2`, plan, runs
 * and collect in one command, then `--collect` of the same directory alone. Measured once per
 * benchmark run (it takes minutes); the smoke runs a 16-run sweep. */
static const char sweep_workload[] =
    "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"convoy-n\",\n"
    " \"duration_ms\": 1000, \"vars\": {\"cpu_threads\": 1, \"io_us\": 40},\n"
    " \"threads\": [{\"name\": \"cpu\", \"count\": \"$cpu_threads\", \"ops\": [{\"loop\":\n"
    "  {\"count\": \"forever\", \"ops\": [{\"cpu\": {\"ticks\": 100000}}]}}]},\n"
    " {\"name\": \"io\", \"start_ms\": 10, \"ops\": [{\"loop\": {\"count\": \"forever\", \"ops\":\n"
    "  [{\"io\": {\"us\": \"$io_us\"}}, {\"cpu\": {\"us\": 5}}]}}]}]}\n";

/* Wall seconds of a shell command, or -1 when it fails. */
static double timed_shell(const char *cmd)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int st = system(cmd);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "gilsim-bench: failed (status %d): %s\n", st, cmd);
        return -1;
    }
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void fig_sweep(void)
{
    char wl[600], dir[600], cmd[4096];
    snprintf(wl, sizeof wl, "%s/convoy-n.json", tmp_dir);
    snprintf(dir, sizeof dir, "%s/sweep", tmp_dir);
    FILE *f = fopen(wl, "w");
    if (!f || fputs(sweep_workload, f) < 0 || fclose(f) != 0) return;
    const char *grid = smoke ? "-p new,none --var cpu_threads=1,2 --var io_us=10,40 -r 2 -d 200"
                             : "-p old,new,fifo,none,prio,bfs,ruby --var cpu_threads=1,2,4,8,12,16 "
                               "--var io_us=10,20,40,80,160,320 -r 8";
    int runs = smoke ? 16 : 2016;
    snprintf(cmd, sizeof cmd, "'%s' compare '%s' -e virtual %s -j 2 -o '%s' -f csv >/dev/null",
             gilsim_path, wl, grid, dir);
    fprintf(stderr, "gilsim-bench: figure 10: a sweep of %d virtual runs, --jobs 2\n", runs);
    double sweep_s = timed_shell(cmd);
    snprintf(cmd, sizeof cmd, "'%s' compare --collect '%s' -f csv >/dev/null", gilsim_path, dir);
    double collect_s = sweep_s > 0 ? timed_shell(cmd) : -1;
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, wl);
    if (system(cmd) != 0) fprintf(stderr, "gilsim-bench: cannot remove %s\n", dir);
    if (sweep_s < 0 || collect_s < 0) return;
    char what[96];
    snprintf(what, sizeof what, "sweep of %d virtual runs, --jobs 2, collect included", runs);
    struct row *r = row_for("10", what, "s");
    row_target(r, GOAL_MAX, 600, "<= 600 s");
    row_add(r, sweep_s, 0, sweep_s);
    snprintf(what, sizeof what, "--collect of %d runs", runs);
    r = row_for("10", what, "s");
    row_target(r, GOAL_MAX, 30, "< 30 s");
    row_add(r, collect_s, 0, collect_s);
}

/* Every figure, `repeats` times, interleaved. */
static void measure_all(void)
{
    for (int rep = 0; rep < repeats; rep++) {
        fprintf(stderr, "gilsim-bench: repeat %d of %d\n", rep + 1, repeats);
        fig_handoff();
        fig_tick_overhead();
        fig_trace_overhead();
        fig_slice_precision();
        fig_many_threads();
        fig_virtual_speed();
    }
    fig_sweep(); /* 10: once */
    /* 5, 6 on one big run, written and read `repeats` times */
    if (make_big_run() == 0) {
        for (int rep = 0; rep < repeats; rep++) {
            fig_trace_write();
            fig_summary_read();
        }
        unlink(big_path);
        eng_result_free(big_res);
        wl_free(big_wl);
    }
}

/* Rows in figure order (they were created as measured); insertion sort is stable. */
static void sort_rows(void)
{
    for (int i = 1; i < nrows; i++)
        for (int j = i; j > 0 && atoi(rows[j - 1].fig) > atoi(rows[j].fig); j--) {
            struct row tmp = rows[j];
            rows[j] = rows[j - 1];
            rows[j - 1] = tmp;
        }
}

/* Figures not measured in every repeat (the smoke test checks that there are none). */
static int count_missing(void)
{
    int missing = 0;
    for (int fig = 1; fig <= 10; fig++) {
        char id[4];
        snprintf(id, sizeof id, "%d", fig);
        bool found = false;
        for (int i = 0; i < nrows; i++)
            if (strcmp(rows[i].fig, id) == 0) {
                found = true;
                if (rows[i].n != (fig == 10 ? 1 : repeats)) { /* 10: measured once */
                    fprintf(stderr, "gilsim-bench: figure %s, %s: %d of %d repeats measured\n", id,
                            rows[i].what, rows[i].n, repeats);
                    missing++;
                }
            }
        if (!found) {
            fprintf(stderr, "gilsim-bench: figure %s was not measured\n", id);
            missing++;
        }
    }
    return missing;
}

/* The outputs under common/outfile.h's rules, reserved before minutes of measuring. */
static int open_outputs(const char *out_path, const char *table_path, struct outfile **json_out,
                        struct outfile **table_out)
{
    struct err e = {0};
    *json_out = *table_out = NULL;
    if (outfile_open(json_out, out_path, 0, NULL, &e) == 0 &&
        (!table_path || outfile_open(table_out, table_path, 0, NULL, &e) == 0))
        return 0;
    outfile_abort(*json_out);
    fprintf(stderr, "gilsim-bench: %s\n", e.msg);
    return e.status;
}

/* The report and the table written, then both renamed into place. */
static int write_outputs(const char *out_path, struct outfile *json_out, struct outfile *table_out)
{
    struct err e = {0};
    json_t *doc = report_json();
    int rc =
        doc ? json_dumpf(doc, outfile_stream(json_out), JSON_INDENT(1) | JSON_REAL_PRECISION(8))
            : -1;
    json_decref(doc);
    if (table_out) print_table(outfile_stream(table_out));
    if (rc != 0) err_set(&e, ERR_RUNTIME, "%s: out of memory", out_path);
    rc = rc ? (outfile_abort(json_out), 1) : outfile_commit(json_out, &e);
    rc = rc ? (outfile_abort(table_out), rc) : table_out ? outfile_commit(table_out, &e) : 0;
    if (rc) fprintf(stderr, "gilsim-bench: %s\n", e.msg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *out_path = NULL, *table_path = NULL;
    struct outfile *json_out, *table_out;
    int rc = parse_options(argc, argv, &out_path, &table_path);
    if (rc >= 0) return rc;
    if ((rc = open_outputs(out_path, table_path, &json_out, &table_out))) return rc;
    if (find_gilsim()) return 1;
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gilsim-bench-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "gilsim-bench: cannot make a temporary directory: %s\n", strerror(errno));
        return 1;
    }
    measure_all();
    rmdir(tmp_dir);
    sort_rows();
    int missing = count_missing();
    if (write_outputs(out_path, json_out, table_out)) return 1;
    print_table(stdout);
    printf("written: %s\n", out_path);
    return missing ? 1 : 0;
}
