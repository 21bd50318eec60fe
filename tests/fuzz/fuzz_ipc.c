/*
 * fuzz_ipc.c - libFuzzer target for the IPC stream core (kernel/ipc/ipc_core.c).
 *
 * The input bytes are decoded into a sequence of operations on a few
 * streams: random chains (random types, depths, lengths, credentials and
 * rights, now and then a malformed one or a bad lane) posted to random lanes
 * of random streams, "mirror" chains that answer the previous submission on
 * the other lane (so that nested OFFER/ACCEPT conversations really happen),
 * ends of lanes at random points, new root streams, new_stream failures and
 * withdrawals of random submissions (ipc_withdraw with a random error code,
 * valid or not). At the end every stream is ended, which must finish every
 * action.
 *
 * A reference model runs alongside: it knows, per lane, the order in which
 * actions were posted (depth-0 actions when submitted, ancillary actions
 * when done() reports their OFFER/ACCEPT succeeded), so the k-th action on
 * lane 0 must meet the k-th on lane 1 unless the stream ended first, and
 * from the pair's types, lengths and the callbacks' (deterministic) answers
 * the model knows both results. Checked in the callbacks and after every
 * operation:
 *   - done() exactly once per action, with sub->pending consistent; at the
 *     end no action is left (every submission finishes);
 *   - the pair's two done() calls come back to back, lane 0 first, and are
 *     the model's FIFO pair; errors follow the compatibility table (only
 *     compatible pairs succeed), TOO_SMALL on both sides, results of the
 *     callbacks on both sides, result_len, child streams;
 *   - transfer/move_handle/creds get the right roles, the model's pair,
 *     never a send longer than the receive;
 *   - an ancillary action is never posted (queued, matched, passed to a
 *     callback) before its OFFER/ACCEPT succeeded; when that failed it fails
 *     with the same error without being posted;
 *   - after an end, nothing on that stream succeeds, queued ones fail;
 *   - the real lane queues hold exactly the model's waiting actions, each
 *     QUEUED with queued_on pointing at its lane; no other action is
 *     QUEUED, and the queued_on/child union is NULL except for those and
 *     for successful OFFER/ACCEPTs (the child);
 *   - a withdrawal reports exactly the submission's waiting actions, in
 *     chain order, each right before its never-posted descendants, all with
 *     the normalized error (IPC_OK -> IPC_E_END, outside 1..IPC_E_MAX ->
 *     IPC_E_TRANSFER), calls no other callback, leaves pending at 0, and
 *     the withdrawn actions drop out of the FIFO model (the others keep
 *     meeting in order); withdrawing a finished submission does nothing;
 *   - done() is called once per action: the total equals the action count;
 *   - the core never changes an action's inputs, and never touches a
 *     submission after its last done() (the block is ASan-poisoned then).
 *
 * Build (libFuzzer):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ikernel/include \
 *     -Ilib/include -Iabi/include -DRILL_HOST_TEST tests/fuzz/fuzz_ipc.c \
 *     kernel/ipc/ipc_core.c -o fuzz_ipc
 * Smoke mode without libFuzzer: add -DFUZZ_STANDALONE (any compiler,
 * sanitizers recommended); `fuzz_ipc [iterations [seed]]` runs random inputs
 * from a fixed seed and prints "PASS fuzz-ipc (<n> inputs)".
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/ipc_core.h>

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)	ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n)	ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)	((void)(p), (void)(n))
#define UNPOISON(p, n)	((void)(p), (void)(n))
#endif

#define MAX_STREAMS	48
#define MAX_SUBS	128
#define MAX_OPS		400
#define CHAIN_CAP	(IPC_MAX_CHAIN + 1)	/* one over, for the bad-count case */

/* --- failure ---------------------------------------------------------------- */

#ifdef FUZZ_STANDALONE
static unsigned long standalone_iter;
static unsigned long long standalone_seed;
#endif

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL fuzz-ipc: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
#ifdef FUZZ_STANDALONE
	fprintf(stderr, "(standalone input #%lu, seed %#llx)\n", standalone_iter,
		standalone_seed);
	exit(1);
#else
	abort();
#endif
}

#define CHECK(c, ...)				\
	do {					\
		if (!(c))			\
			fail(__VA_ARGS__);	\
	} while (0)

/* --- state -------------------------------------------------------------------- */

struct vec {
	int *v;			/* refs: sub * CHAIN_CAP + index */
	unsigned n, cap;
};

struct mstream {
	bool used;
	bool child;		/* made by new_stream */
	bool claimed;		/* a pair's done() reported it as child */
	bool ended;
	unsigned pairs_at_end;
	struct vec lane[2];	/* posting order per lane */
	int creator;		/* ref of the lane-0 action of the creating pair */
};

struct meta {
	int stream;		/* model stream it was posted to, -1 if not */
	unsigned lane, pos;
	int parent;		/* index in the chain, -1 at depth 0 */
	unsigned done_count;
	unsigned cb_calls;	/* transfer/move_handle/creds calls */
	int cb_partner;		/* ref of the other action in that call */
	bool withdrawn;		/* left its lane through ipc_withdraw */
	int werr;		/* the error it must then carry */
};

struct block {
	struct ipc_submission sub;
	struct ipc_action a[];
};

struct fsub {
	struct block *blk;
	size_t size;
	unsigned count;
	int stream;
	unsigned lane;
	bool bad;		/* malformed or bad lane: all IPC_E_CHAIN */
	bool complete;		/* pending reached 0: poisoned while in the core */
	bool verified;		/* checked once complete: cannot change any more */
	struct ipc_action orig[CHAIN_CAP];
	struct meta m[CHAIN_CAP];
};

static struct ipc_stream streams[MAX_STREAMS];
static struct fsub sub_pool[MAX_SUBS];

static struct {
	const uint8_t *in;
	size_t in_n, in_i;
	struct mstream st[MAX_STREAMS];
	int order[MAX_STREAMS];	/* used streams, in creation order */
	unsigned nstreams;
	struct fsub *subs[MAX_SUBS];
	unsigned nsubs;
	unsigned ns_fail_mask, ns_calls, ns_ok, ns_null;
	unsigned oa_ok, oa_fail;
	int expect_next;	/* ref of the lane-1 partner due next, or -1 */
	int last_done;		/* ref of the last done() action, or -1 */
	bool in_core;
	unsigned long ndone;	/* done() calls this input */
	unsigned long nactions;	/* actions submitted this input */
	bool withdrawing;	/* inside ipc_withdraw */
	int wd_err;		/* its expected (normalized) error */
	unsigned wd_sub;	/* the submission being withdrawn */
	unsigned wd_list[CHAIN_CAP];	/* expected done() order: indices */
	unsigned wd_n, wd_i;
} F;

static struct {
	unsigned long runs, subs, actions, matched, ok, end, chain, too_small, streams,
		max_depth_ok, inherited, withdraws, withdrawn, withdrawn_deep;
} stats;

/* --- helpers ---------------------------------------------------------------- */

static unsigned byte(void)
{
	return F.in_i < F.in_n ? F.in[F.in_i++] : 0;
}

static bool more(void)
{
	return F.in_i < F.in_n;
}

static void vec_push(struct vec *v, int x)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 16;
		v->v = realloc(v->v, v->cap * sizeof(*v->v));
		if (!v->v)
			abort();
	}
	v->v[v->n++] = x;
}

static int mkref(unsigned k, unsigned i)
{
	return (int)(k * CHAIN_CAP + i);
}

static struct ipc_action *ref_act(int r)
{
	return &F.subs[r / CHAIN_CAP]->blk->a[r % CHAIN_CAP];
}

static struct meta *ref_meta(int r)
{
	return &F.subs[r / CHAIN_CAP]->m[r % CHAIN_CAP];
}

static const struct ipc_action *ref_orig(int r)
{
	return &F.subs[r / CHAIN_CAP]->orig[r % CHAIN_CAP];
}

/* The ref of an action the core handed us; fails on a stray pointer. */
static int find(const struct ipc_action *a)
{
	for (unsigned k = 0; k < F.nsubs; k++) {
		const struct fsub *f = F.subs[k];

		uintptr_t lo = (uintptr_t)f->blk->a, p = (uintptr_t)a;

		if (p >= lo && p < lo + f->count * sizeof(*a)) {
			CHECK((p - lo) % sizeof(*a) == 0, "misaligned action pointer");
			return mkref(k, (unsigned)((p - lo) / sizeof(*a)));
		}
	}
	fail("callback got an action %p that is no submission's", (const void *)a);
}

static void poison_done(void)
{
	for (unsigned k = 0; k < F.nsubs; k++)
		if (F.subs[k]->complete)
			POISON(F.subs[k]->blk, F.subs[k]->size);
}

static void unpoison_all(void)
{
	for (unsigned k = 0; k < F.nsubs; k++)
		if (F.subs[k]->complete)
			UNPOISON(F.subs[k]->blk, F.subs[k]->size);
}

static void core_enter(void)
{
	F.expect_next = -1;
	F.in_core = true;
	poison_done();
}

static void core_exit(void)
{
	unpoison_all();
	F.in_core = false;
	CHECK(F.expect_next == -1, "a pair's lane-1 done() never came");
}

static void cb_enter(void)
{
	CHECK(F.in_core, "callback outside the core");
	unpoison_all();
}

static void cb_exit(void)
{
	poison_done();
}

static bool is_send(unsigned t)
{
	return t == IPC_SEND || t == IPC_SEND_SG;
}

static bool is_recv(unsigned t)
{
	return t == IPC_RECV || t == IPC_RECV_INLINE;
}

static unsigned pairs_of(const struct mstream *ms)
{
	unsigned n0 = ms->lane[0].n, n1 = ms->lane[1].n;

	return ms->ended ? ms->pairs_at_end : (n0 < n1 ? n0 : n1);
}

/* --- what the callbacks answer (deterministic, from the inputs) --------------- */

static int transfer_answer(const struct ipc_action *s, const struct ipc_action *r)
{
	static const int codes[4] = { IPC_E_TRANSFER, -IPC_E_TRANSFER, 1000, -IPC_E_MISMATCH };

	if (((s->arg ^ r->arg) & 15) == 15)
		return codes[(s->arg >> 4) & 3];
	return IPC_OK;
}

static int transfer_norm(int rc)
{
	return rc == -IPC_E_MISMATCH ? IPC_E_MISMATCH : rc ? IPC_E_TRANSFER : IPC_OK;
}

static int handle_answer(const struct ipc_action *push, const struct ipc_action *pull)
{
	return (pull->rights & ~push->rights) ? IPC_E_TRANSFER : IPC_OK;
}

static int creds_answer(const struct ipc_action *imbue, const struct ipc_action *extract)
{
	return ((imbue->arg ^ extract->arg) & 15) == 15 ? -IPC_E_TRANSFER : IPC_OK;
}

enum { K_OTHER, K_TRANSFER, K_HANDLE, K_CREDS, K_STREAM };

/*
 * Expected results of x (lane 0) meeting y (lane 1), from their inputs; for
 * an OFFER/ACCEPT pair, from whether the core reported a child.
 */
static int expect_pair(const struct ipc_action *x, const struct ipc_action *y,
		       const struct ipc_action *xr, int *ex, int *ey)
{
	unsigned tx = x->type, ty = y->type;

	if (tx == IPC_DISMISS || ty == IPC_DISMISS) {
		*ex = tx == IPC_DISMISS ? IPC_OK : IPC_E_DISMISSED;
		*ey = ty == IPC_DISMISS ? IPC_OK : IPC_E_DISMISSED;
		return K_OTHER;
	}
	if ((is_send(tx) && is_recv(ty)) || (is_send(ty) && is_recv(tx))) {
		const struct ipc_action *s = is_send(tx) ? x : y, *r = is_send(tx) ? y : x;

		*ex = *ey = s->len > r->len ? IPC_E_TOO_SMALL : transfer_norm(transfer_answer(s, r));
		return K_TRANSFER;
	}
	if ((tx == IPC_PUSH_HANDLE && ty == IPC_PULL_HANDLE) ||
	    (ty == IPC_PUSH_HANDLE && tx == IPC_PULL_HANDLE)) {
		*ex = *ey = tx == IPC_PUSH_HANDLE ? handle_answer(x, y) : handle_answer(y, x);
		return K_HANDLE;
	}
	if ((tx == IPC_IMBUE_CREDS && ty == IPC_EXTRACT_CREDS) ||
	    (ty == IPC_IMBUE_CREDS && tx == IPC_EXTRACT_CREDS)) {
		int rc = tx == IPC_IMBUE_CREDS ? creds_answer(x, y) : creds_answer(y, x);

		*ex = *ey = rc ? IPC_E_TRANSFER : IPC_OK;
		return K_CREDS;
	}
	if ((tx == IPC_OFFER && ty == IPC_ACCEPT) || (tx == IPC_ACCEPT && ty == IPC_OFFER)) {
		*ex = *ey = xr->child ? IPC_OK : IPC_E_TRANSFER;
		return K_STREAM;
	}
	*ex = *ey = IPC_E_MISMATCH;
	return K_OTHER;
}

/* The model's partner of a posted, matched action (ref), or -1. */
static int partner_of(int r)
{
	const struct meta *m = ref_meta(r);
	const struct mstream *ms;

	if (m->stream < 0)
		return -1;
	ms = &F.st[m->stream];
	if (m->pos >= pairs_of(ms))
		return -1;
	return ms->lane[m->lane ^ 1].v[m->pos];
}

/* An action reaching a callback or done() as matched: it must be the
 * model's pair of 'other', and its parent must have succeeded. */
static void check_matched_pair(int ra, int rb, const char *what)
{
	const struct meta *ma = ref_meta(ra);
	const struct ipc_action *a = ref_act(ra);

	CHECK(ma->stream >= 0, "%s: action (type %u depth %u) was never posted", what,
	      a->type, a->depth);
	CHECK(partner_of(ra) == rb, "%s: pair is not the FIFO pair (lane %u pos %u)", what,
	      ma->lane, ma->pos);
	if (ma->parent >= 0) {
		const struct ipc_action *p = &F.subs[ra / CHAIN_CAP]->blk->a[ma->parent];

		CHECK(p->state == IPC_ST_DONE && p->error == IPC_OK,
		      "%s: ancillary matched before its OFFER/ACCEPT succeeded", what);
	}
}

/* --- callbacks ---------------------------------------------------------------- */

static void pair_callback(struct ipc_action *a, struct ipc_action *b, unsigned ta, unsigned tb,
			  const char *what)
{
	int ra = find(a), rb = find(b);
	struct meta *ma = ref_meta(ra), *mb = ref_meta(rb);

	CHECK(a->type == ta || (ta == IPC_SEND && a->type == IPC_SEND_SG), "%s: first role %u",
	      what, a->type);
	CHECK(b->type == tb || (tb == IPC_RECV && b->type == IPC_RECV_INLINE),
	      "%s: second role %u", what, b->type);
	CHECK(a->state != IPC_ST_DONE && b->state != IPC_ST_DONE, "%s on a done action", what);
	CHECK(F.expect_next == -1, "%s between a pair's done() calls", what);
	CHECK(!F.withdrawing, "%s during a withdrawal", what);
	check_matched_pair(ra, rb, what);
	check_matched_pair(rb, ra, what);
	CHECK(ma->cb_calls == 0 && mb->cb_calls == 0, "%s called twice", what);
	ma->cb_calls++;
	mb->cb_calls++;
	ma->cb_partner = rb;
	mb->cb_partner = ra;
}

static int cb_transfer(void *ctx, struct ipc_action *send, struct ipc_action *recv)
{
	int rc;

	cb_enter();
	pair_callback(send, recv, IPC_SEND, IPC_RECV, "transfer");
	CHECK(send->len <= recv->len, "transfer: send %llu longer than receive %llu",
	      (unsigned long long)send->len, (unsigned long long)recv->len);
	rc = transfer_answer(send, recv);
	cb_exit();
	return rc;
}

static int cb_move_handle(void *ctx, struct ipc_action *push, struct ipc_action *pull)
{
	int rc;

	cb_enter();
	pair_callback(push, pull, IPC_PUSH_HANDLE, IPC_PULL_HANDLE, "move_handle");
	rc = handle_answer(push, pull);
	cb_exit();
	return rc;
}

static int cb_creds(void *ctx, struct ipc_action *imbue, struct ipc_action *extract)
{
	int rc;

	cb_enter();
	pair_callback(imbue, extract, IPC_IMBUE_CREDS, IPC_EXTRACT_CREDS, "creds");
	rc = creds_answer(imbue, extract);
	cb_exit();
	return rc;
}

static struct ipc_stream *cb_new_stream(void *ctx)
{
	unsigned call;
	int slot = -1;

	cb_enter();
	CHECK(F.expect_next == -1, "new_stream between a pair's done() calls");
	CHECK(!F.withdrawing, "new_stream during a withdrawal");
	call = F.ns_calls++;
	if (!((F.ns_fail_mask >> (call & 7)) & 1)) {
		for (int i = 0; i < MAX_STREAMS; i++) {
			if (!F.st[i].used) {
				slot = i;
				break;
			}
		}
	}
	if (slot < 0) {
		F.ns_null++;
		cb_exit();
		return NULL;
	}
	F.ns_ok++;
	F.st[slot].used = true;
	F.st[slot].child = true;
	F.order[F.nstreams++] = slot;
	/* Garbage lanes: the core must initialize them itself. */
	memset(&streams[slot], 0x5a, sizeof(streams[slot]));
	streams[slot].priv = &F.st[slot];
	stats.streams++;
	cb_exit();
	return &streams[slot];
}

/* Model: a successful OFFER/ACCEPT's depth + 1 descendants go to the child. */
static void post_children_model(int r, int slot)
{
	struct fsub *f = F.subs[r / CHAIN_CAP];
	unsigned i = (unsigned)(r % CHAIN_CAP);
	const struct ipc_action *a = &f->orig[i];
	unsigned lane = a->type == IPC_OFFER ? 0 : 1;

	for (unsigned j = i + 1; j < f->count && f->orig[j].depth > a->depth; j++) {
		if (f->m[j].parent != (int)i)
			continue;
		f->m[j].stream = slot;
		f->m[j].lane = lane;
		f->m[j].pos = F.st[slot].lane[lane].n;
		vec_push(&F.st[slot].lane[lane], mkref(r / CHAIN_CAP, j));
	}
}

static void cb_done(void *ctx, struct ipc_action *a)
{
	int r, partner;
	struct fsub *f;
	struct meta *m;
	unsigned left = 0;

	cb_enter();
	r = find(a);
	f = F.subs[r / CHAIN_CAP];
	m = ref_meta(r);
	CHECK(a->state == IPC_ST_DONE, "done() on an action in state %u", a->state);
	CHECK(m->done_count++ == 0, "done() twice for one action");
	CHECK(!f->complete, "done() after the submission finished");
	CHECK(a->sub == &f->blk->sub && a->index == r % CHAIN_CAP, "sub/index wrong");
	for (unsigned i = 0; i < f->count; i++)
		left += f->blk->a[i].state != IPC_ST_DONE;
	CHECK(f->blk->sub.pending == left, "pending %u, %u actions not done",
	      f->blk->sub.pending, left);
	CHECK(F.expect_next == -1 || F.expect_next == r,
	      "the done() calls of a pair are not back to back");
	F.ndone++;
	if (F.withdrawing) {
		CHECK(r / CHAIN_CAP == (int)F.wd_sub,
		      "withdrawal reported another submission's action");
		CHECK(F.wd_i < F.wd_n && (unsigned)(r % CHAIN_CAP) == F.wd_list[F.wd_i],
		      "withdrawal reported action %d, want %d (report %u of %u)", r % CHAIN_CAP,
		      F.wd_i < F.wd_n ? (int)F.wd_list[F.wd_i] : -1, F.wd_i, F.wd_n);
		CHECK(a->error == F.wd_err, "withdrawn action error %d, want %d", a->error,
		      F.wd_err);
		F.wd_i++;
	}

	if (f->bad) {
		CHECK(a->error == IPC_E_CHAIN, "malformed chain action ended with %d", a->error);
		stats.chain++;
	} else if (m->withdrawn) {
		CHECK(F.withdrawing, "withdrawn action reported outside ipc_withdraw");
		CHECK(a->error == m->werr, "withdrawn action error %d, want %d", a->error,
		      m->werr);
		CHECK(!a->child && !a->result_len, "withdrawn action has results");
		CHECK(m->cb_calls == 0, "withdrawn action reached a callback");
		stats.withdrawn++;
		if (a->depth)
			stats.withdrawn_deep++;	/* waited on a child stream */
	} else if (m->stream < 0) {
		const struct ipc_action *p;

		CHECK(m->parent >= 0, "depth-0 action done but never posted");
		p = &f->blk->a[m->parent];
		CHECK(p->state == IPC_ST_DONE && p->error != IPC_OK,
		      "unposted ancillary done while its parent is %s",
		      p->state == IPC_ST_DONE ? "ok" : "pending");
		CHECK(a->error == p->error, "ancillary error %d, parent's %d", a->error, p->error);
		CHECK(!a->child && !a->result_len, "unposted ancillary has results");
		stats.inherited++;
	} else if ((partner = partner_of(r)) < 0) {
		CHECK(!F.withdrawing, "withdrawal reported an action it did not withdraw");
		CHECK(F.st[m->stream].ended, "unmatched action done on a live stream");
		CHECK(a->error == IPC_E_END, "unmatched action failed with %d, not END", a->error);
		CHECK(!a->child && !a->result_len, "ended action has results");
		stats.end++;
	} else {
		const struct ipc_action *x = m->lane ? ref_act(partner) : a;
		const struct ipc_action *y = m->lane ? a : ref_act(partner);
		int ex, ey, kind;

		CHECK(!F.withdrawing, "withdrawal reported a matched action");
		check_matched_pair(r, partner, "done");
		kind = expect_pair(m->lane ? ref_orig(partner) : ref_orig(r),
				   m->lane ? ref_orig(r) : ref_orig(partner), x, &ex, &ey);
		CHECK(a->error == (m->lane ? ey : ex),
		      "pair %u/%u (lens %llu/%llu): lane %u got %d, want %d", x->type, y->type,
		      (unsigned long long)x->len, (unsigned long long)y->len, m->lane, a->error,
		      m->lane ? ey : ex);
		if (m->lane == 0) {
			const struct ipc_action *pa = ref_act(partner);

			/* The partner is already marked when x's done() runs. */
			CHECK(pa->state == IPC_ST_DONE && pa->error == ey,
			      "partner not marked before the first done()");
			F.expect_next = partner;
			if (kind == K_STREAM) {
				if (ex == IPC_OK)
					F.oa_ok++;
				else
					F.oa_fail++;
			}
		} else {
			CHECK(F.last_done == partner, "lane-1 done() not right after its partner");
			F.expect_next = -1;
		}
		if (kind == K_STREAM && a->error == IPC_OK) {
			int slot = (int)(a->child - streams);

			CHECK(a->child >= streams && a->child < streams + MAX_STREAMS,
			      "child %p is no stream of ours", (void *)a->child);
			CHECK(a->child == ref_act(partner)->child, "pair got different children");
			CHECK(F.st[slot].child && a->child->priv == &F.st[slot],
			      "child not from new_stream, or priv lost");
			if (m->lane == 0) {
				CHECK(!F.st[slot].claimed, "one stream handed to two pairs");
				F.st[slot].claimed = true;
				F.st[slot].creator = r;
			} else {
				CHECK(F.st[slot].claimed && F.st[slot].creator == partner,
				      "child claimed by another pair");
			}
			post_children_model(r, slot);
		} else {
			CHECK(!a->child, "child set on a %s", kind == K_STREAM ? "failed OFFER/ACCEPT"
						 : "non-stream action");
		}
		stats.matched++;
		if (a->error == IPC_OK) {
			stats.ok++;
			if (a->depth == IPC_MAX_DEPTH)
				stats.max_depth_ok++;
		}
		if (a->error == IPC_E_TOO_SMALL)
			stats.too_small++;
	}
	F.last_done = r;
	if (f->blk->sub.pending == 0)
		f->complete = true;
	cb_exit();
}

static const struct ipc_ops fops = {
	.transfer = cb_transfer,
	.move_handle = cb_move_handle,
	.creds = cb_creds,
	.new_stream = cb_new_stream,
	.done = cb_done,
};

/* --- the whole-state check ------------------------------------------------------ */

static void check_sub(unsigned k)
{
	struct fsub *f = F.subs[k];
	unsigned left = 0;

	for (unsigned i = 0; i < f->count; i++) {
		const struct ipc_action *a = &f->blk->a[i], *o = &f->orig[i];
		const struct meta *m = &f->m[i];
		int r = mkref(k, i), partner;

		CHECK(a->type == o->type && a->depth == o->depth && a->len == o->len &&
			      a->buf == o->buf && a->arg == o->arg && a->rights == o->rights,
		      "the core changed an action's inputs");
		CHECK(a->sub == &f->blk->sub && a->index == i, "sub/index wrong");
		CHECK(m->done_count == (a->state == IPC_ST_DONE), "done %u times, state %u",
		      m->done_count, a->state);
		left += a->state != IPC_ST_DONE;
		if (f->bad) {
			CHECK(a->state == IPC_ST_DONE && a->error == IPC_E_CHAIN,
			      "malformed chain not failed with IPC_E_CHAIN");
			CHECK(!a->child, "child/queued_on on a malformed chain's action");
			continue;
		}
		if (m->withdrawn) {
			CHECK(a->state == IPC_ST_DONE && a->error == m->werr,
			      "withdrawn action: state %u error %d, want %d", a->state, a->error,
			      m->werr);
			CHECK(!a->child && !a->result_len, "withdrawn action has results");
			CHECK(m->cb_calls == 0, "withdrawn action reached a callback");
			continue;
		}
		if (m->stream < 0) {
			const struct ipc_action *p;

			CHECK(m->parent >= 0, "depth-0 action not posted");
			p = &f->blk->a[m->parent];
			if (p->state != IPC_ST_DONE) {
				CHECK(a->state == IPC_ST_NEW,
				      "ancillary state %u while its parent is pending", a->state);
				CHECK(!a->queued_on, "queued_on set on a never-posted action");
			} else {
				CHECK(p->error != IPC_OK, "ancillary of a successful parent not posted");
				CHECK(a->state == IPC_ST_DONE && a->error == p->error,
				      "ancillary of a failed parent: state %u error %d, parent %d",
				      a->state, a->error, p->error);
				CHECK(!a->child, "child on a never-posted ancillary");
			}
			continue;
		}
		partner = partner_of(r);
		if (partner < 0) {
			if (F.st[m->stream].ended) {
				CHECK(a->state == IPC_ST_DONE && a->error == IPC_E_END,
				      "action on an ended stream: state %u error %d", a->state,
				      a->error);
				CHECK(!a->child, "child/queued_on on an ended action");
			} else {
				CHECK(a->state == IPC_ST_QUEUED, "waiting action in state %u",
				      a->state);
				CHECK(a->queued_on == &streams[m->stream].lane[m->lane],
				      "queued action's queued_on %p, want lane %u of stream %d",
				      (void *)a->queued_on, m->lane, m->stream);
			}
			CHECK(!a->result_len, "unmatched action has results");
			CHECK(m->cb_calls == 0, "unmatched action reached a callback");
		} else {
			const struct ipc_action *x = m->lane ? ref_act(partner) : a;
			const struct ipc_action *y = m->lane ? a : ref_act(partner);
			const struct ipc_action *send;
			int ex, ey, kind;

			kind = expect_pair(m->lane ? ref_orig(partner) : o,
					   m->lane ? o : ref_orig(partner), x, &ex, &ey);
			CHECK(a->state == IPC_ST_DONE && a->error == (m->lane ? ey : ex),
			      "matched action: state %u error %d, want %d", a->state, a->error,
			      m->lane ? ey : ex);
			send = is_send(x->type) ? x : y;
			if (kind == K_TRANSFER && a->error == IPC_OK)
				CHECK(a->result_len == send->len, "result_len %llu, want %llu",
				      (unsigned long long)a->result_len,
				      (unsigned long long)send->len);
			else
				CHECK(a->result_len == 0, "result_len without a transfer");
			if ((kind == K_TRANSFER && ex != IPC_E_TOO_SMALL) || kind == K_HANDLE ||
			    kind == K_CREDS)
				CHECK(m->cb_calls == 1 && m->cb_partner == partner,
				      "callback not called once for the pair");
			else
				CHECK(m->cb_calls == 0, "callback called for kind %d error %d", kind,
				      ex);
			if (kind == K_STREAM && ex == IPC_OK)
				CHECK(a->child && a->child == ref_act(partner)->child,
				      "stream pair without a common child");
			else
				CHECK(!a->child, "child on a non-stream result");
		}
	}
	CHECK(f->blk->sub.pending == left, "pending %u, %u not done", f->blk->sub.pending, left);
	CHECK(f->complete == (left == 0), "complete flag %d with %u left", f->complete, left);
}

/* Returns the number of actions waiting on the stream's lanes. */
static unsigned check_stream(unsigned slot)
{
	const struct mstream *ms = &F.st[slot];
	const struct ipc_stream *s = &streams[slot];
	unsigned pairs = pairs_of(ms), waiting = 0;

	CHECK(s->priv == &F.st[slot], "stream priv changed");
	for (unsigned l = 0; l < 2; l++) {
		const struct ipc_lane *lane = &s->lane[l];
		const struct ipc_action *p = lane->head, *last = NULL;
		unsigned pos = pairs, steps = 0;

		CHECK(lane->stream == s, "lane->stream wrong");
		CHECK(lane->ended == ms->ended, "lane %u ended %d, model %d", l, lane->ended,
		      ms->ended);
		if (ms->ended) {
			CHECK(!lane->head && !lane->tail, "ended lane still has a queue");
			continue;
		}
		for (; p; p = p->next) {
			CHECK(++steps <= MAX_SUBS * CHAIN_CAP, "cycle in a lane queue");
			CHECK(pos < ms->lane[l].n && p == ref_act(ms->lane[l].v[pos]),
			      "lane %u queue differs from the model at position %u", l, pos);
			CHECK(p->state == IPC_ST_QUEUED, "queued action in state %u", p->state);
			CHECK(p->queued_on == lane, "action queued on lane %u of stream %u has "
			      "queued_on %p", l, slot, (void *)p->queued_on);
			last = p;
			pos++;
			waiting++;
		}
		CHECK(pos == ms->lane[l].n, "lane %u queue has %u, model %u", l, pos - pairs,
		      ms->lane[l].n - pairs);
		CHECK(lane->tail == last, "lane tail wrong");
		CHECK(!last || !last->next, "lane tail has a successor");
	}
	return waiting;
}

static void check_all(void)
{
	unsigned queued = 0, waiting = 0;

	CHECK(F.expect_next == -1, "pair left half reported");
	for (unsigned k = 0; k < F.nsubs; k++) {
		if (F.subs[k]->verified)
			continue;
		for (unsigned i = 0; i < F.subs[k]->count; i++)
			queued += F.subs[k]->blk->a[i].state == IPC_ST_QUEUED;
		check_sub(k);
#ifdef FUZZ_ASAN
		/* Once finished, a submission is poisoned whenever the core runs:
		 * any later change would be an ASan report. */
		F.subs[k]->verified = F.subs[k]->complete;
#endif
	}
	CHECK(F.ns_ok == F.oa_ok && F.ns_null == F.oa_fail,
	      "new_stream calls (%u ok, %u null) vs OFFER/ACCEPT pairs (%u ok, %u failed)",
	      F.ns_ok, F.ns_null, F.oa_ok, F.oa_fail);
	for (unsigned i = 0; i < F.nstreams; i++) {
		const struct mstream *ms = &F.st[F.order[i]];

		CHECK(!ms->child || ms->claimed, "new_stream result never reported as a child");
	}
	for (unsigned i = 0; i < F.nstreams; i++)
		waiting += check_stream((unsigned)F.order[i]);
	/* Every QUEUED action is on some lane (the walk above found each
	 * lane's own, with queued_on pointing back at it). */
	CHECK(queued == waiting, "%u actions QUEUED, %u on the lanes", queued, waiting);
}

/* --- chains ------------------------------------------------------------------------ */

/* Independent statement of ipc_chain_check's documented rules and codes. */
static int model_chain_check(const struct ipc_action *a, unsigned n)
{
	if (n == 0 || n > IPC_MAX_CHAIN)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (a[i].type < 1 || a[i].type > IPC_TYPE_MAX)
			return -2;
		if (a[i].depth > IPC_MAX_DEPTH)
			return -3;
		if (i == 0 ? a[i].depth > 0 : a[i].depth > a[i - 1].depth + 1)
			return -4;
		if (i > 0 && a[i].depth == a[i - 1].depth + 1 && a[i - 1].type != IPC_OFFER &&
		    a[i - 1].type != IPC_ACCEPT)
			return -5;
	}
	return 0;
}

static const uint8_t type_map[16] = {
	IPC_SEND, IPC_SEND_SG, IPC_RECV, IPC_RECV_INLINE, IPC_PUSH_HANDLE, IPC_PULL_HANDLE,
	IPC_IMBUE_CREDS, IPC_EXTRACT_CREDS, IPC_OFFER, IPC_ACCEPT, IPC_DISMISS,
	IPC_OFFER, IPC_ACCEPT, IPC_OFFER, IPC_SEND, IPC_RECV,
};

static unsigned gen_chain(struct ipc_action *a)
{
	unsigned n = 1 + byte() % 12, ladder = 0;

	if (n == 12)
		n = 1 + byte() % (IPC_MAX_CHAIN + 1);	/* may be one too many */
	if (n >= 8 && byte() % 4 == 0)
		ladder = byte() % (IPC_MAX_DEPTH + 3);	/* OFFER/ACCEPT down to it */
	for (unsigned i = 0; i < n; i++) {
		unsigned t = byte(), d = byte(), depth = 0;

		memset(&a[i], 0, sizeof(a[i]));
		if (i < ladder) {
			a[i].type = t & 1 ? IPC_OFFER : IPC_ACCEPT;
			a[i].depth = (uint8_t)i;
			a[i].arg = d;
			continue;
		}
		if (i) {
			unsigned pd = a[i - 1].depth;
			bool down = (a[i - 1].type == IPC_OFFER || a[i - 1].type == IPC_ACCEPT) &&
				    pd < IPC_MAX_DEPTH;

			if (down && (d & 3))
				depth = pd + 1;
			else
				depth = (d >> 2) % (pd + 1);
		}
		a[i].type = type_map[t & 15];
		a[i].depth = (uint8_t)depth;
		a[i].len = (t >> 4) & 7;
		a[i].arg = byte();
		a[i].rights = (a[i].arg >> 6) & 3;
	}
	if (byte() % 32 == 31) {
		/* Break it on purpose. */
		unsigned i = byte() % n, how = byte() % 5;

		switch (how) {
		case 0:
			a[i].type = byte() & 1 ? 0 : IPC_TYPE_MAX + 1 + byte();
			break;
		case 1:
			a[i].depth = (uint8_t)(IPC_MAX_DEPTH + 1 + byte() % 32);
			break;
		case 2:
			a[i].depth = (uint8_t)(a[i].depth + 2);
			break;
		case 3:
			if (i) {
				a[i].depth = (uint8_t)(a[i - 1].depth + 1);
				a[i - 1].type = IPC_SEND;
			}
			break;
		default:
			a[i].depth = 1;	/* maybe first at depth 1, maybe fine */
			break;
		}
	}
	return n;
}

/* The answer to submission k: complementary types on the same structure. */
static unsigned gen_mirror(const struct fsub *f, struct ipc_action *a)
{
	for (unsigned i = 0; i < f->count; i++) {
		const struct ipc_action *o = &f->orig[i];
		unsigned b = byte();

		a[i] = *o;
		a[i].arg = byte();
		switch (o->type) {
		case IPC_SEND:
		case IPC_SEND_SG:
			a[i].type = b & 4 ? IPC_RECV_INLINE : IPC_RECV;
			a[i].len = o->len + (b & 3) - (o->len ? 1 : 0);
			break;
		case IPC_RECV:
		case IPC_RECV_INLINE:
			a[i].type = b & 4 ? IPC_SEND_SG : IPC_SEND;
			a[i].len = o->len + 1 > (b & 3) ? o->len + 1 - (b & 3) : 0;
			break;
		case IPC_PUSH_HANDLE:
			a[i].type = IPC_PULL_HANDLE;
			a[i].rights = o->rights & b;
			if ((b & 0x30) == 0x30)
				a[i].rights = 3;
			break;
		case IPC_PULL_HANDLE:
			a[i].type = IPC_PUSH_HANDLE;
			a[i].rights = o->rights | (b & 3);
			break;
		case IPC_IMBUE_CREDS:
			a[i].type = IPC_EXTRACT_CREDS;
			break;
		case IPC_EXTRACT_CREDS:
			a[i].type = IPC_IMBUE_CREDS;
			break;
		case IPC_OFFER:
			a[i].type = IPC_ACCEPT;
			break;
		case IPC_ACCEPT:
			a[i].type = IPC_OFFER;
			break;
		default:
			a[i].type = (b & 0xf0) == 0xf0 ? IPC_DISMISS : type_map[b & 15];
			break;
		}
		if ((b & 0xf8) == 0xf8 && o->type != IPC_OFFER && o->type != IPC_ACCEPT)
			a[i].type = type_map[(b >> 4) & 15] == IPC_OFFER ? IPC_DISMISS : IPC_SEND;
	}
	return f->count;
}

static void do_submit(int slot, unsigned lane, const struct ipc_action *tmp, unsigned n)
{
	struct fsub *f;
	unsigned k = F.nsubs;
	int code, want;

	if (k == MAX_SUBS || n == 0)
		return;
	f = &sub_pool[k];
	memset(f, 0, offsetof(struct fsub, orig));
	f->size = sizeof(struct block) + n * sizeof(struct ipc_action);
	f->blk = malloc(f->size);
	if (!f->blk)
		abort();
	memset(f->blk, 0xcc, f->size);	/* output fields: garbage */
	f->count = n;
	f->stream = slot;
	f->lane = lane;
	for (unsigned i = 0; i < n; i++) {
		struct ipc_action *a = &f->blk->a[i];

		f->orig[i] = tmp[i];
		a->type = tmp[i].type;
		a->depth = tmp[i].depth;
		a->len = tmp[i].len;
		a->buf = tmp[i].buf;
		a->arg = tmp[i].arg;
		a->rights = tmp[i].rights;
		memset(&f->m[i], 0, sizeof(f->m[i]));
		f->m[i].stream = -1;
		f->m[i].parent = -1;
		f->m[i].cb_partner = -1;
	}
	f->blk->sub.actions = f->blk->a;
	f->blk->sub.count = n;
	f->blk->sub.priv = f;
	F.subs[k] = f;
	F.nsubs++;

	code = ipc_chain_check(f->blk->a, n);
	want = model_chain_check(tmp, n);
	CHECK(code == want, "ipc_chain_check %d, want %d", code, want);
	f->bad = code != 0 || lane > 1;
	if (!f->bad) {
		struct mstream *ms = &F.st[slot];

		for (unsigned i = 0; i < n; i++) {
			if (tmp[i].depth == 0) {
				f->m[i].stream = slot;
				f->m[i].lane = lane;
				f->m[i].pos = ms->lane[lane].n;
				vec_push(&ms->lane[lane], mkref(k, i));
				continue;
			}
			for (int p = (int)i - 1; p >= 0; p--) {
				if (tmp[p].depth == tmp[i].depth - 1) {
					f->m[i].parent = p;
					break;
				}
			}
		}
	}
	stats.subs++;
	stats.actions += n;
	F.nactions += n;
	core_enter();
	ipc_submit(&streams[slot], lane, &f->blk->sub, &fops, NULL);
	core_exit();
	check_all();
}

static void do_end(int slot, unsigned lane)
{
	struct mstream *ms = &F.st[slot];

	if (lane <= 1 && !ms->ended) {
		ms->pairs_at_end = pairs_of(ms);
		ms->ended = true;
	}
	core_enter();
	ipc_lane_end(&streams[slot], lane, &fops, NULL);
	core_exit();
	check_all();
}

/* Error codes handed to ipc_withdraw and what the actions must carry. */
static const int wd_codes[16][2] = {
	{ IPC_OK, IPC_E_END },
	{ IPC_E_MISMATCH, IPC_E_MISMATCH },
	{ IPC_E_TOO_SMALL, IPC_E_TOO_SMALL },
	{ IPC_E_END, IPC_E_END },
	{ IPC_E_DISMISSED, IPC_E_DISMISSED },
	{ IPC_E_CHAIN, IPC_E_CHAIN },
	{ IPC_E_TRANSFER, IPC_E_TRANSFER },
	{ IPC_E_FAULT, IPC_E_FAULT },
	{ IPC_E_RIGHTS, IPC_E_RIGHTS },
	{ -IPC_E_FAULT, IPC_E_FAULT },
	{ -IPC_E_END, IPC_E_END },
	{ IPC_E_MAX + 1, IPC_E_TRANSFER },
	{ -(IPC_E_MAX + 1), IPC_E_TRANSFER },
	{ 99, IPC_E_TRANSFER },
	{ -2147483647 - 1, IPC_E_TRANSFER },
	{ 2147483647, IPC_E_TRANSFER },
};

/* Take a waiting action out of the model's lane: later ones move up. */
static void model_unqueue(int r)
{
	struct meta *m = ref_meta(r);
	struct vec *v = &F.st[m->stream].lane[m->lane];

	CHECK(m->pos < v->n && v->v[m->pos] == r, "model lane lost a waiting action");
	CHECK(m->pos >= pairs_of(&F.st[m->stream]), "withdrawing a matched action");
	memmove(&v->v[m->pos], &v->v[m->pos + 1], (v->n - m->pos - 1) * sizeof(*v->v));
	v->n--;
	for (unsigned i = m->pos; i < v->n; i++)
		ref_meta(v->v[i])->pos = i;
}

static void do_withdraw(unsigned k, unsigned code)
{
	struct fsub *f = F.subs[k];
	bool was_complete = f->complete;
	unsigned long ndone = F.ndone;

	F.wd_n = F.wd_i = 0;
	F.wd_sub = k;
	F.wd_err = wd_codes[code][1];
	if (!was_complete) {
		/* What must come back, in order: each waiting action, then its
		 * never-posted descendants. */
		CHECK(!f->bad, "malformed chain not finished");
		for (unsigned i = 0; i < f->count; i++) {
			struct meta *m = &f->m[i];
			int r = mkref(k, i);

			if (m->withdrawn || m->stream < 0 || m->done_count)
				continue;
			CHECK(partner_of(r) < 0 && !F.st[m->stream].ended,
			      "pending action that is neither waiting nor done");
			model_unqueue(r);
			m->withdrawn = true;
			m->werr = F.wd_err;
			F.wd_list[F.wd_n++] = i;
			for (unsigned j = i + 1; j < f->count && f->orig[j].depth > f->orig[i].depth;
			     j++) {
				CHECK(f->m[j].stream < 0 && !f->m[j].done_count,
				      "descendant of a waiting action was posted");
				F.wd_list[F.wd_n++] = j;
			}
		}
	}
	stats.withdraws++;
	core_enter();
	/* A finished submission's header is still the caller's: only its
	 * actions stay poisoned. */
	if (was_complete)
		UNPOISON(&f->blk->sub, sizeof(f->blk->sub));
	F.withdrawing = true;
	ipc_withdraw(&f->blk->sub, wd_codes[code][0], &fops, NULL);
	F.withdrawing = false;
	core_exit();
	CHECK(F.wd_i == F.wd_n, "withdrawal reported %u actions, want %u", F.wd_i, F.wd_n);
	CHECK(F.ndone - ndone == F.wd_n, "withdrawal made %lu done() calls, want %u",
	      F.ndone - ndone, F.wd_n);
	CHECK(f->complete && f->blk->sub.pending == 0,
	      "withdrawn submission left %u pending", f->blk->sub.pending);
	check_all();
}

static int new_root(void)
{
	for (int i = 0; i < MAX_STREAMS; i++) {
		if (!F.st[i].used) {
			F.st[i].used = true;
			F.order[F.nstreams++] = i;
			ipc_stream_init(&streams[i], &F.st[i]);
			stats.streams++;
			return i;
		}
	}
	return -1;
}

static void cleanup(void)
{
	for (unsigned k = 0; k < F.nsubs; k++) {
		UNPOISON(F.subs[k]->blk, F.subs[k]->size);
		free(F.subs[k]->blk);
	}
	for (unsigned i = 0; i < MAX_STREAMS; i++) {
		free(F.st[i].lane[0].v);
		free(F.st[i].lane[1].v);
	}
	memset(&F, 0, sizeof(F));
}

static void reset(const uint8_t *data, size_t size)
{
	cleanup();
	F.in = data;
	F.in_n = size;
	F.expect_next = -1;
	F.last_done = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_action tmp[CHAIN_CAP];
	unsigned ops = 0;

	reset(data, size);
	stats.runs++;
	new_root();
	new_root();
	while (more() && ops++ < MAX_OPS && F.nsubs < MAX_SUBS) {
		unsigned op = byte() % 18, b = byte();
		int slot = F.order[b % F.nstreams];
		unsigned lane = (b >> 6) & 1, n;

		if ((b & 0x3f) == 0x3f)
			lane = 2 + (b >> 7);	/* a bad lane now and then */
		switch (op) {
		case 0: case 1: case 2: case 3: case 4: case 5: case 6:
			n = gen_chain(tmp);
			do_submit(slot, lane, tmp, n);
			break;
		case 7: case 8: case 9: case 10: {
			const struct fsub *f = F.nsubs ? F.subs[F.nsubs - 1] : NULL;

			if (!f || f->bad)
				break;
			n = gen_mirror(f, tmp);
			do_submit(f->stream, f->lane ^ 1, tmp, n);
			break;
		}
		case 11: case 12:
			do_end(slot, lane);
			break;
		case 13:
			new_root();
			break;
		case 14:
			F.ns_fail_mask = b & byte();
			break;
		case 16: case 17: {
			/* Withdraw a recent submission (most likely still waiting),
			 * now and then any of them. */
			unsigned recent = F.nsubs < 4 ? F.nsubs : 4, k;

			if (!F.nsubs)
				break;
			k = b & 0x80 ? byte() % F.nsubs : F.nsubs - 1 - byte() % recent;
			do_withdraw(k, b & 15);
			break;
		}
		default:
			/* The newest stream: usually a child, so conversations go on. */
			n = gen_chain(tmp);
			do_submit(F.order[F.nstreams - 1], lane, tmp, n);
			break;
		}
	}

	/* End everything: then nothing may be left pending. */
	for (unsigned i = 0; i < F.nstreams; i++)
		do_end(F.order[i], byte() & 1);
	for (unsigned k = 0; k < F.nsubs; k++) {
		const struct fsub *f = F.subs[k];

		CHECK(f->complete && f->blk->sub.pending == 0,
		      "submission %u never finished (%u pending)", k, f->blk->sub.pending);
		for (unsigned i = 0; i < f->count; i++)
			CHECK(f->m[i].done_count == 1, "action lost");
	}
	CHECK(F.ndone == F.nactions, "%lu done() calls for %lu actions", F.ndone, F.nactions);
	cleanup();
	return 0;
}

#ifdef FUZZ_STANDALONE
static uint64_t sm_state;

static uint64_t splitmix(void)
{
	uint64_t z = (sm_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	static uint8_t buf[512];

	standalone_seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x1bc0feedull;
	sm_state = standalone_seed;
	for (standalone_iter = 0; standalone_iter < n; standalone_iter++) {
		size_t len = 1 + splitmix() % sizeof(buf);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)splitmix();
		LLVMFuzzerTestOneInput(buf, len);
	}
	if (getenv("FUZZ_IPC_STATS"))
		fprintf(stderr,
			"subs %lu actions %lu matched %lu ok %lu end %lu chain %lu too_small %lu "
			"inherited %lu streams %lu ok-at-max-depth %lu withdraws %lu withdrawn %lu "
			"withdrawn-on-child %lu\n",
			stats.subs, stats.actions, stats.matched, stats.ok, stats.end, stats.chain,
			stats.too_small, stats.inherited, stats.streams, stats.max_depth_ok,
			stats.withdraws, stats.withdrawn, stats.withdrawn_deep);
	printf("PASS fuzz-ipc (%lu inputs)\n", n);
	return 0;
}
#endif
