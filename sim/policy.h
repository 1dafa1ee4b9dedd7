/* sim/policy.h - the GIL policy contract: what a policy file in policies/ implements and the
 * only engine services it may call (with sim/sync.h). A policy is one `const struct gil_policy`
 * table; the engine never knows which policy it runs, nor which engine runs it: the same file
 * runs on real threads (--engine real) and on simulated ones in virtual time (--engine
 * virtual), because a policy uses only sync.h for locks, conditions and the clock.
 *
 * Each member of struct gil_policy says who calls it, from which thread, holding what, and
 * whether it is optional. What a policy records: its own decisions, with gil_record from the
 * thread that made them: drop_request (holder's tid), wait_timeout, wakeup_failed,
 * force_wait_begin/end. The engine records everything every policy shares (request, acquire,
 * release, thread and op events).
 *
 * The check point is the hot path: one relaxed atomic load of the pending word per tick and,
 * only when a budget is armed, a counter. Policies keep it cheap by setting the drop bit only
 * when the holder must act (gil_request_drop), from whichever thread decides so.
 *
 * Threads, locks and time: a policy blocks, wakes and reads the clock only through sync.h
 * (sync_mutex, sync_cond, sync_now_ns) and keeps its state only in gil_state and
 * gil_thread_data. The rule is what lets one file run on both engines: on the OS thread that
 * simulates a virtual run, the engine redirects every sync.h call to simulated locks and
 * virtual time (sync.h says how), so a pthread call, clock_gettime, a sleep, a spin on a
 * real clock or a static or thread-local variable of the policy's own would escape the model
 * (and several virtual runs may go on at once, one per OS thread). tools/check-layers keeps
 * policies to the headers they may include. */
#ifndef GILSIM_POLICY_H
#define GILSIM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync.h"
#include "../common/trace_events.h"

struct gil;        /* one per run, owned by the engine */
struct sim_thread; /* one per workload thread, owned by the engine */

enum gil_reason {
    GIL_REASON_NONE = TRACE_REASON_NONE,
    GIL_REASON_CHECK = TRACE_REASON_CHECK,               /* periodic release (old) */
    GIL_REASON_DROP_REQUEST = TRACE_REASON_DROP_REQUEST, /* asked to by a waiter */
    GIL_REASON_IO = TRACE_REASON_IO,
    GIL_REASON_SEND = TRACE_REASON_SEND, /* a short call that returns at once (send) */
    GIL_REASON_SLEEP = TRACE_REASON_SLEEP,
    GIL_REASON_NATIVE = TRACE_REASON_NATIVE,
    GIL_REASON_ARRIVAL = TRACE_REASON_ARRIVAL, /* a serve thread waits for its next request */
    GIL_REASON_EXIT = TRACE_REASON_EXIT,
    GIL_REASON_DEADLINE = TRACE_REASON_DEADLINE,
    /* blocks on a workload object (a lock, a queue, ...): the object's type */
    GIL_REASON_LOCK = TRACE_REASON_LOCK,
    GIL_REASON_SEMAPHORE = TRACE_REASON_SEMAPHORE,
    GIL_REASON_CONDITION = TRACE_REASON_CONDITION,
    GIL_REASON_EVENT = TRACE_REASON_EVENT,
    GIL_REASON_QUEUE = TRACE_REASON_QUEUE,
    GIL_REASON_BARRIER = TRACE_REASON_BARRIER,
    GIL_REASON_JOIN = TRACE_REASON_JOIN,
};

/* True when the thread gives the GIL up to block or to work without it (I/O, a sleep, native
 * work, an arrival wait, an object), not because it was asked to or is leaving. */
static inline bool gil_reason_blocks(enum gil_reason why)
{
    return why == GIL_REASON_IO || why == GIL_REASON_SEND || why == GIL_REASON_SLEEP ||
           why == GIL_REASON_NATIVE || why == GIL_REASON_ARRIVAL || why >= GIL_REASON_LOCK;
}

enum gil_check_cause {
    GIL_CHECK_PENDING = 1, /* the drop bit of the pending word is set */
    GIL_CHECK_TICKS = 2,   /* the thread's tick budget ran out */
};

enum gil_policy_flags {
    GIL_POLICY_NO_LOCK = 1, /* acquire does not exclude (the `none` baseline) */
};

/* A policy parameter, set with --set name=value. Tables end with a {NULL} entry. */
struct gil_param {
    const char *name;
    const char *unit;
    double def;
    double min, max;
    bool integer;
    const char *doc;
};

#define GIL_MAX_PARAMS 8

/* Effective parameter values, in the order of the policy's table. */
struct gil_params {
    const struct gil_param *desc;
    unsigned n;
    double value[GIL_MAX_PARAMS];
};

struct gil_policy {
    /* The name on the command line (--policy) and in traces. */
    const char *name;
    /* One line for `gilsim policies`. */
    const char *summary;
    /* The parameters (--set name=value), ended by a {NULL} entry. */
    const struct gil_param *params;
    /* GIL_POLICY_* flags. */
    unsigned flags;
    /* Bytes of policy state (gil_state), one per run. The engine allocates it zeroed before
     * init and frees it after destroy; 0: none. A zeroed sync_mutex or sync_cond in it is
     * ready to use (sync.h), so most policies need no init beyond reading their parameters. */
    size_t state_size;
    /* Bytes of each workload thread's record (gil_thread_data), allocated zeroed before
     * thread_init and freed after thread_fini; 0: none. gil_thread_of maps a record back to
     * its thread. */
    size_t thread_size;

    /* Optional. Main thread, once, before any workload thread exists: reads the parameters
     * into the state. Returns 0, or an errno value (the run then fails before it starts). */
    int (*init)(struct gil *g, const struct gil_params *p);
    /* Optional. Main thread, once, after every workload thread has ended; before the engine
     * frees the state. */
    void (*destroy)(struct gil *g);
    /* Optional. Main thread, for each workload thread before the run starts: fills the
     * thread's record, may arm a tick budget (gil_thread_set_tick_budget). 0 or an errno. */
    int (*thread_init)(struct gil *g, struct sim_thread *t);
    /* Optional. Main thread, after the run, for each thread whose thread_init succeeded. */
    void (*thread_fini)(struct gil *g, struct sim_thread *t);
    /* Required. Workload thread `self`, not holding the GIL: blocks until self holds it and
     * returns true. The engine records `request` just before and `acquire` just after. Once
     * the run is stopping (gil_stopping) it may instead return false without the GIL, and
     * must do so promptly when woken by stop(), so that no thread waits out a queue at the
     * end. */
    bool (*acquire)(struct gil *g, struct sim_thread *self);
    /* Required. Workload thread `self`, holding the GIL: gives it up. The engine has recorded
     * `release` (with why and the tick count) just before. May block after giving the lock
     * up (forced switching). */
    void (*release)(struct gil *g, struct sim_thread *self, enum gil_reason why);
    /* Optional (NULL: gil_check_drop_request). Workload thread `self`, holding the GIL, at a
     * check point, only when the pending word's drop bit is set (cause GIL_CHECK_PENDING) or
     * self's tick budget ran out (GIL_CHECK_TICKS). Returns GIL_REASON_NONE to go on running,
     * or the reason to yield: the engine then calls release(why) and acquire() in turn. */
    enum gil_reason (*check)(struct gil *g, struct sim_thread *self, unsigned cause);
    /* Optional. Main thread, once, when the run ends (gil_stopping is already true): wakes
     * every thread blocked in acquire or in release so that they can see gil_stopping and
     * return. Takes the policy's own locks. NULL: the policy never blocks a thread. */
    void (*stop)(struct gil *g);
};

/* --- engine services for policies ---------------------------------------------------------- */

/* The policy's state (state_size bytes, NULL when 0) and a thread's record (thread_size). */
void *gil_state(const struct gil *g);
void *gil_thread_data(const struct sim_thread *t);
/* The thread a record from gil_thread_data belongs to: a policy that queues records (fifo,
 * bfs, ruby) finds the thread to name or hand the GIL to without keeping a pointer of its
 * own. */
struct sim_thread *gil_thread_of(const void *record);
/* t's id (its index in the trace's threads); GIL_NO_THREAD for NULL. */
int gil_thread_id(const struct sim_thread *t);
/* Calls check(GIL_CHECK_TICKS) after every `ticks` ticks self runs holding the GIL (0: never).
 * The count carries over between cpu ops, like Python 2's ticker. */
void gil_thread_set_tick_budget(struct sim_thread *t, uint64_t ticks);

/* The drop bit of the GIL's pending word: makes the holder call check() at its next check
 * point. Any thread may set or clear it. */
void gil_request_drop(struct gil *g);
/* True once the run is ending: waiters may give up (acquire returns false). */
bool gil_stopping(const struct gil *g);
void gil_clear_drop(struct gil *g);
bool gil_drop_requested(const struct gil *g);
/* The usual check hook: yield (GIL_REASON_DROP_REQUEST) when a drop request is pending, else
 * go on. The engine uses it for a policy whose .check is NULL. */
enum gil_reason gil_check_drop_request(struct gil *g, struct sim_thread *self, unsigned cause);

/* A thread id that names no thread (gil_thread_id(NULL); a holder before the first acquire). */
#define GIL_NO_THREAD (-1)

/* Records a policy event; self must be the calling thread. arg as in trace_events.h, or
 * TRACE_NO_ARG. For the events whose argument is a holder's thread id (drop_request,
 * wait_timeout, wakeup_failed), GIL_NO_THREAD is recorded as TRACE_NO_ARG: no holder, and
 * the trace leaves the key out. */
void gil_record(struct sim_thread *self, enum trace_ev ev, int64_t arg);

/* A parameter's effective value by name (the policy's own table must have it). */
double gil_param(const struct gil_params *p, const char *name);

/* --- parameters, for the CLI and tests ---------------------------------------------------- */

struct err;
/* Fills p with the policy's defaults. */
void gil_params_defaults(struct gil_params *p, const struct gil_policy *pol);
/* Parses "name=value"; ERR_INPUT naming the parameter on an unknown name or a bad value. */
int gil_params_set(struct gil_params *p, const struct gil_policy *pol, const char *assignment,
                   struct err *e);
/* The same for a parameter table that belongs to no policy (compare's `cpython`, real
 * interpreter threads): owner names it in messages. */
void gil_params_defaults_of(struct gil_params *p, const struct gil_param *table);
int gil_params_set_for(struct gil_params *p, const char *owner, const char *assignment,
                       struct err *e);

#endif
