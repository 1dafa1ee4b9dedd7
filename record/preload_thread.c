/* record/preload_thread.c - a thread's record: its file in the session (made when the thread
 * first asks for the GIL), writing events into it without a lock or an allocation, amending
 * the event whose details come later, and the thread's end. See preload.h. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "record/preload.h"

static RP_TLS struct rp_thread me;

struct rp_thread *rp_thread_self(void)
{
    return rp.active && me.hdr ? &me : NULL;
}

/* The thread's file: the head, then room for max_events events; sparse, so only what is
 * written takes memory (the session lives in /dev/shm when it can). */
static struct rec_thread *map_thread_file(uint64_t index)
{
    char path[sizeof rp.dir + 32];
    snprintf(path, sizeof path, "%s/t%05llu", rp.dir, (unsigned long long)index);
    size_t size = REC_EVENTS_AT + rp.max_events * sizeof(struct rec_event);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return NULL;
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0)
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

struct rp_thread *rp_thread_register(void)
{
    if (!rp.active || me.failed) return NULL;
    if (me.hdr) return &me;
    uint64_t index = __atomic_fetch_add(&rp.proc->threads, 1, __ATOMIC_RELAXED);
    struct rec_thread *h = index < REC_MAX_THREADS ? map_thread_file(index) : NULL;
    if (!h) {
        me.failed = true;
        rp_count(REC_COUNTER_THREADS_NOT_RECORDED);
        return NULL;
    }
    h->index = (uint32_t)index;
    h->os_tid = (int32_t)syscall(SYS_gettid);
    h->cap = rp.max_events;
    h->state = REC_ST_NONE;
    h->release_at = REC_NONE;
    h->span_at = REC_NONE;
    h->magic = REC_MAGIC;
    me.ev = (struct rec_event *)((char *)h + REC_EVENTS_AT);
    me.hdr = h;
    pthread_setspecific(rp.key, &me);
    return &me;
}

uint64_t rp_emit(struct rp_thread *s, int64_t t, enum trace_ev ev, int64_t arg,
                 enum trace_reason reason, enum rec_call call)
{
    struct rec_thread *h = s->hdr;
    uint64_t n = h->count;
    if (n >= h->cap) {
        h->dropped++;
        return REC_NONE;
    }
    s->ev[n] = (struct rec_event){t, arg, (uint16_t)ev, (uint16_t)reason, (uint16_t)call, 0};
    h->count = n + 1;
    return n;
}

struct rec_event *rp_event_at(struct rp_thread *s, uint64_t i)
{
    return i < s->hdr->count ? &s->ev[i] : NULL;
}

int64_t rp_ticks(const struct rp_thread *s, int64_t now)
{
    const struct rec_thread *h = s->hdr;
    int64_t held = h->held_ns + (h->state == REC_ST_HOLDING ? now - h->acquire_t : 0);
    return held / REC_TICK_NS;
}

void rp_thread_end(struct rp_thread *s, int64_t now)
{
    struct rec_thread *h = s->hdr;
    switch (h->state) {
    case REC_ST_HOLDING:
        rp_emit(s, now, TRACE_EV_RELEASE, rp_ticks(s, now), TRACE_REASON_EXIT, REC_CALL_NONE);
        h->held_ns += now - h->acquire_t;
        h->state = REC_ST_RELEASED;
        break;
    case REC_ST_RELEASED:
        rp_release_close(s, now, true);
        break;
    case REC_ST_EXITED:
        return;
    default:
        break;
    }
    rp_emit(s, now, TRACE_EV_THREAD_EXIT, rp_ticks(s, now), TRACE_REASON_NONE, REC_CALL_NONE);
    h->state = REC_ST_EXITED;
}
