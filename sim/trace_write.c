/* sim/trace_write.c - see trace_write.h. The header (run, threads) is built with jansson; the
 * events are merged from the per-thread buffers and written by common/trace_emit.h. */
#define _GNU_SOURCE
#include "trace_write.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/host.h"
#include "../common/outfile.h"
#include "../common/text.h"
#include "../common/trace_emit.h"
#include "common/version.h" /* generated into the build tree */

struct trace_out {
    struct outfile *of;
    FILE *f;
};

int trace_out_open(struct trace_out **out, const char *path, unsigned flags,
                   const char *const *inputs, struct err *e)
{
    *out = NULL;
    struct trace_out *o = calloc(1, sizeof *o);
    if (!o) return err_set(e, ERR_RUNTIME, "out of memory");
    int rc = outfile_open(&o->of, path, OUTFILE_STDOUT | flags, inputs, e);
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

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *ns_or_null(int64_t ns)
{
    return ns >= 0 ? json_integer((json_int_t)ns) : json_null();
}

/* The real engine's look at the host around the run: the tick re-measured after it (into
 * run.calibration) and run.host_load; analysis/disturb.c judges them. */
static void host_check_json(const struct eng_result *r, json_t *run)
{
    const struct eng_host_check *h = &r->host;
    json_object_set_new(json_object_get(run, "calibration"), "ns_per_tick_end",
                        num_or_null(h->ns_per_tick_end));
    json_t *ls = json_array(), *le = json_array();
    for (int i = 0; i < 3; i++) {
        json_array_append_new(ls, num_or_null(h->load_start[i]));
        json_array_append_new(le, num_or_null(h->load_end[i]));
    }
    json_object_set_new(
        run, "host_load",
        json_pack("{so so sI so so sI so so}", "loadavg_start", ls, "loadavg_end", le, "cpus",
                  (json_int_t)h->cpus, "cpus_busy_ns", ns_or_null(h->cpus_busy_ns), "self_cpu_ns",
                  ns_or_null(h->self_cpu_ns), "threads_measured", (json_int_t)h->threads_measured,
                  "run_queue_wait_ns", ns_or_null(h->queue_wait_ns), "on_cpu_ns",
                  ns_or_null(h->on_cpu_ns)));
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
    if (run && r->host.measured) host_check_json(r, run);
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
    struct trace_emit_src *srcs = malloc((r->nthreads ? r->nthreads : 1) * sizeof *srcs);
    if (!srcs) {
        rc = err_set(e, ERR_RUNTIME, "out of memory while writing the trace");
        goto done;
    }
    for (unsigned i = 0; i < r->nthreads; i++)
        srcs[i] = (struct trace_emit_src){r->threads[i].events,
                                          r->threads[i].events + r->threads[i].nevents};
    const struct wl_workload *wl = opt->wl;
    const char **names = malloc((wl->nobjects ? wl->nobjects : 1) * sizeof *names);
    if (!names) {
        free(srcs);
        rc = err_set(e, ERR_RUNTIME, "out of memory while writing the trace");
        goto done;
    }
    for (size_t i = 0; i < wl->nobjects; i++)
        names[i] = wl->objects[i].name;
    struct trace_emit_doc doc = {.run_json = run_s,
                                 .threads_json = threads_s,
                                 .complete = !(r->events_dropped || r->interrupted),
                                 .events_dropped = r->events_dropped,
                                 .object_names = names,
                                 .nobjects = wl->nobjects};
    int wrc = trace_emit_document(o->f, &doc, srcs, r->nthreads);
    free(srcs);
    free(names);
    if (wrc && !ferror(o->f)) {
        rc = err_set(e, ERR_RUNTIME, "out of memory while writing the trace");
        goto done;
    }
    /* a write error (a full disk) is found by the commit, which then replaces nothing */
    rc = outfile_commit(o->of, e);
    o->of = NULL;
done:
    free(run_s);
    free(threads_s);
    trace_out_abort(o);
    return rc;
}
