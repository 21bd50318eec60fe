/*
 * smp.h - bringing up the other CPUs and talking to them.
 */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

#include <kernel/types.h>

/* Start every application processor the MADT lists; returns when each is
 * online or has timed out (logged). */
struct acpi_info;
void smp_boot_aps(const struct acpi_info *acpi);

/* Called by an application processor once arch/ set up its CPU (its
 * descriptor tables, user-mode entry and local APIC), on the AP's own
 * stack; implemented in core/main.c: starts its timer queue and scheduler,
 * marks it online, and becomes its idle thread. */
struct cpu;
void kmain_ap(struct cpu *c) __noreturn;

/* Send the reschedule IPI to a CPU (its scheduler looks at its run queue). */
void smp_send_resched(unsigned cpu);

/* Stop every other CPU (NMI), for panics. Safe to call with interrupts off
 * and from any context. */
void smp_stop_others(void);

/* Invalidate [va, va + npages pages) in every CPU's TLB, this one included.
 * Returns when all CPUs have done it. May be called with interrupts off. */
void tlb_shootdown(uintptr_t va, size_t npages);

/* Service a pending shootdown for this CPU, if any (called while spinning). */
void tlb_shootdown_poll(void);

#endif
