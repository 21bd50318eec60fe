/*
 * smp.c - starting the application processors, IPIs, TLB shootdown.
 *
 * APs are started one at a time with INIT, STARTUP, STARTUP (the second
 * only if the first did not take), each given its own guarded kernel stack.
 * CPU numbers are given in MADT order, the boot CPU being 0.
 *
 * TLB shootdown: one request at a time (sd_lock). The initiator posts the
 * range, flags every other online CPU, sends the IPI, and spins until all
 * acknowledged. CPUs poll their flag while spinning for sd_lock, so two
 * CPUs shooting down at once, with interrupts off, cannot deadlock.
 */
#include <kernel/acpi.h>
#include <kernel/cpu.h>
#include <kernel/kstack.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/trap.h>
#include <kernel/vmm.h>
#include <arch/apic.h>
#include <arch/user.h>
#include <arch/x86.h>
#include <rill/string.h>

extern const char __trampoline_start[], __trampoline_end[];
extern uint64_t tramp_cr3, tramp_kcr3, tramp_stack, tramp_entry, tramp_cpu, tramp_efer_nx;
extern const char tramp_start[];
extern char boot_pml4[];

void ap_start64(void);
void ap_entry(struct cpu *c) __noreturn;
void gdt_init_cpu(struct cpu *c);

static spinlock_t sd_lock = SPINLOCK_INIT;
static volatile uintptr_t sd_va;
static volatile size_t sd_npages;
static volatile uint32_t sd_pending[MAX_CPUS];
static volatile int sd_acks;

/* Address of a trampoline variable in the copy at AP_TRAMPOLINE_PHYS. */
static uint64_t *tramp_var(uint64_t *var)
{
	return phys_to_virt(AP_TRAMPOLINE_PHYS + ((char *)var - tramp_start));
}

static void flush_local(uintptr_t va, size_t npages)
{
	if (npages > 64) {
		uint64_t cr4 = read_cr4();

		write_cr4(cr4 & ~(1ull << 7));	/* toggling PGE flushes global pages */
		write_cr4(cr4);
		return;
	}
	for (size_t i = 0; i < npages; i++)
		invlpg(va + i * PAGE_SIZE);
}

void tlb_shootdown_poll(void)
{
	unsigned me = cpu_id();

	if (!__atomic_load_n(&sd_pending[me], __ATOMIC_ACQUIRE))
		return;
	flush_local(sd_va, sd_npages);
	this_cpu()->tlb_shootdowns++;
	__atomic_store_n(&sd_pending[me], 0, __ATOMIC_RELAXED);
	/* Release: our flush is done before the initiator sees the ack. */
	__atomic_fetch_sub(&sd_acks, 1, __ATOMIC_RELEASE);
}

void tlb_shootdown(uintptr_t va, size_t npages)
{
	unsigned me, others = 0;
	irqflags_t f;

	flush_local(va, npages);
	if (cpus_online() <= 1)
		return;
	f = arch_irq_save();
	while (!spin_trylock(&sd_lock)) {
		tlb_shootdown_poll();
		arch_cpu_relax();
	}
	me = cpu_id();
	sd_va = va;
	sd_npages = npages;
	for (unsigned i = 0; i < ncpus; i++)
		if (i != me && READ_ONCE(cpus[i].online))
			others++;
	__atomic_store_n(&sd_acks, (int)others, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < ncpus; i++) {
		if (i == me || !READ_ONCE(cpus[i].online))
			continue;
		__atomic_store_n(&sd_pending[i], 1, __ATOMIC_RELEASE);
		lapic_send_ipi(cpus[i].apic_id, VEC_IPI_TLB);
	}
	while (__atomic_load_n(&sd_acks, __ATOMIC_ACQUIRE) > 0)
		arch_cpu_relax();
	spin_unlock(&sd_lock);
	arch_irq_restore(f);
}

static void ipi_tlb(struct trap_frame *tf, void *arg)
{
	this_cpu()->ipi_count++;
	tlb_shootdown_poll();
}

static void ipi_resched(struct trap_frame *tf, void *arg)
{
	/* Nothing to do here: trap_dispatch reschedules on the way out. */
	this_cpu()->ipi_count++;
}

void smp_send_resched(unsigned cpu)
{
	if (cpu < ncpus && READ_ONCE(cpus[cpu].online))
		lapic_send_ipi(cpus[cpu].apic_id, VEC_IPI_RESCHED);
}

void smp_stop_others(void)
{
	if (cpus_online() > 1)
		lapic_send_nmi_others();
}

void ap_entry(struct cpu *c)
{
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	gdt_init_cpu(c);
	idt_load();
	arch_user_init_cpu();
	lapic_init_cpu();
	kmain_ap(c);
}

static bool start_ap(struct cpu *c)
{
	uintptr_t stack = kstack_alloc();
	uint64_t deadline;

	if (!stack) {
		pr_err("smp: no stack for cpu%u", c->id);
		return false;
	}
	*tramp_var(&tramp_stack) = stack;
	*tramp_var(&tramp_cpu) = (uint64_t)c;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	lapic_send_init(c->apic_id);
	clock_delay_ns(10 * NSEC_PER_MSEC);
	for (int attempt = 0; attempt < 2; attempt++) {
		lapic_send_sipi(c->apic_id, AP_TRAMPOLINE_PHYS >> 12);
		deadline = clock_ns() + (attempt ? 1000 : 10) * NSEC_PER_MSEC;
		while (clock_ns() < deadline)
			if (__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
				return true;
	}
	/* Give a slow (emulated) CPU a little longer before giving up. */
	deadline = clock_ns() + 2000 * NSEC_PER_MSEC;
	while (clock_ns() < deadline)
		if (__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
			return true;
	pr_err("smp: cpu%u (APIC id %u) did not start", c->id, c->apic_id);
	kstack_free(stack);
	return false;
}

void smp_boot_aps(const struct acpi_info *acpi)
{
	uint32_t bsp = lapic_id();
	uint32_t a, b, cx, d;
	size_t len = (size_t)(__trampoline_end - __trampoline_start);

	if (trap_set_handler(VEC_IPI_TLB, ipi_tlb, NULL) < 0 ||
	    trap_set_handler(VEC_IPI_RESCHED, ipi_resched, NULL) < 0)
		panic("smp: IPI vectors taken");
	cpus[0].apic_id = bsp;

	memcpy(phys_to_virt(AP_TRAMPOLINE_PHYS), __trampoline_start, len);
	cpuid(0x80000001, 0, &a, &b, &cx, &d);
	*tramp_var(&tramp_cr3) = virt_to_phys(boot_pml4);
	*tramp_var(&tramp_kcr3) = vmm_kernel_pml4();
	*tramp_var(&tramp_entry) = (uint64_t)ap_start64;
	*tramp_var(&tramp_efer_nx) = (d & (1u << 20)) ? (1u << 11) : 0;

	for (unsigned i = 0; i < acpi->ncpus; i++) {
		const struct acpi_cpu *ac = &acpi->cpus[i];
		struct cpu *c;

		if (!ac->enabled || ac->apic_id == bsp)
			continue;
		if (ncpus == MAX_CPUS) {
			pr_warn("smp: more than %d CPUs; APIC id %u and later unused",
				MAX_CPUS, ac->apic_id);
			break;
		}
		if (ac->apic_id > 0xff) {
			pr_warn("smp: APIC id %u needs x2APIC; CPU unused", ac->apic_id);
			continue;
		}
		c = &cpus[ncpus];
		c->self = c;
		c->id = ncpus;
		c->apic_id = ac->apic_id;
		ncpus++;
		if (!start_ap(c))
			ncpus--;
	}
	pr_info("smp: %u of %u CPUs online", cpus_online(), acpi->ncpus);
}
