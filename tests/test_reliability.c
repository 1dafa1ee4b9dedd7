/* tests/test_reliability.c - the promises of docs/reliability.md, checked on the binaries as a
 * user meets them: bad input (workloads, traces, machine files, options, output paths) exits 2 with
 * one path:line:col message and leaves an existing file untouched; SIGINT/SIGTERM write a partial
 * trace and exit 130/143, a second SIGINT exits at once; the watchdog reports a deadlocked
 * policy (tests/testpol.c, only in gilsim-testpol) and exits 1 with a partial trace, and does
 * not mistake quiet work for a stall; a failed thread creation leaves nothing behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static char dir[512], target[600], out_file[600], err_file[600];
static const char *gilsim_bin = "gilsim";
static const char *testpol_bin = "tests/gilsim-testpol";

/* Starts `BIN ARGS` (shell words) from the source tree, output to out_file/err_file. */
static void spawn(struct tu_proc *p, const char *bin, const char *args)
{
    *p = (struct tu_proc){.out = out_file, .err = err_file};
    CU_ASSERT_FATAL(tu_start(p, bin, args));
}

/* Exit status, 128 + signal when killed, -1 (after SIGKILL) when not done within limit_s;
 * *took (when not NULL): how long it ran. */
static int run(const char *bin, const char *args, double limit_s, double *took)
{
    struct tu_proc p;
    spawn(&p, bin, args);
    int rc = tu_wait(&p, limit_s);
    if (took) *took = p.took;
    return rc;
}

static void put_keep(void)
{
    FILE *f = fopen(target, "w");
    fputs("keep\n", f);
    fclose(f);
}

static bool target_kept(void)
{
    char *s = tu_slurp(target);
    bool ok = s && strcmp(s, "keep\n") == 0;
    free(s);
    return ok;
}

/* The temporary files in the test directory (remove: deleted as they are counted, so that one
 * leak fails only the test that made it). */
static int scan_tmp_files(bool remove)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    char path[1200];
    while (d && (de = readdir(d))) {
        if (!strstr(de->d_name, ".tmp.")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (remove) unlink(path);
        n++;
    }
    if (d) closedir(d);
    return n;
}

static int leftover_tmp_files(void)
{
    return scan_tmp_files(true);
}

static bool reserved(void *ctx)
{
    (void)ctx;
    return scan_tmp_files(false) > 0;
}

/* Waits until the command has reserved its output (a temporary file exists): it is past the
 * argument checks, and its signal thread takes SIGINT and SIGTERM. */
static bool wait_reserved(double limit_s)
{
    return tu_poll(reserved, NULL, limit_s);
}

/* Exactly one line, starting with "gilsim: " + prefix and containing frag. */
static bool one_message(const char *prefix, const char *frag)
{
    char *s = tu_slurp(err_file);
    char want[1200];
    snprintf(want, sizeof want, "gilsim: %s", prefix);
    char *nl = s ? strchr(s, '\n') : NULL;
    bool ok = nl && strncmp(s, want, strlen(want)) == 0 && strstr(s, frag) && nl[1] == '\0';
    if (!ok) fprintf(stderr, "\nwant one line \"%s...%s...\", got:\n%s\n", want, frag, s ? s : "");
    free(s);
    return ok;
}

static struct trace *read_target(void)
{
    struct trace *t = NULL;
    struct err e = {0};
    if (trace_read(target, &t, &e) != 0) fprintf(stderr, "\n%s\n", e.msg);
    return t;
}

static const char *stop_reason(const struct trace *t)
{
    const char *s = json_string_value(json_object_get(t->run, "stop_reason"));
    return s ? s : "";
}

/* ---- bad input ----------------------------------------------------------------------------- */

/* Every invalid workload: exit 2, one FILE:LINE:COL message, the existing output untouched. */
static void check_invalid_workload(void *ctx, const struct tu_expect *c)
{
    (void)ctx;
    char args[2048], prefix[600];
    snprintf(args, sizeof args, "run tests/data/invalid/%s -o '%s'", c->file, target);
    snprintf(prefix, sizeof prefix, "tests/data/invalid/%s:%s:", c->file, c->line);
    put_keep();
    CU_ASSERT_EQUAL(run(gilsim_bin, args, 30, NULL), 2);
    CU_ASSERT(one_message(prefix, c->fragment));
    CU_ASSERT(target_kept());
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
}

static void test_invalid_workloads(void)
{
    CU_ASSERT(tu_each_expected("tests/data/invalid/expected.tsv", check_invalid_workload, NULL) >=
              20);
}

/* Every invalid trace, to summary and to export: exit 2, one message, nothing written. */
static void check_invalid_trace(void *ctx, const struct tu_expect *c)
{
    (void)ctx;
    char args[2048], prefix[600];
    snprintf(prefix, sizeof prefix, "tests/data/invalid/traces/%s:%s:", c->file, c->line);
    snprintf(args, sizeof args, "summary tests/data/invalid/traces/%s", c->file);
    CU_ASSERT_EQUAL(run(gilsim_bin, args, 30, NULL), 2);
    CU_ASSERT(one_message(prefix, c->fragment));
    const char *formats[] = {"chrome", "csv"};
    for (int k = 0; k < 2; k++) {
        snprintf(args, sizeof args, "export tests/data/invalid/traces/%s -f %s -o '%s'", c->file,
                 formats[k], target);
        put_keep();
        CU_ASSERT_EQUAL(run(gilsim_bin, args, 30, NULL), 2);
        CU_ASSERT(one_message(prefix, c->fragment));
        CU_ASSERT(target_kept());
        CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
    }
}

static void test_invalid_traces(void)
{
    CU_ASSERT(tu_each_expected("tests/data/invalid/traces/expected.tsv", check_invalid_trace,
                               NULL) >= 10);
}

/* Every invalid machine file, to a virtual run and to `gilsim machines`: exit 2, one
 * FILE:LINE:COL message, nothing written. */
static void check_invalid_machine(void *ctx, const struct tu_expect *c)
{
    (void)ctx;
    char args[2048], prefix[600];
    snprintf(prefix, sizeof prefix, "tests/data/invalid/machines/%s:%s:", c->file, c->line);
    snprintf(args, sizeof args,
             "run workloads/cpu2.json --engine virtual --machine tests/data/invalid/machines/%s "
             "-o '%s'",
             c->file, target);
    put_keep();
    CU_ASSERT_EQUAL(run(gilsim_bin, args, 30, NULL), 2);
    CU_ASSERT(one_message(prefix, c->fragment));
    CU_ASSERT(target_kept());
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
    snprintf(args, sizeof args, "machines --machine tests/data/invalid/machines/%s", c->file);
    CU_ASSERT_EQUAL(run(gilsim_bin, args, 30, NULL), 2);
    CU_ASSERT(one_message(prefix, c->fragment));
}

static void test_invalid_machines(void)
{
    CU_ASSERT(tu_each_expected("tests/data/invalid/machines/expected.tsv", check_invalid_machine,
                               NULL) >= 15);
}

/* Bad options and --set names or values: exit 2 and a message naming the option. */
static void test_bad_options(void)
{
    const char *cases[][2] = {
        {"run workloads/cpu1.json --duration 0", "--duration"},
        {"run workloads/cpu1.json --duration 86400001", "--duration"},
        {"run workloads/cpu1.json --max-events 15", "--max-events"},
        {"run workloads/cpu1.json --max-events 4294967296", "--max-events"},
        {"run workloads/cpu1.json --stall-timeout 5", "--stall-timeout"},
        {"run workloads/cpu1.json --stall-timeout -1", "--stall-timeout"},
        {"run workloads/cpu1.json --seed 1x", "--seed"},
        {"run workloads/cpu1.json --policy nope", "--policy"},
        {"run workloads/cpu1.json --policy new --set nope=1", "nope"},
        {"run workloads/cpu1.json --policy new --set interval_us=1e10", "interval_us"},
        {"run workloads/cpu1.json --policy new --set interval_us=nan", "interval_us"},
        {"run workloads/cpu1.json --policy old --set check_interval=0", "check_interval"},
        {"run workloads/cpu1.json --bogus", "--bogus"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1024];
        snprintf(args, sizeof args, "%s -o '%s'", cases[i][0], target);
        put_keep();
        tu_context("`gilsim %s`", args);
        TU_ASSERT_CMP(run(gilsim_bin, args, 30, NULL), ==, 2);
        CU_ASSERT(tu_file_has(err_file, cases[i][1]));
        CU_ASSERT(target_kept());
        CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
    }
}

/* An output path that cannot be written is found before the run: a 60 s workload fails at
 * once. */
static void test_unwritable_output(void)
{
    double took = 0;
    CU_ASSERT_EQUAL(
        run(gilsim_bin, "run tests/data/valid/stall.json -o /etc/hostname/t.json", 30, &took), 2);
    CU_ASSERT(one_message("/etc/hostname/t.json: ", "cannot write"));
    TU_ASSERT_CMP(took, <, 5.0 * TU_SLACK);
}

/* ---- signals ------------------------------------------------------------------------------- */

/* The signal once the run's threads exist (a signal during calibration stops it too, but the
 * run is what the promise is about). */
static void signal_run(int sig, int want_status, const char *want_reason)
{
    unlink(target);
    char args[1024];
    snprintf(args, sizeof args, "run workloads/cpu2.json --duration 60000 -o '%s'", target);
    struct tu_proc p;
    spawn(&p, gilsim_bin, args);
    CU_ASSERT_FATAL(wait_reserved(10.0 * TU_SLACK));
    CU_ASSERT(tu_wait_run_started(p.pid, 2, 10.0 * TU_SLACK));
    kill(p.pid, sig);
    int rc = tu_wait(&p, 5.0 * TU_SLACK);
    TU_ASSERT_CMP(rc, ==, want_status);
    TU_ASSERT_CMP(p.took, <, 3.0 * TU_SLACK); /* promptly: a short run's trace is quick to write */
    CU_ASSERT(tu_file_has(err_file, "partial trace written"));
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
    struct trace *t = read_target();
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_FALSE(t->complete);
    CU_ASSERT_STRING_EQUAL(stop_reason(t), want_reason);
    CU_ASSERT(json_integer_value(json_object_get(t->run, "elapsed_ns")) < 30000000000LL);
    TU_ASSERT_NO_PROBLEM(tu_check_protocol(t, true));
    trace_free(t);
}

static void test_sigint(void)
{
    signal_run(SIGINT, 130, "sigint");
}

static void test_sigterm(void)
{
    signal_run(SIGTERM, 143, "sigterm");
}

static void nap(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* The first SIGINT cannot finish (the deaf policy's threads never stop); the second exits at
 * once, leaving the existing file and no temporary one. The threads must be stuck in the policy
 * by the first: they are, moments after they exist (the first holder never gives the GIL back),
 * but one that arrives before their start gate opens ends the run before any thread asks, so a
 * run that stopped is tried again, with a longer lead. Whether a run is stuck shows only as its
 * not ending: it must still run half a second (slack scaled) after the first signal was taken. */
static void test_second_sigint(void)
{
    char args[1024];
    snprintf(args, sizeof args,
             "run tests/data/valid/stall.json --policy deaf --stall-timeout 60000 -o '%s'", target);
    struct tu_proc p;
    bool stuck = false;
    for (double lead = 0.1; lead < 3 && !stuck; lead *= 3) {
        put_keep();
        spawn(&p, testpol_bin, args);
        CU_ASSERT_FATAL(wait_reserved(10.0 * TU_SLACK));
        CU_ASSERT(tu_wait_run_started(p.pid, 3, 10.0 * TU_SLACK));
        nap(lead);
        kill(p.pid, SIGINT);
        CU_ASSERT(tu_poll(tu_sigint_taken, &p.pid, 5.0 * TU_SLACK));
        nap(0.5 * TU_SLACK);
        stuck = waitpid(p.pid, NULL, WNOHANG) == 0; /* still trying to stop */
    }
    CU_ASSERT_FATAL(stuck);
    kill(p.pid, SIGINT);
    TU_ASSERT_CMP(tu_wait(&p, 5.0 * TU_SLACK), ==, 130);
    TU_ASSERT_CMP(p.took, <, 2.0 * TU_SLACK);
    CU_ASSERT(tu_file_has(err_file, "exiting at once"));
    CU_ASSERT(target_kept());
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
}

/* A command that holds a temporary file while it reads its trace: a SIGINT removes the file and
 * exits 130 (the trace comes from a FIFO nobody writes, so the command is reliably mid-way). */
static void check_sigint_while_reading(const char *command_fmt)
{
    char fifo[700];
    snprintf(fifo, sizeof fifo, "%s/in.fifo", dir);
    unlink(fifo);
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
    put_keep();
    char args[2048];
    snprintf(args, sizeof args, command_fmt, fifo, target);
    struct tu_proc p;
    spawn(&p, gilsim_bin, args);
    CU_ASSERT_FATAL(wait_reserved(10.0 * TU_SLACK));
    kill(p.pid, SIGINT);
    CU_ASSERT_EQUAL(tu_wait(&p, 5.0 * TU_SLACK), 130);
    CU_ASSERT(target_kept());
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
    unlink(fifo);
}

static void test_export_sigint(void)
{
    check_sigint_while_reading("export '%s' -f csv -o '%s'");
}

static void test_summary_sigint(void)
{
    check_sigint_while_reading("summary '%s' --samples gil_wait -o '%s'");
}

/* ---- the watchdog -------------------------------------------------------------------------- */

/* The deadlock policy never gives the GIL back: the watchdog names who waits since when, the
 * partial trace is written, exit 1. The sleeper's 100 ms start delay is a planned wait, not part of
 * the silence. */
static void test_watchdog_deadlock(void)
{
    unlink(target);
    char args[1024];
    snprintf(args, sizeof args,
             "run tests/data/valid/stall.json --policy deadlock --stall-timeout 300 -o '%s'",
             target);
    double took = 0;
    TU_ASSERT_CMP(run(testpol_bin, args, 30.0 * TU_SLACK, &took), ==, 1);
    TU_ASSERT_CMP(took, <, 10.0 * TU_SLACK);
    CU_ASSERT(tu_file_has(err_file, "no thread made progress for"));
    CU_ASSERT(tu_file_has(err_file, "holding the GIL: none"));
    CU_ASSERT(tu_file_has(err_file, "waiting for the GIL: 3 threads"));
    CU_ASSERT(tu_file_has(err_file, "worker.0 (tid 0) since t="));
    /* it asked for the GIL after its start delay, not before */
    char *report = tu_slurp(err_file);
    const char *since = strstr(report, "sleeper.0 (tid 2) since t=");
    TU_ASSERT_HAS(report, "sleeper.0 (tid 2) since t=");
    if (since) TU_ASSERT_CMP(strtod(since + strlen("sleeper.0 (tid 2) since t="), NULL), >=, 100.0);
    free(report);
    CU_ASSERT(tu_file_has(err_file, "partial trace written"));
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
    struct trace *t = read_target();
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_FALSE(t->complete);
    CU_ASSERT_STRING_EQUAL(stop_reason(t), "stalled");
    long long stop_ns = json_integer_value(json_object_get(t->run, "stop_ns"));
    CU_ASSERT(stop_ns >= 390000000LL); /* 100 ms start delay + 300 ms silence */
    trace_free(t);
}

/* Waiters that ignore the stop are given up on after the stall timeout: still a report, a
 * partial trace and exit 1, not a hang. */
static void test_watchdog_deaf(void)
{
    unlink(target);
    char args[1024];
    snprintf(args, sizeof args,
             "run tests/data/valid/stall.json --policy deaf --stall-timeout 300 -o '%s'", target);
    CU_ASSERT_EQUAL(run(testpol_bin, args, 30.0 * TU_SLACK, NULL), 1);
    CU_ASSERT(tu_file_has(err_file, "no thread made progress"));
    CU_ASSERT(tu_file_has(err_file, "3 threads did not stop"));
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
    struct trace *t = read_target();
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_FALSE(t->complete);
    CU_ASSERT_STRING_EQUAL(stop_reason(t), "stalled");
    trace_free(t);
}

/* A long sleep, a long hold and a long CPU op record no event for 600-800 ms: with a 200 ms
 * stall timeout, that is still progress. The run ends when its threads do; its duration only
 * has to outlast 1.2 s of CPU work, which, beside a CPU hog and other load, can take more than
 * the workload's 10 s. */
static void test_watchdog_quiet_is_not_stall(void)
{
    unlink(target);
    char args[1024];
    snprintf(args, sizeof args,
             "run tests/data/valid/quiet.json --policy none --stall-timeout 200 --duration 120000 "
             "-o '%s'",
             target);
    CU_ASSERT_EQUAL(run(gilsim_bin, args, 150.0 * TU_SLACK, NULL), 0);
    struct trace *t = read_target();
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT(t->complete);
    CU_ASSERT_STRING_EQUAL(stop_reason(t), "finished");
    trace_free(t);
}

/* ---- limits -------------------------------------------------------------------------------- */

/* 10,000 threads in an address space too small for their stacks: a clear error, exit 1, the
 * existing file untouched. (Sanitizers reserve more address space than any such limit.) */
static void test_thread_create_failure(void)
{
#ifdef GILSIM_SANITIZED
    fprintf(stderr, "(skipped under sanitizers) ");
#else
    put_keep();
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ulimit -v 400000 && exec '%s/gilsim' run tests/data/valid/ten-thousand.json "
             "--max-events 16 -o '%s'",
             GILSIM_BINARY_DIR, target);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct tu_proc p = {.out = out_file, .err = err_file};
    CU_ASSERT_FATAL(tu_spawn(&p, argv));
    CU_ASSERT_EQUAL(tu_wait(&p, 120.0), 1);
    CU_ASSERT(one_message("cannot create thread ", "of 10000"));
    CU_ASSERT(target_kept());
    CU_ASSERT_EQUAL(leftover_tmp_files(), 0);
#endif
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/reliability-%d", GILSIM_BINARY_DIR, (int)getpid());
    mkdir(dir, 0755);
    snprintf(target, sizeof target, "%s/out.json", dir);
    snprintf(out_file, sizeof out_file, "%s.out", dir);
    snprintf(err_file, sizeof err_file, "%s.err", dir);
    CU_TestInfo tests[] = {
        {"invalid workloads: exit 2, one message, output untouched", test_invalid_workloads},
        {"invalid traces: summary and export exit 2, nothing written", test_invalid_traces},
        {"invalid machine files: exit 2, one message, nothing written", test_invalid_machines},
        {"bad options and --set: exit 2 naming the option", test_bad_options},
        {"unwritable output found before the run", test_unwritable_output},
        {"SIGINT: partial trace, exit 130", test_sigint},
        {"SIGTERM: partial trace, exit 143", test_sigterm},
        {"second SIGINT exits at once", test_second_sigint},
        {"export: SIGINT removes its temporary file", test_export_sigint},
        {"summary -o: SIGINT removes its temporary file", test_summary_sigint},
        {"watchdog: deadlocked policy reported, exit 1", test_watchdog_deadlock},
        {"watchdog: threads that ignore the stop are given up on", test_watchdog_deaf},
        {"watchdog: quiet work is not a stall", test_watchdog_quiet_is_not_stall},
        {"thread creation failure: clear error, nothing written", test_thread_create_failure},
        CU_TEST_INFO_NULL,
    };
    int rc = tu_main("reliability", tests);
    unlink(target);
    unlink(out_file);
    unlink(err_file);
    rmdir(dir);
    return rc;
}
