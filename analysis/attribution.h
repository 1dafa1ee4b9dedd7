/* analysis/attribution.h - wait attribution (docs/metrics.md, "Wait attribution"): for every
 * GIL wait, which threads held the GIL while it lasted, and for how long; summed into a
 * waiter x holder matrix. Fed by metrics.c from its one pass over the events: the owner calls
 * the hooks below in event order, as the waits and holds of the trace open and close.
 *
 * The holder a moment is charged to is the thread holding the GIL then; when several hold at
 * once (a policy that does not lock), the one that has held it longest; when nobody holds it,
 * ATTR_FREE. Work per event is constant, plus one addition per waiting thread each time the
 * charged holder changes. */
#ifndef GILSIM_ATTRIBUTION_H
#define GILSIM_ATTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define ATTR_FREE (-1) /* the GIL was free (a hand-off, or nobody took it yet) */

struct attr;

struct attr_cell {
    int holder; /* tid, or ATTR_FREE */
    int64_t ns;
};

int attr_new(struct attr **out, size_t nthreads, struct err *e);
void attr_free(struct attr *a);

/* Thread tid starts waiting at t (its request). */
void attr_wait_begin(struct attr *a, int tid, int64_t t);
/* Its wait ends at t (acquire, or exit without the GIL). */
int attr_wait_end(struct attr *a, int tid, int64_t t, struct err *e);
/* Thread tid holds the GIL from t (acquire) / no longer from t (release, exit). */
int attr_hold_begin(struct attr *a, int tid, int64_t t, struct err *e);
int attr_hold_end(struct attr *a, int tid, int64_t t, struct err *e);
/* Closes the waits still open at T (the end of the window) and builds the rows. */
int attr_finish(struct attr *a, int64_t T, struct err *e);

/* After attr_finish: thread tid's total wait (every wait, served or not), and its row: the
 * holders it waited behind with the time charged to each, by tid ascending, ATTR_FREE last;
 * only non-zero cells. The row sums to the total. */
int64_t attr_wait_total(const struct attr *a, int tid);
size_t attr_row(const struct attr *a, int tid, const struct attr_cell **cells);

#endif
