/* analysis/metrics.h - metrics over a trace's event stream (docs/metrics.md defines each).
 * One pass: met_begin with the trace's header, met_event for every event in order, met_end;
 * then read the result as JSON (the `gilsim summary --json` document) or as text. Nothing
 * here knows the engine: any stream in the gilsim-trace format gets the same numbers. */
#ifndef GILSIM_METRICS_H
#define GILSIM_METRICS_H

#include <jansson.h>
#include <stdio.h>

#include "analysis/attribution.h"
#include "analysis/objmetrics.h"
#include "analysis/trace_read.h"
#include "common/err.h"

struct met_run;

/* hdr must stay valid until met_free. */
int met_begin(struct met_run **out, const struct trace *hdr, struct err *e);
int met_event(struct met_run *m, const struct trace_event *ev, struct err *e);
/* hdr: the same header, now with complete/events_dropped read from the end of the file. */
int met_end(struct met_run *m, const struct trace *hdr, struct err *e);
void met_free(struct met_run *m);

/* Keeps every thread's latency samples after met_end (call before it), for met_samples. */
void met_keep_samples(struct met_run *m);
/* Latency metrics by index 0, 1, ... (fewer than MET_MAX_LATENCIES): their names (NULL past
 * the last), and back. */
#define MET_MAX_LATENCIES 16
const char *met_latency_name(unsigned i);
int met_latency_index(const char *name);
/* Thread tid's samples of a latency metric, in ns, sorted ascending; valid until met_free.
 * 0 unless met_keep_samples was called. */
size_t met_samples(const struct met_run *m, unsigned latency, size_t tid, const int64_t **v);

/* Wait attribution, after met_end (docs/metrics.md): thread tid's total wait (every wait,
 * served or not) and its row of the waiter x holder matrix, as attr_row; valid until met_free. */
int64_t met_wait_total(const struct met_run *m, size_t tid);
size_t met_wait_row(const struct met_run *m, size_t tid, const struct attr_cell **cells);

/* After met_end: the run's figures over every object (all NAN when the trace names none). */
void met_objects_key(const struct met_run *m, struct objm_key *k);

enum met_flags {
    MET_KEEP_SAMPLES = 1, /* as met_keep_samples */
};

/* Reads and summarizes a trace file in one streaming pass. *hdr_out receives the header
 * (free with trace_free after met_free). flags: met_flags. */
int met_summarize_file(const char *path, unsigned flags, struct met_run **out,
                       struct trace **hdr_out, struct err *e);

/* The gilsim-summary document (new reference); trace_path goes into "trace". NULL when out of
 * memory. */
json_t *met_to_json(const struct met_run *m, const char *trace_path);
/* Human-readable summary. */
void met_print(const struct met_run *m, const char *trace_path, FILE *out);

#endif
