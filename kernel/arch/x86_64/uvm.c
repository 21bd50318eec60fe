/*
 * uvm.c - the user half of address spaces: four-level page tables whose
 * kernel half (PML4 slots 256-511) is copied from the kernel's tables,
 * which never change there (see paging.c).
 *
 * These functions do no locking and no TLB flushing: vm.c holds the
 * address space's page-table lock around them and flushes.
 */
#include <kernel/budget.h>
#include <kernel/errno.h>
#include <kernel/memlayout.h>
#include <kernel/pmm.h>
#include <kernel/vm.h>
#include <kernel/vmm.h>
#include <abi/rill.h>
#include <rill/string.h>

#define PTE_P		(1ull << 0)
#define PTE_W		(1ull << 1)
#define PTE_U		(1ull << 2)
#define PTE_PWT		(1ull << 3)
#define PTE_PCD		(1ull << 4)
#define PTE_RAM		(1ull << 9)	/* software: ordinary memory (not MO_PHYS) */
#define PTE_NX		(1ull << 63)
#define PTE_ADDR	0x000ffffffffff000ull

uint64_t nr_page_tables;

static uint64_t *tab(paddr_t pa)
{
	return phys_to_virt(pa);
}

paddr_t uvm_create(void)
{
	paddr_t pml4 = pmm_alloc_zeroed_page();

	if (!pml4)
		return 0;
	memcpy(tab(pml4) + 256, tab(vmm_kernel_pml4()) + 256, 256 * sizeof(uint64_t));
	__atomic_fetch_add(&nr_page_tables, 1, __ATOMIC_RELAXED);
	return pml4;
}

static uint64_t free_level(paddr_t t, int level)
{
	uint64_t *e = tab(t), n = 1;

	if (level > 1) {
		for (int i = 0; i < 512; i++)
			if (e[i] & PTE_P)
				n += free_level(e[i] & PTE_ADDR, level - 1);
	}
	pmm_free(t, 0);
	__atomic_fetch_sub(&nr_page_tables, 1, __ATOMIC_RELAXED);
	return n;
}

uint64_t uvm_destroy(paddr_t pml4)
{
	uint64_t *e = tab(pml4), n = 0;

	for (int i = 0; i < 256; i++)
		if (e[i] & PTE_P)
			n += free_level(e[i] & PTE_ADDR, 3);
	pmm_free(pml4, 0);
	__atomic_fetch_sub(&nr_page_tables, 1, __ATOMIC_RELAXED);
	return n;
}

/* Leaf entry for va, creating tables (charged to budget) when it is given. */
static uint64_t *walk(paddr_t pml4, uintptr_t va, struct budget *budget)
{
	paddr_t t = pml4;

	for (int l = 4; l > 1; l--) {
		uint64_t *e = &tab(t)[(va >> (12 + 9 * (l - 1))) & 511];

		if (!(*e & PTE_P)) {
			paddr_t n;

			if (!budget || budget_charge(budget, PAGE_SIZE))
				return NULL;
			if (!(n = pmm_alloc_zeroed_page())) {
				budget_uncharge(budget, PAGE_SIZE);
				return NULL;
			}
			__atomic_fetch_add(&nr_page_tables, 1, __ATOMIC_RELAXED);
			*e = n | PTE_P | PTE_W | PTE_U;
		}
		t = *e & PTE_ADDR;
	}
	return &tab(t)[(va >> 12) & 511];
}

static uint64_t prot_bits(unsigned prot)
{
	uint64_t f = PTE_P | PTE_U;

	if (prot & RL_PROT_WRITE)
		f |= PTE_W;
	if (!(prot & RL_PROT_EXEC))
		f |= PTE_NX;
	return f;
}

int uvm_map(paddr_t pml4, uintptr_t va, paddr_t pa, unsigned prot, bool uncached, bool ram,
	    struct budget *budget)
{
	uint64_t *e;

	if (va >= RL_USER_TOP)
		return -EINVAL;
	e = walk(pml4, va, budget);
	if (!e)
		return -ENOMEM;
	*e = pa | prot_bits(prot) | (uncached ? PTE_PCD | PTE_PWT : 0) | (ram ? PTE_RAM : 0);
	return 0;
}

paddr_t uvm_lookup(paddr_t pml4, uintptr_t va, bool write)
{
	uint64_t need = PTE_P | PTE_U | PTE_RAM | (write ? PTE_W : 0);
	uint64_t e;

	if (va >= RL_USER_TOP)
		return 0;
	e = tab(pml4)[(va >> 39) & 511];
	if (!(e & PTE_P))
		return 0;
	e = tab(e & PTE_ADDR)[(va >> 30) & 511];
	if (!(e & PTE_P))
		return 0;
	e = tab(e & PTE_ADDR)[(va >> 21) & 511];
	if (!(e & PTE_P))
		return 0;
	e = tab(e & PTE_ADDR)[(va >> 12) & 511];
	return (e & need) == need ? e & PTE_ADDR : 0;
}

paddr_t uvm_unmap(paddr_t pml4, uintptr_t va)
{
	uint64_t *e = walk(pml4, va, NULL);
	paddr_t pa;

	if (!e || !(*e & PTE_P))
		return 0;
	pa = *e & PTE_ADDR;
	*e = 0;
	return pa;
}

bool uvm_protect(paddr_t pml4, uintptr_t va, unsigned prot)
{
	uint64_t *e = walk(pml4, va, NULL);

	if (!e || !(*e & PTE_P))
		return false;
	*e = (*e & (PTE_ADDR | PTE_PCD | PTE_PWT | PTE_RAM)) | prot_bits(prot);
	return true;
}

/* Clear every entry in [start, end) (page-aligned), skipping whole absent
 * tables, so a huge sparse range costs what is mapped, not its size.
 * Returns whether any entry was present. No flush. */
bool uvm_unmap_range(paddr_t pml4, uintptr_t start, uintptr_t end)
{
	bool any = false;
	uintptr_t va = start;

	while (va < end) {
		paddr_t t = pml4;
		uint64_t *e = NULL;
		int l;

		for (l = 4; l > 1; l--) {
			e = &tab(t)[(va >> (12 + 9 * (l - 1))) & 511];
			if (!(*e & PTE_P))
				break;
			t = *e & PTE_ADDR;
		}
		if (l > 1) {
			/* No table below level l: skip the span it would map. */
			uintptr_t span = 1ull << (12 + 9 * (l - 1));
			uintptr_t next = ALIGN_DOWN(va, span) + span;

			if (next <= va)
				break;
			va = next;
			continue;
		}
		e = &tab(t)[(va >> 12) & 511];
		if (*e & PTE_P) {
			*e = 0;
			any = true;
		}
		va += PAGE_SIZE;
	}
	return any;
}
