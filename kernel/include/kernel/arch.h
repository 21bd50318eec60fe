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

/* Wait for an interrupt with interrupts enabled (atomically sti; hlt). */
static inline void arch_idle(void) { __asm__ volatile("sti; hlt" : : : "memory"); }

/* Frame pointer of the caller, for backtraces. */
static inline uintptr_t arch_frame_pointer(void)
{
	return (uintptr_t)__builtin_frame_address(0);
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
