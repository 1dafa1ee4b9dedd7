/* common/trace_emit.h - the body of a gilsim-trace v1 document as every writer of traces in C
 * writes it: the header members as given, the events merged from per-thread arrays (each
 * sorted by time) into one array sorted by time, one event per line, and the tail. The
 * simulator (sim/trace_write.c) and the recorder (record/rec_trace.c) both write through it,
 * so an event looks the same whoever recorded it. */
#ifndef GILSIM_TRACE_EMIT_H
#define GILSIM_TRACE_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trace_events.h"

/* One thread's events, sorted by t (ties in recording order). */
struct trace_emit_src {
    const struct trace_event *ev, *end;
};

/* Keys a writer adds to an event after the format's own (docs/trace-format.md allows them):
 * writes `,"key":value` pairs at p, at most TRACE_EMIT_EXTRA_MAX bytes, and returns the end. */
#define TRACE_EMIT_EXTRA_MAX 96
typedef char *(*trace_emit_extra_fn)(void *ctx, const struct trace_event *ev, char *p);

struct trace_emit_doc {
    const char *run_json;     /* the "run" object, compact JSON */
    const char *threads_json; /* the "threads" array, compact JSON */
    bool complete;
    uint64_t events_dropped;
    trace_emit_extra_fn extra; /* NULL: none */
    void *extra_ctx;
    /* The workload's objects by index (run.objects), which object events name (and a wait's
     * "op"); an event whose index is not below nobjects names none. */
    const char *const *object_names;
    size_t nobjects;
};

/* Writes the whole document to f: header, the events of srcs[0..n) merged (at equal t a
 * release of the GIL or of a lock before other events and an acquire after them, then by
 * tid), tail. 0, or -1 when
 * out of memory or a write failed (ferror(f) tells which). */
int trace_emit_document(FILE *f, const struct trace_emit_doc *doc,
                        const struct trace_emit_src *srcs, size_t n);

#endif
