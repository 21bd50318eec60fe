/*
 * user.c - the x86-64 side of user mode: SYSCALL set-up, FPU/SSE state,
 * what a context switch changes for user threads, I/O port permission,
 * and user-mode exceptions.
 *
 * The kernel itself never touches FPU or SSE registers (-mgeneral-regs-
 * only), so a user thread's FPU state stays in the registers while it is
 * in the kernel and is saved (fxsave) only when another thread is switched
 * in. FS and GS bases live in struct uthread (user space cannot change them:
 * CR4.FSGSBASE stays off) and are loaded on every switch to a user thread.
 */
#include <kernel/budget.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/process.h>
#include <kernel/vmm.h>
#include <arch/x86.h>
#include <rill/string.h>

extern void syscall_entry(void);
extern void enter_user_first(uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t kstack_top)
	__noreturn;

static uint8_t fpu_template[512] __aligned(16);

#define CR0_MP		(1ull << 1)
#define CR0_EM		(1ull << 2)
#define CR0_TS		(1ull << 3)
#define CR0_NE		(1ull << 5)
#define CR4_OSFXSR	(1ull << 9)
#define CR4_OSXMMEXCPT	(1ull << 10)
#define CR4_SMEP	(1ull << 20)
#define CR4_SMAP	(1ull << 21)

/* SMAP is on: the kernel touches user pages only in uaccess.S (1 byte,
 * read by uaccess.S and isr.S). */
uint8_t smap_enabled;
#define EFER_SCE	(1ull << 0)

static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

void arch_user_init_cpu(void)
{
	uint32_t a, b, c, d;
	uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;

	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	cpuid(7, 0, &a, &b, &c, &d);
	if (b & (1u << 7))
		cr4 |= CR4_SMEP;	/* the kernel never executes user pages */
	if (b & (1u << 20)) {
		cr4 |= CR4_SMAP;	/* nor touches them outside uaccess.S */
		smap_enabled = 1;
	}
	write_cr4(cr4);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	/* SYSRET loads CS = base + 16, SS = base + 8 with base = 0x13. */
	wrmsr(MSR_STAR, ((uint64_t)(GDT_UDATA - 8) << 48) | ((uint64_t)GDT_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, RFLAGS_IF | (1u << 8) | (1u << 10) | (1u << 18) | (1u << 14));
}

void arch_user_init(void)
{
	arch_user_init_cpu();
	pr_info("user: SMEP %s, SMAP %s", (read_cr4() & CR4_SMEP) ? "on" : "off",
		smap_enabled ? "on" : "off");
	__asm__ volatile("fninit");
	__asm__ volatile("fxsave64 %0" : "=m"(fpu_template));
	/* MXCSR: all exceptions masked, round to nearest. */
	*(uint32_t *)(fpu_template + 24) = 0x1f80;
	__asm__ volatile("fxrstor64 %0" : : "m"(fpu_template));
}

void arch_fpu_init_state(uint8_t *fpu)
{
	memcpy(fpu, fpu_template, sizeof(fpu_template));
}

static void load_user(struct cpu *c, struct thread *t)
{
	struct uthread *u = t->u;
	struct arch_cpu *a = &c->arch;

	c->kstack_top = t->kstack_top;
	a->tss.rsp[0] = t->kstack_top;
	aspace_activate(&u->proc->as);
	wrmsr(MSR_FS_BASE, u->fs_base);
	wrmsr(MSR_KERNEL_GS_BASE, u->gs_base);
	__asm__ volatile("fxrstor64 %0" : : "m"(*(uint8_t (*)[512])u->fpu));
	if (u->iobitmap) {
		memcpy(a->iobitmap, u->iobitmap, IOBITMAP_SIZE);
		a->io_open = true;
	} else if (a->io_open) {
		memset(a->iobitmap, 0xff, IOBITMAP_SIZE);
		a->io_open = false;
	}
}

/* Called by the scheduler with interrupts off, before the stack switch. */
void arch_switch(struct thread *prev, struct thread *next)
{
	struct cpu *c = this_cpu();

	if (prev->u)
		__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t (*)[512])prev->u->fpu));
	if (next->u) {
		load_user(c, next);
	} else {
		if (read_cr3() != vmm_kernel_pml4())
			write_cr3(vmm_kernel_pml4());
		if (c->arch.io_open) {
			memset(c->arch.iobitmap, 0xff, IOBITMAP_SIZE);
			c->arch.io_open = false;
		}
	}
}

/* Enter user mode for the first time: the thread was created as a kernel
 * thread and is becoming t->u now. */
void arch_enter_user(struct trap_frame *unused)
{
	struct thread *t = thread_current();
	struct uthread *u = t->u;

	arch_irq_disable();
	load_user(this_cpu(), t);
	enter_user_first(u->entry, u->stack, u->arg, t->kstack_top);
}

int arch_ioport_enable(struct uthread *u, uint16_t base, uint32_t count)
{
	irqflags_t f;

	if (!u->iobitmap) {
		uint8_t *b;

		if (budget_charge(u->proc->budget, IOBITMAP_SIZE))
			return -ENOMEM;
		b = kmalloc(IOBITMAP_SIZE);
		if (!b) {
			budget_uncharge(u->proc->budget, IOBITMAP_SIZE);
			return -ENOMEM;
		}
		memset(b, 0xff, IOBITMAP_SIZE);
		f = arch_irq_save();
		if (!u->iobitmap) {
			u->iobitmap = b;
			b = NULL;
		}
		arch_irq_restore(f);
		if (b) {
			kfree(b);
			budget_uncharge(u->proc->budget, IOBITMAP_SIZE);
		}
	}
	for (uint32_t p = base; p < (uint32_t)base + count; p++)
		u->iobitmap[p / 8] &= (uint8_t)~(1u << (p % 8));
	/* Load it now if u is this CPU's thread. */
	f = arch_irq_save();
	if (uthread_current() == u) {
		memcpy(this_cpu()->arch.iobitmap, u->iobitmap, IOBITMAP_SIZE);
		this_cpu()->arch.io_open = true;
	}
	arch_irq_restore(f);
	return 0;
}

/* An exception in user mode. Interrupts were on in user mode, so they may
 * be turned on again here. */
void arch_user_exception(struct trap_frame *tf)
{
	struct uthread *u = uthread_current();
	uint64_t addr = 0;

	if (tf->vector == 14) {
		addr = read_cr2();
		arch_irq_enable();
		if (vm_fault(&u->proc->as, addr, (unsigned)tf->error) == 0)
			return;
	}
	arch_irq_enable();
	uthread_fault(tf, addr);
}
