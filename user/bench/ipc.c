/*
 * ipc - IPC stream benchmarks (docs/ipc.md, docs/testing.md). Regions:
 *
 *   ipc_queue_action      queue 16,384 actions (256 submissions of 64
 *                         receives nobody answers); kernel_bytes_per_action
 *                         is the memory they took, from the free-page count
 *   ipc_conversation_mem  1,024 conversations held open mid-way (server
 *                         accepted, reply not sent); kernel_bytes_per_conv
 *                         for both sides together
 *   ipc_pingpong_1B       request/response round trips between two
 *   ipc_pingpong_4KiB     processes on one stream: the client submits
 *                         [SEND, RECV] and waits, the server [SEND reply,
 *                         RECV next] and waits: one queue_enter each
 *   ipc_inflight_<N>      N client processes, each with one conversation
 *                         [OFFER, SEND 8 B, RECV_INLINE 8 B] in flight at a
 *                         time, and one server thread (the seed's pattern:
 *                         accepts kept posted, each reply a SEND that closes
 *                         the conversation's lane); measured in the server:
 *                         server_syscalls_per_op, server_bytes_per_conv
 *   ipc_inflight_lanes_<N>  the same load over persistent lanes, the shape
 *                         of the Linux counterpart (a pipe pair per
 *                         client): each client first gets a lane of its
 *                         own (one OFFER/ACCEPT with RL_IPC_WANT_LANE on
 *                         both sides), then calls [SEND 8 B, RECV_INLINE
 *                         8 B] on it; the server answers each request with
 *                         one submission [SEND reply, RECV_INLINE next]
 *
 * The same program is the peers: "bench/ipc pong", "bench/ipc client",
 * "bench/ipc server <N> <requests>", "bench/ipc lclient", "bench/ipc
 * lserver <N> <requests>"; lanes come in handles[0].
 */
#include <rill/bench.h>
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>

#define PROG		"bench/ipc"
#define PINGS		2000
#define WARM		100

static unsigned num(const char *p)
{
	unsigned n = 0;

	while (*p >= '0' && *p <= '9')
		n = n * 10 + (unsigned)(*p++ - '0');
	return n;
}

static uint64_t free_pages(void)
{
	struct rl_kcounters c;

	rl_kcounters((uint64_t)&c, sizeof(c));
	return c.free_pages;
}

/* ---- peers ------------------------------------------------------------------------ */

/* Echo every message back, same length, until the lane ends. */
static int pong(rl_handle_t lane)
{
	static char buf[4096];
	char res[2 * 32];
	struct rl_chain c;
	struct rl_queue q;
	struct rl_cqe *e;
	uint64_t len = 0;

	if (rl_queue_init(&q, 4, 8) < 0)
		return 3;
	for (bool first = true;; first = false) {
		rl_chain_init(&c);
		if (!first)
			rl_chain_send(&c, buf, len);
		rl_chain_recv(&c, buf, sizeof(buf));
		rl_chain_prep(rl_get_sqe(&q), lane, &c, res, 0);
		rl_submit_and_wait(&q, 1, 0);
		while (!(e = rl_peek_cqe(&q)))
			rl_submit_and_wait(&q, 1, 0);
		rl_cqe_done(&q);
		if (rl_ipc_result(res, first ? 0 : 1)->status)
			return 0;	/* -EPIPE: the client is done */
		len = rl_ipc_result(res, first ? 0 : 1)->length;
	}
}

/* Conversations one after the other until the lane ends. */
static int client(rl_handle_t lane)
{
	char res[3 * 32 + 8];
	uint64_t req = 0;
	struct rl_chain c;
	struct rl_queue q;

	if (rl_queue_init(&q, 4, 8) < 0)
		return 3;
	for (;;) {
		rl_chain_init(&c);
		rl_chain_offer(&c, 0);
		rl_chain_send(&c, &req, 8);
		rl_chain_recv_inline(&c, 8);
		if (rl_ipc_call(&q, lane, &c, res) < 0 || rl_ipc_result(res, 0)->status)
			return 0;
		req++;
	}
}

/* What a server measures: warm-up requests first (2n + 16), then
 * `requests` requests inside the region, and the queue_enter calls it made
 * for them. */
struct meter {
	const char *name;		/* BENCHREGION name, without _<n> */
	unsigned n, requests;
	uint64_t slot_bytes;		/* server memory per conversation */
	uint64_t served, enters, t0, sys0;
	bool measuring;
};

/* One request served. True once the measured ones are all done: the region
 * is closed and its BENCHREGION line printed. */
static bool meter_served(struct meter *m)
{
	uint64_t t1, s1, per;

	m->served++;
	if (!m->measuring) {
		if (m->served == 2 * m->n + 16) {
			m->measuring = true;
			m->served = 0;
			m->enters = 0;
			m->sys0 = rl_bench_syscalls();
			m->t0 = rl_clock_ns();
			rl_bench_start();
		}
		return false;
	}
	if (m->served < m->requests)
		return false;
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	per = m->enters * 10000 / m->requests;
	rl_printf("BENCHREGION name=%s_%u iters=%u ns=%lu syscalls=%lu "
		  "server_syscalls_per_op=%lu.%04lu server_bytes_per_conv=%lu\n",
		  m->name, m->n, m->requests, t1 - m->t0, s1 - m->sys0 - 1, per / 10000,
		  per % 10000, (unsigned long)m->slot_bytes);
	return true;
}

struct slot {
	char res[2 * 32 + 8];		/* ACCEPT, RECV_INLINE 8 */
	uint64_t reply;
	char reply_res[32];
};

static int server(rl_handle_t lane, unsigned n, unsigned requests)
{
	unsigned nslots = n < 16 ? 16 : n;
	struct slot *slots = rl_alloc_pages(nslots * sizeof(*slots));
	struct meter m = { .name = "ipc_inflight", .n = n, .requests = requests,
			   .slot_bytes = sizeof(*slots) };
	struct rl_chain acc, rep;
	struct rl_queue q;

	if (!slots || rl_queue_init(&q, 2048, 4096) < 0)
		return 3;
	rl_chain_init(&acc);
	rl_chain_accept(&acc, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&acc, 8);
	for (unsigned i = 0; i < nslots; i++)
		rl_chain_prep(rl_get_sqe(&q), lane, &acc, slots[i].res, (uint64_t)i << 1);
	for (;;) {
		struct rl_cqe *e;

		rl_submit_and_wait(&q, 1, 0);
		m.enters++;
		while ((e = rl_peek_cqe(&q))) {
			unsigned i = (unsigned)(e->user_data >> 1);
			struct slot *s = &slots[i];
			struct rl_sqe *sq;

			if (e->user_data & 1) {
				rl_cqe_done(&q);
				continue;
			}
			rl_cqe_done(&q);
			if (rl_ipc_result(s->res, 0)->status)
				continue;	/* ended */
			memcpy(&s->reply, rl_ipc_inline(s->res, 1), 8);
			s->reply++;
			rl_chain_init(&rep);
			rl_chain_send(&rep, &s->reply, 8);
			sq = rl_get_sqe(&q);
			rl_chain_prep(sq, rl_ipc_result(s->res, 0)->handle, &rep, s->reply_res,
				      (uint64_t)i << 1 | 1);
			sq->arg[4] = RL_IPC_CLOSE_LANE;
			rl_chain_prep(rl_get_sqe(&q), lane, &acc, s->res, (uint64_t)i << 1);
			if (meter_served(&m)) {
				rl_submit(&q);	/* the last replies */
				rl_lane_shutdown(lane);
				return 0;
			}
		}
	}
}

/* A client on a lane of its own: one conversation opened once, then
 * requests one after the other on it until the lane ends. */
static int lclient(rl_handle_t lane)
{
	char res[2 * 32 + 8];
	uint64_t req = 0;
	struct rl_chain c;
	struct rl_queue q;
	rl_handle_t conv;

	if (rl_queue_init(&q, 4, 8) < 0)
		return 3;
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	if (rl_ipc_call(&q, lane, &c, res) < 0 || rl_ipc_result(res, 0)->status)
		return 0;
	conv = rl_ipc_result(res, 0)->handle;
	rl_chain_init(&c);
	rl_chain_send(&c, &req, 8);
	rl_chain_recv_inline(&c, 8);
	for (;;) {
		if (rl_ipc_call(&q, conv, &c, res) < 0 || rl_ipc_result(res, 0)->status)
			return 0;
		req++;
	}
}

struct lslot {
	rl_handle_t lane;
	uint64_t reply;
	char res[2 * 32 + 8];		/* ACCEPT; RECV_INLINE 8; SEND, RECV_INLINE 8 */
};

/* One server thread for n clients on lanes of their own. user_data: slot
 * << 2 | 0 accepted, 1 first request, 2 reply sent and next request. */
static int lserver(rl_handle_t lane, unsigned n, unsigned requests)
{
	struct lslot *slots = rl_alloc_pages(n * sizeof(*slots));
	struct meter m = { .name = "ipc_inflight_lanes", .n = n, .requests = requests,
			   .slot_bytes = sizeof(*slots) };
	struct rl_chain acc, first, next;
	struct rl_queue q;

	if (!slots || rl_queue_init(&q, 2048, 4096) < 0)
		return 3;
	rl_chain_init(&acc);
	rl_chain_accept(&acc, RL_IPC_WANT_LANE);
	rl_chain_init(&first);
	rl_chain_recv_inline(&first, 8);
	for (unsigned i = 0; i < n; i++)
		rl_chain_prep(rl_get_sqe(&q), lane, &acc, slots[i].res, (uint64_t)i << 2);
	for (;;) {
		struct rl_cqe *e;

		rl_submit_and_wait(&q, 1, 0);
		m.enters++;
		while ((e = rl_peek_cqe(&q))) {
			unsigned i = (unsigned)(e->user_data >> 2), kind = e->user_data & 3;
			struct lslot *s = &slots[i];

			rl_cqe_done(&q);
			if (rl_ipc_result(s->res, 0)->status || (kind == 2 &&
								 rl_ipc_result(s->res, 1)->status))
				continue;	/* ended */
			if (kind == 0) {
				s->lane = rl_ipc_result(s->res, 0)->handle;
				rl_chain_prep(rl_get_sqe(&q), s->lane, &first, s->res,
					      (uint64_t)i << 2 | 1);
				continue;
			}
			memcpy(&s->reply, rl_ipc_inline(s->res, kind == 1 ? 0 : 1), 8);
			s->reply++;
			rl_chain_init(&next);
			rl_chain_send(&next, &s->reply, 8);
			rl_chain_recv_inline(&next, 8);
			rl_chain_prep(rl_get_sqe(&q), s->lane, &next, s->res, (uint64_t)i << 2 | 2);
			if (meter_served(&m))
				return 0;	/* our lanes close: every client ends */
		}
	}
}

/* ---- the driver --------------------------------------------------------------------- */

static int queue_action_cost(void)
{
	static struct rl_chain c;
	static char res[256][64 * 32];
	char buf[8];
	struct rl_queue q;
	rl_handle_t l[2];
	uint64_t f0, f1, t0, t1, s0, s1;

	if (rl_queue_init(&q, 256, 512) < 0 || rl_stream(l) < 0)
		return 1;
	memset(res, 0, sizeof(res));
	rl_chain_init(&c);
	for (unsigned i = 0; i < 64; i++)
		rl_chain_recv(&c, buf, sizeof(buf));
	f0 = free_pages();
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (unsigned i = 0; i < 256; i++) {
		rl_chain_prep(rl_get_sqe(&q), l[0], &c, res[i], i);
		rl_submit(&q);
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	f1 = free_pages();
	rl_printf("BENCHREGION name=ipc_queue_action iters=16384 ns=%lu syscalls=%lu "
		  "kernel_bytes_per_action=%lu\n", t1 - t0, s1 - s0 - 1,
		  (unsigned long)((f0 - f1) * 4096 / 16384));
	rl_handle_close((uint64_t)l[1]);	/* ends them all */
	rl_submit_and_wait(&q, 256, 0);
	rl_handle_close((uint64_t)l[0]);
	return 0;
}

static int conversation_mem(void)
{
	enum { K = 1024 };
	static char cres[K][3 * 32 + 8], sres[K][2 * 32 + 8];
	struct rl_chain c, s;
	struct rl_queue cq, sq;
	rl_handle_t l[2];
	uint64_t f0, f1, t0, t1, s0, s1, req = 7;

	if (rl_queue_init(&cq, 2048, 4096) < 0 || rl_queue_init(&sq, 2048, 4096) < 0 ||
	    rl_stream(l) < 0)
		return 1;
	memset(cres, 0, sizeof(cres));
	memset(sres, 0, sizeof(sres));
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, &req, 8);
	rl_chain_recv_inline(&c, 8);
	rl_chain_init(&s);
	rl_chain_accept(&s, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&s, 8);
	f0 = free_pages();
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (unsigned i = 0; i < K; i++) {
		rl_chain_prep(rl_get_sqe(&cq), l[0], &c, cres[i], i);
		rl_chain_prep(rl_get_sqe(&sq), l[1], &s, sres[i], i);
		if ((i & 511) == 511) {
			rl_submit(&cq);
			rl_submit(&sq);
		}
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	f1 = free_pages();
	rl_printf("BENCHREGION name=ipc_conversation_mem iters=%u ns=%lu syscalls=%lu "
		  "kernel_bytes_per_conv=%lu\n", K, t1 - t0, s1 - s0 - 1,
		  (unsigned long)((f0 - f1) * 4096 / K));
	for (unsigned i = 0; i < K; i++) {
		struct rl_cqe *e;

		while (!(e = rl_peek_cqe(&sq)))
			rl_submit_and_wait(&sq, 1, 0);
		rl_handle_close((uint64_t)rl_ipc_result(sres[e->user_data], 0)->handle);
		rl_cqe_done(&sq);
	}
	rl_handle_close((uint64_t)l[0]);
	rl_handle_close((uint64_t)l[1]);
	rl_submit_and_wait(&cq, K, 0);
	return 0;
}

static int pingpong(size_t size, const char *name)
{
	static char msg[4096], back[4096];
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { PROG, "pong" };
	char res[2 * 32];
	struct rl_chain c;
	struct rl_queue q;
	rl_handle_t l[2];
	uint64_t t0 = 0, t1, s0 = 0, s1;
	int64_t p;

	if (rl_queue_init(&q, 4, 8) < 0 || rl_stream(l) < 0)
		return 1;
	opts.handles[0] = l[1];
	opts.initrd = rl_startup_info->initrd;
	p = rl_spawn_file(PROG, 2, argv, &opts, NULL);
	rl_handle_close((uint64_t)l[1]);
	if (p < 0)
		return 1;
	memset(msg, 'm', size);
	rl_chain_init(&c);
	rl_chain_send(&c, msg, size);
	rl_chain_recv(&c, back, sizeof(back));
	for (unsigned i = 0; i < WARM + PINGS; i++) {
		if (i == WARM) {
			s0 = rl_bench_syscalls();
			t0 = rl_clock_ns();
			rl_bench_start();
		}
		rl_chain_prep(rl_get_sqe(&q), l[0], &c, res, i);
		rl_submit_and_wait(&q, 1, 0);
		rl_cqe_done(&q);
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	if (rl_ipc_result(res, 1)->length != size || memcmp(msg, back, size)) {
		rl_printf("ipc: %s: wrong reply\n", name);
		return 1;
	}
	rl_printf("BENCHREGION name=%s iters=%u ns=%lu syscalls=%lu\n", name, PINGS, t1 - t0,
		  s1 - s0 - 1);
	rl_handle_close((uint64_t)l[0]);
	rl_process_wait((rl_handle_t)p);
	rl_handle_close((uint64_t)p);
	return 0;
}

static int inflight(unsigned n, bool lanes)
{
	static int64_t kids[512];
	struct rl_spawn_opts opts = { 0 };
	const char *cargv[] = { PROG, lanes ? "lclient" : "client" };
	char ns[16], rs[16];
	const char *sargv[] = { PROG, lanes ? "lserver" : "server", ns, rs };
	unsigned requests = n >= 64 ? 4096 : 2048;
	rl_handle_t l[2];
	int64_t srv;
	int bad = 0;

	if (rl_stream(l) < 0)
		return 1;
	rill_snprintf(ns, sizeof(ns), "%u", n);
	rill_snprintf(rs, sizeof(rs), "%u", requests);
	/* Clients first: their conversations wait until the server starts. */
	opts.handles[0] = l[0];
	for (unsigned i = 0; i < n; i++) {
		kids[i] = rl_spawn_file(PROG, 2, cargv, &opts, NULL);
		if (kids[i] < 0) {
			rl_printf("ipc: cannot start client %u (%ld)\n", i, (long)kids[i]);
			n = i;
			bad = 1;
			break;
		}
	}
	rl_handle_close((uint64_t)l[0]);
	opts.handles[0] = l[1];
	srv = rl_spawn_file(PROG, 4, sargv, &opts, NULL);
	rl_handle_close((uint64_t)l[1]);
	if (srv < 0)
		bad = 1;
	else if (rl_process_wait((rl_handle_t)srv) != 0)
		bad = 1;
	for (unsigned i = 0; i < n; i++) {
		rl_process_wait((rl_handle_t)kids[i]);
		rl_handle_close((uint64_t)kids[i]);
	}
	if (srv >= 0)
		rl_handle_close((uint64_t)srv);
	return bad;
}

int main(int argc, char **argv)
{
	rl_handle_t lane = rl_startup_info->handles[0];
	int bad = 0;

	if (argc > 1 && !strcmp(argv[1], "pong"))
		return pong(lane);
	if (argc > 1 && !strcmp(argv[1], "client"))
		return client(lane);
	if (argc > 3 && !strcmp(argv[1], "server"))
		return server(lane, num(argv[2]), num(argv[3]));
	if (argc > 1 && !strcmp(argv[1], "lclient"))
		return lclient(lane);
	if (argc > 3 && !strcmp(argv[1], "lserver"))
		return lserver(lane, num(argv[2]), num(argv[3]));
	bad |= queue_action_cost();
	bad |= conversation_mem();
	bad |= pingpong(1, "ipc_pingpong_1B");
	bad |= pingpong(4096, "ipc_pingpong_4KiB");
	bad |= inflight(1, false);
	bad |= inflight(8, false);
	bad |= inflight(64, false);
	bad |= inflight(512, false);
	bad |= inflight(1, true);
	bad |= inflight(8, true);
	bad |= inflight(64, true);
	bad |= inflight(512, true);
	return bad;
}
