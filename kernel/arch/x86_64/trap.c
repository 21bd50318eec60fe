/*
 * trap.c - the IDT and the dispatch of exceptions and interrupts.
 *
 * Exceptions (vectors 0-31) raised in kernel mode are kernel bugs: they panic
 * with the registers and a backtrace. (User-mode faults are routed to the
 * thread's supervisor by a later layer.) Vectors 32-255 go to handlers
 * installed with trap_set_handler(); an interrupt with no handler is logged
 * once per vector. The dispatcher acknowledges every interrupt (local APIC
 * EOI) after its handler returns, so handlers never do.
 *
 * After a handler ran, if the interrupted context had interrupts enabled
 * and the scheduler asked for it, the current thread is preempted here.
 */
#include <kernel/arch.h>
#include <kernel/cpu.h>
#include <kernel/kstack.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/trap.h>
#include <arch/apic.h>
#include <arch/user.h>
#include <arch/x86.h>

struct idt_entry {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __packed;

_Static_assert(sizeof(struct idt_entry) == 16, "IDT entry");

static struct idt_entry idt[256] __aligned(16);
extern const char isr_stubs[];

static struct {
	irq_handler_t fn;
	void *arg;
} handlers[256];
static uint8_t unhandled_logged[256];

static const char *const exc_names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
	"invalid opcode", "device not available", "double fault",
	"coprocessor overrun", "invalid TSS", "segment not present",
	"stack fault", "general protection", "page fault", "reserved",
	"x87 error", "alignment check", "machine check", "SIMD error",
	"virtualization", "control protection", "reserved", "reserved",
	"reserved", "reserved", "reserved", "reserved", "hypervisor injection",
	"VMM communication", "security", "reserved",
};

static void idt_set(unsigned vec, uint8_t ist, uint8_t dpl)
{
	uint64_t addr = (uint64_t)(isr_stubs + 16 * vec);

	idt[vec].off_lo = addr & 0xffff;
	idt[vec].sel = GDT_KCODE;
	idt[vec].ist = ist;
	idt[vec].type = 0x8e | (dpl << 5);	/* present, interrupt gate */
	idt[vec].off_mid = (addr >> 16) & 0xffff;
	idt[vec].off_hi = addr >> 32;
	idt[vec].zero = 0;
}

void idt_init(void)
{
	for (unsigned v = 0; v < 256; v++)
		idt_set(v, 0, 0);
	idt_set(2, IST_NMI, 0);
	idt_set(8, IST_DOUBLE_FAULT, 0);
	idt_set(18, IST_MCE, 0);
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed ptr = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(ptr));
}

int trap_set_handler(unsigned vector, irq_handler_t fn, void *arg)
{
	if (vector < 32 || vector > 255 || !fn)
		return -1;
	if (__atomic_load_n(&handlers[vector].fn, __ATOMIC_ACQUIRE))
		return -1;
	handlers[vector].arg = arg;
	/* Publish fn last: the dispatcher reads fn, then arg. */
	__atomic_store_n(&handlers[vector].fn, fn, __ATOMIC_RELEASE);
	return 0;
}

void trap_dump_frame(const struct trap_frame *tf)
{
	kprintf("  vector %lu (%s) error 0x%lx\n", tf->vector,
		tf->vector < 32 ? exc_names[tf->vector] : "interrupt", tf->error);
	kprintf("  rip %016lx cs %04lx rflags %016lx\n", tf->rip, tf->cs, tf->rflags);
	kprintf("  rsp %016lx ss %04lx cr2 %016lx cr3 %016lx\n", tf->rsp, tf->ss,
		read_cr2(), read_cr3());
	kprintf("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", tf->rax, tf->rbx,
		tf->rcx, tf->rdx);
	kprintf("  rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", tf->rsi, tf->rdi,
		tf->rbp, tf->r8);
	kprintf("  r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n", tf->r9, tf->r10,
		tf->r11, tf->r12);
	kprintf("  r13 %016lx r14 %016lx r15 %016lx\n", tf->r13, tf->r14, tf->r15);
}

/* uaccess.S: a fault there returns -EFAULT from the access. */
extern const char uaccess_begin[], uaccess_end[], uaccess_fail[];

static void exception(struct trap_frame *tf)
{
	if (tf->vector == 2) {
		/* NMI: a panicking CPU stops the others this way. */
		if (panic_in_progress)
			arch_halt();
		pr_warn("NMI received, rip %lx", tf->rip);
		return;
	}
	if ((tf->cs & 3) && tf->vector != 8 && tf->vector != 18) {
		arch_user_exception(tf);
		uthread_return_check();
		return;
	}
	if ((tf->vector == VEC_PAGE_FAULT || tf->vector == 13) &&
	    tf->rip >= (uintptr_t)uaccess_begin && tf->rip < (uintptr_t)uaccess_end) {
		tf->rip = (uintptr_t)uaccess_fail;
		return;
	}
	if (tf->vector == VEC_PAGE_FAULT) {
		uint64_t cr2 = read_cr2();

		if (kstack_is_guard(cr2))
			panic_frame(tf, "kernel stack overflow (guard page at %lx hit)", cr2);
		panic_frame(tf, "page fault at %lx (%s %s%s) in kernel mode", cr2,
			    tf->error & 1 ? "protection" : "not-present",
			    tf->error & 2 ? "write" : "read",
			    tf->error & 16 ? " ifetch" : "");
	}
	if (tf->vector == 8) {
		/* A fault on a guard page cannot push its frame on the same
		 * stack, so it arrives here, on the double-fault IST stack. */
		uint64_t cr2 = read_cr2();

		if (kstack_is_guard(cr2))
			panic_frame(tf, "kernel stack overflow (guard page at %lx hit)", cr2);
		panic_frame(tf, "double fault");
	}
	panic_frame(tf, "%s in kernel mode", exc_names[tf->vector]);
}

void trap_dispatch(struct trap_frame *tf)
{
	unsigned vec = (unsigned)tf->vector;
	irq_handler_t fn;

	if (vec < 32) {
		exception(tf);
		return;
	}
	this_cpu()->irq_count++;
	fn = __atomic_load_n(&handlers[vec].fn, __ATOMIC_ACQUIRE);
	if (fn) {
		fn(tf, handlers[vec].arg);
	} else if (vec != VEC_SPURIOUS) {
		if (!unhandled_logged[vec]) {
			unhandled_logged[vec] = 1;
			pr_warn("unhandled interrupt vector %u", vec);
		}
	}
	if (vec == VEC_SPURIOUS)
		return;
	lapic_eoi();
	/* Preempt only if the interrupted code could have been interrupted,
	 * i.e. held no spinlock (see spinlock.h). */
	if ((tf->rflags & RFLAGS_IF) && this_cpu()->need_resched)
		sched_preempt();
	if (tf->cs & 3)
		uthread_return_check();
}
