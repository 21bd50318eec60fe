/*
 * test_ipc.c - host tests of the portable IPC stream core
 * (kernel/ipc/ipc_core.c): FIFO matching, the compatibility table, transfers
 * that do not fit, DISMISS, OFFER/ACCEPT with nested ancillary chains, end
 * of lane, withdrawal of a submission (ipc_withdraw), the queued_on/child
 * union, chain checking and the lifetime rule that lets done() free a
 * finished submission (AddressSanitizer catches any later access).
 *
 * The callbacks below behave like a small wrapper: buf fields are host
 * pointers, transfer copies bytes, move_handle passes arg when the pushed
 * rights cover the pulled ones, creds copies the imbuer's arg, new_stream
 * hands out streams from a fixed pool. Every done() is logged.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/ipc_core.h>
#include "support.h"

#define REQUIRE(c)							\
	do {								\
		if (!(c))						\
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c); \
	} while (0)

/* ipc_chain_check's codes, as documented at the top of ipc_core.c. */
#define CHAIN_E_COUNT	(-1)
#define CHAIN_E_TYPE	(-2)
#define CHAIN_E_DEPTH	(-3)
#define CHAIN_E_JUMP	(-4)
#define CHAIN_E_ORPHAN	(-5)

#define MAX_LOG		4096
#define POOL		64
#define LIVE_MAX	256

/* --- a test wrapper ------------------------------------------------------ */

struct tctx {
	struct ipc_stream pool[POOL];
	unsigned nstreams;
	unsigned new_stream_calls;
	bool fail_new_stream;
	int transfer_rc;		/* what transfer returns */
	int move_rc, creds_rc;		/* non-zero: what move_handle/creds return */
	unsigned transfers, moves, creds;
	struct ipc_action *log[MAX_LOG];	/* done() calls in order */
	unsigned ndone;
	bool free_done_subs;		/* free malloc'd submissions at pending 0
					   (and keep no log: pointers get reused) */
	bool raw_streams;		/* new_stream skips ipc_stream_init */
	unsigned freed;
	/* With free_done_subs: submissions registered here are still alive;
	 * done() clears the slot when it frees one. */
	struct ipc_submission *live[LIVE_MAX];
	unsigned nlive;
};

static int cb_transfer(void *c, struct ipc_action *send, struct ipc_action *recv)
{
	struct tctx *t = c;

	REQUIRE(send->type == IPC_SEND || send->type == IPC_SEND_SG);
	REQUIRE(recv->type == IPC_RECV || recv->type == IPC_RECV_INLINE);
	REQUIRE(send->len <= recv->len);
	REQUIRE(send->state != IPC_ST_DONE && recv->state != IPC_ST_DONE);
	t->transfers++;
	if (t->transfer_rc)
		return t->transfer_rc;
	if (send->buf && recv->buf && send->len)
		memcpy((void *)(uintptr_t)recv->buf, (const void *)(uintptr_t)send->buf,
		       send->len);
	return IPC_OK;
}

static int cb_move_handle(void *c, struct ipc_action *push, struct ipc_action *pull)
{
	struct tctx *t = c;

	REQUIRE(push->type == IPC_PUSH_HANDLE && pull->type == IPC_PULL_HANDLE);
	t->moves++;
	if (t->move_rc)
		return t->move_rc;
	if (pull->rights & ~push->rights)
		return -IPC_E_TRANSFER;	/* negated on purpose: the core accepts both */
	pull->arg = push->arg;
	return IPC_OK;
}

static int cb_creds(void *c, struct ipc_action *imbue, struct ipc_action *extract)
{
	struct tctx *t = c;

	REQUIRE(imbue->type == IPC_IMBUE_CREDS && extract->type == IPC_EXTRACT_CREDS);
	t->creds++;
	if (t->creds_rc)
		return t->creds_rc;
	extract->arg = imbue->arg;
	return IPC_OK;
}

static struct ipc_stream *cb_new_stream(void *c)
{
	struct tctx *t = c;
	struct ipc_stream *s;

	t->new_stream_calls++;
	if (t->fail_new_stream || t->nstreams == POOL)
		return NULL;
	s = &t->pool[t->nstreams++];
	if (!t->raw_streams)
		ipc_stream_init(s, t);
	return s;
}

static void cb_done(void *c, struct ipc_action *a)
{
	struct tctx *t = c;
	struct ipc_submission *sub = a->sub;
	unsigned left = 0;

	REQUIRE(a->state == IPC_ST_DONE);
	REQUIRE(a->error >= IPC_OK && a->error <= IPC_E_MAX);
	/* The union holds a child only for a successful OFFER/ACCEPT; a done
	 * action is on no queue. */
	if ((a->type == IPC_OFFER || a->type == IPC_ACCEPT) && a->error == IPC_OK)
		REQUIRE(a->child != NULL);
	else
		REQUIRE(a->child == NULL);
	REQUIRE(a->next == NULL);
	for (unsigned i = 0; i < sub->count; i++)
		left += sub->actions[i].state != IPC_ST_DONE;
	REQUIRE(sub->pending == left);
	if (!t->free_done_subs) {
		REQUIRE(t->ndone < MAX_LOG);
		for (unsigned i = 0; i < t->ndone; i++)
			REQUIRE(t->log[i] != a);	/* exactly once */
		t->log[t->ndone] = a;
	}
	t->ndone++;
	if (t->free_done_subs && sub->pending == 0) {
		/* Poison before freeing so a stale read is loud even without ASan. */
		memset(sub->actions, 0xa5, sub->count * sizeof(*sub->actions));
		for (unsigned i = 0; i < t->nlive; i++)
			if (t->live[i] == sub)
				t->live[i] = NULL;
		free(sub);
		t->freed++;
	}
}

static const struct ipc_ops ops = {
	.transfer = cb_transfer,
	.move_handle = cb_move_handle,
	.creds = cb_creds,
	.new_stream = cb_new_stream,
	.done = cb_done,
};

static struct tctx *tctx_new(void)
{
	struct tctx *t = calloc(1, sizeof(*t));

	REQUIRE(t);
	return t;
}

static struct ipc_stream *stream_new(struct tctx *t)
{
	struct ipc_stream *s = cb_new_stream(t);

	REQUIRE(s);
	return s;
}

static struct ipc_action act(unsigned type, unsigned depth, uint64_t len)
{
	struct ipc_action a;

	memset(&a, 0, sizeof(a));
	a.type = (uint16_t)type;
	a.depth = (uint8_t)depth;
	a.len = len;
	return a;
}

static struct ipc_action act_buf(unsigned type, unsigned depth, void *buf, uint64_t len)
{
	struct ipc_action a = act(type, depth, len);

	a.buf = (uint64_t)(uintptr_t)buf;
	return a;
}

static void sub_init(struct ipc_submission *sub, struct ipc_action *a, unsigned n)
{
	memset(sub, 0, sizeof(*sub));
	sub->actions = a;
	sub->count = n;
}

/* Position of a in the done log, -1 when never done. */
static int done_at(const struct tctx *t, const struct ipc_action *a)
{
	for (unsigned i = 0; i < t->ndone; i++)
		if (t->log[i] == a)
			return (int)i;
	return -1;
}

static unsigned queue_len(const struct ipc_lane *l)
{
	unsigned n = 0;
	const struct ipc_action *p, *last = NULL;

	for (p = l->head; p; p = p->next) {
		REQUIRE(p->state == IPC_ST_QUEUED);
		REQUIRE(p->queued_on == l);
		last = p;
		n++;
	}
	REQUIRE(l->tail == last);
	return n;
}

/* Submit a single action on its own; the submission lives in *sub. */
static void submit1(struct tctx *t, struct ipc_stream *s, unsigned lane,
		    struct ipc_submission *sub, struct ipc_action *a)
{
	sub_init(sub, a, 1);
	ipc_submit(s, lane, sub, &ops, t);
}

/* --- FIFO ------------------------------------------------------------------ */

START_TEST(fifo_order_both_sides)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	char src[5][8], dst[5][8];
	struct ipc_action sa[5], ra[5];
	struct ipc_submission ss[5], rs[2];

	/* Five single SENDs queue on lane 0. */
	for (int i = 0; i < 5; i++) {
		memcpy(src[i], "msg", 3);
		src[i][3] = (char)('0' + i);
		src[i][4] = '\0';
		sa[i] = act_buf(IPC_SEND, 0, src[i], (uint64_t)i + 1);
		submit1(t, s, 0, &ss[i], &sa[i]);
		ck_assert_uint_eq(sa[i].state, IPC_ST_QUEUED);
		ck_assert_uint_eq(ss[i].pending, 1);
	}
	ck_assert_uint_eq(queue_len(&s->lane[0]), 5);
	ck_assert_uint_eq(queue_len(&s->lane[1]), 0);
	ck_assert_uint_eq(t->ndone, 0);

	/* A chain of two RECVs on lane 1 takes the first two, in order. */
	memset(dst, 0, sizeof(dst));
	for (int i = 0; i < 5; i++)
		ra[i] = act_buf(IPC_RECV, 0, dst[i], sizeof(dst[i]));
	sub_init(&rs[0], ra, 2);
	ipc_submit(s, 1, &rs[0], &ops, t);
	ck_assert_uint_eq(rs[0].pending, 0);
	ck_assert_uint_eq(t->ndone, 4);
	ck_assert_ptr_eq(t->log[0], &sa[0]);	/* lane-0 side first */
	ck_assert_ptr_eq(t->log[1], &ra[0]);
	ck_assert_ptr_eq(t->log[2], &sa[1]);
	ck_assert_ptr_eq(t->log[3], &ra[1]);
	ck_assert_str_eq(dst[0], "m");
	ck_assert_str_eq(dst[1], "ms");
	ck_assert_uint_eq(ra[1].result_len, 2);
	ck_assert_uint_eq(sa[1].result_len, 2);
	ck_assert_uint_eq(queue_len(&s->lane[0]), 3);

	/* Three more RECVs: the remaining SENDs, then one RECV waits. */
	sub_init(&rs[1], ra + 2, 3);
	ipc_submit(s, 1, &rs[1], &ops, t);
	ck_assert_uint_eq(rs[1].pending, 0);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(sa[i].error, IPC_OK);
		ck_assert_int_eq(ra[i].error, IPC_OK);
		ck_assert_uint_eq(ra[i].result_len, (uint64_t)i + 1);
		ck_assert(done_at(t, &sa[i]) + 1 == done_at(t, &ra[i]));
		if (i)
			ck_assert_int_lt(done_at(t, &sa[i - 1]), done_at(t, &sa[i]));
	}
	ck_assert_str_eq(dst[4], "msg4");
	ck_assert_uint_eq(t->transfers, 5);

	/* Now the other way round: RECVs wait on lane 1, SENDs arrive. */
	{
		struct ipc_action r[3], snd[4];
		struct ipc_submission r_sub[3], s_sub;

		for (int i = 0; i < 3; i++) {
			r[i] = act(IPC_RECV_INLINE, 0, 16);
			submit1(t, s, 1, &r_sub[i], &r[i]);
		}
		ck_assert_uint_eq(queue_len(&s->lane[1]), 3);
		for (int i = 0; i < 4; i++)
			snd[i] = act(IPC_SEND_SG, 0, (uint64_t)i * 3);
		sub_init(&s_sub, snd, 4);
		ipc_submit(s, 0, &s_sub, &ops, t);
		ck_assert_uint_eq(s_sub.pending, 1);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(r[i].error, IPC_OK);
			ck_assert_uint_eq(r[i].result_len, (uint64_t)i * 3);
			/* pair done calls back to back, lane 0 (the send) first */
			ck_assert_int_eq(done_at(t, &snd[i]) + 1, done_at(t, &r[i]));
		}
		ck_assert_uint_eq(snd[3].state, IPC_ST_QUEUED);
		ck_assert_ptr_eq(s->lane[0].head, &snd[3]);
		ck_assert_uint_eq(queue_len(&s->lane[1]), 0);
		ipc_lane_end(s, 1, &ops, t);
		ck_assert_int_eq(snd[3].error, IPC_E_END);
		ck_assert_uint_eq(s_sub.pending, 0);
	}
	free(t);
}
END_TEST

/* ipc_submit_checked skips the chain check and otherwise behaves like
 * ipc_submit: the same chain matches the same way; a bad lane still fails. */
START_TEST(submit_checked_matches_like_submit)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	char src[4] = "abc", dst[8] = { 0 };
	struct ipc_action x[2], y[2], z = act(IPC_DISMISS, 0, 0);
	struct ipc_submission sx, sy, sz;

	x[0] = act_buf(IPC_SEND, 0, src, 3);
	x[1] = act(IPC_DISMISS, 0, 0);
	y[0] = act_buf(IPC_RECV, 0, dst, sizeof(dst));
	y[1] = act(IPC_RECV_INLINE, 0, 8);
	ck_assert_int_eq(ipc_chain_check(x, 2), 0);
	sub_init(&sx, x, 2);
	ipc_submit_checked(s, 0, &sx, &ops, t);
	ck_assert_uint_eq(sx.pending, 2);
	sub_init(&sy, y, 2);
	ipc_submit_checked(s, 1, &sy, &ops, t);
	ck_assert_uint_eq(sx.pending, 0);
	ck_assert_uint_eq(sy.pending, 0);
	ck_assert_int_eq(x[0].error, IPC_OK);
	ck_assert_uint_eq(y[0].result_len, 3);
	ck_assert_int_eq(memcmp(dst, "abc", 3), 0);
	ck_assert_int_eq(x[1].error, IPC_OK);
	ck_assert_int_eq(y[1].error, IPC_E_DISMISSED);
	sub_init(&sz, &z, 1);
	ipc_submit_checked(s, 2, &sz, &ops, t);
	ck_assert_int_eq(z.error, IPC_E_CHAIN);
	ck_assert_uint_eq(sz.pending, 0);
	free(t);
}
END_TEST

START_TEST(fifo_interleaved_random)
{
	/* Random single actions on random lanes of one stream: the k-th posted
	 * on lane 0 always meets the k-th posted on lane 1. */
	enum { N = 400 };
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	static struct ipc_action a[N];
	static struct ipc_submission sub[N];
	struct ipc_action *order[2][N];
	unsigned n[2] = { 0, 0 };

	rng_seed(0x1fc0);
	for (unsigned i = 0; i < N; i++) {
		unsigned lane = (unsigned)rng_below(2);

		a[i] = act(lane ? IPC_RECV : IPC_SEND, 0, rng_below(8));
		a[i].len = lane ? 8 : a[i].len;
		order[lane][n[lane]++] = &a[i];
		submit1(t, s, lane, &sub[i], &a[i]);
		REQUIRE(queue_len(&s->lane[0]) == 0 || queue_len(&s->lane[1]) == 0);
		REQUIRE(queue_len(&s->lane[lane ^ 1]) + queue_len(&s->lane[lane]) ==
			(n[0] > n[1] ? n[0] - n[1] : n[1] - n[0]));
	}
	for (unsigned k = 0; k < n[0] && k < n[1]; k++) {
		REQUIRE(order[0][k]->error == IPC_OK && order[1][k]->error == IPC_OK);
		REQUIRE(done_at(t, order[0][k]) + 1 == done_at(t, order[1][k]));
		REQUIRE(order[1][k]->result_len == order[0][k]->len);
	}
	free(t);
}
END_TEST

/* --- compatibility ---------------------------------------------------------- */

/*
 * Outcome of x (lane 0) meeting y (lane 1), rows x, columns y, types 1..11:
 *   T transfer  H handle  C credentials  S new stream  (all: both OK)
 *   M both IPC_E_MISMATCH
 *   X x dismisses: x OK, y IPC_E_DISMISSED   Y: the reverse   B: both OK
 */
static const char *const compat[IPC_TYPE_MAX] = {
	/*   SEND SG RECV RI PUSH PULL IMB EXT OFF ACC DIS */
	"MMTTMMMMMMY",	/* SEND */
	"MMTTMMMMMMY",	/* SEND_SG */
	"TTMMMMMMMMY",	/* RECV */
	"TTMMMMMMMMY",	/* RECV_INLINE */
	"MMMMMHMMMMY",	/* PUSH_HANDLE */
	"MMMMHMMMMMY",	/* PULL_HANDLE */
	"MMMMMMMCMMY",	/* IMBUE_CREDS */
	"MMMMMMCMMMY",	/* EXTRACT_CREDS */
	"MMMMMMMMMSY",	/* OFFER */
	"MMMMMMMMSMY",	/* ACCEPT */
	"XXXXXXXXXXB",	/* DISMISS */
};

static void expect_pair(char c, int *ex, int *ey)
{
	switch (c) {
	case 'M':
		*ex = *ey = IPC_E_MISMATCH;
		break;
	case 'X':
		*ex = IPC_OK;
		*ey = IPC_E_DISMISSED;
		break;
	case 'Y':
		*ex = IPC_E_DISMISSED;
		*ey = IPC_OK;
		break;
	default:
		*ex = *ey = IPC_OK;
		break;
	}
}

START_TEST(compat_table_all_pairs)
{
	for (unsigned tx = 1; tx <= IPC_TYPE_MAX; tx++) {
		for (unsigned ty = 1; ty <= IPC_TYPE_MAX; ty++) {
			for (unsigned first = 0; first < 2; first++) {
				struct tctx *t = tctx_new();
				struct ipc_stream *s = stream_new(t);
				struct ipc_action x = act(tx, 0, 4), y = act(ty, 0, 4);
				struct ipc_submission sx, sy;
				char c = compat[tx - 1][ty - 1];
				int ex, ey;

				/* Both orders of arrival; roles stay by lane. */
				if (first == 0) {
					submit1(t, s, 0, &sx, &x);
					submit1(t, s, 1, &sy, &y);
				} else {
					submit1(t, s, 1, &sy, &y);
					submit1(t, s, 0, &sx, &x);
				}
				expect_pair(c, &ex, &ey);
				ck_assert_msg(x.error == ex && y.error == ey,
					      "types %u/%u (%c): errors %d/%d, want %d/%d", tx,
					      ty, c, x.error, y.error, ex, ey);
				ck_assert_uint_eq(t->ndone, 2);
				ck_assert_ptr_eq(t->log[0], &x);
				ck_assert_ptr_eq(t->log[1], &y);
				ck_assert_uint_eq(sx.pending + sy.pending, 0);
				ck_assert_uint_eq(t->transfers, c == 'T');
				ck_assert_uint_eq(t->moves, c == 'H');
				ck_assert_uint_eq(t->creds, c == 'C');
				ck_assert_uint_eq(t->new_stream_calls, 1 + (c == 'S'));
				if (c == 'S') {
					ck_assert_ptr_nonnull(x.child);
					ck_assert_ptr_eq(x.child, y.child);
				} else {
					ck_assert_ptr_null(x.child);
					ck_assert_ptr_null(y.child);
				}
				ck_assert_uint_eq(x.result_len, c == 'T' ? 4 : 0);
				ck_assert_uint_eq(queue_len(&s->lane[0]) + queue_len(&s->lane[1]), 0);
				free(t);
			}
		}
	}
}
END_TEST

START_TEST(too_small_both_sides)
{
	static const unsigned sends[] = { IPC_SEND, IPC_SEND_SG };
	static const unsigned recvs[] = { IPC_RECV, IPC_RECV_INLINE };

	for (unsigned i = 0; i < 2; i++) {
		for (unsigned j = 0; j < 2; j++) {
			for (unsigned send_lane = 0; send_lane < 2; send_lane++) {
				for (uint64_t extra = 0; extra < 3; extra++) {
					struct tctx *t = tctx_new();
					struct ipc_stream *s = stream_new(t);
					char out[16] = "0123456789", in[16];
					struct ipc_action snd = act_buf(sends[i], 0, out, 10);
					struct ipc_action rcv = act_buf(recvs[j], 0, in, 9 + extra);
					struct ipc_submission a, b;
					int want = extra ? IPC_OK : IPC_E_TOO_SMALL;

					memset(in, 0, sizeof(in));
					submit1(t, s, send_lane, &a, &snd);
					submit1(t, s, send_lane ^ 1, &b, &rcv);
					ck_assert_int_eq(snd.error, want);
					ck_assert_int_eq(rcv.error, want);
					ck_assert_uint_eq(t->transfers, extra ? 1 : 0);
					ck_assert_uint_eq(rcv.result_len, extra ? 10 : 0);
					ck_assert_uint_eq(snd.result_len, extra ? 10 : 0);
					if (extra)
						ck_assert_int_eq(memcmp(in, out, 10), 0);
					else
						ck_assert_int_eq(in[0], 0);	/* nothing copied */
					free(t);
				}
			}
		}
	}
	/* Zero-length sends fit anything, zero capacity fits only them. */
	{
		struct tctx *t = tctx_new();
		struct ipc_stream *s = stream_new(t);
		struct ipc_action a[3] = { act(IPC_SEND, 0, 0), act(IPC_SEND, 0, 1),
					   act(IPC_SEND, 0, 0) };
		struct ipc_action b[3] = { act(IPC_RECV, 0, 0), act(IPC_RECV, 0, 0),
					   act(IPC_RECV_INLINE, 0, 0) };
		struct ipc_submission sa, sb;

		sub_init(&sa, a, 3);
		sub_init(&sb, b, 3);
		ipc_submit(s, 0, &sa, &ops, t);
		ipc_submit(s, 1, &sb, &ops, t);
		ck_assert_int_eq(a[0].error, IPC_OK);
		ck_assert_int_eq(a[1].error, IPC_E_TOO_SMALL);
		ck_assert_int_eq(b[1].error, IPC_E_TOO_SMALL);
		ck_assert_int_eq(a[2].error, IPC_OK);
		ck_assert_uint_eq(sa.pending + sb.pending, 0);
		free(t);
	}
}
END_TEST

START_TEST(callback_errors_fail_both)
{
	static const int rcs[] = { IPC_E_TRANSFER, -IPC_E_TRANSFER, IPC_E_MISMATCH,
				   -IPC_E_TOO_SMALL, 77, -77, -2147483647 - 1 };
	static const int want[] = { IPC_E_TRANSFER, IPC_E_TRANSFER, IPC_E_MISMATCH,
				    IPC_E_TOO_SMALL, IPC_E_TRANSFER, IPC_E_TRANSFER,
				    IPC_E_TRANSFER };

	for (unsigned i = 0; i < ARRAY_SIZE(rcs); i++) {
		struct tctx *t = tctx_new();
		struct ipc_stream *s = stream_new(t);
		struct ipc_action x = act(IPC_RECV, 0, 8), y = act(IPC_SEND, 0, 8);
		struct ipc_submission sx, sy;

		t->transfer_rc = rcs[i];
		submit1(t, s, 0, &sx, &x);
		submit1(t, s, 1, &sy, &y);
		ck_assert_int_eq(x.error, want[i]);
		ck_assert_int_eq(y.error, want[i]);
		ck_assert_uint_eq(x.result_len + y.result_len, 0);
		free(t);
	}
	/* move_handle: rights not covered (the callback returns a negated code). */
	{
		struct tctx *t = tctx_new();
		struct ipc_stream *s = stream_new(t);
		struct ipc_action push[2] = { act(IPC_PUSH_HANDLE, 0, 0),
					      act(IPC_PUSH_HANDLE, 0, 0) };
		struct ipc_action pull[2] = { act(IPC_PULL_HANDLE, 0, 0),
					      act(IPC_PULL_HANDLE, 0, 0) };
		struct ipc_submission a, b;

		push[0].arg = 42;
		push[0].rights = 0x3;
		pull[0].rights = 0x1;
		push[1].arg = 43;
		push[1].rights = 0x1;
		pull[1].rights = 0x3;
		sub_init(&a, push, 2);
		sub_init(&b, pull, 2);
		ipc_submit(s, 1, &a, &ops, t);
		ipc_submit(s, 0, &b, &ops, t);
		ck_assert_int_eq(pull[0].error, IPC_OK);
		ck_assert_uint_eq(pull[0].arg, 42);
		ck_assert_int_eq(pull[1].error, IPC_E_TRANSFER);
		ck_assert_int_eq(push[1].error, IPC_E_TRANSFER);
		ck_assert_uint_eq(pull[1].arg, 0);
		free(t);
	}
}
END_TEST

START_TEST(callback_fault_rights_kept)
{
	/* 7 (IPC_E_FAULT) and 8 (IPC_E_RIGHTS), plain or negated, are kept on
	 * both sides by every callback; just above IPC_E_MAX is not. */
	static const int rcs[] = { IPC_E_FAULT, -IPC_E_FAULT, IPC_E_RIGHTS, -IPC_E_RIGHTS,
				   IPC_E_MAX + 1, -(IPC_E_MAX + 1), IPC_E_END };
	static const int want[] = { IPC_E_FAULT, IPC_E_FAULT, IPC_E_RIGHTS, IPC_E_RIGHTS,
				    IPC_E_TRANSFER, IPC_E_TRANSFER, IPC_E_END };

	for (unsigned i = 0; i < ARRAY_SIZE(rcs); i++) {
		for (unsigned kind = 0; kind < 3; kind++) {
			static const unsigned tx[3] = { IPC_SEND, IPC_PUSH_HANDLE, IPC_IMBUE_CREDS };
			static const unsigned ty[3] = { IPC_RECV, IPC_PULL_HANDLE,
							IPC_EXTRACT_CREDS };
			struct tctx *t = tctx_new();
			struct ipc_stream *s = stream_new(t);
			struct ipc_action x = act(tx[kind], 0, 4), y = act(ty[kind], 0, 4);
			struct ipc_submission sx, sy;

			x.rights = y.rights = 1;
			if (kind == 0)
				t->transfer_rc = rcs[i];
			else if (kind == 1)
				t->move_rc = rcs[i];
			else
				t->creds_rc = rcs[i];
			submit1(t, s, kind & 1, &sx, &x);
			submit1(t, s, (kind & 1) ^ 1, &sy, &y);
			ck_assert_uint_eq(t->transfers + t->moves + t->creds, 1);
			ck_assert_msg(x.error == want[i] && y.error == want[i],
				      "kind %u rc %d: %d/%d, want %d", kind, rcs[i], x.error,
				      y.error, want[i]);
			ck_assert_uint_eq(x.result_len + y.result_len, 0);
			ck_assert_uint_eq(sx.pending + sy.pending, 0);
			free(t);
		}
	}
}
END_TEST

START_TEST(null_callbacks)
{
	/* Optional callbacks: NULL transfer/move/creds succeed, NULL
	 * new_stream fails OFFER/ACCEPT with IPC_E_TRANSFER. */
	static const struct ipc_ops bare = { .done = cb_done };
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action x[5] = { act(IPC_SEND, 0, 3), act(IPC_PUSH_HANDLE, 0, 0),
				   act(IPC_IMBUE_CREDS, 0, 0), act(IPC_OFFER, 0, 0),
				   act(IPC_SEND, 1, 0) };
	struct ipc_action y[4] = { act(IPC_RECV, 0, 3), act(IPC_PULL_HANDLE, 0, 0),
				   act(IPC_EXTRACT_CREDS, 0, 0), act(IPC_ACCEPT, 0, 0) };
	struct ipc_submission sx, sy;

	sub_init(&sx, x, 5);
	sub_init(&sy, y, 4);
	ipc_submit(s, 0, &sx, &bare, t);
	ipc_submit(s, 1, &sy, &bare, t);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(x[i].error, IPC_OK);
	ck_assert_uint_eq(y[0].result_len, 3);
	ck_assert_int_eq(x[3].error, IPC_E_TRANSFER);
	ck_assert_int_eq(y[3].error, IPC_E_TRANSFER);
	ck_assert_int_eq(x[4].error, IPC_E_TRANSFER);
	ck_assert_uint_eq(sx.pending + sy.pending, 0);
	free(t);
}
END_TEST

/* --- DISMISS ---------------------------------------------------------------- */

START_TEST(dismiss_vs_each_type)
{
	for (unsigned ty = 1; ty <= IPC_TYPE_MAX; ty++) {
		for (unsigned dlane = 0; dlane < 2; dlane++) {
			struct tctx *t = tctx_new();
			struct ipc_stream *s = stream_new(t);
			/* The victim carries an ancillary chain when it can. */
			struct ipc_action v[3] = { act(ty, 0, 5), act(IPC_SEND, 1, 1),
						   act(IPC_RECV, 1, 1) };
			struct ipc_action d = act(IPC_DISMISS, 0, 0);
			struct ipc_submission sv, sd;
			unsigned nv = (ty == IPC_OFFER || ty == IPC_ACCEPT) ? 3 : 1;

			sub_init(&sv, v, nv);
			ipc_submit(s, dlane ^ 1, &sv, &ops, t);
			submit1(t, s, dlane, &sd, &d);
			ck_assert_int_eq(d.error, IPC_OK);
			ck_assert_int_eq(v[0].error, ty == IPC_DISMISS ? IPC_OK : IPC_E_DISMISSED);
			for (unsigned i = 1; i < nv; i++) {
				ck_assert_int_eq(v[i].error, IPC_E_DISMISSED);
				ck_assert_int_eq(done_at(t, &v[i]), (int)i + 1);
			}
			ck_assert_uint_eq(t->ndone, nv + 1);
			ck_assert_uint_eq(t->transfers + t->moves + t->creds, 0);
			ck_assert_uint_eq(t->new_stream_calls, 1);
			ck_assert_uint_eq(sv.pending + sd.pending, 0);
			free(t);
		}
	}
}
END_TEST

/* --- OFFER/ACCEPT and ancillary chains -------------------------------------- */

START_TEST(conversation_through_callbacks)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	char request[] = "GET /motd", reply_buf[64], inline_buf[128];
	char response[] = "hello from the server";
	struct ipc_action client[4] = {
		act(IPC_OFFER, 0, 0),
		act_buf(IPC_SEND, 1, request, sizeof(request)),
		act(IPC_IMBUE_CREDS, 1, 0),
		act_buf(IPC_RECV, 1, reply_buf, sizeof(reply_buf)),
	};
	struct ipc_action server[4] = {
		act(IPC_ACCEPT, 0, 0),
		act_buf(IPC_RECV_INLINE, 1, inline_buf, sizeof(inline_buf)),
		act(IPC_EXTRACT_CREDS, 1, 0),
		act_buf(IPC_SEND, 1, response, sizeof(response)),
	};
	struct ipc_submission cs, ss;

	client[2].arg = 1234;	/* the client's identity */
	memset(reply_buf, 0, sizeof(reply_buf));
	memset(inline_buf, 0, sizeof(inline_buf));
	ck_assert_int_eq(ipc_chain_check(client, 4), 0);
	ck_assert_int_eq(ipc_chain_check(server, 4), 0);

	/* The server waits first; the client arrives. */
	sub_init(&ss, server, 4);
	ipc_submit(s, 1, &ss, &ops, t);
	ck_assert_uint_eq(ss.pending, 4);
	ck_assert_uint_eq(server[0].state, IPC_ST_QUEUED);
	ck_assert_uint_eq(server[1].state, IPC_ST_NEW);	/* not posted yet */
	sub_init(&cs, client, 4);
	ipc_submit(s, 0, &cs, &ops, t);

	ck_assert_uint_eq(cs.pending, 0);
	ck_assert_uint_eq(ss.pending, 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(client[i].error, IPC_OK);
		ck_assert_int_eq(server[i].error, IPC_OK);
	}
	ck_assert_ptr_nonnull(client[0].child);
	ck_assert_ptr_eq(client[0].child, server[0].child);
	ck_assert_ptr_ne(client[0].child, s);
	ck_assert_ptr_eq(client[0].child->priv, t);	/* priv kept */
	ck_assert_str_eq(inline_buf, request);
	ck_assert_str_eq(reply_buf, response);
	ck_assert_uint_eq(server[2].arg, 1234);
	ck_assert_uint_eq(server[1].result_len, sizeof(request));
	ck_assert_uint_eq(client[3].result_len, sizeof(response));
	/* Parents first (lane 0 = client), then the pairs on the child. */
	ck_assert_ptr_eq(t->log[0], &client[0]);
	ck_assert_ptr_eq(t->log[1], &server[0]);
	for (int i = 1; i < 4; i++) {
		ck_assert_ptr_eq(t->log[2 * i], &client[i]);
		ck_assert_ptr_eq(t->log[2 * i + 1], &server[i]);
	}
	ck_assert_uint_eq(queue_len(&client[0].child->lane[0]), 0);
	ck_assert_uint_eq(queue_len(&client[0].child->lane[1]), 0);
	free(t);
}
END_TEST

START_TEST(offer_leftovers_wait_on_child)
{
	/* The OFFER side has more ancillaries than the ACCEPT side: the rest
	 * wait on lane 0 of the child and meet later submissions on lane 1. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[4] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1),
				   act(IPC_SEND, 1, 2), act(IPC_SEND, 1, 3) };
	struct ipc_action v[2] = { act(IPC_ACCEPT, 0, 0), act(IPC_RECV, 1, 8) };
	struct ipc_action later[3] = { act(IPC_RECV, 0, 8), act(IPC_RECV, 0, 8),
				       act(IPC_RECV, 0, 8) };
	struct ipc_submission cs, vs, ls;
	struct ipc_stream *child;

	sub_init(&cs, c, 4);
	sub_init(&vs, v, 2);
	ipc_submit(s, 0, &cs, &ops, t);
	ipc_submit(s, 1, &vs, &ops, t);
	child = c[0].child;
	ck_assert_ptr_nonnull(child);
	ck_assert_uint_eq(vs.pending, 0);
	ck_assert_uint_eq(cs.pending, 2);
	ck_assert_uint_eq(v[1].result_len, 1);
	ck_assert_uint_eq(queue_len(&child->lane[0]), 2);
	ck_assert_ptr_eq(child->lane[0].head, &c[2]);
	sub_init(&ls, later, 3);
	ipc_submit(child, 1, &ls, &ops, t);
	ck_assert_uint_eq(later[0].result_len, 2);
	ck_assert_uint_eq(later[1].result_len, 3);
	ck_assert_uint_eq(later[2].state, IPC_ST_QUEUED);
	ck_assert_uint_eq(cs.pending, 0);

	/* The other way round: only the ACCEPT side has ancillaries. */
	{
		struct ipc_action o = act(IPC_OFFER, 0, 0);
		struct ipc_action a[3] = { act(IPC_ACCEPT, 0, 0), act(IPC_SEND, 1, 4),
					   act(IPC_DISMISS, 1, 0) };
		struct ipc_action r[2] = { act(IPC_RECV, 0, 4), act(IPC_RECV, 0, 4) };
		struct ipc_submission os, as, rs;

		sub_init(&as, a, 3);
		ipc_submit(s, 0, &as, &ops, t);
		submit1(t, s, 1, &os, &o);
		ck_assert_int_eq(o.error, IPC_OK);
		ck_assert_uint_eq(os.pending, 0);
		child = o.child;
		/* ACCEPT side gets lane 1 even though it came on lane 0. */
		ck_assert_uint_eq(queue_len(&child->lane[1]), 2);
		ck_assert_uint_eq(queue_len(&child->lane[0]), 0);
		sub_init(&rs, r, 2);
		ipc_submit(child, 0, &rs, &ops, t);
		ck_assert_int_eq(r[0].error, IPC_OK);
		ck_assert_int_eq(r[1].error, IPC_E_DISMISSED);
		ck_assert_int_eq(a[2].error, IPC_OK);
	}
	free(t);
}
END_TEST

START_TEST(nested_depth_two)
{
	/* client: OFFER { OFFER { SEND RECV } PUSH_HANDLE IMBUE }
	 * server: ACCEPT { ACCEPT { RECV SEND } PULL_HANDLE EXTRACT } */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	char q[] = "inner request", a_buf[32], r_buf[32], answer[] = "inner answer";
	struct ipc_action c[6] = {
		act(IPC_OFFER, 0, 0), act(IPC_OFFER, 1, 0),
		act_buf(IPC_SEND, 2, q, sizeof(q)),
		act_buf(IPC_RECV, 2, r_buf, sizeof(r_buf)),
		act(IPC_PUSH_HANDLE, 1, 0), act(IPC_IMBUE_CREDS, 1, 0),
	};
	struct ipc_action v[6] = {
		act(IPC_ACCEPT, 0, 0), act(IPC_ACCEPT, 1, 0),
		act_buf(IPC_RECV_INLINE, 2, a_buf, sizeof(a_buf)),
		act_buf(IPC_SEND, 2, answer, sizeof(answer)),
		act(IPC_PULL_HANDLE, 1, 0), act(IPC_EXTRACT_CREDS, 1, 0),
	};
	struct ipc_submission cs, vs;

	c[4].arg = 7;
	c[4].rights = 0xff;
	v[4].rights = 0x0f;
	c[5].arg = 99;
	ck_assert_int_eq(ipc_chain_check(c, 6), 0);
	ck_assert_int_eq(ipc_chain_check(v, 6), 0);
	sub_init(&cs, c, 6);
	sub_init(&vs, v, 6);
	ipc_submit(s, 0, &cs, &ops, t);
	ipc_submit(s, 1, &vs, &ops, t);
	ck_assert_uint_eq(cs.pending + vs.pending, 0);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(c[i].error, IPC_OK);
		ck_assert_int_eq(v[i].error, IPC_OK);
	}
	ck_assert_ptr_eq(c[0].child, v[0].child);
	ck_assert_ptr_eq(c[1].child, v[1].child);
	ck_assert_ptr_ne(c[0].child, c[1].child);
	ck_assert_str_eq(a_buf, q);
	ck_assert_str_eq(r_buf, answer);
	ck_assert_uint_eq(v[4].arg, 7);
	ck_assert_uint_eq(v[5].arg, 99);
	/* Every ancillary completes after its parent. */
	for (int i = 1; i < 6; i++) {
		int parent = c[i].depth == 2 ? 1 : 0;

		ck_assert_int_lt(done_at(t, &c[parent]), done_at(t, &c[i]));
		ck_assert_int_lt(done_at(t, &v[parent]), done_at(t, &v[i]));
	}
	ck_assert_uint_eq(t->nstreams, 3);
	free(t);
}
END_TEST

START_TEST(nested_to_max_depth)
{
	/* OFFER ladders down to IPC_MAX_DEPTH, a transfer at the bottom and a
	 * sibling transfer at every level on the way back up. */
	enum { N = 2 * IPC_MAX_DEPTH + 1 };
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[N], v[N];
	struct ipc_submission cs, vs;
	unsigned n = 0;

	for (unsigned d = 0; d < IPC_MAX_DEPTH; d++, n++) {
		c[n] = act(IPC_OFFER, d, 0);
		v[n] = act(IPC_ACCEPT, d, 0);
	}
	c[n] = act(IPC_SEND, IPC_MAX_DEPTH, 100);
	v[n++] = act(IPC_RECV, IPC_MAX_DEPTH, 100);
	for (unsigned d = IPC_MAX_DEPTH - 1; d >= 1; d--, n++) {
		c[n] = act(IPC_RECV, d, 64);
		v[n] = act(IPC_SEND, d, d);
	}
	ck_assert_uint_eq(n, N - 1);
	ck_assert_int_eq(ipc_chain_check(c, n), 0);
	ck_assert_int_eq(ipc_chain_check(v, n), 0);
	sub_init(&cs, c, n);
	sub_init(&vs, v, n);
	ipc_submit(s, 1, &vs, &ops, t);
	ipc_submit(s, 0, &cs, &ops, t);
	ck_assert_uint_eq(cs.pending + vs.pending, 0);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(c[i].error, IPC_OK);
		ck_assert_int_eq(v[i].error, IPC_OK);
	}
	ck_assert_uint_eq(t->nstreams, 1 + IPC_MAX_DEPTH);
	ck_assert_uint_eq(c[IPC_MAX_DEPTH].result_len, 100);
	ck_assert_uint_eq(c[IPC_MAX_DEPTH + 1].result_len, IPC_MAX_DEPTH - 1);
	free(t);
}
END_TEST

START_TEST(ancillaries_fail_with_parent)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	/* OFFER { SEND OFFER { RECV } SEND } then a depth-0 SEND */
	struct ipc_action c[6] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1),
				   act(IPC_OFFER, 1, 0), act(IPC_RECV, 2, 9),
				   act(IPC_SEND, 1, 1), act(IPC_SEND, 0, 1) };
	struct ipc_action v[2] = { act(IPC_SEND, 0, 1), act(IPC_RECV, 0, 4) };
	struct ipc_submission cs, vs;

	sub_init(&cs, c, 6);
	ipc_submit(s, 0, &cs, &ops, t);
	ck_assert_uint_eq(c[1].state, IPC_ST_NEW);
	sub_init(&vs, v, 2);
	ipc_submit(s, 1, &vs, &ops, t);
	ck_assert_int_eq(c[0].error, IPC_E_MISMATCH);
	ck_assert_int_eq(v[0].error, IPC_E_MISMATCH);
	for (int i = 1; i < 5; i++) {
		ck_assert_int_eq(c[i].error, IPC_E_MISMATCH);
		ck_assert_ptr_null(c[i].child);
		/* in chain order, right after the parent and its partner */
		ck_assert_int_eq(done_at(t, &c[i]), i + 1);
	}
	ck_assert_int_eq(c[5].error, IPC_OK);	/* depth-0 sibling unaffected */
	ck_assert_int_eq(v[1].error, IPC_OK);
	ck_assert_uint_eq(t->new_stream_calls, 1);	/* only the test's own */
	ck_assert_uint_eq(t->transfers, 1);
	ck_assert_uint_eq(cs.pending + vs.pending, 0);
	free(t);
}
END_TEST

START_TEST(nested_mismatch_inside_child)
{
	/* The depth-0 pair succeeds; at depth 1 an OFFER meets a RECV: only
	 * the depth-2 ancillaries of that OFFER fail; later siblings go on. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[5] = { act(IPC_OFFER, 0, 0), act(IPC_OFFER, 1, 0),
				   act(IPC_SEND, 2, 1), act(IPC_DISMISS, 2, 0),
				   act(IPC_SEND, 1, 2) };
	struct ipc_action v[3] = { act(IPC_ACCEPT, 0, 0), act(IPC_RECV, 1, 8),
				   act(IPC_RECV, 1, 8) };
	struct ipc_submission cs, vs;

	sub_init(&cs, c, 5);
	sub_init(&vs, v, 3);
	ipc_submit(s, 0, &cs, &ops, t);
	ipc_submit(s, 1, &vs, &ops, t);
	ck_assert_int_eq(c[0].error, IPC_OK);
	ck_assert_int_eq(c[1].error, IPC_E_MISMATCH);
	ck_assert_int_eq(v[1].error, IPC_E_MISMATCH);
	ck_assert_int_eq(c[2].error, IPC_E_MISMATCH);
	ck_assert_int_eq(c[3].error, IPC_E_MISMATCH);
	ck_assert_int_eq(c[4].error, IPC_OK);
	ck_assert_uint_eq(v[2].result_len, 2);
	ck_assert_uint_eq(cs.pending + vs.pending, 0);
	free(t);
}
END_TEST

START_TEST(new_stream_failure)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[3] = { act(IPC_OFFER, 0, 0), act(IPC_OFFER, 1, 0),
				   act(IPC_SEND, 2, 1) };
	struct ipc_action v[2] = { act(IPC_ACCEPT, 0, 0), act(IPC_RECV, 1, 1) };
	struct ipc_submission cs, vs;

	t->fail_new_stream = true;
	sub_init(&cs, c, 3);
	sub_init(&vs, v, 2);
	ipc_submit(s, 1, &cs, &ops, t);
	ipc_submit(s, 0, &vs, &ops, t);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(c[i].error, IPC_E_TRANSFER);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(v[i].error, IPC_E_TRANSFER);
	ck_assert_ptr_null(c[0].child);
	ck_assert_ptr_null(v[0].child);
	/* lane-0 action (the ACCEPT) reported first, then its partner, then
	 * the ancillaries of the lane-0 side, then those of lane 1. */
	ck_assert_ptr_eq(t->log[0], &v[0]);
	ck_assert_ptr_eq(t->log[1], &c[0]);
	ck_assert_ptr_eq(t->log[2], &v[1]);
	ck_assert_ptr_eq(t->log[3], &c[1]);
	ck_assert_ptr_eq(t->log[4], &c[2]);
	free(t);
}
END_TEST

START_TEST(new_stream_lanes_reset)
{
	/* A recycled stream from new_stream comes back with clean lanes. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_stream *dirty = &t->pool[1];
	int tag;
	struct ipc_action junk = act(IPC_SEND, 0, 0);
	struct ipc_action c[2] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 3) };
	struct ipc_action v[2] = { act(IPC_ACCEPT, 0, 0), act(IPC_RECV, 1, 3) };
	struct ipc_submission cs, vs;

	ck_assert_uint_eq(t->nstreams, 1);
	dirty->lane[0].ended = dirty->lane[1].ended = true;
	dirty->lane[0].head = dirty->lane[0].tail = &junk;
	dirty->lane[1].stream = NULL;
	dirty->priv = &tag;
	t->raw_streams = true;
	sub_init(&cs, c, 2);
	sub_init(&vs, v, 2);
	ipc_submit(s, 0, &cs, &ops, t);
	ipc_submit(s, 1, &vs, &ops, t);
	ck_assert_ptr_eq(c[0].child, dirty);
	ck_assert_int_eq(c[1].error, IPC_OK);
	ck_assert_int_eq(v[1].error, IPC_OK);
	ck_assert_ptr_eq(dirty->lane[0].stream, dirty);
	ck_assert_ptr_eq(dirty->lane[1].stream, dirty);
	ck_assert_ptr_eq(dirty->priv, &tag);
	ck_assert_uint_eq(junk.state, IPC_ST_NEW);	/* never touched */
	free(t);
}
END_TEST

/* --- end of lane -------------------------------------------------------------- */

START_TEST(lane_end_fails_queued_and_later)
{
	for (unsigned qlane = 0; qlane < 2; qlane++) {
		for (unsigned elane = 0; elane < 2; elane++) {
			struct tctx *t = tctx_new();
			struct ipc_stream *s = stream_new(t);
			struct ipc_action q[5] = { act(IPC_SEND, 0, 1), act(IPC_OFFER, 0, 0),
						   act(IPC_SEND, 1, 1), act(IPC_RECV, 1, 1),
						   act(IPC_DISMISS, 0, 0) };
			struct ipc_action one = act(IPC_RECV, 0, 1);
			struct ipc_action l0[2] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1) };
			struct ipc_action l1 = act(IPC_DISMISS, 0, 0);
			struct ipc_submission qs, os, s0, s1;

			sub_init(&qs, q, 5);
			ipc_submit(s, qlane, &qs, &ops, t);
			submit1(t, s, qlane ^ 1, &os, &one);	/* takes q[0] */
			ck_assert_int_eq(q[0].error, IPC_OK);
			ck_assert_uint_eq(queue_len(&s->lane[qlane]), 2);
			ck_assert_uint_eq(qs.pending, 4);

			ipc_lane_end(s, elane, &ops, t);
			ck_assert(s->lane[0].ended && s->lane[1].ended);
			ck_assert_uint_eq(queue_len(&s->lane[0]) + queue_len(&s->lane[1]), 0);
			for (int i = 1; i < 5; i++) {
				ck_assert_int_eq(q[i].error, IPC_E_END);
				ck_assert_int_eq(done_at(t, &q[i]), i + 1);	/* queue order */
			}
			ck_assert_uint_eq(qs.pending, 0);

			/* Later posts on either lane fail at once, ancillaries too. */
			sub_init(&s0, l0, 2);
			ipc_submit(s, 0, &s0, &ops, t);
			submit1(t, s, 1, &s1, &l1);
			ck_assert_int_eq(l0[0].error, IPC_E_END);
			ck_assert_int_eq(l0[1].error, IPC_E_END);
			ck_assert_int_eq(l1.error, IPC_E_END);
			ck_assert_uint_eq(s0.pending + s1.pending, 0);
			ck_assert_uint_eq(t->ndone, 9);

			/* Ending again is harmless. */
			ipc_lane_end(s, elane ^ 1, &ops, t);
			ipc_lane_end(s, 7, &ops, t);
			ck_assert_uint_eq(t->ndone, 9);
			free(t);
		}
	}
}
END_TEST

START_TEST(lane_end_on_child_and_parent_independent)
{
	/* Ending a child stream fails the ancillaries waiting there but not
	 * the parent stream, and vice versa. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[3] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1),
				   act(IPC_RECV, 1, 1) };
	struct ipc_action v = act(IPC_ACCEPT, 0, 0);
	struct ipc_action w = act(IPC_SEND, 0, 0), x = act(IPC_RECV, 0, 0);
	struct ipc_submission cs, vs, ws, xs;
	struct ipc_stream *child;

	sub_init(&cs, c, 3);
	ipc_submit(s, 0, &cs, &ops, t);
	submit1(t, s, 1, &vs, &v);
	child = c[0].child;
	ck_assert_uint_eq(queue_len(&child->lane[0]), 2);
	ipc_lane_end(child, 1, &ops, t);
	ck_assert_int_eq(c[1].error, IPC_E_END);
	ck_assert_int_eq(c[2].error, IPC_E_END);
	ck_assert(!s->lane[0].ended && !s->lane[1].ended);
	submit1(t, s, 0, &ws, &w);
	submit1(t, s, 1, &xs, &x);
	ck_assert_int_eq(w.error, IPC_OK);
	ck_assert_int_eq(x.error, IPC_OK);
	free(t);
}
END_TEST

START_TEST(parent_end_leaves_child_alone)
{
	/* Ending the parent stream after the OFFER/ACCEPT matched leaves the
	 * child and the ancillaries waiting on it alone. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[2] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1) };
	struct ipc_action v = act(IPC_ACCEPT, 0, 0), r = act(IPC_RECV, 0, 1);
	struct ipc_submission cs, vs, rs;

	sub_init(&cs, c, 2);
	ipc_submit(s, 0, &cs, &ops, t);
	submit1(t, s, 1, &vs, &v);
	ipc_lane_end(s, 0, &ops, t);
	ck_assert_uint_eq(c[1].state, IPC_ST_QUEUED);
	submit1(t, c[0].child, 1, &rs, &r);
	ck_assert_int_eq(c[1].error, IPC_OK);
	ck_assert_int_eq(r.error, IPC_OK);
	free(t);
}
END_TEST

/* --- withdrawal ---------------------------------------------------------------- */

/* Withdraw a submission and check that it left its lane cleanly. */
/* Withdraw what can be (busy pairs stay pending). */
static void withdraw_keep(struct tctx *t, struct ipc_submission *sub)
{
	ipc_withdraw(sub, IPC_E_END, &ops, t);
}

static void withdraw(struct tctx *t, struct ipc_submission *sub, int err)
{
	ipc_withdraw(sub, err, &ops, t);
	ck_assert_uint_eq(sub->pending, 0);
}

START_TEST(withdraw_head_middle_tail)
{
	/* Five single SENDs wait on lane 0 (len = position + 1); one of them,
	 * at each position in turn, is withdrawn. A later SEND appends after
	 * the survivors, and RECVs on lane 1 meet them in FIFO order. */
	for (unsigned lane = 0; lane < 2; lane++) {
		for (unsigned w = 0; w < 5; w++) {
			struct tctx *t = tctx_new();
			struct ipc_stream *s = stream_new(t);
			struct ipc_action snd[6], rcv[6];
			struct ipc_submission ss[6], rs;
			struct ipc_lane *l = &s->lane[lane];
			unsigned k = 0;

			for (unsigned i = 0; i < 5; i++) {
				snd[i] = act(IPC_SEND, 0, i + 1);
				submit1(t, s, lane, &ss[i], &snd[i]);
			}
			ck_assert_uint_eq(queue_len(l), 5);
			withdraw(t, &ss[w], IPC_E_END);
			ck_assert_uint_eq(t->ndone, 1);
			ck_assert_ptr_eq(t->log[0], &snd[w]);
			ck_assert_int_eq(snd[w].error, IPC_E_END);
			ck_assert_uint_eq(snd[w].state, IPC_ST_DONE);
			ck_assert_ptr_null(snd[w].queued_on);
			ck_assert_ptr_null(snd[w].next);
			ck_assert_uint_eq(queue_len(l), 4);	/* also checks tail */
			ck_assert_ptr_eq(l->head, &snd[w == 0 ? 1 : 0]);
			ck_assert_ptr_eq(l->tail, &snd[w == 4 ? 3 : 4]);
			for (unsigned i = 0; i < 5; i++)
				if (i != w)
					ck_assert_ptr_eq(snd[i].queued_on, l);

			/* A new post appends after the (possibly new) tail. */
			snd[5] = act(IPC_SEND, 0, 6);
			submit1(t, s, lane, &ss[5], &snd[5]);
			ck_assert_ptr_eq(l->tail, &snd[5]);
			ck_assert_uint_eq(queue_len(l), 5);
			ck_assert_uint_eq(queue_len(&s->lane[lane ^ 1]), 0);

			/* The survivors meet the RECVs in order; nothing is
			 * left over on either lane. */
			for (unsigned i = 0; i < 6; i++)
				rcv[i] = act(IPC_RECV, 0, 8);
			sub_init(&rs, rcv, 5);
			ipc_submit(s, lane ^ 1, &rs, &ops, t);
			ck_assert_uint_eq(rs.pending, 0);
			for (unsigned i = 0; i < 6; i++) {
				if (i == w)
					continue;
				ck_assert_int_eq(snd[i].error, IPC_OK);
				ck_assert_uint_eq(rcv[k].result_len, i + 1);
				if (lane == 0)
					ck_assert_int_eq(done_at(t, &snd[i]) + 1,
							 done_at(t, &rcv[k]));
				else
					ck_assert_int_eq(done_at(t, &rcv[k]) + 1,
							 done_at(t, &snd[i]));
				k++;
			}
			ck_assert_uint_eq(k, 5);
			ck_assert_int_eq(snd[w].error, IPC_E_END);	/* untouched */
			ck_assert_uint_eq(t->ndone, 11);
			ck_assert_uint_eq(t->transfers, 5);
			ck_assert_uint_eq(queue_len(&s->lane[0]) + queue_len(&s->lane[1]), 0);
			ck_assert_ptr_null(s->lane[0].head);
			ck_assert_ptr_null(s->lane[1].tail);
			free(t);
		}
	}
}
END_TEST

START_TEST(withdraw_only_and_multi_action)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action one = act(IPC_RECV, 0, 4), again = act(IPC_RECV, 0, 4);
	struct ipc_action a = act(IPC_SEND, 0, 1), b = act(IPC_SEND, 0, 3);
	struct ipc_action w[3] = { act(IPC_SEND, 0, 2), act(IPC_SEND, 0, 2),
				   act(IPC_DISMISS, 0, 0) };
	struct ipc_action r[3] = { act(IPC_RECV, 0, 4), act(IPC_RECV, 0, 4),
				   act(IPC_RECV, 0, 4) };
	struct ipc_submission os, gs, as, bs, ws, rs, ls;
	struct ipc_action late = act(IPC_SEND, 0, 1);

	/* The only action of a lane: head and tail both go. */
	submit1(t, s, 1, &os, &one);
	withdraw(t, &os, IPC_E_END);
	ck_assert_ptr_null(s->lane[1].head);
	ck_assert_ptr_null(s->lane[1].tail);
	submit1(t, s, 1, &gs, &again);
	ck_assert_ptr_eq(s->lane[1].head, &again);
	ck_assert_ptr_eq(s->lane[1].tail, &again);
	submit1(t, s, 0, &ls, &late);
	ck_assert_int_eq(late.error, IPC_OK);
	ck_assert_int_eq(again.error, IPC_OK);
	ck_assert_int_eq(one.error, IPC_E_END);

	/* A, W[0..2], B on lane 0: withdraw W (three in the middle). */
	submit1(t, s, 0, &as, &a);
	sub_init(&ws, w, 3);
	ipc_submit(s, 0, &ws, &ops, t);
	submit1(t, s, 0, &bs, &b);
	ck_assert_uint_eq(queue_len(&s->lane[0]), 5);
	t->ndone = 0;
	withdraw(t, &ws, IPC_E_FAULT);
	ck_assert_uint_eq(t->ndone, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_eq(t->log[i], &w[i]);	/* chain order */
		ck_assert_int_eq(w[i].error, IPC_E_FAULT);
	}
	ck_assert_uint_eq(queue_len(&s->lane[0]), 2);
	ck_assert_ptr_eq(s->lane[0].head, &a);
	ck_assert_ptr_eq(a.next, &b);
	ck_assert_ptr_eq(s->lane[0].tail, &b);
	sub_init(&rs, r, 3);
	ipc_submit(s, 1, &rs, &ops, t);
	ck_assert_uint_eq(r[0].result_len, 1);
	ck_assert_uint_eq(r[1].result_len, 3);
	ck_assert_int_eq(r[1].error, IPC_OK);	/* not the withdrawn DISMISS */
	ck_assert_uint_eq(r[2].state, IPC_ST_QUEUED);
	ck_assert_ptr_eq(r[2].queued_on, &s->lane[1]);
	ipc_lane_end(s, 0, &ops, t);
	ck_assert_int_eq(r[2].error, IPC_E_END);
	free(t);
}
END_TEST

START_TEST(withdraw_queued_offer_fails_ancillaries)
{
	/* SEND (matched), OFFER { SEND OFFER { RECV } SEND } (waits), RECV
	 * (waits): the withdrawal reports the OFFER, its four never-posted
	 * descendants in chain order, then the RECV; the peer sees nothing. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[7] = { act(IPC_SEND, 0, 1), act(IPC_OFFER, 0, 0),
				   act(IPC_SEND, 1, 1), act(IPC_OFFER, 1, 0),
				   act(IPC_RECV, 2, 9), act(IPC_SEND, 1, 1),
				   act(IPC_RECV, 0, 4) };
	struct ipc_action p = act(IPC_RECV, 0, 4);
	struct ipc_action v[2] = { act(IPC_ACCEPT, 0, 0), act(IPC_RECV, 1, 4) };
	struct ipc_submission cs, ps, vs;

	submit1(t, s, 1, &ps, &p);
	sub_init(&cs, c, 7);
	ipc_submit(s, 0, &cs, &ops, t);
	ck_assert_int_eq(c[0].error, IPC_OK);
	ck_assert_uint_eq(c[1].state, IPC_ST_QUEUED);
	ck_assert_uint_eq(c[6].state, IPC_ST_QUEUED);
	for (int i = 2; i < 6; i++) {
		ck_assert_uint_eq(c[i].state, IPC_ST_NEW);
		ck_assert_ptr_null(c[i].queued_on);
	}
	ck_assert_uint_eq(cs.pending, 6);
	ck_assert_uint_eq(t->ndone, 2);

	withdraw(t, &cs, IPC_E_RIGHTS);
	ck_assert_uint_eq(t->ndone, 8);
	for (int i = 1; i < 7; i++) {
		ck_assert_int_eq(c[i].error, IPC_E_RIGHTS);
		ck_assert_uint_eq(c[i].state, IPC_ST_DONE);
		ck_assert_ptr_null(c[i].child);
		ck_assert_int_eq(done_at(t, &c[i]), i + 1);
	}
	ck_assert_int_eq(c[0].error, IPC_OK);	/* done before: kept */
	ck_assert_uint_eq(t->new_stream_calls, 1);	/* only the test's own */
	ck_assert_uint_eq(t->transfers, 1);
	ck_assert_uint_eq(queue_len(&s->lane[0]), 0);

	/* The stream goes on: an ACCEPT now waits instead of meeting the
	 * withdrawn OFFER. */
	sub_init(&vs, v, 2);
	ipc_submit(s, 1, &vs, &ops, t);
	ck_assert_uint_eq(v[0].state, IPC_ST_QUEUED);
	ck_assert_uint_eq(t->ndone, 8);
	ipc_lane_end(s, 0, &ops, t);
	ck_assert_int_eq(v[0].error, IPC_E_END);
	ck_assert_int_eq(v[1].error, IPC_E_END);
	free(t);
}
END_TEST

START_TEST(withdraw_ancillary_waiting_on_child)
{
	/* client OFFER { SEND RECV SEND } meets server ACCEPT { RECV }: the
	 * client's RECV and second SEND wait on lane 0 of the child. Withdrawn,
	 * only those two fail; the child and the parent stay usable. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_stream *child;
	struct ipc_action c[4] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 2),
				   act(IPC_RECV, 1, 8), act(IPC_SEND, 1, 3) };
	struct ipc_action v[2] = { act(IPC_ACCEPT, 0, 0), act(IPC_RECV, 1, 8) };
	struct ipc_action later_r = act(IPC_RECV, 0, 8), later_s = act(IPC_SEND, 0, 5);
	struct ipc_action ps = act(IPC_SEND, 0, 1), pr = act(IPC_RECV, 0, 1);
	struct ipc_submission cs, vs, lr, ls, pss, prs;

	sub_init(&vs, v, 2);
	ipc_submit(s, 1, &vs, &ops, t);
	sub_init(&cs, c, 4);
	ipc_submit(s, 0, &cs, &ops, t);
	child = c[0].child;
	ck_assert_ptr_nonnull(child);
	ck_assert_ptr_eq(v[0].child, child);
	ck_assert_uint_eq(vs.pending, 0);
	ck_assert_uint_eq(cs.pending, 2);
	ck_assert_int_eq(c[1].error, IPC_OK);
	ck_assert_ptr_eq(c[2].queued_on, &child->lane[0]);
	ck_assert_ptr_eq(c[3].queued_on, &child->lane[0]);
	ck_assert_uint_eq(queue_len(&child->lane[0]), 2);

	t->ndone = 0;
	withdraw(t, &cs, IPC_E_END);
	ck_assert_uint_eq(t->ndone, 2);
	ck_assert_ptr_eq(t->log[0], &c[2]);
	ck_assert_ptr_eq(t->log[1], &c[3]);
	ck_assert_int_eq(c[2].error, IPC_E_END);
	ck_assert_int_eq(c[3].error, IPC_E_END);
	ck_assert_int_eq(c[0].error, IPC_OK);
	ck_assert_int_eq(c[1].error, IPC_OK);
	ck_assert_ptr_eq(c[0].child, child);	/* done OFFER keeps its child */
	ck_assert_ptr_null(c[2].queued_on);
	ck_assert_uint_eq(queue_len(&child->lane[0]), 0);
	ck_assert(!child->lane[0].ended && !child->lane[1].ended);

	/* The server side of the child still works, both ways round. */
	submit1(t, child, 1, &lr, &later_r);
	ck_assert_uint_eq(later_r.state, IPC_ST_QUEUED);
	ck_assert_ptr_eq(later_r.queued_on, &child->lane[1]);
	submit1(t, child, 0, &ls, &later_s);
	ck_assert_int_eq(later_r.error, IPC_OK);
	ck_assert_uint_eq(later_r.result_len, 5);
	/* And so does the parent. */
	submit1(t, s, 0, &pss, &ps);
	submit1(t, s, 1, &prs, &pr);
	ck_assert_int_eq(pr.error, IPC_OK);
	free(t);
}
END_TEST

START_TEST(withdraw_parent_and_child_lanes)
{
	/* OFFER { RECV } SEND: the OFFER matches, its RECV waits on the
	 * child, the depth-0 SEND waits on the parent; both are withdrawn, in
	 * chain order, from their own lanes. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action c[3] = { act(IPC_OFFER, 0, 0), act(IPC_RECV, 1, 8),
				   act(IPC_SEND, 0, 1) };
	struct ipc_action v = act(IPC_ACCEPT, 0, 0);
	struct ipc_action other = act(IPC_SEND, 0, 7);
	struct ipc_submission cs, vs, os;
	struct ipc_stream *child;

	submit1(t, s, 1, &vs, &v);
	sub_init(&cs, c, 3);
	ipc_submit(s, 0, &cs, &ops, t);
	child = c[0].child;
	ck_assert_ptr_eq(c[1].queued_on, &child->lane[0]);
	ck_assert_ptr_eq(c[2].queued_on, &s->lane[0]);
	submit1(t, s, 0, &os, &other);	/* behind c[2] */
	t->ndone = 0;
	withdraw(t, &cs, -IPC_E_FAULT);
	ck_assert_uint_eq(t->ndone, 2);
	ck_assert_ptr_eq(t->log[0], &c[1]);
	ck_assert_ptr_eq(t->log[1], &c[2]);
	ck_assert_int_eq(c[1].error, IPC_E_FAULT);
	ck_assert_int_eq(c[2].error, IPC_E_FAULT);
	ck_assert_uint_eq(queue_len(&child->lane[0]), 0);
	ck_assert_uint_eq(queue_len(&s->lane[0]), 1);
	ck_assert_ptr_eq(s->lane[0].head, &other);
	free(t);
}
END_TEST

START_TEST(withdraw_error_codes)
{
	static const int errs[] = { IPC_OK, IPC_E_MISMATCH, IPC_E_END, IPC_E_TRANSFER,
				    IPC_E_FAULT, IPC_E_RIGHTS, -IPC_E_FAULT, -IPC_E_RIGHTS,
				    IPC_E_CANCELED, -IPC_E_CANCELED, IPC_E_MAX + 1, 99, -99, -(IPC_E_MAX + 1),
				    -2147483647 - 1, 2147483647 };
	static const int want[] = { IPC_E_END, IPC_E_MISMATCH, IPC_E_END, IPC_E_TRANSFER,
				    IPC_E_FAULT, IPC_E_RIGHTS, IPC_E_FAULT, IPC_E_RIGHTS,
				    IPC_E_CANCELED, IPC_E_CANCELED,
				    IPC_E_TRANSFER, IPC_E_TRANSFER, IPC_E_TRANSFER,
				    IPC_E_TRANSFER, IPC_E_TRANSFER, IPC_E_TRANSFER };

	ck_assert_int_eq(IPC_E_FAULT, 7);
	ck_assert_int_eq(IPC_E_RIGHTS, 8);
	ck_assert_int_eq(IPC_E_CANCELED, 9);
	ck_assert_int_eq(IPC_E_MAX, 9);
	for (unsigned i = 0; i < ARRAY_SIZE(errs); i++) {
		struct tctx *t = tctx_new();
		struct ipc_stream *s = stream_new(t);
		struct ipc_action c[3] = { act(IPC_ACCEPT, 0, 0), act(IPC_PULL_HANDLE, 1, 0),
					   act(IPC_RECV, 0, 1) };
		struct ipc_submission cs;

		sub_init(&cs, c, 3);
		ipc_submit(s, i & 1, &cs, &ops, t);
		withdraw(t, &cs, errs[i]);
		for (int j = 0; j < 3; j++) {
			ck_assert_msg(c[j].error == want[i], "err %d: action %d got %d, want %d",
				      errs[i], j, c[j].error, want[i]);
			ck_assert_ptr_eq(t->log[j], &c[j]);
		}
		ck_assert_uint_eq(t->ndone, 3);
		free(t);
	}
}
END_TEST

/* A transfer answered IPC_IN_PROGRESS leaves the matching: its pair stays
 * pending through end of lane and withdrawal, later pairs still match in
 * order, and ipc_transfer_end completes both once, lane 0 first. */
START_TEST(transfer_in_progress_ends_once)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action x[2] = { act(IPC_RECV, 0, 8), act(IPC_SEND, 0, 3) };
	struct ipc_action y[2] = { act(IPC_SEND, 0, 5), act(IPC_RECV, 0, 4) };
	struct ipc_submission xs, ys;

	sub_init(&xs, x, 2);
	sub_init(&ys, y, 2);
	ipc_submit(s, 0, &xs, &ops, t);
	t->transfer_rc = IPC_IN_PROGRESS;
	ipc_submit(s, 1, &ys, &ops, t);
	ck_assert_uint_eq(t->transfers, 2);
	ck_assert_uint_eq(t->ndone, 0);
	ck_assert_uint_eq(xs.pending + ys.pending, 4);
	ck_assert_int_eq(x[0].state, IPC_ST_BUSY);
	ck_assert_int_eq(y[1].state, IPC_ST_BUSY);
	ck_assert_ptr_eq(x[0].queued_on->stream, s);
	/* Neither an end of lane nor a withdrawal reaches a busy pair. */
	ipc_lane_end(s, 1, &ops, t);
	withdraw_keep(t, &xs);
	ck_assert_uint_eq(t->ndone, 0);
	/* The second pair ends first, with an error; then the first. */
	ipc_transfer_end(&y[1], -IPC_E_FAULT, &ops, t);
	ck_assert_uint_eq(t->ndone, 2);
	ck_assert_ptr_eq(t->log[0], &x[1]);	/* lane 0 first */
	ck_assert_ptr_eq(t->log[1], &y[1]);
	ck_assert_int_eq(x[1].error, IPC_E_FAULT);
	ck_assert_uint_eq(y[1].result_len, 0);
	ipc_transfer_end(&x[0], IPC_OK, &ops, t);
	ck_assert_uint_eq(t->ndone, 4);
	ck_assert_ptr_eq(t->log[2], &x[0]);
	ck_assert_ptr_eq(t->log[3], &y[0]);
	ck_assert_int_eq(y[0].error, IPC_OK);
	ck_assert_uint_eq(x[0].result_len, 5);
	ck_assert_uint_eq(y[0].result_len, 5);
	ck_assert_uint_eq(xs.pending + ys.pending, 0);
	free(t);
}
END_TEST

START_TEST(withdraw_finished_does_nothing)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action x[2] = { act(IPC_SEND, 0, 2), act(IPC_OFFER, 0, 0) };
	struct ipc_action y[2] = { act(IPC_RECV, 0, 2), act(IPC_RECV, 0, 0) };
	struct ipc_action bad[2] = { act(IPC_SEND, 1, 0), act(IPC_SEND, 0, 0) };
	struct ipc_action q = act(IPC_SEND, 0, 1);
	struct ipc_submission xs, ys, bs, qs;
	unsigned n;

	sub_init(&xs, x, 2);
	sub_init(&ys, y, 2);
	ipc_submit(s, 0, &xs, &ops, t);
	ipc_submit(s, 1, &ys, &ops, t);
	ck_assert_uint_eq(xs.pending + ys.pending, 0);
	sub_init(&bs, bad, 2);
	ipc_submit(s, 0, &bs, &ops, t);	/* malformed: IPC_E_CHAIN */
	ck_assert_uint_eq(bs.pending, 0);
	submit1(t, s, 1, &qs, &q);	/* waits, then ended */
	ipc_lane_end(s, 0, &ops, t);
	ck_assert_int_eq(q.error, IPC_E_END);
	n = t->ndone;
	ck_assert_uint_eq(n, 7);

	withdraw(t, &xs, IPC_E_FAULT);
	withdraw(t, &ys, IPC_OK);
	withdraw(t, &bs, IPC_E_RIGHTS);
	withdraw(t, &qs, IPC_E_FAULT);
	ck_assert_uint_eq(t->ndone, n);
	ck_assert_int_eq(x[0].error, IPC_OK);
	ck_assert_int_eq(x[1].error, IPC_E_MISMATCH);
	ck_assert_int_eq(y[0].error, IPC_OK);
	ck_assert_int_eq(bad[0].error, IPC_E_CHAIN);
	ck_assert_int_eq(q.error, IPC_E_END);

	/* Withdrawing twice: the second time does nothing either. */
	{
		struct ipc_action w = act(IPC_RECV, 0, 1);
		struct ipc_submission ws;
		struct ipc_stream *s2 = stream_new(t);

		submit1(t, s2, 0, &ws, &w);
		withdraw(t, &ws, IPC_E_FAULT);
		ck_assert_uint_eq(t->ndone, n + 1);
		withdraw(t, &ws, IPC_E_RIGHTS);
		ck_assert_uint_eq(t->ndone, n + 1);
		ck_assert_int_eq(w.error, IPC_E_FAULT);
	}
	free(t);
}
END_TEST

START_TEST(queued_on_and_child_lifecycle)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);

	/* Matched at once: never queued, union stays NULL. */
	{
		struct ipc_action a = act(IPC_SEND, 0, 1), b = act(IPC_RECV, 0, 1);
		struct ipc_submission as, bs;

		submit1(t, s, 1, &as, &a);
		ck_assert_ptr_eq(a.queued_on, &s->lane[1]);
		submit1(t, s, 0, &bs, &b);
		ck_assert_ptr_null(a.queued_on);	/* matched */
		ck_assert_ptr_null(b.queued_on);	/* never queued */
		ck_assert_ptr_null(a.child);
	}
	/* Queued on lane 0, then ended. */
	{
		struct ipc_stream *e = stream_new(t);
		struct ipc_action a[2] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1) };
		struct ipc_submission as;

		sub_init(&as, a, 2);
		ipc_submit(e, 0, &as, &ops, t);
		ck_assert_ptr_eq(a[0].queued_on, &e->lane[0]);
		ck_assert_ptr_null(a[1].queued_on);	/* NEW: on no lane */
		ipc_lane_end(e, 1, &ops, t);
		ck_assert_ptr_null(a[0].queued_on);
		ck_assert_ptr_null(a[0].child);	/* failed OFFER: no child */
		ck_assert_ptr_null(a[1].child);
	}
	/* Queued, then withdrawn. */
	{
		struct ipc_action a = act(IPC_ACCEPT, 0, 0);
		struct ipc_submission as;

		submit1(t, s, 1, &as, &a);
		ck_assert_ptr_eq(a.queued_on, &s->lane[1]);
		withdraw(t, &as, IPC_E_END);
		ck_assert_ptr_null(a.queued_on);
		ck_assert_ptr_null(a.child);
	}
	/* OFFER/ACCEPT success: both get the child, whose lanes the
	 * ancillaries then wait on (OFFER side lane 0, ACCEPT side lane 1). */
	{
		struct ipc_action o[2] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1) };
		struct ipc_action c[3] = { act(IPC_ACCEPT, 0, 0), act(IPC_RECV, 1, 1),
					   act(IPC_RECV, 1, 1) };
		struct ipc_action o2[3] = { act(IPC_OFFER, 0, 0), act(IPC_SEND, 1, 1),
					    act(IPC_SEND, 1, 1) };
		struct ipc_action c2 = act(IPC_ACCEPT, 0, 0);
		struct ipc_submission os, cs, os2, cs2;

		sub_init(&cs, c, 3);
		ipc_submit(s, 0, &cs, &ops, t);
		ck_assert_ptr_eq(c[0].queued_on, &s->lane[0]);
		sub_init(&os, o, 2);
		ipc_submit(s, 1, &os, &ops, t);
		ck_assert_ptr_nonnull(o[0].child);
		ck_assert_ptr_eq(o[0].child, c[0].child);
		ck_assert_ptr_ne(o[0].child, s);
		ck_assert_ptr_null(o[1].child);
		ck_assert_ptr_null(c[1].child);
		ck_assert_ptr_eq(c[2].queued_on, &o[0].child->lane[1]);
		withdraw(t, &cs, IPC_E_END);
		ck_assert_ptr_null(c[2].queued_on);
		ck_assert_ptr_nonnull(c[0].child);	/* a done ACCEPT keeps it */

		sub_init(&os2, o2, 3);
		ipc_submit(s, 0, &os2, &ops, t);
		submit1(t, s, 1, &cs2, &c2);
		ck_assert_ptr_eq(o2[0].child, c2.child);
		ck_assert_ptr_eq(o2[1].queued_on, &c2.child->lane[0]);
		ck_assert_ptr_eq(o2[2].queued_on, &c2.child->lane[0]);
		ipc_lane_end(c2.child, 0, &ops, t);
		ck_assert_ptr_null(o2[1].queued_on);
		ck_assert_ptr_null(o2[2].queued_on);
	}
	/* OFFER/ACCEPT failure: mismatch, new_stream failure, dismissed. */
	{
		struct ipc_action o = act(IPC_OFFER, 0, 0), m = act(IPC_OFFER, 0, 0);
		struct ipc_action a = act(IPC_ACCEPT, 0, 0), b = act(IPC_OFFER, 0, 0);
		struct ipc_action d = act(IPC_DISMISS, 0, 0), e = act(IPC_ACCEPT, 0, 0);
		struct ipc_submission s1, s2, s3, s4, s5, s6;

		submit1(t, s, 0, &s1, &o);
		submit1(t, s, 1, &s2, &m);
		ck_assert_int_eq(o.error, IPC_E_MISMATCH);
		ck_assert_ptr_null(o.child);
		ck_assert_ptr_null(m.child);
		t->fail_new_stream = true;
		submit1(t, s, 1, &s3, &a);
		submit1(t, s, 0, &s4, &b);
		ck_assert_int_eq(a.error, IPC_E_TRANSFER);
		ck_assert_ptr_null(a.child);
		ck_assert_ptr_null(b.child);
		t->fail_new_stream = false;
		submit1(t, s, 0, &s5, &e);
		submit1(t, s, 1, &s6, &d);
		ck_assert_int_eq(e.error, IPC_E_DISMISSED);
		ck_assert_ptr_null(e.child);
		ck_assert_ptr_null(d.child);
	}
	free(t);
}
END_TEST

/* --- chain checking ------------------------------------------------------------ */

START_TEST(chain_check_rules)
{
	struct ipc_action a[IPC_MAX_CHAIN + 1];

	for (unsigned i = 0; i <= IPC_MAX_CHAIN; i++)
		a[i] = act(IPC_SEND, 0, 0);
	ck_assert_int_eq(ipc_chain_check(a, 1), 0);
	ck_assert_int_eq(ipc_chain_check(a, IPC_MAX_CHAIN), 0);
	ck_assert_int_eq(ipc_chain_check(a, IPC_MAX_CHAIN + 1), CHAIN_E_COUNT);
	ck_assert_int_eq(ipc_chain_check(a, 0), CHAIN_E_COUNT);
	ck_assert_int_eq(ipc_chain_check(NULL, 1), CHAIN_E_COUNT);

	/* unknown types */
	a[3].type = 0;
	ck_assert_int_eq(ipc_chain_check(a, 4), CHAIN_E_TYPE);
	a[3].type = IPC_TYPE_MAX + 1;
	ck_assert_int_eq(ipc_chain_check(a, 4), CHAIN_E_TYPE);
	a[3].type = 0xffff;
	ck_assert_int_eq(ipc_chain_check(a, 4), CHAIN_E_TYPE);
	ck_assert_int_eq(ipc_chain_check(a, 3), 0);
	a[3].type = IPC_DISMISS;
	for (unsigned ty = 1; ty <= IPC_TYPE_MAX; ty++) {
		a[0].type = (uint16_t)ty;
		ck_assert_int_eq(ipc_chain_check(a, 4), 0);
	}

	/* ancillary without OFFER/ACCEPT */
	a[0] = act(IPC_SEND, 0, 0);
	a[1] = act(IPC_RECV, 1, 0);
	ck_assert_int_eq(ipc_chain_check(a, 2), CHAIN_E_ORPHAN);
	for (unsigned ty = 1; ty <= IPC_TYPE_MAX; ty++) {
		a[0].type = (uint16_t)ty;
		ck_assert_int_eq(ipc_chain_check(a, 2),
				 ty == IPC_OFFER || ty == IPC_ACCEPT ? 0 : CHAIN_E_ORPHAN);
	}
	/* a sibling at depth 1 after a nested chain is fine, a depth-2 action
	 * after a plain depth-1 one is not */
	{
		struct ipc_action b[6] = { act(IPC_OFFER, 0, 0), act(IPC_ACCEPT, 1, 0),
					   act(IPC_SEND, 2, 0), act(IPC_SEND, 1, 0),
					   act(IPC_RECV, 2, 0), act(IPC_SEND, 0, 0) };

		ck_assert_int_eq(ipc_chain_check(b, 4), 0);
		ck_assert_int_eq(ipc_chain_check(b, 5), CHAIN_E_ORPHAN);
		b[4].depth = 0;
		ck_assert_int_eq(ipc_chain_check(b, 6), 0);
		b[4].depth = 1;
		b[5].depth = 1;	/* back up from 2 to 1, then 1 again */
		ck_assert_int_eq(ipc_chain_check(b, 6), 0);
	}

	/* depth jumps, including a first action below depth 0 */
	a[0] = act(IPC_OFFER, 0, 0);
	a[1] = act(IPC_SEND, 2, 0);
	ck_assert_int_eq(ipc_chain_check(a, 2), CHAIN_E_JUMP);
	a[0] = act(IPC_OFFER, 1, 0);
	ck_assert_int_eq(ipc_chain_check(a, 1), CHAIN_E_JUMP);
	a[0] = act(IPC_OFFER, 0, 0);
	a[1] = act(IPC_OFFER, 1, 0);
	a[2] = act(IPC_SEND, 5, 0);
	ck_assert_int_eq(ipc_chain_check(a, 3), CHAIN_E_JUMP);

	/* depth up to IPC_MAX_DEPTH is fine, above it is not */
	for (unsigned d = 0; d <= IPC_MAX_DEPTH + 1; d++)
		a[d] = act(d & 1 ? IPC_ACCEPT : IPC_OFFER, d, 0);
	ck_assert_int_eq(ipc_chain_check(a, IPC_MAX_DEPTH + 1), 0);
	ck_assert_int_eq(ipc_chain_check(a, IPC_MAX_DEPTH + 2), CHAIN_E_DEPTH);
	a[1].depth = 255;
	ck_assert_int_eq(ipc_chain_check(a, 2), CHAIN_E_DEPTH);
}
END_TEST

START_TEST(submit_rejects_malformed)
{
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action bad[3] = { act(IPC_SEND, 0, 1), act(IPC_RECV, 1, 1),
				     act(IPC_SEND, 0, 1) };
	struct ipc_action good = act(IPC_RECV, 0, 1), good2 = act(IPC_RECV, 0, 1);
	struct ipc_submission bs, gs, g2;

	sub_init(&gs, &good, 1);
	ipc_submit(s, 1, &gs, &ops, t);	/* waits: nothing bad may meet it */
	sub_init(&bs, bad, 3);
	ipc_submit(s, 0, &bs, &ops, t);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(bad[i].error, IPC_E_CHAIN);
		ck_assert_int_eq(done_at(t, &bad[i]), i);
	}
	ck_assert_uint_eq(bs.pending, 0);
	ck_assert_uint_eq(good.state, IPC_ST_QUEUED);

	/* a well-formed chain but a lane other than 0 or 1 */
	{
		struct ipc_action ok[2] = { act(IPC_SEND, 0, 1), act(IPC_SEND, 0, 1) };

		sub_init(&bs, ok, 2);
		ipc_submit(s, 2, &bs, &ops, t);
		ck_assert_int_eq(ok[0].error, IPC_E_CHAIN);
		ck_assert_int_eq(ok[1].error, IPC_E_CHAIN);
		ck_assert_uint_eq(bs.pending, 0);
	}
	ck_assert_uint_eq(good.state, IPC_ST_QUEUED);

	/* count 0: nothing happens */
	sub_init(&g2, &good2, 0);
	ipc_submit(s, 0, &g2, &ops, t);
	ck_assert_uint_eq(g2.pending, 0);
	ck_assert_uint_eq(good2.state, IPC_ST_NEW);
	ck_assert_uint_eq(t->ndone, 5);
	free(t);
}
END_TEST

START_TEST(submit_resets_outputs)
{
	/* Stale output fields from a reused array are reset on submit. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_action a[2] = { act(IPC_SEND, 0, 2), act(IPC_SEND, 0, 2) };
	struct ipc_action r = act(IPC_RECV, 0, 2);
	struct ipc_submission as, rs;

	for (int i = 0; i < 2; i++) {
		a[i].state = IPC_ST_DONE;
		a[i].error = IPC_E_END;
		a[i].result_len = 999;
		a[i].child = s;
		a[i].index = 40;
		a[i].next = &r;
	}
	sub_init(&as, a, 2);
	ipc_submit(s, 0, &as, &ops, t);
	ck_assert_uint_eq(as.pending, 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(a[i].state, IPC_ST_QUEUED);
		ck_assert_uint_eq(a[i].index, i);
		ck_assert_ptr_eq(a[i].sub, &as);
		/* the stale child is gone: the union now names the lane */
		ck_assert_ptr_eq(a[i].queued_on, &s->lane[0]);
		ck_assert_uint_eq(a[i].result_len, 0);
	}
	ck_assert_ptr_null(a[1].next);
	submit1(t, s, 1, &rs, &r);
	ck_assert_int_eq(a[0].error, IPC_OK);
	ck_assert_ptr_null(a[0].child);
	ck_assert_uint_eq(a[1].state, IPC_ST_QUEUED);
	ipc_lane_end(s, 0, &ops, t);
	free(t);
}
END_TEST

/* --- lifetime: done() may free a finished submission ------------------------- */

struct heap_sub {
	struct ipc_submission sub;
	struct ipc_action a[];
};

static struct ipc_submission *heap_chain(unsigned n)
{
	struct heap_sub *h = calloc(1, sizeof(*h) + n * sizeof(struct ipc_action));

	REQUIRE(h);
	REQUIRE((void *)h == (void *)&h->sub);
	h->sub.actions = h->a;
	h->sub.count = n;
	return &h->sub;
}

/* A random well-formed chain of up to max actions. */
static unsigned random_chain(struct ipc_action *a, unsigned max)
{
	unsigned n = 1 + (unsigned)rng_below(max);

	for (unsigned i = 0; i < n; i++) {
		unsigned type = 1 + (unsigned)rng_below(IPC_TYPE_MAX);
		unsigned depth = 0;

		if (i) {
			unsigned pd = a[i - 1].depth;
			bool can_go_down = (a[i - 1].type == IPC_OFFER ||
					    a[i - 1].type == IPC_ACCEPT) &&
					   pd < IPC_MAX_DEPTH;

			if (can_go_down && rng_below(3))
				depth = pd + 1;
			else
				depth = (unsigned)rng_below(pd + 1);
		}
		a[i] = act(type, depth, rng_below(6));
		a[i].rights = (uint32_t)rng_below(4);
	}
	return n;
}

START_TEST(done_may_free_submission)
{
	/* Random chains on a few streams, each submission on the heap and
	 * freed by done() as soon as it finishes; ASan flags any later touch. */
	struct tctx *t = tctx_new();
	unsigned nsub = 0;

	t->free_done_subs = true;
	rng_seed(0xd0e5);
	for (unsigned i = 0; i < 4; i++)
		stream_new(t);
	for (unsigned round = 0; round < 20000; round++) {
		unsigned pick = (unsigned)rng_below(t->nstreams < 8 ? t->nstreams : 8);
		struct ipc_stream *s = &t->pool[t->nstreams - 1 - pick];

		if (rng_below(40) == 0) {
			ipc_lane_end(s, (unsigned)rng_below(2), &ops, t);
		} else {
			struct ipc_action tmp[12];
			unsigned n = random_chain(tmp, 12);
			struct ipc_submission *sub = heap_chain(n);

			memcpy(sub->actions, tmp, n * sizeof(tmp[0]));
			REQUIRE(ipc_chain_check(sub->actions, n) == 0);
			nsub++;
			ipc_submit(s, (unsigned)rng_below(2), sub, &ops, t);
		}
	}
	/* End everything: every submission finishes and is freed. */
	for (unsigned i = 0; i < t->nstreams; i++)
		ipc_lane_end(&t->pool[i], 0, &ops, t);
	ck_assert_uint_eq(t->freed, nsub);
	ck_assert_uint_eq(t->nstreams, POOL);	/* new_stream ran dry on the way */
	free(t);
}
END_TEST

START_TEST(withdraw_done_may_free)
{
	/* The withdrawal's last done() frees the submission: nothing of it
	 * may be read afterwards (ASan). Queued at the lane's tail, in the
	 * middle, on a child, with never-posted descendants last. */
	struct tctx *t = tctx_new();
	struct ipc_stream *s = stream_new(t);
	struct ipc_submission *w, *x, *peer;
	struct ipc_action *a;

	t->free_done_subs = true;
	/* Last action reported is a never-posted descendant. */
	w = heap_chain(4);
	a = w->actions;
	a[0] = act(IPC_SEND, 0, 1);
	a[1] = act(IPC_OFFER, 0, 0);
	a[2] = act(IPC_SEND, 1, 1);
	a[3] = act(IPC_OFFER, 1, 0);
	ipc_submit(s, 0, w, &ops, t);
	x = heap_chain(1);
	x->actions[0] = act(IPC_SEND, 0, 1);
	ipc_submit(s, 0, x, &ops, t);	/* behind w */
	ipc_withdraw(w, IPC_E_FAULT, &ops, t);
	ck_assert_uint_eq(t->freed, 1);
	ck_assert_uint_eq(t->ndone, 4);
	ck_assert_uint_eq(queue_len(&s->lane[0]), 1);
	ipc_withdraw(x, IPC_OK, &ops, t);	/* the only one left */
	ck_assert_uint_eq(t->freed, 2);
	ck_assert_uint_eq(queue_len(&s->lane[0]), 0);

	/* Last action reported waits on a child; its sibling on the parent
	 * comes first. */
	peer = heap_chain(1);
	peer->actions[0] = act(IPC_ACCEPT, 0, 0);
	ipc_submit(s, 1, peer, &ops, t);
	w = heap_chain(3);
	a = w->actions;
	a[0] = act(IPC_OFFER, 0, 0);
	a[1] = act(IPC_RECV, 1, 4);
	a[2] = act(IPC_RECV, 0, 4);
	ipc_submit(s, 0, w, &ops, t);
	ck_assert_uint_eq(t->freed, 3);	/* the ACCEPT's submission */
	ipc_withdraw(w, IPC_E_END, &ops, t);
	ck_assert_uint_eq(t->freed, 4);
	ck_assert_uint_eq(t->ndone, 9);
	ck_assert_uint_eq(queue_len(&s->lane[0]), 0);
	free(t);
}
END_TEST

START_TEST(withdraw_random_with_free)
{
	/* done_may_free_submission with withdrawals of random live
	 * submissions mixed in. */
	struct tctx *t = tctx_new();
	unsigned nsub = 0, withdrawn = 0;

	t->free_done_subs = true;
	rng_seed(0x3d1a);
	for (unsigned i = 0; i < 4; i++)
		stream_new(t);
	for (unsigned round = 0; round < 10000; round++) {
		unsigned pick = (unsigned)rng_below(t->nstreams < 8 ? t->nstreams : 8);
		struct ipc_stream *s = &t->pool[t->nstreams - 1 - pick];
		unsigned r = (unsigned)rng_below(40);

		if (r == 0) {
			ipc_lane_end(s, (unsigned)rng_below(2), &ops, t);
		} else if (r < 8 && t->nlive) {
			unsigned k = (unsigned)rng_below(t->nlive);
			struct ipc_submission *sub = t->live[k];
			unsigned before = t->ndone, pending;

			if (!sub)
				continue;
			pending = sub->pending;
			REQUIRE(pending > 0);	/* finished ones are freed */
			ipc_withdraw(sub, (int)rng_below(12) - 2, &ops, t);
			REQUIRE(t->ndone - before == pending);
			REQUIRE(t->live[k] == NULL);	/* freed by the last done() */
			withdrawn++;
		} else {
			struct ipc_action tmp[12];
			unsigned n = random_chain(tmp, 12);
			struct ipc_submission *sub = heap_chain(n);

			memcpy(sub->actions, tmp, n * sizeof(tmp[0]));
			nsub++;
			/* Register it (reusing freed slots) before it can finish. */
			{
				unsigned k = 0;

				while (k < t->nlive && t->live[k])
					k++;
				REQUIRE(k < LIVE_MAX);
				if (k == t->nlive)
					t->nlive++;
				t->live[k] = sub;
			}
			ipc_submit(s, (unsigned)rng_below(2), sub, &ops, t);
		}
		while (t->nlive && !t->live[t->nlive - 1])
			t->nlive--;
	}
	for (unsigned i = 0; i < t->nstreams; i++)
		ipc_lane_end(&t->pool[i], 0, &ops, t);
	ck_assert_uint_eq(t->freed, nsub);
	ck_assert_uint_gt(withdrawn, 50);
	for (unsigned i = 0; i < t->nlive; i++)
		ck_assert_ptr_null(t->live[i]);
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, fifo_order_both_sides);
	tcase_add_test(tc, fifo_interleaved_random);
	tcase_add_test(tc, submit_checked_matches_like_submit);
	tcase_add_test(tc, compat_table_all_pairs);
	tcase_add_test(tc, too_small_both_sides);
	tcase_add_test(tc, callback_errors_fail_both);
	tcase_add_test(tc, callback_fault_rights_kept);
	tcase_add_test(tc, null_callbacks);
	tcase_add_test(tc, dismiss_vs_each_type);
	tcase_add_test(tc, conversation_through_callbacks);
	tcase_add_test(tc, offer_leftovers_wait_on_child);
	tcase_add_test(tc, nested_depth_two);
	tcase_add_test(tc, nested_to_max_depth);
	tcase_add_test(tc, ancillaries_fail_with_parent);
	tcase_add_test(tc, nested_mismatch_inside_child);
	tcase_add_test(tc, new_stream_failure);
	tcase_add_test(tc, new_stream_lanes_reset);
	tcase_add_test(tc, lane_end_fails_queued_and_later);
	tcase_add_test(tc, lane_end_on_child_and_parent_independent);
	tcase_add_test(tc, parent_end_leaves_child_alone);
	tcase_add_test(tc, withdraw_head_middle_tail);
	tcase_add_test(tc, withdraw_only_and_multi_action);
	tcase_add_test(tc, withdraw_queued_offer_fails_ancillaries);
	tcase_add_test(tc, withdraw_ancillary_waiting_on_child);
	tcase_add_test(tc, withdraw_parent_and_child_lanes);
	tcase_add_test(tc, withdraw_error_codes);
	tcase_add_test(tc, withdraw_finished_does_nothing);
	tcase_add_test(tc, transfer_in_progress_ends_once);
	tcase_add_test(tc, queued_on_and_child_lifecycle);
	tcase_add_test(tc, chain_check_rules);
	tcase_add_test(tc, submit_rejects_malformed);
	tcase_add_test(tc, submit_resets_outputs);
	tcase_add_test(tc, done_may_free_submission);
	tcase_add_test(tc, withdraw_done_may_free);
	tcase_add_test(tc, withdraw_random_with_free);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
