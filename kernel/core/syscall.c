/*
 * syscall.c - system-call dispatch, and the small synchronous calls:
 * console output, handles, futexes, memory objects, I/O ports, accounting.
 */
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/ipc.h>
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
#include <arch/x86.h>
#include <rill/string.h>

typedef int64_t (*syscall_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

static const syscall_fn table[] = {
#define SYSCALL(nr, name, nargs, kind) [nr] = sys_##name,
#include <rill/syscalls.def>
#undef SYSCALL
};

static const char *const names[] = {
#define SYSCALL(nr, name, nargs, kind) [nr] = #name,
#include <rill/syscalls.def>
#undef SYSCALL
};

const char *syscall_name(uint64_t nr)
{
	return nr < ARRAY_SIZE(names) ? names[nr] : NULL;
}

void syscall_dispatch(struct trap_frame *tf)
{
	uint64_t nr = tf->rax - RL_SYSCALL_BASE;

	/* Per CPU, no shared line on the hot path; one gs-relative
	 * instruction, so preemption cannot split it. */
	__asm__ volatile("incq %%gs:%c0" : : "i"(offsetof(struct cpu, syscalls)) : "memory");
	if (nr < ARRAY_SIZE(table) && table[nr] && !thread_current()->u->foreign)
		tf->rax = (uint64_t)table[nr](tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9);
	else
		uthread_foreign_syscall(tf);
	uthread_return_check();
}

/* ---- user memory -------------------------------------------------------------- */

int copy_from_user(void *dst, uintptr_t src, size_t len)
{
	struct process *p = process_current();

	return p ? vm_rw(&p->as, src, dst, len, false) : -EFAULT;
}

int copy_to_user(uintptr_t dst, const void *src, size_t len)
{
	struct process *p = process_current();

	return p ? vm_rw(&p->as, dst, (void *)src, len, true) : -EFAULT;
}

/* ---- console, scheduling, accounting -------------------------------------------- */

SYSCALL_DEFINE(debug_write)
{
	char buf[256];
	uint64_t done = 0;

	if (a1 > (1u << 20))
		return -EINVAL;
	while (done < a1) {
		size_t n = MIN(sizeof(buf), a1 - done);

		if (copy_from_user(buf, a0 + done, n))
			return -EFAULT;
		console_write(buf, n);
		done += n;
	}
	return (int64_t)a1;
}

SYSCALL_DEFINE(yield)
{
	sched_yield();
	return 0;
}

SYSCALL_DEFINE(kcounters)
{
	struct rl_kcounters c = { 0 };
	struct kheap_stats hs;

	if (a1 != sizeof(c))
		return -EINVAL;
	kheap_get_stats(&hs);
	c.free_pages = pmm_free_pages();
	c.heap_objects = hs.objects_in_use;
	c.processes = READ_ONCE(nr_processes);
	c.threads = READ_ONCE(nr_uthreads);
	c.queues = READ_ONCE(nr_queues);
	c.memobjs = READ_ONCE(nr_memobjs);
	c.mappings = READ_ONCE(nr_areas);
	c.handles = READ_ONCE(handles_in_use);
	c.queue_ops = READ_ONCE(nr_qops);
	c.user_pages = READ_ONCE(nr_user_pages);
	c.page_tables = READ_ONCE(nr_page_tables);
	c.streams = READ_ONCE(nr_streams);
	c.ipc_actions = READ_ONCE(nr_ipc_actions);
	c.memobj_nodes = READ_ONCE(nr_memobj_nodes);
	for (unsigned i = 0; i < ncpus; i++)
		c.syscalls += READ_ONCE(cpus[i].syscalls);
	return copy_to_user(a0, &c, sizeof(c)) ? -EFAULT : (int64_t)sizeof(c);
}

/* ---- handles ------------------------------------------------------------------- */

SYSCALL_DEFINE(handle_close)
{
	if ((rl_handle_t)a0 == RL_SELF_PROCESS || (rl_handle_t)a0 == RL_SELF_THREAD ||
	    a0 > INT32_MAX)
		return -EBADF;
	return handle_close(&process_current()->handles, (rl_handle_t)a0);
}

SYSCALL_DEFINE(handle_dup)
{
	struct kobj *o;
	uint32_t rights;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, 0, RL_RIGHT_DUP, &o, &rights);
	if (r)
		return r;
	if (a1 & ~(uint64_t)rights)
		r = -EPERM;	/* rights only shrink */
	else
		r = handle_install(&process_current()->handles, o, (uint32_t)a1);
	kobj_put(o);
	return r;
}

SYSCALL_DEFINE(handle_info)
{
	struct rl_handle_info hi = { 0 };
	struct kobj *o;
	uint32_t rights;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, 0, 0, &o, &rights);
	if (r)
		return r;
	hi.type = o->type;
	hi.rights = rights;
	hi.id = o->id;
	if (o->type == RL_OBJ_MEMORY)
		hi.size = container_of(o, struct memobj, obj)->size;
	kobj_put(o);
	return copy_to_user(a1, &hi, sizeof(hi)) ? -EFAULT : 0;
}

/* ---- memory objects -------------------------------------------------------------- */

static int install_new(struct kobj *o, uint32_t rights)
{
	int r = handle_install(&process_current()->handles, o, rights);

	kobj_put(o);
	return r;
}

#define MEM_RIGHTS (RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_EXEC | RL_RIGHT_DUP | \
		    RL_RIGHT_TRANSFER | RL_RIGHT_DERIVE)

SYSCALL_DEFINE(memobj_create)
{
	struct memobj *mo;
	int r;

	if (a1)
		return -EINVAL;
	r = memobj_create_anon(a0, process_current()->budget, &mo);
	return r ? r : install_new(&mo->obj, MEM_RIGHTS);
}

SYSCALL_DEFINE(memobj_cow)
{
	struct memobj *mo;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_MEMORY, RL_RIGHT_READ | RL_RIGHT_DERIVE, &o, NULL);
	if (r)
		return r;
	r = memobj_snapshot(container_of(o, struct memobj, obj), process_current()->budget, &mo);
	kobj_put(o);
	return r ? r : install_new(&mo->obj, MEM_RIGHTS);
}

/* The authorities init receives: one object each, never freed. */
static void authority_destroy(struct kobj *o)
{
	panic("authority object freed");
}

struct kobj irq_authority, ioport_authority, phys_authority, clock_authority;

void authorities_init(void)
{
	kobj_init(&irq_authority, RL_OBJ_IRQ_AUTHORITY, authority_destroy);
	kobj_init(&ioport_authority, RL_OBJ_IOPORT_AUTHORITY, authority_destroy);
	kobj_init(&phys_authority, RL_OBJ_PHYS_AUTHORITY, authority_destroy);
	kobj_init(&clock_authority, RL_OBJ_CLOCK_AUTHORITY, authority_destroy);
}

/* Realtime for every process (the clock page's offset): the machine's
 * business, so it takes the clock authority (init's, and what it hands
 * on: the POSIX server's settimeofday). */
SYSCALL_DEFINE(clock_set_realtime)
{
	struct kobj *o;
	int r = a0 > INT32_MAX ? -EBADF : handle_get(a0, RL_OBJ_CLOCK_AUTHORITY, 0, &o, NULL);

	if (r)
		return r;
	kobj_put(o);
	return clock_set_realtime(a1);
}

SYSCALL_DEFINE(memobj_physical)
{
	struct memobj *mo;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_PHYS_AUTHORITY, RL_RIGHT_DERIVE, &o, NULL);
	if (r)
		return r;
	kobj_put(o);
	/* Device memory only: RAM the allocator manages is never handed out
	 * this way (it would bypass every ownership rule). */
	if (a1 + a2 < a1 || pmm_range_managed(a1, a2))
		return -EPERM;
	r = memobj_create_phys(a1, a2, true, &mo);
	return r ? r : install_new(&mo->obj, RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_DUP |
				   RL_RIGHT_TRANSFER);
}

/* ---- I/O ports ------------------------------------------------------------------------ */

struct ioport_range {
	struct kobj obj;
	uint16_t base;
	uint32_t count;
};

static void ioport_destroy(struct kobj *o)
{
	kfree(container_of(o, struct ioport_range, obj));
}

SYSCALL_DEFINE(ioport_open)
{
	struct ioport_range *io;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_IOPORT_AUTHORITY, RL_RIGHT_DERIVE, &o, NULL);
	if (r)
		return r;
	kobj_put(o);
	if (a2 == 0 || a1 > 0xffff || a2 > 0x10000 - a1)
		return -EINVAL;
	io = kzalloc(sizeof(*io));
	if (!io)
		return -ENOMEM;
	kobj_init(&io->obj, RL_OBJ_IOPORT, ioport_destroy);
	io->base = (uint16_t)a1;
	io->count = (uint32_t)a2;
	return install_new(&io->obj, RL_RIGHT_CONTROL | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
}

SYSCALL_DEFINE(ioport_enable)
{
	struct ioport_range *io;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_IOPORT, RL_RIGHT_CONTROL, &o, NULL);
	if (r)
		return r;
	io = container_of(o, struct ioport_range, obj);
	r = arch_ioport_enable(uthread_current(), io->base, io->count);
	kobj_put(o);
	return r;
}

/* ---- futexes ------------------------------------------------------------------------- */

#define FUTEX_BUCKETS 64

struct futex_waiter {
	struct list_head link;
	struct aspace *as;
	uintptr_t addr;
	struct thread *thread;
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

static unsigned futex_hash(struct aspace *as, uintptr_t addr)
{
	uint64_t h = ((uint64_t)(uintptr_t)as ^ addr) * 0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> 58);
}

SYSCALL_DEFINE(futex_wait)
{
	struct uthread *u = uthread_current();
	struct aspace *as = &u->proc->as;
	unsigned b = futex_hash(as, a0);
	struct futex_waiter w = { .as = as, .addr = a0, .thread = thread_current() };
	uint32_t val;
	irqflags_t f;
	int r = 0;

	if (a0 & 3)
		return -EINVAL;
	if (!user_range_ok(a0, 4))
		return -EFAULT;
	f = spin_lock_irqsave(&futex_table[b].lock);
	if (copy_from_user(&val, a0, 4)) {
		spin_unlock_irqrestore(&futex_table[b].lock, f);
		return -EFAULT;
	}
	if (val != (uint32_t)a1) {
		spin_unlock_irqrestore(&futex_table[b].lock, f);
		return -EAGAIN;
	}
	list_add_tail(&futex_table[b].waiters, &w.link);
	sched_prepare_block();
	spin_unlock_irqrestore(&futex_table[b].lock, f);
	while (!READ_ONCE(w.woken) && !READ_ONCE(u->killed)) {
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
	if (!w.woken)
		list_del(&w.link);
	else
		r = 0;
	sched_cancel_block();
	spin_unlock_irqrestore(&futex_table[b].lock, f);
	if (!w.woken && !r)
		r = -EINTR;
	return r;
}

SYSCALL_DEFINE(futex_wake)
{
	struct aspace *as = &process_current()->as;
	unsigned b = futex_hash(as, a0);
	struct list_head *p, *tmp;
	irqflags_t f;
	int64_t n = 0;
	uint32_t val;

	if (a0 & 3)
		return -EINVAL;
	if (!user_range_ok(a0, 4))
		return -EFAULT;
	/* Like every pointer argument (docs/abi.md): a word that is not
	 * mapped readable is -EFAULT, not a silent "nobody woken". */
	if (copy_from_user(&val, a0, 4))
		return -EFAULT;
	f = spin_lock_irqsave(&futex_table[b].lock);
	list_for_each_safe(p, tmp, &futex_table[b].waiters) {
		struct futex_waiter *w = list_entry(p, struct futex_waiter, link);

		if ((uint64_t)n >= a1)
			break;
		if (w->as != as || w->addr != a0)
			continue;
		list_del(&w->link);
		WRITE_ONCE(w->woken, true);
		thread_wake(w->thread);
		n++;
	}
	spin_unlock_irqrestore(&futex_table[b].lock, f);
	return n;
}

/* ---- IRQ objects: not yet routed (see irq.c) ------------------------------------------ */
