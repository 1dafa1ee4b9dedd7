/* sim/engine_real_peer.c - the real engine's peers: for a thread whose ops talk to a peer (io
 * with "peer", send), a thread of its own outside the GIL at the other end of a Unix socket
 * pair. The peer reads each request (8 bytes: the latency, or PEER_NO_ANSWER; WORKS_BIT set
 * for a peer that works), waits the latency as a timer io does (ppoll, the same timer slack)
 * or spends it working (a busy loop on the clock: no timer), and writes a one-byte answer,
 * which wakes the workload thread blocked in recv: a real cross-CPU wake-up, as a Python
 * client's recv is woken by its server.
 * docs/workload-format.md#peers-io-answered-over-a-real-socket */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine_internal.h"

struct real_peer {
    int fd;  /* the workload thread's end */
    int end; /* the peer's end */
    int stop_fd;
    pthread_t handle;
    bool up;
};

struct real_peers {
    struct real_peer *all; /* one per workload thread; fd -1 for those without a peer */
    unsigned n;
};

/* Writes all of buf; false when the socket was shut down (the run ended). */
static bool send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool recv_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* In a request: the peer spends the latency working (latencies are far below 2^62 ns). */
#define WORKS_BIT (INT64_C(1) << 62)
/* How often a working peer looks at the stop pipe. */
#define WORK_STOP_CHECK_NS 100000

/* Works (spins on the clock) for ns, looking at the stop pipe every WORK_STOP_CHECK_NS; false
 * when the run stopped. */
static bool peer_work(const struct real_peer *p, int64_t ns)
{
    int64_t now = sync_now_ns(), until = now + ns, check = now + WORK_STOP_CHECK_NS;
    struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};
    while ((now = sync_now_ns()) < until) {
        if (now >= check) {
            if (poll(&pfd, 1, 0) > 0) return false;
            check = now + WORK_STOP_CHECK_NS;
        }
    }
    return true;
}

/* Waits ns in ppoll on the stop pipe; false when the run stopped. */
static bool peer_wait(const struct real_peer *p, int64_t ns)
{
    int64_t until = sync_now_ns() + ns;
    struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};
    for (;;) {
        int64_t left = until - sync_now_ns();
        if (left < 0) left = 0;
        struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
        int r = ppoll(&pfd, 1, &ts, NULL);
        if (r == 0) return true;
        if (r > 0 || errno != EINTR) return false;
    }
}

static void *peer_main(void *arg)
{
    struct real_peer *p = arg;
    int64_t ns;
    while (recv_all(p->end, &ns, sizeof ns)) {
        if (ns == PEER_NO_ANSWER) continue;
        bool works = ns & WORKS_BIT;
        ns &= ~WORKS_BIT;
        if (ns > 0 && !(works ? peer_work(p, ns) : peer_wait(p, ns))) break;
        char answer = 1;
        if (!send_all(p->end, &answer, 1)) break;
    }
    return NULL;
}

int real_peers_start(struct eng *eng, int stop_fd, struct real_peers **out, struct err *e)
{
    struct real_peers *ps = calloc(1, sizeof *ps);
    if (ps) ps->all = calloc(eng->nthreads ? eng->nthreads : 1, sizeof *ps->all);
    *out = ps;
    if (!ps || !ps->all) return err_set(e, ERR_RUNTIME, "out of memory for the peers");
    ps->n = eng->nthreads;
    for (unsigned i = 0; i < ps->n; i++)
        ps->all[i].fd = ps->all[i].end = -1;
    for (unsigned i = 0; i < ps->n; i++) {
        struct sim_thread *t = &eng->threads[i];
        struct real_peer *p = &ps->all[i];
        if (!t->group->uses_peer) continue;
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            return err_set(e, ERR_RUNTIME, "cannot create the socket pair of a peer: %s",
                           strerror(errno));
        p->fd = sv[0];
        p->end = sv[1];
        p->stop_fd = stop_fd;
        int rc = pthread_create(&p->handle, NULL, peer_main, p);
        if (rc) return err_set(e, ERR_RUNTIME, "cannot start a peer thread: %s", strerror(rc));
        p->up = true;
        ((struct real_thread *)t->be_thread)->peer = p;
    }
    return 0;
}

void real_peers_shutdown(struct real_peers *ps)
{
    for (unsigned i = 0; ps && i < ps->n; i++)
        if (ps->all[i].fd >= 0) shutdown(ps->all[i].fd, SHUT_RDWR);
}

void real_peers_free(struct real_peers *ps, bool keep_fds)
{
    if (!ps) return;
    real_peers_shutdown(ps);
    for (unsigned i = 0; ps->all && i < ps->n; i++) {
        struct real_peer *p = &ps->all[i];
        if (p->up) pthread_join(p->handle, NULL);
        if (p->fd >= 0 && !keep_fds) {
            close(p->fd);
            close(p->end);
        }
    }
    if (keep_fds) return; /* threads left running may still use them */
    free(ps->all);
    free(ps);
}

int real_peer_send(struct sim_thread *t, int64_t ns, bool works)
{
    if (works && ns != PEER_NO_ANSWER) ns |= WORKS_BIT;
    struct real_peer *p = ((struct real_thread *)t->be_thread)->peer;
    return send_all(p->fd, &ns, sizeof ns) && !eng_stopping(t->eng) ? RUN_ON : RUN_STOP;
}

int real_peer_recv(struct sim_thread *t, int64_t until)
{
    struct real_peer *p = ((struct real_thread *)t->be_thread)->peer;
    char answer;
    atomic_store_explicit(&t->idle_until, until, memory_order_relaxed); /* a planned wait */
    bool ok = recv_all(p->fd, &answer, 1);
    atomic_store_explicit(&t->idle_until, 0, memory_order_relaxed);
    counter_add(&t->beat, 1);
    return ok && !eng_stopping(t->eng) ? RUN_ON : RUN_STOP;
}
