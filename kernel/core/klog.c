/*
 * klog.c - the kernel log for a privileged reader in user space.
 *
 * The base log (kernel/base/log.c) writes every line, and every
 * debug_write, into a ring (struct rl_klog) held in one kernel-owned
 * memory object, which a holder of the log authority maps read-only
 * (klog_control RL_KLOG_MAP) and reads without system calls. Waiting for
 * more is RL_OP_LOG_WAIT. The log is written from any context, with any
 * lock held, so writing it wakes nobody: a waiter is completed by a poll
 * timer, armed while waiters exist (every LOG_POLL_NS), which compares the
 * ring's head with each waiter's position. A line reaches its reader
 * within one period.
 *
 * RL_KLOG_CONSOLE hands the serial line over: from then on the kernel
 * only logs into the ring (a panic still prints); the console driver
 * owns the line. The kernel notes how far its owner has printed: the
 * position of the owner's latest LOG_WAIT (a driver waits from where it
 * has printed to). A driver that dies owning the line leaves it quiet; the
 * next one to take it over (init restarts it) is told that position, so
 * what was logged in between reaches the line: a byte is printed once,
 * or, when the driver died between printing it and waiting again, twice;
 * never lost.
 *
 * Lock: wait_lock (irqsave), a leaf but for the queue's own when an op
 * completes.
 */
#include <kernel/errno.h>
#include <kernel/list.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/syscall.h>
#include <kernel/time.h>
#include <kernel/timer.h>
#include <kernel/userinit.h>
#include <kernel/vm.h>
#include <abi/rill.h>

#define KLOG_BYTES	(64 * 1024)		/* header and data */
#define LOG_POLL_NS	(10 * 1000000ull)

struct kobj log_authority;
static struct memobj *klog_mo;
static spinlock_t wait_lock = SPINLOCK_INIT;
static struct list_head waiters = LIST_HEAD_INIT(waiters);	/* struct qop.wlink */
static struct timer poll_timer;
static bool poll_armed;			/* wait_lock */
/* While the line is handed over (wait_lock): its owner (by serial: a
 * driver that died holds nothing) and where the owner has printed to. */
static uint64_t console_owner;
static uint64_t console_pos;

static void authority_destroy(struct kobj *o)
{
	panic("log authority freed");
}

/* Complete every waiter the log has grown past (wait_lock held): moved to
 * done, completed by the caller without the lock. */
static void grab_ready(uint64_t head, struct list_head *done)
{
	struct list_head *p, *tmp;

	list_for_each_safe(p, tmp, &waiters) {
		struct qop *op = list_entry(p, struct qop, wlink);

		if (op->arg[0] < head && qop_claim(op)) {
			list_del(&op->wlink);
			op->wlink.next = NULL;
			list_add_tail(done, &op->wlink);
		}
	}
}

static void complete_done(struct list_head *done, uint64_t head)
{
	struct list_head *p, *tmp;

	list_for_each_safe(p, tmp, done) {
		struct qop *op = list_entry(p, struct qop, wlink);

		list_del(&op->wlink);
		op->wlink.next = NULL;
		qop_complete(op, (int64_t)head, 0, 0);
	}
}

static void poll_fire(struct timer *t, void *arg)
{
	uint64_t head = log_head();
	struct list_head done;
	irqflags_t f;

	list_init(&done);
	f = spin_lock_irqsave(&wait_lock);
	grab_ready(head, &done);
	poll_armed = !list_empty(&waiters);
	if (poll_armed)
		timer_arm(&poll_timer, clock_ns() + LOG_POLL_NS);
	spin_unlock_irqrestore(&wait_lock, f);
	complete_done(&done, head);
}

void klog_init(void)
{
	kobj_init(&log_authority, RL_OBJ_LOG_AUTHORITY, authority_destroy);
	timer_init(&poll_timer, poll_fire, NULL);
	if (memobj_create_contig(KLOG_BYTES, &klog_mo))
		panic("klog: no memory for the log ring");
	log_attach_ring(memobj_kaddr(klog_mo, 0), KLOG_BYTES);
}

SYSCALL_DEFINE(klog_control)
{
	struct kobj *o;
	int r = a0 > INT32_MAX ? -EBADF : handle_get(a0, RL_OBJ_LOG_AUTHORITY, 0, &o, NULL);

	if (r)
		return r;
	kobj_put(o);		/* (the authority is never freed) */
	switch (a1) {
	case RL_KLOG_MAP:
		if (a2)
			return -EINVAL;
		kobj_get(&klog_mo->obj);
		return install_new(&klog_mo->obj, RL_RIGHT_READ | RL_RIGHT_DUP |
				   RL_RIGHT_TRANSFER);
	case RL_KLOG_PRINTED: {
		uint64_t at;
		irqflags_t f;

		if (a2)
			return -EINVAL;
		f = spin_lock_irqsave(&wait_lock);
		at = console_owner ? console_pos : log_head();
		spin_unlock_irqrestore(&wait_lock, f);
		return (int64_t)(at & INT64_MAX);
	}
	case RL_KLOG_CONSOLE: {
		uint64_t old, self = process_current()->serial;
		uint64_t at;
		irqflags_t f;

		if (a2 > 1)
			return -EINVAL;
		if (!a2)
			pr_info("klog: the serial line is handed over; the log goes on in its ring");
		f = spin_lock_irqsave(&wait_lock);
		old = console_owner;
		if (!a2) {
			/* A second handover, the line still quiet: the new
			 * owner goes on from where the old one got. */
			at = old ? console_pos : log_console(false);
			console_owner = self;
			console_pos = at;
		} else if (old && old != self) {
			/* Taken back from another (init, when its driver is
			 * gone or the machine ends): what the owner had not
			 * printed, the kernel prints. */
			at = log_console_resume(console_pos);
			console_owner = 0;
		} else {
			at = log_console(true);
			console_owner = 0;
		}
		spin_unlock_irqrestore(&wait_lock, f);
		if (a2 && old)
			pr_info("klog: the kernel writes its log to the serial line again");
		return (int64_t)(at & INT64_MAX);
	}
	default:
		return -EINVAL;
	}
}

static void log_wait_detach(struct qop *op)
{
	irqflags_t f = spin_lock_irqsave(&wait_lock);

	if (op->wlink.next) {
		list_del(&op->wlink);
		op->wlink.next = NULL;
	}
	spin_unlock_irqrestore(&wait_lock, f);
}

int op_log_wait(struct qop *op, const struct rl_sqe *sqe)
{
	uint64_t head;
	irqflags_t f;

	for (unsigned i = 1; i < 5; i++)
		if (sqe->arg[i])
			return -EINVAL;
	op->detach = log_wait_detach;
	op->arg[0] = sqe->arg[0];
	f = spin_lock_irqsave(&wait_lock);
	head = log_head();
	if (console_owner && console_owner == process_current()->serial &&
	    sqe->arg[0] > console_pos)
		console_pos = sqe->arg[0] < head ? sqe->arg[0] : head;
	if (sqe->arg[0] < head) {
		spin_unlock_irqrestore(&wait_lock, f);
		if (qop_claim(op))
			qop_complete(op, (int64_t)head, 0, 0);
		return 0;
	}
	list_add_tail(&waiters, &op->wlink);
	if (!poll_armed) {
		poll_armed = true;
		timer_arm(&poll_timer, clock_ns() + LOG_POLL_NS);
	}
	spin_unlock_irqrestore(&wait_lock, f);
	return 0;
}
