/* tests/test_metrics.c - the metrics of docs/metrics.md on hand-written traces whose answers
 * were worked out by hand (tests/data/traces/README.md shows the arithmetic): percentiles,
 * slices, hand-off gaps, switches, forced switches, I/O response, sleep overshoot, request
 * latency, busy/idle fractions, Jain's index; and the edge cases: no events, a thread that
 * never got the GIL, a partial trace, overlapping holders under `none`. Every value is read
 * from the `gilsim summary --json` document, the contract users see. And the verdict on a
 * disturbed real run (analysis/disturb.c) from the checks a trace records. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/disturb.h"
#include "analysis/metrics.h"
#include "testutil.h"

#define NUL_ NAN /* expect JSON null */

struct expect {
    const char *path; /* dotted: "run.gil_wait.p50_ns", "threads.1.slice.count" */
    double value;
};

static json_t *at(json_t *doc, const char *path)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = doc;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, strtoul(k, NULL, 10)) : json_object_get(v, k);
    return v;
}

static json_t *summarize(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/traces/%s", name);
    const char *path = tu_src(rel);
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    struct err e = {0};
    int rc = met_summarize_file(path, 0, &m, &hdr, &e);
    TU_ASSERT_NO_PROBLEM(rc ? e.msg : NULL);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    json_t *doc = met_to_json(m, name);
    CU_ASSERT_PTR_NOT_NULL(doc);
    met_free(m);
    trace_free(hdr);
    return doc;
}

static void check(const char *name, const struct expect *x, size_t n)
{
    json_t *doc = summarize(name);
    if (!doc) return;
    for (size_t i = 0; i < n; i++) {
        json_t *v = at(doc, x[i].path);
        bool ok;
        if (isnan(x[i].value))
            ok = json_is_null(v);
        else if (json_is_boolean(v))
            ok = (json_is_true(v) ? 1.0 : 0.0) == x[i].value;
        else if (json_is_integer(v))
            ok = (double)json_integer_value(v) == x[i].value;
        else if (json_is_real(v))
            ok = fabs(json_real_value(v) - x[i].value) <= 1e-9 * fmax(1, fabs(x[i].value));
        else
            ok = false;
        char problem[256] = "";
        if (!ok) {
            char *got = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
            snprintf(problem, sizeof problem, "%s: %s = %s, expected %.12g", name, x[i].path,
                     got ? got : "(absent)", x[i].value);
            free(got);
        }
        TU_ASSERT_NO_PROBLEM(ok ? NULL : problem);
    }
    json_decref(doc);
}

#define CHECK(name, ...)                                                                           \
    do {                                                                                           \
        static const struct expect x_[] = {__VA_ARGS__};                                           \
        check(name, x_, sizeof x_ / sizeof x_[0]);                                                 \
    } while (0)

/* Two CPU threads handing the GIL over (fifo-like), window 1000 ns. */
static void test_handoff(void)
{
    CHECK("handoff.json", {"events", 26}, {"window_ns", 1000}, {"complete", 1},
          /* waits 10, 340, 10 (cpu.0) and 110, 10, 5 (cpu.1) */
          {"run.gil_wait.count", 6}, {"run.gil_wait.p50_ns", 10}, {"run.gil_wait.p90_ns", 340},
          {"run.gil_wait.p99_ns", 340}, {"run.gil_wait.p999_ns", 340}, {"run.gil_wait.max_ns", 340},
          {"run.gil_wait.mean_ns", 485.0 / 6}, {"threads.0.gil_wait.mean_ns", 120},
          {"threads.1.gil_wait.p50_ns", 10}, {"threads.1.gil_wait.max_ns", 110},
          /* slices 90, 150, 40 and 70, 80, 90 */
          {"run.slice.count", 6}, {"run.slice.p50_ns", 80}, {"run.slice.p90_ns", 150},
          {"run.slice.mean_ns", 520.0 / 6}, {"threads.0.slice.p50_ns", 90},
          {"threads.1.slice.max_ns", 90},
          /* hand-offs: 100->130 to cpu.1, 400->450 to cpu.0; 200 and 300 re-acquired */
          {"run.handoff_gap.count", 2}, {"run.handoff_gap.p50_ns", 30},
          {"run.handoff_gap.max_ns", 50}, {"run.handoff_gap.mean_ns", 40},
          {"threads.1.handoff_gap.p50_ns", 30}, {"threads.0.handoff_gap.p50_ns", 50},
          {"run.acquisitions", 6}, {"run.switches", 2}, {"run.reacquires", 3},
          {"threads.1.reacquires", 2}, {"threads.0.switches", 1},
          /* drop at 100 went to the other thread; drop at 300 was re-acquired by its holder */
          {"run.forced_switches", 1}, {"threads.0.forced_switches", 1},
          {"threads.1.forced_switches", 0}, {"run.drop_requests", 2},
          {"threads.1.drop_requests", 1}, {"run.wait_timeouts", 1}, {"threads.1.wait_timeouts", 1},
          {"run.failed_wakeups", 1}, {"threads.0.failed_wakeups", 1},
          /* held 520 of 1000 ns; idle with a waiter 10+30+20+10+50+10 = 130 */
          {"run.gil_busy", 0.52}, {"run.gil_idle_with_waiters", 0.13}, {"run.ticks", 420},
          {"run.ticks_per_s", 4.2e8}, {"threads.0.ticks_per_s", 3e8},
          /* shares 300 and 120 of 420 */
          {"run.fairness.threads", 2}, {"run.fairness.jain", 176400.0 / 208800},
          {"run.fairness.max_share", 300.0 / 420}, {"run.fairness.min_share", 120.0 / 420},
          {"run.fairness.max_min_ratio", 2.5}, {"threads.0.unserved_wait_ns", 0}, {"run.io_ops", 0},
          {"run.io_response.count", 0}, {"run.io_response.p50_ns", NUL_});
}

/* A CPU thread beside one that does an I/O, a sleep and two serve requests; no elapsed_ns, so
 * the window ends at the last event (8000 ns). */
static void test_io_sleep_serve(void)
{
    CHECK("io-sleep-serve.json", {"window_ns", 8000},
          /* io_end 1800, request 1810, acquire 4050 */
          {"run.io_response.count", 1}, {"run.io_response.p50_ns", 2250},
          {"threads.1.io_response.max_ns", 2250}, {"run.io_ops", 1}, {"run.io_per_s", 125000},
          {"threads.1.io_per_s", 125000}, {"threads.0.io_ops", 0},
          /* sleep_begin 4100 + 1000 = 5100; acquire 6020 */
          {"run.sleep_overshoot.count", 1}, {"run.sleep_overshoot.p50_ns", 920},
          /* done 6500 - at 6000, done 6600 - at 6400 */
          {"run.request_latency.count", 2}, {"run.request_latency.p50_ns", 200},
          {"run.request_latency.p90_ns", 500}, {"run.request_latency.mean_ns", 350},
          {"run.requests", 2}, {"run.requests_per_s", 250000},
          /* waits 0, 300, 150, 1010 and 1100, 2240, 920 */
          {"run.gil_wait.count", 7}, {"run.gil_wait.p50_ns", 920}, {"run.gil_wait.p90_ns", 2240},
          {"run.gil_wait.mean_ns", 5720.0 / 7}, {"threads.0.gil_wait.p50_ns", 150},
          {"threads.0.gil_wait.p90_ns", 1010}, {"run.handoff_gap.count", 6},
          {"run.handoff_gap.p50_ns", 50}, {"run.handoff_gap.max_ns", 100},
          {"run.handoff_gap.mean_ns", 55}, {"threads.1.handoff_gap.count", 3},
          {"run.acquisitions", 7}, {"run.switches", 6}, {"run.reacquires", 0},
          {"run.forced_switches", 3}, {"threads.0.forced_switches", 3},
          {"run.gil_busy", 7670.0 / 8000}, {"run.gil_idle_with_waiters", 330.0 / 8000},
          {"run.ticks", 80}, {"run.ticks_per_s", 1e7},
          /* only cpu.0 is CPU-bound: no index for one thread */
          {"threads.0.cpu_bound", 1}, {"threads.1.cpu_bound", 0}, {"run.fairness.threads", 1},
          {"run.fairness.jain", NUL_}, {"run.fairness.max_min_ratio", NUL_});
}

/* cpu.1 waits from 10 until it exits at 950 without the GIL. */
static void test_never_acquired(void)
{
    CHECK("never-acquired.json", {"threads.1.acquisitions", 0}, {"threads.1.unserved_wait_ns", 940},
          {"threads.1.gil_wait.count", 0}, {"threads.1.gil_wait.p50_ns", NUL_},
          {"threads.1.gil_wait.mean_ns", NUL_}, {"threads.1.slice.max_ns", NUL_},
          {"threads.0.unserved_wait_ns", 0}, {"run.gil_wait.count", 1}, {"run.gil_wait.p50_ns", 0},
          /* the release at 900 had a waiter, but nobody acquired after it: no sample */
          {"run.handoff_gap.count", 0}, {"run.gil_busy", 0.9}, {"run.gil_idle_with_waiters", 0.05},
          /* ticks 500 and 0: J = 500^2 / (2 * 500^2) */
          {"run.fairness.threads", 2}, {"run.fairness.jain", 0.5}, {"run.fairness.max_share", 1},
          {"run.fairness.min_share", 0}, {"run.fairness.max_min_ratio", NUL_});
}

static void test_empty(void)
{
    CHECK("empty.json", {"events", 0}, {"window_ns", 0}, {"complete", 1}, {"run.gil_busy", NUL_},
          {"run.gil_idle_with_waiters", NUL_}, {"run.ticks_per_s", NUL_}, {"run.io_per_s", NUL_},
          {"run.acquisitions", 0}, {"run.gil_wait.count", 0}, {"run.gil_wait.p50_ns", NUL_},
          {"run.fairness.threads", 0}, {"run.fairness.jain", NUL_}, {"threads.0.cpu_bound", 0},
          {"threads.0.unserved_wait_ns", 0});
}

/* Buffers filled: cpu.1's record stops waiting at 1600; cpu.0 holds from 1700 to the end. */
static void test_partial(void)
{
    CHECK("partial.json", {"complete", 0}, {"events_dropped", 5}, {"window_ns", 2000},
          {"run.gil_wait.count", 3}, {"run.gil_wait.p50_ns", 600},
          {"threads.0.gil_wait.max_ns", 700}, {"threads.1.unserved_wait_ns", 400},
          {"threads.0.unserved_wait_ns", 0}, {"run.slice.count", 2}, {"run.slice.max_ns", 900},
          {"run.gil_busy", 0.85}, {"run.gil_idle_with_waiters", 0.15}, {"run.handoff_gap.count", 2},
          {"run.handoff_gap.p50_ns", 100}, {"run.switches", 2}, {"run.forced_switches", 1},
          {"run.ticks", 60});
    /* the text summary says it is partial */
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(
        met_summarize_file(tu_src("tests/data/traces/partial.json"), 0, &m, &hdr, &e), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    met_print(m, "partial.json", f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "PARTIAL"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "5 events were dropped"));
    free(text);
    met_free(m);
    trace_free(hdr);
}

/* Under none two threads hold at once: busy is the union, 0..800 of 1000. */
static void test_none_overlap(void)
{
    CHECK("none-overlap.json", {"run.gil_busy", 0.8}, {"run.gil_idle_with_waiters", 0},
          {"run.slice.count", 2}, {"run.slice.p50_ns", 600}, {"run.acquisitions", 2},
          {"run.switches", 1}, {"run.handoff_gap.count", 0}, {"run.fairness.jain", 1},
          {"run.fairness.max_min_ratio", 1});
}

/* Nearest rank, p_q = x[ceil(q n)], and Jain's index over the CPU-bound threads only.
 * cpu.0 waits (in time order) 70 10 100 40 90 20 60 30 80 50 -> sorted 10..100, n = 10:
 *   p50 = x[5] = 50, p90 = x[9] = 90 (not x[10]: ceil(9.0) = 9), p99 = x[ceil 9.9] = 100,
 *   p99.9 = 100, max 100, mean 550/10 = 55.
 * cpu.1 waits 30 10 40 20 -> 10 20 30 40: p50 = x[2] = 20, p90 = p99 = p99.9 = x[4] = 40, mean 25.
 * io.0 waits 0 (5600->5600) and 50 (5800->5850) -> p50 = x[1] = 0, p90 = x[2] = 50.
 * Run waits, n = 16: 0 10 10 20 20 30 30 40 40 50 50 60 70 80 90 100:
 *   p50 = x[8] = 40, p90 = x[ceil 14.4] = x[15] = 90, p99 = x[16] = 100, mean 700/16 = 43.75.
 * Slices: cpu.0 500 - w = 430 490 400 460 410 480 440 470 420 450 (p50 x[5] = 440, p90 480,
 *   mean 445); cpu.1 300 - w = 270 290 260 280 (p50 270, mean 275); io.0 100, 50. Run, n = 16:
 *   50 100 260 270 280 290 400 410 ... 490: p50 = x[8] = 410, p90 = x[15] = 480,
 *   mean (4450 + 1100 + 150)/16 = 356.25.
 * Every wait is on a free GIL and no release had a waiter: busy 5700/10000, idle with waiters
 *   = the waits, 700/10000, no hand-off gap.
 * Acquirers: c0 c1 c0 c1 c0 c1 c0 c1 c0 | c0 io io c0 c0 c0 c0: 10 switches (c0 5, c1 4, io 1),
 *   5 reacquires (c0 4, io 1).
 * io_response: acquire 5850 - io_end 5800 = 50; 1 I/O in 10000 ns = 1e5/s.
 * Ticks 300, 100, 200 = 600 -> 6e7/s. io.0 did I/O: fairness over cpu.0 and cpu.1 only,
 *   J = 400^2 / (2 (300^2 + 100^2)) = 160000/200000 = 0.8, shares 0.75 / 0.25, ratio 3
 *   (with io.0 it would be 600^2 / (3 * 140000) = 0.857). */
static void test_percentiles_fairness(void)
{
    CHECK("percentiles.json", {"events", 56}, {"window_ns", 10000}, {"complete", 1},
          {"threads.0.gil_wait.count", 10}, {"threads.0.gil_wait.p50_ns", 50},
          {"threads.0.gil_wait.p90_ns", 90}, {"threads.0.gil_wait.p99_ns", 100},
          {"threads.0.gil_wait.p999_ns", 100}, {"threads.0.gil_wait.max_ns", 100},
          {"threads.0.gil_wait.mean_ns", 55}, {"threads.1.gil_wait.count", 4},
          {"threads.1.gil_wait.p50_ns", 20}, {"threads.1.gil_wait.p90_ns", 40},
          {"threads.1.gil_wait.p99_ns", 40}, {"threads.1.gil_wait.p999_ns", 40},
          {"threads.1.gil_wait.max_ns", 40}, {"threads.1.gil_wait.mean_ns", 25},
          {"threads.2.gil_wait.count", 2}, {"threads.2.gil_wait.p50_ns", 0},
          {"threads.2.gil_wait.p90_ns", 50}, {"threads.2.gil_wait.mean_ns", 25},
          {"run.gil_wait.count", 16}, {"run.gil_wait.p50_ns", 40}, {"run.gil_wait.p90_ns", 90},
          {"run.gil_wait.p99_ns", 100}, {"run.gil_wait.p999_ns", 100}, {"run.gil_wait.max_ns", 100},
          {"run.gil_wait.mean_ns", 43.75}, {"threads.0.slice.count", 10},
          {"threads.0.slice.p50_ns", 440}, {"threads.0.slice.p90_ns", 480},
          {"threads.0.slice.max_ns", 490}, {"threads.0.slice.mean_ns", 445},
          {"threads.1.slice.p50_ns", 270}, {"threads.1.slice.mean_ns", 275},
          {"run.slice.count", 16}, {"run.slice.p50_ns", 410}, {"run.slice.p90_ns", 480},
          {"run.slice.p99_ns", 490}, {"run.slice.mean_ns", 356.25}, {"run.handoff_gap.count", 0},
          {"run.handoff_gap.p50_ns", NUL_}, {"run.gil_busy", 0.57},
          {"run.gil_idle_with_waiters", 0.07}, {"run.acquisitions", 16}, {"run.switches", 10},
          {"run.reacquires", 5}, {"threads.0.acquisitions", 10}, {"threads.0.switches", 5},
          {"threads.0.reacquires", 4}, {"threads.1.switches", 4}, {"threads.1.reacquires", 0},
          {"threads.2.switches", 1}, {"threads.2.reacquires", 1}, {"run.forced_switches", 0},
          {"run.drop_requests", 0}, {"run.io_response.count", 1}, {"run.io_response.p50_ns", 50},
          {"threads.2.io_response.max_ns", 50}, {"threads.0.io_response.count", 0},
          {"run.io_ops", 1}, {"run.io_per_s", 1e5}, {"threads.2.io_per_s", 1e5},
          {"threads.0.io_per_s", 0}, {"run.sleep_overshoot.count", 0},
          {"run.request_latency.count", 0}, {"run.requests", 0}, {"run.requests_per_s", 0},
          {"run.ticks", 600}, {"run.ticks_per_s", 6e7}, {"threads.0.ticks", 300},
          {"threads.0.ticks_per_s", 3e7}, {"threads.1.ticks_per_s", 1e7}, {"threads.2.ticks", 200},
          {"threads.0.cpu_bound", 1}, {"threads.1.cpu_bound", 1}, {"threads.2.cpu_bound", 0},
          {"run.fairness.threads", 2}, {"run.fairness.jain", 0.8}, {"run.fairness.max_share", 0.75},
          {"run.fairness.min_share", 0.25}, {"run.fairness.max_min_ratio", 3},
          {"threads.0.unserved_wait_ns", 0}, {"threads.1.unserved_wait_ns", 0},
          {"threads.2.unserved_wait_ns", 0});
}

/* run.elapsed_ns is 500 but the last event is at 1000: "T is run.elapsed_ns when the trace has
 * it (and it is not before the last event), otherwise the time of the last event", so T = 1000.
 * Wait [0,200] on a free GIL, hold [200,1000]: busy 0.8, idle with a waiter 0.2, 50 ticks in
 * 1000 ns = 5e7/s. One CPU-bound thread: no index. */
static void test_elapsed_before_last_event(void)
{
    CHECK("elapsed-early.json", {"window_ns", 1000}, {"run.gil_busy", 0.8},
          {"run.gil_idle_with_waiters", 0.2}, {"run.ticks_per_s", 5e7},
          {"run.gil_wait.p50_ns", 200}, {"run.slice.p50_ns", 800}, {"run.acquisitions", 1},
          {"run.switches", 0}, {"run.reacquires", 0}, {"run.fairness.threads", 1},
          {"run.fairness.jain", NUL_}, {"run.fairness.max_share", NUL_});
}

/* Wait attribution (the README's arithmetic): a wait spanning several holders is split among
 * them; while two hold at once (a from 600 beside c) the one holding longer (c) is charged;
 * free stretches go to "(free)"; b's wait that ends at its exit and c's still open at the end of
 * the window count too; every row sums to the thread's waits + unserved wait. */
static void test_attribution(void)
{
    CHECK(
        "attribution.json", {"window_ns", 1000},
        /* a: [310,600] behind b 180, c 100, free 10 (its [0,0] wait is empty) */
        {"wait_attribution.0.waiter", 0}, {"wait_attribution.0.wait_ns", 290},
        {"wait_attribution.0.by_holder.0.holder", 1}, {"wait_attribution.0.by_holder.0.ns", 180},
        {"wait_attribution.0.by_holder.0.share", 180.0 / 290},
        {"wait_attribution.0.by_holder.1.holder", 2}, {"wait_attribution.0.by_holder.1.ns", 100},
        {"wait_attribution.0.by_holder.2.holder", NUL_}, {"wait_attribution.0.by_holder.2.ns", 10},
        /* b: [100,320] a 200, free 20; [800,850] (exit without the GIL) a 50 */
        {"wait_attribution.1.wait_ns", 270}, {"wait_attribution.1.by_holder.0.holder", 0},
        {"wait_attribution.1.by_holder.0.ns", 250}, {"wait_attribution.1.by_holder.1.ns", 20},
        {"threads.1.unserved_wait_ns", 50},
        /* c: [200,500] a 100, free 20, b 180; [960,1000] (open at the end) w 20, free 20 */
        {"wait_attribution.2.wait_ns", 340}, {"wait_attribution.2.by_holder.0.ns", 100},
        {"wait_attribution.2.by_holder.1.ns", 180}, {"wait_attribution.2.by_holder.2.holder", 3},
        {"wait_attribution.2.by_holder.2.ns", 20}, {"wait_attribution.2.by_holder.3.ns", 40},
        {"threads.2.unserved_wait_ns", 40},
        /* w: [50,950]: a 250 + 200, free 20 + 50, b 180, c 200 (with a beside it 600..700) */
        {"wait_attribution.3.wait_ns", 900}, {"wait_attribution.3.by_holder.0.ns", 450},
        {"wait_attribution.3.by_holder.0.share", 0.5}, {"wait_attribution.3.by_holder.1.ns", 180},
        {"wait_attribution.3.by_holder.2.holder", 2}, {"wait_attribution.3.by_holder.2.ns", 200},
        {"wait_attribution.3.by_holder.3.holder", NUL_}, {"wait_attribution.3.by_holder.3.ns", 70},
        {"wait_attribution.3.by_holder.3.share", 70.0 / 900}, {"run.gil_wait.count", 5},
        {"run.gil_wait.max_ns", 900});
    /* never-acquired.json: cpu.1 waited [10,950] behind cpu.0 until 900, then on a free GIL */
    CHECK("never-acquired.json", {"wait_attribution.1.wait_ns", 940},
          {"wait_attribution.1.by_holder.0.holder", 0}, {"wait_attribution.1.by_holder.0.ns", 890},
          {"wait_attribution.1.by_holder.1.ns", 50}, {"wait_attribution.0.wait_ns", 0});
    /* empty: one row per thread, nothing in it */
    json_t *doc = summarize("empty.json");
    json_t *rows = at(doc, "wait_attribution");
    CU_ASSERT_EQUAL(json_array_size(rows), 1);
    CU_ASSERT_EQUAL(json_array_size(at(doc, "wait_attribution.0.by_holder")), 0);
    json_decref(doc);

    /* the text summary prints the matrix */
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(
        met_summarize_file(tu_src("tests/data/traces/attribution.json"), 0, &m, &hdr, &e), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    met_print(m, "attribution.json", f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "wait attribution"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "\nw                 900 ns  450 ns 50.0%      180 ns 20.0%"));
    free(text);
    met_free(m);
    trace_free(hdr);
}

/* objects.json (tests/data/traces/README.md works every figure out): per object waits, holds,
 * queue length and item latency, and the object waits charged to a lock's holder or to the
 * object. */
static void test_objects(void)
{
    CHECK("objects.json", {"objects.0.acquires", 3}, {"objects.0.hold.count", 3},
          {"objects.0.hold.p50_ns", 40}, {"objects.0.hold.max_ns", 90},
          {"objects.0.waits.0.count", 1}, {"objects.0.waits.0.p50_ns", 140}, {"objects.1.puts", 3},
          {"objects.1.gets", 3}, {"objects.1.gets_per_s", 3e6}, {"objects.1.length_mean", 0.46},
          {"objects.1.length_max", 2}, {"objects.1.item_latency.count", 3},
          {"objects.1.item_latency.p50_ns", 170}, {"objects.1.item_latency.max_ns", 190},
          {"objects.1.item_latency.mean_ns", 460.0 / 3}, {"objects.1.waits.0.p50_ns", 200},
          {"objects.1.waits.0.timed_out", 1}, {"objects.1.waits.1.p50_ns", 100},
          {"objects.1.waits.1.timed_out", 0}, {"objects.2.sets", 1}, {"objects.2.clears", 1},
          {"objects.2.waits.0.p50_ns", 55},
          /* b: jobs (empty) 200, mu held by a 80, by c 40, free 20 */
          {"wait_attribution.1.object_wait_ns", 340}, {"wait_attribution.1.by_object.0.ns", 200},
          {"wait_attribution.1.by_object.1.holder", 0}, {"wait_attribution.1.by_object.1.ns", 80},
          {"wait_attribution.1.by_object.2.holder", 2}, {"wait_attribution.1.by_object.2.ns", 40},
          {"wait_attribution.1.by_object.3.holder", NUL_},
          {"wait_attribution.1.by_object.3.ns", 20},
          /* c: jobs (full) 100, ev (not set) 55 */
          {"wait_attribution.2.object_wait_ns", 155}, {"wait_attribution.2.by_object.0.ns", 100},
          {"wait_attribution.2.by_object.1.ns", 55}, {"wait_attribution.0.object_wait_ns", 0});
    json_t *doc = summarize("objects.json");
    CU_ASSERT_STRING_EQUAL(json_string_value(at(doc, "objects.1.waits.0.op")), "get");
    CU_ASSERT_STRING_EQUAL(json_string_value(at(doc, "wait_attribution.1.by_object.0.name")),
                           "(empty)");
    CU_ASSERT_STRING_EQUAL(json_string_value(at(doc, "wait_attribution.2.by_object.1.name")),
                           "(not set)");
    json_decref(doc);
    /* no objects: no "objects" key */
    doc = summarize("handoff.json");
    CU_ASSERT_PTR_NULL(json_object_get(doc, "objects"));
    json_decref(doc);
}

/* The samples behind the percentiles (tools/plot-cdf draws them): handoff.json's waits per
 * thread as its README works out, sorted; none kept unless asked for. */
static void test_samples(void)
{
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    struct err e = {0};
    const char *path = tu_src("tests/data/traces/handoff.json");
    CU_ASSERT_EQUAL_FATAL(met_summarize_file(path, MET_KEEP_SAMPLES, &m, &hdr, &e), 0);
    int wait = met_latency_index("gil_wait"), gap = met_latency_index("handoff_gap");
    CU_ASSERT_FATAL(wait >= 0 && gap >= 0);
    CU_ASSERT_STRING_EQUAL(met_latency_name((unsigned)wait), "gil_wait");
    CU_ASSERT_EQUAL(met_latency_index("no_such_metric"), -1);
    const int64_t *v;
    CU_ASSERT_EQUAL_FATAL(met_samples(m, (unsigned)wait, 0, &v), 3);
    CU_ASSERT(v[0] == 10 && v[1] == 10 && v[2] == 340);
    CU_ASSERT_EQUAL_FATAL(met_samples(m, (unsigned)wait, 1, &v), 3);
    CU_ASSERT(v[0] == 5 && v[1] == 10 && v[2] == 110);
    /* the gap belongs to the thread that took the GIL over */
    CU_ASSERT_EQUAL_FATAL(met_samples(m, (unsigned)gap, 1, &v), 1);
    CU_ASSERT_EQUAL(v[0], 30);
    CU_ASSERT_EQUAL(met_samples(m, (unsigned)wait, 2, &v), 0); /* no thread 2 */
    met_free(m);
    trace_free(hdr);

    CU_ASSERT_EQUAL_FATAL(met_summarize_file(path, 0, &m, &hdr, &e), 0);
    CU_ASSERT_EQUAL(met_samples(m, (unsigned)wait, 0, &v), 0);
    CU_ASSERT_PTR_NULL(v);
    met_free(m);
    trace_free(hdr);
}

static void test_not_a_trace(void)
{
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    struct err e = {0};
    const char *path = tu_src("tests/data/valid/finite.json");
    CU_ASSERT_EQUAL(met_summarize_file(path, 0, &m, &hdr, &e), ERR_INPUT);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NULL(hdr);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "finite.json:1:"));
    CU_ASSERT_EQUAL(met_summarize_file("/nonexistent/trace.json", 0, &m, &hdr, &e), ERR_INPUT);
}

/* A run object as the real engine writes it: 2 CPUs, a 1 s run of threads that were on a
 * core `on` ms and waited `wait` ms for one, while the CPUs were busy `busy` ms (gilsim's own
 * share `self` ms); the tick at start-up and after. */
static json_t *checked_run(double start_ns, double end_ns, double on, double wait, double busy,
                           double self)
{
    return json_pack("{sI s{sI sf sf} s{sI sI sI sI sI}}", "elapsed_ns", (json_int_t)1000000000,
                     "calibration", "tick_ns_target", (json_int_t)50, "ns_per_tick", start_ns,
                     "ns_per_tick_end", end_ns, "host_load", "cpus", (json_int_t)2, "on_cpu_ns",
                     (json_int_t)(on * 1e6), "run_queue_wait_ns", (json_int_t)(wait * 1e6),
                     "cpus_busy_ns", (json_int_t)(busy * 1e6), "self_cpu_ns",
                     (json_int_t)(self * 1e6));
}

/* analysis/disturb.c: a tick off its target, or waits for a core that other processes explain,
 * make a run disturbed; the workload's own crowding, or others running while it sleeps, do
 * not; a trace without the checks (the virtual engine) is never disturbed. */
static void test_disturbed(void)
{
    struct {
        const char *what;
        double start, end, on, wait, busy, self;
        bool disturbed;
    } cases[] = {
        {"quiet", 50.5, 49.8, 1000, 20, 1030, 1000, false},
        {"tick calibrated under load", 77.8, 50.1, 1000, 20, 1030, 1000, true},
        {"tick too short with the run's iterations", 50.2, 17.5, 1000, 20, 1030, 1000, true},
        {"4 threads crowding 2 CPUs, nobody else", 50, 50, 2000, 2000, 2010, 2000, false},
        {"others ran while its thread slept", 50, 50, 100, 5, 1800, 100, false},
        {"its thread waited while others ran", 50, 50, 600, 400, 2000, 600, true},
        {"waits a tenth of the run: the threshold", 50, 50, 900, 99, 2000, 900, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *run = checked_run(cases[i].start, cases[i].end, cases[i].on, cases[i].wait,
                                  cases[i].busy, cases[i].self);
        struct disturb d;
        disturb_judge(run, &d);
        tu_context("%s: %s", cases[i].what, d.why);
        CU_ASSERT(d.checked);
        CU_ASSERT_EQUAL(d.disturbed, cases[i].disturbed);
        CU_ASSERT_EQUAL(d.why[0] != '\0', cases[i].disturbed);
        json_decref(run);
    }
    /* the tick after the run unmeasurable (null): the one at start-up is still judged */
    json_t *run = checked_run(80, 50, 1000, 20, 1030, 1000);
    json_object_set_new(json_object_get(run, "calibration"), "ns_per_tick_end", json_null());
    struct disturb half;
    disturb_judge(run, &half);
    CU_ASSERT(half.checked && half.disturbed && isnan(half.tick_end_error));
    json_decref(run);
    json_t *virt = json_pack("{sI s{sI sf}}", "elapsed_ns", (json_int_t)1000000000, "calibration",
                             "tick_ns_target", (json_int_t)50, "ns_per_tick", 50.0);
    struct disturb d;
    disturb_judge(virt, &d);
    CU_ASSERT(!d.checked && !d.disturbed);
    json_t *j = disturb_json(&d);
    CU_ASSERT(json_is_false(json_object_get(j, "checked")));
    json_decref(j);
    json_decref(virt);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"hand-off: waits, slices, gaps, switches, fairness", test_handoff},
        {"I/O response, sleep overshoot, request latency", test_io_sleep_serve},
        {"a thread that never got the GIL", test_never_acquired},
        {"a trace without events", test_empty},
        {"a partial trace", test_partial},
        {"none: overlapping holders", test_none_overlap},
        {"nearest-rank percentiles; Jain over CPU-bound threads", test_percentiles_fairness},
        {"window: elapsed_ns before the last event", test_elapsed_before_last_event},
        {"objects: waits, holds, queues, attribution to holders", test_objects},
        {"wait attribution: waiter x holder", test_attribution},
        {"latency samples kept for CDFs", test_samples},
        {"not a trace", test_not_a_trace},
        {"disturbed runs: the tick, waits for a core", test_disturbed},
        CU_TEST_INFO_NULL,
    };
    return tu_main("metrics", tests);
}
