/* tests/test_sweeps.c - `gilsim compare` as a sweep (issue 17, docs/sweeps.md): workload
 * variables and engines as dimensions, one row per cell when there are many, the plan file,
 * `--run` of one run (by --index and by SLURM_ARRAY_TASK_ID), `--collect` of what finished,
 * resubmission skipping finished runs, a killed run leaving no trace, --jobs and its rules for
 * real-engine runs, seeds per repeat, and bad input refused before anything runs. Virtual runs
 * are deterministic for their seed, so results from different paths (local --jobs, one --run
 * at a time) must be identical. */
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    snprintf(dir, sizeof dir, "%s/sweep-%s-%d", GILSIM_BINARY_DIR, name, (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static bool in_dir(const char *d, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", d, name);
    return access(path, F_OK) == 0;
}

static json_t *load(const char *d, const char *name)
{
    char path[1200];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/%s", d, name);
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc) fprintf(stderr, "\n%s: %s\n", path, jerr.text);
    return doc;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The cell of index.json with this label. */
static json_t *cell(json_t *index, const char *label)
{
    size_t i;
    json_t *cfg;
    json_array_foreach(json_object_get(index, "configs"), i,
                       cfg) if (strcmp(str(cfg, "label"), label) == 0) return cfg;
    tu_context("no cell '%s'", label);
    CU_FAIL("cell missing");
    return NULL;
}

static double median(json_t *cfg, const char *metric)
{
    return num(json_object_get(json_object_get(cfg, "metrics"), metric), "median");
}

/* Variables and engines are dimensions: every combination a cell, the convoy factor against
 * the lock-free cell of the same engine and variables, each trace saying its engine and
 * variables. */
static void test_grid(void)
{
    char args[1024];
    fresh_dir("grid");
    snprintf(args, sizeof args,
             "compare workloads/convoy-n.json -p new,none -e real,virtual --var cpu_threads=1,2 "
             "-d 100 -j 2 -o '%s' --format json",
             dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    CU_ASSERT(tu_file_has(err_file, "real-engine runs run one at a time"));
    json_error_t jerr;
    json_t *index = json_load_file(out_file, 0, &jerr);
    CU_ASSERT_PTR_NOT_NULL_FATAL(index);
    TU_ASSERT_CMP(json_array_size(json_object_get(index, "configs")), ==, 8);
    TU_ASSERT_CMP(num(index, "runs_total"), ==, 8);
    json_t *v2 = cell(index, "new virtual cpu_threads=2"), *n2 = cell(index, "none virtual "
                                                                             "cpu_threads=2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n2);
    CU_ASSERT_STRING_EQUAL(str(v2, "engine"), "virtual");
    TU_ASSERT_CMP(num(json_object_get(v2, "vars"), "cpu_threads"), ==, 2);
    /* the baseline of a virtual cell is the virtual none cell with the same variables */
    TU_ASSERT_CMP(num(v2, "baseline_io_per_s"), ==, median(n2, "io_per_s"));
    double cf = median(v2, "convoy_factor");
    CU_ASSERT_DOUBLE_EQUAL(cf, median(n2, "io_per_s") / median(v2, "io_per_s"), 1e-9 * cf);
    json_t *run = json_array_get(json_object_get(v2, "runs"), 0);
    json_t *trace = load(dir, str(run, "trace"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(trace);
    json_t *hdr = json_object_get(trace, "run");
    CU_ASSERT_STRING_EQUAL(str(hdr, "engine"), "virtual");
    TU_ASSERT_CMP(num(json_object_get(hdr, "vars"), "cpu_threads"), ==, 2);
    TU_ASSERT_CMP(json_array_size(json_object_get(trace, "threads")), ==, 3);
    json_decref(trace);
    json_decref(index);
    CU_ASSERT(in_dir(dir, "plan.json") && in_dir(dir, "cells.csv") && in_dir(dir, "runs.csv"));
}

/* More cells than a table's columns: one row per cell, the dimensions first. */
static void test_pivot(void)
{
    char args[1024];
    fresh_dir("pivot");
    snprintf(args, sizeof args,
             "compare workloads/convoy-n.json -p new,fifo,prio,none -e virtual "
             "--var cpu_threads=1,2,3 -d 100 -j 2 -o '%s'",
             dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    char *s = tu_slurp(out_file);
    TU_ASSERT_HAS(s, "policy  engine   cpu_threads  convoy factor");
    TU_ASSERT_HAS(s, "\nprio    virtual  3  ");
    TU_ASSERT_HAS(s, "of the same engine and variables");
    free(s);
}

/* The count of files in d whose name ends with suffix. */
static int count_files(const char *d, const char *suffix)
{
    char cmd[1200];
    int len =
        snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c -- '%s$' > '%s'", d, suffix, out_file);
    /* A truncated command would count something else: -1 fails the caller's assertion. */
    if (len < 0 || (size_t)len >= sizeof cmd || system(cmd) < 0) return -1;
    char *s = tu_slurp(out_file);
    int n = atoi(s);
    free(s);
    return n;
}

/* --plan writes the plan and runs nothing; --run runs one (by --index or
 * SLURM_ARRAY_TASK_ID, from any directory) and skips a finished one; --collect lists what has
 * not finished (exit 1), then, all done, gives the same figures as a local --jobs sweep. */
static void test_plan_run_collect(void)
{
    char args[2048], plan_dir[600], local_dir[600];
    fresh_dir("local");
    snprintf(local_dir, sizeof local_dir, "%s", dir);
    fresh_dir("plan");
    snprintf(plan_dir, sizeof plan_dir, "%s", dir);
    const char *sweep = "workloads/convoy-n.json -p new,prio -e virtual --var cpu_threads=1,2 "
                        "--set interval_us=1000,2000 -r 2 -d 100";
    snprintf(args, sizeof args, "compare %s --plan -o '%s'", sweep, plan_dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    CU_ASSERT(tu_file_has(out_file, "planned in"));
    json_t *plan = load(plan_dir, "plan.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    size_t nruns = json_array_size(json_object_get(plan, "runs"));
    TU_ASSERT_CMP(nruns, ==, 18); /* 2 policies x 2 x 2 x 2 repeats + 2 baselines */
    json_t *r0 = json_array_get(json_object_get(plan, "runs"), 0);
    TU_ASSERT_HAS(json_string_value(json_array_get(json_object_get(r0, "argv"), 1)), "run");
    TU_ASSERT_CMP(count_files(plan_dir, ".json"), ==, 1); /* nothing ran */
    json_decref(plan);

    /* from another directory: the plan's paths are absolute */
    snprintf(args, sizeof args, "compare --run '%s' --index 3", plan_dir);
    struct tu_proc p = {.dir = "/", .err = err_file};
    CU_ASSERT(tu_start(&p, "gilsim", args) && tu_wait(&p, 120.0 * TU_SLACK) == 0);
    snprintf(args, sizeof args, "compare --run '%s'", plan_dir);
    const char *task5[] = {"SLURM_ARRAY_TASK_ID=5", NULL};
    p = (struct tu_proc){.dir = "/", .err = err_file, .env = task5};
    CU_ASSERT(tu_start(&p, "gilsim", args) && tu_wait(&p, 120.0 * TU_SLACK) == 0);
    TU_ASSERT_CMP(count_files(plan_dir, ".result.json"), ==, 2);
    snprintf(args, sizeof args, "compare --collect '%s'", plan_dir);
    CU_ASSERT_EQUAL(gilsim(args), 1);
    CU_ASSERT(tu_file_has(out_file, "16 of 18 runs not finished (status -1): 0-2, 4, 6-17"));
    /* a finished run is not run again */
    snprintf(args, sizeof args, "compare --run '%s' --index 3", plan_dir);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    CU_ASSERT(tu_file_has(err_file, "has finished already"));
    for (size_t i = 0; i < nruns; i++) {
        snprintf(args, sizeof args, "compare --run '%s' --index %zu", plan_dir, i);
        CU_ASSERT_EQUAL(gilsim(args), 0);
    }
    snprintf(args, sizeof args, "compare --collect '%s' --format csv", plan_dir);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    char *collected = tu_slurp(out_file);
    snprintf(args, sizeof args, "compare %s -j 2 -o '%s' --format csv", sweep, local_dir);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    char *local = tu_slurp(out_file);
    CU_ASSERT_STRING_EQUAL(collected, local); /* virtual runs: identical figures */
    free(collected);
    free(local);
    CU_ASSERT_EQUAL(count_files(plan_dir, ".summary.json"), 18);
}

/* The run's child has reserved its output under DIR/.partial: it takes its signals. */
static bool child_reserved(void *ctx)
{
    (void)ctx;
    char partial[700];
    snprintf(partial, sizeof partial, "%s/.partial", dir);
    DIR *d = opendir(partial);
    bool found = false;
    for (struct dirent *de; d && !found && (de = readdir(d));)
        found = de->d_name[0] != '.';
    if (d) closedir(d);
    return found;
}

/* SIGTERM to `--run` (what Slurm sends a task it cancels): the child stops, its partial trace
 * is removed, no result is written, exit 143; the run runs again when resubmitted. The run
 * lasts ten minutes unless stopped; the signal comes once its child is under way. */
static void test_killed_run_leaves_nothing(void)
{
    char args[1024];
    fresh_dir("killed");
    snprintf(args, sizeof args,
             "compare workloads/convoy.json -p new -r 1 -d 600000 --plan -o '%s'", dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    snprintf(args, sizeof args, "compare --run '%s' --index 1", dir);
    struct tu_proc p = {.err = err_file};
    CU_ASSERT_FATAL(tu_start(&p, "gilsim", args));
    CU_ASSERT(tu_poll(child_reserved, NULL, 60.0 * TU_SLACK));
    kill(p.pid, SIGTERM);
    TU_ASSERT_CMP(tu_wait(&p, 60.0 * TU_SLACK), ==, 143);
    CU_ASSERT(!in_dir(dir, "new-r1.json"));
    CU_ASSERT(!in_dir(dir, "new-r1.result.json"));
    char partial[700];
    snprintf(partial, sizeof partial, "%s/.partial", dir);
    TU_ASSERT_CMP(count_files(partial, "json"), ==, 0);
}

/* --jobs with real runs: alone unless --cpus-per-run; more cores than the machine has and bad
 * --cpus are input errors. */
static void test_jobs_rules(void)
{
    char args[1024];
    fresh_dir("pinned");
    snprintf(args, sizeof args,
             "compare workloads/io-only.json -p new,fifo -d 50 -j 2 --cpus-per-run 1 -o '%s'", dir);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    char *err = tu_slurp(err_file);
    CU_ASSERT_PTR_NULL(strstr(err, "one at a time"));
    free(err);
    fresh_dir("toomany");
    snprintf(args, sizeof args,
             "compare workloads/io-only.json -p new -d 50 -j 64 --cpus-per-run 64 -o '%s'", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT(tu_file_has(err_file, "this machine has"));
    fresh_dir("cpus");
    snprintf(args, sizeof args, "compare workloads/io-only.json -p new -d 50 --plan -o '%s'", dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    snprintf(args, sizeof args, "compare --run '%s' --index 0 --cpus 9999", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    snprintf(args, sizeof args, "compare --run '%s' --index 0 --cpus 0", dir);
    CU_ASSERT_EQUAL(gilsim(args), 0);
}

/* On a terminal (script(1) gives it one): a progress line, runs done of all, time. */
static void test_progress_line(void)
{
    char cmd[3000];
    fresh_dir("tty");
    snprintf(cmd, sizeof cmd,
             "exec script -qec \"'%s/gilsim' compare workloads/io-only.json -p new,fifo -e virtual "
             "-r 2 -d 50 -j 2 -o '%s'\" /dev/null",
             GILSIM_BINARY_DIR, dir);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct tu_proc p = {.out = out_file};
    CU_ASSERT(tu_spawn(&p, argv) && tu_wait(&p, 120.0 * TU_SLACK) == 0);
    CU_ASSERT(tu_file_has(out_file, "[0/5] 0:0"));
    CU_ASSERT(tu_file_has(out_file, " elapsed, 2 running"));
    CU_ASSERT(tu_file_has(out_file, "[4/5] 0:0"));
    CU_ASSERT(tu_file_has(out_file, " left, 1 running"));
}

/* Bad input: exit 2 before anything runs or is written. */
/* `gilsim compare ARGS -o DIR` into a fresh directory called name: it must succeed. */
static void compare_into(const char *name, const char *args)
{
    char cmd[2048];
    fresh_dir(name);
    snprintf(cmd, sizeof cmd, "compare %s -o '%s'", args, dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(cmd), 0);
}

/* The events array of a trace file, as text (byte-identical runs have identical arrays). */
static char *events_text(const char *path)
{
    char *s = tu_slurp(path);
    char *ev = s ? strstr(s, "\"events\"") : NULL;
    char *copy = ev ? strdup(ev) : NULL;
    free(s);
    return copy;
}

/* Repeats are seeds S..S+N-1 (or --seeds): virtual repeats differ, each run is the one `gilsim
 * run` makes with its seed (byte for byte), and the plan, runs.csv and index.json say which. */
static void test_seeds(void)
{
    char args[2048];
    compare_into("seeds", "workloads/convoy.json -p new -e virtual -r 3 --seed 7 -d 300");
    CU_ASSERT(tu_file_has(out_file, "3 repeats with seeds 7..9"));
    json_t *index = load(dir, "index.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(index);
    json_t *seeds = json_object_get(index, "seeds");
    CU_ASSERT_EQUAL(json_array_size(seeds), 3);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(seeds, 2)), 9);
    json_t *runs = json_object_get(cell(index, "new virtual"), "runs");
    CU_ASSERT_EQUAL_FATAL(json_array_size(runs), 3);
    double slice[3];
    for (size_t k = 0; k < 3; k++) {
        json_t *run = json_array_get(runs, k);
        TU_ASSERT_CMP(num(run, "seed"), ==, 7 + (double)k);
        slice[k] = num(json_object_get(run, "metrics"), "gil_wait_p50_ns");
        /* the same run by hand: byte-identical events */
        char mine[1200], theirs[1200];
        snprintf(mine, sizeof mine, "%s/by-hand-%zu.json", dir, k);
        snprintf(theirs, sizeof theirs, "%s/%s", dir, str(run, "trace"));
        snprintf(args, sizeof args,
                 "run workloads/convoy.json -p new -e virtual --seed %zu -d 300 -o '%s' -q", 7 + k,
                 mine);
        CU_ASSERT_EQUAL(gilsim(args), 0);
        char *a = events_text(mine), *b = events_text(theirs);
        CU_ASSERT_PTR_NOT_NULL(a);
        CU_ASSERT(a && b && strcmp(a, b) == 0);
        free(a);
        free(b);
    }
    /* the machine's jitter draws from the seed: the repeats differ */
    printf("\n  GIL wait p50 over seeds 7, 8, 9: %.0f, %.0f, %.0f ns", slice[0], slice[1],
           slice[2]);
    CU_ASSERT(slice[0] != slice[1] || slice[1] != slice[2]);
    json_decref(index);
    /* --seeds: explicit, in the plan's options and every run's entry */
    compare_into("seeds-list",
                 "workloads/io-only.json -p new -e virtual --seeds 42,5 -d 50 --plan");
    json_t *plan = load(dir, "plan.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(plan);
    char *text = json_dumps(json_object_get(plan, "options"), JSON_COMPACT);
    TU_ASSERT_HAS(text, "\"--seeds\",\"42,5\"");
    free(text);
    json_t *pruns = json_object_get(plan, "runs");
    CU_ASSERT_EQUAL(num(json_array_get(pruns, 1), "seed"), 42); /* after the extra baseline */
    CU_ASSERT_EQUAL(num(json_array_get(pruns, 2), "seed"), 5);
    json_decref(plan);
}

/* Every metric of a cell: its median inside its 95% interval; the test against the reference
 * cell (--reference): p < 0.05 where virtual runs differ in every seed, none for the reference
 * itself; the table's marks and legend; with 3 repeats the table says the intervals are wide. */
static void test_intervals(void)
{
    compare_into("intervals",
                 "workloads/convoy.json -p new,prio -e virtual -r 6 -d 200 --reference prio");
    CU_ASSERT(tu_file_has(out_file, "median (95% confidence interval)"));
    CU_ASSERT(tu_file_has(out_file, "* = differs from prio"));
    CU_ASSERT(!tu_file_has(out_file, "intervals are wide"));
    CU_ASSERT(tu_file_has(out_file, "180 (180..180)*")); /* new's I/O rate against prio's */
    json_t *index = load(dir, "index.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(index);
    json_t *newc = cell(index, "new virtual"), *prio = cell(index, "prio virtual");
    CU_ASSERT_EQUAL(num(newc, "reference"), num(prio, "cell"));
    CU_ASSERT(json_is_null(json_object_get(prio, "reference")));
    const char *key;
    json_t *m;
    json_object_foreach(json_object_get(newc, "metrics"), key, m)
    {
        if (num(m, "n") < 1) continue;
        tu_context("new: %s", key);
        TU_ASSERT_CMP(num(m, "ci_low"), <=, num(m, "median"));
        TU_ASSERT_CMP(num(m, "median"), <=, num(m, "ci_high"));
        TU_ASSERT_CMP(num(m, "ci_level"), >=, 0.95);
    }
    json_t *io = json_object_get(json_object_get(newc, "metrics"), "io_per_s");
    TU_ASSERT_CMP(num(io, "p"), <, 0.05);
    CU_ASSERT(json_is_null(
        json_object_get(json_object_get(json_object_get(prio, "metrics"), "io_per_s"), "p")));
    json_decref(index);
    char csv[1200];
    snprintf(csv, sizeof csv, "%s/cells.csv", dir);
    CU_ASSERT(tu_file_has(csv, ",io_per_s_ci_low,io_per_s_ci_high,io_per_s_p,"));
    /* 3 repeats: min..max, short of 95%, and said so */
    compare_into("intervals3", "workloads/convoy.json -p new,prio -e virtual -r 3 -d 100");
    CU_ASSERT(tu_file_has(out_file, "intervals are wide: with 3 runs"));
    CU_ASSERT(tu_file_has(out_file, "(it covers the median with 75% confidence)"));
    CU_ASSERT(tu_file_has(out_file, "with fewer than 4 runs a side no difference can reach it"));
}

static void test_bad_input(void)
{
    const char *bad[] = {
        "workloads/convoy-n.json --var cpu=1,2",
        "workloads/convoy-n.json --var cpu_threads=0,1",
        "workloads/convoy-n.json --var cpu_threads=1,1",
        "workloads/convoy-n.json --var cpu_threads=x",
        "workloads/convoy-n.json --var cpu_threads=1 --var cpu_threads=2",
        "workloads/convoy.json --engine warp",
        "workloads/convoy.json --machine workloads/machines/vm-2cpu.json",
        "workloads/convoy.json -e virtual --machine-set cores=0",
        "workloads/convoy.json --jobs 0",
        "workloads/convoy.json --run x --collect y",
        "workloads/convoy.json --seeds 1,2 --seed 3",
        "workloads/convoy.json -p new,fifo --reference prio",
        "workloads/convoy.json --seeds 1,2 --repeat 3",
        "workloads/convoy.json --seeds 1,,2",
        "workloads/convoy.json --seeds -1",
        "workloads/convoy.json --seed 18446744073709551615 --repeat 2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[1024];
        fresh_dir("bad");
        snprintf(args, sizeof args, "compare %s -d 50 -o '%s'", bad[i], dir);
        tu_context("'%s'", bad[i]);
        TU_ASSERT_CMP(gilsim(args), ==, 2);
        CU_ASSERT(access(dir, F_OK) != 0);
    }
    CU_ASSERT_EQUAL(gilsim("compare --var cpu=1 workloads/convoy-n.json -d 50"), 2);
    CU_ASSERT(tu_file_has(err_file, "workloads/convoy-n.json:4:10: $.vars: --var cpu=1:"));
    fresh_dir("noplan");
    char args[2048];
    snprintf(args, sizeof args, "compare --collect '%s'", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT(tu_file_has(err_file, "plan.json: cannot read the plan"));
    fresh_dir("range");
    snprintf(args, sizeof args, "compare workloads/io-only.json -p new -e virtual --plan -o '%s'",
             dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    snprintf(args, sizeof args, "compare --run '%s' --index 2", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT(tu_file_has(err_file, "the plan has runs 0 to 1"));
    snprintf(args, sizeof args, "compare --run '%s' workloads/io-only.json", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    /* a workload changed after the plan: --run refuses to run it */
    char wl[700], cmd[2000];
    fresh_dir("changed");
    snprintf(wl, sizeof wl, "%s/changed-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(cmd, sizeof cmd, "cp %s '%s'", tu_src("workloads/io-only.json"), wl);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(args, sizeof args, "compare '%s' -p new -e virtual -d 50 --plan -o '%s'", wl, dir);
    CU_ASSERT_EQUAL_FATAL(gilsim(args), 0);
    snprintf(cmd, sizeof cmd, "sed -i 's/\"us\": 40/\"us\": 41/' '%s'", wl);
    CU_ASSERT_EQUAL(system(cmd), 0);
    snprintf(args, sizeof args, "compare --run '%s' --index 0", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
    CU_ASSERT(tu_file_has(err_file, "changed since"));
    unlink(wl);
    /* a second plan into the same directory */
    snprintf(args, sizeof args, "compare workloads/io-only.json -p new --plan -o '%s'", dir);
    CU_ASSERT_EQUAL(gilsim(args), 2);
}

int main(void)
{
    snprintf(out_file, sizeof out_file, "%s/sweep-out-%d.txt", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(err_file, sizeof err_file, "%s/sweep-err-%d.txt", GILSIM_BINARY_DIR, (int)getpid());
    CU_TestInfo tests[] = {
        {"variables and engines are dimensions", test_grid},
        {"many cells: one row per cell", test_pivot},
        {"plan, run, collect; the same as a local sweep", test_plan_run_collect},
        {"repeats run seeds S..S+N-1 or --seeds", test_seeds},
        {"intervals of the median, tests against the reference", test_intervals},
        {"a killed run leaves no trace", test_killed_run_leaves_nothing},
        {"--jobs: real runs alone or pinned", test_jobs_rules},
        {"a progress line on a terminal", test_progress_line},
        {"bad input: exit 2, nothing written", test_bad_input},
        CU_TEST_INFO_NULL,
    };
    int rc = tu_main("sweeps", tests);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/sweep-*-%d", GILSIM_BINARY_DIR, (int)getpid());
    if (system(cmd) != 0) rc = 1;
    unlink(out_file);
    unlink(err_file);
    return rc;
}
