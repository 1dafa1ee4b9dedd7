/* tests/test_trace.c - the trace file: every documented top-level and run key is present, a
 * full event buffer gives complete: false with the count dropped, and the writer leaves
 * nothing behind when it is aborted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "policies/registry.h"
#include "sim/trace_write.h"
#include "sim/wl.h"
#include "testutil.h"

static void test_keys_present(void)
{
    struct tu_run r = {.workload = "workloads/convoy.json",
                       .policy = "new",
                       .duration_ms = 200,
                       .seed = 9,
                       .sets = {"interval_us=1000"}};
    struct trace *t = tu_run_trace(&r, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    static const char *const run_keys[] = {
        "gilsim_version",        "workload",  "policy",      "params",     "seed",
        "duration_ms",           "start_utc", "stop_ns",     "elapsed_ns", "stop_reason",
        "max_events_per_thread", "host",      "calibration", NULL};
    for (const char *const *k = run_keys; *k; k++) {
        char missing[64];
        snprintf(missing, sizeof missing, "run.%s missing", *k);
        TU_ASSERT_NO_PROBLEM(json_object_get(t->run, *k) ? NULL : missing);
    }
    json_t *wl = json_object_get(t->run, "workload");
    CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(wl, "sha256"))), 64);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(wl, "name")), "convoy");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(t->run, "seed")), 9);
    CU_ASSERT_EQUAL(trace_param(t, "interval_us", -1), 1000);
    CU_ASSERT_EQUAL(trace_param(t, "force_switching", -1), 1);
    json_t *cal = json_object_get(t->run, "calibration");
    /* The tick measured in ns near the workload's 50: each calibration sample is stretched by
     * the time the thread spends off its core, so a loaded machine may report several times the
     * target; a value in other units (s, us) or none at all is outside these bounds. */
    double ns = json_number_value(json_object_get(cal, "ns_per_tick"));
    TU_ASSERT_CMP(ns, >, 1.0);
    TU_ASSERT_CMP(ns, <, 50.0 * 1000);
    json_t *host = json_object_get(t->run, "host");
    CU_ASSERT(json_integer_value(json_object_get(host, "cpus")) >= 1);
    CU_ASSERT_PTR_NOT_NULL(json_string_value(json_object_get(host, "kernel")));
    CU_ASSERT_EQUAL(t->nthreads, 2);
    CU_ASSERT_STRING_EQUAL(t->threads[0].name, "cpu.0");
    CU_ASSERT_STRING_EQUAL(t->threads[1].group, "io");
    CU_ASSERT(t->complete);
    CU_ASSERT_EQUAL(t->events_dropped, 0);
    /* the op events of the workload appear */
    int seen[TRACE_EV_COUNT] = {0};
    for (size_t i = 0; i < t->nevents; i++)
        seen[t->events[i].ev]++;
    CU_ASSERT(seen[TRACE_EV_IO_BEGIN] > 0 && seen[TRACE_EV_IO_END] > 0);
    CU_ASSERT(seen[TRACE_EV_THREAD_START] == 2 && seen[TRACE_EV_THREAD_EXIT] == 2);
    CU_ASSERT(seen[TRACE_EV_DROP_REQUEST] > 0);
    trace_free(t);
}

static void test_full_buffer_drops(void)
{
    struct tu_run r = {.workload = "workloads/cpu2.json",
                       .policy = "old",
                       .duration_ms = 200,
                       .seed = 1,
                       .max_events = 1000};
    struct trace *t = tu_run_trace(&r, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_FALSE(t->complete);
    CU_ASSERT(t->events_dropped > 0);
    CU_ASSERT(t->nevents <= 2 * 1000);
    trace_free(t);
}

static void test_serve_events(void)
{
    struct tu_run r = {
        .workload = "workloads/server.json", .policy = "new", .duration_ms = 500, .seed = 2};
    struct trace *t = tu_run_trace(&r, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    size_t arrivals = 0, done = 0, late = 0;
    int64_t last_at = -1;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_ARRIVAL) {
            arrivals++;
            CU_ASSERT(ev->arg > last_at); /* scheduled times increase */
            CU_ASSERT(ev->t >= ev->arg);  /* never handled before it is due */
            last_at = ev->arg;
        } else if (ev->ev == TRACE_EV_DONE) {
            done++;
            CU_ASSERT_EQUAL(ev->arg, last_at); /* done names its request's arrival */
            late += ev->t - ev->arg > 1000000;
        }
    }
    printf("\n  server: %zu arrivals in 0.5 s, %zu done, %zu took over 1 ms\n", arrivals, done,
           late);
    /* ~500 Poisson arrivals are scheduled in 0.5 s; the server keeps up between convoys. */
    TU_ASSERT_CMP(arrivals, >, 200);
    TU_ASSERT_CMP(done + 1, >=, arrivals);
    trace_free(t);
}

static void test_abort_leaves_nothing(void)
{
    char path[512], cmd[600];
    snprintf(path, sizeof path, "%s/abort-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    FILE *f = fopen(path, "w");
    fputs("old contents\n", f);
    fclose(f);
    struct trace_out *out = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(trace_out_open(&out, path, NULL, &e), 0);
    trace_out_abort(out);
    f = fopen(path, "r");
    char buf[64] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(buf, sizeof buf, f));
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf, "old contents\n");
    snprintf(cmd, sizeof cmd, "ls %s.tmp.* >/dev/null 2>&1", path);
    CU_ASSERT_NOT_EQUAL(system(cmd), 0); /* no temporary file left */
    unlink(path);
    CU_ASSERT_EQUAL(trace_out_open(&out, "/nonexistent-dir/x.json", NULL, &e), ERR_INPUT);
    CU_ASSERT_EQUAL(trace_out_open(&out, GILSIM_BINARY_DIR, NULL, &e), ERR_INPUT);
}

static void test_reader_rejects(void)
{
    const char *cases[][2] = {
        {"{\"format\": \"other\", \"version\": 1}", "$.format: expected \"gilsim-trace\""},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": [], "
         "\"events\": [{\"t\": 1, \"tid\": 0, \"ev\": \"acquire\"}]}",
         "tid names no thread"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[{\"tid\": 0, \"name\": \"a\"}], \"events\": [{\"t\": 1, \"tid\": 0, \"ev\": \"x\"}]}",
         "unknown event type"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[{\"tid\": 0, \"name\": \"a\"}], \"events\": [{\"t\": 1, \"tid\": 0, \"ev\": "
         "\"release\"}]}",
         "release without a reason"},
        {"{\"format\": ", "end of file"},
        {"{\"format\": \"gilsim-trace\", \"version\": 2}", "$.version: expected 1"},
        /* positions: line 3, column 7 is the offending value */
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[{\"tid\": 0, \"name\": \"a\"}], \"events\": [\n{\"t\": 5, \"tid\": 0, \"ev\": "
         "\"request\"},\n{\"t\": 4, \"tid\": 0, \"ev\": \"acquire\"}]}",
         ":3:7: $.events[1]: events must be sorted by t"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[{\"tid\": 0, \"name\": \"a\"}], \"events\": [\n{\"t\": 1.5, \"tid\": 0, \"ev\": "
         "\"request\"}]}",
         ":2:7: $.events[0]: expected t, an integer"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[{\"tid\": 0, \"name\": \"a\"}], \"events\": [{\"t\": 1, \"tid\": 0, \"ev\": "
         "\"release\", \"reason\": \"io\", \"ticks\": \"many\"}]}",
         "expected ticks, an integer"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[{\"tid\": 0, \"name\": \"a\"}], \"events\": [{\"t\": 1, \"tid\": 0, \"ev\": "
         "\"release\", \"reason\": \"bored\"}]}",
         "unknown release reason"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[], \"events\": [], \"x\": \"\\q\"}",
         "invalid escape"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[], \"events\": []} x",
         "expected the end of the file"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": []}",
         "threads and events (arrays)"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[], \"events\": [], \"x\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]}",
         "nested too deeply"},
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {}, \"threads\": "
         "[], \"events\": [], \"x\": \"\xff\"}",
         "invalid UTF-8"},
        {"", "empty file"},
        /* columns count characters, not bytes: "\\q" is byte 101, character 98 */
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"run\": {\"d\": "
         "\"\xc3\xa9\xc3\xa9\xc3\xa9\"}, "
         "\"threads\": [], \"events\": [], \"x\": \"\\q\"}",
         ":1:98: $.x: invalid escape in a string"},
        /* and so do the small members' (the strict parser's column added to the member's):
         * "1e999" is byte 71, character 69 */
        {"{\"format\": \"gilsim-trace\", \"version\": 1, \"note\": \"\xc3\xa9\xc3\xa9\", \"run\": "
         "{\"x\": 1e999}, \"threads\": [], \"events\": []}",
         ":1:69: $.run: real number overflow"},
    };
    char path[512];
    snprintf(path, sizeof path, "%s/bad-trace-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(cases[i][0], f);
        fclose(f);
        struct trace *t = NULL;
        struct err e = {0};
        CU_ASSERT_EQUAL(trace_read(path, &t, &e), ERR_INPUT);
        CU_ASSERT_PTR_NULL(t);
        tu_context("case %zu", i);
        TU_ASSERT_HAS(e.msg, cases[i][1]);
    }
    unlink(path);
}

/* Other writers may order keys differently and add keys of their own: events before threads,
 * unknown keys with nested values, arguments before the type. */
static void test_reader_key_order(void)
{
    static const char doc[] =
        "{\"events\": [{\"ticks\": 7, \"x\": {\"y\": [1, {\"z\": null}]}, \"reason\": "
        "\"io\", \"ev\": \"release\", \"tid\": 1, \"t\": 10},\n"
        " {\"tid\": 0, \"t\": 10, \"ev\": \"io_begin\", \"ns\": 40000, \"inferred\": true}],"
        " \"complete\": false, \"threads\": [{\"tid\": 0, \"name\": \"a\"}, {\"tid\": 1, "
        "\"name\": \"b\\u00e9\"}], \"run\": {\"policy\": \"cpython-3.11\"}, "
        "\"events_dropped\": 3, \"version\": 1, \"format\": \"gilsim-trace\"}";
    char path[512];
    snprintf(path, sizeof path, "%s/order-trace-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(doc, f);
    fclose(f);
    struct trace *t = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(trace_read(path, &t, &e), 0);
    CU_ASSERT_EQUAL(t->nevents, 2);
    CU_ASSERT_EQUAL(t->nthreads, 2);
    CU_ASSERT_STRING_EQUAL(t->threads[1].name, "b\xc3\xa9");
    CU_ASSERT_STRING_EQUAL(t->policy, "cpython-3.11");
    CU_ASSERT_EQUAL(t->events[0].ev, TRACE_EV_RELEASE);
    CU_ASSERT_EQUAL(t->events[0].reason, TRACE_REASON_IO);
    CU_ASSERT_EQUAL(t->events[0].arg, 7);
    CU_ASSERT_EQUAL(t->events[1].arg, 40000);
    CU_ASSERT_FALSE(t->complete);
    CU_ASSERT_EQUAL(t->events_dropped, 3);
    trace_free(t);
    unlink(path);
}

/* Benchmark options of the engine: a fixed tick length instead of calibration; no tracing
 * (nothing recorded, the would-be events counted as dropped); switches counted without a trace,
 * equal to the acquisitions that followed another thread's. */
static void test_engine_bench_options(void)
{
    struct err e = {0};
    struct wl_workload *wl = NULL;
    CU_ASSERT_EQUAL_FATAL(wl_load(tu_src("workloads/cpu2.json"), &wl, &e), 0);
    const struct gil_policy *pol = gil_policy_find("fifo");
    struct gil_params params;
    gil_params_defaults(&params, pol);
    CU_ASSERT_EQUAL_FATAL(gil_params_set(&params, pol, "interval_us=1000", &e), 0);
    for (int traced = 0; traced < 2; traced++) {
        struct eng_options o = {.wl = wl,
                                .policy = pol,
                                .params = &params,
                                .duration_ns = 200000000,
                                .seed = 1,
                                .iters_per_tick = 7,
                                .no_trace = !traced};
        struct eng_result *r = NULL;
        CU_ASSERT_EQUAL_FATAL(eng_run(&o, &r, &e), 0);
        CU_ASSERT_EQUAL(r->iters_per_tick, 7);
        CU_ASSERT(r->total_ticks > 0);
        CU_ASSERT(r->setup_ns > 0);
        /* fifo alternates: about one switch per ms on a quiet machine; every switch needs the
         * waiter to get a core, so beside a CPU hog there may be few */
        tu_context("fifo cpu2 %s", traced ? "traced" : "not traced");
        TU_ASSERT_CMP(r->switches, >=, 2);
        if (!traced) {
            CU_ASSERT_EQUAL(r->events, 0);
            CU_ASSERT(r->events_dropped > 2 * r->acquisitions);
            for (unsigned i = 0; i < r->nthreads; i++)
                CU_ASSERT_EQUAL(r->threads[i].nevents, 0);
        } else {
            CU_ASSERT_EQUAL(r->events_dropped, 0);
            uint64_t switches = 0;
            int last = -1;
            /* merge the two threads' acquires by time */
            const struct eng_thread_result *a = &r->threads[0], *b = &r->threads[1];
            uint32_t i = 0, j = 0;
            while (i < a->nevents || j < b->nevents) {
                const struct trace_event *ev;
                if (j >= b->nevents || (i < a->nevents && a->events[i].t <= b->events[j].t))
                    ev = &a->events[i++];
                else
                    ev = &b->events[j++];
                if (ev->ev != TRACE_EV_ACQUIRE) continue;
                if (last >= 0 && last != ev->tid) switches++;
                last = ev->tid;
            }
            CU_ASSERT_EQUAL(r->switches, switches);
        }
        eng_result_free(r);
    }
    wl_free(wl);
}

/* Devices are refused before they are opened; a pipe is read, and refused at its first byte
 * JSON text cannot hold (a stream of zeros would otherwise be read to the memory limit). */
static void test_reader_devices_and_streams(void)
{
    struct trace *t = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL(trace_read("/dev/zero", &t, &e), ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not a regular file or a pipe"));
    CU_ASSERT_EQUAL(trace_read("/dev/urandom", &t, &e), ERR_INPUT);
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/reader-%d.fifo", GILSIM_BINARY_DIR, (int)getpid());
    static const char *const feeds[] = {"exec head -c 1000000 /dev/zero", "exec cat '%s'"};
    for (int i = 0; i < 2; i++) {
        unlink(fifo);
        CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
        char feed[800];
        snprintf(feed, sizeof feed, feeds[i], tu_src("tests/data/traces/handoff.json"));
        const char *argv[] = {"/bin/sh", "-c", feed, NULL};
        struct tu_proc p = {.out = fifo};
        CU_ASSERT_FATAL(tu_spawn(&p, argv));
        int rc = trace_read(fifo, &t, &e);
        /* the feeder ends: at its end, or on the pipe the reader closed */
        CU_ASSERT_NOT_EQUAL(tu_wait(&p, 30.0 * TU_SLACK), -1);
        CU_ASSERT_EQUAL(rc, i == 0 ? ERR_INPUT : 0);
        if (i == 0) CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "byte 0 is 0x00"));
        if (i == 1) CU_ASSERT_EQUAL(t->nevents, 26);
        trace_free(t);
        t = NULL;
    }
    unlink(fifo);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"run and threads keys present", test_keys_present},
        {"full buffer: complete false, events_dropped", test_full_buffer_drops},
        {"serve: arrival and done events", test_serve_events},
        {"aborted output leaves the old file", test_abort_leaves_nothing},
        {"reader rejects bad traces", test_reader_rejects},
        {"reader takes any key order and unknown keys", test_reader_key_order},
        {"reader: devices and streams", test_reader_devices_and_streams},
        {"engine: fixed tick, no tracing, switches", test_engine_bench_options},
        CU_TEST_INFO_NULL,
    };
    return tu_main("trace", tests);
}
