/* analysis/trace_read.c - see trace_read.h. */
#include "trace_read.h"

#include <stdlib.h>
#include <string.h>

static int bad(struct err *e, const char *path, const char *where, size_t i, const char *what)
{
    return err_set(e, ERR_INPUT, "%s: $.%s[%zu]: %s", path, where, i, what);
}

static int read_events(json_t *arr, struct trace *t, const char *path, struct err *e)
{
    size_t n = json_array_size(arr);
    t->events = calloc(n ? n : 1, sizeof *t->events);
    if (!t->events) return err_set(e, ERR_RUNTIME, "%s: out of memory for %zu events", path, n);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i);
        json_t *jt = json_object_get(o, "t"), *jtid = json_object_get(o, "tid"),
               *jev = json_object_get(o, "ev");
        if (!json_is_integer(jt) || !json_is_integer(jtid) || !json_is_string(jev))
            return bad(e, path, "events", i, "expected an object with t, tid (integers), ev");
        int ev = trace_ev_from_name(json_string_value(jev));
        if (ev < 0) return bad(e, path, "events", i, "unknown event type");
        json_int_t tid = json_integer_value(jtid);
        if (tid < 0 || (size_t)tid >= t->nthreads)
            return bad(e, path, "events", i, "tid names no thread of the trace");
        struct trace_event *d = &t->events[i];
        d->t = json_integer_value(jt);
        d->tid = (int32_t)tid;
        d->ev = (uint16_t)ev;
        d->arg = TRACE_NO_ARG;
        const char *key = trace_ev_arg_key((enum trace_ev)ev);
        json_t *ja = key ? json_object_get(o, key) : NULL;
        if (ja) {
            if (!json_is_integer(ja))
                return bad(e, path, "events", i, "expected an integer argument");
            d->arg = json_integer_value(ja);
        }
        if (ev == TRACE_EV_RELEASE) {
            json_t *jr = json_object_get(o, "reason");
            int r = json_is_string(jr) ? trace_reason_from_name(json_string_value(jr)) : -1;
            if (r < 0) return bad(e, path, "events", i, "release without a known reason");
            d->reason = (uint16_t)r;
        }
    }
    t->nevents = n;
    return 0;
}

int trace_read(const char *path, struct trace **out, struct err *e)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return err_set(e, ERR_INPUT, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    struct trace *t = calloc(1, sizeof *t);
    int rc = 0;
    if (!t) {
        json_decref(root);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    json_t *fmt = json_object_get(root, "format"), *run = json_object_get(root, "run"),
           *threads = json_object_get(root, "threads"), *events = json_object_get(root, "events");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "gilsim-trace") != 0 ||
        json_integer_value(json_object_get(root, "version")) != 1) {
        rc = err_set(e, ERR_INPUT, "%s: expected a gilsim-trace version 1 document", path);
        goto done;
    }
    if (!json_is_object(run) || !json_is_array(threads) || !json_is_array(events)) {
        rc = err_set(e, ERR_INPUT, "%s: expected run (object), threads and events (arrays)", path);
        goto done;
    }
    t->run = json_incref(run);
    t->policy = json_string_value(json_object_get(run, "policy"));
    t->nthreads = json_array_size(threads);
    t->threads = calloc(t->nthreads ? t->nthreads : 1, sizeof *t->threads);
    if (!t->threads) {
        rc = err_set(e, ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < t->nthreads; i++) {
        json_t *th = json_array_get(threads, i);
        json_t *jtid = json_object_get(th, "tid"), *name = json_object_get(th, "name"),
               *group = json_object_get(th, "group");
        if (json_integer_value(jtid) != (json_int_t)i || !json_is_string(name)) {
            rc = bad(e, path, "threads", i, "expected tid equal to its index and a name");
            goto done;
        }
        t->threads[i].tid = (int)i;
        t->threads[i].name = strdup(json_string_value(name));
        t->threads[i].group = strdup(json_is_string(group) ? json_string_value(group) : "");
        if (!t->threads[i].name || !t->threads[i].group) {
            rc = err_set(e, ERR_RUNTIME, "out of memory");
            goto done;
        }
    }
    if ((rc = read_events(events, t, path, e))) goto done;
    t->complete = json_is_true(json_object_get(root, "complete"));
    t->events_dropped = (uint64_t)json_integer_value(json_object_get(root, "events_dropped"));
done:
    json_decref(root);
    if (rc) {
        trace_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

void trace_free(struct trace *t)
{
    if (!t) return;
    for (size_t i = 0; t->threads && i < t->nthreads; i++) {
        free(t->threads[i].name);
        free(t->threads[i].group);
    }
    free(t->threads);
    free(t->events);
    json_decref(t->run);
    free(t);
}

double trace_param(const struct trace *t, const char *name, double def)
{
    json_t *v = json_object_get(json_object_get(t->run, "params"), name);
    return json_is_number(v) ? json_number_value(v) : def;
}
