/* sim/coro.h - coroutines for the virtual-time engine: each simulated thread runs the same op
 * interpreter and policy code as a real thread, on a stack of its own, and hands control back
 * to the scheduler whenever it would block or spend time. Asymmetric: the scheduler resumes a
 * coroutine, which runs until it yields back.
 *
 * On x86-64 a switch is a few instructions of our own (callee-saved registers and the stack
 * pointer); elsewhere it is ucontext's swapcontext, which also saves the signal mask with a
 * system call (docs/performance.md, benchmark 9, measures a switch against the pthread
 * hand-off it replaces). Under AddressSanitizer and
 * ThreadSanitizer every switch is announced to the sanitizer. Stacks are mapped with a guard
 * page below them, so an overflow faults instead of corrupting a neighbour. */
#ifndef GILSIM_CORO_H
#define GILSIM_CORO_H

#include <stdbool.h>
#include <stddef.h>

struct coro;

/* A coroutine that will run fn(arg) on a stack of stack_bytes (rounded up to pages) when
 * first resumed. fn must not return: it ends by calling coro_exit. 0 or an errno value. */
int coro_new(struct coro **out, size_t stack_bytes, void (*fn)(void *), void *arg);
void coro_free(struct coro *c);

/* n coroutines whose stacks (each of stack_bytes, above a guard page) share one mapping: what a
 * virtual run with thousands of threads makes at once, at a fraction of the system calls of
 * n coro_new. coro_set_start prepares coroutine i to run fn(arg) (as coro_new); coro_set_free
 * frees them all (not coro_free). 0 or an errno value. */
struct coro_set;
int coro_set_new(struct coro_set **out, size_t n, size_t stack_bytes);
int coro_set_start(struct coro_set *s, size_t i, void (*fn)(void *), void *arg, struct coro **out);
void coro_set_free(struct coro_set *s);

/* From the scheduler: runs c until it yields or exits. */
void coro_resume(struct coro *c);
/* From inside a coroutine: back to the scheduler, which may resume it later. */
void coro_yield(void);
/* From inside a coroutine, as its last act: back to the scheduler for good. */
_Noreturn void coro_exit(void);
bool coro_finished(const struct coro *c);

/* The default stack size of a simulated thread. */
size_t coro_default_stack(void);

#endif
