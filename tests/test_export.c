/* tests/test_export.c - `gilsim export`: for a short trace of every shipped workload, the
 * Chrome Trace Event JSON is valid, every track's slices nest or follow each other without
 * overlapping (Perfetto rejects anything else), the slice and instant counts match the source
 * events, and the CSV has one row per event. Bad input exits 2 and writes nothing. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char trace_path[512], out_path[512];

static int gilsim(const char *args)
{
    return tu_gilsim(args, NULL, NULL);
}

struct slice {
    long long start, end;
};

static int by_start(const void *a, const void *b)
{
    const struct slice *x = a, *y = b;
    if (x->start != y->start) return (x->start > y->start) - (x->start < y->start);
    return (y->end > x->end) - (y->end < x->end); /* the longer (outer) one first */
}

static long long ns_of(json_t *us)
{
    return llround(json_number_value(us) * 1000.0);
}

/* Slices of one track must nest or follow each other: NULL, or the first overlap (static buffer).
 */
static const char *overlap(struct slice *s, size_t n)
{
    static char problem[128];
    qsort(s, n, sizeof *s, by_start);
    struct slice stack[64];
    size_t depth = 0;
    for (size_t i = 0; i < n; i++) {
        while (depth && stack[depth - 1].end <= s[i].start)
            depth--;
        if (depth && s[i].end > stack[depth - 1].end) {
            snprintf(problem, sizeof problem, "slice [%lld, %lld] overlaps [%lld, %lld]",
                     s[i].start, s[i].end, stack[depth - 1].start, stack[depth - 1].end);
            return problem;
        }
        if (depth < 64) stack[depth++] = s[i];
    }
    return NULL;
}

static size_t count_name(json_t *events, const char *ph, const char *name)
{
    size_t i, n = 0;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *p = json_string_value(json_object_get(ev, "ph"));
        const char *nm = json_string_value(json_object_get(ev, "name"));
        n += p && nm && strcmp(p, ph) == 0 && strcmp(nm, name) == 0;
    }
    return n;
}

static void check_workload(const char *workload)
{
    char args[1400];
    snprintf(args, sizeof args, "run workloads/%s --policy new -d 150 -q -o '%s'", workload,
             trace_path);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    struct trace *t = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(trace_read(trace_path, &t, &e), 0);
    size_t n_ev[TRACE_EV_COUNT] = {0};
    for (size_t i = 0; i < t->nevents; i++)
        n_ev[t->events[i].ev]++;

    snprintf(args, sizeof args, "export '%s' --format chrome -o '%s'", trace_path, out_path);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out_path, 0, &jerr);
    tu_context("%s", workload);
    TU_ASSERT_NO_PROBLEM(doc ? NULL : jerr.text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    json_t *events = json_object_get(doc, "traceEvents");
    CU_ASSERT_FATAL(json_is_array(events));
    CU_ASSERT_EQUAL(count_name(events, "M", "thread_name"), t->nthreads);
    CU_ASSERT_EQUAL(count_name(events, "M", "process_name"), 1);
    /* Every acquire opens a GIL slice, every request a wait, every io_begin an I/O... */
    CU_ASSERT_EQUAL(count_name(events, "X", "GIL"), n_ev[TRACE_EV_ACQUIRE]);
    CU_ASSERT_EQUAL(count_name(events, "X", "wait for GIL"), n_ev[TRACE_EV_REQUEST]);
    CU_ASSERT_EQUAL(count_name(events, "X", "I/O"), n_ev[TRACE_EV_IO_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "X", "sleep"), n_ev[TRACE_EV_SLEEP_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "X", "native"), n_ev[TRACE_EV_NATIVE_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "X", "hold"), n_ev[TRACE_EV_HOLD_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "X", "forced wait"), n_ev[TRACE_EV_FORCE_WAIT_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "i", "drop request"), n_ev[TRACE_EV_DROP_REQUEST]);
    CU_ASSERT_EQUAL(count_name(events, "i", "failed wakeup"), n_ev[TRACE_EV_WAKEUP_FAILED]);
    CU_ASSERT_EQUAL(count_name(events, "i", "wait timeout"), n_ev[TRACE_EV_WAIT_TIMEOUT]);
    CU_ASSERT(count_name(events, "i", "forced switch") <= n_ev[TRACE_EV_DROP_REQUEST]);
    CU_ASSERT_EQUAL(count_name(events, "b", "request"), n_ev[TRACE_EV_ARRIVAL]);
    CU_ASSERT_EQUAL(count_name(events, "e", "request"), n_ev[TRACE_EV_DONE]);
    CU_ASSERT(count_name(events, "C", "GIL waiters") >= n_ev[TRACE_EV_ACQUIRE] / 2);

    /* Nesting, track by track. */
    for (size_t tid = 0; tid < t->nthreads; tid++) {
        size_t i, n = 0, cap = 1024;
        struct slice *s = malloc(cap * sizeof *s);
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            const char *ph = json_string_value(json_object_get(ev, "ph"));
            if (!ph || strcmp(ph, "X") != 0) continue;
            if (json_integer_value(json_object_get(ev, "tid")) != (json_int_t)tid + 1) continue;
            long long start = ns_of(json_object_get(ev, "ts"));
            long long dur = ns_of(json_object_get(ev, "dur"));
            CU_ASSERT(dur >= 0);
            if (n == cap) s = realloc(s, (cap *= 2) * sizeof *s);
            s[n++] = (struct slice){start, start + dur};
        }
        tu_context("%s, thread %zu", workload, tid);
        TU_ASSERT_NO_PROBLEM(overlap(s, n));
        free(s);
    }
    json_decref(doc);

    snprintf(args, sizeof args, "export '%s' -f csv -o '%s'", trace_path, out_path);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    FILE *f = fopen(out_path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[512];
    size_t rows = 0;
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
    CU_ASSERT_STRING_EQUAL(line, "t_ns,tid,thread,group,ev,reason,ticks,holder,ns,at\n");
    while (fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    CU_ASSERT_EQUAL(rows, t->nevents);
    trace_free(t);
}

static void test_every_workload(void)
{
    DIR *d = opendir(tu_src("workloads"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
        check_workload(de->d_name);
        n++;
    }
    closedir(d);
    CU_ASSERT(n >= 10);
}

static void test_bad_input(void)
{
    char args[1200];
    unlink(out_path);
    snprintf(args, sizeof args, "export workloads/convoy.json -f chrome -o '%s'", out_path);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_NOT_EQUAL(access(out_path, F_OK), 0);
    snprintf(args, sizeof args, "export tests/data/traces/handoff.json -o '%s'", out_path);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    snprintf(args, sizeof args, "export tests/data/traces/handoff.json -f svg -o '%s'", out_path);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_EQUAL(gilsim("export tests/data/traces/handoff.json -f csv"), 2);
    CU_ASSERT_NOT_EQUAL(access(out_path, F_OK), 0);
    CU_ASSERT_EQUAL(gilsim("export --help"), 0);
}

int main(void)
{
    snprintf(trace_path, sizeof trace_path, "%s/export-src-%d.json", GILSIM_BINARY_DIR,
             (int)getpid());
    snprintf(out_path, sizeof out_path, "%s/export-out-%d", GILSIM_BINARY_DIR, (int)getpid());
    CU_TestInfo tests[] = {
        {"every shipped workload: valid, nested, counts match", test_every_workload},
        {"bad input: exit 2, nothing written", test_bad_input},
        CU_TEST_INFO_NULL,
    };
    int rc = tu_main("export", tests);
    unlink(trace_path);
    unlink(out_path);
    return rc;
}
