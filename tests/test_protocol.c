/* tests/test_protocol.c - every shipped workload under every registered policy, in short runs,
 * checked from its trace: never two holders at once (for policies that lock), every request
 * followed by that thread's acquire, release only by the holder, times sorted, the run ends
 * within its duration + 200 ms and the trace is complete. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policies/registry.h"
#include "testutil.h"

#define RUN_MS 300

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_every_workload_every_policy(void)
{
    DIR *d = opendir(tu_src("workloads"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *names[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64) {
        size_t len = strlen(de->d_name);
        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0) names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    CU_ASSERT(n >= 10);
    int runs = 0;
    for (int i = 0; i < n; i++) {
        for (const struct gil_policy *const *p = gil_policies; *p; p++) {
            char rel[300];
            snprintf(rel, sizeof rel, "workloads/%s", names[i]);
            struct tu_run r = {
                .workload = rel, .policy = (*p)->name, .duration_ms = RUN_MS, .seed = 3};
            long long elapsed = 0;
            struct trace *t = tu_run_trace(&r, &elapsed);
            CU_ASSERT_PTR_NOT_NULL(t);
            if (!t) continue;
            const char *bad = tu_check_protocol(t, !((*p)->flags & GIL_POLICY_NO_LOCK));
            if (bad) fprintf(stderr, "\n%s under %s: %s\n", names[i], (*p)->name, bad);
            CU_ASSERT_PTR_NULL(bad);
            CU_ASSERT(t->complete);
            CU_ASSERT(t->nevents > 0);
            if (elapsed > (RUN_MS + 200) * 1000000LL)
                fprintf(stderr, "\n%s under %s ran %.1f ms\n", names[i], (*p)->name, elapsed / 1e6);
            CU_ASSERT(elapsed <= (RUN_MS + 200) * 1000000LL);
            CU_ASSERT(elapsed >= RUN_MS * 1000000LL); /* every shipped workload runs forever */
            trace_free(t);
            runs++;
        }
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    CU_ASSERT(runs >= 40);
}

/* A workload whose threads all finish ends the run early, with stop_reason "finished". */
static void test_finishes_early(void)
{
    struct tu_run r = {.workload = "tests/data/valid/finite.json",
                       .policy = "new",
                       .duration_ms = 5000,
                       .seed = 1};
    long long elapsed = 0;
    struct trace *t = tu_run_trace(&r, &elapsed);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(elapsed < 2000 * 1000000LL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t->run, "stop_reason")), "finished");
    CU_ASSERT_PTR_NULL(tu_check_protocol(t, true));
    /* Each of the 2 threads: 3 loop iterations of cpu, io, sleep, native, hold; then exit. */
    int io = 0, sleeps = 0, natives = 0, holds = 0, exits = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        io += t->events[i].ev == TRACE_EV_IO_END;
        sleeps += t->events[i].ev == TRACE_EV_SLEEP_END;
        natives += t->events[i].ev == TRACE_EV_NATIVE_END;
        holds += t->events[i].ev == TRACE_EV_HOLD_END;
        if (t->events[i].ev == TRACE_EV_THREAD_EXIT) {
            exits++;
            CU_ASSERT_EQUAL(t->events[i].arg, 3 * 1000); /* ticks */
        }
    }
    CU_ASSERT_EQUAL(io, 6);
    CU_ASSERT_EQUAL(sleeps, 6);
    CU_ASSERT_EQUAL(natives, 6);
    CU_ASSERT_EQUAL(holds, 6);
    CU_ASSERT_EQUAL(exits, 2);
    trace_free(t);
}

/* At the deadline, threads waiting for the GIL leave without it (acquire returns false after
 * the policy's stop hook, and nobody asks any more), instead of being handed the GIL one by
 * one: before this was so, no thread left while waiting and 3,000 waiters under `new` took
 * about a second to drain (10,000 took 26 s). */
#ifdef GILSIM_SANITIZED
#define CROWD_GRACE_MS 5000
#else
#define CROWD_GRACE_MS 2000
#endif

static void test_waiters_leave_at_deadline(void)
{
    for (const struct gil_policy *const *p = gil_policies; *p; p++) {
        if ((*p)->flags & GIL_POLICY_NO_LOCK) continue; /* nobody waits */
        const char *policy = (*p)->name;
        struct tu_run r = {.workload = "tests/data/valid/crowd.json",
                           .policy = policy,
                           .duration_ms = 300,
                           .seed = 1};
        long long elapsed = 0;
        struct trace *t = tu_run_trace(&r, &elapsed);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        const char *bad = tu_check_protocol(t, true);
        if (bad) fprintf(stderr, "\ncrowd under %s: %s\n", policy, bad);
        CU_ASSERT_PTR_NULL(bad);
        /* threads whose last request was never granted: they left while waiting */
        char *waiting = calloc(t->nthreads, 1);
        size_t left_waiting = 0, started = 0, late_acquires = 0;
        /* the run stops when the main thread wakes after the deadline, a little later */
        int64_t stop_ns = json_integer_value(json_object_get(t->run, "stop_ns"));
        CU_ASSERT(stop_ns >= 300 * 1000000LL);
        for (size_t k = 0; k < t->nevents; k++) {
            const struct trace_event *ev = &t->events[k];
            if (ev->ev == TRACE_EV_THREAD_START) started++;
            if (ev->ev == TRACE_EV_REQUEST) waiting[ev->tid] = 1;
            if (ev->ev == TRACE_EV_ACQUIRE) waiting[ev->tid] = 0;
            if (ev->ev == TRACE_EV_ACQUIRE && ev->t > stop_ns) late_acquires++;
            if (ev->ev == TRACE_EV_THREAD_EXIT) left_waiting += waiting[ev->tid];
        }
        free(waiting);
        printf("\n  crowd under %s: %zu of %zu threads started, %zu acquires after the stop, "
               "%zu left while waiting, run ended %.0f ms after the deadline",
               policy, started, t->nthreads, late_acquires, left_waiting, (elapsed - 300e6) / 1e6);
        /* The GIL is not passed along the crowd after the stop: only threads granted it as
         * the run stopped acquire then (a few percent at most; before, nearly all did),
         * and waiters leave without it. Threads still at the start gate never start. */
        CU_ASSERT(late_acquires * 10 <= started);
        CU_ASSERT(left_waiting > 0);
        CU_ASSERT(elapsed <= (300 + CROWD_GRACE_MS) * 1000000LL);
        trace_free(t);
    }
}

/* sync.h promises that a zeroed mutex or condition is ready to use: the engine allocates policy
 * state zeroed and no policy initializes its locks. True when the C library's static
 * initializers are all zero bytes. */
static void test_zeroed_sync_objects(void)
{
    static const pthread_mutex_t mutex_init = PTHREAD_MUTEX_INITIALIZER;
    static const pthread_cond_t cond_init = PTHREAD_COND_INITIALIZER;
    static const struct sync_mutex zero_mutex;
    static const struct sync_cond zero_cond;
    CU_ASSERT(memcmp(&mutex_init, &zero_mutex.m, sizeof mutex_init) == 0);
    CU_ASSERT(memcmp(&cond_init, &zero_cond.c, sizeof cond_init) == 0);
    /* and a timed wait on a zeroed condition times out on the monotonic clock */
    struct sync_mutex mx = {0};
    struct sync_cond cv = {0};
    sync_mutex_lock(&mx);
    int64_t start = sync_now_ns();
    CU_ASSERT(sync_cond_wait_until(&cv, &mx, start + 2000000));
    CU_ASSERT(sync_now_ns() - start >= 2000000);
    sync_mutex_unlock(&mx);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"every workload x every policy: protocol from the trace",
         test_every_workload_every_policy},
        {"a finite workload ends when its threads do", test_finishes_early},
        {"waiters leave at once at the deadline", test_waiters_leave_at_deadline},
        {"a zeroed sync mutex and condition are ready to use", test_zeroed_sync_objects},
        CU_TEST_INFO_NULL,
    };
    return tu_main("protocol", tests);
}
