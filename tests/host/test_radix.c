/*
 * test_radix.c - host unit tests for the radix tree of memory objects
 * (kernel/mm/radix.c): sizing, insert/lookup/erase/walk over many random
 * indexes checked against a sorted reference, bounded walks, allocation
 * failures. ASan checks every node access and that nothing leaks.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/radix.h>
#include "support.h"

/* An allocator that counts what it hands out and can be made to fail. */
struct counting {
	long nodes, roots, bytes;
	long fail_after;	/* allocations left before failing; < 0: never */
};

static void *c_alloc(size_t bytes, void *ctx)
{
	struct counting *c = ctx;

	ck_assert(bytes > 0 && bytes <= RADIX_NODE_BYTES);
	if (c->fail_after == 0)
		return NULL;
	if (c->fail_after > 0)
		c->fail_after--;
	if (bytes == RADIX_NODE_BYTES)
		c->nodes++;
	else
		c->roots++;
	c->bytes += (long)bytes;
	return calloc(1, bytes);
}

static void c_free(void *p, size_t bytes, void *ctx)
{
	struct counting *c = ctx;

	if (bytes == RADIX_NODE_BYTES)
		c->nodes--;
	else
		c->roots--;
	c->bytes -= (long)bytes;
	free(p);
}

/* Check's ck_assert records every location it passes (a message to the
 * runner each time), too slow for the millions of checks of the walks:
 * this one only calls into Check on failure. */
#define FAST_ASSERT(c) do {						\
	if (!(c))							\
		ck_abort_msg("Assertion '%s' failed", #c);		\
} while (0)

static struct counting cnt;
static const struct radix_alloc alloc = { c_alloc, c_free, &cnt };

static void reset_counts(void)
{
	memset(&cnt, 0, sizeof(cnt));
	cnt.fail_after = -1;
}

static uint64_t value_of(uint64_t i)
{
	return i * 2 + 1;	/* nonzero, and tied to its index */
}

/* ---- sizing ---------------------------------------------------------------- */

START_TEST(test_depth_and_root)
{
	static const struct {
		uint64_t cap;
		unsigned depth, root;
	} cases[] = {
		{ 1, 1, 1 }, { 2, 1, 2 }, { 512, 1, 512 }, { 513, 2, 2 },
		{ 1024, 2, 2 }, { 1ull << 18, 2, 512 }, { (1ull << 18) + 1, 3, 2 },
		{ 1ull << 24, 3, 64 },		/* 64 GiB of pages */
		{ (1ull << 19) + 1, 3, 3 },	/* 2 GiB + 4 KiB */
		{ 1ull << 27, 3, 512 }, { (1ull << 27) + 1, 4, 2 },
		{ (1ull << 63) - 1, 7, 512 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct radix_tree t;

		reset_counts();
		ck_assert_int_eq(radix_init(&t, cases[k].cap, &alloc), 0);
		ck_assert_uint_eq(t.depth, cases[k].depth);
		ck_assert_uint_eq(t.root_entries, cases[k].root);
		ck_assert_int_eq(cnt.bytes, (long)cases[k].root * 8);
		/* The last index works, and costs one node per level below
		 * the root. */
		*radix_slot(&t, cases[k].cap - 1) = 7;
		ck_assert_int_eq(cnt.bytes, (long)cases[k].root * 8 +
					    ((long)cases[k].depth - 1) * 4096);
		ck_assert_uint_eq(*radix_lookup(&t, cases[k].cap - 1), 7);
		radix_destroy(&t, NULL, NULL);
		ck_assert_ptr_null(t.root);
		ck_assert_int_eq(cnt.bytes, 0);
	}
}
END_TEST

START_TEST(test_bad_capacity)
{
	struct radix_tree t;

	reset_counts();
	ck_assert_int_eq(radix_init(&t, 0, &alloc), -1);
	ck_assert_ptr_null(t.root);
	ck_assert_int_eq(radix_init(&t, 1ull << 63, &alloc), -1);
	ck_assert_int_eq(radix_init(&t, ~0ull, &alloc), -1);
	cnt.fail_after = 0;
	ck_assert_int_eq(radix_init(&t, 100, &alloc), -1);
	ck_assert_ptr_null(t.root);
	radix_destroy(&t, NULL, NULL);		/* harmless */
	ck_assert_int_eq(cnt.bytes, 0);
}
END_TEST

/* A 64 GiB object with four pages far apart: the root and two nodes per
 * page, not a flat array of 16 M entries. */
START_TEST(test_sparse_cost)
{
	static const uint64_t at[] = { 0, (1ull << 19) + 1, 40ull << 18, (1ull << 24) - 1 };
	struct radix_tree t;

	reset_counts();
	ck_assert_int_eq(radix_init(&t, 1ull << 24, &alloc), 0);
	for (unsigned k = 0; k < 4; k++)
		*radix_slot(&t, at[k]) = value_of(at[k]);
	ck_assert_int_eq(cnt.nodes, 8);
	ck_assert_int_eq(cnt.bytes, 64 * 8 + 8 * 4096);
	/* Neighbours in the same leaf cost nothing more. */
	*radix_slot(&t, 1) = 1;
	*radix_slot(&t, 511) = 1;
	ck_assert_int_eq(cnt.nodes, 8);
	ck_assert_ptr_null(radix_lookup(&t, 512));
	ck_assert_ptr_null(radix_lookup(&t, 30ull << 18));
	ck_assert_uint_eq(*radix_lookup(&t, 2), 0);
	radix_destroy(&t, NULL, NULL);
	ck_assert_int_eq(cnt.bytes, 0);
}
END_TEST

/* ---- against a reference ------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* n random indexes below cap, sorted, possibly repeated (dedup them);
 * some in runs of neighbours (as pages of one area), most scattered. */
static uint64_t *random_indexes(uint64_t cap, size_t n)
{
	uint64_t *a = malloc(n * sizeof(*a));
	size_t k = 0;

	ck_assert_ptr_nonnull(a);
	while (k < n) {
		uint64_t i = rng_below(cap), run = rng_below(4) == 0 ? rng_below(700) + 1 : 1;

		for (uint64_t j = 0; j < run && k < n && i + j < cap; j++)
			a[k++] = i + j;
	}
	qsort(a, n, sizeof(*a), cmp_u64);
	return a;
}

struct collect {
	uint64_t *got;
	size_t n, max;
	int fail_at_index;	/* unused when < 0 */
	uint64_t fail_index;
};

static int collect_fn(uint64_t index, uint64_t *slot, void *arg)
{
	struct collect *c = arg;

	if (c->fail_at_index >= 0 && index == c->fail_index)
		return -5;
	FAST_ASSERT(c->n < c->max);
	FAST_ASSERT(*slot == value_of(index));
	c->got[c->n++] = index;
	return 0;
}

/* Walk the whole tree with the given budget per call, checking the
 * bounds of each call; returns how many values were visited. */
static size_t walk_all(struct radix_tree *t, unsigned budget, uint64_t *got, size_t max)
{
	struct collect c = { got, 0, max, -1, 0 };
	uint64_t pos = 0;
	unsigned calls = 0;
	int r;

	do {
		size_t before = c.n;
		uint64_t from = pos;

		r = radix_walk(t, &pos, budget, collect_fn, &c);
		FAST_ASSERT(r >= 0);
		FAST_ASSERT(pos > from);	/* always some progress */
		/* Everything visited in one call is in one 512-block, and
		 * no more than the budget (at least the depth). */
		FAST_ASSERT(c.n - before <= (budget < t->depth ? t->depth : budget));
		if (c.n > before)
			FAST_ASSERT(got[before] >> RADIX_SHIFT == got[c.n - 1] >> RADIX_SHIFT);
		for (size_t k = before; k < c.n; k++)
			FAST_ASSERT(got[k] >= from && got[k] < pos);
		FAST_ASSERT(++calls < 100000000);
	} while (r == 0);
	ck_assert_uint_eq(pos, t->capacity);
	return c.n;
}

static void check_against(struct radix_tree *t, const uint64_t *ref, size_t n)
{
	static const unsigned budgets[] = { 1, 3, 7, 512, ~0u };
	uint64_t *got = malloc((n + 1) * sizeof(*got));

	ck_assert_ptr_nonnull(got);
	for (size_t k = 0; k < n; k++) {
		uint64_t *s = radix_lookup(t, ref[k]);

		FAST_ASSERT(s && *s == value_of(ref[k]));
	}
	/* Indexes between members are absent. */
	for (size_t k = 0; k + 1 < n; k++) {
		uint64_t mid = ref[k] + (ref[k + 1] - ref[k]) / 2;
		uint64_t *s;

		if (mid == ref[k])
			continue;
		s = radix_lookup(t, mid);
		FAST_ASSERT(!s || *s == 0);
	}
	for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		ck_assert_uint_eq(walk_all(t, budgets[b], got, n + 1), n);
		ck_assert_int_eq(memcmp(got, ref, n * sizeof(*got)), 0);
	}
	free(got);
}

static size_t dedup(uint64_t *a, size_t n)
{
	size_t m = 0;

	for (size_t k = 0; k < n; k++)
		if (m == 0 || a[m - 1] != a[k])
			a[m++] = a[k];
	return m;
}

static void put_count(uint64_t index, uint64_t value, void *arg)
{
	FAST_ASSERT(value == value_of(index));
	(*(size_t *)arg)++;
}

static void random_round(uint64_t cap, size_t want, uint64_t seed)
{
	struct radix_tree t;
	uint64_t *ref, *kept;
	size_t n, nkept = 0, put = 0;

	reset_counts();
	rng_seed(seed);
	ref = random_indexes(cap, want);
	n = dedup(ref, want);
	ck_assert_int_eq(radix_init(&t, cap, &alloc), 0);
	/* Insert in a shuffled order. */
	for (size_t k = n; k > 1; k--) {
		size_t j = rng_below(k);
		uint64_t x = ref[k - 1];

		ref[k - 1] = ref[j];
		ref[j] = x;
	}
	for (size_t k = 0; k < n; k++) {
		uint64_t *s = radix_slot(&t, ref[k]);

		FAST_ASSERT(s && *s == 0);
		*s = value_of(ref[k]);
	}
	qsort(ref, n, sizeof(*ref), cmp_u64);
	check_against(&t, ref, n);

	/* Erase about half; the rest must be intact. */
	kept = malloc(n * sizeof(*kept));
	ck_assert_ptr_nonnull(kept);
	for (size_t k = 0; k < n; k++) {
		if (rng_below(2)) {
			FAST_ASSERT(radix_erase(&t, ref[k]) == value_of(ref[k]));
			FAST_ASSERT(radix_erase(&t, ref[k]) == 0);	/* twice: nothing */
		} else {
			kept[nkept++] = ref[k];
		}
	}
	check_against(&t, kept, nkept);

	/* Destroying calls put once per value left. */
	radix_destroy(&t, put_count, &put);
	ck_assert_uint_eq(put, nkept);
	ck_assert_int_eq(cnt.bytes, 0);
	free(kept);
	free(ref);
}

START_TEST(test_random_64g)
{
	random_round(1ull << 24, 20000, 0x5eed0000 + (uint64_t)_i);
}
END_TEST

START_TEST(test_random_small)
{
	random_round(300, 200, 0xabc0 + (uint64_t)_i);
}
END_TEST

START_TEST(test_random_deep)
{
	random_round((1ull << 40) + 12345, 20000, 0xdee90 + (uint64_t)_i);
}
END_TEST

/* Erasing everything frees every node but the root. */
START_TEST(test_erase_all_frees_nodes)
{
	struct radix_tree t;
	uint64_t *ref;
	size_t n;

	reset_counts();
	rng_seed(77);
	ref = random_indexes(1ull << 30, 5000);
	n = dedup(ref, 5000);
	ck_assert_int_eq(radix_init(&t, 1ull << 30, &alloc), 0);
	for (size_t k = 0; k < n; k++)
		*radix_slot(&t, ref[k]) = value_of(ref[k]);
	ck_assert_int_gt(cnt.nodes, 0);
	for (size_t k = 0; k < n; k++)
		FAST_ASSERT(radix_erase(&t, ref[k]) == value_of(ref[k]));
	ck_assert_int_eq(cnt.nodes, 0);
	ck_assert_int_eq(cnt.roots, 1);
	ck_assert_uint_eq(walk_all(&t, 512, NULL, 0), 0);
	radix_destroy(&t, NULL, NULL);
	ck_assert_int_eq(cnt.bytes, 0);
	free(ref);
}
END_TEST

/* ---- walks ------------------------------------------------------------------------ */

/* An empty 64 GiB tree: a walk costs the root's 64 entries, not 16 M. */
START_TEST(test_walk_skips_holes)
{
	struct radix_tree t;
	uint64_t pos = 0;

	reset_counts();
	ck_assert_int_eq(radix_init(&t, 1ull << 24, &alloc), 0);
	ck_assert_int_eq(radix_walk(&t, &pos, 64, collect_fn, NULL), 1);
	ck_assert_uint_eq(pos, 1ull << 24);
	/* One page at the end: two more reads to reach it. */
	*radix_slot(&t, (1ull << 24) - 1) = value_of((1ull << 24) - 1);
	{
		uint64_t got[2];
		struct collect c = { got, 0, 2, -1, 0 };

		pos = 0;
		ck_assert_int_eq(radix_walk(&t, &pos, 63, collect_fn, &c), 0);
		ck_assert_uint_eq(c.n, 0);
		ck_assert_uint_eq(pos, 63ull << 18);	/* 63 empty root entries */
		/* Then the last root entry, the 511 holes of its node, the
		 * leaf's 511 zeros and the page: 1024 reads more. */
		ck_assert_int_eq(radix_walk(&t, &pos, 1024, collect_fn, &c), 0);
		ck_assert_uint_eq(c.n, 0);
		ck_assert_uint_eq(pos, (1ull << 24) - 1);
		ck_assert_int_eq(radix_walk(&t, &pos, 1, collect_fn, &c), 1);
		ck_assert_uint_eq(c.n, 1);
		ck_assert_uint_eq(got[0], (1ull << 24) - 1);
	}
	radix_destroy(&t, NULL, NULL);
	ck_assert_int_eq(cnt.bytes, 0);
}
END_TEST

/* A callback's error stops the walk at that value, and the walk can
 * resume there. */
START_TEST(test_walk_error_resumes)
{
	struct radix_tree t;
	uint64_t got[8], pos = 0;
	struct collect c = { got, 0, 8, 1, 1000 };

	reset_counts();
	ck_assert_int_eq(radix_init(&t, 5000, &alloc), 0);
	for (uint64_t i = 998; i < 1003; i++)
		*radix_slot(&t, i) = value_of(i);
	while (radix_walk(&t, &pos, ~0u, collect_fn, &c) == 0)
		;
	ck_assert_uint_eq(pos, 1000);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_int_eq(radix_walk(&t, &pos, ~0u, collect_fn, &c), -5);
	c.fail_at_index = -1;
	while (radix_walk(&t, &pos, ~0u, collect_fn, &c) == 0)
		;
	ck_assert_uint_eq(c.n, 5);
	ck_assert_uint_eq(got[4], 1002);
	radix_destroy(&t, NULL, NULL);
	ck_assert_int_eq(cnt.bytes, 0);
}
END_TEST

/* ---- allocation failures ------------------------------------------------------------ */

START_TEST(test_slot_out_of_memory)
{
	struct radix_tree t;

	reset_counts();
	ck_assert_int_eq(radix_init(&t, 1ull << 24, &alloc), 0);
	cnt.fail_after = 1;	/* the mid node, not the leaf */
	ck_assert_ptr_null(radix_slot(&t, 12345678));
	ck_assert_int_eq(cnt.nodes, 1);
	ck_assert_ptr_null(radix_lookup(&t, 12345678));
	cnt.fail_after = -1;
	*radix_slot(&t, 12345678) = 3;
	ck_assert_int_eq(cnt.nodes, 2);
	radix_destroy(&t, NULL, NULL);	/* frees what the failure left too */
	ck_assert_int_eq(cnt.bytes, 0);
}
END_TEST

static Suite *radix_suite(void)
{
	Suite *s = suite_create("radix");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_depth_and_root);
	tcase_add_test(tc, test_bad_capacity);
	tcase_add_test(tc, test_sparse_cost);
	tcase_add_loop_test(tc, test_random_64g, 0, 3);
	tcase_add_loop_test(tc, test_random_small, 0, 8);
	tcase_add_loop_test(tc, test_random_deep, 0, 2);
	tcase_add_test(tc, test_erase_all_frees_nodes);
	tcase_add_test(tc, test_walk_skips_holes);
	tcase_add_test(tc, test_walk_error_resumes);
	tcase_add_test(tc, test_slot_out_of_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(radix_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
