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
#include <stdatomic.h>
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
    const struct cmp_plan *p;
    unsigned cpus_per_run; /* 0: a real run runs alone */
    _Atomic int interrupt; /* SIGINT/SIGTERM taken: start no other run */
    struct slot *slots;
    unsigned nslots, running;
    bool real_alone; /* a real run is running and nothing may start beside it */
    size_t next, done, total;
    struct timespec t0;
};

static bool is_real(const struct cmp_run *r)
{
    return r->cell->engine == ENG_REAL;
}

/* First SIGINT/SIGTERM: every run in progress hears it (and leaves no trace), none starts. */
static void jobs_on_signal(void *ctx, int sig)
{
    struct jobs *j = ctx;
    atomic_store(&j->interrupt, sig);
    for (unsigned s = 0; s < j->nslots; s++)
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
        j->p->exe, "compare", "--run", j->p->dir, "--index", index, s->cpus[0] ? "--cpus" : NULL,
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
    j->real_alone |= is_real(&j->p->runs[i]) && !j->cpus_per_run;
    int pending = atomic_load(&j->interrupt); /* a signal before s->pid was set */
    if (pending) kill(pid, pending);
    return 0;
}

/* The next run not finished yet, or p->nruns. */
static size_t next_pending(const struct jobs *j, size_t from)
{
    while (from < j->p->nruns && cmp_run_done(j->p, from))
        from++;
    return from;
}

/* Starts what may start now: in plan order, while a slot is free. */
static int fill(struct jobs *j, struct err *e)
{
    for (unsigned s = 0; s < j->nslots && j->next < j->p->nruns; s++) {
        if (j->slots[s].pid || j->real_alone || atomic_load(&j->interrupt)) continue;
        const struct cmp_run *r = &j->p->runs[j->next];
        if (is_real(r) && !j->cpus_per_run && j->running) return 0; /* alone: wait */
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
        if (is_real(&j->p->runs[j->slots[s].run])) j->real_alone = false;
        j->done++;
    }
}

/* The slots: --jobs of them, each with its own cores when --cpus-per-run is given. */
static int make_slots(struct jobs *j, unsigned jobs, struct err *e)
{
    unsigned k = j->cpus_per_run;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    j->nslots = jobs ? jobs : 1;
    if (k && (long)(j->nslots * k) > ncpu)
        return err_set(e, ERR_INPUT, "--jobs %u --cpus-per-run %u: %u cores, this machine has %ld",
                       j->nslots, k, j->nslots * k, ncpu);
    j->slots = calloc(j->nslots, sizeof *j->slots);
    if (!j->slots) return err_set(e, ERR_RUNTIME, "out of memory");
    for (unsigned s = 0; s < j->nslots && k; s++)
        snprintf(j->slots[s].cpus, sizeof j->slots[s].cpus, "%u-%u", s * k, (s + 1) * k - 1);
    bool real = false;
    for (size_t i = 0; i < j->p->nruns; i++)
        real |= is_real(&j->p->runs[i]);
    if (real && j->nslots > 1 && !k)
        fprintf(stderr, "gilsim compare: real-engine runs run one at a time (they measure the "
                        "machine); --cpus-per-run K runs them side by side, K cores each\n");
    return 0;
}

int cmp_run_jobs(const struct cmp_plan *p, unsigned jobs, unsigned cpus_per_run, int *signal,
                 struct err *e)
{
    struct jobs j = {.p = p, .cpus_per_run = cpus_per_run};
    *signal = 0;
    clock_gettime(CLOCK_MONOTONIC, &j.t0);
    int rc = make_slots(&j, jobs, e);
    if (rc) return rc;
    j.next = next_pending(&j, 0);
    for (size_t i = j.next; i < p->nruns; i++)
        j.total += !cmp_run_done(p, i);
    if (j.total < p->nruns)
        fprintf(stderr, "gilsim compare: %zu of %zu runs finished already: skipped\n",
                p->nruns - j.total, p->nruns);
    if ((rc = cli_signals_start(jobs_on_signal, &j)) != 0) {
        free(j.slots);
        return err_set(e, ERR_RUNTIME, "cannot set up signal handling: %s", strerror(rc));
    }
    while (!rc && (j.running || (j.next < p->nruns && !atomic_load(&j.interrupt)))) {
        rc = fill(&j, e);
        progress(&j);
        if (j.running) reap(&j);
    }
    while (j.running) /* a start failed: let the others end */
        reap(&j);
    if (isatty(STDERR_FILENO)) fputs("\r\033[K", stderr);
    cli_signals_stop();
    *signal = atomic_load(&j.interrupt);
    free(j.slots);
    return rc;
}
