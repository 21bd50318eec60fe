/*
 * test_mm.c - in-kernel tests of the physical allocator, the heap, kernel
 * stacks, kernel page mappings and user page-table lookups.
 */
#include <kernel/budget.h>
#include <kernel/buddy.h>
#include <kernel/kheap.h>
#include <kernel/kstack.h>
#include <kernel/ktest.h>
#include <kernel/memlayout.h>
#include <kernel/pmm.h>
#include <kernel/errno.h>
#include <kernel/vm.h>
#include <kernel/vmm.h>
#include <abi/rill.h>
#include <rill/string.h>

/* Take every free page, one at a time, then give them all back: the free
 * counter must return to its start and the buddies must merge back into
 * exactly the blocks there were before. */
KTEST(pmm_alloc_all_free_all)
{
	uint64_t before = pmm_free_pages(), n = 0;
	uint64_t blocks[BUDDY_MAX_ORDER];
	paddr_t head = 0, pa;

	for (unsigned o = 0; o < BUDDY_MAX_ORDER; o++)
		blocks[o] = pmm_free_blocks(o);
	/* Chain the pages through their own first word: no extra memory. */
	while ((pa = pmm_alloc(0))) {
		*(paddr_t *)phys_to_virt(pa) = head;
		head = pa;
		n++;
	}
	KT_ASSERT_EQ(pmm_free_pages(), 0);
	KT_ASSERT_EQ(n, before);
	KT_ASSERT_EQ(pmm_alloc(0), 0);
	while (head) {
		pa = head;
		head = *(paddr_t *)phys_to_virt(pa);
		pmm_free(pa, 0);
	}
	KT_ASSERT_EQ(pmm_free_pages(), before);
	KT_ASSERT_EQ(pmm_check(), 0);
	for (unsigned o = 0; o < BUDDY_MAX_ORDER; o++)
		KT_ASSERT_EQ(pmm_free_blocks(o), blocks[o]);
}

KTEST(pmm_orders_aligned_and_distinct)
{
	uint64_t before = pmm_free_pages();
	paddr_t got[BUDDY_MAX_ORDER];

	for (unsigned o = 0; o < BUDDY_MAX_ORDER; o++) {
		got[o] = pmm_alloc(o);
		KT_ASSERT(got[o] != 0);
		KT_ASSERT(IS_ALIGNED(got[o], PAGE_SIZE << o));
		/* Writable through the direct map, all of it. */
		memset(phys_to_virt(got[o]), (int)o, PAGE_SIZE << o);
	}
	for (unsigned o = 0; o < BUDDY_MAX_ORDER; o++) {
		const uint8_t *p = phys_to_virt(got[o]);

		KT_ASSERT(p[0] == o && p[(PAGE_SIZE << o) - 1] == o);
	}
	KT_ASSERT_EQ(pmm_alloc(BUDDY_MAX_ORDER), 0);	/* out of range */
	for (unsigned o = 0; o < BUDDY_MAX_ORDER; o++)
		pmm_free(got[o], o);
	KT_ASSERT_EQ(pmm_free_pages(), before);
}

KTEST(heap_churn)
{
	static void *objs[2048];
	static size_t sizes[2048];
	struct kheap_stats st0, st1;
	uint64_t seed = 0x1234567;

	kheap_get_stats(&st0);
	for (int round = 0; round < 20000; round++) {
		unsigned i = kt_rand(&seed) % ARRAY_SIZE(objs);

		if (objs[i]) {
			uint8_t *p = objs[i];

			/* The pattern written at allocation is intact. */
			KT_ASSERT(p[0] == (uint8_t)i);
			KT_ASSERT(sizes[i] < 2 || p[sizes[i] - 1] == (uint8_t)(i >> 3));
			kfree(objs[i]);
			objs[i] = NULL;
		} else {
			size_t sz = 1 + kt_rand(&seed) % (kt_rand(&seed) % 8 == 0 ? 20000 : 600);
			uint8_t *p = kmalloc(sz);

			KT_ASSERT(p != NULL);
			memset(p, 0xee, sz);
			p[0] = (uint8_t)i;
			if (sz >= 2)
				p[sz - 1] = (uint8_t)(i >> 3);
			objs[i] = p;
			sizes[i] = sz;
		}
	}
	for (unsigned i = 0; i < ARRAY_SIZE(objs); i++) {
		kfree(objs[i]);
		objs[i] = NULL;
	}
	kheap_get_stats(&st1);
	KT_ASSERT_EQ(st1.objects_in_use, st0.objects_in_use);
	KT_ASSERT_EQ(st1.large_pages, st0.large_pages);
}

KTEST(heap_named_cache)
{
	struct kmem_cache *c = kmem_cache_create("ktest-obj", 72, 8);
	void *objs[500];
	uint64_t free0 = pmm_free_pages();

	KT_ASSERT(c != NULL);
	for (int i = 0; i < 500; i++) {
		objs[i] = kmem_cache_zalloc(c);
		KT_ASSERT(objs[i] != NULL);
		KT_ASSERT(((uint64_t *)objs[i])[8] == 0);
		KT_ASSERT(IS_ALIGNED((uintptr_t)objs[i], 8));
	}
	KT_ASSERT_EQ(kmem_cache_in_use(c), 500);
	for (int i = 0; i < 500; i++)
		kmem_cache_free(c, objs[i]);
	KT_ASSERT_EQ(kmem_cache_in_use(c), 0);
	slab_shrink(&c->slab);
	KT_ASSERT_EQ(pmm_free_pages(), free0);
}

KTEST(vmm_map_unmap)
{
	uintptr_t va = KSTACK_REGION + 0x3000000000ull;	/* unused part of the slot */
	paddr_t pa = pmm_alloc_zeroed_page(), pa2 = pmm_alloc_zeroed_page(), got;
	uint64_t free0;

	KT_ASSERT(pa && pa2);
	free0 = pmm_free_pages();
	KT_ASSERT(!vmm_translate(va, &got));
	KT_ASSERT_EQ(vmm_map(va, pa, VMM_WRITE), 0);
	KT_ASSERT(vmm_translate(va + 0x123, &got));
	KT_ASSERT_EQ(got, pa + 0x123);
	*(volatile uint64_t *)va = 0xfeedface;
	KT_ASSERT_EQ(*(uint64_t *)phys_to_virt(pa), 0xfeedface);
	KT_ASSERT_EQ(vmm_map(va, pa2, VMM_WRITE), -EEXIST);
	KT_ASSERT_EQ(vmm_map(va + 1, pa2, VMM_WRITE), -EINVAL);
	KT_ASSERT_EQ(vmm_map(0x1000, pa2, VMM_WRITE), -EINVAL);	/* user half */
	KT_ASSERT_EQ(vmm_unmap(va), pa);
	KT_ASSERT(!vmm_translate(va, &got));
	KT_ASSERT_EQ(vmm_unmap(va), 0);
	/* Remap to another frame: the new contents show, not stale ones. */
	KT_ASSERT_EQ(vmm_map(va, pa2, VMM_WRITE), 0);
	KT_ASSERT_EQ(*(volatile uint64_t *)va, 0);
	KT_ASSERT_EQ(vmm_unmap(va), pa2);
	/* 1000 cycles leave no page-table pages behind beyond the first. */
	for (int i = 0; i < 1000; i++) {
		KT_ASSERT_EQ(vmm_map(va, pa, VMM_WRITE), 0);
		KT_ASSERT_EQ(vmm_unmap(va), pa);
	}
	KT_ASSERT(pmm_free_pages() + 2 >= free0);	/* intermediate tables stay */
	pmm_free(pa, 0);
	pmm_free(pa2, 0);
}

/* uvm_lookup is what kernel copies trust for another address space
 * (vm.c's pt_addr): only an entry that is present, user, ordinary memory
 * and, for a write, writable. */
KTEST(uvm_lookup_entries)
{
	paddr_t pml4 = uvm_create(), pa = pmm_alloc_zeroed_page();
	uintptr_t va = 0x10000000;
	struct budget b = { .limit = 3 * PAGE_SIZE, .refs = 1 };

	KT_ASSERT(pml4 && pa);
	KT_ASSERT_EQ(uvm_lookup(pml4, va, false), 0);		/* nothing entered */
	KT_ASSERT_EQ(uvm_map(pml4, va, pa, RL_PROT_READ, false, true, &b), 0);
	KT_ASSERT_EQ(b.used, 3 * PAGE_SIZE);			/* PDPT, PD, PT */
	KT_ASSERT_EQ(uvm_lookup(pml4, va + 5, false), pa);
	KT_ASSERT_EQ(uvm_lookup(pml4, va, true), 0);		/* read-only */
	KT_ASSERT_EQ(uvm_lookup(pml4, va + 4096, false), 0);	/* the next page */
	KT_ASSERT(uvm_protect(pml4, va, RL_PROT_READ | RL_PROT_WRITE));
	KT_ASSERT_EQ(uvm_lookup(pml4, va, true), pa);		/* still ordinary memory */
	KT_ASSERT_EQ(uvm_unmap(pml4, va), pa);
	KT_ASSERT_EQ(uvm_lookup(pml4, va, false), 0);
	KT_ASSERT_EQ(uvm_map(pml4, va, pa, RL_PROT_READ | RL_PROT_WRITE, true, false, &b), 0);
	/* A table more than the budget allows: refused. */
	KT_ASSERT_EQ(uvm_map(pml4, va + (1ull << 21), pa, RL_PROT_READ, false, true, &b),
		     -ENOMEM);
	KT_ASSERT_EQ(b.used, 3 * PAGE_SIZE);
	KT_ASSERT_EQ(uvm_lookup(pml4, va, false), 0);		/* device memory */
	KT_ASSERT_EQ(uvm_unmap(pml4, va), pa);
	KT_ASSERT_EQ(uvm_lookup(pml4, RL_USER_TOP, false), 0);
	KT_ASSERT_EQ(uvm_lookup(pml4, (uintptr_t)-4096, false), 0);	/* kernel half */
	KT_ASSERT_EQ(uvm_destroy(pml4), 3);			/* as charged */
	pmm_free(pa, 0);
}

KTEST(kstack_guard_layout)
{
	uint64_t in_use = kstack_in_use(), free0 = pmm_free_pages();
	uintptr_t top = kstack_alloc();
	paddr_t pa;

	KT_ASSERT(top != 0);
	KT_ASSERT_EQ(kstack_in_use(), in_use + 1);
	/* The stack is mapped, the page below it is a guard. */
	KT_ASSERT(vmm_translate(top - 8, &pa));
	KT_ASSERT(vmm_translate(top - KSTACK_SIZE, &pa));
	KT_ASSERT(!vmm_translate(top - KSTACK_SIZE - 8, &pa));
	KT_ASSERT(kstack_is_guard(top - KSTACK_SIZE - 8));
	KT_ASSERT(!kstack_is_guard(top - 8));
	*(volatile uint64_t *)(top - KSTACK_SIZE) = 1;
	kstack_free(top);
	KT_ASSERT_EQ(kstack_in_use(), in_use);
	KT_ASSERT(!vmm_translate(top - 8, &pa));
	KT_ASSERT(pmm_free_pages() + 4 >= free0);
}
