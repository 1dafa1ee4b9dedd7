/* cli/speedscope.h - `gilsim export --format speedscope`: Speedscope's own file format
 * (https://www.speedscope.app/file-format-schema.json), one evented profile per thread whose
 * frames are the thread's states (cli/states.h), in ns. Speedscope wants each profile's events
 * together while a trace is ordered by time across threads, so the writer keeps 8 bytes per
 * slice boundary until the end (the trace itself is read once). */
#ifndef GILSIM_SPEEDSCOPE_H
#define GILSIM_SPEEDSCOPE_H

#include <stdio.h>

#include "analysis/trace_read.h"
#include "cli/states.h"

struct speedscope;

int speedscope_new(struct speedscope **out, const struct trace *hdr, struct err *e);
void speedscope_free(struct speedscope *s);
/* The sink that records the slices (states_new). */
struct states_sink speedscope_sink(struct speedscope *s);
/* Writes the document: every profile from 0 to end_ns. name: the file's name. */
int speedscope_write(struct speedscope *s, FILE *out, const char *name, int64_t end_ns,
                     struct err *e);

#endif
