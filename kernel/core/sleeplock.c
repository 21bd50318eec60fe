/*
 * sleeplock.c - see sleeplock.h. A waiter queues itself (WAITQ_WAIT) before
 * it looks at held, and release clears held before it wakes one waiter, so
 * a release never passes a waiter by: the waiter either sees held clear or
 * is on the queue when the wake comes.
 */
#include <kernel/panic.h>
#include <kernel/sleeplock.h>

void sleeplock_init(struct sleeplock *l)
{
	spin_init(&l->lock);
	l->held = false;
	waitq_init(&l->wq);
}

static bool try_take(struct sleeplock *l)
{
	irqflags_t f = spin_lock_irqsave(&l->lock);
	bool ok = !l->held;

	l->held = true;
	spin_unlock_irqrestore(&l->lock, f);
	return ok;
}

void sleeplock_acquire(struct sleeplock *l)
{
	if (!arch_irq_enabled())
		panic("sleeplock %p taken with interrupts off", l);
	while (!try_take(l))
		WAITQ_WAIT(&l->wq, !READ_ONCE(l->held), 0);
}

void sleeplock_release(struct sleeplock *l)
{
	irqflags_t f = spin_lock_irqsave(&l->lock);

	l->held = false;
	spin_unlock_irqrestore(&l->lock, f);
	waitq_wake_one(&l->wq);
}
