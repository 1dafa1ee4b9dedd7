/* sim/vsync.c - sync.h for simulated threads: locks, conditions and the clock of a virtual-time
 * run. They behave as futex-based ones do: an uncontended lock or unlock costs nothing, a
 * contended lock sleeps, and an unlock or signal that wakes a sleeper costs the caller a futex
 * wake (futex_wake_us) while the woken thread takes a wake-up latency to run; a woken lock
 * waiter tries again and may lose to a thread that came by meanwhile, as with glibc. */
#include <stdio.h>
#include <stdlib.h>

#include "vt.h"

/* What a simulated lock and condition keep in sync.h's room for a redirect (zeroed: free, no
 * waiters). */
struct vt_mutex {
    struct vt_thread *owner;
    struct vt_queue waiters;
};
_Static_assert(sizeof(struct vt_mutex) <= sizeof(((struct sync_mutex *)0)->redirected),
               "a simulated mutex fits sync_mutex's room");
_Static_assert(sizeof(struct vt_queue) <= sizeof(((struct sync_cond *)0)->redirected),
               "a simulated condition fits sync_cond's room");

static struct vt_mutex *vmutex(struct sync_mutex *mx)
{
    return (struct vt_mutex *)(void *)mx->redirected;
}

static struct vt_queue *vcond(struct sync_cond *cv)
{
    return (struct vt_queue *)(void *)cv->redirected;
}

/* th goes into q before `next` (NULL: at the tail). */
static void vq_insert(struct vt_queue *q, struct vt_thread *th, struct vt_thread *next)
{
    th->qnext = next;
    th->qprev = next ? next->qprev : q->tail;
    if (th->qprev)
        th->qprev->qnext = th;
    else
        q->head = th;
    if (next)
        next->qprev = th;
    else
        q->tail = th;
    th->wq = q;
}

void vq_push(struct vt_queue *q, struct vt_thread *th)
{
    vq_insert(q, th, NULL);
}

void vq_push_front(struct vt_queue *q, struct vt_thread *th)
{
    vq_insert(q, th, q->head);
}

void vq_remove(struct vt_queue *q, struct vt_thread *th)
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

struct vt_thread *vq_pop(struct vt_queue *q)
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

static void mutex_lock(void *ctx, struct sync_mutex *smx)
{
    struct vt_run *r = ctx;
    struct vt_mutex *mx = vmutex(smx);
    struct vt_thread *self = vt_self(r);
    while (mx->owner) {
        must_not_block(r, "a contended lock");
        vq_push(&mx->waiters, self);
        vt_block(r);
    }
    mx->owner = self;
    vt_spend(r, r->m.lock_ns);
}

/* Frees the lock and wakes its first waiter; `charge`: the caller pays the futex wake. */
static void unlock(struct vt_run *r, struct sync_mutex *smx, bool charge)
{
    struct vt_mutex *mx = vmutex(smx);
    mx->owner = NULL;
    struct vt_thread *w = mx->waiters.head;
    if (!w) {
        if (charge) vt_spend(r, r->m.lock_ns);
        return;
    }
    int64_t cost = vt_wake(r, w);
    if (charge) vt_spend(r, cost);
}

static void mutex_unlock(void *ctx, struct sync_mutex *mx)
{
    unlock(ctx, mx, true);
}

static void cond_signal(void *ctx, struct sync_cond *cv)
{
    struct vt_run *r = ctx;
    struct vt_thread *w = vcond(cv)->head;
    if (!w) {
        vt_note_still(r);
        return;
    }
    w->signalled = true;
    vt_spend(r, vt_wake(r, w));
}

static void cond_broadcast(void *ctx, struct sync_cond *cv)
{
    struct vt_run *r = ctx;
    int64_t cost = 0;
    struct vt_thread *w;
    while ((w = vcond(cv)->head)) {
        w->signalled = true;
        cost += vt_wake(r, w);
    }
    if (cost)
        vt_spend(r, cost);
    else
        vt_note_still(r);
}

static bool cond_wait_until(void *ctx, struct sync_cond *cv, struct sync_mutex *mx,
                            int64_t deadline_ns)
{
    struct vt_run *r = ctx;
    struct vt_thread *self = vt_self(r);
    /* A deadline already past: pthread_cond_clockwait returns at once. */
    if (deadline_ns != INT64_MAX && deadline_ns <= r->now) {
        vt_note_still(r);
        return true;
    }
    must_not_block(r, "a condition wait");
    self->signalled = false;
    vq_push(vcond(cv), self);
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
    mutex_lock(r, mx);
    return timed_out;
}

static int64_t now_ns(void *ctx)
{
    struct vt_run *r = ctx;
    int64_t t = r->now;
    if (r->current && r->m.clock_read_ns > 0)
        vt_spend(r, r->m.clock_read_ns);
    else
        vt_note_still(r);
    return t;
}

void vsync_install(struct vt_run *r)
{
    if (!r) {
        sync_redirect_set(NULL);
        return;
    }
    r->redirect = (struct sync_redirect){
        .ctx = r,
        .mutex_lock = mutex_lock,
        .mutex_unlock = mutex_unlock,
        .cond_signal = cond_signal,
        .cond_broadcast = cond_broadcast,
        .cond_wait_until = cond_wait_until,
        .now_ns = now_ns,
    };
    sync_redirect_set(&r->redirect);
}
