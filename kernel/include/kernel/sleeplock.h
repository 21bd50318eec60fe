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
void sleeplock_acquire(struct sleeplock *l);
void sleeplock_release(struct sleeplock *l);

#endif
