/* tests/test_distributions.c - a machine whose wake-ups are distributions (wake_dist_us,
 * docs/virtual.md): the file format and what setting parameters by name drops, the draw
 * (quantiles interpolated between probabilities and idle times, the waker's cost at the same
 * quantile), runs byte-identical for their seed and different across seeds, a race that comes
 * out as a probability (the echo client's share of two-interval round trips strictly between 0
 * and 1, where the medians alone give 0; old's failed wake-ups a share that moves with the
 * seed, where the medians fail nearly all), and machine files without distributions unchanged.
 * Every machine here is a file the test writes: the shipped calibration is not touched. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char dir[512];

/* Writes dir/name.json, a gilsim-machine file with these params (a JSON object's members). */
static const char *write_machine(const char *name, const char *params)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f,
            "{\"format\": \"gilsim-machine\", \"version\": 1, \"name\": \"%s\", \"params\": "
            "{%s}}\n",
            name, params);
    fclose(f);
    return path;
}

/* Two idle times, three probabilities; latency 1, 2, 4 us at idle 0 and ten times that at
 * 100 us; the waker's cost 0.1, 0.2, 0.4 us at both. */
#define SMALL_DIST                                                                                 \
    "\"wake_curve_us\": [[0, 2, 0.2], [100, 20, 0.2]], \"wake_dist_us\": {\"p\": [0, 0.5, 1], "    \
    "\"points\": [{\"idle_us\": 0, \"wake_us\": [1, 2, 4], \"signal_us\": [0.1, 0.2, 0.4]}, "      \
    "{\"idle_us\": 100, \"wake_us\": [10, 20, 40], \"signal_us\": [0.1, 0.2, 0.4]}]}"

static struct machine load(const char *path, const char *set)
{
    struct machine m;
    struct err e = {0};
    mach_defaults(&m);
    TU_ASSERT_CMP(mach_load(&m, path, &e), ==, 0);
    if (set) TU_ASSERT_CMP(mach_set(&m, set, &e), ==, 0);
    return m;
}

/* The file's distributions in the model; every parameter set by name that replaces what they
 * say drops them; a file with a curve of its own drops the distributions of the machine it is
 * read over. */
static void test_format_and_drops(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s", write_machine("small", SMALL_DIST));
    struct machine m = load(path, NULL);
    CU_ASSERT_EQUAL(m.dist.npoints, 2);
    CU_ASSERT_EQUAL(m.dist.np, 3);
    CU_ASSERT(m.dist.has_signal);
    struct mach_model mm;
    mach_model_of(&m, &mm);
    CU_ASSERT_DOUBLE_EQUAL(mm.dist.wake[1][2], 40000, 1e-9); /* ns */
    CU_ASSERT_EQUAL(load(path, "wake_jitter=0.1").dist.npoints, 0);
    CU_ASSERT_EQUAL(load(path, "wake_warm_us=3").dist.npoints, 0);
    struct machine no_signal = load(path, "futex_wake_us=1");
    CU_ASSERT(no_signal.dist.npoints == 2 && !no_signal.dist.has_signal);
    CU_ASSERT_EQUAL(load(path, "cores=4").dist.npoints, 2);
    /* read over: a curve without distributions drops them; a file of other parameters not */
    const char *plain = write_machine("plain", "\"wake_curve_us\": [[0, 5], [10, 6]]");
    struct err e = {0};
    TU_ASSERT_CMP(mach_load(&m, plain, &e), ==, 0);
    CU_ASSERT_EQUAL(m.dist.npoints, 0);
    m = load(path, NULL);
    TU_ASSERT_CMP(mach_load(&m, write_machine("cores", "\"cores\": 8"), &e), ==, 0);
    CU_ASSERT_EQUAL(m.dist.npoints, 2);
    /* the trace's run.machine carries them */
    json_t *j = mach_to_json(&m);
    json_t *d = json_object_get(j, "wake_dist_us");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(d, "points")), 2);
    json_decref(j);
}

/* Quantiles linear between probabilities, then between idle times, flat beyond the ends; the
 * waker's cost at the same quantile; without it, the futex wake. */
static void test_draw(void)
{
    struct machine m = load(write_machine("small", SMALL_DIST), NULL);
    struct mach_model mm;
    mach_model_of(&m, &mm);
    struct {
        int64_t idle_ns;
        double u;
        int64_t latency, cost;
    } want[] = {
        {0, 0, 1000, 100},        {0, 0.25, 1500, 150},        {0, 0.75, 3000, 300},
        {50000, 0.5, 11000, 200}, {100000, 0.999, 39960, 400}, {10000000, 0.5, 20000, 200},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t lat, cost;
        mach_wake_draw(&mm, want[i].idle_ns, want[i].u, &lat, &cost);
        tu_context("idle %lld ns, u %g", (long long)want[i].idle_ns, want[i].u);
        TU_ASSERT_CMP(lat, ==, want[i].latency);
        TU_ASSERT_CMP(cost, ==, want[i].cost);
    }
    m = load(write_machine("small", SMALL_DIST), "futex_wake_us=1.5,futex_wake_cold_us=1.5");
    mach_model_of(&m, &mm);
    int64_t lat, cost;
    mach_wake_draw(&mm, 0, 0.5, &lat, &cost);
    TU_ASSERT_CMP(lat, ==, 2000);
    TU_ASSERT_CMP(cost, ==, 1500);
}

/* The echo client's race (tests/test_virtual.c, test_peer_regimes): the client is away from the
 * GIL for a futex wake + a send, 2 us; the CPU thread woken sooner than that takes the GIL and
 * the client waits a second interval. Every wake-up here takes 1 us (3 in 4) or 4 us, so each
 * round trip is a game of chance (several races a round trip: about a quarter of them come
 * out two intervals long); the curve's median, 2.5 us, is on the late side: never. */
#define RACE_BASE                                                                                  \
    "\"futex_wake_us\": 1, \"futex_wake_cold_us\": 1, \"syscall_us\": 1, \"clock_read_us\": "      \
    "0.025, \"lock_us\": 0.02, \"ctx_switch_us\": 2, \"wakeup_preempt_us\": 1000, "                \
    "\"sched_slice_us\": 3000, \"wake_jitter\": 0, \"wake_curve_us\": [[0, 2.5, 1], [1000, 2.5, "  \
    "1]]"
#define RACE_DIST                                                                                  \
    ", \"wake_dist_us\": {\"p\": [0, 0.749, 0.751, 1], \"points\": [{\"idle_us\": 0, "             \
    "\"wake_us\": [1, 1, 4, 4], \"signal_us\": [1, 1, 1, 1]}]}"

/* `gilsim run WHAT` on the virtual engine with this machine (and --machine-set), seed, trace. */
static void run_virtual(const char *what, const char *machine, const char *set,
                        unsigned long long seed, const char *trace)
{
    char args[2048];
    snprintf(args, sizeof args, "run %s -e virtual --machine '%s' %s%s --seed %llu -q -o '%s'",
             what, machine, set ? "--machine-set " : "", set ? set : "", seed, trace);
    CU_ASSERT_EQUAL_FATAL(tu_gilsim(args, NULL, NULL), 0);
}

/* The share of the client's round trips that took two intervals (>= 1.5 ms at 1 ms), and the
 * events of the run as text. */
static double echo_two(const char *machine, const char *set, unsigned long long seed, char **events)
{
    char trace[700];
    snprintf(trace, sizeof trace, "%s/echo-%llu.json", dir, seed);
    run_virtual("workloads/validation/echo-40us-cpu1.json -p new -s interval_us=1000 -d 1000",
                machine, set, seed, trace);
    char *text = tu_slurp(trace);
    *events = strdup(strstr(text, "\"events\"") ? strstr(text, "\"events\"") : "");
    free(text);
    struct trace *t = NULL;
    struct err e = {0};
    TU_ASSERT_CMP_FATAL(trace_read(trace, &t, &e), ==, 0);
    /* a round trip: from the release around the send, through the answer (io_end), to the
     * next acquire */
    int64_t began = 0;
    int phase = 0;
    size_t n = 0, two = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->tid != 0) continue; /* the client */
        switch (ev->ev) {
        case TRACE_EV_RELEASE:
            if (ev->reason == TRACE_REASON_SEND) began = ev->t, phase = 1;
            break;
        case TRACE_EV_IO_END:
            phase = phase == 1 ? 2 : 0;
            break;
        case TRACE_EV_ACQUIRE:
            if (phase == 2) n++, two += ev->t - began >= 1500000, phase = 0;
            break;
        default:
            break;
        }
    }
    trace_free(t);
    CU_ASSERT(n > 300);
    return n ? (double)two / (double)n : -1;
}

/* The race comes out as a probability; each run is the same for its seed, seeds differ; with
 * the distributions dropped (a jitter asked for by name) the median decides every round trip. */
static void test_race_as_probability(void)
{
    const char *path = write_machine("race", RACE_BASE RACE_DIST);
    char *a, *b, *c, *d;
    double s1 = echo_two(path, NULL, 1, &a), again = echo_two(path, NULL, 1, &b);
    double s2 = echo_two(path, NULL, 2, &c), medians = echo_two(path, "wake_jitter=0", 3, &d);
    printf("\n  two-interval round trips: %.3f and %.3f (seeds 1, 2), %.3f on the medians", s1, s2,
           medians);
    CU_ASSERT(s1 > 0.05 && s1 < 0.95);
    CU_ASSERT(s2 > 0.05 && s2 < 0.95);
    CU_ASSERT_DOUBLE_EQUAL(s1, again, 0);
    CU_ASSERT(a && b && strcmp(a, b) == 0); /* byte-identical for its seed */
    CU_ASSERT(a && c && strcmp(a, c) != 0); /* another seed, other draws */
    CU_ASSERT(medians < 0.05);
    free(a);
    free(b);
    free(c);
    free(d);
}

/* old's share of wake-ups that fail (its releaser takes the GIL back before the woken waiter
 * runs) on two CPU threads, over 300 ms: failed wake-ups per acquisition. */
static double old_failed_share(const char *machine, const char *set, unsigned long long seed)
{
    char trace[700], summary[700], args[2048];
    snprintf(trace, sizeof trace, "%s/old-%llu.json", dir, seed);
    snprintf(summary, sizeof summary, "%s/old-%llu.summary.json", dir, seed);
    run_virtual("workloads/cpu2.json -p old -d 300", machine, set, seed, trace);
    snprintf(args, sizeof args, "summary '%s' --json", trace);
    CU_ASSERT_EQUAL_FATAL(tu_gilsim(args, summary, NULL), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(summary, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    json_t *run = json_object_get(doc, "run");
    double failed = json_number_value(json_object_get(run, "failed_wakeups")),
           acquired = json_number_value(json_object_get(run, "acquisitions"));
    json_decref(doc);
    return acquired > 0 ? failed / acquired : -1;
}

/* old's race (the waiter's wake-up against its releaser's window to take the GIL back) as a
 * probability too: on the race machine a share of the wake-ups fail, another with each seed;
 * on its medians (every wake-up 2.5 us, past the window) nearly all do. */
static void test_old_race(void)
{
    const char *path = write_machine("race", RACE_BASE RACE_DIST);
    double s1 = old_failed_share(path, NULL, 1), s2 = old_failed_share(path, NULL, 2),
           medians = old_failed_share(path, "wake_jitter=0", 1);
    printf("\n  old's failed wake-ups per acquisition: %.3f and %.3f (seeds 1, 2), %.3f on the "
           "medians",
           s1, s2, medians);
    CU_ASSERT(s1 > 0.1 && s1 < 0.9);
    CU_ASSERT(s2 > 0.1 && s2 < 0.9);
    CU_ASSERT(s1 != s2);
    CU_ASSERT(medians > 0.95);
}

/* Invalid distributions: exit 2 with the place and what was expected. */
static void test_invalid(void)
{
    static const struct {
        const char *params, *message;
    } bad[] = {
        {"\"wake_dist_us\": {\"p\": [0, 1], \"points\": [{\"idle_us\": 0, \"wake_us\": [1, 2]}]}",
         "$.params.wake_dist_us: expected wake_curve_us beside it"},
        {"\"wake_curve_us\": [[0, 1], [9, 2]], \"wake_dist_us\": {\"p\": [0, 0.5], \"points\": "
         "[{\"idle_us\": 0, \"wake_us\": [1, 2]}]}",
         "$.params.wake_dist_us.p: expected 2 to 32 probabilities ascending from 0 to 1"},
        {"\"wake_curve_us\": [[0, 1], [9, 2]], \"wake_dist_us\": {\"p\": [0, 1], \"points\": "
         "[{\"idle_us\": 0, \"wake_us\": [2, 1]}]}",
         "$.params.wake_dist_us.points[0].wake_us: expected 2 quantiles"},
        {"\"wake_curve_us\": [[0, 1], [9, 2]], \"wake_dist_us\": {\"p\": [0, 1], \"points\": "
         "[{\"idle_us\": 5, \"wake_us\": [1, 2]}, {\"idle_us\": 5, \"wake_us\": [1, 2]}]}",
         "$.params.wake_dist_us.points[1].idle_us: expected an idle time above the previous"},
        {"\"wake_curve_us\": [[0, 1], [9, 2]], \"wake_dist_us\": {\"p\": [0, 1], \"points\": "
         "[{\"idle_us\": 0}]}",
         "$.params.wake_dist_us.points[0]: missing field \"wake_us\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32], args[1024], err[700];
        snprintf(name, sizeof name, "bad-%zu", i);
        const char *path = write_machine(name, bad[i].params);
        snprintf(err, sizeof err, "%s/err.txt", dir);
        snprintf(args, sizeof args, "machines --machine '%s'", path);
        tu_context("%s", bad[i].params);
        CU_ASSERT_EQUAL(tu_gilsim(args, NULL, err), 2);
        CU_ASSERT(tu_file_has(err, bad[i].message));
    }
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/distributions-%d", GILSIM_BINARY_DIR, (int)getpid());
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) return 1;
    CU_TestInfo tests[] = {
        {"the file's distributions, and what drops them", test_format_and_drops},
        {"a draw: quantiles between probabilities and idle times", test_draw},
        {"a race as a probability, the same for its seed", test_race_as_probability},
        {"old's failed wake-ups as a probability", test_old_race},
        {"invalid distributions", test_invalid},
        CU_TEST_INFO_NULL,
    };
    int rc = tu_main("distributions", tests);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
