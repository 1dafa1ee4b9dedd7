/* record/record.h - gilsim's side of `gilsim record` (docs/record.md): running a command with
 * the preload library (rec_run.c), reading what it left in the session directory
 * (rec_read.c), and writing that as a gilsim-trace (rec_trace.c). Library code: errors come
 * back as a status and a message, nothing here prints or exits. */
#ifndef GILSIM_RECORD_H
#define GILSIM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/trace_events.h"
#include "record/rec_format.h"

/* ---- running the command (rec_run.c) -------------------------------------------------------- */

struct rec_options {
    char *const *argv;     /* the command, NULL-terminated */
    const char *lib;       /* the preload library, an absolute path */
    const char *names_dir; /* the names hook's directory (PYTHONPATH), NULL: none */
    uint64_t max_events;   /* per thread */
    /* called with the child's pid once it runs, and with 0 once it has been reaped (a caller
     * that must end it on a hard exit); NULL: none */
    void (*on_child)(void *ctx, pid_t pid);
    void *ctx;
};

/* What became of the command. */
struct rec_child {
    int64_t t0_ns;      /* CLOCK_MONOTONIC just before it was started: the trace's t = 0 */
    int64_t end_ns;     /* ... when it had been reaped */
    char start_utc[40]; /* the wall-clock time of t0 */
    int status;         /* its wait status */
    int stop_signal;    /* SIGINT or SIGTERM when one stopped it (passed on or from the
                           terminal), else 0 */
    int interrupts;     /* how many SIGINT/SIGTERM arrived */
};

struct rec_session;

/* A session directory: in /dev/shm when it is writable (the events then live in memory),
 * else in $TMPDIR or /tmp. */
int rec_session_open(struct rec_session **s, struct err *e);
const char *rec_session_dir(const struct rec_session *s);
/* Removes the directory and what it holds, and frees s (NULL: nothing). */
void rec_session_close(struct rec_session *s);

/* Runs the command as a child with the library preloaded, passes SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT on (those a terminal sends its whole process group reach the child themselves; a
 * third SIGINT/SIGTERM kills it), and waits until it has ended. ERR_INPUT when it cannot be
 * started (the message names it). The caller must not take these signals itself meanwhile;
 * once the child ran they stay blocked on return, so that whatever arrives next cannot stop
 * the trace from being written (the caller exits with the child's status). */
int rec_run(struct rec_session *s, const struct rec_options *o, struct rec_child *c, struct err *e);
/* The exit status a shell would give the child: its code, or 128 + the signal. */
int rec_exit_status(const struct rec_child *c);

/* ---- what was recorded (rec_read.c) --------------------------------------------------------- */

struct rec_thread_data {
    int tid;        /* in the trace: recorded threads in the order they first asked */
    int os_tid;     /* threading's native_id */
    char name[128]; /* threading's name, or one made up (docs/record.md) */
    char group[64];
    struct trace_event *ev; /* times from the child's start */
    uint16_t *call;         /* per event: enum rec_call */
    uint8_t *inferred;      /* per event: 1 when gilsim record placed it (the process' end) */
    size_t n;
    uint64_t dropped;
    uint64_t clamped; /* events stamped before the thread's previous one, moved up to it */
};

struct rec_data {
    struct rec_process proc; /* the process file, copied */
    struct rec_thread_data *threads;
    size_t nthreads;
    uint64_t threads_missing; /* claimed by the library, no file left */
    uint64_t events_dropped;
    uint64_t events_clamped;
};

/* Reads the session after the child has ended. ERR_INPUT when the command ran no CPython the
 * library recorded, or an interpreter it refused (its message); ERR_RUNTIME when the files are
 * not the library's. Threads still holding, waiting or blocked when the process ended get their
 * release and thread_exit at its end, marked inferred. */
int rec_read(const struct rec_session *s, const struct rec_child *c, struct rec_data *d,
             struct err *e);
void rec_data_free(struct rec_data *d);

/* ---- the trace (rec_trace.c) ---------------------------------------------------------------- */

/* Writes d as a gilsim-trace v1 document (run.engine "recorded"). 0, or ERR_RUNTIME. */
int rec_write_trace(FILE *f, const struct rec_data *d, const struct rec_child *c,
                    const struct rec_options *o, struct err *e);
/* The workload name a recording is known by: the script's file name without .py (or the
 * command's), in the characters a workload name allows. */
void rec_command_name(char *const *argv, char *buf, size_t size);

#endif
