/*
 * spinlock.h - ticket spinlocks.
 *
 * Interrupt discipline (one rule, no exceptions): a spinlock is only ever
 * held with interrupts disabled on the holding CPU. Take it with
 * spin_lock_irqsave(), or with spin_lock() where interrupts are already off
 * (interrupt handlers, code under another irqsave lock). So an interrupt
 * handler may take any lock without deadlocking against the code it
 * interrupted, and nothing is ever preempted while holding a lock (preemption
 * happens only on return from an interrupt that arrived with IF set).
 *
 * Tickets make the lock fair: CPUs get it in the order they asked.
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <kernel/arch.h>
#include <kernel/types.h>

typedef struct spinlock {
	uint32_t next;		/* next ticket to hand out */
	uint32_t owner;		/* ticket now being served */
} spinlock_t;

#define SPINLOCK_INIT { 0, 0 }

static inline void spin_init(spinlock_t *l)
{
	l->next = 0;
	l->owner = 0;
}

/* Interrupts must already be disabled. */
static inline void spin_lock(spinlock_t *l)
{
	uint32_t t = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);

	/* Acquire pairs with the release in spin_unlock: the previous holder's
	 * writes are visible once we see our ticket served. */
	while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != t)
		arch_cpu_relax();
}

static inline bool spin_trylock(spinlock_t *l)
{
	uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
	uint32_t expect = owner;

	return __atomic_compare_exchange_n(&l->next, &expect, owner + 1, false,
					   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void spin_unlock(spinlock_t *l)
{
	/* Only the holder writes owner, so a plain read is exact. */
	__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

static inline bool spin_is_locked(spinlock_t *l)
{
	return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) !=
	       __atomic_load_n(&l->next, __ATOMIC_RELAXED);
}

static inline irqflags_t spin_lock_irqsave(spinlock_t *l)
{
	irqflags_t f = arch_irq_save();

	spin_lock(l);
	return f;
}

static inline void spin_unlock_irqrestore(spinlock_t *l, irqflags_t f)
{
	spin_unlock(l);
	arch_irq_restore(f);
}

#endif
