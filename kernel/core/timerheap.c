/*
 * timerheap.c - binary min-heap of timers, keyed by (deadline, seq).
 *
 * h->slots[0 .. h->count) is an implicit binary tree: the children of slot i
 * are 2i+1 and 2i+2. Each armed timer knows its slot in t->index, which makes
 * removing an arbitrary timer O(log n); an unarmed timer has index
 * TIMERHEAP_NONE.
 *
 * Invariants (checked by timerheap_check):
 *  - count <= capacity < TIMERHEAP_NONE;
 *  - slots[i]->index == i for every i < count;
 *  - no slot is earlier than its parent: key(parent) < key(child), where
 *    key = (deadline, seq) compared lexicographically; seq is unique (taken
 *    from h->next_seq at insertion), so equal deadlines fire in insertion
 *    order and no two keys are equal.
 *
 * A timer's deadline must not change while it is armed: remove it, change
 * the deadline, insert it again.
 *
 * Locking: none. timer.c holds the per-CPU queue lock around every call.
 */
#include <kernel/timerheap.h>

static inline bool timer_before(const struct timer_node *a,
				const struct timer_node *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static inline void timerheap_place(struct timerheap *h, uint32_t i,
				   struct timer_node *t)
{
	h->slots[i] = t;
	t->index = i;
}

/* Move t up from slot i until its parent is earlier. */
static void timerheap_sift_up(struct timerheap *h, uint32_t i,
			      struct timer_node *t)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!timer_before(t, h->slots[parent]))
			break;
		timerheap_place(h, i, h->slots[parent]);
		i = parent;
	}
	timerheap_place(h, i, t);
}

/* Move t down from slot i until no child is earlier. */
static void timerheap_sift_down(struct timerheap *h, uint32_t i,
				struct timer_node *t)
{
	for (;;) {
		uint64_t left = (uint64_t)i * 2 + 1;
		uint32_t child;

		if (left >= h->count)
			break;
		child = (uint32_t)left;
		if (child + 1 < h->count &&
		    timer_before(h->slots[child + 1], h->slots[child]))
			child++;
		if (!timer_before(h->slots[child], t))
			break;
		timerheap_place(h, i, h->slots[child]);
		i = child;
	}
	timerheap_place(h, i, t);
}

void timerheap_init(struct timerheap *h, struct timer_node **slots,
		    uint32_t capacity)
{
	h->slots = slots;
	/* TIMERHEAP_NONE is not a valid index. */
	h->capacity = capacity < TIMERHEAP_NONE ? capacity : TIMERHEAP_NONE - 1;
	h->count = 0;
	h->next_seq = 0;
}

void timer_node_init(struct timer_node *t)
{
	t->deadline = 0;
	t->seq = 0;
	t->index = TIMERHEAP_NONE;
}

int timerheap_insert(struct timerheap *h, struct timer_node *t)
{
	if (t->index != TIMERHEAP_NONE || h->count >= h->capacity)
		return -1;
	t->seq = h->next_seq++;
	h->count++;
	timerheap_sift_up(h, h->count - 1, t);
	return 0;
}

/* Remove the timer in slot i and fill the hole with the last timer. */
static void timerheap_remove_at(struct timerheap *h, uint32_t i)
{
	struct timer_node *t = h->slots[i];
	struct timer_node *last;

	h->count--;
	last = h->slots[h->count];
	h->slots[h->count] = NULL;
	t->index = TIMERHEAP_NONE;
	if (i == h->count)
		return;
	/* last may belong above or below slot i. */
	if (i > 0 && timer_before(last, h->slots[(i - 1) / 2]))
		timerheap_sift_up(h, i, last);
	else
		timerheap_sift_down(h, i, last);
}

bool timerheap_remove(struct timerheap *h, struct timer_node *t)
{
	uint32_t i = t->index;

	/* Not armed, or armed in another heap. */
	if (i == TIMERHEAP_NONE || i >= h->count || h->slots[i] != t)
		return false;
	timerheap_remove_at(h, i);
	return true;
}

struct timer_node *timerheap_peek(const struct timerheap *h)
{
	return h->count ? h->slots[0] : NULL;
}

struct timer_node *timerheap_pop_expired(struct timerheap *h, uint64_t now)
{
	struct timer_node *t;

	if (h->count == 0 || h->slots[0]->deadline > now)
		return NULL;
	t = h->slots[0];
	timerheap_remove_at(h, 0);
	return t;
}

int timerheap_check(const struct timerheap *h)
{
	uint32_t i;

	if (h->count > h->capacity || h->capacity >= TIMERHEAP_NONE)
		return -1;
	if (h->count && !h->slots)
		return -1;
	for (i = 0; i < h->count; i++) {
		const struct timer_node *t = h->slots[i];

		if (!t || t->index != i || t->seq >= h->next_seq)
			return -1;
		if (i > 0 && !timer_before(h->slots[(i - 1) / 2], t))
			return -1;
	}
	return 0;
}
