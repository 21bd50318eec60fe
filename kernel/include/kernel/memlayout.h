/*
 * memlayout.h - the kernel's virtual memory layout.
 *
 *  0x0000000000000000 +-----------------------------+
 *                     | user space (later issues)   |  128 TiB
 *  0x00007fffffffffff +-----------------------------+
 *                     | non-canonical hole          |
 *  0xffff800000000000 +-----------------------------+  PML4 slot 256
 *                     | direct map of all physical  |  phys + DIRECT_MAP_BASE
 *                     | memory (2 MiB pages, RW, NX)|  up to 64 TiB
 *  0xffffc00000000000 +-----------------------------+
 *                     | (unused)                    |
 *  0xffffff0000000000 +-----------------------------+  PML4 slot 510
 *                     | kernel stacks: each slot is |  KSTACK_SLOT bytes:
 *                     | a guard page (never mapped) |  [guard 4K][stack 16K]
 *                     | then the stack pages        |  [pad up to 32K]
 *  0xffffff8000000000 +-----------------------------+  PML4 slot 511
 *                     | (unused)                    |
 *  0xffffffff80000000 +-----------------------------+  KERNEL_VMA
 *                     | kernel image: phys + VMA    |  -mcmodel=kernel
 *                     | .text .rodata .data .bss    |  (first 1 GiB of phys
 *  0xffffffffffffffff +-----------------------------+   mapped here)
 *
 * Physical: the image is loaded at 1 MiB; the first 1 MiB is never given to
 * the page allocator (real-mode trampoline for the APs at 0x8000, BIOS data).
 * The kernel half of the PML4 (slots 256-511) is built once at boot and never
 * changes, so later address spaces can share it by copying those slots.
 */
#ifndef KERNEL_MEMLAYOUT_H
#define KERNEL_MEMLAYOUT_H

#define KERNEL_VMA		0xffffffff80000000
#define KERNEL_PHYS		0x100000
#define DIRECT_MAP_BASE		0xffff800000000000
#define DIRECT_MAP_SIZE		0x0000400000000000	/* 64 TiB */
#define KSTACK_REGION		0xffffff0000000000
#define KSTACK_REGION_SIZE	0x0000008000000000	/* 512 GiB */
#define KSTACK_SIZE		0x4000			/* 16 KiB */
#define KSTACK_SLOT		0x8000			/* guard + stack + pad */
#define AP_TRAMPOLINE_PHYS	0x8000

#ifndef __ASSEMBLY__
#include <kernel/types.h>

static inline void *phys_to_virt(paddr_t pa)
{
	return (void *)(uintptr_t)(pa + DIRECT_MAP_BASE);
}

/* Valid for direct-map and kernel-image addresses. */
static inline paddr_t virt_to_phys(const void *va)
{
	uintptr_t v = (uintptr_t)va;

	if (v >= KERNEL_VMA)
		return v - KERNEL_VMA;
	return v - DIRECT_MAP_BASE;
}
#endif

#endif
