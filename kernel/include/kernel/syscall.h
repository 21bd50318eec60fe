/*
 * syscall.h - the native system-call table (generated from
 * abi/syscalls.def) and its handlers' common signature: the six raw
 * registers, whatever types the table gives the user stubs, since every
 * value must be checked here anyway.
 */
#ifndef KERNEL_SYSCALL_H
#define KERNEL_SYSCALL_H

#include <kernel/trap.h>
#include <kernel/types.h>

#define SYSCALL_DEFINE(name)						\
	int64_t sys_##name(uint64_t a0, uint64_t a1, uint64_t a2,	\
			   uint64_t a3, uint64_t a4, uint64_t a5)

#define SYSCALL(nr, name, ...) SYSCALL_DEFINE(name);
#include <abi/syscalls.def>
#undef SYSCALL

void syscall_dispatch(struct trap_frame *tf);

/* Name of native call nr (offset from the base), or NULL. */
const char *syscall_name(uint64_t nr);

struct kobj;
/* Install o in the calling process's handle table with rights, dropping
 * the caller's reference: the new handle, or -errno (syscall.c). */
int install_new(struct kobj *o, uint32_t rights);

#endif
