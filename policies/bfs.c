/* policies/bfs.c - Nir Aides' BFS-style GIL for bpo-7946 ("Python needs a scheduler, not a
 * lock"): every thread has a virtual run time, the time it has held the GIL. Waiters queue in
 * order of virtual run time (ties: arrival) and release hands the GIL straight to the one with
 * the least. A waking thread (starting, or back from I/O, a sleep or native code) that asks
 * for the GIL with less virtual time than the holder has now preempts it: the drop request is
 * set at once. A holder with waiters yields at its first
 * check point after holding the GIL for interval_us (0: at every check point).
 *
 * A thread that comes back after a long wait (I/O, sleep, a late start) has its virtual time
 * raised to at least one interval below the last granted thread's, like CFS's min_vruntime:
 * it keeps its priority but cannot run for seconds while "catching up" on time it spent
 * blocked. As in fifo.c, the next waiter (the queue's head) times the slice, so the holder's
 * check point stays one atomic load. */
#include "../sim/policy.h"

struct bfs_thread {
    struct sync_cond cond;   /* signalled alone: only this thread waits on it */
    struct bfs_thread *next; /* in the wait queue */
    int64_t vruntime;        /* ns holding the GIL, adjusted on request (see above) */
    uint64_t arrival;        /* request number: orders equal virtual times */
    bool yielded;            /* its last slice ended by a drop request: it does not preempt
                              * (else it is starting, or back from blocking: it may) */
    bool granted;
};

struct bfs_gil {
    struct sync_mutex mutex;
    struct bfs_thread *head; /* waiters, ascending (vruntime, arrival) */
    struct bfs_thread *holder;
    bool holder_running; /* the holder has woken up and runs; its slice has begun */
    int64_t holder_since;
    int64_t floor; /* the largest vruntime a thread had when it was granted the GIL */
    uint64_t arrivals;
    int64_t interval_ns;
};

static int bfs_init(struct gil *g, const struct gil_params *p)
{
    struct bfs_gil *s = gil_state(g);
    s->interval_ns = (int64_t)gil_param(p, "interval_us") * 1000;
    return 0;
}

static bool bfs_before(const struct bfs_thread *a, const struct bfs_thread *b)
{
    return a->vruntime < b->vruntime || (a->vruntime == b->vruntime && a->arrival < b->arrival);
}

static void bfs_insert(struct bfs_gil *s, struct bfs_thread *w)
{
    struct bfs_thread **link = &s->head;
    while (*link && !bfs_before(w, *link))
        link = &(*link)->next;
    w->next = *link;
    *link = w;
}

static void bfs_unlink(struct bfs_gil *s, struct bfs_thread *w)
{
    for (struct bfs_thread **link = &s->head; *link; link = &(*link)->next)
        if (*link == w) {
            *link = w->next;
            return;
        }
}

/* The holder's virtual run time as of now, counting its current slice. */
static int64_t bfs_holder_vruntime(const struct bfs_gil *s, int64_t now)
{
    return s->holder->vruntime + (s->holder_running ? now - s->holder_since : 0);
}

/* Called with the mutex held by the head waiter: asks the holder to yield when its slice is
 * over. Returns the deadline to wait for, or 0 to wait untimed (for a grant or a new holder). */
static int64_t bfs_head_duty(struct gil *g, struct bfs_gil *s, struct sim_thread *self)
{
    if (!s->holder_running || gil_drop_requested(g)) return 0;
    int64_t deadline = s->holder_since + s->interval_ns;
    if (s->interval_ns > 0 && sync_now_ns() < deadline) return deadline;
    gil_request_drop(g);
    gil_record(self, TRACE_EV_DROP_REQUEST, gil_thread_id(gil_thread_of(s->holder)));
    return 0;
}

static bool bfs_acquire(struct gil *g, struct sim_thread *self)
{
    struct bfs_gil *s = gil_state(g);
    struct bfs_thread *w = gil_thread_data(self);
    sync_mutex_lock(&s->mutex);
    int64_t now = sync_now_ns();
    if (w->vruntime < s->floor - s->interval_ns) w->vruntime = s->floor - s->interval_ns;
    if (!s->holder && !s->head) {
        s->holder = w;
    } else {
        /* A waking thread that has run less than the holder preempts it. One that has just
         * yielded does not: its virtual time is about the new holder's, and preempting on such
         * near-ties would cut slices at random. */
        if (!w->yielded && s->holder && !gil_drop_requested(g) &&
            w->vruntime < bfs_holder_vruntime(s, now)) {
            gil_request_drop(g);
            gil_record(self, TRACE_EV_DROP_REQUEST, gil_thread_id(gil_thread_of(s->holder)));
        }
        w->granted = false;
        w->arrival = s->arrivals++;
        bfs_insert(s, w);
        while (!w->granted) {
            if (gil_stopping(g)) {
                bfs_unlink(s, w);
                sync_mutex_unlock(&s->mutex);
                return false;
            }
            int64_t deadline = s->head == w ? bfs_head_duty(g, s, self) : 0;
            if (deadline == 0) {
                sync_cond_wait(&w->cond, &s->mutex);
            } else if (sync_cond_wait_until(&w->cond, &s->mutex, deadline) && !w->granted) {
                /* no holder only after the stop, when release hands out nothing */
                gil_record(self, TRACE_EV_WAIT_TIMEOUT,
                           s->holder ? gil_thread_id(gil_thread_of(s->holder)) : GIL_NO_THREAD);
            }
        }
    }
    s->holder_running = true;
    s->holder_since = sync_now_ns();
    if (w->vruntime > s->floor) s->floor = w->vruntime;
    /* The drop bit is not cleared here: release cleared the previous holder's, so a set bit is
     * a preemption aimed at us by a thread that asked while we were being woken. */
    if (s->head) sync_cond_signal(&s->head->cond); /* the head times the new slice */
    sync_mutex_unlock(&s->mutex);
    return true;
}

static void bfs_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    struct bfs_gil *s = gil_state(g);
    struct bfs_thread *w = gil_thread_data(self);
    sync_mutex_lock(&s->mutex);
    w->yielded = why == GIL_REASON_DROP_REQUEST;
    if (s->holder_running) w->vruntime += sync_now_ns() - s->holder_since;
    s->holder_running = false;
    /* Whatever asked this holder to drop is settled now. */
    if (gil_drop_requested(g)) gil_clear_drop(g);
    /* After the stop nobody is handed the GIL: the waiters are leaving (bfs_stop woke them). */
    struct bfs_thread *next = gil_stopping(g) ? NULL : s->head;
    if (next) {
        s->head = next->next;
        s->holder = next;
        next->granted = true;
        sync_cond_signal(&next->cond);
    } else {
        s->holder = NULL;
    }
    sync_mutex_unlock(&s->mutex);
}

static void bfs_stop(struct gil *g)
{
    struct bfs_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    for (struct bfs_thread *w = s->head; w; w = w->next)
        sync_cond_signal(&w->cond);
    sync_mutex_unlock(&s->mutex);
}

static const struct gil_param bfs_params[] = {
    {"interval_us", "us", 5000, 0, 1e9, true,
     "longest slice while others wait (0: yield at every check point); also the most virtual "
     "time a returning thread is credited below the last granted thread"},
    {NULL, NULL, 0, 0, 0, false, NULL},
};

const struct gil_policy gil_policy_bfs = {
    .name = "bfs",
    .summary = "Nir Aides' BFS GIL (bpo-7946): least virtual run time runs next, waking threads "
               "preempt",
    .params = bfs_params,
    .state_size = sizeof(struct bfs_gil),
    .thread_size = sizeof(struct bfs_thread),
    .init = bfs_init,
    .acquire = bfs_acquire,
    .release = bfs_release,
    .stop = bfs_stop,
};
