/* record/preload.h - what the files of the preload library (libgilsim-record.so) share: the
 * recognised GIL, the session, each thread's record and the one way events are written.
 *
 * The library is loaded into the recorded Python process with LD_PRELOAD and interposes the
 * pthread and libc calls the interpreter imports (docs/record.md, "How it works"). It links
 * nothing of gilsim but record/rec_format.h and the event vocabulary, allocates nothing and
 * takes no lock when it records an event, and never changes what a call does or returns.
 *
 *   preload_init.c    the session, the interpreter check, recognising the GIL, exit, fork
 *   preload_thread.c  a thread's file, writing and amending events, a thread's end
 *   preload_gil.c     the GIL's mutexes and conditions: request, acquire, release, waits
 *   preload_calls.c   the blocking calls made between a release and the next request */
#ifndef GILSIM_PRELOAD_H
#define GILSIM_PRELOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "record/rec_format.h"

#define RP_EXPORT __attribute__((visibility("default")))
#define RP_TLS    __thread __attribute__((tls_model("initial-exec")))

/* CPython 3.11's struct _gil_runtime_state (Include/internal/pycore_gil.h), as the layout of
 * the interpreter's memory: the library reads interval, locked and switch_number while it holds
 * the GIL's mutex, as CPython does. */
struct rp_gil311 {
    unsigned long interval; /* µs */
    void *last_holder;
    int locked; /* -1 before the GIL is created */
    unsigned long switch_number;
    pthread_cond_t cond;
    pthread_mutex_t mutex;
    pthread_cond_t switch_cond;
    pthread_mutex_t switch_mutex;
};

/* The library's state in this process. Set up once by the constructor; `gil` is published with
 * a release store when recognised and read with relaxed loads on every interposed call. */
struct rp_state {
    bool active;              /* this process is the one being recorded */
    struct rp_gil311 *gil;    /* NULL until recognised */
    struct rec_process *proc; /* the mapped `process` file */
    const char *runtime;      /* _PyRuntime and its size */
    uint64_t runtime_size;
    int holder;        /* tid holding the GIL, -1: none (written under its mutex) */
    int drop_pending;  /* a drop request was seen and no acquire since (idem) */
    pthread_key_t key; /* its destructor ends a thread's record */
    uint64_t max_events;
    char dir[3072]; /* the session directory */
};
extern struct rp_state rp;

/* One thread's record: its mapped file. NULL in the thread-local pointer until the thread
 * first asks for the GIL; `failed` after its file could not be made (the thread is counted,
 * not recorded). */
struct rp_thread {
    struct rec_thread *hdr;
    struct rec_event *ev;
    bool failed;
};

static inline struct rp_gil311 *rp_gil(void)
{
    return __atomic_load_n(&rp.gil, __ATOMIC_ACQUIRE);
}

int64_t rp_now(void);
void rp_count(enum rec_counter c);

/* The calling thread's record, or NULL when it has none yet (rp_thread_self) or cannot have
 * one (rp_thread_register: registers it on first use). */
struct rp_thread *rp_thread_self(void);
struct rp_thread *rp_thread_register(void);
/* Appends an event; returns its index, or REC_NONE when the thread's room is full (the event
 * is counted as dropped). */
uint64_t rp_emit(struct rp_thread *s, int64_t t, enum trace_ev ev, int64_t arg,
                 enum trace_reason reason, enum rec_call call);
/* The event at index i, to amend (the reason of a release, the length of a span); NULL for
 * REC_NONE. */
struct rec_event *rp_event_at(struct rp_thread *s, uint64_t i);
/* The thread's ticks so far (GIL-held time in REC_TICK_NS). */
int64_t rp_ticks(const struct rp_thread *s, int64_t now);

/* The GIL side (preload_gil.c): the open release of a thread that asks again (ending: that
 * ends) gets its reason when no blocking call gave it one: a drop request if one was pending
 * when it released, else native work (or exit, when ending). */
void rp_release_close(struct rp_thread *s, int64_t now, bool ending);
/* A thread's record ends: a release if it held the GIL, then thread_exit. */
void rp_thread_end(struct rp_thread *s, int64_t now);

/* Resolves the next definition of an interposed function (libc's), once per call site: RP_REAL
 * gives it as a function pointer of the given type (copied, since ISO C has no cast from an
 * object pointer to a function pointer). */
void *rp_real(void **slot, const char *name);
#define RP_REAL(type, name)                                                                        \
    __extension__({                                                                                \
        static void *rp_slot_;                                                                     \
        void *rp_p_ = rp_real(&rp_slot_, #name);                                                   \
        type rp_f_;                                                                                \
        memcpy(&rp_f_, &rp_p_, sizeof rp_f_);                                                      \
        rp_f_;                                                                                     \
    })

/* Recognising the GIL as the interpreter creates it (preload_init.c). */
void rp_note_mutex_init(const pthread_mutex_t *m);
void rp_note_cond_init(const pthread_cond_t *c);
void rp_note_interval(unsigned long us);

#endif
