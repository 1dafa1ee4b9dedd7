/* cli/compare_results.c - what the runs of a plan left in DIR, and the key metrics they are
 * measured by. `--run` keeps each run's key metrics (cmp_result_metrics) in its result file
 * NAME.result.json, written last; here each finished run's result file is read back into a
 * struct cmp_results (--collect), and the runs without one are listed as not finished. Reads
 * only the small result files, not the traces, so that collecting thousands of runs takes
 * seconds. */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/compare.h"
#include "common/jparse.h"
#include "common/text.h"

const struct cmp_key_metric cmp_key_metrics[CMP_NKM] = {
#define X_ROW(e, key, label, path, unit) {key, label, path, unit},
    CMP_KEY_METRICS(X_ROW)
#undef X_ROW
};

static double json_at(json_t *doc, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = doc;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Counts become rates so that runs of slightly different lengths compare. */
json_t *cmp_result_metrics(json_t *summary)
{
    json_t *out = json_object();
    double window_s = json_at(summary, "window_ns") / 1e9;
    for (int k = 0; k < CMP_NKM; k++) {
        if (!cmp_key_metrics[k].path) continue;
        double v = json_at(summary, cmp_key_metrics[k].path);
        if (k == CMP_KM_SWITCHES_PER_S || k == CMP_KM_FORCED_PER_S ||
            k == CMP_KM_FAILED_WAKEUPS_PER_S)
            v = window_s > 0 ? v / window_s : NAN;
        json_object_set_new(out, cmp_key_metrics[k].key, isfinite(v) ? json_real(v) : json_null());
    }
    return out;
}

/* DIR/NAME.result.json of run i, parsed; NULL when absent or unreadable. */
static json_t *read_result(const struct cmp_plan *p, size_t i)
{
    char name[sizeof p->runs[i].trace + 16], path[PATH_MAX + 700], buf[64 << 10];
    cmp_file_beside(p->runs[i].trace, ".result.json", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
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

bool cmp_run_done(const struct cmp_plan *p, size_t i)
{
    json_t *doc = read_result(p, i);
    bool done = doc && json_integer_value(json_object_get(doc, "status")) == 0;
    json_decref(doc);
    return done;
}

static void keep_blocker(struct cmp_outcome *r, json_t *top)
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
static void note_cpython(struct cmp_results *r, const char *policy)
{
    char note[256];
    if (!policy) policy = "?";
    size_t n = text_utf8_cut(policy, strlen(policy) < 40 ? strlen(policy) : 40);
    snprintf(note, sizeof note,
             "cpython = %.*s on real threads (tools/pyrun); its slices and hand-offs are "
             "inferred from progress stamps (docs/pyrun.md)",
             (int)n, policy);
    json_array_append_new(r->notes, text_json(note));
}

/* Run i's result file into r; *cpython_noted: whether cpython's note is there already. */
static void keep_result(const struct cmp_plan *p, size_t i, json_t *doc, struct cmp_results *r,
                        bool *cpython_noted)
{
    struct cmp_outcome *o = &r->runs[i];
    const struct cmp_cell *cell = p->runs[i].cell;
    o->status = (int)json_integer_value(json_object_get(doc, "status"));
    json_t *metrics = json_object_get(doc, "metrics");
    for (int k = 0; k < CMP_NKM; k++) {
        json_t *v = json_object_get(metrics, cmp_key_metrics[k].key);
        o->value[k] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    keep_blocker(o, json_object_get(doc, "top_blocker"));
    o->disturbed = o->status == 0 && json_is_true(json_object_get(doc, "disturbed"));
    const char *why = json_string_value(json_object_get(doc, "disturbed_why"));
    text_escape(o->disturbed && why ? why : "", o->why, sizeof o->why);
    json_t *host = json_object_get(doc, "host");
    if (!r->host && json_is_object(host) && cell->engine == ENG_REAL) r->host = json_incref(host);
    if (!cell->subj.policy && !*cpython_noted && o->status == 0) {
        note_cpython(r, json_string_value(json_object_get(doc, "policy")));
        *cpython_noted = true;
    }
}

/* "3, 7, 100-108" */
static void list_missing(const struct cmp_results *r, size_t nruns, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nruns && n + 32 < size; i++) {
        if (r->runs[i].status != -1) continue;
        size_t j = i;
        while (j + 1 < nruns && r->runs[j + 1].status == -1)
            j++;
        n += (size_t)(j > i ? snprintf(buf + n, size - n, "%s%zu-%zu", n ? ", " : "", i, j)
                            : snprintf(buf + n, size - n, "%s%zu", n ? ", " : "", i));
        i = j;
    }
    if (n + 32 >= size) snprintf(buf + n, size - n, ", ...");
}

static void note_interrupt(struct cmp_results *r, int signal)
{
    char note[200];
    snprintf(note, sizeof note,
             "interrupted by %s: the runs in progress were stopped and left no trace; "
             "`gilsim compare --collect` after `--run` of the others completes it",
             signal == SIGINT ? "SIGINT" : "SIGTERM");
    json_array_append_new(r->notes, json_string(note));
}

int cmp_collect(const struct cmp_plan *p, int signal, struct cmp_results *r, struct err *e)
{
    *r = (struct cmp_results){.runs = calloc(p->nruns ? p->nruns : 1, sizeof *r->runs),
                              .baseline_io_per_s =
                                  calloc(p->ncells ? p->ncells : 1, sizeof *r->baseline_io_per_s),
                              .notes = json_array()};
    if (!r->runs || !r->baseline_io_per_s || !r->notes)
        return err_set(e, ERR_RUNTIME, "out of memory");
    if (signal) note_interrupt(r, signal);
    bool cpython_noted = false;
    for (size_t i = 0; i < p->nruns; i++) {
        struct cmp_outcome *o = &r->runs[i];
        json_t *doc = read_result(p, i);
        o->status = -1;
        for (int k = 0; k < CMP_NKM; k++)
            o->value[k] = NAN;
        if (doc) keep_result(p, i, doc, r, &cpython_noted);
        json_decref(doc);
        r->failed += o->status > 0;
        r->not_run += o->status == -1;
        r->disturbed += o->disturbed;
    }
    for (size_t i = 0; i < p->ncells; i++)
        r->baseline_io_per_s[i] = NAN;
    if (r->not_run) {
        char list[400], note[600];
        list_missing(r, p->nruns, list, sizeof list);
        snprintf(note, sizeof note, "%zu of %zu runs not finished (status -1): %s", r->not_run,
                 p->nruns, list);
        json_array_append_new(r->notes, text_json(note)); /* trace names, cut anywhere */
    }
    return 0;
}

void cmp_results_free(struct cmp_results *r)
{
    free(r->runs);
    free(r->baseline_io_per_s);
    json_decref(r->host);
    json_decref(r->notes);
    *r = (struct cmp_results){.runs = NULL};
}
