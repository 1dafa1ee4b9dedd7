/* common/trace_events.h - the event vocabulary of the gilsim-trace format, shared by the writer
 * (simulator side) and the reader (analysis side). This table is the format: it is the only
 * thing the two halves share. docs/trace-format.md describes every entry.
 *
 * Each event carries t (ns since run start), tid, its type, and at most one integer argument
 * whose JSON key is given here (NULL: none). `release` also carries a reason; an object event
 * its object (and obj_wait_begin the operation). */
#ifndef GILSIM_TRACE_EVENTS_H
#define GILSIM_TRACE_EVENTS_H

#include <stdint.h>

/* X(ENUM, "json name", "argument key" or NULL). The events after DONE name an object (a
 * workload's lock, queue, ...: run.objects) as "object" besides their argument; in memory the
 * object's index and, for a wait, the operation share `reason` (trace_obj_pack). */
/* clang-format off */
#define TRACE_EVENT_TABLE(X)                                                                       \
    X(THREAD_START, "thread_start", NULL)                                                          \
    X(THREAD_EXIT, "thread_exit", "ticks")                                                         \
    X(REQUEST, "request", NULL)                                                                    \
    X(ACQUIRE, "acquire", NULL)                                                                    \
    X(RELEASE, "release", "ticks")                                                                 \
    X(DROP_REQUEST, "drop_request", "holder")                                                      \
    X(WAIT_TIMEOUT, "wait_timeout", "holder")                                                      \
    X(WAKEUP_FAILED, "wakeup_failed", "holder")                                                    \
    X(FORCE_WAIT_BEGIN, "force_wait_begin", NULL)                                                  \
    X(FORCE_WAIT_END, "force_wait_end", NULL)                                                      \
    X(IO_BEGIN, "io_begin", "ns")                                                                  \
    X(IO_END, "io_end", NULL)                                                                      \
    X(SLEEP_BEGIN, "sleep_begin", "ns")                                                            \
    X(SLEEP_END, "sleep_end", NULL)                                                                \
    X(NATIVE_BEGIN, "native_begin", "ns")                                                          \
    X(NATIVE_END, "native_end", NULL)                                                              \
    X(HOLD_BEGIN, "hold_begin", "ns")                                                              \
    X(HOLD_END, "hold_end", NULL)                                                                  \
    X(ARRIVAL, "arrival", "at")                                                                    \
    X(DONE, "done", "at")                                                                          \
    X(OBJ_WAIT_BEGIN, "obj_wait_begin", "timeout_ns") X(OBJ_WAIT_END, "obj_wait_end", "timed_out") \
    X(OBJ_ACQUIRE, "obj_acquire", "value") X(OBJ_RELEASE, "obj_release", "value")                  \
    X(OBJ_PUT, "obj_put", "len") X(OBJ_GET, "obj_get", "len") X(OBJ_SET, "obj_set", NULL)          \
    X(OBJ_CLEAR, "obj_clear", NULL) X(OBJ_NOTIFY, "obj_notify", "n")
/* clang-format on */

/* Why a thread released the GIL. X(ENUM, "json name"); the last ones: it blocks on an object
 * of that type (a queue's own lock included). */
/* clang-format off */
#define TRACE_REASON_TABLE(X)                                                                      \
    X(NONE, "none")                                                                                \
    X(CHECK, "check")                                                                              \
    X(DROP_REQUEST, "drop_request")                                                                \
    X(IO, "io")                                                                                    \
    X(SEND, "send")                                                                                \
    X(SLEEP, "sleep")                                                                              \
    X(NATIVE, "native")                                                                            \
    X(ARRIVAL, "arrival")                                                                          \
    X(EXIT, "exit")                                                                                \
    X(DEADLINE, "deadline")                                                                        \
    X(LOCK, "lock") X(SEMAPHORE, "semaphore") X(CONDITION, "condition") X(EVENT, "event")          \
    X(QUEUE, "queue") X(BARRIER, "barrier") X(JOIN, "join")
/* clang-format on */

/* What a thread blocked on an object waits for: obj_wait_begin's "op". X(ENUM, "json name"):
 * none; acquire: a lock (or a condition's), a semaphore's value; get: a queue's item; put: a
 * queue's free slot; wait: a condition's notify, an event's set, a barrier's last party; join:
 * a thread's end; mutex: the object's own lock, held by a thread running its Python code. */
/* clang-format off */
#define TRACE_OBJ_OP_TABLE(X)                                                                      \
    X(NONE, "none") X(ACQUIRE, "acquire") X(GET, "get") X(PUT, "put") X(WAIT, "wait")             \
    X(JOIN, "join") X(MUTEX, "mutex")
/* clang-format on */

#define TRACE_X_ENUM(name, json, arg) TRACE_EV_##name,
enum trace_ev { TRACE_EVENT_TABLE(TRACE_X_ENUM) TRACE_EV_COUNT };
#undef TRACE_X_ENUM

#define TRACE_X_REASON(name, json) TRACE_REASON_##name,
enum trace_reason { TRACE_REASON_TABLE(TRACE_X_REASON) TRACE_REASON_COUNT };
#undef TRACE_X_REASON

#define TRACE_X_OP(name, json) TRACE_OBJ_OP_##name,
enum trace_obj_op { TRACE_OBJ_OP_TABLE(TRACE_X_OP) TRACE_OBJ_OP_COUNT };
#undef TRACE_X_OP

/* An object event's `reason`: the object's index (its place in run.objects) in the low bits,
 * the operation (enum trace_obj_op) above them. */
#define TRACE_OBJ_BITS    12
#define TRACE_MAX_OBJECTS (1u << TRACE_OBJ_BITS) /* objects a trace may name */
static inline uint16_t trace_obj_pack(unsigned obj, enum trace_obj_op op)
{
    return (uint16_t)(obj | ((unsigned)op << TRACE_OBJ_BITS));
}
static inline unsigned trace_obj_index(uint16_t reason)
{
    return reason & (TRACE_MAX_OBJECTS - 1);
}
static inline enum trace_obj_op trace_obj_op(uint16_t reason)
{
    return (enum trace_obj_op)(reason >> TRACE_OBJ_BITS);
}

/* An event without an argument stores TRACE_NO_ARG; so does one whose argument is unknown
 * (a `holder` nobody holds), and the writer then leaves the key out. */
#define TRACE_NO_ARG INT64_MIN

/* One event in memory: 24 bytes. */
struct trace_event {
    int64_t t;       /* ns since run start */
    int64_t arg;     /* see the table; TRACE_NO_ARG when absent */
    int32_t tid;     /* thread that recorded it */
    uint16_t ev;     /* enum trace_ev */
    uint16_t reason; /* enum trace_reason, for release */
};

const char *trace_ev_name(enum trace_ev ev);
const char *trace_ev_arg_key(enum trace_ev ev);
const char *trace_reason_name(enum trace_reason r);
/* True when the event names an object (the table's last column). */
int trace_ev_has_object(enum trace_ev ev);
const char *trace_obj_op_name(enum trace_obj_op op);

#endif
