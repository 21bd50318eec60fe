/*
 * ipc_core.c - the portable IPC stream matching core (see ipc_core.h for the
 * model and the compatibility table; this file only adds what the header
 * leaves open).
 *
 * Memory
 *   The core never allocates. Actions live in the submission's array,
 *   streams come from the caller (ipc_stream_init) or from ops->new_stream.
 *   A stream returned by new_stream must be one nobody else uses yet; the
 *   core (re)initializes its lanes (empty, not ended) and keeps its priv.
 *
 * Callbacks
 *   Every ops member except done may be NULL: a NULL transfer, move_handle
 *   or creds means "succeeded", a NULL new_stream means "out of memory".
 *   A NULL done is allowed but then the caller must poll sub->pending.
 *   Callbacks must not call back into the core. A callback's non-zero
 *   result is an enum ipc_error (negated values are accepted too); anything
 *   outside 1..IPC_E_MAX becomes IPC_E_TRANSFER.
 *
 *   Once done() has been called for the last pending action of a
 *   submission (sub->pending == 0) the core never touches that submission
 *   or its actions again, so done() may free it.
 *
 * ipc_chain_check
 *   0 when the chain is well formed, otherwise (first problem found,
 *   scanning from the start):
 *     -1  actions NULL, count 0 or count > IPC_MAX_CHAIN
 *     -2  a type outside 1..IPC_TYPE_MAX
 *     -3  a depth above IPC_MAX_DEPTH (depth IPC_MAX_DEPTH itself is fine)
 *     -4  the depth jumps: the first action is not at depth 0, or an
 *         action is more than one level deeper than the one before it
 *     -5  an ancillary action without its OFFER/ACCEPT: one level deeper
 *         than the action before it, which is not an OFFER or ACCEPT
 *   Only type and depth are read. An action's parent is the nearest
 *   preceding action one level up (always an OFFER/ACCEPT in a checked
 *   chain); its descendants are the following actions that are deeper than
 *   it, up to the next one at its depth or above.
 *
 * ipc_submit
 *   Sets sub->pending = count and resets every action (sub, index, state
 *   NEW, error 0, result_len 0, child NULL, next NULL); only type, depth,
 *   buf, len, arg and rights are inputs. It runs ipc_chain_check itself:
 *   a malformed chain, or a lane other than 0 or 1, fails every action in
 *   order with IPC_E_CHAIN (nothing is posted). count 0 does nothing.
 *   Otherwise the depth-0 actions are posted in order to the lane.
 *
 * Posting an action to lane L of a stream
 *   If either lane of the stream has ended, the action fails at once with
 *   IPC_E_END (with its descendants). Else, if the other lane's queue has
 *   a head, the two are matched at once; else the action is appended to
 *   lane L's queue (state QUEUED). So at most one lane of a stream ever has
 *   waiting actions, and the k-th action posted to lane 0 meets the k-th
 *   posted to lane 1.
 *
 * Matching a pair (x from lane 0, y from lane 1)
 *   The result follows the header's table. A transfer whose send->len is
 *   above the receive's len fails both with IPC_E_TOO_SMALL without calling
 *   transfer; on success both get result_len = send->len. A handle or
 *   credentials pair calls move_handle / creds; its result goes to both.
 *   OFFER/ACCEPT calls new_stream: NULL fails both with IPC_E_TRANSFER,
 *   otherwise both get child = the stream and IPC_OK.
 *   Then, in this order: both actions are marked DONE with their error;
 *   sub->pending is decremented and done() called for x, then the same for
 *   y (so the two done calls of a pair come back to back, lane 0 first);
 *   then the OFFER side's ancillary actions (its depth + 1 descendants) are
 *   posted in order to lane 0 of the child and then the ACCEPT side's to
 *   lane 1. As the child is fresh, the OFFER side's all queue and the
 *   ACCEPT side's meet them in order: FIFO holds on the child. If an OFFER
 *   or ACCEPT fails (for whatever reason: mismatch, dismissed, end,
 *   new_stream failure), all its descendants fail, in chain order and right
 *   after it, with the same error, without being posted.
 *   Matches inside a child nest (posting an ancillary may match an OFFER/
 *   ACCEPT pair, whose ancillaries go to a grandchild), but every level
 *   goes one depth deeper into both chains involved, so the nesting is at
 *   most IPC_MAX_DEPTH + 1 matches deep (a few hundred bytes of stack each).
 *
 * ipc_lane_end(s, lane)
 *   The lane number only names the side that ended (0 or 1; anything else
 *   is ignored): both lanes become ended, and every action waiting on
 *   either lane fails with IPC_E_END, in queue order, each followed by its
 *   (never posted) descendants. Later posts to the stream fail with
 *   IPC_E_END. Ending an ended stream again does nothing more.
 *
 * ipc_withdraw(sub, err)
 *   For a submission whose owner is gone (the kernel: its queue was
 *   closed). err is normalized like a callback result (negated codes are
 *   accepted; IPC_OK becomes IPC_E_END, anything unknown IPC_E_TRANSFER).
 *   In chain order, each action still QUEUED is unlinked from its lane
 *   (found through queued_on, wherever it is in the FIFO) and fails with
 *   err, followed by its never-posted descendants; no other callback
 *   runs, so the peers see nothing. Actions already done keep their
 *   results, and a busy pair (IPC_IN_PROGRESS) is left to
 *   ipc_transfer_end. A submission with nothing pending is left alone.
 */
#include <kernel/ipc_core.h>

enum {
	CHAIN_E_COUNT = 1,
	CHAIN_E_TYPE = 2,
	CHAIN_E_DEPTH = 3,
	CHAIN_E_JUMP = 4,
	CHAIN_E_ORPHAN = 5,
};

/* The descendants of one action: actions[first..end) of its submission. */
struct subtree {
	struct ipc_action *acts;
	unsigned first;		/* first descendant */
	unsigned end;		/* one past the last descendant */
	unsigned last_child;	/* last descendant at depth + 1 */
	unsigned depth;		/* the parent's depth */
};

static void post(struct ipc_stream *s, unsigned lane, struct ipc_action *a,
		 const struct ipc_ops *ops, void *ctx);

static bool is_send(unsigned t)
{
	return t == IPC_SEND || t == IPC_SEND_SG;
}

static bool is_recv(unsigned t)
{
	return t == IPC_RECV || t == IPC_RECV_INLINE;
}

static bool has_stream(unsigned t)
{
	return t == IPC_OFFER || t == IPC_ACCEPT;
}

static int norm_error(int rc)
{
	if (rc == IPC_OK)
		return IPC_OK;
	if (rc < 0 && rc >= -IPC_E_MAX)
		rc = -rc;
	if (rc < IPC_E_MISMATCH || rc > IPC_E_MAX)
		return IPC_E_TRANSFER;
	return rc;
}

static void mark(struct ipc_action *a, int err)
{
	a->error = (int16_t)err;
	a->state = IPC_ST_DONE;
	a->next = NULL;
}

/* a must be marked; after this a (and its submission) may be gone. */
static void report(struct ipc_action *a, const struct ipc_ops *ops, void *ctx)
{
	a->sub->pending--;
	if (ops->done)
		ops->done(ctx, a);
}

/* Must run while a's submission is alive (a not yet reported). */
static void subtree_of(const struct ipc_action *a, struct subtree *t)
{
	const struct ipc_submission *sub = a->sub;
	unsigned j = (unsigned)a->index + 1;

	t->acts = sub->actions;
	t->first = j;
	t->depth = a->depth;
	t->last_child = j;
	while (j < sub->count && sub->actions[j].depth > a->depth) {
		if (sub->actions[j].depth == a->depth + 1u)
			t->last_child = j;
		j++;
	}
	t->end = j;
}

/* Fail the (never posted) descendants; nothing is read after the last. */
static void fail_subtree(const struct subtree *t, int err, const struct ipc_ops *ops,
			 void *ctx)
{
	for (unsigned j = t->first; j < t->end; j++) {
		mark(&t->acts[j], err);
		report(&t->acts[j], ops, ctx);
	}
}

/* Post the depth + 1 descendants, in order; nothing read after the last. */
static void post_children(const struct subtree *t, struct ipc_stream *s, unsigned lane,
			  const struct ipc_ops *ops, void *ctx)
{
	if (t->first >= t->end)
		return;
	for (unsigned j = t->first;; j++) {
		if (t->acts[j].depth != t->depth + 1)
			continue;
		post(s, lane, &t->acts[j], ops, ctx);
		if (j == t->last_child)
			break;
	}
}

/* Fail an unmatched action and its descendants. */
static void fail_tree(struct ipc_action *a, int err, const struct ipc_ops *ops, void *ctx)
{
	struct subtree t;

	subtree_of(a, &t);
	mark(a, err);
	report(a, ops, ctx);
	fail_subtree(&t, err, ops, ctx);
}

static int do_transfer(struct ipc_action *send, struct ipc_action *recv,
		       const struct ipc_ops *ops, void *ctx)
{
	int rc;

	if (send->len > recv->len)
		return IPC_E_TOO_SMALL;
	rc = ops->transfer ? ops->transfer(ctx, send, recv) : IPC_OK;
	if (rc == IPC_IN_PROGRESS)
		return rc;
	rc = norm_error(rc);
	if (rc == IPC_OK)
		send->result_len = recv->result_len = send->len;
	return rc;
}

static void reset_lanes(struct ipc_stream *s)
{
	for (unsigned i = 0; i < 2; i++) {
		s->lane[i].stream = s;
		s->lane[i].head = s->lane[i].tail = NULL;
		s->lane[i].ended = false;
	}
}

/* A transfer goes on outside the matching: x and y stay pending, each
 * knowing its lane (so the end keeps lane order) and its peer. */
static void park_busy(struct ipc_stream *s, struct ipc_action *x, struct ipc_action *y)
{
	x->state = y->state = IPC_ST_BUSY;
	x->queued_on = &s->lane[0];
	y->queued_on = &s->lane[1];
	x->next = y;
	y->next = x;
}

/* x waited on or was posted to lane 0 of s, y lane 1; both are off any queue. */
static void match(struct ipc_stream *s, struct ipc_action *x, struct ipc_action *y,
		  const struct ipc_ops *ops, void *ctx)
{
	unsigned tx = x->type, ty = y->type;
	struct ipc_stream *child = NULL;
	struct subtree sx, sy;
	bool hx = has_stream(tx), hy = has_stream(ty);
	int ex, ey;

	if (tx == IPC_DISMISS || ty == IPC_DISMISS) {
		ex = tx == IPC_DISMISS ? IPC_OK : IPC_E_DISMISSED;
		ey = ty == IPC_DISMISS ? IPC_OK : IPC_E_DISMISSED;
	} else if (is_send(tx) && is_recv(ty)) {
		ex = ey = do_transfer(x, y, ops, ctx);
	} else if (is_send(ty) && is_recv(tx)) {
		ex = ey = do_transfer(y, x, ops, ctx);
	} else if (tx == IPC_PUSH_HANDLE && ty == IPC_PULL_HANDLE) {
		ex = ey = ops->move_handle ? norm_error(ops->move_handle(ctx, x, y)) : IPC_OK;
	} else if (ty == IPC_PUSH_HANDLE && tx == IPC_PULL_HANDLE) {
		ex = ey = ops->move_handle ? norm_error(ops->move_handle(ctx, y, x)) : IPC_OK;
	} else if (tx == IPC_IMBUE_CREDS && ty == IPC_EXTRACT_CREDS) {
		ex = ey = ops->creds ? norm_error(ops->creds(ctx, x, y)) : IPC_OK;
	} else if (ty == IPC_IMBUE_CREDS && tx == IPC_EXTRACT_CREDS) {
		ex = ey = ops->creds ? norm_error(ops->creds(ctx, y, x)) : IPC_OK;
	} else if (hx && hy && tx != ty) {
		child = ops->new_stream ? ops->new_stream(ctx) : NULL;
		if (child) {
			reset_lanes(child);
			x->child = y->child = child;
			ex = ey = IPC_OK;
		} else {
			ex = ey = IPC_E_TRANSFER;
		}
	} else {
		ex = ey = IPC_E_MISMATCH;
	}
	if (ex == IPC_IN_PROGRESS) {	/* a transfer: no subtree, no child */
		park_busy(s, x, y);
		return;
	}

	/* Everything needed from x and y after their done() is read now. */
	if (hx)
		subtree_of(x, &sx);
	if (hy)
		subtree_of(y, &sy);
	mark(x, ex);
	mark(y, ey);
	report(x, ops, ctx);
	report(y, ops, ctx);

	if (child) {
		const struct subtree *offer = tx == IPC_OFFER ? &sx : &sy;
		const struct subtree *accept = tx == IPC_OFFER ? &sy : &sx;

		post_children(offer, child, 0, ops, ctx);
		post_children(accept, child, 1, ops, ctx);
		return;
	}
	if (hx)
		fail_subtree(&sx, ex, ops, ctx);
	if (hy)
		fail_subtree(&sy, ey, ops, ctx);
}

static void post(struct ipc_stream *s, unsigned lane, struct ipc_action *a,
		 const struct ipc_ops *ops, void *ctx)
{
	struct ipc_lane *me = &s->lane[lane], *peer = &s->lane[lane ^ 1];
	struct ipc_action *b;

	if (me->ended || peer->ended) {
		fail_tree(a, IPC_E_END, ops, ctx);
		return;
	}
	b = peer->head;
	if (b) {
		peer->head = b->next;
		if (!peer->head)
			peer->tail = NULL;
		b->next = NULL;
		b->queued_on = NULL;
		if (lane == 0)
			match(s, a, b, ops, ctx);
		else
			match(s, b, a, ops, ctx);
		return;
	}
	a->next = NULL;
	a->state = IPC_ST_QUEUED;
	a->queued_on = me;
	if (me->tail)
		me->tail->next = a;
	else
		me->head = a;
	me->tail = a;
}

void ipc_stream_init(struct ipc_stream *s, void *priv)
{
	reset_lanes(s);
	s->priv = priv;
}

int ipc_chain_check(const struct ipc_action *a, unsigned count)
{
	unsigned prev_depth = 0, prev_type = 0;

	if (!a || count == 0 || count > IPC_MAX_CHAIN)
		return -CHAIN_E_COUNT;
	for (unsigned i = 0; i < count; i++) {
		unsigned t = a[i].type, d = a[i].depth;

		if (t < 1 || t > IPC_TYPE_MAX)
			return -CHAIN_E_TYPE;
		if (d > IPC_MAX_DEPTH)
			return -CHAIN_E_DEPTH;
		if (i == 0) {
			if (d != 0)
				return -CHAIN_E_JUMP;
		} else if (d > prev_depth + 1) {
			return -CHAIN_E_JUMP;
		} else if (d == prev_depth + 1 && !has_stream(prev_type)) {
			return -CHAIN_E_ORPHAN;
		}
		prev_depth = d;
		prev_type = t;
	}
	return 0;
}

static void submit(struct ipc_stream *s, unsigned lane, struct ipc_submission *sub,
		   const struct ipc_ops *ops, void *ctx, bool checked)
{
	struct ipc_action *acts = sub->actions;
	unsigned n = acts ? sub->count : 0, last0 = 0;

	sub->pending = n;
	if (n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		struct ipc_action *a = &acts[i];

		a->next = NULL;
		a->sub = sub;
		a->state = IPC_ST_NEW;
		a->index = (uint16_t)i;
		a->error = IPC_OK;
		a->result_len = 0;
		a->child = NULL;
		if (a->depth == 0)
			last0 = i;
	}
	if (lane > 1 || (!checked && ipc_chain_check(acts, n) < 0)) {
		for (unsigned i = 0; i < n; i++) {
			mark(&acts[i], IPC_E_CHAIN);
			report(&acts[i], ops, ctx);
		}
		return;
	}
	/* The submission lives at least until acts[last0] is posted. */
	for (unsigned i = 0;; i++) {
		if (acts[i].depth != 0)
			continue;
		post(s, lane, &acts[i], ops, ctx);
		if (i == last0)
			break;
	}
}

void ipc_submit(struct ipc_stream *s, unsigned lane, struct ipc_submission *sub,
		const struct ipc_ops *ops, void *ctx)
{
	submit(s, lane, sub, ops, ctx, false);
}

void ipc_submit_checked(struct ipc_stream *s, unsigned lane, struct ipc_submission *sub,
			const struct ipc_ops *ops, void *ctx)
{
	submit(s, lane, sub, ops, ctx, true);
}

void ipc_lane_end(struct ipc_stream *s, unsigned lane, const struct ipc_ops *ops, void *ctx)
{
	if (lane > 1)
		return;
	s->lane[0].ended = s->lane[1].ended = true;
	for (unsigned l = 0; l < 2; l++) {
		struct ipc_action *a = s->lane[l].head;

		s->lane[l].head = s->lane[l].tail = NULL;
		while (a) {
			/* a is pending, so the submission of next is alive. */
			struct ipc_action *next = a->next;

			a->queued_on = NULL;
			fail_tree(a, IPC_E_END, ops, ctx);
			a = next;
		}
	}
}

void ipc_transfer_end(struct ipc_action *a, int err, const struct ipc_ops *ops, void *ctx)
{
	struct ipc_action *peer = a->next;
	bool a_first = a->queued_on == &a->queued_on->stream->lane[0];
	struct ipc_action *x = a_first ? a : peer, *y = a_first ? peer : a;
	struct ipc_action *send = is_send(x->type) ? x : y;

	err = norm_error(err);
	if (err == IPC_OK)
		x->result_len = y->result_len = send->len;
	x->queued_on = y->queued_on = NULL;
	mark(x, err);
	mark(y, err);
	report(x, ops, ctx);
	report(y, ops, ctx);
}

static void unlink_queued(struct ipc_action *a)
{
	struct ipc_lane *l = a->queued_on;
	struct ipc_action **pp = &l->head, *prev = NULL;

	while (*pp != a) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = a->next;
	if (l->tail == a)
		l->tail = prev;
	a->next = NULL;
	a->queued_on = NULL;
}

void ipc_withdraw(struct ipc_submission *sub, int err, const struct ipc_ops *ops, void *ctx)
{
	struct ipc_action *acts = sub->actions;
	unsigned n = sub->count, left = sub->pending;

	err = norm_error(err);
	if (err == IPC_OK)
		err = IPC_E_END;
	/* Nothing of the submission is read once its last action is reported. */
	for (unsigned i = 0; i < n && left; i++) {
		struct ipc_action *a = &acts[i];
		struct subtree t;

		if (a->state != IPC_ST_QUEUED)
			continue;
		subtree_of(a, &t);
		left -= 1 + (t.end - t.first);
		unlink_queued(a);
		fail_tree(a, err, ops, ctx);
	}
}
