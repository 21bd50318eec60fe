/*
 * ksyms.h - symbol lookup for backtraces (base/ksyms.c).
 */
#ifndef KERNEL_KSYMS_H
#define KERNEL_KSYMS_H

#include <kernel/types.h>

/* Looks up the function containing addr: its name and the offset into it.
 * Returns NULL when addr is outside the kernel text. */
const char *ksym_lookup(uintptr_t addr, uintptr_t *offset);

#endif
