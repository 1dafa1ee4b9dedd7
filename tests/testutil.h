/* tests/testutil.h - helpers shared by the CUnit suites: run a workload through the engine and
 * the trace writer, read the trace back from disk, check trace invariants, and run the gilsim
 * binary as a user would. */
#ifndef GILSIM_TESTUTIL_H
#define GILSIM_TESTUTIL_H

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#include "analysis/trace_read.h"
#include "sim/engine.h"

/* The one timing tolerance of the suites: every bound on a wall-clock time is written for the
 * plain build and multiplied by TU_SLACK. Sanitizers slow thread start-up, exit and every lock
 * by up to ten times. */
#ifdef GILSIM_SANITIZED
#define TU_SLACK 10
#else
#define TU_SLACK 1
#endif

/* The allowance for waiting for a core, added to upper bounds on times that need a thread to be
 * woken and run (slices, responses). On the shared 2-core machine, with a CPU hog on one core
 * and the suite at nice 10 beside other sessions at nice 0, a woken thread may wait tens of ms
 * (medians of slices measured up to ~65 ms past the interval). Bounds that include it are
 * qualitative: the exact figures are checked in virtual time (test_virtual.c); the real-engine
 * suites check what no delay can change (order, lower bounds set by timers, who is served). */
#define TU_LATE_NS (250000000LL * TU_SLACK)

/* ---- assertions that say what they saw --------------------------------------------------------
 * CUnit's CU_ASSERT reports only the expression. These report the values too, after the
 * context the test set with tu_context (cleared before each test), e.g.
 *   convoy.json under new: elapsed <= (RUN_MS + 200) * 1000000LL: 512345678 vs 500000000 */

/* What the assertions that follow are about (printf format); "" clears it. */
void tu_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A number of any arithmetic type, kept exactly (long double holds every 64-bit integer). */
struct tu_num {
    long double v;
    char kind; /* 'i' signed, 'u' unsigned, 'r' real: how to print it */
};
static inline struct tu_num tu_num_i(long long v)
{
    return (struct tu_num){(long double)v, 'i'};
}
static inline struct tu_num tu_num_u(unsigned long long v)
{
    return (struct tu_num){(long double)v, 'u'};
}
static inline struct tu_num tu_num_r(long double v)
{
    return (struct tu_num){v, 'r'};
}
#define TU_NUM(x)                                                                                  \
    _Generic((x), float                                                                            \
             : tu_num_r, double                                                                    \
             : tu_num_r, long double                                                               \
             : tu_num_r, unsigned char                                                             \
             : tu_num_u, unsigned short                                                            \
             : tu_num_u, unsigned int                                                              \
             : tu_num_u, unsigned long                                                             \
             : tu_num_u, unsigned long long                                                        \
             : tu_num_u, default                                                                   \
             : tu_num_i)(x)

void tu_assert_cmp(bool ok, struct tu_num a, struct tu_num b, const char *expr, int line,
                   const char *file, bool fatal);

#define TU_ASSERT_CMP_(a, op, b, text, fatal)                                                      \
    do {                                                                                           \
        struct tu_num tu_a_ = TU_NUM(a), tu_b_ = TU_NUM(b);                                        \
        tu_assert_cmp(tu_a_.v op tu_b_.v, tu_a_, tu_b_, text, __LINE__, __FILE__, fatal);          \
    } while (0)
/* Asserts a op b (op: == != < <= > >=) on two numbers, each evaluated once; a failure reports
 * the expression and both values. */
#define TU_ASSERT_CMP(a, op, b) TU_ASSERT_CMP_(a, op, b, #a " " #op " " #b, false)
/* The same, ending the test on failure. */
#define TU_ASSERT_CMP_FATAL(a, op, b) TU_ASSERT_CMP_(a, op, b, #a " " #op " " #b, true)

void tu_assert_text(bool ok, const char *what, const char *text, int line, const char *file);
/* Asserts that text (a string, NULL counts as "") contains part; a failure shows both. */
#define TU_ASSERT_HAS(text, part)                                                                  \
    do {                                                                                           \
        const char *tu_t_ = (text), *tu_p_ = (part);                                               \
        tu_assert_text(tu_t_ &&strstr(tu_t_, tu_p_), tu_p_, tu_t_, __LINE__, __FILE__);            \
    } while (0)
/* Asserts that a check found nothing wrong: problem is NULL, or the description of what is
 * wrong, which a failure shows. */
#define TU_ASSERT_NO_PROBLEM(problem)                                                              \
    do {                                                                                           \
        const char *tu_q_ = (problem);                                                             \
        tu_assert_text(!tu_q_, NULL, tu_q_, __LINE__, __FILE__);                                   \
    } while (0)

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

/* ---- child processes -------------------------------------------------------------------------
 * The one way the suites start a program and wait for it: tu_spawn forks and execs (a shell only
 * when argv names one), tu_wait waits with a limit, reading the child's output meanwhile. A test
 * that signals a child first waits, with tu_poll, for the state it means to hit (a file, a
 * process state in /proc), never for a guessed time. */
struct tu_proc {
    /* set before tu_spawn (zero: the defaults) */
    const char *dir;        /* working directory; NULL: the source tree */
    const char *in;         /* standard input from this file; NULL: /dev/null */
    const char *out, *err;  /* standard output and error into these files; NULL: /dev/null */
    bool capture;           /* standard output into a pipe instead, which tu_wait reads */
    const char *const *env; /* "NAME=value" entries set for it (NULL-terminated); NULL: none */
    bool group;             /* in a process group of its own: what it starts is signalled with it */
    /* set by tu_spawn; read_fd may also be set by the test (a FIFO the child writes) */
    pid_t pid;
    int read_fd; /* what tu_wait reads into output while it waits; -1: nothing */
    /* set by tu_wait */
    char *output; /* what was read, NUL-terminated, malloc'd (the caller frees it); NULL: none */
    size_t output_len;
    double took; /* seconds tu_wait waited */
};

/* Starts argv (argv[0]: the program's path) as p says; false, with a CUnit failure, when it
 * cannot. */
bool tu_spawn(struct tu_proc *p, const char *const argv[]);
/* Starts `BIN ARGS` as p says: BIN a path, absolute or in the build tree ("gilsim",
 * "tests/gilsim-testpol"), ARGS shell words. The shell execs BIN: a signal to p->pid reaches
 * BIN once it runs. */
bool tu_start(struct tu_proc *p, const char *bin, const char *args);
/* Waits for p's child to end, reading p->read_fd meanwhile: its exit status, 128 + the signal
 * that ended it, or -1 after killing it (its group with it) when it had not ended within
 * limit_s seconds. */
int tu_wait(struct tu_proc *p, double limit_s);

/* Seconds on the monotonic clock. */
double tu_now(void);
/* Asks ready(ctx) about every millisecond until it answers true or limit_s seconds have
 * passed; returns the last answer. Limits are written for the plain build: scale by TU_SLACK. */
bool tu_poll(bool (*ready)(void *ctx), void *ctx, double limit_s);
/* A field of /proc/PID/status ("Threads"; the signal masks "SigBlk", "ShdPnd", ... read as hex)
 * into *value; false when the process or the field is not there. */
bool tu_proc_status(pid_t pid, const char *field, unsigned long long *value);
/* Whether signal sig is in the mask field of /proc/PID/status ("SigBlk": blocked, "ShdPnd":
 * sent to the process and not taken yet). */
bool tu_proc_has_signal(pid_t pid, const char *field, int sig);
/* For tu_poll: SIGINT sent to the process *(pid_t *)pid is no longer pending (its signal thread
 * took it, or the process is gone); a second one sent before would have merged with it. */
bool tu_sigint_taken(void *pid);

/* Waits up to limit_s for the `gilsim run` in process pid to be under way: SIGINT is blocked (its
 * signal thread takes it) and all workload_threads of the workload's threads exist (the engine
 * creates them after calibrating, then opens their start gate). */
bool tu_wait_run_started(pid_t pid, unsigned workload_threads, double limit_s);

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

/* The same over the I/Os after which the thread had to queue: another thread held the GIL (by
 * the trace) when it asked. On a loaded machine a waiter may not be woken before a short I/O is
 * over, and the I/O thread then takes the free GIL straight back (the race docs/policies.md
 * describes under "What the tests show"): such I/Os show nothing of how a policy serves a
 * queued thread. -1 when fewer than 10 I/Os queued; *queued gets their number. */
long long tu_median_queued_io_response(const struct trace *t, size_t *queued);

/* Releases on a drop request (reason drop_request) after which the next acquire was by the
 * releasing thread itself: it took the GIL straight back. *drops gets how many such releases
 * were followed by an acquire. */
size_t tu_regrabs_after_drop(const struct trace *t, size_t *drops);

/* One case of an expected.tsv beside invalid inputs: the file, the line its error must name,
 * and a fragment of the message. */
struct tu_expect {
    const char *file, *line, *fragment;
};
/* Calls each(ctx, c) for every case of the TSV at rel (source-tree path; '#' lines and blank
 * lines skipped); returns how many there were. */
int tu_each_expected(const char *rel, void (*each)(void *ctx, const struct tu_expect *c),
                     void *ctx);

/* bfs on a workload of CPU-bound threads (tids 0-3 considered): grants not to a waiter with
 * the least virtual run time, replaying the policy's rule from the trace. Virtual time is GIL
 * time (acquire to release), raised on each request to at least one interval below the largest
 * virtual time a thread had when it was granted the GIL. The policy's clock readings enclose
 * the trace's acquire and release times, so its virtual times run ahead of the replay's: a
 * grant counts as wrong only when the granted thread is ahead of the least by more than
 * tolerance_ns. The first 8 grants (the start-up scramble: every thread is waking, and
 * preempts) are not judged; *checked gets how many were. */
size_t tu_bfs_misgrants(const struct trace *t, int64_t interval_ns, int64_t tolerance_ns,
                        size_t *checked);

/* Acquires not by the thread whose request is the oldest outstanding (request order, read
 * from the trace's request events); *acquires receives all acquires. */
size_t tu_out_of_request_order(const struct trace *t, size_t *acquires);

/* Acquires by the thread that held the GIL just before; *acquires receives all acquires. */
size_t tu_repeated_acquires(const struct trace *t, size_t *acquires);

/* Runs the suite's tests with CUnit's basic runner; returns the process exit status. */
int tu_main(const char *suite, CU_TestInfo *tests);

#endif
