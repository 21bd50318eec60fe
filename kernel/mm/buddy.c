/*
 * buddy.c - binary buddy allocator over one zone of page frames.
 *
 * The zone covers pfns [base_pfn, base_pfn + npages) and owns one struct
 * buddy_page per pfn in meta[]; meta[pfn - base_pfn] describes pfn. The
 * allocator never touches the pages themselves, only meta[].
 *
 * Page states (meta[i].flags):
 *  - BUDDY_PAGE_RESERVED: never handed to the allocator (a hole, firmware,
 *    the kernel image); buddy_add_range clears it;
 *  - BUDDY_PAGE_FREE: head of a free block of meta[i].order, linked on
 *    z->free[order] through meta[i].link;
 *  - BUDDY_PAGE_ALLOCATED: head of a block returned by buddy_alloc, whose
 *    order is meta[i].order;
 *  - 0: a managed page inside a free or allocated block, not its head.
 * Managed pages are thus tiled exactly by free and allocated blocks.
 *
 * Invariants (checked by buddy_check):
 *  - blocks are aligned absolutely: a block of order k starts at a pfn that
 *    is a multiple of 2^k, and its buddy is pfn ^ 2^k;
 *  - every page of a free block lies in the zone and is managed;
 *  - z->nfree[k] is the length of z->free[k], and z->free_pages is the sum
 *    of nfree[k] << k;
 *  - a free block never has a free buddy of the same order: buddy_free and
 *    buddy_add_range merge eagerly.
 *
 * Since only heads of allocated blocks carry BUDDY_PAGE_ALLOCATED, a free
 * of a pfn that is not such a head with the right order (double free, wrong
 * order, a pfn inside a block, a reserved page) is detected in O(1).
 *
 * Locking: none. The caller (pmm.c) serialises every call on a zone.
 */
#include <kernel/buddy.h>
#include <kernel/log.h>

static inline bool buddy_in_zone(const struct buddy_zone *z, uint64_t pfn)
{
	return pfn >= z->base_pfn && pfn - z->base_pfn < z->npages;
}

static inline struct buddy_page *buddy_meta(const struct buddy_zone *z,
					    uint64_t pfn)
{
	return &z->meta[pfn - z->base_pfn];
}

/* Put the free block [pfn, pfn + 2^order) on its free list without merging. */
static void buddy_push(struct buddy_zone *z, uint64_t pfn, unsigned order)
{
	struct buddy_page *p = buddy_meta(z, pfn);

	p->flags = BUDDY_PAGE_FREE;
	p->order = (uint8_t)order;
	list_add(&z->free[order], &p->link);
	z->nfree[order]++;
}

/* Take the free block headed by p off its free list. */
static void buddy_unlink(struct buddy_zone *z, struct buddy_page *p)
{
	list_del(&p->link);
	z->nfree[p->order]--;
	p->flags = 0;
	p->order = 0;
}

/*
 * Release the block [pfn, pfn + 2^order), merging it with its buddy for as
 * long as the buddy is a free block of the same order. The caller has
 * already cleared the head's flags and accounts free_pages.
 */
static void buddy_release(struct buddy_zone *z, uint64_t pfn, unsigned order)
{
	while (order < BUDDY_MAX_ORDER - 1) {
		uint64_t buddy = pfn ^ ((uint64_t)1 << order);
		struct buddy_page *b;

		if (!buddy_in_zone(z, buddy))
			break;
		b = buddy_meta(z, buddy);
		if (b->flags != BUDDY_PAGE_FREE || b->order != order)
			break;
		buddy_unlink(z, b);
		pfn = MIN(pfn, buddy);
		order++;
	}
	buddy_push(z, pfn, order);
}

void buddy_init(struct buddy_zone *z, uint64_t base_pfn, uint64_t npages,
		struct buddy_page *meta)
{
	uint64_t i;
	unsigned k;

	z->base_pfn = base_pfn;
	z->npages = npages;
	z->meta = meta;
	for (k = 0; k < BUDDY_MAX_ORDER; k++) {
		list_init(&z->free[k]);
		z->nfree[k] = 0;
	}
	z->free_pages = 0;
	z->managed_pages = 0;
	for (i = 0; i < npages; i++) {
		list_init(&meta[i].link);
		meta[i].order = 0;
		meta[i].flags = BUDDY_PAGE_RESERVED;
		meta[i].pad = 0;
		meta[i].user = 0;
	}
}

/* Largest order of an aligned block starting at pfn and ending by end. */
static unsigned buddy_fit_order(uint64_t pfn, uint64_t end)
{
	unsigned order = 0;

	while (order < BUDDY_MAX_ORDER - 1) {
		uint64_t size = (uint64_t)1 << (order + 1);

		if (!IS_ALIGNED(pfn, size) || end - pfn < size)
			break;
		order++;
	}
	return order;
}

void buddy_add_range(struct buddy_zone *z, uint64_t pfn, uint64_t count)
{
	uint64_t zone_end = z->base_pfn + z->npages;
	uint64_t end;

	/* Clip to the zone, without overflowing on huge counts. */
	end = count > UINT64_MAX - pfn ? UINT64_MAX : pfn + count;
	if (pfn < z->base_pfn)
		pfn = z->base_pfn;
	if (end > zone_end)
		end = zone_end;

	while (pfn < end) {
		uint64_t run_end, p;

		/* Pages already managed (a range given twice) are skipped. */
		if (!(buddy_meta(z, pfn)->flags & BUDDY_PAGE_RESERVED)) {
			pfn++;
			continue;
		}
		run_end = pfn;
		while (run_end < end &&
		       (buddy_meta(z, run_end)->flags & BUDDY_PAGE_RESERVED))
			run_end++;

		/* Cut the run of reserved pages into aligned blocks. */
		for (p = pfn; p < run_end; ) {
			unsigned order = buddy_fit_order(p, run_end);
			uint64_t size = (uint64_t)1 << order;
			uint64_t i;

			for (i = 0; i < size; i++)
				buddy_meta(z, p + i)->flags = 0;
			z->free_pages += size;
			z->managed_pages += size;
			buddy_release(z, p, order);
			p += size;
		}
		pfn = run_end;
	}
}

int64_t buddy_alloc(struct buddy_zone *z, unsigned order)
{
	struct buddy_page *p;
	uint64_t pfn;
	unsigned k;

	if (order >= BUDDY_MAX_ORDER)
		return -1;
	for (k = order; k < BUDDY_MAX_ORDER; k++)
		if (!list_empty(&z->free[k]))
			break;
	if (k == BUDDY_MAX_ORDER)
		return -1;

	p = list_first_entry(&z->free[k], struct buddy_page, link);
	pfn = z->base_pfn + (uint64_t)(p - z->meta);
	buddy_unlink(z, p);

	/* Split: keep the lower half, free the upper half at each step. */
	while (k > order) {
		k--;
		buddy_push(z, pfn + ((uint64_t)1 << k), k);
	}
	p->flags = BUDDY_PAGE_ALLOCATED;
	p->order = (uint8_t)order;
	z->free_pages -= (uint64_t)1 << order;
	return (int64_t)pfn;
}

int buddy_free(struct buddy_zone *z, uint64_t pfn, unsigned order)
{
	struct buddy_page *p;
	const char *why;

	if (order >= BUDDY_MAX_ORDER) {
		why = "bad order";
		goto bad;
	}
	if (!buddy_in_zone(z, pfn)) {
		why = "pfn outside the zone";
		goto bad;
	}
	if (!IS_ALIGNED(pfn, (uint64_t)1 << order)) {
		why = "misaligned pfn";
		goto bad;
	}
	p = buddy_meta(z, pfn);
	if (p->flags & BUDDY_PAGE_FREE) {
		why = "double free";
		goto bad;
	}
	if (p->flags != BUDDY_PAGE_ALLOCATED) {
		why = "not the head of an allocated block";
		goto bad;
	}
	if (p->order != order) {
		why = "order differs from the allocation";
		goto bad;
	}

	p->flags = 0;
	p->order = 0;
	z->free_pages += (uint64_t)1 << order;
	buddy_release(z, pfn, order);
	return 0;

bad:
	pr_warn("buddy: bad free of pfn %#llx order %u: %s",
		(unsigned long long)pfn, order, why);
	return -1;
}

uint64_t buddy_free_blocks(const struct buddy_zone *z, unsigned order)
{
	if (order >= BUDDY_MAX_ORDER)
		return 0;
	return z->nfree[order];
}

/* Check one free list; adds the pages it holds to *pages. */
static int buddy_check_list(const struct buddy_zone *z, unsigned order,
			    uint64_t *pages)
{
	const struct list_head *pos;
	uint64_t size = (uint64_t)1 << order;
	uint64_t n = 0;

	list_for_each(pos, &z->free[order]) {
		const struct buddy_page *p;
		uint64_t idx, pfn, buddy;

		/* A corrupted list must not loop forever. */
		if (++n > z->npages)
			return -1;
		if (pos->next->prev != pos || pos->prev->next != pos)
			return -1;
		p = list_entry(pos, struct buddy_page, link);
		if (p < z->meta || p >= z->meta + z->npages)
			return -1;
		idx = (uint64_t)(p - z->meta);
		pfn = z->base_pfn + idx;
		if (p->flags != BUDDY_PAGE_FREE || p->order != order)
			return -1;
		if (!IS_ALIGNED(pfn, size) || z->npages - idx < size)
			return -1;
		/* An unmerged pair of free buddies. */
		buddy = pfn ^ size;
		if (order < BUDDY_MAX_ORDER - 1 && buddy_in_zone(z, buddy) &&
		    buddy_meta(z, buddy)->flags == BUDDY_PAGE_FREE &&
		    buddy_meta(z, buddy)->order == order)
			return -1;
	}
	if (n != z->nfree[order])
		return -1;
	*pages += n << order;
	return 0;
}

int buddy_check(const struct buddy_zone *z)
{
	uint64_t pages = 0, managed = 0, heads[BUDDY_MAX_ORDER] = { 0 };
	uint64_t i;
	unsigned k;

	for (k = 0; k < BUDDY_MAX_ORDER; k++)
		if (buddy_check_list(z, k, &pages) < 0)
			return -1;
	if (pages != z->free_pages)
		return -1;

	/*
	 * Walk meta[]: managed pages are tiled by free and allocated blocks,
	 * so the walk lands only on reserved pages and block heads; the
	 * other pages of a block must be flagless.
	 */
	for (i = 0; i < z->npages; ) {
		const struct buddy_page *p = &z->meta[i];
		uint64_t size, j;

		if (p->flags == BUDDY_PAGE_RESERVED) {
			i++;
			continue;
		}
		if (p->flags != BUDDY_PAGE_FREE && p->flags != BUDDY_PAGE_ALLOCATED)
			return -1;
		if (p->order >= BUDDY_MAX_ORDER)
			return -1;
		size = (uint64_t)1 << p->order;
		if (!IS_ALIGNED(z->base_pfn + i, size) || z->npages - i < size)
			return -1;
		if (p->flags == BUDDY_PAGE_FREE)
			heads[p->order]++;
		for (j = 1; j < size; j++)
			if (z->meta[i + j].flags != 0)
				return -1;
		managed += size;
		i += size;
	}
	for (k = 0; k < BUDDY_MAX_ORDER; k++)
		if (heads[k] != z->nfree[k])
			return -1;
	if (managed != z->managed_pages)
		return -1;
	return 0;
}
