/*
 * gdt.c - per-CPU GDT and TSS.
 *
 * Every CPU has its own GDT (the TSS descriptor differs) and its own TSS with
 * three IST stacks: double fault, NMI and machine check run on known-good
 * stacks even when the kernel stack overflowed into its guard page.
 * Layout of the GDT is fixed by the SYSRET conventions (user data right
 * before user code); see cpu_arch.h.
 */
#include <kernel/cpu.h>
#include <kernel/arch.h>
#include <arch/x86.h>
#include <rill/string.h>

void gdt_init_cpu(struct cpu *c);

struct gdt_ptr {
	uint16_t limit;
	uint64_t base;
} __packed;

void gdt_init_cpu(struct cpu *c)
{
	struct arch_cpu *a = &c->arch;
	uint64_t tss = (uint64_t)&a->tss;
	uint64_t limit = sizeof(a->tss) + IOBITMAP_SIZE;	/* TSS + bitmap + 0xff byte, minus 1 */
	struct gdt_ptr ptr;

	memset(&a->tss, 0, sizeof(a->tss));
	a->tss.iomap_base = sizeof(a->tss);	/* the bitmap follows the TSS */
	memset(a->iobitmap, 0xff, sizeof(a->iobitmap));	/* every port denied */
	a->io_open = false;
	for (int i = 0; i < 3; i++)
		a->tss.ist[i] = (uint64_t)&a->ist_stacks[i][IST_STACK_SIZE];

	a->gdt[0] = 0;
	a->gdt[1] = 0x00af9a000000ffff;	/* kernel code, 64-bit */
	a->gdt[2] = 0x00cf92000000ffff;	/* kernel data */
	a->gdt[3] = 0x00cff2000000ffff;	/* user data, DPL 3 */
	a->gdt[4] = 0x00affa000000ffff;	/* user code, 64-bit, DPL 3 */
	a->gdt[5] = (limit & 0xffff) | ((tss & 0xffffff) << 16) |
		    (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
		    (((tss >> 24) & 0xff) << 56);
	a->gdt[6] = tss >> 32;

	ptr.limit = sizeof(a->gdt) - 1;
	ptr.base = (uint64_t)a->gdt;
	__asm__ volatile(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"mov %2, %%ax\n\t"
		"mov %%ax, %%ds\n\t"
		"mov %%ax, %%es\n\t"
		"mov %%ax, %%ss\n\t"
		"ltr %w3\n\t"
		: : "m"(ptr), "i"((uint64_t)GDT_KCODE), "i"(GDT_KDATA), "r"(GDT_TSS)
		: "rax", "memory");
}

_Static_assert(__builtin_offsetof(struct arch_cpu, iobitmap) ==
	       __builtin_offsetof(struct arch_cpu, tss) + sizeof(struct tss),
	       "the I/O bitmap must follow the TSS");
