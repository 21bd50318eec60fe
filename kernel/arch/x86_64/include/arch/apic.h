/*
 * apic.h - local APIC (xAPIC, memory-mapped) and I/O APIC.
 */
#ifndef ARCH_APIC_H
#define ARCH_APIC_H

#include <kernel/types.h>

struct acpi_info;

/* Map the local APIC (BSP, once), then enable it on this CPU. */
void lapic_init(paddr_t phys);
void lapic_init_cpu(void);
uint32_t lapic_id(void);
void lapic_eoi(void);

void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_nmi_others(void);
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t page);

/* Measure the timer's rate against clock_ns() (on the BSP, once). */
void lapic_timer_calibrate(void);
/* Fire VEC_TIMER once, ns from now (clamped to the timer's range). */
void lapic_timer_oneshot(uint64_t ns);
uint64_t lapic_timer_hz(void);

/* I/O APICs from the MADT; every input starts masked. */
void ioapic_init(const struct acpi_info *acpi);
/* Route an ISA IRQ (0-15, through the MADT's overrides) or a GSI to vector
 * on the CPU with this APIC id, unmasked. Returns 0 or -ENODEV. */
int ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t apic_id);
int ioapic_mask_isa(unsigned irq, bool masked);

/* Mask the legacy 8259 PICs for good. */
void pic_disable(void);

#endif
