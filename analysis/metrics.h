/* analysis/metrics.h - metrics over a trace's event stream (docs/metrics.md defines each).
 * One pass: met_begin with the trace's header, met_event for every event in order, met_end;
 * then read the result as JSON (the `gilsim summary --json` document) or as text. Nothing
 * here knows the engine: any stream in the gilsim-trace format gets the same numbers. */
#ifndef GILSIM_METRICS_H
#define GILSIM_METRICS_H

#include <jansson.h>
#include <stdio.h>

#include "analysis/trace_read.h"
#include "sim/err.h"

struct met_run;

/* hdr must stay valid until met_free. */
int met_begin(struct met_run **out, const struct trace *hdr, struct err *e);
int met_event(struct met_run *m, const struct trace_event *ev, struct err *e);
/* hdr: the same header, now with complete/events_dropped read from the end of the file. */
int met_end(struct met_run *m, const struct trace *hdr, struct err *e);
void met_free(struct met_run *m);

/* Reads and summarizes a trace file in one streaming pass. *hdr_out receives the header
 * (free with trace_free after met_free). */
int met_summarize_file(const char *path, struct met_run **out, struct trace **hdr_out,
                       struct err *e);

/* The gilsim-summary document (new reference); trace_path goes into "trace". NULL when out of
 * memory. */
json_t *met_to_json(const struct met_run *m, const char *trace_path);
/* Human-readable summary. */
void met_print(const struct met_run *m, const char *trace_path, FILE *out);

#endif
