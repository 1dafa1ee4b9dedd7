/* analysis/trace_read.h - reads a gilsim-trace v1 file into memory: run metadata, threads and
 * the event array. Analysis code uses only this and sim/trace_events.h (the format), never
 * the engine, so a trace from any source is read the same way. */
#ifndef GILSIM_TRACE_READ_H
#define GILSIM_TRACE_READ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/err.h"
#include "sim/trace_events.h"

struct trace_thread {
    int tid;
    char *name;
    char *group;
};

struct trace {
    json_t *run;        /* the "run" object as written */
    const char *policy; /* points into run */
    struct trace_thread *threads;
    size_t nthreads;
    struct trace_event *events;
    size_t nevents;
    bool complete;
    uint64_t events_dropped;
};

int trace_read(const char *path, struct trace **out, struct err *e);
void trace_free(struct trace *t);

/* The parameter's value from run.params, or def when absent. */
double trace_param(const struct trace *t, const char *name, double def);

#endif
