/* tests/test_allocfail.c - allocation failure injection: the workload reader (and the trace
 * reader) run with an allocator that fails the 1st, 2nd, ... Nth allocation, for jansson (its
 * json_set_alloc_funcs) and for gilsim's own calls (malloc, calloc, realloc, strdup, wrapped at
 * link time with -Wl,--wrap, see tests/CMakeLists.txt). Each must fail cleanly (ERR_RUNTIME,
 * "out of memory") or succeed with the same result, never crash; the ASan build's
 * LeakSanitizer proves that every path frees what it took. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/wl.h"
#include "testutil.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);

/* Allocation number `fail_at` fails (1-based; 0: none), and with `sticky` every one after it. */
static long fail_at, calls;
static bool sticky, failed;

static bool inject(void)
{
    if (!fail_at) return false;
    calls++;
    if (calls == fail_at || (sticky && calls > fail_at)) {
        failed = true;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n)
{
    return inject() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    return inject() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    return inject() ? NULL : __real_realloc(p, n);
}
char *__wrap_strdup(const char *s)
{
    return inject() ? NULL : __real_strdup(s);
}
static void *json_alloc(size_t n)
{
    return inject() ? NULL : __real_malloc(n);
}

static void arm(long n, bool all_after)
{
    fail_at = n, sticky = all_after, calls = 0, failed = false;
}

/* Stops injecting; returns whether a failure was injected. */
static bool disarm(void)
{
    bool was = failed;
    fail_at = 0;
    return was;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = __real_malloc(1 << 20);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

/* The outcome of one parse, to compare with the run without failures. */
struct outcome {
    int rc;
    char text[1024];
};

static void parse_workload(const char *name, const char *text, size_t len, struct outcome *o)
{
    struct wl_workload *wl = NULL;
    struct err e = {0};
    o->rc = wl_parse(text, len, name, &wl, &e);
    if (o->rc == 0)
        wl_describe(wl, o->text, sizeof o->text);
    else
        snprintf(o->text, sizeof o->text, "%s", e.msg);
    if (o->rc == 0) CU_ASSERT_PTR_NOT_NULL(wl);
    if (o->rc != 0) CU_ASSERT_PTR_NULL(wl);
    wl_free(wl);
}

static void parse_trace(const char *name, const char *text, size_t len, struct outcome *o)
{
    struct trace *t = NULL;
    struct err e = {0};
    o->rc = trace_scan_buffer(name, text, len, NULL, &t, &e);
    if (o->rc == 0)
        snprintf(o->text, sizeof o->text, "%zu threads, %zu events, %s", t->nthreads, t->nevents,
                 t->policy);
    else
        snprintf(o->text, sizeof o->text, "%s", e.msg);
    trace_free(t);
}

typedef void (*parse_fn)(const char *, const char *, size_t, struct outcome *);

/* Fails each allocation in turn (alone, then with all after it) until a parse gets through
 * without reaching the injected failure. Returns how many allocations the parse makes. */
static long exhaust(const char *name, const char *text, size_t len, parse_fn parse)
{
    struct outcome base, o;
    parse(name, text, len, &base);
    long n = 1;
    for (;; n++) {
        for (int mode = 0; mode < 2; mode++) {
            arm(n, mode == 1);
            parse(name, text, len, &o);
            bool failed = disarm();
            bool ok = (!failed && o.rc == base.rc && strcmp(o.text, base.text) == 0) ||
                      (failed && o.rc == base.rc && strcmp(o.text, base.text) == 0) ||
                      (failed && o.rc == ERR_RUNTIME && strstr(o.text, "out of memory"));
            char problem[2400] = "";
            if (!ok)
                snprintf(problem, sizeof problem,
                         "%s: failing allocation %ld%s: rc %d \"%s\" (without: %d \"%s\")", name, n,
                         mode ? " and after" : "", o.rc, o.text, base.rc, base.text);
            TU_ASSERT_NO_PROBLEM(ok ? NULL : problem);
            if (!ok) return n;
        }
        arm(n, false);
        parse(name, text, len, &o);
        if (!disarm()) return n - 1; /* allocation n was never reached */
    }
}

static int run_dir(const char *rel, parse_fn parse, long *max_allocs)
{
    DIR *d = opendir(tu_src(rel));
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", tu_src(rel), de->d_name);
        size_t len = 0;
        char *text = read_file(path, &len);
        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        long n = exhaust(de->d_name, text, len, parse);
        if (n > *max_allocs) *max_allocs = n;
        free(text);
        files++;
    }
    closedir(d);
    return files;
}

static void test_workload_reader(void)
{
    long most = 0;
    int files = run_dir("workloads", parse_workload, &most) +
                run_dir("tests/data/valid", parse_workload, &most) +
                run_dir("tests/data/invalid", parse_workload, &most);
    fprintf(stderr, "(%d files, up to %ld allocations each) ", files, most);
    CU_ASSERT(files >= 30);
    CU_ASSERT(most >= 20);
}

/* wl_load's own buffer (16 MiB + 1) and file handling. */
static void test_workload_load(void)
{
    for (long n = 1; n < 4; n++) {
        struct wl_workload *wl = NULL;
        struct err e = {0};
        arm(n, false);
        int rc = wl_load(tu_src("workloads/convoy.json"), &wl, &e);
        disarm();
        CU_ASSERT(rc == 0 || (rc == ERR_RUNTIME && strstr(e.msg, "out of memory")));
        wl_free(wl);
    }
}

static void test_trace_reader(void)
{
    long most = 0;
    int files = run_dir("tests/data/traces", parse_trace, &most) +
                run_dir("tests/data/invalid/traces", parse_trace, &most);
    fprintf(stderr, "(%d files, up to %ld allocations each) ", files, most);
    CU_ASSERT(files >= 15);
}

int main(void)
{
    json_set_alloc_funcs(json_alloc, free);
    CU_TestInfo tests[] = {
        {"workload reader: every allocation fails in turn", test_workload_reader},
        {"wl_load: its buffer fails", test_workload_load},
        {"trace reader: every allocation fails in turn", test_trace_reader},
        CU_TEST_INFO_NULL,
    };
    return tu_main("allocfail", tests);
}
