/*
 * radix.c - the sparse page array of memory objects (see radix.h).
 *
 * Levels are numbered from the leaves: a leaf node is level 0 and holds
 * values; an entry of a level-l node spans 512^l indexes, and the root is
 * level depth - 1. Index bits [9l, 9l + 9) pick the entry at level l.
 */
#include <kernel/radix.h>

static size_t root_bytes(const struct radix_tree *t)
{
	return t->root_entries * sizeof(uint64_t);
}

static uint64_t *node_at(uint64_t entry)
{
	return (uint64_t *)(uintptr_t)entry;
}

static unsigned slot_of(uint64_t index, unsigned level)
{
	return (unsigned)((index >> (RADIX_SHIFT * level)) & RADIX_MASK);
}

int radix_init(struct radix_tree *t, uint64_t capacity, const struct radix_alloc *a)
{
	uint64_t span = 1;	/* indexes one root entry spans */
	unsigned depth = 1;

	t->root = NULL;
	t->alloc = a;
	t->capacity = capacity;
	if (capacity == 0 || capacity >> 63)
		return -1;
	while (capacity > span * RADIX_FANOUT) {
		span <<= RADIX_SHIFT;
		depth++;
	}
	t->depth = depth;
	t->root_entries = (unsigned)((capacity + span - 1) / span);
	t->root = a->alloc(root_bytes(t), a->ctx);
	return t->root ? 0 : -1;
}

/* Free the node n of level l (nent entries, the first at index base) and
 * everything below it. One frame per level. */
static void free_node(struct radix_tree *t, uint64_t *n, unsigned l, uint64_t base,
		      unsigned nent, void (*put)(uint64_t, uint64_t, void *), void *arg)
{
	for (unsigned k = 0; k < nent; k++) {
		uint64_t index = base + ((uint64_t)k << (RADIX_SHIFT * l));

		if (!n[k])
			continue;
		if (l > 0)
			free_node(t, node_at(n[k]), l - 1, index, RADIX_FANOUT, put, arg);
		else if (put)
			put(index, n[k], arg);
	}
	t->alloc->free(n, l == t->depth - 1 ? root_bytes(t) : RADIX_NODE_BYTES, t->alloc->ctx);
}

void radix_destroy(struct radix_tree *t, void (*put)(uint64_t index, uint64_t value, void *arg),
		   void *arg)
{
	if (!t->root)
		return;
	free_node(t, t->root, t->depth - 1, 0, t->root_entries, put, arg);
	t->root = NULL;
}

uint64_t *radix_slot(struct radix_tree *t, uint64_t index)
{
	uint64_t *n = t->root;

	for (unsigned l = t->depth - 1; l > 0; l--) {
		uint64_t *e = &n[slot_of(index, l)];

		if (!*e) {
			void *child = t->alloc->alloc(RADIX_NODE_BYTES, t->alloc->ctx);

			if (!child)
				return NULL;
			*e = (uintptr_t)child;
		}
		n = node_at(*e);
	}
	return &n[index & RADIX_MASK];
}

static bool node_empty(const uint64_t *n)
{
	for (unsigned k = 0; k < RADIX_FANOUT; k++)
		if (n[k])
			return false;
	return true;
}

uint64_t radix_erase(struct radix_tree *t, uint64_t index)
{
	uint64_t *path[RADIX_MAX_DEPTH];	/* path[l]: the node of level l */
	uint64_t *n = t->root, old;
	unsigned l;

	for (l = t->depth - 1; l > 0; l--) {
		path[l] = n;
		n = node_at(n[slot_of(index, l)]);
		if (!n)
			return 0;
	}
	old = n[index & RADIX_MASK];
	n[index & RADIX_MASK] = 0;
	/* Bottom up, free what is left empty; the root always stays. The
	 * scan is one node per level, only when erasing. */
	for (l = 1; l < t->depth && node_empty(n); l++) {
		t->alloc->free(n, RADIX_NODE_BYTES, t->alloc->ctx);
		n = path[l];
		n[slot_of(index, l)] = 0;
	}
	return old;
}

int radix_walk(const struct radix_tree *t, uint64_t *pos, unsigned budget, radix_fn fn,
	       void *arg)
{
	uint64_t *path[RADIX_MAX_DEPTH];	/* path[l]: the node of level l */
	uint64_t i = *pos;
	unsigned top = t->depth - 1, l = top;

	/* Node pointers are kept within this call only: between calls the
	 * tree may change, so the next call starts again from the root. */
	path[top] = t->root;
	if (budget < t->depth)
		budget = t->depth;	/* enough to reach one leaf slot */
	while (i < t->capacity) {
		uint64_t *s = &path[l][slot_of(i, l)];
		uint64_t span = 1ull << (RADIX_SHIFT * l);
		int r;

		if (!budget--)
			break;
		if (l == 0) {
			if (*s && (r = fn(i, s, arg)) < 0) {
				*pos = i;
				return r;
			}
			if ((++i & RADIX_MASK) == 0)
				break;	/* a leaf's end */
		} else if (*s) {
			path[--l] = node_at(*s);
		} else {
			/* Nothing below this entry: skip its span, and climb
			 * out of every node that span closed. */
			i = (i & ~(span - 1)) + span;
			while (l < top && slot_of(i, l) == 0)
				l++;
		}
	}
	if (i >= t->capacity) {
		*pos = t->capacity;
		return 1;
	}
	*pos = i;
	return 0;
}
