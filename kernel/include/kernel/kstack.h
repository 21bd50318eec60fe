/*
 * kstack.h - kernel stacks with guard pages.
 *
 * Each stack lives in its own KSTACK_SLOT of the stack region: an unmapped
 * guard page, then KSTACK_SIZE bytes of mapped stack. Overflowing the stack
 * touches the guard page; the page fault then cannot use the stack, so the
 * CPU raises a double fault, which runs on its own IST stack and reports
 * "kernel stack overflow".
 */
#ifndef KERNEL_KSTACK_H
#define KERNEL_KSTACK_H

#include <kernel/types.h>

/* Returns the top (initial stack pointer) of a new stack, 0 on failure. */
uintptr_t kstack_alloc(void);
void kstack_free(uintptr_t top);
/* True when addr lies in the guard page of some stack slot. */
bool kstack_is_guard(uintptr_t addr);
/* Stacks currently allocated. */
uint64_t kstack_in_use(void);

#endif
