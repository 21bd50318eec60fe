/*
 * arch.h - the contract between portable kernel code and the architecture.
 * Portable code calls only these; each is implemented in kernel/arch/x86_64.
 */
#ifndef KERNEL_ARCH_H
#define KERNEL_ARCH_H

#include <kernel/types.h>

typedef uint64_t irqflags_t;

/* Disable interrupts on this CPU and return the previous state. */
static inline irqflags_t arch_irq_save(void)
{
	irqflags_t f;

	__asm__ volatile("pushfq; popq %0; cli" : "=r"(f) : : "memory");
	return f;
}

/* Restore the state returned by arch_irq_save. */
static inline void arch_irq_restore(irqflags_t f)
{
	if (f & (1ul << 9))
		__asm__ volatile("sti" : : : "memory");
}

static inline void arch_irq_enable(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void arch_irq_disable(void) { __asm__ volatile("cli" : : : "memory"); }

/* True when interrupts are enabled on this CPU. */
static inline bool arch_irq_enabled(void)
{
	uint64_t f;

	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return f & (1ul << 9);
}

/* Spin-wait hint. */
static inline void arch_cpu_relax(void) { __asm__ volatile("pause" : : : "memory"); }

/* Call fn(arg) from asm that clobbers no register: fn must keep every
 * register itself (__attribute__((no_caller_saved_registers))), so the
 * caller keeps nothing live across the call. Kernel code has no red zone:
 * the call may push below rsp. */
#define ARCH_CALL_KEEPING_REGS(fn, arg) \
	__asm__ volatile("call " #fn : : "D"(arg) : "memory", "cc")

/* Wait for an interrupt with interrupts enabled (atomically sti; hlt). */
static inline void arch_idle(void) { __asm__ volatile("sti; hlt" : : : "memory"); }

/* Frame pointer of the caller, for backtraces. */
static inline uintptr_t arch_frame_pointer(void)
{
	return (uintptr_t)__builtin_frame_address(0);
}

/*
 * Page tables and per-thread registers. The only x86 registers portable
 * code changes, each behind a name (x86: CR3, the FS/GS base MSRs; the
 * numbers are arch/x86.h's MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE).
 */

/* The page table this CPU translates through: the physical address of
 * its top level (x86: CR3). */
static inline paddr_t arch_page_table(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/* Translate through the page table whose top level is at pml4 from now
 * on; this CPU's TLB keeps global (kernel) entries only. */
static inline void arch_switch_page_table(paddr_t pml4)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(pml4) : "memory");
}

static inline void arch_wrmsr_(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* The running user thread's FS base / GS base, as its user code sees
 * them. In the kernel, the user's GS base is the inactive one (swapgs
 * makes it active on the way out). Interrupts off, so that no switch
 * comes between the thread and its registers. */
static inline void arch_set_user_fs(uint64_t base) { arch_wrmsr_(0xC0000100, base); }
static inline void arch_set_user_gs(uint64_t base) { arch_wrmsr_(0xC0000102, base); }

/* Both, in that order. */
static inline void arch_set_user_tls(uint64_t fs, uint64_t gs)
{
	arch_set_user_fs(fs);
	arch_set_user_gs(gs);
}

/* The flags register a user thread runs with, from the one its supervisor
 * gave (0 for a new thread's): only what user code may change is kept
 * (x86: CF PF AF ZF SF TF DF OF AC), interrupts are on (IF) and the
 * always-one bit 1 is set. */
static inline uint64_t arch_user_flags(uint64_t want)
{
	return (want & 0x40dd5) | (1ul << 9) | 2;
}

/* This CPU's struct cpu, which this_cpu() reads through GS (the kernel's
 * GS base, active in the kernel). */
static inline void arch_set_percpu_base(void *cpu)
{
	arch_wrmsr_(0xC0000101, (uint64_t)cpu);
}

/* Stop this CPU for good. */
void arch_halt(void) __noreturn;

/* Leave QEMU through isa-debug-exit with this code (QEMU exits with
 * (code << 1) | 1); halts when there is no such device. */
void arch_qemu_exit(uint32_t code) __noreturn;

/* Raw console output, usable from any context including panics. */
void arch_console_putc(char c);
void arch_console_init(void);

#endif
