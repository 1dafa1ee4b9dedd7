/* tests/test_compare.c - `gilsim compare` end to end on a short convoy run: the three output
 * formats, the files kept in the output directory, interleaved repeats, parameter sweeps, the
 * convoy factor against `none`, notes for parameters a policy lacks, and bad input refused
 * before anything runs. Also `gilsim summary` as a command. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char out_file[512], err_file[512], dir[512];

static int gilsim(const char *args)
{
    return tu_gilsim(args, out_file, err_file);
}

static void fresh_dir(const char *name)
{
    char cmd[1200];
    snprintf(dir, sizeof dir, "%s/cmp-%s-%d", GILSIM_BINARY_DIR, name, (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static bool exists_in_dir(const char *name)
{
    char path[1200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    bool ok = stat(path, &st) == 0 && st.st_size > 0;
    if (!ok) fprintf(stderr, "\nmissing or empty: %s\n", path);
    return ok;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

/* The interval_us a run's trace was made with (its run.params), -1 when it cannot be read. */
static double trace_interval_us(const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name ? name : "");
    json_error_t jerr;
    json_t *t = json_load_file(path, 0, &jerr);
    double v = num(json_object_get(json_object_get(t, "run"), "params"), "interval_us");
    json_decref(t);
    return v;
}

/* json: 2 policies x 2 interval values x 2 repeats, plus one extra `none` for the factor
 * (--keep-disturbed: on a busy machine every run may be disturbed, and this is not about that;
 * test_disturbed_runs is). Each
 * run is made with its column's interval (its trace says so). The convoy's size depends on the
 * machine: on a quiet one each I/O waits out an interval (factor ~10 at 1 ms); when the CPU
 * thread is kept off its core it cannot queue, and the I/O thread runs free meanwhile. So
 * every factor only has to show the I/O thread losing time (2 to 200 measured, with and
 * without a CPU hog); test_virtual has the exact convoy. */
static void test_json_sweep(void)
{
    char args[1024];
    fresh_dir("json");
    snprintf(args, sizeof args,
             "compare workloads/convoy.json -p new,fifo --set interval_us=1000,3000 -r 2 -d 200 "
             "--keep-disturbed "
             "--seed 3 -o '%s' --format json",
             dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out_file, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "format")), "gilsim-compare");
    CU_ASSERT_EQUAL(num(doc, "repeat"), 2);
    CU_ASSERT_EQUAL(num(doc, "seed"), 3);
    CU_ASSERT_EQUAL(num(doc, "duration_ms"), 200);
    json_t *configs = json_object_get(doc, "configs");
    CU_ASSERT_EQUAL_FATAL(json_array_size(configs), 5);
    const char *labels[] = {"new interval_us=1000", "new interval_us=3000", "fifo interval_us=1000",
                            "fifo interval_us=3000", "none"};
    const double interval_us[] = {1000, 3000, 1000, 3000, -1};
    double base_io = num(json_object_get(doc, "baseline"), "io_per_s");
    CU_ASSERT(base_io > 1000); /* the I/O thread alone: thousands of 40 us I/Os per second */
    for (size_t i = 0; i < 5; i++) {
        json_t *cfg = json_array_get(configs, i);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(cfg, "label")), labels[i]);
        json_t *runs = json_object_get(cfg, "runs");
        bool baseline = json_is_true(json_object_get(cfg, "baseline_only"));
        CU_ASSERT_EQUAL(baseline, i == 4);
        CU_ASSERT_EQUAL(json_array_size(runs), baseline ? 1 : 2);
        size_t k;
        json_t *run;
        json_array_foreach(runs, k, run)
        {
            CU_ASSERT_EQUAL(num(run, "status"), 0);
            const char *trace = json_string_value(json_object_get(run, "trace"));
            CU_ASSERT(exists_in_dir(trace));
            CU_ASSERT(exists_in_dir(json_string_value(json_object_get(run, "summary"))));
            json_t *m = json_object_get(run, "metrics");
            double io = num(m, "io_per_s"), cf = num(m, "convoy_factor");
            printf("\n  %s r%zu: %.0f I/O ops/s, convoy factor %.2f", labels[i], k + 1, io, cf);
            tu_context("%s, run %zu", labels[i], k + 1);
            TU_ASSERT_CMP(io, >, 0);
            /* convoy_factor = I/O ops/s under none / under the policy, same seed */
            CU_ASSERT_DOUBLE_EQUAL(cf, base_io / io, 1e-6 * cf);
            if (baseline) continue;
            TU_ASSERT_CMP(trace_interval_us(trace), ==, interval_us[i]);
            TU_ASSERT_CMP(cf, >, 1.0);
        }
        /* the convoy's top blocker: the CPU thread, most of the I/O thread's wait */
        json_t *top = json_object_get(cfg, "top_blocker");
        if (!baseline) {
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(top, "holder")), "cpu.0");
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(top, "waiter")), "io.0");
            CU_ASSERT_EQUAL(num(top, "runs"), 2);
            CU_ASSERT_EQUAL(num(top, "of"), 2);
            CU_ASSERT(num(json_object_get(top, "share"), "median") > 0.5);
            json_t *r1 = json_object_get(json_array_get(runs, 0), "top_blocker");
            CU_ASSERT(num(r1, "ns") > 0 && num(r1, "share") <= 1);
        }
        json_t *agg = json_object_get(json_object_get(cfg, "metrics"), "io_per_s");
        CU_ASSERT_EQUAL(num(agg, "n"), baseline ? 1 : 2);
        CU_ASSERT(num(agg, "min") <= num(agg, "median") && num(agg, "median") <= num(agg, "max"));
    }
    json_decref(doc);
    CU_ASSERT(exists_in_dir("index.json"));
    CU_ASSERT(exists_in_dir("runs.csv"));
    CU_ASSERT(exists_in_dir("table.txt"));
}

/* Counts a CSV line's fields (no quoted commas in these). */
static int csv_fields(const char *line)
{
    int fields = 1;
    for (const char *p = line; *p; p++)
        fields += *p == ',';
    return fields;
}

/* runs.csv: one row per run in the order run: the baseline, then repeat 1 of every column, then
 * repeat 2 (interleaved); every row has as many fields as the header. --format csv: one row per
 * cell (cells.csv) with every metric's median, min and max. */
static void test_csv_interleaved(void)
{
    char args[1024], path[1200];
    fresh_dir("csv");
    snprintf(args, sizeof args,
             "compare workloads/convoy.json -p old,new -r 2 -d 100 -o '%s' --format csv", dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    char *s = tu_slurp(path), *save = NULL;
    const char *expect[] = {"none,,real,,1,", "old,,real,,1,", "new,,real,,1,", "old,,real,,2,",
                            "new,,real,,2,"};
    int row = -1, header_fields = 0;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save), row++) {
        if (row < 0) {
            header_fields = csv_fields(line);
            TU_ASSERT_HAS(line, "policy,params,engine,vars,repeat,seed");
            TU_ASSERT_HAS(line, "convoy_factor");
            TU_ASSERT_HAS(line, ",top_blocker_holder,top_blocker_waiter,");
            continue;
        }
        CU_ASSERT_EQUAL(csv_fields(line), header_fields);
        tu_context("row %d: %s", row, line);
        if (row < 5) TU_ASSERT_CMP(strncmp(line, expect[row], strlen(expect[row])), ==, 0);
    }
    CU_ASSERT_EQUAL(row, 5);
    free(s);
    s = tu_slurp(out_file);
    const char *cells[] = {"0,old,old,real,0,2,0,", "1,new,new,real,0,2,0,",
                           "2,none,none,real,1,1,0,"};
    row = -1;
    for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save), row++) {
        if (row < 0) {
            header_fields = csv_fields(line);
            TU_ASSERT_HAS(line, "cell,label,policy,engine,baseline_only,runs,failed,");
            TU_ASSERT_HAS(line, ",convoy_factor_median,convoy_factor_min,convoy_factor_max,");
            continue;
        }
        CU_ASSERT_EQUAL(csv_fields(line), header_fields);
        tu_context("cell row %d: %s", row, line);
        if (row < 3) TU_ASSERT_CMP(strncmp(line, cells[row], strlen(cells[row])), ==, 0);
    }
    CU_ASSERT_EQUAL(row, 3);
    snprintf(path, sizeof path, "%s/cells.csv", dir);
    char *file = tu_slurp(path), *again = tu_slurp(out_file);
    CU_ASSERT_STRING_EQUAL(file, again); /* cells.csv is what was printed */
    free(file);
    free(again);
    free(s);
}

/* table: a column per policy, rows of metrics, a note for a parameter a policy lacks, and no
 * extra baseline run when none was asked for. */
static void test_table_and_notes(void)
{
    char args[1024];
    fresh_dir("table");
    snprintf(args, sizeof args,
             "compare workloads/convoy.json -p new,none --set interval_us=2000 -d 100 "
             "--keep-disturbed -o '%s'",
             dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    char *s = tu_slurp(out_file);
    const char *want[] = {"convoy",
                          "new",
                          "none",
                          "interval_us=2000",
                          "I/O ops/s",
                          "convoy factor",
                          "I/O response p50",
                          "top blocker",
                          "cpu.0->io.0 ",
                          "note: none has no parameter interval_us: ignored for it"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        TU_ASSERT_HAS(s, want[i]);
    }
    CU_ASSERT_PTR_NULL(strstr(s, "one extra run"));
    free(s);
    CU_ASSERT(exists_in_dir("none-r1.json"));
    CU_ASSERT(exists_in_dir("new-interval_us=2000-r1.json"));
    char path[1200];
    snprintf(path, sizeof path, "%s/none-baseline.json", dir);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
}

/* Bad input: exit 2 before any run, nothing written. */
static void test_bad_input(void)
{
    const char *bad[] = {
        "-p new,bogus",
        "-p new --set bogus=1",
        "-p new --set interval_us=-5",
        "-p new --set interval_us=",
        "-p new,new",
        "-p new --format xml",
        "-p new --repeat 0",
        "-p new --duration 0",
        "-p new --frobnicate",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[1024];
        fresh_dir("bad");
        snprintf(args, sizeof args, "compare workloads/convoy.json %s -d 100 -o '%s'", bad[i], dir);
        tu_context("'%s'", bad[i]);
        TU_ASSERT_CMP(gilsim(args), ==, 2);
        CU_ASSERT_NOT_EQUAL(access(dir, F_OK), 0);
    }
    char args[1024];
    fresh_dir("bad");
    snprintf(args, sizeof args, "compare tests/data/invalid/unknown-top-key.json -o '%s'", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_NOT_EQUAL(access(dir, F_OK), 0);
    /* An earlier compare in the directory is not overwritten. */
    fresh_dir("twice");
    snprintf(args, sizeof args, "compare workloads/io-only.json -p new -d 50 -o '%s'", dir);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_EQUAL(gilsim("compare --help"), 0);
}

/* cpython: the workload on real CPython threads (tools/pyrun with /usr/bin/python3) is one more
 * column, swept like a policy; its trace is in the directory like the others. */
static void test_cpython_column(void)
{
    char args[1024];
    fresh_dir("cpython");
    snprintf(args, sizeof args,
             "compare workloads/convoy.json -p cpython,new --set interval_us=1000 -d 200 "
             "--keep-disturbed -o '%s' "
             "--format json",
             dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out_file, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    json_t *configs = json_object_get(doc, "configs");
    CU_ASSERT_EQUAL_FATAL(json_array_size(configs), 3); /* cpython, new, the none baseline */
    json_t *cfg = json_array_get(configs, 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(cfg, "label")),
                           "cpython interval_us=1000");
    json_t *run = json_array_get(json_object_get(cfg, "runs"), 0);
    CU_ASSERT_EQUAL(num(run, "status"), 0);
    const char *trace = json_string_value(json_object_get(run, "trace"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(trace);
    CU_ASSERT_STRING_EQUAL(trace, "cpython-interval_us=1000-r1.json");
    json_t *m = json_object_get(run, "metrics");
    CU_ASSERT(num(m, "io_per_s") > 0);
    printf("\n  cpython interval_us=1000: %.0f I/O ops/s, convoy factor %.2f", num(m, "io_per_s"),
           num(m, "convoy_factor"));
    CU_ASSERT(num(m, "convoy_factor") > 1); /* a 1 ms interval convoys the 40 us I/O loop */
    CU_ASSERT(num(m, "slice_p50_ns") > 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, trace);
    json_t *t = json_load_file(path, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    json_t *run_hdr = json_object_get(t, "run");
    CU_ASSERT_EQUAL(strncmp(json_string_value(json_object_get(run_hdr, "policy")), "cpython-", 8),
                    0);
    CU_ASSERT_EQUAL(num(json_object_get(run_hdr, "params"), "interval_us"), 1000);
    json_decref(t);
    bool noted = false;
    size_t i;
    json_t *note;
    json_array_foreach(json_object_get(doc, "notes"), i, note) noted |=
        strstr(json_string_value(note), "cpython = cpython-") != NULL;
    CU_ASSERT(noted);
    json_decref(doc);

    /* A parameter the interpreter does not have: input error before anything runs. */
    fresh_dir("cpython-bad");
    snprintf(args, sizeof args,
             "compare workloads/convoy.json -p cpython --set force_switching=0 -o '%s'", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT_NOT_EQUAL(access(dir, F_OK), 0);
    /* No interpreter: a clear runtime error, nothing run. */
    snprintf(args, sizeof args, "compare workloads/convoy.json -p cpython,new -d 50 -o '%s'", dir);
    const char *no_python[] = {"GILSIM_PYTHON=/nonexistent/python3", NULL};
    struct tu_proc p = {.err = err_file, .env = no_python};
    CU_ASSERT_FATAL(tu_start(&p, "gilsim", args));
    CU_ASSERT_EQUAL(tu_wait(&p, 120.0 * TU_SLACK), 1);
    CU_ASSERT(tu_file_has(err_file, "GILSIM_PYTHON"));
    CU_ASSERT_NOT_EQUAL(access(dir, F_OK), 0);
}

/* `gilsim summary` as a command: text, --json, and errors. */
static void test_summary_command(void)
{
    char trace[600], args[1200];
    snprintf(trace, sizeof trace, "%s/summary-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    /* In virtual time (deterministic): the convoy's figure below is exact there. */
    snprintf(args, sizeof args, "run workloads/convoy.json -p new -e virtual -d 200 -q -o '%s'",
             trace);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    snprintf(args, sizeof args, "summary '%s'", trace);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    char *s = tu_slurp(out_file);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "io_response"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "convoy under new"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "io.0"));
    free(s);
    snprintf(args, sizeof args, "summary --json '%s'", trace);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out_file, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "format")), "gilsim-summary");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(doc, "threads")), 2);
    /* the convoy, seen by summary: the I/O thread waits an interval (5 ms) after each I/O */
    json_t *io = json_object_get(json_object_get(doc, "run"), "io_response");
    TU_ASSERT_CMP(num(io, "p50_ns"), >=, 5e6);
    TU_ASSERT_CMP(num(io, "p50_ns"), <, 5.2e6);
    json_decref(doc);
    unlink(trace);
    CU_ASSERT_EQUAL(gilsim("summary --help"), 0);
    CU_ASSERT_EQUAL(gilsim("summary"), 2);
    CU_ASSERT_EQUAL(gilsim("summary /nonexistent.json"), 2);
    CU_ASSERT_EQUAL(gilsim("summary workloads/convoy.json"), 2);
    s = tu_slurp(err_file);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "workloads/convoy.json:1:"));
    free(s);

    /* --samples: every sample as CSV, each thread's sorted (handoff.json's README) */
    CU_ASSERT_EQUAL(gilsim("summary tests/data/traces/handoff.json --samples gil_wait,handoff_gap"),
                    0);
    s = tu_slurp(out_file);
    CU_ASSERT_STRING_EQUAL(s, "metric,tid,thread,ns\n"
                              "gil_wait,0,cpu.0,10\ngil_wait,0,cpu.0,10\ngil_wait,0,cpu.0,340\n"
                              "gil_wait,1,cpu.1,5\ngil_wait,1,cpu.1,10\ngil_wait,1,cpu.1,110\n"
                              "handoff_gap,0,cpu.0,50\nhandoff_gap,1,cpu.1,30\n");
    free(s);
    CU_ASSERT_EQUAL(gilsim("summary tests/data/traces/handoff.json --samples all"), 0);
    CU_ASSERT(tu_file_has(out_file, "slice,1,cpu.1,90\n"));
    /* the waiter x holder matrix (tests/data/traces/README.md, "attribution.json") */
    CU_ASSERT_EQUAL(gilsim("summary tests/data/traces/handoff.json --samples "
                           "handoff_gap,wait_attribution"),
                    0);
    s = tu_slurp(out_file);
    CU_ASSERT_STRING_EQUAL(s, "metric,tid,thread,ns,holder_tid,holder,share\n"
                              "handoff_gap,0,cpu.0,50,,,\nhandoff_gap,1,cpu.1,30,,,\n"
                              "wait_attribution,0,cpu.0,240,1,cpu.1,0.6666666667\n"
                              "wait_attribution,0,cpu.0,120,,(free),0.3333333333\n"
                              "wait_attribution,1,cpu.1,80,0,cpu.0,0.64\n"
                              "wait_attribution,1,cpu.1,45,,(free),0.36\n");
    free(s);
    CU_ASSERT_EQUAL(gilsim("summary tests/data/traces/handoff.json --samples wait_attribution,x"),
                    2);
    CU_ASSERT_EQUAL(gilsim("summary tests/data/traces/handoff.json --samples gil_wait,bogus"), 2);
    CU_ASSERT(tu_file_has(err_file, "--samples"));
    CU_ASSERT_EQUAL(gilsim("summary tests/data/traces/handoff.json --samples"), 2);
    CU_ASSERT_EQUAL(gilsim("summary tests/data/traces/handoff.json --json --samples all"), 2);
}

/* A run of the sweep has finished (its result file is written last). */
static bool one_run_finished(void *ctx)
{
    (void)ctx;
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *de; d && !found && (de = readdir(d));) {
        size_t n = strlen(de->d_name), k = strlen(".result.json");
        found = n > k && strcmp(de->d_name + n - k, ".result.json") == 0;
    }
    if (d) closedir(d);
    return found;
}

/* SIGINT during a sweep: the run in progress stops (a partial trace), no further run starts,
 * and the index of what ran is written; exit status 130. The signal comes once the first of the
 * 1 s runs has finished: the others have not. */
static void test_interrupted(void)
{
    fresh_dir("int");
    char args[2048];
    snprintf(args, sizeof args, "compare workloads/convoy.json -p new,fifo -r 3 -d 1000 -o '%s'",
             dir);
    struct tu_proc p = {.out = out_file, .err = err_file};
    CU_ASSERT_FATAL(tu_start(&p, "gilsim", args));
    CU_ASSERT(tu_poll(one_run_finished, NULL, 60.0 * TU_SLACK));
    kill(p.pid, SIGINT);
    CU_ASSERT_EQUAL(tu_wait(&p, 60.0 * TU_SLACK), 130);
    CU_ASSERT(exists_in_dir("index.json"));
    CU_ASSERT(exists_in_dir("table.txt"));
    char path[1200];
    snprintf(path, sizeof path, "%s/index.json", dir);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    size_t i, k, ok = 0, not_run = 0;
    json_t *cfg, *run;
    json_array_foreach(json_object_get(doc, "configs"), i, cfg)
    {
        json_array_foreach(json_object_get(cfg, "runs"), k, run)
        {
            json_int_t status = json_integer_value(json_object_get(run, "status"));
            ok += status == 0;
            not_run += status == -1;
        }
    }
    /* 6 runs of 1 s, stopped after the first: some ran, the last ones did not */
    CU_ASSERT(ok >= 1 && ok < 6);
    CU_ASSERT(not_run >= 1);
    json_t *notes = json_object_get(doc, "notes");
    json_t *note;
    bool noted = false;
    json_array_foreach(notes, i, note) noted |= strstr(json_string_value(note), "SIGINT") != NULL;
    CU_ASSERT(noted);
    json_decref(doc);
}

/* n processes that spin until killed (SIGKILL by stop_hogs). */
static void start_hogs(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            volatile unsigned long x = 0;
            for (;;)
                x++;
        }
    }
}

static void stop_hogs(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
}

/* Whether a trace's tick stayed within 10% of its target, at start-up and after the run. */
static bool tick_kept(const char *trace)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, trace);
    json_error_t jerr;
    json_t *t = json_load_file(path, 0, &jerr);
    json_t *cal = json_object_get(json_object_get(t, "run"), "calibration");
    double target = num(cal, "tick_ns_target"), start = num(cal, "ns_per_tick"),
           end = num(cal, "ns_per_tick_end");
    printf("\n  %s: tick %.1f ns at start-up, %.1f ns of CPU after, target %.0f", trace, start, end,
           target);
    json_decref(t);
    return target > 0 && end > 0 && fabs(start / target - 1) <= 0.1 &&
           fabs(end / target - 1) <= 0.1;
}

/* Beside 3 CPU hogs on the 2-core machine, every real run either keeps its tick within 10% of
 * the target or is marked disturbed (in index.json, and by `gilsim summary`); compare leaves
 * the disturbed runs out of the medians, --keep-disturbed counts them, --strict exits 1. An
 * implication, whatever the hogs manage to do to each run. */
static void test_disturbed_runs(void)
{
    pid_t hogs[3];
    char args[1400];
    fresh_dir("hogs");
    snprintf(args, sizeof args,
             "compare workloads/cpu1.json -p new -r 4 -d 200 -o '%s' --format json", dir);
    start_hogs(hogs, 3);
    int rc = gilsim(args);
    stop_hogs(hogs, 3);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    json_error_t jerr;
    json_t *doc = json_load_file(out_file, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    json_t *cfg = json_array_get(json_object_get(doc, "configs"), 0), *run;
    size_t k, disturbed = 0;
    json_array_foreach(json_object_get(cfg, "runs"), k, run)
    {
        const char *trace = json_string_value(json_object_get(run, "trace"));
        bool marked = json_is_true(json_object_get(run, "disturbed"));
        tu_context("%s", trace);
        CU_ASSERT(tick_kept(trace) || marked);
        disturbed += marked;
        if (!marked) continue;
        char sum[1400];
        snprintf(sum, sizeof sum, "summary '%s/%s'", dir, trace);
        CU_ASSERT_EQUAL(gilsim(sum), 0);
        CU_ASSERT(tu_file_has(out_file, "WARNING   disturbed: "));
    }
    printf("\n  %zu of 4 runs disturbed beside 3 hogs", disturbed);
    json_t *ticks = json_object_get(json_object_get(cfg, "metrics"), "ticks_per_s");
    CU_ASSERT_EQUAL(num(ticks, "n"), 4 - (double)disturbed);
    CU_ASSERT_EQUAL(num(cfg, "disturbed_runs"), (double)disturbed);
    json_decref(doc);
    /* read again: counted all the same, or an error */
    snprintf(args, sizeof args, "compare --collect '%s' --keep-disturbed --format json", dir);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    doc = json_load_file(out_file, 0, &jerr);
    cfg = json_array_get(json_object_get(doc, "configs"), 0);
    CU_ASSERT_EQUAL(num(json_object_get(json_object_get(cfg, "metrics"), "ticks_per_s"), "n"), 4);
    json_decref(doc);
    snprintf(args, sizeof args, "compare --collect '%s' --strict", dir);
    CU_ASSERT_EQUAL(gilsim(args), disturbed ? 1 : 0);
}

int main(void)
{
    snprintf(out_file, sizeof out_file, "%s/cmp-out-%d.txt", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(err_file, sizeof err_file, "%s/cmp-err-%d.txt", GILSIM_BINARY_DIR, (int)getpid());
    CU_TestInfo tests[] = {
        {"json: sweep, repeats, convoy factor, files", test_json_sweep},
        {"csv: one row per run (runs.csv), one per cell (--format csv)", test_csv_interleaved},
        {"table: columns, notes, no extra baseline", test_table_and_notes},
        {"bad input: exit 2, nothing written", test_bad_input},
        {"summary command", test_summary_command},
        {"SIGINT: the index of what ran, exit 130", test_interrupted},
        {"cpython: real interpreter threads as a column", test_cpython_column},
        {"beside 3 hogs: every run keeps its tick or is marked disturbed", test_disturbed_runs},
        CU_TEST_INFO_NULL,
    };
    int rc = tu_main("compare", tests);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/cmp-*-%d", GILSIM_BINARY_DIR, (int)getpid());
    if (system(cmd) != 0) rc = 1;
    unlink(out_file);
    unlink(err_file);
    return rc;
}
