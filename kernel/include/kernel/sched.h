/*
 * sched.h - kernel threads and the preemptive priority scheduler.
 *
 * Each CPU has its own run queue: one FIFO list per priority (0-31, higher
 * runs first) and a bitmap of non-empty lists. A thread runs until it
 * blocks, yields, or its 10 ms slice ends while another thread of equal or
 * higher priority is ready; a thread woken with a higher priority than the
 * running one preempts it at once (on another CPU, through an IPI). An idle
 * CPU steals ready threads from the busiest other CPU.
 *
 * Thread states:
 *   READY    on a run queue, not running
 *   RUNNING  the current thread of its CPU
 *   BLOCKED  waiting (wait queue, sleep); thread_wake makes it READY
 *   DEAD     exited; its stack is freed by the reaper
 * Lock: the run queue lock of thread->cpu guards state, cpu and the queue
 * links; only the running thread itself moves its own state between
 * RUNNING and BLOCKED without it, atomically (sched_prepare_block).
 */
#ifndef KERNEL_SCHED_H
#define KERNEL_SCHED_H

#include <kernel/cpu.h>
#include <kernel/list.h>
#include <kernel/timer.h>
#include <kernel/types.h>

#define SCHED_PRIOS		32
#define SCHED_PRIO_DEFAULT	16
#define SCHED_SLICE_NS		(10 * 1000000ull)

enum thread_state {
	THREAD_READY,
	THREAD_RUNNING,
	THREAD_BLOCKED,
	THREAD_DEAD,
};

struct thread {
	uint64_t rsp;			/* saved stack pointer while switched out */
	uintptr_t kstack_top;		/* 0 for the boot CPU's first thread */
	enum thread_state state;
	int prio;
	unsigned cpu;			/* CPU whose run queue owns the thread */
	bool queued;			/* on cpu's run queue */
	bool pinned;			/* never migrated */
	bool timed_out;			/* set by the sleep timer */
	struct list_head rq_link;
	struct list_head all_link;	/* on the list of all threads */
	struct timer sleep_timer;
	void (*entry)(void *arg);
	void *arg;
	uint64_t id;
	uint64_t switches;		/* times switched in */
	uint64_t runtime_ns;		/* CPU time used */
	uint64_t last_start_ns;
	char name[24];
	struct uthread *u;		/* user context, NULL for kernel threads */
	/* &u->arch, set and cleared with u (interrupts off): what
	 * arch_switch works on, so the switch never looks into u. */
	struct arch_uthread *uarch;
	/* Processes this thread is ending or freeing (process.c): the first
	 * one runs here, those its teardown lets go are queued and run by
	 * the same loop, never by recursion. Touched with interrupts off. */
	bool reaping;
	struct process *reap_head;
};

void sched_init(void);			/* boot CPU, once */
void sched_init_cpu(void);		/* every CPU: the caller becomes its idle thread */
void sched_idle(void) __noreturn;	/* run the idle loop forever */

/* Create a thread, READY on cpu (-1: the least loaded CPU). NULL when out of
 * memory. */
struct thread *thread_create(const char *name, void (*entry)(void *), void *arg,
			     int prio, int cpu);
void thread_exit(void) __noreturn;
static inline struct thread *thread_current(void)
{
	return this_cpu()->current;
}
/* Is the current thread RUNNING (not marked BLOCKED)? Only its wakers
 * change that, under its run queue lock, and only to RUNNING. */
bool sched_running(void);

/* Give the CPU to another ready thread of the same or higher priority. */
void sched_yield(void);

/* Block the current thread (state must already be BLOCKED, set by
 * sched_prepare_block before its wake condition was checked) until thread_wake, or until deadline (ns,
 * 0 = none). Returns false when the deadline passed first. */
bool sched_block(uint64_t deadline);

/* Mark the current thread BLOCKED (before checking the wake condition). */
void sched_prepare_block(void);
/* Undo sched_prepare_block when the condition already holds. */
void sched_cancel_block(void);

/* Make a BLOCKED thread READY. Returns true if it was blocked. Any context. */
bool thread_wake(struct thread *t);
/* thread_wake by a thread that is about to block (thread context): a
 * thread sleeping on this CPU runs next, without a trip through the run
 * queue (the direct switch of a forwarded system call, docs/kernel.md). */
bool thread_wake_sync(struct thread *t);

/* Sleep until the monotonic time deadline / for ns. */
void sched_sleep_until(uint64_t deadline);
void sched_sleep_ns(uint64_t ns);

/* Log every thread and run queue (debugging aid). */
void sched_dump(void);

/* Counters for tests. */
uint64_t sched_threads_alive(void);
unsigned sched_nr_ready(unsigned cpu);

#endif
