/* sim/machine_dist.h - private to sim/machine.c and sim/machine_dist.c: a machine file's
 * wake-up distributions ("wake_dist_us", docs/virtual.md) read, converted to the model's ns
 * and written back; their use (mach_wake_draw) and their JSON (mach_dist_json, what
 * tools/calibrate writes too) are declared in machine.h. */
#ifndef GILSIM_MACHINE_DIST_H
#define GILSIM_MACHINE_DIST_H

#include <jansson.h>

#include "../common/jcheck.h"
#include "machine.h"

#define MACH_DIST_KEY "wake_dist_us"

/* params.wake_dist_us (c's path at params) into d: {"p": [...], "points": [{"idle_us",
 * "wake_us": [...], "signal_us": [...]}, ...]}. */
int mach_dist_parse(struct jc_ctx *c, json_t *v, struct mach_dist *d);
/* The same in ns (struct mach_model's). */
void mach_dist_to_ns(const struct mach_dist *us, struct mach_dist *ns);

#endif
