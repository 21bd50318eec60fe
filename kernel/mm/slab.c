/*
 * slab.c - fixed-size object caches on top of a page source.
 *
 * A slab is 2^c->slab_order pages, aligned to its size, laid out as
 *
 *   offset 0                 struct slab (40 bytes, below)
 *   offset slab_obj_offset   object 0, object 1, ... object objs_per_slab-1
 *                            (each c->obj_size bytes, c->align aligned)
 *   the rest                 unused tail (kept small by slab_choose_order)
 *
 * where slab_obj_offset(c) = ALIGN_UP(sizeof(struct slab), c->align).
 *
 * struct slab, the in-slab header (x86-64 offsets):
 *    0  struct list_head link   on c->full, c->partial or c->empty
 *   16  struct slab_cache *cache  owning cache; a pointer from another cache
 *                                 or from no slab at all fails this check
 *   24  void *free               first free object, NULL when the slab is full
 *   32  uint32_t in_use          objects of this slab handed out
 *   36  uint32_t magic           SLAB_MAGIC while the slab is live
 *
 * A free object holds the next free object of its slab in its first word
 * and, when obj_size >= 16, SLAB_POISON in its second word. slab_alloc
 * clears the poison, so a free of an object whose second word still holds
 * SLAB_POISON is most likely a double free; the slab's free list is then
 * walked to be sure, so a live object that happens to contain the poison
 * value is still freed correctly. For 8-byte objects only the cheap cases
 * are caught (the object heads the free list, or the slab has nothing in
 * use).
 *
 * Invariants (checked by slab_check):
 *  - a slab is on c->full iff in_use == objs_per_slab, on c->empty iff
 *    in_use == 0, on c->partial otherwise;
 *  - a slab's free list holds exactly objs_per_slab - in_use distinct
 *    objects of its object area;
 *  - c->in_use is the sum of the slabs' in_use, c->nslabs their number;
 *  - at most one slab is empty: a slab that becomes empty while another
 *    is kept goes back to the page source at once.
 *
 * Locking: none. The caller (kheap.c) holds the cache's lock around every
 * call, including slab_check.
 */
#include <kernel/buddy.h>
#include <kernel/log.h>
#include <kernel/slab.h>

#define SLAB_MAGIC	0x51ab51abu
#define SLAB_POISON	0x5ab1f4ee0ddf4ee5ull	/* second word of a free object */
#define SLAB_MIN_OBJS	8	/* objects per slab to aim for */
#define SLAB_MAX_ORDER	(BUDDY_MAX_ORDER - 1)

struct slab {
	struct list_head link;
	struct slab_cache *cache;
	void *free;
	uint32_t in_use;
	uint32_t magic;
};

_Static_assert(sizeof(struct slab) == 40, "slab header layout changed");

static inline const char *slab_name(const struct slab_cache *c)
{
	return c->name ? c->name : "?";
}

static inline size_t slab_bytes(const struct slab_cache *c)
{
	return PAGE_SIZE << c->slab_order;
}

static inline size_t slab_obj_offset(size_t align)
{
	return ALIGN_UP(sizeof(struct slab), align);
}

static inline char *slab_objs(const struct slab_cache *c, struct slab *s)
{
	return (char *)s + slab_obj_offset(c->align);
}

static inline bool slab_poisons(const struct slab_cache *c)
{
	return c->obj_size >= 2 * sizeof(void *);
}

static inline void *slab_next_free(void *obj)
{
	return *(void **)obj;
}

static inline uint64_t *slab_poison_word(void *obj)
{
	return (uint64_t *)obj + 1;
}

/* Objects that fit in a slab of 2^order pages, 0 when none does. */
static size_t slab_fit(size_t size, size_t align, unsigned order)
{
	size_t bytes = PAGE_SIZE << order;
	size_t off = slab_obj_offset(align);

	if (off >= bytes)
		return 0;
	return (bytes - off) / size;
}

/*
 * Pick the slab order: the smallest one holding at least SLAB_MIN_OBJS
 * objects with at most 1/8 of the slab wasted (header and tail). Objects
 * too big for that get the order with the smallest waste ratio. Returns -1
 * when not even one object fits in the largest slab.
 */
static int slab_choose_order(size_t size, size_t align)
{
	size_t best_waste = 0, best_bytes = 1;
	int best = -1;
	unsigned order;

	for (order = 0; order <= SLAB_MAX_ORDER; order++) {
		size_t bytes = PAGE_SIZE << order;
		size_t n = slab_fit(size, align, order);
		size_t waste = bytes - n * size;

		if (n == 0)
			continue;
		if (n >= SLAB_MIN_OBJS && waste * 8 <= bytes)
			return (int)order;
		/* waste / bytes < best_waste / best_bytes, without division */
		if (best < 0 || waste * best_bytes < best_waste * bytes) {
			best = (int)order;
			best_waste = waste;
			best_bytes = bytes;
		}
	}
	return best;
}

int slab_cache_init(struct slab_cache *c, const char *name, size_t size,
		    size_t align, const struct slab_page_source *src)
{
	size_t max_bytes = PAGE_SIZE << SLAB_MAX_ORDER;
	int order;

	if (align == 0)
		align = 8;
	if (align & (align - 1))
		goto bad;
	if (align < 8)
		align = 8;
	/* Bounds first, so the rounding below cannot overflow. */
	if (size == 0 || size > max_bytes || align > max_bytes || !src)
		goto bad;
	size = ALIGN_UP(size, align);
	order = slab_choose_order(size, align);
	if (order < 0)
		goto bad;

	c->name = name;
	c->obj_size = size;
	c->align = align;
	c->slab_order = (unsigned)order;
	c->objs_per_slab = (unsigned)slab_fit(size, align, (unsigned)order);
	list_init(&c->full);
	list_init(&c->partial);
	list_init(&c->empty);
	c->src = src;
	c->nslabs = 0;
	c->in_use = 0;
	c->total_allocs = 0;
	return 0;

bad:
	pr_err("slab: cache %s: unusable size %zu / align %zu",
	       name ? name : "?", size, align);
	return -1;
}

/* Get pages for a new slab and thread every object on its free list. */
static struct slab *slab_grow(struct slab_cache *c)
{
	struct slab *s;
	char *obj;
	unsigned i;

	s = c->src->alloc_pages(c->slab_order, c->src->ctx);
	if (!s)
		return NULL;
	if (!IS_ALIGNED((uintptr_t)s, slab_bytes(c))) {
		pr_err("slab: cache %s: page source returned misaligned %p",
		       slab_name(c), (void *)s);
		c->src->free_pages(s, c->slab_order, c->src->ctx);
		return NULL;
	}

	s->cache = c;
	s->in_use = 0;
	s->magic = SLAB_MAGIC;
	s->free = NULL;
	/* Build the list backwards so objects go out in address order. */
	obj = slab_objs(c, s) + (size_t)c->objs_per_slab * c->obj_size;
	for (i = 0; i < c->objs_per_slab; i++) {
		obj -= c->obj_size;
		*(void **)obj = s->free;
		if (slab_poisons(c))
			*slab_poison_word(obj) = SLAB_POISON;
		s->free = obj;
	}
	list_add(&c->empty, &s->link);
	c->nslabs++;
	return s;
}

static void slab_destroy(struct slab_cache *c, struct slab *s)
{
	list_del(&s->link);
	s->magic = 0;
	s->cache = NULL;
	c->nslabs--;
	c->src->free_pages(s, c->slab_order, c->src->ctx);
}

void *slab_alloc(struct slab_cache *c)
{
	struct slab *s;
	void *obj;

	if (!list_empty(&c->partial))
		s = list_first_entry(&c->partial, struct slab, link);
	else if (!list_empty(&c->empty))
		s = list_first_entry(&c->empty, struct slab, link);
	else if (!(s = slab_grow(c)))
		return NULL;

	obj = s->free;
	s->free = slab_next_free(obj);
	if (slab_poisons(c))
		*slab_poison_word(obj) = 0;
	s->in_use++;

	list_del(&s->link);
	if (s->in_use == c->objs_per_slab)
		list_add(&c->full, &s->link);
	else
		list_add(&c->partial, &s->link);
	c->in_use++;
	c->total_allocs++;
	return obj;
}

static bool slab_on_free_list(const struct slab *s, const void *obj)
{
	const void *p;

	for (p = s->free; p; p = slab_next_free((void *)p))
		if (p == obj)
			return true;
	return false;
}

int slab_free(struct slab_cache *c, void *obj)
{
	struct slab *s;
	uintptr_t first, off;
	const char *why;

	if (!obj)
		return 0;

	s = (struct slab *)ALIGN_DOWN((uintptr_t)obj, (uintptr_t)slab_bytes(c));
	if (s->magic != SLAB_MAGIC || s->cache != c) {
		why = "not from this cache";
		goto bad;
	}
	first = (uintptr_t)slab_objs(c, s);
	off = (uintptr_t)obj - first;
	if ((uintptr_t)obj < first || off >= (uintptr_t)c->objs_per_slab * c->obj_size ||
	    off % c->obj_size != 0) {
		why = "not at an object boundary";
		goto bad;
	}
	if (s->in_use == 0 || obj == s->free ||
	    (slab_poisons(c) && *slab_poison_word(obj) == SLAB_POISON &&
	     slab_on_free_list(s, obj))) {
		why = "double free";
		goto bad;
	}

	*(void **)obj = s->free;
	if (slab_poisons(c))
		*slab_poison_word(obj) = SLAB_POISON;
	s->free = obj;
	s->in_use--;
	c->in_use--;

	if (s->in_use == 0) {
		/* Keep one empty slab to absorb alloc/free ping-pong. */
		if (!list_empty(&c->empty)) {
			slab_destroy(c, s);
		} else {
			list_del(&s->link);
			list_add(&c->empty, &s->link);
		}
	} else if (s->in_use == c->objs_per_slab - 1) {
		/* Was full. */
		list_del(&s->link);
		list_add(&c->partial, &s->link);
	}
	return 0;

bad:
	pr_warn("slab: cache %s: bad free of %p: %s", slab_name(c), obj, why);
	return -1;
}

void slab_shrink(struct slab_cache *c)
{
	while (!list_empty(&c->empty))
		slab_destroy(c, list_first_entry(&c->empty, struct slab, link));
}

/* Check one slab; on success adds its in_use to *in_use. */
static int slab_check_one(const struct slab_cache *c, struct slab *s,
			  const struct list_head *list, uint64_t *in_use)
{
	uintptr_t first = (uintptr_t)slab_objs(c, s);
	uintptr_t area = (uintptr_t)c->objs_per_slab * c->obj_size;
	unsigned nfree = 0;
	void *p;

	if (!IS_ALIGNED((uintptr_t)s, slab_bytes(c)))
		return -1;
	if (s->magic != SLAB_MAGIC || s->cache != c)
		return -1;
	if (s->in_use > c->objs_per_slab)
		return -1;
	if (list == &c->full && s->in_use != c->objs_per_slab)
		return -1;
	if (list == &c->empty && s->in_use != 0)
		return -1;
	if (list == &c->partial &&
	    (s->in_use == 0 || s->in_use == c->objs_per_slab))
		return -1;

	for (p = s->free; p; p = slab_next_free(p)) {
		uintptr_t off = (uintptr_t)p - first;

		/* Bounded, so a cycle is caught too. */
		if (++nfree > c->objs_per_slab - s->in_use)
			return -1;
		if ((uintptr_t)p < first || off >= area || off % c->obj_size)
			return -1;
		if (slab_poisons(c) && *slab_poison_word(p) != SLAB_POISON)
			return -1;
	}
	if (nfree != c->objs_per_slab - s->in_use)
		return -1;
	*in_use += s->in_use;
	return 0;
}

static int slab_check_list(const struct slab_cache *c,
			   const struct list_head *list, uint64_t *nslabs,
			   uint64_t *in_use)
{
	const struct list_head *pos;

	list_for_each(pos, list) {
		if (++*nslabs > c->nslabs)
			return -1;
		if (pos->next->prev != pos || pos->prev->next != pos)
			return -1;
		if (slab_check_one(c, list_entry(pos, struct slab, link), list,
				   in_use) < 0)
			return -1;
	}
	return 0;
}

int slab_check(const struct slab_cache *c)
{
	uint64_t nslabs = 0, in_use = 0, nempty;

	if (c->obj_size < 8 || c->align < 8 || (c->align & (c->align - 1)) ||
	    c->obj_size % c->align || c->slab_order > SLAB_MAX_ORDER ||
	    c->objs_per_slab == 0 ||
	    slab_obj_offset(c->align) + (size_t)c->objs_per_slab * c->obj_size >
	    slab_bytes(c))
		return -1;
	if (slab_check_list(c, &c->empty, &nslabs, &in_use) < 0)
		return -1;
	nempty = nslabs;
	if (nempty > 1)
		return -1;
	if (slab_check_list(c, &c->partial, &nslabs, &in_use) < 0 ||
	    slab_check_list(c, &c->full, &nslabs, &in_use) < 0)
		return -1;
	if (nslabs != c->nslabs || in_use != c->in_use ||
	    c->total_allocs < c->in_use)
		return -1;
	return 0;
}
