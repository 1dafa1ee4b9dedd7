/* policies/forced_switch.h - CPython's forced switching (FORCE_SWITCHING in ceval_gil.c), for
 * the policies built on it (new, prio): who took the GIL last, how often the holder changed,
 * a waiter's interval wait that asks the holder to drop, and the wait of a thread that dropped
 * the GIL on request until another thread has taken it.
 *
 * last_holder and switch_number change in forced_switch_taken, which the policy calls with its
 * own GIL mutex held, so waiters read them under that mutex. */
#ifndef GILSIM_FORCED_SWITCH_H
#define GILSIM_FORCED_SWITCH_H

#include "../sim/policy.h"

struct forced_switch {
    struct sync_mutex mutex; /* taken before last_holder changes, so no taker is missed */
    struct sync_cond cond;
    bool on;                /* the force_switching parameter */
    int last_holder;        /* tid, GIL_NO_THREAD before the first acquire */
    uint64_t switch_number; /* changes of holder, not acquires (as ceval_gil.c) */
};

/* The force_switching parameter, for the parameter tables of the policies built on this. */
#define FORCED_SWITCH_PARAM                                                                        \
    {                                                                                              \
        "force_switching", "bool", 1, 0, 1, true,                                                  \
            "1: a thread that drops on request waits until another thread has taken the GIL"       \
    }

/* f is zeroed (part of the policy's state); its mutex and condition need no set-up. */
static inline void forced_switch_setup(struct forced_switch *f, bool on)
{
    f->on = on;
    f->last_holder = GIL_NO_THREAD;
}

/* take_gil's end: tid now holds the GIL. Wakes a thread waiting in forced_switch_after_drop. */
static inline void forced_switch_taken(struct forced_switch *f, int tid)
{
    if (f->on) sync_mutex_lock(&f->mutex);
    if (f->last_holder != tid) {
        f->last_holder = tid;
        f->switch_number++;
    }
    if (f->on) {
        sync_cond_signal(&f->cond);
        sync_mutex_unlock(&f->mutex);
    }
}

/* drop_gil's end, after the GIL was released: whatever the reason for the drop, if a drop
 * request is pending, do not run on (and perhaps take the GIL straight back) until somebody
 * else has taken it. Like CPython, wait once, not in a loop. */
static inline void forced_switch_after_drop(struct forced_switch *f, struct gil *g,
                                            struct sim_thread *self)
{
    if (!f->on || !gil_drop_requested(g)) return;
    sync_mutex_lock(&f->mutex);
    if (f->last_holder == gil_thread_id(self) && !gil_stopping(g)) {
        gil_clear_drop(g);
        gil_record(self, TRACE_EV_FORCE_WAIT_BEGIN, TRACE_NO_ARG);
        sync_cond_wait(&f->cond, &f->mutex);
        gil_record(self, TRACE_EV_FORCE_WAIT_END, TRACE_NO_ARG);
    }
    sync_mutex_unlock(&f->mutex);
}

/* take_gil's wait, with the policy's mutex mx held and the GIL taken (*locked): one interval
 * on cv. When a whole interval passed and the same thread still holds, ask it to drop (once);
 * a wake-up that finds the GIL taken anyway is a failed one. The caller loops. */
static inline void forced_switch_wait_interval(struct forced_switch *f, struct gil *g,
                                               struct sim_thread *self, struct sync_cond *cv,
                                               struct sync_mutex *mx, int64_t interval_ns,
                                               const bool *locked)
{
    uint64_t saved_switch = f->switch_number;
    bool timed_out = sync_cond_wait_until(cv, mx, sync_now_ns() + interval_ns);
    if (timed_out && *locked && f->switch_number == saved_switch) {
        gil_record(self, TRACE_EV_WAIT_TIMEOUT, f->last_holder);
        if (!gil_drop_requested(g)) {
            gil_request_drop(g);
            gil_record(self, TRACE_EV_DROP_REQUEST, f->last_holder);
        }
    } else if (!timed_out && *locked) {
        gil_record(self, TRACE_EV_WAKEUP_FAILED, f->last_holder);
    }
}

/* The run is ending: nobody waits for a switch any more. */
static inline void forced_switch_stop(struct forced_switch *f)
{
    sync_mutex_lock(&f->mutex);
    sync_cond_broadcast(&f->cond);
    sync_mutex_unlock(&f->mutex);
}

#endif
