/* tools/c/gilsim_wakeup.c - how fast this host wakes a sleeping thread: the figure that decides
 * the GIL's hand-off races (docs/validation.md, "the host's wake-up regime").
 *
 * A waker pinned to one CPU wakes (FUTEX_WAKE) a thread pinned to another that has slept in
 * FUTEX_WAIT for a chosen time; the wakee stamps the clock when it runs. On a virtual machine
 * whose idle vCPU polls for a while before it halts (the haltpoll cpuidle driver, or the
 * hypervisor's halt polling), a thread woken soon after its CPU went idle runs within a few
 * µs and one woken later takes ~20 µs or more: the curve of latency against idle time shows
 * which regime the host is in. Also measured: what the wake costs the waker, a 1-byte send
 * on a socketpair to a process blocked in recv on the sender's CPU (the short call an echo
 * client makes between releasing and retaking the GIL; the peer may run before the send
 * returns), a 1-byte read that finds its byte there (a short system call alone: the virtual
 * engine's syscall_us), and nanosleep's overshoot (timer slack).
 *
 *   gilsim-wakeup [--samples N] [--json]     (default 400 samples per point; text table)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void spin_until(int64_t t)
{
    while (now_ns() < t) {
    }
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val)
{
    return syscall(SYS_futex, (uint32_t *)word, op, val, NULL, NULL, 0);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank. */
static double pct(int64_t *v, int n, double q)
{
    int k = (int)(q * n + 0.5) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return (double)v[k];
}

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* ---- futex wake latency against the wakee's idle time ----------------------------------- */

struct wake {
    _Atomic uint32_t word;     /* 0: sleep; 1: wake */
    _Atomic int64_t asleep_at; /* wakee: just before FUTEX_WAIT */
    _Atomic int64_t woke_at;   /* wakee: first thing after it */
    _Atomic bool quit;
    int cpu;
};

static void *wakee(void *arg)
{
    struct wake *w = arg;
    pin(w->cpu);
    while (!atomic_load(&w->quit)) {
        atomic_store(&w->asleep_at, now_ns());
        while (atomic_load(&w->word) == 0)
            futex(&w->word, FUTEX_WAIT_PRIVATE, 0);
        atomic_store(&w->woke_at, now_ns());
        atomic_store(&w->word, 0);
        /* wait for the next round's go, spinning: the CPU is busy until it sleeps again */
        while (atomic_load(&w->woke_at) != 0 && !atomic_load(&w->quit)) {
        }
    }
    return NULL;
}

struct point {
    int64_t idle_ns;
    double p10, p50, p90, p99, cost_p50;
};

/* One curve point: n wakes after the wakee has slept idle_ns. */
static void wake_point(struct wake *w, int64_t idle_ns, int n, struct point *out)
{
    int64_t *lat = malloc(n * sizeof *lat), *cost = malloc(n * sizeof *cost);
    if (!lat || !cost) abort();
    for (int i = 0; i < n; i++) {
        int64_t slept = atomic_load(&w->asleep_at);
        spin_until(slept + idle_ns);
        int64_t t0 = now_ns();
        atomic_store(&w->word, 1);
        futex(&w->word, FUTEX_WAKE_PRIVATE, 1);
        cost[i] = now_ns() - t0;
        int64_t woke;
        while ((woke = atomic_load(&w->woke_at)) == 0) {
        }
        lat[i] = woke - t0;
        atomic_store(&w->asleep_at, INT64_MAX / 2);
        atomic_store(&w->woke_at, 0); /* go */
        while (atomic_load(&w->asleep_at) == INT64_MAX / 2) {
        }
    }
    qsort(lat, n, sizeof *lat, cmp_i64);
    qsort(cost, n, sizeof *cost, cmp_i64);
    *out = (struct point){idle_ns,         pct(lat, n, .1),  pct(lat, n, .5),
                          pct(lat, n, .9), pct(lat, n, .99), pct(cost, n, .5)};
    free(lat);
    free(cost);
}

/* ---- a short send to a sleeping peer process ----------------------------------------------- */

static double send_cost_p50(int n, double *rtt_p50)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(sv[0]);
        while (read(sv[1], &c, 1) == 1)
            if (write(sv[1], &c, 1) != 1) break;
        _exit(0);
    }
    close(sv[1]);
    int64_t *cost = malloc(n * sizeof *cost), *rtt = malloc(n * sizeof *rtt);
    char c = 'x';
    for (int i = 0; i < n; i++) {
        spin_until(now_ns() + 200000); /* the peer is asleep in read */
        int64_t t0 = now_ns();
        if (write(sv[0], &c, 1) != 1) break;
        cost[i] = now_ns() - t0;
        if (read(sv[0], &c, 1) != 1) break;
        rtt[i] = now_ns() - t0;
    }
    close(sv[0]);
    waitpid(pid, NULL, 0);
    qsort(cost, n, sizeof *cost, cmp_i64);
    qsort(rtt, n, sizeof *rtt, cmp_i64);
    double r = pct(cost, n, .5);
    *rtt_p50 = pct(rtt, n, .5);
    free(cost);
    free(rtt);
    return r;
}

/* A short system call alone: a 1-byte read that finds its byte there (syscall_us). */
static double ready_recv_p50(int n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;
    int64_t *cost = malloc(n * sizeof *cost);
    char c = 'x';
    int k = 0;
    for (; k < n; k++) {
        if (write(sv[1], &c, 1) != 1) break;
        int64_t t0 = now_ns();
        if (read(sv[0], &c, 1) != 1) break;
        cost[k] = now_ns() - t0;
    }
    close(sv[0]);
    close(sv[1]);
    qsort(cost, k, sizeof *cost, cmp_i64);
    double r = k ? pct(cost, k, .5) : -1;
    free(cost);
    return r;
}

static double nanosleep_overshoot_p50(int64_t ns, int n)
{
    int64_t *v = malloc(n * sizeof *v);
    for (int i = 0; i < n; i++) {
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        int64_t t0 = now_ns();
        nanosleep(&ts, NULL);
        v[i] = now_ns() - t0 - ns;
    }
    qsort(v, n, sizeof *v, cmp_i64);
    double r = pct(v, n, .5);
    free(v);
    return r;
}

static void read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (!f) {
        snprintf(buf, size, "?");
        return;
    }
    if (!fgets(buf, (int)size, f)) snprintf(buf, size, "?");
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
}

int main(int argc, char **argv)
{
    int n = 400;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: gilsim-wakeup [--samples N] [--json]\n");
            return 2;
        }
    }
    if (n < 10 || n > 1000000) {
        fprintf(stderr, "gilsim-wakeup: --samples must be 10 to 1000000\n");
        return 2;
    }
    static const int64_t idle_us[] = {2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};
    enum { NPOINTS = sizeof idle_us / sizeof idle_us[0] };
    struct point pts[NPOINTS];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    struct wake w = {.cpu = ncpu > 1 ? 1 : 0};
    pthread_t th;
    if (ncpu > 1) pin(0);
    if (pthread_create(&th, NULL, wakee, &w) != 0) return 1;
    for (int k = 0; k < NPOINTS; k++) {
        int m = idle_us[k] >= 1000 ? n / 4 + 1 : n;
        wake_point(&w, idle_us[k] * 1000, m, &pts[k]);
    }
    atomic_store(&w.quit, true);
    atomic_store(&w.word, 1);
    futex(&w.word, FUTEX_WAKE_PRIVATE, 1);
    atomic_store(&w.woke_at, 0);
    pthread_join(th, NULL);
    double rtt = 0, send = send_cost_p50(n, &rtt), ready = ready_recv_p50(n);
    double ns1 = nanosleep_overshoot_p50(1000, n / 4 + 1),
           ns1ms = nanosleep_overshoot_p50(1000000, n / 8 + 1);
    char driver[128], governor[128], poll_ns[64];
    read_line("/sys/devices/system/cpu/cpuidle/current_driver", driver, sizeof driver);
    read_line("/sys/devices/system/cpu/cpuidle/current_governor_ro", governor, sizeof governor);
    read_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", poll_ns, sizeof poll_ns);

    if (json) {
        printf("{\"format\": \"gilsim-wakeup\", \"version\": 1, \"cpus\": %ld, "
               "\"cpuidle_driver\": \"%s\", \"cpuidle_governor\": \"%s\", "
               "\"guest_halt_poll_ns\": \"%s\", \"samples\": %d,\n \"futex_wake\": [",
               ncpu, driver, governor, poll_ns, n);
        for (int k = 0; k < NPOINTS; k++)
            printf("%s\n  {\"idle_us\": %lld, \"p10_ns\": %.0f, \"p50_ns\": %.0f, \"p90_ns\": "
                   "%.0f, \"p99_ns\": %.0f, \"waker_cost_p50_ns\": %.0f}",
                   k ? "," : "", (long long)idle_us[k], pts[k].p10, pts[k].p50, pts[k].p90,
                   pts[k].p99, pts[k].cost_p50);
        printf("],\n \"send_1byte_to_sleeping_peer_p50_ns\": %.0f, "
               "\"socketpair_echo_rtt_p50_ns\": %.0f, \"recv_1byte_ready_p50_ns\": %.0f,\n "
               "\"nanosleep_1us_overshoot_p50_ns\": %.0f, \"nanosleep_1ms_overshoot_p50_ns\": "
               "%.0f}\n",
               send, rtt, ready, ns1, ns1ms);
        return 0;
    }
    printf("cpuidle driver %s, governor %s, guest_halt_poll_ns %s, %ld CPUs\n", driver, governor,
           poll_ns, ncpu);
    printf("futex wake -> wakee running, by how long ago the wakee went to sleep:\n");
    printf("  idle_us   p10_us   p50_us   p90_us   p99_us  waker_cost_p50_us\n");
    for (int k = 0; k < NPOINTS; k++)
        printf("  %7lld %8.1f %8.1f %8.1f %8.1f %8.1f\n", (long long)idle_us[k], pts[k].p10 / 1e3,
               pts[k].p50 / 1e3, pts[k].p90 / 1e3, pts[k].p99 / 1e3, pts[k].cost_p50 / 1e3);
    printf("1-byte send to a peer process asleep in read on the same CPU: %.1f us (echo round "
           "trip %.1f us)\n",
           send / 1e3, rtt / 1e3);
    printf("1-byte read that finds its byte there (a short system call): %.2f us\n", ready / 1e3);
    printf("nanosleep overshoot: 1 us -> +%.1f us, 1 ms -> +%.1f us\n", ns1 / 1e3, ns1ms / 1e3);
    return 0;
}
