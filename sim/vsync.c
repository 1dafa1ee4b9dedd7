/* sim/vsync.c - sync.h for simulated threads: locks, conditions and the clock of a virtual-time
 * run. They behave as futex-based ones do: an uncontended lock or unlock costs nothing, a
 * contended lock sleeps, and an unlock or signal that wakes a sleeper costs the caller a futex
 * wake (futex_wake_us) while the woken thread takes a wake-up latency to run; a woken lock
 * waiter tries again and may lose to a thread that came by meanwhile, as with glibc. */
#include <stdio.h>
#include <stdlib.h>

#include "vt.h"

void vq_push(struct sync_vqueue *q, struct vt_thread *th)
{
    th->qnext = NULL;
    th->qprev = q->tail;
    if (q->tail)
        q->tail->qnext = th;
    else
        q->head = th;
    q->tail = th;
    th->wq = q;
}

void vq_remove(struct sync_vqueue *q, struct vt_thread *th)
{
    if (th->qprev)
        th->qprev->qnext = th->qnext;
    else
        q->head = th->qnext;
    if (th->qnext)
        th->qnext->qprev = th->qprev;
    else
        q->tail = th->qprev;
    th->qnext = th->qprev = NULL;
    th->wq = NULL;
}

struct vt_thread *vq_pop(struct sync_vqueue *q)
{
    struct vt_thread *th = q->head;
    if (th) vq_remove(q, th);
    return th;
}

/* A lock taken by the scheduler itself (policy hooks before and after the simulation) must be
 * free: nothing else runs then. */
static void must_not_block(struct vt_run *r, const char *what)
{
    if (r->current) return;
    fprintf(stderr, "gilsim: virtual engine: %s outside a simulated thread would block\n", what);
    abort();
}

void vsync_mutex_lock(struct vt_run *r, struct sync_mutex *mx)
{
    struct vt_thread *self = vt_self(r);
    while (mx->v.owner) {
        must_not_block(r, "a contended lock");
        vq_push(&mx->v.waiters, self);
        vt_block(r);
    }
    mx->v.owner = self;
    vt_spend(r, r->m.lock_ns);
}

/* Frees the lock and wakes its first waiter; `charge`: the caller pays the futex wake. */
static void unlock(struct vt_run *r, struct sync_mutex *mx, bool charge)
{
    mx->v.owner = NULL;
    struct vt_thread *w = mx->v.waiters.head;
    if (!w) {
        if (charge) vt_spend(r, r->m.lock_ns);
        return;
    }
    int64_t cost = vt_wake(r, w);
    if (charge) vt_spend(r, cost);
}

void vsync_mutex_unlock(struct vt_run *r, struct sync_mutex *mx)
{
    unlock(r, mx, true);
}

void vsync_cond_signal(struct vt_run *r, struct sync_cond *cv)
{
    struct vt_thread *w = cv->v.head;
    if (!w) {
        vt_note_still(r);
        return;
    }
    w->signalled = true;
    vt_spend(r, vt_wake(r, w));
}

void vsync_cond_broadcast(struct vt_run *r, struct sync_cond *cv)
{
    int64_t cost = 0;
    struct vt_thread *w;
    while ((w = cv->v.head)) {
        w->signalled = true;
        cost += vt_wake(r, w);
    }
    if (cost)
        vt_spend(r, cost);
    else
        vt_note_still(r);
}

bool vsync_cond_wait_until(struct vt_run *r, struct sync_cond *cv, struct sync_mutex *mx,
                           int64_t deadline_ns)
{
    struct vt_thread *self = vt_self(r);
    /* A deadline already past: pthread_cond_clockwait returns at once. */
    if (deadline_ns != INT64_MAX && deadline_ns <= r->now) {
        vt_note_still(r);
        return true;
    }
    must_not_block(r, "a condition wait");
    self->signalled = false;
    vq_push(&cv->v, self);
    /* The caller is about to sleep: the wake of a lock waiter costs it nothing that matters. */
    unlock(r, mx, false);
    if (deadline_ns != INT64_MAX) {
        int64_t fire = deadline_ns > INT64_MAX - r->m.timer_slack_ns
                           ? INT64_MAX
                           : deadline_ns + r->m.timer_slack_ns;
        vt_set_timer(r, self, fire);
    }
    vt_block(r);
    bool timed_out = !self->signalled;
    vsync_mutex_lock(r, mx);
    return timed_out;
}

int64_t vsync_now(struct vt_run *r)
{
    int64_t t = r->now;
    if (r->current && r->m.clock_read_ns > 0)
        vt_spend(r, r->m.clock_read_ns);
    else
        vt_note_still(r);
    return t;
}
