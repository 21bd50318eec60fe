/*
 * paging.c - x86-64 four-level page tables for the kernel half.
 *
 * paging_init builds a fresh PML4 with
 *   - the direct map: every RAM range of the memory map (and the first
 *     2 MiB, for BIOS tables), rounded out to 2 MiB pages, RW, NX, global;
 *   - the kernel image in 4 KiB pages with W^X: text RX, rodata R,
 *     data and bss RW;
 *   - empty PDPTs for the stack and device-window slots,
 * and switches to it. PML4 slots 256-511 are never added or removed after
 * this, so user address spaces can copy them once.
 *
 * Locking: pt_lock (irqsave) around every change to the kernel tables.
 */
#include <kernel/boot.h>
#include <kernel/errno.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>
#include <kernel/vmm.h>
#include <arch/x86.h>
#include <rill/string.h>

#define PTE_P		(1ull << 0)
#define PTE_W		(1ull << 1)
#define PTE_U		(1ull << 2)
#define PTE_PWT		(1ull << 3)
#define PTE_PCD		(1ull << 4)
#define PTE_PS		(1ull << 7)
#define PTE_G		(1ull << 8)
#define PTE_NX		(1ull << 63)
#define PTE_ADDR	0x000ffffffffff000ull

#define MMIO_WINDOW	(KSTACK_REGION + 0x4000000000ull)	/* second half of slot 510 */
#define MMIO_WINDOW_END	(KSTACK_REGION + KSTACK_REGION_SIZE)
#define EARLY_LIMIT	0x40000000ull

static paddr_t kpml4;
static spinlock_t pt_lock = SPINLOCK_INIT;
static bool nx_ok;

static struct {
	paddr_t start, end;
} dmap[BOOT_MAX_MMAP + 1];
static unsigned ndmap;
static bool dmap_ready;
static uintptr_t mmio_next = MMIO_WINDOW;

extern const char __text_start[], __text_end[], __rodata_start[], __data_start[];
extern const char __image_end[];

bool pmm_is_direct_mapped(paddr_t pa, size_t len)
{
	if (pa + len < pa)
		return false;
	if (!dmap_ready)
		return pa + len <= EARLY_LIMIT;
	for (unsigned i = 0; i < ndmap; i++)
		if (pa >= dmap[i].start && pa + len <= dmap[i].end)
			return true;
	return false;
}

paddr_t vmm_kernel_pml4(void)
{
	return kpml4;
}

static paddr_t pt_alloc(void)
{
	return pmm_ready ? pmm_alloc_zeroed_page() : pmm_early_alloc(PAGE_SIZE);
}

static uint64_t *table(paddr_t pa)
{
	return phys_to_virt(pa);
}

/* Entry for va at the given level (4 = PML4 ... 1 = PT), creating missing
 * tables down to it when create is set. NULL when missing (or a huge page
 * sits above it). */
static uint64_t *pt_walk(uintptr_t va, int level, bool create)
{
	paddr_t t = kpml4;

	for (int l = 4; l > level; l--) {
		uint64_t *e = &table(t)[(va >> (12 + 9 * (l - 1))) & 511];

		if (!(*e & PTE_P)) {
			paddr_t n;

			if (!create || !(n = pt_alloc()))
				return NULL;
			*e = n | PTE_P | PTE_W;
		} else if (*e & PTE_PS) {
			return NULL;
		}
		t = *e & PTE_ADDR;
	}
	return &table(t)[(va >> (12 + 9 * (level - 1))) & 511];
}

static uint64_t pte_flags(unsigned flags)
{
	uint64_t f = PTE_P | PTE_G;

	if (flags & VMM_WRITE)
		f |= PTE_W;
	if (!(flags & VMM_EXEC) && nx_ok)
		f |= PTE_NX;
	if (flags & VMM_UNCACHED)
		f |= PTE_PCD | PTE_PWT;
	return f;
}

static void map_2m(uintptr_t va, paddr_t pa, unsigned flags)
{
	uint64_t *e = pt_walk(va, 2, true);

	if (!e)
		panic("paging: cannot map %lx", va);
	*e = pa | pte_flags(flags) | PTE_PS;
}

static void map_4k_early(uintptr_t va, paddr_t pa, unsigned flags)
{
	uint64_t *e = pt_walk(va, 1, true);

	if (!e)
		panic("paging: cannot map %lx", va);
	*e = pa | pte_flags(flags);
}

static void dmap_add(paddr_t start, paddr_t end)
{
	start = ALIGN_DOWN(start, 0x200000ull);
	end = ALIGN_UP(end, 0x200000ull);
	if (end > DIRECT_MAP_SIZE)
		end = DIRECT_MAP_SIZE;
	if (start >= end)
		return;
	for (paddr_t pa = start; pa < end; pa += 0x200000)
		map_2m(DIRECT_MAP_BASE + pa, pa, VMM_WRITE);
	/* Merge with an adjacent or overlapping range when possible. */
	for (unsigned i = 0; i < ndmap; i++) {
		if (start <= dmap[i].end && end >= dmap[i].start) {
			dmap[i].start = MIN(dmap[i].start, start);
			dmap[i].end = MAX(dmap[i].end, end);
			return;
		}
	}
	if (ndmap < ARRAY_SIZE(dmap))
		dmap[ndmap++].start = start, dmap[ndmap - 1].end = end;
}

void paging_init(void)
{
	uint32_t a, b, c, d;
	uintptr_t va;

	cpuid(0x80000001, 0, &a, &b, &c, &d);
	nx_ok = d & (1u << 20);

	kpml4 = pt_alloc();
	/* Slots 510 (stacks, device window) and 511 (image) exist up front. */
	table(kpml4)[510] = pt_alloc() | PTE_P | PTE_W;
	table(kpml4)[511] = pt_alloc() | PTE_P | PTE_W;

	dmap_add(0, 0x200000);
	for (unsigned i = 0; i < boot_info.nmmap; i++) {
		const struct boot_mmap_entry *e = &boot_info.mmap[i];

		if (e->type == BOOT_MEM_AVAILABLE || e->type == BOOT_MEM_ACPI_RECLAIM ||
		    e->type == BOOT_MEM_ACPI_NVS)
			dmap_add(e->base, e->base + e->length);
	}

	for (va = (uintptr_t)__text_start; va < (uintptr_t)__image_end; va += PAGE_SIZE) {
		unsigned f;

		if (va < (uintptr_t)__text_end)
			f = VMM_EXEC;
		else if (va < (uintptr_t)__data_start)
			f = 0;
		else
			f = VMM_WRITE;
		map_4k_early(va, va - KERNEL_VMA, f);
	}

	write_cr4(read_cr4() | (1 << 7));	/* PGE: global pages */
	write_cr3(kpml4);
	dmap_ready = true;
	for (unsigned i = 0; i < ndmap; i++)
		pr_info("paging: direct map %012lx-%012lx", dmap[i].start, dmap[i].end);
}

void paging_init_ap(void)
{
	write_cr4(read_cr4() | (1 << 7));
	write_cr3(kpml4);
}

static bool kernel_va_ok(uintptr_t va)
{
	return IS_ALIGNED(va, PAGE_SIZE) && va >= KSTACK_REGION &&
	       va < KSTACK_REGION + KSTACK_REGION_SIZE;
}

int vmm_map(uintptr_t va, paddr_t pa, unsigned flags)
{
	irqflags_t f;
	uint64_t *e;
	int r = 0;

	if (!kernel_va_ok(va) || !IS_ALIGNED(pa, PAGE_SIZE))
		return -EINVAL;
	f = spin_lock_irqsave(&pt_lock);
	e = pt_walk(va, 1, true);
	if (!e)
		r = -ENOMEM;
	else if (*e & PTE_P)
		r = -EEXIST;
	else
		*e = pa | pte_flags(flags);
	spin_unlock_irqrestore(&pt_lock, f);
	return r;
}

paddr_t vmm_unmap(uintptr_t va)
{
	irqflags_t f;
	uint64_t *e;
	paddr_t pa = 0;

	if (!kernel_va_ok(va))
		return 0;
	f = spin_lock_irqsave(&pt_lock);
	e = pt_walk(va, 1, false);
	if (e && (*e & PTE_P)) {
		pa = *e & PTE_ADDR;
		*e = 0;
	}
	spin_unlock_irqrestore(&pt_lock, f);
	if (pa)
		tlb_shootdown(va, 1);
	return pa;
}

bool vmm_translate(uintptr_t va, paddr_t *pa)
{
	irqflags_t f = spin_lock_irqsave(&pt_lock);
	paddr_t t = kpml4;
	bool ok = false;

	for (int l = 4; l >= 1; l--) {
		uint64_t e = table(t)[(va >> (12 + 9 * (l - 1))) & 511];
		uint64_t span = 1ull << (12 + 9 * (l - 1));

		if (!(e & PTE_P))
			break;
		if (l == 1 || (e & PTE_PS)) {
			*pa = (e & PTE_ADDR & ~(span - 1)) | (va & (span - 1));
			ok = true;
			break;
		}
		t = e & PTE_ADDR;
	}
	spin_unlock_irqrestore(&pt_lock, f);
	return ok;
}

void *vmm_map_phys(paddr_t pa, size_t len, unsigned flags)
{
	paddr_t start = ALIGN_DOWN(pa, PAGE_SIZE);
	size_t span = ALIGN_UP(pa + len, PAGE_SIZE) - start;
	irqflags_t f;
	uintptr_t va;

	if (len == 0 || pa + len < pa)
		return NULL;
	f = spin_lock_irqsave(&pt_lock);
	if (span > MMIO_WINDOW_END - mmio_next) {
		spin_unlock_irqrestore(&pt_lock, f);
		return NULL;
	}
	va = mmio_next;
	mmio_next += span + PAGE_SIZE;	/* one unmapped page between windows */
	spin_unlock_irqrestore(&pt_lock, f);
	for (size_t off = 0; off < span; off += PAGE_SIZE)
		if (vmm_map(va + off, start + off, flags | VMM_WRITE) < 0)
			return NULL;
	return (void *)(va + (pa - start));
}
