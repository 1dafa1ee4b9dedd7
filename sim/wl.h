/* sim/wl.h - workload files: reading, validating and compiling a gilsim-workload JSON file into
 * the op trees the engine interprets. Every rejection names file:line:col, the JSON path and
 * what was expected. docs/workload-format.md is the format's reference. */
#ifndef GILSIM_WL_H
#define GILSIM_WL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define WL_MAX_THREADS     10000
#define WL_MAX_DEPTH       16 /* nesting of loop/serve */
#define WL_MAX_FILE_BYTES  (16u << 20)
#define WL_MAX_DURATION_NS (24ll * 3600 * 1000000000)
#define WL_FOREVER         UINT64_MAX
#define WL_MAX_VARS        64
#define WL_MAX_OBJECTS     4000 /* declared objects, their own locks and joined groups */
#define WL_NO_TIMEOUT      (-1)

enum wl_op_kind {
    WL_OP_CPU,
    WL_OP_IO,
    WL_OP_SLEEP,
    WL_OP_NATIVE,
    WL_OP_HOLD,
    WL_OP_LOOP,
    WL_OP_SERVE,
    WL_OP_SEND,
    /* on a workload object (docs/workload-format.md, "Objects") */
    WL_OP_ACQUIRE,
    WL_OP_RELEASE,
    WL_OP_PUT,
    WL_OP_GET,
    WL_OP_SET,
    WL_OP_CLEAR,
    WL_OP_WAIT,
    WL_OP_NOTIFY,
    WL_OP_JOIN
};

/* The objects a workload declares (and those gilsim adds: a condition's own lock, a joined
 * thread group), modelled on CPython 3.11's threading and queue modules. */
enum wl_obj_type {
    WL_OBJ_LOCK,
    WL_OBJ_SEMAPHORE,
    WL_OBJ_CONDITION,
    WL_OBJ_EVENT,
    WL_OBJ_QUEUE,
    WL_OBJ_BARRIER,
    WL_OBJ_THREADS /* a thread group, as the target of join */
};

/* What an object's Python code costs per call (interpreter time holding the GIL), by what
 * the call does; each type has some of them (docs/workload-format.md). */
enum wl_cost {
    WL_COST_ACQUIRE,
    WL_COST_RELEASE,
    WL_COST_PUT,
    WL_COST_GET,
    WL_COST_SET,
    WL_COST_CLEAR,
    WL_COST_WAIT,   /* an event's or a barrier's wait; a condition's wait around its block */
    WL_COST_NOTIFY, /* a condition's notify */
    WL_COST_BLOCK,  /* the Condition.wait inside a queue, event, semaphore or barrier */
    WL_COST_JOIN,   /* Thread.join, per thread */
    WL_NCOSTS
};

struct wl_object {
    char *name;
    enum wl_obj_type type;
    /* semaphore: its initial value; queue: maxsize (0: unbounded); barrier: parties;
     * threads: the group's index */
    int64_t size;
    int lock;      /* condition: the index of its lock (an object of type lock) */
    bool implicit; /* added by gilsim, not declared */
    int64_t cost_ns[WL_NCOSTS];
};
enum wl_dist { WL_DIST_FIXED, WL_DIST_UNIFORM, WL_DIST_EXPONENTIAL };
enum wl_arrivals { WL_ARRIVALS_POISSON, WL_ARRIVALS_FIXED };

struct wl_op {
    enum wl_op_kind kind;
    uint64_t ticks; /* cpu given as ticks; 0 when given as time */
    int64_t ns;     /* duration of cpu-by-time, io (mean), sleep, native, hold */
    enum wl_dist dist;
    int64_t max_ns; /* io: cap on a sampled latency; 0 = none */
    bool peer;      /* io: answered by the thread's peer over a socket, not by a timer */
    bool send;      /* io (peer): the request is a send that releases the GIL on its own */
    bool peer_works; /* io (peer): the peer spends the latency working, not sleeping */
    uint64_t count; /* loop iterations / serve requests; WL_FOREVER = until the run ends */
    double rate_hz; /* serve */
    enum wl_arrivals arrivals;
    struct wl_op *body; /* loop, serve */
    size_t nbody;
    int obj;            /* object ops: the object's index in wl_workload.objects */
    int64_t timeout_ns; /* object ops that may block: WL_NO_TIMEOUT or the timeout */
    /* notify: how many waiters (count; WL_FOREVER: all) */
};

struct wl_group {
    char *name;
    unsigned count;
    int64_t start_ns;
    struct wl_op *ops;
    size_t nops;
    bool uses_peer; /* some op talks to the thread's peer (io with peer, send) */
    /* When start_ms or the ops read `index`, each thread's own (count entries; [0] is start_ns
     * and ops); else NULL, and every thread has start_ns and ops. wl_thread_* read them. */
    int64_t *thread_start_ns;
    struct wl_op **thread_ops;
};

/* Thread k of group g: when it starts (ns after the run start) and its ops (nops of them). */
static inline int64_t wl_thread_start_ns(const struct wl_group *g, unsigned k)
{
    return g->thread_start_ns ? g->thread_start_ns[k] : g->start_ns;
}
static inline const struct wl_op *wl_thread_ops(const struct wl_group *g, unsigned k)
{
    return g->thread_ops ? g->thread_ops[k] : g->ops;
}

/* A workload variable with its effective value (the declared default, or --var's). */
struct wl_var {
    char *name;
    double value;
    bool integer;     /* written as an integer */
    bool from_option; /* set by --var */
};

struct wl_workload {
    char *path;
    char *name;
    char *description;
    char sha256[65]; /* of the file's bytes, lowercase hex */
    int64_t duration_ns;
    unsigned tick_ns;
    struct wl_group *groups;
    size_t ngroups;
    unsigned nthreads;   /* sum of the groups' counts */
    struct wl_var *vars; /* in the order "vars" declares them */
    size_t nvars;
    struct wl_object *objects; /* declared ones in file order, then gilsim's */
    size_t nobjects;
};

/* "lock", "queue", ...: an object type's name in files and traces. */
const char *wl_obj_type_name(enum wl_obj_type t);
/* "put_us", ...: a cost's key in files and traces. */
const char *wl_cost_key(enum wl_cost k);

/* Reads and validates path. On success *out owns everything; free with wl_free. */
int wl_load(const char *path, struct wl_workload **out, struct err *e);
/* The same from memory; path is used in messages only. */
int wl_parse(const char *text, size_t len, const char *path, struct wl_workload **out,
             struct err *e);
/* The same with variables set: assign[] holds "name=value" as given to --var. A name the
 * workload does not declare is an error at its "vars" (ERR_INPUT, file:line:col). */
int wl_load_vars(const char *path, const char *const *assign, size_t nassign,
                 struct wl_workload **out, struct err *e);
int wl_parse_vars(const char *text, size_t len, const char *path, const char *const *assign,
                  size_t nassign, struct wl_workload **out, struct err *e);
/* The form of one --var argument, NAME=NUMBER, without a workload: 0 or ERR_INPUT. With
 * name/value non-NULL, the parts are copied there (name: 65 bytes). */
int wl_var_arg(const char *arg, char *name, double *value, bool *integer, struct err *e);
void wl_free(struct wl_workload *wl);

/* One line: name, threads per group, duration, tick size, variables. */
void wl_describe(const struct wl_workload *wl, char *buf, size_t size);

#endif
