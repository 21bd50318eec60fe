/*
 * panic.h - fatal kernel errors. panic() is for kernel bugs only: bad input
 * from user space always gets an error code instead.
 */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <kernel/types.h>

struct trap_frame;

void panic(const char *fmt, ...) __noreturn __printf(1, 2);

/* Panic with the registers of a trap frame (CPU exceptions). */
void panic_frame(const struct trap_frame *tf, const char *fmt, ...) __noreturn __printf(2, 3);

/* Print a backtrace walking frame pointers from rbp, at most depth frames. */
void backtrace_print(uintptr_t rip, uintptr_t rbp, int depth);

/* True once some CPU has panicked. */
extern volatile int panic_in_progress;

#define BUG_ON(cond) \
	do { \
		if (unlikely(cond)) \
			panic("BUG at %s:%d: %s", __FILE__, __LINE__, #cond); \
	} while (0)

#define ASSERT(cond) BUG_ON(!(cond))

#endif
