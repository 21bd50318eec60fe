/*
 * radix.h - a sparse array of 64-bit values indexed by a page number: a
 * radix tree of 512-entry nodes, made for the pages of memory objects.
 *
 * The depth is fixed when the tree is made, from its capacity: one level
 * indexes 512 entries (2 MiB of 4 KiB pages), two 2^18 (1 GiB), three
 * 2^27 (512 GiB). The root holds only the entries the capacity needs (one
 * entry for a one-page object, 64 for a 64 GiB one), so a small tree costs
 * what a flat array would; every node below the root is a full 4 KiB
 * page, made when the first value under it is set. An absent node means
 * its whole span is absent.
 *
 * Values are nonzero (0 is "absent"); interior entries point to nodes.
 * Portable (host-tested, tests/host/test_radix.c): nodes come from the
 * caller's allocator and nothing here locks; the owner serialises changes
 * against lookups and walks. A walk resumes from an index, never from a
 * node, so the tree may change between two calls.
 */
#ifndef KERNEL_RADIX_H
#define KERNEL_RADIX_H

#include <kernel/types.h>

#define RADIX_SHIFT	9
#define RADIX_FANOUT	(1u << RADIX_SHIFT)	/* entries of a full node */
#define RADIX_MASK	((uint64_t)RADIX_FANOUT - 1)
#define RADIX_NODE_BYTES (RADIX_FANOUT * sizeof(uint64_t))	/* a page */
#define RADIX_MAX_DEPTH	7			/* 63 index bits */

struct radix_alloc {
	/* bytes of zeroed memory, 8-byte aligned: RADIX_NODE_BYTES for any
	 * node but the root, which may be smaller. NULL when out of memory. */
	void *(*alloc)(size_t bytes, void *ctx);
	/* Gets back what alloc returned, with the same bytes. */
	void (*free)(void *p, size_t bytes, void *ctx);
	void *ctx;
};

struct radix_tree {
	uint64_t *root;		/* NULL before radix_init succeeds */
	uint64_t capacity;	/* indexes [0, capacity) */
	unsigned depth;		/* levels, the root's included: 1.. */
	unsigned root_entries;
	const struct radix_alloc *alloc;
};

/* Called for each present value, with its slot (which it may change).
 * 0 goes on; a negative value stops the walk. */
typedef int (*radix_fn)(uint64_t index, uint64_t *slot, void *arg);

/* A tree for indexes [0, capacity), capacity in [1, 2^63). 0, or -1 when
 * the root cannot be allocated (t->root stays NULL). */
int radix_init(struct radix_tree *t, uint64_t capacity, const struct radix_alloc *a);

/*
 * Free every node, calling put (unless NULL) on each present value first.
 * Recursion is one frame per level (at most RADIX_MAX_DEPTH, 3 for the
 * largest memory object). A tree whose init failed is left alone.
 */
void radix_destroy(struct radix_tree *t, void (*put)(uint64_t index, uint64_t value, void *arg),
		   void *arg);

/* The slot of index (< capacity), or NULL when no node holds it yet (the
 * value is then absent). Inline: this is the page-fault path, one load per
 * level (a single indexed load for trees of up to 512 entries). */
static inline uint64_t *radix_lookup(const struct radix_tree *t, uint64_t index)
{
	uint64_t *n = t->root;

	for (unsigned l = t->depth - 1; l > 0; l--) {
		n = (uint64_t *)(uintptr_t)n[(index >> (RADIX_SHIFT * l)) & RADIX_MASK];
		if (!n)
			return NULL;
	}
	return &n[index & RADIX_MASK];
}

/* The slot of index (< capacity), making the nodes on the way as needed;
 * NULL when out of memory (nodes made before the failure stay: they are
 * freed with the tree). */
uint64_t *radix_slot(struct radix_tree *t, uint64_t index);

/* Clear index, returning the value it held (0 if none); nodes left
 * without any value are freed (the root stays). */
uint64_t radix_erase(struct radix_tree *t, uint64_t index);

/*
 * Visit the present values at indexes >= *pos in increasing order,
 * skipping absent nodes whole. Work is bounded: every slot read, interior
 * or leaf, present or not, uses one unit of budget, and the walk also
 * returns after the last slot of each leaf node, so all the values one
 * call visits lie in one aligned block of 512 indexes. A budget below the
 * depth counts as the depth, so that every call makes progress.
 *
 * Returns 1 when the end was reached (*pos = capacity), 0 when stopped by
 * the budget or a leaf's end (*pos = the first index not examined: call
 * again from there), or fn's negative result (*pos = that value's index).
 */
int radix_walk(const struct radix_tree *t, uint64_t *pos, unsigned budget, radix_fn fn,
	       void *arg);

#endif
