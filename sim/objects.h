/* sim/objects.h - a workload's threading objects at run time (locks, semaphores, conditions,
 * events, queues, barriers, and joins of thread groups), built as CPython 3.11 builds them:
 * `Lock` is a C lock with no owner and no FIFO promise (on Linux a futex: a releaser or a
 * passer-by may take it before the woken waiter); `Condition` keeps a FIFO of per-waiter locks,
 * and `Semaphore`, `Event`, `Barrier` and `queue.Queue` are Python code built on a Condition;
 * `Thread.join` waits on the thread's state lock, which the thread holds until it ends. Every
 * blocking is a C lock wait: a try holding the GIL, then the GIL released around the wait and
 * asked for again; the Python code around it costs interpreter time holding the GIL (the
 * objects' costs, wl.h). Only sync.h is used for locks and time, so the same code runs on both
 * engines: pthreads on the real one, simulated locks in virtual time on the other. */
#ifndef GILSIM_OBJECTS_H
#define GILSIM_OBJECTS_H

#include <stdio.h>

#include "engine_internal.h"

/* After the threads are set up, before the run: the objects of eng->o->wl and every thread's
 * state lock (held from the start) and waiter lock. eng->objects stays NULL when there are
 * none. */
int obj_open(struct eng *eng, struct err *e);
void obj_close(struct eng *eng);
/* The stop (any thread, once gil_stopping is true): wakes every thread blocked on an object. */
void obj_stop(struct eng *eng);
/* A workload thread, holding the GIL: one op on an object (acquire, release, put, get, set,
 * clear, wait, notify, join). RUN_STOP when the run ended meanwhile, or when the op was a
 * misuse (eng_fail_run then says which); the thread may then not hold the GIL. */
int obj_run_op(struct sim_thread *t, const struct wl_op *op);
/* A workload thread, last: releases its state lock (a join of it goes on). */
void obj_thread_exit(struct sim_thread *t);
/* For a stall report: what each thread blocked on an object waits for, the chains of who holds
 * what they wait for, and every cycle among them as a deadlock. Nothing when no thread is
 * blocked on an object. */
void obj_report(struct eng *eng, const struct eng_result *res, FILE *f);

#endif
