/*
 * user.c - the x86-64 side of user mode: SYSCALL set-up, FPU/SSE state,
 * what a context switch changes for user threads, I/O port permission,
 * and user-mode exceptions.
 *
 * A user thread's x86 state is its struct arch_uthread (arch/user.h,
 * embedded in struct uthread as u->arch): this file never sees the
 * uthread, its process or its kernel thread, only what callers pass.
 *
 * FS and GS bases live in the arch_uthread (user space cannot change them:
 * CR4.FSGSBASE stays off) and are loaded on every switch to a user thread.
 *
 * FPU state. The kernel itself never touches x87, SSE or AVX registers
 * (-mgeneral-regs-only), so a user thread's FPU state stays in the
 * registers while it is in the kernel. With XSAVE (CR4.OSXSAVE, XCR0 =
 * x87 | SSE | AVX as CPUID offers) the state is saved with XSAVEOPT (or
 * XSAVE) and loaded with XRSTOR, in the standard (uncompacted) format, so
 * thread_fpu hands user space the area as it is; without XSAVE, FXSAVE
 * and FXRSTOR move its first 512 bytes.
 *
 *   - Switching away from a user thread whose registers are live saves
 *     them (eagerly: the thread may run next on another CPU, which must
 *     find its state in memory; XSAVEOPT skips what did not change).
 *   - Switching to a user thread loads its area unless this CPU's
 *     registers still hold it: the CPU's fpu_owner is that thread and the
 *     thread's fpu_cpu is this CPU (no other user thread's state was
 *     loaded here since, and it did not run elsewhere). A user thread that
 *     blocks while only kernel threads run (idle, say) comes back with no
 *     XRSTOR. Kernel threads neither save nor load anything.
 *   - A thread that stops for its supervisor saves its registers and
 *     marks them not live (arch_uthread_stop): until it is resumed the area
 *     is its state, which thread_fpu reads and writes, and no switch
 *     saves over it. A new thread's registers are not live either until
 *     it first enters user mode, so a switch before that cannot store
 *     another thread's registers into its area.
 */
#include <kernel/budget.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/trap.h>
#include <kernel/vm.h>
#include <kernel/vmm.h>
#include <arch/user.h>
#include <arch/x86.h>
#include <rill/string.h>

extern void syscall_entry(void);
extern void enter_user_first(uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t kstack_top)
	__noreturn;
extern void enter_user_regs(const struct rl_regs *r, uint64_t kstack_top) __noreturn;

_Static_assert(__builtin_offsetof(struct rl_regs, rip) == 120 &&
	       __builtin_offsetof(struct rl_regs, rflags) == 128 &&
	       __builtin_offsetof(struct rl_regs, rsp) == 136, "enter_user_regs offsets");

static uint8_t fpu_template[FPU_AREA_MAX] __aligned(64);
static uint64_t xcr0;		/* XSAVE features on; 0: no XSAVE (FXSAVE) */
static bool have_xsaveopt;
static uint32_t fpu_user_size;	/* bytes of the area thread_fpu moves */
static uint32_t mxcsr_mask = 0xffbf;

#define XFEATURE_X87	(1ull << 0)
#define XFEATURE_SSE	(1ull << 1)
#define XFEATURE_AVX	(1ull << 2)
/* Offsets in the standard-format area. */
#define FPU_FCW		0
#define FPU_MXCSR	24
#define FPU_MXCSR_MASK	28
#define FPU_ST		32	/* 8 x 16 bytes */
#define FPU_XMM		160	/* 16 x 16 bytes */
#define FPU_LEGACY_END	512
#define FPU_HEADER	512	/* XSTATE_BV, XCOMP_BV, 48 reserved bytes */
#define FPU_YMM_HI	576	/* 16 x 16 bytes: the upper halves of ymm0-15 */
#define FPU_MXCSR_INIT	0x1f80
#define FPU_FCW_INIT	0x37f

#define CR0_MP		(1ull << 1)
#define CR0_EM		(1ull << 2)
#define CR0_TS		(1ull << 3)
#define CR0_NE		(1ull << 5)
#define CR4_OSFXSR	(1ull << 9)
#define CR4_OSXMMEXCPT	(1ull << 10)
#define CR4_OSXSAVE	(1ull << 18)
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

static inline void xsetbv(uint32_t reg, uint64_t v)
{
	__asm__ volatile("xsetbv" : : "c"(reg), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* Interrupts off (the area and the registers must not change under us). */
static inline void fpu_save(uint8_t *area)
{
	if (!xcr0)
		__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t (*)[512])area));
	else if (have_xsaveopt)
		__asm__ volatile("xsaveopt64 %0" : "+m"(*(uint8_t (*)[FPU_AREA_MAX])area)
				 : "a"(~0u), "d"(~0u));
	else
		__asm__ volatile("xsave64 %0" : "+m"(*(uint8_t (*)[FPU_AREA_MAX])area)
				 : "a"(~0u), "d"(~0u));
}

static inline void fpu_restore(const uint8_t *area)
{
	if (xcr0)
		__asm__ volatile("xrstor64 %0" : : "m"(*(const uint8_t (*)[FPU_AREA_MAX])area),
				 "a"(~0u), "d"(~0u));
	else
		__asm__ volatile("fxrstor64 %0" : : "m"(*(const uint8_t (*)[512])area));
}

/* What the CPU offers, on every CPU alike (read once, on the boot CPU). */
static void fpu_probe(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	fpu_user_size = FPU_YMM_HI;	/* legacy area + header, even without XSAVE */
	if (!(c & (1u << 26)))
		return;			/* no XSAVE: FXSAVE */
	cpuid(0xd, 0, &a, &b, &c, &d);
	xcr0 = XFEATURE_X87 | XFEATURE_SSE;
	if ((a & XFEATURE_AVX)) {
		uint32_t sz, off, x;

		cpuid(0xd, 2, &sz, &off, &x, &x);
		if (off == FPU_YMM_HI && sz == 256) {
			xcr0 |= XFEATURE_AVX;
			fpu_user_size = FPU_YMM_HI + 256;
		}
	}
	cpuid(0xd, 1, &a, &b, &c, &d);
	have_xsaveopt = a & 1;
}

void arch_user_init_cpu(void)
{
	uint32_t a, b, c, d;
	uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;

	if (!fpu_user_size)
		fpu_probe();
	if (xcr0)
		cr4 |= CR4_OSXSAVE;
	write_cr0((read_cr0() & ~(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE);
	cpuid(7, 0, &a, &b, &c, &d);
	if (b & (1u << 7))
		cr4 |= CR4_SMEP;	/* the kernel never executes user pages */
	if (b & (1u << 20)) {
		cr4 |= CR4_SMAP;	/* nor touches them outside uaccess.S */
		smap_enabled = 1;
	}
	write_cr4(cr4);
	if (xcr0)
		xsetbv(0, xcr0);
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
	/* The state every new thread starts with, the one FNINIT and a
	 * reset give: FCW 0x37f, all registers empty and zero, MXCSR 0x1f80
	 * (exceptions masked, round to nearest), upper halves zero; each
	 * component marked present. MXCSR_MASK from the CPU's own FXSAVE. */
	__asm__ volatile("fninit");
	__asm__ volatile("fxsave64 %0" : "=m"(*(uint8_t (*)[512])fpu_template));
	if (*(uint32_t *)(fpu_template + FPU_MXCSR_MASK))
		mxcsr_mask = *(uint32_t *)(fpu_template + FPU_MXCSR_MASK);
	memset(fpu_template, 0, sizeof(fpu_template));
	*(uint16_t *)(fpu_template + FPU_FCW) = FPU_FCW_INIT;
	*(uint32_t *)(fpu_template + FPU_MXCSR) = FPU_MXCSR_INIT;
	*(uint32_t *)(fpu_template + FPU_MXCSR_MASK) = mxcsr_mask;
	*(uint64_t *)(fpu_template + FPU_HEADER) = xcr0;
	fpu_restore(fpu_template);
	pr_info("user: FPU state %s, XCR0 %lx, %u bytes%s", xcr0 ? "XSAVE" : "FXSAVE", xcr0,
		fpu_user_size, have_xsaveopt ? ", XSAVEOPT" : "");
}

void arch_uthread_init(struct arch_uthread *au, struct aspace *as)
{
	memcpy(au->fpu, fpu_template, sizeof(fpu_template));
	au->fpu_cpu = -1;
	au->as = as;
}

void arch_uthread_release(struct arch_uthread *au, struct budget *b)
{
	if (au->iobitmap) {
		kfree(au->iobitmap);
		budget_uncharge(b, IOBITMAP_SIZE);	/* arch_ioport_enable's */
		au->iobitmap = NULL;
	}
}

uint32_t arch_fpu_size(void)
{
	return fpu_user_size;
}

/* Registers of CPU c hold au's state. */
static inline bool fpu_held(const struct cpu *c, const struct arch_uthread *au)
{
	return c->arch.fpu_owner == au && au->fpu_cpu == (int32_t)c->id;
}

static inline void fpu_load(struct cpu *c, struct arch_uthread *au)
{
	if (!fpu_held(c, au)) {
		fpu_restore(au->fpu);
		c->arch.fpu_owner = au;
		au->fpu_cpu = (int32_t)c->id;
	}
	au->fpu_loaded = true;
}

void arch_uthread_stop_irqoff(struct arch_uthread *au)
{
	if (au->fpu_loaded) {
		fpu_save(au->fpu);
		au->fpu_loaded = false;
	}
}

/*
 * thread_regs or thread_set_base may have changed the FS/GS bases while
 * the thread was stopped. They are loaded on a switch to this thread, but
 * a resume that came before the thread's wait blocked involves no
 * switch: load them here.
 */
void arch_uthread_resume(struct arch_uthread *au)
{
	irqflags_t f = arch_irq_save();

	if (READ_ONCE(au->bases_changed)) {
		au->bases_changed = false;
		wrmsr(MSR_FS_BASE, au->fs_base);
		wrmsr(MSR_KERNEL_GS_BASE, au->gs_base);
	}
	fpu_load(this_cpu(), au);
	arch_irq_restore(f);
}

/*
 * A component whose XSTATE_BV bit is clear is in its initial state, and
 * XSAVE may have left stale bytes in its part of the area: user space
 * always sees every component written out, with every bit set.
 */
static void fpu_fill_init(uint8_t *a)
{
	uint64_t bv = *(uint64_t *)(a + FPU_HEADER);

	if (!(bv & XFEATURE_X87)) {
		memset(a, 0, FPU_MXCSR);		/* FCW .. FDP */
		*(uint16_t *)(a + FPU_FCW) = FPU_FCW_INIT;
		memset(a + FPU_ST, 0, FPU_XMM - FPU_ST);
	}
	if (!(bv & XFEATURE_SSE))
		memset(a + FPU_XMM, 0, 256);
	if ((xcr0 & XFEATURE_AVX) && !(bv & XFEATURE_AVX))
		memset(a + FPU_YMM_HI, 0, 256);
	memset(a + FPU_XMM + 256, 0, FPU_LEGACY_END - FPU_XMM - 256);	/* reserved */
	*(uint32_t *)(a + FPU_MXCSR_MASK) = mxcsr_mask;
	memset(a + FPU_HEADER, 0, 64);
	*(uint64_t *)(a + FPU_HEADER) = xcr0 ? xcr0 : XFEATURE_X87 | XFEATURE_SSE;
}

void arch_fpu_export(const struct arch_uthread *au, uint8_t *out)
{
	memcpy(out, au->fpu, fpu_user_size);
	if (!xcr0)	/* FXSAVE wrote no header */
		*(uint64_t *)(out + FPU_HEADER) = XFEATURE_X87 | XFEATURE_SSE;
	fpu_fill_init(out);
}

/*
 * XRSTOR of the standard format raises #GP when XSTATE_BV has a bit XCR0
 * lacks, when any header byte after it is not zero (XCOMP_BV included),
 * or when MXCSR sets a reserved bit (FXRSTOR: the last one only); the
 * area's alignment is the kernel's own. Those are refused, so loading
 * what a supervisor gave cannot fault in the kernel.
 */
int arch_fpu_import(uint8_t *buf)
{
	uint64_t bv = *(uint64_t *)(buf + FPU_HEADER);
	uint64_t allowed = xcr0 ? xcr0 : XFEATURE_X87 | XFEATURE_SSE;

	if (bv & ~allowed)
		return -EINVAL;
	for (unsigned i = FPU_HEADER + 8; i < FPU_HEADER + 64; i++)
		if (buf[i])
			return -EINVAL;
	if (*(uint32_t *)(buf + FPU_MXCSR) & ~mxcsr_mask)
		return -EINVAL;
	fpu_fill_init(buf);
	return 0;
}

void arch_fpu_store(struct arch_uthread *au, const uint8_t *buf)
{
	memcpy(au->fpu, buf, fpu_user_size);
	au->fpu_cpu = -1;	/* no CPU's registers hold it now */
}

static void load_user(struct cpu *c, struct arch_uthread *au)
{
	struct arch_cpu *a = &c->arch;

	c->kstack_top = au->kstack_top;
	a->tss.rsp[0] = au->kstack_top;
	aspace_activate(au->as);
	wrmsr(MSR_FS_BASE, au->fs_base);
	wrmsr(MSR_KERNEL_GS_BASE, au->gs_base);
	if (au->fpu_loaded)
		fpu_load(c, au);
	if (au->iobitmap) {
		memcpy(a->iobitmap, au->iobitmap, IOBITMAP_SIZE);
		a->io_open = true;
	} else if (a->io_open) {
		memset(a->iobitmap, 0xff, IOBITMAP_SIZE);
		a->io_open = false;
	}
}

/* Called by the scheduler with interrupts off, before the stack switch. */
void arch_switch(struct arch_uthread *prev, struct arch_uthread *next)
{
	struct cpu *c = this_cpu();

	if (prev && prev->fpu_loaded)
		fpu_save(prev->fpu);
	if (next) {
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

/* Enter user mode for the first time: the current thread was created as
 * a kernel thread and has been a user thread (au) since uthread_entry. */
static void enter_prepare(struct arch_uthread *au)
{
	arch_irq_disable();
	load_user(this_cpu(), au);
	fpu_load(this_cpu(), au);
}

void arch_enter_user(struct arch_uthread *au, uint64_t entry, uint64_t stack, uint64_t arg)
{
	enter_prepare(au);
	enter_user_first(entry, stack, arg, au->kstack_top);
}

void arch_enter_user_regs(struct arch_uthread *au, const struct rl_regs *regs)
{
	enter_prepare(au);
	enter_user_regs(regs, au->kstack_top);
}

int arch_ioport_enable(struct arch_uthread *au, struct budget *budget, uint16_t base,
		       uint32_t count)
{
	irqflags_t f;

	if (!au->iobitmap) {
		uint8_t *b;

		if (budget_charge(budget, IOBITMAP_SIZE))
			return -ENOMEM;
		b = kmalloc(IOBITMAP_SIZE);
		if (!b) {
			budget_uncharge(budget, IOBITMAP_SIZE);
			return -ENOMEM;
		}
		memset(b, 0xff, IOBITMAP_SIZE);
		f = arch_irq_save();
		if (!au->iobitmap) {
			au->iobitmap = b;
			b = NULL;
		}
		arch_irq_restore(f);
		if (b) {
			kfree(b);
			budget_uncharge(budget, IOBITMAP_SIZE);
		}
	}
	for (uint32_t p = base; p < (uint32_t)base + count; p++)
		au->iobitmap[p / 8] &= (uint8_t)~(1u << (p % 8));
	/* Load it now if au is this CPU's thread. */
	f = arch_irq_save();
	if (arch_uthread_current() == au) {
		memcpy(this_cpu()->arch.iobitmap, au->iobitmap, IOBITMAP_SIZE);
		this_cpu()->arch.io_open = true;
	}
	arch_irq_restore(f);
	return 0;
}

/* An exception in user mode. Interrupts were on in user mode, so they may
 * be turned on again here. */
void arch_user_exception(struct trap_frame *tf)
{
	uint64_t addr = 0;

	if (tf->vector == 14) {
		addr = read_cr2();
		arch_irq_enable();
		if (vm_fault(arch_uthread_current()->as, addr, (unsigned)tf->error) == 0)
			return;
	}
	arch_irq_enable();
	uthread_fault(tf, addr);
}
