/* tests/test_workload.c - the workload reader: every shipped workload is valid; every file in
 * tests/data/invalid/ is rejected with its expected line and message; limits and defaults. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/wl.h"
#include "testutil.h"

/* Every .json in dir is a valid workload with a description; returns how many. */
static int check_dir(const char *dir)
{
    DIR *d = opendir(tu_src(dir));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
        char rel[300];
        snprintf(rel, sizeof rel, "%s/%s", dir, de->d_name);
        struct wl_workload *wl = NULL;
        struct err e = {0};
        int rc = wl_load(tu_src(rel), &wl, &e);
        TU_ASSERT_NO_PROBLEM(rc ? e.msg : NULL);
        if (wl) {
            CU_ASSERT(strlen(wl->description) > 0); /* the issue: each with a description */
            CU_ASSERT(wl->nthreads >= 1);
            CU_ASSERT_EQUAL(strlen(wl->sha256), 64);
        }
        wl_free(wl);
        n++;
    }
    closedir(d);
    return n;
}

static void test_shipped_workloads_valid(void)
{
    CU_ASSERT(check_dir("workloads") >= 10);
    CU_ASSERT(check_dir("workloads/validation") >= 6); /* the natural programs' models */
}

static void check_invalid_file(void *ctx, const struct tu_expect *c)
{
    (void)ctx;
    char rel[300];
    snprintf(rel, sizeof rel, "tests/data/invalid/%s", c->file);
    const char *path = tu_src(rel);
    struct wl_workload *wl = NULL;
    struct err e = {0};
    int rc = wl_load(path, &wl, &e);
    CU_ASSERT_EQUAL(rc, ERR_INPUT);
    CU_ASSERT_PTR_NULL(wl);
    /* FILE:LINE:COL: ... */
    char prefix[1200];
    snprintf(prefix, sizeof prefix, "%s:%s:", path, c->line);
    tu_context("%s", c->file);
    TU_ASSERT_CMP(strncmp(e.msg, prefix, strlen(prefix)), ==, 0);
    TU_ASSERT_HAS(e.msg, prefix);
    TU_ASSERT_HAS(e.msg, c->fragment);
    wl_free(wl);
}

static void test_invalid_files_rejected(void)
{
    CU_ASSERT(tu_each_expected("tests/data/invalid/expected.tsv", check_invalid_file, NULL) >= 20);
}

static const char minimal[] =
    "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"m\",\n"
    " \"threads\": [{\"name\": \"a\", \"ops\": [{\"cpu\": {\"us\": 2}}]}]}";

static void test_defaults(void)
{
    struct wl_workload *wl = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(wl_parse(minimal, strlen(minimal), "mem", &wl, &e), 0);
    CU_ASSERT_EQUAL(wl->tick_ns, 50);
    CU_ASSERT_EQUAL(wl->duration_ns, 1000000000LL);
    CU_ASSERT_EQUAL(wl->groups[0].count, 1);
    CU_ASSERT_EQUAL(wl->groups[0].ops[0].kind, WL_OP_CPU);
    CU_ASSERT_EQUAL(wl->groups[0].ops[0].ns, 2000);
    CU_ASSERT_EQUAL(wl->groups[0].ops[0].ticks, 0);
    wl_free(wl);
}

static void test_compiled_ops(void)
{
    const char *text =
        "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"ops\", \"duration_ms\": 50,"
        " \"tick_ns\": 20, \"threads\": [{\"name\": \"a\", \"count\": 3, \"start_ms\": 1.5, "
        "\"ops\": ["
        "{\"io\": {\"us\": 40, \"dist\": \"exponential\", \"max_us\": 400}},"
        "{\"loop\": {\"count\": \"forever\", \"ops\": [{\"hold\": {\"us\": 0.5}}]}},"
        "{\"serve\": {\"rate_hz\": 100, \"arrivals\": \"fixed\", \"count\": 7, \"ops\": "
        "[{\"native\": {\"us\": 3}}, {\"sleep\": {\"us\": 4}}]}}]}]}";
    struct wl_workload *wl = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL_FATAL(wl_parse(text, strlen(text), "mem", &wl, &e), 0);
    CU_ASSERT_EQUAL(wl->nthreads, 3);
    CU_ASSERT_EQUAL(wl->tick_ns, 20);
    CU_ASSERT_EQUAL(wl->groups[0].start_ns, 1500000);
    const struct wl_op *ops = wl->groups[0].ops;
    CU_ASSERT_EQUAL(ops[0].kind, WL_OP_IO);
    CU_ASSERT_EQUAL(ops[0].dist, WL_DIST_EXPONENTIAL);
    CU_ASSERT_EQUAL(ops[0].max_ns, 400000);
    CU_ASSERT_EQUAL(ops[1].count, WL_FOREVER);
    CU_ASSERT_EQUAL(ops[1].body[0].kind, WL_OP_HOLD);
    CU_ASSERT_EQUAL(ops[1].body[0].ns, 500);
    CU_ASSERT_EQUAL(ops[2].kind, WL_OP_SERVE);
    CU_ASSERT_EQUAL(ops[2].count, 7);
    CU_ASSERT_EQUAL(ops[2].arrivals, WL_ARRIVALS_FIXED);
    CU_ASSERT_EQUAL(ops[2].nbody, 2);
    CU_ASSERT_EQUAL(ops[2].body[1].kind, WL_OP_SLEEP);
    wl_free(wl);
}

/* peer and send: the keys compile, and a group that talks to a peer (however deep) says so. */
static void test_peer_ops(void)
{
    const char *text =
        "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"p\", \"threads\": ["
        "{\"name\": \"client\", \"ops\": [{\"loop\": {\"count\": 2, \"ops\": ["
        "{\"io\": {\"us\": 40, \"peer\": true, \"send\": true}}]}}]},"
        "{\"name\": \"server\", \"ops\": [{\"serve\": {\"rate_hz\": 10, \"ops\": ["
        "{\"cpu\": {\"us\": 1}}, {\"send\": {}}]}}]},"
        "{\"name\": \"timer\", \"ops\": [{\"io\": {\"us\": 40, \"peer\": false}}]}]}";
    struct wl_workload *wl = NULL;
    struct err e = {0};
    int rc = wl_parse(text, strlen(text), "mem", &wl, &e);
    if (rc) fprintf(stderr, "\n%s\n", e.msg);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    const struct wl_op *io = &wl->groups[0].ops[0].body[0];
    CU_ASSERT_EQUAL(io->kind, WL_OP_IO);
    CU_ASSERT(io->peer && io->send);
    CU_ASSERT(wl->groups[0].uses_peer);
    CU_ASSERT_EQUAL(wl->groups[1].ops[0].body[1].kind, WL_OP_SEND);
    CU_ASSERT(wl->groups[1].uses_peer);
    CU_ASSERT(!wl->groups[2].ops[0].peer);
    CU_ASSERT(!wl->groups[2].uses_peer);
    wl_free(wl);
}

static void test_file_limits(void)
{
    struct wl_workload *wl = NULL;
    struct err e = {0};
    CU_ASSERT_EQUAL(wl_load("/nonexistent/w.json", &wl, &e), ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "cannot open"));
    /* A file over 16 MiB is refused before parsing. */
    char path[512];
    snprintf(path, sizeof path, "%s/big-%d.json", GILSIM_BINARY_DIR, (int)getpid());
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(minimal, f);
    for (int i = 0; i < (17 << 10); i++)
        fprintf(f, "%1024s", "\n");
    fclose(f);
    CU_ASSERT_EQUAL(wl_load(path, &wl, &e), ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "at most 16777216 bytes"));
    remove(path);
}

/* The 16-level nesting limit is inclusive. */
static void test_depth_limit(void)
{
    static const char head[] = "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": "
                               "\"d\", \"threads\": [{\"name\": \"a\", \"ops\": [";
    static const char open[] = "{\"loop\": {\"count\": 1, \"ops\": [";
    char text[4096] = "";
    strcat(text, head);
    for (int i = 0; i < WL_MAX_DEPTH; i++)
        strcat(text, open);
    strcat(text, "{\"cpu\": {\"ticks\": 1}}");
    for (int i = 0; i < WL_MAX_DEPTH; i++)
        strcat(text, "]}}");
    strcat(text, "]}]}");
    struct wl_workload *wl = NULL;
    struct err e = {0};
    int rc = wl_parse(text, strlen(text), "mem", &wl, &e);
    TU_ASSERT_NO_PROBLEM(rc ? e.msg : NULL);
    wl_free(wl);
}

static const char with_vars[] =
    "{\"format\": \"gilsim-workload\", \"version\": 1, \"name\": \"v\",\n"
    " \"description\": \"costs $5\", \"duration_ms\": \"$ms\",\n"
    " \"vars\": {\"n\": 3, \"io_us\": 40, \"ms\": 500},\n"
    " \"threads\": [{\"name\": \"a\", \"count\": \"$n\",\n"
    "  \"ops\": [{\"loop\": {\"count\": \"$n\", \"ops\": [{\"io\": {\"us\": \"$io_us\"}}]}}]}]}";

static struct wl_workload *parse_vars(const char *const *assign, size_t n, struct err *e)
{
    struct wl_workload *wl = NULL;
    int rc = wl_parse_vars(with_vars, strlen(with_vars), "mem", assign, n, &wl, e);
    CU_ASSERT_EQUAL(rc == 0, wl != NULL);
    return wl;
}

/* "$name" in place of a number; defaults and --var; every use sees the value; a "$" in a
 * string field is text. */
static void test_vars(void)
{
    struct err e = {0};
    struct wl_workload *wl = parse_vars(NULL, 0, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(wl);
    CU_ASSERT_STRING_EQUAL(wl->description, "costs $5");
    CU_ASSERT_EQUAL(wl->groups[0].count, 3);
    CU_ASSERT_EQUAL(wl->groups[0].ops[0].count, 3);
    CU_ASSERT_EQUAL(wl->groups[0].ops[0].body[0].ns, 40000);
    CU_ASSERT_EQUAL(wl->duration_ns, 500000000);
    CU_ASSERT_EQUAL_FATAL(wl->nvars, 3);
    CU_ASSERT_STRING_EQUAL(wl->vars[0].name, "n"); /* declaration order */
    CU_ASSERT_STRING_EQUAL(wl->vars[2].name, "ms");
    CU_ASSERT(wl->vars[0].integer && !wl->vars[0].from_option);
    wl_free(wl);

    const char *assign[] = {"io_us=2.5", "n=7"};
    wl = parse_vars(assign, 2, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(wl);
    CU_ASSERT_EQUAL(wl->groups[0].count, 7);
    CU_ASSERT_EQUAL(wl->groups[0].ops[0].count, 7);
    CU_ASSERT_EQUAL(wl->groups[0].ops[0].body[0].ns, 2500);
    CU_ASSERT(wl->vars[1].from_option && !wl->vars[1].integer && wl->vars[1].value == 2.5);
    CU_ASSERT(!wl->vars[2].from_option);
    wl_free(wl);
}

/* --var errors: an unknown name at "vars" (file:line:col), a value out of range at its use
 * naming the variable, malformed arguments, the same name twice. */
static void test_var_errors(void)
{
    const struct {
        const char *arg, *want;
    } cases[] = {
        {"m=1", "mem:3:10: $.vars: --var m=1: the workload has no variable \"m\""},
        {"n=0", "mem:4:37: $.threads[0].count: expected an integer number of threads in [1, "
                "10000], got 0 (the value of $n = 0, set by --var)"},
        {"n=1.5", "(the value of $n = 1.5, set by --var)"},
        {"n", "--var n: expected NAME=NUMBER"},
        {"n=", "expected a number after '='"},
        {"n=0x10", "expected a number after '='"},
        {"n=nan", "expected a number after '='"},
        {"n-1=2", "expected a name"},
        {"io_us=-1", "$.threads[0].ops[0].loop.ops[0].io.us: expected a number of microseconds"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct err e = {0};
        const char *assign[] = {cases[i].arg};
        struct wl_workload *wl = parse_vars(assign, 1, &e);
        CU_ASSERT_PTR_NULL(wl);
        CU_ASSERT_EQUAL(e.status, ERR_INPUT);
        if (!strstr(e.msg, cases[i].want))
            fprintf(stderr, "\n--var %s: got \"%s\", want \"%s\"\n", cases[i].arg, e.msg,
                    cases[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, cases[i].want));
        wl_free(wl);
    }
    struct err e = {0};
    const char *twice[] = {"n=1", "n=2"};
    CU_ASSERT_PTR_NULL(parse_vars(twice, 2, &e));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "--var n: given twice"));
    /* no variables at all: "$x" is an undeclared variable, --var has nothing to set */
    struct wl_workload *wl = NULL;
    const char *x[] = {"x=1"};
    CU_ASSERT_EQUAL(wl_parse_vars(minimal, strlen(minimal), "mem", x, 1, &wl, &e), ERR_INPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "mem:1:1: $: --var x=1: the workload has no variable"));
}

/* Every located message counts columns in characters (common/jlex.h's jlex_column): a
 * multi-byte name before the error moves it one column per character, not per byte. Both
 * kinds of error: the checker's (a path found again in the text) and the parser's. */
static void test_columns_count_characters(void)
{
    static const char checked[] = "{\"format\": \"gilsim-workload\", \"version\": 1, "
                                  "\"name\": \"w\", \"description\": \"\xc3\xa9\xe2\x82\xac\", "
                                  "\"threads\": [{\"name\": \"a\", \"count\": 0, \"ops\": "
                                  "[{\"cpu\": {\"ticks\": 1}}]}]}";
    static const char broken[] = "{\"description\": \"\xc3\xa9\xe2\x82\xac\", \"x\": tru}";
    struct wl_workload *wl = NULL;
    struct err e = {0};
    /* count's value is byte 117, character 114 */
    CU_ASSERT_EQUAL(wl_parse(checked, strlen(checked), "mem", &wl, &e), ERR_INPUT);
    TU_ASSERT_HAS(e.msg, "mem:1:114: $.threads[0].count: expected an integer number of threads");
    /* "tru" is byte 31, character 28 */
    CU_ASSERT_EQUAL(wl_parse(broken, strlen(broken), "mem", &wl, &e), ERR_INPUT);
    TU_ASSERT_HAS(e.msg, "mem:1:28: invalid JSON: invalid token");
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"shipped workloads are valid", test_shipped_workloads_valid},
        {"invalid files: expected line and message", test_invalid_files_rejected},
        {"defaults", test_defaults},
        {"ops compile", test_compiled_ops},
        {"peer and send", test_peer_ops},
        {"file limits", test_file_limits},
        {"nesting limit is 16", test_depth_limit},
        {"variables: defaults, --var, every use", test_vars},
        {"variables: errors", test_var_errors},
        {"columns count characters", test_columns_count_characters},
        CU_TEST_INFO_NULL,
    };
    return tu_main("workload", tests);
}
