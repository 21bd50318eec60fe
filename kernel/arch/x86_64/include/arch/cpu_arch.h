/*
 * cpu_arch.h - the x86-64 part of each CPU's per-CPU block: its GDT, TSS and
 * the IST stacks for double fault, NMI and machine check.
 */
#ifndef ARCH_CPU_ARCH_H
#define ARCH_CPU_ARCH_H

#define GDT_KCODE	0x08
#define GDT_KDATA	0x10
#define GDT_UDATA	0x1b	/* 0x18 | RPL 3 */
#define GDT_UCODE	0x23	/* 0x20 | RPL 3 */
#define GDT_TSS		0x28
#define GDT_ENTRIES	7	/* null, kcode, kdata, udata, ucode, tss (2 slots) */

#define IST_DOUBLE_FAULT 1
#define IST_NMI		 2
#define IST_MCE		 3
#define IST_STACK_SIZE	 0x2000
#define IOBITMAP_SIZE	 8192	/* one bit per port, 0 = allowed */

#ifndef __ASSEMBLY__
#include <kernel/types.h>

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;

_Static_assert(sizeof(struct tss) == 104, "TSS layout");

struct arch_cpu {
	uint64_t gdt[GDT_ENTRIES] __aligned(16);
	struct tss tss __aligned(16);
	uint8_t iobitmap[IOBITMAP_SIZE + 1];	/* right after the TSS; last byte 0xff */
	bool io_open;			/* iobitmap holds a thread's ports */
	/* The user thread whose FPU state this CPU's registers held last
	 * (compared, never dereferenced: it may be freed). They still hold
	 * it exactly when that thread's fpu_cpu is this CPU (user.c). */
	const void *fpu_owner;
	uint8_t ist_stacks[3][IST_STACK_SIZE] __aligned(16);
};

#endif /* __ASSEMBLY__ */
#endif
