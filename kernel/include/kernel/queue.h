/*
 * queue.h - the asynchronous system-call queue: a submission ring and a
 * completion ring shared with one process, and the operations in flight.
 *
 * An operation (struct qop) is created when its submission entry is
 * consumed and freed when its completion has been written. Whoever
 * completes an operation must first claim it (qop_claim): a completion
 * source and a cancellation can race, and exactly one of them wins. The
 * winner unlinks the op from wherever it waits (the loser leaves it alone)
 * and calls qop_complete.
 */
#ifndef KERNEL_QUEUE_H
#define KERNEL_QUEUE_H

#include <kernel/list.h>
#include <kernel/object.h>
#include <kernel/sleeplock.h>
#include <kernel/spinlock.h>
#include <kernel/timer.h>
#include <kernel/waitq.h>
#include <abi/rill.h>

struct queue;
struct process;

struct qop {
	struct list_head qlink;		/* on queue->pending, for cancellation */
	struct list_head wlink;		/* on the waited-for object's list */
	struct queue *q;
	uint64_t user_data;
	uint16_t opcode;
	bool quiet;			/* RL_SQE_QUIET: no completion on success */
	bool multi;			/* stays armed (OBSERVE RL_OBSERVE_MULTI) */
	uint32_t claimed;
	struct kobj *target;		/* referenced, or NULL */
	void (*detach)(struct qop *op);	/* after a successful cancel claim */
	struct timer timer;
	uint64_t arg[2];
};

struct queue {
	struct kobj obj;
	spinlock_t lock;		/* completion side, pending list */
	struct sleeplock sq_lock;	/* submission side: entries run in ring order,
					   with interrupts on (sleeplock.h) */
	struct process *owner;		/* referenced (its space holds the ring; the
					   handle table's reference on the queue is
					   dropped when the process ends) */
	struct memobj *ring;		/* kernel-owned pages */
	struct rl_ring_header *hdr;	/* kernel view of the header */
	struct rl_sqe *sq;
	struct rl_cqe *cq;
	uint32_t sq_entries, cq_entries;
	uint32_t sq_head, cq_tail;	/* the kernel's own copies */
	uint32_t outstanding;		/* consumed, completion not yet in the ring */
	struct rl_cqe *ovf;		/* completions waiting for ring space */
	uint32_t ovf_head, ovf_count;	/* ovf[ovf_head] is the oldest */
	uint32_t ovf_cap;		/* cq_entries + sq_entries */
	struct list_head pending;	/* cancellable ops */
	struct list_head ipc_subs;	/* IPC submissions in flight (ipc/stream.c) */
	void *ipc_cache;		/* finished small IPC submissions kept for
					   reuse (lock; freed when the queue dies) */
	uint32_t ipc_cached;
	struct qop own_op;		/* used by the next op when free: */
	uint32_t own_op_busy;		/* (atomic exchange) */
	/* Waiting in queue_enter: the first thread alone in sole (no list,
	 * no lock), any more on wq, counted in waiters. A waker owns sole
	 * while it wakes that thread (QUEUE_SOLE_BUSY); the thread leaves
	 * only with sole back to itself, so the waker never touches a thread
	 * that has gone (queue.c, wake_waiters). */
	struct thread *sole;
	struct waitq wq;
	uint32_t waiters;
	uint32_t wake_seq;
	bool dead;
	uint32_t oprefs;		/* 1 for the object + 1 per op */
	uint64_t charged;		/* to the owner's budget (and per op, qop_cost) */
};

void queue_init(void);
bool qop_claim(struct qop *op);
void qop_complete(struct qop *op, int64_t result, uint64_t aux0, uint64_t aux1);
/* qop_complete by a thread about to block: a waiter on this CPU runs next. */
void qop_complete_sync(struct qop *op, int64_t result, uint64_t aux0, uint64_t aux1);
/* A report of a multi-shot op that stays in flight: posted only where the
 * ring has room, after every earlier completion (false otherwise: end the
 * op with a plain completion). The waiter is woken as by
 * qop_complete_sync. The caller keeps op alive (its object's lock, held
 * with interrupts off). */
bool qop_post_more(struct qop *op, int64_t result, uint64_t aux0, uint64_t aux1);
/* Register op as cancellable (call after it is queued on its object). */
void qop_pending(struct qop *op);

extern uint64_t nr_queues, nr_qops;

/* For operations that are not a struct qop (IPC submissions): a reference
 * that keeps the queue's memory (not its handle) alive, and the completion
 * itself: queue_post_locked with q->lock held, then queue_wake without. */
void queue_ref(struct queue *q);
void queue_unref(struct queue *q);
void queue_post_locked(struct queue *q, uint64_t ud, int64_t res, uint64_t a0, uint64_t a1);
void queue_wake(struct queue *q);

/* Handlers of operations owned by other files (queue.c's operation
 * table looks their handle up: op->target, or o): return 0 when the op
 * is now waiting (it will be completed later), or a negative error (the
 * caller completes it at once with that result). */
int op_observe(struct qop *op, const struct rl_sqe *sqe);
int op_process_wait(struct qop *op, const struct rl_sqe *sqe);
int op_thread_wait(struct qop *op, const struct rl_sqe *sqe);
int op_irq_wait(struct qop *op, const struct rl_sqe *sqe);
int op_pager_wait(struct qop *op, const struct rl_sqe *sqe);	/* core/pager.c */
int op_log_wait(struct qop *op, const struct rl_sqe *sqe);	/* core/klog.c */
/* Immediate: resume a stopped thread (process.c). */
int64_t op_resume(struct queue *q, const struct rl_sqe *sqe, struct kobj *o);

/* IPC's part of a queue, implemented in ipc/stream.c (a layer above). */
/* RL_OP_IPC on q: 0 when the submission now belongs to IPC (it completes
 * later on q, or already did), or a negative error the caller posts. */
int op_ipc(struct queue *q, const struct rl_sqe *sqe);
/* The queue is being destroyed: withdraw its IPC submissions (their
 * waiting actions leave their lanes; ancillary sides they held close) and
 * free the submissions it kept for reuse. */
void ipc_queue_dead(struct queue *q);
/* RL_OP_CANCEL's part in IPC: withdraw the waiting actions of q's
 * submissions with user_data ud; how many submissions that touched. */
int ipc_cancel(struct queue *q, uint64_t ud);
/* RL_OP_LANE_SHUTDOWN: immediate. */
int64_t op_lane_shutdown(const struct rl_sqe *sqe);

#endif
