/* sim/engine_real.c - the real engine: one pthread per workload thread, interpreter ticks as
 * calibrated busy work, waits in ppoll on a stop pipe, and the main thread as deadline keeper
 * and watchdog. The hot path is tick_loop: one tick of busy work, then one relaxed load of the
 * GIL's pending word; no lock, no syscall, no allocation. */
#define _GNU_SOURCE /* ppoll, pipe2, pthread_condattr_setclock */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/utc.h"
#include "engine_internal.h"

#define THREAD_STACK_BYTES (256u << 10)

/* Longest stretch of real busy work between two progress marks: the watchdog sees a long cpu
 * or hold op advance, at the cost of one loop turn per 5 ms. */
#define CHUNK_NS 5000000

struct real_state {
    int stop_pipe[2];
    struct real_peers *peers;    /* NULL: none started */
    struct real_thread *threads; /* one per workload thread (sim_thread.be_thread) */
};

static struct real_thread *real_thread_of(const struct sim_thread *t)
{
    return t->be_thread;
}

/* ---- ticks ------------------------------------------------------------------------------- */

/* One tick: a chain of dependent multiply-adds, `iters` long. */
static inline uint64_t tick_work(uint64_t x, unsigned iters)
{
    for (unsigned i = 0; i < iters; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        __asm__ volatile("" : "+r"(x));
    }
    return x;
}

/* Interpreter work: up to n ticks with a check point after each; stops early when the pending
 * word is set. Returns the ticks done. This is the hot path: one relaxed load per tick. */
static inline uint64_t tick_loop(uint64_t *x, unsigned iters, uint64_t n, _Atomic uint32_t *pending)
{
    uint64_t done = 0, v = *x;
    while (done < n) {
        v = tick_work(v, iters);
        done++;
        if (atomic_load_explicit(pending, memory_order_relaxed)) break;
    }
    *x = v;
    return done;
}

uint64_t eng_bare_ticks(unsigned iters_per_tick, uint64_t n)
{
    uint64_t x = n + 1;
    for (uint64_t i = 0; i < n; i++)
        x = tick_work(x, iters_per_tick);
    return x;
}

static double measure_ns_per_tick(unsigned iters, uint64_t n)
{
    _Atomic uint32_t never = 0;
    uint64_t x = 1;
    int64_t t = sync_now_ns();
    tick_loop(&x, iters, n, &never);
    t = sync_now_ns() - t;
    volatile uint64_t sink = x;
    (void)sink;
    return (double)t / (double)n;
}

/* The same on this thread's CPU clock: what a tick costs, whatever else shares the core. */
static double cpu_ns_per_tick(unsigned iters, uint64_t n)
{
    _Atomic uint32_t never = 0;
    uint64_t x = 1;
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    tick_loop(&x, iters, n, &never);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    volatile uint64_t sink = x;
    (void)sink;
    return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double calibrate(unsigned target_ns, unsigned *iters_out)
{
    unsigned iters = 8;
    for (int round = 0; round < 6; round++) {
        double m = measure_ns_per_tick(iters, 5000000 / target_ns);
        double next = (double)iters * target_ns / (m > 0 ? m : 1);
        iters = next < 1 ? 1 : next > 1e7 ? 10000000u : (unsigned)lround(next);
    }
    double samples[7];
    for (int i = 0; i < 7; i++)
        samples[i] = measure_ns_per_tick(iters, 5000000 / target_ns);
    qsort(samples, 7, sizeof *samples, cmp_double);
    *iters_out = iters;
    return samples[3];
}

/* After the run: the tick's CPU cost with the run's iterations, median of 5 (25 ms in all). */
static double tick_after_run(const struct eng *eng)
{
    double samples[5];
    unsigned tick_ns = eng->o->wl->tick_ns;
    for (int i = 0; i < 5; i++)
        samples[i] = cpu_ns_per_tick(eng->iters_per_tick, 5000000 / tick_ns);
    qsort(samples, 5, sizeof *samples, cmp_double);
    return samples[2];
}

/* The tick: a busy loop calibrated to take tick_ns (or the length a benchmark fixes). */
static void real_set_tick(struct eng *eng)
{
    const struct eng_options *o = eng->o;
    unsigned tick_ns = o->wl->tick_ns;
    if (o->iters_per_tick) {
        eng->iters_per_tick = o->iters_per_tick;
        eng->ns_per_tick = measure_ns_per_tick(o->iters_per_tick, 5000000 / tick_ns);
    } else {
        eng->ns_per_tick = calibrate(tick_ns, &eng->iters_per_tick);
    }
    double chunk = CHUNK_NS / eng->ns_per_tick;
    eng->chunk_ticks = chunk < 1 ? 1 : (uint64_t)chunk;
}

static uint64_t real_ticks(struct sim_thread *t, uint64_t n)
{
    return tick_loop(&t->work, t->eng->iters_per_tick, n, &t->gil->pending);
}

/* CPU work that is not interpreter work (native, hold): no check points, no ticks counted.
 * Native work (without the GIL) still notices the end of the run. */
static int real_busy(struct sim_thread *t, int64_t ns, bool stoppable)
{
    _Atomic uint32_t never = 0;
    _Atomic uint32_t *watch = stoppable ? &t->gil->pending : &never;
    double d = (double)ns / t->eng->ns_per_tick;
    uint64_t n = d < 1 ? 1 : (uint64_t)llround(d);
    while (n > 0) {
        n -= tick_loop(&t->work, t->eng->iters_per_tick,
                       n < t->eng->chunk_ticks ? n : t->eng->chunk_ticks, watch);
        counter_add(&t->beat, 1);
        if (stoppable && eng_stopping(t->eng)) return RUN_STOP;
    }
    return RUN_ON;
}

/* Blocks in the kernel until the monotonic clock reaches until, or the run stops (the stop
 * pipe becomes readable). */
static int real_block_until(struct sim_thread *t, int64_t until)
{
    struct eng *eng = t->eng;
    struct real_state *rs = eng->backend_state;
    struct pollfd pfd = {.fd = rs->stop_pipe[0], .events = POLLIN};
    int rc;
    /* A planned wait: the watchdog does not count it as a stall. */
    atomic_store_explicit(&t->idle_until, until, memory_order_relaxed);
    for (;;) {
        int64_t left = until - sync_now_ns();
        if (left < 0) left = 0;
        struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
        int r = ppoll(&pfd, 1, &ts, NULL);
        if (r > 0) {
            rc = RUN_STOP;
            break;
        }
        if (r == 0) {
            rc = RUN_ON;
            break;
        }
        if (errno != EINTR) {
            rc = eng_stopping(eng) ? RUN_STOP : RUN_ON;
            break;
        }
    }
    atomic_store_explicit(&t->idle_until, 0, memory_order_relaxed);
    counter_add(&t->beat, 1);
    return rc;
}

/* Wakes every thread blocked in ppoll. */
static void real_pending_raised(struct eng *eng)
{
    if (!eng_stopping(eng)) return; /* a drop request is seen at the next check point */
    struct real_state *rs = eng->backend_state;
    ssize_t w;
    do
        w = write(rs->stop_pipe[1], "x", 1);
    while (w < 0 && errno == EINTR);
    real_peers_shutdown(rs->peers); /* ends the blocking sends and recvs */
}

/* ---- threads ------------------------------------------------------------------------------ */

static void *thread_main(void *arg)
{
    struct sim_thread *t = arg;
    struct eng *eng = t->eng;
    struct real_thread *rt = real_thread_of(t);
    real_check_thread(t->tid, &rt->on_cpu0, &rt->wait0); /* before the gate: outside the run */
    pthread_mutex_lock(&eng->mutex);
    while (!eng->go)
        pthread_cond_wait(&eng->cond, &eng->mutex);
    pthread_mutex_unlock(&eng->mutex);

    interp_thread_body(t);
    real_check_thread(t->tid, &rt->on_cpu1, &rt->wait1);

    pthread_mutex_lock(&eng->mutex);
    atomic_store_explicit(&t->exited, true, memory_order_relaxed);
    if (--eng->live == 0) pthread_cond_broadcast(&eng->cond);
    pthread_mutex_unlock(&eng->mutex);
    return NULL;
}

/* Waits on eng->cond until the monotonic clock reaches deadline_ns; true when it did. */
static bool cond_wait_until(struct eng *eng, int64_t deadline_ns)
{
    if (deadline_ns < 0) deadline_ns = 0;
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    return pthread_cond_clockwait(&eng->cond, &eng->mutex, CLOCK_MONOTONIC, &ts) == ETIMEDOUT;
}

/* After the stop: waits for the threads to end. With a grace period (the stall timeout), a
 * thread that has not ended when no thread has ended for that long is given up on. Returns how
 * many live threads were given up on; joins the others. */
static unsigned end_threads(struct eng *eng, unsigned created, int64_t grace_ns)
{
    pthread_mutex_lock(&eng->mutex);
    unsigned last = eng->live;
    int64_t until = sync_now_ns() + grace_ns;
    while (eng->live > 0) {
        if (!grace_ns) {
            pthread_cond_wait(&eng->cond, &eng->mutex);
            continue;
        }
        bool timed_out = cond_wait_until(eng, until);
        if (eng->live < last) {
            last = eng->live;
            until = sync_now_ns() + grace_ns;
        } else if (timed_out && sync_now_ns() >= until) {
            break;
        }
    }
    pthread_mutex_unlock(&eng->mutex);
    unsigned abandoned = 0;
    for (unsigned i = 0; i < created; i++) {
        struct sim_thread *t = &eng->threads[i];
        if (atomic_load_explicit(&t->exited, memory_order_relaxed)) {
            pthread_join(real_thread_of(t)->handle, NULL);
        } else {
            pthread_detach(real_thread_of(t)->handle);
            abandoned++;
        }
    }
    return abandoned;
}

/* Creates the threads; returns how many were created (all, or up to a failure, with e set). */
static unsigned create_threads(struct eng *eng, const struct eng_result *res, struct err *e)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        err_set(e, ERR_RUNTIME, "cannot set up thread attributes");
        return 0;
    }
    pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
    unsigned created = 0;
    for (; created < eng->nthreads; created++) {
        struct sim_thread *t = &eng->threads[created];
        int prc = pthread_create(&real_thread_of(t)->handle, &attr, thread_main, t);
        if (prc != 0) {
            err_set(e, ERR_RUNTIME, "cannot create thread %u of %u (%s): %s", created + 1,
                    eng->nthreads, res->threads[created].name, strerror(prc));
            break;
        }
    }
    pthread_attr_destroy(&attr);
    return created;
}

/* ---- the watchdog -------------------------------------------------------------------------- */

struct watch {
    int64_t timeout, every; /* ns; timeout 0: off */
    uint64_t last_beats;
    int64_t last_change, last_check;
};

/* Called by the main thread every `every` ns, holding eng->mutex. True when no thread has
 * made progress (an event, a chunk of work) for the timeout and none is in a planned wait. */
static bool watch_stalled(struct eng *eng, struct watch *w, int64_t now)
{
    uint64_t sum = 0;
    bool planned = false;
    for (unsigned i = 0; i < eng->nthreads; i++) {
        struct sim_thread *t = &eng->threads[i];
        sum += counter_read(&t->beat);
        planned |= atomic_load_explicit(&t->idle_until, memory_order_relaxed) != 0;
    }
    /* A main thread that was itself not scheduled for a long while (an overloaded machine, a
     * stopped process) has no evidence either way: start counting again. */
    bool hiccup = now - w->last_check > 2 * w->every + 100000000;
    if (sum != w->last_beats || planned || hiccup) w->last_change = now;
    w->last_beats = sum;
    w->last_check = now;
    return now - w->last_change >= w->timeout;
}

/* The main thread's wait, holding eng->mutex, until a reason to stop: the end of every thread,
 * eng_ctl_stop, failed thread creation, the deadline or a stall. */
static const char *await_stop(struct eng *eng, struct eng_result *res)
{
    int64_t deadline = eng->t0 + res->duration_ns, now = eng->t0;
    struct watch w = {.timeout = res->stall_timeout_ns, .last_change = now, .last_check = now};
    w.every = w.timeout / 10 < 10000000    ? 10000000
              : w.timeout / 10 > 500000000 ? 500000000
                                           : w.timeout / 10;
    for (;;) {
        if (eng->live == 0) return "finished";
        if (eng->ext_reason) {
            res->interrupted = true;
            return eng->ext_reason;
        }
        if (eng_stopping(eng)) return "failed"; /* threads could not all be created */
        if (now >= deadline) return "deadline";
        if (w.timeout && now >= w.last_check + w.every && watch_stalled(eng, &w, now)) {
            res->interrupted = true;
            res->report = eng_stall_report(eng, res, now - eng->t0, now - w.last_change,
                                           "no thread made progress");
            return "stalled";
        }
        int64_t until = deadline;
        if (w.timeout && w.last_check + w.every < until) until = w.last_check + w.every;
        cond_wait_until(eng, until);
        now = sync_now_ns();
    }
}

/* ---- the run ------------------------------------------------------------------------------- */

/* The stop pipe and the threads' records; on the heap: threads that cannot be stopped keep
 * using them (then never freed). */
static int real_open(struct eng *eng, struct err *e)
{
    struct real_state *rs = calloc(1, sizeof *rs);
    if (!rs) return err_set(e, ERR_RUNTIME, "out of memory");
    rs->stop_pipe[0] = rs->stop_pipe[1] = -1;
    eng->backend_state = rs;
    if (!(rs->threads = calloc(eng->nthreads ? eng->nthreads : 1, sizeof *rs->threads)))
        return err_set(e, ERR_RUNTIME, "out of memory for %u threads", eng->nthreads);
    if (pipe2(rs->stop_pipe, O_CLOEXEC) != 0)
        return err_set(e, ERR_RUNTIME, "cannot create the stop pipe: %s", strerror(errno));
    return 0;
}

static void real_close(struct eng *eng)
{
    struct real_state *rs = eng->backend_state;
    if (!rs) return;
    for (int i = 0; i < 2; i++)
        if (rs->stop_pipe[i] >= 0) close(rs->stop_pipe[i]);
    free(rs->threads);
    free(rs);
    eng->backend_state = NULL;
}

static int real_run(struct eng *eng, struct eng_result *res, struct err *e)
{
    struct real_state *rs = eng->backend_state;
    struct real_host_snap before, after;
    for (unsigned i = 0; i < eng->nthreads; i++)
        eng->threads[i].be_thread = &rs->threads[i];
    eng->live = eng->nthreads;
    real_check_snap(&before);
    unsigned created = 0;
    if (real_peers_start(eng, rs->stop_pipe[0], &rs->peers, e) == 0)
        created = create_threads(eng, res, e);
    int rc = created < eng->nthreads ? ERR_RUNTIME : 0;
    eng_ctl_attach(eng->o->ctl, eng);

    pthread_mutex_lock(&eng->mutex);
    if (rc) {
        /* Threads already created must still end: let them go straight into the stop. */
        eng->live -= eng->nthreads - created;
        eng_stop_run(eng);
    }
    eng->t0 = sync_now_ns();
    res->setup_ns = eng->t0 - eng->setup_start;
    utc_stamp(res->start_utc, sizeof res->start_utc, UTC_EXTENDED, 6);
    eng->go = true;
    pthread_cond_broadcast(&eng->cond);
    res->stop_reason = await_stop(eng, res);
    pthread_mutex_unlock(&eng->mutex);
    res->stop_ns = sync_now_ns() - eng->t0;
    eng_stop_run(eng);
    res->abandoned = end_threads(eng, created, res->stall_timeout_ns);
    eng_ctl_attach(eng->o->ctl, NULL);
    res->elapsed_ns = sync_now_ns() - eng->t0;
    real_check_snap(&after);
    real_check_fill(eng, res, &before, &after);
    res->host.ns_per_tick_end = tick_after_run(eng);
    real_peers_free(rs->peers, res->abandoned > 0); /* sockets stay with threads left running */
    if (res->abandoned) {
        char what[96];
        snprintf(what, sizeof what, "did not stop within %.1f s of the stop and were left running",
                 (double)res->stall_timeout_ns / 1e9);
        eng_report_abandoned(eng, res, created, what);
    }
    return rc;
}

const struct eng_backend eng_real_backend = {
    .name = "real",
    .threads_outlive_run = true,
    .set_tick = real_set_tick,
    .open = real_open,
    .close = real_close,
    .run = real_run,
    .ticks = real_ticks,
    .busy = real_busy,
    .block_until = real_block_until,
    .pending_raised = real_pending_raised,
    .peer_send = real_peer_send,
    .peer_recv = real_peer_recv,
};
