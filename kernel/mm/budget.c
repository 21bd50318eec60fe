/*
 * budget.c - kernel-memory budgets (see budget.h).
 */
#include <kernel/budget.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>

struct budget budget_root = { .refs = 1, .id = 1 };
static uint64_t next_id = 2;

void budget_init(uint64_t bytes)
{
	budget_root.limit = bytes;
}

int budget_charge(struct budget *b, uint64_t bytes)
{
	uint64_t used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);

	do {
		if (bytes > b->limit - used)
			return -ENOMEM;
	} while (!__atomic_compare_exchange_n(&b->used, &used, used + bytes, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}

void budget_uncharge(struct budget *b, uint64_t bytes)
{
	__atomic_fetch_sub(&b->used, bytes, __ATOMIC_RELAXED);
}

struct budget *budget_carve(struct budget *parent, uint64_t bytes, int *err)
{
	struct budget *b;

	*err = bytes > parent->limit ? -ENOMEM : budget_charge(parent, bytes + sizeof(*b));
	if (*err)
		return NULL;
	b = kzalloc(sizeof(*b));
	if (!b) {
		budget_uncharge(parent, bytes + sizeof(*b));
		*err = -ENOMEM;
		return NULL;
	}
	b->limit = bytes;
	b->refs = 1;
	b->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	b->parent = parent;
	budget_get(parent);
	return b;
}

/* Budgets are freed iteratively: a carved budget's last put gives its
 * bytes back and drops its parent, which may be the parent's last. */
void budget_put(struct budget *b)
{
	while (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		struct budget *parent = b->parent;

		if (!parent)
			return;		/* the root is never freed */
		budget_uncharge(parent, b->limit + sizeof(*b));
		kfree(b);
		b = parent;
	}
}
