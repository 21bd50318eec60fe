/*
 * pager.c - memory objects whose missing pages a user-space server
 * supplies (docs/memory.md, "Paged objects").
 *
 * memobj_pager_create makes a paged memory object (MO_PAGED) and its
 * pager (RL_OBJ_PAGER). A user fault on a page the object lacks asks the
 * pager for it: a request (one per page, however many threads wait for
 * it) is queued and handed to an RL_OP_PAGER_WAIT of the server; the
 * faulting thread sleeps (killable) until pager_supply puts the page in
 * the tree, then faults again. pager_evict drops pages; the next fault
 * asks again.
 *
 * The pager dies when its last handle is closed (orphaned, also when its
 * process ends): the object forgets it, pending requests go, waiting
 * faulters wake and fail their fault (reported like any bad access), and
 * so does every later fault on a missing page. Pages already supplied
 * stay and can still be used.
 *
 * Locks: mo->lock, then pager.lock (a leaf but for the wait queue's and
 * the queue's own locks). The pager holds a reference on its object.
 * Invariants (pager.lock): a request is on reqs until supplied or the
 * pager dies; sent says whether a PAGER_WAIT has reported it; waiters
 * holds PAGER_WAIT ops only while no unsent request exists.
 */
#include <kernel/budget.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/list.h>
#include <kernel/memlayout.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/syscall.h>
#include <kernel/vm.h>
#include <kernel/waitq.h>
#include <abi/rill.h>

struct preq {
	struct list_head link;
	uint64_t pgoff;
	bool sent;
	struct budget *budget;	/* the faulting process's, charged sizeof */
};

struct pager {
	struct kobj obj;
	spinlock_t lock;
	struct memobj *mo;		/* referenced */
	bool dead;
	struct list_head reqs;		/* struct preq, oldest first */
	struct list_head waiters;	/* struct qop.wlink (PAGER_WAIT) */
	struct waitq wq;		/* faulting threads */
	struct budget *budget;		/* its creator's: charged sizeof */
};

#define PAGER_RIGHTS	(RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER)
#define PAGED_RIGHTS	(RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_EXEC | RL_RIGHT_DUP | \
			 RL_RIGHT_TRANSFER)

static void req_free(struct preq *r)
{
	budget_uncharge(r->budget, sizeof(*r));
	budget_put(r->budget);
	kfree(r);
}

static struct preq *req_find(struct pager *pg, uint64_t pgoff)
{
	struct list_head *p;

	list_for_each(p, &pg->reqs) {
		struct preq *r = list_entry(p, struct preq, link);

		if (r->pgoff == pgoff)
			return r;
	}
	return NULL;
}

/* Hand the oldest unsent request to a waiting PAGER_WAIT, if both exist.
 * pg->lock held; the op to complete (claimed) is returned in *op. */
static void match_waiter(struct pager *pg, struct qop **op, uint64_t *pgoff)
{
	struct list_head *p;
	struct preq *r = NULL;

	*op = NULL;
	list_for_each(p, &pg->reqs) {
		struct preq *x = list_entry(p, struct preq, link);

		if (!x->sent) {
			r = x;
			break;
		}
	}
	while (r && !list_empty(&pg->waiters)) {
		struct qop *w = list_entry(pg->waiters.next, struct qop, wlink);

		list_del(&w->wlink);
		w->wlink.next = NULL;
		if (qop_claim(w)) {	/* else being cancelled */
			r->sent = true;
			*op = w;
			*pgoff = r->pgoff;
			return;
		}
	}
}

static void complete_request(struct qop *op, uint64_t pgoff)
{
	qop_complete(op, RL_PAGER_READ, pgoff * PAGE_SIZE, PAGE_SIZE);
}

static bool wait_over(struct pager *pg, uint64_t pgoff, struct uthread *u)
{
	irqflags_t f;
	bool over;

	if (READ_ONCE(u->killed))
		return true;
	f = spin_lock_irqsave(&pg->lock);
	over = pg->dead || !req_find(pg, pgoff);
	spin_unlock_irqrestore(&pg->lock, f);
	return over;
}

int pager_wait(struct memobj *mo, uint64_t pgoff)
{
	struct uthread *u = uthread_current();
	struct pager *pg;
	struct preq *r, *nr;
	struct qop *op;
	uint64_t op_pgoff;
	irqflags_t f;
	int ret = 0;

	/* Charged before the locks: most faults make the request. */
	nr = kzalloc(sizeof(*nr));
	if (!nr || budget_charge(u->proc->budget, sizeof(*nr))) {
		kfree(nr);
		kobj_put(&mo->obj);
		return -EFAULT;
	}
	budget_get(u->proc->budget);
	nr->budget = u->proc->budget;
	nr->pgoff = pgoff;
	f = spin_lock_irqsave(&mo->lock);
	pg = mo->pager;
	if (!pg || memobj_present_locked(mo, pgoff)) {
		ret = pg ? 0 : -EFAULT;
		spin_unlock_irqrestore(&mo->lock, f);
		req_free(nr);
		kobj_put(&mo->obj);
		return ret;
	}
	kobj_get(&pg->obj);
	spin_lock(&pg->lock);
	r = req_find(pg, pgoff);
	if (!r) {
		list_add_tail(&pg->reqs, &nr->link);
		nr = NULL;
	}
	match_waiter(pg, &op, &op_pgoff);
	spin_unlock(&pg->lock);
	spin_unlock_irqrestore(&mo->lock, f);
	if (nr)
		req_free(nr);
	if (op)
		complete_request(op, op_pgoff);
	WAITQ_WAIT(&pg->wq, wait_over(pg, pgoff, u), 0);
	if (READ_ONCE(u->killed))
		ret = PAGER_WAIT_KILLED;
	else if (READ_ONCE(pg->dead))
		ret = -EFAULT;
	kobj_put(&pg->obj);
	kobj_put(&mo->obj);
	return ret;
}

/* The last handle is gone: nobody can supply pages any more. */
static void pager_orphaned(struct kobj *o)
{
	struct pager *pg = container_of(o, struct pager, obj);
	struct list_head reqs, ops, *p, *tmp;
	irqflags_t f;

	list_init(&reqs);
	list_init(&ops);
	f = spin_lock_irqsave(&pg->mo->lock);
	pg->mo->pager = NULL;
	spin_lock(&pg->lock);
	pg->dead = true;
	list_for_each_safe(p, tmp, &pg->reqs) {
		list_del(p);
		list_add_tail(&reqs, p);
	}
	list_for_each_safe(p, tmp, &pg->waiters) {
		struct qop *w = list_entry(p, struct qop, wlink);

		list_del(p);
		w->wlink.next = NULL;
		if (qop_claim(w))
			list_add_tail(&ops, &w->wlink);
	}
	spin_unlock(&pg->lock);
	spin_unlock_irqrestore(&pg->mo->lock, f);
	list_for_each_safe(p, tmp, &reqs) {
		list_del(p);
		req_free(list_entry(p, struct preq, link));
	}
	list_for_each_safe(p, tmp, &ops) {
		list_del(p);
		qop_complete(list_entry(p, struct qop, wlink), -EPIPE, 0, 0);
	}
	waitq_wake_all(&pg->wq);
}

static void pager_destroy(struct kobj *o)
{
	struct pager *pg = container_of(o, struct pager, obj);
	struct budget *b = pg->budget;

	/* Orphaned first (every handle was counted), so nothing is left. */
	if (!pg->dead)
		pager_orphaned(o);
	kobj_put(&pg->mo->obj);
	kfree(pg);
	budget_uncharge(b, sizeof(*pg));
	budget_put(b);
}

SYSCALL_DEFINE(memobj_pager_create)
{
	struct process *p = process_current();
	struct memobj *mo;
	struct pager *pg;
	rl_handle_t zero = 0;
	int r, hm, hp;

	if (a1)
		return -EINVAL;
	if (copy_to_user(a2, &zero, sizeof(zero)))
		return -EFAULT;
	r = memobj_create_paged(a0, p->budget, &mo);
	if (r)
		return r;
	if (budget_charge(p->budget, sizeof(*pg))) {
		kobj_put(&mo->obj);
		return -ENOMEM;
	}
	pg = kzalloc(sizeof(*pg));
	if (!pg) {
		budget_uncharge(p->budget, sizeof(*pg));
		kobj_put(&mo->obj);
		return -ENOMEM;
	}
	kobj_init(&pg->obj, RL_OBJ_PAGER, pager_destroy);
	pg->obj.watch_right = RL_RIGHTS_ALL;	/* every handle counts */
	pg->obj.orphaned = pager_orphaned;
	spin_init(&pg->lock);
	list_init(&pg->reqs);
	list_init(&pg->waiters);
	waitq_init(&pg->wq);
	budget_get(p->budget);
	pg->budget = p->budget;
	pg->mo = mo;			/* the creation reference */
	kobj_get(&mo->obj);
	mo->pager = pg;
	hm = handle_install(&p->handles, &mo->obj, PAGED_RIGHTS);
	kobj_put(&mo->obj);
	if (hm < 0) {
		kobj_put(&pg->obj);
		return hm;
	}
	hp = handle_install(&p->handles, &pg->obj, PAGER_RIGHTS);
	kobj_put(&pg->obj);
	if (hp < 0) {
		handle_close(&p->handles, hm);
		return hp;
	}
	if (copy_to_user(a2, &hp, sizeof(hp))) {
		handle_close(&p->handles, hp);
		handle_close(&p->handles, hm);
		return -EFAULT;
	}
	return hm;
}

static int get_pager(uint64_t h, struct pager **out)
{
	struct kobj *o;
	int r;

	if (h > INT32_MAX)
		return -EBADF;
	r = handle_get(h, RL_OBJ_PAGER, RL_RIGHT_SUBMIT, &o, NULL);
	if (!r)
		*out = container_of(o, struct pager, obj);
	return r;
}

/* Page-aligned [off, off + len) within the object, len > 0. */
static int range_ok(struct memobj *mo, uint64_t off, uint64_t len)
{
	if (!len || (off | len) & (PAGE_SIZE - 1) || off >= mo->size || len > mo->size - off)
		return -EINVAL;
	return 0;
}

/* (pager, offset, buf, len, flags) -> len. Pages already present are
 * left as they are. */
SYSCALL_DEFINE(pager_supply)
{
	struct pager *pg;
	struct memobj *mo;
	irqflags_t f;
	int r = get_pager(a0, &pg);

	if (r)
		return r;
	mo = pg->mo;
	if (a4)
		r = -EINVAL;
	else
		r = range_ok(mo, a1, a3);
	if (!r && !user_range_ok(a2, a3))
		r = -EFAULT;
	for (uint64_t done = 0; !r && done < a3; done += PAGE_SIZE) {
		uint64_t pgoff = (a1 + done) / PAGE_SIZE;
		paddr_t pa = memobj_page_new();
		struct preq *req = NULL;
		int in;

		if (!pa) {
			r = -ENOMEM;
			break;
		}
		if (copy_from_user(phys_to_virt(pa), a2 + done, PAGE_SIZE)) {
			memobj_page_put(pa);
			r = -EFAULT;
			break;
		}
		f = spin_lock_irqsave(&mo->lock);
		in = memobj_insert_locked(mo, pgoff, pa);
		spin_lock(&pg->lock);
		if (in >= 0 && (req = req_find(pg, pgoff)))
			list_del(&req->link);
		spin_unlock(&pg->lock);
		spin_unlock_irqrestore(&mo->lock, f);
		if (in <= 0)
			memobj_page_put(pa);
		if (req) {
			req_free(req);
			waitq_wake_all(&pg->wq);
		}
		if (in < 0)
			r = in;
	}
	kobj_put(&pg->obj);
	return r ? r : (int64_t)a3;
}

/* (pager, offset, len) -> pages dropped. */
SYSCALL_DEFINE(pager_evict)
{
	struct pager *pg;
	struct memobj *mo;
	irqflags_t f;
	int64_t n = 0;
	int r = get_pager(a0, &pg);

	if (r)
		return r;
	mo = pg->mo;
	r = range_ok(mo, a1, a2);
	for (uint64_t done = 0; !r && done < a2; done += PAGE_SIZE) {
		f = spin_lock_irqsave(&mo->lock);
		n += memobj_evict_locked(mo, (a1 + done) / PAGE_SIZE);
		spin_unlock_irqrestore(&mo->lock, f);
	}
	kobj_put(&pg->obj);
	return r ? r : n;
}

static void pager_detach(struct qop *op)
{
	struct pager *pg = container_of(op->target, struct pager, obj);
	irqflags_t f = spin_lock_irqsave(&pg->lock);

	if (op->wlink.next) {
		list_del(&op->wlink);
		op->wlink.next = NULL;
	}
	spin_unlock_irqrestore(&pg->lock, f);
}

int op_pager_wait(struct qop *op, const struct rl_sqe *sqe)
{
	struct pager *pg = container_of(op->target, struct pager, obj);
	struct qop *now;
	uint64_t pgoff;
	irqflags_t f;

	for (unsigned i = 0; i < 5; i++)
		if (sqe->arg[i])
			return -EINVAL;
	op->detach = pager_detach;
	f = spin_lock_irqsave(&pg->lock);
	if (pg->dead) {
		spin_unlock_irqrestore(&pg->lock, f);
		return -EPIPE;
	}
	list_add_tail(&pg->waiters, &op->wlink);
	match_waiter(pg, &now, &pgoff);
	spin_unlock_irqrestore(&pg->lock, f);
	if (now)
		complete_request(now, pgoff);
	return 0;
}
