/* cli/compare_jobs.c - running a plan on this machine, the same way a cluster runs it: every
 * run not finished yet is a child `gilsim compare --run DIR --index I`, in plan order, up to
 * --jobs at once.
 *
 * Virtual-engine runs are computations: any number run side by side. Real-engine runs
 * (`gilsim run --engine real`, tools/pyrun) measure the machine, so two of them on shared cores
 * would measure each other: with --cpus-per-run K every run gets K cores of its own (a slot,
 * pinned with sched_setaffinity by the child) that no other run of the sweep uses; without it
 * a real run runs alone, nothing beside it. */
#define _GNU_SOURCE /* environ */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/compare.h"

extern char **environ;

struct slot {
    _Atomic pid_t pid; /* 0: free; read by the signal thread */
    size_t run;        /* the run it holds */
    char cpus[32];
};

struct jobs {
    struct compare *c;
    struct slot *slots;
    unsigned nslots, running;
    bool real_alone; /* a real run is running and nothing may start beside it */
    size_t next, done, total;
    struct timespec t0;
};

static _Atomic(struct jobs *) active;

static bool is_real(const struct run *r)
{
    return r->cfg->engine == ENG_REAL;
}

/* First SIGINT/SIGTERM: every run in progress hears it (and leaves no trace), none starts. */
static void jobs_on_signal(void *ctx, int sig)
{
    struct compare *c = ctx;
    atomic_store(&c->interrupt, sig);
    struct jobs *j = atomic_load(&active);
    for (unsigned s = 0; j && s < j->nslots; s++)
        if (j->slots[s].pid > 0) kill(j->slots[s].pid, sig);
    fprintf(stderr,
            "\ngilsim compare: %s: stopping the runs in progress (they leave no trace), then "
            "collecting what finished (again to quit at once)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
}

static double elapsed_s(const struct jobs *j)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - j->t0.tv_sec) + (double)(now.tv_nsec - j->t0.tv_nsec) / 1e9;
}

/* "[123/2000] 0:41 elapsed, ~10:20 left, 2 running" on a terminal. */
static void progress(const struct jobs *j)
{
    if (!isatty(STDERR_FILENO)) return;
    double t = elapsed_s(j),
           left = j->done ? t / (double)j->done * (double)(j->total - j->done) : 0;
    fprintf(stderr, "\r\033[K[%zu/%zu] %d:%02d elapsed", j->done, j->total, (int)t / 60,
            (int)t % 60);
    if (j->done) fprintf(stderr, ", ~%d:%02d left", (int)left / 60, (int)left % 60);
    fprintf(stderr, ", %u running", j->running);
}

static int start(struct jobs *j, struct slot *s, size_t i, struct err *e)
{
    char index[32];
    snprintf(index, sizeof index, "%zu", i);
    const char *argv[] = {
        j->c->exe, "compare", "--run", j->c->dir, "--index", index, s->cpus[0] ? "--cpus" : NULL,
        s->cpus,   NULL};
    sigset_t none;
    sigemptyset(&none);
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(127);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(argv[0], (char *const *)argv, environ);
        _exit(127);
    }
    if (pid < 0) return err_set(e, ERR_RUNTIME, "cannot start a run: %s", strerror(errno));
    s->pid = pid;
    s->run = i;
    j->running++;
    j->real_alone |= is_real(&j->c->runs[i]) && !j->c->cpus_per_run;
    int pending = atomic_load(&j->c->interrupt); /* a signal before s->pid was set */
    if (pending) kill(pid, pending);
    return 0;
}

/* The next run not finished yet, or c->nruns. */
static size_t next_pending(const struct jobs *j, size_t from)
{
    while (from < j->c->nruns && compare_run_done(j->c, from))
        from++;
    return from;
}

/* Starts what may start now: in plan order, while a slot is free. */
static int fill(struct jobs *j, struct err *e)
{
    for (unsigned s = 0; s < j->nslots && j->next < j->c->nruns; s++) {
        if (j->slots[s].pid || j->real_alone || atomic_load(&j->c->interrupt)) continue;
        const struct run *r = &j->c->runs[j->next];
        if (is_real(r) && !j->c->cpus_per_run && j->running) return 0; /* alone: wait */
        int rc = start(j, &j->slots[s], j->next, e);
        if (rc) return rc;
        j->next = next_pending(j, j->next + 1);
    }
    return 0;
}

/* Waits for one child to end and frees its slot. */
static void reap(struct jobs *j)
{
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) return;
    for (unsigned s = 0; s < j->nslots; s++) {
        if (j->slots[s].pid != pid) continue;
        j->slots[s].pid = 0;
        j->running--;
        if (is_real(&j->c->runs[j->slots[s].run])) j->real_alone = false;
        j->done++;
    }
}

/* The slots: --jobs of them, each with its own cores when --cpus-per-run is given. */
static int make_slots(struct jobs *j, struct err *e)
{
    struct compare *c = j->c;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    j->nslots = c->jobs ? c->jobs : 1;
    if (c->cpus_per_run && (long)(j->nslots * c->cpus_per_run) > ncpu)
        return err_set(e, ERR_INPUT, "--jobs %u --cpus-per-run %u: %u cores, this machine has %ld",
                       j->nslots, c->cpus_per_run, j->nslots * c->cpus_per_run, ncpu);
    j->slots = calloc(j->nslots, sizeof *j->slots);
    if (!j->slots) return err_set(e, ERR_RUNTIME, "out of memory");
    for (unsigned s = 0; s < j->nslots && c->cpus_per_run; s++)
        snprintf(j->slots[s].cpus, sizeof j->slots[s].cpus, "%u-%u", s * c->cpus_per_run,
                 (s + 1) * c->cpus_per_run - 1);
    bool real = false;
    for (size_t i = 0; i < c->nruns; i++)
        real |= is_real(&c->runs[i]);
    if (real && j->nslots > 1 && !c->cpus_per_run)
        fprintf(stderr, "gilsim compare: real-engine runs run one at a time (they measure the "
                        "machine); --cpus-per-run K runs them side by side, K cores each\n");
    return 0;
}

int compare_run_jobs(struct compare *c, struct err *e)
{
    struct jobs j = {.c = c};
    clock_gettime(CLOCK_MONOTONIC, &j.t0);
    int rc = make_slots(&j, e);
    if (rc) return rc;
    j.next = next_pending(&j, 0);
    for (size_t i = j.next; i < c->nruns; i++)
        j.total += !compare_run_done(c, i);
    if (j.total < c->nruns)
        fprintf(stderr, "gilsim compare: %zu of %zu runs finished already: skipped\n",
                c->nruns - j.total, c->nruns);
    atomic_store(&active, &j);
    if ((rc = cli_signals_start(jobs_on_signal, c)) != 0) {
        atomic_store(&active, NULL);
        free(j.slots);
        return err_set(e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(rc));
    }
    while (!rc && (j.running || (j.next < c->nruns && !atomic_load(&c->interrupt)))) {
        rc = fill(&j, e);
        progress(&j);
        if (j.running) reap(&j);
    }
    while (j.running) /* a start failed: let the others end */
        reap(&j);
    if (isatty(STDERR_FILENO)) fputs("\r\033[K", stderr);
    cli_signals_stop();
    atomic_store(&active, NULL);
    free(j.slots);
    return rc;
}
