/*
 * queue.c - submission and completion rings shared with user space.
 *
 * Submission: queue_enter consumes up to to_submit entries from the
 * submission ring. Each entry is copied once into kernel memory, then
 * checked. An entry that fails (unknown opcode, reserved bits, bad handle,
 * missing right, bad arguments) still consumes its slot and completes with
 * its user_data and the error. Immediate operations (NOP, MAP, ...) complete
 * before queue_enter returns; waiting ones (TIMEOUT, OBSERVE, ...) become a
 * struct qop.
 *
 * Completion and the overflow rule: a completion goes into the completion
 * ring when it has room (cq_tail - cq_head < cq_entries). When it has
 * none, it waits in a kernel array of cq_entries slots, in order, and the
 * ring header's RL_RING_CQ_OVERFLOW flag is set; the next queue_enter moves
 * waiting completions into the ring as room allows. No completion is ever
 * dropped, because the kernel consumes a submission only while the number
 * of operations whose completion is not yet in the ring ("outstanding") is
 * below cq_entries; when it is not, queue_enter consumes nothing and
 * returns -EBUSY.
 *
 * Closing the last handle of a queue cancels everything in flight; their
 * completions are discarded (nobody can read the ring any more).
 */
#include <kernel/budget.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/syscall.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <rill/string.h>

static struct kmem_cache *queue_cache, *qop_cache;
uint64_t nr_queues, nr_qops;

void queue_init(void)
{
	queue_cache = kmem_cache_create("queue", sizeof(struct queue), 64);
	qop_cache = kmem_cache_create("qop", sizeof(struct qop), 8);
}

void queue_ref(struct queue *q)
{
	__atomic_fetch_add(&q->oprefs, 1, __ATOMIC_RELAXED);
}

void queue_unref(struct queue *q)
{
	if (__atomic_sub_fetch(&q->oprefs, 1, __ATOMIC_ACQ_REL))
		return;
	kobj_put(&q->ring->obj);
	budget_uncharge(q->owner->budget, q->charged);
	kobj_put(&q->owner->obj);
	kfree(q->ovf);
	kmem_cache_free(queue_cache, q);
	__atomic_fetch_sub(&nr_queues, 1, __ATOMIC_RELAXED);
}

/* Write one completion (q->lock held). */
void queue_post_locked(struct queue *q, uint64_t ud, int64_t res, uint64_t a0, uint64_t a1)
{
	struct rl_cqe *c;

	/* outstanding is also raised under sq_lock, not this lock, by the
	 * submitting CPU while another completes: atomic on both sides. */
	if (q->dead)
		return;
	if (q->ovf_count == 0) {
		uint32_t head = __atomic_load_n(&q->hdr->cq_head, __ATOMIC_ACQUIRE);

		if (q->cq_tail - head < q->cq_entries) {
			c = &q->cq[q->cq_tail & (q->cq_entries - 1)];
			c->user_data = ud;
			c->result = res;
			c->aux[0] = a0;
			c->aux[1] = a1;
			q->cq_tail++;
			__atomic_store_n(&q->hdr->cq_tail, q->cq_tail, __ATOMIC_RELEASE);
			__atomic_fetch_sub(&q->outstanding, 1, __ATOMIC_RELAXED);
			return;
		}
	}
	/* outstanding <= ovf_cap, so the overflow array has room. */
	c = &q->ovf[(q->ovf_head + q->ovf_count) % q->ovf_cap];
	c->user_data = ud;
	c->result = res;
	c->aux[0] = a0;
	c->aux[1] = a1;
	q->ovf_count++;
	q->hdr->overflowed++;
	__atomic_or_fetch(&q->hdr->flags, RL_RING_CQ_OVERFLOW, __ATOMIC_RELEASE);
}

static void flush_overflow_locked(struct queue *q)
{
	uint32_t head = __atomic_load_n(&q->hdr->cq_head, __ATOMIC_ACQUIRE);

	while (q->ovf_count && q->cq_tail - head < q->cq_entries) {
		q->cq[q->cq_tail & (q->cq_entries - 1)] = q->ovf[q->ovf_head];
		q->ovf_head = (q->ovf_head + 1) % q->ovf_cap;
		q->ovf_count--;
		q->cq_tail++;
		__atomic_fetch_sub(&q->outstanding, 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&q->hdr->cq_tail, q->cq_tail, __ATOMIC_RELEASE);
	if (!q->ovf_count)
		__atomic_and_fetch(&q->hdr->flags, ~RL_RING_CQ_OVERFLOW, __ATOMIC_RELEASE);
}

#define QUEUE_SOLE_BUSY ((struct thread *)1)

/*
 * Wake the threads waiting in queue_enter, after a completion or a
 * queue_wake. The fence orders the caller's stores (the completion, the
 * sequence number) before the loads of sole and waiters; a waiter stores
 * sole or waiters with a locked instruction before it checks its
 * condition, so one of the two sees the other's store.
 */
static __attribute__((noinline)) void wake_waiters_slow(struct queue *q, bool sync)
{
	struct thread *t = __atomic_load_n(&q->sole, __ATOMIC_ACQUIRE);

	if (t && t != QUEUE_SOLE_BUSY) {
		irqflags_t f = arch_irq_save();

		/* Owned (BUSY) until it is back: the waiter cannot leave,
		 * so t stays valid while we wake it. */
		if (__atomic_compare_exchange_n(&q->sole, &t, QUEUE_SOLE_BUSY, false,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			if (sync)
				thread_wake_sync(t);
			else
				thread_wake(t);
			__atomic_store_n(&q->sole, t, __ATOMIC_RELEASE);
		}
		arch_irq_restore(f);
	}
	if (__atomic_load_n(&q->waiters, __ATOMIC_ACQUIRE)) {
		if (sync)
			waitq_wake_all_sync(&q->wq);
		else
			waitq_wake_all(&q->wq);
	}
}

/* (Inline: most completions find nobody waiting.) */
static inline void wake_waiters(struct queue *q, bool sync)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&q->sole, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&q->waiters, __ATOMIC_ACQUIRE))
		wake_waiters_slow(q, sync);
}

void queue_wake(struct queue *q)
{
	wake_waiters(q, false);
}

static void post(struct queue *q, uint64_t ud, int64_t res, uint64_t a0, uint64_t a1)
{
	irqflags_t f = spin_lock_irqsave(&q->lock);

	queue_post_locked(q, ud, res, a0, a1);
	spin_unlock_irqrestore(&q->lock, f);
	queue_wake(q);
}

bool qop_claim(struct qop *op)
{
	return !__atomic_exchange_n(&op->claimed, 1, __ATOMIC_ACQ_REL);
}

void qop_pending(struct qop *op)
{
	irqflags_t f = spin_lock_irqsave(&op->q->lock);

	list_add_tail(&op->q->pending, &op->qlink);
	spin_unlock_irqrestore(&op->q->lock, f);
}

static void qop_free(struct qop *op)
{
	struct queue *q = op->q;

	if (op->target)
		kobj_put(op->target);
	if (op == &q->own_op) {
		__atomic_store_n(&q->own_op_busy, 0, __ATOMIC_RELEASE);
	} else {
		kmem_cache_free(qop_cache, op);
		budget_uncharge(q->owner->budget, sizeof(*op));
	}
	__atomic_fetch_sub(&nr_qops, 1, __ATOMIC_RELAXED);
	queue_unref(q);
}

static void complete(struct qop *op, int64_t result, uint64_t aux0, uint64_t aux1, bool sync)
{
	struct queue *q = op->q;
	irqflags_t f = spin_lock_irqsave(&q->lock);
	bool quiet = op->quiet && result >= 0;

	if (op->qlink.next) {
		list_del(&op->qlink);
		op->qlink.next = NULL;
	}
	if (quiet)
		__atomic_fetch_sub(&q->outstanding, 1, __ATOMIC_RELAXED);
	else
		queue_post_locked(q, op->user_data, result, aux0, aux1);
	spin_unlock_irqrestore(&q->lock, f);
	if (!quiet)
		wake_waiters(q, sync);
	qop_free(op);
}

bool qop_post_more(struct qop *op, int64_t result, uint64_t aux0, uint64_t aux1)
{
	struct queue *q = op->q;
	bool posted = true;	/* to a dead queue: gone, as every completion */

	spin_lock(&q->lock);	/* (interrupts are off: the caller's lock) */
	if (!q->dead) {
		uint32_t head = __atomic_load_n(&q->hdr->cq_head, __ATOMIC_ACQUIRE);

		posted = q->ovf_count == 0 && q->cq_tail - head < q->cq_entries;
		if (posted) {
			struct rl_cqe *c = &q->cq[q->cq_tail & (q->cq_entries - 1)];

			c->user_data = op->user_data;
			c->result = result;
			c->aux[0] = aux0;
			c->aux[1] = aux1;
			q->cq_tail++;
			__atomic_store_n(&q->hdr->cq_tail, q->cq_tail, __ATOMIC_RELEASE);
		}
	}
	spin_unlock(&q->lock);
	if (posted) {
		/* (A report is for a waiting supervisor, as a rule.) */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		wake_waiters_slow(q, true);
	}
	return posted;
}

void qop_complete(struct qop *op, int64_t result, uint64_t aux0, uint64_t aux1)
{
	complete(op, result, aux0, aux1, false);
}

void qop_complete_sync(struct qop *op, int64_t result, uint64_t aux0, uint64_t aux1)
{
	complete(op, result, aux0, aux1, true);
}

static void detach_nothing(struct qop *op)
{
}

static struct qop *qop_new(struct queue *q, const struct rl_sqe *sqe)
{
	struct qop *op;

	/* The queue's own op first (a server's OBSERVE or wait is usually
	 * followed by another): no trip through the slab, and no charge (it
	 * is part of the queue, charged with it). */
	if (!__atomic_exchange_n(&q->own_op_busy, 1, __ATOMIC_ACQUIRE)) {
		op = &q->own_op;
	} else {
		if (budget_charge(q->owner->budget, sizeof(*op)))
			return NULL;
		if (!(op = kmem_cache_alloc(qop_cache))) {
			budget_uncharge(q->owner->budget, sizeof(*op));
			return NULL;
		}
	}
	/* Every field but the timer, which op_timeout initialises. */
	op->qlink.next = op->qlink.prev = NULL;
	op->wlink.next = op->wlink.prev = NULL;
	op->claimed = 0;
	op->target = NULL;
	op->arg[0] = op->arg[1] = 0;
	op->q = q;
	op->user_data = sqe->user_data;
	op->opcode = sqe->opcode;
	op->quiet = sqe->flags & RL_SQE_QUIET;
	op->multi = false;
	op->detach = detach_nothing;
	__atomic_fetch_add(&q->oprefs, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&nr_qops, 1, __ATOMIC_RELAXED);
	return op;
}

/* ---- the queue object ------------------------------------------------------ */

static void queue_destroy(struct kobj *o)
{
	struct queue *q = container_of(o, struct queue, obj);
	struct list_head grabbed, *p, *tmp;
	irqflags_t f;

	/* Cancel what is in flight; completions to a dead queue vanish. */
	list_init(&grabbed);
	f = spin_lock_irqsave(&q->lock);
	q->dead = true;
	list_for_each_safe(p, tmp, &q->pending) {
		struct qop *op = list_entry(p, struct qop, qlink);

		if (qop_claim(op)) {
			list_del(&op->qlink);
			list_add_tail(&grabbed, &op->qlink);
		}
	}
	spin_unlock_irqrestore(&q->lock, f);
	list_for_each_safe(p, tmp, &grabbed) {
		struct qop *op = list_entry(p, struct qop, qlink);

		list_del(&op->qlink);
		op->qlink.next = NULL;
		op->detach(op);
		qop_free(op);
	}
	ipc_queue_dead(q);
	queue_unref(q);
}

static bool pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

int64_t sys_queue_create(uint64_t uparams, uint64_t a1, uint64_t a2, uint64_t a3,
			 uint64_t a4, uint64_t a5)
{
	struct process *p = process_current();
	struct rl_queue_params prm;
	struct queue *q;
	uint64_t sq_off, cq_off, size, charged;
	int64_t addr;
	int r;

	if (copy_from_user(&prm, uparams, sizeof(prm)))
		return -EFAULT;
	if (prm.cq_entries == 0)
		prm.cq_entries = 2 * prm.sq_entries;
	if (prm.flags || prm.reserved || !pow2(prm.sq_entries) ||
	    prm.sq_entries > RL_QUEUE_MAX_SQ || !pow2(prm.cq_entries) ||
	    prm.cq_entries < prm.sq_entries || prm.cq_entries > RL_QUEUE_MAX_CQ)
		return -EINVAL;
	sq_off = PAGE_SIZE;
	cq_off = sq_off + ALIGN_UP((uint64_t)prm.sq_entries * sizeof(struct rl_sqe), PAGE_SIZE);
	size = cq_off + ALIGN_UP((uint64_t)prm.cq_entries * sizeof(struct rl_cqe), PAGE_SIZE);
	/* Its cost: the object, the ring pages, the overflow array. */
	charged = sizeof(*q) + size + (uint64_t)(prm.cq_entries + prm.sq_entries) *
				       sizeof(struct rl_cqe);
	if (budget_charge(p->budget, charged))
		return -ENOMEM;
	q = kmem_cache_zalloc(queue_cache);
	if (!q) {
		budget_uncharge(p->budget, charged);
		return -ENOMEM;
	}
	q->charged = charged;
	/* Room for every completion a full budget can leave waiting, plus a
	 * batch of CANCELs accepted beyond it (see sys_queue_enter). */
	q->ovf_cap = prm.cq_entries + prm.sq_entries;
	q->ovf = kmalloc(q->ovf_cap * sizeof(struct rl_cqe));
	r = q->ovf ? memobj_create_contig(size, &q->ring) : -ENOMEM;
	if (r) {
		if (q->ring)
			kobj_put(&q->ring->obj);
		kfree(q->ovf);
		kmem_cache_free(queue_cache, q);
		budget_uncharge(p->budget, charged);
		return r;
	}
	kobj_init(&q->obj, RL_OBJ_QUEUE, queue_destroy);
	spin_init(&q->lock);
	sleeplock_init(&q->sq_lock);
	list_init(&q->pending);
	list_init(&q->ipc_subs);
	waitq_init(&q->wq);
	q->owner = p;
	kobj_get(&p->obj);
	q->oprefs = 1;
	q->sq_entries = prm.sq_entries;
	q->cq_entries = prm.cq_entries;
	q->hdr = memobj_kaddr(q->ring, 0);
	q->hdr->sq_entries = prm.sq_entries;
	q->hdr->cq_entries = prm.cq_entries;
	q->hdr->sq_offset = (uint32_t)sq_off;
	q->hdr->cq_offset = (uint32_t)cq_off;
	q->hdr->ring_size = (uint32_t)size;
	q->sq = memobj_kaddr(q->ring, sq_off);	/* contiguous: plain arrays */
	q->cq = memobj_kaddr(q->ring, cq_off);
	__atomic_fetch_add(&nr_queues, 1, __ATOMIC_RELAXED);

	addr = vm_map(&p->as, q->ring, 0, 0, size, RL_PROT_READ | RL_PROT_WRITE,
		      RL_PROT_READ | RL_PROT_WRITE, 0);
	if (addr < 0) {
		kobj_put(&q->obj);
		return addr;
	}
	prm.ring_addr = (uint64_t)addr;
	prm.ring_size = size;
	r = handle_install(&p->handles, &q->obj, RL_RIGHT_SUBMIT | RL_RIGHT_DUP);
	kobj_put(&q->obj);
	if (r < 0) {
		vm_unmap(&p->as, (uintptr_t)addr, size);
		return r;
	}
	if (copy_to_user(uparams, &prm, sizeof(prm))) {
		vm_unmap(&p->as, (uintptr_t)addr, size);
		handle_close(&p->handles, r);
		return -EFAULT;
	}
	return r;
}

/* ---- operations -------------------------------------------------------------- */

static void timeout_fire(struct timer *t, void *arg)
{
	struct qop *op = arg;

	if (qop_claim(op))
		qop_complete(op, 0, 0, 0);
}

static void timeout_detach(struct qop *op)
{
	timer_cancel(&op->timer);
}

static int op_timeout(struct qop *op, const struct rl_sqe *sqe)
{
	timer_init(&op->timer, timeout_fire, op);
	op->detach = timeout_detach;
	if (timer_arm(&op->timer, sqe->arg[0]) < 0) {
		/* Could not arm: take it back unless a cancel got it. */
		if (qop_claim(op))
			qop_complete(op, -ENOMEM, 0, 0);
	}
	return 0;
}

/* Every operation and IPC submission of q with user_data ud still in
 * flight ends with -ECANCELED; the result is how many, or -ENOENT. */
static int64_t op_cancel(struct queue *q, const struct rl_sqe *sqe, struct kobj *unused)
{
	uint64_t ud = sqe->arg[0];
	struct list_head grabbed, *p, *tmp;
	irqflags_t f;
	int n = ipc_cancel(q, ud);

	list_init(&grabbed);
	f = spin_lock_irqsave(&q->lock);
	list_for_each_safe(p, tmp, &q->pending) {
		struct qop *op = list_entry(p, struct qop, qlink);

		if (op->user_data == ud && qop_claim(op)) {
			list_del(&op->qlink);
			list_add_tail(&grabbed, &op->qlink);
		}
	}
	spin_unlock_irqrestore(&q->lock, f);
	list_for_each_safe(p, tmp, &grabbed) {
		struct qop *op = list_entry(p, struct qop, qlink);

		list_del(&op->qlink);
		op->qlink.next = NULL;
		op->detach(op);
		qop_complete(op, -ECANCELED, 0, 0);
		n++;
	}
	return n ? n : -ENOENT;
}

static int64_t op_vm(struct queue *q, const struct rl_sqe *sqe, struct kobj *o)
{
	struct process *p = container_of(o, struct process, obj);
	int64_t r;

	if (sqe->opcode == RL_OP_MAP) {
		struct kobj *mo;
		uint32_t rights, need = 0;
		unsigned prot = sqe->arg[4] & 7, flags = sqe->arg[4] & ~7u;

		if (sqe->arg[4] & ~(uint64_t)(7 | RL_MAP_FIXED | RL_MAP_RESERVE | RL_MAP_REPLACE |
					       RL_MAP_SHARED)) {
			return -EINVAL;
		}
		if (flags & RL_MAP_RESERVE) {
			/* No object: arg[0] must be 0 (vm_map checks the rest). */
			return sqe->arg[0] ? -EINVAL : vm_map(&p->as, NULL, sqe->arg[1], sqe->arg[2],
							      sqe->arg[3], prot, 0, flags);
		}
		if (prot & RL_PROT_READ)
			need |= RL_RIGHT_READ;
		if (prot & RL_PROT_WRITE)
			need |= RL_RIGHT_WRITE;
		if (prot & RL_PROT_EXEC)
			need |= RL_RIGHT_EXEC;
		r = handle_get(sqe->arg[0], RL_OBJ_MEMORY, need, &mo, &rights);
		if (r)
			return r;
		r = vm_map(&p->as, container_of(mo, struct memobj, obj), sqe->arg[1],
			   sqe->arg[2], sqe->arg[3], prot,
			   (rights & RL_RIGHT_READ ? RL_PROT_READ : 0) |
			   (rights & RL_RIGHT_WRITE ? RL_PROT_WRITE : 0) |
			   (rights & RL_RIGHT_EXEC ? RL_PROT_EXEC : 0), flags);
		kobj_put(mo);
	} else if (sqe->opcode == RL_OP_DISCARD) {
		r = sqe->arg[2] || sqe->arg[3] || sqe->arg[4] ? -EINVAL
			: vm_discard(&p->as, sqe->arg[0], sqe->arg[1]);
	} else if (sqe->opcode == RL_OP_UNMAP) {
		r = vm_unmap(&p->as, sqe->arg[0], sqe->arg[1]);
	} else {
		/* vm_protect refuses more than the object's handle allowed
		 * when it was mapped (-EACCES). */
		r = sqe->arg[2] > 7 ? -EINVAL : vm_protect(&p->as, sqe->arg[0], sqe->arg[1],
							   (unsigned)sqe->arg[2]);
	}
	return r;
}

static int64_t op_nop(struct queue *q, const struct rl_sqe *sqe, struct kobj *unused)
{
	return (int64_t)sqe->arg[0];
}

static int64_t op_lane_shutdown_now(struct queue *q, const struct rl_sqe *sqe, struct kobj *unused)
{
	return op_lane_shutdown(sqe);
}

/*
 * The operation table. type: the object the entry's handle must name (and
 * need: the rights it must carry), looked up here once, before the
 * handler; 0 when the operation takes no handle or resolves it itself
 * (IPC: a lane whose handle it may close). now: an operation that
 * completes before queue_enter returns, its result posted here. start:
 * one that waits, as a struct qop holding the object (op->target); it
 * returns 0 once the op is attached (it completes later, or already has),
 * or an error, which completes it at once.
 */
struct opdef {
	uint16_t type;
	uint32_t need;
	int64_t (*now)(struct queue *q, const struct rl_sqe *sqe, struct kobj *o);
	int (*start)(struct qop *op, const struct rl_sqe *sqe);
};

static const struct opdef opdefs[RL_OP_COUNT] = {
	[RL_OP_NOP] = { .now = op_nop },
	[RL_OP_TIMEOUT] = { .start = op_timeout },
	[RL_OP_CANCEL] = { .now = op_cancel },
	[RL_OP_MAP] = { RL_OBJ_PROCESS, RL_RIGHT_MANAGE, .now = op_vm },
	[RL_OP_UNMAP] = { RL_OBJ_PROCESS, RL_RIGHT_MANAGE, .now = op_vm },
	[RL_OP_PROTECT] = { RL_OBJ_PROCESS, RL_RIGHT_MANAGE, .now = op_vm },
	[RL_OP_IRQ_WAIT] = { RL_OBJ_IRQ, RL_RIGHT_WAIT, .start = op_irq_wait },
	[RL_OP_OBSERVE] = { RL_OBJ_THREAD, RL_RIGHT_OBSERVE, .start = op_observe },
	[RL_OP_PROCESS_WAIT] = { RL_OBJ_PROCESS, RL_RIGHT_WAIT, .start = op_process_wait },
	[RL_OP_THREAD_WAIT] = { RL_OBJ_THREAD, RL_RIGHT_WAIT, .start = op_thread_wait },
	[RL_OP_RESUME] = { RL_OBJ_THREAD, RL_RIGHT_OBSERVE, .now = op_resume },
	[RL_OP_IPC] = { 0 },	/* its own path: see submit_one */
	[RL_OP_LANE_SHUTDOWN] = { .now = op_lane_shutdown_now },
	[RL_OP_DISCARD] = { RL_OBJ_PROCESS, RL_RIGHT_MANAGE, .now = op_vm },
	[RL_OP_PAGER_WAIT] = { RL_OBJ_PAGER, RL_RIGHT_SUBMIT, .start = op_pager_wait },
	[RL_OP_LOG_WAIT] = { RL_OBJ_LOG_AUTHORITY, 0, .start = op_log_wait },
};

/* Execute one consumed submission entry (a private copy). */
static void submit_one(struct queue *q, const struct rl_sqe *sqe)
{
	const struct opdef *d;
	struct kobj *o = NULL;
	struct qop *op;
	int64_t r;

	if ((sqe->flags & ~RL_SQE_QUIET) || sqe->reserved ||
	    (sqe->flags && sqe->opcode == RL_OP_IPC)) {
		r = -EINVAL;
		goto now;
	}
	if (sqe->opcode == RL_OP_IPC) {
		/* Not a qop: an IPC submission ends when its actions do (or
		 * a CANCEL withdraws them), and completes itself. */
		r = op_ipc(q, sqe);
		if (r)
			goto now;
		return;
	}
	d = sqe->opcode < RL_OP_COUNT ? &opdefs[sqe->opcode] : NULL;
	if (!d || (!d->now && !d->start)) {
		r = -ENOSYS;
		goto now;
	}
	if (d->type && (r = handle_get((uint64_t)(int64_t)sqe->handle, d->type, d->need, &o,
					NULL)))
		goto now;
	if (d->now) {
		r = d->now(q, sqe, o);
		if (o)
			kobj_put(o);
		goto now;
	}
	op = qop_new(q, sqe);
	if (!op) {
		if (o)
			kobj_put(o);
		r = -ENOMEM;
		goto now;
	}
	op->target = o;			/* its reference, dropped with the op */
	qop_pending(op);
	r = d->start(op, sqe);
	/* A handler that failed leaves the op unattached: complete it with
	 * the error (unless a cancellation already claimed it). */
	if (r && qop_claim(op))
		qop_complete(op, r, 0, 0);
	return;
now:
	if (r >= 0 && (sqe->flags & RL_SQE_QUIET))
		__atomic_fetch_sub(&q->outstanding, 1, __ATOMIC_RELAXED);
	else
		post(q, sqe->user_data, r, 0, 0);
}

static bool queue_ready(struct queue *q, uint32_t min)
{
	return q->cq_tail - __atomic_load_n(&q->hdr->cq_head, __ATOMIC_ACQUIRE) >= min;
}

/* What ends a wait in queue_enter. */
static inline bool enter_done(struct queue *q, uint64_t min_complete, uint32_t seq,
			      struct uthread *u)
{
	return queue_ready(q, (uint32_t)min_complete) ||
	       __atomic_load_n(&q->wake_seq, __ATOMIC_ACQUIRE) != seq ||
	       READ_ONCE(u->killed) || READ_ONCE(u->interrupt);
}

/*
 * Wait in q's sole slot if it is free (-1 if not: use the wait queue).
 * Returns when the wait is over (ready, woken by queue_wake, killed,
 * interrupted or past the deadline); the caller checks which.
 */
static int wait_alone(struct queue *q, uint64_t deadline, uint64_t min_complete, uint32_t seq,
		      struct uthread *u)
{
	struct thread *self = thread_current(), *none = NULL;

	if (!__atomic_compare_exchange_n(&q->sole, &none, self, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_RELAXED))
		return -1;
	/* (queue_enter checked readiness just before.) */
	for (;;) {
		sched_prepare_block();
		if (enter_done(q, min_complete, seq, u)) {
			sched_cancel_block();
			break;
		}
		if (!sched_block(deadline) || enter_done(q, min_complete, seq, u))
			break;
	}
	/* Leave: a waker holding the slot (BUSY) gives it back first. */
	for (;;) {
		struct thread *e = self;

		if (__atomic_compare_exchange_n(&q->sole, &e, NULL, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return 0;
		arch_cpu_relax();
	}
}

int64_t sys_queue_enter(uint64_t qh, uint64_t to_submit, uint64_t min_complete,
			uint64_t deadline, uint64_t flags, uint64_t a5)
{
	struct uthread *u = uthread_current();
	struct queue *q;
	struct kobj *o;
	uint32_t done = 0, seq;
	irqflags_t f;
	int64_t r;

	r = handle_get(qh, RL_OBJ_QUEUE, RL_RIGHT_SUBMIT, &o, NULL);
	if (r)
		return r;
	q = container_of(o, struct queue, obj);
	if (q->owner != u->proc) {
		r = -EPERM;
		goto out;
	}
	if ((flags & ~(uint64_t)RL_ENTER_WAIT) || to_submit > q->sq_entries ||
	    ((flags & RL_ENTER_WAIT) && min_complete > q->cq_entries)) {
		r = -EINVAL;
		goto out;
	}
	if (READ_ONCE(q->ovf_count)) {	/* rechecked under the lock */
		f = spin_lock_irqsave(&q->lock);
		if (q->ovf_count)
			flush_overflow_locked(q);
		spin_unlock_irqrestore(&q->lock, f);
	}

	if (to_submit) {
		uint32_t tail, avail;

		/* The sleeplock keeps one queue's entries in ring order; the
		 * batch runs with interrupts on (each entry takes its own
		 * locks), so a long batch is preemptible: a batch of 4,096
		 * entries holds interrupts off no longer than one entry does
		 * (docs/kernel.md). */
		sleeplock_acquire(&q->sq_lock);
		tail = __atomic_load_n(&q->hdr->sq_tail, __ATOMIC_ACQUIRE);
		avail = tail - q->sq_head;
		if (avail > q->sq_entries)
			avail = 0;	/* a corrupt tail: consume nothing */
		while (done < to_submit && done < avail) {
			struct rl_sqe sqe = q->sq[q->sq_head & (q->sq_entries - 1)]; /* read once */
			uint32_t out = __atomic_load_n(&q->outstanding, __ATOMIC_RELAXED);

			/* The budget: no more operations in flight than the
			 * completion ring holds. A CANCEL is taken beyond it
			 * (it frees the budget), up to one ring of them not
			 * yet reaped; the overflow array has room for those. */
			if (out >= q->cq_entries &&
			    (sqe.opcode != RL_OP_CANCEL || out >= q->ovf_cap))
				break;
			q->sq_head++;
			__atomic_fetch_add(&q->outstanding, 1, __ATOMIC_RELAXED);
			submit_one(q, &sqe);
			done++;
		}
		__atomic_store_n(&q->hdr->sq_head, q->sq_head, __ATOMIC_RELEASE);
		sleeplock_release(&q->sq_lock);
		if (done == 0 && avail) {
			r = -EBUSY;
			goto out;
		}
	}
	r = done;
	if (!(flags & RL_ENTER_WAIT) || queue_ready(q, (uint32_t)min_complete))
		goto out;

	seq = __atomic_load_n(&q->wake_seq, __ATOMIC_ACQUIRE);
	if (wait_alone(q, deadline, min_complete, seq, u) < 0) {
		__atomic_fetch_add(&q->waiters, 1, __ATOMIC_ACQ_REL);
		WAITQ_WAIT(&q->wq, enter_done(q, min_complete, seq, u), deadline);
		__atomic_fetch_sub(&q->waiters, 1, __ATOMIC_ACQ_REL);
	}
	if (!done && !queue_ready(q, (uint32_t)min_complete))
		r = __atomic_load_n(&q->wake_seq, __ATOMIC_ACQUIRE) != seq ||
		    READ_ONCE(u->killed) || READ_ONCE(u->interrupt) ? -EINTR : -ETIMEDOUT;
out:
	kobj_put(o);
	return r;
}

int64_t sys_queue_wake(uint64_t qh, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		       uint64_t a5)
{
	struct kobj *o;
	struct queue *q;
	int r = handle_get(qh, RL_OBJ_QUEUE, RL_RIGHT_SUBMIT, &o, NULL);

	if (r)
		return r;
	q = container_of(o, struct queue, obj);
	__atomic_fetch_add(&q->wake_seq, 1, __ATOMIC_ACQ_REL);
	wake_waiters(q, false);
	kobj_put(o);
	return 0;
}
