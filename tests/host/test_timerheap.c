/*
 * test_timerheap.c - host unit tests for the timer heap
 * (kernel/core/timerheap.c).
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/timerheap.h>
#include "support.h"

/* A timer with an id, so tests can tell which one fired. */
struct tmr {
	struct timer_node node;
	int id;
};

#define tmr_of(n) container_of(n, struct tmr, node)

#define CHECK_HEAP(h) ck_assert_int_eq(timerheap_check(h), 0)

static void arm(struct timerheap *h, struct tmr *t, uint64_t deadline)
{
	t->node.deadline = deadline;
	ck_assert_int_eq(timerheap_insert(h, &t->node), 0);
	ck_assert_uint_ne(t->node.index, TIMERHEAP_NONE);
	CHECK_HEAP(h);
}

static void init_tmrs(struct tmr *t, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		memset(&t[i], 0x5a, sizeof(t[i]));	/* init must set it all */
		timer_node_init(&t[i].node);
		t[i].id = i;
	}
}

START_TEST(test_empty)
{
	struct timer_node *slots[4];
	struct timerheap h;
	struct tmr t;

	timerheap_init(&h, slots, 4);
	init_tmrs(&t, 1);
	ck_assert_uint_eq(t.node.index, TIMERHEAP_NONE);
	ck_assert_uint_eq(h.count, 0);
	ck_assert_ptr_null(timerheap_peek(&h));
	ck_assert_ptr_null(timerheap_pop_expired(&h, UINT64_MAX));
	ck_assert(!timerheap_remove(&h, &t.node));
	CHECK_HEAP(&h);

	/* A zero-capacity heap is always full. */
	timerheap_init(&h, NULL, 0);
	ck_assert_int_eq(timerheap_insert(&h, &t.node), -1);
	ck_assert_uint_eq(t.node.index, TIMERHEAP_NONE);
	ck_assert_ptr_null(timerheap_peek(&h));
	CHECK_HEAP(&h);
}
END_TEST

START_TEST(test_random_order)
{
	enum { N = 1000 };
	struct timer_node *slots[N];
	static struct tmr t[N];
	struct timerheap h;
	struct timer_node *n, *prev = NULL;
	int i, popped = 0;

	timerheap_init(&h, slots, N);
	init_tmrs(t, N);
	rng_seed(42 + (uint64_t)_i);
	for (i = 0; i < N; i++) {
		/* Narrow range: plenty of equal deadlines. */
		arm(&h, &t[i], rng_below(_i == 0 ? 300 : UINT64_MAX));
		ck_assert_uint_eq(h.count, (uint32_t)i + 1);
		ck_assert_uint_le(timerheap_peek(&h)->deadline, t[i].node.deadline);
	}
	while ((n = timerheap_pop_expired(&h, UINT64_MAX)) != NULL) {
		CHECK_HEAP(&h);
		ck_assert_uint_eq(n->index, TIMERHEAP_NONE);
		if (prev) {
			ck_assert_uint_le(prev->deadline, n->deadline);
			if (prev->deadline == n->deadline)
				ck_assert_int_lt(tmr_of(prev)->id, tmr_of(n)->id);
		}
		prev = n;
		popped++;
	}
	ck_assert_int_eq(popped, N);
	ck_assert_uint_eq(h.count, 0);
}
END_TEST

START_TEST(test_equal_deadlines_fifo)
{
	enum { N = 64 };
	struct timer_node *slots[N];
	struct tmr t[N];
	struct timerheap h;
	int order[N], i;

	timerheap_init(&h, slots, N);
	init_tmrs(t, N);
	/* Arm in a shuffled order; ties must fire in that order. */
	for (i = 0; i < N; i++)
		order[i] = i;
	rng_seed(7);
	for (i = N; i > 1; i--) {
		int j = (int)rng_below((uint64_t)i), x = order[i - 1];

		order[i - 1] = order[j];
		order[j] = x;
	}
	for (i = 0; i < N; i++)
		arm(&h, &t[order[i]], 1000);
	for (i = 0; i < N; i++) {
		struct timer_node *n = timerheap_pop_expired(&h, 1000);

		ck_assert_ptr_nonnull(n);
		ck_assert_int_eq(tmr_of(n)->id, order[i]);
		CHECK_HEAP(&h);
	}
	ck_assert_ptr_null(timerheap_pop_expired(&h, 1000));

	/* Re-arming puts a timer behind the others with its deadline. */
	arm(&h, &t[0], 50);
	arm(&h, &t[1], 50);
	arm(&h, &t[2], 50);
	ck_assert(timerheap_remove(&h, &t[0].node));
	arm(&h, &t[0], 50);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 50))->id, 1);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 50))->id, 2);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 50))->id, 0);
	ck_assert_ptr_null(timerheap_peek(&h));
}
END_TEST

START_TEST(test_pop_respects_now)
{
	struct timer_node *slots[8];
	struct tmr t[5];
	struct timerheap h;

	timerheap_init(&h, slots, 8);
	init_tmrs(t, 5);
	arm(&h, &t[0], 30);
	arm(&h, &t[1], 10);
	arm(&h, &t[2], 20);
	arm(&h, &t[3], 20);
	arm(&h, &t[4], 0);

	ck_assert_ptr_eq(timerheap_pop_expired(&h, 0), &t[4].node);
	ck_assert_ptr_null(timerheap_pop_expired(&h, 0));
	ck_assert_ptr_null(timerheap_pop_expired(&h, 9));
	ck_assert_ptr_eq(timerheap_peek(&h), &t[1].node);
	ck_assert_uint_eq(h.count, 4);	/* peek does not remove */
	ck_assert_ptr_eq(timerheap_pop_expired(&h, 10), &t[1].node);
	ck_assert_ptr_null(timerheap_pop_expired(&h, 19));
	ck_assert_ptr_eq(timerheap_pop_expired(&h, 25), &t[2].node);
	ck_assert_ptr_eq(timerheap_pop_expired(&h, 25), &t[3].node);
	ck_assert_ptr_null(timerheap_pop_expired(&h, 29));
	ck_assert_uint_eq(h.count, 1);
	ck_assert_ptr_eq(timerheap_pop_expired(&h, UINT64_MAX), &t[0].node);
	ck_assert_ptr_null(timerheap_pop_expired(&h, UINT64_MAX));
	CHECK_HEAP(&h);

	/* Extreme deadlines. */
	arm(&h, &t[0], UINT64_MAX);
	arm(&h, &t[1], 0);
	ck_assert_ptr_eq(timerheap_pop_expired(&h, UINT64_MAX - 1), &t[1].node);
	ck_assert_ptr_null(timerheap_pop_expired(&h, UINT64_MAX - 1));
	ck_assert_ptr_eq(timerheap_pop_expired(&h, UINT64_MAX), &t[0].node);
}
END_TEST

START_TEST(test_remove_middle)
{
	enum { N = 200 };
	struct timer_node *slots[N];
	static struct tmr t[N];
	static bool armed[N];
	struct timerheap h;
	struct timer_node *n, *prev = NULL;
	int i, left = N;

	timerheap_init(&h, slots, N);
	init_tmrs(t, N);
	rng_seed(99);
	for (i = 0; i < N; i++) {
		arm(&h, &t[i], rng_below(1000));
		armed[i] = true;
	}
	/* Remove timers sitting in interior and leaf slots, and the root. */
	for (i = 0; i < N / 2; i++) {
		int k = (int)rng_below(N);
		uint32_t idx = t[k].node.index;

		if (!armed[k]) {
			ck_assert_uint_eq(idx, TIMERHEAP_NONE);
			ck_assert(!timerheap_remove(&h, &t[k].node));
			continue;
		}
		ck_assert_ptr_eq(h.slots[idx], &t[k].node);
		ck_assert(timerheap_remove(&h, &t[k].node));
		ck_assert_uint_eq(t[k].node.index, TIMERHEAP_NONE);
		ck_assert(!timerheap_remove(&h, &t[k].node));
		armed[k] = false;
		left--;
		ck_assert_uint_eq(h.count, (uint32_t)left);
		CHECK_HEAP(&h);
	}
	n = timerheap_peek(&h);
	ck_assert(timerheap_remove(&h, n));
	armed[tmr_of(n)->id] = false;
	left--;
	CHECK_HEAP(&h);

	while ((n = timerheap_pop_expired(&h, UINT64_MAX)) != NULL) {
		ck_assert(armed[tmr_of(n)->id]);
		armed[tmr_of(n)->id] = false;
		if (prev)
			ck_assert(prev->deadline < n->deadline ||
				  (prev->deadline == n->deadline && prev->seq < n->seq));
		prev = n;
		left--;
		CHECK_HEAP(&h);
	}
	ck_assert_int_eq(left, 0);
}
END_TEST

START_TEST(test_remove_sift_up)
{
	/* Removing a node whose replacement (the last slot) is earlier than
	 * the removed node's parent requires sifting up, not down. */
	struct timer_node *slots[16];
	struct tmr t[7];
	struct timerheap h;

	timerheap_init(&h, slots, 16);
	init_tmrs(t, 7);
	/*        0
	 *     10    1
	 *   11  12 2  3      slot 6 holds deadline 3
	 */
	arm(&h, &t[0], 0);
	arm(&h, &t[1], 10);
	arm(&h, &t[2], 1);
	arm(&h, &t[3], 11);
	arm(&h, &t[4], 12);
	arm(&h, &t[5], 2);
	arm(&h, &t[6], 3);
	ck_assert_uint_eq(t[3].node.index, 3);
	ck_assert_uint_eq(t[6].node.index, 6);
	/* Remove deadline 11 (slot 3): last (3) moves there and must rise
	 * above its new parent (10). */
	ck_assert(timerheap_remove(&h, &t[3].node));
	CHECK_HEAP(&h);
	ck_assert_uint_eq(t[6].node.index, 1);
	ck_assert_uint_eq(t[1].node.index, 3);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 100))->id, 0);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 100))->id, 2);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 100))->id, 5);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 100))->id, 6);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 100))->id, 1);
	ck_assert_int_eq(tmr_of(timerheap_pop_expired(&h, 100))->id, 4);
	ck_assert_ptr_null(timerheap_pop_expired(&h, 100));
}
END_TEST

START_TEST(test_full_and_double_insert)
{
	struct timer_node *slots[4];
	struct timerheap h, other;
	struct timer_node *oslots[4];
	struct tmr t[6];
	uint64_t seq;
	int i;

	timerheap_init(&h, slots, 4);
	timerheap_init(&other, oslots, 4);
	init_tmrs(t, 6);
	for (i = 0; i < 4; i++)
		arm(&h, &t[i], (uint64_t)(100 - i));

	/* Full. */
	t[4].node.deadline = 1;
	ck_assert_int_eq(timerheap_insert(&h, &t[4].node), -1);
	ck_assert_uint_eq(t[4].node.index, TIMERHEAP_NONE);
	ck_assert_uint_eq(h.count, 4);
	ck_assert_ptr_eq(timerheap_peek(&h), &t[3].node);
	CHECK_HEAP(&h);

	/* Double insert, into the same heap and into another one. */
	seq = t[1].node.seq;
	ck_assert_int_eq(timerheap_insert(&h, &t[1].node), -1);
	ck_assert_int_eq(timerheap_insert(&other, &t[1].node), -1);
	ck_assert_uint_eq(t[1].node.seq, seq);
	ck_assert_uint_eq(other.count, 0);
	CHECK_HEAP(&h);

	/* Removing a timer armed in another heap fails and changes nothing. */
	arm(&other, &t[5], 7);
	ck_assert(!timerheap_remove(&h, &t[5].node));
	ck_assert_uint_eq(other.count, 1);
	ck_assert_uint_eq(h.count, 4);
	CHECK_HEAP(&h);
	CHECK_HEAP(&other);
	ck_assert(!timerheap_remove(&other, &t[0].node));
	ck_assert_uint_eq(t[0].node.index != TIMERHEAP_NONE, 1);

	/* Room again after a pop. */
	ck_assert_ptr_eq(timerheap_pop_expired(&h, 97), &t[3].node);
	ck_assert_int_eq(timerheap_insert(&h, &t[4].node), 0);
	ck_assert_ptr_eq(timerheap_peek(&h), &t[4].node);
	CHECK_HEAP(&h);
}
END_TEST

START_TEST(test_check_detects_corruption)
{
	struct timer_node *slots[8];
	struct tmr t[5];
	struct timerheap h;
	struct timer_node *x;
	int i;

	timerheap_init(&h, slots, 8);
	init_tmrs(t, 5);
	for (i = 0; i < 5; i++)
		arm(&h, &t[i], (uint64_t)(i * 10));

	/* Out of order. */
	x = h.slots[0];
	h.slots[0] = h.slots[1];
	h.slots[1] = x;
	h.slots[0]->index = 0;
	h.slots[1]->index = 1;
	ck_assert_int_eq(timerheap_check(&h), -1);
	x = h.slots[0];
	h.slots[0] = h.slots[1];
	h.slots[1] = x;
	h.slots[0]->index = 0;
	h.slots[1]->index = 1;
	CHECK_HEAP(&h);

	/* Stale back-pointer. */
	h.slots[3]->index = 4;
	ck_assert_int_eq(timerheap_check(&h), -1);
	h.slots[3]->index = 3;

	/* Equal keys are not allowed (seq must be unique). */
	h.slots[1]->seq = h.slots[0]->seq;
	h.slots[1]->deadline = h.slots[0]->deadline;
	ck_assert_int_eq(timerheap_check(&h), -1);
}
END_TEST

/*
 * Random churn against a reference model: an array of armed timers, where
 * the next to fire is found by a linear scan for the smallest
 * (deadline, insertion counter).
 */
START_TEST(test_churn_vs_model)
{
	enum { NT = 300, CAP = 256, OPS = 10000 };
	struct timer_node *slots[CAP];
	static struct tmr t[NT];
	static bool armed[NT];
	static uint64_t order_key[NT];	/* model's own insertion counter */
	struct timerheap h;
	uint64_t now = 0, counter = 0;
	uint32_t narmed = 0;
	int op, i;

	timerheap_init(&h, slots, CAP);
	init_tmrs(t, NT);
	memset(armed, 0, sizeof(armed));
	rng_seed(0xc0ffee + (uint64_t)_i);

	for (op = 0; op < OPS; op++) {
		int k = (int)rng_below(NT);
		uint64_t r = rng_below(100);
		int best = -1;

		/* The model's earliest armed timer. */
		for (i = 0; i < NT; i++) {
			if (!armed[i])
				continue;
			if (best < 0 ||
			    t[i].node.deadline < t[best].node.deadline ||
			    (t[i].node.deadline == t[best].node.deadline &&
			     order_key[i] < order_key[best]))
				best = i;
		}
		if (best < 0)
			ck_assert_ptr_null(timerheap_peek(&h));
		else
			ck_assert_ptr_eq(timerheap_peek(&h), &t[best].node);

		if (r < 45) {
			/* Insert (possibly already armed, possibly full). */
			int ret;

			if (!armed[k])
				t[k].node.deadline = now + rng_below(50);
			ret = timerheap_insert(&h, &t[k].node);
			if (armed[k] || narmed == CAP) {
				ck_assert_int_eq(ret, -1);
			} else {
				ck_assert_int_eq(ret, 0);
				armed[k] = true;
				order_key[k] = counter++;
				narmed++;
			}
		} else if (r < 65) {
			/* Remove (possibly unarmed). */
			bool was = armed[k];

			ck_assert_int_eq(timerheap_remove(&h, &t[k].node), was);
			if (was) {
				armed[k] = false;
				narmed--;
			}
		} else {
			/* Advance time a little and pop what expired. */
			struct timer_node *n;

			now += rng_below(4);
			n = timerheap_pop_expired(&h, now);
			if (best >= 0 && t[best].node.deadline <= now) {
				ck_assert_ptr_eq(n, &t[best].node);
				armed[best] = false;
				narmed--;
			} else {
				ck_assert_ptr_null(n);
			}
		}
		ck_assert_uint_eq(h.count, narmed);
		/* Plain loop: every ck_assert costs a write in Check. */
		for (i = 0; i < NT; i++)
			if ((t[i].node.index != TIMERHEAP_NONE) != armed[i])
				break;
		ck_assert_msg(i == NT, "timer %d armed state wrong at op %d", i, op);
		ck_assert_msg(timerheap_check(&h) == 0, "check failed at op %d", op);
	}
}
END_TEST

static Suite *timerheap_suite(void)
{
	Suite *s = suite_create("timerheap");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_empty);
	tcase_add_loop_test(tc, test_random_order, 0, 2);
	tcase_add_test(tc, test_equal_deadlines_fifo);
	tcase_add_test(tc, test_pop_respects_now);
	tcase_add_test(tc, test_remove_middle);
	tcase_add_test(tc, test_remove_sift_up);
	tcase_add_test(tc, test_full_and_double_insert);
	tcase_add_test(tc, test_check_detects_corruption);
	tcase_add_loop_test(tc, test_churn_vs_model, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(timerheap_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
