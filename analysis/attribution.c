/* analysis/attribution.c - see attribution.h; docs/metrics.md defines the numbers. */
#include "attribution.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_KEY UINT64_MAX

struct kv {
    uint64_t key; /* waiter << 32 | holder (ATTR_FREE as 0xffffffff: sorts last) */
    int64_t ns;
};

struct attr {
    size_t n;
    /* holders in the order they took the GIL: a doubly linked list; head is charged */
    int *hprev, *hnext;
    bool *holding;
    int head, tail;
    int charged;   /* the holder time is charged to now, or ATTR_FREE */
    int64_t since; /* ... since when */
    /* waiting threads: a dense list, each thread's position in it (-1: not waiting) */
    int *waiting, *wpos;
    size_t nwaiting;
    int64_t *wstart, *total;
    /* the matrix while streaming: dense, n x (n + 1) with the free GIL in column n, when that
     * is small (a waiter's row stays in cache); else open addressing on (waiter, holder) */
    int64_t *dense;
    struct kv *map;
    size_t cap, used;
    /* after attr_finish: the cells by waiter, then holder; row r is [row[r], row[r + 1]) */
    struct attr_cell *cells;
    size_t *row;
};

static uint64_t key_of(int waiter, int holder)
{
    return (uint64_t)(uint32_t)waiter << 32 | (uint32_t)(holder == ATTR_FREE ? -1 : holder);
}

static size_t slot_of(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static int grow(struct attr *a, struct err *e)
{
    size_t cap = a->cap ? a->cap * 2 : 256;
    struct kv *map = malloc(cap * sizeof *map);
    if (!map) return err_set(e, ERR_RUNTIME, "out of memory for %zu attribution cells", cap);
    for (size_t i = 0; i < cap; i++)
        map[i].key = EMPTY_KEY;
    for (size_t i = 0; i < a->cap; i++) {
        if (a->map[i].key == EMPTY_KEY) continue;
        size_t s = slot_of(a->map[i].key, cap);
        while (map[s].key != EMPTY_KEY)
            s = (s + 1) & (cap - 1);
        map[s] = a->map[i];
    }
    free(a->map);
    a->map = map;
    a->cap = cap;
    return 0;
}

/* Threads up to which the matrix is dense: 64 MiB of address space, touched only where waits
 * happen (calloc's pages are zero until written). */
#define DENSE_MAX_THREADS 2896

static int add(struct attr *a, int waiter, int holder, int64_t ns, struct err *e)
{
    if (ns <= 0) return 0;
    if (a->dense) {
        a->dense[(size_t)waiter * (a->n + 1) + (holder == ATTR_FREE ? a->n : (size_t)holder)] += ns;
        return 0;
    }
    if (2 * (a->used + 1) > a->cap) {
        int rc = grow(a, e);
        if (rc) return rc;
    }
    uint64_t key = key_of(waiter, holder);
    size_t s = slot_of(key, a->cap);
    while (a->map[s].key != key && a->map[s].key != EMPTY_KEY)
        s = (s + 1) & (a->cap - 1);
    if (a->map[s].key == EMPTY_KEY) {
        a->map[s].key = key;
        a->map[s].ns = 0;
        a->used++;
    }
    a->map[s].ns += ns;
    return 0;
}

int attr_new(struct attr **out, size_t nthreads, struct err *e)
{
    *out = NULL;
    struct attr *a = calloc(1, sizeof *a);
    size_t n = nthreads ? nthreads : 1;
    if (a) {
        a->n = nthreads;
        a->hprev = malloc(n * sizeof *a->hprev);
        a->hnext = malloc(n * sizeof *a->hnext);
        a->holding = calloc(n, sizeof *a->holding);
        a->waiting = malloc(n * sizeof *a->waiting);
        a->wpos = malloc(n * sizeof *a->wpos);
        a->wstart = calloc(n, sizeof *a->wstart);
        a->total = calloc(n, sizeof *a->total);
        if (nthreads && nthreads <= DENSE_MAX_THREADS)
            a->dense = calloc(nthreads * (nthreads + 1), sizeof *a->dense);
    }
    if (!a || !a->hprev || !a->hnext || !a->holding || !a->waiting || !a->wpos || !a->wstart ||
        !a->total || (nthreads && nthreads <= DENSE_MAX_THREADS && !a->dense)) {
        attr_free(a);
        return err_set(e, ERR_RUNTIME, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        a->wpos[i] = -1;
    a->head = a->tail = -1;
    a->charged = ATTR_FREE;
    *out = a;
    return 0;
}

void attr_free(struct attr *a)
{
    if (!a) return;
    free(a->hprev);
    free(a->hnext);
    free(a->holding);
    free(a->waiting);
    free(a->wpos);
    free(a->wstart);
    free(a->total);
    free(a->dense);
    free(a->map);
    free(a->cells);
    free(a->row);
    free(a);
}

/* Charges waiter w's wait since the later of its start and the charged holder's, up to t. */
static int charge(struct attr *a, int w, int64_t t, struct err *e)
{
    int64_t from = a->wstart[w] > a->since ? a->wstart[w] : a->since;
    return add(a, w, a->charged, t - from, e);
}

/* The charged holder becomes h at t: every waiter's time so far goes to the previous one. With
 * many threads waiting this is the loop that costs: the dense case gets its own. */
static int recharge(struct attr *a, int h, int64_t t, struct err *e)
{
    if (h == a->charged) return 0;
    if (a->dense) {
        size_t width = a->n + 1;
        int64_t *col = a->dense + (a->charged == ATTR_FREE ? a->n : (size_t)a->charged);
        for (size_t i = 0; i < a->nwaiting; i++) {
            int w = a->waiting[i];
            int64_t from = a->wstart[w] > a->since ? a->wstart[w] : a->since;
            col[(size_t)w * width] += t - from;
        }
    } else {
        for (size_t i = 0; i < a->nwaiting; i++) {
            int rc = charge(a, a->waiting[i], t, e);
            if (rc) return rc;
        }
    }
    a->charged = h;
    a->since = t;
    return 0;
}

void attr_wait_begin(struct attr *a, int tid, int64_t t)
{
    if (a->wpos[tid] >= 0) return;
    a->wpos[tid] = (int)a->nwaiting;
    a->waiting[a->nwaiting++] = tid;
    a->wstart[tid] = t;
}

int attr_wait_end(struct attr *a, int tid, int64_t t, struct err *e)
{
    int pos = a->wpos[tid];
    if (pos < 0) return 0;
    int rc = charge(a, tid, t, e);
    a->total[tid] += t - a->wstart[tid];
    int last = a->waiting[--a->nwaiting];
    a->waiting[pos] = last;
    a->wpos[last] = pos;
    a->wpos[tid] = -1;
    return rc;
}

int attr_hold_begin(struct attr *a, int tid, int64_t t, struct err *e)
{
    if (a->holding[tid]) return 0;
    a->holding[tid] = true;
    a->hprev[tid] = a->tail;
    a->hnext[tid] = -1;
    if (a->tail >= 0)
        a->hnext[a->tail] = tid;
    else
        a->head = tid;
    a->tail = tid;
    return recharge(a, a->head, t, e);
}

int attr_hold_end(struct attr *a, int tid, int64_t t, struct err *e)
{
    if (!a->holding[tid]) return 0;
    a->holding[tid] = false;
    int p = a->hprev[tid], n = a->hnext[tid];
    if (p >= 0)
        a->hnext[p] = n;
    else
        a->head = n;
    if (n >= 0)
        a->hprev[n] = p;
    else
        a->tail = p;
    return recharge(a, a->head >= 0 ? a->head : ATTR_FREE, t, e);
}

static int cmp_kv(const void *x, const void *y)
{
    uint64_t a = ((const struct kv *)x)->key, b = ((const struct kv *)y)->key;
    return (a > b) - (a < b);
}

/* The cells in row order (rows by waiter, holders ascending, free last), from the map. */
static int rows_from_map(struct attr *a, struct err *e)
{
    size_t k = 0;
    for (size_t i = 0; i < a->cap; i++)
        if (a->map[i].key != EMPTY_KEY) a->map[k++] = a->map[i];
    if (k) qsort(a->map, k, sizeof *a->map, cmp_kv);
    a->cells = malloc((k ? k : 1) * sizeof *a->cells);
    if (!a->cells) return err_set(e, ERR_RUNTIME, "out of memory for %zu attribution cells", k);
    for (size_t i = 0; i < k; i++) {
        uint32_t h = (uint32_t)a->map[i].key;
        a->cells[i].holder = h == UINT32_MAX ? ATTR_FREE : (int)h;
        a->cells[i].ns = a->map[i].ns;
        a->row[(a->map[i].key >> 32) + 1]++;
    }
    for (size_t r = 0; r < a->n; r++)
        a->row[r + 1] += a->row[r];
    free(a->map);
    a->map = NULL;
    a->cap = a->used = 0;
    return 0;
}

/* The same from the dense matrix, whose column n is the free GIL. */
static int rows_from_dense(struct attr *a, struct err *e)
{
    size_t k = 0, width = a->n + 1;
    for (size_t i = 0; i < a->n * width; i++)
        k += a->dense[i] != 0;
    a->cells = malloc((k ? k : 1) * sizeof *a->cells);
    if (!a->cells) return err_set(e, ERR_RUNTIME, "out of memory for %zu attribution cells", k);
    k = 0;
    for (size_t w = 0; w < a->n; w++) {
        for (size_t h = 0; h < width; h++) {
            int64_t ns = a->dense[w * width + h];
            if (!ns) continue;
            a->cells[k].holder = h == a->n ? ATTR_FREE : (int)h;
            a->cells[k++].ns = ns;
        }
        a->row[w + 1] = k;
    }
    free(a->dense);
    a->dense = NULL;
    return 0;
}

int attr_finish(struct attr *a, int64_t T, struct err *e)
{
    while (a->nwaiting) {
        int rc = attr_wait_end(a, a->waiting[a->nwaiting - 1], T, e);
        if (rc) return rc;
    }
    a->row = calloc(a->n + 1, sizeof *a->row);
    if (!a->row) return err_set(e, ERR_RUNTIME, "out of memory");
    return a->dense ? rows_from_dense(a, e) : rows_from_map(a, e);
}

int64_t attr_wait_total(const struct attr *a, int tid)
{
    return tid >= 0 && (size_t)tid < a->n ? a->total[tid] : 0;
}

size_t attr_row(const struct attr *a, int tid, const struct attr_cell **cells)
{
    *cells = NULL;
    if (!a->row || tid < 0 || (size_t)tid >= a->n) return 0;
    *cells = a->cells + a->row[tid];
    return a->row[tid + 1] - a->row[tid];
}
