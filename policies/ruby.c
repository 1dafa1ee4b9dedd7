/* policies/ruby.c - Ruby's GVL as in CRuby 2.6-3.2's thread_pthread.c (gvl_acquire_common,
 * gvl_release_common, gvl_yield, do_gvl_timer):
 *
 * - A thread that finds the GVL held joins the tail of a FIFO wait queue. Release frees the
 *   GVL and signals the head, which takes it when it runs; a thread asking while the GVL is
 *   free takes it at once, ahead of the queue, as in Ruby (so a woken head can find it taken:
 *   `wakeup_failed`).
 * - The timer is a waiter, as Ruby's designated timer thread: the queue's head waits until the
 *   holder's quantum (quantum_us, 100 ms, from when it took the GVL) is over, then asks it to
 *   yield (the drop request: Ruby's timer interrupt). Nobody times anything when nobody waits.
 * - The holder yields at its next check point: it releases, waits until another thread has
 *   taken the GVL (force_wait_begin/end), then asks again and so goes to the tail.
 *
 * Ruby shares one timer deadline among its successive timer waiters; here the quantum is the
 * holder's own, so that a late-woken timer cannot leave a stale deadline that cuts the next
 * holder's quantum short (docs/policies.md). The holder's check point stays one atomic load. */
#include "../sim/policy.h"
#include "queue.h"

struct ruby_thread {
    struct sync_cond cond;    /* signalled alone: only this thread waits on it */
    struct ruby_thread *next; /* in the wait queue */
    bool signalled;           /* woken by a release (not to take over the timer) */
};

struct ruby_gvl {
    struct sync_mutex mutex;
    struct sync_cond switch_cond; /* a yielding holder waits here for the next acquire */
    struct ruby_thread *owner;    /* NULL: free */
    int64_t owner_since;          /* when the owner took the GVL: its quantum began */
    struct ruby_thread *head, *tail;
    uint64_t acquires; /* a yielding holder waits for this to change */
    int64_t quantum_ns;
};

static int ruby_init(struct gil *g, const struct gil_params *p)
{
    struct ruby_gvl *s = gil_state(g);
    s->quantum_ns = (int64_t)gil_param(p, "quantum_us") * 1000;
    return 0;
}

/* The timer (do_gvl_timer), run by the head waiter with the mutex held: when the owner's
 * quantum is over, ask it to yield. Returns the deadline to wait for, or 0 to wait untimed (for
 * the GVL, or for a new owner whose quantum to time). */
static int64_t ruby_timer_duty(struct gil *g, struct ruby_gvl *s, struct ruby_thread *w)
{
    if (!s->owner || gil_drop_requested(g)) return 0;
    int64_t deadline = s->owner_since + s->quantum_ns;
    if (sync_now_ns() < deadline) return deadline;
    int holder = gil_thread_id(gil_thread_of(s->owner));
    gil_record(gil_thread_of(w), TRACE_EV_WAIT_TIMEOUT, holder);
    gil_request_drop(g);
    gil_record(gil_thread_of(w), TRACE_EV_DROP_REQUEST, holder);
    return 0;
}

static bool ruby_acquire(struct gil *g, struct sim_thread *self)
{
    struct ruby_gvl *s = gil_state(g);
    struct ruby_thread *w = gil_thread_data(self);
    sync_mutex_lock(&s->mutex);
    if (s->owner) {
        QUEUE_APPEND(s->head, s->tail, w);
        while (s->owner || gil_stopping(g)) {
            if (gil_stopping(g)) {
                QUEUE_UNLINK(s->head, s->tail, w, struct ruby_thread);
                sync_mutex_unlock(&s->mutex);
                return false;
            }
            w->signalled = false;
            int64_t deadline = s->head == w ? ruby_timer_duty(g, s, w) : 0;
            if (deadline == 0)
                sync_cond_wait(&w->cond, &s->mutex);
            else
                sync_cond_wait_until(&w->cond, &s->mutex, deadline);
            if (w->signalled && s->owner)
                gil_record(self, TRACE_EV_WAKEUP_FAILED, gil_thread_id(gil_thread_of(s->owner)));
        }
        QUEUE_UNLINK(s->head, s->tail, w, struct ruby_thread);
    }
    s->owner = w;
    s->owner_since = sync_now_ns();
    s->acquires++;
    sync_cond_broadcast(&s->switch_cond); /* a yielding holder may go on */
    /* A yield request aimed at the previous holder is void now. */
    if (gil_drop_requested(g)) gil_clear_drop(g);
    /* The head times our quantum (Ruby's designate_timer_thread). */
    if (s->head) sync_cond_signal(&s->head->cond);
    sync_mutex_unlock(&s->mutex);
    return true;
}

static void ruby_release(struct gil *g, struct sim_thread *self, enum gil_reason why)
{
    struct ruby_gvl *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    s->owner = NULL;
    bool waiters = s->head != NULL;
    if (waiters) {
        s->head->signalled = true;
        sync_cond_signal(&s->head->cond);
    }
    /* gvl_yield: asked to yield, wait until somebody else has the GVL, so that we cannot take
     * it straight back; then the engine asks again and we queue at the tail. */
    if (why == GIL_REASON_DROP_REQUEST && waiters && !gil_stopping(g)) {
        uint64_t seen = s->acquires;
        gil_record(self, TRACE_EV_FORCE_WAIT_BEGIN, TRACE_NO_ARG);
        while (s->acquires == seen && !gil_stopping(g))
            sync_cond_wait(&s->switch_cond, &s->mutex);
        gil_record(self, TRACE_EV_FORCE_WAIT_END, TRACE_NO_ARG);
    }
    sync_mutex_unlock(&s->mutex);
}

static void ruby_stop(struct gil *g)
{
    struct ruby_gvl *s = gil_state(g);
    sync_mutex_lock(&s->mutex);
    for (struct ruby_thread *w = s->head; w; w = w->next)
        sync_cond_signal(&w->cond);
    sync_cond_broadcast(&s->switch_cond);
    sync_mutex_unlock(&s->mutex);
}

static const struct gil_param ruby_params[] = {
    {"quantum_us", "us", 100000, 1, 1e9, true,
     "time quantum: the waiter timing it asks the holder to yield when it is over "
     "(TIME_QUANTUM_USEC)"},
    {NULL, NULL, 0, 0, 0, false, NULL},
};

const struct gil_policy gil_policy_ruby = {
    .name = "ruby",
    .summary = "Ruby's GVL: FIFO queue, a waiter times quantum_us and asks the holder to yield "
               "to the queue",
    .params = ruby_params,
    .state_size = sizeof(struct ruby_gvl),
    .thread_size = sizeof(struct ruby_thread),
    .init = ruby_init,
    .acquire = ruby_acquire,
    .release = ruby_release,
    .stop = ruby_stop,
};
