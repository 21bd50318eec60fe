/*
 * kheap.c - kernel object caches over the slab core and the buddy allocator.
 *
 * Every page a cache takes from the buddy allocator is tagged (pmm_set_tag)
 * with the cache's number, so kfree(p) finds p's cache from the page alone.
 * kmalloc: sizes up to 8 KiB come from power-of-two caches; larger requests
 * are whole buddy blocks tagged KHEAP_TAG_LARGE | order.
 *
 * Locking: each cache's own spinlock (irqsave); caches_lock guards the table
 * of caches.
 */
#include <kernel/buddy.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <rill/string.h>

#define KMALLOC_MIN_SHIFT	4
#define KMALLOC_MAX_SHIFT	13
#define NKMALLOC		(KMALLOC_MAX_SHIFT - KMALLOC_MIN_SHIFT + 1)
#define MAX_CACHES		128
#define TAG_CACHE		0x4b430000u	/* "KC" | cache index */
#define TAG_LARGE		0x4b4c0000u	/* "KL" | order */
#define TAG_KIND(t)		((t) & 0xffff0000u)
#define TAG_VALUE(t)		((t) & 0xffffu)

struct cache_slot {
	struct kmem_cache cache;
	struct slab_page_source src;
	uint32_t tag;
	bool used;
};

static struct cache_slot slots[MAX_CACHES];
static spinlock_t caches_lock = SPINLOCK_INIT;
static uint64_t large_pages;
static const char *const kmalloc_names[NKMALLOC] = {
	"kmalloc-16", "kmalloc-32", "kmalloc-64", "kmalloc-128", "kmalloc-256",
	"kmalloc-512", "kmalloc-1k", "kmalloc-2k", "kmalloc-4k", "kmalloc-8k",
};

static void *heap_alloc_pages(unsigned order, void *ctx)
{
	const struct cache_slot *s = ctx;
	paddr_t pa = pmm_alloc(order);

	if (!pa)
		return NULL;
	pmm_set_tag(pa, (size_t)1 << order, s->tag);
	return phys_to_virt(pa);
}

static void heap_free_pages(void *addr, unsigned order, void *ctx)
{
	paddr_t pa = virt_to_phys(addr);

	pmm_set_tag(pa, (size_t)1 << order, 0);
	pmm_free(pa, order);
}

struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align)
{
	irqflags_t f = spin_lock_irqsave(&caches_lock);
	struct cache_slot *s = NULL;
	unsigned i;

	for (i = 0; i < MAX_CACHES; i++) {
		if (!slots[i].used) {
			s = &slots[i];
			s->used = true;
			break;
		}
	}
	spin_unlock_irqrestore(&caches_lock, f);
	if (!s) {
		pr_err("kheap: no room for cache %s", name);
		return NULL;
	}
	s->tag = TAG_CACHE | i;
	s->src = (struct slab_page_source){ heap_alloc_pages, heap_free_pages, s };
	spin_init(&s->cache.lock);
	if (slab_cache_init(&s->cache.slab, name, size, align, &s->src) < 0) {
		s->used = false;
		return NULL;
	}
	return &s->cache;
}

void *kmem_cache_alloc(struct kmem_cache *c)
{
	irqflags_t f = spin_lock_irqsave(&c->lock);
	void *p = slab_alloc(&c->slab);

	spin_unlock_irqrestore(&c->lock, f);
	return p;
}

void *kmem_cache_zalloc(struct kmem_cache *c)
{
	void *p = kmem_cache_alloc(c);

	if (p)
		memset(p, 0, c->slab.obj_size);
	return p;
}

void kmem_cache_free(struct kmem_cache *c, void *obj)
{
	irqflags_t f;
	int r;

	if (!obj)
		return;
	f = spin_lock_irqsave(&c->lock);
	r = slab_free(&c->slab, obj);
	spin_unlock_irqrestore(&c->lock, f);
	if (r)
		panic("kmem_cache_free(%s, %p): not a live object of this cache",
		      c->slab.name, obj);
}

uint64_t kmem_cache_in_use(struct kmem_cache *c)
{
	return READ_ONCE(c->slab.in_use);
}

void kheap_init(void)
{
	for (unsigned i = 0; i < NKMALLOC; i++)
		if (!kmem_cache_create(kmalloc_names[i], (size_t)1 << (KMALLOC_MIN_SHIFT + i), 0))
			panic("kheap: cannot create %s", kmalloc_names[i]);
}

void *kmalloc(size_t size)
{
	unsigned shift = KMALLOC_MIN_SHIFT, order = 0;
	paddr_t pa;

	if (size == 0)
		size = 1;
	if (size <= ((size_t)1 << KMALLOC_MAX_SHIFT)) {
		while (((size_t)1 << shift) < size)
			shift++;
		/* The kmalloc caches are the first NKMALLOC slots. */
		return kmem_cache_alloc(&slots[shift - KMALLOC_MIN_SHIFT].cache);
	}
	while ((PAGE_SIZE << order) < size)
		if (++order >= BUDDY_MAX_ORDER)
			return NULL;
	pa = pmm_alloc(order);
	if (!pa)
		return NULL;
	pmm_set_tag(pa, (size_t)1 << order, TAG_LARGE | order);
	__atomic_fetch_add(&large_pages, (uint64_t)1 << order, __ATOMIC_RELAXED);
	return phys_to_virt(pa);
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);

	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	uintptr_t v = (uintptr_t)p;
	uint32_t tag;

	if (!p)
		return;
	if (v < DIRECT_MAP_BASE || v >= DIRECT_MAP_BASE + DIRECT_MAP_SIZE)
		panic("kfree(%p): not a heap pointer", p);
	tag = pmm_get_tag(virt_to_phys(p));
	if (TAG_KIND(tag) == TAG_CACHE && TAG_VALUE(tag) < MAX_CACHES) {
		kmem_cache_free(&slots[TAG_VALUE(tag)].cache, p);
	} else if (TAG_KIND(tag) == TAG_LARGE && TAG_VALUE(tag) < BUDDY_MAX_ORDER &&
		   IS_ALIGNED(v, PAGE_SIZE << TAG_VALUE(tag))) {
		unsigned order = TAG_VALUE(tag);

		pmm_set_tag(virt_to_phys(p), (size_t)1 << order, 0);
		__atomic_fetch_sub(&large_pages, (uint64_t)1 << order, __ATOMIC_RELAXED);
		pmm_free(virt_to_phys(p), order);
	} else {
		panic("kfree(%p): not a heap pointer (tag %x)", p, tag);
	}
}

void kheap_get_stats(struct kheap_stats *st)
{
	st->objects_in_use = 0;
	st->slab_pages = 0;
	for (unsigned i = 0; i < MAX_CACHES; i++) {
		if (!READ_ONCE(slots[i].used))
			continue;
		irqflags_t f = spin_lock_irqsave(&slots[i].cache.lock);
		st->objects_in_use += slots[i].cache.slab.in_use;
		st->slab_pages += slots[i].cache.slab.nslabs << slots[i].cache.slab.slab_order;
		spin_unlock_irqrestore(&slots[i].cache.lock, f);
	}
	st->large_pages = READ_ONCE(large_pages);
}

void kheap_dump(void)
{
	for (unsigned i = 0; i < MAX_CACHES; i++) {
		const struct slab_cache *s = &slots[i].cache.slab;

		if (!READ_ONCE(slots[i].used))
			continue;
		pr_info("kheap: %-14s size %5zu in use %6lu slabs %4lu (order %u)",
			s->name, s->obj_size, s->in_use, s->nslabs, s->slab_order);
	}
}
