/* tools/c/calibrate_measure.c - see calibrate_measure.h. */
#define _GNU_SOURCE /* prctl, sched_setaffinity */
#include "calibrate_measure.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "baselines.h"

int cal_samples_init(struct cal_samples *s, int cap)
{
    s->n = 0;
    s->cap = cap;
    s->v = calloc((size_t)(cap > 0 ? cap : 1), sizeof *s->v);
    return s->v ? 0 : -1;
}

void cal_samples_free(struct cal_samples *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void cal_add(struct cal_samples *s, int64_t v)
{
    if (s->n < s->cap) s->v[s->n++] = v;
}

static void spin_until(int64_t t)
{
    while (bl_now_ns() < t) {
    }
}

/* A small xorshift generator: the gap order and the sleeps are not worth libc's rand state. */
static uint32_t next_rand(uint32_t *s)
{
    uint32_t x = *s ? *s : 2463534242u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* ---- clock reads ---------------------------------------------------------------------------- */

int cal_clock_read(int batches, int calls, struct cal_samples *out)
{
    struct timespec ts;
    for (int b = 0; b < batches; b++) {
        int64_t t0 = bl_now_ns();
        for (int i = 0; i < calls; i++)
            clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t t1 = bl_now_ns();
        /* The loop's clock reads plus one of the two stamps: calls + 1 reads. */
        cal_add(out, (t1 - t0) * 1000 / (calls + 1));
    }
    return 0;
}

int cal_lock_unlock(int batches, int pairs, struct cal_samples *out)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    for (int b = 0; b < batches; b++) {
        int64_t t0 = bl_now_ns();
        for (int i = 0; i < pairs; i++) {
            pthread_mutex_lock(&m);
            __asm__ volatile("" ::: "memory");
            pthread_mutex_unlock(&m);
        }
        int64_t t1 = bl_now_ns();
        cal_add(out, (t1 - t0) * 1000 / (2 * pairs));
    }
    return 0;
}

int cal_socket_call(int batches, int pairs, struct cal_samples *out)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
    char c = 'x';
    int rc = 0;
    for (int b = 0; b < batches && !rc; b++) {
        int64_t t0 = bl_now_ns();
        for (int i = 0; i < pairs && !rc; i++)
            if (write(sv[0], &c, 1) != 1 || read(sv[1], &c, 1) != 1) rc = -1;
        int64_t t1 = bl_now_ns();
        cal_add(out, (t1 - t0) * 1000 / (2 * pairs));
    }
    close(sv[0]);
    close(sv[1]);
    return rc;
}

/* ---- the idle-gap sweep --------------------------------------------------------------------- */

struct gapper {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool go, quit; /* under m */
    atomic_int ready, done;
    atomic_llong woke;
    int cpu;
};

static void *sleeper_main(void *arg)
{
    struct gapper *g = arg;
    bl_pin(g->cpu);
    pthread_mutex_lock(&g->m);
    for (;;) {
        atomic_store(&g->ready, 1);
        while (!g->go && !g->quit)
            pthread_cond_wait(&g->c, &g->m);
        if (g->quit) break;
        int64_t t = bl_now_ns();
        g->go = false;
        atomic_store(&g->woke, t);
        atomic_store(&g->done, 1);
    }
    pthread_mutex_unlock(&g->m);
    return NULL;
}

/* One wake-up after the sleeper's core idled for gap_ns; the waker spins all along. */
static void one_wake(struct gapper *g, int64_t gap_ns, int64_t *lat, int64_t *cost)
{
    while (!atomic_load(&g->ready)) {
    }
    atomic_store(&g->ready, 0);
    spin_until(bl_now_ns() + gap_ns);
    pthread_mutex_lock(&g->m);
    g->go = true;
    pthread_mutex_unlock(&g->m);
    int64_t t0 = bl_now_ns();
    pthread_cond_signal(&g->c);
    int64_t t1 = bl_now_ns();
    while (!atomic_load(&g->done)) {
    }
    atomic_store(&g->done, 0);
    *lat = atomic_load(&g->woke) - t0;
    *cost = t1 - t0;
}

static void shuffle(int *order, int n, uint32_t *rs)
{
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(next_rand(rs) % (uint32_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

#define GAP_SETTLE 3 /* unrecorded wake-ups at the start of each block */

int cal_gap_sweep(struct cal_gap *gaps, int ngaps, int passes, int waker_cpu, int sleeper_cpu,
                  unsigned seed)
{
    struct gapper g = {.cpu = sleeper_cpu};
    pthread_mutex_init(&g.m, NULL);
    pthread_cond_init(&g.c, NULL);
    int *order = calloc((size_t)ngaps, sizeof *order);
    pthread_t sleeper;
    if (!order || pthread_create(&sleeper, NULL, sleeper_main, &g) != 0) {
        free(order);
        return -1;
    }
    bl_pin(waker_cpu);
    uint32_t rs = seed;
    for (int p = 0; p < passes; p++) {
        shuffle(order, ngaps, &rs);
        for (int k = 0; k < ngaps; k++) {
            struct cal_gap *gp = &gaps[order[k]];
            for (int i = -GAP_SETTLE; i < gp->per_pass; i++) {
                int64_t lat, cost;
                one_wake(&g, gp->gap_ns, &lat, &cost);
                if (i < 0) continue;
                cal_add(&gp->lat, lat);
                cal_add(&gp->cost, cost);
            }
        }
    }
    while (!atomic_load(&g.ready)) {
    }
    pthread_mutex_lock(&g.m);
    g.quit = true;
    pthread_cond_signal(&g.c);
    pthread_mutex_unlock(&g.m);
    pthread_join(sleeper, NULL);
    pthread_cond_destroy(&g.c);
    pthread_mutex_destroy(&g.m);
    free(order);
    return 0;
}

/* ---- CPU hogs ------------------------------------------------------------------------------- */

struct hog {
    atomic_bool *on;
    int cpu;
    atomic_llong run_start; /* when its current run began (for the wake-up experiment) */
    struct cal_samples *runs, *breaks, *blips;
    pthread_mutex_t *record; /* the two hogs share the sample arrays */
};

static void hog_note(struct hog *h, struct cal_samples *s, int64_t v)
{
    if (!s) return;
    pthread_mutex_lock(h->record);
    cal_add(s, v);
    pthread_mutex_unlock(h->record);
}

static void *hog_main(void *arg)
{
    struct hog *h = arg;
    bl_pin(h->cpu);
    int64_t last = bl_now_ns(), start = last;
    bool first = true;
    atomic_store(&h->run_start, start);
    while (atomic_load_explicit(h->on, memory_order_relaxed)) {
        int64_t t = bl_now_ns(), d = t - last;
        if (d > CAL_RUN_BREAK_NS) {
            if (!first) hog_note(h, h->runs, last - start);
            hog_note(h, h->breaks, last);
            first = false;
            start = t;
            atomic_store_explicit(&h->run_start, start, memory_order_relaxed);
        } else if (d > CAL_BLIP_NS) {
            hog_note(h, h->blips, last);
        }
        last = t;
    }
    return NULL;
}

int cal_two_hogs(int cpu, int64_t duration_ns, struct cal_hogs *out)
{
    atomic_bool on = true;
    pthread_mutex_t record = PTHREAD_MUTEX_INITIALIZER;
    struct hog h[2];
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++) {
        h[i] = (struct hog){.on = &on,
                            .cpu = cpu,
                            .runs = &out->runs,
                            .breaks = &out->breaks,
                            .blips = &out->blips,
                            .record = &record};
        if (pthread_create(&th[i], NULL, hog_main, &h[i]) == 0) started++;
    }
    struct timespec d = {.tv_sec = duration_ns / 1000000000, .tv_nsec = duration_ns % 1000000000};
    if (started == 2)
        while (nanosleep(&d, &d) != 0 && errno == EINTR) {
        }
    atomic_store(&on, false);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&record);
    return started == 2 ? 0 : -1;
}

/* ---- a wake-up onto a busy CPU -------------------------------------------------------------- */

static void sleep_until(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* How long the caller keeps the CPU from t on: until a pause of more than CAL_RUN_BREAK_NS
 * (someone else ran) or `most` has passed. */
static int64_t run_until_preempted(int64_t t, int64_t most)
{
    int64_t last = t;
    for (;;) {
        int64_t x = bl_now_ns();
        if (x - last > CAL_RUN_BREAK_NS || x - t > most) return last - t;
        last = x;
    }
}

/* One sleep and wake-up beside the hog. */
static void wake_once(struct hog *h, uint32_t *rs, bool spin_on, struct cal_preempt *out)
{
    double u = (double)next_rand(rs) / 4294967296.0;
    /* log-uniform 20 us .. 8 ms; or uniform 1 .. 5 ms, a random phase against the tick */
    int64_t sleep_ns = spin_on ? 1000000 + (int64_t)(u * 4e6) : (int64_t)(20000.0 * pow(400, u));
    int64_t deadline = bl_now_ns() + sleep_ns;
    sleep_until(deadline);
    int64_t t = bl_now_ns(), began = atomic_load_explicit(&h->run_start, memory_order_relaxed);
    if (began >= deadline) began = deadline; /* the hog had not run since (another task had) */
    cal_add(&out->ran, deadline - began);
    cal_add(&out->lat, t - deadline);
    if (spin_on)
        cal_add(&out->run, run_until_preempted(t, 50000000));
    else
        spin_until(t + 100000);
}

int cal_wake_onto_hog(int cpu, int64_t duration_ns, unsigned seed, bool spin_on,
                      struct cal_preempt *out)
{
    atomic_bool on = true;
    pthread_mutex_t record = PTHREAD_MUTEX_INITIALIZER;
    struct hog h = {.on = &on, .cpu = cpu, .record = &record};
    pthread_t th;
    if (pthread_create(&th, NULL, hog_main, &h) != 0) return -1;
    cpu_set_t saved;
    bool restore = sched_getaffinity(0, sizeof saved, &saved) == 0;
    bl_pin(cpu);
    /* The deadline is what is measured: no slack on this thread's timers. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    uint32_t rs = seed;
    int64_t end = bl_now_ns() + duration_ns;
    spin_until(bl_now_ns() + 200000); /* let the hog start */
    while (bl_now_ns() < end)
        wake_once(&h, &rs, spin_on, out);
    prctl(PR_SET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL);
    atomic_store(&on, false);
    pthread_join(th, NULL);
    if (restore) sched_setaffinity(0, sizeof saved, &saved);
    pthread_mutex_destroy(&record);
    return 0;
}
