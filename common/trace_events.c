/* common/trace_events.c - names of trace events and release reasons (see trace_events.h). */
#include "trace_events.h"

#include <stddef.h> /* NULL, in the event table */

#define X_NAME(name, json, arg) json,
#define X_ARG(name, json, arg)  arg,
static const char *const ev_names[] = {TRACE_EVENT_TABLE(X_NAME)};
static const char *const ev_args[] = {TRACE_EVENT_TABLE(X_ARG)};
#undef X_NAME
#undef X_ARG
#define X_REASON(name, json) json,
static const char *const reason_names[] = {TRACE_REASON_TABLE(X_REASON)};
static const char *const op_names[] = {TRACE_OBJ_OP_TABLE(X_REASON)};
#undef X_REASON

const char *trace_ev_name(enum trace_ev ev)
{
    return ev < TRACE_EV_COUNT ? ev_names[ev] : "?";
}
const char *trace_ev_arg_key(enum trace_ev ev)
{
    return ev < TRACE_EV_COUNT ? ev_args[ev] : NULL;
}

const char *trace_reason_name(enum trace_reason r)
{
    return r < TRACE_REASON_COUNT ? reason_names[r] : "?";
}

int trace_ev_has_object(enum trace_ev ev)
{
    return ev >= TRACE_EV_OBJ_WAIT_BEGIN && ev < TRACE_EV_COUNT;
}

const char *trace_obj_op_name(enum trace_obj_op op)
{
    return op < TRACE_OBJ_OP_COUNT ? op_names[op] : "?";
}
