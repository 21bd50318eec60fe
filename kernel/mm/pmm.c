/*
 * pmm.c - physical memory: the usable ranges, the early allocator, and the
 * buddy zone behind pmm_alloc/pmm_free.
 *
 * Boot sequence:
 *   pmm_early_init  usable = available RAM - [0, 1 MiB) - kernel image - modules
 *   pmm_early_alloc carves pages from the low end of usable ranges below 1 GiB
 *                   (reachable through the boot page tables) for page tables
 *   paging_init     builds the real direct map (pmm_is_direct_mapped says what)
 *   pmm_init        allocates the page metadata array, then gives every page
 *                   still usable to the buddy zone; the early allocator closes
 *
 * Locking: zone_lock (irqsave) around every buddy call.
 */
#include <kernel/boot.h>
#include <kernel/buddy.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/spinlock.h>
#include <rill/string.h>

#define MAX_RANGES 128

struct range {
	paddr_t start, end;	/* page-aligned, end exclusive */
};

static struct range usable[MAX_RANGES];
static unsigned nusable;
static bool early_closed;
static uint64_t early_pages;

static struct buddy_zone zone;
static spinlock_t zone_lock = SPINLOCK_INIT;
static uint64_t alloc_calls, free_calls;
static uint64_t reserved_pages;
bool pmm_ready;

extern const char __image_end[];

static void range_add(paddr_t start, paddr_t end)
{
	start = ALIGN_UP(start, PAGE_SIZE);
	end = ALIGN_DOWN(end, PAGE_SIZE);
	if (end <= start)
		return;
	if (nusable == MAX_RANGES) {
		pr_warn("pmm: more than %d usable ranges; %lx-%lx dropped", MAX_RANGES,
			start, end);
		return;
	}
	usable[nusable++] = (struct range){ start, end };
}

/* Remove [start, end) from every usable range, splitting where needed. */
static void range_remove(paddr_t start, paddr_t end)
{
	start = ALIGN_DOWN(start, PAGE_SIZE);
	end = ALIGN_UP(end, PAGE_SIZE);
	for (unsigned i = 0; i < nusable; i++) {
		struct range *r = &usable[i];

		if (end <= r->start || start >= r->end)
			continue;
		if (start > r->start && end < r->end) {
			paddr_t tail = r->end;

			r->end = start;
			range_add(end, tail);
		} else if (start <= r->start && end >= r->end) {
			r->end = r->start;	/* emptied; skipped from now on */
		} else if (start <= r->start) {
			r->start = end;
		} else {
			r->end = start;
		}
	}
}

void pmm_early_init(void)
{
	paddr_t image_end = virt_to_phys(__image_end);

	for (unsigned i = 0; i < boot_info.nmmap; i++) {
		const struct boot_mmap_entry *e = &boot_info.mmap[i];

		if (e->type == BOOT_MEM_AVAILABLE)
			range_add(e->base, e->base + e->length);
	}
	/* Overlapping "reserved" entries win over "available" ones. */
	for (unsigned i = 0; i < boot_info.nmmap; i++) {
		const struct boot_mmap_entry *e = &boot_info.mmap[i];

		if (e->type != BOOT_MEM_AVAILABLE)
			range_remove(e->base, e->base + e->length);
	}
	range_remove(0, 0x100000);
	range_remove(KERNEL_PHYS, image_end);
	for (unsigned i = 0; i < boot_info.nmods; i++)
		range_remove(boot_info.mods[i].start, boot_info.mods[i].end);
}

paddr_t pmm_early_alloc(size_t bytes)
{
	size_t len = ALIGN_UP(bytes, PAGE_SIZE);

	if (early_closed)
		panic("pmm_early_alloc after pmm_init");
	for (unsigned i = 0; i < nusable; i++) {
		struct range *r = &usable[i];
		paddr_t pa = r->start;

		if (r->end - r->start < len)
			continue;
		/* Before paging_init only the first 1 GiB is mapped. */
		if (!pmm_is_direct_mapped(pa, len))
			continue;
		r->start += len;
		early_pages += len / PAGE_SIZE;
		memset(phys_to_virt(pa), 0, len);
		return pa;
	}
	panic("pmm: out of memory during early boot (%zu bytes wanted)", bytes);
}

void pmm_init(void)
{
	paddr_t top = 0;
	uint64_t npages;
	struct buddy_page *meta;

	for (unsigned i = 0; i < nusable; i++)
		if (usable[i].end > top)
			top = usable[i].end;
	npages = top / PAGE_SIZE;
	meta = phys_to_virt(pmm_early_alloc(npages * sizeof(struct buddy_page)));
	early_closed = true;

	buddy_init(&zone, 0, npages, meta);
	for (unsigned i = 0; i < nusable; i++)
		if (usable[i].end > usable[i].start)
			buddy_add_range(&zone, usable[i].start / PAGE_SIZE,
					(usable[i].end - usable[i].start) / PAGE_SIZE);
	reserved_pages = early_pages + (virt_to_phys(__image_end) - KERNEL_PHYS) / PAGE_SIZE;
	pmm_ready = true;
	pr_info("pmm: %lu MiB usable in %u ranges, %lu KiB for page metadata",
		zone.free_pages >> 8, nusable,
		(unsigned long)(npages * sizeof(struct buddy_page) >> 10));
}

paddr_t pmm_alloc(unsigned order)
{
	irqflags_t f = spin_lock_irqsave(&zone_lock);
	int64_t pfn = buddy_alloc(&zone, order);

	alloc_calls++;
	spin_unlock_irqrestore(&zone_lock, f);
	return pfn < 0 ? 0 : (paddr_t)pfn * PAGE_SIZE;
}

void pmm_free(paddr_t pa, unsigned order)
{
	irqflags_t f;
	int r;

	if (!pa)
		return;
	f = spin_lock_irqsave(&zone_lock);
	r = buddy_free(&zone, pa / PAGE_SIZE, order);
	free_calls++;
	spin_unlock_irqrestore(&zone_lock, f);
	if (r)
		panic("pmm_free(%lx, order %u): not an allocated block", pa, order);
}

paddr_t pmm_alloc_zeroed_page(void)
{
	paddr_t pa = pmm_alloc(0);

	if (pa)
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

void pmm_get_stats(struct pmm_stats *st)
{
	irqflags_t f = spin_lock_irqsave(&zone_lock);

	st->total_pages = zone.managed_pages;
	st->free_pages = zone.free_pages;
	st->reserved_pages = reserved_pages;
	st->alloc_calls = alloc_calls;
	st->free_calls = free_calls;
	spin_unlock_irqrestore(&zone_lock, f);
}

uint64_t pmm_free_pages(void)
{
	return READ_ONCE(zone.free_pages);
}

int pmm_check(void)
{
	irqflags_t f = spin_lock_irqsave(&zone_lock);
	int r = buddy_check(&zone);

	spin_unlock_irqrestore(&zone_lock, f);
	return r;
}

uint64_t pmm_free_blocks(unsigned order)
{
	irqflags_t f = spin_lock_irqsave(&zone_lock);
	uint64_t n = buddy_free_blocks(&zone, order);

	spin_unlock_irqrestore(&zone_lock, f);
	return n;
}

void pmm_set_tag(paddr_t pa, size_t npages, uint32_t tag)
{
	uint64_t pfn = pa / PAGE_SIZE;

	for (size_t i = 0; i < npages && pfn + i < zone.npages; i++)
		WRITE_ONCE(zone.meta[pfn + i].user, tag);
}

uint32_t pmm_get_tag(paddr_t pa)
{
	uint64_t pfn = pa / PAGE_SIZE;

	return pfn < zone.npages ? READ_ONCE(zone.meta[pfn].user) : 0;
}

uint32_t *pmm_page_word(paddr_t pa)
{
	return &zone.meta[pa / PAGE_SIZE - zone.base_pfn].user;
}

bool pmm_range_managed(paddr_t pa, uint64_t len)
{
	for (unsigned i = 0; i < boot_info.nmmap; i++) {
		const struct boot_mmap_entry *e = &boot_info.mmap[i];

		if (e->type == BOOT_MEM_AVAILABLE && pa < e->base + e->length &&
		    pa + len > e->base)
			return true;
	}
	return false;
}
