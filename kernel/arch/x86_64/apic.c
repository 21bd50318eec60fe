/*
 * apic.c - the local APIC: enabling, EOI, IPIs and the one-shot timer.
 *
 * xAPIC registers are memory-mapped (uncached) through the device window;
 * every CPU's local APIC sits at the same physical address, so one mapping
 * serves all. The timer runs in one-shot mode with divider 16; its rate is
 * measured once against the calibrated TSC clock.
 */
#include <kernel/arch.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/time.h>
#include <kernel/trap.h>
#include <kernel/vmm.h>
#include <arch/apic.h>
#include <arch/x86.h>

#define LAPIC_ID	0x020
#define LAPIC_TPR	0x080
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ESR	0x280
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_LVT_LINT0	0x350
#define LAPIC_LVT_LINT1	0x360
#define LAPIC_LVT_ERROR	0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR	0x390
#define LAPIC_TIMER_DIV	0x3e0

#define ICR_FIXED	0x000
#define ICR_NMI		0x400
#define ICR_INIT	0x500
#define ICR_STARTUP	0x600
#define ICR_PENDING	(1u << 12)
#define ICR_ASSERT	(1u << 14)
#define ICR_LEVEL	(1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)
#define LVT_MASKED	(1u << 16)

static volatile uint32_t *lapic;
static uint64_t timer_hz;	/* timer ticks per second at divider 16 */
static uint64_t ticks_per_ns;	/* 32.32 fixed point */

static inline uint32_t lapic_read(unsigned reg)
{
	return lapic[reg / 4];
}

static inline void lapic_write(unsigned reg, uint32_t v)
{
	lapic[reg / 4] = v;
}

void lapic_init(paddr_t phys)
{
	lapic = vmm_map_phys(phys, 0x1000, VMM_UNCACHED);
	if (!lapic)
		panic("cannot map the local APIC at %lx", phys);
}

void lapic_init_cpu(void)
{
	/* Global enable in the MSR (firmware normally left it on). */
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1ull << 11));
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
	lapic_write(LAPIC_ESR, 0);
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);	/* software enable */
	lapic_write(LAPIC_TIMER_DIV, 0x3);		/* divide by 16 */
	lapic_eoi();
}

uint32_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static void icr_wait(void)
{
	for (unsigned i = 0; i < 1000000 && (lapic_read(LAPIC_ICR_LO) & ICR_PENDING); i++)
		arch_cpu_relax();
}

static void icr_send(uint32_t apic_id, uint32_t lo)
{
	uint64_t f;

	/* The two ICR writes must not be split by an interrupt that also
	 * sends an IPI. */
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(f) : : "memory");
	icr_wait();
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	icr_wait();
	if (f & RFLAGS_IF)
		__asm__ volatile("sti" : : : "memory");
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	icr_send(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

void lapic_send_nmi_others(void)
{
	if (lapic)
		icr_send(0, ICR_NMI | ICR_ASSERT | ICR_ALL_BUT_SELF);
}

void lapic_send_init(uint32_t apic_id)
{
	icr_send(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	clock_delay_ns(200 * NSEC_PER_USEC);
	icr_send(apic_id, ICR_INIT | ICR_LEVEL);	/* de-assert */
}

void lapic_send_sipi(uint32_t apic_id, uint8_t page)
{
	icr_send(apic_id, ICR_STARTUP | ICR_ASSERT | page);
}

void lapic_timer_calibrate(void)
{
	uint64_t t0, t1;
	uint32_t left;

	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	t0 = clock_ns();
	clock_delay_ns(20 * NSEC_PER_MSEC);
	left = lapic_read(LAPIC_TIMER_CUR);
	t1 = clock_ns();
	lapic_write(LAPIC_TIMER_INIT, 0);
	timer_hz = (uint64_t)(0xffffffffu - left) * NSEC_PER_SEC / (t1 - t0);
	if (timer_hz == 0 || timer_hz >= (1ull << 32))
		panic("local APIC timer rate %lu Hz is unusable", timer_hz);
	ticks_per_ns = (timer_hz << 32) / NSEC_PER_SEC;
	pr_info("lapic: timer %lu kHz (divider 16)", timer_hz / 1000);
}

uint64_t lapic_timer_hz(void)
{
	return timer_hz;
}

void lapic_timer_oneshot(uint64_t ns)
{
	uint64_t ticks = (uint64_t)(((unsigned __int128)ns * ticks_per_ns) >> 32);

	if (ticks == 0)
		ticks = 1;
	if (ticks > 0xffffffffu)
		ticks = 0xffffffffu;
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER);	/* one-shot, unmasked */
	lapic_write(LAPIC_TIMER_INIT, (uint32_t)ticks);
}

void pic_disable(void)
{
	/* Remap to 0x20/0x28 first so a spurious 8259 interrupt cannot look
	 * like a CPU exception, then mask every line. */
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}
