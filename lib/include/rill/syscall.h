/*
 * rill/syscall.h - native system-call stubs for user programs, generated
 * from abi/syscalls.def. Each call has two:
 *
 *   rl_<name>(args...)      typed as the table says: handles rl_handle_t,
 *                           pointers pointers, integers uint64_t;
 *   rl_raw_<name>(args...)  every argument a uint64_t, passed as given: for
 *                           tests that hand the kernel what the types
 *                           forbid (an integer where a pointer goes, a
 *                           "handle" above 32 bits).
 *
 * Both return the kernel's result: >= 0, or a negated RILL_E* code. A
 * handle (int32_t) reaches the kernel sign-extended, as a cast to
 * uint64_t would give it; a pointer as its address.
 */
#ifndef RILL_SYSCALL_H
#define RILL_SYSCALL_H

#include <stdint.h>
#include <abi/rill.h>

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

/* One (type, name) pair of the table, applied as RL_PARAM p: a typed
 * parameter, an untyped one, or the argument as a register value. */
#define RL_PARAM(type, name)	type name
#define RL_RAWPARAM(type, name)	uint64_t name
#define RL_REG(type, name)	(uint64_t)(name)

/* RL_STUBn(name, n pairs): the typed stub and its raw twin. A table line
 * whose nargs is not the number of its pairs does not compile. */
#define RL_STUB0(nm, ...)						\
	_Static_assert(sizeof(#__VA_ARGS__) == 1, #nm ": nargs 0 with arguments"); \
	static inline int64_t rl_##nm(void)				\
	{ return rl_syscall6(RL_SYS_##nm, 0, 0, 0, 0, 0, 0); }		\
	static inline int64_t rl_raw_##nm(void)				\
	{ return rl_syscall6(RL_SYS_##nm, 0, 0, 0, 0, 0, 0); }
#define RL_STUB1(nm, p0)						\
	static inline int64_t rl_##nm(RL_PARAM p0)			\
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, 0, 0, 0, 0, 0); }	\
	static inline int64_t rl_raw_##nm(RL_RAWPARAM p0)		\
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, 0, 0, 0, 0, 0); }
#define RL_STUB2(nm, p0, p1)						\
	static inline int64_t rl_##nm(RL_PARAM p0, RL_PARAM p1)	\
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, 0, 0, 0, 0); } \
	static inline int64_t rl_raw_##nm(RL_RAWPARAM p0, RL_RAWPARAM p1) \
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, 0, 0, 0, 0); }
#define RL_STUB3(nm, p0, p1, p2)					\
	static inline int64_t rl_##nm(RL_PARAM p0, RL_PARAM p1, RL_PARAM p2) \
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, RL_REG p2, 0, 0, 0); } \
	static inline int64_t rl_raw_##nm(RL_RAWPARAM p0, RL_RAWPARAM p1, RL_RAWPARAM p2) \
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, RL_REG p2, 0, 0, 0); }
#define RL_STUB4(nm, p0, p1, p2, p3)					\
	static inline int64_t rl_##nm(RL_PARAM p0, RL_PARAM p1, RL_PARAM p2, \
				      RL_PARAM p3)			\
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, RL_REG p2, \
			     RL_REG p3, 0, 0); }			\
	static inline int64_t rl_raw_##nm(RL_RAWPARAM p0, RL_RAWPARAM p1, \
					  RL_RAWPARAM p2, RL_RAWPARAM p3) \
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, RL_REG p2, \
			     RL_REG p3, 0, 0); }
#define RL_STUB5(nm, p0, p1, p2, p3, p4)				\
	static inline int64_t rl_##nm(RL_PARAM p0, RL_PARAM p1, RL_PARAM p2, \
				      RL_PARAM p3, RL_PARAM p4)		\
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, RL_REG p2, \
			     RL_REG p3, RL_REG p4, 0); }		\
	static inline int64_t rl_raw_##nm(RL_RAWPARAM p0, RL_RAWPARAM p1, \
					  RL_RAWPARAM p2, RL_RAWPARAM p3, \
					  RL_RAWPARAM p4)		\
	{ return rl_syscall6(RL_SYS_##nm, RL_REG p0, RL_REG p1, RL_REG p2, \
			     RL_REG p3, RL_REG p4, 0); }

#define SYSCALL(nr, name, kind, nargs, ...) RL_STUB##nargs(name, __VA_ARGS__)
#include <abi/syscalls.def>
#undef SYSCALL

/* Names, for traces: rl_syscall_names[n] for RL_SYSCALL_BASE + n. */
extern const char *const rl_syscall_names[];
extern const unsigned rl_syscall_count;

#endif
