/* sim/vt.h - the virtual-time engine's internals, shared by engine_virtual.c (the scheduler:
 * simulated threads on modelled cores, the event queue, the backend) and vsync.c (sync.h's
 * locks, conditions and clock for simulated threads).
 *
 * Everything runs on one OS thread: the scheduler pops the earliest event and resumes the
 * simulated thread it concerns; that thread runs the ordinary op interpreter and policy code
 * (taking no time) until it spends time (busy work, a clock read, the cost of a wake-up) or
 * blocks, and then yields back. Time advances only from event to event. Ties are broken by
 * the order in which events were scheduled, so a run depends on nothing but its inputs. */
#ifndef GILSIM_VT_H
#define GILSIM_VT_H

#include <stdbool.h>
#include <stdint.h>

#include "coro.h"
#include "engine_internal.h"
#include "machine.h"

/* A queue of simulated threads (a lock's or a condition's waiters, the ready queue): FIFO. */
struct vt_queue {
    struct vt_thread *head, *tail;
};

enum vt_where {
    VT_NEW,     /* not started */
    VT_ONCORE,  /* has a core: waking up, switching in, or running */
    VT_READY,   /* runnable, waiting for a core */
    VT_BLOCKED, /* on a lock, a condition, a timer */
    VT_DONE,
};

enum vt_event { VT_EV_NONE, VT_EV_RESUME, VT_EV_TIMER, VT_EV_TICK, VT_EV_DEADLINE };

struct vt_thread {
    struct vt_run *run;
    struct sim_thread *st; /* NULL: the run's main thread (the stop) or an event slot */
    struct coro *co;
    int id;
    enum vt_where where;
    int core; /* while on a core, that core; else the last one (-1: none yet) */
    /* On a core its CPU work runs from start_at for work_left ns; then it is resumed. */
    int64_t start_at, work_left;
    /* The busy op in progress: pending bits that cut it short, at the next multiple of grain
     * ns of work done (a tick), and the work done and planned so far. */
    unsigned cut_on;
    int64_t grain, work_total, work_done;
    bool was_cut;
    bool preempt_pending; /* a woken thread takes this core when it next spends time */
    /* blocked: on a queue (a mutex's or a condition's), a timer, or both */
    struct vt_queue *wq;
    struct vt_thread *qnext, *qprev; /* in wq or in the ready queue */
    bool signalled;                  /* a condition wait ended by a signal, not the timer */
    bool planned;                    /* a planned wait (io, sleep, start): the stop ends it */
    bool stopped_wait;               /* ... and it did */
    /* its one pending event */
    enum vt_event ev;
    int64_t ev_t;
    uint64_t ev_seq;
    int heap_pos; /* -1: not queued */
    /* in the run's list of threads whose busy work a pending bit may cut */
    struct vt_thread *cnext, *cprev;
    bool cuttable;
    /* its peer (io with "peer", send): when the answer arrives (INT64_MIN: none pending) and
     * when it last answered (how long the peer has slept, for its wake-up) */
    int64_t peer_answer_at, peer_last;
};

struct vt_core {
    struct vt_thread *cur;
    int64_t since;      /* when cur got the core */
    int64_t idle_since; /* when it went idle */
    int idle_prev, idle_next;
    bool idle;
};

struct vt_run {
    struct eng *eng;
    struct mach_model m;
    int64_t now;
    uint64_t seq;
    unsigned n;                /* workload threads */
    struct vt_thread *threads; /* n workload threads, then main, tick, deadline */
    struct vt_thread *main, *tick, *deadline;
    struct vt_thread *current; /* the simulated thread running now; NULL: the scheduler */
    struct vt_core *cores;
    struct coro_set *coros; /* the stacks of threads and main */
    int idle_head;          /* the most recently idled core; -1: none idle */
    struct vt_queue ready;
    struct vt_thread **heap;
    int heap_len;
    unsigned thread_events;     /* queued events of workload threads */
    struct vt_thread *cuttable; /* head of the list */
    uint64_t rng[4];
    uint64_t steps;                /* events processed */
    uint64_t still_steps;          /* events processed since the clock last moved */
    unsigned live;                 /* workload threads not done */
    struct sync_redirect redirect; /* sync.h on this OS thread while the run lasts */
    bool stalled;                  /* virtual time stopped advancing */
};

/* engine_virtual.c, for vsync.c */
/* The running simulated thread spends ns of CPU that nothing cuts short. */
void vt_spend(struct vt_run *r, int64_t ns);
/* The running simulated thread leaves its core and sleeps until vt_wake. */
void vt_block(struct vt_run *r);
/* A blocked thread becomes runnable now: off its queue and timer, onto a core or the ready
 * queue. Returns what the wake costs the waker (0: it was not blocked). */
int64_t vt_wake(struct vt_run *r, struct vt_thread *th);
/* Its timer (a timed wait's deadline, already with the timer slack) fires at t. */
void vt_set_timer(struct vt_run *r, struct vt_thread *th, int64_t t);
/* The thread running now, or the main thread when the scheduler itself calls (policy hooks
 * run before and after the simulation). */
struct vt_thread *vt_self(struct vt_run *r);
/* Counts an operation that did not advance the clock; after too many in a row the run is
 * declared stalled and the running thread is parked for good. */
void vt_note_still(struct vt_run *r);

/* vsync.c: thread queues */
void vq_push(struct vt_queue *q, struct vt_thread *th);
void vq_push_front(struct vt_queue *q, struct vt_thread *th);
struct vt_thread *vq_pop(struct vt_queue *q);
void vq_remove(struct vt_queue *q, struct vt_thread *th);
/* vsync.c: sync.h's calls on this OS thread go to r's simulated locks and clock (NULL: back
 * to pthreads). */
void vsync_install(struct vt_run *r);

#endif
