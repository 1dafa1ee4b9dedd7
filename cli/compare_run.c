/* cli/compare_run.c - one run of a sweep's plan (`gilsim compare --run DIR --index I`, what
 * each Slurm array task and each local job does): a child process (`gilsim run`, or
 * tools/pyrun for `cpython`, which takes the same options) writes its trace under
 * DIR/.partial/; only a run that succeeded is moved into DIR, read back by the analysis side
 * exactly as `gilsim summary` would, its summary kept beside it, and its result file
 * NAME.result.json written last: that file is what marks the run finished. A run that fails
 * leaves a result with its status and no trace; a run killed by a signal leaves nothing (it
 * runs again when the plan is resubmitted). */
#define _GNU_SOURCE /* environ, pipe2, sched_setaffinity */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/metrics.h"
#include "cli/compare.h"
#include "common/text.h"

extern char **environ;

/* ---- the child ------------------------------------------------------------------------------ */

static _Atomic pid_t child_pid;

/* First SIGINT/SIGTERM: the child hears it too and writes its partial trace, which is then
 * removed; a second one exits at once (cli/signals.c removes the partial trace). */
static void run_on_signal(void *ctx, int sig)
{
    (void)ctx;
    pid_t pid = atomic_load(&child_pid);
    if (pid > 0) kill(pid, sig);
}

/* In the child, between fork and exec (async-signal-safe calls only): it dies with us,
 * takes its own signals, and reports a failed exec through the pipe. */
static void exec_child(char *const *argv, pid_t parent, int report_fd)
{
    sigset_t none;
    sigemptyset(&none);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(argv[0], argv, environ);
    int err = errno;
    ssize_t w = write(report_fd, &err, sizeof err);
    (void)w;
    _exit(127);
}

/* Runs argv to its end: its exit status, 128 + the signal that ended it, or -1 (errno set)
 * when it could not start. */
static int run_child(json_t *jargv)
{
    size_t n = json_array_size(jargv);
    char **argv = calloc(n + 1, sizeof *argv);
    if (!argv) return -1;
    for (size_t i = 0; i < n; i++)
        argv[i] = (char *)json_string_value(json_array_get(jargv, i));
    int fds[2], err = 0, status = 0;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(argv);
        return -1;
    }
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) exec_child(argv, parent, fds[1]);
    free(argv);
    close(fds[1]);
    ssize_t got = pid > 0 ? read(fds[0], &err, sizeof err) : -1; /* 0: exec'd (pipe closed) */
    if (pid < 0) err = errno;
    close(fds[0]);
    if (pid > 0) atomic_store(&child_pid, pid);
    if (pid > 0) cli_signals_set_child(pid); /* a second signal ends and reaps it first */
    int pending = cli_signals_received();    /* a signal before the store: the child hears it */
    if (pid > 0 && pending) kill(pid, pending);
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    atomic_store(&child_pid, 0);
    cli_signals_set_child(0);
    if (pid < 0 || got == (ssize_t)sizeof err) {
        errno = err;
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the result ----------------------------------------------------------------------------- */

/* The largest cell behind a thread (not the free GIL) of the run's wait attribution. */
static json_t *top_blocker(const struct met_run *m, const struct trace *hdr)
{
    int64_t best = 0;
    json_t *top = json_null();
    for (size_t w = 0; w < hdr->nthreads; w++) {
        const struct attr_cell *c;
        size_t n = met_wait_row(m, w, &c);
        for (size_t i = 0; i < n; i++) {
            if (c[i].holder == ATTR_FREE || c[i].ns <= best) continue;
            best = c[i].ns;
            json_decref(top);
            char holder[64], waiter[64]; /* from the trace: escaped (common/text.h) */
            top = json_pack("{ss ss sI sf}", "holder",
                            text_escape(hdr->threads[c[i].holder].name, holder, sizeof holder),
                            "waiter", text_escape(hdr->threads[w].name, waiter, sizeof waiter),
                            "ns", (json_int_t)c[i].ns, "share",
                            (double)c[i].ns / (double)met_wait_total(m, w));
        }
    }
    return top;
}

/* Writes doc to DIR/name under the output rules (common/outfile.h). */
static int write_json(const char *dir, const char *name, json_t *doc, struct err *e)
{
    char path[PATH_MAX + 700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!doc) return err_set(e, ERR_RUNTIME, "%s: out of memory", path);
    return cli_write_json(path, NULL, doc, e);
}

/* The trace, moved into DIR, read back: its summary beside it and the result. */
static int measure(const struct cmp_plan *p, size_t index, json_t *result, struct err *e)
{
    const struct cmp_run *r = &p->runs[index];
    char path[PATH_MAX + 700], sname[sizeof r->trace + 16];
    snprintf(path, sizeof path, "%s/%s", p->dir, r->trace);
    cmp_file_beside(r->trace, ".summary.json", sname, sizeof sname);
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    int rc = met_summarize_file(path, 0, &m, &hdr, e);
    if (rc) return rc;
    json_t *doc = met_to_json(m, r->trace);
    rc = write_json(p->dir, sname, doc, e);
    if (!rc) {
        json_t *d = json_object_get(doc, "disturbance");
        json_object_set_new(result, "disturbed",
                            json_boolean(json_is_true(json_object_get(d, "disturbed"))));
        json_object_set(result, "disturbed_why", json_object_get(d, "why"));
        json_object_set_new(result, "metrics", cmp_result_metrics(doc));
        json_object_set_new(result, "top_blocker", top_blocker(m, hdr));
        json_object_set(result, "host", json_object_get(hdr->run, "host"));
        json_object_set_new(result, "policy", json_string(hdr->policy));
    }
    json_decref(doc);
    met_free(m);
    trace_free(hdr);
    return rc;
}

/* Pins this process (and so the child) to the cores of list, e.g. "2,3" or "4-7". */
static int pin(const char *list, struct err *e)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (const char *p = list; *p;) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0 || lo >= CPU_SETSIZE) break;
        if (*end == '-') hi = strtol(end + 1, &end, 10);
        for (long k = lo; k <= hi && k < CPU_SETSIZE; k++)
            CPU_SET(k, &set);
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end) break;
    }
    if (CPU_COUNT(&set) == 0 || sched_setaffinity(0, sizeof set, &set) != 0)
        return err_set(e, ERR_INPUT, "--cpus %s: cannot run on these cores: %s", list,
                       CPU_COUNT(&set) ? strerror(errno) : "expected a list such as 0,1 or 2-3");
    return 0;
}

/* The child and what it left: 0, the child's status, or 128 + a signal. */
static int run_and_measure(const struct cmp_plan *p, size_t index, const char *partial,
                           struct err *e)
{
    const struct cmp_run *r = &p->runs[index];
    char rname[sizeof r->trace + 16], dir_abs[PATH_MAX], path[PATH_MAX + 700];
    cmp_file_beside(r->trace, ".result.json", rname, sizeof rname);
    json_t *argv = cmp_child_argv(p, r, realpath(p->dir, dir_abs) ? dir_abs : p->dir);
    int status = run_child(argv), rc = 0;
    json_decref(argv);
    if (status < 0) return err_set(e, ERR_RUNTIME, "cannot start the run: %s", strerror(errno));
    int sig = cli_signals_received();
    snprintf(path, sizeof path, "%s/%s", p->dir, r->trace);
    json_t *result = json_pack("{ss sI ss sI}", "format", "gilsim-compare-result", "index",
                               (json_int_t)index, "trace", r->trace, "status", (json_int_t)status);
    if (status == 0 && !sig && rename(partial, path) != 0)
        rc = err_set(e, ERR_RUNTIME, "%s: cannot move the trace into place: %s", path,
                     strerror(errno));
    else if (status == 0 && !sig)
        rc = measure(p, index, result, e);
    unlink(partial);
    if (rc) {
        cli_fail(e);
        json_object_set_new(result, "status", json_integer(status = 1));
    }
    struct err we = {0};
    if (!sig && write_json(p->dir, rname, result, &we) != 0) {
        cli_fail(&we);
        status = status ? status : 1;
    }
    json_decref(result);
    if (status && !sig)
        fprintf(stderr, "gilsim compare: run %zu (%s, repeat %u) failed with status %d\n", index,
                r->cell->label, r->repeat, status);
    return sig ? 128 + sig : status;
}

int cmp_run_one(const struct cmp_plan *p, size_t index, const char *cpus, struct err *e)
{
    if (index >= p->nruns)
        return err_set(e, ERR_INPUT, "--index %zu: the plan has runs 0 to %zu", index,
                       p->nruns - 1);
    if (cmp_run_done(p, index)) {
        fprintf(stderr, "gilsim compare: run %zu (%s) has finished already\n", index,
                p->runs[index].trace);
        return 0;
    }
    char partial[PATH_MAX + 700];
    int rc = cmp_partial_dir(p, partial, sizeof partial, e);
    if (rc) return rc;
    snprintf(partial, sizeof partial, "%s/.partial/%s", p->dir, p->runs[index].trace);
    unlink(partial); /* a killed earlier attempt's */
    rc = cpus ? pin(cpus, e) : 0;
    if (rc) return rc;
    if ((rc = cli_signals_start(run_on_signal, NULL)) != 0)
        return err_set(e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(rc));
    cli_signals_set_tmp(partial);
    rc = run_and_measure(p, index, partial, e);
    cli_signals_set_tmp(NULL);
    cli_signals_stop();
    return rc;
}
