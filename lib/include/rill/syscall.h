/*
 * rill/syscall.h - native system-call stubs for user programs, generated
 * from rill/syscalls.def: rl_<name>(args...) returns the kernel's result
 * (>= 0, or a negated RILL_E* code).
 */
#ifndef RILL_SYSCALL_H
#define RILL_SYSCALL_H

#include <stdint.h>
#include <rill/abi.h>

static inline int64_t rl_syscall6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
				  uint64_t a3, uint64_t a4, uint64_t a5)
{
	register uint64_t r10 __asm__("r10") = a3;
	register uint64_t r8 __asm__("r8") = a4;
	register uint64_t r9 __asm__("r9") = a5;
	int64_t ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define RL_STUB0(name) static inline int64_t rl_##name(void) \
	{ return rl_syscall6(RL_SYS_##name, 0, 0, 0, 0, 0, 0); }
#define RL_STUB1(name) static inline int64_t rl_##name(uint64_t a0) \
	{ return rl_syscall6(RL_SYS_##name, a0, 0, 0, 0, 0, 0); }
#define RL_STUB2(name) static inline int64_t rl_##name(uint64_t a0, uint64_t a1) \
	{ return rl_syscall6(RL_SYS_##name, a0, a1, 0, 0, 0, 0); }
#define RL_STUB3(name) static inline int64_t rl_##name(uint64_t a0, uint64_t a1, uint64_t a2) \
	{ return rl_syscall6(RL_SYS_##name, a0, a1, a2, 0, 0, 0); }
#define RL_STUB4(name) static inline int64_t rl_##name(uint64_t a0, uint64_t a1, uint64_t a2, \
						      uint64_t a3) \
	{ return rl_syscall6(RL_SYS_##name, a0, a1, a2, a3, 0, 0); }
#define RL_STUB5(name) static inline int64_t rl_##name(uint64_t a0, uint64_t a1, uint64_t a2, \
						      uint64_t a3, uint64_t a4) \
	{ return rl_syscall6(RL_SYS_##name, a0, a1, a2, a3, a4, 0); }

#define SYSCALL(nr, name, nargs, kind) RL_STUB##nargs(name)
#include <rill/syscalls.def>
#undef SYSCALL

/* Names, for traces: rl_syscall_names[n] for RL_SYSCALL_BASE + n. */
extern const char *const rl_syscall_names[];
extern const unsigned rl_syscall_count;

#endif
