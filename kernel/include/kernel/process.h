/*
 * process.h - user processes and user threads.
 *
 * A process is a handle table and an address space; it lives while a
 * handle or a thread refers to it, and it ends (status recorded, waiters
 * completed, every handle closed, every mapping removed) when its last
 * thread exits or it is killed.
 *
 * A user thread is a kernel thread (struct thread) running a user context:
 * entering the kernel (system call, interrupt, fault) saves the user
 * registers in a trap frame at the top of its kernel stack. struct uthread
 * is the object handles name; it outlives the kernel thread so exit status
 * stays readable.
 */
#ifndef KERNEL_PROCESS_H
#define KERNEL_PROCESS_H

#include <kernel/list.h>
#include <kernel/object.h>
#include <kernel/sched.h>
#include <kernel/trap.h>
#include <kernel/vm.h>
#include <kernel/waitq.h>
#include <arch/user.h>

struct qop;

struct process {
	struct kobj obj;
	spinlock_t lock;		/* threads, state, waiters */
	struct handle_table handles;
	struct aspace as;
	struct list_head threads;	/* struct uthread.proc_link */
	unsigned live_threads;		/* started or created, not exited */
	bool ended;
	bool torn_down;			/* handles and address space released */
	int64_t status;
	struct list_head waiters;	/* RL_OP_PROCESS_WAIT ops */
	uint64_t clock_va;		/* where the clock page is mapped */
	/* On a thread's reap list (struct thread.reap_head): a process whose
	 * last reference went (reap_destroy), or that nobody can reach any
	 * more (orphan_queued). */
	struct process *reap_next;
	struct budget *budget;		/* what it causes is charged here (referenced) */
	bool reap_destroy;
	uint32_t orphan_queued;
	bool foreign;			/* RL_PROCESS_FOREIGN: no native calls */
	/* process_dispatch: a foreign system call from outside
	 * [dispatch_start, dispatch_end) goes to dispatch_entry in the
	 * process itself (0: off); from inside, the usual way. */
	uint64_t dispatch_entry, dispatch_start, dispatch_end;
	uint32_t self_process_rights;	/* what RL_SELF_PROCESS carries here */
	uint32_t self_thread_rights;	/* what RL_SELF_THREAD carries here */
	char name[24];
	uint64_t serial;		/* never 0, never reused: who it was, once gone */
};

enum uthread_state {
	UT_CREATED,	/* not started */
	UT_RUNNING,	/* runnable or in the kernel */
	UT_STOPPED,	/* waiting for its supervisor's resume */
	UT_EXITED,
};

struct uthread {
	struct kobj obj;
	spinlock_t lock;		/* state, observation, waiters */
	struct thread *kt;		/* NULL once exited */
	struct process *proc;		/* referenced */
	struct list_head proc_link;
	enum uthread_state state;
	bool supervised;
	bool foreign;			/* its process's, copied for syscall entry */
	bool killed;			/* end at the next chance */
	bool start_stopped;		/* RL_THREAD_STOPPED */
	/* thread_interrupt: set (under lock) by the interrupter, taken by
	 * the thread itself on its way to user mode, where it stops with
	 * RL_OBS_INTERRUPT; blocking calls end early (-EINTR) while set.
	 * in_interrupt is the thread's own: it is in that stop. */
	bool interrupt;
	bool in_interrupt;
	uint64_t entry, stack, arg;	/* first user context */
	struct trap_frame *tf;		/* user frame while in the kernel */
	/* A thread created RL_THREAD_STOPPED has no frame yet: until its
	 * first resume its registers are here (regs_in_u, under lock). */
	struct rl_regs regs;
	bool regs_in_u;
	/* A stopped thread's registers stay in *tf (process.c): thread_regs
	 * and resume reach them under u->lock while the stop lasts (state
	 * UT_STOPPED, not an exit, no resume accepted yet), the thread
	 * itself only after. */
	/* observation: the stop being reported and the op awaiting it */
	struct memobj *record;		/* thread_record's page, or NULL; set
					   once, under lock (referenced) */
	struct rl_stop_record *rec;	/* its kernel address */
	uint32_t obs_kind;		/* RL_OBS_*, 0 = none pending */
	uint64_t obs_info[2];
	bool obs_delivered;
	struct qop *observer;
	bool resumed;			/* set under lock; then u->kt is woken */
	int64_t status;
	struct list_head waiters;	/* RL_OP_THREAD_WAIT ops */
	uint64_t charged;		/* bytes charged to its process's budget */
	/* The machine's part (arch/user.h): FS/GS bases, the FPU area and
	 * where it is loaded, the I/O bitmap. Core reads and writes the
	 * bases (thread_set_base, thread_regs); the rest is user.c's. */
	struct arch_uthread arch;
};

void process_init(void);

/* A process charged to budget (and holding a reference to it). */
struct process *process_create(const char *name, struct budget *budget);
/* Create a thread in p (state CREATED). */
int uthread_create(struct process *p, uint64_t entry, uint64_t stack, uint64_t arg,
		   bool supervised, struct uthread **out);
int uthread_start(struct uthread *u);
void uthread_kill(struct uthread *u);
/* Let a stopped thread go on (RL_RESUME_* flags). 0 or -EINVAL/-EBUSY. */
int uthread_resume(struct uthread *u, uint64_t flags, uint64_t rax);
void process_kill(struct process *p, int64_t status);

/* The current thread's user part (NULL for kernel threads). */
static inline struct uthread *uthread_current(void)
{
	return thread_current()->u;
}
static inline struct process *process_current(void)
{
	struct uthread *u = uthread_current();

	return u ? u->proc : NULL;
}

/* On every return to user mode (trap.h's uthread_return_check, inline
 * here for the system-call path): a killed thread ends, an interrupted
 * one stops for its supervisor. */
void uthread_return_slow(struct uthread *u);
static inline void uthread_return_check_inline(void)
{
	struct uthread *u = uthread_current();

	if (u && __builtin_expect(READ_ONCE(u->killed) || READ_ONCE(u->interrupt), 0))
		uthread_return_slow(u);
}

/* End the current user thread. */
void uthread_exit(int64_t status) __noreturn;

/* A foreign system call: stop for the supervisor or end the process
 * (uthread_fault, its counterpart for a user-mode fault, is declared in
 * arch/user.h, for user.c). Returns when the thread may continue
 * (its registers possibly changed). */
void uthread_foreign_syscall(struct trap_frame *tf);

/* Stopped for its supervisor and not yet resumed, so its registers and
 * FPU area may be read and written (u->lock held). */
static inline bool uthread_stopped_locked(const struct uthread *u)
{
	return u->state == UT_STOPPED && u->obs_kind != RL_OBS_EXIT && !u->resumed;
}

/* thread_interrupt: 0, -EINVAL (not supervised), -EBUSY (never
 * started), -ESRCH (exited). */
int uthread_interrupt(struct uthread *u);

/* A thread handle of the caller's with the rights need: a reference, or
 * -EBADF/-EPERM (handle_get). */
int uthread_get(uint64_t h, uint32_t need, struct uthread **out);

/* Counters for accounting. */
extern uint64_t nr_processes, nr_uthreads;

/* What core calls on a thread's machine state (u->arch, arch/x86_64/user.c)
 * is declared in arch/user.h. */

#endif
