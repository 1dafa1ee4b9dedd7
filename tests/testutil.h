/* tests/testutil.h - helpers shared by the CUnit suites: run a workload through the engine and
 * the trace writer, read the trace back from disk, check trace invariants, and run the gilsim
 * binary as a user would. */
#ifndef GILSIM_TESTUTIL_H
#define GILSIM_TESTUTIL_H

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stddef.h>

#include "analysis/trace_read.h"
#include "sim/engine.h"

/* Source-tree path of a file, e.g. tu_src("workloads/cpu2.json"). Static buffer. */
const char *tu_src(const char *rel);

struct tu_run {
    const char *workload; /* path relative to the source tree */
    const char *policy;
    const char *sets[4]; /* "name=value", NULL-terminated */
    int duration_ms;
    unsigned long long seed;
    unsigned max_events;
    bool virt;               /* the virtual-time engine */
    const char *machine_set; /* its --machine-set, over the built-in defaults; NULL: none */
};

/* Runs and reads back the trace; NULL (with a CUnit failure) on error. elapsed_ns, when not
 * NULL, receives the run's measured length. */
struct trace *tu_run_trace(const struct tu_run *r, long long *elapsed_ns);

/* Mutual exclusion and protocol invariants; returns NULL or a description of the first
 * violation (static buffer). exclusive: the policy is a lock (not `none`). A partial trace is
 * checked up to where a full buffer cut a thread's record short. */
const char *tu_check_protocol(const struct trace *t, bool exclusive);

/* Slices: for each acquire..release pair of one thread, its length in ns, and the reason of
 * the release. Returns the count; *lens and *reasons are malloc'd. */
size_t tu_slices(const struct trace *t, long long **lens, int **reasons);

long long tu_median(long long *v, size_t n);

/* Runs `gilsim ARGS` (shell words) from the source tree with stdout to out and stderr to err
 * (NULL: /dev/null); returns its exit status, -1 when it did not exit. */
int tu_gilsim(const char *args, const char *out, const char *err);
/* A file's contents (its first MiB), malloc'd; "" when it cannot be read. */
char *tu_slurp(const char *path);
/* Whether the file holds text; prints the file when not, so a failure shows what was there. */
bool tu_file_has(const char *path, const char *text);

/* Number of events of one type. */
size_t tu_count_ev(const struct trace *t, enum trace_ev ev);

/* Median I/O response (acquire - io_end, the first acquire after each I/O) over the trace;
 * -1 when it has fewer than 10 I/Os. */
long long tu_median_io_response(const struct trace *t);

/* One case of an expected.tsv beside invalid inputs: the file, the line its error must name,
 * and a fragment of the message. */
struct tu_expect {
    const char *file, *line, *fragment;
};
/* Calls each(ctx, c) for every case of the TSV at rel (source-tree path; '#' lines and blank
 * lines skipped); returns how many there were. */
int tu_each_expected(const char *rel, void (*each)(void *ctx, const struct tu_expect *c),
                     void *ctx);

/* Acquires by the thread that held the GIL just before; *acquires receives all acquires. */
size_t tu_repeated_acquires(const struct trace *t, size_t *acquires);

/* Runs the suite's tests with CUnit's basic runner; returns the process exit status. */
int tu_main(const char *suite, CU_TestInfo *tests);

#endif
