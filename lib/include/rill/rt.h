/*
 * rill/rt.h - the asynchronous runtime: small stackful tasks on an event
 * loop over one queue (docs/runtime.md).
 *
 *	static int64_t handle(void *arg)	// one request, straight-line
 *	{
 *		struct rl_sqe op = { .opcode = RL_OP_TIMEOUT, .arg = { deadline } };
 *		int64_t r = rl_await(&op, NULL);	// other tasks run meanwhile
 *		...
 *		return 0;
 *	}
 *
 *	struct rl_loop loop;
 *	rl_loop_init(&loop, 256, 1024);
 *	rl_loop_spawn(&loop, handle, arg);	// before or inside the loop
 *	rl_loop_run(&loop);			// until every task has ended
 *	rl_loop_fini(&loop);
 *
 * A task runs until it waits (an await, a join, a yield) or ends; then the
 * next runnable task runs, and when none is left the loop's turn submits
 * every entry the tasks filled in one queue_enter, reaps the completions
 * (no system call) and resumes the tasks they belong to.
 *
 * Rules:
 *  - One loop belongs to one thread: its tasks all run on that thread,
 *    one at a time, so they share data without locks (any code between two
 *    waits runs alone). Another thread may run a loop of its own; nothing
 *    of one loop may be touched from another thread.
 *  - Every function below but rl_loop_* is called from a task of the
 *    loop, never from the loop's own thread outside one.
 *  - An operation a task submits through the runtime has completed when
 *    the call that submitted it returns (rl_await, rl_op_wait*): its
 *    user_data names a struct rl_op on the task's stack, which therefore
 *    outlives it. Buffers the operation uses may live on that stack too.
 *  - A task has a 60 KiB stack with a guard page below it: running off
 *    its end faults, and the process ends (or stops for its supervisor)
 *    like any fault nobody resolves.
 */
#ifndef RILL_RT_H
#define RILL_RT_H

#include <rill/ipc.h>
#include <rill/rl.h>

/* Each task's slot of address space, aligned to its size: the guard page
 * at the bottom, then the stack, and the struct rl_task at the very top,
 * so a task finds itself from its stack pointer. */
#define RL_TASK_SLOT	(64u * 1024)
#define RL_TASK_GUARD	4096u

typedef int64_t (*rl_task_fn)(void *arg);

struct rl_loop;

/* One operation a task waits for. It lives on the task's stack from its
 * rl_op_sqe to the end of the wait that covers it; the completion lands
 * here. */
struct rl_op {
	struct rl_task *task;	/* which task to resume */
	uint32_t done;		/* its completion has arrived */
	uint16_t opcode;	/* the entry's, read when the wait begins */
	uint16_t ipc_count;	/* RL_OP_IPC: its actions, their results at */
	void *ipc_results;	/* ipc_results (how a cancel shows there) */
	struct rl_sqe *sqe;	/* its ring entry, until the wait begins */
	int64_t result;		/* the completion's result and aux words */
	uint64_t aux[2];
};

/* A task. Owned by the loop; fields are the runtime's (read-only to
 * programs, and only while the task has not been joined). */
struct rl_task {
	uint64_t rsp;			/* saved stack pointer while switched out */
	struct rl_loop *loop;
	struct rl_task *next;		/* run queue, yield list, sqe waiters, free list */
	rl_task_fn fn;
	void *arg;
	int64_t status;			/* fn's result, once ended */
	struct rl_op *wait_ops;		/* the ops of the current wait, or NULL */
	uint32_t wait_n;
	uint32_t need;			/* completions still needed to resume */
	struct rl_task *joiner;		/* the task waiting in rl_task_join */
	struct rl_task *joining;	/* the task this one waits to end */
	struct rl_op *woke;		/* the op whose completion ended the wait */
	uint8_t ended;			/* fn returned or rl_task_exit */
	uint8_t detached;		/* its slot is freed when it ends */
	uint8_t cancel;			/* a cancel waits for a wait to take it */
	uint8_t reserved[5];
};

/* A FIFO of tasks linked through rl_task.next. */
struct rl_task_list {
	struct rl_task *head, *tail;
};

struct rl_loop {
	struct rl_queue q;
	struct rl_task_list run;	/* runnable now */
	struct rl_task_list yielded;	/* runnable after the next queue_enter */
	struct rl_task_list sqw;	/* waiting for a free submission entry */
	struct rl_task *current;	/* the task running, NULL in the loop */
	uint64_t loop_rsp;		/* the loop's context while a task runs */
	uint64_t dead_rsp;		/* where an ended task's last switch saves */
	uint32_t tasks;			/* tasks alive (spawned, not ended) */
	uint32_t inflight;		/* ops submitted, completion not yet reaped */
	struct rl_task *free_slots;	/* slots of ended tasks, for reuse */
	struct rt_chunk *chunks;	/* the address space tasks live in */
	/* Statistics: loop turns (queue_enter calls) and completions. */
	uint64_t turns, completions;
};

/* ---- the loop (from its thread, outside any task) ---- */
/* A queue of sq_entries / cq_entries (powers of two, docs/abi.md); cq
 * bounds the operations in flight at once (more wait their turn). */
int rl_loop_init(struct rl_loop *l, uint32_t sq_entries, uint32_t cq_entries);
/* Run until every task has ended: 0. A positive count means that many
 * tasks wait for nothing that can happen (each other's joins). */
int64_t rl_loop_run(struct rl_loop *l);
/* Close the queue and unmap every task slot (tasks never joined too). */
void rl_loop_fini(struct rl_loop *l);
/* A new joinable task running fn(arg), runnable at once; NULL when no
 * memory. Also from inside a task of l. */
struct rl_task *rl_loop_spawn(struct rl_loop *l, rl_task_fn fn, void *arg);

/* ---- tasks (from inside a task) ---- */
static inline struct rl_task *rl_task_self(void)
{
	uint64_t sp;

	__asm__("movq %%rsp, %0" : "=r"(sp));
	return (struct rl_task *)((sp | (RL_TASK_SLOT - 1)) + 1 - sizeof(struct rl_task));
}
/* Spawn on the caller's loop: joinable, or detached (freed when it ends,
 * nobody joins it). */
struct rl_task *rl_task_spawn(rl_task_fn fn, void *arg);
int rl_task_spawn_detached(rl_task_fn fn, void *arg);
/* Wait for t to end and free it: its status (fn's result or
 * rl_task_exit's). -ECANCELED if the caller was cancelled meanwhile (t
 * stays joinable). One joiner per task; a detached task cannot be joined. */
int64_t rl_task_join(struct rl_task *t);
void rl_task_detach(struct rl_task *t);
void rl_task_exit(int64_t status) __attribute__((noreturn));
/* Let every other runnable task run, and the kernel take what they
 * submitted, before the caller goes on. */
void rl_task_yield(void);
/* Cancel t: the wait it is in now (its pending operations are cancelled
 * in the kernel with RL_OP_CANCEL, a join ends) or, if it is not waiting,
 * its next one, ends with -ECANCELED. The request stays until one wait
 * has returned -ECANCELED: an operation that completed before the cancel
 * reached the kernel keeps its result, and the wait after it fails. */
void rl_task_cancel(struct rl_task *t);

/* ---- operations (from inside a task) ---- */
/* Submit op (copied) and wait for its completion: its result, and in
 * *out (if not NULL) the whole completion. -ECANCELED without submitting
 * anything when a cancel is pending. */
int64_t rl_await(const struct rl_sqe *op, struct rl_cqe *out);
/* The same with a deadline: -ETIMEDOUT when it passes first (the
 * operation is then cancelled and its own completion reaped: *out holds
 * it, as it may have finished in the meantime). */
int64_t rl_await_deadline(const struct rl_sqe *op, struct rl_cqe *out, uint64_t deadline);
/* TIMEOUT: 0 at the deadline (monotonic ns), or -ECANCELED. */
int64_t rl_sleep_until(uint64_t deadline);
int64_t rl_sleep_for(uint64_t ns);
/* An IPC submission of chain c on lane (docs/ipc.md): as rl_ipc_call;
 * -ECANCELED when a cancel withdrew actions of it (each action's result
 * is in results, those that finished first included). */
int64_t rl_await_ipc(rl_handle_t lane, const struct rl_chain *c, void *results);
/* The next conversation on a listening lane (a client's OFFER met by our
 * ACCEPT, docs/ipc.md) and its first message: *conv, the conversation's
 * lane; the message's result and bytes at rl_ipc_result(res, 1) and
 * rl_ipc_inline(res, 1) (res: room for two results and cap bytes; a
 * status there, e.g. -EMSGSIZE, is the message's). 0; -RILL_EPIPE when no
 * client can come any more (every client end closed); -RILL_EAGAIN when
 * the client went away before it was accepted (call again); or the
 * submission's error. */
int64_t rl_accept(rl_handle_t listen, size_t cap, void *res, rl_handle_t *conv);

/* Several operations at once: take an entry for each op with rl_op_sqe
 * (zeroed, its user_data set: fill in the rest, never user_data or
 * RL_SQE_QUIET), then wait for them all or for the first. An op taken
 * must be waited for by the same task before the function holding it
 * returns (the rule above). */
struct rl_sqe *rl_op_sqe(struct rl_op *op);
/* Wait for every op of ops[n]: 0, or -ECANCELED if the task was
 * cancelled (each op's own result is in it). */
int64_t rl_op_wait_all(struct rl_op *ops, uint32_t n);
/* Wait for the first of ops[n] (n > 0, else -EINVAL) to complete, then
 * cancel the others and reap them: the first one's index, or -ECANCELED
 * if the task's cancel ended it. Each op's result is in it. */
int64_t rl_op_wait_any(struct rl_op *ops, uint32_t n);

#endif
