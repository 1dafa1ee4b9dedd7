/* sim/engine.c - see engine.h. Also implements the engine services of policy.h. */
#define _GNU_SOURCE /* ppoll */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PENDING_DROP 1u /* the policy wants the holder at check() */
#define PENDING_STOP 2u /* the run is over: unwind */

#define NO_TIME INT64_MIN /* record() without tracing: the clock was not read */

#define THREAD_STACK_BYTES (256u << 10)
/* Longest stretch of busy work between two progress marks: the watchdog sees a long cpu or
 * hold op advance, at the cost of one loop turn per 5 ms. */
#define CHUNK_NS 5000000

enum { RUN_ON = 0, RUN_STOP = 1 };

/* What a thread is doing, for the watchdog's report. */
enum th_state {
    TH_GATE,      /* not started yet */
    TH_RUNNING,   /* holds the GIL (or runs under `none`) */
    TH_WAITING,   /* in the policy's acquire */
    TH_RELEASING, /* in the policy's release (forced switching may block there) */
    TH_BLOCKED,   /* io, sleep, arrival wait or start delay: a planned wait */
    TH_NATIVE,    /* native work without the GIL */
    TH_EXITED,
};
static const char *const th_state_names[] = {"not started",
                                             "holding the GIL",
                                             "waiting for the GIL",
                                             "releasing the GIL",
                                             "blocked (io/sleep)",
                                             "native work",
                                             "exited"};

struct gil {
    _Atomic uint32_t pending;
    _Atomic int last_holder; /* tid of the latest acquirer, -1 before the first */
    const struct gil_policy *policy;
    void *state;
};

struct eng;

struct sim_thread {
    int tid;
    struct eng *eng;
    struct gil *gil;
    const struct wl_group *group;
    /* events: written only by this thread; `published` tells other threads how many are
     * complete (release store), so a stuck thread's record can still be read */
    struct trace_event *events;
    uint32_t nevents, cap;
    _Atomic uint32_t published;
    _Atomic uint64_t dropped;
    /* progress, for the watchdog: bumped per event and per chunk of busy work (relaxed
     * stores by the owner, relaxed loads by the main thread: no lock on the hot path) */
    _Atomic uint64_t beat;
    _Atomic int state;           /* enum th_state */
    _Atomic int64_t state_since; /* ns since t0 */
    _Atomic int64_t idle_until;  /* != 0: in a planned wait (block_until) */
    _Atomic bool exited;
    /* interpreter state */
    _Atomic uint64_t ticks;
    uint64_t tick_budget; /* 0: none */
    uint64_t budget_left; /* UINT64_MAX when no budget */
    uint64_t work;        /* sink for the busy work, so it cannot be optimized away */
    uint64_t rng[4];
    bool holding;
    _Atomic uint64_t acquisitions, switches;
    void *policy_data;
    pthread_t handle;
    /* the peer (io with "peer", send): a thread outside the GIL at the other end of a socket
     * pair; fd -1 when the thread has none */
    int peer_fd, peer_end;
    pthread_t peer_handle;
    bool peer_up;
};

struct eng {
    const struct eng_options *o;
    struct gil gil;
    struct sim_thread *threads;
    unsigned nthreads;
    unsigned iters_per_tick;
    double ns_per_tick;
    uint64_t chunk_ticks; /* CHUNK_NS of ticks */
    int64_t t0;
    int stop_pipe[2];
    struct sync_mutex mutex; /* guards go, live and ext_reason */
    struct sync_cond cond;
    bool go;
    unsigned live;
    const char *ext_reason; /* set by eng_ctl_stop */
};

/* A handle another thread (the CLI's signal thread) stops a run through. */
struct eng_ctl {
    struct sync_mutex mutex; /* guards reason and running */
    const char *reason;
    struct eng *running;
};

/* Relaxed counters written only by their owner: a load and a store, no read-modify-write. */
static inline void bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}
static inline uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- engine services for policies (policy.h) --------------------------------------------- */

void gil_set_state(struct gil *g, void *state)
{
    g->state = state;
}
void *gil_state(const struct gil *g)
{
    return g->state;
}
void gil_thread_set_data(struct sim_thread *t, void *data)
{
    t->policy_data = data;
}
void *gil_thread_data(const struct sim_thread *t)
{
    return t->policy_data;
}
int gil_thread_id(const struct sim_thread *t)
{
    return t ? t->tid : -1;
}

void gil_thread_set_tick_budget(struct sim_thread *t, uint64_t ticks)
{
    t->tick_budget = ticks;
    t->budget_left = ticks ? ticks : UINT64_MAX;
}

void gil_request_drop(struct gil *g)
{
    atomic_fetch_or(&g->pending, PENDING_DROP);
}
bool gil_stopping(const struct gil *g)
{
    return atomic_load_explicit(&((struct gil *)g)->pending, memory_order_relaxed) & PENDING_STOP;
}

void gil_clear_drop(struct gil *g)
{
    atomic_fetch_and(&g->pending, ~PENDING_DROP);
}
bool gil_drop_requested(const struct gil *g)
{
    return atomic_load_explicit(&((struct gil *)g)->pending, memory_order_relaxed) & PENDING_DROP;
}

enum gil_reason gil_check_drop_request(struct gil *g, struct sim_thread *self, unsigned cause)
{
    (void)self;
    if ((cause & GIL_CHECK_PENDING) && gil_drop_requested(g)) return GIL_REASON_DROP_REQUEST;
    return GIL_REASON_NONE;
}

/* Recording: no lock, no allocation; a full buffer counts what it drops. */
static inline int64_t record(struct sim_thread *t, enum trace_ev ev, enum trace_reason reason,
                             int64_t arg)
{
    if (t->cap == 0) { /* --no-trace: not even the clock is read, only what would have been */
        bump(&t->dropped, 1);
        bump(&t->beat, 1);
        return NO_TIME;
    }
    int64_t now = sync_now_ns() - t->eng->t0;
    if (t->nevents < t->cap) {
        t->events[t->nevents++] = (struct trace_event){
            .t = now,
            .arg = arg,
            .tid = t->tid,
            .ev = (uint16_t)ev,
            .reason = (uint16_t)reason,
        };
        atomic_store_explicit(&t->published, t->nevents, memory_order_release);
    } else {
        bump(&t->dropped, 1);
    }
    bump(&t->beat, 1);
    return now;
}

static inline void set_state(struct sim_thread *t, enum th_state st, int64_t since)
{
    atomic_store_explicit(&t->state_since, since, memory_order_relaxed);
    atomic_store_explicit(&t->state, (int)st, memory_order_relaxed);
}

void gil_record(struct sim_thread *self, enum trace_ev ev, int64_t arg)
{
    if (arg == -1 && (ev == TRACE_EV_DROP_REQUEST || ev == TRACE_EV_WAIT_TIMEOUT ||
                      ev == TRACE_EV_WAKEUP_FAILED))
        arg = TRACE_NO_ARG; /* no holder known */
    record(self, ev, TRACE_REASON_NONE, arg);
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Finds the iteration count that makes one tick (with its check point) take target_ns; returns
 * the measured ns per tick, the median of several ~5 ms runs. */
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

static uint64_t ns_to_ticks(const struct eng *eng, int64_t ns)
{
    double t = (double)ns / eng->ns_per_tick;
    return t < 1 ? 1 : (uint64_t)llround(t);
}

/* ---- random draws: xoshiro256** seeded by splitmix64 --------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t r[4], uint64_t seed, int tid)
{
    uint64_t s = seed ^ (0xd1342543de82ef95ull * (uint64_t)(tid + 1));
    for (int i = 0; i < 4; i++)
        r[i] = splitmix64(&s);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t r[4])
{
    uint64_t result = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;
    r[2] ^= r[0];
    r[3] ^= r[1];
    r[1] ^= r[2];
    r[0] ^= r[3];
    r[2] ^= t;
    r[3] = rotl(r[3], 45);
    return result;
}

/* Uniform on [0, 1). */
static double rng_unit(uint64_t r[4])
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static int64_t sample_latency(struct sim_thread *t, const struct wl_op *op)
{
    double ns = (double)op->ns;
    if (op->dist == WL_DIST_UNIFORM)
        ns = rng_unit(t->rng) * 2.0 * (double)op->ns;
    else if (op->dist == WL_DIST_EXPONENTIAL)
        ns = -log1p(-rng_unit(t->rng)) * (double)op->ns;
    if (op->max_ns > 0 && ns > (double)op->max_ns) ns = (double)op->max_ns;
    return (int64_t)llround(ns);
}

/* ---- the GIL, as threads use it ----------------------------------------------------------- */

static inline bool stopping(const struct eng *eng)
{
    return atomic_load_explicit(&((struct eng *)eng)->gil.pending, memory_order_relaxed) &
           PENDING_STOP;
}

/* Returns RUN_STOP when the run ended while the thread waited (it then does not hold). */
static int gil_take(struct sim_thread *t)
{
    /* Once the run is ending nobody asks any more: a thread that reaches here late (still
     * leaving the start gate, say) would otherwise take the just-released GIL and pass it on. */
    if (stopping(t->eng)) return RUN_STOP;
    set_state(t, TH_WAITING, record(t, TRACE_EV_REQUEST, TRACE_REASON_NONE, TRACE_NO_ARG));
    if (!t->gil->policy->acquire(t->gil, t)) return RUN_STOP;
    set_state(t, TH_RUNNING, record(t, TRACE_EV_ACQUIRE, TRACE_REASON_NONE, TRACE_NO_ARG));
    t->holding = true;
    bump(&t->acquisitions, 1);
    /* Counted here too (not only from events) so that runs without a trace report it. */
    int prev = atomic_exchange_explicit(&t->gil->last_holder, t->tid, memory_order_relaxed);
    if (prev >= 0 && prev != t->tid) bump(&t->switches, 1);
    return RUN_ON;
}

static void gil_give(struct sim_thread *t, enum gil_reason why)
{
    /* Recorded before the lock is given up, so that no other thread's acquire can carry an
     * earlier time. */
    set_state(t, TH_RELEASING,
              record(t, TRACE_EV_RELEASE, (enum trace_reason)why, (int64_t)get(&t->ticks)));
    t->holding = false;
    t->gil->policy->release(t->gil, t, why);
}

/* Blocks in the kernel until the monotonic clock reaches until, or the run stops (the stop
 * pipe becomes readable). Returns RUN_STOP when the run stopped. */
static int block_until(struct sim_thread *t, int64_t until)
{
    struct eng *eng = t->eng;
    struct pollfd pfd = {.fd = eng->stop_pipe[0], .events = POLLIN};
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
            rc = stopping(eng) ? RUN_STOP : RUN_ON;
            break;
        }
    }
    atomic_store_explicit(&t->idle_until, 0, memory_order_relaxed);
    bump(&t->beat, 1);
    return rc;
}

/* ---- ops ---------------------------------------------------------------------------------- */

static int run_cpu(struct sim_thread *t, uint64_t n)
{
    struct gil *g = t->gil;
    while (n > 0) {
        uint64_t chunk = n < t->budget_left ? n : t->budget_left;
        if (chunk > t->eng->chunk_ticks) chunk = t->eng->chunk_ticks;
        uint64_t done = tick_loop(&t->work, t->eng->iters_per_tick, chunk, &g->pending);
        bump(&t->ticks, done);
        bump(&t->beat, 1);
        n -= done;
        unsigned cause = 0;
        if (t->tick_budget) {
            t->budget_left -= done;
            if (t->budget_left == 0) {
                cause |= GIL_CHECK_TICKS;
                t->budget_left = t->tick_budget;
            }
        }
        uint32_t pending = atomic_load_explicit(&g->pending, memory_order_relaxed);
        if (pending & PENDING_STOP) return RUN_STOP;
        if (pending & PENDING_DROP) cause |= GIL_CHECK_PENDING;
        if (cause) {
            enum gil_reason why = g->policy->check(g, t, cause);
            if (why != GIL_REASON_NONE) {
                gil_give(t, why);
                if (gil_take(t) == RUN_STOP) return RUN_STOP;
            }
        }
    }
    return RUN_ON;
}

/* CPU work that is not interpreter work (native, hold): no check points, no ticks counted.
 * Native work (without the GIL) still notices the end of the run. */
static int run_busy(struct sim_thread *t, int64_t ns, bool stoppable)
{
    _Atomic uint32_t never = 0;
    _Atomic uint32_t *watch = stoppable ? &t->gil->pending : &never;
    uint64_t n = ns_to_ticks(t->eng, ns);
    while (n > 0) {
        n -= tick_loop(&t->work, t->eng->iters_per_tick,
                       n < t->eng->chunk_ticks ? n : t->eng->chunk_ticks, watch);
        bump(&t->beat, 1);
        if (stoppable && stopping(t->eng)) return RUN_STOP;
    }
    return RUN_ON;
}

/* Gives up the GIL, blocks until `until` (io, sleep, arrival) and asks for the GIL again. */
static int blocking(struct sim_thread *t, enum gil_reason why, enum trace_ev begin,
                    enum trace_ev end, int64_t ns)
{
    gil_give(t, why);
    int64_t start = sync_now_ns();
    set_state(t, TH_BLOCKED, start - t->eng->t0);
    if (begin != TRACE_EV_COUNT) record(t, begin, TRACE_REASON_NONE, ns);
    int rc = block_until(t, start + ns);
    if (end != TRACE_EV_COUNT) record(t, end, TRACE_REASON_NONE, TRACE_NO_ARG);
    if (rc == RUN_STOP) return RUN_STOP;
    return gil_take(t);
}

/* ---- the peer: the other end of a real socket ---------------------------------------------- */

/* A request on the socket: the latency after which the peer answers, or PEER_NO_ANSWER. */
#define PEER_NO_ANSWER INT64_C(-1)

/* Writes all of buf; false when the socket was shut down (the run ended). */
static bool write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* The peer answers each request after its latency, waiting as an `io` timer does (ppoll, so
 * with the same timer slack); the answer wakes the thread blocked in recv on the other end. */
static void *peer_main(void *arg)
{
    struct sim_thread *t = arg;
    struct eng *eng = t->eng;
    int64_t ns;
    while (read_all(t->peer_end, &ns, sizeof ns)) {
        if (ns == PEER_NO_ANSWER) continue;
        if (ns > 0) {
            int64_t until = sync_now_ns() + ns;
            struct pollfd pfd = {.fd = eng->stop_pipe[0], .events = POLLIN};
            int r;
            do {
                int64_t left = until - sync_now_ns();
                if (left < 0) left = 0;
                struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
                r = ppoll(&pfd, 1, &ts, NULL);
            } while (r < 0 && errno == EINTR);
            if (r > 0) break;
        }
        char answer = 1;
        if (!write_all(t->peer_end, &answer, 1)) break;
    }
    return NULL;
}

static int peer_start(struct sim_thread *t)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return errno;
    t->peer_fd = sv[0];
    t->peer_end = sv[1];
    int rc = pthread_create(&t->peer_handle, NULL, peer_main, t);
    if (rc) {
        close(sv[0]);
        close(sv[1]);
        t->peer_fd = t->peer_end = -1;
        return rc;
    }
    t->peer_up = true;
    return 0;
}

/* After the stop: the shutdown ends the thread's and the peer's blocking calls. */
static void peer_shutdown(struct sim_thread *t)
{
    if (t->peer_fd >= 0) shutdown(t->peer_fd, SHUT_RDWR);
}

static void peer_join(struct sim_thread *t)
{
    if (t->peer_up) pthread_join(t->peer_handle, NULL);
    t->peer_up = false;
    if (t->peer_fd >= 0) {
        close(t->peer_fd);
        close(t->peer_end);
    }
    t->peer_fd = t->peer_end = -1;
}

/* send: gives up the GIL around one short real send to the peer (no answer wanted). */
static int run_send(struct sim_thread *t)
{
    gil_give(t, GIL_REASON_SEND);
    int64_t req = PEER_NO_ANSWER;
    if (!write_all(t->peer_fd, &req, sizeof req) || stopping(t->eng)) return RUN_STOP;
    return gil_take(t);
}

/* io with a peer: the request goes to the peer (with "send", in a send of its own that
 * releases and retakes the GIL first), and the thread blocks in recv until the answer. */
static int run_peer_io(struct sim_thread *t, const struct wl_op *op)
{
    int64_t ns = sample_latency(t, op);
    gil_give(t, op->send ? GIL_REASON_SEND : GIL_REASON_IO);
    int64_t start = record(t, TRACE_EV_IO_BEGIN, TRACE_REASON_NONE, ns);
    if (!write_all(t->peer_fd, &ns, sizeof ns)) return RUN_STOP;
    if (op->send) {
        if (gil_take(t) == RUN_STOP) return RUN_STOP;
        gil_give(t, GIL_REASON_IO);
    }
    set_state(t, TH_BLOCKED, start);
    atomic_store_explicit(&t->idle_until, sync_now_ns() + ns, memory_order_relaxed);
    char answer;
    bool ok = read_all(t->peer_fd, &answer, 1);
    atomic_store_explicit(&t->idle_until, 0, memory_order_relaxed);
    record(t, TRACE_EV_IO_END, TRACE_REASON_NONE, TRACE_NO_ARG);
    if (!ok || stopping(t->eng)) return RUN_STOP;
    return gil_take(t);
}

static int run_ops(struct sim_thread *t, const struct wl_op *ops, size_t n);

static int run_serve(struct sim_thread *t, const struct wl_op *op)
{
    struct eng *eng = t->eng;
    double mean_ns = 1e9 / op->rate_hz;
    int64_t next = sync_now_ns();
    for (uint64_t i = 0; op->count == WL_FOREVER || i < op->count; i++) {
        if (stopping(eng)) return RUN_STOP;
        int64_t now = sync_now_ns();
        /* Behind schedule: go straight on; the request is charged from its scheduled arrival. */
        if (now < next &&
            blocking(t, GIL_REASON_ARRIVAL, TRACE_EV_COUNT, TRACE_EV_COUNT, next - now) == RUN_STOP)
            return RUN_STOP;
        record(t, TRACE_EV_ARRIVAL, TRACE_REASON_NONE, next - eng->t0);
        int rc = run_ops(t, op->body, op->nbody);
        if (rc) return rc;
        record(t, TRACE_EV_DONE, TRACE_REASON_NONE, next - eng->t0);
        double gap =
            op->arrivals == WL_ARRIVALS_FIXED ? mean_ns : -log1p(-rng_unit(t->rng)) * mean_ns;
        next += (int64_t)llround(gap);
    }
    return RUN_ON;
}

static int run_ops(struct sim_thread *t, const struct wl_op *ops, size_t n)
{
    int rc = RUN_ON;
    for (size_t i = 0; i < n && rc == RUN_ON; i++) {
        const struct wl_op *op = &ops[i];
        if (stopping(t->eng)) return RUN_STOP;
        switch (op->kind) {
        case WL_OP_CPU:
            rc = run_cpu(t, op->ticks ? op->ticks : ns_to_ticks(t->eng, op->ns));
            break;
        case WL_OP_IO:
            rc = op->peer ? run_peer_io(t, op)
                          : blocking(t, GIL_REASON_IO, TRACE_EV_IO_BEGIN, TRACE_EV_IO_END,
                                     sample_latency(t, op));
            break;
        case WL_OP_SEND:
            rc = run_send(t);
            break;
        case WL_OP_SLEEP:
            rc = blocking(t, GIL_REASON_SLEEP, TRACE_EV_SLEEP_BEGIN, TRACE_EV_SLEEP_END, op->ns);
            break;
        case WL_OP_NATIVE:
            gil_give(t, GIL_REASON_NATIVE);
            set_state(t, TH_NATIVE, record(t, TRACE_EV_NATIVE_BEGIN, TRACE_REASON_NONE, op->ns));
            rc = run_busy(t, op->ns, true);
            record(t, TRACE_EV_NATIVE_END, TRACE_REASON_NONE, TRACE_NO_ARG);
            if (rc == RUN_ON) rc = gil_take(t);
            break;
        case WL_OP_HOLD:
            record(t, TRACE_EV_HOLD_BEGIN, TRACE_REASON_NONE, op->ns);
            rc = run_busy(t, op->ns, false);
            record(t, TRACE_EV_HOLD_END, TRACE_REASON_NONE, TRACE_NO_ARG);
            break;
        case WL_OP_LOOP:
            for (uint64_t k = 0; (op->count == WL_FOREVER || k < op->count) && rc == RUN_ON; k++)
                rc = stopping(t->eng) ? RUN_STOP : run_ops(t, op->body, op->nbody);
            break;
        case WL_OP_SERVE:
            rc = run_serve(t, op);
            break;
        }
    }
    return rc;
}

static void *thread_main(void *arg)
{
    struct sim_thread *t = arg;
    struct eng *eng = t->eng;
    sync_mutex_lock(&eng->mutex);
    while (!eng->go)
        sync_cond_wait(&eng->cond, &eng->mutex);
    sync_mutex_unlock(&eng->mutex);

    int rc = RUN_STOP;
    bool started = false;
    if (t->group->start_ns) set_state(t, TH_BLOCKED, 0);
    if (!stopping(eng) &&
        (t->group->start_ns == 0 || block_until(t, eng->t0 + t->group->start_ns) == RUN_ON)) {
        started = true;
        record(t, TRACE_EV_THREAD_START, TRACE_REASON_NONE, TRACE_NO_ARG);
        rc = gil_take(t);
        if (rc == RUN_ON) rc = run_ops(t, t->group->ops, t->group->nops);
    }
    if (t->holding) gil_give(t, rc == RUN_STOP ? GIL_REASON_DEADLINE : GIL_REASON_EXIT);
    /* A thread that never started (the run ended first) records nothing at all. */
    if (started) record(t, TRACE_EV_THREAD_EXIT, TRACE_REASON_NONE, (int64_t)get(&t->ticks));
    set_state(t, TH_EXITED, sync_now_ns() - eng->t0);

    sync_mutex_lock(&eng->mutex);
    atomic_store_explicit(&t->exited, true, memory_order_relaxed);
    if (--eng->live == 0) sync_cond_broadcast(&eng->cond);
    sync_mutex_unlock(&eng->mutex);
    return NULL;
}

uint32_t eng_default_max_events(unsigned nthreads)
{
    uint64_t per = (32ull << 20) / (nthreads ? nthreads : 1);
    if (per < 4096) per = 4096;
    if (per > (4u << 20)) per = 4u << 20;
    return (uint32_t)per;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* ---- stopping from outside ---------------------------------------------------------------- */

int eng_ctl_new(struct eng_ctl **out)
{
    struct eng_ctl *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) return ENOMEM;
    int rc = sync_mutex_init(&c->mutex);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void eng_ctl_free(struct eng_ctl *c)
{
    if (!c) return;
    sync_mutex_destroy(&c->mutex);
    free(c);
}

void eng_ctl_stop(struct eng_ctl *c, const char *reason)
{
    sync_mutex_lock(&c->mutex);
    if (!c->reason) c->reason = reason;
    if (c->running) {
        struct eng *eng = c->running;
        sync_mutex_lock(&eng->mutex);
        if (!eng->ext_reason) eng->ext_reason = c->reason;
        sync_cond_broadcast(&eng->cond);
        sync_mutex_unlock(&eng->mutex);
    }
    sync_mutex_unlock(&c->mutex);
}

/* Lock order: ctl, then eng->mutex; the main thread never takes ctl while holding eng's. */
static void ctl_attach(struct eng_ctl *c, struct eng *eng)
{
    if (!c) return;
    sync_mutex_lock(&c->mutex);
    c->running = eng;
    if (eng && c->reason) {
        sync_mutex_lock(&eng->mutex);
        eng->ext_reason = c->reason;
        sync_mutex_unlock(&eng->mutex);
    }
    sync_mutex_unlock(&c->mutex);
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
        sum += get(&t->beat);
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

static void list_threads(FILE *f, struct eng *eng, const struct eng_result *res, enum th_state st,
                         int64_t now)
{
    unsigned n = 0;
    for (unsigned i = 0; i < eng->nthreads; i++)
        n += atomic_load_explicit(&eng->threads[i].state, memory_order_relaxed) == (int)st;
    if (n == 0 && st != TH_RUNNING && st != TH_WAITING) return;
    if (n == 0)
        fprintf(f, "  %s: none\n", th_state_names[st]);
    else
        fprintf(f, "  %s: %u thread%s\n", th_state_names[st], n, n == 1 ? "" : "s");
    unsigned shown = 0;
    for (unsigned i = 0; i < eng->nthreads && shown < 10; i++) {
        struct sim_thread *t = &eng->threads[i];
        if (atomic_load_explicit(&t->state, memory_order_relaxed) != (int)st) continue;
        int64_t since = atomic_load_explicit(&t->state_since, memory_order_relaxed);
        if (since == NO_TIME) {
            fprintf(f, "    %s (tid %d), since when not known (--no-trace)\n", res->threads[i].name,
                    t->tid);
            shown++;
            continue;
        }
        fprintf(f, "    %s (tid %d) since t=%.3f ms, %.1f s ago\n", res->threads[i].name, t->tid,
                (double)since / 1e6, (double)(now - since) / 1e9);
        shown++;
    }
    if (n > shown) fprintf(f, "    ... and %u more\n", n - shown);
}

/* Who holds the GIL, who waits and since when; malloc'd text (NULL when out of memory). */
static char *stall_report(struct eng *eng, const struct eng_result *res, int64_t now,
                          int64_t silent_ns)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f,
            "stalled: no thread made progress for %.1f s (--stall-timeout %.0f ms) at t=%.3f ms "
            "under policy %s: a deadlock?\n",
            (double)silent_ns / 1e9, (double)res->stall_timeout_ns / 1e6, (double)now / 1e6,
            eng->gil.policy->name);
    static const enum th_state order[] = {TH_RUNNING, TH_WAITING, TH_RELEASING,
                                          TH_NATIVE,  TH_BLOCKED, TH_GATE};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        list_threads(f, eng, res, order[k], now);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Appends a line to *report (best effort: memory permitting). */
static void report_append(char **report, const char *line)
{
    size_t a = *report ? strlen(*report) : 0, b = strlen(line);
    char *r = realloc(*report, a + b + 1);
    if (!r) return;
    memcpy(r + a, line, b + 1);
    *report = r;
}

/* ---- the run ------------------------------------------------------------------------------- */

/* Idempotent: the main thread calls it on every path that ends a run. */
static void stop_run(struct eng *eng)
{
    if (atomic_fetch_or(&eng->gil.pending, PENDING_STOP) & PENDING_STOP) return;
    ssize_t w;
    do
        w = write(eng->stop_pipe[1], "x", 1);
    while (w < 0 && errno == EINTR);
    if (eng->gil.policy->stop) eng->gil.policy->stop(&eng->gil);
    for (unsigned i = 0; i < eng->nthreads; i++)
        peer_shutdown(&eng->threads[i]);
}

static void utc_now(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static void free_run(struct eng *eng, unsigned threads_inited)
{
    for (unsigned i = 0; i < threads_inited; i++) {
        peer_shutdown(&eng->threads[i]);
        peer_join(&eng->threads[i]);
        if (eng->gil.policy->thread_fini) eng->gil.policy->thread_fini(&eng->gil, &eng->threads[i]);
    }
}

/* After the stop: waits for the threads to end. With a grace period (the stall timeout), a
 * thread that has not ended when no thread has ended for that long is given up on. Returns how
 * many live threads were given up on; joins the others. */
static unsigned end_threads(struct eng *eng, unsigned created, int64_t grace_ns)
{
    sync_mutex_lock(&eng->mutex);
    unsigned last = eng->live;
    int64_t until = sync_now_ns() + grace_ns;
    while (eng->live > 0) {
        if (!grace_ns) {
            sync_cond_wait(&eng->cond, &eng->mutex);
            continue;
        }
        bool timed_out = sync_cond_wait_until(&eng->cond, &eng->mutex, until);
        if (eng->live < last) {
            last = eng->live;
            until = sync_now_ns() + grace_ns;
        } else if (timed_out && sync_now_ns() >= until) {
            break;
        }
    }
    sync_mutex_unlock(&eng->mutex);
    unsigned abandoned = 0;
    for (unsigned i = 0; i < created; i++) {
        struct sim_thread *t = &eng->threads[i];
        if (atomic_load_explicit(&t->exited, memory_order_relaxed)) {
            pthread_join(t->handle, NULL);
        } else {
            pthread_detach(t->handle);
            abandoned++;
        }
    }
    return abandoned;
}

int eng_run(const struct eng_options *o, struct eng_result **out, struct err *e)
{
    const struct wl_workload *wl = o->wl;
    const struct gil_policy *pol = o->policy;
    /* On the heap: when threads cannot be stopped, this is left to them (never freed). */
    struct eng *eng = calloc(1, sizeof *eng);
    struct eng_result *res = calloc(1, sizeof *res);
    unsigned inited = 0, created = 0, abandoned = 0;
    bool policy_up = false, sync_up = false;
    int rc = 0;
    *out = NULL;
    if (!res || !eng) {
        free(eng);
        free(res);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    eng->o = o;
    eng->nthreads = wl->nthreads;
    eng->stop_pipe[0] = eng->stop_pipe[1] = -1;
    eng->gil.policy = pol;
    atomic_init(&eng->gil.last_holder, -1);
    res->tick_ns_target = wl->tick_ns;
    if (o->iters_per_tick) {
        eng->iters_per_tick = o->iters_per_tick;
        eng->ns_per_tick = measure_ns_per_tick(o->iters_per_tick, 5000000 / wl->tick_ns);
    } else {
        eng->ns_per_tick = calibrate(wl->tick_ns, &eng->iters_per_tick);
    }
    res->ns_per_tick = eng->ns_per_tick;
    res->iters_per_tick = eng->iters_per_tick;
    eng->chunk_ticks = ns_to_ticks(eng, CHUNK_NS);
    int64_t setup_t = sync_now_ns();
    res->duration_ns = o->duration_ns > 0 ? o->duration_ns : wl->duration_ns;
    res->max_events = o->max_events ? o->max_events : eng_default_max_events(wl->nthreads);
    res->stall_timeout_ns = o->stall_timeout_ns == 0  ? ENG_DEFAULT_STALL_NS
                            : o->stall_timeout_ns < 0 ? 0
                                                      : o->stall_timeout_ns;
    res->nthreads = eng->nthreads;

    eng->threads = calloc(eng->nthreads, sizeof *eng->threads);
    res->threads = calloc(eng->nthreads, sizeof *res->threads);
    if (!eng->threads || !res->threads) {
        rc = err_set(e, ERR_RUNTIME, "out of memory for %u threads", eng->nthreads);
        goto fail;
    }
    if (sync_mutex_init(&eng->mutex) || sync_cond_init(&eng->cond)) {
        rc = err_set(e, ERR_RUNTIME, "cannot create the engine's mutex");
        goto fail;
    }
    sync_up = true;
    if (pipe2(eng->stop_pipe, O_CLOEXEC) != 0) {
        rc = err_set(e, ERR_RUNTIME, "cannot create the stop pipe: %s", strerror(errno));
        goto fail;
    }
    if ((rc = pol->init(&eng->gil, o->params)) != 0) {
        rc = err_set(e, ERR_RUNTIME, "policy %s failed to start: %s", pol->name, strerror(rc));
        goto fail;
    }
    policy_up = true;

    unsigned tid = 0;
    for (size_t gi = 0; gi < wl->ngroups; gi++) {
        for (unsigned k = 0; k < wl->groups[gi].count; k++, tid++) {
            struct sim_thread *t = &eng->threads[tid];
            struct eng_thread_result *r = &res->threads[tid];
            t->tid = (int)tid;
            t->eng = eng;
            t->gil = &eng->gil;
            t->group = &wl->groups[gi];
            t->cap = o->no_trace ? 0 : res->max_events;
            t->budget_left = UINT64_MAX;
            t->work = tid + 1;
            t->peer_fd = t->peer_end = -1;
            rng_seed(t->rng, o->seed, t->tid);
            r->tid = t->tid;
            r->group = wl->groups[gi].name;
            snprintf(r->name, sizeof r->name, "%s.%u", wl->groups[gi].name, k);
            if (t->cap && !(t->events = malloc((size_t)t->cap * sizeof *t->events))) {
                rc = err_set(e, ERR_RUNTIME, "out of memory for the event buffer of thread %s",
                             r->name);
                goto fail;
            }
            if (pol->thread_init && (rc = pol->thread_init(&eng->gil, t)) != 0) {
                rc = err_set(e, ERR_RUNTIME, "policy %s failed to set up thread %s: %s", pol->name,
                             r->name, strerror(rc));
                goto fail;
            }
            inited++;
            if (wl->groups[gi].uses_peer && (rc = peer_start(t)) != 0) {
                rc = err_set(e, ERR_RUNTIME, "cannot start the peer of thread %s: %s", r->name,
                             strerror(rc));
                goto fail;
            }
        }
    }

    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        rc = err_set(e, ERR_RUNTIME, "cannot set up thread attributes");
        goto fail;
    }
    pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
    eng->live = eng->nthreads;
    for (; created < eng->nthreads; created++) {
        int prc = pthread_create(&eng->threads[created].handle, &attr, thread_main,
                                 &eng->threads[created]);
        if (prc != 0) {
            rc = err_set(e, ERR_RUNTIME, "cannot create thread %u of %u (%s): %s", created + 1,
                         eng->nthreads, res->threads[created].name, strerror(prc));
            break;
        }
    }
    pthread_attr_destroy(&attr);
    ctl_attach(o->ctl, eng);

    sync_mutex_lock(&eng->mutex);
    if (rc) {
        /* Threads already created must still end: let them go straight into the stop. */
        eng->live -= eng->nthreads - created;
        stop_run(eng);
    }
    eng->t0 = sync_now_ns();
    res->setup_ns = eng->t0 - setup_t;
    utc_now(res->start_utc, sizeof res->start_utc);
    eng->go = true;
    sync_cond_broadcast(&eng->cond);
    int64_t deadline = eng->t0 + res->duration_ns, now = eng->t0;
    struct watch w = {.timeout = res->stall_timeout_ns, .last_change = now, .last_check = now};
    w.every = w.timeout / 10 < 10000000    ? 10000000
              : w.timeout / 10 > 500000000 ? 500000000
                                           : w.timeout / 10;
    const char *reason = NULL;
    while (!reason) {
        if (eng->live == 0) {
            reason = "finished";
        } else if (eng->ext_reason) {
            reason = eng->ext_reason;
            res->interrupted = true;
        } else if (stopping(eng)) {
            reason = "failed"; /* threads could not all be created */
        } else if (now >= deadline) {
            reason = "deadline";
        } else if (w.timeout && now >= w.last_check + w.every && watch_stalled(eng, &w, now)) {
            reason = "stalled";
            res->interrupted = true;
            res->report = stall_report(eng, res, now - eng->t0, now - w.last_change);
        } else {
            int64_t until = deadline;
            if (w.timeout && w.last_check + w.every < until) until = w.last_check + w.every;
            sync_cond_wait_until(&eng->cond, &eng->mutex, until);
            now = sync_now_ns();
        }
    }
    res->stop_reason = reason;
    sync_mutex_unlock(&eng->mutex);
    res->stop_ns = sync_now_ns() - eng->t0;
    stop_run(eng);
    abandoned = end_threads(eng, created, res->stall_timeout_ns);
    ctl_attach(o->ctl, NULL);
    res->elapsed_ns = sync_now_ns() - eng->t0;
    res->abandoned = abandoned;
    if (abandoned) {
        char line[512];
        size_t n = (size_t)snprintf(line, sizeof line,
                                    "%u thread%s did not stop within %.1f s of the stop and "
                                    "were left running:",
                                    abandoned, abandoned == 1 ? "" : "s",
                                    (double)res->stall_timeout_ns / 1e9);
        for (unsigned i = 0, shown = 0; i < created && shown < 10 && n < sizeof line; i++)
            if (!atomic_load_explicit(&eng->threads[i].exited, memory_order_relaxed)) {
                n += (size_t)snprintf(line + n, sizeof line - n, " %s", res->threads[i].name);
                shown++;
            }
        if (n < sizeof line)
            snprintf(line + n, sizeof line - n, "%s\n", abandoned > 10 ? " ..." : "");
        report_append(&res->report, line);
        res->interrupted = true;
    }
    if (rc) goto fail;

    for (unsigned i = 0; i < eng->nthreads; i++) {
        struct sim_thread *t = &eng->threads[i];
        struct eng_thread_result *r = &res->threads[i];
        /* A thread given up on may still write past what it published: copy what it had. */
        uint32_t n = atomic_load_explicit(&t->published, memory_order_acquire);
        if (atomic_load_explicit(&t->exited, memory_order_relaxed)) {
            r->events = t->events;
            t->events = NULL; /* now the result's */
        } else {
            struct trace_event *copy = malloc((n ? n : 1) * sizeof *copy);
            if (copy && n) memcpy(copy, t->events, n * sizeof *copy);
            r->events = copy;
            n = copy ? n : 0;
        }
        r->nevents = n;
        r->dropped = get(&t->dropped);
        r->ticks = get(&t->ticks);
        r->acquisitions = get(&t->acquisitions);
        r->switches = get(&t->switches);
        res->total_ticks += r->ticks;
        res->acquisitions += r->acquisitions;
        res->switches += r->switches;
        res->events += n;
        res->events_dropped += r->dropped;
    }
    if (!abandoned) {
        free_run(eng, inited);
        pol->destroy(&eng->gil);
        close(eng->stop_pipe[0]);
        close(eng->stop_pipe[1]);
        sync_cond_destroy(&eng->cond);
        sync_mutex_destroy(&eng->mutex);
        free(eng->threads);
        free(eng);
    }
    *out = res;
    return 0;

fail:
    ctl_attach(o->ctl, NULL);
    if (abandoned) { /* what the abandoned threads use stays theirs */
        eng_result_free(res);
        return rc;
    }
    free_run(eng, inited);
    if (policy_up) pol->destroy(&eng->gil);
    for (unsigned i = 0; eng->threads && i < eng->nthreads; i++)
        free(eng->threads[i].events);
    free(eng->threads);
    if (eng->stop_pipe[0] >= 0) {
        close(eng->stop_pipe[0]);
        close(eng->stop_pipe[1]);
    }
    if (sync_up) {
        sync_cond_destroy(&eng->cond);
        sync_mutex_destroy(&eng->mutex);
    }
    free(eng);
    eng_result_free(res);
    return rc;
}

void eng_result_free(struct eng_result *r)
{
    if (!r) return;
    for (unsigned i = 0; r->threads && i < r->nthreads; i++)
        free((void *)r->threads[i].events);
    free(r->threads);
    free(r->report);
    free(r);
}
