/* record/preload_calls.c - the blocking calls a thread makes between a GIL release and its next
 * request: the first one gives the release its reason (io, send, sleep, lock: by the call's
 * kind in REC_CALL_TABLE) and its name; I/O and sleeps are recorded as spans (io_begin/io_end,
 * sleep_begin/sleep_end). A call made while the thread holds the GIL, or by a thread that has
 * never asked for it, is passed through: counted when it holds the GIL, not recorded. See
 * preload.h. */
#define _GNU_SOURCE
#define _LARGEFILE64_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "record/preload.h"

#define X_KIND(name, str, kind) REC_KIND_##kind,
static const unsigned char call_kind[] = {REC_CALL_TABLE(X_KIND)};
#undef X_KIND

static const enum trace_reason kind_reason[] = {
    [REC_KIND_NONE] = TRACE_REASON_NONE,   [REC_KIND_IO] = TRACE_REASON_IO,
    [REC_KIND_FS] = TRACE_REASON_IO,       [REC_KIND_SEND] = TRACE_REASON_SEND,
    [REC_KIND_SLEEP] = TRACE_REASON_SLEEP, [REC_KIND_LOCK] = TRACE_REASON_LOCK,
};

/* The calling thread when it released the GIL and has not asked again. */
static struct rp_thread *released_self(void)
{
    struct rp_thread *s = rp_thread_self();
    if (!s) return NULL;
    if (s->hdr->state == REC_ST_RELEASED) return s;
    if (s->hdr->state == REC_ST_HOLDING) rp_count(REC_COUNTER_CALLS_WITH_GIL);
    return NULL;
}

/* The clock at a call's start, read only for the calls recorded as spans (a clock read is most
 * of what recording costs a thread). */
static int64_t call_time(enum rec_call call)
{
    enum rec_call_kind kind = call_kind[call];
    return kind == REC_KIND_IO || kind == REC_KIND_SLEEP ? rp_now() : 0;
}

/* The call begins: the open release takes its reason from the first call; an I/O or a sleep
 * opens its span (an I/O's length is written when it returns). Returns the span's index. */
static uint64_t call_begin(struct rp_thread *s, enum rec_call call, int64_t t, int64_t sleep_ns)
{
    struct rec_thread *h = s->hdr;
    enum rec_call_kind kind = call_kind[call];
    struct rec_event *rel = rp_event_at(s, h->release_at);
    if (rel && rel->reason == TRACE_REASON_NONE) {
        rel->reason = (uint16_t)kind_reason[kind];
        rel->call = (uint16_t)call;
        h->release_at = REC_NONE;
    }
    h->calls++;
    uint64_t span = REC_NONE;
    if (kind == REC_KIND_IO)
        span = rp_emit(s, t, TRACE_EV_IO_BEGIN, TRACE_NO_ARG, TRACE_REASON_NONE, call);
    else if (kind == REC_KIND_SLEEP)
        span = rp_emit(s, t, TRACE_EV_SLEEP_BEGIN, sleep_ns, TRACE_REASON_NONE, call);
    h->span_at = span;
    return span;
}

static void call_end(struct rp_thread *s, enum rec_call call, uint64_t span, int64_t t0)
{
    enum rec_call_kind kind = call_kind[call];
    if (kind != REC_KIND_IO && kind != REC_KIND_SLEEP) return;
    int64_t t = rp_now();
    struct rec_event *begin = rp_event_at(s, span);
    if (begin && kind == REC_KIND_IO) begin->arg = t - t0;
    rp_emit(s, t, kind == REC_KIND_IO ? TRACE_EV_IO_END : TRACE_EV_SLEEP_END, TRACE_NO_ARG,
            TRACE_REASON_NONE, call);
    s->hdr->span_at = REC_NONE;
}

/* One interposed call: passed through unless the thread is between a release and a request.
 * errno is the call's. */
#define RP_CALL(ret, name, call_expr, sleep_expr, params, args)                                    \
    RP_EXPORT ret name params                                                                      \
    {                                                                                              \
        typedef ret(*fn) params;                                                                   \
        fn real = RP_REAL(fn, name);                                                               \
        struct rp_thread *s = released_self();                                                     \
        if (!s) return real args;                                                                  \
        enum rec_call rp_call_ = (call_expr);                                                      \
        int64_t rp_t0_ = call_time(rp_call_);                                                      \
        uint64_t rp_span_ = call_begin(s, rp_call_, rp_t0_, (sleep_expr));                         \
        ret rp_ret_ = real args;                                                                   \
        int rp_errno_ = errno;                                                                     \
        call_end(s, rp_call_, rp_span_, rp_t0_);                                                   \
        errno = rp_errno_;                                                                         \
        return rp_ret_;                                                                            \
    }

static int64_t ts_ns(const struct timespec *ts)
{
    return ts ? (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec : 0;
}

/* The length a sleep asked for: an absolute deadline less the clock's time now. */
static int64_t sleep_request(clockid_t clock, int flags, const struct timespec *req)
{
    if (!(flags & TIMER_ABSTIME)) return ts_ns(req);
    struct timespec now;
    clock_gettime(clock, &now);
    int64_t ns = ts_ns(req) - ts_ns(&now);
    return ns > 0 ? ns : 0;
}

static int64_t tv_ns(const struct timeval *tv)
{
    return tv ? (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000 : 0;
}

/* I/O: the thread waits for the outside */
RP_CALL(ssize_t, read, REC_CALL_READ, 0, (int fd, void *buf, size_t n), (fd, buf, n))
RP_CALL(ssize_t, readv, REC_CALL_READV, 0, (int fd, const struct iovec *v, int n), (fd, v, n))
RP_CALL(ssize_t, pread64, REC_CALL_PREAD, 0, (int fd, void *buf, size_t n, off64_t o),
        (fd, buf, n, o))
RP_CALL(ssize_t, recv, REC_CALL_RECV, 0, (int fd, void *buf, size_t n, int fl), (fd, buf, n, fl))
RP_CALL(ssize_t, recvfrom, REC_CALL_RECVFROM, 0,
        (int fd, void *restrict buf, size_t n, int fl, __SOCKADDR_ARG a, socklen_t *restrict al),
        (fd, buf, n, fl, a, al))
RP_CALL(ssize_t, recvmsg, REC_CALL_RECVMSG, 0, (int fd, struct msghdr *m, int fl), (fd, m, fl))
RP_CALL(int, accept, REC_CALL_ACCEPT, 0, (int fd, __SOCKADDR_ARG a, socklen_t *restrict l),
        (fd, a, l))
RP_CALL(int, accept4, REC_CALL_ACCEPT4, 0,
        (int fd, __SOCKADDR_ARG a, socklen_t *restrict l, int fl), (fd, a, l, fl))
RP_CALL(int, connect, REC_CALL_CONNECT, 0, (int fd, __CONST_SOCKADDR_ARG a, socklen_t l),
        (fd, a, l))
RP_CALL(int, poll, REC_CALL_POLL, 0, (struct pollfd * p, nfds_t n, int ms), (p, n, ms))
RP_CALL(int, select, nfds == 0 && tv ? REC_CALL_SELECT_SLEEP : REC_CALL_SELECT, tv_ns(tv),
        (int nfds, fd_set *restrict r, fd_set *restrict w, fd_set *restrict x,
         struct timeval *restrict tv),
        (nfds, r, w, x, tv))
RP_CALL(int, epoll_wait, REC_CALL_EPOLL_WAIT, 0, (int fd, struct epoll_event *e, int n, int ms),
        (fd, e, n, ms))
RP_CALL(pid_t, waitpid, REC_CALL_WAITPID, 0, (pid_t p, int *st, int o), (p, st, o))
RP_CALL(pid_t, wait4, REC_CALL_WAIT4, 0, (pid_t p, int *st, int o, struct rusage *ru),
        (p, st, o, ru))
RP_CALL(int, waitid, REC_CALL_WAITID, 0, (idtype_t t, id_t id, siginfo_t *i, int o), (t, id, i, o))
RP_CALL(int, sigwait, REC_CALL_SIGWAIT, 0, (const sigset_t *restrict set, int *restrict sig),
        (set, sig))
RP_CALL(int, sigtimedwait, REC_CALL_SIGTIMEDWAIT, 0,
        (const sigset_t *restrict set, siginfo_t *restrict i, const struct timespec *restrict ts),
        (set, i, ts))
RP_CALL(int, sigwaitinfo, REC_CALL_SIGWAITINFO, 0,
        (const sigset_t *restrict set, siginfo_t *restrict i), (set, i))
RP_CALL(int, getaddrinfo, REC_CALL_GETADDRINFO, 0,
        (const char *restrict n, const char *restrict sv, const struct addrinfo *restrict h,
         struct addrinfo **restrict r),
        (n, sv, h, r))

/* the file system: released around, not an I/O operation */
RP_CALL(int, close, REC_CALL_CLOSE, 0, (int fd), (fd))
RP_CALL(int, fstat64, REC_CALL_FSTAT, 0, (int fd, struct stat64 *st), (fd, st))
RP_CALL(int, stat64, REC_CALL_STAT, 0, (const char *restrict p, struct stat64 *restrict st),
        (p, st))
RP_CALL(int, lstat64, REC_CALL_LSTAT, 0, (const char *restrict p, struct stat64 *restrict st),
        (p, st))
RP_CALL(int, fstatat64, REC_CALL_FSTATAT, 0,
        (int fd, const char *restrict p, struct stat64 *restrict st, int fl), (fd, p, st, fl))
RP_CALL(off64_t, lseek64, REC_CALL_LSEEK, 0, (int fd, off64_t o, int w), (fd, o, w))
RP_CALL(int, fsync, REC_CALL_FSYNC, 0, (int fd), (fd))
RP_CALL(int, fdatasync, REC_CALL_FDATASYNC, 0, (int fd), (fd))
RP_CALL(int, flock, REC_CALL_FLOCK, 0, (int fd, int op), (fd, op))
RP_CALL(struct dirent64 *, readdir64, REC_CALL_READDIR, 0, (DIR * d), (d))
RP_CALL(DIR *, opendir, REC_CALL_OPENDIR, 0, (const char *p), (p))
RP_CALL(DIR *, fdopendir, REC_CALL_FDOPENDIR, 0, (int fd), (fd))
RP_CALL(int, closedir, REC_CALL_CLOSEDIR, 0, (DIR * d), (d))
RP_CALL(char *, getcwd, REC_CALL_GETCWD, 0, (char *buf, size_t n), (buf, n))
RP_CALL(ssize_t, readlink, REC_CALL_READLINK, 0,
        (const char *restrict p, char *restrict buf, size_t n), (p, buf, n))
RP_CALL(int, access, REC_CALL_ACCESS, 0, (const char *p, int m), (p, m))
RP_CALL(int, mkdir, REC_CALL_MKDIR, 0, (const char *p, mode_t m), (p, m))
RP_CALL(int, rmdir, REC_CALL_RMDIR, 0, (const char *p), (p))
RP_CALL(int, unlink, REC_CALL_UNLINK, 0, (const char *p), (p))
RP_CALL(int, rename, REC_CALL_RENAME, 0, (const char *a, const char *b), (a, b))
RP_CALL(int, ftruncate64, REC_CALL_FTRUNCATE, 0, (int fd, off64_t n), (fd, n))
RP_CALL(int, chmod, REC_CALL_CHMOD, 0, (const char *p, mode_t m), (p, m))
RP_CALL(int, utimensat, REC_CALL_UTIMENSAT, 0,
        (int fd, const char *p, const struct timespec t[2], int fl), (fd, p, t, fl))
RP_CALL(ssize_t, getrandom, REC_CALL_GETRANDOM, 0, (void *buf, size_t n, unsigned fl), (buf, n, fl))

/* writes */
RP_CALL(ssize_t, write, REC_CALL_WRITE, 0, (int fd, const void *buf, size_t n), (fd, buf, n))
RP_CALL(ssize_t, writev, REC_CALL_WRITEV, 0, (int fd, const struct iovec *v, int n), (fd, v, n))
RP_CALL(ssize_t, pwrite64, REC_CALL_PWRITE, 0, (int fd, const void *buf, size_t n, off64_t o),
        (fd, buf, n, o))
RP_CALL(ssize_t, send, REC_CALL_SEND, 0, (int fd, const void *buf, size_t n, int fl),
        (fd, buf, n, fl))
RP_CALL(ssize_t, sendto, REC_CALL_SENDTO, 0,
        (int fd, const void *buf, size_t n, int fl, __CONST_SOCKADDR_ARG a, socklen_t al),
        (fd, buf, n, fl, a, al))
RP_CALL(ssize_t, sendmsg, REC_CALL_SENDMSG, 0, (int fd, const struct msghdr *m, int fl),
        (fd, m, fl))
RP_CALL(ssize_t, sendfile64, REC_CALL_SENDFILE, 0, (int out, int in, off64_t *o, size_t n),
        (out, in, o, n))

/* sleeps */
RP_CALL(int, clock_nanosleep, REC_CALL_CLOCK_NANOSLEEP, sleep_request(clk, fl, req),
        (clockid_t clk, int fl, const struct timespec *req, struct timespec *rem),
        (clk, fl, req, rem))
RP_CALL(int, nanosleep, REC_CALL_NANOSLEEP, ts_ns(req),
        (const struct timespec *req, struct timespec *rem), (req, rem))

/* locks: CPython's locks are semaphores (Python/thread_pthread.h) */
RP_CALL(int, sem_wait, REC_CALL_SEM_WAIT, 0, (sem_t * sem), (sem))
RP_CALL(int, sem_timedwait, REC_CALL_SEM_TIMEDWAIT, 0,
        (sem_t *restrict sem, const struct timespec *restrict ts), (sem, ts))
RP_CALL(int, sem_clockwait, REC_CALL_SEM_CLOCKWAIT, 0,
        (sem_t * sem, clockid_t clk, const struct timespec *ts), (sem, clk, ts))

/* open() and openat() take a mode only with O_CREAT or O_TMPFILE */
static mode_t open_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

static int open_call(enum rec_call call, int dirfd, const char *path, int flags, mode_t mode)
{
    typedef int (*fn_open)(const char *, int, ...);
    typedef int (*fn_openat)(int, const char *, int, ...);
    fn_open real_open = RP_REAL(fn_open, open64);
    fn_openat real_openat = RP_REAL(fn_openat, openat64);
    struct rp_thread *s = released_self();
    int64_t t0 = s ? call_time(call) : 0;
    uint64_t span = s ? call_begin(s, call, t0, 0) : REC_NONE;
    int r = call == REC_CALL_OPEN ? real_open(path, flags, mode)
                                  : real_openat(dirfd, path, flags, mode);
    int saved = errno;
    if (s) call_end(s, call, span, t0);
    errno = saved;
    return r;
}

RP_EXPORT int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return open_call(REC_CALL_OPEN, AT_FDCWD, path, flags, mode);
}

RP_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = open_mode(flags, ap);
    va_end(ap);
    return open_call(REC_CALL_OPENAT, dirfd, path, flags, mode);
}
