/* common/trace_events.h - the event vocabulary of the gilsim-trace format, shared by the writer
 * (simulator side) and the reader (analysis side). This table is the format: it is the only
 * thing the two halves share. docs/trace-format.md describes every entry.
 *
 * Each event carries t (ns since run start), tid, its type, and at most one integer argument
 * whose JSON key is given here (NULL: none). `release` also carries a reason. */
#ifndef GILSIM_TRACE_EVENTS_H
#define GILSIM_TRACE_EVENTS_H

#include <stdint.h>

/* X(ENUM, "json name", "argument key" or NULL) */
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
    X(DONE, "done", "at")

/* Why a thread released the GIL. X(ENUM, "json name") */
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
    X(LOCK, "lock")

#define TRACE_X_ENUM(name, json, arg) TRACE_EV_##name,
enum trace_ev { TRACE_EVENT_TABLE(TRACE_X_ENUM) TRACE_EV_COUNT };
#undef TRACE_X_ENUM

#define TRACE_X_REASON(name, json) TRACE_REASON_##name,
enum trace_reason { TRACE_REASON_TABLE(TRACE_X_REASON) TRACE_REASON_COUNT };
#undef TRACE_X_REASON

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

#endif
