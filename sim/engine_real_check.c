/* sim/engine_real_check.c - the real backend's look at the host around a run, so that a run
 * the host spoiled can say so (docs/metrics.md, "Disturbed runs"): the load averages, the busy
 * time of the CPUs the run may use (/proc/stat) and this process's own CPU time, before the run
 * and after every thread ended; each workload thread's CPU time and run-queue wait
 * (/proc/thread-self/schedstat: the time it was runnable but waited for a core), read by the
 * thread itself before its start gate and after its last op (the first REAL_CHECK_THREADS
 * threads). Nothing here runs during the run:
 * the hot path is untouched. The engine only records; analysis/disturb.c judges. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine_internal.h"

static void read_load(double load[3])
{
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f || fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
        load[0] = load[1] = load[2] = NAN;
    if (f) fclose(f);
}

/* The busy time (all but idle and iowait, steal included: a VM's CPU taken by its host) of
 * the CPUs in `set`, in ns; -1 when /proc/stat cannot be read. */
static int64_t cpus_busy_ns(const cpu_set_t *set, unsigned *ncpus)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    char line[512];
    unsigned long long busy = 0;
    *ncpus = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned cpu;
        unsigned long long v[8] = {0}; /* user nice system idle iowait irq softirq steal */
        if (strncmp(line, "cpu", 3) != 0 ||
            sscanf(line + 3, "%u %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 8)
            continue;
        if (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, set)) continue;
        busy += v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        ++*ncpus;
    }
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return *ncpus && hz > 0 ? (int64_t)(busy * (1000000000ull / (unsigned long long)hz)) : -1;
}

static int64_t self_cpu_ns(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) return -1;
    return ((int64_t)u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1000;
}

void real_check_snap(struct real_host_snap *s)
{
    cpu_set_t set;
    read_load(s->load);
    s->cpus = 0;
    s->cpus_busy_ns =
        sched_getaffinity(0, sizeof set, &set) == 0 ? cpus_busy_ns(&set, &s->cpus) : -1;
    s->self_cpu_ns = self_cpu_ns();
}

void real_check_thread(int tid, int64_t *on_cpu_ns, int64_t *wait_ns)
{
    char buf[128];
    long long on = -1, wait = -1;
    int fd =
        tid < REAL_CHECK_THREADS ? open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC) : -1;
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n > 0) {
        buf[n] = '\0';
        if (sscanf(buf, "%lld %lld", &on, &wait) != 2) on = wait = -1;
    }
    *on_cpu_ns = on;
    *wait_ns = wait;
}

static int64_t delta(int64_t a, int64_t b)
{
    return a >= 0 && b >= a ? b - a : -1;
}

void real_check_fill(struct eng *eng, struct eng_result *res, const struct real_host_snap *before,
                     const struct real_host_snap *after)
{
    struct eng_host_check *h = &res->host;
    h->measured = true;
    memcpy(h->load_start, before->load, sizeof h->load_start);
    memcpy(h->load_end, after->load, sizeof h->load_end);
    h->cpus = before->cpus;
    h->cpus_busy_ns =
        after->cpus == before->cpus ? delta(before->cpus_busy_ns, after->cpus_busy_ns) : -1;
    h->self_cpu_ns = delta(before->self_cpu_ns, after->self_cpu_ns);
    h->queue_wait_ns = h->on_cpu_ns = 0;
    h->threads_measured = 0;
    /* only when every thread ended and was joined: their readings are complete and visible */
    for (unsigned i = 0; i < eng->nthreads && !res->abandoned; i++) {
        const struct sim_thread *t = &eng->threads[i];
        const struct real_thread *rt = t->be_thread;
        int64_t on = delta(rt->on_cpu0, rt->on_cpu1), wait = delta(rt->wait0, rt->wait1);
        if (on < 0 || wait < 0) continue;
        h->on_cpu_ns += on;
        h->queue_wait_ns += wait;
        h->threads_measured++;
    }
    if (!h->threads_measured) h->queue_wait_ns = h->on_cpu_ns = -1;
}
