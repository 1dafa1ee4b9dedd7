/* analysis/trace_read.h - reads gilsim-trace v1 files. trace_scan streams: the file is mapped,
 * not loaded into a tree, the small members (run, threads, ...) go through the strict parser
 * (common/jparse.h) and the events through the shared lexer (common/jlex.h), one callback per
 * event, so a 10-million-event trace needs no memory in proportion to its size. trace_read
 * builds on it and keeps the events in an array (tests, small traces). Analysis code uses only
 * this and common/ (the format), never the engine, so a trace from any source is read the same
 * way. */
#ifndef GILSIM_TRACE_READ_H
#define GILSIM_TRACE_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/trace_events.h"

/* The reader's limits, the format's ranges (docs/trace-format.md): every integer of an event
 * (t and its argument) in [0, TRACE_MAX_INT], exact in a double as I-JSON asks, so that sums
 * and differences of them cannot overflow; at most TRACE_MAX_THREADS threads (the workload
 * format's limit), so per-thread state is bounded; a trace that is not a regular file (a pipe)
 * at most TRACE_MAX_STREAM bytes. Character and block devices and sockets are refused. */
#define TRACE_MAX_INT     (INT64_C(1) << 53)
#define TRACE_MAX_THREADS 10000
#define TRACE_MAX_STREAM  ((size_t)1 << 30)

struct trace_thread {
    int tid;
    char *name;
    char *group;
};

/* An object of run.objects (a workload's lock, queue, ...): object events name it; in memory
 * its index is in the event's `reason` (common/trace_events.h, trace_obj_index). */
struct trace_object {
    char *name;
    char *type;    /* "lock", "semaphore", "condition", "event", "queue", "barrier", "threads" */
    bool implicit; /* added by gilsim (a condition's own lock, a joined thread group) */
};

struct trace {
    json_t *run;        /* the "run" object as written */
    const char *policy; /* points into run; "" when absent */
    struct trace_thread *threads;
    size_t nthreads;
    struct trace_object *objects; /* run.objects, in order; NULL when none */
    size_t nobjects;
    struct trace_event *events; /* trace_read only; NULL after trace_scan */
    size_t nevents;             /* events seen */
    bool complete;              /* known only once the scan has ended */
    uint64_t events_dropped;
};

/* Callbacks of a scan. header runs once, before the first event, when run and threads are
 * known (complete and events_dropped are not yet). event runs for every event in file order;
 * the reader has checked it (known type, tid of a listed thread, integer fields, t not before
 * the previous event's). A non-zero return stops the scan with that status. */
struct trace_sink {
    int (*header)(void *ctx, const struct trace *hdr, struct err *e);
    int (*event)(void *ctx, const struct trace_event *ev, struct err *e);
    void *ctx;
};

/* Scans the file at path (a regular file is mapped; anything else is read into memory).
 * On success *out holds the header with complete, events_dropped and nevents filled in. Bad
 * input: ERR_INPUT with "path:line:col: $.json.path: what was expected". */
int trace_scan(const char *path, const struct trace_sink *sink, struct trace **out, struct err *e);
/* The same over a buffer in memory; name stands for the path in messages. */
int trace_scan_buffer(const char *name, const char *buf, size_t len, const struct trace_sink *sink,
                      struct trace **out, struct err *e);

/* Reads the whole trace, events into t->events. */
int trace_read(const char *path, struct trace **out, struct err *e);
void trace_free(struct trace *t);

/* The parameter's value from run.params, or def when absent. */
double trace_param(const struct trace *t, const char *name, double def);

#endif
