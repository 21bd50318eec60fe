/*
 * main.c - kmain: the boot CPU's path from long mode to a running system.
 *
 * Order matters: the console first (so everything can be reported), then
 * the boot information (command line, memory map) before the allocators
 * reuse its memory, then memory, then ACPI (which needs mappings), then the
 * interrupt controllers and clock, then threads, then the other CPUs.
 */
#include <kernel/budget.h>
#include <kernel/acpi.h>
#include <kernel/arch.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/cpu.h>
#include <kernel/ipc.h>
#include <kernel/kheap.h>
#include <kernel/ktest.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/userinit.h>
#include <kernel/sched.h>
#include <kernel/smp.h>
#include <kernel/time.h>
#include <kernel/timer.h>
#include <kernel/trap.h>
#include <kernel/vmm.h>
#include <arch/apic.h>
#include <arch/clock.h>

void kmain(uint32_t magic, uint32_t info) __noreturn;
void gdt_init_cpu(struct cpu *c);

static struct acpi_info acpi;

static const char *const mem_type_names[] = {
	"?", "available", "reserved", "ACPI reclaimable", "ACPI NVS", "bad",
};

static void log_memory_map(void)
{
	for (unsigned i = 0; i < boot_info.nmmap; i++) {
		const struct boot_mmap_entry *e = &boot_info.mmap[i];

		pr_info("mem: %016lx-%016lx %s", e->base, e->base + e->length - 1,
			mem_type_names[e->type <= 5 ? e->type : 0]);
	}
	for (unsigned i = 0; i < boot_info.nmods; i++)
		pr_info("module: %08lx-%08lx %s", boot_info.mods[i].start,
			boot_info.mods[i].end, boot_info.mods[i].name);
}

static const void *acpi_map(uint64_t phys, size_t len, void *ctx)
{
	if (pmm_is_direct_mapped(phys, len))
		return phys_to_virt(phys);
	return vmm_map_phys(phys, len, 0);
}

static uint64_t find_rsdp(void)
{
	/* The EBDA's segment is at 0x40e; search its first KiB, then the BIOS
	 * area 0xe0000-0xfffff. */
	uint64_t ebda = (uint64_t)*(const uint16_t *)phys_to_virt(0x40e) << 4;
	long off;

	if (ebda >= 0x80000 && ebda < 0xa0000) {
		off = acpi_find_rsdp(phys_to_virt(ebda), 1024);
		if (off >= 0)
			return ebda + (uint64_t)off;
	}
	off = acpi_find_rsdp(phys_to_virt(0xe0000), 0x20000);
	return off >= 0 ? 0xe0000 + (uint64_t)off : 0;
}

static void init_thread(void *arg)
{
	char val[128];

	if (cmdline_get_value("ktest.fault", val, sizeof(val)))
		ktest_fault_trigger(val);
	if (cmdline_get_value("ktest", val, sizeof(val)))
		ktest_main(val);
	pr_info("rill: boot complete (%u CPUs, %lu MiB free)", cpus_online(),
		pmm_free_pages() >> 8);
	userinit();
}

/* smp.h: an AP, its CPU set up by ap_entry, starts the rest and idles. */
void kmain_ap(struct cpu *c)
{
	timer_cpu_init();
	sched_init_cpu();
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
	pr_info("smp: cpu%u online (APIC id %u)", c->id, c->apic_id);
	sched_idle();
}

void kmain(uint32_t magic, uint32_t info)
{
	uint64_t rsdp;
	char val[32];
	struct pmm_stats st;

	clock_mark_boot();
	arch_console_init();
	cpus[0].self = &cpus[0];
	arch_set_percpu_base(&cpus[0]);
	percpu_ready = true;

	multiboot_parse(magic, info);
	if (cmdline_get_value("log", val, sizeof(val))) {
		int level = log_parse_level(val);

		if (level >= 0)
			log_set_level(level);
		else
			pr_warn("unknown log level \"%s\" (error, warn, info, debug)", val);
	}
	pr_info("Rill kernel, booted by %s", boot_info.loader[0] ? boot_info.loader : "?");
	pr_info("command line: \"%s\"", cmdline_get());
	log_memory_map();

	gdt_init_cpu(&cpus[0]);
	idt_init();
	idt_load();

	pmm_early_init();
	paging_init();
	pmm_init();
	kheap_init();

	rsdp = find_rsdp();
	if (!rsdp)
		panic("no ACPI RSDP found: Rill needs ACPI (MADT) to find its CPUs");
	if (acpi_parse(rsdp, acpi_map, NULL, &acpi) < 0)
		panic("the ACPI tables are unusable");
	acpi_log_summary(&acpi);
	if (!acpi.has_madt)
		panic("no usable MADT in the ACPI tables");

	pic_disable();
	lapic_init(acpi.lapic_phys);
	lapic_init_cpu();
	clock_init(acpi.has_hpet ? acpi.hpet_phys : 0);
	lapic_timer_calibrate();
	ioapic_init(&acpi);

	arch_user_init();
	vm_init();
	klog_init();		/* the log's ring, early: it holds the boot */
	queue_init();
	ipc_init();
	process_init();
	futex_init();
	authorities_init();
	devices_init();

	timer_cpu_init();
	sched_init();
	sched_init_cpu();
	cpus[0].online = true;
	smp_boot_aps(&acpi);

	pmm_get_stats(&st);
	budget_init(st.free_pages * PAGE_SIZE);	/* init's, shared or carved by all */
	pr_info("mem: %lu KiB free of %lu KiB managed, %lu KiB kernel and early use",
		st.free_pages * 4, st.total_pages * 4, st.reserved_pages * 4);

	if (!thread_create("init", init_thread, NULL, SCHED_PRIO_DEFAULT, 0))
		panic("cannot create the init thread");
	sched_idle();
}
