/* tests/fuzz/fuzz_trace.c - libFuzzer target for the trace reader and what `gilsim summary`
 * does with what it reads: any bytes must give a trace (then its metrics, JSON and text) or an
 * error naming the file, never a crash, a leak or undefined behaviour. Built by tools/dev/fuzz. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/metrics.h"
#include "analysis/trace_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
    struct met_run *m;
};

static int on_header(void *p, const struct trace *hdr, struct err *e)
{
    struct ctx *c = p;
    return met_begin(&c->m, hdr, e);
}

static int on_event(void *p, const struct trace_event *ev, struct err *e)
{
    struct ctx *c = p;
    return met_event(c->m, ev, e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null_out;
    if (!null_out) null_out = fopen("/dev/null", "w");
    struct ctx c = {NULL};
    struct trace_sink sink = {.header = on_header, .event = on_event, .ctx = &c};
    struct trace *t = NULL;
    struct err e = {0};
    int rc = trace_scan_buffer("fuzz.json", (const char *)data, size, &sink, &t, &e);
    if (rc == 0) rc = met_end(c.m, t, &e);
    if (rc == 0) {
        json_t *doc = met_to_json(c.m, "fuzz.json");
        char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        free(s);
        json_decref(doc);
        if (null_out) met_print(c.m, "fuzz.json", null_out);
    } else if (rc == ERR_INPUT && strncmp(e.msg, "fuzz.json:", 10) != 0) {
        abort(); /* bad input must be located */
    }
    met_free(c.m);
    trace_free(t);
    return 0;
}
