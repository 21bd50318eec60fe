/*
 * user.h - the x86-64 half of user threads (user.c): struct arch_uthread,
 * the thread state only the machine gives meaning to, which struct
 * uthread (process.h) embeds as u->arch; what core calls on it; what the
 * rest of arch/ calls; and the two calls user.c makes up into core,
 * implemented in process.c.
 *
 * user.c sees no struct uthread, process or thread: each function gets
 * the arch_uthread (and whatever else it needs) from its caller.
 */
#ifndef ARCH_USER_H
#define ARCH_USER_H

#include <kernel/types.h>
#include <abi/rill.h>

struct aspace;
struct budget;
struct trap_frame;

/* Bytes of the largest FPU state kept per thread: the XSAVE standard
 * format of x87, SSE (512 + 64 header) and AVX (256 at offset 576). */
#define FPU_AREA_MAX	832

struct arch_uthread {
	/* x87/SSE/AVX state, XSAVE standard format: fpu_loaded is set
	 * while the CPU's registers are the thread's state (it runs, or was
	 * switched out after its registers were saved here); clear while it
	 * is stopped or not yet in user mode, when this area is the state.
	 * fpu_cpu: the CPU whose registers still equal this area, -1 when
	 * none may. Both belong to the thread itself and the switch code,
	 * with interrupts off; a supervisor's thread_fpu writes the area
	 * (arch_fpu_store) only while the thread is stopped. */
	uint8_t fpu[FPU_AREA_MAX] __aligned(64);
	int32_t fpu_cpu;
	bool fpu_loaded;
	/* FS and GS bases (user space cannot change them: CR4.FSGSBASE
	 * stays off), loaded on every switch to the thread. Written by
	 * thread_set_base and thread_regs (process.c), which set
	 * bases_changed for a stopped thread: arch_uthread_resume reloads
	 * them. */
	bool bases_changed;
	uint64_t fs_base, gs_base;
	uint8_t *iobitmap;		/* 8 KiB, or NULL: no ports */
	/* Fixed for the thread's life: its process's address space (set by
	 * arch_uthread_init) and the top of its kernel stack (set before
	 * the kernel thread first names this state, process.c). */
	struct aspace *as;
	uintptr_t kstack_top;
};

/* ---- called by core ---------------------------------------------------- */

void arch_user_init(void);			/* boot CPU */

/* A new thread's state: the FPU reset state (not live), no bases, no
 * ports, in address space as. au is zeroed. */
void arch_uthread_init(struct arch_uthread *au, struct aspace *as);
/* Free what it holds (the I/O bitmap, charged to b). */
void arch_uthread_release(struct arch_uthread *au, struct budget *b);

/* Called by the scheduler with interrupts off, before the stack switch:
 * the outgoing and incoming threads' user state (struct thread.uarch,
 * NULL for kernel threads). */
void arch_switch(struct arch_uthread *prev, struct arch_uthread *next);

/* Enter user mode on the current thread, whose state au is: at entry
 * with rsp stack, rdi arg and every other register zero; or with the
 * registers regs (rip, rsp, rflags and the general ones; not on the
 * thread's kernel stack). */
void arch_enter_user(struct arch_uthread *au, uint64_t entry, uint64_t stack, uint64_t arg)
	__noreturn;
void arch_enter_user_regs(struct arch_uthread *au, const struct rl_regs *regs) __noreturn;

/* The current thread (au) stops for its supervisor: its registers go to
 * au->fpu, which is its state until arch_uthread_resume loads it back
 * (if this CPU's registers do not hold it already) together with the
 * FS/GS bases if they changed meanwhile. Interrupts off (stop; resume
 * takes any). */
void arch_uthread_stop_irqoff(struct arch_uthread *au);
void arch_uthread_resume(struct arch_uthread *au);

/* thread_fpu: the size of the user-visible area (abi/rill.h RL_FPU_*);
 * a stopped thread's area as user space reads it (into out); a
 * user-given area checked (so XRSTOR of it cannot fault) and made whole:
 * 0 or -EINVAL; a checked area stored as a stopped thread's state. */
uint32_t arch_fpu_size(void);
void arch_fpu_export(const struct arch_uthread *au, uint8_t *out);
int arch_fpu_import(uint8_t *buf);
void arch_fpu_store(struct arch_uthread *au, const uint8_t *buf);

/* Let the current thread (au) use ports [base, base + count): its
 * bitmap, allocated and charged to b the first time, and this CPU's.
 * 0 or -ENOMEM. */
int arch_ioport_enable(struct arch_uthread *au, struct budget *b, uint16_t base,
		       uint32_t count);

/* ---- called by the rest of arch/ --------------------------------------- */

/* Every CPU, the boot CPU from arch_user_init: SYSCALL, FPU state. */
void arch_user_init_cpu(void);

/* An exception raised in user mode (trap.c): to the thread's fault
 * handling, or the supervisor. */
void arch_user_exception(struct trap_frame *tf);

/* ---- called by user.c, implemented in core (process.c) ------------------ */

/* The current thread's state (NULL for a kernel thread). */
struct arch_uthread *arch_uthread_current(void);
/* A user-mode fault the address space could not resolve: stop for the
 * supervisor or end the process. Returns when the thread may continue
 * (its registers possibly changed). */
void uthread_fault(struct trap_frame *tf, uint64_t addr);

#endif
