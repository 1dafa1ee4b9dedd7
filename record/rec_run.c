/* record/rec_run.c - the session directory and the recorded command: started as a child with
 * the preload library and the session in its environment, signals passed on, waited for. See
 * record.h. */
#define _GNU_SOURCE
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

#include "common/utc.h"
#include "record/record.h"

extern char **environ;

struct rec_session {
    char dir[4096];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int rec_session_open(struct rec_session **out, struct err *e)
{
    *out = NULL;
    struct rec_session *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, ERR_RUNTIME, "out of memory");
    const char *tmp = getenv("TMPDIR");
    const char *bases[] = {"/dev/shm", tmp && *tmp ? tmp : "/tmp", "/tmp"};
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        snprintf(s->dir, sizeof s->dir, "%s/gilsim-record.XXXXXX", bases[i]);
        if (mkdtemp(s->dir)) {
            *out = s;
            return 0;
        }
    }
    int err = errno;
    free(s);
    return err_set(e, ERR_RUNTIME,
                   "cannot make a session directory in /dev/shm, $TMPDIR or /tmp: %s",
                   strerror(err));
}

const char *rec_session_dir(const struct rec_session *s)
{
    return s->dir;
}

void rec_session_close(struct rec_session *s)
{
    if (!s) return;
    DIR *d = opendir(s->dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(s->dir);
    free(s);
}

/* ---- the child's environment ---------------------------------------------------------------- */

/* "NAME=value" in a new string, or "NAME=first<sep>old" when prepending to an old value. */
static char *env_entry(const char *name, const char *first, const char *sep)
{
    const char *old = sep ? getenv(name) : NULL;
    size_t n = strlen(name) + strlen(first) + (old ? strlen(sep) + strlen(old) : 0) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s=%s%s%s", name, first, old ? sep : "", old ? old : "");
    return s;
}

static bool env_replaced(const char *entry, char *const *ours, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(ours[i], "=") + 1;
        if (strncmp(entry, ours[i], len) == 0) return true;
    }
    return false;
}

/* The environment: ours first, then the rest of gilsim's. NULL when out of memory. */
static char **child_env(const struct rec_session *s, const struct rec_options *o, char **ours,
                        size_t *nours)
{
    char max[32];
    snprintf(max, sizeof max, "%llu", (unsigned long long)o->max_events);
    size_t n = 0;
    ours[n++] = env_entry("LD_PRELOAD", o->lib, ":");
    ours[n++] = env_entry(REC_ENV_DIR, s->dir, NULL);
    ours[n++] = env_entry(REC_ENV_LIB, o->lib, NULL);
    ours[n++] = env_entry(REC_ENV_MAX_EVENTS, max, NULL);
    if (o->names_dir) {
        ours[n++] = env_entry(REC_ENV_NAMES, o->names_dir, NULL);
        ours[n++] = env_entry("PYTHONPATH", o->names_dir, ":");
    }
    *nours = n;
    size_t total = 0;
    while (environ[total])
        total++;
    char **env = calloc(n + total + 1, sizeof *env);
    bool ok = env != NULL;
    for (size_t i = 0; i < n; i++)
        ok = ok && ours[i];
    if (!ok) {
        free(env);
        return NULL;
    }
    memcpy(env, ours, n * sizeof *env);
    size_t k = n;
    for (size_t i = 0; i < total; i++)
        if (!env_replaced(environ[i], ours, n)) env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

/* ---- running ------------------------------------------------------------------------------- */

static const int passed_on[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* The child: the signal mask gilsim had, then the command. A failed exec reports its errno
 * through the pipe (closed on a successful exec). */
static void child_exec(const struct rec_options *o, char **env, const sigset_t *old, int report)
{
    sigprocmask(SIG_SETMASK, old, NULL);
    execvpe(o->argv[0], o->argv, env);
    int err = errno;
    ssize_t w = write(report, &err, sizeof err);
    (void)w;
    _exit(127);
}

/* One signal taken while the child runs. A signal from the terminal (si_code SI_KERNEL) went to
 * the whole process group, the child included: not sent twice. */
static void on_signal(pid_t pid, const siginfo_t *si, struct rec_child *c)
{
    int sig = si->si_signo;
    if (sig == SIGINT || sig == SIGTERM) {
        if (!c->stop_signal) c->stop_signal = sig;
        c->interrupts++;
    }
    if (c->interrupts >= 3)
        kill(pid, SIGKILL);
    else if (si->si_code != SI_KERNEL)
        kill(pid, sig);
}

static void wait_child(pid_t pid, const sigset_t *set, struct rec_child *c)
{
    for (;;) {
        pid_t w = waitpid(pid, &c->status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) return;
        siginfo_t si;
        struct timespec poll = {0, 100000000}; /* a lost SIGCHLD costs at most this */
        int sig = sigtimedwait(set, &si, &poll);
        if (sig > 0 && sig != SIGCHLD) on_signal(pid, &si, c);
    }
}

static int start_child(struct rec_session *s, const struct rec_options *o, const sigset_t *old,
                       pid_t *pid, struct err *e)
{
    char *ours[8] = {0};
    size_t nours = 0;
    char **env = child_env(s, o, ours, &nours);
    int pipefd[2] = {-1, -1};
    int rc = 0;
    if (!env || pipe2(pipefd, O_CLOEXEC) != 0) {
        rc = err_set(e, ERR_RUNTIME, "cannot start %s: %s", o->argv[0],
                     env ? strerror(errno) : "out of memory");
        goto done;
    }
    *pid = fork();
    if (*pid == 0) child_exec(o, env, old, pipefd[1]);
    int err = errno;
    close(pipefd[1]);
    if (*pid < 0) {
        rc = err_set(e, ERR_RUNTIME, "cannot start %s: fork: %s", o->argv[0], strerror(err));
        goto done;
    }
    ssize_t n = read(pipefd[0], &err, sizeof err);
    if (n == (ssize_t)sizeof err) {
        waitpid(*pid, NULL, 0);
        rc = err_set(e, ERR_INPUT, "cannot run %s: %s", o->argv[0], strerror(err));
    }
done:
    if (pipefd[0] >= 0) close(pipefd[0]);
    for (size_t i = 0; i < nours; i++)
        free(ours[i]);
    free(env);
    return rc;
}

int rec_run(struct rec_session *s, const struct rec_options *o, struct rec_child *c, struct err *e)
{
    memset(c, 0, sizeof *c);
    sigset_t set, old;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof passed_on / sizeof *passed_on; i++)
        sigaddset(&set, passed_on[i]);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, &old) != 0)
        return err_set(e, ERR_RUNTIME, "cannot block signals: %s", strerror(errno));
    utc_stamp(c->start_utc, sizeof c->start_utc, UTC_EXTENDED, 6);
    c->t0_ns = now_ns();
    pid_t pid = -1;
    int rc = start_child(s, o, &old, &pid, e);
    if (rc == 0) {
        if (o->on_child) o->on_child(o->ctx, pid);
        wait_child(pid, &set, c);
        c->end_ns = now_ns();
        if (o->on_child) o->on_child(o->ctx, 0);
    } else {
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    return rc;
}

int rec_exit_status(const struct rec_child *c)
{
    if (WIFEXITED(c->status)) return WEXITSTATUS(c->status);
    if (WIFSIGNALED(c->status)) return 128 + WTERMSIG(c->status);
    return 1;
}
