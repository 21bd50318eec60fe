/*
 * waitq.c - wait queues (see waitq.h for the usage pattern).
 *
 * A waiter is queued and its thread marked BLOCKED under wq->lock before
 * the condition is checked; a waker takes wq->lock, unlinks waiters, then
 * wakes them. So a wake-up between the check and the block only turns the
 * block into a no-op: none is lost.
 */
#include <kernel/waitq.h>

void waitq_init(struct waitq *wq)
{
	spin_init(&wq->lock);
	list_init(&wq->waiters);
}

void waitq_prepare(struct waitq *wq, struct waiter *w)
{
	irqflags_t f = spin_lock_irqsave(&wq->lock);

	if (!w->queued || w->thread != thread_current()) {
		w->thread = thread_current();
		w->queued = true;
		list_add_tail(&wq->waiters, &w->link);
	}
	sched_prepare_block();
	spin_unlock_irqrestore(&wq->lock, f);
}

void waitq_finish(struct waitq *wq, struct waiter *w)
{
	irqflags_t f;

	/* Woken (a waker unlinked us and made us RUNNING): nothing to undo.
	 * The waker is done with w and with us once it has cleared queued. */
	if (!__atomic_load_n(&w->queued, __ATOMIC_ACQUIRE) && sched_running())
		return;
	f = spin_lock_irqsave(&wq->lock);

	if (w->queued) {
		list_del(&w->link);
		w->queued = false;
	}
	sched_cancel_block();
	spin_unlock_irqrestore(&wq->lock, f);
}

static unsigned wake(struct waitq *wq, unsigned max, bool sync)
{
	irqflags_t f = spin_lock_irqsave(&wq->lock);
	unsigned n = 0;

	while (n < max && !list_empty(&wq->waiters)) {
		struct waiter *w = list_first_entry(&wq->waiters, struct waiter, link);

		/* Wake first, then clear queued: once it is clear the waiter
		 * may leave waitq_finish without the lock, and w and even its
		 * thread may be gone. */
		list_del(&w->link);
		if (sync && n == 0)
			thread_wake_sync(w->thread);
		else
			thread_wake(w->thread);
		__atomic_store_n(&w->queued, false, __ATOMIC_RELEASE);
		n++;
	}
	spin_unlock_irqrestore(&wq->lock, f);
	return n;
}

unsigned waitq_wake_one(struct waitq *wq)
{
	return wake(wq, 1, false);
}

unsigned waitq_wake_all(struct waitq *wq)
{
	return wake(wq, ~0u, false);
}

unsigned waitq_wake_all_sync(struct waitq *wq)
{
	return wake(wq, ~0u, true);
}
