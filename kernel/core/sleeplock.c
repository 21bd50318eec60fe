/*
 * sleeplock.c - see sleeplock.h. A waiter counts itself in waiters before
 * it tries the flag again, and release clears the flag before it looks at
 * waiters (both sequentially consistent): either the release sees the
 * waiter and wakes the queue, or the waiter's next try sees the flag clear.
 * WAITQ_WAIT queues the waiter before each try, so a wake between a failed
 * try and the block is not lost.
 */
#include <kernel/panic.h>
#include <kernel/sleeplock.h>

void sleeplock_init(struct sleeplock *l)
{
	l->held = 0;
	l->waiters = 0;
	waitq_init(&l->wq);
}

void sleeplock_acquire_slow(struct sleeplock *l)
{
	/* Only a waiter can tell: the fast path never sleeps. */
	if (!arch_irq_enabled())
		panic("sleeplock %p taken with interrupts off", l);
	__atomic_fetch_add(&l->waiters, 1, __ATOMIC_SEQ_CST);
	WAITQ_WAIT(&l->wq, sleeplock_try(l), 0);
	__atomic_fetch_sub(&l->waiters, 1, __ATOMIC_RELAXED);
}

void sleeplock_wake(struct sleeplock *l)
{
	waitq_wake_all(&l->wq);
}
