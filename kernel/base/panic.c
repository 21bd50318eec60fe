/*
 * panic.c - fatal errors, register dumps and symbolized backtraces.
 *
 * A panic stops the other CPUs (NMI), prints the message, the registers when
 * a trap frame is known, and a backtrace by walking frame pointers (the
 * kernel is built with -fno-omit-frame-pointer). Addresses are named through
 * the symbol table the second link pass embeds (ksyms.c). The
 * machine then leaves QEMU through isa-debug-exit with code 2, or halts.
 *
 * The walk trusts nothing: each frame pointer must be 8-aligned, inside the
 * kernel half, and above the previous one, else the walk stops.
 */
#include <stdarg.h>
#include <kernel/arch.h>
#include <kernel/cpu.h>
#include <kernel/ksyms.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/smp.h>
#include <kernel/trap.h>
#include <rill/format.h>

volatile int panic_in_progress;

static void print_addr(uintptr_t addr)
{
	uintptr_t off;
	const char *name = ksym_lookup(addr, &off);

	if (name)
		kprintf("  [<0x%016lx>] %s+0x%lx\n", addr, name, off);
	else
		kprintf("  [<0x%016lx>] ?\n", addr);
}

void backtrace_print(uintptr_t rip, uintptr_t rbp, int depth)
{
	kprintf("backtrace:\n");
	if (rip)
		print_addr(rip);
	for (int i = 0; i < depth && rbp; i++) {
		const uintptr_t *frame = (const uintptr_t *)rbp;
		uintptr_t next, ret;

		if ((rbp & 7) || rbp < DIRECT_MAP_BASE || rbp > UINTPTR_MAX - 16)
			break;
		ret = frame[1];
		next = frame[0];
		if (!ret)
			break;
		print_addr(ret);
		if (next <= rbp)
			break;
		rbp = next;
	}
}

static void panic_enter(void)
{
	arch_irq_disable();
	if (__atomic_exchange_n(&panic_in_progress, 1, __ATOMIC_SEQ_CST)) {
		/* Another CPU is already panicking: let it report. */
		arch_halt();
	}
	smp_stop_others();
}

static __noreturn void panic_exit(void)
{
	kprintf("PANIC: system halted\n");
	arch_qemu_exit(2);
}

/* Report and stop: the message, the frame's registers when there is one,
 * and a backtrace from the faulting context or from here. */
static __noreturn void panic_report(const struct trap_frame *tf, const char *fmt,
				    va_list ap)
{
	char msg[256];

	rill_vsnprintf(msg, sizeof(msg), fmt, ap);
	kprintf("\nPANIC on cpu%u: %s\n", cpu_id(), msg);
	if (tf) {
		trap_dump_frame(tf);
		backtrace_print(tf->rip, tf->rbp, 32);
	} else {
		backtrace_print(0, arch_frame_pointer(), 32);
	}
	panic_exit();
}

void panic(const char *fmt, ...)
{
	va_list ap;

	panic_enter();
	va_start(ap, fmt);
	panic_report(NULL, fmt, ap);
}

void panic_frame(const struct trap_frame *tf, const char *fmt, ...)
{
	va_list ap;

	panic_enter();
	va_start(ap, fmt);
	panic_report(tf, fmt, ap);
}
