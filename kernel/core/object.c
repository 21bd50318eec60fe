/*
 * object.c - per-process handle tables (the objects are base/kobj.c).
 */
#include <kernel/budget.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/object.h>
#include <kernel/process.h>
#include <rill/string.h>

uint64_t handles_in_use;

static void handle_gone(struct kobj *o, bool watched)
{
	__atomic_fetch_sub(&handles_in_use, 1, __ATOMIC_RELAXED);
	if (watched && __atomic_sub_fetch(&o->watched_handles, 1, __ATOMIC_ACQ_REL) == 0 &&
	    o->orphaned)
		o->orphaned(o);
	kobj_put(o);
}

void handle_table_init(struct handle_table *t, struct budget *budget)
{
	t->budget = budget;
	spin_init(&t->lock);
	t->e = NULL;
	t->cap = t->used = t->hint = 0;
	t->dead = false;
}

void handle_table_destroy(struct handle_table *t)
{
	irqflags_t f = spin_lock_irqsave(&t->lock);
	struct handle_entry *e = t->e;
	uint32_t cap = t->cap;

	t->e = NULL;
	t->cap = t->used = 0;
	t->dead = true;
	spin_unlock_irqrestore(&t->lock, f);
	for (uint32_t i = 0; i < cap; i++)
		if (e[i].obj)
			handle_gone(e[i].obj, e[i].watched);
	kfree(e);
	budget_uncharge(t->budget, cap * sizeof(*e));
}

static rl_handle_t handle_value(uint32_t index, uint32_t gen)
{
	return (rl_handle_t)(((gen + 1) << HANDLE_INDEX_BITS) | index);
}

int handle_install(struct handle_table *t, struct kobj *o, uint32_t rights)
{
	irqflags_t f;
	uint32_t i;

	f = spin_lock_irqsave(&t->lock);
	if (t->dead) {
		spin_unlock_irqrestore(&t->lock, f);
		return -ESRCH;
	}
	if (t->used == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 32;
		struct handle_entry *ne;

		if (t->cap >= HANDLE_MAX) {
			spin_unlock_irqrestore(&t->lock, f);
			return -EMFILE;
		}
		/* Allocate (and charge the new size) outside the lock, then
		 * recheck; whichever array is left over is given back. */
		spin_unlock_irqrestore(&t->lock, f);
		if (budget_charge(t->budget, ncap * sizeof(*ne)))
			return -ENOMEM;
		ne = kzalloc(ncap * sizeof(*ne));
		if (!ne) {
			budget_uncharge(t->budget, ncap * sizeof(*ne));
			return -ENOMEM;
		}
		f = spin_lock_irqsave(&t->lock);
		if (t->dead) {
			spin_unlock_irqrestore(&t->lock, f);
			kfree(ne);
			budget_uncharge(t->budget, ncap * sizeof(*ne));
			return -ESRCH;
		}
		if (t->cap < ncap) {
			struct handle_entry *old = t->e;
			uint32_t ocap = t->cap;

			if (old)
				memcpy(ne, old, ocap * sizeof(*ne));
			t->e = ne;
			t->hint = ocap;
			t->cap = ncap;
			ne = old;
			ncap = ocap;
		}
		kfree(ne);	/* kfree takes only the heap's own lock */
		budget_uncharge(t->budget, ncap * sizeof(*ne));
		if (t->used == t->cap) {
			spin_unlock_irqrestore(&t->lock, f);
			return -EMFILE;
		}
	}
	for (i = t->hint; t->e[i % t->cap].obj; i++)
		;
	i %= t->cap;
	t->e[i].obj = o;
	t->e[i].rights = rights;
	t->used++;
	t->hint = (i + 1) % t->cap;
	t->e[i].watched = (rights & o->watch_right) && o->own_table != t;
	kobj_get(o);
	__atomic_fetch_add(&handles_in_use, 1, __ATOMIC_RELAXED);
	if (t->e[i].watched)
		__atomic_fetch_add(&o->watched_handles, 1, __ATOMIC_ACQ_REL);
	i = handle_value(i, t->e[i].gen);
	spin_unlock_irqrestore(&t->lock, f);
	return (int)i;
}

/* Entry for h, or NULL. Table lock held. */
static struct handle_entry *lookup(struct handle_table *t, rl_handle_t h)
{
	uint32_t v = (uint32_t)h, index = v & ((1u << HANDLE_INDEX_BITS) - 1);

	if (h <= 0 || index >= t->cap || !t->e[index].obj ||
	    t->e[index].gen + 1u != (v >> HANDLE_INDEX_BITS))
		return NULL;
	return &t->e[index];
}

/* Type and rights: 0, -EBADFD or -EPERM. */
static inline int handle_check(const struct kobj *o, uint32_t rights, uint32_t type,
			       uint32_t need)
{
	if (type && o->type != type)
		return -EBADFD;
	return (rights & need) == need ? 0 : -EPERM;
}

/* RL_SELF_PROCESS and RL_SELF_THREAD: not in the table. */
static __attribute__((noinline)) int handle_get_self(struct uthread *u, rl_handle_t h,
						     uint32_t type, uint32_t need,
						     struct kobj **out, uint32_t *rights_out)
{
	struct kobj *o = h == RL_SELF_PROCESS ? &u->proc->obj : &u->obj;
	uint32_t rights = h == RL_SELF_PROCESS ? u->proc->self_process_rights
					       : u->proc->self_thread_rights;
	int r = handle_check(o, rights, type, need);

	if (r)
		return r;
	kobj_get(o);
	if (rights_out)
		*rights_out = rights;
	*out = o;
	return 0;
}

int handle_get(uint64_t hv, uint32_t type, uint32_t need, struct kobj **out,
	       uint32_t *rights_out)
{
	rl_handle_t h = (rl_handle_t)hv;
	struct uthread *u = uthread_current();
	struct handle_table *t;
	struct handle_entry *e;
	struct kobj *o;
	uint32_t rights;
	irqflags_t f;
	int r;

	if (!u || hv > INT32_MAX)	/* every bit of the value counts */
		return -EBADF;
	if (__builtin_expect(h == RL_SELF_PROCESS || h == RL_SELF_THREAD, 0))
		return handle_get_self(u, h, type, need, out, rights_out);
	t = &u->proc->handles;
	f = spin_lock_irqsave(&t->lock);
	e = lookup(t, h);
	if (!e) {
		spin_unlock_irqrestore(&t->lock, f);
		return -EBADF;
	}
	o = e->obj;
	rights = e->rights;
	/* Checked under the lock: a failure takes no reference. */
	r = handle_check(o, rights, type, need);
	if (!r)
		kobj_get(o);
	spin_unlock_irqrestore(&t->lock, f);
	if (r)
		return r;
	if (rights_out)
		*rights_out = rights;
	*out = o;
	return 0;
}

int handle_close(struct handle_table *t, rl_handle_t h)
{
	struct handle_entry *e;
	struct kobj *o;
	bool watched;
	irqflags_t f = spin_lock_irqsave(&t->lock);

	e = lookup(t, h);
	if (!e) {
		spin_unlock_irqrestore(&t->lock, f);
		return -EBADF;
	}
	o = e->obj;
	watched = e->watched;
	e->obj = NULL;
	e->gen = (uint16_t)((e->gen + 1) % HANDLE_GENS);
	t->used--;
	spin_unlock_irqrestore(&t->lock, f);
	handle_gone(o, watched);
	return 0;
}
