/*
 * vm.h - memory objects and user address spaces.
 *
 * A memory object is a range of pages that can be mapped:
 *   MO_ANON  pages allocated (zeroed) on first write, kept in a radix tree
 *            indexed by page number (radix.h): the tree's nodes are made
 *            as pages are added, so a large object that is mostly empty
 *            costs little (docs/memory.md has the figures);
 *   MO_PHYS  a fixed physical range (device registers), never freed;
 *   MO_PAGED pages in a tree as MO_ANON's, but a missing page is asked of
 *            a user-space pager (pager.c): a user fault on it waits for
 *            pager_supply, a kernel copy fails with -EFAULT;
 * A copy-on-write snapshot (memobj_cow) is an anonymous object sharing its
 * source's pages; a shared page (reference count > 1, kept in the page
 * allocator's per-page word) is mapped read-only everywhere, and the first
 * write through either object copies it.
 *
 * A read of a page never written maps the shared zero page read-only
 * instead; the object's tree stays without the page.
 *
 * An address space is a page table plus a sorted list of areas (vma), each
 * mapping part of one memory object with a protection. Pages are entered
 * in the page table on demand by vm_fault.
 *
 * Locks, always taken in this order:
 *   aspace.lock   the area list
 *   (a futex bucket's lock, syscall.c: futex_wait reads the word under it)
 *   memobj.lock   the page tree and the list of areas mapping it
 *   aspace.pt_lock  the page table (leaf; snapshot takes it under memobj.lock)
 * All are irqsave spinlocks; TLB shootdowns may be issued under them
 * (spinning CPUs serve shootdowns, see spinlock.h).
 */
#ifndef KERNEL_VM_H
#define KERNEL_VM_H

struct budget;
#include <kernel/list.h>
#include <kernel/kobj.h>
#include <kernel/radix.h>
#include <kernel/spinlock.h>
#include <kernel/types.h>

enum memobj_kind { MO_ANON, MO_PHYS, MO_PAGED };

struct pager;

struct memobj {
	struct kobj obj;
	spinlock_t lock;
	enum memobj_kind kind;
	bool kernel_owned;	/* queue rings, clock page: pages pinned, user cannot free */
	uint64_t size;		/* bytes, page multiple */
	struct radix_tree pages;	/* MO_ANON: page number -> paddr, 0 = absent */
	paddr_t phys;		/* MO_PHYS: base */
	bool uncached;
	/* MO_ANON: the zero page was entered for some page the tree lacks
	 * (set under lock, never cleared): a page made for a write must
	 * first remove such entries (zap_object_page). */
	bool zero_entered;
	/* MO_PAGED: its pager, NULL once the pager is gone (under lock;
	 * the pager holds a reference on the object, not the reverse). */
	struct pager *pager;
	paddr_t contig;		/* kernel_owned contiguous block, or 0 */
	unsigned contig_order;
	struct list_head areas;	/* struct vma.mo_link */
	/* The budget of whoever made it (NULL: the kernel's own), charged
	 * for the object, its tree and one page per page it holds (shared
	 * copy-on-write pages too: a snapshot pays for what it could come
	 * to own); all of it is given back when it is freed. */
	struct budget *budget;
	uint64_t charged;		/* bytes beyond sizeof(struct memobj) */
	struct radix_alloc alloc;	/* node_source with this object */
};

struct aspace {
	spinlock_t lock;
	spinlock_t pt_lock;
	paddr_t pml4;
	struct list_head areas;	/* struct vma.as_link, sorted by start */
	uint64_t nareas;
	bool dead;		/* torn down: nothing can be mapped any more */
	bool pt_closed;		/* (pt_lock) areas going: no page-table copies */
	bool has_phys;		/* device memory was mapped: no MMU copies */
	uintptr_t hint;		/* where to look for free space */
	struct budget *budget;	/* its page tables' (its process's) */
	struct vma *last[2];	/* areas find_vma found last (lock held;
				   cleared when an area is removed) */
	unsigned last_next;	/* which of them the next miss replaces */
	/* Futex waiters on words of its areas (syscall.c): raised under
	 * lock, so an unmap, which looks after removing areas under it,
	 * scans the futex buckets only when this space has waiters. */
	uint64_t futex_waiters;
};

struct vma {
	struct list_head as_link;
	struct list_head mo_link;
	struct aspace *as;
	uintptr_t start, end;
	struct memobj *mo;	/* referenced */
	uint64_t offset;	/* of start within mo */
	unsigned prot;		/* RL_PROT_* */
	unsigned maxprot;	/* what the object's handle allowed */
	unsigned flags;		/* RL_MAP_* it was mapped with, but RL_MAP_FIXED */
};

void vm_init(void);

/* Direct accesses to the current address space (arch uaccess.S): 0, or
 * -EFAULT when the page is not entered with that access (nothing is paged
 * in; the callers in vm.c then take the slow path). */
long uaccess_copy(void *dst, const void *src, size_t n);
long uaccess_probe_read(uintptr_t addr);
long uaccess_probe_write(uintptr_t addr);

/* budget: whose it is (NULL: the kernel's own, charged nothing). */
int memobj_create_anon(uint64_t size, struct budget *budget, struct memobj **out);
int memobj_create_phys(paddr_t pa, uint64_t size, bool uncached, struct memobj **out);
/* Physically contiguous, zeroed, kernel-owned (rings, clock page). */
int memobj_create_contig(uint64_t size, struct memobj **out);
int memobj_create_contig_charged(uint64_t size, struct budget *budget, struct memobj **out);
int memobj_snapshot(struct memobj *src, struct budget *budget, struct memobj **out);
/* Allocate every page now (kernel-owned objects); returns 0 or -ENOMEM. */
int memobj_populate(struct memobj *mo);
/* Kernel address of page i of a populated anonymous object. */
void *memobj_kaddr(struct memobj *mo, uint64_t off);

int aspace_init(struct aspace *as);
void aspace_destroy(struct aspace *as);
/* Map [offset, offset+len) of mo at addr (0: anywhere; taken as a hint
 * unless RL_MAP_FIXED). prot must lie within maxprot, which later
 * protection changes cannot exceed either. Returns the address, or
 * -EINVAL/-ENOMEM/-EEXIST/-EACCES. */
int64_t vm_map(struct aspace *as, struct memobj *mo, uint64_t offset, uintptr_t addr,
	       uint64_t len, unsigned prot, unsigned maxprot, unsigned flags);
int vm_unmap(struct aspace *as, uintptr_t addr, uint64_t len);
/* vm_fork (syscall): a copy-on-write copy of src's areas into dst, which
 * must hold nothing but kernel objects; snapshots and areas charged to
 * budget (dst's). 0, -ENOMEM, -EBUSY (dst not empty), -EEXIST (an area of
 * src over dst's clock page), -ESRCH (either ended). */
int vm_fork(struct aspace *dst, struct budget *budget, struct aspace *src);
struct rl_region;
/* Up to n areas of as that end above *from, in address order, into out;
 * *from moves to the end of the last one. Returns how many. */
unsigned vm_regions(struct aspace *as, uintptr_t *from, struct rl_region *out, unsigned n);
int vm_protect(struct aspace *as, uintptr_t addr, uint64_t len, unsigned prot);
/* RL_OP_DISCARD: free the pages behind [addr, addr + len) of the areas
 * that own them (vm.c says which). 0, -EINVAL, or -ENOMEM when part of
 * the range is not mapped (then nothing is done). */
int vm_discard(struct aspace *as, uintptr_t addr, uint64_t len);
/* Resolve a fault at addr (error: x86 page-fault code bits P=1 W=2 U=4
 * I=16). 0 when resolved, -EFAULT when the access is not allowed. */
int vm_fault(struct aspace *as, uintptr_t addr, unsigned error);

/* Paged objects (pager.c). A fault needing the pager reports the object
 * (referenced) and page here. */
struct pager_need {
	struct memobj *mo;
	uint64_t pgoff;
};
#define PAGER_WAIT_KILLED	1
/* Ask mo's pager for page pgoff (once, however many wait) and sleep until
 * it is supplied: 0 (fault again), PAGER_WAIT_KILLED, or -EFAULT (the
 * pager is gone, or the request could not be charged). Drops the
 * reference on mo. */
int pager_wait(struct memobj *mo, uint64_t pgoff);
int memobj_create_paged(uint64_t size, struct budget *budget, struct memobj **out);
paddr_t memobj_page_new(void);
void memobj_page_put(paddr_t pa);
/* Under mo->lock: is page pgoff there; put pa there (1, or 0 when a page
 * is there already: pa is the caller's still; -ENOMEM); remove the page
 * (its entries zapped; false when absent). */
bool memobj_present_locked(struct memobj *mo, uint64_t pgoff);
int memobj_insert_locked(struct memobj *mo, uint64_t pgoff, paddr_t pa);
bool memobj_evict_locked(struct memobj *mo, uint64_t pgoff);
/* Copy to/from another address space (through the direct map). */
int vm_rw(struct aspace *as, uintptr_t addr, void *buf, size_t len, bool write);
/* Copy len bytes from src's from to dst's to, page to page (no bounce);
 * pages not entered yet are faulted in. 0 or -EFAULT. */
int vm_copy(struct aspace *src, uintptr_t from, struct aspace *dst, uintptr_t to, size_t len);
/* Is [addr, addr + len) mapped, every part allowing prot (RL_PROT_*), and
 * ordinary memory (the kernel never copies device memory)? 0 or -EFAULT. A
 * check, not a guarantee: the caller still copies with vm_rw. */
int vm_check_range(struct aspace *as, uintptr_t addr, uint64_t len, unsigned prot);
void aspace_activate(struct aspace *as);

/* Futexes (syscall.c). The key of the word at addr: the object mapped
 * there (a reference is taken) and the offset in it; -EFAULT when no
 * readable area of ordinary memory maps it. as->lock held. */
int vm_futex_key(struct aspace *as, uintptr_t addr, struct memobj **mo, uint64_t *off);
/* The 32-bit word at off of an anonymous object (0 for a page never
 * touched; nothing is allocated). Takes mo->lock. */
uint32_t memobj_read32(struct memobj *mo, uint64_t off);
/* Wake, with -EFAULT, the futex waiters of as on addresses [start, end):
 * the area there is gone. Called after the area left the list. */
void futex_unmapped(struct aspace *as, uintptr_t start, uintptr_t end);

extern uint64_t nr_memobjs, nr_areas, nr_user_pages;
/* Full-page nodes of the page trees of memory objects. */
extern uint64_t nr_memobj_nodes;

/* What the last memobj_snapshot did (for tests; snapshots racing each
 * other mix their figures). */
struct memobj_snapshot_stats {
	uint64_t steps;		/* holds of the source's lock */
	uint64_t pages;		/* pages shared */
	uint64_t max_step_ns;	/* longest hold */
	uint64_t total_ns;	/* all holds: what one hold for all would be */
};
extern struct memobj_snapshot_stats memobj_last_snapshot;

/* User page tables (arch/x86_64/uvm.c). */
paddr_t uvm_create(void);
/* Returns the page tables it freed besides the top one. */
uint64_t uvm_destroy(paddr_t pml4);
/* ram: ordinary memory the kernel may copy through (uvm_lookup finds it). */
/* New page tables are charged to budget (-ENOMEM when it is spent). */
int uvm_map(paddr_t pml4, uintptr_t va, paddr_t pa, unsigned prot, bool uncached, bool ram,
	    struct budget *budget);
/* The page va is entered at, when the entry is present, user, ordinary
 * memory and (for write) writable; else 0. Caller holds the pt_lock. */
paddr_t uvm_lookup(paddr_t pml4, uintptr_t va, bool write);
/* Remove the mapping of va; returns the physical address or 0. No flush. */
paddr_t uvm_unmap(paddr_t pml4, uintptr_t va);
/* Clear [start, end), skipping absent tables; true if anything was mapped. */
bool uvm_unmap_range(paddr_t pml4, uintptr_t start, uintptr_t end);
/* Change protection of va if mapped (no flush); false when not mapped. */
bool uvm_protect(paddr_t pml4, uintptr_t va, unsigned prot);
extern uint64_t nr_page_tables;

/* Checked copies between the kernel and the current address space. 0 or
 * -EFAULT: the range must lie below RL_USER_TOP, and pages not present are
 * faulted in. */
int copy_from_user(void *dst, uintptr_t src, size_t len);
int copy_to_user(uintptr_t dst, const void *src, size_t len);
static inline bool user_range_ok(uintptr_t a, size_t len)
{
	return a + len >= a && a + len <= 0x0000800000000000ull;
}

#endif
