/*
 * pmm.h - the physical page allocator.
 *
 * One buddy zone covers physical memory from 0 to the top of usable RAM;
 * only pages the firmware called available, minus the first 1 MiB, the
 * kernel image and the boot modules, are ever handed out. pmm_alloc returns
 * physical addresses; reach the memory through phys_to_virt (direct map).
 * All functions may be called from any context (irqsave spinlock inside).
 */
#ifndef KERNEL_PMM_H
#define KERNEL_PMM_H

#include <kernel/types.h>

/* Before paging_init: carve page-table pages out of low memory. */
void pmm_early_init(void);
paddr_t pmm_early_alloc(size_t bytes);	/* page-aligned, zeroed, < 1 GiB */

/* After paging_init: hand everything left to the buddy allocator. */
void pmm_init(void);
extern bool pmm_ready;		/* pmm_alloc usable */

/* 2^order contiguous pages, aligned to their size; 0 when out of memory.
 * The memory is not zeroed. */
paddr_t pmm_alloc(unsigned order);
void pmm_free(paddr_t pa, unsigned order);
/* One zeroed page, 0 when out of memory. */
paddr_t pmm_alloc_zeroed_page(void);

struct pmm_stats {
	uint64_t total_pages;	/* managed by the allocator */
	uint64_t free_pages;
	uint64_t reserved_pages;	/* kernel image, modules, early allocations */
	uint64_t alloc_calls, free_calls;
};
void pmm_get_stats(struct pmm_stats *st);
uint64_t pmm_free_pages(void);

/* A 32-bit tag per page for the page's owner (the heap records which cache
 * a slab page belongs to). pmm_free does not clear it. */
void pmm_set_tag(paddr_t pa, size_t npages, uint32_t tag);
uint32_t pmm_get_tag(paddr_t pa);	/* 0 for pages outside the zone */

/* The per-page word (as pmm_set_tag), for atomic use by the page's owner
 * (user pages keep their reference count there). */
uint32_t *pmm_page_word(paddr_t pa);
/* Does [pa, pa + len) overlap RAM the firmware called available? */
bool pmm_range_managed(paddr_t pa, uint64_t len);

/* Ranges of physical memory the direct map covers (RAM of any type). */
bool pmm_is_direct_mapped(paddr_t pa, size_t len);

/* Checks the buddy invariants under the lock (for tests). 0 when sound. */
int pmm_check(void);
/* Free blocks of each order (for tests). */
uint64_t pmm_free_blocks(unsigned order);

#endif
