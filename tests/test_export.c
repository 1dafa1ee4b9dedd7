/* tests/test_export.c - `gilsim export`: for a short trace of every shipped workload and the
 * hand-written ones, the Chrome Trace Event JSON is valid, its slices are B/E pairs that open
 * and close like a stack on every track (no reader needs arithmetic to see they never
 * overlap), the Speedscope document has a profile per thread whose frames nest the same way,
 * the slice and instant counts match the source events, and the CSV has one row per event.
 * Default output names; bad input exits 2 and writes nothing. (tests/test_viewers.py opens
 * the exports in Speedscope itself.) */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/metrics.h"
#include "cli/states.h" /* NSTATES: the slice kinds, one Speedscope frame each */
#include "testutil.h"

static char trace_path[1024], out_path[512];

static int gilsim(const char *args)
{
    return tu_gilsim(args, NULL, NULL);
}

static size_t count_name(json_t *events, const char *ph, const char *name)
{
    size_t i, n = 0;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *p = json_string_value(json_object_get(ev, "ph"));
        const char *nm = json_string_value(json_object_get(ev, "name"));
        n += p && nm && strcmp(p, ph) == 0 && (!name || strcmp(nm, name) == 0);
    }
    return n;
}

/* Track tid's B/E events, in file order (which is time order: readers keep it at equal ts),
 * open and close like a stack: every E ends the slice on top, by name, never before it began,
 * and nothing stays open. What a reader does with them needs no arithmetic on timestamps. */
static bool track_nests(json_t *events, long long tid, const char *what)
{
    const char *stack[16];
    double start[16], last = -1;
    size_t depth = 0, i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        const char *ph = json_string_value(json_object_get(ev, "ph"));
        if (!ph || (strcmp(ph, "B") && strcmp(ph, "E"))) continue;
        if (json_integer_value(json_object_get(ev, "tid")) != tid) continue;
        const char *name = json_string_value(json_object_get(ev, "name"));
        double ts = json_number_value(json_object_get(ev, "ts"));
        bool ok = name && ts >= last && json_object_get(ev, "args") == NULL;
        if (ok && ph[0] == 'B') {
            ok = depth < 16;
            if (ok) start[depth] = ts, stack[depth++] = name;
        } else if (ok) {
            ok = depth > 0 && strcmp(stack[depth - 1], name) == 0 && ts >= start[depth - 1];
            depth -= ok;
        }
        if (!ok) {
            fprintf(stderr, "\n%s: %s %s at %.3f does not nest (depth %zu)\n", what, ph,
                    name ? name : "?", ts, depth);
            return false;
        }
        last = ts;
    }
    if (depth) fprintf(stderr, "\n%s: %s still open at the end\n", what, stack[depth - 1]);
    return depth == 0;
}

/* The Chrome export of the trace at trace_path (t): counts match the events, tracks nest. */
static void check_chrome(const char *workload, const struct trace *t, const size_t *n_ev)
{
    char args[2600];
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
    /* no complete (X) events: their ends would need ts + dur */
    CU_ASSERT_EQUAL(count_name(events, "X", NULL), 0);
    CU_ASSERT_EQUAL(count_name(events, "B", NULL), count_name(events, "E", NULL));
    /* Every acquire opens a GIL slice, every request a wait, every io_begin an I/O... */
    CU_ASSERT_EQUAL(count_name(events, "B", "GIL"), n_ev[TRACE_EV_ACQUIRE]);
    CU_ASSERT_EQUAL(count_name(events, "B", "wait for GIL"), n_ev[TRACE_EV_REQUEST]);
    CU_ASSERT_EQUAL(count_name(events, "B", "I/O"), n_ev[TRACE_EV_IO_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "B", "sleep"), n_ev[TRACE_EV_SLEEP_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "B", "native"), n_ev[TRACE_EV_NATIVE_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "B", "hold"), n_ev[TRACE_EV_HOLD_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "B", "forced wait"), n_ev[TRACE_EV_FORCE_WAIT_BEGIN]);
    CU_ASSERT_EQUAL(count_name(events, "i", "drop request"), n_ev[TRACE_EV_DROP_REQUEST]);
    CU_ASSERT_EQUAL(count_name(events, "i", "failed wakeup"), n_ev[TRACE_EV_WAKEUP_FAILED]);
    CU_ASSERT_EQUAL(count_name(events, "i", "wait timeout"), n_ev[TRACE_EV_WAIT_TIMEOUT]);
    CU_ASSERT(count_name(events, "i", "forced switch") <= n_ev[TRACE_EV_RELEASE]);
    CU_ASSERT_EQUAL(count_name(events, "b", "request"), n_ev[TRACE_EV_ARRIVAL]);
    CU_ASSERT_EQUAL(count_name(events, "e", "request"), n_ev[TRACE_EV_DONE]);
    CU_ASSERT(count_name(events, "C", "GIL waiters") >= n_ev[TRACE_EV_ACQUIRE] / 2);
    for (size_t tid = 0; tid < t->nthreads; tid++) {
        char what[300];
        snprintf(what, sizeof what, "%s, thread %zu", workload, tid);
        CU_ASSERT(track_nests(events, (long long)tid + 1, what));
    }
    json_decref(doc);
}

/* One profile's O/C events open and close like a stack, in time order, inside
 * [startValue, endValue]; counts[frame] += its openings. */
static bool profile_nests(json_t *p, size_t nframes, size_t *counts, const char *what)
{
    json_t *events = json_object_get(p, "events"), *ev;
    double lo = json_number_value(json_object_get(p, "startValue"));
    double hi = json_number_value(json_object_get(p, "endValue")), last = lo;
    long long stack[16];
    size_t depth = 0, i;
    json_array_foreach(events, i, ev)
    {
        const char *type = json_string_value(json_object_get(ev, "type"));
        long long frame = json_integer_value(json_object_get(ev, "frame"));
        double at = json_number_value(json_object_get(ev, "at"));
        bool ok = type && frame >= 0 && (size_t)frame < nframes && at >= last && at <= hi;
        if (ok && strcmp(type, "O") == 0) {
            ok = depth < 16;
            if (ok) stack[depth++] = frame, counts[frame]++;
        } else if (ok) {
            ok = strcmp(type, "C") == 0 && depth > 0 && stack[depth - 1] == frame;
            depth -= ok;
        }
        if (!ok) {
            fprintf(stderr, "\n%s: event %zu (%s %lld at %.0f) does not nest\n", what, i,
                    type ? type : "?", frame, at);
            return false;
        }
        last = at;
    }
    return depth == 0;
}

/* The time a profile spends in frame (its O..C stretches added up), ns. */
static long long frame_total(json_t *p, long long frame)
{
    long long total = 0, since = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(p, "events"), i, ev)
    {
        if (json_integer_value(json_object_get(ev, "frame")) != frame) continue;
        long long at = json_integer_value(json_object_get(ev, "at"));
        if (strcmp(json_string_value(json_object_get(ev, "type")), "O") == 0)
            since = at;
        else
            total += at - since;
    }
    return total;
}

/* The Speedscope export: one evented profile per thread, named as the thread, in ns; the
 * frames are the states; as many slices of each state as the Chrome export has. With m (the
 * trace's metrics), each thread's time in "wait for GIL" is its total wait as the wait
 * attribution counts it: what Speedscope shows is what `gilsim summary` computes. */
static void check_speedscope(const char *workload, const struct trace *t, const size_t *n_ev,
                             const struct met_run *m)
{
    char args[2600];
    snprintf(args, sizeof args, "export '%s' --format speedscope -o '%s'", trace_path, out_path);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out_path, 0, &jerr);
    if (!doc) fprintf(stderr, "\n%s: %s\n", workload, jerr.text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "$schema")),
                           "https://www.speedscope.app/file-format-schema.json");
    json_t *frames = json_object_get(json_object_get(doc, "shared"), "frames");
    json_t *profiles = json_object_get(doc, "profiles");
    CU_ASSERT_EQUAL_FATAL(json_array_size(frames), NSTATES);
    CU_ASSERT_EQUAL_FATAL(json_array_size(profiles), t->nthreads);
    size_t counts[NSTATES] = {0};
    for (size_t tid = 0; tid < t->nthreads; tid++) {
        json_t *p = json_array_get(profiles, tid);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "type")), "evented");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "unit")), "nanoseconds");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "name")), t->threads[tid].name);
        char what[300];
        snprintf(what, sizeof what, "%s speedscope, thread %zu", workload, tid);
        CU_ASSERT(profile_nests(p, NSTATES, counts, what));
        if (m) TU_ASSERT_CMP(frame_total(p, 0), ==, (long long)met_wait_total(m, tid));
    }
    static const struct {
        const char *frame;
        enum trace_ev ev;
    } opened_by[] = {{"wait for GIL", TRACE_EV_REQUEST},
                     {"GIL", TRACE_EV_ACQUIRE},
                     {"I/O", TRACE_EV_IO_BEGIN},
                     {"sleep", TRACE_EV_SLEEP_BEGIN},
                     {"native", TRACE_EV_NATIVE_BEGIN},
                     {"hold", TRACE_EV_HOLD_BEGIN},
                     {"forced wait", TRACE_EV_FORCE_WAIT_BEGIN},
                     {"object wait", TRACE_EV_OBJ_WAIT_BEGIN}};
    for (size_t k = 0; k < NSTATES; k++) {
        CU_ASSERT_STRING_EQUAL(
            json_string_value(json_object_get(json_array_get(frames, k), "name")),
            opened_by[k].frame);
        CU_ASSERT_EQUAL(counts[k], n_ev[opened_by[k].ev]);
    }
    json_decref(doc);
}

static void check_workload(const char *workload)
{
    char args[2600];
    snprintf(args, sizeof args, "run workloads/%s --policy new -d 150 -q -o '%s'", workload,
             trace_path);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    struct trace *t = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(trace_read(trace_path, &t, &e), 0);
    size_t n_ev[TRACE_EV_COUNT] = {0};
    for (size_t i = 0; i < t->nevents; i++)
        n_ev[t->events[i].ev]++;
    check_chrome(workload, t, n_ev);
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    CU_ASSERT_EQUAL_FATAL(met_summarize_file(trace_path, 0, &m, &hdr, &e), 0);
    check_speedscope(workload, t, n_ev, t->complete ? m : NULL);
    met_free(m);
    trace_free(hdr);

    snprintf(args, sizeof args, "export '%s' -f csv -o '%s'", trace_path, out_path);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    FILE *f = fopen(out_path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[512];
    size_t rows = 0;
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));
    CU_ASSERT_STRING_EQUAL(line, "t_ns,tid,thread,group,ev,reason,ticks,holder,ns,at,object,op,"
                                 "timeout_ns,timed_out,value,len,n\n");
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

/* Hand-written traces: a slice's end and the next one's start are one and the same string;
 * overlapping holds (attribution.json), a wait open at the end and a partial record still give
 * tracks that nest in both formats. */
static void test_small_traces(void)
{
    char args[2600];
    snprintf(args, sizeof args, "export tests/data/traces/handoff.json -f chrome -o '%s'",
             out_path);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    CU_ASSERT(tu_file_has(out_path,
                          "{\"ph\":\"E\",\"pid\":1,\"tid\":1,\"name\":\"wait for GIL\","
                          "\"cat\":\"gil\",\"ts\":0.010},\n{\"ph\":\"B\",\"pid\":1,\"tid\":1,"
                          "\"name\":\"GIL\",\"cat\":\"gil\",\"ts\":0.010}"));
    static const char *const traces[] = {"attribution.json",    "partial.json", "none-overlap.json",
                                         "never-acquired.json", "empty.json",   "objects.json"};
    for (size_t i = 0; i < sizeof traces / sizeof *traces; i++) {
        char src[512];
        snprintf(src, sizeof src, "%s", tu_src("tests/data/traces/"));
        snprintf(src + strlen(src), sizeof src - strlen(src), "%s", traces[i]);
        struct trace *t = NULL;
        struct err e = {0};
        CU_ASSERT_EQUAL_FATAL(trace_read(src, &t, &e), 0);
        size_t n_ev[TRACE_EV_COUNT] = {0};
        for (size_t k = 0; k < t->nevents; k++)
            n_ev[t->events[k].ev]++;
        snprintf(trace_path, sizeof trace_path, "%s", src);
        check_chrome(traces[i], t, n_ev);
        check_speedscope(traces[i], t, n_ev, NULL);
        trace_free(t);
    }
    snprintf(trace_path, sizeof trace_path, "%s/export-src-%d.json", GILSIM_BINARY_DIR,
             (int)getpid());
}

/* Without -o the output goes beside the trace, .json replaced by the format's suffix; a name
 * Speedscope would take for another format gets a note (and is written all the same). */
static void test_default_names(void)
{
    char base[600], args[2000], path[700];
    snprintf(base, sizeof base, "%s/export-dflt-%d", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(args, sizeof args, "cp %s '%s.json'", tu_src("tests/data/traces/handoff.json"), base);
    CU_ASSERT_EQUAL_FATAL(system(args), 0);
    static const char *const formats[][2] = {
        {"chrome", ".trace.json"}, {"speedscope", ".speedscope.json"}, {"csv", ".csv"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "export '%s.json' -f %s", base, formats[i][0]);
        CU_ASSERT_EQUAL(gilsim(args), 0);
        snprintf(path, sizeof path, "%s%s", base, formats[i][1]);
        CU_ASSERT_EQUAL(access(path, F_OK), 0);
        unlink(path);
    }
    char err_path[700];
    snprintf(err_path, sizeof err_path, "%s.err", base);
    snprintf(path, sizeof path, "%s.chrome.json", base);
    snprintf(args, sizeof args, "export '%s.json' -f chrome -o '%s'", base, path);
    CU_ASSERT_EQUAL(tu_gilsim(args, NULL, err_path), 0);
    CU_ASSERT(tu_file_has(err_path, "note: Speedscope"));
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    unlink(path);
    snprintf(path, sizeof path, "%s/Trace-20261125T022334.json", GILSIM_BINARY_DIR);
    snprintf(args, sizeof args, "export '%s.json' -f speedscope -o '%s'", base, path);
    CU_ASSERT_EQUAL(tu_gilsim(args, NULL, err_path), 0);
    CU_ASSERT(tu_file_has(err_path, "note: Speedscope"));
    unlink(path);
    snprintf(args, sizeof args, "export '%s.json' -f chrome -o '%s.trace.json'", base, base);
    CU_ASSERT_EQUAL(tu_gilsim(args, NULL, err_path), 0);
    CU_ASSERT(!tu_file_has(err_path, "note:"));
    snprintf(path, sizeof path, "%s.trace.json", base);
    unlink(path);
    unlink(err_path);
    snprintf(path, sizeof path, "%s.json", base);
    unlink(path);
}

static void test_bad_input(void)
{
    char args[2600];
    unlink(out_path);
    snprintf(args, sizeof args, "export workloads/convoy.json -f chrome -o '%s'", out_path);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_NOT_EQUAL(access(out_path, F_OK), 0);
    snprintf(args, sizeof args, "export tests/data/traces/handoff.json -o '%s'", out_path);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    snprintf(args, sizeof args, "export tests/data/traces/handoff.json -f svg -o '%s'", out_path);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_NOT_EQUAL(access(out_path, F_OK), 0);
    snprintf(args, sizeof args, "export tests/data/traces/handoff.json -f csv -o '%s' x", out_path);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_EQUAL(gilsim("export --help"), 0);
}

int main(void)
{
    snprintf(trace_path, sizeof trace_path, "%s/export-src-%d.json", GILSIM_BINARY_DIR,
             (int)getpid());
    snprintf(out_path, sizeof out_path, "%s/export-out-%d", GILSIM_BINARY_DIR, (int)getpid());
    CU_TestInfo tests[] = {
        {"every shipped workload: valid, nested, counts match", test_every_workload},
        {"hand-written traces: same-string boundaries, overlaps, partial", test_small_traces},
        {"default output names; names Speedscope misreads", test_default_names},
        {"bad input: exit 2, nothing written", test_bad_input},
        CU_TEST_INFO_NULL,
    };
    int rc = tu_main("export", tests);
    unlink(trace_path);
    unlink(out_path);
    return rc;
}
