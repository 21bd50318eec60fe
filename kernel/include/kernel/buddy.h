/*
 * buddy.h - binary buddy allocator over one contiguous range of page frames.
 *
 * Portable: it knows page frame numbers (pfn) and a metadata array, never
 * touches the pages themselves, and takes no locks (pmm.c wraps it in a
 * spinlock). Blocks of 2^order pages, order 0..BUDDY_MAX_ORDER-1, are kept
 * on per-order free lists; a freed block merges with its buddy while the
 * buddy is free and of the same order.
 *
 * Alignment is absolute: a block of order k starts at a pfn that is a
 * multiple of 2^k, whatever zone->base_pfn is (the slab allocator relies on
 * blocks being aligned to their size). When base_pfn is not aligned to
 * 2^(BUDDY_MAX_ORDER-1), the pages before the first aligned boundary simply
 * form smaller blocks.
 *
 * Invariants:
 *  - a block on free list k starts at a pfn aligned to 2^k and every page in
 *    it belongs to the zone and is managed (not BUDDY_PAGE_RESERVED);
 *  - zone->free_pages == sum over k of nfree[k] << k;
 *  - a page that is the head of a free block has BUDDY_PAGE_FREE and its order;
 *  - a page that is the head of an allocated block has BUDDY_PAGE_ALLOCATED
 *    and its order; every other managed page has no flag set;
 *  - no free block has a free buddy of the same order (they would merge).
 */
#ifndef KERNEL_BUDDY_H
#define KERNEL_BUDDY_H

#include <kernel/list.h>
#include <kernel/types.h>

#define BUDDY_MAX_ORDER 11	/* largest block: 2^10 pages = 4 MiB */

#define BUDDY_PAGE_FREE     0x1	/* head of a free block */
#define BUDDY_PAGE_RESERVED 0x2	/* never handed to the allocator */
#define BUDDY_PAGE_ALLOCATED 0x4	/* head of a block from buddy_alloc */

struct buddy_page {
	struct list_head link;	/* free-list link while BUDDY_PAGE_FREE */
	uint8_t order;		/* order of the free or allocated block this
				 * page heads */
	uint8_t flags;		/* BUDDY_PAGE_* */
	uint16_t pad;
	uint32_t user;		/* free for the page's owner (slab, refcount) */
};

struct buddy_zone {
	uint64_t base_pfn;		/* first pfn of the zone */
	uint64_t npages;		/* pages covered by meta[] */
	struct buddy_page *meta;	/* npages entries */
	struct list_head free[BUDDY_MAX_ORDER];
	uint64_t nfree[BUDDY_MAX_ORDER];	/* blocks on each free list */
	uint64_t free_pages;		/* pages currently free */
	uint64_t managed_pages;		/* pages ever given by buddy_add_range */
};

/* Set up an empty zone; every page starts reserved. meta must hold npages
 * entries. */
void buddy_init(struct buddy_zone *z, uint64_t base_pfn, uint64_t npages,
		struct buddy_page *meta);

/* Hand the pages [pfn, pfn + count) to the allocator (from the memory map).
 * Pages outside the zone are ignored. */
void buddy_add_range(struct buddy_zone *z, uint64_t pfn, uint64_t count);

/* Allocate 2^order contiguous pages whose first pfn is a multiple of 2^order.
 * Returns the first pfn, or -1 when no block is large enough or order is out
 * of range. */
int64_t buddy_alloc(struct buddy_zone *z, unsigned order);

/* Free a block returned by buddy_alloc with the same order. Freeing a pfn
 * outside the zone, a misaligned pfn, a block that is already free, or a pfn
 * that does not head an allocated block of this order is a caller bug: it is
 * logged, returns -1 and changes nothing. Returns 0 on success. */
int buddy_free(struct buddy_zone *z, uint64_t pfn, unsigned order);

/* Number of free blocks of exactly this order. */
uint64_t buddy_free_blocks(const struct buddy_zone *z, unsigned order);

/* Walk every free list and check the invariants above. Returns 0 when they
 * hold, -1 otherwise (used by tests). */
int buddy_check(const struct buddy_zone *z);

#endif
