/*
 * slab.h - fixed-size object caches.
 *
 * A cache hands out objects of one size from slabs of 2^slab_order pages,
 * which it gets from a page source (the buddy allocator in the kernel, an
 * aligned malloc in host tests). Portable: no locking here; the kernel's
 * kmem layer (kheap.c) wraps each cache in a spinlock.
 *
 * Each slab starts with a struct slab header followed by the objects; free
 * objects in a slab form a singly-linked list through their first word.
 * Slabs are on one of three lists: full, partial, empty. At most one empty
 * slab is kept per cache; further empty slabs go back to the page source.
 * An object's slab is found by rounding its address down to the slab size,
 * so slabs must be aligned to their size (the page source guarantees it).
 */
#ifndef KERNEL_SLAB_H
#define KERNEL_SLAB_H

#include <kernel/list.h>
#include <kernel/types.h>

struct slab_page_source {
	/* Returns 2^order contiguous pages aligned to their size, or NULL. */
	void *(*alloc_pages)(unsigned order, void *ctx);
	void (*free_pages)(void *addr, unsigned order, void *ctx);
	void *ctx;
};

struct slab_cache {
	const char *name;
	size_t obj_size;	/* bytes per object, rounded up to align */
	size_t align;		/* object alignment, power of two, >= 8 */
	unsigned slab_order;	/* each slab is 2^slab_order pages */
	unsigned objs_per_slab;
	struct list_head full, partial, empty;
	const struct slab_page_source *src;
	/* statistics, for tests and the kernel's counters */
	uint64_t nslabs;	/* slabs currently held */
	uint64_t in_use;	/* objects handed out and not freed */
	uint64_t total_allocs;	/* objects ever handed out */
};

/* Set up a cache for objects of size bytes aligned to align (0 means 8; 1, 2
 * and 4 are raised to 8). slab_order is the smallest order giving at least 8
 * objects per slab with at most 1/8 of it wasted, or else the order that
 * wastes least. Returns 0, or -1 (logged) when size or align is unusable (0,
 * or too big for a slab of 2^(BUDDY_MAX_ORDER-1) pages, or align not a power
 * of two) or src is NULL. */
int slab_cache_init(struct slab_cache *c, const char *name, size_t size,
		    size_t align, const struct slab_page_source *src);

/* NULL when the page source is exhausted. The memory is not zeroed. */
void *slab_alloc(struct slab_cache *c);

/* Return an object to its cache. Freeing NULL does nothing. Returns 0, or -1
 * (logged, nothing changed) when obj does not belong to the cache or is
 * misaligned within its slab or already free (detected where cheap: a poison
 * word in freed objects of 16 bytes or more). obj must lie in memory that is
 * readable at its slab-size-aligned base; any pointer into a slab is. */
int slab_free(struct slab_cache *c, void *obj);

/* Give every empty slab back to the page source. */
void slab_shrink(struct slab_cache *c);

/* Check the lists and counts. 0 when consistent. */
int slab_check(const struct slab_cache *c);

#endif
