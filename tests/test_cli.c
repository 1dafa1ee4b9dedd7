/* tests/test_cli.c - the gilsim binary as a user meets it: --help everywhere, `policies`
 * lists every registered policy and parameter (and docs/policies.md has them), bad input exits 2
 * and touches no output file, a good run exits 0 and says where its trace went. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policies/registry.h"
#include "testutil.h"

static char out_file[512], err_file[512];

static int gilsim(const char *args)
{
    return tu_gilsim(args, out_file, err_file);
}

static void test_help(void)
{
    const char *cmds[] = {"--help", "policies --help", "check --help", "run --help"};
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(gilsim(cmds[i]), 0);
        CU_ASSERT(tu_file_has(out_file, "usage: gilsim"));
    }
    CU_ASSERT_EQUAL(gilsim("frobnicate"), 2);
    CU_ASSERT_EQUAL(gilsim(""), 2);
}

static void test_policies_listed_and_documented(void)
{
    CU_ASSERT_EQUAL(gilsim("policies"), 0);
    char *s = tu_slurp(out_file);
    int count = 0;
    for (const struct gil_policy *const *p = gil_policies; *p; p++, count++) {
        CU_ASSERT_PTR_NOT_NULL(strstr(s, (*p)->name));
        CU_ASSERT(strlen((*p)->summary) > 10);
        CU_ASSERT_PTR_NOT_NULL(strstr(s, (*p)->summary));
        CU_ASSERT((*p)->acquire && (*p)->release); /* the required hooks */
        for (const struct gil_param *d = (*p)->params; d->name; d++) {
            CU_ASSERT_PTR_NOT_NULL(strstr(s, d->name));
            CU_ASSERT(d->unit && strlen(d->unit) > 0);
            CU_ASSERT(d->doc && strlen(d->doc) > 10);
            CU_ASSERT(d->def >= d->min && d->def <= d->max);
        }
    }
    free(s);
    CU_ASSERT(count >= 4);
    CU_ASSERT_PTR_NOT_NULL(gil_policy_find("old"));
    CU_ASSERT_PTR_NOT_NULL(gil_policy_find("new"));
    CU_ASSERT_PTR_NOT_NULL(gil_policy_find("fifo"));
    CU_ASSERT_PTR_NOT_NULL(gil_policy_find("none"));
    CU_ASSERT_PTR_NOT_NULL(gil_policy_find("prio"));
    CU_ASSERT_PTR_NOT_NULL(gil_policy_find("bfs"));
    CU_ASSERT_PTR_NOT_NULL(gil_policy_find("ruby"));
}

/* docs/policies.md has a table row for every registered policy and names each of its
 * parameters. (That every policy keeps mutual exclusion on every shipped workload is
 * test_protocol's, which also runs over the registry.) */
static void test_policies_in_docs(void)
{
    char *doc = tu_slurp(tu_src("docs/policies.md"));
    CU_ASSERT(strlen(doc) > 1000);
    for (const struct gil_policy *const *p = gil_policies; *p; p++) {
        char key[128];
        tu_context("docs/policies.md, the table row of %s", (*p)->name);
        snprintf(key, sizeof key, "\n| `%s` |", (*p)->name);
        TU_ASSERT_NO_PROBLEM(strstr(doc, key) ? NULL : "no table row");
        for (const struct gil_param *d = (*p)->params; d->name; d++) {
            snprintf(key, sizeof key, "`%s`", d->name);
            tu_context("docs/policies.md, %s's parameter %s", (*p)->name, d->name);
            TU_ASSERT_NO_PROBLEM(strstr(doc, key) ? NULL : "not named");
        }
    }
    free(doc);
}

static void test_check(void)
{
    CU_ASSERT_EQUAL(gilsim("check workloads/convoy.json workloads/cpu2.json"), 0);
    CU_ASSERT(tu_file_has(out_file, "convoy: 2 threads"));
    CU_ASSERT_EQUAL(gilsim("check workloads/cpu2.json tests/data/invalid/unknown-op.json"), 2);
    CU_ASSERT(tu_file_has(err_file, "tests/data/invalid/unknown-op.json:4:13:"));
}

/* Workload variables: check prints the effective values, run's trace has them; an unknown
 * --var, a bad value and a malformed argument exit 2. */
static void test_vars(void)
{
    CU_ASSERT_EQUAL(gilsim("check workloads/convoy-n.json --var cpu_threads=5"), 0);
    CU_ASSERT(tu_file_has(out_file, "convoy-n: 6 threads (cpu x5, io x1)"));
    CU_ASSERT(tu_file_has(out_file, "vars cpu_threads=5 io_us=40"));
    CU_ASSERT_EQUAL(gilsim("check workloads/convoy-n.json --var cpu=5"), 2);
    CU_ASSERT(tu_file_has(err_file, "workloads/convoy-n.json:4:10: $.vars: --var cpu=5"));
    CU_ASSERT_EQUAL(gilsim("check --var cpu_threads=five workloads/convoy-n.json"), 2);
    CU_ASSERT(tu_file_has(err_file, "expected a number after '='"));
    CU_ASSERT_EQUAL(gilsim("run workloads/convoy-n.json --var cpu_threads=10001 -o /dev/null"), 2);
    CU_ASSERT(tu_file_has(err_file, "(the value of $cpu_threads = 10001, set by --var)"));

    char target[512], args[1024];
    snprintf(target, sizeof target, "%s/cli-vars-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(args, sizeof args,
             "run workloads/convoy-n.json --engine virtual --var cpu_threads=3 --var io_us=2.5 "
             "--duration 50 -q -o '%s'",
             target);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    struct trace *t = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(trace_read(target, &t, &e), 0);
    json_t *vars = json_object_get(t->run, "vars");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(vars, "cpu_threads")), 3);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(vars, "io_us")), 2.5, 1e-12);
    CU_ASSERT_EQUAL(t->nthreads, 4);
    trace_free(t);
    unlink(target);
}

static void test_bad_input_exits_2_and_writes_nothing(void)
{
    char target[512];
    snprintf(target, sizeof target, "%s/cli-keep-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    const char *bad[] = {
        "run workloads/missing.json",
        "run tests/data/invalid/bad-dist.json",
        "run workloads/cpu1.json --policy nope",
        "run workloads/cpu1.json --policy new --set nope=1",
        "run workloads/cpu1.json --policy new --set interval_us=abc",
        "run workloads/cpu1.json --policy new --set interval_us=-5",
        "run workloads/cpu1.json --policy new --set interval_us",
        "run workloads/cpu1.json --policy old --set check_interval=1.5",
        "run workloads/cpu1.json --duration 0",
        "run workloads/cpu1.json --duration 10ms",
        "run workloads/cpu1.json --seed -1",
        "run workloads/cpu1.json --max-events 3",
        "run workloads/cpu1.json --frobnicate",
        "run workloads/cpu1.json workloads/cpu2.json",
        "run workloads/cpu1.json --policy",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(target, "w");
        fputs("keep\n", f);
        fclose(f);
        char args[1024];
        snprintf(args, sizeof args, "%s -o '%s'", bad[i], target);
        tu_context("`gilsim %s`", args);
        TU_ASSERT_CMP(gilsim(args), ==, 2);
        char *s = tu_slurp(err_file);
        CU_ASSERT(strlen(s) > 0); /* a message */
        free(s);
        s = tu_slurp(target);
        CU_ASSERT_STRING_EQUAL(s, "keep\n");
        free(s);
    }
    unlink(target);
    /* An output path that cannot be written is found before the run. */
    CU_ASSERT_EQUAL(gilsim("run workloads/cpu1.json -o /nonexistent-dir/t.json"), 2);
    CU_ASSERT(tu_file_has(err_file, "/nonexistent-dir/t.json"));
}

static void test_good_run(void)
{
    char target[512], args[1024];
    snprintf(target, sizeof target, "%s/cli-run-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(args, sizeof args,
             "run workloads/convoy.json --policy new --set interval_us=1000 --duration 200 "
             "--seed 7 -o '%s'",
             target);
    CU_ASSERT_EQUAL(gilsim(args), 0);
    CU_ASSERT(tu_file_has(err_file, "trace: "));
    CU_ASSERT(tu_file_has(err_file, "2 threads"));
    CU_ASSERT(tu_file_has(err_file, "ticks/s"));
    CU_ASSERT(tu_file_has(err_file, "acquisitions"));
    struct trace *t = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL(trace_read(target, &t, &e), 0);
    if (t) {
        CU_ASSERT_STRING_EQUAL(t->policy, "new");
        CU_ASSERT_EQUAL(trace_param(t, "interval_us", 0), 1000);
    }
    trace_free(t);
    unlink(target);
}

/* --no-trace: the run happens and is summarized, nothing is written (not even results/). */
static void test_no_trace(void)
{
    char args[1024];
    snprintf(args, sizeof args, "run workloads/cpu2.json --policy fifo --duration 200 --no-trace");
    CU_ASSERT_EQUAL(gilsim(args), 0);
    CU_ASSERT(tu_file_has(err_file, "switches)"));
    CU_ASSERT(tu_file_has(err_file, "not recorded: --no-trace"));
    CU_ASSERT(tu_file_has(err_file, "trace: nowhere"));
    CU_ASSERT_EQUAL(gilsim("run workloads/cpu2.json --no-trace -o /tmp/never-written.json"), 2);
    CU_ASSERT(tu_file_has(err_file, "--no-trace and --output"));
    CU_ASSERT_NOT_EQUAL(access("/tmp/never-written.json", F_OK), 0);
}

int main(void)
{
    snprintf(out_file, sizeof out_file, "%s/cli-%d.out", GILSIM_BINARY_DIR, (int)getpid());
    snprintf(err_file, sizeof err_file, "%s/cli-%d.err", GILSIM_BINARY_DIR, (int)getpid());
    CU_TestInfo tests[] = {
        {"--help everywhere", test_help},
        {"policies listed and documented", test_policies_listed_and_documented},
        {"run --no-trace", test_no_trace},
        {"every policy in docs/policies.md", test_policies_in_docs},
        {"check", test_check},
        {"workload variables: check and run --var", test_vars},
        {"bad input: exit 2, output untouched", test_bad_input_exits_2_and_writes_nothing},
        {"a good run", test_good_run},
        CU_TEST_INFO_NULL,
    };
    int rc = tu_main("cli", tests);
    unlink(out_file);
    unlink(err_file);
    return rc;
}
