/*
 * process.c - processes, user threads, supervision (observation), and the
 * system calls that manage them.
 *
 * Lifetimes:
 *   - a process is alive while a handle or one of its threads refers to it;
 *   - it *ends* when its last started thread exits or it is killed: its
 *     status is recorded, exit waiters complete, and once no thread of it
 *     runs any more its handle table and address space are torn down;
 *   - a thread object outlives the thread (its status stays readable).
 *
 * Supervision: a thread created RL_THREAD_SUPERVISED stops on a fault it
 * cannot survive, on a foreign system call and on exit, and its stop is
 * reported through the supervisor's RL_OP_OBSERVE. While stopped its
 * registers can be read and written (thread_regs) and its process's memory
 * through process_rw; thread_resume lets it go on. An unsupervised thread
 * that faults ends its process with a log line; its foreign system calls
 * fail with -ENOSYS.
 */
#include <kernel/budget.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <rill/format.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/smp.h>
#include <kernel/cpu.h>
#include <kernel/syscall.h>
#include <kernel/vmm.h>
#include <arch/clock.h>
#include <rill/string.h>

/* Each process's serial number: never 0, never reused. */
static uint64_t process_serials;

static struct kmem_cache *proc_cache, *uthread_cache;

/* What a process costs its budget: itself and its top page table (the
 * other tables are charged as they are made); a thread: itself, its
 * kernel thread and kernel stack. */
#define PROCESS_COST	(sizeof(struct process) + PAGE_SIZE)
#define THREAD_COST	(sizeof(struct uthread) + sizeof(struct thread) + KSTACK_SIZE)
uint64_t nr_processes, nr_uthreads;
static struct memobj *clock_mo;

#define CLOCK_PAGE_ADDR	0x00007ffffffff000ull

/* ---- teardown --------------------------------------------------------------- */

static void process_teardown(struct process *p)
{
	/* Once (p->torn_down is set under p->lock by the caller, or the
	 * object is being freed), and only when none of p's threads can run:
	 * called by the last exiting thread (on the kernel's page tables by
	 * then), by process_kill when no thread runs, or on destruction. */
	handle_table_destroy(&p->handles);
	aspace_destroy(&p->as);
}

/*
 * Ending and freeing a process closes the handles it held, which can end
 * or free other processes, whose teardown can do the same: done
 * recursively, a chain of processes each holding the only handle to the
 * next would overflow the kernel stack. So the thread that lets the first
 * one go reaps it, and what that lets go is queued on the thread (with
 * interrupts off: an interrupt handler's put may queue one too) and
 * reaped by the same loop, one after the other.
 */
static void reap_one(struct process *p, bool destroy)
{
	irqflags_t f;
	bool idle;

	if (destroy) {
		struct budget *b = p->budget;

		if (!p->torn_down)
			process_teardown(p);
		kmem_cache_free(proc_cache, p);
		budget_uncharge(b, PROCESS_COST);
		budget_put(b);
		__atomic_fetch_sub(&nr_processes, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&p->orphan_queued, 0, __ATOMIC_RELEASE);
	f = spin_lock_irqsave(&p->lock);
	idle = p->live_threads == 0;
	spin_unlock_irqrestore(&p->lock, f);
	if (idle && __atomic_load_n(&p->obj.watched_handles, __ATOMIC_ACQUIRE) == 0)
		process_kill(p, -EINTR);
	kobj_put(&p->obj);
}

static void reap(struct process *p, bool destroy)
{
	struct thread *t = thread_current();
	irqflags_t f = arch_irq_save();

	if (t->reaping) {
		p->reap_destroy = destroy;
		p->reap_next = t->reap_head;
		t->reap_head = p;
		arch_irq_restore(f);
		return;
	}
	t->reaping = true;
	arch_irq_restore(f);
	for (;;) {
		reap_one(p, destroy);
		f = arch_irq_save();
		p = t->reap_head;
		if (!p) {
			t->reaping = false;
			arch_irq_restore(f);
			return;
		}
		t->reap_head = p->reap_next;
		destroy = p->reap_destroy;
		arch_irq_restore(f);
	}
}

static void process_destroy(struct kobj *o)
{
	reap(container_of(o, struct process, obj), true);
}

/* No handle outside the process itself names it any more. If no thread
 * of it has started (or all have ended), nothing can ever run in it:
 * end it, closing its own handles (a never-started process holding a
 * handle to itself was a reference cycle that leaked). */
static void process_orphaned(struct kobj *o)
{
	struct process *p = container_of(o, struct process, obj);

	if (__atomic_exchange_n(&p->orphan_queued, 1, __ATOMIC_ACQ_REL))
		return;		/* already on its way */
	kobj_get(o);		/* reap_one drops it */
	reap(p, false);
}

static void complete_all(struct list_head *list, int64_t result)
{
	while (!list_empty(list)) {
		struct qop *op = list_first_entry(list, struct qop, wlink);

		list_del(&op->wlink);
		qop_complete(op, result, 0, 0);
	}
}

/* Move the claimable ops of src (lock held) to dst. */
static void grab_waiters(struct list_head *src, struct list_head *dst)
{
	struct list_head *p, *tmp;

	list_for_each_safe(p, tmp, src) {
		struct qop *op = list_entry(p, struct qop, wlink);

		if (qop_claim(op)) {
			list_del(&op->wlink);
			list_add_tail(dst, &op->wlink);
		}
	}
}

/* Record the end of p (first caller wins) and complete its waiters. */
static void process_end(struct process *p, int64_t status)
{
	struct list_head done;
	irqflags_t f;

	list_init(&done);
	f = spin_lock_irqsave(&p->lock);
	if (p->ended) {
		spin_unlock_irqrestore(&p->lock, f);
		return;
	}
	p->ended = true;
	p->status = status;
	grab_waiters(&p->waiters, &done);
	spin_unlock_irqrestore(&p->lock, f);
	complete_all(&done, status);
}

/* ---- processes ------------------------------------------------------------------ */

void process_init(void)
{
	proc_cache = kmem_cache_create("process", sizeof(struct process), 64);

	uthread_cache = kmem_cache_create("uthread", sizeof(struct uthread), 64);
	if (memobj_create_contig(PAGE_SIZE, &clock_mo))
		panic("process: no clock page");
	clock_page_init(memobj_kaddr(clock_mo, 0));
}

struct process *process_create(const char *name, struct budget *budget)
{
	struct process *p;
	int64_t va;

	if (budget_charge(budget, PROCESS_COST))
		return NULL;
	p = kmem_cache_zalloc(proc_cache);
	if (!p) {
		budget_uncharge(budget, PROCESS_COST);
		return NULL;
	}
	budget_get(budget);
	p->budget = budget;
	kobj_init(&p->obj, RL_OBJ_PROCESS, process_destroy);
	p->serial = __atomic_add_fetch(&process_serials, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&nr_processes, 1, __ATOMIC_RELAXED);
	spin_init(&p->lock);
	handle_table_init(&p->handles, budget);
	p->obj.watch_right = RL_RIGHTS_ALL;	/* any handle from outside */
	p->obj.own_table = &p->handles;
	p->obj.orphaned = process_orphaned;
	list_init(&p->threads);
	list_init(&p->waiters);
	rill_snprintf(p->name, sizeof(p->name), "%s", name);
	p->self_process_rights = RL_RIGHTS_ALL;
	p->self_thread_rights = RL_RIGHTS_ALL;
	if (aspace_init(&p->as)) {
		kobj_put(&p->obj);
		return NULL;
	}
	p->as.budget = budget;
	va = vm_map(&p->as, clock_mo, 0, CLOCK_PAGE_ADDR, PAGE_SIZE, RL_PROT_READ,
		    RL_PROT_READ, RL_MAP_FIXED);
	if (va < 0) {
		kobj_put(&p->obj);
		return NULL;
	}
	p->clock_va = (uint64_t)va;
	return p;
}

void process_kill(struct process *p, int64_t status)
{
	struct list_head *l;
	irqflags_t f;
	bool idle;

	process_end(p, status);
	f = spin_lock_irqsave(&p->lock);
	list_for_each(l, &p->threads)
		uthread_kill(list_entry(l, struct uthread, proc_link));
	idle = p->live_threads == 0 && !p->torn_down;
	if (idle)
		p->torn_down = true;
	spin_unlock_irqrestore(&p->lock, f);
	if (idle)
		process_teardown(p);
}

/* ---- threads -------------------------------------------------------------------- */

static void uthread_destroy(struct kobj *o)
{
	struct uthread *u = container_of(o, struct uthread, obj);
	struct process *p = u->proc;
	irqflags_t f = spin_lock_irqsave(&p->lock);

	list_del(&u->proc_link);
	spin_unlock_irqrestore(&p->lock, f);
	arch_uthread_release(&u->arch, p->budget);
	if (u->record)
		kobj_put(&u->record->obj);
	kmem_cache_free(uthread_cache, u);
	__atomic_fetch_sub(&nr_uthreads, 1, __ATOMIC_RELAXED);
	budget_uncharge(p->budget, THREAD_COST);
	kobj_put(&p->obj);
}

/*
 * The last handle able to observe a supervised thread is gone: nobody can
 * resume it any more. If it is stopped, end it; if it stops later,
 * uthread_stop ends it (a dead supervisor takes its threads with it).
 */
static void uthread_orphaned(struct kobj *o)
{
	struct uthread *u = container_of(o, struct uthread, obj);

	if (READ_ONCE(u->state) == UT_STOPPED)
		uthread_kill(u);
}

int uthread_create(struct process *p, uint64_t entry, uint64_t stack, uint64_t arg,
		   bool supervised, struct uthread **out)
{
	struct uthread *u;
	irqflags_t f;

	if (entry >= RL_USER_TOP || stack >= RL_USER_TOP)	/* iretq needs canonical values */
		return -EINVAL;
	if (p->foreign && !supervised)	/* its every system call needs a supervisor */
		return -EINVAL;
	if (budget_charge(p->budget, THREAD_COST))
		return -ENOMEM;
	u = kmem_cache_zalloc(uthread_cache);
	if (!u) {
		budget_uncharge(p->budget, THREAD_COST);
		return -ENOMEM;
	}
	kobj_init(&u->obj, RL_OBJ_THREAD, uthread_destroy);
	if (supervised) {
		u->obj.watch_right = RL_RIGHT_OBSERVE;
		u->obj.orphaned = uthread_orphaned;
	}
	__atomic_fetch_add(&nr_uthreads, 1, __ATOMIC_RELAXED);
	spin_init(&u->lock);
	list_init(&u->waiters);
	u->entry = entry;
	u->stack = stack;
	u->arg = arg;
	u->supervised = supervised;
	u->foreign = p->foreign;
	u->state = UT_CREATED;
	arch_uthread_init(&u->arch, &p->as);
	kobj_get(&p->obj);
	u->proc = p;
	f = spin_lock_irqsave(&p->lock);
	if (p->ended) {
		spin_unlock_irqrestore(&p->lock, f);
		list_init(&u->proc_link);
		kobj_put(&u->obj);
		return -ESRCH;
	}
	list_add_tail(&p->threads, &u->proc_link);
	spin_unlock_irqrestore(&p->lock, f);
	*out = u;
	return 0;
}

/* Sleep until a resume is accepted or the thread is killed. Blocked
 * before the check: resume_wake and uthread_kill wake u->kt after
 * setting what it checks. */
static void wait_for_resume(struct uthread *u)
{
	while (!READ_ONCE(u->resumed) && !READ_ONCE(u->killed)) {
		sched_prepare_block();
		if (READ_ONCE(u->resumed) || READ_ONCE(u->killed)) {
			sched_cancel_block();
			break;
		}
		sched_block(0);
	}
}

/*
 * A thread created RL_THREAD_STOPPED has been stopped since uthread_start
 * (RL_OBS_CREATED, its registers the initial ones in u->regs): wait for
 * the first resume, then enter user mode with the registers as its
 * supervisor left them.
 */
static __noreturn void uthread_first_resume(struct uthread *u)
{
	irqflags_t f;

	wait_for_resume(u);
	if (READ_ONCE(u->killed))
		uthread_exit(-EINTR);
	/* The resume ended the stop (resume_locked) and set state. */
	f = spin_lock_irqsave(&u->lock);
	u->regs_in_u = false;
	spin_unlock_irqrestore(&u->lock, f);
	/* u->regs are the thread's own from here: thread_regs refuses a
	 * running thread. Its frame is built on the stack this runs on,
	 * so from them, not here. An interrupt that came while it was
	 * stopped is taken through a reschedule IPI to this CPU, which
	 * arrives as iretq turns interrupts on: before its first
	 * instruction, with its frame whole. */
	arch_irq_disable();
	if (READ_ONCE(u->interrupt))
		smp_send_resched(cpu_id());
	arch_enter_user_regs(&u->arch, &u->regs);
}

static void uthread_entry(void *arg)
{
	struct uthread *u = arg;
	struct thread *t = thread_current();
	irqflags_t f;

	/* A user thread from here: every switch to it loads its user state
	 * (which needs its kernel stack). */
	f = arch_irq_save();
	u->arch.kstack_top = t->kstack_top;
	t->u = u;
	t->uarch = &u->arch;
	arch_irq_restore(f);
	u->tf = (struct trap_frame *)(t->kstack_top - sizeof(struct trap_frame));
	if (READ_ONCE(u->killed))
		uthread_exit(-EINTR);
	if (u->start_stopped)
		uthread_first_resume(u);
	arch_enter_user(&u->arch, u->entry, u->stack, u->arg);
}

int uthread_start(struct uthread *u)
{
	struct process *p = u->proc;
	struct thread *kt;
	irqflags_t f;

	f = spin_lock_irqsave(&p->lock);
	if (u->state != UT_CREATED || p->ended) {
		spin_unlock_irqrestore(&p->lock, f);
		return u->state != UT_CREATED ? -EBUSY : -ESRCH;
	}
	u->state = UT_RUNNING;
	if (u->start_stopped) {
		/* Stopped before its first instruction, reported as such;
		 * nobody else can reach it yet (its handle comes after). */
		u->regs = (struct rl_regs){
			.rip = u->entry, .rsp = u->stack, .rdi = u->arg,
			.rflags = arch_user_flags(0),
		};
		u->regs_in_u = true;
		u->state = UT_STOPPED;
		u->obs_kind = RL_OBS_CREATED;
		u->obs_info[0] = u->obs_info[1] = 0;
		u->obs_delivered = false;
		u->resumed = false;
	}
	p->live_threads++;
	spin_unlock_irqrestore(&p->lock, f);
	kobj_get(&u->obj);		/* held by the running thread */
	kt = thread_create(p->name, uthread_entry, u, SCHED_PRIO_DEFAULT, -1);
	if (!kt) {
		f = spin_lock_irqsave(&p->lock);
		u->state = UT_CREATED;
		u->obs_kind = 0;
		p->live_threads--;
		spin_unlock_irqrestore(&p->lock, f);
		kobj_put(&u->obj);
		return -ENOMEM;
	}
	WRITE_ONCE(u->kt, kt);
	return 0;
}

void uthread_kill(struct uthread *u)
{
	struct list_head done;
	struct qop *obs = NULL;
	struct thread *kt;
	irqflags_t f;

	list_init(&done);
	f = spin_lock_irqsave(&u->lock);
	u->killed = true;
	kt = u->kt;
	if (u->state == UT_CREATED) {
		/* Never started: it ends here, and its supervisor hears of
		 * it as of any other exit. */
		u->state = UT_EXITED;
		u->status = -EINTR;
		grab_waiters(&u->waiters, &done);
		if (u->supervised) {
			u->obs_kind = RL_OBS_EXIT;
			u->obs_info[0] = (uint64_t)-EINTR;
			u->obs_info[1] = 0;
			obs = u->observer;
			u->observer = NULL;
			if (obs && !qop_claim(obs))
				obs = NULL;
			u->obs_delivered = obs != NULL;
		}
	}
	if (kt) {
		/* Blocked in the kernel: wake it so it notices. Running on
		 * another CPU: the IPI makes it pass its return check. (kt
		 * cannot be freed while u->kt is set and u->lock held.) */
		thread_wake(kt);
		if (kt->cpu != cpu_id())
			smp_send_resched(kt->cpu);
	}
	spin_unlock_irqrestore(&u->lock, f);
	complete_all(&done, -EINTR);
	if (obs)
		qop_complete(obs, RL_OBS_EXIT, (uint64_t)-EINTR, 0);
}

static void uthread_take_interrupts(struct uthread *u);

/* Out of line: the check on every return to user mode stays a few
 * instructions with no stack frame. */
__attribute__((noinline, cold)) void uthread_return_slow(struct uthread *u)
{
	if (READ_ONCE(u->killed))
		uthread_exit(-EINTR);
	if (!u->in_interrupt)
		uthread_take_interrupts(u);
}

void uthread_return_check(void)
{
	uthread_return_check_inline();
}

/* A stopped thread's registers stay in its own trap frame, on its kernel
 * stack: the thread sits in uthread_stop until a resume is accepted, and
 * from then on nobody else may touch them (thread_regs and resume check
 * under u->lock that the stop has not ended). */
#define FRAME_GPRS (__builtin_offsetof(struct trap_frame, rax) + 8)
_Static_assert(__builtin_offsetof(struct rl_regs, r15) == __builtin_offsetof(struct trap_frame, r15) &&
	       __builtin_offsetof(struct rl_regs, rbp) == __builtin_offsetof(struct trap_frame, rbp) &&
	       __builtin_offsetof(struct rl_regs, rax) == __builtin_offsetof(struct trap_frame, rax),
	       "struct rl_regs starts with the trap frame's general registers");

static void frame_to_regs(const struct trap_frame *tf, struct rl_regs *r)
{
	memcpy(r, tf, FRAME_GPRS);
	r->rip = tf->rip;
	r->rflags = tf->rflags;
	r->rsp = tf->rsp;
}

/* What a stopped thread's registers read as (u->lock held): the bases are
 * the thread's own fields, which thread_set_base may have changed. */
static void stopped_regs(const struct uthread *u, struct rl_regs *r)
{
	if (u->regs_in_u)
		*r = u->regs;
	else
		frame_to_regs(u->tf, r);
	r->fs_base = u->arch.fs_base;
	r->gs_base = u->arch.gs_base;
}

static void regs_to_frame(const struct rl_regs *r, struct trap_frame *tf)
{
	memcpy(tf, r, FRAME_GPRS);
	tf->rip = r->rip;
	tf->rflags = r->rflags;
	tf->rsp = r->rsp;
}
/* Fill the stop record, if the thread has one (u->lock held): the whole
 * record, then the count, before the stop can be reported. */
static void record_stop(struct uthread *u, uint32_t kind, uint64_t i0, uint64_t i1)
{
	struct rl_stop_record *rec = u->rec;

	if (kind != RL_OBS_EXIT)
		stopped_regs(u, &rec->regs);
	rec->kind = kind;
	rec->info[0] = i0;
	rec->info[1] = i1;
	__atomic_store_n(&rec->stops, rec->stops + 1, __ATOMIC_RELEASE);
}

/*
 * Hand a stop to an OBSERVE op that has been claimed: copy the registers
 * (r, read at the stop under u->lock) into the supervisor's buffer if it
 * gave one (through its address space, from whatever context we are in),
 * then complete. A buffer that cannot be written fails the op with -EFAULT
 * and leaves the stop undelivered, for the next OBSERVE.
 */
static void deliver(struct uthread *u, struct qop *op, uint32_t kind, uint64_t i0, uint64_t i1,
		    const struct rl_regs *r, bool sync)
{
	if (op->arg[0] && kind != RL_OBS_EXIT) {
		irqflags_t f;

		if (vm_rw(&op->q->owner->as, op->arg[0], (void *)r, sizeof(*r), true)) {
			f = spin_lock_irqsave(&u->lock);
			u->obs_delivered = false;
			spin_unlock_irqrestore(&u->lock, f);
			qop_complete(op, -EFAULT, 0, 0);
			return;
		}
	}
	if (sync)
		qop_complete_sync(op, kind, i0, i1);
	else
		qop_complete(op, kind, i0, i1);
}

/* Stop the current thread for its supervisor; returns when resumed. */
static void uthread_stop(struct uthread *u, uint32_t kind, uint64_t i0, uint64_t i1)
{
	struct rl_regs r;
	struct qop *op;
	irqflags_t f;

	f = spin_lock_irqsave(&u->lock);
	if (kind != RL_OBS_EXIT)
		arch_uthread_stop_irqoff(&u->arch);	/* its FPU state in memory, for thread_fpu */
	u->obs_kind = kind;
	u->obs_info[0] = i0;
	u->obs_info[1] = i1;
	u->resumed = false;
	/* An exited thread stays UT_EXITED (THREAD_WAIT and op_observe's
	 * -ESRCH look at it); only a live one is stopped, its registers
	 * where others may reach them until a resume is accepted. */
	if (kind != RL_OBS_EXIT)
		u->state = UT_STOPPED;
	if (u->rec)
		record_stop(u, kind, i0, i1);	/* before any report */
	op = u->observer;
	if (op && op->multi && kind != RL_OBS_EXIT && !READ_ONCE(op->claimed) &&
	    qop_post_more(op, kind | RL_OBS_MORE, i0, i1)) {
		/* Reported, and the observation stays armed (a cancel that
		 * claims op now ends it after this report). */
		u->obs_delivered = true;
		op = NULL;
	} else {
		/* Claim under u->lock: a cancel that claimed op first must
		 * still run observe_detach (which takes u->lock) before it
		 * frees op, so op is valid here. If the cancel won, the stop
		 * waits for the next OBSERVE. A multi-shot op ends here:
		 * the exit, or a ring with no room for a report that keeps
		 * it armed. */
		u->observer = NULL;
		if (op && !qop_claim(op))
			op = NULL;
		u->obs_delivered = op != NULL;
		if (op && op->arg[0] && kind != RL_OBS_EXIT)
			stopped_regs(u, &r);
	}
	spin_unlock_irqrestore(&u->lock, f);
	/* We block (or exit) next: the supervisor, if waiting here, runs
	 * straight after (a direct switch). */
	if (op)
		deliver(u, op, kind, i0, i1, &r, true);
	if (kind == RL_OBS_EXIT)
		return;
	/* Nobody left to resume it (see uthread_orphaned): end it. The
	 * handle made from the startup block or thread_create comes first,
	 * so a thread is never orphaned before its creator had a handle. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* state store before this load */
	if (__atomic_load_n(&u->obj.watched_handles, __ATOMIC_ACQUIRE) == 0)
		uthread_kill(u);
	wait_for_resume(u);
	/* Resumed: the resume ended the stop (resume_locked). Killed: end
	 * it here, under the lock, before the exit frees our stack. */
	if (!READ_ONCE(u->resumed)) {
		f = spin_lock_irqsave(&u->lock);
		u->state = UT_RUNNING;
		u->obs_kind = 0;
		spin_unlock_irqrestore(&u->lock, f);
	}
	/* Its FPU state back in the registers, and the FS/GS bases if
	 * thread_regs or thread_set_base changed them meanwhile. */
	arch_uthread_resume(&u->arch);
	uthread_return_check_inline();
}

/*
 * Stop for each interrupt, on the way to user mode (so u->tf is the whole
 * user frame): aux[0] the number of the system call being left (its
 * result already in rax) and aux[1] 1, or both 0 when the thread was
 * interrupted in user mode. An interrupt that comes while it is stopped
 * is taken after the resume, before any user instruction: a loop, not
 * recursion through uthread_stop's own return check.
 */
static void uthread_take_interrupts(struct uthread *u)
{
	struct trap_frame *tf = u->tf;
	bool sys = tf->vector == 256;
	irqflags_t f;

	u->in_interrupt = true;
	for (;;) {
		f = spin_lock_irqsave(&u->lock);
		if (!u->interrupt) {
			spin_unlock_irqrestore(&u->lock, f);
			break;
		}
		u->interrupt = false;
		spin_unlock_irqrestore(&u->lock, f);
		uthread_stop(u, RL_OBS_INTERRUPT, sys ? tf->error : 0, sys);
	}
	u->in_interrupt = false;
}

int uthread_interrupt(struct uthread *u)
{
	struct thread *kt;
	irqflags_t f;
	int r = 0;

	f = spin_lock_irqsave(&u->lock);
	if (!u->supervised) {
		r = -EINVAL;
	} else if (u->state == UT_EXITED || (u->state == UT_STOPPED && u->obs_kind == RL_OBS_EXIT)) {
		r = -ESRCH;
	} else if (u->state == UT_CREATED) {
		r = -EBUSY;
	} else {
		u->interrupt = true;
		kt = u->kt;
		if (kt) {
			/* As uthread_kill: blocked in the kernel, it wakes and
			 * its wait ends (-EINTR); running in user mode on
			 * another CPU, the IPI brings it to its return check. */
			thread_wake(kt);
			if (kt->cpu != cpu_id())
				smp_send_resched(kt->cpu);
		}
	}
	spin_unlock_irqrestore(&u->lock, f);
	return r;
}

struct arch_uthread *arch_uthread_current(void)
{
	struct thread *t = thread_current();

	return t->uarch;
}

void uthread_exit(int64_t status)
{
	struct uthread *u = uthread_current();
	struct process *p = u->proc;
	struct list_head done;
	bool last, teardown;
	irqflags_t f;

	/* Leave the user address space first: it may be torn down below. */
	f = arch_irq_save();
	arch_switch_page_table(vmm_kernel_pml4());
	thread_current()->u = NULL;
	thread_current()->uarch = NULL;
	arch_irq_restore(f);

	list_init(&done);
	f = spin_lock_irqsave(&u->lock);
	u->state = UT_EXITED;
	u->status = status;
	u->kt = NULL;
	grab_waiters(&u->waiters, &done);
	spin_unlock_irqrestore(&u->lock, f);
	complete_all(&done, status);
	if (u->supervised)
		uthread_stop(u, RL_OBS_EXIT, (uint64_t)status, 0);

	f = spin_lock_irqsave(&p->lock);
	last = --p->live_threads == 0;
	spin_unlock_irqrestore(&p->lock, f);
	if (last) {
		process_end(p, status);
		f = spin_lock_irqsave(&p->lock);
		teardown = p->live_threads == 0 && !p->torn_down;
		if (teardown)
			p->torn_down = true;
		spin_unlock_irqrestore(&p->lock, f);
		if (teardown)
			process_teardown(p);
	}
	kobj_put(&u->obj);
	thread_exit();
}

void uthread_fault(struct trap_frame *tf, uint64_t addr)
{
	struct uthread *u = uthread_current();

	if (u->supervised) {
		uthread_stop(u, RL_OBS_FAULT, addr, tf->vector << 32 | (tf->error & 0xffffffff));
		return;
	}
	pr_warn("process %s: thread %lu killed: vector %lu error %lx at rip %lx addr %lx",
		u->proc->name, thread_current()->id, tf->vector, tf->error, tf->rip, addr);
	process_kill(u->proc, -EFAULT);
	uthread_exit(-EFAULT);
}

void uthread_foreign_syscall(struct trap_frame *tf)
{
	struct uthread *u = uthread_current();
	struct process *p = u->proc;
	uint64_t entry = READ_ONCE(p->dispatch_entry), at = tf->rip - 2;	/* syscall: 2 bytes */

	/* The in-process path (process_dispatch, docs/abi.md): continue at
	 * the entry with every register as the program left it (rcx = its
	 * return address, r11 = its flags, rax = the number). The three
	 * fields are read without the lock: a concurrent change sends this
	 * call the old way or the new, which only the process can notice. */
	if (entry && !(at >= READ_ONCE(p->dispatch_start) && at < READ_ONCE(p->dispatch_end))) {
		tf->rip = entry;
		return;
	}
	if (!u->supervised) {
		tf->rax = (uint64_t)-ENOSYS;
		return;
	}
	uthread_stop(u, RL_OBS_SYSCALL, tf->rax, 0);
}

/* ---- system calls ---------------------------------------------------------------- */

static int get_thread(uint64_t h, uint32_t need, struct uthread **out)
{
	struct kobj *o;
	/* A value above INT32_MAX is no handle (as in syscall.c): its low
	 * 32 bits must not name one (0x1_0000_0005 is not handle 5). */
	int r = h > INT32_MAX ? -EBADF : handle_get(h, RL_OBJ_THREAD, need, &o, NULL);

	if (!r)
		*out = container_of(o, struct uthread, obj);
	return r;
}

int uthread_get(uint64_t h, uint32_t need, struct uthread **out)
{
	return get_thread(h, need, out);
}

static int get_process(uint64_t h, uint32_t need, struct process **out)
{
	struct kobj *o;
	/* A value above INT32_MAX is no handle (as in syscall.c): its low
	 * 32 bits must not name one (0x1_0000_0005 is not handle 5). */
	int r = h > INT32_MAX ? -EBADF : handle_get(h, RL_OBJ_PROCESS, need, &o, NULL);

	if (!r)
		*out = container_of(o, struct process, obj);
	return r;
}

#define DISPATCH_MAX_LEN	(1ull << 30)

SYSCALL_DEFINE(process_dispatch)
{
	struct process *p;
	irqflags_t f;
	int r;

	/* (process, entry, start, length): entry 0 turns it off (and then
	 * start and length must be 0). */
	if (a1 == 0 ? (a2 || a3) : (a3 == 0 || a3 > DISPATCH_MAX_LEN || !user_range_ok(a2, a3) ||
				     a1 < a2 || a1 >= a2 + a3))
		return -EINVAL;
	r = get_process(a0, RL_RIGHT_MANAGE, &p);
	if (r)
		return r;
	f = spin_lock_irqsave(&p->lock);
	WRITE_ONCE(p->dispatch_start, a2);
	WRITE_ONCE(p->dispatch_end, a2 + a3);
	WRITE_ONCE(p->dispatch_entry, a1);
	spin_unlock_irqrestore(&p->lock, f);
	kobj_put(&p->obj);
	return 0;
}

/*
 * The areas of a process's address space (for a POSIX server's
 * /proc/<pid>/maps): MANAGE, as reading its memory (process_rw) wants. The
 * areas are read in chunks under the address-space lock and copied out
 * between chunks, so a list changing meanwhile is seen chunk by chunk, each
 * consistent and in order.
 */
#define REGIONS_CHUNK	16

SYSCALL_DEFINE(vm_regions)
{
	struct rl_region chunk[REGIONS_CHUNK];
	struct process *p;
	uintptr_t from = a1;
	uint64_t done = 0;
	int r;

	if (a1 >= RL_USER_TOP)
		return -EINVAL;
	if (a3 > RL_USER_TOP / sizeof(chunk[0]) || !user_range_ok(a2, a3 * sizeof(chunk[0])))
		return -EFAULT;
	r = get_process(a0, RL_RIGHT_MANAGE, &p);
	if (r)
		return r;
	while (done < a3) {
		unsigned want = (unsigned)MIN(a3 - done, (uint64_t)REGIONS_CHUNK);
		unsigned n = vm_regions(&p->as, &from, chunk, want);

		if (n && copy_to_user(a2 + done * sizeof(chunk[0]), chunk, n * sizeof(chunk[0]))) {
			kobj_put(&p->obj);
			return -EFAULT;
		}
		done += n;
		if (n < want)
			break;
	}
	kobj_put(&p->obj);
	return (int64_t)done;
}

/* The whole of src's address space, copy-on-write, into a fresh dst
 * (vm.c: vm_fork). Both need MANAGE: dst is changed, src's memory read. */
SYSCALL_DEFINE(vm_fork)
{
	struct process *dst, *src;
	int r = get_process(a0, RL_RIGHT_MANAGE, &dst);

	if (r)
		return r;
	r = get_process(a1, RL_RIGHT_MANAGE, &src);
	if (r) {
		kobj_put(&dst->obj);
		return r;
	}
	r = dst == src ? -EINVAL : vm_fork(&dst->as, dst->budget, &src->as);
	kobj_put(&src->obj);
	kobj_put(&dst->obj);
	return r;
}

SYSCALL_DEFINE(process_create)
{
	struct budget *parent = process_current()->budget, *b = parent;
	struct process *p;
	int r;

	if ((a0 & ~(uint64_t)RL_PROCESS_FOREIGN) || (a1 & ~(uint64_t)RL_RIGHTS_ALL) ||
	    (a2 & ~(uint64_t)RL_RIGHTS_ALL))
		return -EINVAL;
	/* A budget of its own, carved out of ours, or ours shared. */
	if (a3) {
		b = budget_carve(parent, a3, &r);
		if (!b)
			return r;
	}
	p = process_create(process_current()->name, b);
	if (b != parent)
		budget_put(b);		/* the process holds it now, if made */
	if (!p)
		return -ENOMEM;
	p->foreign = a0 & RL_PROCESS_FOREIGN;
	p->self_process_rights = (uint32_t)a1;
	p->self_thread_rights = (uint32_t)a2;
	r = handle_install(&process_current()->handles, &p->obj, RL_RIGHTS_ALL);
	kobj_put(&p->obj);
	return r;
}

SYSCALL_DEFINE(process_give)
{
	struct process *p;
	struct kobj *o;
	uint32_t rights;
	int r;

	r = get_process(a0, RL_RIGHT_MANAGE, &p);
	if (r)
		return r;
	/* The type is checked before the TRANSFER right: queue handles never
	 * carry TRANSFER, so checking the right first made the documented
	 * -EBADFD for queues unreachable (-EPERM instead). */
	r = a1 > INT32_MAX ? -EBADF : handle_get(a1, 0, 0, &o, &rights);
	if (r == 0) {
		if (o->type == RL_OBJ_QUEUE)
			r = -EBADFD;	/* a queue's rings live in its owner */
		else if (!(rights & RL_RIGHT_TRANSFER) || (a2 & ~(uint64_t)rights))
			r = -EPERM;	/* no TRANSFER; rights can only be reduced */
		else
			r = handle_install(&p->handles, o, (uint32_t)a2);
		kobj_put(o);
	}
	kobj_put(&p->obj);
	return r;
}

SYSCALL_DEFINE(process_kill)
{
	struct process *p;
	int r = get_process(a0, RL_RIGHT_MANAGE, &p);

	if (r)
		return r;
	process_kill(p, (int64_t)a1);
	kobj_put(&p->obj);
	uthread_return_check();		/* it may have been ourselves */
	return 0;
}

SYSCALL_DEFINE(process_rw)
{
	struct process *p;
	char buf[256];
	int r;

	if (a4 & ~(uint64_t)RL_RW_WRITE)
		return -EINVAL;
	if (!user_range_ok(a2, a3) || !user_range_ok(a1, a3))
		return -EFAULT;
	r = get_process(a0, RL_RIGHT_MANAGE, &p);
	if (r)
		return r;
	for (uint64_t done = 0; done < a3 && !r;) {
		size_t n = MIN(sizeof(buf), a3 - done);

		if (a4 & RL_RW_WRITE) {
			r = copy_from_user(buf, a2 + done, n);
			if (!r)
				r = vm_rw(&p->as, a1 + done, buf, n, true);
		} else {
			r = vm_rw(&p->as, a1 + done, buf, n, false);
			if (!r)
				r = copy_to_user(a2 + done, buf, n);
		}
		done += n;
	}
	kobj_put(&p->obj);
	return r ? r : (int64_t)a3;
}

SYSCALL_DEFINE(thread_create)
{
	struct process *p;
	struct uthread *u;
	int r;

	if ((a4 & ~(uint64_t)(RL_THREAD_SUPERVISED | RL_THREAD_STOPPED)) ||
	    (a4 & (RL_THREAD_SUPERVISED | RL_THREAD_STOPPED)) == RL_THREAD_STOPPED)
		return -EINVAL;
	r = get_process(a0, RL_RIGHT_MANAGE, &p);
	if (r)
		return r;
	r = uthread_create(p, a1, a2, a3, a4 & RL_THREAD_SUPERVISED, &u);
	kobj_put(&p->obj);
	if (r)
		return r;
	if (a4 & RL_THREAD_STOPPED) {
		/* Started now, stopped (RL_OBS_CREATED); a failed handle
		 * install below kills it like any stopped thread. */
		u->start_stopped = true;
		r = uthread_start(u);
		if (r) {
			uthread_kill(u);
			kobj_put(&u->obj);
			return r;
		}
	}
	r = handle_install(&process_current()->handles, &u->obj, RL_RIGHTS_ALL);
	if (r < 0)
		uthread_kill(u);
	kobj_put(&u->obj);
	return r;
}

SYSCALL_DEFINE(thread_start)
{
	struct uthread *u;
	int r = get_thread(a0, RL_RIGHT_CONTROL, &u);

	if (r)
		return r;
	r = uthread_start(u);
	kobj_put(&u->obj);
	return r;
}

SYSCALL_DEFINE(thread_kill)
{
	struct uthread *u;
	int r = get_thread(a0, RL_RIGHT_CONTROL, &u);

	if (r)
		return r;
	uthread_kill(u);
	kobj_put(&u->obj);
	uthread_return_check();
	return 0;
}

SYSCALL_DEFINE(thread_exit)
{
	uthread_exit((int64_t)a0);
}

SYSCALL_DEFINE(thread_set_base)
{
	struct uthread *u;
	int r;

	if (a1 > RL_BASE_GS)
		return -EINVAL;
	if (a2 >= RL_USER_TOP)
		return -EINVAL;
	r = get_thread(a0, RL_RIGHT_CONTROL, &u);
	if (r)
		return r;
	if (a1 == RL_BASE_FS)
		u->arch.fs_base = a2;
	else
		u->arch.gs_base = a2;
	WRITE_ONCE(u->arch.bases_changed, true);	/* for a stopped thread (uthread_stop) */
	if (u == uthread_current()) {
		irqflags_t f = arch_irq_save();

		if (a1 == RL_BASE_FS)
			arch_set_user_fs(a2);
		else
			arch_set_user_gs(a2);
		arch_irq_restore(f);
	}
	kobj_put(&u->obj);
	return 0;
}

static bool canonical_user(uint64_t a)
{
	return a < RL_USER_TOP;
}

/* Registers of a stopped thread. The caller's buffer is touched only
 * outside u->lock (a fault there may sleep); the thread's registers only
 * under it, after checking it is still stopped: a resume-with-kill racing
 * from another supervisor thread cannot leave us writing a freed stack. */
SYSCALL_DEFINE(thread_regs)
{
	struct uthread *u;
	struct rl_regs r;
	irqflags_t f;
	int e;

	if (a1 > RL_REGS_SET)
		return -EINVAL;
	e = get_thread(a0, RL_RIGHT_OBSERVE, &u);
	if (e)
		return e;
	if (a1 == RL_REGS_SET) {
		e = copy_from_user(&r, a2, sizeof(r));
		if (!e && (!canonical_user(r.rip) || !canonical_user(r.rsp) ||
			   !canonical_user(r.fs_base) || !canonical_user(r.gs_base)))
			e = -EINVAL;
		/* What user code may change only, interrupts on. */
		r.rflags = arch_user_flags(r.rflags);
		if (e) {
			kobj_put(&u->obj);
			return e;
		}
	}
	f = spin_lock_irqsave(&u->lock);
	if (u->state != UT_STOPPED || u->obs_kind == RL_OBS_EXIT || u->resumed) {
		e = -EBUSY;
	} else if (a1 == RL_REGS_GET) {
		stopped_regs(u, &r);
	} else {
		if (u->regs_in_u)
			u->regs = r;
		else
			regs_to_frame(&r, u->tf);
		u->arch.fs_base = r.fs_base;
		u->arch.gs_base = r.gs_base;
		u->arch.bases_changed = true;
	}
	spin_unlock_irqrestore(&u->lock, f);
	kobj_put(&u->obj);
	if (!e && a1 == RL_REGS_GET)
		e = copy_to_user(a2, &r, sizeof(r));
	return e;
}

/* Accept a resume of a stopped thread (u->lock held): 0, or -EBUSY when
 * it is not stopped or a resume was accepted already. The caller wakes
 * the thread (resume_wake) once the lock is dropped. */
static int resume_locked(struct uthread *u, uint64_t flags, uint64_t rax)
{
	if (u->state != UT_STOPPED || u->obs_kind == RL_OBS_EXIT || u->resumed)
		return -EBUSY;
	if (flags & RL_RESUME_SET_RAX) {
		if (u->regs_in_u)
			u->regs.rax = rax;
		else
			u->tf->rax = rax;
	}
	u->resumed = true;
	u->state = UT_RUNNING;		/* the stop ends here, not when it runs */
	u->obs_kind = 0;
	u->obs_delivered = true;	/* a stop that ended is never reported */
	if (flags & RL_RESUME_KILL)
		u->killed = true;
	return 0;
}

/* Wake a thread whose resume was accepted (u->lock held: u->kt stays
 * valid while it is set). It waits in uthread_stop, BLOCKED before it
 * checks u->resumed, so a wake that finds it not yet blocked is not
 * needed, and one that finds it blocked is not lost. sync: the caller
 * is about to wait (RL_OBSERVE_RESUME), so the thread runs next here. */
static void resume_wake(struct uthread *u, bool sync)
{
	if (u->kt) {
		if (sync)
			thread_wake_sync(u->kt);
		else
			thread_wake(u->kt);
	}
}

int uthread_resume(struct uthread *u, uint64_t flags, uint64_t rax)
{
	irqflags_t f;
	int r;

	if (flags & ~(uint64_t)(RL_RESUME_KILL | RL_RESUME_SET_RAX))
		return -EINVAL;
	f = spin_lock_irqsave(&u->lock);
	r = resume_locked(u, flags, rax);
	if (!r)
		resume_wake(u, false);
	spin_unlock_irqrestore(&u->lock, f);
	return r;
}

SYSCALL_DEFINE(thread_resume)
{
	struct uthread *u;
	int r;

	if (a1 & ~(uint64_t)(RL_RESUME_KILL | RL_RESUME_SET_RAX))
		return -EINVAL;
	r = get_thread(a0, RL_RIGHT_OBSERVE, &u);
	if (r)
		return r;
	r = uthread_resume(u, a1, a2);
	kobj_put(&u->obj);
	return r;
}

/* The thread's stop record (struct rl_stop_record), made on the first
 * call and charged to the caller, which maps it; every call gives a new
 * read-only handle to the same page. */
SYSCALL_DEFINE(thread_record)
{
	struct memobj *mo, *made = NULL;
	struct uthread *u;
	irqflags_t f;
	int r;

	if (a1)
		return -EINVAL;
	r = get_thread(a0, RL_RIGHT_OBSERVE, &u);
	if (r)
		return r;
	if (!u->supervised) {
		kobj_put(&u->obj);
		return -EINVAL;
	}
	if (!READ_ONCE(u->record)) {
		r = memobj_create_contig_charged(PAGE_SIZE, process_current()->budget, &made);
		if (r) {
			kobj_put(&u->obj);
			return r;
		}
	}
	f = spin_lock_irqsave(&u->lock);
	if (!u->record) {
		u->record = made;	/* the thread's reference */
		u->rec = memobj_kaddr(made, 0);
		made = NULL;
		/* Stopped now (a thread created stopped, say): the record
		 * starts with this stop. */
		if (u->state == UT_STOPPED && u->obs_kind && u->obs_kind != RL_OBS_EXIT &&
		    !u->resumed)
			record_stop(u, u->obs_kind, u->obs_info[0], u->obs_info[1]);
	}
	mo = u->record;
	kobj_get(&mo->obj);
	spin_unlock_irqrestore(&u->lock, f);
	if (made)
		kobj_put(&made->obj);	/* another call set one first */
	kobj_put(&u->obj);
	return install_new(&mo->obj, RL_RIGHT_READ | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
}

/* The op: its submitter usually waits next (the supervisor's loop), so
 * the thread is woken to run straight after it (resume_wake sync). */
int64_t op_resume(struct queue *q, const struct rl_sqe *sqe, struct kobj *o)
{
	struct uthread *u = container_of(o, struct uthread, obj);
	irqflags_t f;
	int r;

	if (sqe->arg[0] & ~(uint64_t)(RL_RESUME_KILL | RL_RESUME_SET_RAX))
		return -EINVAL;
	f = spin_lock_irqsave(&u->lock);
	r = resume_locked(u, sqe->arg[0], sqe->arg[1]);
	if (!r)
		resume_wake(u, true);
	spin_unlock_irqrestore(&u->lock, f);
	return r;
}

/* ---- operations: observe, wait for exit ----------------------------------------- */

static void observe_detach(struct qop *op)
{
	struct uthread *u = container_of(op->target, struct uthread, obj);
	irqflags_t f = spin_lock_irqsave(&u->lock);

	if (u->observer == op)
		u->observer = NULL;
	spin_unlock_irqrestore(&u->lock, f);
}

int op_observe(struct qop *op, const struct rl_sqe *sqe)
{
	struct rl_regs regs;
	struct uthread *u = container_of(op->target, struct uthread, obj);
	uint32_t kind = 0;
	uint64_t i0 = 0, i1 = 0;
	irqflags_t f;
	int r;

	/* arg[1] = RL_OBSERVE_RESUME or 0; with it, arg[2] = RL_RESUME_*
	 * flags and arg[3] = rax, as RESUME's arg[0] and arg[1]. */
	if ((sqe->arg[1] & ~(uint64_t)(RL_OBSERVE_RESUME | RL_OBSERVE_MULTI)) ||
	    ((sqe->arg[1] & RL_OBSERVE_RESUME)
	     ? sqe->arg[2] & ~(uint64_t)(RL_RESUME_KILL | RL_RESUME_SET_RAX)
	     : sqe->arg[2] || sqe->arg[3]) ||
	    ((sqe->arg[1] & RL_OBSERVE_MULTI) && sqe->arg[0]))
		return -EINVAL;
	op->multi = sqe->arg[1] & RL_OBSERVE_MULTI;
	op->detach = observe_detach;
	op->arg[0] = sqe->arg[0];
	if (sqe->arg[0] && !user_range_ok(sqe->arg[0], sizeof(struct rl_regs)))
		return -EFAULT;
	f = spin_lock_irqsave(&u->lock);
	if (!u->supervised) {
		r = -EINVAL;
	} else if (u->observer) {
		r = -EBUSY;
	} else if ((sqe->arg[1] & RL_OBSERVE_RESUME) &&
		   (r = resume_locked(u, sqe->arg[2], sqe->arg[3])) != 0) {
		/* Not stopped, or resumed already: nothing changes. */
	} else if (op->multi && u->obs_kind && !u->obs_delivered && u->obs_kind != RL_OBS_EXIT &&
		   qop_post_more(op, u->obs_kind | RL_OBS_MORE, u->obs_info[0], u->obs_info[1])) {
		/* A stop waiting for a report: the first one, and it stays
		 * armed. */
		u->obs_delivered = true;
		u->observer = op;
	} else if (u->obs_kind && !u->obs_delivered) {
		/* Claim under u->lock: if a cancel got the op first, the stop
		 * stays undelivered for the next OBSERVE. */
		if (qop_claim(op)) {
			u->obs_delivered = true;
			kind = u->obs_kind;
			i0 = u->obs_info[0];
			i1 = u->obs_info[1];
			if (op->arg[0] && kind != RL_OBS_EXIT)
				stopped_regs(u, &regs);
		}
	} else if (u->obs_kind == RL_OBS_EXIT && u->obs_delivered) {
		/* (The exit report itself, not UT_EXITED: between uthread_exit
		 * marking the thread exited and reporting it, an OBSERVE must
		 * wait for the report.) */
		r = -ESRCH;
	} else {
		u->observer = op;
	}
	if ((sqe->arg[1] & RL_OBSERVE_RESUME) && !r)
		resume_wake(u, true);
	spin_unlock_irqrestore(&u->lock, f);
	/* Resumed, the thread goes on and, when it next stops, takes the op
	 * from u->observer (a resume ends the stop, so the op is never
	 * handed the one it ended). Every failure above leaves the thread
	 * as it was. */
	if (r)
		return r;
	if (kind)
		deliver(u, op, kind, i0, i1, &regs, false);
	return 0;
}

static void wait_detach(struct qop *op)
{
	spinlock_t *l = op->target->type == RL_OBJ_PROCESS
		? &container_of(op->target, struct process, obj)->lock
		: &container_of(op->target, struct uthread, obj)->lock;
	irqflags_t f = spin_lock_irqsave(l);

	if (op->wlink.next) {
		list_del(&op->wlink);
		op->wlink.next = NULL;
	}
	spin_unlock_irqrestore(l, f);
}

int op_process_wait(struct qop *op, const struct rl_sqe *sqe)
{
	struct process *p = container_of(op->target, struct process, obj);
	irqflags_t f;
	int64_t status = 0;
	bool ended;

	op->detach = wait_detach;
	f = spin_lock_irqsave(&p->lock);
	ended = p->ended;
	if (ended)
		status = p->status;
	else
		list_add_tail(&p->waiters, &op->wlink);
	spin_unlock_irqrestore(&p->lock, f);
	if (ended && qop_claim(op))
		qop_complete(op, status, 0, 0);
	return 0;
}

int op_thread_wait(struct qop *op, const struct rl_sqe *sqe)
{
	struct uthread *u = container_of(op->target, struct uthread, obj);
	irqflags_t f;
	int64_t status = 0;
	bool ended;

	op->detach = wait_detach;
	f = spin_lock_irqsave(&u->lock);
	ended = u->state == UT_EXITED;
	if (ended)
		status = u->status;
	else
		list_add_tail(&u->waiters, &op->wlink);
	spin_unlock_irqrestore(&u->lock, f);
	if (ended && qop_claim(op))
		qop_complete(op, status, 0, 0);
	return 0;
}

SYSCALL_DEFINE(process_budget)
{
	struct process *p;
	struct rl_budget b;
	int r = get_process(a0, 0, &p);

	if (r)
		return r;
	b = (struct rl_budget){
		.limit = p->budget->limit,
		.used = __atomic_load_n(&p->budget->used, __ATOMIC_RELAXED),
		.id = p->budget->id,
	};
	kobj_put(&p->obj);
	return copy_to_user(a1, &b, sizeof(b)) ? -EFAULT : 0;
}
