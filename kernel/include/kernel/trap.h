/*
 * trap.h - interrupt and exception entry.
 *
 * The assembly stubs (isr.S) push the vector and an error code (0 when the
 * CPU pushes none), save every general register, and call trap_dispatch()
 * with a pointer to this frame.
 */
#ifndef KERNEL_TRAP_H
#define KERNEL_TRAP_H

#include <kernel/types.h>

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	/* pushed by the CPU */
	uint64_t rip, cs, rflags, rsp, ss;
};

_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap frame layout");

#define VEC_PAGE_FAULT	14
#define VEC_IRQ_BASE	0x20	/* legacy/IOAPIC IRQs 0x20..0x3f */
#define VEC_TIMER	0xe0	/* local APIC timer */
#define VEC_IPI_RESCHED	0xf0
#define VEC_IPI_TLB	0xf1
#define VEC_IPI_CALL	0xf2
#define VEC_SPURIOUS	0xff

typedef void (*irq_handler_t)(struct trap_frame *tf, void *arg);

/* Install a handler for an interrupt vector (>= 0x20). Returns 0, or -1
 * when the vector is taken or out of range. */
int trap_set_handler(unsigned vector, irq_handler_t fn, void *arg);

void trap_dispatch(struct trap_frame *tf);

void idt_init(void);		/* build the IDT once */
void idt_load(void);		/* load it on this CPU */

/* Print the registers of a frame to the console. */
void trap_dump_frame(const struct trap_frame *tf);

/* Called by the trap and system-call paths, implemented in core. */
/* On interrupt and system-call return when need_resched is set
 * (interrupts off): switch to another thread (sched.c). */
void sched_preempt(void);
/* Before returning to user mode: handles kill requests (process.c). */
void uthread_return_check(void);

#endif
