/*
 * In-OS tests of IPC credentials tokens: EXTRACT_CREDS with
 * RL_IPC_WANT_TOKEN returns a token (RL_OBJ_CREDS) of the identity
 * extracted; IMBUE_CREDS with the token's handle makes the receiver's
 * EXTRACT see that identity and who forwarded it. Across three processes
 * (client -> this test -> a third server, and back), within one process,
 * and the errors: bad handles, wrong types, missing rights, bad flags,
 * and the token's reference dropped on every failure path.
 */
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

static struct rl_queue q;
static bool q_ready;

static struct rl_queue *Q(void)
{
	if (!q_ready) {
		TEST_EQ(rl_queue_init(&q, 16, 32), 0);
		q_ready = true;
	}
	return &q;
}

static uint64_t id_of(int64_t h)
{
	struct rl_handle_info info;

	TEST_EQ(rl_handle_info(h, &info), 0);
	return info.id;
}

/* Submit chains a (on lane la) and b (on lb) together; wait for both.
 * Returns the completions' results in ra, rb. The chains must differ:
 * the kernel reads them at queue_enter. */
static void pair(rl_handle_t la, const struct rl_chain *a, void *resa, int64_t *ra,
		 rl_handle_t lb, const struct rl_chain *b, void *resb, int64_t *rb)
{
	unsigned got = 0;

	TEST_EQ(rl_chain_prep(rl_get_sqe(Q()), la, a, resa, 1), 0);
	TEST_EQ(rl_chain_prep(rl_get_sqe(Q()), lb, b, resb, 2), 0);
	rl_submit_and_wait(Q(), 2, rl_clock_ns() + 5000000000ull);
	while (got < 2) {
		struct rl_cqe *e = rl_peek_cqe(Q());

		TEST_ASSERT(e != NULL);
		if (e->user_data == 1)
			*ra = e->result;
		else if (e->user_data == 2)
			*rb = e->result;
		else
			TEST_ASSERT(!"unexpected completion");
		rl_cqe_done(Q());
		got++;
	}
}

/* One chain, waited for: its completion's result. */
static int64_t call(rl_handle_t lane, const struct rl_chain *c, void *res)
{
	return rl_ipc_call(Q(), lane, c, res);
}

/* Imbue (a token, or ourselves with tok 0) on l[0], extract on l[1];
 * the extract's result in *x, the token handle if want_token. */
static struct rl_chain wa, wb;

static void imbue_extract(rl_handle_t l[2], rl_handle_t tok, bool want_token,
			  struct rl_ipc_result *x)
{
	struct rl_chain *a = &wa, *b = &wb;
	uint64_t ra[8], rb[8];
	int64_t r1 = 1, r2 = 1;

	rl_chain_init(a);
	if (tok)
		rl_chain_imbue_token(a, tok);
	else
		rl_chain_imbue(a);
	rl_chain_init(b);
	if (want_token)
		rl_chain_extract_token(b);
	else
		rl_chain_extract(b);
	pair(l[0], a, ra, &r1, l[1], b, rb, &r2);
	TEST_EQ(r1, 0);
	TEST_EQ(r2, 0);
	TEST_EQ(rl_ipc_result(ra, 0)->status, 0);
	*x = *rl_ipc_result(rb, 0);
	TEST_EQ(x->status, 0);
}

/* What the first use makes lazily, made before counting: our queue, the
 * runtime's queue and the initrd mapping (spawning), the static chains'
 * pages, a stream's family caches. */
static void warm_up(void)
{
	struct rl_ipc_result x;
	rl_handle_t l[2];
	size_t n;

	Q();
	/* The runtime's queue, and 48 KiB of stack: how deep spawning a
	 * peer goes is no test's doing. */
	rl_test_warm_up();
	TEST_ASSERT(rl_initrd_file("bin/ipc-test-peer", &n) != NULL);
	memset(&wa, 0, sizeof(wa));
	memset(&wb, 0, sizeof(wb));
	TEST_EQ(rl_stream(l), 0);
	imbue_extract(l, 0, true, &x);
	TEST_EQ(rl_handle_close(x.handle), 0);
	TEST_EQ(rl_handle_close(l[0]), 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
}

static uint64_t budget_used(void)
{
	struct rl_budget b;

	TEST_EQ(rl_process_budget(RL_SELF_PROCESS, &b), 0);
	return b.used;
}

/* Client C imbues to us; we keep a token; C exits; we forward the token
 * to server D, which sees C's ids forwarded by us, and forwards it back:
 * we see C's ids forwarded by D. */
DEFINE_TEST(forward_across_three_processes)
{
	struct rl_kcounters c0;
	struct rl_spawn_opts opts = { 0 };
	const char *cargv[] = { "ipc-test-peer", "imbue" };
	const char *dargv[] = { "ipc-test-peer", "forward" };
	struct rl_handle_info info;
	struct rl_chain *pc = &wa;
	uint64_t res[16], seen[4], cpid, ctid, me = id_of(RL_SELF_PROCESS);
	rl_handle_t l1[2], l2[2], tok, ct;
	int64_t cp, dp;
	struct rl_ipc_result *x;

	warm_up();
	rl_test_counters_settle(&c0);
	TEST_EQ(rl_stream(l1), 0);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l1[1], 0 } };
	opts.nhandles = 1;
	cp = rl_spawn_file("bin/ipc-test-peer", 2, cargv, &opts, &ct);
	TEST_ASSERT(cp > 0);
	TEST_EQ(rl_handle_close(l1[1]), 0);
	cpid = id_of(cp);
	ctid = id_of(ct);
	TEST_ASSERT(cpid != me);
	rl_chain_init(pc);
	rl_chain_extract_token(pc);
	TEST_EQ(call(l1[0], pc, res), 0);
	x = rl_ipc_result(res, 0);
	TEST_EQ(x->status, 0);
	TEST_EQ(x->offset, cpid);
	TEST_EQ(x->thread, ctid);
	TEST_EQ(x->length, 0);			/* imbued by C itself */
	tok = x->handle;
	TEST_ASSERT(tok > 0);
	TEST_EQ(rl_handle_info(tok, &info), 0);
	TEST_EQ(info.type, RL_OBJ_CREDS);
	TEST_EQ(info.rights, RL_RIGHT_TRANSFER | RL_RIGHT_DUP);
	TEST_EQ(info.size, 0);
	TEST_EQ(rl_process_wait((rl_handle_t)cp), 0);
	TEST_EQ(rl_handle_close(cp), 0);
	TEST_EQ(rl_handle_close(ct), 0);
	TEST_EQ(rl_handle_close(l1[0]), 0);

	/* The token outlives its client; D sees C, forwarded by us. */
	TEST_EQ(rl_stream(l2), 0);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l2[1], 0 } };
	opts.nhandles = 1;
	dp = rl_spawn_file("bin/ipc-test-peer", 2, dargv, &opts, NULL);
	TEST_ASSERT(dp > 0);
	TEST_EQ(rl_handle_close(l2[1]), 0);
	rl_chain_init(pc);
	rl_chain_imbue_token(pc, tok);
	TEST_EQ(call(l2[0], pc, res), 0);
	TEST_EQ(rl_ipc_result(res, 0)->status, 0);
	rl_chain_init(pc);
	rl_chain_recv(pc, seen, sizeof(seen));
	rl_chain_extract(pc);
	TEST_EQ(call(l2[0], pc, res), 0);
	TEST_EQ(rl_ipc_result(res, 0)->status, 0);
	TEST_EQ(rl_ipc_result(res, 0)->length, sizeof(seen));
	TEST_EQ(seen[0], cpid);
	TEST_EQ(seen[1], ctid);
	TEST_EQ(seen[2], me);			/* forwarded by us */
	TEST_EQ(seen[3], RL_OBJ_CREDS);
	x = rl_ipc_result(res, 1);
	TEST_EQ(x->status, 0);
	TEST_EQ(x->offset, cpid);		/* still C ... */
	TEST_EQ(x->thread, ctid);
	TEST_EQ(x->length, id_of(dp));		/* ... forwarded by D */
	TEST_EQ(x->handle, 0);			/* no token asked for */
	TEST_EQ(rl_process_wait((rl_handle_t)dp), 0);
	TEST_EQ(rl_handle_close(dp), 0);
	TEST_EQ(rl_handle_close(l2[0]), 0);
	TEST_EQ(rl_handle_close(tok), 0);
	rl_test_counters_expect_back_but_tables(&c0);
}

/* Within one process: a plain imbue is unchanged, a token of ourselves,
 * forwarded by ourselves; tokens move by PUSH/PULL and keep working;
 * the imbue right is TRANSFER. A token is charged to our budget. */
DEFINE_TEST(tokens_in_one_process)
{
	struct rl_kcounters c0;
	struct rl_ipc_result x;
	struct rl_chain *pa = &wa, *pb = &wb;
	uint64_t ra[8], rb[8], me = id_of(RL_SELF_PROCESS), my_thread = id_of(RL_SELF_THREAD);
	uint64_t u0, u1;
	rl_handle_t l[2], tok, weak, moved;
	int64_t r1, r2;

	warm_up();
	rl_test_counters_settle(&c0);
	TEST_EQ(rl_stream(l), 0);
	imbue_extract(l, 0, false, &x);
	TEST_EQ(x.offset, me);
	TEST_EQ(x.thread, my_thread);
	TEST_EQ(x.length, 0);
	TEST_EQ(x.handle, 0);

	u0 = budget_used();
	imbue_extract(l, 0, true, &x);
	u1 = budget_used();
	tok = x.handle;
	TEST_ASSERT(tok > 0);
	TEST_ASSERT(u1 > u0);			/* the token (and its handle) */
	TEST_EQ(x.offset, me);
	TEST_EQ(x.length, 0);

	imbue_extract(l, tok, false, &x);
	TEST_EQ(x.offset, me);
	TEST_EQ(x.thread, my_thread);
	TEST_EQ(x.length, me);			/* forwarded, by ourselves */

	/* Extracting a token from a forwarded imbue: the same identity. */
	imbue_extract(l, tok, true, &x);
	TEST_ASSERT(x.handle > 0 && x.handle != tok);
	TEST_EQ(id_of(x.handle), id_of(tok));	/* the same token object */
	TEST_EQ(rl_handle_close(x.handle), 0);

	/* Without TRANSFER: no imbue. TRANSFER alone is enough. */
	weak = (rl_handle_t)rl_handle_dup(tok, RL_RIGHT_DUP);
	TEST_ASSERT(weak > 0);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, weak);
	TEST_EQ(call(l[0], pa, ra), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	weak = (rl_handle_t)rl_handle_dup(tok, RL_RIGHT_TRANSFER);
	TEST_ASSERT(weak > 0);
	imbue_extract(l, weak, false, &x);
	TEST_EQ(x.offset, me);
	TEST_EQ(x.length, me);
	TEST_EQ(rl_handle_close(weak), 0);

	/* A token pushed and pulled is a token. */
	rl_chain_init(pa);
	rl_chain_push(pa, tok, RL_RIGHTS_ALL);
	rl_chain_init(pb);
	rl_chain_pull(pb, RL_RIGHT_TRANSFER);
	r1 = r2 = 1;
	pair(l[0], pa, ra, &r1, l[1], pb, rb, &r2);
	TEST_EQ(r1, 0);
	TEST_EQ(r2, 0);
	TEST_EQ(rl_ipc_result(rb, 0)->status, 0);
	moved = rl_ipc_result(rb, 0)->handle;
	TEST_ASSERT(moved > 0);
	TEST_EQ(rl_handle_close(tok), 0);
	imbue_extract(l, moved, false, &x);
	TEST_EQ(x.offset, me);
	TEST_EQ(x.thread, my_thread);
	TEST_EQ(rl_handle_close(moved), 0);
	TEST_EQ(budget_used(), u0);		/* the token is gone, and its charge */
	TEST_EQ(rl_handle_close(l[0]), 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
	rl_test_counters_expect_back(&c0);
}

/* Errors: bad handles, wrong types, bad flags and fields (all refused at
 * submission), and a token imbue that fails later (mismatch, end of
 * lane, a later action of its chain refused): no reference is left. */
DEFINE_TEST(token_errors)
{
	struct rl_kcounters c0;
	struct rl_ipc_result x;
	struct rl_chain *pa = &wa, *pb = &wb;
	uint64_t ra[8], rb[8];
	rl_handle_t l[2], tok;
	int64_t mo, r1, r2;

	warm_up();
	rl_test_counters_settle(&c0);
	TEST_EQ(rl_stream(l), 0);
	imbue_extract(l, 0, true, &x);
	tok = x.handle;
	TEST_ASSERT(tok > 0);
	mo = rl_memobj_create(4096, 0);
	TEST_ASSERT(mo > 0);

	rl_chain_init(pa);
	rl_chain_imbue_token(pa, 12345);
	TEST_EQ(call(l[0], pa, ra), -RILL_EBADF);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, -7);
	TEST_EQ(call(l[0], pa, ra), -RILL_EBADF);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, (rl_handle_t)mo);
	TEST_EQ(call(l[0], pa, ra), -RILL_EBADFD);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, RL_SELF_PROCESS);
	TEST_EQ(call(l[0], pa, ra), -RILL_EBADFD);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, l[0]);		/* a lane */
	TEST_EQ(call(l[0], pa, ra), -RILL_EBADFD);
	/* Flags: WANT_TOKEN only on EXTRACT, WANT_LANE not on it, nothing else. */
	rl_chain_init(pa);
	rl_chain_extract(pa);
	pa->act[0].flags = RL_IPC_WANT_LANE;
	TEST_EQ(call(l[0], pa, ra), -RILL_EINVAL);
	pa->act[0].flags = 0x04;
	TEST_EQ(call(l[0], pa, ra), -RILL_EINVAL);
	pa->act[0].flags = RL_IPC_WANT_TOKEN | RL_IPC_WANT_LANE;
	TEST_EQ(call(l[0], pa, ra), -RILL_EINVAL);
	pa->act[0].flags = RL_IPC_WANT_TOKEN;
	pa->act[0].handle = tok;			/* EXTRACT takes no handle */
	TEST_EQ(call(l[0], pa, ra), -RILL_EINVAL);
	rl_chain_init(pa);
	rl_chain_offer(pa, 0);
	pa->act[0].flags = RL_IPC_WANT_TOKEN;
	TEST_EQ(call(l[0], pa, ra), -RILL_EINVAL);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, tok);
	pa->act[0].flags = RL_IPC_WANT_TOKEN;
	TEST_EQ(call(l[0], pa, ra), -RILL_EINVAL);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, tok);
	pa->act[0].rights = RL_RIGHT_TRANSFER;
	TEST_EQ(call(l[0], pa, ra), -RILL_EINVAL);
	/* A good token imbue, then an action refused: the whole submission
	 * fails, the token's reference is dropped. */
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, tok);
	rl_chain_imbue_token(pa, (rl_handle_t)mo);
	TEST_EQ(call(l[0], pa, ra), -RILL_EBADFD);

	/* Matched with a receive: -EPROTO on both sides. */
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, tok);
	rl_chain_init(pb);
	rl_chain_recv_inline(pb, 16);
	r1 = r2 = 1;
	pair(l[0], pa, ra, &r1, l[1], pb, rb, &r2);
	TEST_EQ(rl_ipc_result(ra, 0)->status, -RILL_EPROTO);
	TEST_EQ(rl_ipc_result(rb, 0)->status, -RILL_EPROTO);
	/* An extract with WANT_TOKEN matched with a send: no token. */
	rl_chain_init(pa);
	rl_chain_send(pa, "x", 1);
	rl_chain_init(pb);
	rl_chain_extract_token(pb);
	pair(l[0], pa, ra, &r1, l[1], pb, rb, &r2);
	TEST_EQ(rl_ipc_result(rb, 0)->status, -RILL_EPROTO);
	TEST_EQ(rl_ipc_result(rb, 0)->handle, 0);
	/* Waiting when the peer's lane closes: -EPIPE. */
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, tok);
	TEST_EQ(rl_chain_prep(rl_get_sqe(Q()), l[0], pa, ra, 9), 0);
	TEST_EQ(rl_submit(Q()), 1);
	TEST_EQ(rl_handle_close(l[1]), 0);
	rl_submit_and_wait(Q(), 1, rl_clock_ns() + 5000000000ull);
	{
		struct rl_cqe *e = rl_peek_cqe(Q());

		TEST_ASSERT(e != NULL);
		TEST_EQ(e->user_data, 9);
		TEST_EQ(e->result, 0);
		rl_cqe_done(Q());
	}
	TEST_EQ(rl_ipc_result(ra, 0)->status, -RILL_EPIPE);
	TEST_EQ(rl_handle_close(l[0]), 0);

	/* A closed token's handle is gone. */
	TEST_EQ(rl_handle_close(tok), 0);
	TEST_EQ(rl_stream(l), 0);
	rl_chain_init(pa);
	rl_chain_imbue_token(pa, tok);
	TEST_EQ(call(l[0], pa, ra), -RILL_EBADF);
	TEST_EQ(rl_handle_close(l[0]), 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	/* Every reference dropped: the token object is freed. */
	rl_test_counters_expect_back(&c0);
}
