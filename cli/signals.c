/* cli/signals.c - SIGINT, SIGTERM and SIGHUP for commands that run long or write files (see
 * cli.h). SIGHUP (a closed terminal, a dropped ssh session) is a request to stop like SIGTERM:
 * its default action would lose the run and leave temporary files behind.
 *
 * The signals are blocked in every thread (threads created later inherit the mask) and taken
 * by one dedicated thread with sigwait, so no handler ever interrupts the engine, stdio or
 * malloc. The first signal calls the command's stop function (`run` stops its threads and
 * writes a partial trace); a second one, or the first when the command has no stop function,
 * removes the command's temporary output file and exits at once with 128 + the signal, after
 * ending the child process a command runs (compare's run in progress). */
#define _GNU_SOURCE /* syscall */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* the signals taken, with their names and the stop reasons they give */
static const struct {
    int signo;
    const char *name, *reason;
} taken[] = {
    {SIGINT, "SIGINT", "sigint"}, {SIGTERM, "SIGTERM", "sigterm"}, {SIGHUP, "SIGHUP", "sighup"}};
#define NTAKEN (sizeof taken / sizeof *taken)

static struct {
    pthread_t thread;
    bool started;
    sigset_t set;
    void (*on_signal)(void *ctx, int sig);
    void *ctx;
    pthread_mutex_t mutex;    /* guards tmp, on_signal and ctx */
    pthread_mutex_t creating; /* held while a temporary file exists that tmp does not name yet */
    pthread_mutex_t calling;  /* held while on_signal runs: replacing it waits for the call */
    char tmp[4096];
    _Atomic pid_t child; /* compare's run in progress: it ends before we do */
    _Atomic int first;
    _Atomic bool exiting; /* a hard exit is under way: it waits for `creating` */
} sig = {.mutex = PTHREAD_MUTEX_INITIALIZER,
         .creating = PTHREAD_MUTEX_INITIALIZER,
         .calling = PTHREAD_MUTEX_INITIALIZER};

/* The child hears the signal again (a second one: it removes its temporary file and exits at
 * once), is given a moment, then killed; reaped either way, so that nothing it would write
 * appears after we exit. */
static void end_child(int signo)
{
    pid_t child = atomic_load(&sig.child);
    if (child <= 0) return;
    kill(child, signo);
    for (int i = 0; i < 200; i++) { /* 2 s */
        pid_t w = waitpid(child, NULL, WNOHANG);
        if (w == child || (w < 0 && errno == ECHILD)) return;
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

static void hard_exit(int signo, bool again)
{
    atomic_store(&sig.exiting, true);
    end_child(signo);
    /* A file being created is named first, so that it is removed too (never unlocked: we exit). */
    pthread_mutex_lock(&sig.creating);
    pthread_mutex_lock(&sig.mutex);
    if (sig.tmp[0]) unlink(sig.tmp);
    static const char msg1[] = "gilsim: interrupted: exiting, no half-written file left\n";
    static const char msg2[] = "gilsim: interrupted again: exiting at once, nothing written\n";
    ssize_t w = again ? write(STDERR_FILENO, msg2, sizeof msg2 - 1)
                      : write(STDERR_FILENO, msg1, sizeof msg1 - 1);
    (void)w;
    /* exit_group itself, not _exit: the run's threads are left running on purpose, and a
     * sanitizer's _exit hook would report them as leaked threads and change the status. */
    syscall(SYS_exit_group, 128 + signo);
    _exit(128 + signo); /* not reached */
}

/* What ends the signal thread (cli_signals_stop): a signal of our own, sent to it by this
 * process, not pthread_cancel (which loads libgcc_s, and aborts when no descriptor is left). */
#define STOP_THREAD SIGRTMIN

/* At the stop: a signal that came before it, still pending (the stop is sent to this thread,
 * and a thread's own signals are taken before the process's), when the command has no stop
 * function: it is taken as if it had come a moment earlier, so a SIGTERM at the end of a
 * collect is never lost. 0 for none. A command with a stop function (run) has finished its
 * work: a late signal there changes nothing, as documented. */
static int late_signal(void)
{
    pthread_mutex_lock(&sig.mutex);
    bool exits = sig.on_signal == NULL;
    pthread_mutex_unlock(&sig.mutex);
    sigset_t set = sig.set;
    sigdelset(&set, STOP_THREAD);
    int signo = exits ? sigtimedwait(&set, NULL, &(struct timespec){0, 0}) : -1;
    return signo > 0 ? signo : 0;
}

static void *sig_main(void *arg)
{
    (void)arg;
    for (;;) {
        siginfo_t info;
        int signo = sigwaitinfo(&sig.set, &info);
        if (signo < 0) continue;
        if (signo == STOP_THREAD) {
            if (info.si_pid != getpid()) continue; /* not ours */
            signo = late_signal();
            if (!signo) return NULL;
        }
        int expected = 0;
        bool first = atomic_compare_exchange_strong(&sig.first, &expected, signo);
        pthread_mutex_lock(&sig.calling);
        pthread_mutex_lock(&sig.mutex);
        void (*on_signal)(void *, int) = sig.on_signal;
        void *ctx = sig.ctx;
        pthread_mutex_unlock(&sig.mutex);
        if (first && on_signal) {
            on_signal(ctx, signo); /* ctx stays valid: cli_signals_handle waits for this call */
            pthread_mutex_unlock(&sig.calling);
        } else {
            pthread_mutex_unlock(&sig.calling);
            hard_exit(signo, !first);
        }
    }
    return NULL;
}

int cli_signals_start(void (*on_signal)(void *ctx, int sig), void *ctx)
{
    sig.on_signal = on_signal;
    sig.ctx = ctx;
    sigemptyset(&sig.set);
    for (size_t i = 0; i < NTAKEN; i++)
        sigaddset(&sig.set, taken[i].signo);
    sigaddset(&sig.set, STOP_THREAD);
    int rc = pthread_sigmask(SIG_BLOCK, &sig.set, NULL);
    if (rc) return rc;
    pthread_attr_t attr;
    if ((rc = pthread_attr_init(&attr))) return rc;
    pthread_attr_setstacksize(&attr, 64u << 10);
    rc = pthread_create(&sig.thread, &attr, sig_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc) {
        pthread_sigmask(SIG_UNBLOCK, &sig.set, NULL);
        return rc;
    }
    sig.started = true;
    return 0;
}

void cli_signals_handle(void (*on_signal)(void *ctx, int sig), void *ctx)
{
    /* a stop function still running for the old ctx is waited for: its caller frees ctx next */
    pthread_mutex_lock(&sig.calling);
    pthread_mutex_lock(&sig.mutex);
    sig.on_signal = on_signal;
    sig.ctx = ctx;
    pthread_mutex_unlock(&sig.mutex);
    pthread_mutex_unlock(&sig.calling);
}

const char *cli_signal_name(int signo)
{
    for (size_t i = 0; i < NTAKEN; i++)
        if (taken[i].signo == signo) return taken[i].name;
    return "a signal";
}

const char *cli_signal_reason(int signo)
{
    for (size_t i = 0; i < NTAKEN; i++)
        if (taken[i].signo == signo) return taken[i].reason;
    return "signal";
}

int cli_signal_of_reason(const char *reason)
{
    for (size_t i = 0; i < NTAKEN; i++)
        if (strcmp(taken[i].reason, reason) == 0) return taken[i].signo;
    return 0;
}

void cli_signals_set_tmp(const char *path)
{
    pthread_mutex_lock(&sig.mutex);
    snprintf(sig.tmp, sizeof sig.tmp, "%s", path ? path : "");
    pthread_mutex_unlock(&sig.mutex);
}

void cli_signals_hold(void)
{
    pthread_mutex_lock(&sig.creating);
}

void cli_signals_release(void)
{
    pthread_mutex_unlock(&sig.creating);
    /* A signal that waited for what was being written ends the process now: the command
     * must not go on (print a table, exit with its own status) meanwhile. */
    while (atomic_load(&sig.exiting))
        pause(); /* the signals are blocked here: the signal thread's _exit ends this */
}

void cli_signals_set_child(pid_t pid)
{
    atomic_store(&sig.child, pid);
}

int cli_signals_received(void)
{
    return atomic_load(&sig.first);
}

void cli_signals_stop(void)
{
    if (!sig.started) return;
    /* The signals stay blocked: one arriving from here on is left pending until the process
     * exits. */
    pthread_kill(sig.thread, STOP_THREAD);
    pthread_join(sig.thread, NULL);
    sig.started = false;
}
