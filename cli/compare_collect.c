/* cli/compare_collect.c - what the runs of a plan left in DIR: each finished run's result file
 * (NAME.result.json, written last by `--run`) read into c->runs; the runs without one are
 * listed as not finished. Reads only the small result files, not the traces, so that
 * collecting thousands of runs takes seconds. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/compare.h"
#include "common/jparse.h"
#include "common/text.h"

/* DIR/NAME.result.json of run i, parsed; NULL when absent or unreadable. */
static json_t *read_result(const struct compare *c, size_t i)
{
    char name[sizeof c->runs[i].trace + 16], path[PATH_MAX + 700], buf[64 << 10];
    compare_file_beside(c->runs[i].trace, ".result.json", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    json_t *doc = NULL;
    struct jp_error jerr;
    if (n <= 0 || (size_t)n == sizeof buf || jp_parse(buf, (size_t)n, 0, &doc, &jerr) != JP_OK)
        return NULL;
    json_t *idx = json_object_get(doc, "index");
    if (!json_is_integer(idx) || (size_t)json_integer_value(idx) != i ||
        !json_is_integer(json_object_get(doc, "status"))) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

bool compare_run_done(const struct compare *c, size_t i)
{
    json_t *doc = read_result(c, i);
    bool done = doc && json_integer_value(json_object_get(doc, "status")) == 0;
    json_decref(doc);
    return done;
}

static void keep_blocker(struct run *r, json_t *top)
{
    memset(&r->top, 0, sizeof r->top);
    if (!json_is_object(top)) return;
    const char *holder = json_string_value(json_object_get(top, "holder"));
    const char *waiter = json_string_value(json_object_get(top, "waiter"));
    if (!holder || !waiter) return;
    /* names from a file: escaped, cut on a character boundary (common/text.h) */
    text_escape(holder, r->top.holder, sizeof r->top.holder);
    text_escape(waiter, r->top.waiter, sizeof r->top.waiter);
    r->top.ns = (int64_t)json_number_value(json_object_get(top, "ns"));
    r->top.share = json_number_value(json_object_get(top, "share"));
}

/* The first note about cpython: which interpreter it was. */
static void note_cpython(struct compare *c, const char *policy)
{
    char note[256];
    if (!policy) policy = "?";
    size_t n = text_utf8_cut(policy, strlen(policy) < 40 ? strlen(policy) : 40);
    snprintf(note, sizeof note,
             "cpython = %.*s on real threads (tools/pyrun); its slices and hand-offs are "
             "inferred from progress stamps (docs/pyrun.md)",
             (int)n, policy);
    json_array_append_new(c->notes, text_json(note));
    c->cpython_noted = true;
}

static void keep_result(struct compare *c, struct run *r, json_t *doc)
{
    r->status = (int)json_integer_value(json_object_get(doc, "status"));
    json_t *metrics = json_object_get(doc, "metrics");
    for (int k = 0; k < NKM; k++) {
        json_t *v = json_object_get(metrics, compare_metrics[k].key);
        r->value[k] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    keep_blocker(r, json_object_get(doc, "top_blocker"));
    json_t *host = json_object_get(doc, "host");
    if (!c->host && json_is_object(host) && r->cfg->engine == ENG_REAL) c->host = json_incref(host);
    if (!r->cfg->subj.policy && !c->cpython_noted && r->status == 0)
        note_cpython(c, json_string_value(json_object_get(doc, "policy")));
}

/* "3, 7, 100-108" */
static void list_missing(const struct compare *c, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->nruns && n + 32 < size; i++) {
        if (c->runs[i].status != -1) continue;
        size_t j = i;
        while (j + 1 < c->nruns && c->runs[j + 1].status == -1)
            j++;
        n += (size_t)(j > i ? snprintf(buf + n, size - n, "%s%zu-%zu", n ? ", " : "", i, j)
                            : snprintf(buf + n, size - n, "%s%zu", n ? ", " : "", i));
        i = j;
    }
    if (n + 32 >= size) snprintf(buf + n, size - n, ", ...");
}

int compare_collect(struct compare *c, struct err *e)
{
    (void)e;
    c->failed = 0;
    c->not_run = 0;
    for (size_t i = 0; i < c->nruns; i++) {
        struct run *r = &c->runs[i];
        json_t *doc = read_result(c, i);
        r->status = -1;
        for (int k = 0; k < NKM; k++)
            r->value[k] = NAN;
        if (doc) keep_result(c, r, doc);
        json_decref(doc);
        c->failed += r->status > 0;
        c->not_run += r->status == -1;
    }
    if (c->not_run) {
        char list[400], note[600];
        list_missing(c, list, sizeof list);
        snprintf(note, sizeof note, "%zu of %zu runs not finished (status -1): %s", c->not_run,
                 c->nruns, list);
        json_array_append_new(c->notes, text_json(note)); /* trace names, cut anywhere */
    }
    return 0;
}
