/* sim/trace_write.c - see trace_write.h. The header (run, threads) is built with jansson; the
 * events are merged from the per-thread buffers and formatted by hand, since a trace can hold
 * tens of millions of them. */
#define _GNU_SOURCE
#include "trace_write.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/host.h"
#include "../common/outfile.h"
#include "../common/text.h"
#include "common/version.h" /* generated into the build tree */

struct trace_out {
    struct outfile *of;
    FILE *f;
};

int trace_out_open(struct trace_out **out, const char *path, const char *const *inputs,
                   struct err *e)
{
    *out = NULL;
    struct trace_out *o = calloc(1, sizeof *o);
    if (!o) return err_set(e, ERR_RUNTIME, "out of memory");
    int rc = outfile_open(&o->of, path, OUTFILE_STDOUT, inputs, e);
    if (rc) {
        free(o);
        return rc;
    }
    o->f = outfile_stream(o->of);
    *out = o;
    return 0;
}

const char *trace_out_tmp_path(const struct trace_out *o)
{
    return outfile_tmp_path(o->of);
}

void trace_out_abort(struct trace_out *o)
{
    if (!o) return;
    outfile_abort(o->of);
    free(o);
}

/* ---- header -------------------------------------------------------------------------------- */

/* Every workload variable's effective value, integers as integers. */
static json_t *vars_json(const struct wl_workload *wl)
{
    json_t *vars = json_object();
    for (size_t i = 0; vars && i < wl->nvars; i++)
        json_object_set_new(vars, wl->vars[i].name,
                            wl->vars[i].integer ? json_integer((json_int_t)wl->vars[i].value)
                                                : json_real(wl->vars[i].value));
    return vars;
}

/* The objects and every parameter's effective value: {"name", "type", its size, a
 * condition's lock, its costs in µs; "implicit": true for those gilsim adds}. */
static json_t *objects_json(const struct wl_workload *wl)
{
    static const char *const size_keys[] = {
        [WL_OBJ_SEMAPHORE] = "value", [WL_OBJ_QUEUE] = "maxsize", [WL_OBJ_BARRIER] = "parties"};
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < wl->nobjects; i++) {
        const struct wl_object *o = &wl->objects[i];
        json_t *j = json_pack("{s:s, s:s}", "name", o->name, "type", wl_obj_type_name(o->type));
        if (!j) break;
        if (o->type < sizeof size_keys / sizeof size_keys[0] && size_keys[o->type])
            json_object_set_new(j, size_keys[o->type], json_integer((json_int_t)o->size));
        if (o->type == WL_OBJ_CONDITION)
            json_object_set_new(j, "lock", json_string(wl->objects[o->lock].name));
        if (o->type == WL_OBJ_THREADS)
            json_object_set_new(j, "group", json_string(wl->groups[o->size].name));
        for (int k = 0; k < WL_NCOSTS; k++)
            if (o->cost_ns[k] > 0)
                json_object_set_new(j, wl_cost_key((enum wl_cost)k),
                                    json_real((double)o->cost_ns[k] / 1e3));
        if (o->implicit) json_object_set_new(j, "implicit", json_true());
        json_array_append_new(arr, j);
    }
    return arr;
}

static json_t *run_info(const struct eng_options *o, const struct eng_result *r)
{
    const struct wl_workload *wl = o->wl;
    json_t *params = json_object();
    for (unsigned i = 0; params && i < o->params->n; i++) {
        const struct gil_param *d = &o->params->desc[i];
        double v = o->params->value[i];
        json_object_set_new(params, d->name,
                            d->integer ? json_integer((json_int_t)v) : json_real(v));
    }
    json_t *run = json_pack(
        "{s:s, s:{s:s, s:o, s:s, s:s}, s:s, s:o, s:I, s:f, s:s, s:I, s:s, s:I, s:o, s:{s:i, "
        "s:f, s:i}}",
        "gilsim_version", GILSIM_VERSION, "workload", "name", wl->name, "path", text_json(wl->path),
        "sha256", wl->sha256, "description", wl->description, "policy", o->policy->name, "params",
        params, "seed", (json_int_t)o->seed, "duration_ms", (double)r->duration_ns / 1e6,
        "start_utc", r->start_utc, "elapsed_ns", (json_int_t)r->elapsed_ns, "stop_reason",
        r->stop_reason, "max_events_per_thread", (json_int_t)r->max_events, "host",
        host_info_json(), "calibration", "tick_ns_target", (json_int_t)r->tick_ns_target,
        "ns_per_tick", r->ns_per_tick, "iters_per_tick", (json_int_t)r->iters_per_tick);
    if (run) json_object_set_new(run, "stop_ns", json_integer((json_int_t)r->stop_ns));
    if (run) json_object_set_new(run, "engine", json_string(r->engine ? r->engine : "real"));
    if (run && wl->nvars) json_object_set_new(run, "vars", vars_json(wl));
    if (run && wl->nobjects) json_object_set_new(run, "objects", objects_json(wl));
    if (run) eng_describe_run(o, run);
    return run;
}

static json_t *thread_info(const struct eng_result *r)
{
    json_t *arr = json_array();
    for (unsigned i = 0; arr && i < r->nthreads; i++) {
        const struct eng_thread_result *t = &r->threads[i];
        json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:I}", "tid", t->tid, "name", t->name,
                                             "group", t->group, "events_dropped",
                                             (json_int_t)t->dropped));
    }
    return arr;
}

/* ---- events -------------------------------------------------------------------------------- */

/* At equal times a release (of the GIL or a lock) sorts before other events and an acquire
 * after them, so that a reader never sees two holders at one instant. */
static int ev_rank(const struct trace_event *ev)
{
    if (ev->ev == TRACE_EV_RELEASE || ev->ev == TRACE_EV_OBJ_RELEASE) return 0;
    return ev->ev == TRACE_EV_ACQUIRE || ev->ev == TRACE_EV_OBJ_ACQUIRE ? 2 : 1;
}

static bool ev_before(const struct trace_event *a, const struct trace_event *b)
{
    if (a->t != b->t) return a->t < b->t;
    if (ev_rank(a) != ev_rank(b)) return ev_rank(a) < ev_rank(b);
    return a->tid < b->tid;
}

struct cursor {
    const struct trace_event *ev, *end;
};

static void sift_down(struct cursor *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && ev_before(h[l].ev, h[m].ev)) m = l;
        if (l + 1 < n && ev_before(h[l + 1].ev, h[m].ev)) m = l + 1;
        if (m == i) return;
        struct cursor tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

static char *put_i64(char *p, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) *p++ = '-';
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *format_event(char *p, const struct trace_event *ev, const struct wl_workload *wl)
{
    p = put_str(p, "{\"t\":");
    p = put_i64(p, ev->t);
    p = put_str(p, ",\"tid\":");
    p = put_i64(p, ev->tid);
    p = put_str(p, ",\"ev\":\"");
    p = put_str(p, trace_ev_name((enum trace_ev)ev->ev));
    *p++ = '"';
    if (ev->ev == TRACE_EV_RELEASE) {
        p = put_str(p, ",\"reason\":\"");
        p = put_str(p, trace_reason_name((enum trace_reason)ev->reason));
        *p++ = '"';
    }
    if (trace_ev_has_object((enum trace_ev)ev->ev) && trace_obj_index(ev->reason) < wl->nobjects) {
        p = put_str(p, ",\"object\":\"");
        p = put_str(p, wl->objects[trace_obj_index(ev->reason)].name);
        *p++ = '"';
        if (ev->ev == TRACE_EV_OBJ_WAIT_BEGIN) {
            p = put_str(p, ",\"op\":\"");
            p = put_str(p, trace_obj_op_name(trace_obj_op(ev->reason)));
            *p++ = '"';
        }
    }
    const char *key = trace_ev_arg_key((enum trace_ev)ev->ev);
    if (key && ev->arg != TRACE_NO_ARG) {
        p = put_str(p, ",\"");
        p = put_str(p, key);
        p = put_str(p, "\":");
        p = put_i64(p, ev->arg);
    }
    *p++ = '}';
    return p;
}

static int write_events(FILE *f, const struct eng_result *r, const struct wl_workload *wl)
{
    struct cursor *heap = malloc((r->nthreads ? r->nthreads : 1) * sizeof *heap);
    if (!heap) return -1;
    size_t n = 0;
    for (unsigned i = 0; i < r->nthreads; i++)
        if (r->threads[i].nevents)
            heap[n++] =
                (struct cursor){r->threads[i].events, r->threads[i].events + r->threads[i].nevents};
    for (size_t i = n; i-- > 0;)
        sift_down(heap, n, i);
    char line[384]; /* the longest event: an object's wait with its name, op and timeout */
    bool first = true;
    while (n > 0) {
        char *p = line;
        if (!first) *p++ = ',';
        *p++ = '\n';
        first = false;
        p = format_event(p, heap[0].ev, wl);
        if (fwrite(line, 1, (size_t)(p - line), f) != (size_t)(p - line)) break;
        if (++heap[0].ev == heap[0].end) heap[0] = heap[--n];
        sift_down(heap, n, 0);
    }
    free(heap);
    return ferror(f) ? -1 : 0;
}

int trace_out_commit(struct trace_out *o, const struct eng_options *opt, const struct eng_result *r,
                     struct err *e)
{
    json_t *run = run_info(opt, r), *threads = thread_info(r);
    char *run_s = run ? json_dumps(run, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    char *threads_s = threads ? json_dumps(threads, JSON_COMPACT) : NULL;
    json_decref(run);
    json_decref(threads);
    int rc = 0;
    if (!run_s || !threads_s) {
        rc = err_set(e, ERR_RUNTIME, "out of memory while writing the trace");
        goto done;
    }
    fprintf(o->f,
            "{\"format\":\"gilsim-trace\",\"version\":1,\n\"run\":%s,\n\"threads\":%s,\n"
            "\"events\":[",
            run_s, threads_s);
    if (write_events(o->f, r, opt->wl) == 0)
        fprintf(o->f, "\n],\n\"complete\":%s,\"events_dropped\":%llu}\n",
                r->events_dropped || r->interrupted ? "false" : "true",
                (unsigned long long)r->events_dropped);
    /* a write error (a full disk) is found by the commit, which then replaces nothing */
    rc = outfile_commit(o->of, e);
    o->of = NULL;
done:
    free(run_s);
    free(threads_s);
    trace_out_abort(o);
    return rc;
}
