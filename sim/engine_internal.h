/* sim/engine_internal.h - what the engine's files share and nobody else sees: the GIL and
 * thread records, the backend table that the real (engine_real.c) and the virtual
 * (engine_virtual.c) engines fill in, and the recording of events.
 *
 *   engine.c          eng_run: set-up shared by both backends, the policy's state, results;
 *                     the engine services of policy.h; eng_ctl
 *   interp.c          the op interpreter: what a workload thread does (shared by both)
 *   engine_real.c     pthreads, the calibrated tick loop, ppoll, the watchdog
 *   engine_virtual.c  simulated threads on a modelled machine, in virtual time
 *   rng.c             the per-thread random draws */
#ifndef GILSIM_ENGINE_INTERNAL_H
#define GILSIM_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine.h"
#include "sync.h"

#define PENDING_DROP 1u /* the policy wants the holder at check() */
#define PENDING_STOP 2u /* the run is over: unwind */

#define NO_TIME INT64_MIN /* record() without tracing: the clock was not read */

enum { RUN_ON = 0, RUN_STOP = 1 };

/* What a thread is doing, for the stall report. */
enum th_state {
    TH_GATE,      /* not started yet */
    TH_RUNNING,   /* holds the GIL (or runs under `none`) */
    TH_WAITING,   /* in the policy's acquire */
    TH_RELEASING, /* in the policy's release (forced switching may block there) */
    TH_BLOCKED,   /* io, sleep, arrival wait or start delay: a planned wait */
    TH_NATIVE,    /* native work without the GIL */
    TH_EXITED,
    TH_OBJECT, /* blocked on a workload object (a lock, a queue, ...) without the GIL */
};

struct gil {
    _Atomic uint32_t pending;
    _Atomic int last_holder; /* tid of the latest acquirer, -1 before the first */
    const struct gil_policy *policy;
    /* policy->check, or gil_check_drop_request when the policy has none */
    enum gil_reason (*check)(struct gil *g, struct sim_thread *self, unsigned cause);
    void *state;
    struct eng *eng;
};

struct sim_thread {
    int tid;
    struct eng *eng;
    struct gil *gil;
    const struct wl_group *group;
    const struct wl_op *ops; /* its program: the group's, or its own when they read `index` */
    int64_t start_ns;        /* when it starts, after t0 */
    /* events: written only by this thread; `published` tells other threads how many are
     * complete (release store), so a stuck thread's record can still be read */
    struct trace_event *events;
    uint32_t nevents, cap;
    _Atomic uint32_t published;
    _Atomic uint64_t dropped;
    /* progress, for the watchdog: advanced per event and per chunk of busy work (relaxed
     * stores by the owner, relaxed loads by the main thread: no lock on the hot path) */
    _Atomic uint64_t beat;
    _Atomic int state;           /* enum th_state */
    _Atomic int64_t state_since; /* ns since t0 */
    _Atomic int64_t idle_until;  /* != 0: in a planned wait */
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
    void *be_thread; /* the backend's own record of this thread (its pthread, its coroutine) */
};

/* A request to a peer that wants no answer (a send op). */
#define PEER_NO_ANSWER INT64_C(-1)

/* What differs between running threads for real and simulating them. The core (engine.c,
 * interp.c) only calls these hooks and never asks which backend it has: adding a backend is
 * one table and its file, like a policy. */
struct eng_backend {
    const char *name; /* "real", "virtual": the trace's run.engine */
    /* Threads given up on at the end (they did not stop) go on running: the engine's memory
     * is then left to them, never freed. False when nothing outlives the run. */
    bool threads_outlive_run;
    /* Sets the tick (eng->ns_per_tick, iters_per_tick) and eng->chunk_ticks, the most ticks
     * between two progress marks, before anything else. */
    void (*set_tick)(struct eng *eng);
    /* Optional: before the policy's init (the virtual engine redirects sync.h here, so that
     * the policy's hooks already see its locks) and, unless threads outlive the run, after
     * its destroy. Backend state goes in eng->backend_state. */
    int (*open)(struct eng *eng, struct err *e);
    void (*close)(struct eng *eng);
    /* Runs the prepared threads to the end of the run and fills res's stop fields
     * (stop_reason, stop_ns, elapsed_ns, interrupted, abandoned, report, setup_ns, start_utc).
     * Threads that could not be created leave rc != 0 with e set. */
    int (*run)(struct eng *eng, struct eng_result *res, struct err *e);
    /* Optional: what the trace's run object says of this engine beyond the shared keys (the
     * virtual machine); called after the run, the engine gone, with the run's options. */
    void (*describe)(const struct eng_options *o, json_t *run);
    /* Up to n ticks of interpreter work, each followed by a check point; stops early (after
     * at least one tick) when the GIL's pending word is non-zero. Returns the ticks done. */
    uint64_t (*ticks)(struct sim_thread *t, uint64_t n);
    /* ns of busy work without check points (native, hold). A stoppable one returns RUN_STOP
     * early when the run stops. */
    int (*busy)(struct sim_thread *t, int64_t ns, bool stoppable);
    /* Blocks until `until` (ns on the engine's clock, not since t0) or the stop: RUN_ON or
     * RUN_STOP. The watchdog counts it as a planned wait. */
    int (*block_until)(struct sim_thread *t, int64_t until);
    /* The pending word gained a bit. NULL: the threads see it at their next check point. */
    void (*pending_raised)(struct eng *eng);
    /* The thread's peer (io with "peer", send ops; only threads whose group uses_peer): sends
     * it a request to answer after ns, or PEER_NO_ANSWER; the peer spends the ns sleeping (a
     * timer, with its slack) or, with `works`, working on a core of its own. The call returns
     * at once (a short real send); RUN_STOP when the run ended. NULL: the backend runs no
     * peers (eng_run refuses such a workload). */
    int (*peer_send)(struct sim_thread *t, int64_t ns, bool works);
    /* Blocks until the peer's answer to the last request arrives (a real recv, woken by the
     * peer), or the stop. `until`: when the answer is due, for the watchdog. */
    int (*peer_recv)(struct sim_thread *t, int64_t until);
};

struct eng {
    const struct eng_options *o;
    const struct eng_backend *be;
    struct gil gil;
    struct sim_thread *threads;
    unsigned nthreads;
    unsigned iters_per_tick;
    double ns_per_tick;
    uint64_t chunk_ticks; /* most ticks between two progress marks */
    int64_t t0;           /* the engine's clock at the start: event times are relative */
    int64_t setup_start;  /* monotonic clock when set-up began (res->setup_ns) */
    /* guards go, live and ext_reason; raw pthreads, not sync.h, which a virtual run redirects
     * to simulated locks */
    pthread_mutex_t mutex;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool go;
    unsigned live;
    const char *ext_reason;     /* set by eng_ctl_stop or eng_fail_run */
    _Atomic bool ext_requested; /* the same, for a loop that does not wait on cond */
    char error[512];            /* eng_fail_run's message */
    void *backend_state;
    struct obj_world *objects; /* the workload's objects (objects.h); NULL: none */
};

/* Relaxed counters written only by their owner: a load and a store, no read-modify-write. */
static inline void counter_add(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}
static inline uint64_t counter_read(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static inline bool eng_stopping(const struct eng *eng)
{
    return atomic_load_explicit(&((struct eng *)eng)->gil.pending, memory_order_relaxed) &
           PENDING_STOP;
}

/* Recording: no lock, no allocation; a full buffer counts what it drops. Returns the event's
 * time (ns since t0), or NO_TIME without tracing. */
static inline int64_t eng_record(struct sim_thread *t, enum trace_ev ev, enum trace_reason reason,
                                 int64_t arg)
{
    if (t->cap == 0) { /* --no-trace: not even the clock is read, only what would have been */
        counter_add(&t->dropped, 1);
        counter_add(&t->beat, 1);
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
        counter_add(&t->dropped, 1);
    }
    counter_add(&t->beat, 1);
    return now;
}

static inline void eng_set_state(struct sim_thread *t, enum th_state st, int64_t since)
{
    atomic_store_explicit(&t->state_since, since, memory_order_relaxed);
    atomic_store_explicit(&t->state, (int)st, memory_order_relaxed);
}

/* interp.c: everything a workload thread does between its start gate and its end. */
void interp_thread_body(struct sim_thread *t);
/* interp.c, for objects.c: the GIL as a thread takes it (RUN_STOP: the run ended while it
 * waited, and it does not hold it) and gives it up, and n ticks of interpreter work holding
 * it (check points included: a policy may take it away meanwhile). */
int interp_acquire_gil(struct sim_thread *t);
void interp_release_gil(struct sim_thread *t, enum gil_reason why);
int interp_cpu(struct sim_thread *t, uint64_t n);
uint64_t interp_ns_to_ticks(const struct eng *eng, int64_t ns);

/* engine.c: the stop every end of a run takes (deadline, signal, stall): sets the STOP bit,
 * tells the backend, calls the policy's stop hook. Idempotent. */
void eng_stop_run(struct eng *eng);
/* engine.c: a text report of who holds and who waits, for a stall; malloc'd (NULL: out of
 * memory). `now` and `silent_ns` in ns since t0. */
char *eng_stall_report(struct eng *eng, const struct eng_result *res, int64_t now,
                       int64_t silent_ns, const char *why);
/* engine.c: appends a line to *report (best effort). */
void eng_report_append(char **report, const char *line);
/* engine.c: a workload thread ends the run with an error (misuse of an object): the stop
 * reason becomes "error" and the message (the first one) the report. Any thread. */
void eng_fail_run(struct eng *eng, const char *message);
/* engine.c: lets eng_ctl_stop reach this run (NULL: detach). */
void eng_ctl_attach(struct eng_ctl *c, struct eng *eng);
/* engine.c: res->abandoned threads (among the first `among`) did not stop: a report line
 * naming them (`what` says how they failed to), and the run is marked interrupted. */
void eng_report_abandoned(struct eng *eng, struct eng_result *res, unsigned among,
                          const char *what);

/* The backends (engine.c chooses one by eng_options.engine). */
extern const struct eng_backend eng_real_backend, eng_virtual_backend;

/* engine_real_peer.c: the real engine's peers, one thread each at the far end of a Unix socket
 * pair, for the threads whose group uses_peer. Started before the threads, shut down by the
 * stop (their blocking calls end), joined after. */
struct real_peers;
struct real_peer;
/* The real backend's record of a thread (sim_thread.be_thread). */
struct real_thread {
    pthread_t handle;
    struct real_peer *peer; /* uses_peer: its peer; else NULL */
    /* its schedstat (CPU time, run-queue wait) before its start gate and after its last op */
    int64_t on_cpu0, wait0, on_cpu1, wait1;
};
int real_peers_start(struct eng *eng, int stop_fd, struct real_peers **out, struct err *e);
void real_peers_shutdown(struct real_peers *p);
/* Joins the peer threads; closes the sockets unless `keep_fds` (threads left running). */
void real_peers_free(struct real_peers *p, bool keep_fds);
int real_peer_send(struct sim_thread *t, int64_t ns, bool works);
int real_peer_recv(struct sim_thread *t, int64_t until);

/* engine_real_check.c: the host around a real run (eng_host_check), read before the run
 * starts and after every thread ended, and by each thread of its own before its start gate and
 * after its last op: nothing on the hot path. */
struct real_host_snap {
    double load[3];
    int64_t cpus_busy_ns, self_cpu_ns;
    unsigned cpus;
};
void real_check_snap(struct real_host_snap *s);
/* The calling thread's CPU time and run-queue wait so far (/proc/thread-self/schedstat); -1
 * each when unreadable, or for a thread tid >= REAL_CHECK_THREADS (a few reads of a file per
 * thread: the first 1,024 threads say enough, and 10,000 threads start no slower). */
#define REAL_CHECK_THREADS 1024
void real_check_thread(int tid, int64_t *on_cpu_ns, int64_t *wait_ns);
/* res->host from the snapshots before and after the run and the joined threads' readings. */
void real_check_fill(struct eng *eng, struct eng_result *res, const struct real_host_snap *before,
                     const struct real_host_snap *after);

#endif
