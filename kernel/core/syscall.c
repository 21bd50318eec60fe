/*
 * syscall.c - system-call dispatch, and the small synchronous calls:
 * console output, scheduling, accounting, handles. Memory objects
 * (memobj_calls.c), I/O ports (ioport.c) and futexes (futex.c) have their
 * own files; processes and threads are in process.c.
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
#include <rill/string.h>

typedef int64_t (*syscall_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

static const syscall_fn table[] = {
#define SYSCALL(nr, name, ...) [nr] = sys_##name,
#include <abi/syscalls.def>
#undef SYSCALL
};

static const char *const names[] = {
#define SYSCALL(nr, name, ...) [nr] = #name,
#include <abi/syscalls.def>
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
	this_cpu_inc(syscalls);
	if (nr < ARRAY_SIZE(table) && table[nr] && !thread_current()->u->foreign)
		tf->rax = (uint64_t)table[nr](tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9);
	else
		uthread_foreign_syscall(tf);
	/* A thread woken here for this CPU (thread_wake_sync, or one of
	 * higher priority) runs before we return. */
	if (READ_ONCE(this_cpu()->need_resched)) {
		irqflags_t f = arch_irq_save();

		sched_preempt();
		arch_irq_restore(f);
	}
	uthread_return_check_inline();
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

/* Install o (whose reference it takes over) in the caller's table. */
int install_new(struct kobj *o, uint32_t rights)
{
	int r = handle_install(&process_current()->handles, o, rights);

	kobj_put(o);
	return r;
}

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

/* ---- IRQ objects: not yet routed (see irq.c) ------------------------------------------ */
