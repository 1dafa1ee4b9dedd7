/* sim/interp.c - the op interpreter: what a workload thread does, op by op, under both
 * engines. Holding the GIL it runs interpreter ticks with check points (cpu) and busy work
 * without them (hold); it gives the GIL up around io, sleep, native work and a serve loop's
 * wait for its next request, and around send and a peer's I/O (a request, then a recv the
 * peer answers), as a Python thread does; ops on workload objects are objects.c's. How ticks, busy
 * work and waits take time is the backend's (engine_internal.h): real work and real waits, or
 * simulated ones. */
#include <math.h>

#include "engine_internal.h"
#include "objects.h"
#include "rng.h"

/* ---- the GIL, as a thread uses it --------------------------------------------------------- */

/* Returns RUN_STOP when the run ended while the thread waited (it then does not hold). */
int interp_acquire_gil(struct sim_thread *t)
{
    /* Once the run is ending nobody asks any more: a thread that reaches here late (still
     * leaving the start gate, say) would otherwise take the just-released GIL and pass it on. */
    if (eng_stopping(t->eng)) return RUN_STOP;
    eng_set_state(t, TH_WAITING, eng_record(t, TRACE_EV_REQUEST, TRACE_REASON_NONE, TRACE_NO_ARG));
    if (!t->gil->policy->acquire(t->gil, t)) return RUN_STOP;
    eng_set_state(t, TH_RUNNING, eng_record(t, TRACE_EV_ACQUIRE, TRACE_REASON_NONE, TRACE_NO_ARG));
    t->holding = true;
    counter_add(&t->acquisitions, 1);
    /* Counted here too (not only from events) so that runs without a trace report it. */
    int prev = atomic_exchange_explicit(&t->gil->last_holder, t->tid, memory_order_relaxed);
    if (prev >= 0 && prev != t->tid) counter_add(&t->switches, 1);
    return RUN_ON;
}

void interp_release_gil(struct sim_thread *t, enum gil_reason why)
{
    /* Recorded before the lock is given up, so that no other thread's acquire can carry an
     * earlier time. */
    eng_set_state(
        t, TH_RELEASING,
        eng_record(t, TRACE_EV_RELEASE, (enum trace_reason)why, (int64_t)counter_read(&t->ticks)));
    t->holding = false;
    t->gil->policy->release(t->gil, t, why);
}

/* ---- ops ---------------------------------------------------------------------------------- */

static int64_t sample_latency(struct sim_thread *t, const struct wl_op *op)
{
    double ns = (double)op->ns;
    if (op->dist == WL_DIST_UNIFORM)
        ns = rng_unit(t->rng) * 2.0 * (double)op->ns;
    else if (op->dist == WL_DIST_EXPONENTIAL)
        ns = rng_exponential(t->rng, (double)op->ns);
    if (op->max_ns > 0 && ns > (double)op->max_ns) ns = (double)op->max_ns;
    return (int64_t)llround(ns);
}

uint64_t interp_ns_to_ticks(const struct eng *eng, int64_t ns)
{
    double t = (double)ns / eng->ns_per_tick;
    return t < 1 ? 1 : (uint64_t)llround(t);
}

int interp_cpu(struct sim_thread *t, uint64_t n)
{
    struct gil *g = t->gil;
    while (n > 0) {
        uint64_t chunk = n < t->budget_left ? n : t->budget_left;
        if (chunk > t->eng->chunk_ticks) chunk = t->eng->chunk_ticks;
        uint64_t done = t->eng->be->ticks(t, chunk);
        counter_add(&t->ticks, done);
        counter_add(&t->beat, 1);
        n -= done;
        unsigned cause = 0;
        if (t->tick_budget) {
            t->budget_left -= done;
            if (t->budget_left == 0) {
                cause |= GIL_CHECK_TICKS;
                t->budget_left = t->tick_budget;
            }
        }
        uint32_t pending = atomic_load_explicit(&g->pending, memory_order_relaxed);
        if (pending & PENDING_STOP) return RUN_STOP;
        if (pending & PENDING_DROP) cause |= GIL_CHECK_PENDING;
        if (cause) {
            enum gil_reason why = g->check(g, t, cause);
            if (why != GIL_REASON_NONE) {
                interp_release_gil(t, why);
                if (interp_acquire_gil(t) == RUN_STOP) return RUN_STOP;
            }
        }
    }
    return RUN_ON;
}

/* Gives up the GIL, blocks for ns (io, sleep, arrival) and asks for the GIL again. The begin
 * and end events are recorded only when `traced` (an arrival wait records none). */
static int release_and_wait(struct sim_thread *t, enum gil_reason why, bool traced,
                            enum trace_ev begin, enum trace_ev end, int64_t ns)
{
    interp_release_gil(t, why);
    int64_t start = sync_now_ns();
    eng_set_state(t, TH_BLOCKED, start - t->eng->t0);
    if (traced) eng_record(t, begin, TRACE_REASON_NONE, ns);
    int rc = t->eng->be->block_until(t, start + ns);
    if (traced) eng_record(t, end, TRACE_REASON_NONE, TRACE_NO_ARG);
    if (rc == RUN_STOP) return RUN_STOP;
    return interp_acquire_gil(t);
}

static int run_native(struct sim_thread *t, int64_t ns)
{
    interp_release_gil(t, GIL_REASON_NATIVE);
    eng_set_state(t, TH_NATIVE, eng_record(t, TRACE_EV_NATIVE_BEGIN, TRACE_REASON_NONE, ns));
    int rc = t->eng->be->busy(t, ns, true);
    eng_record(t, TRACE_EV_NATIVE_END, TRACE_REASON_NONE, TRACE_NO_ARG);
    return rc == RUN_ON ? interp_acquire_gil(t) : rc;
}

static int run_hold(struct sim_thread *t, int64_t ns)
{
    eng_record(t, TRACE_EV_HOLD_BEGIN, TRACE_REASON_NONE, ns);
    int rc = t->eng->be->busy(t, ns, false);
    eng_record(t, TRACE_EV_HOLD_END, TRACE_REASON_NONE, TRACE_NO_ARG);
    return rc;
}

/* send: the GIL given up around one short real send to the thread's peer (no answer). */
static int run_send(struct sim_thread *t)
{
    interp_release_gil(t, GIL_REASON_SEND);
    if (t->eng->be->peer_send(t, PEER_NO_ANSWER, false) == RUN_STOP) return RUN_STOP;
    return interp_acquire_gil(t);
}

/* io with a peer: the request goes to the peer after the release (with "send", in a send of
 * its own: release, send, take the GIL back, release again), then the thread blocks in recv
 * until the peer's answer wakes it. The peer's latency runs from the request. */
static int run_peer_io(struct sim_thread *t, const struct wl_op *op)
{
    const struct eng_backend *be = t->eng->be;
    int64_t ns = sample_latency(t, op);
    interp_release_gil(t, op->send ? GIL_REASON_SEND : GIL_REASON_IO);
    int64_t start = sync_now_ns();
    eng_record(t, TRACE_EV_IO_BEGIN, TRACE_REASON_NONE, ns);
    if (be->peer_send(t, ns, op->peer_works) == RUN_STOP) return RUN_STOP;
    if (op->send) {
        if (interp_acquire_gil(t) == RUN_STOP) return RUN_STOP;
        interp_release_gil(t, GIL_REASON_IO);
    }
    eng_set_state(t, TH_BLOCKED, sync_now_ns() - t->eng->t0);
    int rc = be->peer_recv(t, start + ns);
    eng_record(t, TRACE_EV_IO_END, TRACE_REASON_NONE, TRACE_NO_ARG);
    return rc == RUN_STOP ? RUN_STOP : interp_acquire_gil(t);
}

static int run_ops(struct sim_thread *t, const struct wl_op *ops, size_t n);

static int run_serve(struct sim_thread *t, const struct wl_op *op)
{
    struct eng *eng = t->eng;
    double mean_ns = 1e9 / op->rate_hz;
    int64_t next = sync_now_ns();
    for (uint64_t i = 0; op->count == WL_FOREVER || i < op->count; i++) {
        if (eng_stopping(eng)) return RUN_STOP;
        int64_t now = sync_now_ns();
        /* Behind schedule: go straight on; the request is charged from its scheduled arrival. */
        if (now < next && release_and_wait(t, GIL_REASON_ARRIVAL, false, TRACE_EV_ARRIVAL,
                                           TRACE_EV_DONE, next - now) == RUN_STOP)
            return RUN_STOP;
        eng_record(t, TRACE_EV_ARRIVAL, TRACE_REASON_NONE, next - eng->t0);
        int rc = run_ops(t, op->body, op->nbody);
        if (rc) return rc;
        eng_record(t, TRACE_EV_DONE, TRACE_REASON_NONE, next - eng->t0);
        double gap = op->arrivals == WL_ARRIVALS_FIXED ? mean_ns : rng_exponential(t->rng, mean_ns);
        next += (int64_t)llround(gap);
    }
    return RUN_ON;
}

static int run_loop(struct sim_thread *t, const struct wl_op *op)
{
    int rc = RUN_ON;
    for (uint64_t k = 0; (op->count == WL_FOREVER || k < op->count) && rc == RUN_ON; k++)
        rc = eng_stopping(t->eng) ? RUN_STOP : run_ops(t, op->body, op->nbody);
    return rc;
}

static int run_op(struct sim_thread *t, const struct wl_op *op)
{
    switch (op->kind) {
    case WL_OP_CPU:
        return interp_cpu(t, op->ticks ? op->ticks : interp_ns_to_ticks(t->eng, op->ns));
    case WL_OP_IO:
        if (op->peer) return run_peer_io(t, op);
        return release_and_wait(t, GIL_REASON_IO, true, TRACE_EV_IO_BEGIN, TRACE_EV_IO_END,
                                sample_latency(t, op));
    case WL_OP_SEND:
        return run_send(t);
    case WL_OP_SLEEP:
        return release_and_wait(t, GIL_REASON_SLEEP, true, TRACE_EV_SLEEP_BEGIN, TRACE_EV_SLEEP_END,
                                op->ns);
    case WL_OP_NATIVE:
        return run_native(t, op->ns);
    case WL_OP_HOLD:
        return run_hold(t, op->ns);
    case WL_OP_LOOP:
        return run_loop(t, op);
    case WL_OP_SERVE:
        return run_serve(t, op);
    case WL_OP_ACQUIRE:
    case WL_OP_RELEASE:
    case WL_OP_PUT:
    case WL_OP_GET:
    case WL_OP_SET:
    case WL_OP_CLEAR:
    case WL_OP_WAIT:
    case WL_OP_NOTIFY:
    case WL_OP_JOIN:
        return obj_run_op(t, op);
    }
    return RUN_ON;
}

static int run_ops(struct sim_thread *t, const struct wl_op *ops, size_t n)
{
    int rc = RUN_ON;
    for (size_t i = 0; i < n && rc == RUN_ON; i++)
        rc = eng_stopping(t->eng) ? RUN_STOP : run_op(t, &ops[i]);
    return rc;
}

void interp_thread_body(struct sim_thread *t)
{
    struct eng *eng = t->eng;
    int rc = RUN_STOP;
    bool started = false;
    if (t->start_ns) eng_set_state(t, TH_BLOCKED, 0);
    if (!eng_stopping(eng) &&
        (t->start_ns == 0 || eng->be->block_until(t, eng->t0 + t->start_ns) == RUN_ON)) {
        started = true;
        eng_record(t, TRACE_EV_THREAD_START, TRACE_REASON_NONE, TRACE_NO_ARG);
        rc = interp_acquire_gil(t);
        if (rc == RUN_ON) rc = run_ops(t, t->ops, t->group->nops);
    }
    if (t->holding) interp_release_gil(t, rc == RUN_STOP ? GIL_REASON_DEADLINE : GIL_REASON_EXIT);
    obj_thread_exit(t); /* its join lock: a joiner goes on */
    /* A thread that never started (the run ended first) records nothing at all. */
    if (started)
        eng_record(t, TRACE_EV_THREAD_EXIT, TRACE_REASON_NONE, (int64_t)counter_read(&t->ticks));
    eng_set_state(t, TH_EXITED, sync_now_ns() - eng->t0);
}
