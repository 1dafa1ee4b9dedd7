/* tests/test_objects.c - threading objects in workloads (locks, semaphores, conditions, events,
 * queues, barriers, join) and expressions: the format (values, per-thread ops, errors that
 * point into the expression), each op's semantics exactly on the virtual engine (order, counts,
 * blocking, timeouts, misuse errors, the deadlock report) and with generous bounds on the real
 * one (counts and order, which no delay can change; timer lower bounds; the watchdog). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define EXACT "wake_jitter=0"

/* A workload written for the test (the name is a file under the build tree). */
static const char *wlfile(const char *name, const char *text)
{
    static char path[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/objects-%d-%s.json", GILSIM_BINARY_DIR, (int)getpid(),
             name);
    FILE *f = fopen(path[k], "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    return path[k];
}

#define HEAD "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"t\", "

static struct trace *run_on(const char *path, const char *policy, const char *set, int ms,
                            bool virt)
{
    return tu_run_trace(&(struct tu_run){path, policy, {set}, ms, 1, 0, virt, virt ? EXACT : NULL},
                        NULL);
}

static const char *stop_reason(const struct trace *t);

/* A run that must end by itself (stop_reason "finished"); fatal when it did not run. */
#define FINISHED(t, path, policy, set, ms, virt)                                                   \
    struct trace *t = run_on(path, policy, set, ms, virt);                                         \
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);                                                               \
    CU_ASSERT_STRING_EQUAL(stop_reason(t), "finished")

static const char *stop_reason(const struct trace *t)
{
    json_t *v = json_object_get(t->run, "stop_reason");
    return json_is_string(v) ? json_string_value(v) : "";
}

/* The index of the object called name in the trace, or -1. */
static int obj_index(const struct trace *t, const char *name)
{
    for (size_t i = 0; i < t->nobjects; i++)
        if (strcmp(t->objects[i].name, name) == 0) return (int)i;
    return -1;
}

static size_t count_obj(const struct trace *t, enum trace_ev ev, const char *name)
{
    int k = obj_index(t, name);
    size_t n = 0;
    for (size_t i = 0; i < t->nevents; i++)
        n += t->events[i].ev == ev && (int)trace_obj_index(t->events[i].reason) == k;
    return n;
}

/* The object events keep the rules a reader relies on: a thread blocks on an object only
 * without the GIL and asks for it again after; a lock's acquire and release alternate between
 * holders; a queue's length moves by one per put or get within [0, maxsize]. NULL or what is
 * wrong. */
static const char *check_objects(const struct trace *t, int64_t maxsize)
{
    static char msg[200];
    char *holding = calloc(t->nthreads, 1), *after_wait = calloc(t->nthreads, 1);
    int *lock_holder = malloc((t->nobjects + 1) * sizeof *lock_holder);
    int64_t *len = calloc(t->nobjects + 1, sizeof *len);
    const char *bad = NULL;
    for (size_t k = 0; k <= t->nobjects; k++)
        lock_holder[k] = -1;
    for (size_t i = 0; i < t->nevents && !bad; i++) {
        const struct trace_event *ev = &t->events[i];
        unsigned o = trace_obj_index(ev->reason);
        if (ev->ev == TRACE_EV_ACQUIRE) holding[ev->tid] = 1;
        if (ev->ev == TRACE_EV_RELEASE) holding[ev->tid] = 0;
        if (ev->ev == TRACE_EV_ACQUIRE && after_wait[ev->tid]) bad = "acquire without a request";
        if (ev->ev == TRACE_EV_REQUEST) after_wait[ev->tid] = 0;
        if (ev->ev == TRACE_EV_OBJ_WAIT_BEGIN && holding[ev->tid]) bad = "blocks holding the GIL";
        if (ev->ev == TRACE_EV_OBJ_WAIT_END) after_wait[ev->tid] = 1;
        bool is_lock = trace_ev_has_object(ev->ev) && strcmp(t->objects[o].type, "lock") == 0;
        if (is_lock && ev->ev == TRACE_EV_OBJ_ACQUIRE) {
            if (lock_holder[o] != -1) bad = "a lock acquired while held";
            lock_holder[o] = ev->tid;
        }
        if (is_lock && ev->ev == TRACE_EV_OBJ_RELEASE) {
            if (lock_holder[o] != ev->tid) bad = "a lock released by a thread not holding it";
            lock_holder[o] = -1;
        }
        if (ev->ev == TRACE_EV_OBJ_PUT || ev->ev == TRACE_EV_OBJ_GET) {
            len[o] += ev->ev == TRACE_EV_OBJ_PUT ? 1 : -1;
            if (ev->arg != len[o]) bad = "a queue's length does not follow its puts and gets";
            if (len[o] < 0 || (maxsize > 0 && len[o] > maxsize))
                bad = "a queue's length out of range";
        }
        if (bad)
            snprintf(msg, sizeof msg, "event %zu (t=%lld tid=%d %s): %s", i, (long long)ev->t,
                     ev->tid, trace_ev_name(ev->ev), bad);
    }
    free(holding);
    free(after_wait);
    free(lock_holder);
    free(len);
    return bad ? msg : NULL;
}

/* The first object wait of a trace: when it began and ended, its timeout and whether it ran out. */
struct wait {
    int64_t begin, end, timeout, timed_out;
};

static struct wait first_wait(const struct trace *t)
{
    struct wait w = {-1, -1, -1, 0};
    for (size_t i = 0; i < t->nevents && w.end < 0; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_OBJ_WAIT_BEGIN && w.begin < 0) w.begin = ev->t, w.timeout = ev->arg;
        if (ev->ev == TRACE_EV_OBJ_WAIT_END && w.begin >= 0) w.end = ev->t, w.timed_out = ev->arg;
    }
    return w;
}

/* ---- the format ------------------------------------------------------------------------------ */

/* A workload that must load (fatal otherwise, with the message). */
#define LOADS(wl, text)                                                                            \
    do {                                                                                           \
        struct err e_ = {0};                                                                       \
        wl = parse(text, &e_);                                                                     \
        tu_context("%s", e_.msg);                                                                  \
        CU_ASSERT_PTR_NOT_NULL_FATAL(wl);                                                          \
    } while (0)

static struct wl_workload *parse(const char *text, struct err *e)
{
    struct wl_workload *wl = NULL;
    if (wl_parse(text, strlen(text), "mem.json", &wl, e) != 0) return NULL;
    return wl;
}

static void test_expressions(void)
{
    struct wl_workload *wl;
    LOADS(
        wl, HEAD
        "\"vars\": {\"period_us\": 250, \"n\": 4},\n"
        "\"threads\": [{\"name\": \"w\", \"count\": \"$(n / 2)\", \"start_ms\": \"$(index * 2)\",\n"
        "  \"ops\": [{\"cpu\": {\"us\": \"$((index + 1) * 1.5)\"}},\n"
        "          {\"serve\": {\"rate_hz\": \"$(1e6 / period_us)\", \"count\": \"$(count + 7 % "
        "4)\",\n"
        "                     \"ops\": [{\"cpu\": {\"ticks\": \"$(-(-3))\"}}]}}]}]}");
    const struct wl_group *g = &wl->groups[0];
    CU_ASSERT_EQUAL(g->count, 2);
    TU_ASSERT_CMP(wl_thread_start_ns(g, 0), ==, 0);
    TU_ASSERT_CMP(wl_thread_start_ns(g, 1), ==, 2000000);
    TU_ASSERT_CMP(wl_thread_ops(g, 0)[0].ns, ==, 1500);
    TU_ASSERT_CMP(wl_thread_ops(g, 1)[0].ns, ==, 3000);
    TU_ASSERT_CMP(wl_thread_ops(g, 1)[1].rate_hz, ==, 4000.0);
    TU_ASSERT_CMP(wl_thread_ops(g, 1)[1].count, ==, 5); /* 2 + (7 % 4): Python's precedence */
    TU_ASSERT_CMP(wl_thread_ops(g, 1)[1].body[0].ticks, ==, 3);
    wl_free(wl);

    /* Python's modulo, and a group without `index` shares one program. */
    LOADS(wl, HEAD "\"threads\": [{\"name\": \"w\", \"count\": 3, \"ops\": [{\"cpu\": "
                   "{\"ticks\": \"$(-7 % 3 + count)\"}}]}]}");
    TU_ASSERT_CMP(wl->groups[0].ops[0].ticks, ==, 5); /* -7 % 3 = 2 in Python */
    CU_ASSERT_PTR_NULL(wl->groups[0].thread_ops);
    wl_free(wl);
}

/* An error in an expression points at the place in it: FILE:LINE:COL of the bad token. */
static void test_expression_errors_point_inside(void)
{
    static const struct {
        const char *expr, *fragment;
        int col_of; /* the column is the string's column + this */
    } cases[] = {
        {"$(1 + * 2)", "expected a number, a name or '(', got '*'", 6},
        {"$(4 / (2 - 2))", "division by zero", 4},
        {"$(2 ** 3)", "got '*'", 5},
        {"$(nope + 1)", "undeclared name \"nope\"", 2},
        {"$(1 2)", "expected an operator or the end, got '2'", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[400];
        int n = snprintf(text, sizeof text,
                         HEAD "\"threads\": [{\"name\": \"w\", \"ops\": [{\"cpu\": {\"us\": \"");
        int col = n + 1; /* the string's first character ('$'), 1-based, on line 1 */
        snprintf(text + n, sizeof text - (size_t)n, "%s\"}}]}]}", cases[i].expr);
        struct err e = {0};
        struct wl_workload *wl = parse(text, &e);
        tu_context("%s -> %s", cases[i].expr, e.msg);
        CU_ASSERT_PTR_NULL(wl);
        char want[64];
        snprintf(want, sizeof want, "mem.json:1:%d:", col + cases[i].col_of);
        TU_ASSERT_HAS(e.msg, want);
        TU_ASSERT_HAS(e.msg, cases[i].fragment);
        wl_free(wl);
    }
}

static void test_object_declarations(void)
{
    struct wl_workload *wl;
    LOADS(
        wl, HEAD
        "\"objects\": {\"jobs\": {\"type\": \"queue\", \"maxsize\": 8, \"put_us\": 2.5},\n"
        " \"mu\": {\"type\": \"lock\"}, \"cv\": {\"type\": \"condition\", \"lock\": \"mu\"},\n"
        " \"own\": {\"type\": \"condition\"}, \"slots\": {\"type\": \"semaphore\"},\n"
        " \"ready\": {\"type\": \"event\"}, \"start\": {\"type\": \"barrier\", \"parties\": 2}},\n"
        "\"threads\": [{\"name\": \"a\", \"ops\": [{\"put\": {\"object\": \"jobs\"}},\n"
        "   {\"acquire\": {\"object\": \"own\", \"timeout_us\": 5}},\n"
        "   {\"notify\": {\"object\": \"own\", \"n\": \"all\"}}, {\"release\": {\"object\": "
        "\"own\"}},\n"
        "   {\"join\": {\"threads\": \"b\"}}]},\n"
        " {\"name\": \"b\", \"ops\": [{\"wait\": {\"object\": \"start\"}}]}]}");
    /* declared, then the condition's own lock, then the joined group */
    CU_ASSERT_EQUAL_FATAL(wl->nobjects, 9);
    CU_ASSERT_STRING_EQUAL(wl->objects[0].name, "jobs");
    CU_ASSERT_EQUAL(wl->objects[0].size, 8);
    CU_ASSERT_EQUAL(wl->objects[0].cost_ns[WL_COST_PUT], 2500);
    CU_ASSERT(wl->objects[0].cost_ns[WL_COST_GET] > 0); /* the measured default */
    CU_ASSERT_EQUAL(wl->objects[2].lock, 1);
    CU_ASSERT_STRING_EQUAL(wl->objects[7].name, "own.lock");
    CU_ASSERT(wl->objects[7].implicit);
    CU_ASSERT_EQUAL(wl->objects[3].lock, 7);
    CU_ASSERT_EQUAL(wl->objects[4].size, 1); /* a semaphore's value: Python's default */
    CU_ASSERT_EQUAL(wl->objects[8].type, WL_OBJ_THREADS);
    CU_ASSERT_EQUAL(wl->objects[8].size, 1); /* group b */
    const struct wl_op *ops = wl->groups[0].ops;
    CU_ASSERT_EQUAL(ops[1].timeout_ns, 5000);
    CU_ASSERT_EQUAL(ops[0].timeout_ns, WL_NO_TIMEOUT);
    CU_ASSERT_EQUAL(ops[2].count, WL_FOREVER);
    CU_ASSERT_EQUAL(ops[4].obj, 8);
    char line[512];
    wl_describe(wl, line, sizeof line);
    TU_ASSERT_HAS(line, "objects jobs (queue), mu (lock)");
    wl_free(wl);
}

/* ---- the virtual engine: exact ----------------------------------------------------------------
 */

/* Four threads increment under one lock; a 15 µs switch interval makes the GIL move inside the
 * critical section, so threads block on the lock. */
static const char lock_wl[] = HEAD "\"objects\": {\"mu\": {\"type\": \"lock\"}},\n"
                                   "\"threads\": [{\"name\": \"w\", \"count\": 4, \"ops\": "
                                   "[{\"loop\": {\"count\": 50, \"ops\": [\n"
                                   "  {\"acquire\": {\"object\": \"mu\"}}, {\"cpu\": {\"us\": "
                                   "20}}, {\"release\": {\"object\": \"mu\"}},\n"
                                   "  {\"cpu\": {\"us\": 10}}]}}]}]}";

/* Every acquire has its release, holders never overlap, and every blocked acquire gave the
 * GIL up with reason lock. */
static void check_lock(bool virt)
{
    FINISHED(t, wlfile("lock", lock_wl), "new", "interval_us=15", virt ? 2000 : 30000, virt);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_ACQUIRE, "mu"), ==, 200);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_RELEASE, "mu"), ==, 200);
    TU_ASSERT_NO_PROBLEM(tu_check_protocol(t, true));
    TU_ASSERT_NO_PROBLEM(check_objects(t, 0));
    size_t lock_releases = 0, waits = count_obj(t, TRACE_EV_OBJ_WAIT_BEGIN, "mu");
    for (size_t i = 0; i < t->nevents; i++)
        lock_releases +=
            t->events[i].ev == TRACE_EV_RELEASE && t->events[i].reason == TRACE_REASON_LOCK;
    TU_ASSERT_CMP(lock_releases, ==, waits);
    if (virt) TU_ASSERT_CMP(waits, >, 10); /* contended */
    trace_free(t);
}

static void test_lock_virtual(void)
{
    check_lock(true);
}

static const char queue_wl[] =
    HEAD "\"objects\": {\"jobs\": {\"type\": \"queue\", \"maxsize\": 4}},\n"
         "\"threads\": [{\"name\": \"producer\", \"ops\": [{\"loop\": {\"count\": 10, \"ops\": [\n"
         "    {\"loop\": {\"count\": 10, \"ops\": [{\"cpu\": {\"us\": 5}}, {\"put\": {\"object\": "
         "\"jobs\"}}]}},\n"
         "    {\"sleep\": {\"us\": 1000}}]}}]},\n"
         "  {\"name\": \"worker\", \"count\": 2, \"ops\": [{\"loop\": {\"count\": 50, \"ops\": [\n"
         "    {\"get\": {\"object\": \"jobs\"}}, {\"sleep\": {\"us\": 30}}, {\"cpu\": {\"us\": "
         "20}}]}}]}]}";

static void test_queue_virtual(void)
{
    FINISHED(t, wlfile("queue", queue_wl), "new", NULL, 2000, true);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_PUT, "jobs"), ==, 100);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_GET, "jobs"), ==, 100);
    TU_ASSERT_NO_PROBLEM(check_objects(t, 4));
    TU_ASSERT_NO_PROBLEM(tu_check_protocol(t, true));
    size_t put_waits = 0, get_waits = 0;
    for (size_t i = 0; i < t->nevents; i++)
        if (t->events[i].ev == TRACE_EV_OBJ_WAIT_BEGIN) {
            put_waits += trace_obj_op(t->events[i].reason) == TRACE_OBJ_OP_PUT;
            get_waits += trace_obj_op(t->events[i].reason) == TRACE_OBJ_OP_GET;
        }
    TU_ASSERT_CMP(put_waits, >, 0); /* the producer fills it and waits */
    TU_ASSERT_CMP(get_waits, >, 0); /* the workers drain it and wait */
    trace_free(t);
}

/* A get with a timeout on an empty queue: the wait ends timed out after the timeout (plus the
 * machine's timer slack) and the thread goes on. */
static void test_timeout_virtual(void)
{
    FINISHED(t,
             wlfile("timeout", HEAD
                    "\"objects\": {\"jobs\": {\"type\": \"queue\"}},\n"
                    "\"threads\": [{\"name\": \"w\", \"ops\": [{\"get\": {\"object\": \"jobs\", "
                    "\"timeout_us\": 1000}}, {\"sleep\": {\"us\": 10}}]}]}"),
             "new", NULL, 100, true);
    struct wait w = first_wait(t);
    /* what is left of the timeout when it blocks: the call's clock read is behind */
    TU_ASSERT_CMP(w.timeout, <=, 1000000);
    TU_ASSERT_CMP(w.timeout, >, 999000);
    int64_t begin = w.begin, end = w.end, timed_out = w.timed_out;
    TU_ASSERT_CMP(timed_out, ==, 1);
    TU_ASSERT_CMP(end - begin, >=, 1000000);
    /* + the timer slack (50.5 µs) and a cold wake-up (23.2 µs) of the default machine */
    TU_ASSERT_CMP(end - begin, <=, 1000000 + 50500 + 23200 + 1000);
    TU_ASSERT_CMP(tu_count_ev(t, TRACE_EV_SLEEP_BEGIN), ==, 1);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_GET, "jobs"), ==, 0);
    trace_free(t);
}

/* Three waiters, one with a timeout shorter than the set; set wakes the others; clear. */
static void test_event_virtual(void)
{
    FINISHED(
        t,
        wlfile("event2", HEAD
               "\"objects\": {\"ready\": {\"type\": \"event\"}},\n"
               "\"threads\": [{\"name\": \"setter\", \"ops\": [{\"sleep\": {\"us\": 1000}},\n"
               "   {\"set\": {\"object\": \"ready\"}}, {\"clear\": {\"object\": \"ready\"}}]},\n"
               " {\"name\": \"early\", \"ops\": [{\"wait\": {\"object\": \"ready\", "
               "\"timeout_us\": 300}}]},\n"
               " {\"name\": \"w\", \"count\": 2, \"ops\": [{\"wait\": {\"object\": "
               "\"ready\"}}]}]}"),
        "new", NULL, 100, true);
    int64_t set_t = -1;
    for (size_t i = 0; i < t->nevents; i++)
        if (t->events[i].ev == TRACE_EV_OBJ_SET) set_t = t->events[i].t;
    TU_ASSERT_CMP(set_t, >=, 1000000);
    size_t woken = 0, timed = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev != TRACE_EV_OBJ_WAIT_END) continue;
        if (ev->arg == 1) {
            timed++;
            TU_ASSERT_CMP(ev->tid, ==, 1);
            TU_ASSERT_CMP(ev->t, <, set_t);
        } else {
            woken++;
            TU_ASSERT_CMP(ev->t, >=, set_t);
        }
    }
    TU_ASSERT_CMP(woken, ==, 2);
    TU_ASSERT_CMP(timed, ==, 1);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_CLEAR, "ready"), ==, 1);
    trace_free(t);
}

/* Waiters queued at 0, 0.1 and 0.2 ms are woken by notify(1) in that order (a Condition's
 * FIFO of waiter locks); then notify("all"). */
static void test_condition_fifo_virtual(void)
{
    FINISHED(
        t,
        wlfile(
            "cond", HEAD
            "\"objects\": {\"mu\": {\"type\": \"lock\"}, \"cv\": {\"type\": \"condition\", "
            "\"lock\": \"mu\"}},\n"
            "\"threads\": [{\"name\": \"w\", \"count\": 3, \"start_ms\": \"$(index * 0.1)\",\n"
            "   \"ops\": [{\"acquire\": {\"object\": \"cv\"}}, {\"wait\": {\"object\": \"cv\"}},\n"
            "            {\"release\": {\"object\": \"cv\"}}]},\n"
            " {\"name\": \"late\", \"start_ms\": 0.3, \"ops\": [{\"acquire\": {\"object\": "
            "\"mu\"}},\n"
            "   {\"wait\": {\"object\": \"cv\"}}, {\"release\": {\"object\": \"mu\"}}]},\n"
            " {\"name\": \"n\", \"start_ms\": 1, \"ops\": [{\"loop\": {\"count\": 2, \"ops\": [\n"
            "   {\"acquire\": {\"object\": \"cv\"}}, {\"notify\": {\"object\": \"cv\"}},\n"
            "   {\"release\": {\"object\": \"cv\"}}, {\"sleep\": {\"us\": 500}}]}},\n"
            "   {\"acquire\": {\"object\": \"cv\"}}, {\"notify\": {\"object\": \"cv\", \"n\": "
            "\"all\"}},\n"
            "   {\"release\": {\"object\": \"cv\"}}]}]}"),
        "new", NULL, 100, true);
    int cv = obj_index(t, "cv");
    int order[8], n = 0;
    for (size_t i = 0; i < t->nevents && n < 8; i++)
        if (t->events[i].ev == TRACE_EV_OBJ_WAIT_END &&
            (int)trace_obj_index(t->events[i].reason) == cv)
            order[n++] = t->events[i].tid;
    TU_ASSERT_CMP(n, ==, 4);
    TU_ASSERT_CMP(order[0], ==, 0);
    TU_ASSERT_CMP(order[1], ==, 1);
    size_t notified = 0;
    for (size_t i = 0; i < t->nevents; i++)
        if (t->events[i].ev == TRACE_EV_OBJ_NOTIFY) notified += (size_t)t->events[i].arg;
    TU_ASSERT_CMP(notified, ==, 4); /* 1, 1, then the two left */
    TU_ASSERT_NO_PROBLEM(check_objects(t, 0));
    trace_free(t);
}

/* A condition with a lock of its own ("cv.lock" in the trace): its acquires and releases, the
 * waits' among them, alternate as a lock's. */
static void test_condition_own_lock_virtual(void)
{
    FINISHED(t,
             wlfile("cond-own",
                    HEAD "\"objects\": {\"cv\": {\"type\": \"condition\"}},\n"
                         "\"threads\": [{\"name\": \"w\", \"count\": 2, \"ops\": [\n"
                         "   {\"acquire\": {\"object\": \"cv\"}}, {\"wait\": {\"object\": "
                         "\"cv\", \"timeout_us\": 2000}},\n"
                         "   {\"release\": {\"object\": \"cv\"}}]},\n"
                         " {\"name\": \"n\", \"start_ms\": 0.5, \"ops\": [{\"acquire\": "
                         "{\"object\": \"cv\"}},\n"
                         "   {\"notify\": {\"object\": \"cv\"}}, {\"release\": "
                         "{\"object\": \"cv\"}}]}]}"),
             "new", NULL, 100, true);
    TU_ASSERT_NO_PROBLEM(check_objects(t, 0));
    /* three acquires by the threads, and one more after each of the two waits */
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_ACQUIRE, "cv.lock"), ==, 5);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_RELEASE, "cv.lock"), ==, 5);
    size_t timed = 0;
    for (size_t i = 0; i < t->nevents; i++)
        timed += t->events[i].ev == TRACE_EV_OBJ_WAIT_END && t->events[i].arg == 1;
    TU_ASSERT_CMP(timed, ==, 1); /* one notified at 0.5 ms, the other times out at 2 ms */
    trace_free(t);
}

/* A semaphore of 2: never more than two inside; its value in the trace follows. */
static void test_semaphore_virtual(void)
{
    FINISHED(t,
             wlfile("sem",
                    HEAD "\"objects\": {\"slots\": {\"type\": \"semaphore\", \"value\": 2}},\n"
                         "\"threads\": [{\"name\": \"w\", \"count\": 4, \"ops\": [{\"loop\": "
                         "{\"count\": 10, \"ops\": [\n"
                         "  {\"acquire\": {\"object\": \"slots\"}}, {\"sleep\": {\"us\": 200}},\n"
                         "  {\"release\": {\"object\": \"slots\"}}]}}]}]}"),
             "new", NULL, 100, true);
    int inside = 0, most = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_OBJ_ACQUIRE) inside++;
        if (ev->ev == TRACE_EV_OBJ_RELEASE) inside--;
        if (ev->ev == TRACE_EV_OBJ_ACQUIRE || ev->ev == TRACE_EV_OBJ_RELEASE)
            TU_ASSERT_CMP(ev->arg, ==, 2 - inside);
        if (inside > most) most = inside;
    }
    TU_ASSERT_CMP(most, ==, 2);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_ACQUIRE, "slots"), ==, 40);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_WAIT_BEGIN, "slots"), >, 0);
    trace_free(t);
}

/* Three parties arriving at 0, 1 and 2 ms, three rounds: nobody passes a round before the
 * last party of it arrives. */
static void test_barrier_virtual(void)
{
    FINISHED(
        t,
        wlfile("barrier", HEAD
               "\"objects\": {\"start\": {\"type\": \"barrier\", \"parties\": 3}},\n"
               "\"threads\": [{\"name\": \"w\", \"count\": 3, \"ops\": [{\"loop\": {\"count\": 3, "
               "\"ops\": [\n"
               "  {\"sleep\": {\"us\": \"$(1000 * index + 10)\"}}, {\"wait\": {\"object\": "
               "\"start\"}}]}}]}]}"),
        "new", NULL, 100, true);
    /* each round: the last one in is thread 2 (it sleeps longest); its notify passes them */
    int64_t trip[3];
    size_t trips = 0;
    for (size_t i = 0; i < t->nevents; i++)
        if (t->events[i].ev == TRACE_EV_OBJ_NOTIFY && trips < 3) {
            TU_ASSERT_CMP(t->events[i].tid, ==, 2);
            TU_ASSERT_CMP(t->events[i].arg, ==, 2);
            trip[trips++] = t->events[i].t;
        }
    TU_ASSERT_CMP(trips, ==, 3);
    size_t ends = 0;
    for (size_t i = 0; i < t->nevents && trips == 3; i++)
        if (t->events[i].ev == TRACE_EV_OBJ_WAIT_END &&
            trace_obj_op(t->events[i].reason) == TRACE_OBJ_OP_NONE) {
            TU_ASSERT_CMP(t->events[i].t, >=, trip[ends / 2]);
            ends++;
        }
    TU_ASSERT_CMP(ends, ==, 6); /* threads 0 and 1, every round */
    trace_free(t);
}

/* join: main waits for the workers' ends; then goes on. */
static void test_join_virtual(void)
{
    FINISHED(t,
             wlfile("join",
                    HEAD "\"threads\": [{\"name\": \"main\", \"ops\": [{\"join\": {\"threads\": "
                         "\"worker\"}}, {\"cpu\": {\"us\": 5}}]},\n"
                         " {\"name\": \"worker\", \"count\": 3, \"ops\": [{\"sleep\": {\"us\": "
                         "\"$(300 * (index + 1))\"}}, {\"cpu\": {\"us\": 50}}]}]}"),
             "new", NULL, 100, true);
    int64_t last_exit = 0, join_end = 0, main_exit = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_THREAD_EXIT && ev->tid > 0) last_exit = ev->t;
        if (ev->ev == TRACE_EV_THREAD_EXIT && ev->tid == 0) main_exit = ev->t;
        if (ev->ev == TRACE_EV_OBJ_WAIT_END && ev->tid == 0) join_end = ev->t;
    }
    TU_ASSERT_CMP(join_end, >=, last_exit);
    TU_ASSERT_CMP(main_exit, >, join_end);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_WAIT_BEGIN, "worker"), ==, 3);
    trace_free(t);
}

/* The same inputs, the same events. */
static void test_deterministic(void)
{
    const char *path = wlfile("det", queue_wl);
    struct trace *a = run_on(path, "new", NULL, 2000, true);
    struct trace *b = run_on(path, "new", NULL, 2000, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(a->nevents, b->nevents);
    CU_ASSERT(memcmp(a->events, b->events, a->nevents * sizeof *a->events) == 0);
    trace_free(a);
    trace_free(b);
}

/* The fast path: an acquire of a free lock, a put on a queue with room, a get on one with
 * items, a wait on a set event, a semaphore with a value left and a join of threads that have
 * ended never block: no object wait, no GIL release but the sleep's and the exit's. */
static void test_fast_path_virtual(void)
{
    FINISHED(t,
             wlfile("fast",
                    HEAD "\"objects\": {\"mu\": {\"type\": \"lock\"}, \"jobs\": {\"type\": "
                         "\"queue\", \"maxsize\": 3},\n"
                         "  \"ready\": {\"type\": \"event\"}, \"slots\": {\"type\": "
                         "\"semaphore\"}},\n"
                         "\"threads\": [{\"name\": \"main\", \"ops\": [{\"sleep\": {\"us\": "
                         "100}},\n"
                         "  {\"acquire\": {\"object\": \"mu\"}}, {\"release\": {\"object\": "
                         "\"mu\"}},\n"
                         "  {\"loop\": {\"count\": 3, \"ops\": [{\"put\": {\"object\": "
                         "\"jobs\"}}]}},\n"
                         "  {\"loop\": {\"count\": 3, \"ops\": [{\"get\": {\"object\": "
                         "\"jobs\"}}]}},\n"
                         "  {\"set\": {\"object\": \"ready\"}}, {\"wait\": {\"object\": "
                         "\"ready\"}},\n"
                         "  {\"acquire\": {\"object\": \"slots\"}}, {\"release\": {\"object\": "
                         "\"slots\"}},\n"
                         "  {\"join\": {\"threads\": \"quick\"}}]},\n"
                         " {\"name\": \"quick\", \"count\": 2, \"ops\": [{\"cpu\": {\"us\": "
                         "1}}]}]}"),
             "new", NULL, 100, true);
    TU_ASSERT_CMP(tu_count_ev(t, TRACE_EV_OBJ_WAIT_BEGIN), ==, 0);
    size_t main_releases = 0;
    for (size_t i = 0; i < t->nevents; i++)
        if (t->events[i].ev == TRACE_EV_RELEASE && t->events[i].tid == 0) {
            main_releases++;
            CU_ASSERT(t->events[i].reason == TRACE_REASON_SLEEP ||
                      t->events[i].reason == TRACE_REASON_EXIT);
        }
    TU_ASSERT_CMP(main_releases, ==, 2);
    /* the queue's length after each put and get, in order */
    int64_t lens[6], want[6] = {1, 2, 3, 2, 1, 0};
    size_t n = 0;
    for (size_t i = 0; i < t->nevents; i++)
        if ((t->events[i].ev == TRACE_EV_OBJ_PUT || t->events[i].ev == TRACE_EV_OBJ_GET) && n < 6)
            lens[n++] = t->events[i].arg;
    TU_ASSERT_CMP(n, ==, 6);
    for (size_t i = 0; i < n; i++)
        TU_ASSERT_CMP(lens[i], ==, want[i]);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_ACQUIRE, "mu"), ==, 1);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_ACQUIRE, "slots"), ==, 1);
    TU_ASSERT_NO_PROBLEM(check_objects(t, 3));
    trace_free(t);
}

/* The waits of thread tid on objects, in order: begin, end, timed out. */
static size_t waits_of(const struct trace *t, int tid, struct wait *w, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nevents && n < max; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->tid != tid) continue;
        if (ev->ev == TRACE_EV_OBJ_WAIT_BEGIN) w[n] = (struct wait){ev->t, -1, ev->arg, 0};
        if (ev->ev == TRACE_EV_OBJ_WAIT_END) {
            w[n].end = ev->t;
            w[n++].timed_out = ev->arg == 1;
        }
    }
    return n;
}

/* A lock and a semaphore held for 2 ms: an acquire with a 500 µs timeout runs out (the thread
 * goes on, without it), one without a timeout gets it once released. */
static void test_acquire_timeouts_virtual(void)
{
    FINISHED(t,
             wlfile("acq-timeout",
                    HEAD "\"objects\": {\"mu\": {\"type\": \"lock\"}, \"slots\": {\"type\": "
                         "\"semaphore\"}},\n"
                         "\"threads\": [{\"name\": \"a\", \"ops\": [{\"acquire\": {\"object\": "
                         "\"mu\"}},\n"
                         "   {\"acquire\": {\"object\": \"slots\"}}, {\"sleep\": {\"us\": "
                         "2000}},\n"
                         "   {\"release\": {\"object\": \"slots\"}}, {\"release\": {\"object\": "
                         "\"mu\"}}]},\n"
                         " {\"name\": \"b\", \"start_ms\": 0.1, \"ops\": [\n"
                         "   {\"acquire\": {\"object\": \"mu\", \"timeout_us\": 500}},\n"
                         "   {\"acquire\": {\"object\": \"slots\", \"timeout_us\": 500}},\n"
                         "   {\"acquire\": {\"object\": \"mu\"}}, {\"release\": {\"object\": "
                         "\"mu\"}}]}]}"),
             "new", NULL, 100, true);
    struct wait w[4];
    TU_ASSERT_CMP(waits_of(t, 1, w, 4), ==, 3);
    for (int k = 0; k < 2; k++) {
        TU_ASSERT_CMP(w[k].timed_out, ==, 1);
        TU_ASSERT_CMP(w[k].end - w[k].begin, >=, 500000);
        TU_ASSERT_CMP(w[k].end - w[k].begin, <, 700000);
    }
    TU_ASSERT_CMP(w[2].timed_out, ==, 0);
    int64_t released = -1; /* a's release of mu, after its 2 ms sleep */
    int mu = obj_index(t, "mu");
    for (size_t i = 0; i < t->nevents && released < 0; i++)
        if (t->events[i].ev == TRACE_EV_OBJ_RELEASE && t->events[i].tid == 0 &&
            (int)trace_obj_index(t->events[i].reason) == mu)
            released = t->events[i].t;
    TU_ASSERT_CMP(released, >=, 2000000);
    TU_ASSERT_CMP(w[2].end, >=, released);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_ACQUIRE, "mu"), ==, 2);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_ACQUIRE, "slots"), ==, 1);
    TU_ASSERT_NO_PROBLEM(check_objects(t, 0));
    trace_free(t);
}

/* A put on a full queue with a timeout runs out and leaves the queue as it was. */
static void test_put_timeout_virtual(void)
{
    FINISHED(t,
             wlfile("put-timeout",
                    HEAD "\"objects\": {\"jobs\": {\"type\": \"queue\", \"maxsize\": 1}},\n"
                         "\"threads\": [{\"name\": \"p\", \"ops\": [{\"put\": {\"object\": "
                         "\"jobs\"}},\n"
                         "   {\"put\": {\"object\": \"jobs\", \"timeout_us\": 300}}, {\"put\": "
                         "{\"object\": \"jobs\", \"timeout_us\": 0}}]}]}"),
             "new", NULL, 100, true);
    struct wait w[2];
    TU_ASSERT_CMP(waits_of(t, 0, w, 2), ==, 1); /* a timeout of 0 only tries */
    TU_ASSERT_CMP(w[0].timed_out, ==, 1);
    TU_ASSERT_CMP(w[0].end - w[0].begin, >=, 300000);
    TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_PUT, "jobs"), ==, 1);
    trace_free(t);
}

/* A barrier of 3 whose third party comes late: a wait with a timeout runs out and breaks it
 * for good; the other waiter is let through at once, and so is the late party. */
static void test_barrier_broken_virtual(void)
{
    FINISHED(t,
             wlfile("barrier-broken",
                    HEAD "\"objects\": {\"start\": {\"type\": \"barrier\", \"parties\": 3}},\n"
                         "\"threads\": [{\"name\": \"a\", \"ops\": [{\"wait\": {\"object\": "
                         "\"start\", \"timeout_us\": 500}}]},\n"
                         " {\"name\": \"b\", \"ops\": [{\"wait\": {\"object\": \"start\"}}]},\n"
                         " {\"name\": \"late\", \"start_ms\": 2, \"ops\": [{\"wait\": "
                         "{\"object\": \"start\"}}]}]}"),
             "new", NULL, 100, true);
    struct wait w[2];
    TU_ASSERT_CMP(waits_of(t, 0, w, 2), ==, 1);
    TU_ASSERT_CMP(w[0].timed_out, ==, 1);
    int64_t broke = w[0].end;
    TU_ASSERT_CMP(waits_of(t, 1, w, 2), >=, 1);
    TU_ASSERT_CMP(w[0].timed_out, ==, 0);
    TU_ASSERT_CMP(w[0].end, >=, broke);
    TU_ASSERT_CMP(w[0].end, <, 1000000); /* long before the late party */
    TU_ASSERT_CMP(waits_of(t, 2, w, 2), ==, 0);
    trace_free(t);
}

/* ---- misuse and deadlocks, through the command line ----------------------------------------- */

/* b tries mu only once a holds it (ready), for 10 µs, and releases it anyway: a misuse, on any
 * machine however slow (a holds mu for 2 s). */
static const char misuse_wl[] =
    HEAD "\"objects\": {\"mu\": {\"type\": \"lock\"}, \"ready\": {\"type\": \"event\"}},\n"
         "\"threads\": [{\"name\": \"a\", \"ops\": [{\"acquire\": {\"object\": \"mu\"}}, "
         "{\"set\": {\"object\": \"ready\"}},\n"
         "   {\"sleep\": {\"us\": 2000000}}, {\"release\": {\"object\": \"mu\"}}]},\n"
         " {\"name\": \"b\", \"ops\": [{\"wait\": {\"object\": \"ready\"}}, {\"acquire\": "
         "{\"object\": \"mu\", \"timeout_us\": 10}},\n"
         "   {\"release\": {\"object\": \"mu\"}}]}]}";

static void check_misuse(const char *engine)
{
    char args[1200], err[600], out[600];
    const char *path = wlfile("misuse", misuse_wl);
    snprintf(out, sizeof out, "%s/objects-misuse-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(err, sizeof err, "%s/objects-misuse-%d.err", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(args, sizeof args, "run %s --engine %s -q --duration 5000 -o %s", path, engine, out);
    tu_context("--engine %s", engine);
    TU_ASSERT_CMP(tu_gilsim(args, NULL, err), ==, 1);
    char *text = tu_slurp(err);
    TU_ASSERT_HAS(text,
                  "thread b.0: release on lock \"mu\": it is held by a.0, not by this thread");
    TU_ASSERT_HAS(text, "RuntimeError");
    TU_ASSERT_HAS(text, "partial trace written");
    free(text);
    text = tu_slurp(out);
    TU_ASSERT_HAS(text, "\"stop_reason\":\"error\"");
    TU_ASSERT_HAS(text, "\"complete\":false");
    free(text);
    unlink(out);
    unlink(err);
}

static void test_misuse_virtual(void)
{
    check_misuse("virtual");
}

static const char deadlock_wl[] = HEAD
    "\"objects\": {\"mu\": {\"type\": \"lock\"}, \"mu2\": {\"type\": \"lock\"},\n"
    "  \"both\": {\"type\": \"barrier\", \"parties\": 2}},\n"
    "\"threads\": [{\"name\": \"a\", \"ops\": [{\"acquire\": {\"object\": \"mu\"}}, {\"wait\": "
    "{\"object\": \"both\"}},\n"
    "   {\"acquire\": {\"object\": \"mu2\"}}, {\"release\": {\"object\": \"mu2\"}}, {\"release\": "
    "{\"object\": \"mu\"}}]},\n"
    " {\"name\": \"b\", \"ops\": [{\"acquire\": {\"object\": \"mu2\"}}, {\"wait\": {\"object\": "
    "\"both\"}},\n"
    "   {\"acquire\": {\"object\": \"mu\"}}, {\"release\": {\"object\": \"mu\"}}, {\"release\": "
    "{\"object\": \"mu2\"}}]},\n"
    " {\"name\": \"c\", \"ops\": [{\"join\": {\"threads\": \"a\"}}]}]}";

/* A run through the command line that must fail (exit 1) with each of `want` in its errors,
 * and stop_reason `reason` in its trace. */
static void check_fails(const char *engine, const char *name, const char *text, const char *reason,
                        const char *const *want)
{
    char args[1200], err[600], out[600];
    const char *path = wlfile(name, text);
    snprintf(out, sizeof out, "%s/objects-%s-%d.json", GILSIM_BINARY_DIR, name, (int)getpid());
    snprintf(err, sizeof err, "%s/objects-%s-%d.err", GILSIM_BINARY_DIR, name, (int)getpid());
    snprintf(args, sizeof args, "run %s --engine %s -q --duration 5000 --stall-timeout 300 -o %s",
             path, engine, out);
    tu_context("%s, --engine %s", name, engine);
    TU_ASSERT_CMP(tu_gilsim(args, NULL, err), ==, 1);
    char *msg = tu_slurp(err);
    for (; *want; want++)
        TU_ASSERT_HAS(msg, *want);
    free(msg);
    char stop[80];
    snprintf(stop, sizeof stop, "\"stop_reason\":\"%s\"", reason);
    msg = tu_slurp(out);
    TU_ASSERT_HAS(msg, stop);
    free(msg);
    unlink(out);
    unlink(err);
}

/* A condition's notify and wait by a thread that does not hold its lock (its acquire timed
 * out while another holds it). */
static void test_condition_misuse_virtual(void)
{
    for (int wait = 0; wait < 2; wait++) {
        char text[1200];
        snprintf(text, sizeof text,
                 HEAD "\"objects\": {\"mu\": {\"type\": \"lock\"}, \"cv\": {\"type\": "
                      "\"condition\", \"lock\": \"mu\"}},\n"
                      "\"threads\": [{\"name\": \"a\", \"ops\": [{\"acquire\": {\"object\": "
                      "\"mu\"}}, {\"sleep\": {\"us\": 2000000}},\n"
                      "   {\"release\": {\"object\": \"mu\"}}]},\n"
                      " {\"name\": \"b\", \"start_ms\": 1, \"ops\": [{\"acquire\": {\"object\": "
                      "\"cv\", \"timeout_us\": 10}},\n"
                      "   {\"%s\": {\"object\": \"cv\"}}]}]}",
                 wait ? "wait" : "notify");
        char line[200];
        snprintf(line, sizeof line,
                 "thread b.0: %s on condition \"cv\": its lock is held by a.0, not by this thread",
                 wait ? "wait" : "notify");
        const char *want[] = {line, "RuntimeError", NULL};
        check_fails("virtual", wait ? "cv-misuse-wait" : "cv-misuse-notify", text, "error", want);
    }
}

/* A thread that takes a lock it holds waits for itself: a cycle of one. A queue nobody puts
 * on: a stall with no cycle, each waiter's object told. */
static void test_stalls_virtual(void)
{
    const char *self[] = {"deadlock: a.0 waits for lock mu held by a.0", "run stalled", NULL};
    check_fails("virtual", "self-deadlock",
                HEAD "\"objects\": {\"mu\": {\"type\": \"lock\"}},\n"
                     "\"threads\": [{\"name\": \"a\", \"ops\": [{\"acquire\": {\"object\": "
                     "\"mu\"}}, {\"acquire\": {\"object\": \"mu\"}}]}]}",
                "stalled", self);
    const char *empty[] = {"w.0 waits for an item in queue jobs (0 queued)",
                           "w.1 waits for an item in queue jobs (0 queued)", "run stalled", NULL};
    check_fails("virtual", "empty-queue",
                HEAD "\"objects\": {\"jobs\": {\"type\": \"queue\"}},\n"
                     "\"threads\": [{\"name\": \"w\", \"count\": 2, \"ops\": [{\"get\": "
                     "{\"object\": \"jobs\"}}]}]}",
                "stalled", empty);
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void check_deadlock(const char *engine, int64_t within_ns)
{
    char args[1200], err[600], out[600];
    const char *path = wlfile("deadlock", deadlock_wl);
    snprintf(out, sizeof out, "%s/objects-dl-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(err, sizeof err, "%s/objects-dl-%d.err", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(args, sizeof args, "run %s --engine %s -q --duration 60000 --stall-timeout 300 -o %s",
             path, engine, out);
    tu_context("--engine %s", engine);
    int64_t t0 = wall_ns();
    TU_ASSERT_CMP(tu_gilsim(args, NULL, err), ==, 1);
    TU_ASSERT_CMP(wall_ns() - t0, <, within_ns);
    char *text = tu_slurp(err);
    TU_ASSERT_HAS(
        text, "deadlock: a.0 waits for lock mu2 held by b.0, which waits for lock mu held by a.0");
    TU_ASSERT_HAS(text, "c.0 waits for the end of a.0 (join a), which waits for lock mu2");
    TU_ASSERT_HAS(text, "run stalled");
    free(text);
    text = tu_slurp(out);
    TU_ASSERT_HAS(text, "\"stop_reason\":\"stalled\"");
    free(text);
    unlink(out);
    unlink(err);
}

/* Within 100 ms of wall time (the process's start-up included, so 1 s here). */
static void test_deadlock_virtual(void)
{
    check_deadlock("virtual", 1000000000LL * TU_SLACK);
}

/* ---- the real engine: what no delay can change ------------------------------------------------
 */

static void test_lock_real(void)
{
    check_lock(false);
}

static void test_queue_real(void)
{
    for (int none = 0; none < 2; none++) { /* under none the threads run truly in parallel */
        tu_context("%s", none ? "none" : "new");
        FINISHED(t, wlfile("queue-r", queue_wl), none ? "none" : "new", NULL, 30000, false);
        TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_PUT, "jobs") +
                          count_obj(t, TRACE_EV_OBJ_GET, "jobs"),
                      ==, 200);
        TU_ASSERT_NO_PROBLEM(check_objects(t, 4));
        trace_free(t);
    }
}

/* A timed wait lasts at least its timeout (a timer lower bound). */
static void test_timeout_real(void)
{
    FINISHED(t,
             wlfile("timeout-r", HEAD "\"objects\": {\"jobs\": {\"type\": \"queue\"}},\n"
                                      "\"threads\": [{\"name\": \"w\", \"ops\": [{\"get\": "
                                      "{\"object\": \"jobs\", \"timeout_us\": 2000}}]}]}"),
             "new", NULL, 30000, false);
    struct wait w = first_wait(t);
    TU_ASSERT_CMP(w.timed_out, ==, 1);
    TU_ASSERT_CMP(w.end - w.begin, >=, 2000000);
    trace_free(t);
}

/* Every object in one finite program: it ends, with the counts the program implies. */
static void test_all_objects_real(void)
{
    for (int virt = 0; virt < 2; virt++) {
        tu_context("%s", virt ? "virtual" : "real");
        FINISHED(t, "tests/data/valid/objects-all.json", "new", NULL, 30000, virt);
        TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_GET, "jobs"), ==, 40);
        TU_ASSERT_CMP(count_obj(t, TRACE_EV_OBJ_SET, "done"), ==, 1);
        TU_ASSERT_NO_PROBLEM(tu_check_protocol(t, true));
        TU_ASSERT_NO_PROBLEM(check_objects(t, 3));
        trace_free(t);
    }
}

static void test_misuse_real(void)
{
    check_misuse("real");
}

/* The watchdog (--stall-timeout 300) reports the cycle. */
static void test_deadlock_real(void)
{
    check_deadlock("real", 20000000000LL * TU_SLACK);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"expressions: values, index and count per thread", test_expressions},
        {"expression errors point into the expression", test_expression_errors_point_inside},
        {"object declarations, defaults, own locks, joined groups", test_object_declarations},
        {"virtual: a contended lock", test_lock_virtual},
        {"virtual: a bounded queue, producer and workers", test_queue_virtual},
        {"virtual: a get times out and the thread goes on", test_timeout_virtual},
        {"virtual: event set, clear, wait with a timeout", test_event_virtual},
        {"virtual: condition notify wakes in FIFO order", test_condition_fifo_virtual},
        {"virtual: a condition with a lock of its own", test_condition_own_lock_virtual},
        {"virtual: a semaphore of 2", test_semaphore_virtual},
        {"virtual: a barrier of 3 parties", test_barrier_virtual},
        {"virtual: join waits for the group's end", test_join_virtual},
        {"virtual: the fast path never blocks nor releases the GIL", test_fast_path_virtual},
        {"virtual: lock and semaphore acquires time out, then succeed",
         test_acquire_timeouts_virtual},
        {"virtual: a put on a full queue times out; timeout 0 only tries",
         test_put_timeout_virtual},
        {"virtual: a barrier's timeout breaks it for everyone", test_barrier_broken_virtual},
        {"virtual: deterministic", test_deterministic},
        {"virtual: misuse stops the run with an error", test_misuse_virtual},
        {"virtual: a deadlock is reported at once, with its cycle", test_deadlock_virtual},
        {"virtual: a condition's wait and notify without its lock", test_condition_misuse_virtual},
        {"virtual: a self-deadlock and an empty queue stall, reported", test_stalls_virtual},
        {"real: a contended lock", test_lock_real},
        {"real: a bounded queue (new and none)", test_queue_real},
        {"real: a timed wait lasts its timeout", test_timeout_real},
        {"real and virtual: every object in one program", test_all_objects_real},
        {"real: misuse stops the run with an error", test_misuse_real},
        {"real: the watchdog reports a deadlock's cycle", test_deadlock_real},
        CU_TEST_INFO_NULL,
    };
    return tu_main("objects", tests);
}
