/* tools/c/baselines.c - see baselines.h. */
#define _GNU_SOURCE /* sched_setaffinity, ppoll, pipe2 */
#include "baselines.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t bl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double rank(const int64_t *sorted, int n, double q)
{
    int k = (int)ceil(q * n - 1e-9);
    if (k < 1) k = 1;
    return (double)sorted[(k > n ? n : k) - 1];
}

double bl_pct(int64_t *v, int n, double q)
{
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return rank(v, n, q);
}

struct bl_stats bl_stats_of(int64_t *v, int n)
{
    struct bl_stats s = {.n = n < 0 ? 0 : n};
    if (n <= 0) {
        s.min = s.p10 = s.p25 = s.p50 = s.p75 = s.p90 = s.p99 = s.max = NAN;
        return s;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    s.min = (double)v[0];
    s.p10 = rank(v, n, 0.10);
    s.p25 = rank(v, n, 0.25);
    s.p50 = rank(v, n, 0.50);
    s.p75 = rank(v, n, 0.75);
    s.p90 = rank(v, n, 0.90);
    s.p99 = rank(v, n, 0.99);
    s.max = (double)v[n - 1];
    return s;
}

int bl_pin(int cpu)
{
    if (cpu < 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
}

/* ---- the spinner ---------------------------------------------------------------------------- */

static void *spin_main(void *arg)
{
    struct bl_spinner *s = arg;
    bl_pin(s->cpu);
    volatile uint64_t x = 1;
    while (atomic_load_explicit(&s->on, memory_order_relaxed))
        x = x * 6364136223846793005u + 1442695040888963407u;
    return NULL;
}

void bl_spin_start(struct bl_spinner *s, int cpu)
{
    s->cpu = cpu;
    atomic_store(&s->on, true);
    s->started = pthread_create(&s->thread, NULL, spin_main, s) == 0;
}

void bl_spin_stop(struct bl_spinner *s)
{
    atomic_store(&s->on, false);
    if (s->started) pthread_join(s->thread, NULL);
    s->started = false;
}

/* ---- condition ping-pong -------------------------------------------------------------------- */

struct pingpong {
    pthread_mutex_t m;
    pthread_cond_t c[2];
    int turn, cpu[2];
    int64_t sent;
    int64_t *one_way, *cost;
    int n, want;
};

static void pingpong_side(struct pingpong *p, int me)
{
    pthread_mutex_lock(&p->m);
    for (;;) {
        while (p->turn != me && p->n < p->want)
            pthread_cond_wait(&p->c[me], &p->m);
        if (p->n >= p->want) break;
        if (p->sent) p->one_way[p->n++] = bl_now_ns() - p->sent;
        if (p->n >= p->want) break;
        p->turn = !me;
        p->sent = bl_now_ns();
        pthread_cond_signal(&p->c[!me]);
        /* the sample the other side takes next is p->n; the mutex is still held */
        if (p->cost) p->cost[p->n] = bl_now_ns() - p->sent;
    }
    pthread_cond_signal(&p->c[!me]);
    pthread_mutex_unlock(&p->m);
}

static void *pingpong_other(void *arg)
{
    struct pingpong *p = arg;
    bl_pin(p->cpu[1]);
    pingpong_side(p, 1);
    return NULL;
}

int bl_pingpong(int want, int cpu0, int cpu1, int64_t *one_way, int64_t *signal_cost)
{
    struct pingpong p = {
        .want = want, .cpu = {cpu0, cpu1}, .one_way = one_way, .cost = signal_cost};
    pthread_mutex_init(&p.m, NULL);
    pthread_cond_init(&p.c[0], NULL);
    pthread_cond_init(&p.c[1], NULL);
    cpu_set_t saved;
    bool restore = sched_getaffinity(0, sizeof saved, &saved) == 0;
    pthread_t other;
    int rc = pthread_create(&other, NULL, pingpong_other, &p);
    if (rc == 0) {
        bl_pin(cpu0);
        pingpong_side(&p, 0);
        pthread_join(other, NULL);
    }
    if (restore) sched_setaffinity(0, sizeof saved, &saved);
    pthread_cond_destroy(&p.c[0]);
    pthread_cond_destroy(&p.c[1]);
    pthread_mutex_destroy(&p.m);
    return rc || p.n < want ? -1 : 0;
}

/* ---- timed-wait overshoot ------------------------------------------------------------------- */

struct waiter {
    enum bl_wait kind;
    pthread_mutex_t m;
    pthread_cond_t c;
    int pipe[2];
};

static int waiter_open(struct waiter *w, enum bl_wait kind)
{
    memset(w, 0, sizeof *w);
    w->kind = kind;
    w->pipe[0] = w->pipe[1] = -1;
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&w->c, &a);
    pthread_condattr_destroy(&a);
    pthread_mutex_init(&w->m, NULL);
    return kind == BL_WAIT_PPOLL ? pipe2(w->pipe, O_CLOEXEC) : 0;
}

static void waiter_close(struct waiter *w)
{
    pthread_cond_destroy(&w->c);
    pthread_mutex_destroy(&w->m);
    if (w->pipe[0] >= 0) close(w->pipe[0]);
    if (w->pipe[1] >= 0) close(w->pipe[1]);
}

static struct timespec ts_of(int64_t ns)
{
    return (struct timespec){.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
}

/* Waits until deadline (or, for the relative kinds, for wait_ns from now); how late it woke. */
static int64_t wait_once(struct waiter *w, int64_t wait_ns)
{
    int64_t deadline = bl_now_ns() + wait_ns;
    struct timespec abs = ts_of(deadline), rel = ts_of(wait_ns);
    struct pollfd pfd = {.fd = w->pipe[0], .events = POLLIN};
    switch (w->kind) {
    case BL_WAIT_COND:
        pthread_mutex_lock(&w->m);
        while (pthread_cond_timedwait(&w->c, &w->m, &abs) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&w->m);
        break;
    case BL_WAIT_PPOLL:
        while (ppoll(&pfd, 1, &rel, NULL) < 0 && errno == EINTR) {
        }
        break;
    case BL_WAIT_NANOSLEEP:
        while (nanosleep(&rel, &rel) != 0 && errno == EINTR) {
        }
        break;
    }
    return bl_now_ns() - deadline;
}

int bl_timed_overshoot(enum bl_wait kind, int64_t wait_ns, int count, int wait_cpu, int spin_cpu,
                       int64_t *late)
{
    struct waiter w;
    if (waiter_open(&w, kind) != 0) {
        waiter_close(&w);
        return -1;
    }
    cpu_set_t saved;
    bool restore = sched_getaffinity(0, sizeof saved, &saved) == 0;
    struct bl_spinner spin;
    bl_spin_start(&spin, spin_cpu);
    bl_pin(wait_cpu);
    for (int i = 0; i < count; i++)
        late[i] = wait_once(&w, wait_ns);
    bl_spin_stop(&spin);
    if (restore) sched_setaffinity(0, sizeof saved, &saved);
    waiter_close(&w);
    return 0;
}
