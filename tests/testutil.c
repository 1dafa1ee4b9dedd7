/* tests/testutil.c - see testutil.h. */
#define _GNU_SOURCE /* pipe2 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policies/registry.h"
#include "sim/trace_write.h"
#include "sim/wl.h"

const char *tu_src(const char *rel)
{
    if (rel[0] == '/') return rel; /* a file a test wrote */
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", GILSIM_SOURCE_DIR, rel);
    return buf[k];
}

struct trace *tu_run_trace(const struct tu_run *r, long long *elapsed_ns)
{
    struct err e = {0};
    struct wl_workload *wl = NULL;
    struct trace *t = NULL;
    const struct gil_policy *pol = gil_policy_find(r->policy);
    if (!pol) {
        CU_FAIL_FATAL("unknown policy");
    }
    struct gil_params params;
    gil_params_defaults(&params, pol);
    for (int i = 0; i < 4 && r->sets[i]; i++)
        if (gil_params_set(&params, pol, r->sets[i], &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            CU_FAIL_FATAL("bad --set in test");
        }
    if (wl_load(tu_src(r->workload), &wl, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        CU_FAIL_FATAL("workload does not load");
    }
    char path[512];
    snprintf(path, sizeof path, "%s/trace-%d-%s-%s.json", GILSIM_BINARY_DIR, (int)getpid(),
             wl->name, r->policy);
    struct trace_out *out = NULL;
    struct machine machine;
    mach_defaults(&machine);
    if (r->machine_set && mach_set(&machine, r->machine_set, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        CU_FAIL_FATAL("bad machine setting in test");
    }
    struct eng_options o = {.wl = wl,
                            .engine = r->virt ? ENG_VIRTUAL : ENG_REAL,
                            .machine = &machine,
                            .policy = pol,
                            .params = &params,
                            .duration_ns = (long long)r->duration_ms * 1000000,
                            .seed = r->seed,
                            .max_events = r->max_events};
    struct eng_result *res = NULL;
    if (trace_out_open(&out, path, NULL, &e) != 0 || eng_run(&o, &res, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        trace_out_abort(out);
        wl_free(wl);
        CU_FAIL("run failed");
        return NULL;
    }
    if (elapsed_ns) *elapsed_ns = res->elapsed_ns;
    if (trace_out_commit(out, &o, res, &e) != 0 || trace_read(path, &t, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        CU_FAIL("trace write/read failed");
    }
    unlink(path);
    eng_result_free(res);
    wl_free(wl);
    return t;
}

/* In a partial trace a thread whose buffer filled stops recording (its later releases are
 * missing, so it would look like it held the GIL for ever): the record is whole only until
 * the earliest last event of a thread that started but has no thread_exit. */
static int64_t whole_until(const struct trace *t)
{
    if (t->complete) return INT64_MAX;
    int64_t *last = calloc(t->nthreads + 1, sizeof *last);
    char *exited = calloc(t->nthreads + 1, 1);
    int64_t until = INT64_MAX;
    if (!last || !exited) goto done;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        last[ev->tid] = ev->t;
        if (ev->ev == TRACE_EV_THREAD_EXIT) exited[ev->tid] = 1;
    }
    for (size_t k = 0; k < t->nthreads; k++)
        if (last[k] && !exited[k] && last[k] < until) until = last[k];
done:
    free(last);
    free(exited);
    return until;
}

const char *tu_check_protocol(const struct trace *t, bool exclusive)
{
    static char msg[256];
    size_t n = t->nthreads;
    char *waiting = calloc(n + 1, 1), *holding = calloc(n + 1, 1);
    int holder = -1;
    const char *bad = NULL;
    int64_t until = whole_until(t);
    for (size_t i = 0; i < t->nevents && !bad && t->events[i].t <= until; i++) {
        const struct trace_event *ev = &t->events[i];
        int tid = ev->tid;
        if (i > 0 && ev->t < t->events[i - 1].t)
            bad = "times not sorted";
        else if (ev->ev == TRACE_EV_REQUEST) {
            if (waiting[tid] || holding[tid]) bad = "request while already waiting or holding";
            waiting[tid] = 1;
        } else if (ev->ev == TRACE_EV_ACQUIRE) {
            if (!waiting[tid])
                bad = "acquire without request";
            else if (exclusive && holder != -1)
                bad = "two holders at once";
            waiting[tid] = 0;
            holding[tid] = 1;
            holder = tid;
        } else if (ev->ev == TRACE_EV_RELEASE) {
            if (!holding[tid] || (exclusive && holder != tid))
                bad = "release by a thread that does not hold the GIL";
            holding[tid] = 0;
            if (holder == tid) holder = -1;
        } else if (ev->ev == TRACE_EV_THREAD_EXIT) {
            /* A thread still waiting when the run ends leaves without the GIL. */
            if (holding[tid]) bad = "thread exit while holding";
            waiting[tid] = 0;
        }
        if (bad)
            snprintf(msg, sizeof msg, "event %zu (t=%lld tid=%d %s): %s", i, (long long)ev->t, tid,
                     trace_ev_name((enum trace_ev)ev->ev), bad);
    }
    for (size_t k = 0; k < n && !bad && t->complete; k++)
        if (waiting[k] || holding[k]) {
            snprintf(msg, sizeof msg, "thread %zu still %s at the end of the trace", k,
                     waiting[k] ? "waiting (a request never followed by acquire)" : "holding");
            bad = msg;
        }
    free(waiting);
    free(holding);
    return bad ? msg : NULL;
}

size_t tu_slices(const struct trace *t, long long **lens, int **reasons)
{
    long long *since = calloc(t->nthreads, sizeof *since);
    *lens = calloc(t->nevents + 1, sizeof **lens);
    *reasons = calloc(t->nevents + 1, sizeof **reasons);
    size_t n = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_ACQUIRE)
            since[ev->tid] = ev->t;
        else if (ev->ev == TRACE_EV_RELEASE) {
            (*lens)[n] = ev->t - since[ev->tid];
            (*reasons)[n++] = ev->reason;
        }
    }
    free(since);
    return n;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

long long tu_median(long long *v, size_t n)
{
    if (n == 0) return -1;
    qsort(v, n, sizeof *v, cmp_ll);
    return v[n / 2];
}

size_t tu_count_ev(const struct trace *t, enum trace_ev ev)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nevents; i++)
        n += t->events[i].ev == ev;
    return n;
}

long long tu_median_io_response(const struct trace *t)
{
    int64_t *io_end = calloc(t->nthreads, sizeof *io_end);
    long long *resp = calloc(t->nevents + 1, sizeof *resp);
    size_t n = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_IO_END)
            io_end[ev->tid] = ev->t;
        else if (ev->ev == TRACE_EV_ACQUIRE && io_end[ev->tid]) {
            resp[n++] = ev->t - io_end[ev->tid];
            io_end[ev->tid] = 0;
        }
    }
    long long med = n >= 10 ? tu_median(resp, n) : -1;
    free(io_end);
    free(resp);
    return med;
}

long long tu_median_queued_io_response(const struct trace *t, size_t *queued)
{
    int64_t *io_end = calloc(t->nthreads, sizeof *io_end);
    bool *behind = calloc(t->nthreads, sizeof *behind);
    long long *resp = calloc(t->nevents + 1, sizeof *resp);
    size_t n = 0;
    int holder = -1;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_IO_END) {
            io_end[ev->tid] = ev->t;
        } else if (ev->ev == TRACE_EV_REQUEST) {
            behind[ev->tid] = holder >= 0 && holder != ev->tid;
        } else if (ev->ev == TRACE_EV_RELEASE) {
            if (holder == ev->tid) holder = -1;
        } else if (ev->ev == TRACE_EV_ACQUIRE) {
            holder = ev->tid;
            if (io_end[ev->tid] && behind[ev->tid]) resp[n++] = ev->t - io_end[ev->tid];
            io_end[ev->tid] = 0;
        }
    }
    long long med = n >= 10 ? tu_median(resp, n) : -1;
    free(io_end);
    free(behind);
    free(resp);
    *queued = n;
    return med;
}

size_t tu_regrabs_after_drop(const struct trace *t, size_t *drops)
{
    int dropped_by = -1;
    size_t n = 0, regrabs = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_RELEASE && ev->reason == TRACE_REASON_DROP_REQUEST) {
            dropped_by = ev->tid;
        } else if (ev->ev == TRACE_EV_ACQUIRE && dropped_by >= 0) {
            n++;
            regrabs += ev->tid == dropped_by;
            dropped_by = -1;
        }
    }
    *drops = n;
    return regrabs;
}

/* ---- assertions that say what they saw ------------------------------------------------------ */

static char context[256];

void tu_context(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
}

static void clear_context(void)
{
    context[0] = '\0';
}

static int put_num(char *buf, size_t size, struct tu_num x)
{
    if (x.kind == 'i') return snprintf(buf, size, "%lld", (long long)x.v);
    if (x.kind == 'u') return snprintf(buf, size, "%llu", (unsigned long long)x.v);
    return snprintf(buf, size, "%.6Lg", x.v);
}

/* CUnit copies the condition text of a failure, so one buffer serves every assertion. */
static void report(bool ok, const char *text, int line, const char *file, bool fatal)
{
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, (unsigned)line, text, file, "",
                            fatal ? CU_TRUE : CU_FALSE);
}

void tu_assert_cmp(bool ok, struct tu_num a, struct tu_num b, const char *expr, int line,
                   const char *file, bool fatal)
{
    if (ok) {
        report(true, expr, line, file, fatal);
        return;
    }
    char va[48], vb[48], text[768];
    put_num(va, sizeof va, a);
    put_num(vb, sizeof vb, b);
    snprintf(text, sizeof text, "%s%s%s: %s vs %s", context, context[0] ? ": " : "", expr, va, vb);
    report(false, text, line, file, fatal);
}

void tu_assert_text(bool ok, const char *part, const char *text, int line, const char *file)
{
    if (ok) {
        report(true, "", line, file, false);
        return;
    }
    char msg[768];
    const char *sep = context[0] ? ": " : "";
    if (part)
        snprintf(msg, sizeof msg, "%s%sexpected \"%s\" in: %.400s", context, sep, part,
                 text ? text : "(null)");
    else
        snprintf(msg, sizeof msg, "%s%s%s", context, sep, text);
    report(false, msg, line, file, false);
}

int tu_main(const char *suite, CU_TestInfo *tests)
{
    CU_SuiteInfo suites[] = {{suite, NULL, NULL, clear_context, NULL, tests}, CU_SUITE_INFO_NULL};
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

/* ---- child processes ------------------------------------------------------------------------ */

extern char **environ;

/* The child's environment: ours with the extra entries set. Built before the fork, so that the
 * child only execs (a sanitizer's threads may hold malloc's lock at the fork). */
static char **child_env(const char *const *extra)
{
    size_t n = 0, m = 0, k = 0;
    while (environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env) return NULL;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t len = strcspn(extra[j], "=");
            replaced = strncmp(environ[i], extra[j], len) == 0 && environ[i][len] == '=';
        }
        if (!replaced) env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)extra[j];
    return env;
}

/* In the child (async-signal-safe calls only): no signal blocked, its own group if asked, the
 * standard streams, the directory, the program. 126: the set-up failed, 127: the exec. */
static void exec_child(const struct tu_proc *p, const char *const argv[], char **env, int pipe_w)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (p->group) setpgid(0, 0);
    int fds[3] = {open(p->in ? p->in : "/dev/null", O_RDONLY),
                  pipe_w >= 0
                      ? pipe_w
                      : open(p->out ? p->out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644),
                  open(p->err ? p->err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    for (int i = 0; i < 3; i++)
        if (fds[i] < 0 || dup2(fds[i], i) < 0) _exit(126);
    for (int i = 0; i < 3; i++)
        if (fds[i] > 2) close(fds[i]);
    if (chdir(p->dir ? p->dir : GILSIM_SOURCE_DIR) != 0) _exit(126);
    execve(argv[0], (char *const *)argv, env);
    _exit(127);
}

bool tu_spawn(struct tu_proc *p, const char *const argv[])
{
    p->pid = 0;
    p->read_fd = -1;
    p->output = NULL;
    p->output_len = 0;
    p->took = 0;
    int pipe_fds[2] = {-1, -1};
    char **env = child_env(p->env);
    if (!env || (p->capture && pipe2(pipe_fds, O_CLOEXEC) != 0)) {
        free(env);
        CU_FAIL("cannot prepare a child process");
        return false;
    }
    pid_t pid = fork();
    if (pid == 0) exec_child(p, argv, env, pipe_fds[1]);
    free(env);
    if (pipe_fds[1] >= 0) close(pipe_fds[1]);
    if (pid < 0) {
        if (pipe_fds[0] >= 0) close(pipe_fds[0]);
        fprintf(stderr, "\ncannot start %s: %s\n", argv[0], strerror(errno));
        CU_FAIL("fork failed");
        return false;
    }
    if (p->group) setpgid(pid, pid); /* as the child does: a signal to the group right away works */
    p->pid = pid;
    p->read_fd = pipe_fds[0];
    return true;
}

bool tu_start(struct tu_proc *p, const char *bin, const char *args)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "exec '%s%s%s' %s", bin[0] == '/' ? "" : GILSIM_BINARY_DIR,
                     bin[0] == '/' ? "" : "/", bin, args);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        CU_FAIL("command too long");
        return false;
    }
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return tu_spawn(p, argv);
}

/* Appends what can be read from p->read_fd now to p->output; false at its end. */
static bool read_some(struct tu_proc *p)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(p->read_fd, chunk, sizeof chunk);
        if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR);
        char *grown = realloc(p->output, p->output_len + (size_t)n + 1);
        if (!grown) return false;
        p->output = grown;
        memcpy(p->output + p->output_len, chunk, (size_t)n);
        p->output_len += (size_t)n;
        p->output[p->output_len] = '\0';
    }
}

int tu_wait(struct tu_proc *p, double limit_s)
{
    double start = tu_now();
    int st = 0;
    pid_t w = 0;
    bool more = p->read_fd >= 0;
    if (more) fcntl(p->read_fd, F_SETFL, fcntl(p->read_fd, F_GETFL) | O_NONBLOCK);
    while ((w = waitpid(p->pid, &st, WNOHANG)) == 0 && tu_now() - start <= limit_s) {
        struct pollfd pfd = {.fd = p->read_fd, .events = POLLIN};
        poll(&pfd, more ? 1 : 0, 2); /* wakes at once for output, else every 2 ms */
        if (more) more = read_some(p);
    }
    p->took = tu_now() - start;
    if (w == 0) {
        fprintf(stderr, "\nprocess %d still running after %.1f s: killed\n", (int)p->pid, limit_s);
        kill(p->group ? -p->pid : p->pid, SIGKILL);
        waitpid(p->pid, &st, 0);
    }
    if (more) read_some(p); /* the rest: whatever it wrote before it ended */
    if (p->capture) {
        close(p->read_fd);
        p->read_fd = -1;
    }
    if (w != p->pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool tu_poll(bool (*ready)(void *ctx), void *ctx, double limit_s)
{
    double end = tu_now() + limit_s;
    while (!ready(ctx)) {
        if (tu_now() > end) return ready(ctx);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return true;
}

bool tu_proc_status(pid_t pid, const char *field, unsigned long long *value)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t len = strlen(field);
    bool hex = strncmp(field, "Sig", 3) == 0 || strncmp(field, "Shd", 3) == 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            *value = strtoull(line + len + 1, NULL, hex ? 16 : 10);
            found = true;
        }
    fclose(f);
    return found;
}

bool tu_proc_has_signal(pid_t pid, const char *field, int sig)
{
    unsigned long long mask = 0;
    return tu_proc_status(pid, field, &mask) && (mask >> (sig - 1) & 1);
}

bool tu_sigint_taken(void *pid)
{
    return !tu_proc_has_signal(*(pid_t *)pid, "ShdPnd", SIGINT);
}

/* The threads of a gilsim run besides the workload's: the main thread, the signal thread and,
 * under ThreadSanitizer, its background thread (started with the first pthread_create). */
#if defined(__SANITIZE_THREAD__)
#define RUNTIME_THREADS 3
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RUNTIME_THREADS 3
#endif
#endif
#ifndef RUNTIME_THREADS
#define RUNTIME_THREADS 2
#endif

struct run_started {
    pid_t pid;
    unsigned long long threads;
};

static bool run_started(void *ctx)
{
    const struct run_started *r = ctx;
    unsigned long long n = 0;
    return tu_proc_has_signal(r->pid, "SigBlk", SIGINT) && tu_proc_status(r->pid, "Threads", &n) &&
           n >= r->threads;
}

bool tu_wait_run_started(pid_t pid, unsigned workload_threads, double limit_s)
{
    struct run_started r = {pid, RUNTIME_THREADS + workload_threads};
    return tu_poll(run_started, &r, limit_s);
}

int tu_gilsim(const char *args, const char *out, const char *err)
{
    struct tu_proc p = {.out = out, .err = err};
    return tu_start(&p, "gilsim", args) ? tu_wait(&p, 300.0 * TU_SLACK) : -1;
}

char *tu_slurp(const char *path)
{
    enum { LIMIT = 1 << 20 };
    char *buf = malloc(LIMIT + 1);
    if (!buf) return NULL;
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        n = fread(buf, 1, LIMIT, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

bool tu_file_has(const char *path, const char *text)
{
    char *s = tu_slurp(path);
    bool ok = s && strstr(s, text) != NULL;
    if (!ok) fprintf(stderr, "\nexpected \"%s\" in %s:\n%s\n", text, path, s ? s : "");
    free(s);
    return ok;
}

int tu_each_expected(const char *rel, void (*each)(void *ctx, const struct tu_expect *c), void *ctx)
{
    FILE *f = fopen(tu_src(rel), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[1024];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        struct tu_expect c;
        c.file = strtok(line, "\t");
        c.line = strtok(NULL, "\t");
        c.fragment = strtok(NULL, "");
        CU_ASSERT_PTR_NOT_NULL_FATAL(c.fragment);
        each(ctx, &c);
        cases++;
    }
    fclose(f);
    return cases;
}

size_t tu_bfs_misgrants(const struct trace *t, int64_t interval_ns, int64_t tolerance_ns,
                        size_t *checked)
{
    long long vruntime[4] = {0}, since[4] = {0}, floor = 0;
    bool waiting[4] = {false};
    size_t acquires = 0, wrong = 0;
    *checked = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        int tid = ev->tid;
        if (tid > 3) continue;
        if (ev->ev == TRACE_EV_REQUEST) {
            waiting[tid] = true;
            if (vruntime[tid] < floor - interval_ns) vruntime[tid] = floor - interval_ns;
        } else if (ev->ev == TRACE_EV_ACQUIRE) {
            if (++acquires > 8) {
                long long least = vruntime[tid];
                for (int k = 0; k < 4; k++)
                    if (waiting[k] && vruntime[k] < least) least = vruntime[k];
                (*checked)++;
                wrong += vruntime[tid] > least + tolerance_ns;
            }
            waiting[tid] = false;
            since[tid] = ev->t;
            if (vruntime[tid] > floor) floor = vruntime[tid];
        } else if (ev->ev == TRACE_EV_RELEASE) {
            vruntime[tid] += ev->t - since[tid];
        }
    }
    return wrong;
}

size_t tu_out_of_request_order(const struct trace *t, size_t *acquires)
{
    int queue[64];
    size_t qn = 0, bad = 0;
    *acquires = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        const struct trace_event *ev = &t->events[i];
        if (ev->ev == TRACE_EV_REQUEST && qn < 64) {
            queue[qn++] = ev->tid;
        } else if (ev->ev == TRACE_EV_ACQUIRE) {
            (*acquires)++;
            bad += qn == 0 || queue[0] != ev->tid;
            for (size_t k = 0; k < qn; k++)
                if (queue[k] == ev->tid) {
                    memmove(&queue[k], &queue[k + 1], (qn - k - 1) * sizeof *queue);
                    qn--;
                    break;
                }
        }
    }
    return bad;
}

size_t tu_repeated_acquires(const struct trace *t, size_t *acquires)
{
    int prev = -1;
    size_t n = 0, repeats = 0;
    for (size_t i = 0; i < t->nevents; i++) {
        if (t->events[i].ev != TRACE_EV_ACQUIRE) continue;
        n++;
        repeats += t->events[i].tid == prev;
        prev = t->events[i].tid;
    }
    *acquires = n;
    return repeats;
}
