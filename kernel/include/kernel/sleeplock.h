/*
 * sleeplock.h - a lock whose holder may sleep or be preempted.
 *
 * The one interrupt rule (spinlock.h) keeps spinlock sections short; a
 * section that may run long (a queue_enter consuming a batch, each entry
 * possibly copying many bytes) takes a sleeplock instead: a held flag
 * taken by compare-and-swap (nothing more when nobody waits: the fast path
 * of every queue_enter), a count of waiters, and a wait queue for the
 * threads that find it held. The holder may run with interrupts on and be
 * preempted (queue_enter runs its whole batch with them on); a waiter
 * sleeps. Never take one under a spinlock. Not recursive, not
 * fair (a woken waiter may lose to a newcomer and wait again), which is
 * enough for one queue's submitters.
 */
#ifndef KERNEL_SLEEPLOCK_H
#define KERNEL_SLEEPLOCK_H

#include <kernel/spinlock.h>
#include <kernel/waitq.h>

struct sleeplock {
	uint32_t held;		/* 1 while held (atomic) */
	uint32_t waiters;	/* threads in sleeplock_acquire's slow path */
	struct waitq wq;	/* where they wait for held to clear */
};

void sleeplock_init(struct sleeplock *l);
void sleeplock_acquire_slow(struct sleeplock *l);
void sleeplock_wake(struct sleeplock *l);

static inline bool sleeplock_try(struct sleeplock *l)
{
	uint32_t free = 0;

	return __atomic_compare_exchange_n(&l->held, &free, 1, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

/* The uncontended paths inline: one compare-and-swap to take, one
 * exchange and a load to give back. */
static inline void sleeplock_acquire(struct sleeplock *l)
{
	if (__builtin_expect(!sleeplock_try(l), 0))
		sleeplock_acquire_slow(l);
}

static inline void sleeplock_release(struct sleeplock *l)
{
	__atomic_store_n(&l->held, 0, __ATOMIC_SEQ_CST);
	if (__builtin_expect(__atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST) != 0, 0))
		sleeplock_wake(l);
}

#endif
