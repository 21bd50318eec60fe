/*
 * test_buddy.c - host unit tests for the buddy allocator (kernel/mm/buddy.c).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/buddy.h>
#include "support.h"

/* xorshift64*: small, seeded, reproducible. */
static void shuffle(int64_t *a, size_t n)
{
	size_t i;

	for (i = n; i > 1; i--) {
		size_t j = rng_below(i);
		int64_t t = a[i - 1];

		a[i - 1] = a[j];
		a[j] = t;
	}
}

struct range {
	uint64_t pfn, count;
};

struct zone_fixture {
	struct buddy_zone z;
	struct buddy_page *meta;
};

static void zone_setup(struct zone_fixture *f, uint64_t base, uint64_t npages,
		       const struct range *r, size_t nr)
{
	size_t i;

	f->meta = calloc(npages ? npages : 1, sizeof(*f->meta));
	ck_assert_ptr_nonnull(f->meta);
	buddy_init(&f->z, base, npages, f->meta);
	for (i = 0; i < nr; i++)
		buddy_add_range(&f->z, r[i].pfn, r[i].count);
	ck_assert_int_eq(buddy_check(&f->z), 0);
}

static void zone_teardown(struct zone_fixture *f)
{
	free(f->meta);
	f->meta = NULL;
}

static void snapshot_nfree(const struct buddy_zone *z, uint64_t *out)
{
	unsigned k;

	for (k = 0; k < BUDDY_MAX_ORDER; k++)
		out[k] = buddy_free_blocks(z, k);
}

static void assert_same_nfree(const struct buddy_zone *z, const uint64_t *want)
{
	unsigned k;

	for (k = 0; k < BUDDY_MAX_ORDER; k++)
		ck_assert_msg(buddy_free_blocks(z, k) == want[k],
			      "order %u: %llu free blocks, want %llu", k,
			      (unsigned long long)buddy_free_blocks(z, k),
			      (unsigned long long)want[k]);
}

/* Count pages of [pfn, pfn+count) that fall in any of the ranges (no overlap
 * between ranges assumed) and in the zone. */
static bool pfn_in_ranges(uint64_t pfn, const struct range *r, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (pfn >= r[i].pfn && pfn - r[i].pfn < r[i].count)
			return true;
	return false;
}

START_TEST(test_init_empty)
{
	struct zone_fixture f;
	unsigned k;

	zone_setup(&f, 0x100, 512, NULL, 0);
	ck_assert_uint_eq(f.z.free_pages, 0);
	ck_assert_uint_eq(f.z.managed_pages, 0);
	for (k = 0; k < BUDDY_MAX_ORDER; k++) {
		ck_assert_uint_eq(buddy_free_blocks(&f.z, k), 0);
		ck_assert_int_eq(buddy_alloc(&f.z, k), -1);
	}
	ck_assert_uint_eq(f.meta[0].flags, BUDDY_PAGE_RESERVED);
	ck_assert_uint_eq(f.meta[511].flags, BUDDY_PAGE_RESERVED);
	/* Freeing a reserved page is a caller bug. */
	ck_assert_int_eq(buddy_free(&f.z, 0x100, 0), -1);
	ck_assert_int_eq(buddy_check(&f.z), 0);
	zone_teardown(&f);
}
END_TEST

START_TEST(test_aligned_zone_full)
{
	/* 4096 pages at an aligned base: exactly four max-order blocks. */
	struct range r = { 0x4000, 4096 };
	struct zone_fixture f;
	unsigned k;

	zone_setup(&f, 0x4000, 4096, &r, 1);
	ck_assert_uint_eq(f.z.free_pages, 4096);
	ck_assert_uint_eq(f.z.managed_pages, 4096);
	for (k = 0; k < BUDDY_MAX_ORDER - 1; k++)
		ck_assert_uint_eq(buddy_free_blocks(&f.z, k), 0);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, BUDDY_MAX_ORDER - 1), 4);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, BUDDY_MAX_ORDER), 0);

	/* An order-0 allocation splits one top block all the way down. */
	ck_assert_int_ge(buddy_alloc(&f.z, 0), 0x4000);
	for (k = 0; k < BUDDY_MAX_ORDER - 1; k++)
		ck_assert_uint_eq(buddy_free_blocks(&f.z, k), 1);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, BUDDY_MAX_ORDER - 1), 3);
	ck_assert_uint_eq(f.z.free_pages, 4095);
	ck_assert_int_eq(buddy_check(&f.z), 0);
	zone_teardown(&f);
}
END_TEST

START_TEST(test_add_ranges_holes)
{
	/* Unaligned starts and ends, holes, a range sticking out of each end
	 * of the zone, and one range given twice. */
	static const struct range r[] = {
		{ 0x0ff0, 0x30 },	/* starts before the zone */
		{ 0x1203, 0x1fd },	/* odd start, ends at 0x1400 */
		{ 0x1401, 0x3 },	/* tiny, odd */
		{ 0x1777, 0x999 },	/* odd start and end */
		{ 0x2ff5, 0x100 },	/* ends past the zone */
	};
	const uint64_t base = 0x1000, npages = 0x2000;
	struct zone_fixture f;
	uint64_t expect = 0, pfn, n;
	int64_t got;
	size_t i;

	zone_setup(&f, base, npages, r, ARRAY_SIZE(r));
	for (pfn = base; pfn < base + npages; pfn++)
		expect += pfn_in_ranges(pfn, r, ARRAY_SIZE(r));
	ck_assert_uint_eq(expect, 0x20 + 0x1fd + 0x3 + 0x999 + 0xb);
	ck_assert_uint_eq(f.z.free_pages, expect);
	ck_assert_uint_eq(f.z.managed_pages, expect);

	/* Adding an overlapping range again changes nothing. */
	buddy_add_range(&f.z, 0x1200, 0x200);
	ck_assert_uint_eq(f.z.free_pages, expect + 3);	/* 0x1200..0x1202 are new */
	ck_assert_uint_eq(f.z.managed_pages, expect + 3);
	ck_assert_int_eq(buddy_check(&f.z), 0);
	expect += 3;

	/* Ranges entirely outside the zone and empty ranges are ignored,
	 * and a huge count does not overflow. */
	buddy_add_range(&f.z, 0, 0x1000);
	buddy_add_range(&f.z, base + npages, 100);
	buddy_add_range(&f.z, 0x1800, 0);
	buddy_add_range(&f.z, UINT64_MAX - 5, UINT64_MAX);
	ck_assert_uint_eq(f.z.free_pages, expect);
	ck_assert_int_eq(buddy_check(&f.z), 0);

	/* Every page handed out lies in an added range; nothing else is. */
	for (n = 0; (got = buddy_alloc(&f.z, 0)) >= 0; n++) {
		ck_assert(pfn_in_ranges((uint64_t)got, r, ARRAY_SIZE(r)) ||
			  ((uint64_t)got >= 0x1200 && (uint64_t)got < 0x1203));
		ck_assert_uint_eq(f.meta[got - base].flags, BUDDY_PAGE_ALLOCATED);
	}
	ck_assert_uint_eq(n, expect);
	ck_assert_uint_eq(f.z.free_pages, 0);
	for (i = 0; i < BUDDY_MAX_ORDER; i++)
		ck_assert_uint_eq(buddy_free_blocks(&f.z, i), 0);
	ck_assert_int_eq(buddy_check(&f.z), 0);
	zone_teardown(&f);
}
END_TEST

/* Allocate every page at order 0, free them all in random order, and compare
 * with a fresh zone built from the same ranges. */
static void exhaust_and_refill(uint64_t base, uint64_t npages,
			       const struct range *r, size_t nr, uint64_t seed)
{
	struct zone_fixture f, fresh;
	uint64_t want[BUDDY_MAX_ORDER];
	uint64_t start, n = 0, i;
	int64_t *pfns, got;

	zone_setup(&fresh, base, npages, r, nr);
	snapshot_nfree(&fresh.z, want);
	zone_setup(&f, base, npages, r, nr);
	start = f.z.free_pages;
	ck_assert_uint_gt(start, 0);

	pfns = malloc(start * sizeof(*pfns));
	ck_assert_ptr_nonnull(pfns);
	while ((got = buddy_alloc(&f.z, 0)) >= 0) {
		ck_assert_uint_lt(n, start);
		ck_assert_uint_ge((uint64_t)got, base);
		ck_assert_uint_lt((uint64_t)got, base + npages);
		pfns[n++] = got;
	}
	ck_assert_uint_eq(n, start);
	ck_assert_uint_eq(f.z.free_pages, 0);
	ck_assert_int_eq(buddy_check(&f.z), 0);

	/* No pfn handed out twice. */
	{
		uint8_t *seen = calloc(npages, 1);

		ck_assert_ptr_nonnull(seen);
		for (i = 0; i < n; i++) {
			if (seen[pfns[i] - base])
				break;
			seen[pfns[i] - base] = 1;
		}
		ck_assert_uint_eq(i, n);
		free(seen);
	}

	rng_seed(seed);
	shuffle(pfns, n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(buddy_free(&f.z, (uint64_t)pfns[i], 0), 0);
		if ((i & 63) == 0)
			ck_assert_int_eq(buddy_check(&f.z), 0);
	}
	ck_assert_uint_eq(f.z.free_pages, start);
	ck_assert_int_eq(buddy_check(&f.z), 0);
	assert_same_nfree(&f.z, want);

	free(pfns);
	zone_teardown(&f);
	zone_teardown(&fresh);
}

START_TEST(test_exhaust_order0_aligned)
{
	struct range r = { 0x8000, 4096 };

	exhaust_and_refill(0x8000, 4096, &r, 1, 1);
}
END_TEST

START_TEST(test_exhaust_order0_holes)
{
	static const struct range r[] = {
		{ 0x10001, 0x3ff },
		{ 0x10500, 0x123 },
		{ 0x10a0f, 0x5f1 },
	};

	exhaust_and_refill(0x10000, 0x1000, r, ARRAY_SIZE(r), 2);
}
END_TEST

START_TEST(test_exhaust_order0_unaligned_base)
{
	/* base not aligned to 2^(BUDDY_MAX_ORDER-1), odd size. */
	struct range r = { 0x20123, 0xa57 };

	exhaust_and_refill(0x20123, 0xa57, &r, 1, 3);
}
END_TEST

START_TEST(test_unaligned_base)
{
	const uint64_t base = 0x3000 + 0x155, npages = 3000;
	struct range r = { base, npages };
	struct zone_fixture f;
	uint64_t expect_top, first_top, p;
	unsigned k;

	zone_setup(&f, base, npages, &r, 1);
	ck_assert_uint_eq(f.z.free_pages, npages);

	/* Blocks are aligned absolutely: the pages before the first 1024-page
	 * boundary are split into smaller blocks. */
	first_top = ALIGN_UP(base, (uint64_t)1 << (BUDDY_MAX_ORDER - 1));
	expect_top = (base + npages - first_top) >> (BUDDY_MAX_ORDER - 1);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, BUDDY_MAX_ORDER - 1), expect_top);

	/* The blocks before first_top decompose the gap base..first_top
	 * exactly: one block per set bit of its length... */
	for (k = 0; k < BUDDY_MAX_ORDER - 1; k++) {
		uint64_t gap = first_top - base;
		uint64_t tail = (base + npages) -
			(first_top + (expect_top << (BUDDY_MAX_ORDER - 1)));
		uint64_t want = ((gap >> k) & 1) + ((tail >> k) & 1);

		ck_assert_msg(buddy_free_blocks(&f.z, k) == want,
			      "order %u: %llu blocks want %llu", k,
			      (unsigned long long)buddy_free_blocks(&f.z, k),
			      (unsigned long long)want);
	}

	/* Every order-k allocation is aligned to 2^k absolutely and lies in
	 * the zone. */
	for (k = 0; k < BUDDY_MAX_ORDER; k++) {
		int64_t got = buddy_alloc(&f.z, k);

		ck_assert_int_ge(got, 0);
		ck_assert_uint_eq((uint64_t)got & (((uint64_t)1 << k) - 1), 0);
		ck_assert_uint_ge((uint64_t)got, base);
		ck_assert_uint_le((uint64_t)got + ((uint64_t)1 << k), base + npages);
		ck_assert_int_eq(buddy_check(&f.z), 0);
		ck_assert_int_eq(buddy_free(&f.z, (uint64_t)got, k), 0);
		ck_assert_int_eq(buddy_check(&f.z), 0);
	}
	ck_assert_uint_eq(f.z.free_pages, npages);
	p = first_top;
	ck_assert_uint_eq(f.meta[p - base].flags, BUDDY_PAGE_FREE);
	ck_assert_uint_eq(f.meta[p - base].order, BUDDY_MAX_ORDER - 1);
	zone_teardown(&f);
}
END_TEST

START_TEST(test_alignment_all_orders)
{
	struct range r = { 0x40000, 8192 };
	struct zone_fixture f;
	unsigned k, i;

	zone_setup(&f, 0x40000, 8192, &r, 1);
	for (k = 0; k < BUDDY_MAX_ORDER; k++) {
		for (i = 0; i < 3; i++) {
			int64_t got = buddy_alloc(&f.z, k);

			ck_assert_int_ge(got, 0x40000);
			ck_assert_msg(((uint64_t)got & (((uint64_t)1 << k) - 1)) == 0,
				      "order %u block at %#llx", k,
				      (unsigned long long)got);
			ck_assert_uint_eq(f.meta[got - 0x40000].flags,
					  BUDDY_PAGE_ALLOCATED);
			ck_assert_uint_eq(f.meta[got - 0x40000].order, k);
		}
		ck_assert_int_eq(buddy_check(&f.z), 0);
	}
	zone_teardown(&f);
}
END_TEST

START_TEST(test_order_out_of_range)
{
	struct range r = { 0, 4096 };
	struct zone_fixture f;
	int64_t got;

	zone_setup(&f, 0, 4096, &r, 1);
	ck_assert_int_eq(buddy_alloc(&f.z, BUDDY_MAX_ORDER), -1);
	ck_assert_int_eq(buddy_alloc(&f.z, BUDDY_MAX_ORDER + 7), -1);
	ck_assert_int_eq(buddy_alloc(&f.z, ~0u), -1);
	ck_assert_uint_eq(f.z.free_pages, 4096);
	ck_assert_int_eq(buddy_free(&f.z, 0, BUDDY_MAX_ORDER), -1);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, BUDDY_MAX_ORDER), 0);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, ~0u), 0);
	/* The largest legal order works. */
	got = buddy_alloc(&f.z, BUDDY_MAX_ORDER - 1);
	ck_assert_int_ge(got, 0);
	ck_assert_int_eq(buddy_free(&f.z, (uint64_t)got, BUDDY_MAX_ORDER - 1), 0);
	ck_assert_uint_eq(f.z.free_pages, 4096);
	ck_assert_int_eq(buddy_check(&f.z), 0);
	zone_teardown(&f);
}
END_TEST

START_TEST(test_exhaustion_large_order)
{
	struct range r = { 0x1000, 0x1000 };
	struct zone_fixture f;
	int64_t a[4];
	int i;

	zone_setup(&f, 0x1000, 0x1000, &r, 1);
	for (i = 0; i < 4; i++) {
		a[i] = buddy_alloc(&f.z, BUDDY_MAX_ORDER - 1);
		ck_assert_int_ge(a[i], 0);
	}
	ck_assert_int_eq(buddy_alloc(&f.z, BUDDY_MAX_ORDER - 1), -1);
	ck_assert_int_eq(buddy_alloc(&f.z, 0), -1);
	ck_assert_uint_eq(f.z.free_pages, 0);
	/* Free one, then a smaller request splits it. */
	ck_assert_int_eq(buddy_free(&f.z, (uint64_t)a[2], BUDDY_MAX_ORDER - 1), 0);
	ck_assert_int_eq(buddy_alloc(&f.z, 3), a[2]);
	ck_assert_int_eq(buddy_alloc(&f.z, BUDDY_MAX_ORDER - 1), -1);
	ck_assert_uint_eq(f.z.free_pages, 1024 - 8);
	ck_assert_int_eq(buddy_check(&f.z), 0);
	zone_teardown(&f);
}
END_TEST

/* Snapshot of everything a rejected free must leave untouched. */
struct zone_state {
	uint64_t nfree[BUDDY_MAX_ORDER];
	uint64_t free_pages, managed_pages;
	struct buddy_page *meta_copy;
};

static void state_save(const struct zone_fixture *f, struct zone_state *s)
{
	snapshot_nfree(&f->z, s->nfree);
	s->free_pages = f->z.free_pages;
	s->managed_pages = f->z.managed_pages;
	s->meta_copy = malloc(f->z.npages * sizeof(*s->meta_copy));
	ck_assert_ptr_nonnull(s->meta_copy);
	memcpy(s->meta_copy, f->meta, f->z.npages * sizeof(*s->meta_copy));
}

static void state_assert_same(const struct zone_fixture *f, struct zone_state *s)
{
	assert_same_nfree(&f->z, s->nfree);
	ck_assert_uint_eq(f->z.free_pages, s->free_pages);
	ck_assert_uint_eq(f->z.managed_pages, s->managed_pages);
	ck_assert_int_eq(memcmp(s->meta_copy, f->meta,
				f->z.npages * sizeof(*s->meta_copy)), 0);
	free(s->meta_copy);
	s->meta_copy = NULL;
	ck_assert_int_eq(buddy_check(&f->z), 0);
}

static void assert_bad_free(struct zone_fixture *f, uint64_t pfn, unsigned order)
{
	struct zone_state s;

	state_save(f, &s);
	host_log_reset();
	ck_assert_msg(buddy_free(&f->z, pfn, order) == -1,
		      "free of %#llx order %u accepted",
		      (unsigned long long)pfn, order);
	ck_assert_int_eq(host_log_count, 1);
	ck_assert_ptr_nonnull(strstr(host_last_log, "buddy"));
	state_assert_same(f, &s);
}

START_TEST(test_bad_frees)
{
	const uint64_t base = 0x5000;
	struct range r[] = { { base, 0x800 }, { base + 0xa00, 0x200 } };
	struct zone_fixture f;
	int64_t a, b, c;

	zone_setup(&f, base, 0xc00, r, 2);
	a = buddy_alloc(&f.z, 2);
	b = buddy_alloc(&f.z, 0);
	c = buddy_alloc(&f.z, 5);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_ge(c, 0);

	/* Out of the zone, on both sides and far away. */
	assert_bad_free(&f, base - 1, 0);
	assert_bad_free(&f, base - 4, 2);
	assert_bad_free(&f, base + 0xc00, 0);
	assert_bad_free(&f, UINT64_MAX, 0);
	assert_bad_free(&f, 0, 0);
	/* Misaligned for the order. */
	assert_bad_free(&f, (uint64_t)a + 1, 2);
	assert_bad_free(&f, (uint64_t)c + 8, 5);
	/* Wrong order for an allocated block. */
	assert_bad_free(&f, (uint64_t)a, 1);
	assert_bad_free(&f, (uint64_t)a, 3);
	assert_bad_free(&f, (uint64_t)c, 4);
	/* A pfn inside an allocated block, aligned for the order asked. */
	assert_bad_free(&f, (uint64_t)c + 4, 2);
	assert_bad_free(&f, (uint64_t)a + 1, 0);
	/* Never-allocated pages: free block heads, pages inside free blocks,
	 * reserved pages (the hole). */
	assert_bad_free(&f, base + 0x400, BUDDY_MAX_ORDER - 1);
	assert_bad_free(&f, base + 0x401, 0);
	assert_bad_free(&f, base + 0x900, 0);
	assert_bad_free(&f, base + 0x800, 8);

	/* Double free: right after, and after the block merged away. */
	ck_assert_int_eq(buddy_free(&f.z, (uint64_t)b, 0), 0);
	assert_bad_free(&f, (uint64_t)b, 0);
	ck_assert_int_eq(buddy_free(&f.z, (uint64_t)a, 2), 0);
	ck_assert_int_eq(buddy_free(&f.z, (uint64_t)c, 5), 0);
	assert_bad_free(&f, (uint64_t)a, 2);
	assert_bad_free(&f, (uint64_t)c, 5);
	assert_bad_free(&f, (uint64_t)b, 0);

	ck_assert_uint_eq(f.z.free_pages, 0xa00);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, BUDDY_MAX_ORDER - 1), 2);
	ck_assert_uint_eq(buddy_free_blocks(&f.z, BUDDY_MAX_ORDER - 2), 1);
	zone_teardown(&f);
}
END_TEST

START_TEST(test_check_detects_corruption)
{
	struct range r = { 0, 2048 };
	struct zone_fixture f;
	struct buddy_page saved;
	int64_t a, other;

	zone_setup(&f, 0, 2048, &r, 1);
	a = buddy_alloc(&f.z, 0);
	ck_assert_int_ge(a, 0);
	/* The untouched max-order block. */
	other = a < 1024 ? 1024 : 0;
	ck_assert_int_eq(buddy_check(&f.z), 0);

	f.z.free_pages++;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	f.z.free_pages--;

	f.z.nfree[3]++;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	f.z.nfree[3]--;

	/* A stray flag inside a free block. */
	saved = f.meta[other + 1];
	f.meta[other + 1].flags = BUDDY_PAGE_ALLOCATED;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	f.meta[other + 1] = saved;

	/* A free head with the wrong order. */
	f.meta[other].order--;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	f.meta[other].order++;

	/* An allocated head whose order shrank leaves a page in no block. */
	ck_assert_int_eq(buddy_free(&f.z, (uint64_t)a, 0), 0);
	a = buddy_alloc(&f.z, 1);
	ck_assert_int_ge(a, 0);
	f.meta[a].order = 0;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	f.meta[a].order = 1;
	ck_assert_int_eq(buddy_check(&f.z), 0);

	/* Two free buddies left unmerged: put both halves of a on free list
	 * 0 by hand, with consistent counts. */
	f.meta[a].flags = BUDDY_PAGE_FREE;
	f.meta[a].order = 0;
	f.meta[a + 1].flags = BUDDY_PAGE_FREE;
	list_add(&f.z.free[0], &f.meta[a].link);
	list_add(&f.z.free[0], &f.meta[a + 1].link);
	f.z.nfree[0] += 2;
	f.z.free_pages += 2;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	list_del(&f.meta[a].link);
	list_del(&f.meta[a + 1].link);
	f.z.nfree[0] -= 2;
	f.z.free_pages -= 2;
	f.meta[a].flags = BUDDY_PAGE_ALLOCATED;
	f.meta[a].order = 1;
	f.meta[a + 1].flags = 0;
	ck_assert_int_eq(buddy_check(&f.z), 0);
	ck_assert_int_eq(buddy_free(&f.z, (uint64_t)a, 1), 0);
	a = buddy_alloc(&f.z, 0);

	/* The allocated page loses its head flag. */
	f.meta[a].flags = 0;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	f.meta[a].flags = BUDDY_PAGE_ALLOCATED;

	f.z.managed_pages--;
	ck_assert_int_eq(buddy_check(&f.z), -1);
	f.z.managed_pages++;

	ck_assert_int_eq(buddy_check(&f.z), 0);
	zone_teardown(&f);
}
END_TEST

/* Mixed-order churn checked against a page-ownership map. */
struct live_block {
	uint64_t pfn;
	unsigned order;
};

static void churn(uint64_t base, uint64_t npages, const struct range *r,
		  size_t nr, uint64_t seed, int steps)
{
	struct zone_fixture f, fresh;
	uint64_t want[BUDDY_MAX_ORDER], start, used = 0;
	struct live_block *live;
	size_t nlive = 0, cap = npages;
	uint8_t *owned;
	int step;

	zone_setup(&fresh, base, npages, r, nr);
	snapshot_nfree(&fresh.z, want);
	zone_setup(&f, base, npages, r, nr);
	start = f.z.free_pages;
	live = malloc(cap * sizeof(*live));
	owned = calloc(npages, 1);
	ck_assert_ptr_nonnull(live);
	ck_assert_ptr_nonnull(owned);
	rng_seed(seed);

	for (step = 0; step < steps; step++) {
		bool do_alloc = nlive == 0 || rng_below(100) < 55;

		if (do_alloc) {
			/* Small orders are common, large ones rare. */
			unsigned order = (unsigned)rng_below(BUDDY_MAX_ORDER);
			uint64_t i, size;
			int64_t got;

			if (rng_below(4))
				order = (unsigned)rng_below(4);
			size = (uint64_t)1 << order;
			got = buddy_alloc(&f.z, order);
			if (got < 0) {
				/* Only legitimate when no block is big enough. */
				unsigned k;

				for (k = order; k < BUDDY_MAX_ORDER; k++)
					ck_assert_uint_eq(buddy_free_blocks(&f.z, k), 0);
			} else {
				ck_assert_uint_eq((uint64_t)got & (size - 1), 0);
				ck_assert_uint_ge((uint64_t)got, base);
				ck_assert_uint_le((uint64_t)got + size, base + npages);
				/* Plain loop: every ck_assert costs a write. */
				for (i = 0; i < size; i++) {
					uint64_t p = (uint64_t)got + i;

					if (!pfn_in_ranges(p, r, nr) || owned[p - base])
						break;
					owned[p - base] = 1;
				}
				ck_assert_msg(i == size, "pfn %#llx not in a range or owned twice",
					      (unsigned long long)got + i);
				ck_assert_uint_lt(nlive, cap);
				live[nlive].pfn = (uint64_t)got;
				live[nlive].order = order;
				nlive++;
				used += size;
			}
		} else {
			size_t j = rng_below(nlive);
			struct live_block b = live[j];
			uint64_t i;

			live[j] = live[--nlive];
			ck_assert_int_eq(buddy_free(&f.z, b.pfn, b.order), 0);
			for (i = 0; i < ((uint64_t)1 << b.order); i++)
				owned[b.pfn + i - base] = 0;
			used -= (uint64_t)1 << b.order;
		}
		ck_assert_uint_eq(f.z.free_pages + used, start);
		ck_assert_msg(buddy_check(&f.z) == 0, "buddy_check failed at step %d", step);
	}

	while (nlive > 0) {
		nlive--;
		ck_assert_int_eq(buddy_free(&f.z, live[nlive].pfn, live[nlive].order), 0);
		ck_assert_int_eq(buddy_check(&f.z), 0);
	}
	ck_assert_uint_eq(f.z.free_pages, start);
	assert_same_nfree(&f.z, want);

	free(owned);
	free(live);
	zone_teardown(&f);
	zone_teardown(&fresh);
}

START_TEST(test_churn_aligned)
{
	struct range r = { 0x100000, 0x2000 };

	churn(0x100000, 0x2000, &r, 1, 0x1234, 4000);
}
END_TEST

START_TEST(test_churn_holes_unaligned)
{
	static const struct range r[] = {
		{ 0x777, 0x289 },
		{ 0xa11, 0x7ef },
		{ 0x1300, 0x1 },
		{ 0x1302, 0x9fd },
	};

	churn(0x777, 0x1800, r, ARRAY_SIZE(r), 0xbeef, 4000);
}
END_TEST

START_TEST(test_churn_seeds)
{
	struct range r = { 0x12345, 0x1111 };

	/* _i is the loop index of a Check loop test. */
	churn(0x12345, 0x1111, &r, 1, 1000 + (uint64_t)_i, 1500);
}
END_TEST

START_TEST(test_zero_pages_zone)
{
	struct buddy_zone z;
	struct buddy_page dummy;
	unsigned k;

	buddy_init(&z, 0x100, 0, &dummy);
	buddy_add_range(&z, 0, 0x1000);
	ck_assert_uint_eq(z.free_pages, 0);
	for (k = 0; k < BUDDY_MAX_ORDER; k++)
		ck_assert_int_eq(buddy_alloc(&z, k), -1);
	ck_assert_int_eq(buddy_free(&z, 0x100, 0), -1);
	ck_assert_int_eq(buddy_check(&z), 0);
}
END_TEST

static Suite *buddy_suite(void)
{
	Suite *s = suite_create("buddy");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_init_empty);
	tcase_add_test(tc, test_aligned_zone_full);
	tcase_add_test(tc, test_add_ranges_holes);
	tcase_add_test(tc, test_exhaust_order0_aligned);
	tcase_add_test(tc, test_exhaust_order0_holes);
	tcase_add_test(tc, test_exhaust_order0_unaligned_base);
	tcase_add_test(tc, test_unaligned_base);
	tcase_add_test(tc, test_alignment_all_orders);
	tcase_add_test(tc, test_order_out_of_range);
	tcase_add_test(tc, test_exhaustion_large_order);
	tcase_add_test(tc, test_bad_frees);
	tcase_add_test(tc, test_check_detects_corruption);
	tcase_add_test(tc, test_zero_pages_zone);
	tcase_add_test(tc, test_churn_aligned);
	tcase_add_test(tc, test_churn_holes_unaligned);
	tcase_add_loop_test(tc, test_churn_seeds, 0, 8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(buddy_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
