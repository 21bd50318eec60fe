/*
 * futex.c - futexes keyed by (memory object, offset) and their system calls (futex_wait, futex_wake, futex_wake_in, futex_store_wake).
 */
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/userinit.h>
#include <kernel/pmm.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/syscall.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <rill/string.h>

/* ---- futexes ------------------------------------------------------------------------- */

/*
 * A futex is keyed by (memory object, offset of the word in it), found
 * through the caller's areas under its address-space lock (vm_futex_key):
 * processes that map one object, at any addresses, wait and wake on the
 * same words, and a supervisor can wake a word of its client
 * (futex_wake_in). Every user memory is a mapping of some object, so a
 * process's private memory keys as (its object, offset), which names the
 * same word as (address space, address) did while one area maps it. A
 * copy-on-write snapshot (memobj_cow) is a new object: its words are
 * other futexes than its source's, as after a Linux fork.
 *
 * A waiter holds a reference on its object for as long as it waits, so
 * the key cannot be reused by another object. It queues while it holds
 * both its address-space lock and its bucket's lock; an unmap removes
 * areas under the address-space lock and then wakes (futex_unmapped)
 * the waiters of that space on the addresses gone, with -EFAULT: either
 * the waiter queued before and is found, or it found no area. Another
 * mapping of the object going, here or elsewhere, wakes nobody.
 *
 * Locks: aspace.lock, then a bucket's lock, then memobj.lock (reading
 * the word). Nothing takes a bucket's lock under memobj.lock.
 */
#define FUTEX_BUCKETS 64

struct futex_waiter {
	struct list_head link;
	struct aspace *as;	/* whose area at addr names the word (for unmaps) */
	uintptr_t addr;
	struct memobj *mo;	/* referenced while waiting */
	uint64_t off;
	struct thread *thread;
	int result;		/* set with woken: 0, or -EFAULT (unmapped) */
	bool woken;
};

static struct {
	spinlock_t lock;
	struct list_head waiters;
} futex_table[FUTEX_BUCKETS];

void futex_init(void)
{
	for (unsigned i = 0; i < FUTEX_BUCKETS; i++) {
		spin_init(&futex_table[i].lock);
		list_init(&futex_table[i].waiters);
	}
}

static unsigned futex_hash(struct memobj *mo, uint64_t off)
{
	uint64_t h = ((uint64_t)(uintptr_t)mo ^ off) * 0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> 58);
}

/* Bucket lock held. */
static void futex_wake_one(struct futex_waiter *w, int result)
{
	list_del(&w->link);
	__atomic_fetch_sub(&w->as->futex_waiters, 1, __ATOMIC_RELAXED);
	w->result = result;
	WRITE_ONCE(w->woken, true);
	thread_wake(w->thread);
}

void futex_unmapped(struct aspace *as, uintptr_t start, uintptr_t end)
{
	/* Sleeping threads (rl_sleep_ns) are futex waiters: most unmaps
	 * happen while some process has one, few in a space that has. */
	if (!__atomic_load_n(&as->futex_waiters, __ATOMIC_RELAXED))
		return;
	for (unsigned b = 0; b < FUTEX_BUCKETS; b++) {
		struct list_head *p, *tmp;
		irqflags_t f = spin_lock_irqsave(&futex_table[b].lock);

		list_for_each_safe(p, tmp, &futex_table[b].waiters) {
			struct futex_waiter *w = list_entry(p, struct futex_waiter, link);

			/* By address: another area of the same object
			 * going leaves this one's waiters be. */
			if (w->as == as && w->addr >= start && w->addr < end)
				futex_wake_one(w, -EFAULT);
		}
		spin_unlock_irqrestore(&futex_table[b].lock, f);
	}
}

SYSCALL_DEFINE(futex_wait)
{
	struct uthread *u = uthread_current();
	struct aspace *as = &u->proc->as;
	struct futex_waiter w = { .as = as, .addr = a0, .thread = thread_current() };
	irqflags_t f;
	unsigned b;
	int r = 0;

	if (a0 & 3)
		return -EINVAL;
	if (!user_range_ok(a0, 4))
		return -EFAULT;
	f = spin_lock_irqsave(&as->lock);
	r = vm_futex_key(as, a0, &w.mo, &w.off);
	if (r) {
		spin_unlock_irqrestore(&as->lock, f);
		return r;
	}
	b = futex_hash(w.mo, w.off);
	spin_lock(&futex_table[b].lock);
	/* The word is read under the bucket's lock: a waker stores, then
	 * takes this lock to look for waiters, so either we see its store or
	 * it sees us queued. */
	if (memobj_read32(w.mo, w.off) != (uint32_t)a1) {
		spin_unlock(&futex_table[b].lock);
		spin_unlock_irqrestore(&as->lock, f);
		kobj_put(&w.mo->obj);
		return -EAGAIN;
	}
	list_add_tail(&futex_table[b].waiters, &w.link);
	__atomic_fetch_add(&as->futex_waiters, 1, __ATOMIC_RELAXED);
	sched_prepare_block();
	spin_unlock(&futex_table[b].lock);
	spin_unlock_irqrestore(&as->lock, f);
	while (!READ_ONCE(w.woken) && !READ_ONCE(u->killed) && !READ_ONCE(u->interrupt)) {
		if (!sched_block(a2)) {
			r = -ETIMEDOUT;
			break;
		}
		f = spin_lock_irqsave(&futex_table[b].lock);
		if (!w.woken)
			sched_prepare_block();
		spin_unlock_irqrestore(&futex_table[b].lock, f);
	}
	f = spin_lock_irqsave(&futex_table[b].lock);
	if (!w.woken) {
		list_del(&w.link);
		__atomic_fetch_sub(&as->futex_waiters, 1, __ATOMIC_RELAXED);
	} else {
		r = w.result;
	}
	sched_cancel_block();
	spin_unlock_irqrestore(&futex_table[b].lock, f);
	kobj_put(&w.mo->obj);
	if (!w.woken && !r)
		r = -EINTR;
	return r;
}

/* Wake up to count waiters on the word at addr of as. */
static int64_t futex_wake_as(struct aspace *as, uint64_t addr, uint64_t count)
{
	struct list_head *p, *tmp;
	struct memobj *mo;
	uint64_t off;
	irqflags_t f;
	int64_t n = 0;
	unsigned b;
	int r;

	if (addr & 3)
		return -EINVAL;
	if (!user_range_ok(addr, 4))
		return -EFAULT;
	/* Like every pointer argument (docs/abi.md): a word that is not
	 * mapped readable is -EFAULT, not a silent "nobody woken". */
	f = spin_lock_irqsave(&as->lock);
	r = vm_futex_key(as, addr, &mo, &off);
	spin_unlock_irqrestore(&as->lock, f);
	if (r)
		return r;
	/* Our reference keeps mo from being freed and its address reused
	 * by another object while we compare keys. */
	b = futex_hash(mo, off);
	f = spin_lock_irqsave(&futex_table[b].lock);
	list_for_each_safe(p, tmp, &futex_table[b].waiters) {
		struct futex_waiter *w = list_entry(p, struct futex_waiter, link);

		if ((uint64_t)n >= count)
			break;
		if (w->mo != mo || w->off != off)
			continue;
		futex_wake_one(w, 0);
		n++;
	}
	spin_unlock_irqrestore(&futex_table[b].lock, f);
	kobj_put(&mo->obj);
	return n;
}

SYSCALL_DEFINE(futex_wake)
{
	return futex_wake_as(&process_current()->as, a0, a1);
}

/* A process handle with MANAGE, as process_rw wants (process.c). */
static int futex_process(uint64_t h, struct process **out)
{
	struct kobj *o;
	int r = h > INT32_MAX ? -EBADF : handle_get(h, RL_OBJ_PROCESS, RL_RIGHT_MANAGE, &o, NULL);

	if (r)
		return r;
	/* Ended (PROCESS_WAIT may have completed) is ended, whether or not
	 * its address space is torn down yet. */
	*out = container_of(o, struct process, obj);
	if (READ_ONCE((*out)->ended)) {
		kobj_put(o);
		return -EFAULT;
	}
	return 0;
}

SYSCALL_DEFINE(futex_wake_in)
{
	struct process *p;
	int64_t r = futex_process(a0, &p);

	if (r)
		return r;
	r = futex_wake_as(&p->as, a1, a2);
	kobj_put(&p->obj);
	return r;
}

/*
 * CLONE_CHILD_CLEARTID for a POSIX server: store a 32-bit value to the
 * client's word, then wake its waiters - one call, in that order, so a
 * waiter either sees the value or is woken after it was stored. The store
 * is an ordinary write (it breaks copy-on-write, makes a page never
 * touched), not an atomic exchange.
 */
SYSCALL_DEFINE(futex_store_wake)
{
	struct process *p;
	uint32_t val = (uint32_t)a2;
	int64_t r;

	if (a2 > UINT32_MAX)
		return -EINVAL;
	r = futex_process(a0, &p);
	if (r)
		return r;
	if (a1 & 3)
		r = -EINVAL;
	else if (!user_range_ok(a1, 4) || vm_rw(&p->as, a1, &val, 4, true))
		r = -EFAULT;
	else
		r = futex_wake_as(&p->as, a1, a3);
	kobj_put(&p->obj);
	return r;
}
