/*
 * kheap.h - the kernel heap: named fixed-size object caches, and kmalloc
 * built on power-of-two caches (16 B .. 8 KiB; larger requests take whole
 * pages from the buddy allocator).
 *
 * Every cache is locked by its own irqsave spinlock, so allocation works in
 * any context. Counters per cache are kept for leak tests.
 */
#ifndef KERNEL_KHEAP_H
#define KERNEL_KHEAP_H

#include <kernel/list.h>
#include <kernel/slab.h>
#include <kernel/spinlock.h>

struct kmem_cache {
	struct slab_cache slab;
	spinlock_t lock;
	struct list_head link;		/* on the list of all caches */
};

void kheap_init(void);

/* Create a named cache; NULL when size/align are unusable. */
struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align);
void *kmem_cache_alloc(struct kmem_cache *c);
void *kmem_cache_zalloc(struct kmem_cache *c);
void kmem_cache_free(struct kmem_cache *c, void *obj);
/* Objects currently allocated from this cache. */
uint64_t kmem_cache_in_use(struct kmem_cache *c);

void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);

struct kheap_stats {
	uint64_t objects_in_use;	/* over all caches */
	uint64_t slab_pages;		/* pages held by all caches */
	uint64_t large_pages;		/* pages of large kmalloc blocks */
};
void kheap_get_stats(struct kheap_stats *st);

/* Log every cache's counters. */
void kheap_dump(void);

#endif
