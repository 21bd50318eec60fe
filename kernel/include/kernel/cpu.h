/*
 * cpu.h - per-CPU state.
 *
 * Each CPU owns one struct cpu; the GS base register points at it in kernel
 * mode, so this_cpu() is one instruction. Fields are written only by their
 * own CPU unless a comment says otherwise.
 */
#ifndef KERNEL_CPU_H
#define KERNEL_CPU_H

#include <arch/cpu_arch.h>
#include <kernel/types.h>

#define MAX_CPUS 16

struct thread;

struct cpu {
	struct cpu *self;		/* gs:0, for this_cpu() */
	uint64_t scratch;		/* gs:8, for entry code */
	struct thread *current;		/* gs:16, running thread */
	uint64_t kstack_top;		/* gs:24, kernel stack for SYSCALL entry */
	uint32_t id;			/* logical number, 0 = boot CPU */
	uint32_t apic_id;
	volatile bool online;		/* set by the CPU itself once up */
	volatile uint32_t need_resched;	/* set by anyone, cleared by owner */
	uint64_t irq_count;		/* interrupts taken */
	uint64_t ipi_count;		/* IPIs received */
	uint64_t tlb_shootdowns;	/* shootdown requests served */
	uint64_t syscalls;		/* system calls entered here */
	void *sched;			/* struct runqueue *, owned by sched.c */
	void *timers;			/* struct cpu_timers *, owned by timer.c */
	void *ipc_ctx;			/* struct ipc_ctx * being run here (ipc/stream.c) */
	struct arch_cpu arch;
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned int ncpus;		/* CPUs found (online or not) */
extern bool percpu_ready;		/* GS base set on the boot CPU */

static inline struct cpu *this_cpu(void)
{
	struct cpu *c;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* Add one to a uint64_t counter of this CPU's struct cpu in one
 * GS-relative instruction, so preemption cannot split it. */
#define this_cpu_inc(field) \
	__asm__ volatile("incq %%gs:%c0" : : "i"(offsetof(struct cpu, field)) : "memory")

/* Logical number of this CPU; 0 before per-CPU state is set up. */
unsigned int cpu_id(void);

/* Number of CPUs that finished booting. */
unsigned int cpus_online(void);

#endif
