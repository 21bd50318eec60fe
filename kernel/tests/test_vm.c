/*
 * test_vm.c - in-kernel tests of memory objects: the snapshot of a large
 * object with many pages is taken in bounded steps (the source's lock, and
 * with it interrupts, is held for one step at a time), and shares every
 * page exactly.
 */
#include <kernel/ktest.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/pmm.h>
#include <kernel/radix.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <abi/rill.h>

#define MIB		(1ull << 20)
#define GIB		(1ull << 30)
#define SNAP_SIZE	(16 * GIB)

/* The pages the test writes: one in every 8 MiB of the object, and a
 * dense run of 4 MiB across the 3 GiB boundary (two leaves, two nodes of
 * the middle level). off(k) for k < n_pages(). */
#define SPARSE_STRIDE	(8 * MIB)
#define DENSE_START	(3 * GIB - 2 * MIB)
#define DENSE_PAGES	1024u

static uint64_t n_pages(void)
{
	return SNAP_SIZE / SPARSE_STRIDE + DENSE_PAGES;
}

static uint64_t page_off(uint64_t k)
{
	uint64_t sparse = SNAP_SIZE / SPARSE_STRIDE;

	/* (The sparse ones sit mid-stride, clear of the dense run.) */
	return k < sparse ? k * SPARSE_STRIDE + SPARSE_STRIDE / 2 + 4096
			  : DENSE_START + (k - sparse) * 4096;
}

static uint64_t page_value(uint64_t off)
{
	return off ^ 0x5a5a000000000001ull;
}

static paddr_t object_page(struct memobj *mo, uint64_t off)
{
	uint64_t *slot = radix_lookup(&mo->pages, off / 4096);

	return slot ? *slot : 0;
}

KTEST(memobj_snapshot_in_steps)
{
	uint64_t nodes0 = nr_memobj_nodes, user0 = nr_user_pages, n = n_pages();
	const unsigned rw = RL_PROT_READ | RL_PROT_WRITE;
	struct memobj *mo, *snap;
	struct memobj_snapshot_stats st;
	struct aspace as;
	int64_t a;

	KT_ASSERT_EQ(aspace_init(&as), 0);
	KT_ASSERT_EQ(memobj_create_anon(SNAP_SIZE, NULL, &mo), 0);
	a = vm_map(&as, mo, 0, 0, SNAP_SIZE, rw, rw, 0);
	KT_ASSERT(a > 0);
	for (uint64_t k = 0; k < n; k++) {
		uint64_t v = page_value(page_off(k));

		KT_ASSERT_EQ(vm_rw(&as, (uintptr_t)a + page_off(k), &v, 8, true), 0);
	}
	KT_ASSERT_EQ(nr_user_pages, user0 + n);

	/* A first snapshot, dropped: under QEMU's TCG the first run of the
	 * code includes its translation (a step of several ms). */
	KT_ASSERT_EQ(memobj_snapshot(mo, NULL, &snap), 0);
	kobj_put(&snap->obj);
	KT_ASSERT_EQ(nr_user_pages, user0 + n);

	KT_ASSERT_EQ(memobj_snapshot(mo, NULL, &snap), 0);
	st = memobj_last_snapshot;
	pr_info("ktest: snapshot of a 16 GiB object with %lu pages: %lu steps, longest %lu us, "
		"all steps %lu us", n, st.steps, st.max_step_ns / 1000, st.total_ns / 1000);
	KT_ASSERT_EQ(st.pages, n);
	/* At most a leaf per step (its 512 slots): at least a step per
	 * 512 pages, and one per leaf of the sparse part. */
	KT_ASSERT(st.steps >= SNAP_SIZE / SPARSE_STRIDE + DENSE_PAGES / 512);
	KT_ASSERT_EQ(nr_user_pages, user0 + n);	/* shared, not copied */
	for (uint64_t k = 0; k < n; k++) {
		paddr_t pa = object_page(snap, page_off(k));

		KT_ASSERT(pa != 0);
		KT_ASSERT_EQ(pa, object_page(mo, page_off(k)));
		KT_ASSERT_EQ(*pmm_page_word(pa), 2);
		KT_ASSERT_EQ(*(uint64_t *)phys_to_virt(pa), page_value(page_off(k)));
	}
	/* Nothing else: the pages around them are absent in the snapshot. */
	KT_ASSERT_EQ(object_page(snap, 0), 0);
	KT_ASSERT_EQ(object_page(snap, DENSE_START - 4096), 0);
	KT_ASSERT_EQ(object_page(snap, SNAP_SIZE - 4096), 0);

	/* The mapping's entries were write-protected: a write copies. */
	{
		uint64_t v = 7;

		KT_ASSERT_EQ(vm_rw(&as, (uintptr_t)a + DENSE_START, &v, 8, true), 0);
		KT_ASSERT_EQ(nr_user_pages, user0 + n + 1);
		KT_ASSERT_EQ(*(uint64_t *)phys_to_virt(object_page(snap, DENSE_START)),
			     page_value(DENSE_START));
	}
	kobj_put(&snap->obj);
	aspace_destroy(&as);
	kobj_put(&mo->obj);
	KT_ASSERT_EQ(nr_user_pages, user0);
	KT_ASSERT_EQ(nr_memobj_nodes, nodes0);
}
