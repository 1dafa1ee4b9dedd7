/* cli/speedscope.c - see speedscope.h. */
#include "cli/speedscope.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "common/version.h"

/* A slice boundary: t << 4 | kind << 1 | (1 when it closes). */
struct boundaries {
    uint64_t *v;
    size_t n, cap;
};

struct speedscope {
    const struct trace *hdr;
    struct boundaries *th;
    bool out_of_memory;
};

int speedscope_new(struct speedscope **out, const struct trace *hdr, struct err *e)
{
    *out = NULL;
    struct speedscope *s = calloc(1, sizeof *s);
    if (s) s->th = calloc(hdr->nthreads ? hdr->nthreads : 1, sizeof *s->th);
    if (!s || !s->th) {
        free(s);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    s->hdr = hdr;
    *out = s;
    return 0;
}

void speedscope_free(struct speedscope *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->hdr->nthreads; i++)
        free(s->th[i].v);
    free(s->th);
    free(s);
}

/* A boundary packs its time, its kind (3 bits) and whether it closes (1 bit). */
_Static_assert(NSTATES <= 8, "a slice kind fits in 3 bits");

static void record(struct speedscope *s, int tid, enum state_kind k, int64_t t, bool closes)
{
    struct boundaries *b = &s->th[tid];
    if (s->out_of_memory) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        uint64_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            s->out_of_memory = true;
            return;
        }
        b->v = v, b->cap = cap;
    }
    b->v[b->n++] = (uint64_t)(t < 0 ? 0 : t) << 4 | (uint64_t)k << 1 | closes;
}

static void on_open(void *ctx, int tid, enum state_kind k, int64_t t)
{
    record(ctx, tid, k, t, false);
}

static void on_close(void *ctx, int tid, enum state_kind k, int64_t t)
{
    record(ctx, tid, k, t, true);
}

struct states_sink speedscope_sink(struct speedscope *s)
{
    return (struct states_sink){.open = on_open, .close = on_close, .ctx = s};
}

static void profile(FILE *out, const char *thread, const struct boundaries *b, int64_t end_ns)
{
    fputs("{\"type\":\"evented\",\"name\":", out);
    cli_json_string(out, thread);
    fprintf(out, ",\"unit\":\"nanoseconds\",\"startValue\":0,\"endValue\":%" PRId64 ",\"events\":[",
            end_ns);
    for (size_t i = 0; i < b->n; i++)
        fprintf(out, "%s\n{\"type\":\"%c\",\"frame\":%u,\"at\":%" PRIu64 "}", i ? "," : "",
                b->v[i] & 1 ? 'C' : 'O', (unsigned)(b->v[i] >> 1 & 7), b->v[i] >> 4);
    fputs("]}", out);
}

int speedscope_write(struct speedscope *s, FILE *out, const char *name, int64_t end_ns,
                     struct err *e)
{
    if (s->out_of_memory) return err_set(e, ERR_RUNTIME, "out of memory for the slices");
    fputs("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n\"name\":", out);
    cli_json_string(out, name);
    fputs(",\"exporter\":\"gilsim " GILSIM_VERSION "\",\"activeProfileIndex\":0,\n"
          "\"shared\":{\"frames\":[",
          out);
    for (int k = 0; k < NSTATES; k++) {
        fputs(k ? ",{\"name\":" : "{\"name\":", out);
        cli_json_string(out, state_name((enum state_kind)k));
        fputc('}', out);
    }
    fputs("]},\n\"profiles\":[", out);
    for (size_t i = 0; i < s->hdr->nthreads; i++) {
        fputs(i ? ",\n" : "\n", out);
        profile(out, s->hdr->threads[i].name, &s->th[i], end_ns);
    }
    fputs("]}\n", out);
    return 0;
}
