/* policies/fifo.c - fair hand-off: waiters queue in arrival order; release hands the lock
 * straight to the head (ownership moves before the waiter wakes, so nobody barges in) and wakes
 * only that thread. A holder with waiters yields at its first check point after holding the
 * lock for interval_us (0: at every check point) and joins the tail.
 *
 * The interval is timed by the head waiter (a timed wait against the holder's start), not by
 * the holder, so the holder's check point stays one atomic load. */
#include "../sim/policy.h"
#include "queue.h"

struct fifo_waiter {
    struct sync_cond cond; /* signalled alone: only this thread waits on it */
    struct fifo_waiter *next;
    bool granted;
};

struct fifo_gil {
    struct sync_mutex mutex;
    struct fifo_waiter *head, *tail;
    struct sim_thread *holder; /* NULL: free */
    bool holder_running;       /* the holder has woken up and runs; its slice has begun */
    int64_t holder_since;      /* when that slice began */
    int64_t interval_ns;
};

static int fifo_init(struct gil *g, const struct gil_params *p)
{
    struct fifo_gil *s = gil_state(g);
    s->interval_ns = (int64_t)gil_param(p, "interval_us") * 1000;
    return 0;
}

/* Called with the mutex held by the head waiter: ask the holder to yield when its slice is
 * over. Returns the deadline to wait for, or 0 to wait untimed (for a grant or a new holder). */
static int64_t fifo_head_duty(struct gil *g, struct fifo_gil *s, struct sim_thread *self)
{
    if (!s->holder_running || gil_drop_requested(g)) return 0;
    int64_t deadline = s->holder_since + s->interval_ns;
    if (s->interval_ns > 0 && sync_now_ns() < deadline) return deadline;
    gil_request_drop(g);
    gil_record(self, TRACE_EV_DROP_REQUEST, gil_thread_id(s->holder));
    return 0;
}

static bool fifo_acquire(struct gil *g, struct sim_thread *self)
{
    struct fifo_gil *s = gil_state(g);
    struct fifo_waiter *w = gil_thread_data(self);
    sync_mutex_lock(&s->mutex);
    if (!s->holder && !s->head) {
        s->holder = self;
    } else {
        w->granted = false;
        QUEUE_APPEND(s->head, s->tail, w);
        while (!w->granted) {
            if (gil_stopping(g)) {
                QUEUE_UNLINK(s->head, s->tail, w, struct fifo_waiter);
                sync_mutex_unlock(&s->mutex);
                return false;
            }
            int64_t deadline = s->head == w ? fifo_head_duty(g, s, self) : 0;
            if (deadline == 0) {
                sync_cond_wait(&w->cond, &s->mutex);
            } else if (sync_cond_wait_until(&w->cond, &s->mutex, deadline) && !w->granted) {
                gil_record(self, TRACE_EV_WAIT_TIMEOUT, gil_thread_id(s->holder));
            }
        }
    }
    /* Our slice begins now; a request aimed at the previous holder is void. */
    s->holder_running = true;
    s->holder_since = sync_now_ns();
    if (gil_drop_requested(g)) gil_clear_drop(g);
    /* The head waiter times the new slice. */
    if (s->head) sync_cond_signal(&s->head->cond);
    sync_mutex_unlock(&s->mutex);
    return true;
}

static void fifo_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    (void)self;
    (void)why;
    struct fifo_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    /* After the stop nobody is handed the GIL: the waiters are leaving (fifo_stop woke them). */
    struct fifo_waiter *next = gil_stopping(g) ? NULL : s->head;
    s->holder_running = false;
    if (next) {
        s->head = next->next;
        if (!s->head) s->tail = NULL;
        s->holder = gil_thread_of(next);
        next->granted = true;
        sync_cond_signal(&next->cond);
    } else {
        s->holder = NULL;
    }
    sync_mutex_unlock(&s->mutex);
}

static void fifo_stop(struct gil *g)
{
    struct fifo_gil *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    for (struct fifo_waiter *w = s->head; w; w = w->next)
        sync_cond_signal(&w->cond);
    sync_mutex_unlock(&s->mutex);
}

static const struct gil_param fifo_params[] = {
    {"interval_us", "us", 5000, 0, 1e9, true,
     "a holder with waiters yields after holding the lock this long (0: at every check point)"},
    {NULL, NULL, 0, 0, 0, false, NULL},
};

const struct gil_policy gil_policy_fifo = {
    .name = "fifo",
    .summary = "fair FIFO hand-off: queue, direct hand-off to the head, yield after interval_us",
    .params = fifo_params,
    .state_size = sizeof(struct fifo_gil),
    .thread_size = sizeof(struct fifo_waiter),
    .init = fifo_init,
    .acquire = fifo_acquire,
    .release = fifo_release,
    .stop = fifo_stop,
};
