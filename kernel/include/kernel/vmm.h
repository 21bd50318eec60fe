/*
 * vmm.h - the kernel's page tables.
 *
 * The kernel half (PML4 slots 256-511) is built once by paging_init and
 * shared by every address space. vmm_map/vmm_unmap change 4 KiB mappings in
 * it (kernel stacks, device windows); unmapping shoots the page down on
 * every CPU before it returns.
 */
#ifndef KERNEL_VMM_H
#define KERNEL_VMM_H

#include <kernel/types.h>

#define VMM_WRITE	0x1
#define VMM_EXEC	0x2
#define VMM_UNCACHED	0x4
#define VMM_USER	0x8

void paging_init(void);
void paging_init_ap(void);	/* load the kernel tables on an AP */
paddr_t vmm_kernel_pml4(void);

/* Map one page; -EEXIST when va is mapped, -ENOMEM when a table page could
 * not be allocated, -EINVAL for a misaligned or user va. */
int vmm_map(uintptr_t va, paddr_t pa, unsigned flags);
/* Unmap one page, flush it from every TLB; returns the physical address it
 * mapped, or 0 when it was not mapped. */
paddr_t vmm_unmap(uintptr_t va);
/* Physical address va maps to; false when unmapped. */
bool vmm_translate(uintptr_t va, paddr_t *pa);

/* Map a physical range (device registers, firmware tables) into the kernel's
 * device window. Never unmapped. NULL when the window is full. */
void *vmm_map_phys(paddr_t pa, size_t len, unsigned flags);

#endif
