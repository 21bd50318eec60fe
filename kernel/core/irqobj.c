/*
 * irqobj.c - interrupts as objects for user-space drivers.
 *
 * irq_open(authority, irq) routes legacy (ISA) IRQ 1-15, except the
 * cascade (2), to a vector and returns an object that counts interrupts.
 * When one arrives the line is masked, the count goes up and every pending
 * RL_OP_IRQ_WAIT whose "last seen" count is older completes with the new
 * count. The driver services its device and calls irq_ack, which unmasks
 * the line. One object per line; closing it masks the line again.
 */
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/syscall.h>
#include <kernel/trap.h>
#include <kernel/userinit.h>
#include <arch/apic.h>
#include <kernel/cpu.h>

struct irqobj {
	struct kobj obj;
	spinlock_t lock;
	unsigned irq;
	uint64_t seq;
	bool masked;
	struct list_head waiters;
};

static struct irqobj *lines[16];
static spinlock_t lines_lock = SPINLOCK_INIT;
static bool vector_taken[16];

static void irq_fire(struct trap_frame *tf, void *arg)
{
	unsigned irq = (unsigned)(uintptr_t)arg;
	struct list_head done, *p, *tmp;
	struct irqobj *io;
	uint64_t seq;

	list_init(&done);
	spin_lock(&lines_lock);
	io = lines[irq];
	if (!io) {
		ioapic_mask_isa(irq, true);
		spin_unlock(&lines_lock);
		return;
	}
	spin_lock(&io->lock);
	io->seq++;
	io->masked = true;
	ioapic_mask_isa(irq, true);
	seq = io->seq;
	list_for_each_safe(p, tmp, &io->waiters) {
		struct qop *op = list_entry(p, struct qop, wlink);

		if (op->arg[0] < seq && qop_claim(op)) {
			list_del(&op->wlink);
			list_add_tail(&done, &op->wlink);
		}
	}
	spin_unlock(&io->lock);
	spin_unlock(&lines_lock);
	while (!list_empty(&done)) {
		struct qop *op = list_first_entry(&done, struct qop, wlink);

		list_del(&op->wlink);
		qop_complete(op, (int64_t)seq, 0, 0);
	}
}

static void irqobj_destroy(struct kobj *o)
{
	struct irqobj *io = container_of(o, struct irqobj, obj);
	irqflags_t f = spin_lock_irqsave(&lines_lock);

	ioapic_mask_isa(io->irq, true);
	lines[io->irq] = NULL;
	spin_unlock_irqrestore(&lines_lock, f);
	kfree(io);
}

SYSCALL_DEFINE(irq_open)
{
	struct irqobj *io;
	struct kobj *o;
	irqflags_t f;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_IRQ_AUTHORITY, RL_RIGHT_DERIVE, &o, NULL);
	if (r)
		return r;
	kobj_put(o);
	if (a2)
		return -EINVAL;
	if (a1 == 0 || a1 == 2 || a1 > 15)
		return -EINVAL;
	io = kzalloc(sizeof(*io));
	if (!io)
		return -ENOMEM;
	spin_init(&io->lock);
	list_init(&io->waiters);
	io->irq = (unsigned)a1;
	f = spin_lock_irqsave(&lines_lock);
	if (lines[a1]) {
		spin_unlock_irqrestore(&lines_lock, f);
		kfree(io);
		return -EBUSY;
	}
	if (!vector_taken[a1]) {
		/* The vector may belong to a kernel driver: then the line is
		 * not the kernel's to give. */
		if (trap_set_handler(VEC_IRQ_BASE + (unsigned)a1, irq_fire,
				     (void *)(uintptr_t)a1) < 0) {
			spin_unlock_irqrestore(&lines_lock, f);
			kfree(io);
			return -EBUSY;
		}
		vector_taken[a1] = true;
	}
	/* Counted as an object only once it exists for good. */
	kobj_init(&io->obj, RL_OBJ_IRQ, irqobj_destroy);
	lines[a1] = io;
	ioapic_route_isa((unsigned)a1, (uint8_t)(VEC_IRQ_BASE + a1), cpus[0].apic_id);
	ioapic_mask_isa((unsigned)a1, false);
	spin_unlock_irqrestore(&lines_lock, f);
	r = handle_install(&process_current()->handles, &io->obj,
			   RL_RIGHT_WAIT | RL_RIGHT_CONTROL | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
	kobj_put(&io->obj);
	return r;
}

SYSCALL_DEFINE(irq_ack)
{
	struct irqobj *io;
	struct kobj *o;
	irqflags_t f;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_IRQ, RL_RIGHT_CONTROL, &o, NULL);
	if (r)
		return r;
	io = container_of(o, struct irqobj, obj);
	f = spin_lock_irqsave(&io->lock);
	if (io->masked) {
		io->masked = false;
		ioapic_mask_isa(io->irq, false);
	}
	spin_unlock_irqrestore(&io->lock, f);
	kobj_put(o);
	return 0;
}

static void irq_detach(struct qop *op)
{
	struct irqobj *io = container_of(op->target, struct irqobj, obj);
	irqflags_t f = spin_lock_irqsave(&io->lock);

	if (op->wlink.next) {
		list_del(&op->wlink);
		op->wlink.next = NULL;
	}
	spin_unlock_irqrestore(&io->lock, f);
}

int op_irq_wait(struct qop *op, const struct rl_sqe *sqe)
{
	struct irqobj *io = container_of(op->target, struct irqobj, obj);
	irqflags_t f;
	uint64_t seq;

	op->detach = irq_detach;
	op->arg[0] = sqe->arg[0];
	f = spin_lock_irqsave(&io->lock);
	seq = io->seq;
	if (seq <= sqe->arg[0])
		list_add_tail(&io->waiters, &op->wlink);
	spin_unlock_irqrestore(&io->lock, f);
	if (seq > sqe->arg[0] && qop_claim(op))
		qop_complete(op, (int64_t)seq, 0, 0);
	return 0;
}
