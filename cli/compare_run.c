/* cli/compare_run.c - running `gilsim compare`'s plan: one child process per run (`gilsim run`,
 * or tools/pyrun for `cpython`, which takes the same options), one at a time, then its trace
 * read back by the analysis side exactly as `gilsim summary` would, its summary kept beside
 * it. SIGINT/SIGTERM: the run in progress hears it too, no other starts. */
#define _GNU_SOURCE /* environ, pipe2 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/metrics.h"
#include "cli/compare.h"
#include "common/outfile.h"
#include "common/text.h"

extern char **environ;

/* When a cpython column is asked for: the interpreter and tools/pyrun, found like `gilsim
 * report` finds tools/report (GILSIM_PYTHON, GILSIM_TOOLS_DIR), checked before anything runs. */
int compare_find_pyrun(struct compare *c, struct err *e)
{
    bool wanted = false;
    for (size_t i = 0; i < c->nconfigs; i++)
        wanted |= !c->configs[i].subj.policy;
    if (!wanted) return 0;
    if (cli_find_tool("pyrun", c->pyrun, sizeof c->pyrun, e) != 0 ||
        cli_find_python("GILSIM_PYTHON", "policy cpython: the interpreter to measure", c->python,
                        sizeof c->python, e) != 0)
        return e->status;
    return 0;
}

/* The child's command line. Strings it points to live in the struct. */
struct child_cmd {
    const char *argv[16 + 2 * CLI_MAX_SETS];
    int argc;
    char path[PATH_MAX + 512], duration[32], seed[32];
};

static void push(struct child_cmd *cmd, const char *arg)
{
    cmd->argv[cmd->argc++] = arg;
    cmd->argv[cmd->argc] = NULL;
}

/* `gilsim run WORKLOAD --policy P ...`, or `python tools/pyrun WORKLOAD ...` (no policy). */
static void child_cmd(const struct compare *c, const struct run *r, struct child_cmd *cmd)
{
    const struct config *cfg = r->cfg;
    snprintf(cmd->path, sizeof cmd->path, "%s/%s", c->dir, r->trace);
    snprintf(cmd->seed, sizeof cmd->seed, "%llu", (unsigned long long)c->seed);
    cmd->argc = 0;
    push(cmd, cfg->subj.policy ? c->exe : c->python);
    push(cmd, cfg->subj.policy ? "run" : c->pyrun);
    push(cmd, c->workload_path);
    if (cfg->subj.policy) {
        push(cmd, "--policy");
        push(cmd, cfg->subj.name);
    }
    for (unsigned k = 0; k < cfg->nassign; k++) {
        push(cmd, "--set");
        push(cmd, cfg->assign[k]);
    }
    if (c->duration_ms) {
        snprintf(cmd->duration, sizeof cmd->duration, "%llu", (unsigned long long)c->duration_ms);
        push(cmd, "--duration");
        push(cmd, cmd->duration);
    }
    push(cmd, "--seed");
    push(cmd, cmd->seed);
    push(cmd, "-o");
    push(cmd, cmd->path);
    push(cmd, "-q");
}

/* In the child, between fork and exec (only async-signal-safe calls): it dies with compare
 * (PR_SET_PDEATHSIG, also when compare is killed), takes its own signals (not compare's
 * blocked mask), and reports a failed exec through the pipe. */
static void exec_child(const struct child_cmd *cmd, pid_t parent, int report_fd)
{
    sigset_t none;
    sigemptyset(&none);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(cmd->argv[0], (char *const *)cmd->argv, environ);
    int err = errno;
    ssize_t w = write(report_fd, &err, sizeof err);
    (void)w;
    _exit(127);
}

/* Starts the child: its pid, or -1 with errno. */
static pid_t start_child(const struct child_cmd *cmd)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) exec_child(cmd, parent, fds[1]);
    close(fds[1]);
    int err = 0;
    ssize_t n = pid > 0 ? read(fds[0], &err, sizeof err) : -1; /* 0: exec'd (pipe closed) */
    if (pid < 0) err = errno;
    close(fds[0]);
    if (pid > 0 && n == (ssize_t)sizeof err) {
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    errno = err;
    return pid;
}

static int spawn_run(struct compare *c, struct run *r, struct err *e)
{
    struct child_cmd cmd;
    child_cmd(c, r, &cmd);
    pid_t pid = start_child(&cmd);
    if (pid < 0)
        return err_set(e, ERR_RUNTIME, "cannot start %s: %s", cmd.argv[0], strerror(errno));
    atomic_store(&c->child, pid);
    cli_signals_set_child(pid);
    /* a signal taken between the spawn and the store above: the child must hear it too */
    int pending = atomic_load(&c->interrupt);
    if (pending) kill(pid, pending);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return err_set(e, ERR_RUNTIME, "waitpid: %s", strerror(errno));
    cli_signals_set_child(0);
    atomic_store(&c->child, 0);
    r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

static double json_at(json_t *doc, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = doc;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The key metrics of one run from its summary; counts become rates so that runs of slightly
 * different lengths compare. */
static void keep_metrics(struct run *r, json_t *doc)
{
    double window_s = json_at(doc, "window_ns") / 1e9;
    for (int k = 0; k < NKM; k++) {
        if (!compare_metrics[k].path) continue;
        double v = json_at(doc, compare_metrics[k].path);
        if (k == KM_SWITCHES_PER_S || k == KM_FORCED_PER_S || k == KM_FAILED_WAKEUPS_PER_S)
            v = window_s > 0 ? v / window_s : NAN;
        r->value[k] = v;
    }
}

static int dump_summary(FILE *f, void *doc, struct err *e)
{
    (void)e;
    int rc = json_dumpf(doc, f, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    return rc ? err_set(e, ERR_RUNTIME, "out of memory") : 0;
}

/* The first note about cpython: which interpreter it was (from its trace). */
static void note_cpython(struct compare *c, const char *policy)
{
    char note[256];
    size_t n = text_utf8_cut(policy, strlen(policy) < 40 ? strlen(policy) : 40);
    snprintf(note, sizeof note,
             "cpython = %.*s on real threads (tools/pyrun); its slices and hand-offs are "
             "inferred from progress stamps (docs/pyrun.md)",
             (int)n, policy);
    json_array_append_new(c->notes, text_json(note));
    c->cpython_noted = true;
}

/* The largest cell behind a thread (not the free GIL) of the run's wait attribution. */
static void top_blocker(const struct met_run *m, const struct trace *hdr, struct blocker *b)
{
    memset(b, 0, sizeof *b);
    for (size_t w = 0; w < hdr->nthreads; w++) {
        const struct attr_cell *c;
        size_t n = met_wait_row(m, w, &c);
        for (size_t i = 0; i < n; i++) {
            if (c[i].holder == ATTR_FREE || c[i].ns <= b->ns) continue;
            b->ns = c[i].ns;
            b->share = (double)c[i].ns / (double)met_wait_total(m, w);
            /* names from the trace: escaped, cut on a character boundary (common/text.h) */
            text_escape(hdr->threads[c[i].holder].name, b->holder, sizeof b->holder);
            text_escape(hdr->threads[w].name, b->waiter, sizeof b->waiter);
        }
    }
}

/* Reads the run's trace back and keeps its key metrics; writes the summary beside it. */
static int measure_run(struct compare *c, struct run *r, struct err *e)
{
    char path[PATH_MAX + 512], spath[PATH_MAX + 512], sname[sizeof r->trace + 16];
    snprintf(path, sizeof path, "%s/%s", c->dir, r->trace);
    compare_summary_name(r->trace, sname, sizeof sname);
    snprintf(spath, sizeof spath, "%s/%s", c->dir, sname);
    struct met_run *m = NULL;
    struct trace *hdr = NULL;
    int rc = met_summarize_file(path, 0, &m, &hdr, e);
    if (rc) return rc;
    json_t *doc = met_to_json(m, r->trace);
    if (!doc) {
        rc = err_set(e, ERR_RUNTIME, "out of memory");
        goto done;
    }
    if (!c->host) c->host = json_incref(json_object_get(hdr->run, "host"));
    if (!r->cfg->subj.policy && !c->cpython_noted) note_cpython(c, hdr->policy);
    keep_metrics(r, doc);
    top_blocker(m, hdr, &r->top);
    const char *inputs[] = {path, c->workload_path, NULL};
    rc = outfile_write(spath, 0, inputs, dump_summary, doc, e);
done:
    json_decref(doc);
    met_free(m);
    trace_free(hdr);
    return rc;
}

/* One run: the child, then its trace; a failure is reported and counted, not returned (the
 * other runs go on). Returns non-zero only when no child can be started at all. */
static int one_run(struct compare *c, struct run *r, bool tty, size_t i, struct err *e)
{
    if (tty)
        fprintf(stderr, "\r\033[K[%zu/%zu] %s, repeat %u ...", i + 1, c->nruns, r->cfg->label,
                r->repeat);
    int rc = spawn_run(c, r, e);
    if (rc) return rc;
    if (r->status == 0) rc = measure_run(c, r, e);
    if (r->status != 0 || rc) {
        if (tty) fputc('\n', stderr);
        if (rc) cli_fail(e);
        fprintf(stderr, "gilsim compare: run %s (repeat %u) failed with status %d\n", r->cfg->label,
                r->repeat, r->status ? r->status : rc);
        if (!r->status) r->status = rc;
        c->failed++;
    }
    return 0;
}

int compare_run_all(struct compare *c, struct err *e)
{
    bool tty = isatty(STDERR_FILENO);
    for (size_t i = 0; i < c->nruns; i++) {
        struct run *r = &c->runs[i];
        if (atomic_load(&c->interrupt)) { /* interrupted: the rest is not run */
            r->status = -1;
            r->trace[0] = '\0';
            c->not_run++;
            continue;
        }
        int rc = one_run(c, r, tty, i, e);
        if (rc) return rc;
    }
    if (tty) fputs("\r\033[K", stderr);
    return 0;
}
