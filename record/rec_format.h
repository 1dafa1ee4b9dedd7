/* record/rec_format.h - the session files through which the preload library (in the recorded
 * Python process) hands its events to `gilsim record` (docs/record.md, "How it works").
 *
 * A session is a directory. The recorded process maps every file of it shared, so what it
 * wrote is in the files whatever way it ends (exit, a fatal signal, SIGKILL), and gilsim
 * record reads them only once the process is gone: nothing is ever read while it is written.
 *
 *   process         struct rec_process: the interpreter, the GIL, the counters
 *   t00000, t00001  one per thread that touched the GIL, in that order: struct rec_thread,
 *                   then its events (struct rec_event) from REC_EVENTS_AT on
 *   names           thread names, one "native_id<TAB>name" line each (written by the names
 *                   hook, record/gilsim_names/sitecustomize.py)
 *   refused         present when the library refused the interpreter: the reason, one line
 *
 * Both sides are built from this header in one build, so the layout needs no versioning beyond
 * REC_LAYOUT, which catches a library from another build. */
#ifndef GILSIM_REC_FORMAT_H
#define GILSIM_REC_FORMAT_H

#include <stdint.h>

#include "common/trace_events.h"

#define REC_MAGIC       UINT64_C(0x31726d69736c6967) /* "gilsimr1" */
#define REC_LAYOUT      1
#define REC_EVENTS_AT   4096 /* offset of a thread file's first event */
#define REC_MAX_THREADS 10000
#define REC_NONE        UINT64_MAX /* no such event index */
/* A recorded trace counts GIL-held time in ticks of this length (release.ticks), the default
 * tick of a workload, so that ticks/s compare with a model's replay (docs/record.md). */
#define REC_TICK_NS 50
/* The exit status of a process whose interpreter the library refused (the file `refused` says
 * why): it stops before the program's first line. */
#define REC_REFUSED_STATUS 125

/* Environment of the recorded command (set by gilsim record, removed from its own environment
 * by the process the library records, so that its children run unrecorded). */
#define REC_ENV_DIR        "GILSIM_RECORD_DIR"
#define REC_ENV_MAX_EVENTS "GILSIM_RECORD_MAX_EVENTS"
#define REC_ENV_LIB        "GILSIM_RECORD_LIB"   /* the library's path: what LD_PRELOAD loses */
#define REC_ENV_NAMES      "GILSIM_RECORD_NAMES" /* the names hook's directory (PYTHONPATH) */

/* The blocking calls the library sees, each with the kind that decides the release's reason:
 * X(ENUM, "name", KIND). KIND: IO (the thread waits for the outside: io_begin/io_end), FS (a
 * file-system call: release reason io, no span, so that opening and stat-ing files, which an
 * import does by the hundred, do not count as I/O operations), SEND (a call that writes:
 * release reason send, no span), SLEEP (sleep_begin/sleep_end), LOCK (a semaphore wait: release
 * reason lock, no span). */
#define REC_CALL_TABLE(X)                                                                          \
    X(NONE, "", NONE)                                                                              \
    X(READ, "read", IO)                                                                            \
    X(READV, "readv", IO)                                                                          \
    X(PREAD, "pread64", IO)                                                                        \
    X(RECV, "recv", IO)                                                                            \
    X(RECVFROM, "recvfrom", IO)                                                                    \
    X(RECVMSG, "recvmsg", IO)                                                                      \
    X(ACCEPT, "accept", IO)                                                                        \
    X(ACCEPT4, "accept4", IO)                                                                      \
    X(CONNECT, "connect", IO)                                                                      \
    X(POLL, "poll", IO)                                                                            \
    X(SELECT, "select", IO)                                                                        \
    X(EPOLL_WAIT, "epoll_wait", IO)                                                                \
    X(WAITPID, "waitpid", IO)                                                                      \
    X(WAIT4, "wait4", IO)                                                                          \
    X(WAITID, "waitid", IO)                                                                        \
    X(SIGWAIT, "sigwait", IO)                                                                      \
    X(SIGTIMEDWAIT, "sigtimedwait", IO)                                                            \
    X(SIGWAITINFO, "sigwaitinfo", IO)                                                              \
    X(GETADDRINFO, "getaddrinfo", IO)                                                              \
    X(OPEN, "open64", FS)                                                                          \
    X(OPENAT, "openat64", FS)                                                                      \
    X(CLOSE, "close", FS)                                                                          \
    X(FSTAT, "fstat64", FS)                                                                        \
    X(STAT, "stat64", FS)                                                                          \
    X(LSTAT, "lstat64", FS)                                                                        \
    X(FSTATAT, "fstatat64", FS)                                                                    \
    X(LSEEK, "lseek64", FS)                                                                        \
    X(FSYNC, "fsync", FS)                                                                          \
    X(FDATASYNC, "fdatasync", FS)                                                                  \
    X(FLOCK, "flock", FS)                                                                          \
    X(READDIR, "readdir64", FS)                                                                    \
    X(OPENDIR, "opendir", FS)                                                                      \
    X(FDOPENDIR, "fdopendir", FS)                                                                  \
    X(CLOSEDIR, "closedir", FS)                                                                    \
    X(GETCWD, "getcwd", FS)                                                                        \
    X(READLINK, "readlink", FS)                                                                    \
    X(ACCESS, "access", FS)                                                                        \
    X(MKDIR, "mkdir", FS)                                                                          \
    X(RMDIR, "rmdir", FS)                                                                          \
    X(UNLINK, "unlink", FS)                                                                        \
    X(RENAME, "rename", FS)                                                                        \
    X(FTRUNCATE, "ftruncate64", FS)                                                                \
    X(CHMOD, "chmod", FS)                                                                          \
    X(UTIMENSAT, "utimensat", FS)                                                                  \
    X(GETRANDOM, "getrandom", FS)                                                                  \
    X(WRITE, "write", SEND)                                                                        \
    X(WRITEV, "writev", SEND)                                                                      \
    X(PWRITE, "pwrite64", SEND)                                                                    \
    X(SEND, "send", SEND)                                                                          \
    X(SENDTO, "sendto", SEND)                                                                      \
    X(SENDMSG, "sendmsg", SEND)                                                                    \
    X(SENDFILE, "sendfile64", SEND)                                                                \
    X(CLOCK_NANOSLEEP, "clock_nanosleep", SLEEP)                                                   \
    X(NANOSLEEP, "nanosleep", SLEEP)                                                               \
    X(SELECT_SLEEP, "select", SLEEP) /* select() on no descriptors: a sleep */                     \
    X(SEM_WAIT, "sem_wait", LOCK)                                                                  \
    X(SEM_TIMEDWAIT, "sem_timedwait", LOCK)                                                        \
    X(SEM_CLOCKWAIT, "sem_clockwait", LOCK)

enum rec_call_kind {
    REC_KIND_NONE,
    REC_KIND_IO,
    REC_KIND_FS,
    REC_KIND_SEND,
    REC_KIND_SLEEP,
    REC_KIND_LOCK
};

#define REC_X_CALL(name, str, kind) REC_CALL_##name,
enum rec_call { REC_CALL_TABLE(REC_X_CALL) REC_CALL_COUNT };
#undef REC_X_CALL

/* What the library counts instead of recording (docs/record.md, "What is not recorded"):
 * X(ENUM, "json key"). */
#define REC_COUNTER_TABLE(X)                                                                       \
    X(THREADS_NOT_RECORDED, "threads_not_recorded")                                                \
    X(RELEASES_WITHOUT_CALL, "releases_without_call")                                              \
    X(UNEXPECTED_GIL_CALLS, "unexpected_gil_calls")                                                \
    X(CALLS_WITH_GIL, "blocking_calls_holding_gil")

#define REC_X_COUNTER(name, key) REC_COUNTER_##name,
enum rec_counter { REC_COUNTER_TABLE(REC_X_COUNTER) REC_COUNTER_COUNT };
#undef REC_X_COUNTER

/* The state a thread was last left in (struct rec_thread.state). */
enum rec_state {
    REC_ST_NONE,     /* registered, nothing recorded yet */
    REC_ST_WAITING,  /* requested the GIL */
    REC_ST_HOLDING,  /* holds it */
    REC_ST_RELEASED, /* released it and has not asked again */
    REC_ST_EXITED,   /* thread_exit recorded */
};

/* The file `process`. */
struct rec_process {
    uint64_t magic, layout;
    int64_t pid;
    uint64_t py_version;  /* the interpreter's Py_Version, e.g. 0x030b02f0 for 3.11.2 */
    int64_t start_ns;     /* CLOCK_MONOTONIC when the library started in the process */
    int64_t end_ns;       /* when it ran its exit handler (0: it did not: a signal, _exit) */
    uint64_t interval_us; /* the GIL's switch interval, as last read */
    uint64_t interval_first_us;
    uint64_t interval_changes; /* times it was seen to differ from the previous read */
    uint64_t gil_found;        /* 1 once the GIL was recognised */
    uint64_t gil_offset;       /* its offset in _PyRuntime */
    uint64_t threads;          /* thread files claimed (some may have failed) */
    uint64_t max_events;       /* room per thread */
    uint64_t counters[REC_COUNTER_COUNT];
    char executable[512]; /* /proc/self/exe */
};

/* The head of a thread file: the thread's identity and the recorder's state for it, kept here
 * (not in the process' memory) so that gilsim record knows where each thread stood when the
 * process ended. */
struct rec_thread {
    uint64_t magic;
    uint32_t index; /* the trace's tid */
    int32_t os_tid; /* gettid(): threading's native_id */
    uint64_t cap;   /* room for events */
    uint64_t count; /* events written */
    uint64_t dropped;
    uint32_t state;        /* enum rec_state */
    uint32_t drop_pending; /* a drop request was pending when it released */
    int64_t held_ns;       /* GIL held in all, up to the last acquire */
    int64_t acquire_t;     /* the last acquire */
    int64_t release_t;     /* the last release */
    uint64_t release_at;   /* index of the last release while its reason is open, else REC_NONE */
    uint64_t span_at;      /* index of the begin of a call in progress, else REC_NONE */
    uint64_t calls;        /* blocking calls since the last release */
};

/* One event: 24 bytes. t is CLOCK_MONOTONIC; the tid is the file's. */
struct rec_event {
    int64_t t;
    int64_t arg;     /* TRACE_NO_ARG: none (yet) */
    uint16_t ev;     /* enum trace_ev */
    uint16_t reason; /* enum trace_reason, for release; TRACE_REASON_NONE while open */
    uint16_t call;   /* enum rec_call: the blocking call behind a release or span */
    uint16_t flags;
};

#endif
