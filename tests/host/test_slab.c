/*
 * test_slab.c - host unit tests for the slab caches (kernel/mm/slab.c).
 *
 * The page source is aligned_alloc; it remembers every block it hands out,
 * so leaks, frees of unknown blocks and frees with the wrong order fail the
 * test, and it can be limited to simulate an exhausted buddy allocator.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/buddy.h>
#include <kernel/log.h>
#include <kernel/slab.h>
#include "support.h"

/* --- PRNG -------------------------------------------------------------- */

/* --- host page source ---------------------------------------------------- */

#define HOST_MAX_BLOCKS 4096

struct host_pages {
	void *blocks[HOST_MAX_BLOCKS];
	unsigned orders[HOST_MAX_BLOCKS];
	size_t nblocks;		/* outstanding blocks */
	size_t limit;		/* refuse beyond this many outstanding blocks */
	size_t allocs, frees;
	size_t bad_frees;	/* unknown block or wrong order */
	size_t misalign;	/* >0: hand out blocks this far off alignment */
};

static void *host_alloc_pages(unsigned order, void *ctx)
{
	struct host_pages *hp = ctx;
	size_t bytes = PAGE_SIZE << order;
	char *p;

	if (hp->nblocks >= hp->limit || hp->nblocks >= HOST_MAX_BLOCKS)
		return NULL;
	if (hp->misalign) {
		p = aligned_alloc(bytes * 2, bytes * 2);
		ck_assert_ptr_nonnull(p);
		/* Remember the real block; hand out an offset one. */
		hp->blocks[hp->nblocks] = p;
		hp->orders[hp->nblocks] = order;
		hp->nblocks++;
		hp->allocs++;
		return p + hp->misalign;
	}
	p = aligned_alloc(bytes, bytes);
	ck_assert_ptr_nonnull(p);
	/* Slabs must not rely on fresh pages being zeroed. */
	memset(p, 0xa5, bytes);
	hp->blocks[hp->nblocks] = p;
	hp->orders[hp->nblocks] = order;
	hp->nblocks++;
	hp->allocs++;
	return p;
}

static void host_free_pages(void *addr, unsigned order, void *ctx)
{
	struct host_pages *hp = ctx;
	size_t i;

	for (i = 0; i < hp->nblocks; i++) {
		char *real = hp->blocks[i];

		if (real + hp->misalign != (char *)addr)
			continue;
		if (hp->orders[i] != order)
			hp->bad_frees++;
		free(real);
		hp->blocks[i] = hp->blocks[hp->nblocks - 1];
		hp->orders[i] = hp->orders[hp->nblocks - 1];
		hp->nblocks--;
		hp->frees++;
		return;
	}
	hp->bad_frees++;
}

static struct host_pages hp;
static struct slab_page_source src = {
	.alloc_pages = host_alloc_pages,
	.free_pages = host_free_pages,
	.ctx = &hp,
};

static void hp_setup(void)
{
	size_t i;

	for (i = 0; i < hp.nblocks; i++)
		free(hp.blocks[i]);
	memset(&hp, 0, sizeof(hp));
	hp.limit = HOST_MAX_BLOCKS;
	host_log_reset();
}

static void hp_teardown(void)
{
	ck_assert_uint_eq(hp.bad_frees, 0);
}

static size_t cache_slab_bytes(const struct slab_cache *c)
{
	return PAGE_SIZE << c->slab_order;
}

/* Fill an object with a pattern derived from its index. */
static void pattern_fill(void *obj, size_t size, uint32_t id)
{
	unsigned char *b = obj;
	size_t i;

	for (i = 0; i < size; i++)
		b[i] = (unsigned char)(id * 131u + i * 7u + (id >> 8));
}

static bool pattern_ok(const void *obj, size_t size, uint32_t id)
{
	const unsigned char *b = obj;
	size_t i;

	for (i = 0; i < size; i++)
		if (b[i] != (unsigned char)(id * 131u + i * 7u + (id >> 8)))
			return false;
	return true;
}

/* --- init ---------------------------------------------------------------- */

START_TEST(test_init_rejects)
{
	struct slab_cache c;
	size_t max = PAGE_SIZE << (BUDDY_MAX_ORDER - 1);

	host_log_reset();
	ck_assert_int_eq(slab_cache_init(&c, "zero", 0, 0, &src), -1);
	ck_assert_int_eq(host_last_log_level, LOG_ERROR);
	ck_assert_int_eq(slab_cache_init(&c, "a3", 64, 3, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "a12", 64, 12, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "a24", 64, 24, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "a-odd", 64, 4097, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "amax", 64, (size_t)1 << 63, &src), -1);
	/* Too big for the largest slab (the header takes room too). */
	ck_assert_int_eq(slab_cache_init(&c, "huge", max, 0, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "huge2", max + 1, 0, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "huge3", SIZE_MAX, 0, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "halign", 64, max, &src), -1);
	ck_assert_int_eq(slab_cache_init(&c, "nosrc", 64, 0, NULL), -1);
	ck_assert_int_eq(host_log_count, 11);
}
END_TEST

START_TEST(test_init_geometry)
{
	static const struct {
		size_t size, align, obj_size, cache_align;
	} t[] = {
		{ 1, 0, 8, 8 },
		{ 8, 0, 8, 8 },
		{ 9, 1, 16, 8 },
		{ 24, 4, 24, 8 },
		{ 24, 16, 32, 16 },
		{ 64, 64, 64, 64 },
		{ 200, 0, 200, 8 },
		{ 200, 128, 256, 128 },
		{ 4000, 0, 4000, 8 },
		{ 4096, 4096, 4096, 4096 },
		{ 9000, 0, 9000, 8 },
		{ 100000, 0, 100000, 8 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		struct slab_cache c;
		size_t bytes, used;

		ck_assert_int_eq(slab_cache_init(&c, "geo", t[i].size, t[i].align, &src), 0);
		ck_assert_uint_eq(c.obj_size, t[i].obj_size);
		ck_assert_uint_eq(c.align, t[i].cache_align);
		ck_assert_uint_le(c.slab_order, BUDDY_MAX_ORDER - 1);
		bytes = cache_slab_bytes(&c);
		used = (size_t)c.objs_per_slab * c.obj_size;
		ck_assert_uint_ge(c.objs_per_slab, 1);
		ck_assert_uint_le(used + 40, bytes);
		/* Objects of up to 1/8 of the largest slab get >= 8 per slab
		 * and waste at most 1/8 of it. */
		if (c.obj_size <= (PAGE_SIZE << (BUDDY_MAX_ORDER - 1)) / 9) {
			ck_assert_uint_ge(c.objs_per_slab, 8);
			ck_assert_msg((bytes - used) * 8 <= bytes,
				      "size %zu: %zu of %zu bytes wasted",
				      t[i].size, bytes - used, bytes);
			/* And the order is the smallest that does: one
			 * order less holds < 8 objects or wastes more. */
			if (c.slab_order > 0) {
				size_t half = bytes / 2;
				size_t off = ALIGN_UP((size_t)40, c.align);
				size_t n = off < half ? (half - off) / c.obj_size : 0;

				ck_assert(n < 8 || (half - n * c.obj_size) * 8 > half);
			}
		}
		ck_assert_int_eq(slab_check(&c), 0);
		ck_assert_uint_eq(c.nslabs, 0);
		ck_assert_uint_eq(c.in_use, 0);
		ck_assert_uint_eq(c.total_allocs, 0);
	}
	/* The biggest object that fits. */
	{
		struct slab_cache c;
		size_t max = PAGE_SIZE << (BUDDY_MAX_ORDER - 1);

		ck_assert_int_eq(slab_cache_init(&c, "max", max - 40, 0, &src), 0);
		ck_assert_uint_eq(c.objs_per_slab, 1);
		ck_assert_uint_eq(c.slab_order, BUDDY_MAX_ORDER - 1);
	}
	ck_assert_uint_eq(hp.allocs, 0);
}
END_TEST

/* --- alloc/free patterns ------------------------------------------------- */

static const struct {
	size_t size, align;
} shapes[] = {
	{ 8, 0 }, { 24, 0 }, { 64, 0 }, { 200, 0 }, { 4000, 0 }, { 9000, 0 },
	{ 8, 8 }, { 24, 16 }, { 64, 64 }, { 200, 256 }, { 4000, 4096 },
	{ 9000, 64 }, { 40, 32 }, { 1, 0 }, { 100, 512 },
};

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

START_TEST(test_patterns)
{
	size_t size = shapes[_i].size, align = shapes[_i].align;
	struct slab_cache c;
	size_t n, i, nlive, want_align;
	void **objs, **sorted;
	uint32_t *ids;
	bool *live;

	ck_assert_int_eq(slab_cache_init(&c, "pat", size, align, &src), 0);
	want_align = align ? align : 8;
	n = (size_t)c.objs_per_slab * 3 + 5;
	objs = calloc(n, sizeof(*objs));
	sorted = calloc(n, sizeof(*sorted));
	ids = calloc(n, sizeof(*ids));
	live = calloc(n, sizeof(*live));
	ck_assert(objs && sorted && ids && live);
	rng_seed(0x5eed + _i);

	for (i = 0; i < n; i++) {
		objs[i] = slab_alloc(&c);
		ck_assert_ptr_nonnull(objs[i]);
		ck_assert_uint_eq((uintptr_t)objs[i] % want_align, 0);
		ids[i] = (uint32_t)i;
		live[i] = true;
		pattern_fill(objs[i], size, ids[i]);
		ck_assert_uint_eq(c.in_use, i + 1);
		ck_assert_uint_eq(c.total_allocs, i + 1);
	}
	ck_assert_int_eq(slab_check(&c), 0);
	ck_assert_uint_eq(c.nslabs, 4);
	ck_assert_uint_eq(hp.nblocks, 4);

	/* Distinct and non-overlapping. */
	memcpy(sorted, objs, n * sizeof(*objs));
	qsort(sorted, n, sizeof(*sorted), cmp_ptr);
	for (i = 1; i < n; i++)
		ck_assert_uint_ge((uintptr_t)sorted[i] - (uintptr_t)sorted[i - 1],
				  c.obj_size);

	/* Free about half in random order; the others keep their data. */
	{
		size_t *idx = calloc(n, sizeof(*idx));

		ck_assert_ptr_nonnull(idx);
		for (i = 0; i < n; i++)
			idx[i] = i;
		for (i = n; i > 1; i--) {
			size_t j = rng_below(i), t = idx[i - 1];

			idx[i - 1] = idx[j];
			idx[j] = t;
		}
		for (i = 0; i < n / 2; i++) {
			size_t k = idx[i];

			ck_assert(pattern_ok(objs[k], size, ids[k]));
			ck_assert_int_eq(slab_free(&c, objs[k]), 0);
			live[k] = false;
			ck_assert_int_eq(slab_check(&c), 0);
		}
		free(idx);
	}
	nlive = n - n / 2;
	ck_assert_uint_eq(c.in_use, nlive);
	for (i = 0; i < n; i++)
		if (live[i])
			ck_assert_msg(pattern_ok(objs[i], size, ids[i]),
				      "object %zu corrupted", i);

	/* Refill the holes with new objects and new patterns. */
	for (i = 0; i < n; i++) {
		if (live[i])
			continue;
		objs[i] = slab_alloc(&c);
		ck_assert_ptr_nonnull(objs[i]);
		ck_assert_uint_eq((uintptr_t)objs[i] % want_align, 0);
		ids[i] = (uint32_t)(i + 100000);
		live[i] = true;
		pattern_fill(objs[i], size, ids[i]);
	}
	ck_assert_uint_eq(c.in_use, n);
	ck_assert_uint_eq(c.total_allocs, n + n / 2);
	/* Holes were reused: no new slab was needed. */
	ck_assert_uint_eq(c.nslabs, 4);
	ck_assert_int_eq(slab_check(&c), 0);

	/* Free everything in random order (objs and ids shuffled together),
	 * checking each object's data on the way. */
	for (i = n; i > 1; i--) {
		size_t j = rng_below(i);
		void *t = objs[i - 1];
		uint32_t u = ids[i - 1];

		objs[i - 1] = objs[j];
		objs[j] = t;
		ids[i - 1] = ids[j];
		ids[j] = u;
	}
	for (i = 0; i < n; i++) {
		ck_assert(pattern_ok(objs[i], size, ids[i]));
		ck_assert_int_eq(slab_free(&c, objs[i]), 0);
		if (i % 7 == 0 || i + 1 == n)
			ck_assert_int_eq(slab_check(&c), 0);
		/* At most one empty slab is kept. */
		ck_assert_uint_eq(c.nslabs, hp.nblocks);
	}
	ck_assert_uint_eq(c.in_use, 0);
	ck_assert_uint_eq(c.nslabs, 1);
	ck_assert_uint_eq(hp.nblocks, 1);
	slab_shrink(&c);
	ck_assert_uint_eq(c.nslabs, 0);
	ck_assert_uint_eq(hp.nblocks, 0);
	ck_assert_uint_eq(hp.allocs, hp.frees);
	ck_assert_int_eq(slab_check(&c), 0);

	free(objs);
	free(sorted);
	free(ids);
	free(live);
}
END_TEST

/* --- counters and the empty-slab policy ------------------------------------ */

START_TEST(test_counters)
{
	struct slab_cache c;
	unsigned per, i;
	void **a, *extra;

	ck_assert_int_eq(slab_cache_init(&c, "cnt", 64, 0, &src), 0);
	per = c.objs_per_slab;
	a = calloc(per, sizeof(*a));
	ck_assert_ptr_nonnull(a);

	for (i = 0; i < per; i++)
		a[i] = slab_alloc(&c);
	ck_assert_uint_eq(c.nslabs, 1);
	ck_assert_uint_eq(c.in_use, per);
	ck_assert(list_empty(&c.partial));
	ck_assert(!list_empty(&c.full));

	/* The next object needs a second slab. */
	extra = slab_alloc(&c);
	ck_assert_ptr_nonnull(extra);
	ck_assert_uint_eq(c.nslabs, 2);
	ck_assert_uint_eq(hp.nblocks, 2);
	ck_assert_uint_eq(c.total_allocs, per + 1);

	/* Second slab goes empty: kept. */
	ck_assert_int_eq(slab_free(&c, extra), 0);
	ck_assert_uint_eq(c.nslabs, 2);
	ck_assert_uint_eq(hp.nblocks, 2);
	ck_assert(!list_empty(&c.empty));
	ck_assert_int_eq(slab_check(&c), 0);

	/* The kept empty slab serves the next allocation, no new pages. */
	extra = slab_alloc(&c);
	ck_assert_uint_eq(hp.allocs, 2);
	ck_assert_int_eq(slab_free(&c, extra), 0);

	/* First slab: full -> partial -> empty; a second empty slab is
	 * returned at once. */
	ck_assert_int_eq(slab_free(&c, a[0]), 0);
	ck_assert(!list_empty(&c.partial));
	ck_assert(list_empty(&c.full));
	for (i = 1; i < per; i++)
		ck_assert_int_eq(slab_free(&c, a[i]), 0);
	ck_assert_uint_eq(c.nslabs, 1);
	ck_assert_uint_eq(hp.nblocks, 1);
	ck_assert_uint_eq(c.in_use, 0);
	ck_assert_uint_eq(c.total_allocs, per + 2);
	ck_assert_int_eq(slab_check(&c), 0);

	slab_shrink(&c);
	ck_assert_uint_eq(c.nslabs, 0);
	ck_assert_uint_eq(hp.nblocks, 0);
	slab_shrink(&c);	/* nothing left: harmless */
	ck_assert_uint_eq(hp.frees, 2);
	ck_assert_int_eq(slab_check(&c), 0);

	/* The cache still works after shrinking to nothing. */
	extra = slab_alloc(&c);
	ck_assert_ptr_nonnull(extra);
	ck_assert_uint_eq(c.nslabs, 1);
	ck_assert_int_eq(slab_free(&c, extra), 0);
	slab_shrink(&c);
	ck_assert_uint_eq(hp.nblocks, 0);
	free(a);
}
END_TEST

/* --- bad frees ------------------------------------------------------------ */

struct cache_state {
	uint64_t nslabs, in_use, total_allocs;
	size_t blocks;
};

static void expect_bad_free(struct slab_cache *c, void *p)
{
	struct cache_state before = { c->nslabs, c->in_use, c->total_allocs,
				      hp.nblocks };

	host_log_reset();
	ck_assert_msg(slab_free(c, p) == -1, "bad free of %p accepted", p);
	ck_assert_int_eq(host_log_count, 1);
	ck_assert_int_eq(host_last_log_level, LOG_WARN);
	ck_assert_uint_eq(c->nslabs, before.nslabs);
	ck_assert_uint_eq(c->in_use, before.in_use);
	ck_assert_uint_eq(c->total_allocs, before.total_allocs);
	ck_assert_uint_eq(hp.nblocks, before.blocks);
	ck_assert_int_eq(slab_check(c), 0);
}

START_TEST(test_bad_frees)
{
	struct slab_cache c, other;
	char *a, *b, *x, *slab, *foreign, *last;
	size_t bytes, off;

	ck_assert_int_eq(slab_cache_init(&c, "bad", 64, 0, &src), 0);
	ck_assert_int_eq(slab_cache_init(&other, "other", 64, 0, &src), 0);
	a = slab_alloc(&c);
	b = slab_alloc(&c);
	x = slab_alloc(&other);
	ck_assert(a && b && x);
	bytes = cache_slab_bytes(&c);
	slab = (char *)((uintptr_t)a & ~(uintptr_t)(bytes - 1));

	ck_assert_int_eq(slab_free(&c, NULL), 0);

	/* Another cache's object, and this cache's object freed to the other. */
	expect_bad_free(&c, x);
	expect_bad_free(&other, a);

	/* Memory that is no slab at all (readable, slab-aligned). */
	foreign = aligned_alloc(bytes, bytes);
	ck_assert_ptr_nonnull(foreign);
	memset(foreign, 0, bytes);
	expect_bad_free(&c, foreign + 64);
	memset(foreign, 0xff, bytes);
	expect_bad_free(&c, foreign + 128);
	/* Right magic (copied from a real slab), wrong cache pointer. */
	memcpy(foreign, slab, 64);
	*(void **)(foreign + 16) = &other;
	expect_bad_free(&c, foreign + 64);
	free(foreign);

	/* Misaligned within the slab, in the header, past the last object. */
	expect_bad_free(&c, a + 1);
	expect_bad_free(&c, a + 8);
	expect_bad_free(&c, a + 63);
	expect_bad_free(&c, slab);
	expect_bad_free(&c, slab + 16);
	off = ALIGN_UP((size_t)40, c.align);
	last = slab + off + (size_t)c.objs_per_slab * c.obj_size;
	if (last < slab + bytes)
		expect_bad_free(&c, last);
	expect_bad_free(&c, slab + bytes - 1);

	/* Double free: immediate, and after more frees. */
	ck_assert_int_eq(slab_free(&c, a), 0);
	expect_bad_free(&c, a);
	ck_assert_int_eq(slab_free(&c, b), 0);
	expect_bad_free(&c, a);
	expect_bad_free(&c, b);
	ck_assert_uint_eq(c.in_use, 0);

	ck_assert_int_eq(slab_free(&other, x), 0);
	expect_bad_free(&other, x);
	slab_shrink(&c);
	slab_shrink(&other);
	ck_assert_uint_eq(hp.nblocks, 0);
}
END_TEST

START_TEST(test_double_free_deep)
{
	/* A double free of an object deep in the free list of a busy slab. */
	struct slab_cache c;
	void *o[20];
	int i;

	ck_assert_int_eq(slab_cache_init(&c, "deep", 24, 0, &src), 0);
	for (i = 0; i < 20; i++)
		o[i] = slab_alloc(&c);
	for (i = 0; i < 20; i += 2)
		ck_assert_int_eq(slab_free(&c, o[i]), 0);
	expect_bad_free(&c, o[0]);
	expect_bad_free(&c, o[10]);
	expect_bad_free(&c, o[18]);
	for (i = 1; i < 20; i += 2)
		ck_assert_int_eq(slab_free(&c, o[i]), 0);
	expect_bad_free(&c, o[5]);
	slab_shrink(&c);
	ck_assert_uint_eq(hp.nblocks, 0);
}
END_TEST

START_TEST(test_poison_value_in_live_object)
{
	/* A live object whose second word happens to hold the poison (read
	 * from a freed object) is still freed correctly. */
	struct slab_cache c;
	uint64_t *a, *b, poison;

	ck_assert_int_eq(slab_cache_init(&c, "poison", 32, 0, &src), 0);
	a = slab_alloc(&c);
	b = slab_alloc(&c);
	ck_assert_int_eq(slab_free(&c, a), 0);
	poison = a[1];	/* a is free: it carries the poison */
	ck_assert_uint_ne(poison, 0);
	a = slab_alloc(&c);
	ck_assert_uint_ne(a[1], poison);	/* alloc clears it */
	a[1] = poison;
	b[1] = poison;
	ck_assert_int_eq(slab_free(&c, b), 0);
	ck_assert_int_eq(slab_free(&c, a), 0);
	ck_assert_uint_eq(c.in_use, 0);
	ck_assert_int_eq(slab_check(&c), 0);
	expect_bad_free(&c, a);
	slab_shrink(&c);
}
END_TEST

START_TEST(test_small_objects_double_free)
{
	/* 8-byte objects carry no poison; the cheap checks still catch the
	 * common double frees. */
	struct slab_cache c;
	void *a, *b, *d;

	ck_assert_int_eq(slab_cache_init(&c, "tiny", 8, 0, &src), 0);
	a = slab_alloc(&c);
	b = slab_alloc(&c);
	d = slab_alloc(&c);
	ck_assert_int_eq(slab_free(&c, b), 0);
	expect_bad_free(&c, b);		/* heads the free list */
	ck_assert_int_eq(slab_free(&c, a), 0);
	ck_assert_int_eq(slab_free(&c, d), 0);
	expect_bad_free(&c, d);		/* heads the free list */
	expect_bad_free(&c, a);		/* slab has nothing in use */
	slab_shrink(&c);
	ck_assert_uint_eq(hp.nblocks, 0);
}
END_TEST

/* --- page source exhaustion ------------------------------------------------ */

START_TEST(test_exhaustion)
{
	struct slab_cache c;
	size_t per, n = 0, i;
	void **objs;

	ck_assert_int_eq(slab_cache_init(&c, "exh", 200, 0, &src), 0);
	per = c.objs_per_slab;
	objs = calloc(per * 2 + 1, sizeof(*objs));
	ck_assert_ptr_nonnull(objs);
	hp.limit = 2;

	while ((objs[n] = slab_alloc(&c)) != NULL) {
		n++;
		ck_assert_uint_le(n, per * 2);
	}
	ck_assert_uint_eq(n, per * 2);
	ck_assert_ptr_null(slab_alloc(&c));
	ck_assert_uint_eq(c.in_use, per * 2);
	ck_assert_uint_eq(c.total_allocs, per * 2);
	ck_assert_uint_eq(c.nslabs, 2);
	ck_assert_int_eq(slab_check(&c), 0);

	/* One free makes room again without new pages. */
	ck_assert_int_eq(slab_free(&c, objs[3]), 0);
	objs[3] = slab_alloc(&c);
	ck_assert_ptr_nonnull(objs[3]);
	ck_assert_ptr_null(slab_alloc(&c));
	ck_assert_uint_eq(hp.allocs, 2);

	for (i = 0; i < n; i++)
		ck_assert_int_eq(slab_free(&c, objs[i]), 0);
	slab_shrink(&c);
	ck_assert_uint_eq(hp.nblocks, 0);

	/* A page source with nothing at all. */
	hp.limit = 0;
	ck_assert_ptr_null(slab_alloc(&c));
	ck_assert_uint_eq(c.nslabs, 0);
	ck_assert_uint_eq(c.in_use, 0);
	ck_assert_int_eq(slab_check(&c), 0);
	free(objs);
}
END_TEST

START_TEST(test_misaligned_page_source)
{
	/* A page source breaking its alignment promise is refused cleanly. */
	struct slab_cache c;

	ck_assert_int_eq(slab_cache_init(&c, "mis", 4000, 0, &src), 0);
	ck_assert_uint_gt(c.slab_order, 0);
	hp.misalign = PAGE_SIZE;
	host_log_reset();
	ck_assert_ptr_null(slab_alloc(&c));
	ck_assert_int_eq(host_last_log_level, LOG_ERROR);
	ck_assert_uint_eq(hp.allocs, 1);
	ck_assert_uint_eq(hp.nblocks, 0);
	ck_assert_uint_eq(c.nslabs, 0);
	ck_assert_int_eq(slab_check(&c), 0);
	hp.misalign = 0;
}
END_TEST

START_TEST(test_check_detects_corruption)
{
	struct slab_cache c;
	void *a, *b;

	ck_assert_int_eq(slab_cache_init(&c, "chk", 48, 0, &src), 0);
	a = slab_alloc(&c);
	b = slab_alloc(&c);
	ck_assert_int_eq(slab_free(&c, b), 0);
	ck_assert_int_eq(slab_check(&c), 0);

	c.in_use++;
	ck_assert_int_eq(slab_check(&c), -1);
	c.in_use--;
	c.nslabs++;
	ck_assert_int_eq(slab_check(&c), -1);
	c.nslabs--;
	/* Use after free: scribbling over b's poison. */
	{
		uint64_t saved = ((uint64_t *)b)[1];

		((uint64_t *)b)[1] = 0;
		ck_assert_int_eq(slab_check(&c), -1);
		((uint64_t *)b)[1] = saved;
	}
	ck_assert_int_eq(slab_check(&c), 0);
	/* A free-list link pointing outside the object area. */
	{
		void *saved = *(void **)b;

		*(void **)b = (char *)b + 1;
		ck_assert_int_eq(slab_check(&c), -1);
		*(void **)b = saved;
	}
	ck_assert_int_eq(slab_check(&c), 0);
	ck_assert_int_eq(slab_free(&c, a), 0);
	slab_shrink(&c);
}
END_TEST

/* --- random churn over several caches ------------------------------------- */

START_TEST(test_churn)
{
	enum { NCACHE = 6, NLIVE = 3000 };
	static const size_t sizes[NCACHE] = { 8, 24, 64, 200, 4000, 9000 };
	struct slab_cache cs[NCACHE];
	struct {
		void *p;
		uint32_t id;
		int cache;
	} *live;
	size_t nlive = 0;
	uint32_t next_id = 1;
	int step, k;

	live = calloc(NLIVE, sizeof(*live));
	ck_assert_ptr_nonnull(live);
	for (k = 0; k < NCACHE; k++)
		ck_assert_int_eq(slab_cache_init(&cs[k], "churn", sizes[k], 0, &src), 0);
	rng_seed(77);

	for (step = 0; step < 20000; step++) {
		if (nlive < NLIVE && (nlive == 0 || rng_below(100) < 52)) {
			k = (int)rng_below(NCACHE);
			live[nlive].p = slab_alloc(&cs[k]);
			ck_assert_ptr_nonnull(live[nlive].p);
			live[nlive].id = next_id++;
			live[nlive].cache = k;
			pattern_fill(live[nlive].p, MIN(sizes[k], (size_t)64),
				     live[nlive].id);
			nlive++;
		} else {
			size_t j = rng_below(nlive);

			k = live[j].cache;
			ck_assert(pattern_ok(live[j].p, MIN(sizes[k], (size_t)64),
					     live[j].id));
			ck_assert_int_eq(slab_free(&cs[k], live[j].p), 0);
			live[j] = live[--nlive];
		}
		if (step % 500 == 0)
			for (k = 0; k < NCACHE; k++)
				ck_assert_int_eq(slab_check(&cs[k]), 0);
	}
	{
		uint64_t slabs = 0;

		for (k = 0; k < NCACHE; k++) {
			ck_assert_int_eq(slab_check(&cs[k]), 0);
			slabs += cs[k].nslabs;
		}
		ck_assert_uint_eq(slabs, hp.nblocks);
	}
	while (nlive > 0) {
		nlive--;
		k = live[nlive].cache;
		ck_assert(pattern_ok(live[nlive].p, MIN(sizes[k], (size_t)64),
				     live[nlive].id));
		ck_assert_int_eq(slab_free(&cs[k], live[nlive].p), 0);
	}
	for (k = 0; k < NCACHE; k++) {
		ck_assert_uint_eq(cs[k].in_use, 0);
		ck_assert_uint_le(cs[k].nslabs, 1);
		slab_shrink(&cs[k]);
		ck_assert_int_eq(slab_check(&cs[k]), 0);
	}
	ck_assert_uint_eq(hp.nblocks, 0);
	free(live);
}
END_TEST

static Suite *slab_suite(void)
{
	Suite *s = suite_create("slab");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, hp_setup, hp_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_init_rejects);
	tcase_add_test(tc, test_init_geometry);
	tcase_add_loop_test(tc, test_patterns, 0, ARRAY_SIZE(shapes));
	tcase_add_test(tc, test_counters);
	tcase_add_test(tc, test_bad_frees);
	tcase_add_test(tc, test_double_free_deep);
	tcase_add_test(tc, test_poison_value_in_live_object);
	tcase_add_test(tc, test_small_objects_double_free);
	tcase_add_test(tc, test_exhaustion);
	tcase_add_test(tc, test_misaligned_page_source);
	tcase_add_test(tc, test_check_detects_corruption);
	tcase_add_test(tc, test_churn);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(slab_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
