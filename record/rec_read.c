/* record/rec_read.c - the session as the preload library left it, read once the recorded
 * process has ended: its process file, one file per thread, the names; every thread's events
 * on the trace's clock (t = 0 when the command started), holders renumbered, and what the
 * process' end cut off closed at that end. See record.h and rec_format.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/text.h"
#include "record/record.h"

/* The whole of a small file at dir/name, NUL-terminated (NULL: none; *len its length). */
static char *read_small(const char *dir, const char *name, size_t max, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = malloc(max + 1);
    ssize_t n = buf ? read(fd, buf, max) : -1;
    close(fd);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static int read_process(const char *dir, struct rec_process *p, struct err *e)
{
    char *refused = read_small(dir, "refused", 512, NULL);
    if (refused) {
        refused[strcspn(refused, "\n")] = '\0';
        int rc = err_set(e, ERR_INPUT, "%s; nothing recorded", refused);
        free(refused);
        return rc;
    }
    size_t len = 0;
    char *buf = read_small(dir, "process", sizeof *p, &len);
    if (!buf)
        return err_set(
            e, ERR_INPUT,
            "the command ran no CPython that the recorder could see (a Python program "
            "run by CPython 3.11, directly or through a shell or env); nothing recorded");
    bool ok = len == sizeof *p;
    if (ok) memcpy(p, buf, sizeof *p);
    free(buf);
    if (!ok || p->magic != REC_MAGIC || p->layout != REC_LAYOUT)
        return err_set(e, ERR_RUNTIME, "%s/process: not written by this gilsim's recorder library",
                       dir);
    if (!p->gil_found)
        return err_set(e, ERR_RUNTIME,
                       "%s ran, but its GIL was not recognised as CPython 3.11 creates it; "
                       "nothing recorded",
                       p->executable);
    return 0;
}

/* ---- one thread ----------------------------------------------------------------------------- */

/* A name's group: the target of a default name ("Thread-3 (worker)": worker), else the name
 * without a trailing number and separator ("io-2": io), in the characters of a workload name. */
static void group_of(const char *name, char *g, size_t size)
{
    const char *open = strstr(name, " (");
    size_t n = strlen(name);
    if (strncmp(name, "Thread-", 7) == 0 && open && n > 0 && name[n - 1] == ')') {
        name = open + 2;
        n = strlen(name) - 1;
    }
    while (n > 0 && name[n - 1] >= '0' && name[n - 1] <= '9')
        n--;
    while (n > 0 && strchr("-_. ", name[n - 1]))
        n--;
    if (n == 0) name = "thread", n = 6;
    if (n >= size) n = size - 1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        g[i] = ok ? c : '_';
    }
    g[n] = '\0';
}

/* Reads one thread file into td (room for two more events, for its end). 1 when the file is
 * missing (the library could not make it), 0, or an error. */
static int load_thread(const char *dir, uint64_t index, int64_t t0, struct rec_thread_data *td,
                       struct rec_thread *hdr, struct err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/t%05llu", dir, (unsigned long long)index);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    struct stat st;
    void *map = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= REC_EVENTS_AT)
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return err_set(e, ERR_RUNTIME, "%s: cannot read it", path);
    memcpy(hdr, map, sizeof *hdr);
    int rc = 0;
    if (hdr->magic != REC_MAGIC || hdr->index != index || hdr->count > hdr->cap ||
        REC_EVENTS_AT + hdr->count * sizeof(struct rec_event) > (size_t)st.st_size) {
        rc = err_set(e, ERR_RUNTIME, "%s: not a thread file of this recorder", path);
        goto done;
    }
    size_t n = hdr->count;
    td->ev = calloc(n + 2, sizeof *td->ev);
    td->call = calloc(n + 2, sizeof *td->call);
    td->inferred = calloc(n + 2, 1);
    if (!td->ev || !td->call || !td->inferred) {
        rc = err_set(e, ERR_RUNTIME, "out of memory for %zu events", n);
        goto done;
    }
    const struct rec_event *raw = (const struct rec_event *)((const char *)map + REC_EVENTS_AT);
    for (size_t i = 0; i < n; i++) {
        int64_t t = raw[i].t - t0;
        if (t < 0) t = 0;
        if (i && t < td->ev[i - 1].t) { /* never seen; a trace must stay sorted */
            t = td->ev[i - 1].t;
            td->clamped++;
        }
        td->ev[i] = (struct trace_event){
            .t = t, .arg = raw[i].arg, .tid = td->tid, .ev = raw[i].ev, .reason = raw[i].reason};
        td->call[i] = raw[i].call < REC_CALL_COUNT ? raw[i].call : REC_CALL_NONE;
        if (raw[i].ev >= TRACE_EV_COUNT || raw[i].reason >= TRACE_REASON_COUNT) {
            rc = err_set(e, ERR_RUNTIME, "%s: event %zu is not one this gilsim knows", path, i);
            goto done;
        }
    }
    td->n = n;
    td->os_tid = hdr->os_tid;
    td->dropped = hdr->dropped;
done:
    munmap(map, (size_t)st.st_size);
    return rc;
}

static void append(struct rec_thread_data *td, int64_t t, enum trace_ev ev, int64_t arg,
                   enum trace_reason reason)
{
    td->ev[td->n] = (struct trace_event){
        .t = t, .arg = arg, .tid = td->tid, .ev = (uint16_t)ev, .reason = (uint16_t)reason};
    td->inferred[td->n++] = 1;
}

/* What the process' end cut off: a release whose reason was still open ends the thread; a call
 * in progress lasts until the end; a thread that held the GIL releases it there (reason exit),
 * and every thread that had not ended gets its thread_exit there. Not when events were dropped:
 * the state then belongs to events the file does not hold. end and t0 are on the process'
 * clock. */
static void finish_thread(struct rec_thread_data *td, const struct rec_thread *h, int64_t end,
                          int64_t t0)
{
    if (td->n && td->ev[td->n - 1].t + t0 > end) end = td->ev[td->n - 1].t + t0;
    for (size_t i = td->n; i-- > 0;)
        if (td->ev[i].ev == TRACE_EV_RELEASE) {
            if (td->ev[i].reason == TRACE_REASON_NONE) td->ev[i].reason = TRACE_REASON_EXIT;
            break;
        }
    if (h->dropped || h->state == REC_ST_EXITED || h->state == REC_ST_NONE) return;
    if (h->span_at < td->n && td->ev[h->span_at].arg == TRACE_NO_ARG)
        td->ev[h->span_at].arg = end - t0 - td->ev[h->span_at].t;
    int64_t held = h->held_ns;
    if (h->state == REC_ST_HOLDING) {
        held += end - h->acquire_t;
        append(td, end - t0, TRACE_EV_RELEASE, held / REC_TICK_NS, TRACE_REASON_EXIT);
    }
    append(td, end - t0, TRACE_EV_THREAD_EXIT, held / REC_TICK_NS, TRACE_REASON_NONE);
}

/* ---- names ---------------------------------------------------------------------------------- */

/* threading's names, from the names hook's lines "native_id<TAB>name" (the last line for a
 * native_id wins: a thread renamed later). A thread without one is named by its place. */
static void name_threads(const char *dir, struct rec_data *d)
{
    size_t len = 0;
    char *buf = read_small(dir, "names", 1u << 22, &len);
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        long id = strtol(line, NULL, 10);
        size_t n = strlen(tab + 1);
        if (n >= sizeof d->threads[0].name)
            n = text_utf8_cut(tab + 1, sizeof d->threads[0].name - 1);
        for (size_t i = 0; i < d->nthreads; i++)
            if (d->threads[i].os_tid == id) {
                memcpy(d->threads[i].name, tab + 1, n);
                d->threads[i].name[n] = '\0';
            }
    }
    free(buf);
    for (size_t i = 0; i < d->nthreads; i++) {
        struct rec_thread_data *td = &d->threads[i];
        if (!td->name[0]) {
            if (i == 0)
                snprintf(td->name, sizeof td->name, "MainThread");
            else
                snprintf(td->name, sizeof td->name, "thread-%d", td->os_tid);
        }
        group_of(td->name, td->group, sizeof td->group);
    }
}

/* ---- the session ---------------------------------------------------------------------------- */

/* Holders named by the library's thread index, renumbered as the trace's tids (a thread without
 * a file: no holder). */
static void renumber_holders(struct rec_data *d, const int *tid_of, uint64_t nindex)
{
    for (size_t i = 0; i < d->nthreads; i++) {
        struct rec_thread_data *td = &d->threads[i];
        for (size_t k = 0; k < td->n; k++) {
            struct trace_event *ev = &td->ev[k];
            const char *key = trace_ev_arg_key((enum trace_ev)ev->ev);
            if (!key || strcmp(key, "holder") != 0 || ev->arg == TRACE_NO_ARG) continue;
            ev->arg = ev->arg >= 0 && (uint64_t)ev->arg < nindex && tid_of[ev->arg] >= 0
                          ? tid_of[ev->arg]
                          : TRACE_NO_ARG;
        }
    }
}

static int load_threads(const char *dir, const struct rec_child *c, struct rec_data *d, int *tid_of,
                        uint64_t nindex, struct err *e)
{
    int64_t end = d->proc.end_ns ? d->proc.end_ns : c->end_ns;
    for (uint64_t i = 0; i < nindex; i++) {
        struct rec_thread_data *td = &d->threads[d->nthreads];
        struct rec_thread hdr;
        td->tid = (int)d->nthreads;
        int rc = load_thread(dir, i, c->t0_ns, td, &hdr, e);
        tid_of[i] = -1;
        if (rc == 1) {
            d->threads_missing++;
            continue;
        }
        d->nthreads++;
        if (rc) return rc;
        tid_of[i] = td->tid;
        finish_thread(td, &hdr, end, c->t0_ns);
        d->events_dropped += td->dropped;
        d->events_clamped += td->clamped;
    }
    return 0;
}

int rec_read(const struct rec_session *s, const struct rec_child *c, struct rec_data *d,
             struct err *e)
{
    memset(d, 0, sizeof *d);
    const char *dir = rec_session_dir(s);
    int rc = read_process(dir, &d->proc, e);
    if (rc) return rc;
    uint64_t nindex = d->proc.threads < REC_MAX_THREADS ? d->proc.threads : REC_MAX_THREADS;
    d->threads = calloc(nindex ? nindex : 1, sizeof *d->threads);
    int *tid_of = calloc(nindex ? nindex : 1, sizeof *tid_of);
    if (!d->threads || !tid_of) {
        free(tid_of);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    rc = load_threads(dir, c, d, tid_of, nindex, e);
    if (rc == 0) {
        renumber_holders(d, tid_of, nindex);
        name_threads(dir, d);
    }
    free(tid_of);
    if (rc) rec_data_free(d);
    return rc;
}

void rec_data_free(struct rec_data *d)
{
    for (size_t i = 0; d->threads && i < d->nthreads; i++) {
        free(d->threads[i].ev);
        free(d->threads[i].call);
        free(d->threads[i].inferred);
    }
    free(d->threads);
    d->threads = NULL;
    d->nthreads = 0;
}
