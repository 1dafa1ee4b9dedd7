/* record/preload_init.c - the preload library's start and end in a process: whether this is the
 * process to record (the first one of the command that runs CPython), the interpreter check,
 * the session's `process` file, recognising the GIL as the interpreter creates it, the exit
 * handler and fork. See preload.h. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "record/preload.h"

struct rp_state rp = {.holder = -1};

/* The last two mutexes and the last condition created inside _PyRuntime: CPython's create_gil
 * makes the GIL's mutex, its switch mutex, its condition and its switch condition in that
 * order, back to back in one struct. */
static const void *seen_mutex[2], *seen_cond;

void *rp_real(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (!p) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELAXED);
    }
    return p;
}

int64_t rp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rp_count(enum rec_counter c)
{
    if (rp.proc) __atomic_fetch_add(&rp.proc->counters[c], 1, __ATOMIC_RELAXED);
}

static bool in_runtime(const void *p, size_t len)
{
    const char *c = p;
    return rp.runtime && c >= rp.runtime && c + len <= rp.runtime + rp.runtime_size;
}

void rp_note_interval(unsigned long us)
{
    struct rec_process *pr = rp.proc;
    if (!pr) return;
    uint64_t old = __atomic_exchange_n(&pr->interval_us, us, __ATOMIC_RELAXED);
    if (old != us) __atomic_fetch_add(&pr->interval_changes, 1, __ATOMIC_RELAXED);
}

void rp_note_mutex_init(const pthread_mutex_t *m)
{
    if (!rp.active || rp_gil() || !in_runtime(m, sizeof *m)) return;
    __atomic_store_n(&seen_mutex[0], __atomic_load_n(&seen_mutex[1], __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&seen_mutex[1], (const void *)m, __ATOMIC_RELAXED);
}

/* The switch condition completes the pattern. It is the GIL when the four objects are the
 * members of one struct _gil_runtime_state inside _PyRuntime and that struct reads as a GIL not
 * yet created: locked = -1 and a switch interval of at least 1 µs. */
void rp_note_cond_init(const pthread_cond_t *c)
{
    if (!rp.active || rp_gil() || !in_runtime(c, sizeof *c)) return;
    const char *at = (const char *)c - offsetof(struct rp_gil311, switch_cond);
    struct rp_gil311 *g = (struct rp_gil311 *)(uintptr_t)at;
    if (in_runtime(g, sizeof *g) && __atomic_load_n(&seen_cond, __ATOMIC_RELAXED) == &g->cond &&
        __atomic_load_n(&seen_mutex[0], __ATOMIC_RELAXED) == &g->mutex &&
        __atomic_load_n(&seen_mutex[1], __ATOMIC_RELAXED) == &g->switch_mutex && g->locked == -1 &&
        g->interval >= 1) {
        rp.proc->gil_offset = (uint64_t)(at - rp.runtime);
        rp.proc->interval_first_us = g->interval;
        rp.proc->interval_us = g->interval;
        rp.proc->gil_found = 1;
        __atomic_store_n(&rp.gil, g, __ATOMIC_RELEASE);
        return;
    }
    __atomic_store_n(&seen_cond, (const void *)c, __ATOMIC_RELAXED);
}

/* ---- the environment ------------------------------------------------------------------------ */

/* Removes the library from LD_PRELOAD and gilsim record's variables, so that the program's
 * children (subprocess, multiprocessing) run unrecorded, as docs/record.md says. The names hook
 * needs the session directory a moment longer: it removes that variable itself. */
static void strip_env(void)
{
    const char *lib = getenv(REC_ENV_LIB), *pre = getenv("LD_PRELOAD");
    if (lib && pre) {
        char rest[4096] = "";
        size_t n = 0;
        for (const char *p = pre; *p;) {
            size_t len = strcspn(p, ": ");
            bool ours = len == strlen(lib) && strncmp(p, lib, len) == 0;
            if (!ours && len && n + len + 2 < sizeof rest) {
                if (n) rest[n++] = ':';
                memcpy(rest + n, p, len);
                rest[n += len] = '\0';
            }
            p += len;
            p += strspn(p, ": ");
        }
        if (n)
            setenv("LD_PRELOAD", rest, 1);
        else
            unsetenv("LD_PRELOAD");
    }
    unsetenv(REC_ENV_LIB);
    unsetenv(REC_ENV_MAX_EVENTS);
    if (!getenv(REC_ENV_NAMES)) unsetenv(REC_ENV_DIR);
}

static int open_in_dir(const char *name, int flags)
{
    char path[sizeof rp.dir + 32];
    snprintf(path, sizeof path, "%s/%s", rp.dir, name);
    return open(path, flags | O_RDWR | O_CLOEXEC, 0600);
}

/* Stops the process before the program's first line: the interpreter is one this library does
 * not know, so its GIL cannot be recognised and a trace would be empty or wrong. gilsim record
 * reads the reason from `refused`. */
static void refuse(const unsigned long *version)
{
    char msg[256];
    if (version)
        snprintf(msg, sizeof msg,
                 "CPython %lu.%lu.%lu: gilsim record knows the GIL of CPython 3.11 only\n",
                 *version >> 24, (*version >> 16) & 0xff, (*version >> 8) & 0xff);
    else
        snprintf(msg, sizeof msg,
                 "a CPython older than 3.11 (no Py_Version): gilsim record knows the GIL of "
                 "CPython 3.11 only\n");
    int fd = open_in_dir("refused", O_CREAT | O_TRUNC);
    if (fd >= 0) {
        ssize_t w = write(fd, msg, strlen(msg));
        (void)w;
        close(fd);
    }
    _exit(REC_REFUSED_STATUS);
}

static void after_fork_child(void)
{
    /* a forked child (os.fork, multiprocessing's fork) is not recorded: it must not write into
     * its parent's files, which it shares */
    rp.active = false;
    __atomic_store_n(&rp.gil, NULL, __ATOMIC_RELEASE);
}

static void thread_key_end(void *p)
{
    struct rp_thread *s = p;
    if (rp.active && s && s->hdr) rp_thread_end(s, rp_now());
}

/* ---- start and end -------------------------------------------------------------------------- */

static bool map_process(int fd)
{
    if (ftruncate(fd, sizeof(struct rec_process)) != 0) return false;
    void *p = mmap(NULL, sizeof(struct rec_process), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return false;
    rp.proc = p;
    rp.proc->magic = REC_MAGIC;
    rp.proc->layout = REC_LAYOUT;
    rp.proc->pid = getpid();
    rp.proc->start_ns = rp_now();
    rp.proc->max_events = rp.max_events;
    ssize_t n = readlink("/proc/self/exe", rp.proc->executable, sizeof rp.proc->executable - 1);
    rp.proc->executable[n > 0 ? n : 0] = '\0';
    return true;
}

__attribute__((constructor)) static void rp_init(void)
{
    const char *dir = getenv(REC_ENV_DIR);
    if (!dir || !*dir || strlen(dir) >= sizeof rp.dir) return;
    /* not CPython (a shell, env): stay out of the way; the environment passes on to what the
     * command executes next */
    const char *runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
    if (!runtime) return;
    strcpy(rp.dir, dir);
    const char *max = getenv(REC_ENV_MAX_EVENTS);
    rp.max_events = max ? strtoull(max, NULL, 10) : 0;
    if (rp.max_events < 16) rp.max_events = 1u << 22;
    int fd = open_in_dir("process", O_CREAT | O_EXCL);
    strip_env();
    if (fd < 0) return; /* another process of the command is the one recorded */
    bool mapped = map_process(fd);
    close(fd);
    if (!mapped) return;
    const unsigned long *version = dlsym(RTLD_DEFAULT, "Py_Version");
    if (!version || (*version >> 16) != 0x030b) refuse(version);
    rp.proc->py_version = *version;
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!dladdr1(runtime, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) return;
    rp.runtime = runtime;
    rp.runtime_size = sym->st_size;
    if (pthread_key_create(&rp.key, thread_key_end) != 0) return;
    pthread_atfork(NULL, NULL, after_fork_child);
    rp.active = true;
}

/* exit(): the main thread ends its record (it still holds the GIL: CPython does not drop it at
 * the end). Threads still running are ended by gilsim record at the process' end. */
__attribute__((destructor)) static void rp_fini(void)
{
    if (!rp.active || !rp.proc || rp.proc->pid != getpid()) return;
    int64_t now = rp_now();
    struct rp_thread *s = rp_thread_self();
    if (s) rp_thread_end(s, now);
    struct rp_gil311 *g = rp_gil();
    if (g) rp_note_interval(g->interval);
    rp.proc->end_ns = now;
}
