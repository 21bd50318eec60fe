/*
 * stream.c - IPC streams in the kernel: the wrapper around the portable
 * matching core (ipc_core.c) that gives it locks, memory, address spaces,
 * handles and credentials. docs/ipc.md describes the model and the ABI.
 *
 * Objects
 *   struct kstream   a stream: the core's ipc_stream plus users[2], the
 *                    number of things keeping each side open (lane objects,
 *                    and submissions still running on an ancillary side).
 *                    When a side's users reach 0 the stream is ended (the
 *                    core fails what waits on it with IPC_E_END); when both
 *                    reach 0 it is freed. Queued actions hold nothing: a
 *                    stream with waiting actions has a user on each side,
 *                    or it has been ended, which failed them all.
 *   struct lane      the kobj a lane handle names: one side of a stream,
 *                    holding one user of it. A side gets at most one (by
 *                    stream_create, or by the OFFER or ACCEPT that made it,
 *                    with RL_IPC_WANT_LANE), so it lives inside the stream.
 *   struct family    the lock of a stream created by stream_create and of
 *                    every ancillary stream grown from it (matching in a
 *                    stream posts into its children, so they share a lock;
 *                    unrelated streams never contend).
 *   struct ksub      one RL_OP_IPC submission: the queue to complete on
 *                    (referenced), the completion's user_data and the
 *                    actions, 64 bytes each (struct ipc_action), in one
 *                    allocation. It is not a struct qop: it posts its
 *                    completion itself, and a CANCEL withdraws its
 *                    waiting actions (ipc_cancel). A queue keeps
 *                    up to KSUB_CACHE finished small submissions (room for
 *                    KSUB_SMALL actions) for reuse, so a steady stream of
 *                    requests allocates nothing.
 *
 * Contexts and deferral
 *   The core runs under the family lock and calls back (transfer, handles,
 *   credentials, new streams, done). Anything that could reach another
 *   family or a queue waits until the lock is dropped: done() only links
 *   the finished submission onto the running context's list, and a lane
 *   object destroyed while a context runs on this CPU (say, a pushed lane
 *   handle dropped while completing) is linked there too. The context's
 *   drain loop then writes results, installs handles, releases ancillary
 *   sides, posts completions and frees, until nothing is left. Interrupts
 *   stay off while a context runs, so "this CPU" is stable and nesting is
 *   a loop, never recursion an attacker could deepen.
 *
 * Long transfers (over IPC_CHUNK) are copied after the context ends, with
 * interrupts on and no lock held between chunks (xfer_run).
 *
 * Lock order: queue sq_lock (a sleeplock) -> family lock -> address space locks (copies)
 * and the kernel heap. Completions (queue lock) and handle tables are
 * touched only with no family lock held.
 */
#include <kernel/budget.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/ipc.h>
#include <kernel/ipc_core.h>
#include <kernel/kheap.h>
#include <kernel/panic.h>
#include <kernel/process.h>
#include <kernel/syscall.h>
#include <kernel/vm.h>
#include <rill/string.h>

struct kstream;

struct lane {
	struct kobj obj;
	struct kstream *s;
	unsigned side;
	struct lane *next_dead;		/* on a context's list once destroyed */
};

struct kstream {
	struct ipc_stream core;
	struct family *fam;
	uint32_t users[2];		/* under fam->lock */
	uint32_t busy;			/* transfers in flight on it (fam->lock):
					   it is not reused before they end */
	struct lane lanes[2];		/* a side has at most one lane object */
	struct kstream *next_free;	/* on fam->free_streams */
};

struct family {
	spinlock_t lock;
	uint32_t refs;			/* streams + running contexts (atomic) */
	struct budget *budget;		/* its streams are charged here (referenced):
					   the budget of the process that made it */
	struct kstream *free_streams;	/* ended streams kept for reuse (lock) */
};

struct ksub {
	struct queue *q;		/* referenced (queue_ref) */
	uint64_t user_data;
	struct list_head qlink;		/* on the queue's ipc_subs (q->lock) */
	uint32_t refs;			/* 1 until finished, +1 while withdrawn */
	uint32_t cap;			/* actions it has room for */
	struct family *fam;		/* referenced */
	struct ksub *next_done;		/* on a context's list, or q->ipc_cache */
	bool cancelled;			/* a CANCEL took it (q->lock) */
	uint64_t results;		/* user address of the result buffer */
	struct kstream *held;		/* RL_IPC_CLOSE_LANE: the side it keeps open */
	unsigned held_side;
	struct ipc_submission sub;
	struct ipc_action acts[];
};

/* Bytes moved per hold of nothing but this thread: a transfer longer than
 * this runs after the family lock is dropped, with interrupts on, in
 * pieces of this size (see xfer_run). */
#define IPC_CHUNK	(64u << 10)

struct ipc_ctx {
	struct family *fam;		/* of the streams the core is working on */
	struct ksub *done_head, **done_tail;
	struct lane *dead;
	bool can_defer;			/* op_ipc's: long transfers go to xfer[] */
	unsigned nxfer;
	struct ipc_action *xfer[IPC_MAX_CHAIN];	/* the SENDs of busy pairs */
};

static struct kmem_cache *stream_cache, *family_cache;
uint64_t nr_streams, nr_ipc_actions;

void ipc_init(void)
{
	stream_cache = kmem_cache_create("stream", sizeof(struct kstream), 8);
	family_cache = kmem_cache_create("ipc-family", sizeof(struct family), 8);
}

static struct ksub *ksub_of(const struct ipc_action *a)
{
	return container_of(a->sub, struct ksub, sub);
}

static struct process *owner_of(const struct ipc_action *a)
{
	return ksub_of(a)->q->owner;
}

#define KSUB_SMALL	4	/* actions in a reusable submission */
#define KSUB_CACHE	64	/* reusable submissions a queue keeps */

/* A submission object's size, charged to its queue owner's budget. */
static size_t ksub_size(unsigned cap)
{
	return sizeof(struct ksub) + cap * sizeof(struct ipc_action);
}

static void ksub_free(struct queue *q, struct ksub *ks)
{
	budget_uncharge(q->owner->budget, ksub_size(ks->cap));
	kfree(ks);
}

/* A submission object with room for count actions (count <= 64), on the
 * queue's list of submissions (where nothing looks at it before it is
 * submitted: only the queue's destruction walks the list, and the caller
 * holds a handle to the queue). */
static struct ksub *ksub_new(struct queue *q, unsigned count)
{
	struct ksub *ks = NULL;
	irqflags_t f;

	if (count <= KSUB_SMALL) {
		count = KSUB_SMALL;
		f = spin_lock_irqsave(&q->lock);
		ks = q->ipc_cache;
		if (ks) {
			q->ipc_cache = ks->next_done;
			q->ipc_cached--;
			list_add_tail(&q->ipc_subs, &ks->qlink);
		}
		spin_unlock_irqrestore(&q->lock, f);
		if (ks)
			return ks;	/* its cap is KSUB_SMALL */
	}
	if (budget_charge(q->owner->budget, ksub_size(count)))
		return NULL;
	ks = kmalloc(ksub_size(count));
	if (!ks) {
		budget_uncharge(q->owner->budget, ksub_size(count));
		return NULL;
	}
	ks->cap = count;
	f = spin_lock_irqsave(&q->lock);
	list_add_tail(&q->ipc_subs, &ks->qlink);
	spin_unlock_irqrestore(&q->lock, f);
	return ks;
}

/* Keep ks for reuse if q will have it (q->lock held); else false. */
static bool ksub_keep_locked(struct queue *q, struct ksub *ks)
{
	if (ks->cap != KSUB_SMALL || q->dead || q->ipc_cached >= KSUB_CACHE)
		return false;
	ks->next_done = q->ipc_cache;
	q->ipc_cache = ks;
	q->ipc_cached++;
	return true;
}

/* The last reference to a submission object, off the queue's list. */
static void ksub_release(struct queue *q, struct ksub *ks)
{
	irqflags_t f = spin_lock_irqsave(&q->lock);
	bool kept = ksub_keep_locked(q, ks);

	spin_unlock_irqrestore(&q->lock, f);
	if (!kept)
		ksub_free(q, ks);
}

/* A submission object that was never submitted (ksub_new's list too). */
static void ksub_discard(struct queue *q, struct ksub *ks)
{
	irqflags_t f = spin_lock_irqsave(&q->lock);

	list_del(&ks->qlink);
	ks->qlink.next = NULL;
	spin_unlock_irqrestore(&q->lock, f);
	ksub_release(q, ks);
}

/* The last reference also frees the streams the family kept for reuse
 * (nobody else can reach them any more). */
static void family_put(struct family *f)
{
	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL))
		return;
	while (f->free_streams) {
		struct kstream *s = f->free_streams;

		f->free_streams = s->next_free;
		kmem_cache_free(stream_cache, s);
		budget_uncharge(f->budget, sizeof(*s));
	}
	budget_uncharge(f->budget, sizeof(*f));
	budget_put(f->budget);
	kmem_cache_free(family_cache, f);
}

/* ---- callbacks of the core (family lock held) ------------------------------- */

static int copy_between(struct aspace *src, uint64_t from, struct aspace *dst, uint64_t to,
			uint64_t len)
{
	return vm_copy(src, from, dst, to, len) ? IPC_E_FAULT : IPC_OK;
}

static int cb_transfer(void *vctx, struct ipc_action *send, struct ipc_action *recv)
{
	struct ipc_ctx *ctx = vctx;
	struct aspace *src = &owner_of(send)->as, *dst = &owner_of(recv)->as;
	struct rl_iovec iov[RL_IPC_MAX_IOV];
	uint64_t to = recv->buf, total = 0;

	/* A long one moves later, in chunks, with no lock held and
	 * interrupts on (op_ipc runs it once the context ends). */
	if (send->len > IPC_CHUNK && ctx->can_defer && ctx->nxfer < IPC_MAX_CHAIN) {
		ctx->xfer[ctx->nxfer++] = send;
		return IPC_IN_PROGRESS;
	}
	if (send->type == IPC_SEND)
		return copy_between(src, send->buf, dst, to, send->len);
	/* Scatter-gather: the pieces are read again now; they must still add
	 * up to what was checked at submission. */
	if (vm_rw(src, send->buf, iov, send->arg * sizeof(iov[0]), false))
		return IPC_E_FAULT;
	for (unsigned i = 0; i < send->arg; i++) {
		if (iov[i].len > send->len - total)
			return IPC_E_FAULT;
		if (copy_between(src, iov[i].base, dst, to + total, iov[i].len))
			return IPC_E_FAULT;
		total += iov[i].len;
	}
	return total == send->len ? IPC_OK : IPC_E_FAULT;
}

/* The pushed object (referenced in push->buf) moves to the pull action. */
static int cb_move_handle(void *vctx, struct ipc_action *push, struct ipc_action *pull)
{
	if ((push->rights & pull->rights) != pull->rights)
		return IPC_E_RIGHTS;
	pull->buf = push->buf;
	pull->arg = push->rights;
	push->buf = 0;
	return IPC_OK;
}

/*
 * Credentials tokens (RL_OBJ_CREDS): an identity (process and thread ids)
 * the kernel took from an IMBUE_CREDS, handed to the extractor on request
 * and imbued again by whoever holds it. Immutable; only EXTRACT_CREDS
 * makes one, so a token always names an identity some process really
 * imbued. Charged to the budget of the process whose EXTRACT made it.
 */
struct creds_token {
	struct kobj obj;
	uint64_t pid, tid;
	struct budget *budget;
};

static void token_destroy(struct kobj *o)
{
	struct creds_token *t = container_of(o, struct creds_token, obj);
	struct budget *b = t->budget;

	kfree(t);
	budget_uncharge(b, sizeof(*t));
	budget_put(b);
}

static struct creds_token *token_new(struct process *p, uint64_t pid, uint64_t tid)
{
	struct creds_token *t;

	if (budget_charge(p->budget, sizeof(*t)))
		return NULL;
	t = kzalloc(sizeof(*t));
	if (!t) {
		budget_uncharge(p->budget, sizeof(*t));
		return NULL;
	}
	kobj_init(&t->obj, RL_OBJ_CREDS, token_destroy);
	t->pid = pid;
	t->tid = tid;
	budget_get(p->budget);
	t->budget = p->budget;
	return t;
}

/* An IMBUE action's arg: its buf and len are the submitter's process and
 * thread ids (IMBUE_SELF), or a referenced token and the forwarder's
 * process id (IMBUE_TOKEN). A matched EXTRACT gets the same words, and
 * the kind in its rights (a token: one more reference). */
enum { IMBUE_SELF = 0, IMBUE_TOKEN = 1 };

static int cb_creds(void *vctx, struct ipc_action *imbue, struct ipc_action *extract)
{
	extract->buf = imbue->buf;
	extract->len = imbue->len;
	extract->rights = imbue->arg;
	if (imbue->arg == IMBUE_TOKEN)
		kobj_get((struct kobj *)imbue->buf);
	return IPC_OK;
}

/* An ancillary stream: one the family kept, or a new one. A family keeps
 * every stream that ended in it until it dies, so a server's steady
 * stream of conversations allocates nothing; what it keeps is at most
 * what it once had open at the same time. */
static struct ipc_stream *cb_new_stream(void *vctx)
{
	struct ipc_ctx *ctx = vctx;
	struct kstream *s = ctx->fam->free_streams;

	if (s) {
		ctx->fam->free_streams = s->next_free;
	} else {
		if (budget_charge(ctx->fam->budget, sizeof(*s)))
			return NULL;
		s = kmem_cache_alloc(stream_cache);
		if (!s) {
			budget_uncharge(ctx->fam->budget, sizeof(*s));
			return NULL;
		}
	}
	s->users[0] = s->users[1] = 0;
	s->busy = 0;
	s->fam = ctx->fam;
	__atomic_fetch_add(&s->fam->refs, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&nr_streams, 1, __ATOMIC_RELAXED);
	ipc_stream_init(&s->core, s);
	return &s->core;
}

static void cb_done(void *vctx, struct ipc_action *a)
{
	struct ipc_ctx *ctx = vctx;
	struct ksub *ks;

	/* A matched OFFER/ACCEPT: its submission keeps its side of the new
	 * stream open until it completes (or hands it to a lane handle). */
	if (a->error == IPC_OK && a->child) {
		struct kstream *c = a->child->priv;

		c->users[a->type == IPC_OFFER ? 0 : 1]++;
	}
	if (a->sub->pending)
		return;
	ks = ksub_of(a);
	ks->next_done = NULL;
	*ctx->done_tail = ks;
	ctx->done_tail = &ks->next_done;
}

static const struct ipc_ops kops = {
	.transfer = cb_transfer,
	.move_handle = cb_move_handle,
	.creds = cb_creds,
	.new_stream = cb_new_stream,
	.done = cb_done,
};

/* ---- contexts ----------------------------------------------------------------- */

/* Begin a context on this CPU (interrupts off until ctx_end). Returns false
 * when one is already running here: the caller then hands its work to it. */
static bool ctx_begin(struct ipc_ctx *ctx, irqflags_t *f)
{
	*f = arch_irq_save();
	if (this_cpu()->ipc_ctx) {
		arch_irq_restore(*f);
		return false;
	}
	ctx->fam = NULL;
	ctx->done_head = NULL;
	ctx->done_tail = &ctx->done_head;
	ctx->dead = NULL;
	ctx->can_defer = false;
	ctx->nxfer = 0;
	this_cpu()->ipc_ctx = ctx;
	return true;
}

/* When nothing uses s any more (no side open, no transfer in flight), the
 * family keeps it for reuse. s->fam's lock held; s may be gone after. */
static void stream_maybe_free(struct kstream *s)
{
	if (s->users[0] == 0 && s->users[1] == 0 && s->busy == 0) {
		struct family *fam = s->fam;

		s->next_free = fam->free_streams;
		fam->free_streams = s;
		family_put(fam);	/* never the last: the context holds one */
		__atomic_fetch_sub(&nr_streams, 1, __ATOMIC_RELAXED);
	}
}

/* One fewer user of side of s; ends the stream at 0, frees it when neither
 * side has any. s->fam's lock held; s may be gone afterwards. */
static void side_release(struct ipc_ctx *ctx, struct kstream *s, unsigned side)
{
	if (--s->users[side] == 0) {
		ctx->fam = s->fam;
		ipc_lane_end(&s->core, side, &kops, ctx);
	}
	stream_maybe_free(s);
}

static void side_release_locked(struct ipc_ctx *ctx, struct kstream *s, unsigned side)
{
	struct family *fam = s->fam;

	__atomic_fetch_add(&fam->refs, 1, __ATOMIC_RELAXED);
	spin_lock(&fam->lock);
	side_release(ctx, s, side);
	spin_unlock(&fam->lock);
	family_put(fam);
}

static void lane_obj_destroy(struct kobj *o);

static void lane_init(struct lane *l, struct kstream *s, unsigned side)
{
	kobj_init(&l->obj, RL_OBJ_LANE, lane_obj_destroy);
	l->s = s;
	l->side = side;
}

static struct lane *lane_new(struct kstream *s, unsigned side)
{
	struct lane *l = &s->lanes[side];

	lane_init(l, s, side);
	return l;
}

static int errno_of(int e)
{
	static const int16_t map[IPC_E_MAX + 1] = {
		[IPC_OK] = 0,
		[IPC_E_MISMATCH] = -EPROTO,
		[IPC_E_TOO_SMALL] = -EMSGSIZE,
		[IPC_E_END] = -EPIPE,
		[IPC_E_DISMISSED] = -ECANCELED,
		[IPC_E_FAULT] = -EFAULT,
		[IPC_E_RIGHTS] = -EACCES,
		[IPC_E_CHAIN] = -EINVAL,
		[IPC_E_CANCELED] = -ECANCELED,
	};

	return e >= 0 && e <= IPC_E_MAX && (e == IPC_OK || map[e]) ? map[e] : -ENOMEM;
}

#define RES_CHUNK 16

/* The last reference to a finished submission: reused or freed. */
static void ksub_put(struct ksub *ks)
{
	struct queue *q = ks->q;
	struct family *fam = ks->fam;

	if (__atomic_sub_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL))
		return;
	ksub_release(q, ks);
	family_put(fam);
	queue_unref(q);
}

/* A submission is complete: results out, handles in, completion posted. */
static void finish(struct ipc_ctx *ctx, struct ksub *ks)
{
	struct queue *q = ks->q;
	struct process *p = q->owner;
	struct family *fam = ks->fam;
	bool last, kept = false;
	irqflags_t f;
	struct rl_ipc_result res[RES_CHUNK];
	unsigned n = ks->sub.count, failed = 0;
	int64_t r = 0;

	for (unsigned i = 0; i < n; i++) {
		struct ipc_action *a = &ks->acts[i];
		struct rl_ipc_result *o = &res[i % RES_CHUNK];

		*o = (struct rl_ipc_result){ .status = errno_of(a->error) };
		switch (a->type) {
		case IPC_SEND:
		case IPC_SEND_SG:
		case IPC_RECV:
			o->length = a->result_len;
			break;
		case IPC_RECV_INLINE:
			o->length = a->result_len;
			o->offset = a->buf - ks->results;
			break;
		case IPC_PUSH_HANDLE:
			if (a->buf)	/* not taken by a PULL */
				kobj_put((struct kobj *)a->buf);
			break;
		case IPC_PULL_HANDLE:
			if (a->error == IPC_OK) {
				struct kobj *obj = (struct kobj *)a->buf;
				int h = handle_install(&p->handles, obj, a->arg);

				kobj_put(obj);
				if (h < 0)
					o->status = h;
				else
					o->handle = h;
			}
			break;
		case IPC_IMBUE_CREDS:
			if (a->arg == IMBUE_TOKEN)
				kobj_put((struct kobj *)a->buf);
			break;
		case IPC_EXTRACT_CREDS:
			if (a->error == IPC_OK) {
				struct creds_token *t = a->rights == IMBUE_TOKEN ?
					(struct creds_token *)a->buf : NULL;

				o->offset = t ? t->pid : a->buf;
				o->thread = t ? t->tid : a->len;
				o->length = t ? a->len : 0;
				if ((a->arg & RL_IPC_WANT_TOKEN) && !t)
					t = token_new(p, o->offset, o->thread);
				else if (!(a->arg & RL_IPC_WANT_TOKEN) && t) {
					kobj_put(&t->obj);
					break;
				}
				if (!(a->arg & RL_IPC_WANT_TOKEN))
					break;
				if (!t) {
					o->status = -ENOMEM;
				} else {
					int h = handle_install(&p->handles, &t->obj,
							       RL_RIGHT_TRANSFER | RL_RIGHT_DUP);

					if (h < 0)
						o->status = h;
					else
						o->handle = h;
					kobj_put(&t->obj);
				}
			}
			break;
		case IPC_OFFER:
		case IPC_ACCEPT:
			if (a->error == IPC_OK) {
				struct kstream *c = a->child->priv;
				unsigned side = a->type == IPC_OFFER ? 0 : 1;

				if (a->arg & RL_IPC_WANT_LANE) {
					struct lane *l = lane_new(c, side);
					int h = handle_install(&p->handles, &l->obj,
							       RL_RIGHT_SUBMIT | RL_RIGHT_DUP |
							       RL_RIGHT_TRANSFER);

					/* The submission's user passes to the lane
					 * object; if the handle failed, its put
					 * releases it. */
					if (h < 0)
						o->status = h;
					else
						o->handle = h;
					kobj_put(&l->obj);
				} else {
					side_release_locked(ctx, c, side);
				}
			}
			break;
		default:
			break;
		}
		if (o->status)
			failed++;
		if (i % RES_CHUNK == RES_CHUNK - 1 || i == n - 1) {
			unsigned first = i - i % RES_CHUNK;

			if (vm_rw(&p->as, ks->results + first * sizeof(res[0]), res,
				  (i - first + 1) * sizeof(res[0]), true))
				r = -EFAULT;
		}
	}
	if (ks->held)
		side_release_locked(ctx, ks->held, ks->held_side);
	__atomic_fetch_sub(&nr_ipc_actions, n, __ATOMIC_RELAXED);
	/* One hold of the queue's lock: off its list, the completion, and
	 * (the common case) back into its cache. */
	f = spin_lock_irqsave(&q->lock);
	if (ks->qlink.next)
		list_del(&ks->qlink);
	ks->qlink.next = NULL;
	queue_post_locked(q, ks->user_data, r, failed, 0);
	last = !__atomic_sub_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL);
	if (last)
		kept = ksub_keep_locked(q, ks);
	spin_unlock_irqrestore(&q->lock, f);
	queue_wake(q);
	if (last) {
		if (!kept)
			ksub_free(q, ks);
		family_put(fam);
		queue_unref(q);
	}
}

static void ctx_end(struct ipc_ctx *ctx, irqflags_t f)
{
	for (;;) {
		struct ksub *ks = ctx->done_head;
		struct lane *l = ctx->dead;

		if (ks) {
			ctx->done_head = ks->next_done;
			if (!ctx->done_head)
				ctx->done_tail = &ctx->done_head;
			finish(ctx, ks);
		} else if (l) {
			ctx->dead = l->next_dead;
			/* l lives in its stream, which may go now. */
			side_release_locked(ctx, l->s, l->side);
		} else {
			break;
		}
	}
	if (this_cpu()->ipc_ctx != ctx || arch_irq_enabled())
		panic("ipc: context %p ended on a CPU running %p", ctx, this_cpu()->ipc_ctx);
	this_cpu()->ipc_ctx = NULL;
	arch_irq_restore(f);
}

static void lane_obj_destroy(struct kobj *o)
{
	struct lane *l = container_of(o, struct lane, obj);
	struct ipc_ctx local, *ctx;
	irqflags_t f;

	if (!ctx_begin(&local, &f)) {
		/* Inside a running context: leave it to its drain loop. */
		ctx = this_cpu()->ipc_ctx;
		l->next_dead = ctx->dead;
		ctx->dead = l;
		return;
	}
	local.dead = l;
	l->next_dead = NULL;
	ctx_end(&local, f);
}

/* ---- system call and operations ----------------------------------------------- */

SYSCALL_DEFINE(stream_create)
{
	struct process *p = process_current();
	struct family *fam;
	struct kstream *s;
	struct lane *l[2];
	const uint32_t rights = RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER;
	rl_handle_t h[2] = { 0, 0 };
	int r = 0;

	if (budget_charge(p->budget, sizeof(*fam) + sizeof(*s)))
		return -ENOMEM;
	fam = kmem_cache_zalloc(family_cache);
	s = kmem_cache_zalloc(stream_cache);
	if (!fam || !s) {
		if (fam)
			kmem_cache_free(family_cache, fam);
		if (s)
			kmem_cache_free(stream_cache, s);
		budget_uncharge(p->budget, sizeof(*fam) + sizeof(*s));
		return -ENOMEM;
	}
	spin_init(&fam->lock);
	fam->refs = 1;
	fam->budget = p->budget;
	budget_get(p->budget);
	s->fam = fam;
	s->users[0] = s->users[1] = 1;	/* one per lane object */
	ipc_stream_init(&s->core, s);
	__atomic_fetch_add(&nr_streams, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < 2; i++)
		l[i] = lane_new(s, i);
	for (unsigned i = 0; i < 2 && r >= 0; i++) {
		r = handle_install(&p->handles, &l[i]->obj, rights);
		if (r >= 0)
			h[i] = r;
	}
	/* The handles hold the lanes now; a lane without one ends here. */
	kobj_put(&l[0]->obj);
	kobj_put(&l[1]->obj);
	if (r >= 0 && copy_to_user(a0, h, sizeof(h)))
		r = -EFAULT;
	if (r < 0) {
		for (unsigned i = 0; i < 2; i++)
			if (h[i] > 0)
				handle_close(&p->handles, h[i]);
		return r;
	}
	return 0;
}

static int lane_get(rl_handle_t h, struct lane **out)
{
	struct kobj *o;
	int r = handle_get(h, RL_OBJ_LANE, RL_RIGHT_SUBMIT, &o, NULL);

	if (!r)
		*out = container_of(o, struct lane, obj);
	return r;
}

int64_t op_lane_shutdown(const struct rl_sqe *sqe)
{
	struct lane *l;
	struct family *fam;
	struct ipc_ctx ctx;
	irqflags_t f;
	int r;

	if (sqe->arg[0] || sqe->arg[1] || sqe->arg[2] || sqe->arg[3] || sqe->arg[4])
		return -EINVAL;
	r = lane_get(sqe->handle, &l);
	if (r)
		return r;
	fam = l->s->fam;
	if (!ctx_begin(&ctx, &f))	/* no context runs under a queue_enter */
		panic("ipc: shutdown inside a running context");
	ctx.fam = fam;
	spin_lock(&fam->lock);
	ipc_lane_end(&l->s->core, l->side, &kops, &ctx);
	spin_unlock(&fam->lock);
	ctx_end(&ctx, f);
	kobj_put(&l->obj);
	return 0;
}

/* ---- long transfers ------------------------------------------------------------ */

static struct kstream *stream_of_busy(const struct ipc_action *a)
{
	return a->queued_on->stream->priv;
}

/* Should a transfer in flight stop? Its stream was shut down or lost a
 * side, a queue of either side is closing, or the thread moving the bytes
 * is being killed. Plain reads: each flag only ever goes from false to
 * true, and the next chunk looks again. */
static bool xfer_aborted(struct kstream *s, struct ipc_action *send, struct ipc_action *recv)
{
	struct uthread *u = uthread_current();

	return READ_ONCE(s->core.lane[0].ended) || READ_ONCE(ksub_of(send)->q->dead) ||
	       READ_ONCE(ksub_of(recv)->q->dead) || (u && READ_ONCE(u->killed));
}

/* Bytes [off, off + n) of a send (plain or scatter-gather, iov read once)
 * to recv->buf + off. */
static int xfer_piece(struct ipc_action *send, struct ipc_action *recv,
		      const struct rl_iovec *iov, uint64_t off, uint64_t n)
{
	struct aspace *src = &owner_of(send)->as, *dst = &owner_of(recv)->as;
	uint64_t to = recv->buf + off, base = 0;

	if (send->type == IPC_SEND)
		return copy_between(src, send->buf + off, dst, to, n);
	for (unsigned i = 0; i < send->arg && n; i++) {
		uint64_t end = base + iov[i].len;

		if (off < end) {
			uint64_t k = MIN(n, end - off);

			if (copy_between(src, iov[i].base + (off - base), dst, to, k))
				return IPC_E_FAULT;
			off += k;
			to += k;
			n -= k;
		}
		base = end;
	}
	return n ? IPC_E_FAULT : IPC_OK;
}

/* Move a busy pair's bytes, IPC_CHUNK at a time, holding no lock between
 * chunks and with interrupts on (each copy takes the page-table locks it
 * needs, per page). The pair is out of the matching, so nothing else ends
 * it; its submissions, queues and processes are referenced by the pending
 * actions. */
static int xfer_copy(struct kstream *s, struct ipc_action *send, struct ipc_action *recv)
{
	struct rl_iovec iov[RL_IPC_MAX_IOV];
	uint64_t total = 0;

	if (send->type == IPC_SEND_SG) {
		/* Read again now; the pieces must still add up to what was
		 * checked at submission. */
		if (vm_rw(&owner_of(send)->as, send->buf, iov, send->arg * sizeof(iov[0]), false))
			return IPC_E_FAULT;
		for (unsigned i = 0; i < send->arg; i++) {
			if (iov[i].len > send->len - total)
				return IPC_E_FAULT;
			total += iov[i].len;
		}
		if (total != send->len)
			return IPC_E_FAULT;
	}
	for (uint64_t off = 0; off < send->len; off += IPC_CHUNK) {
		int rc;

		if (xfer_aborted(s, send, recv))
			return IPC_E_END;
		rc = xfer_piece(send, recv, iov, off, MIN((uint64_t)IPC_CHUNK, send->len - off));
		if (rc)
			return rc;
	}
	return IPC_OK;
}

/* Run one deferred transfer to its end and complete both actions. */
static void xfer_run(struct family *fam, struct ipc_action *send)
{
	struct ipc_action *recv = send->next;
	struct kstream *s = stream_of_busy(send);
	int rc = xfer_copy(s, send, recv);
	struct ipc_ctx ctx;
	irqflags_t f;

	if (!ctx_begin(&ctx, &f))
		panic("ipc: transfer end inside a running context");
	ctx.fam = fam;
	spin_lock(&fam->lock);
	ipc_transfer_end(send, rc, &kops, &ctx);
	s->busy--;
	stream_maybe_free(s);
	spin_unlock(&fam->lock);
	ctx_end(&ctx, f);
}

/* Is [buf, buf + len) of p mapped for the access? (vm_check_range probes
 * a buffer of up to a page through the MMU, and checks anything else
 * against the areas.) */
static int check_buf(struct process *p, uint64_t buf, uint64_t len, bool write)
{
	return vm_check_range(&p->as, buf, len, write ? RL_PROT_WRITE : RL_PROT_READ);
}

/* Read and check one action; fills the kernel action (the core sets its
 * own fields at submission). On error, the handle reference (PUSH) is not
 * taken. */
static int64_t check_action(struct process *p, const struct rl_ipc_action *u,
			    struct ipc_action *k, uint64_t results, uint64_t *inline_off)
{
	unsigned t = u->type;

	k->buf = 0;
	k->len = 0;
	k->arg = 0;
	k->rights = 0;
	k->type = (uint16_t)t;
	k->depth = u->depth;
	if (u->reserved || t < RL_IPC_SEND || t > RL_IPC_DISMISS || u->depth > RL_IPC_MAX_DEPTH)
		return -EINVAL;
	if (u->flags && !(u->flags == RL_IPC_WANT_LANE && (t == RL_IPC_OFFER || t == RL_IPC_ACCEPT)) &&
	    !(u->flags == RL_IPC_WANT_TOKEN && t == RL_IPC_EXTRACT_CREDS))
		return -EINVAL;
	if (u->rights && t != RL_IPC_PUSH_HANDLE && t != RL_IPC_PULL_HANDLE)
		return -EINVAL;
	if (u->rights & ~RL_RIGHTS_ALL)
		return -EINVAL;
	if (u->handle && t != RL_IPC_PUSH_HANDLE && t != RL_IPC_IMBUE_CREDS)
		return -EINVAL;
	/* buf: only the transfers with a buffer; len: they and RECV_INLINE. */
	if (t != RL_IPC_SEND && t != RL_IPC_SEND_SG && t != RL_IPC_RECV &&
	    (u->buf || (u->len && t != RL_IPC_RECV_INLINE)))
		return -EINVAL;

	switch (t) {
	case RL_IPC_SEND:
	case RL_IPC_RECV:
		if (check_buf(p, u->buf, u->len, t == RL_IPC_RECV))
			return -EFAULT;
		k->buf = u->buf;
		k->len = u->len;
		return 0;
	case RL_IPC_SEND_SG: {
		struct rl_iovec iov[RL_IPC_MAX_IOV];
		uint64_t total = 0;

		if (u->len > RL_IPC_MAX_IOV)
			return -EINVAL;
		if (copy_from_user(iov, u->buf, u->len * sizeof(iov[0])))
			return -EFAULT;
		for (unsigned i = 0; i < u->len; i++) {
			if (total + iov[i].len < total)
				return -EINVAL;
			if (check_buf(p, iov[i].base, iov[i].len, false))
				return -EFAULT;
			total += iov[i].len;
		}
		k->buf = u->buf;
		k->arg = (uint32_t)u->len;
		k->len = total;
		return 0;
	}
	case RL_IPC_RECV_INLINE:
		if (u->len > RL_IPC_INLINE_MAX)
			return -EINVAL;
		k->buf = results + *inline_off;
		k->len = u->len;
		*inline_off += ALIGN_UP(u->len, 8);
		return 0;
	case RL_IPC_PUSH_HANDLE: {
		struct kobj *o;
		uint32_t rights;
		int r = handle_get((uint32_t)u->handle, 0, RL_RIGHT_TRANSFER, &o, &rights);

		if (r)
			return r;
		k->buf = (uint64_t)o;
		k->rights = rights & u->rights;
		return 0;
	}
	case RL_IPC_PULL_HANDLE:
		k->rights = u->rights;
		return 0;
	case RL_IPC_IMBUE_CREDS:
		if (u->handle) {
			struct kobj *o;
			int r = handle_get((uint32_t)u->handle, RL_OBJ_CREDS, RL_RIGHT_TRANSFER,
					   &o, NULL);

			if (r)
				return r;
			k->arg = IMBUE_TOKEN;
			k->buf = (uint64_t)o;
			k->len = p->obj.id;
			return 0;
		}
		k->arg = IMBUE_SELF;
		k->buf = p->obj.id;
		k->len = uthread_current()->obj.id;
		return 0;
	case RL_IPC_EXTRACT_CREDS:
		k->arg = u->flags;
		return 0;
	case RL_IPC_OFFER:
	case RL_IPC_ACCEPT:
		k->arg = u->flags;
		return 0;
	default:
		return 0;
	}
}

/* Drop the references actions [0, upto) took (pushed handles, imbued
 * tokens): the submission failed before posting. */
static void drop_pushed(struct ksub *ks, unsigned upto)
{
	for (unsigned i = 0; i < upto; i++) {
		struct ipc_action *a = &ks->acts[i];

		if ((a->type == IPC_PUSH_HANDLE && a->buf) ||
		    (a->type == IPC_IMBUE_CREDS && a->arg == IMBUE_TOKEN))
			kobj_put((struct kobj *)a->buf);
	}
}

int op_ipc(struct queue *q, const struct rl_sqe *sqe)
{
	struct process *p = process_current();
	uint64_t count = sqe->arg[1], results = sqe->arg[2], rsize = sqe->arg[3];
	struct rl_ipc_action ua[8];
	uint64_t inline_off;
	struct ksub *ks;
	struct lane *l;
	struct ipc_ctx ctx;
	struct family *fam;
	irqflags_t f;
	int64_t r;

	if (count == 0 || count > RL_IPC_MAX_CHAIN || (sqe->arg[4] & ~(uint64_t)RL_IPC_CLOSE_LANE))
		return -EINVAL;
	r = lane_get(sqe->handle, &l);
	if (r)
		return (int)r;
	ks = ksub_new(q, (unsigned)count);
	if (!ks) {
		kobj_put(&l->obj);
		return -ENOMEM;
	}
	ks->q = q;
	ks->user_data = sqe->user_data;
	ks->cancelled = false;
	ks->results = results;
	ks->held = NULL;
	ks->sub.actions = ks->acts;
	ks->sub.count = (unsigned)count;
	ks->sub.priv = ks;
	inline_off = count * sizeof(struct rl_ipc_result);
	for (unsigned i = 0; i < count; i++) {
		if (i % 8 == 0 && copy_from_user(ua, sqe->arg[0] + i * sizeof(ua[0]),
						 MIN(8, count - i) * sizeof(ua[0]))) {
			r = -EFAULT;
		} else {
			r = check_action(p, &ua[i % 8], &ks->acts[i], results, &inline_off);
		}
		if (r) {
			drop_pushed(ks, i);
			goto fail;
		}
	}
	if (ipc_chain_check(ks->acts, (unsigned)count) < 0) {
		r = -EINVAL;
	} else if (rsize < inline_off) {
		r = -EINVAL;
	} else if (check_buf(p, results, inline_off, true)) {
		r = -EFAULT;
	}
	if (r) {
		drop_pushed(ks, (unsigned)count);
		goto fail;
	}

	__atomic_fetch_add(&nr_ipc_actions, count, __ATOMIC_RELAXED);
	fam = l->s->fam;
	ks->fam = fam;
	ks->refs = 1;
	__atomic_fetch_add(&fam->refs, 1, __ATOMIC_RELAXED);	/* the ksub's */
	queue_ref(q);						/* the ksub's */
	if (!ctx_begin(&ctx, &f))	/* queue_enter never runs inside a context */
		panic("ipc: submission inside a running context");
	__atomic_fetch_add(&fam->refs, 1, __ATOMIC_RELAXED);
	ctx.fam = fam;
	ctx.can_defer = true;
	spin_lock(&fam->lock);
	if (sqe->arg[4] & RL_IPC_CLOSE_LANE) {
		ks->held = l->s;
		ks->held_side = l->side;
		l->s->users[l->side]++;
	}
	ipc_submit_checked(&l->s->core, l->side, &ks->sub, &kops, &ctx);
	for (unsigned i = 0; i < ctx.nxfer; i++)
		stream_of_busy(ctx.xfer[i])->busy++;
	spin_unlock(&fam->lock);
	if (sqe->arg[4] & RL_IPC_CLOSE_LANE)
		handle_close(&p->handles, sqe->handle);
	kobj_put(&l->obj);	/* inside the context: a last put is deferred */
	ctx_end(&ctx, f);
	/* The long transfers matched above run with interrupts on, as
	 * queue_enter runs every entry. */
	for (unsigned i = 0; i < ctx.nxfer; i++)
		xfer_run(fam, ctx.xfer[i]);
	family_put(fam);
	return 0;
fail:
	ksub_discard(q, ks);
	kobj_put(&l->obj);
	return (int)r;
}

/* Withdraw what waits of one submission (referenced by the caller), with
 * err; true if anything did. */
static bool ksub_withdraw(struct ksub *ks, int err)
{
	struct ipc_ctx local, *ctx;
	irqflags_t f;
	bool own = ctx_begin(&local, &f), any;

	/* Nested (a process torn down while a context completes): the
	 * running context, which holds no family lock in its drain loop,
	 * takes the work. */
	ctx = own ? &local : this_cpu()->ipc_ctx;
	spin_lock(&ks->fam->lock);
	any = ks->sub.pending;
	if (any) {
		ctx->fam = ks->fam;
		ipc_withdraw(&ks->sub, err, &kops, ctx);
	}
	spin_unlock(&ks->fam->lock);
	if (own)
		ctx_end(&local, f);
	return any;
}

/*
 * RL_OP_CANCEL of ud: every IPC submission of q with that user_data that
 * still has waiting actions gives them up (-ECANCELED each; what already
 * matched keeps its result) and completes. The peers see nothing of an
 * action that never matched; an ancillary stream the submission held
 * ends when it completes, failing the peer's actions there with -EPIPE.
 * Returns how many submissions were cancelled.
 */
int ipc_cancel(struct queue *q, uint64_t ud)
{
	int n = 0;

	for (;;) {
		struct ksub *ks = NULL;
		struct list_head *l;
		irqflags_t f = spin_lock_irqsave(&q->lock);

		list_for_each(l, &q->ipc_subs) {
			struct ksub *it = list_entry(l, struct ksub, qlink);

			if (it->user_data == ud && !it->cancelled) {
				ks = it;
				ks->cancelled = true;
				__atomic_fetch_add(&ks->refs, 1, __ATOMIC_RELAXED);
				break;
			}
		}
		spin_unlock_irqrestore(&q->lock, f);
		if (!ks)
			return n;
		if (ksub_withdraw(ks, IPC_E_CANCELED))
			n++;
		ksub_put(ks);
	}
}

void ipc_queue_dead(struct queue *q)
{
	struct ksub *cache;
	irqflags_t f;

	/* q->dead is set: nothing joins the cache any more. */
	f = spin_lock_irqsave(&q->lock);
	cache = q->ipc_cache;
	q->ipc_cache = NULL;
	q->ipc_cached = 0;
	spin_unlock_irqrestore(&q->lock, f);
	while (cache) {
		struct ksub *next = cache->next_done;

		ksub_free(q, cache);
		cache = next;
	}
	for (;;) {
		struct ksub *ks = NULL;

		f = spin_lock_irqsave(&q->lock);
		if (!list_empty(&q->ipc_subs)) {
			ks = list_first_entry(&q->ipc_subs, struct ksub, qlink);
			list_del(&ks->qlink);
			ks->qlink.next = NULL;
			__atomic_fetch_add(&ks->refs, 1, __ATOMIC_RELAXED);
		}
		spin_unlock_irqrestore(&q->lock, f);
		if (!ks)
			return;
		ksub_withdraw(ks, IPC_E_END);
		ksub_put(ks);
	}
}
