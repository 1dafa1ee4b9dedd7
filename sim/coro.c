/* sim/coro.c - see coro.h. */
#define _GNU_SOURCE /* MAP_ANONYMOUS, MAP_NORESERVE, MAP_STACK */
#include "coro.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORO_TSAN 1
#endif
#endif

#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if defined(__x86_64__) && !defined(GILSIM_CORO_UCONTEXT)
#define CORO_ASM 1
#else
#include <ucontext.h>
#endif

struct coro {
#ifdef CORO_ASM
    void *sp; /* saved stack pointer while not running */
#else
    ucontext_t ctx;
#endif
    void *map; /* guard page + stack */
    size_t map_size;
    bool own_map; /* coro_new's: its own mapping and record (else a coro_set's) */
    void (*fn)(void *);
    void *arg;
    bool finished;
#ifdef CORO_ASAN
    void *fake_stack;
#endif
#ifdef CORO_TSAN
    void *fiber;
#endif
};

/* The scheduler's side: one per OS thread, so several virtual runs may go on at once in
 * different threads. */
static _Thread_local struct coro *running;
#ifdef CORO_ASM
static _Thread_local void *scheduler_sp;
#else
static _Thread_local ucontext_t scheduler_ctx;
#endif
#ifdef CORO_ASAN
static _Thread_local void *scheduler_fake_stack;
static _Thread_local const void *scheduler_stack_bottom;
static _Thread_local size_t scheduler_stack_size;
#endif
#ifdef CORO_TSAN
static _Thread_local void *scheduler_fiber;
#endif

#ifdef CORO_ASM
/* gilsim_coro_switch(void **save_sp, void *load_sp): saves the callee-saved registers, the
 * SSE control word and the x87 control word on the current stack and its stack pointer in
 * *save_sp; then loads load_sp and restores what was saved there. A new coroutine's stack is
 * prepared (coro_new) so that the restore "returns" into gilsim_coro_start with fn and arg in
 * r12 and r13. */
void gilsim_coro_switch(void **save_sp, void *load_sp);
void gilsim_coro_start(void);
__asm__(".text\n"
        ".globl gilsim_coro_switch\n"
        ".type gilsim_coro_switch,@function\n"
        "gilsim_coro_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size gilsim_coro_switch, .-gilsim_coro_switch\n"
        ".globl gilsim_coro_start\n"
        ".type gilsim_coro_start,@function\n"
        "gilsim_coro_start:\n"
        "    movq %r13, %rdi\n"
        "    callq *%r12\n"
        "    ud2\n"
        ".size gilsim_coro_start, .-gilsim_coro_start\n");
#endif

static void after_switch_in(struct coro *c)
{
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(c->fake_stack, &scheduler_stack_bottom, &scheduler_stack_size);
#else
    (void)c;
#endif
}

/* Every coroutine starts here, on its own stack. */
static void coro_entry(void *arg)
{
    struct coro *c = arg;
    after_switch_in(c);
    c->fn(c->arg);
    coro_exit(); /* fn must not return; if it does, end the coroutine cleanly */
}

#ifndef CORO_ASM
static void coro_entry_ucontext(unsigned hi, unsigned lo)
{
    coro_entry((void *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}
#endif

size_t coro_default_stack(void)
{
#if defined(CORO_ASAN) || defined(CORO_TSAN)
    return 512u << 10; /* instrumented frames are several times larger */
#else
    return 64u << 10;
#endif
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* c's stack is the map_size - page bytes above its guard page at c->map: the frame its first
 * resume starts fn(arg) from. 0 or an errno value. */
static int prepare(struct coro *c, void (*fn)(void *), void *arg)
{
    c->fn = fn;
    c->arg = arg;
    char *top = (char *)c->map + c->map_size;
#ifdef CORO_ASM
    /* The frame gilsim_coro_switch restores: control words, r15..r12, rbx, rbp, then the
     * return address. After its ret the stack pointer is top, 16-byte aligned, as a call
     * instruction expects. */
    uint64_t *sp = (uint64_t *)top - 8;
    sp[0] = 0x1F80 | ((uint64_t)0x037F << 32); /* default MXCSR, x87 control word */
    sp[1] = 0;                                 /* r15 */
    sp[2] = 0;                                 /* r14 */
    sp[3] = (uint64_t)(uintptr_t)c;            /* r13: the argument */
    sp[4] = (uint64_t)(uintptr_t)coro_entry;   /* r12: the function */
    sp[5] = 0;                                 /* rbx */
    sp[6] = 0;                                 /* rbp */
    sp[7] = (uint64_t)(uintptr_t)gilsim_coro_start;
    c->sp = sp;
#else
    (void)top;
    if (getcontext(&c->ctx) != 0) return errno;
    size_t page = page_size();
    c->ctx.uc_stack.ss_sp = (char *)c->map + page;
    c->ctx.uc_stack.ss_size = c->map_size - page;
    c->ctx.uc_link = NULL;
    uintptr_t p = (uintptr_t)c;
    makecontext(&c->ctx, (void (*)(void))coro_entry_ucontext, 2, (unsigned)(p >> 32),
                (unsigned)(p & 0xffffffffu));
#endif
#ifdef CORO_TSAN
    c->fiber = __tsan_create_fiber(0);
#endif
    return 0;
}

/* Maps n stacks of stack_bytes (rounded up to pages), each above a guard page, in one
 * mapping (*size: its length); NULL when out of memory. */
static void *map_stacks(size_t n, size_t stack_bytes, size_t *each, size_t *size)
{
    size_t page = page_size();
    *each = (stack_bytes + page - 1) / page * page + page;
    *size = n * *each;
    void *map = mmap(NULL, *size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) return NULL;
    for (size_t i = 0; i < n; i++) /* the guard pages, below each stack */
        mprotect((char *)map + i * *each, page, PROT_NONE);
    return map;
}

int coro_new(struct coro **out, size_t stack_bytes, void (*fn)(void *), void *arg)
{
    *out = NULL;
    struct coro *c = calloc(1, sizeof *c);
    if (!c) return ENOMEM;
    size_t size;
    if (!(c->map = map_stacks(1, stack_bytes, &c->map_size, &size))) {
        free(c);
        return ENOMEM;
    }
    int rc = prepare(c, fn, arg);
    if (rc) {
        munmap(c->map, c->map_size);
        free(c);
        return rc;
    }
    c->own_map = true;
    *out = c;
    return 0;
}

void coro_free(struct coro *c)
{
    if (!c) return;
#ifdef CORO_TSAN
    if (c->fiber) __tsan_destroy_fiber(c->fiber);
#endif
    if (c->own_map) {
        munmap(c->map, c->map_size);
        free(c);
    }
}

struct coro_set {
    struct coro *all;
    size_t n;
    void *map;
    size_t map_size;
};

int coro_set_new(struct coro_set **out, size_t n, size_t stack_bytes)
{
    *out = NULL;
    struct coro_set *s = calloc(1, sizeof *s);
    if (!s || !(s->all = calloc(n ? n : 1, sizeof *s->all))) {
        free(s);
        return ENOMEM;
    }
    size_t each;
    if (!(s->map = map_stacks(n, stack_bytes, &each, &s->map_size))) {
        free(s->all);
        free(s);
        return ENOMEM;
    }
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        s->all[i].map = (char *)s->map + i * each;
        s->all[i].map_size = each;
    }
    *out = s;
    return 0;
}

int coro_set_start(struct coro_set *s, size_t i, void (*fn)(void *), void *arg, struct coro **out)
{
    int rc = prepare(&s->all[i], fn, arg);
    *out = rc ? NULL : &s->all[i];
    return rc;
}

void coro_set_free(struct coro_set *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        coro_free(&s->all[i]);
    munmap(s->map, s->map_size);
    free(s->all);
    free(s);
}

void coro_resume(struct coro *c)
{
    if (c->finished) return;
    running = c;
#ifdef CORO_TSAN
    if (!scheduler_fiber) scheduler_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(c->fiber, 0);
#endif
#ifdef CORO_ASAN
    size_t page = page_size();
    __sanitizer_start_switch_fiber(&scheduler_fake_stack, (char *)c->map + page,
                                   c->map_size - page);
#endif
#ifdef CORO_ASM
    gilsim_coro_switch(&scheduler_sp, c->sp);
#else
    swapcontext(&scheduler_ctx, &c->ctx);
#endif
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(scheduler_fake_stack, NULL, NULL);
#endif
    running = NULL;
}

/* Back to the scheduler; `leaving`: for good (its fake stack can go). */
static void switch_out(struct coro *c, bool leaving)
{
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(scheduler_fiber, 0);
#endif
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(leaving ? NULL : &c->fake_stack, scheduler_stack_bottom,
                                   scheduler_stack_size);
#else
    (void)leaving;
#endif
#ifdef CORO_ASM
    gilsim_coro_switch(&c->sp, scheduler_sp);
#else
    swapcontext(&c->ctx, &scheduler_ctx);
#endif
    after_switch_in(c);
}

void coro_yield(void)
{
    switch_out(running, false);
}

_Noreturn void coro_exit(void)
{
    struct coro *c = running;
    c->finished = true;
    switch_out(c, true);
    abort(); /* never resumed: coro_resume refuses a finished coroutine */
}

bool coro_finished(const struct coro *c)
{
    return c->finished;
}
