/* analysis/objmetrics.h - the metrics of a trace's objects (docs/metrics.md, "Objects"): per
 * object, the waits on it by operation (count, timed out, latency), a lock's hold times, a
 * queue's length over time and its items' latency from put to the get that took it (FIFO), the
 * counts of sets, clears and notifies; and who made whom wait on objects: a wait on a lock is
 * charged to the lock's holder moment by moment, any other wait to the object itself ("jobs
 * (empty)"). Fed by metrics.c from its one pass, like attribution.c. */
#ifndef GILSIM_OBJMETRICS_H
#define GILSIM_OBJMETRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/samples.h"
#include "analysis/trace_read.h"
#include "common/err.h"

#define OBJM_FREE (-1) /* a lock that nobody held at that moment */
#define OBJM_NONE (-2) /* a wait that is on the object, not on a holder (an empty queue, ...) */

struct objm;

/* What a thread's object waits were charged to: the object, the operation it waited in and,
 * for a lock, its holder (a tid, or OBJM_FREE); OBJM_NONE for the others. */
struct objm_cell {
    unsigned obj;
    enum trace_obj_op op;
    int holder;
    int64_t ns;
};

/* The run's figures over every object, for compare's table: NAN when nothing defines one. */
struct objm_key {
    double wait_p50_ns, wait_p99_ns; /* every object wait */
    double hold_p50_ns;              /* every lock hold */
    double item_p50_ns, item_p99_ns; /* every queue item, put to get */
    double gets_per_s;               /* every queue's gets */
    double len_mean;                 /* the queues' mean lengths, summed */
};

/* hdr's objects and threads; *out NULL (and 0) when the trace names no object. */
int objm_new(struct objm **out, const struct trace *hdr, struct err *e);
void objm_free(struct objm *o);
/* Every event in order (those it does not need are ignored). */
int objm_event(struct objm *o, const struct trace_event *ev, struct err *e);
/* The end of the window: waits still open are charged up to T, the statistics computed. */
int objm_finish(struct objm *o, int64_t T, struct err *e);

/* After objm_finish. Thread tid's time blocked on objects, and its cells (largest first). */
int64_t objm_wait_total(const struct objm *o, int tid);
size_t objm_row(const struct objm *o, int tid, const struct objm_cell **cells);
/* "(empty)", "(full)", a holder's name, ...: what a cell's time was spent behind. */
const char *objm_cell_label(const struct objm *o, const struct objm_cell *c);
void objm_key(const struct objm *o, struct objm_key *k);
/* The summary's "objects" array (NULL: out of memory). */
json_t *objm_json(const struct objm *o);
/* The text summary's object table. */
void objm_print(const struct objm *o, FILE *out);

#endif
