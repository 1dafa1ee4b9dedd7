/* sim/trace_write.h - writes a run as a gilsim-trace v1 JSON document (docs/trace-format.md).
 *
 * The output is reserved before the run (common/outfile.h: a temporary file beside the target,
 * so an unwritable path is found before anything runs) and appears under its name only when
 * complete (rename), so a reader never sees half a trace and an existing file survives a failed
 * run. */
#ifndef GILSIM_TRACE_WRITE_H
#define GILSIM_TRACE_WRITE_H

#include <jansson.h>

#include "engine.h"
#include "../common/err.h"

struct trace_out;

/* Reserves the output under common/outfile.h's rules ("-": standard output); inputs: the
 * files the run reads (NULL-terminated, or NULL), which the output may not be. flags:
 * common/outfile.h's OUTFILE_NO_SYNC, or 0. */
int trace_out_open(struct trace_out **out, const char *path, unsigned flags,
                   const char *const *inputs, struct err *e);
/* Writes the trace, renames it into place and frees out (also on failure). */
int trace_out_commit(struct trace_out *out, const struct eng_options *o, const struct eng_result *r,
                     struct err *e);
/* The temporary file written until commit renames it (for a cleanup on a hard exit). */
const char *trace_out_tmp_path(const struct trace_out *out);
/* Removes the temporary file and frees out. */
void trace_out_abort(struct trace_out *out);

#endif
