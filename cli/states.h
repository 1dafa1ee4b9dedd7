/* cli/states.h - what each thread is doing, as slices for the viewers (`gilsim export`):
 * waiting for the GIL, holding it, a forced wait, I/O, sleep, native work, a wait on an object
 * (a lock, a queue, ...), and a hold nested in its GIL slice. Fed the trace's events in order, it
 * reports every slice's opening and closing in time order, properly nested per thread whatever the
 * trace holds: closing a slice closes the slices opened inside it first, and a slice of a kind
 * already open is not opened again. */
#ifndef GILSIM_STATES_H
#define GILSIM_STATES_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/trace_events.h"

enum state_kind {
    ST_WAIT,
    ST_GIL,
    ST_IO,
    ST_SLEEP,
    ST_NATIVE,
    ST_HOLD,
    ST_FORCE,
    ST_OBJECT, /* blocked on a workload object (obj_wait_begin .. obj_wait_end) */
    NSTATES
};

/* The slice's name in the viewers: "wait for GIL", "GIL", "I/O", ... */
const char *state_name(enum state_kind k);
/* Its category in the Chrome format: "gil" or "op". */
const char *state_category(enum state_kind k);

struct states_sink {
    /* Called as slices open and close; open's kind nests inside whatever is open on tid. */
    void (*open)(void *ctx, int tid, enum state_kind k, int64_t t);
    void (*close)(void *ctx, int tid, enum state_kind k, int64_t t);
    void *ctx;
};

struct states;

int states_new(struct states **out, size_t nthreads, const struct states_sink *sink, struct err *e);
void states_free(struct states *s);
/* One event of the trace, in file order. */
void states_event(struct states *s, const struct trace_event *ev);
/* Closes every slice still open at t (the end of a partial record). */
void states_close_all(struct states *s, int64_t t);

#endif
