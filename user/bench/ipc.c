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
 *                         server_syscalls_per_op, and server_bytes_per_conv,
 *                         the user pages its slot array took (the kernel's
 *                         user_pages count before and after its first
 *                         touch, every client waiting) per conversation
 *   ipc_inflight_lanes_<N>  the same load over persistent lanes, the shape
 *                         of the Linux counterpart (a pipe pair per
 *                         client): each client first gets a lane of its
 *                         own (one OFFER/ACCEPT with RL_IPC_WANT_LANE on
 *                         both sides), then calls [SEND 8 B, RECV_INLINE
 *                         8 B] on it; the server answers each request with
 *                         one submission [SEND reply, RECV_INLINE next]
 *
 * The same program is the peers: "bench/ipc pong", "bench/ipc client <id>",
 * "bench/ipc server <N> <requests>", "bench/ipc lclient <id>", "bench/ipc
 * lserver <N> <requests>"; lanes come by the name "lane". Client <id> numbers
 * its requests from id << 32, so a reply that reaches the wrong client
 * cannot pass for its own.
 *
 * A submission's action array is read when queue_enter consumes the entry
 * (docs/abi.md), so a server that prepares many replies before one
 * queue_enter keeps each reply's actions in its slot until then.
 *
 * Every call, every completion and every action's result is checked (its
 * status and length, and each reply's content), in every process: the
 * only error accepted is -EPIPE on a peer's lane once the other side has
 * finished (the end of a run). Anything else fails the process
 * (rl_bench_fail: "bench: FAIL ipc: <who>: <why>", status 1), and the
 * driver fails when a peer does. The checks inside regions are a compare
 * or two per completion; full reply contents are compared after a region.
 */
#include <stdarg.h>
#include <rill/bench.h>
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>

#define PROG		"bench/ipc"
#define PINGS		2000
#define WARM		100

static const char *who = "driver";	/* which process of bench/ipc */

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	rill_vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	rl_bench_fail("ipc", "%s: %s", who, why);
}

static unsigned num(const char *p)
{
	unsigned n = 0;

	while (*p >= '0' && *p <= '9')
		n = n * 10 + (unsigned)(*p++ - '0');
	return n;
}

static struct rl_kcounters counters(void)
{
	struct rl_kcounters c;
	int64_t r = rl_kcounters(&c, sizeof(c));

	if (r != sizeof(c))
		die("kcounters: %ld", (long)r);
	return c;
}

/* ---- checked queue and chain steps ---------------------------------------------- */

static void queue_init(struct rl_queue *q, uint32_t sq, uint32_t cq)
{
	int r = rl_queue_init(q, sq, cq);

	if (r < 0)
		die("queue_init(%u, %u): %d", sq, cq, r);
}

static struct rl_sqe *sqe(struct rl_queue *q)
{
	struct rl_sqe *e = rl_get_sqe(q);

	if (!e)
		die("submission ring full");
	return e;
}

static struct rl_sqe *prep(struct rl_queue *q, rl_handle_t lane, const struct rl_chain *c,
			   void *res, uint64_t user_data)
{
	struct rl_sqe *e = sqe(q);
	int r = rl_chain_prep(e, lane, c, res, user_data);

	if (r)
		die("chain_prep: %d", r);
	return e;
}

static void enter(struct rl_queue *q, uint32_t min)
{
	int64_t r = min ? rl_submit_and_wait(q, min, 0) : rl_submit(q);

	if (r < 0)
		die("queue_enter: %ld", (long)r);
}

/* The next completion (waiting for it). Its result must be 0: an IPC
 * submission fails as a whole only for a bad submission; each action's
 * own status is in the result buffer (docs/abi.md, IPC). */
static struct rl_cqe *next_cqe(struct rl_queue *q)
{
	struct rl_cqe *e;

	while (!(e = rl_peek_cqe(q)))
		enter(q, 1);
	if (e->result != 0)
		die("submission %lu completed with %ld", (unsigned long)e->user_data,
		    (long)e->result);
	return e;
}

/* Action i of a result buffer: status 0 and, unless len is ANY, len bytes. */
#define ANY	(~0ull)
static struct rl_ipc_result *ok(void *res, unsigned i, uint64_t len, const char *what)
{
	struct rl_ipc_result *r = rl_ipc_result(res, i);

	if (r->status != 0)
		die("%s: action %u: status %d", what, i, r->status);
	if (len != ANY && r->length != len)
		die("%s: action %u: %lu bytes, not %lu", what, i, (unsigned long)r->length,
		    (unsigned long)len);
	return r;
}

/* The end of a run: the other side finished, so this lane ended. */
static bool ended(void *res, unsigned i)
{
	return rl_ipc_result(res, i)->status == -RILL_EPIPE;
}

/* Any of the first n actions ended so (the others then did too, or had
 * finished before). Only a peer sees this: its server or driver checks
 * that the run itself completed. */
static bool any_ended(void *res, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ended(res, i))
			return true;
	return false;
}

static void spawn_failed(const char *what, int64_t r)
{
	die("cannot start %s (%ld)", what, (long)r);
}

/* Wait for a peer process: it must end with status 0. */
static void reap(int64_t p, const char *what)
{
	int64_t st = rl_process_wait((rl_handle_t)p);

	if (st != 0)
		die("%s ended with status %ld", what, (long)st);
	rl_handle_close(p);
}

/* ---- peers ------------------------------------------------------------------------ */

/* Echo every message back, same length, until the lane ends. */
static int pong(rl_handle_t lane)
{
	static char buf[4096];
	char res[2 * 32];
	struct rl_chain c;
	struct rl_queue q;
	uint64_t len = 0;

	who = "pong";
	queue_init(&q, 4, 8);
	for (bool first = true;; first = false) {
		unsigned last = first ? 0 : 1;

		rl_chain_init(&c);
		if (!first)
			rl_chain_send(&c, buf, len);
		rl_chain_recv(&c, buf, sizeof(buf));
		prep(&q, lane, &c, res, 0);
		next_cqe(&q);
		rl_cqe_done(&q);
		if (!first)
			ok(res, 0, len, "reply");
		if (ended(res, last))
			return 0;	/* the driver is done */
		len = ok(res, last, ANY, "request")->length;
	}
}

/* Conversations one after the other until the lane ends: each reply must
 * be the request plus one. */
static int client(rl_handle_t lane, uint64_t id)
{
	char res[3 * 32 + 8];
	uint64_t req = id << 32, ans;
	struct rl_chain c;
	struct rl_queue q;
	int64_t r;

	who = "client";
	queue_init(&q, 4, 8);
	for (;; req++) {
		rl_chain_init(&c);
		rl_chain_offer(&c, 0);
		rl_chain_send(&c, &req, 8);
		rl_chain_recv_inline(&c, 8);
		r = rl_ipc_call(&q, lane, &c, res);
		if (r < 0)
			die("ipc_call: %ld", (long)r);
		/* The server ends the stream (or its process) when done: a
		 * conversation not started, or one it never answered. */
		if (any_ended(res, 3))
			return 0;
		ok(res, 0, ANY, "offer");
		ok(res, 1, 8, "request");
		ok(res, 2, 8, "reply");
		memcpy(&ans, rl_ipc_inline(res, 2), 8);
		if (ans != req + 1)
			die("reply 0x%lx to request 0x%lx", (unsigned long)ans, (unsigned long)req);
	}
}

/* What a server measures: warm-up requests first (2n + 16), then
 * `requests` requests inside the region, and the queue_enter calls it made
 * for them. */
struct meter {
	const char *name;		/* BENCHREGION name, without _<n> */
	unsigned n, requests;
	uint64_t slot_bytes;		/* server memory per conversation, measured */
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

/* The server's slot array, zeroed (every page touched), and what it cost
 * in user pages: the kernel's count before and after, per conversation.
 * The count is the whole system's; the driver starts the server only once
 * every client waits in its first submission, so nothing else runs. */
static void *slots_alloc(size_t size, unsigned n, uint64_t *bytes_per_conv)
{
	void *p = rl_alloc_pages(size);
	uint64_t u0, u1;

	/* Mapped, not yet there (demand paging): the pages come with the
	 * first touch. Counted around that alone, as the first map may also
	 * bring the runtime's own queue into being. */
	if (!p)
		die("no memory for %lu bytes of slots", (unsigned long)size);
	u0 = counters().user_pages;
	memset(p, 0, size);
	u1 = counters().user_pages;
	*bytes_per_conv = (u1 - u0) * 4096 / n;
	return p;
}

struct slot {
	char res[2 * 32 + 8];		/* ACCEPT, RECV_INLINE 8 */
	uint64_t reply;
	char reply_res[32];
	struct rl_ipc_action reply_act;	/* read at the next queue_enter */
};

/* An entry for the chain c whose actions are kept in act (room for
 * c->count) until queue_enter consumes it: many entries prepared from one
 * chain variable before one queue_enter must not share its array. */
static struct rl_sqe *prep_kept(struct rl_queue *q, rl_handle_t lane, const struct rl_chain *c,
				struct rl_ipc_action *act, void *res, uint64_t user_data)
{
	struct rl_sqe *e = prep(q, lane, c, res, user_data);

	memcpy(act, c->act, c->count * sizeof(*act));
	e->arg[0] = (uint64_t)act;
	return e;
}

static int server(rl_handle_t lane, unsigned n, unsigned requests)
{
	unsigned nslots = n < 16 ? 16 : n;
	struct meter m = { .name = "ipc_inflight", .n = n, .requests = requests };
	struct slot *slots = slots_alloc(nslots * sizeof(*slots), n, &m.slot_bytes);
	struct rl_chain acc, rep;
	struct rl_queue q;
	int64_t r;

	who = "server";
	queue_init(&q, 2048, 4096);
	rl_chain_init(&acc);
	rl_chain_accept(&acc, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&acc, 8);
	for (unsigned i = 0; i < nslots; i++)
		prep(&q, lane, &acc, slots[i].res, (uint64_t)i << 1);
	for (;;) {
		struct rl_cqe *e;

		enter(&q, 1);
		m.enters++;
		while ((e = rl_peek_cqe(&q))) {
			unsigned i = (unsigned)(e->user_data >> 1);
			struct slot *s = &slots[i];

			if (e->result != 0)
				die("completion %lu: %ld", (unsigned long)e->user_data,
				    (long)e->result);
			/* A reply sent: its one action must not have failed
			 * (aux0 counts the failed actions). Its result buffer
			 * may already serve the slot's next reply. */
			if (e->user_data & 1) {
				if (e->aux[0])
					die("reply on slot %u failed", i);
				rl_cqe_done(&q);
				continue;
			}
			rl_cqe_done(&q);
			ok(s->res, 0, ANY, "accept");
			memcpy(&s->reply, rl_ipc_inline(s->res, 1), 8);
			ok(s->res, 1, 8, "request");
			s->reply++;
			rl_chain_init(&rep);
			rl_chain_send(&rep, &s->reply, 8);
			prep_kept(&q, rl_ipc_result(s->res, 0)->handle, &rep, &s->reply_act,
				  s->reply_res, (uint64_t)i << 1 | 1)->arg[4] = RL_IPC_CLOSE_LANE;
			prep(&q, lane, &acc, s->res, (uint64_t)i << 1);
			if (meter_served(&m)) {
				enter(&q, 0);	/* the last replies */
				r = rl_lane_shutdown(lane);
				if (r)
					die("lane_shutdown: %ld", (long)r);
				return 0;
			}
		}
	}
}

/* A client on a lane of its own: one conversation opened once, then
 * requests one after the other on it until the lane ends. */
static int lclient(rl_handle_t lane, uint64_t id)
{
	char res[2 * 32 + 8];
	uint64_t req = id << 32, ans;
	struct rl_chain c;
	struct rl_queue q;
	rl_handle_t conv;

	who = "lclient";
	queue_init(&q, 4, 8);
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	if (rl_ipc_call(&q, lane, &c, res) < 0)
		die("offer: ipc_call failed");
	conv = ok(res, 0, ANY, "offer")->handle;
	rl_chain_init(&c);
	rl_chain_send(&c, &req, 8);
	rl_chain_recv_inline(&c, 8);
	for (;; req++) {
		int64_t r = rl_ipc_call(&q, conv, &c, res);

		if (r < 0)
			die("ipc_call: %ld", (long)r);
		if (any_ended(res, 2))
			return 0;	/* the server is done: our lane ended */
		ok(res, 0, 8, "request");
		ok(res, 1, 8, "reply");
		memcpy(&ans, rl_ipc_inline(res, 1), 8);
		if (ans != req + 1)
			die("reply 0x%lx to request 0x%lx", (unsigned long)ans, (unsigned long)req);
	}
}

struct lslot {
	rl_handle_t lane;
	uint64_t reply;
	char res[2 * 32 + 8];		/* ACCEPT; RECV_INLINE 8; SEND, RECV_INLINE 8 */
	struct rl_ipc_action next_act[2];	/* read at the next queue_enter */
};

/* One server thread for n clients on lanes of their own. user_data: slot
 * << 2 | 0 accepted, 1 first request, 2 reply sent and next request. */
static int lserver(rl_handle_t lane, unsigned n, unsigned requests)
{
	struct meter m = { .name = "ipc_inflight_lanes", .n = n, .requests = requests };
	struct lslot *slots = slots_alloc(n * sizeof(*slots), n, &m.slot_bytes);
	struct rl_chain acc, first, next;
	struct rl_queue q;

	who = "lserver";
	queue_init(&q, 2048, 4096);
	rl_chain_init(&acc);
	rl_chain_accept(&acc, RL_IPC_WANT_LANE);
	rl_chain_init(&first);
	rl_chain_recv_inline(&first, 8);
	for (unsigned i = 0; i < n; i++)
		prep(&q, lane, &acc, slots[i].res, (uint64_t)i << 2);
	for (;;) {
		struct rl_cqe *e;

		enter(&q, 1);
		m.enters++;
		while ((e = rl_peek_cqe(&q))) {
			unsigned i = (unsigned)(e->user_data >> 2), kind = e->user_data & 3;
			struct lslot *s = &slots[i];

			if (e->result != 0)
				die("completion %lu: %ld", (unsigned long)e->user_data,
				    (long)e->result);
			rl_cqe_done(&q);
			if (kind == 0) {
				s->lane = ok(s->res, 0, ANY, "accept")->handle;
				prep(&q, s->lane, &first, s->res, (uint64_t)i << 2 | 1);
				continue;
			}
			if (kind == 2)
				ok(s->res, 0, 8, "reply");
			memcpy(&s->reply, rl_ipc_inline(s->res, kind == 1 ? 0 : 1), 8);
			ok(s->res, kind == 1 ? 0 : 1, 8, "request");
			s->reply++;
			rl_chain_init(&next);
			rl_chain_send(&next, &s->reply, 8);
			rl_chain_recv_inline(&next, 8);
			prep_kept(&q, s->lane, &next, s->next_act, s->res, (uint64_t)i << 2 | 2);
			if (meter_served(&m))
				return 0;	/* our lanes close: every client ends */
		}
	}
}

/* ---- the driver --------------------------------------------------------------------- */

static void queue_action_cost(void)
{
	static struct rl_chain c;
	static char res[256][64 * 32];
	char buf[8];
	struct rl_queue q;
	rl_handle_t l[2];
	uint64_t f0, f1, t0, t1, s0, s1, bad = 0;
	int64_t r;

	queue_init(&q, 256, 512);
	if ((r = rl_stream(l)) < 0)
		die("stream_create: %ld", (long)r);
	memset(res, 0, sizeof(res));
	rl_chain_init(&c);
	for (unsigned i = 0; i < 64; i++)
		rl_chain_recv(&c, buf, sizeof(buf));
	f0 = counters().free_pages;
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (unsigned i = 0; i < 256; i++) {
		prep(&q, l[0], &c, res[i], i);
		bad |= (uint64_t)(rl_submit(&q) ^ 1);
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	f1 = counters().free_pages;
	if (bad)
		die("ipc_queue_action: a submission was not consumed");
	rl_printf("BENCHREGION name=ipc_queue_action iters=16384 ns=%lu syscalls=%lu "
		  "kernel_bytes_per_action=%lu\n", t1 - t0, s1 - s0 - 1,
		  (unsigned long)((f0 - f1) * 4096 / 16384));
	rl_handle_close(l[1]);	/* ends them all: each action -EPIPE */
	for (unsigned i = 0; i < 256; i++) {
		struct rl_cqe *e = next_cqe(&q);

		if (e->aux[0] != 64)
			die("ipc_queue_action: %lu of 64 actions failed at the end",
			    (unsigned long)e->aux[0]);
		for (unsigned k = 0; k < 64; k++)
			if (!ended(res[e->user_data], k))
				die("ipc_queue_action: action %u ended with %d", k,
				    rl_ipc_result(res[e->user_data], k)->status);
		rl_cqe_done(&q);
	}
	rl_handle_close(l[0]);
	rl_handle_close(q.handle);
}

static void conversation_mem(void)
{
	enum { K = 1024 };
	static char cres[K][3 * 32 + 8], sres[K][2 * 32 + 8];
	struct rl_chain c, s;
	struct rl_queue cq, sq;
	rl_handle_t l[2];
	uint64_t f0, f1, t0, t1, s0, s1, req = 7, got;
	int64_t r;

	queue_init(&cq, 2048, 4096);
	queue_init(&sq, 2048, 4096);
	if ((r = rl_stream(l)) < 0)
		die("stream_create: %ld", (long)r);
	memset(cres, 0, sizeof(cres));
	memset(sres, 0, sizeof(sres));
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, &req, 8);
	rl_chain_recv_inline(&c, 8);
	rl_chain_init(&s);
	rl_chain_accept(&s, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&s, 8);
	f0 = counters().free_pages;
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (unsigned i = 0; i < K; i++) {
		prep(&cq, l[0], &c, cres[i], i);
		prep(&sq, l[1], &s, sres[i], i);
		if ((i & 511) == 511) {
			enter(&cq, 0);
			enter(&sq, 0);
		}
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	f1 = counters().free_pages;
	if (cq.to_submit || sq.to_submit)
		die("ipc_conversation_mem: submissions not consumed");
	rl_printf("BENCHREGION name=ipc_conversation_mem iters=%u ns=%lu syscalls=%lu "
		  "kernel_bytes_per_conv=%lu\n", K, t1 - t0, s1 - s0 - 1,
		  (unsigned long)((f0 - f1) * 4096 / K));
	/* Every conversation was accepted with its request: close each lane
	 * unanswered, then every client must see its reply's lane end. */
	for (unsigned i = 0; i < K; i++) {
		struct rl_cqe *e = next_cqe(&sq);
		char *res = sres[e->user_data];

		ok(res, 0, ANY, "accept");
		ok(res, 1, 8, "request");
		memcpy(&got, rl_ipc_inline(res, 1), 8);
		if (got != req)
			die("ipc_conversation_mem: request %lu, not %lu", (unsigned long)got,
			    (unsigned long)req);
		rl_handle_close(rl_ipc_result(res, 0)->handle);
		rl_cqe_done(&sq);
	}
	for (unsigned i = 0; i < K; i++) {
		struct rl_cqe *e = next_cqe(&cq);
		char *res = cres[e->user_data];

		ok(res, 0, ANY, "offer");
		ok(res, 1, 8, "request");
		if (!ended(res, 2))
			die("ipc_conversation_mem: unanswered reply ended with %d",
			    rl_ipc_result(res, 2)->status);
		rl_cqe_done(&cq);
	}
	rl_handle_close(l[0]);
	rl_handle_close(l[1]);
	rl_handle_close(cq.handle);
	rl_handle_close(sq.handle);
}

/* The first bytes of a message carry its round's number, so each reply is
 * checked in the region with a load and a compare (no call); the whole
 * contents after the region. */
static inline void stamp(char *msg, size_t size, uint64_t i)
{
	if (size >= 8)
		__builtin_memcpy(msg, &i, 8);
	else
		msg[0] = (char)i;
}

static inline uint64_t stamp_differs(const char *back, size_t size, uint64_t i)
{
	uint64_t v;

	if (size < 8)
		return (uint8_t)(back[0] ^ (char)i);
	__builtin_memcpy(&v, back, 8);
	return v ^ i;
}

static void pingpong(size_t size, const char *name)
{
	static char msg[4096], back[4096];
	struct rl_spawn_opts opts = { 0 };
	struct rl_spawn_handle hs[2];
	int64_t rd = rl_startup_handle(RL_NAME_INITRD);
	const char *argv[] = { PROG, "pong" };
	char res[2 * 32];
	struct rl_chain c;
	struct rl_queue q;
	rl_handle_t l[2];
	uint64_t t0 = 0, t1, s0 = 0, s1, bad = 0;
	int64_t p;

	queue_init(&q, 4, 8);
	if ((p = rl_stream(l)) < 0)
		die("stream_create: %ld", (long)p);
	hs[0] = (struct rl_spawn_handle){ "lane", l[1], 0 };
	hs[1] = (struct rl_spawn_handle){ RL_NAME_INITRD, (rl_handle_t)rd,
					  RL_RIGHT_READ | RL_RIGHT_DUP | RL_RIGHT_TRANSFER };
	opts.handles = hs;
	opts.nhandles = rd > 0 ? 2 : 1;
	p = rl_spawn_file(PROG, 2, argv, &opts, NULL);
	rl_handle_close(l[1]);
	if (p < 0)
		spawn_failed("pong", p);
	memset(msg, 'm', size);
	rl_chain_init(&c);
	rl_chain_send(&c, msg, size);
	rl_chain_recv(&c, back, sizeof(back));
	for (unsigned i = 0; i < WARM + PINGS; i++) {
		struct rl_cqe *e;

		if (i == WARM) {
			s0 = rl_bench_syscalls();
			t0 = rl_clock_ns();
			rl_bench_start();
		}
		stamp(msg, size, i);
		prep(&q, l[0], &c, res, i);
		e = next_cqe(&q);
		/* Both actions done, the whole message back, this round's. */
		bad |= e->aux[0] | (rl_ipc_result(res, 1)->length ^ size) |
		       stamp_differs(back, size, i);
		rl_cqe_done(&q);
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	ok(res, 0, size, name);
	ok(res, 1, size, name);
	if (bad || memcmp(msg, back, size))
		die("%s: a wrong reply", name);
	rl_printf("BENCHREGION name=%s iters=%u ns=%lu syscalls=%lu\n", name, PINGS, t1 - t0,
		  s1 - s0 - 1);
	rl_handle_close(l[0]);
	reap(p, "pong");
	rl_handle_close(q.handle);
}

static void inflight(unsigned n, bool lanes)
{
	static int64_t kids[512];
	struct rl_spawn_opts opts = { 0 };
	char ids[16];
	const char *cargv[] = { PROG, lanes ? "lclient" : "client", ids };
	char ns[16], rs[16];
	const char *sargv[] = { PROG, lanes ? "lserver" : "server", ns, rs };
	unsigned requests = n >= 64 ? 4096 : 2048;
	rl_handle_t l[2];
	uint64_t a0;
	int64_t srv;

	if ((srv = rl_stream(l)) < 0)
		die("stream_create: %ld", (long)srv);
	rill_snprintf(ns, sizeof(ns), "%u", n);
	rill_snprintf(rs, sizeof(rs), "%u", requests);
	/* Clients first: their conversations wait until the server starts,
	 * which is once they all do (OFFER, SEND, RECV_INLINE each; lane
	 * clients their OFFER), so the server measures its memory alone. */
	a0 = counters().ipc_actions;
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[0], 0 } };
	opts.nhandles = 1;
	for (unsigned i = 0; i < n; i++) {
		rill_snprintf(ids, sizeof(ids), "%u", i + 1);
		kids[i] = rl_spawn_file(PROG, 3, cargv, &opts, NULL);
		if (kids[i] < 0)
			spawn_failed(cargv[1], kids[i]);
	}
	rl_handle_close(l[0]);
	for (uint64_t end = rl_clock_ns() + 30000000000ull;
	     counters().ipc_actions != a0 + n * (lanes ? 1 : 3); rl_sleep_ns(1000000))
		if (rl_clock_ns() > end)
			die("%u %s: %lu IPC actions waiting, not %u", n, cargv[1],
			    (unsigned long)(counters().ipc_actions - a0), n * (lanes ? 1 : 3));
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[1], 0 } };
	opts.nhandles = 1;
	srv = rl_spawn_file(PROG, 4, sargv, &opts, NULL);
	rl_handle_close(l[1]);
	if (srv < 0)
		spawn_failed(sargv[1], srv);
	reap(srv, sargv[1]);
	for (unsigned i = 0; i < n; i++)
		reap(kids[i], cargv[1]);
}

int main(int argc, char **argv)
{
	rl_handle_t lane = (rl_handle_t)rl_startup_handle("lane");

	if (argc > 1 && !strcmp(argv[1], "pong"))
		return pong(lane);
	if (argc > 2 && !strcmp(argv[1], "client"))
		return client(lane, num(argv[2]));
	if (argc > 3 && !strcmp(argv[1], "server"))
		return server(lane, num(argv[2]), num(argv[3]));
	if (argc > 2 && !strcmp(argv[1], "lclient"))
		return lclient(lane, num(argv[2]));
	if (argc > 3 && !strcmp(argv[1], "lserver"))
		return lserver(lane, num(argv[2]), num(argv[3]));
	if (argc > 1)
		die("unknown role %s", argv[1]);
	queue_action_cost();
	conversation_mem();
	pingpong(1, "ipc_pingpong_1B");
	pingpong(4096, "ipc_pingpong_4KiB");
	inflight(1, false);
	inflight(8, false);
	inflight(64, false);
	inflight(512, false);
	inflight(1, true);
	inflight(8, true);
	inflight(64, true);
	inflight(512, true);
	return 0;
}
