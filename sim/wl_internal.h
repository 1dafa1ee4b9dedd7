/* sim/wl_internal.h - what the workload reader's two files share: wl.c (the document, thread
 * groups, ops, variables) and wl_objects.c (the "objects" a workload declares, the ops on
 * them, and the static check of their use). */
#ifndef GILSIM_WL_INTERNAL_H
#define GILSIM_WL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "../common/jcheck.h"
#include "wl.h"

/* The state of one read: the checker (path, text, JSON path, variables) and the workload
 * being built. */
struct wl_parse {
    struct jc_ctx *c;
    struct wl_workload *wl;
    json_t *threads; /* the document's "threads" array (join names a group, maybe a later one) */
    int group;       /* the thread group whose ops are being read */
};

/* The document's "objects" (absent: none) into wl->objects, before the thread groups. */
int wlo_parse_objects(struct wl_parse *p, json_t *root);
/* True for the name of an op on an object (acquire, release, put, get, set, clear, wait,
 * notify, join). */
bool wlo_is_object_op(const char *kind);
/* Such an op; the path is at the kind's key, body is its object. */
int wlo_parse_op(struct wl_parse *p, const char *kind, json_t *body, struct wl_op *op);
/* What can be seen before a run of group gi's use of objects: a release of a lock (or a
 * condition) and a wait or notify on a condition with no acquire of it before, in program
 * order. The path is at the group. */
int wlo_check_group(struct wl_parse *p, size_t gi);
void wlo_free(struct wl_workload *wl);

#endif
