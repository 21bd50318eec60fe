/*
 * vm.c - memory objects, address spaces, demand paging, copy-on-write.
 *
 * Design (see vm.h for the objects and the lock order):
 *   - Page table entries are a cache of (area, object page): anything that
 *     changes what an address should map (unmap, protect, snapshot, a
 *     copy-on-write break) removes the entries concerned and shoots them
 *     down; vm_fault enters them again on the next touch. Simple, and
 *     always right.
 *   - An anonymous object's page carries a reference count in the page
 *     allocator's per-page word: one per object holding it. A page with
 *     more than one reference is entered read-only; a write fault copies it
 *     into the faulting object (copy-on-write).
 *   - An anonymous object's pages are found through a radix tree
 *     (radix.h) whose nodes are made as pages are added: a 64 GiB object
 *     with a few pages costs a few pages of tree, not a 128 MiB array.
 */
#include <kernel/arch.h>
#include <kernel/budget.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/smp.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <abi/rill.h>
#include <rill/string.h>

#define MAP_BASE	0x0000100000000000ull	/* where "anywhere" starts: 16 TiB */

static struct kmem_cache *memobj_cache, *vma_cache;
/* The page every read of an untouched anonymous page maps (read-only):
 * never written, never freed, in no object's tree. */
static paddr_t zero_page;
uint64_t nr_memobjs, nr_areas, nr_user_pages, nr_memobj_nodes;
struct memobj_snapshot_stats memobj_last_snapshot;

static uint32_t page_ref_add(paddr_t pa, int d)
{
	return __atomic_add_fetch(pmm_page_word(pa), (uint32_t)d, __ATOMIC_ACQ_REL);
}

static paddr_t page_new(void)
{
	paddr_t pa = pmm_alloc_zeroed_page();

	if (pa) {
		__atomic_store_n(pmm_page_word(pa), 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&nr_user_pages, 1, __ATOMIC_RELAXED);
	}
	return pa;
}

static void page_put(paddr_t pa)
{
	if (page_ref_add(pa, -1) == 0) {
		pmm_free(pa, 0);
		__atomic_fetch_sub(&nr_user_pages, 1, __ATOMIC_RELAXED);
	}
}

/* ---- page trees ----------------------------------------------------------- */

/*
 * Nodes of the page trees. A full node (4 KiB) is a page of its own: from
 * a slab it would cost two (the slab header leaves no room for a second
 * one). A root of up to 256 entries (objects up to 1 MiB, or roots of
 * deeper trees: 64 entries for 64 GiB) comes from kmalloc, sized to the
 * object as the flat array of old was. Allocated under the object's lock
 * (irqsave allocators).
 */
static bool node_is_page(size_t bytes)
{
	return bytes > PAGE_SIZE / 2;
}

/* Charge mo's budget (none for the kernel's objects): 0 or -ENOMEM. */
static int mo_charge(struct memobj *mo, uint64_t bytes)
{
	if (!mo->budget)
		return 0;
	if (budget_charge(mo->budget, bytes))
		return -ENOMEM;
	__atomic_fetch_add(&mo->charged, bytes, __ATOMIC_RELAXED);
	return 0;
}

static void mo_uncharge(struct memobj *mo, uint64_t bytes)
{
	if (!mo->budget)
		return;
	budget_uncharge(mo->budget, bytes);
	__atomic_fetch_sub(&mo->charged, bytes, __ATOMIC_RELAXED);
}

static void *node_alloc(size_t bytes, void *ctx)
{
	struct memobj *mo = ctx;
	uint64_t cost = node_is_page(bytes) ? PAGE_SIZE : bytes;
	void *p;
	paddr_t pa;

	if (mo_charge(mo, cost))
		return NULL;
	if (!node_is_page(bytes)) {
		p = kzalloc(bytes);
		if (!p)
			mo_uncharge(mo, cost);
		return p;
	}
	pa = pmm_alloc_zeroed_page();
	if (!pa) {
		mo_uncharge(mo, cost);
		return NULL;
	}
	__atomic_fetch_add(&nr_memobj_nodes, 1, __ATOMIC_RELAXED);
	return phys_to_virt(pa);
}

static void node_free(void *p, size_t bytes, void *ctx)
{
	if (!node_is_page(bytes)) {
		kfree(p);
		return;
	}
	pmm_free(virt_to_phys(p), 0);
	__atomic_fetch_sub(&nr_memobj_nodes, 1, __ATOMIC_RELAXED);
}


static void put_entry(uint64_t index, uint64_t pa, void *arg)
{
	page_put(pa);
}

/* ---- memory objects ------------------------------------------------------ */

static void memobj_destroy(struct kobj *o)
{
	struct memobj *mo = container_of(o, struct memobj, obj);

	/* The tree's recursion is one frame per level (three at most). A
	 * contiguous block's pages go back as one block. */
	radix_destroy(&mo->pages, mo->contig ? NULL : put_entry, NULL);
	if (mo->contig) {
		pmm_free(mo->contig, mo->contig_order);
		__atomic_fetch_sub(&nr_user_pages, mo->size / PAGE_SIZE, __ATOMIC_RELAXED);
	}
	if (mo->budget) {
		budget_uncharge(mo->budget, mo->charged + sizeof(*mo));
		budget_put(mo->budget);
	}
	kmem_cache_free(memobj_cache, mo);
	__atomic_fetch_sub(&nr_memobjs, 1, __ATOMIC_RELAXED);
}

static struct memobj *memobj_alloc(enum memobj_kind kind, uint64_t size,
				    struct budget *budget)
{
	struct memobj *mo;

	if (budget && budget_charge(budget, sizeof(*mo)))
		return NULL;
	mo = kmem_cache_zalloc(memobj_cache);
	if (!mo) {
		if (budget)
			budget_uncharge(budget, sizeof(*mo));
		return NULL;
	}
	if (budget) {
		budget_get(budget);
		mo->budget = budget;
	}
	mo->alloc = (struct radix_alloc){ node_alloc, node_free, mo };
	kobj_init(&mo->obj, RL_OBJ_MEMORY, memobj_destroy);
	spin_init(&mo->lock);
	mo->kind = kind;
	mo->size = size;
	list_init(&mo->areas);
	__atomic_fetch_add(&nr_memobjs, 1, __ATOMIC_RELAXED);
	return mo;
}

/* An anonymous object of size bytes (a page multiple) with no page yet:
 * its tree is only a root. */
static struct memobj *anon_alloc(uint64_t size, struct budget *budget)
{
	struct memobj *mo = memobj_alloc(MO_ANON, size, budget);

	if (mo && radix_init(&mo->pages, size / PAGE_SIZE, &mo->alloc)) {
		kobj_put(&mo->obj);
		return NULL;
	}
	return mo;
}

int memobj_create_anon(uint64_t size, struct budget *budget, struct memobj **out)
{
	if (size == 0 || size > RL_MEMOBJ_MAX)
		return -EINVAL;
	*out = anon_alloc(ALIGN_UP(size, (uint64_t)PAGE_SIZE), budget);
	return *out ? 0 : -ENOMEM;
}

int memobj_create_contig(uint64_t size, struct memobj **out)
{
	struct memobj *mo;
	unsigned order = 0;
	uint64_t n;
	int r;

	if (size == 0 || size > (64ull << 20))
		return -EINVAL;
	size = ALIGN_UP(size, (uint64_t)PAGE_SIZE);
	n = size / PAGE_SIZE;
	while ((1ull << order) < n)
		order++;
	r = memobj_create_anon(size, NULL, &mo);
	if (r)
		return r;
	mo->contig = pmm_alloc(order);
	if (!mo->contig) {
		kobj_put(&mo->obj);
		return -ENOMEM;
	}
	mo->contig_order = order;
	mo->kernel_owned = true;
	memset(phys_to_virt(mo->contig), 0, PAGE_SIZE << order);
	__atomic_fetch_add(&nr_user_pages, n, __ATOMIC_RELAXED);
	/* The tree gives the fault path the pages like any object's. */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t *slot = radix_slot(&mo->pages, i);

		if (!slot) {
			kobj_put(&mo->obj);
			return -ENOMEM;
		}
		*slot = mo->contig + i * PAGE_SIZE;
		__atomic_store_n(pmm_page_word(*slot), 1, __ATOMIC_RELAXED);
	}
	*out = mo;
	return 0;
}

/* A contiguous object charged to budget like an anonymous one (its pages
 * and the object, given back when it goes). */
int memobj_create_contig_charged(uint64_t size, struct budget *budget, struct memobj **out)
{
	uint64_t bytes = ALIGN_UP(size, (uint64_t)PAGE_SIZE);
	int r;

	if (size == 0 || size > (64ull << 20))
		return -EINVAL;
	if (budget_charge(budget, bytes + sizeof(struct memobj)))
		return -ENOMEM;
	r = memobj_create_contig(size, out);
	if (r) {
		budget_uncharge(budget, bytes + sizeof(struct memobj));
		return r;
	}
	budget_get(budget);
	(*out)->budget = budget;
	(*out)->charged = bytes;
	return 0;
}

int memobj_create_phys(paddr_t pa, uint64_t size, bool uncached, struct memobj **out)
{
	struct memobj *mo;

	if (size == 0 || !IS_ALIGNED(pa, PAGE_SIZE) || !IS_ALIGNED(size, PAGE_SIZE) ||
	    pa + size < pa || pa + size > (1ull << 52))
		return -EINVAL;
	mo = memobj_alloc(MO_PHYS, size, NULL);
	if (!mo)
		return -ENOMEM;
	mo->phys = pa;
	mo->uncached = uncached;
	*out = mo;
	return 0;
}

int memobj_populate(struct memobj *mo)
{
	for (uint64_t i = 0; i < mo->size / PAGE_SIZE; i++) {
		uint64_t *slot = radix_slot(&mo->pages, i);

		if (!slot)
			return -ENOMEM;
		if (!*slot) {
			if (mo_charge(mo, PAGE_SIZE))
				return -ENOMEM;
			if (!(*slot = page_new())) {
				mo_uncharge(mo, PAGE_SIZE);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

void *memobj_kaddr(struct memobj *mo, uint64_t off)
{
	if (mo->contig)
		return (char *)phys_to_virt(mo->contig) + off;
	return (char *)phys_to_virt(*radix_lookup(&mo->pages, off / PAGE_SIZE)) +
	       off % PAGE_SIZE;
}

/* Remove the page-table entries of object page pgoff from every area that
 * maps it. mo->lock held. */
static void zap_object_page(struct memobj *mo, uint64_t pgoff)
{
	struct list_head *p;

	list_for_each(p, &mo->areas) {
		struct vma *v = list_entry(p, struct vma, mo_link);
		uint64_t first = v->offset / PAGE_SIZE;
		uint64_t n = (v->end - v->start) / PAGE_SIZE;
		uintptr_t va;
		irqflags_t f;
		paddr_t old;

		if (pgoff < first || pgoff >= first + n)
			continue;
		va = v->start + (pgoff - first) * PAGE_SIZE;
		f = spin_lock_irqsave(&v->as->pt_lock);
		old = uvm_unmap(v->as->pml4, va);
		spin_unlock_irqrestore(&v->as->pt_lock, f);
		if (old)
			tlb_shootdown(va, 1);
	}
}

/* Remove every page-table entry in [start, end) of as. */
static void zap_range(struct aspace *as, uintptr_t start, uintptr_t end)
{
	irqflags_t f = spin_lock_irqsave(&as->pt_lock);
	bool any = uvm_unmap_range(as->pml4, start, end);

	spin_unlock_irqrestore(&as->pt_lock, f);
	if (any)
		tlb_shootdown(start, (end - start) / PAGE_SIZE);
}

/*
 * Snapshots (copy-on-write). The walk over the source's tree takes the
 * source's lock once per step, each step reading at most SNAPSHOT_STEP
 * slots of the tree (one leaf node and the way down to it, in the
 * deepest tree a memory object has), so interrupts are never off for
 * long, whatever the object's size; empty subtrees are skipped whole.
 * Under the lock a step shares the pages it finds (one reference more
 * each, entered in the snapshot's tree) and removes the page-table
 * entries of those pages from the source's writable areas, so that the
 * next write to any of them faults and copies the page.
 *
 * Between steps the source lives on: faults, first touches and
 * copy-on-write breaks go on as usual, under the same lock. The rule:
 * each page of the snapshot is what the source held at that index when
 * the walk took it. A page behind the walk is shared already (a write in
 * the source copies it); a page first touched behind the walk is absent
 * from the snapshot (zero, as it was when the walk passed); a page added
 * or replaced ahead of the walk is taken as it is then. So every write
 * completed before memobj_snapshot is called is in the snapshot, no write
 * begun after it returns is, and a write racing with the call lands in
 * the snapshot or not, page by page - never lost, never in both objects
 * after the call. (As with fork: a consistent image of memory that other
 * threads are writing needs those threads stopped.)
 *
 * The snapshot is nobody else's until this returns: its tree needs no
 * lock.
 */
#define SNAPSHOT_STEP	(RADIX_FANOUT + 2)

struct share_step {
	struct memobj *dst;
	uint64_t lo, hi;	/* pages shared in this step: [lo, hi] */
	uint64_t n;
	uint64_t last;		/* the last page to take */
};

static int share_page(uint64_t index, uint64_t *slot, void *arg)
{
	struct share_step *st = arg;
	uint64_t *d;

	if (index > st->last)
		return -ERANGE;		/* past the range: stop */
	d = radix_slot(&st->dst->pages, index);
	if (!d || mo_charge(st->dst, PAGE_SIZE))
		return -ENOMEM;
	page_ref_add(*slot, 1);
	*d = *slot;
	if (!st->n++)
		st->lo = index;
	st->hi = index;
	return 0;
}

/* Remove the page-table entries of object pages [lo, hi] from every
 * area of mo (only the writable ones with writable_only; less than 2 MiB
 * of each: one step's span). mo->lock held. */
static void zap_pages(struct memobj *mo, uint64_t lo, uint64_t hi, bool writable_only)
{
	struct list_head *p;

	list_for_each(p, &mo->areas) {
		struct vma *v = list_entry(p, struct vma, mo_link);
		uint64_t first = v->offset / PAGE_SIZE;
		uint64_t last = first + (v->end - v->start) / PAGE_SIZE - 1;

		if ((writable_only && !(v->prot & RL_PROT_WRITE)) || hi < first || lo > last)
			continue;
		zap_range(v->as, v->start + (MAX(lo, first) - first) * PAGE_SIZE,
			  v->start + (MIN(hi, last) - first + 1) * PAGE_SIZE);
	}
}

/* One step of the walk under src's lock: 0 (more), 1 (done), -ERANGE
 * (past last: done) or -ENOMEM. */
static int snapshot_step(struct memobj *src, struct memobj *dst, uint64_t *pos, uint64_t last)
{
	struct share_step st = { .dst = dst, .last = last };
	irqflags_t f = spin_lock_irqsave(&src->lock);
	uint64_t t0 = clock_ns(), dt;
	int r = radix_walk(&src->pages, pos, SNAPSHOT_STEP, share_page, &st);

	/* Also after a failure: the pages shared so far stay shared until
	 * the snapshot is dropped. */
	if (st.n)
		zap_pages(src, st.lo, st.hi, true);
	dt = clock_ns() - t0;
	spin_unlock_irqrestore(&src->lock, f);
	memobj_last_snapshot.steps++;
	memobj_last_snapshot.pages += st.n;
	memobj_last_snapshot.max_step_ns = MAX(memobj_last_snapshot.max_step_ns, dt);
	memobj_last_snapshot.total_ns += dt;
	return r;
}

/* A snapshot of pages [first, last] of src (the rest absent), of src's
 * size (so offsets stay). */
static int snapshot_range(struct memobj *src, struct budget *budget, uint64_t first,
			  uint64_t last, struct memobj **out)
{
	struct memobj *mo;
	uint64_t pos = first;
	int r;

	if (src->kind != MO_ANON || src->kernel_owned)
		return -ENOTSUP;
	mo = anon_alloc(src->size, budget);
	if (!mo)
		return -ENOMEM;
	memobj_last_snapshot = (struct memobj_snapshot_stats){ 0 };
	while ((r = snapshot_step(src, mo, &pos, last)) == 0 && pos <= last)
		;
	if (r < 0 && r != -ERANGE) {
		kobj_put(&mo->obj);
		return r;
	}
	*out = mo;
	return 0;
}

int memobj_snapshot(struct memobj *src, struct budget *budget, struct memobj **out)
{
	return snapshot_range(src, budget, 0, UINT64_MAX, out);
}

/* ---- address spaces ----------------------------------------------------- */

void vm_init(void)
{
	memobj_cache = kmem_cache_create("memobj", sizeof(struct memobj), 8);
	vma_cache = kmem_cache_create("vma", sizeof(struct vma), 8);
	zero_page = pmm_alloc_zeroed_page();
	if (!zero_page)
		panic("vm: no zero page");
}

int aspace_init(struct aspace *as)
{
	spin_init(&as->lock);
	spin_init(&as->pt_lock);
	list_init(&as->areas);
	as->nareas = 0;
	as->dead = false;
	as->pt_closed = false;
	as->has_phys = false;
	as->hint = MAP_BASE;
	as->budget = &budget_root;	/* a process sets its own */
	as->last[0] = as->last[1] = NULL;
	as->last_next = 0;
	as->futex_waiters = 0;
	as->pml4 = uvm_create();
	return as->pml4 ? 0 : -ENOMEM;
}

/* Areas are charged to their address space's budget. */
static struct vma *vma_alloc(struct aspace *as)
{
	struct vma *v;

	if (budget_charge(as->budget, sizeof(*v)))
		return NULL;
	v = kmem_cache_zalloc(vma_cache);
	if (!v)
		budget_uncharge(as->budget, sizeof(*v));
	return v;
}

static void vma_release(struct aspace *as, struct vma *v)
{
	kmem_cache_free(vma_cache, v);
	budget_uncharge(as->budget, sizeof(*v));
}

static void vma_free(struct vma *v)
{
	if (v->mo)
		kobj_put(&v->mo->obj);
	vma_release(v->as, v);
	__atomic_fetch_sub(&nr_areas, 1, __ATOMIC_RELAXED);
}

/* Unlink v from its object (takes mo->lock). */
static void vma_unlink_mo(struct vma *v)
{
	irqflags_t f;

	if (!v->mo)
		return;		/* a reservation */
	f = spin_lock_irqsave(&v->mo->lock);
	list_del(&v->mo_link);
	spin_unlock_irqrestore(&v->mo->lock, f);
}

void aspace_destroy(struct aspace *as)
{
	struct list_head *p, *tmp, areas;
	irqflags_t f;
	paddr_t pml4;

	/* Detach everything under the lock: another process may be mapping
	 * into this one right now (vm_map refuses once it is dead). */
	list_init(&areas);
	f = spin_lock_irqsave(&as->lock);
	if (as->dead) {
		spin_unlock_irqrestore(&as->lock, f);
		return;
	}
	as->dead = true;
	as->last[0] = as->last[1] = NULL;
	/* Page-table copies (pt_addr) stop before any page goes: the entries
	 * stay until the tables are freed, the pages behind them do not. */
	spin_lock(&as->pt_lock);
	as->pt_closed = true;
	spin_unlock(&as->pt_lock);
	list_for_each_safe(p, tmp, &as->areas) {
		list_del(p);
		list_add_tail(&areas, p);
	}
	as->nareas = 0;
	spin_unlock_irqrestore(&as->lock, f);
	list_for_each_safe(p, tmp, &areas) {
		struct vma *v = list_entry(p, struct vma, as_link);

		list_del(&v->as_link);
		vma_unlink_mo(v);
		vma_free(v);
	}
	/* No CPU runs on these tables any more: the last thread switched
	 * away from them (arch_switch) before the process could end, and no
	 * object lists an area of this space any more, so no snapshot or
	 * copy-on-write break can reach them. */
	f = spin_lock_irqsave(&as->pt_lock);
	pml4 = as->pml4;
	as->pml4 = 0;
	spin_unlock_irqrestore(&as->pt_lock, f);
	if (pml4)
		budget_uncharge(as->budget, uvm_destroy(pml4) * PAGE_SIZE);
}

void aspace_activate(struct aspace *as)
{
	if (arch_page_table() != as->pml4)
		arch_switch_page_table(as->pml4);
}

static struct vma *find_vma(struct aspace *as, uintptr_t addr)
{
	struct list_head *p;

	/* Copies and checks go page by page through a few buffers (a stack,
	 * a data area): mostly an area seen just before. */
	for (unsigned i = 0; i < 2; i++) {
		struct vma *v = as->last[i];

		if (v && addr >= v->start && addr < v->end)
			return v;
	}
	list_for_each(p, &as->areas) {
		struct vma *v = list_entry(p, struct vma, as_link);

		if (addr < v->start)
			return NULL;
		if (addr < v->end) {
			as->last[as->last_next] = v;
			as->last_next ^= 1;
			return v;
		}
	}
	return NULL;
}

/* Is [start, end) free? Then *after is the area it goes after (or the
 * list head). as->lock held. */
static bool range_free(struct aspace *as, uintptr_t start, uintptr_t end,
		       struct list_head **after)
{
	struct list_head *p, *prev = &as->areas;

	list_for_each(p, &as->areas) {
		struct vma *v = list_entry(p, struct vma, as_link);

		if (v->end <= start) {
			prev = p;
			continue;
		}
		if (v->start < end)
			return false;
		break;
	}
	*after = prev;
	return true;
}

/* First free range of len bytes at or above from. 0 when none. */
static uintptr_t find_gap(struct aspace *as, uintptr_t from, uint64_t len,
			  struct list_head **after)
{
	struct list_head *p, *prev = &as->areas;
	uintptr_t cand = from;

	list_for_each(p, &as->areas) {
		struct vma *v = list_entry(p, struct vma, as_link);

		if (v->end <= cand) {
			prev = p;
			continue;
		}
		if (v->start >= cand + len)
			break;
		cand = v->end;
		prev = p;
	}
	if (cand + len > RL_USER_TOP || cand + len < cand)
		return 0;
	*after = prev;
	return cand;
}

/* Split v at addr (start < addr < end) using the spare area n, which
 * becomes the upper part. as->lock held. */
static void vma_split(struct vma *v, uintptr_t addr, struct vma *n)
{
	*n = *v;
	n->start = addr;
	n->offset = v->offset + (addr - v->start);
	v->end = addr;
	list__insert(&n->as_link, &v->as_link, v->as_link.next);
	if (v->mo) {
		kobj_get(&v->mo->obj);
		spin_lock(&v->mo->lock);
		list_add_tail(&v->mo->areas, &n->mo_link);
		spin_unlock(&v->mo->lock);
	}
	v->as->nareas++;
	__atomic_fetch_add(&nr_areas, 1, __ATOMIC_RELAXED);
}

/* Make [start, end) a union of whole areas, splitting at most two. The two
 * spare areas are consumed (set to NULL) when used. as->lock held. */
static void split_at_bounds(struct aspace *as, uintptr_t start, uintptr_t end,
			    struct vma **spare)
{
	struct vma *v = find_vma(as, start);

	if (v && v->start < start) {
		vma_split(v, start, spare[0]);
		spare[0] = NULL;
	}
	v = find_vma(as, end - 1);
	if (v && v->end > end) {
		vma_split(v, end, spare[1]);
		spare[1] = NULL;
	}
}

/* Take v out of as (its page-table entries are gone already) onto the
 * list gone, through its as_link. as->lock held. */
static void detach_area(struct aspace *as, struct vma *v, struct list_head *gone)
{
	for (unsigned i = 0; i < 2; i++)
		if (as->last[i] == v)
			as->last[i] = NULL;
	list_del(&v->as_link);
	as->nareas--;
	if (v->mo) {
		spin_lock(&v->mo->lock);
		list_del(&v->mo_link);
		spin_unlock(&v->mo->lock);
	}
	list_add_tail(gone, &v->as_link);
}

static int range_args(uintptr_t addr, uint64_t len)
{
	if (len == 0 || !IS_ALIGNED(addr, PAGE_SIZE) || !IS_ALIGNED(len, PAGE_SIZE) ||
	    addr >= RL_USER_TOP || len > RL_USER_TOP - addr)
		return -EINVAL;
	return 0;
}

/* Unmap or re-protect [addr, addr + len): prot < 0 unmaps. */
static int change_range(struct aspace *as, uintptr_t addr, uint64_t len, int prot)
{
	struct vma *spare[2];
	struct list_head *p, *tmp, gone;
	uintptr_t end = addr + len;
	irqflags_t f;
	int r = range_args(addr, len);

	if (r < 0)
		return r;
	if (prot > 7)
		return -EINVAL;
	spare[0] = vma_alloc(as);
	spare[1] = vma_alloc(as);
	if (!spare[0] || !spare[1]) {
		r = -ENOMEM;
		goto out;
	}
	list_init(&gone);
	f = spin_lock_irqsave(&as->lock);
	if (prot > 0) {
		list_for_each(p, &as->areas) {
			struct vma *v = list_entry(p, struct vma, as_link);

			if (v->end > addr && v->start < end && (prot & ~v->maxprot)) {
				spin_unlock_irqrestore(&as->lock, f);
				r = -EACCES;
				goto out;
			}
		}
	}
	split_at_bounds(as, addr, end, spare);
	list_for_each_safe(p, tmp, &as->areas) {
		struct vma *v = list_entry(p, struct vma, as_link);

		if (v->end <= addr)
			continue;
		if (v->start >= end)
			break;
		zap_range(as, v->start, v->end);
		if (prot < 0) {
			detach_area(as, v, &gone);
		} else {
			v->prot = (unsigned)prot;
		}
	}
	spin_unlock_irqrestore(&as->lock, f);
	/* Waiters on words of the areas gone wake with -EFAULT: nothing of
	 * theirs names those words any more, so no wake would come. (They
	 * queued under as->lock, so each is either found here or found no
	 * area.) */
	list_for_each_safe(p, tmp, &gone) {
		struct vma *v = list_entry(p, struct vma, as_link);

		futex_unmapped(as, v->start, v->end);
		vma_free(v);
	}
out:
	if (spare[0])
		vma_release(as, spare[0]);
	if (spare[1])
		vma_release(as, spare[1]);
	return r;
}

/*
 * Map [offset, offset + len) of mo (NULL with RL_MAP_RESERVE: a
 * reservation, an area without an object that faults on any access).
 * With RL_MAP_FIXED the range must hold nothing but reservations, which
 * the new area replaces; with RL_MAP_REPLACE too, whatever areas overlap
 * it are replaced (split where they overlap in part). Everything that can
 * fail (the new area, the two spares a split may need) is allocated before
 * the lock; under it the old areas go and the new one comes in one hold,
 * so no other thread of the space ever finds the range unmapped (a fault
 * waits for the lock, then finds the new area), and a failure leaves the
 * old areas as they were.
 */
int64_t vm_map(struct aspace *as, struct memobj *mo, uint64_t offset, uintptr_t addr,
	       uint64_t len, unsigned prot, unsigned maxprot, unsigned flags)
{
	const unsigned known = RL_MAP_FIXED | RL_MAP_RESERVE | RL_MAP_REPLACE | RL_MAP_SHARED;
	struct vma *v, *spare[2] = { NULL, NULL };
	struct list_head *after = NULL, *p, *tmp, gone;
	uintptr_t end = addr + len;
	int64_t r = 0;
	irqflags_t f;

	if (len == 0 || !IS_ALIGNED(len, PAGE_SIZE) || !IS_ALIGNED(offset, PAGE_SIZE) ||
	    !IS_ALIGNED(addr, PAGE_SIZE) || (prot & ~7u) || (flags & ~known))
		return -EINVAL;
	if ((flags & RL_MAP_REPLACE) && !(flags & RL_MAP_FIXED))
		return -EINVAL;
	if (flags & RL_MAP_RESERVE) {
		if (mo || offset || prot || (flags & RL_MAP_SHARED))
			return -EINVAL;
		maxprot = 0;
	} else if (!mo) {
		return -EINVAL;
	}
	if (prot & ~maxprot)
		return -EACCES;
	if (mo && (offset > mo->size || len > mo->size - offset))
		return -EINVAL;
	if (addr && (addr < RL_USER_BOTTOM || addr >= RL_USER_TOP || len > RL_USER_TOP - addr))
		return -EINVAL;
	if ((flags & RL_MAP_FIXED) && !addr)
		return -EINVAL;
	v = vma_alloc(as);
	if (!v)
		return -ENOMEM;
	if (flags & RL_MAP_FIXED) {
		spare[0] = vma_alloc(as);
		spare[1] = vma_alloc(as);
		if (!spare[0] || !spare[1]) {
			r = -ENOMEM;
			goto out;
		}
	}
	list_init(&gone);
	f = spin_lock_irqsave(&as->lock);
	if (as->dead) {
		r = -ESRCH;
		goto unlock;
	}
	if (flags & RL_MAP_FIXED) {
		/* What is there may go: reservations always, anything with
		 * REPLACE. */
		list_for_each(p, &as->areas) {
			struct vma *o = list_entry(p, struct vma, as_link);

			if (o->start >= end)
				break;
			if (o->end > addr && o->mo && !(flags & RL_MAP_REPLACE)) {
				r = -EEXIST;
				goto unlock;
			}
		}
		split_at_bounds(as, addr, end, spare);
		list_for_each_safe(p, tmp, &as->areas) {
			struct vma *o = list_entry(p, struct vma, as_link);

			if (o->end <= addr)
				continue;
			if (o->start >= end)
				break;
			zap_range(as, o->start, o->end);
			detach_area(as, o, &gone);
		}
		range_free(as, addr, end, &after);
	} else if (!(addr && range_free(as, addr, end, &after)) &&
		   !(addr = find_gap(as, addr ? addr : as->hint, len, &after)) &&
		   !(addr = find_gap(as, RL_USER_BOTTOM, len, &after))) {
		r = -ENOMEM;
		goto unlock;
	}
	if (mo && mo->kind == MO_PHYS)
		WRITE_ONCE(as->has_phys, true);	/* before any of it can be entered */
	v->as = as;
	v->start = addr;
	v->end = addr + len;
	v->mo = mo;
	v->offset = offset;
	v->prot = prot;
	v->maxprot = maxprot;
	v->flags = flags & ~RL_MAP_FIXED & ~RL_MAP_REPLACE;
	list__insert(&v->as_link, after, after->next);
	as->nareas++;
	if (mo) {
		kobj_get(&mo->obj);
		spin_lock(&mo->lock);
		list_add_tail(&mo->areas, &v->mo_link);
		spin_unlock(&mo->lock);
	}
	__atomic_fetch_add(&nr_areas, 1, __ATOMIC_RELAXED);
	r = (int64_t)addr;
	v = NULL;
	/* Futex waiters on the words replaced wake with -EFAULT, as on an
	 * unmap; found under the lock, so a waiter on the new area (it
	 * queues under the lock too) is never taken for an old one. */
	list_for_each(p, &gone) {
		struct vma *o = list_entry(p, struct vma, as_link);

		futex_unmapped(as, o->start, o->end);
	}
unlock:
	spin_unlock_irqrestore(&as->lock, f);
	list_for_each_safe(p, tmp, &gone)
		vma_free(list_entry(p, struct vma, as_link));
out:
	for (unsigned i = 0; i < 2; i++)
		if (spare[i])
			vma_release(as, spare[i]);
	if (v)
		vma_release(as, v);
	return r;
}

/*
 * vm_fork: src's address space, copied into dst, which holds nothing but
 * the kernel's objects (its clock page). Three phases, never two
 * address-space locks at once:
 *
 *  1. Under src's lock, one new area (charged to dst's budget) per area
 *     of src, each holding a reference on the same object; areas of the
 *     kernel's own objects (queue rings, the clock page) are left out:
 *     they belong to src (dst has its own clock page). The list is thus
 *     a consistent picture of src at one moment.
 *  2. Without locks, every object mapped privately (not RL_MAP_SHARED,
 *     anonymous) becomes one copy-on-write snapshot covering the pages
 *     all its private areas map, charged to dst's budget; those areas of
 *     dst all map that snapshot, so they keep sharing with each other.
 *     The snapshot write-protects src's entries of the pages it shares
 *     (memobj_snapshot's rule: a write racing with the call lands on
 *     one side, page by page). Shared areas and device memory keep the
 *     object itself; reservations stay reservations.
 *  3. Under dst's lock, if dst still holds only kernel objects and none
 *     of them overlaps a new area, the areas go in.
 *
 * A failure (the budget's -ENOMEM in 1 or 2, -EBUSY/-EEXIST/-ESRCH in 3)
 * drops everything made: dst is as it was, and src only lost page-table
 * entries (its pages get back to one reference as the snapshots go).
 */
#define VMA_FORKED	0x80000000u	/* (phase 2) its snapshot is made */

static bool fork_private(const struct vma *v)
{
	return v->mo && !(v->flags & (RL_MAP_SHARED | VMA_FORKED)) && v->mo->kind == MO_ANON;
}

int vm_fork(struct aspace *dst, struct budget *budget, struct aspace *src)
{
	struct list_head made, *p, *q, *tmp, *after = NULL;
	irqflags_t f;
	int r = 0;

	list_init(&made);
	f = spin_lock_irqsave(&src->lock);
	if (src->dead)
		r = -ESRCH;
	list_for_each(p, &src->areas) {
		struct vma *v = list_entry(p, struct vma, as_link), *n;

		if (r)
			break;
		if (v->mo && v->mo->kernel_owned)
			continue;
		n = vma_alloc(dst);
		if (!n) {
			r = -ENOMEM;
			break;
		}
		*n = *v;
		n->as = dst;
		if (n->mo)
			kobj_get(&n->mo->obj);
		list_add_tail(&made, &n->as_link);
	}
	spin_unlock_irqrestore(&src->lock, f);

	list_for_each(p, &made) {
		struct vma *n = list_entry(p, struct vma, as_link);
		struct memobj *from = n->mo, *snap;
		uint64_t first, last;

		if (r)
			break;
		if (!fork_private(n))
			continue;
		/* The pages of from that any private area maps. */
		first = n->offset / PAGE_SIZE;
		last = (n->offset + (n->end - n->start)) / PAGE_SIZE - 1;
		for (q = p->next; q != &made; q = q->next) {
			struct vma *m = list_entry(q, struct vma, as_link);

			if (m->mo == from && fork_private(m)) {
				first = MIN(first, m->offset / PAGE_SIZE);
				last = MAX(last, (m->offset + (m->end - m->start)) / PAGE_SIZE - 1);
			}
		}
		r = snapshot_range(from, budget, first, last, &snap);
		if (r)
			break;
		kobj_get(&from->obj);	/* (the pointer is compared below) */
		for (q = p; q != &made; q = q->next) {
			struct vma *m = list_entry(q, struct vma, as_link);

			if (m->mo == from && fork_private(m)) {
				kobj_put(&from->obj);
				kobj_get(&snap->obj);
				m->mo = snap;
				m->flags |= VMA_FORKED;
			}
		}
		kobj_put(&from->obj);
		kobj_put(&snap->obj);
	}

	if (!r) {
		f = spin_lock_irqsave(&dst->lock);
		if (dst->dead)
			r = -ESRCH;
		list_for_each(p, &dst->areas) {
			struct vma *v = list_entry(p, struct vma, as_link);

			if (!r && (!v->mo || !v->mo->kernel_owned))
				r = -EBUSY;
		}
		list_for_each(p, &made) {
			struct vma *n = list_entry(p, struct vma, as_link);

			if (!r && !range_free(dst, n->start, n->end, &after))
				r = -EEXIST;
		}
		list_for_each_safe(p, tmp, &made) {
			struct vma *n = list_entry(p, struct vma, as_link);

			if (r)
				break;
			list_del(&n->as_link);
			n->flags &= ~VMA_FORKED;
			range_free(dst, n->start, n->end, &after);
			list__insert(&n->as_link, after, after->next);
			dst->nareas++;
			if (n->mo) {
				if (n->mo->kind == MO_PHYS)
					WRITE_ONCE(dst->has_phys, true);
				spin_lock(&n->mo->lock);
				list_add_tail(&n->mo->areas, &n->mo_link);
				spin_unlock(&n->mo->lock);
			}
			__atomic_fetch_add(&nr_areas, 1, __ATOMIC_RELAXED);
		}
		spin_unlock_irqrestore(&dst->lock, f);
	}
	list_for_each_safe(p, tmp, &made) {
		struct vma *n = list_entry(p, struct vma, as_link);

		list_del(&n->as_link);
		if (n->mo)
			kobj_put(&n->mo->obj);
		vma_release(dst, n);
	}
	return r;
}

unsigned vm_regions(struct aspace *as, uintptr_t *from, struct rl_region *out, unsigned n)
{
	irqflags_t f = spin_lock_irqsave(&as->lock);
	struct list_head *p;
	unsigned i = 0;

	list_for_each(p, &as->areas) {
		struct vma *v = list_entry(p, struct vma, as_link);

		if (i == n || as->dead)
			break;
		if (v->end <= *from)
			continue;
		out[i++] = (struct rl_region){
			.start = v->start,
			.length = v->end - v->start,
			.offset = v->offset,
			.object = v->mo ? v->mo->obj.id : 0,
			.prot = v->prot,
			.maxprot = v->maxprot,
			.flags = v->flags,
		};
		*from = v->end;
	}
	spin_unlock_irqrestore(&as->lock, f);
	return i;
}

int vm_unmap(struct aspace *as, uintptr_t addr, uint64_t len)
{
	return change_range(as, addr, len, -1);
}

int vm_protect(struct aspace *as, uintptr_t addr, uint64_t len, unsigned prot)
{
	if (prot & ~7u)
		return -EINVAL;
	return change_range(as, addr, len, (int)prot);
}

/*
 * Discarding (RL_OP_DISCARD, Linux MADV_DONTNEED). An area that owns its
 * object's pages (mapped without RL_MAP_SHARED, an anonymous object of
 * user memory) gives up the pages behind the range: they leave the
 * object's tree, its budget gets them back, and the next touch finds a
 * fresh zero page - through every area that maps the object, since the
 * pages are the object's. A page shared with a copy-on-write snapshot
 * loses one reference: the other object keeps it. A shared area
 * (RL_MAP_SHARED), device memory and the kernel's own objects (queue
 * rings, the clock page) keep their contents: only their page-table
 * entries go (they come back on the next touch). Reservations have
 * nothing to give.
 *
 * The tree is walked in steps as a snapshot walks it (one leaf and the
 * way down to it, empty subtrees skipped), each under the object's lock:
 * the step's pages leave every area's page table (and the TLBs) before
 * their references are dropped, and a fault, which takes the same lock,
 * finds them gone.
 */
struct discard_step {
	uint64_t hi;		/* the range's last page */
	uint64_t first, last;	/* pages present in this step */
	uint64_t n;
};

static int find_present(uint64_t index, uint64_t *slot, void *arg)
{
	struct discard_step *st = arg;

	if (index > st->hi)
		return -ERANGE;		/* past the range: stop */
	if (!st->n++)
		st->first = index;
	st->last = index;
	return 0;
}

/* Free pages [lo, hi] of mo (anonymous, not the kernel's). as->lock of an
 * area mapping them held (so the area and its object stay). */
static void discard_pages(struct memobj *mo, uint64_t lo, uint64_t hi)
{
	uint64_t pos = lo;
	int r;

	do {
		struct discard_step st = { .hi = hi };

		spin_lock(&mo->lock);
		r = radix_walk(&mo->pages, &pos, SNAPSHOT_STEP, find_present, &st);
		if (st.n) {
			zap_pages(mo, st.first, st.last, false);
			for (uint64_t i = st.first; i <= st.last; i++) {
				uint64_t *slot = radix_lookup(&mo->pages, i);

				if (slot && *slot) {
					page_put(*slot);
					*slot = 0;
					mo_uncharge(mo, PAGE_SIZE);
				}
			}
		}
		spin_unlock(&mo->lock);
	} while (r == 0 && pos <= hi);
}

int vm_discard(struct aspace *as, uintptr_t addr, uint64_t len)
{
	uintptr_t end = addr + len, a = addr;
	struct list_head *p;
	irqflags_t f;
	int r = range_args(addr, len);

	if (r < 0)
		return r;
	f = spin_lock_irqsave(&as->lock);
	if (as->dead)
		r = -ESRCH;
	/* All of it mapped (reservations count), or nothing is done. */
	while (!r && a < end) {
		struct vma *v = find_vma(as, a);

		if (!v)
			r = -ENOMEM;
		else
			a = v->end;
	}
	list_for_each(p, &as->areas) {
		struct vma *v = list_entry(p, struct vma, as_link);
		uintptr_t lo = MAX(v->start, addr), hi = MIN(v->end, end);

		if (r || v->start >= end)
			break;
		if (v->end <= addr || !v->mo)
			continue;
		if ((v->flags & RL_MAP_SHARED) || v->mo->kind != MO_ANON || v->mo->kernel_owned)
			zap_range(as, lo, hi);
		else
			discard_pages(v->mo, (v->offset + (lo - v->start)) / PAGE_SIZE,
				      (v->offset + (hi - v->start)) / PAGE_SIZE - 1);
	}
	spin_unlock_irqrestore(&as->lock, f);
	return r;
}

/* A copy between a kernel buffer and one page of user memory, done by
 * resolve() while it holds the object's lock (see vm_rw). */
struct rw_copy {
	void *buf;
	size_t off, len;	/* within the page */
	bool write;		/* into user memory */
};

/*
 * Find the page behind addr for an access (write or not), breaking
 * copy-on-write when writing, and enter it in the page table when map is
 * set. With copy set, the copy is made here, under mo->lock (only
 * anonymous pages; -EFAULT for device memory). as->lock held.
 *
 * The copy is made here, under mo->lock, where the page can neither be
 * replaced nor freed (the object holds it, and the area mapping the
 * object needs as->lock to go), so it takes no page reference. A copy
 * made outside the locks would need one, and an extra reference looks
 * like sharing: another thread's write fault on the page would "break
 * copy-on-write" and move the object to a copy while the kernel wrote
 * into the old page (memory/kernel_copy_vs_first_touch).
 */
static int resolve(struct aspace *as, uintptr_t addr, unsigned error, bool map,
		   paddr_t *pa_out, const struct rw_copy *copy, struct pager_need *need)
{
	bool write = error & 2, exec = error & 16;
	struct vma *v = find_vma(as, addr);
	struct memobj *mo;
	uint64_t pgoff;
	unsigned prot;
	paddr_t pa = 0;
	int r = 0;

	if (!v || !v->mo)
		return -EFAULT;		/* nothing, or a reservation */
	if ((write && !(v->prot & RL_PROT_WRITE)) || (exec && !(v->prot & RL_PROT_EXEC)) ||
	    !(v->prot & (RL_PROT_READ | RL_PROT_WRITE | RL_PROT_EXEC)))
		return -EFAULT;
	mo = v->mo;
	pgoff = (v->offset + (ALIGN_DOWN(addr, PAGE_SIZE) - v->start)) / PAGE_SIZE;
	prot = v->prot;
	spin_lock(&mo->lock);
	if (mo->kind == MO_PHYS) {
		if (copy) {
			r = -EFAULT;
			goto out;
		}
		pa = mo->phys + pgoff * PAGE_SIZE;
	} else {
		paddr_t *slot = radix_lookup(&mo->pages, pgoff);

		pa = slot ? *slot : 0;
		if (!pa && mo->kind == MO_PAGED) {
			/* Only a user fault (need) waits for the pager;
			 * kernel copies fail rather than block. */
			r = -EFAULT;
			if (need) {
				kobj_get(&mo->obj);
				need->mo = mo;
				need->pgoff = pgoff;
				r = -EAGAIN;
			}
			goto out;
		}
		if (!pa && !write && !(copy && copy->write)) {
			/* A read of a page nobody wrote: the shared zero page,
			 * entered read-only; the object stays without it. */
			pa = zero_page;
			prot &= ~RL_PROT_WRITE;
			mo->zero_entered = true;
		} else if (!pa) {
			if (!slot && !(slot = radix_slot(&mo->pages, pgoff))) {
				r = -ENOMEM;
				goto out;
			}
			if (mo_charge(mo, PAGE_SIZE)) {
				r = -ENOMEM;
				goto out;
			}
			pa = page_new();
			if (!pa) {
				mo_uncharge(mo, PAGE_SIZE);
				r = -ENOMEM;
				goto out;
			}
			/* Areas that read the page before see the zero page:
			 * they must see this one from now on. */
			if (mo->zero_entered)
				zap_object_page(mo, pgoff);
			*slot = pa;
		} else if (page_ref_add(pa, 0) > 1) {
			if (write) {
				paddr_t n = pmm_alloc(0);

				if (!n) {
					r = -ENOMEM;
					goto out;
				}
				memcpy(phys_to_virt(n), phys_to_virt(pa), PAGE_SIZE);
				__atomic_store_n(pmm_page_word(n), 1, __ATOMIC_RELAXED);
				__atomic_fetch_add(&nr_user_pages, 1, __ATOMIC_RELAXED);
				/* Other areas of this object must stop seeing
				 * the shared page. */
				zap_object_page(mo, pgoff);
				*slot = n;
				page_put(pa);
				pa = n;
			} else {
				prot &= ~RL_PROT_WRITE;
			}
		}
		if (copy) {
			char *k = (char *)phys_to_virt(pa) + copy->off;

			if (copy->write)
				memcpy(k, copy->buf, copy->len);
			else
				memcpy(copy->buf, k, copy->len);
		}
	}
	if (map) {
		irqflags_t f = spin_lock_irqsave(&as->pt_lock);

		r = uvm_map(as->pml4, ALIGN_DOWN(addr, PAGE_SIZE), pa, prot, mo->uncached,
			    mo->kind != MO_PHYS, as->budget);
		spin_unlock_irqrestore(&as->pt_lock, f);
		/* A read-only entry may be cached elsewhere: replacing it
		 * with a writable one needs no flush (a stale entry only
		 * faults again). */
	}
out:
	spin_unlock(&mo->lock);
	*pa_out = pa;
	return r;
}

/*
 * Futex keys (syscall.c). A futex is named by the memory object mapped at
 * its address and the word's offset in that object, so processes sharing
 * an object meet on the same futex wherever each maps it. A copy-on-write
 * snapshot is another object: its words are other futexes.
 */
int vm_futex_key(struct aspace *as, uintptr_t addr, struct memobj **mo, uint64_t *off)
{
	struct vma *v = as->dead ? NULL : find_vma(as, addr);

	/* Readable as resolve() sees it; device memory is never read by
	 * the kernel (as in vm_rw). */
	if (!v || !v->mo || !(v->prot & (RL_PROT_READ | RL_PROT_WRITE | RL_PROT_EXEC)) ||
	    v->mo->kind != MO_ANON)
		return -EFAULT;
	kobj_get(&v->mo->obj);
	*mo = v->mo;
	*off = v->offset + (addr - v->start);
	return 0;
}

uint32_t memobj_read32(struct memobj *mo, uint64_t off)
{
	irqflags_t f = spin_lock_irqsave(&mo->lock);
	paddr_t *slot = radix_lookup(&mo->pages, off / PAGE_SIZE);
	uint32_t val = 0;

	/* A page never touched reads as zero, and is not made for a read. */
	if (slot && *slot)
		val = __atomic_load_n((uint32_t *)((char *)phys_to_virt(*slot) + off % PAGE_SIZE),
				      __ATOMIC_RELAXED);
	spin_unlock_irqrestore(&mo->lock, f);
	return val;
}

int vm_fault(struct aspace *as, uintptr_t addr, unsigned error)
{
	irqflags_t f;
	paddr_t pa = 0;
	int r;

	if (addr >= RL_USER_TOP)
		return -EFAULT;
	for (;;) {
		struct pager_need need = { NULL, 0 };

		f = spin_lock_irqsave(&as->lock);
		r = resolve(as, addr, error, true, &pa, NULL, &need);
		spin_unlock_irqrestore(&as->lock, f);
		if (r != -EAGAIN)
			return r < 0 ? -EFAULT : 0;
		/* A page of a paged object nobody supplied: wait for the
		 * pager with no lock held, then fault again (the area may
		 * be gone by then). Killed while waiting: the return to
		 * user space ends the thread. */
		r = pager_wait(need.mo, need.pgoff);
		if (r == PAGER_WAIT_KILLED)
			return 0;
		if (r < 0)
			return -EFAULT;
	}
}

/* ---- the page-supply path of paged objects (pager.c) ------------------------ */

paddr_t memobj_page_new(void)
{
	return page_new();
}

void memobj_page_put(paddr_t pa)
{
	page_put(pa);
}

bool memobj_present_locked(struct memobj *mo, uint64_t pgoff)
{
	paddr_t *slot = radix_lookup(&mo->pages, pgoff);

	return slot && *slot;
}

int memobj_insert_locked(struct memobj *mo, uint64_t pgoff, paddr_t pa)
{
	paddr_t *slot = radix_lookup(&mo->pages, pgoff);

	if (slot && *slot)
		return 0;
	if (!slot && !(slot = radix_slot(&mo->pages, pgoff)))
		return -ENOMEM;
	if (mo_charge(mo, PAGE_SIZE))
		return -ENOMEM;
	*slot = pa;
	return 1;
}

bool memobj_evict_locked(struct memobj *mo, uint64_t pgoff)
{
	paddr_t *slot = radix_lookup(&mo->pages, pgoff);
	paddr_t pa;

	if (!slot || !*slot)
		return false;
	zap_object_page(mo, pgoff);
	pa = *slot;
	*slot = 0;
	page_put(pa);
	mo_uncharge(mo, PAGE_SIZE);
	return true;
}

int memobj_create_paged(uint64_t size, struct budget *budget, struct memobj **out)
{
	int r = memobj_create_anon(size, budget, out);

	if (!r)
		(*out)->kind = MO_PAGED;
	return r;
}

/*
 * The fast paths of kernel copies.
 *
 * The address space this CPU runs on (its tables are in CR3) is reached
 * through the MMU (uaccess.S), which faults, without paging anything in,
 * when the page is not entered with the access wanted. Unless it has ever
 * mapped device memory (has_phys): the MMU cannot tell a device page, and
 * the kernel copies from and to ordinary memory only, so such a space
 * (a driver's) goes through its page tables like any other.
 *
 * Another address space is reached through its page tables, read under
 * its page-table lock. An entry that is present, user, ordinary memory and
 * (for a write) writable says what resolve() would say, because everything
 * that changes what an address maps (unmap, protect, snapshot, a
 * copy-on-write break) removes the entry under that lock before the page
 * can go, and a shared page is never entered writable. So while the lock
 * is held, the page is the area's own and cannot be freed.
 *
 * Anything else (not entered yet, read-only for a write, a device page)
 * takes the slow path through the areas, which enters the page for next
 * time.
 */
static bool as_live(struct aspace *as)
{
	return arch_page_table() == as->pml4 && !READ_ONCE(as->has_phys);
}

static char *pt_addr(struct aspace *as, uintptr_t addr, bool write)
{
	paddr_t pa;

	if (as->pt_closed)
		return NULL;
	pa = uvm_lookup(as->pml4, addr, write);
	return pa ? (char *)phys_to_virt(pa) + (addr & (PAGE_SIZE - 1)) : NULL;
}

/* Enter the page of addr (as a user access would). 0 or -EFAULT. */
static int prefault(struct aspace *as, uintptr_t addr, bool write)
{
	irqflags_t f = spin_lock_irqsave(&as->lock);
	paddr_t pa = 0;
	int r = !as->dead ? resolve(as, addr, write ? 2 : 0, true, &pa, NULL, NULL) : -ESRCH;

	spin_unlock_irqrestore(&as->lock, f);
	return r < 0 ? -EFAULT : 0;
}

/* Are the pages of first and last (the same page, or two) entered with
 * the access? (The fast check.) */
static bool entered(struct aspace *as, uintptr_t first, uintptr_t last, bool write)
{
	bool two = (first ^ last) >= PAGE_SIZE, ok;
	irqflags_t f;

	if (as_live(as)) {
		if (write)
			return !uaccess_probe_write(first) && (!two || !uaccess_probe_write(last));
		return !uaccess_probe_read(first) && (!two || !uaccess_probe_read(last));
	}
	f = spin_lock_irqsave(&as->pt_lock);
	ok = pt_addr(as, first, write) && (!two || pt_addr(as, last, write));
	spin_unlock_irqrestore(&as->pt_lock, f);
	return ok;
}

int vm_check_range(struct aspace *as, uintptr_t addr, uint64_t len, unsigned prot)
{
	uintptr_t a = addr, end = addr + len;
	irqflags_t f;

	if (!len)
		return 0;
	if (!user_range_ok(addr, len))
		return -EFAULT;
	/* Up to a page (so one or two pages) entered already: the MMU or
	 * the tables say. A larger range is checked against the areas, so
	 * checking pages nothing wrote yet allocates nothing. */
	if (len <= PAGE_SIZE && (prot == RL_PROT_READ || prot == RL_PROT_WRITE) &&
	    entered(as, addr, end - 1, prot == RL_PROT_WRITE))
		return 0;
	f = spin_lock_irqsave(&as->lock);
	while (!as->dead && a < end) {
		struct vma *v = find_vma(as, a);

		if (!v || !v->mo || (v->prot & prot) != prot || v->mo->kind == MO_PHYS)
			break;
		a = v->end;
	}
	spin_unlock_irqrestore(&as->lock, f);
	return a >= end ? 0 : -EFAULT;
}

int vm_rw(struct aspace *as, uintptr_t addr, void *buf, size_t len, bool write)
{
	char *b = buf;

	if (!user_range_ok(addr, len))
		return -EFAULT;
	if (as_live(as) && !(write ? uaccess_copy((void *)addr, buf, len)
				   : uaccess_copy(buf, (const void *)addr, len)))
		return 0;	/* (a partial copy is made again below) */
	while (len) {
		size_t chunk = MIN(len, PAGE_SIZE - (addr & (PAGE_SIZE - 1)));
		struct rw_copy c = { b, addr & (PAGE_SIZE - 1), chunk, write };
		irqflags_t f = spin_lock_irqsave(&as->pt_lock);
		char *k = pt_addr(as, addr, write);
		paddr_t pa = 0;
		int r;

		if (k) {
			if (write)
				memcpy(k, b, chunk);
			else
				memcpy(b, k, chunk);
		}
		spin_unlock_irqrestore(&as->pt_lock, f);
		if (!k) {
			/* The slow path copies under the object's lock and
			 * enters the page for the next copy. */
			f = spin_lock_irqsave(&as->lock);
			r = !as->dead ? resolve(as, addr, write ? 2 : 0, true, &pa, &c, NULL) : -ESRCH;
			spin_unlock_irqrestore(&as->lock, f);
			if (r < 0)
				return -EFAULT;
		}
		addr += chunk;
		b += chunk;
		len -= chunk;
	}
	return 0;
}

/* One chunk within a page on both sides, the fast way; false: not entered. */
static bool copy_chunk(struct aspace *src, uintptr_t from, struct aspace *dst, uintptr_t to,
		       size_t n)
{
	bool src_live = as_live(src), dst_live = as_live(dst), ok;
	irqflags_t f;

	if (src_live && dst_live)
		return !uaccess_copy((void *)to, (const void *)from, n);
	if (src_live || dst_live) {
		struct aspace *other = src_live ? dst : src;
		char *k;

		f = spin_lock_irqsave(&other->pt_lock);
		k = pt_addr(other, src_live ? to : from, dst == other);
		ok = k && !(src_live ? uaccess_copy(k, (const void *)from, n)
				     : uaccess_copy((void *)to, k, n));
		spin_unlock_irqrestore(&other->pt_lock, f);
		return ok;
	} else {
		struct aspace *first = src < dst ? src : dst, *second = src < dst ? dst : src;
		char *ks, *kd;

		f = spin_lock_irqsave(&first->pt_lock);
		if (second != first)
			spin_lock(&second->pt_lock);
		ks = pt_addr(src, from, false);
		kd = ks ? pt_addr(dst, to, true) : NULL;
		if (kd)
			memcpy(kd, ks, n);
		if (second != first)
			spin_unlock(&second->pt_lock);
		spin_unlock_irqrestore(&first->pt_lock, f);
		return kd != NULL;
	}
}

int vm_copy(struct aspace *src, uintptr_t from, struct aspace *dst, uintptr_t to, size_t len)
{
	bool faulted = false;

	if (!user_range_ok(from, len) || !user_range_ok(to, len))
		return -EFAULT;
	while (len) {
		size_t chunk = MIN(len, PAGE_SIZE - (from & (PAGE_SIZE - 1)));

		chunk = MIN(chunk, PAGE_SIZE - (to & (PAGE_SIZE - 1)));
		if (!copy_chunk(src, from, dst, to, chunk)) {
			char b[256];

			/* Enter both pages, then try again; if they still are
			 * not there (a device page, a race with an unmap),
			 * copy this chunk the slow way. */
			if (!faulted) {
				if (prefault(src, from, false) || prefault(dst, to, true))
					return -EFAULT;
				faulted = true;
				continue;
			}
			chunk = MIN(chunk, sizeof(b));
			if (vm_rw(src, from, b, chunk, false) || vm_rw(dst, to, b, chunk, true))
				return -EFAULT;
		}
		faulted = false;
		from += chunk;
		to += chunk;
		len -= chunk;
	}
	return 0;
}
