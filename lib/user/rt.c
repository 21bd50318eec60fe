/*
 * rt.c - the asynchronous runtime: stackful tasks on an event loop over
 * one queue (rill/rt.h, docs/runtime.md).
 *
 * Tasks. Each lives in a slot of RL_TASK_SLOT bytes of address space,
 * aligned to that size:
 *
 *   slot + 0                 guard page: a reservation, any access faults
 *   slot + RL_TASK_GUARD     stack, growing down, demand-paged
 *   slot + SLOT - sizeof(t)  struct rl_task
 *
 * so rl_task_self() is the stack pointer rounded up. Slots come in chunks
 * of CHUNK_SLOTS: one reservation and one memory object per chunk, its
 * header in a page of its own above the slots, the chunks high in the
 * address space (chunk_reserve). A slot's stack is mapped (MAP FIXED into
 * the reservation) the first time the slot is used, and an ended task's
 * slot goes to the loop's free list with its pages, so spawning in steady
 * state makes no system call. An idle task costs the page holding its
 * struct and the top of its stack.
 *
 * Switching: rt_switch (rt_switch.S) saves the callee-saved registers and
 * rsp of one context and loads another's. A task that waits switches
 * straight to the next runnable task; when none is left it runs the
 * loop's turn itself (block), so a task alone waits without a switch.
 * The loop's own context runs only at the start, when every task has
 * ended, and when the tasks left can never run again.
 *
 * Invariants:
 *  - Single-threaded: every field of a loop and of its tasks is touched
 *    only by the loop's thread (in the loop or in one of its tasks), so
 *    nothing here takes a lock or needs atomics, except the ring indices
 *    shared with the kernel (queue.c's rules).
 *  - A task is on at most one list (run, yielded, sqw, free) at a time,
 *    and on none while it runs its own code or waits for completions or
 *    a join (block() may put it on the run list while it runs the turn
 *    for the loop, and then takes it off again).
 *  - Every operation submitted with a nonzero user_data names a struct
 *    rl_op of a task that is inside the wait covering it: waits return
 *    only once each of their ops is done, so no completion can name a
 *    dead stack frame. l->inflight counts these ops, submitted or still
 *    in the ring. Entries the runtime adds for itself (CANCEL, and NOP as
 *    filler) have user_data 0, RL_SQE_QUIET, and are not counted; a
 *    CANCEL that finds nothing (-ENOENT) completes with user_data 0 and is
 *    dropped.
 *  - t->need counts the completions t still waits for; it is nonzero only
 *    while t is in block() for a wait for ops (switched out, or running
 *    the loop's turn), so a completion makes t runnable exactly once,
 *    when it reaches 0.
 *  - A cancel sets t->cancel; the flag is cleared by the wait that
 *    returns -ECANCELED. The CANCELs of a task's ops go into the ring
 *    after the ops themselves, so the kernel sees them in that order.
 */
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>

#define CHUNK_SLOTS	64
#define STACK_BYTES	(RL_TASK_SLOT - RL_TASK_GUARD)

_Static_assert(sizeof(struct rl_task) % 16 == 0, "the task struct keeps the stack aligned");
_Static_assert((RL_TASK_SLOT & (RL_TASK_SLOT - 1)) == 0, "slots are a power of two");

/* A chunk of task slots: CHUNK_SLOTS slots and one more whose first page
 * holds this header. */
struct rt_chunk {
	struct rt_chunk *next;
	uint64_t base;			/* slot 0, aligned to RL_TASK_SLOT */
	rl_handle_t mo;			/* the stacks' memory object */
	uint32_t used;			/* slots mapped so far, in order */
};

void rt_switch(uint64_t *save_rsp, uint64_t rsp);
void rt_task_start(void);
void rt_task_main(struct rl_task *t) __attribute__((noreturn, used));

/* ---- lists -------------------------------------------------------------------------- */

static inline void list_push(struct rl_task_list *q, struct rl_task *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
}

static inline struct rl_task *list_pop(struct rl_task_list *q)
{
	struct rl_task *t = q->head;

	if (t) {
		q->head = t->next;
		if (!q->head)
			q->tail = NULL;
	}
	return t;
}

/* Append all of from to q. */
static inline void list_splice(struct rl_task_list *q, struct rl_task_list *from)
{
	if (!from->head)
		return;
	if (q->tail)
		q->tail->next = from->head;
	else
		q->head = from->head;
	q->tail = from->tail;
	from->head = from->tail = NULL;
}

/* ---- slots -------------------------------------------------------------------------- */

/*
 * Where chunks go: downward from RT_REGION_TOP, each at a fixed address
 * just below the last, shared by every loop of the process (region_lock).
 * The kernel keeps a process's areas in an address-ordered list and finds
 * one by walking it from the bottom, so areas high above everything else,
 * the newest lowest, keep the walks short: a new slot's map and first
 * fault pass the program's few areas and its own chunk's, not every
 * task's. Chunks a loop gave back are kept (their addresses) for the next
 * one, so their page tables serve again.
 */
#define RT_REGION_TOP	0x700000000000ull
#define RT_REGION_FLOOR	0x100000000000ull	/* not below: the program's */
#define CHUNK_LEN	((uint64_t)(CHUNK_SLOTS + 1) * RL_TASK_SLOT)
#define FREE_CHUNKS	256

static rl_mutex_t region_lock = RL_MUTEX_INIT;
static uint64_t region_next = RT_REGION_TOP;	/* lowest chunk ever placed */
static uint64_t free_chunks[FREE_CHUNKS];	/* addresses of chunks given back */
static uint32_t nfree_chunks;

/* Whether nothing is mapped or reserved in [addr, addr + CHUNK_LEN) (MAP
 * FIXED would quietly take over a reservation of the program's own
 * there); if something is, *below is an address under it to go on from. */
static bool chunk_range_free(uint64_t addr, uint64_t *below)
{
	struct rl_region r;
	int64_t n = rl_vm_regions(RL_SELF_PROCESS, addr, &r, 1);

	if (n == 0 || (n == 1 && r.start >= addr + CHUNK_LEN))
		return true;
	*below = n == 1 ? r.start & ~(uint64_t)(RL_TASK_SLOT - 1) : addr;
	return false;
}

/* Reserve CHUNK_LEN bytes aligned to RL_TASK_SLOT: a chunk given back,
 * else the next free range below the region. 0 when none can be had. */
static uint64_t chunk_reserve(void)
{
	const unsigned resv = RL_MAP_RESERVE | RL_MAP_FIXED;
	uint64_t addr = 0, below;

	rl_mutex_lock(&region_lock);
	while (nfree_chunks && !addr) {
		addr = free_chunks[--nfree_chunks];
		if (!chunk_range_free(addr, &below) ||
		    rl_map(RL_SELF_PROCESS, 0, 0, addr, CHUNK_LEN, resv) < 0)
			addr = 0;	/* taken meanwhile by the program */
	}
	/* Anything already there moves us below it. */
	for (int tries = 0; !addr && tries < 256 && region_next > RT_REGION_FLOOR; tries++) {
		uint64_t cand = region_next - CHUNK_LEN;

		if (!chunk_range_free(cand, &below)) {
			region_next = below < region_next ? below : cand;
			continue;
		}
		region_next = cand;
		if (rl_map(RL_SELF_PROCESS, 0, 0, cand, CHUNK_LEN, resv) >= 0)
			addr = cand;
	}
	rl_mutex_unlock(&region_lock);
	return addr;
}

static void chunk_release(uint64_t addr)
{
	rl_unmap(RL_SELF_PROCESS, addr, CHUNK_LEN);
	rl_mutex_lock(&region_lock);
	if (nfree_chunks < FREE_CHUNKS)
		free_chunks[nfree_chunks++] = addr;
	rl_mutex_unlock(&region_lock);
}

/* A new chunk: its header lives in a page of its own memory object,
 * mapped at the start of the chunk's last slot (which holds no task). */
static struct rt_chunk *chunk_new(struct rl_loop *l)
{
	uint64_t base = chunk_reserve();
	int64_t mo, hdr;
	struct rt_chunk *c;

	if (!base)
		return NULL;
	mo = rl_memobj_create((uint64_t)CHUNK_SLOTS * STACK_BYTES + 4096, 0);
	if (mo < 0)
		goto fail_mo;
	hdr = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, (uint64_t)CHUNK_SLOTS * STACK_BYTES,
		     base + (uint64_t)CHUNK_SLOTS * RL_TASK_SLOT, 4096,
		     RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED);
	if (hdr < 0)
		goto fail_map;
	c = (struct rt_chunk *)hdr;
	c->base = base;
	c->mo = (rl_handle_t)mo;
	c->used = 0;
	c->next = l->chunks;
	l->chunks = c;
	return c;
fail_map:
	rl_handle_close(mo);
fail_mo:
	chunk_release(base);
	return NULL;
}

/* A slot for a new task: the struct at its top, not yet initialised. */
static struct rl_task *slot_alloc(struct rl_loop *l)
{
	struct rt_chunk *c = l->chunks;
	struct rl_task *t = l->free_slots;
	uint64_t slot;

	if (t) {
		l->free_slots = t->next;
		return t;
	}
	if (!c || c->used == CHUNK_SLOTS)
		c = chunk_new(l);
	if (!c)
		return NULL;
	slot = c->base + (uint64_t)c->used * RL_TASK_SLOT;
	/* The stack over the reservation; the guard page stays reserved. */
	if (rl_map(RL_SELF_PROCESS, c->mo, (uint64_t)c->used * STACK_BYTES, slot + RL_TASK_GUARD,
		   STACK_BYTES, RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED) < 0)
		return NULL;
	c->used++;
	return (struct rl_task *)(slot + RL_TASK_SLOT - sizeof(struct rl_task));
}

static void slot_free(struct rl_loop *l, struct rl_task *t)
{
	t->next = l->free_slots;
	l->free_slots = t;
}

/* ---- switching ---------------------------------------------------------------------- */

static bool can_turn(const struct rl_loop *l);
static void turn(struct rl_loop *l);

/* Switch away from the running task t (already on a list, or waiting):
 * to the next runnable task. When none is, the loop's turn runs here, on
 * t's stack, until one is (t itself goes on without a switch); the switch
 * is to the loop only when nothing can ever make one runnable (it then
 * returns). Returns when t is resumed. */
static inline void block(struct rl_loop *l, struct rl_task *t)
{
	struct rl_task *n = list_pop(&l->run);

	while (!n && can_turn(l)) {
		turn(l);
		n = list_pop(&l->run);
	}
	l->current = n;
	if (n != t)
		rt_switch(&t->rsp, n ? n->rsp : l->loop_rsp);
}

void rt_task_main(struct rl_task *t)
{
	rl_task_exit(t->fn(t->arg));
}

struct rl_task *rl_loop_spawn(struct rl_loop *l, rl_task_fn fn, void *arg)
{
	struct rl_task *t = slot_alloc(l);
	uint64_t *sp;

	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->loop = l;
	t->fn = fn;
	t->arg = arg;
	/* As rt_switch leaves a stack: r15, r14, r13, r12 (the task), rbx,
	 * rbp, then the return address; rt_task_start then runs with rsp 16
	 * bytes below the struct, 16-aligned as a call site's must be. */
	sp = (uint64_t *)((uint64_t)t - 16) - 7;
	sp[0] = sp[1] = sp[2] = 0;
	sp[3] = (uint64_t)t;
	sp[4] = sp[5] = 0;
	sp[6] = (uint64_t)rt_task_start;
	t->rsp = (uint64_t)sp;
	l->tasks++;
	list_push(&l->run, t);
	return t;
}

struct rl_task *rl_task_spawn(rl_task_fn fn, void *arg)
{
	return rl_loop_spawn(rl_task_self()->loop, fn, arg);
}

int rl_task_spawn_detached(rl_task_fn fn, void *arg)
{
	struct rl_task *t = rl_task_spawn(fn, arg);

	if (!t)
		return -RILL_ENOMEM;
	t->detached = 1;
	return 0;
}

void rl_task_exit(int64_t status)
{
	struct rl_task *t = rl_task_self(), *j = t->joiner, *n;
	struct rl_loop *l = t->loop;

	t->status = status;
	t->ended = 1;
	l->tasks--;
	if (j) {
		j->joining = NULL;
		list_push(&l->run, j);
	}
	/* A detached slot may be reused once we have switched away; nothing
	 * touches it after the switch below but its saved registers, which
	 * go to dead_rsp's stack: this one, still ours until then. */
	if (t->detached)
		slot_free(l, t);
	n = list_pop(&l->run);
	l->current = n;
	rt_switch(&l->dead_rsp, n ? n->rsp : l->loop_rsp);
	__builtin_unreachable();
}

void rl_task_detach(struct rl_task *t)
{
	if (t->ended)
		slot_free(t->loop, t);
	else
		t->detached = 1;
}

int64_t rl_task_join(struct rl_task *j)
{
	struct rl_task *t = rl_task_self();
	struct rl_loop *l = t->loop;
	int64_t status;

	if (!j->ended) {
		if (t->cancel) {
			t->cancel = 0;
			return -RILL_ECANCELED;
		}
		j->joiner = t;
		t->joining = j;
		block(l, t);
		if (!j->ended) {	/* rl_task_cancel ended the join */
			t->cancel = 0;
			return -RILL_ECANCELED;
		}
	}
	status = j->status;
	slot_free(l, j);
	return status;
}

void rl_task_yield(void)
{
	struct rl_task *t = rl_task_self();

	list_push(&t->loop->yielded, t);
	block(t->loop, t);
}

/* ---- submissions -------------------------------------------------------------------- */

/* The next submission entry for the running task t, as the ring left it
 * (sqe_get zeroes it). When the ring is full it is handed to the kernel
 * first; when the kernel takes nothing (its budget of operations in
 * flight is used up), t waits until the loop has reaped completions. */
static inline struct rl_sqe *sqe_take(struct rl_loop *l, struct rl_task *t)
{
	struct rl_queue *q = &l->q;

	while (q->sq_tail - __atomic_load_n(&q->hdr->sq_head, __ATOMIC_ACQUIRE) > q->sq_mask) {
		if (rl_submit(q) <= 0) {
			list_push(&l->sqw, t);
			block(l, t);
		}
	}
	return &q->sq[q->sq_tail++ & q->sq_mask];
}

static inline struct rl_sqe *sqe_get(struct rl_loop *l, struct rl_task *t)
{
	struct rl_sqe *e = sqe_take(l, t);

	*e = (struct rl_sqe){ 0 };
	return e;
}

static inline void op_bind(struct rl_loop *l, struct rl_task *t, struct rl_sqe *e,
			   struct rl_op *op)
{
	e->user_data = (uint64_t)op;
	op->task = t;
	op->done = 0;
	op->sqe = e;
	l->inflight++;
}

/* What the op's entry holds, read when its wait begins (rl_op_sqe's
 * caller has filled it by then), once. The entry is checked to be still the
 * op's: the kernel never writes entries, but a ring that wrapped since
 * (more ops in one wait than entries) holds another; such an op is taken
 * for no IPC. */
static inline void op_note_entry(struct rl_op *op, const struct rl_sqe *e)
{
	op->sqe = NULL;
	op->opcode = e->opcode;
	if (e->opcode == RL_OP_IPC) {
		op->ipc_count = (uint16_t)e->arg[1];
		op->ipc_results = (void *)e->arg[2];
	}
}

static inline void op_note(struct rl_op *op)
{
	const struct rl_sqe *e = op->sqe;

	if (!e)
		return;		/* noted already */
	if (e->user_data == (uint64_t)op) {
		op_note_entry(op, e);
	} else {
		op->sqe = NULL;
		op->opcode = 0;
	}
}

/* Whether a cancel ended op: -ECANCELED, or for an IPC submission (which
 * completes as a whole) an action withdrawn with -ECANCELED. */
static bool op_cancelled(const struct rl_op *op)
{
	if (op->result == -RILL_ECANCELED)
		return true;
	if (op->opcode != RL_OP_IPC || op->result < 0 || !op->aux[0])
		return false;
	for (unsigned i = 0; i < op->ipc_count; i++)
		if (rl_ipc_result(op->ipc_results, i)->status == -RILL_ECANCELED)
			return true;
	return false;
}

struct rl_sqe *rl_op_sqe(struct rl_op *op)
{
	struct rl_task *t = rl_task_self();
	struct rl_sqe *e = sqe_get(t->loop, t);

	op_bind(t->loop, t, e, op);
	return e;
}

/* Cancel the ops of ops[n] that are not done, which T is waiting for
 * (T->wait_ops == ops). The caller (the running task) may wait for ring
 * entries meanwhile, so each op is checked again once its entry is in
 * hand; an entry no longer needed becomes a quiet NOP. */
static void cancel_ops(struct rl_loop *l, struct rl_task *T, struct rl_op *ops, uint32_t n)
{
	struct rl_task *self = l->current;

	for (uint32_t i = 0; i < n; i++) {
		struct rl_sqe *e;

		if (ops[i].done)
			continue;
		e = sqe_get(l, self);
		e->flags = RL_SQE_QUIET;
		if (T->wait_ops != ops || ops[i].done) {
			e->opcode = RL_OP_NOP;
			continue;
		}
		e->opcode = RL_OP_CANCEL;
		e->arg[0] = (uint64_t)&ops[i];
	}
}

/* Wait for ops[n] of the running task t: all of them, or (!all) the first.
 * Returns the op that completed first in this wait (any), or NULL. */
static struct rl_op *wait_ops(struct rl_loop *l, struct rl_task *t, struct rl_op *ops,
			      uint32_t n, bool all)
{
	struct rl_op *first = NULL;
	uint32_t need = 0;

	t->wait_ops = ops;
	t->wait_n = n;
	for (uint32_t i = 0; i < n; i++)
		op_note(&ops[i]);
	if (t->cancel)
		cancel_ops(l, t, ops, n);	/* a cancel that came before the wait */
	for (uint32_t i = 0; i < n; i++) {
		if (!ops[i].done)
			need++;
		else if (!first)
			first = &ops[i];
	}
	if (!all)
		need = first ? 0 : 1;
	if (need) {
		t->need = need;
		t->woke = NULL;
		block(l, t);
		if (!first)
			first = t->woke;
	}
	t->wait_ops = NULL;
	t->wait_n = 0;
	return first;
}

/* After a wait: whether it ends the task's cancel request (-ECANCELED). */
static inline bool cancel_taken(struct rl_task *t, const struct rl_op *op)
{
	if (!t->cancel || !op_cancelled(op))
		return false;
	t->cancel = 0;
	return true;
}

int64_t rl_op_wait_all(struct rl_op *ops, uint32_t n)
{
	struct rl_task *t = rl_task_self();
	bool cancelled = false;

	wait_ops(t->loop, t, ops, n, true);
	for (uint32_t i = 0; i < n && !cancelled; i++)
		cancelled = cancel_taken(t, &ops[i]);
	return cancelled ? -RILL_ECANCELED : 0;
}

int64_t rl_op_wait_any(struct rl_op *ops, uint32_t n)
{
	struct rl_task *t = rl_task_self();
	struct rl_loop *l = t->loop;
	struct rl_op *first;

	if (!n)
		return -RILL_EINVAL;	/* no first one would ever come */
	first = wait_ops(l, t, ops, n, false);

	/* The others end now, cancelled or done, before their stack frame
	 * can go. */
	t->wait_ops = ops;
	cancel_ops(l, t, ops, n);
	wait_ops(l, t, ops, n, true);
	return cancel_taken(t, first) ? -RILL_ECANCELED : first - ops;
}

/* ---- single operations -------------------------------------------------------------- */

/* The wait for one op whose entry the caller filled and noted: what
 * wait_ops does, for one. */
static inline int64_t await_one(struct rl_loop *l, struct rl_task *t, struct rl_op *o,
				struct rl_cqe *out)
{
	t->wait_ops = o;
	t->wait_n = 1;
	if (t->cancel)
		cancel_ops(l, t, o, 1);
	if (!o->done) {
		t->need = 1;
		block(l, t);
	}
	t->wait_ops = NULL;
	t->wait_n = 0;
	if (out) {
		out->user_data = 0;
		out->result = o->result;
		out->aux[0] = o->aux[0];
		out->aux[1] = o->aux[1];
	}
	/* An IPC submission a cancel ended completes with 0 (its actions
	 * say -ECANCELED): the wait still reports the cancel. */
	return cancel_taken(t, o) ? -RILL_ECANCELED : o->result;
}

int64_t rl_await(const struct rl_sqe *op, struct rl_cqe *out)
{
	struct rl_task *t = rl_task_self();
	struct rl_loop *l = t->loop;
	struct rl_sqe *e;
	struct rl_op o;

	if (op->flags & RL_SQE_QUIET)
		return -RILL_EINVAL;	/* it could end without a completion */
	if (t->cancel) {
		t->cancel = 0;
		return -RILL_ECANCELED;
	}
	e = sqe_take(l, t);
	*e = *op;
	op_bind(l, t, e, &o);
	op_note_entry(&o, e);
	return await_one(l, t, &o, out);
}

int64_t rl_sleep_until(uint64_t deadline)
{
	struct rl_sqe op = { .opcode = RL_OP_TIMEOUT, .arg = { deadline } };

	return rl_await(&op, NULL);
}

int64_t rl_sleep_for(uint64_t ns)
{
	return rl_sleep_until(rl_clock_ns() + ns);
}

int64_t rl_await_ipc(rl_handle_t lane, const struct rl_chain *c, void *results)
{
	struct rl_task *t = rl_task_self();
	struct rl_loop *l = t->loop;
	struct rl_sqe *e;
	struct rl_op o;

	if (c->overflow || !c->count)
		return -RILL_EINVAL;
	if (t->cancel) {
		t->cancel = 0;
		return -RILL_ECANCELED;
	}
	e = sqe_take(l, t);
	rl_chain_prep(e, lane, c, results, 0);	/* sets every field */
	op_bind(l, t, e, &o);
	o.sqe = NULL;
	o.opcode = RL_OP_IPC;
	o.ipc_count = (uint16_t)c->count;
	o.ipc_results = results;
	return await_one(l, t, &o, NULL);
}

int64_t rl_accept(rl_handle_t listen, size_t cap, void *res, rl_handle_t *conv)
{
	struct rl_ipc_result *acc = rl_ipc_result(res, 0);
	struct rl_chain c;
	int64_t r;

	rl_chain_init(&c);
	rl_chain_accept(&c, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&c, cap);
	r = rl_await_ipc(listen, &c, res);
	if (r < 0)
		return r;
	if (acc->status == -RILL_EPIPE)
		return -RILL_EPIPE;	/* every client end closed */
	if (acc->status)
		return -RILL_EAGAIN;	/* this client went away first */
	*conv = acc->handle;
	return 0;
}

int64_t rl_await_deadline(const struct rl_sqe *op, struct rl_cqe *out, uint64_t deadline)
{
	struct rl_task *t = rl_task_self();
	struct rl_op o[2];
	struct rl_sqe *e;
	int64_t first;

	if (op->flags & RL_SQE_QUIET)
		return -RILL_EINVAL;
	if (t->cancel) {
		t->cancel = 0;
		return -RILL_ECANCELED;
	}
	e = rl_op_sqe(&o[0]);
	*e = *op;
	e->user_data = (uint64_t)&o[0];
	e = rl_op_sqe(&o[1]);
	e->opcode = RL_OP_TIMEOUT;
	e->arg[0] = deadline;
	first = rl_op_wait_any(o, 2);
	if (first < 0)
		return first;
	if (out) {
		out->user_data = 0;
		out->result = o[0].result;
		out->aux[0] = o[0].aux[0];
		out->aux[1] = o[0].aux[1];
	}
	/* The deadline came first: the operation was cancelled for it (an
	 * IPC submission completes with its waiting actions -ECANCELED) or
	 * finished meanwhile; *out holds what it did. */
	return first == 1 ? -RILL_ETIMEDOUT : o[0].result;
}

/* ---- cancellation ------------------------------------------------------------------- */

void rl_task_cancel(struct rl_task *T)
{
	struct rl_loop *l = T->loop;

	if (T->ended)
		return;
	T->cancel = 1;
	if (T->need)		/* switched out, waiting for its ops */
		cancel_ops(l, T, T->wait_ops, T->wait_n);
	else if (T->joining) {	/* waiting for a task to end */
		T->joining->joiner = NULL;
		T->joining = NULL;
		list_push(&l->run, T);
	}
	/* Otherwise it runs, is runnable, or waits for a ring entry: its next
	 * wait sees the flag. */
}

/* ---- the loop ----------------------------------------------------------------------- */

int rl_loop_init(struct rl_loop *l, uint32_t sq_entries, uint32_t cq_entries)
{
	memset(l, 0, sizeof(*l));
	return rl_queue_init(&l->q, sq_entries, cq_entries);
}

/* Every completion in the ring: its op is done, and its task resumes
 * once the last op it waits for is. One release store of cq_head. */
static void reap(struct rl_loop *l)
{
	struct rl_queue *q = &l->q;
	uint32_t tail = __atomic_load_n(&q->hdr->cq_tail, __ATOMIC_ACQUIRE);
	uint32_t head = q->cq_head;

	if (head == tail)
		return;
	for (; head != tail; head++) {
		const struct rl_cqe *c = &q->cq[head & q->cq_mask];
		struct rl_op *op = (struct rl_op *)c->user_data;
		struct rl_task *t;

		if (!op)
			continue;	/* a CANCEL that found nothing */
		op->result = c->result;
		op->aux[0] = c->aux[0];
		op->aux[1] = c->aux[1];
		op->done = 1;
		l->inflight--;
		t = op->task;
		if (t->need && --t->need == 0) {
			t->woke = op;
			list_push(&l->run, t);
		}
	}
	l->completions += head - q->cq_head;
	q->cq_head = head;
	__atomic_store_n(&q->hdr->cq_head, head, __ATOMIC_RELEASE);
}

/* One queue_enter: every entry the tasks filled goes to the kernel; with
 * nothing runnable it also waits for a completion. */
static void enter(struct rl_loop *l)
{
	struct rl_queue *q = &l->q;
	bool idle = !l->run.head && !l->yielded.head && l->inflight &&
		    __atomic_load_n(&q->hdr->cq_tail, __ATOMIC_ACQUIRE) == q->cq_head;
	bool unsent = q->sq_tail != __atomic_load_n(&q->hdr->sq_head, __ATOMIC_RELAXED);
	int64_t r;

	if (!idle && !unsent &&
	    !(__atomic_load_n(&q->hdr->flags, __ATOMIC_RELAXED) & RL_RING_CQ_OVERFLOW))
		return;
	l->turns++;
	r = idle ? rl_submit_and_wait(q, 1, 0) : rl_submit(q);
	/* -EBUSY: the kernel took nothing, its budget of operations in flight
	 * is used up; only completions free it. */
	if (r == -RILL_EBUSY && idle)
		rl_queue_enter(q->handle, 0, 1, 0, RL_ENTER_WAIT);
}

/* Whether a turn can make progress: operations in flight (or in the
 * ring), or tasks waiting only for the turn itself. */
static bool can_turn(const struct rl_loop *l)
{
	return l->inflight || l->yielded.head || l->sqw.head;
}

/* One turn after the runnable tasks have run: enter, reap, and the tasks
 * that waited for the turn become runnable. */
static void turn(struct rl_loop *l)
{
	enter(l);
	reap(l);
	list_splice(&l->run, &l->yielded);
	list_splice(&l->run, &l->sqw);
}

int64_t rl_loop_run(struct rl_loop *l)
{
	for (;;) {
		struct rl_task *t = list_pop(&l->run);

		if (t) {	/* back here when every task has ended or is stuck */
			l->current = t;
			rt_switch(&l->loop_rsp, t->rsp);
		}
		if (!l->tasks)
			return 0;
		if (!can_turn(l))
			return l->tasks;	/* waiting for each other: never */
		turn(l);
	}
}

void rl_loop_fini(struct rl_loop *l)
{
	struct rt_chunk *c, *n;

	for (c = l->chunks; c; c = n) {
		rl_handle_t mo = c->mo;
		uint64_t base = c->base;

		n = c->next;
		chunk_release(base);	/* c too */
		rl_handle_close(mo);
	}
	l->chunks = NULL;
	l->free_slots = NULL;
	rl_handle_close(l->q.handle);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)l->q.hdr, l->q.hdr->ring_size);
}
