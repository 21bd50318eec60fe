/*
 * waitq.h - wait queues: threads sleeping until an event, woken FIFO.
 *
 * Pattern (no lost wake-ups, because the waiter is on the queue and marked
 * BLOCKED before it checks the condition):
 *
 *	struct waiter w = { 0 };
 *	waitq_prepare(&wq, &w);
 *	while (!condition) {
 *		if (!sched_block(deadline))
 *			break;                    // timed out
 *		waitq_prepare(&wq, &w);
 *	}
 *	waitq_finish(&wq, &w);
 *
 * or just WAITQ_WAIT(&wq, condition, deadline), which also skips the
 * second prepare when the condition holds on waking (it is checked again
 * after a prepare before any block, so that loses no wake-up either).
 * Lock: wq->lock (irqsave); wake functions may be called from interrupts.
 */
#ifndef KERNEL_WAITQ_H
#define KERNEL_WAITQ_H

#include <kernel/list.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>

struct waitq {
	spinlock_t lock;
	struct list_head waiters;
};

struct waiter {
	struct list_head link;
	struct thread *thread;
	bool queued;
};

void waitq_init(struct waitq *wq);
/* Queue the current thread on wq (if not already) and mark it BLOCKED. */
void waitq_prepare(struct waitq *wq, struct waiter *w);
/* Leave wq and become RUNNING again. */
void waitq_finish(struct waitq *wq, struct waiter *w);
/* Wake the first / every waiter; returns how many were woken. */
unsigned waitq_wake_one(struct waitq *wq);
unsigned waitq_wake_all(struct waitq *wq);
/* waitq_wake_all by a thread about to block: the first waiter, if it
 * sleeps on this CPU, runs next (thread_wake_sync). */
unsigned waitq_wake_all_sync(struct waitq *wq);

/* Wait until cond holds or deadline (ns, 0 = none) passes; evaluates to
 * true when cond held. deadline is evaluated once, so "clock_ns() + t" is a
 * fixed point in time however often the waiter is woken early. */
#define WAITQ_WAIT(wq, cond, deadline) ({				\
	struct waiter __w = { 0 };					\
	uint64_t __deadline = (deadline);	/* evaluated once */	\
	bool __ok = true;						\
	waitq_prepare((wq), &__w);					\
	while (!(cond)) {						\
		if (!sched_block(__deadline)) {				\
			__ok = (cond);					\
			break;						\
		}							\
		if (cond)	/* woken for it: no need to queue again */ \
			break;						\
		waitq_prepare((wq), &__w);				\
	}								\
	waitq_finish((wq), &__w);					\
	__ok;								\
})

#endif
