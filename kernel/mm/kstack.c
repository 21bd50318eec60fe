/*
 * kstack.c - allocation of guarded kernel stacks (see kstack.h).
 *
 * Slots are handed out from a bitmap; a freed slot's pages are unmapped
 * (with a TLB shootdown) and returned to the buddy allocator.
 * Locking: kstack_lock (irqsave) guards the bitmap only; mapping happens
 * outside it.
 */
#include <kernel/kstack.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/spinlock.h>
#include <kernel/vmm.h>

#define KSTACK_MAX	8192	/* slots; 8192 * 32 KiB = 256 MiB of the region */

static uint64_t bitmap[KSTACK_MAX / 64];
static spinlock_t kstack_lock = SPINLOCK_INIT;
static uint64_t in_use;

static uintptr_t slot_base(unsigned i)
{
	return KSTACK_REGION + (uintptr_t)i * KSTACK_SLOT;
}

static void slot_release(unsigned i)
{
	irqflags_t f = spin_lock_irqsave(&kstack_lock);

	bitmap[i / 64] &= ~(1ull << (i % 64));
	in_use--;
	spin_unlock_irqrestore(&kstack_lock, f);
}

uintptr_t kstack_alloc(void)
{
	irqflags_t f = spin_lock_irqsave(&kstack_lock);
	unsigned slot = KSTACK_MAX;
	uintptr_t stack;

	for (unsigned w = 0; w < ARRAY_SIZE(bitmap); w++) {
		if (bitmap[w] != ~0ull) {
			unsigned b = (unsigned)__builtin_ctzll(~bitmap[w]);

			bitmap[w] |= 1ull << b;
			slot = w * 64 + b;
			in_use++;
			break;
		}
	}
	spin_unlock_irqrestore(&kstack_lock, f);
	if (slot == KSTACK_MAX)
		return 0;

	stack = slot_base(slot) + PAGE_SIZE;
	for (uintptr_t off = 0; off < KSTACK_SIZE; off += PAGE_SIZE) {
		paddr_t pa = pmm_alloc(0);

		if (!pa || vmm_map(stack + off, pa, VMM_WRITE) < 0) {
			pmm_free(pa, 0);
			while (off) {
				off -= PAGE_SIZE;
				pmm_free(vmm_unmap(stack + off), 0);
			}
			slot_release(slot);
			return 0;
		}
	}
	return stack + KSTACK_SIZE;
}

void kstack_free(uintptr_t top)
{
	uintptr_t stack = top - KSTACK_SIZE;
	unsigned slot;

	if (top < KSTACK_REGION || (top - KSTACK_REGION) % KSTACK_SLOT !=
	    PAGE_SIZE + KSTACK_SIZE)
		panic("kstack_free(%lx): not a stack top", top);
	slot = (unsigned)((top - KSTACK_REGION) / KSTACK_SLOT);
	if (slot >= KSTACK_MAX)
		panic("kstack_free(%lx): out of range", top);
	for (uintptr_t off = 0; off < KSTACK_SIZE; off += PAGE_SIZE)
		pmm_free(vmm_unmap(stack + off), 0);
	slot_release(slot);
}

bool kstack_is_guard(uintptr_t addr)
{
	return addr >= KSTACK_REGION && addr < slot_base(KSTACK_MAX) &&
	       (addr - KSTACK_REGION) % KSTACK_SLOT < PAGE_SIZE;
}

uint64_t kstack_in_use(void)
{
	return READ_ONCE(in_use);
}
