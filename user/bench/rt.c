/*
 * rt - benchmarks of the asynchronous runtime (rill/rt.h, docs/runtime.md).
 * Regions:
 *
 *   rt_task_nop          a task spawned (detached), awaiting one NOP and
 *                        ending, 1,024 at a time on one loop (all their
 *                        NOPs go to the kernel in one queue_enter): the
 *                        instructions one short task costs, slots reused
 *                        (every slot was used once before the region)
 *   rt_await_raw         one NOP submitted and waited for, one after the
 *                        other: fill the entry, queue_enter (wait for 1),
 *                        reap (the raw rings)
 *   rt_await_task        the same from a task, rl_await: the runtime's
 *                        cost per await when nothing batches
 *   rt_yield             two tasks yielding in turn: per yield a switch to
 *                        the other task and half a loop turn (which makes
 *                        no system call: nothing to submit)
 *   rt_task_inflight     4,096 tasks spawned on a fresh loop, each waiting
 *                        in a TIMEOUT, until all are in the kernel; then
 *                        all cancelled. bytes_per_task: the free pages the
 *                        whole system lost meanwhile, per task (its stack
 *                        and struct, page tables, the kernel's waiting
 *                        operation and timer slot, its mapping);
 *                        user_bytes_per_task: user pages alone
 *   rt_ipc_raw_1B        request/response round trips between two
 *                        processes on one stream, the shape of bench/ipc's
 *                        ipc_pingpong_1B: the client submits [SEND, RECV]
 *                        on its queue and waits, the peer [SEND reply, RECV
 *                        next]; one queue_enter each
 *   rt_ipc_task_1B       the same round trip with both sides a task on a
 *                        loop (rl_await_ipc): the runtime's overhead is
 *                        this region over rt_ipc_raw_1B
 *
 * The peers are this program: "bench/rt pong" (raw) and "bench/rt
 * taskpong" (a task), the lane by the name "lane". Every completion, action
 * status and length and each reply's round number is checked; any error
 * fails the program (rl_bench_fail).
 */
#include <stdarg.h>
#include <rill/bench.h>
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>

#define PROG		"bench/rt"
#define PINGS		2000
#define WARM		100
#define NOP_TASKS	1024
#define NOP_ROUNDS	8
#define YIELDS		4096
#define INFLIGHT	4096
#define AWAITS		16384

static const char *who = "driver";

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	char why[160];
	va_list ap;

	va_start(ap, fmt);
	rill_vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	rl_bench_fail("rt", "%s: %s", who, why);
}

static struct rl_kcounters counters(void)
{
	struct rl_kcounters c;
	int64_t r = rl_kcounters(&c, sizeof(c));

	if (r != sizeof(c))
		die("kcounters: %ld", (long)r);
	return c;
}

static void loop_init(struct rl_loop *l, uint32_t sq, uint32_t cq)
{
	int r = rl_loop_init(l, sq, cq);

	if (r < 0)
		die("loop_init(%u, %u): %d", sq, cq, r);
}

static void loop_run(struct rl_loop *l)
{
	int64_t r = rl_loop_run(l);

	if (r)
		die("loop_run: %ld tasks left", (long)r);
}

/* ---- tasks ------------------------------------------------------------------------------ */

static uint64_t nop_bad;

static int64_t nop_task(void *arg)
{
	struct rl_sqe nop = { .opcode = RL_OP_NOP, .arg = { (uint64_t)arg } };

	nop_bad |= (uint64_t)rl_await(&nop, NULL) ^ (uint64_t)arg;
	return 0;
}

static void spawn_nops(struct rl_loop *l)
{
	for (uint64_t i = 0; i < NOP_TASKS; i++) {
		struct rl_task *t = rl_loop_spawn(l, nop_task, (void *)(i + 1));

		if (!t)
			die("spawn failed");
		rl_task_detach(t);
	}
}

static void task_nop(void)
{
	struct rl_loop l;
	uint64_t t0, t1, s0, s1;

	loop_init(&l, 1024, 2048);
	spawn_nops(&l);		/* every slot used once */
	loop_run(&l);
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (int r = 0; r < NOP_ROUNDS; r++) {
		spawn_nops(&l);
		loop_run(&l);
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	if (nop_bad)
		die("rt_task_nop: a NOP returned the wrong value");
	rl_printf("BENCHREGION name=rt_task_nop iters=%u ns=%lu syscalls=%lu turns_per_task=%lu.%04lu\n",
		  NOP_TASKS * NOP_ROUNDS, t1 - t0, s1 - s0 - 1,
		  l.turns / ((uint64_t)NOP_TASKS * (NOP_ROUNDS + 1)),
		  l.turns * 10000 / ((uint64_t)NOP_TASKS * (NOP_ROUNDS + 1)) % 10000);
	rl_loop_fini(&l);
}

static void await_raw(void)
{
	struct rl_queue q;
	uint64_t t0, t1, s0, s1, bad = 0;

	if (rl_queue_init(&q, 8, 16) < 0)
		die("queue_init");
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (uint64_t i = 0; i < AWAITS; i++) {
		struct rl_sqe *e = &q.sq[q.sq_tail++ & q.sq_mask];
		struct rl_cqe *c;

		*e = (struct rl_sqe){ .opcode = RL_OP_NOP, .user_data = i, .arg = { i } };
		while (!(c = rl_peek_cqe(&q)))
			bad |= rl_submit_and_wait(&q, 1, 0) != 1;
		bad |= (uint64_t)c->result ^ i;
		rl_cqe_done(&q);
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	if (bad)
		die("rt_await_raw: a NOP went wrong");
	rl_printf("BENCHREGION name=rt_await_raw iters=%u ns=%lu syscalls=%lu\n", AWAITS, t1 - t0,
		  s1 - s0 - 1);
	rl_handle_close(q.handle);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size);
}

static struct {
	uint64_t t0, t1, s0, s1, bad;
} aw;

static int64_t awaiter(void *arg)
{
	aw.s0 = rl_bench_syscalls();
	aw.t0 = rl_clock_ns();
	rl_bench_start();
	for (uint64_t i = 0; i < AWAITS; i++) {
		struct rl_sqe nop = { .opcode = RL_OP_NOP, .arg = { i } };

		aw.bad |= (uint64_t)rl_await(&nop, NULL) ^ i;
	}
	rl_bench_stop();
	aw.t1 = rl_clock_ns();
	aw.s1 = rl_bench_syscalls();
	return 0;
}

static void await_task(void)
{
	struct rl_loop l;

	loop_init(&l, 8, 16);
	if (!rl_loop_spawn(&l, awaiter, NULL))
		die("spawn failed");
	loop_run(&l);
	if (aw.bad)
		die("rt_await_task: a NOP went wrong");
	rl_printf("BENCHREGION name=rt_await_task iters=%u ns=%lu syscalls=%lu\n", AWAITS,
		  aw.t1 - aw.t0, aw.s1 - aw.s0 - 1);
	rl_loop_fini(&l);
}

static int64_t yielder(void *arg)
{
	for (int i = 0; i < YIELDS / 2; i++)
		rl_task_yield();
	return 0;
}

static void yield_cost(void)
{
	struct rl_loop l;
	uint64_t t0, t1, s0, s1, turns0;

	loop_init(&l, 8, 16);
	if (!rl_loop_spawn(&l, yielder, NULL) || !rl_loop_spawn(&l, yielder, NULL))
		die("spawn failed");
	turns0 = l.turns;
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	loop_run(&l);
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	/* A turn with nothing to submit and tasks runnable enters nothing. */
	if (l.turns != turns0)
		die("rt_yield: %lu queue_enter calls", (unsigned long)(l.turns - turns0));
	rl_printf("BENCHREGION name=rt_yield iters=%u ns=%lu syscalls=%lu\n", YIELDS, t1 - t0,
		  s1 - s0 - 1);
	rl_loop_fini(&l);
}

static struct {
	uint64_t deadline;
	uint32_t cancelled, waiting;
	struct rl_task *tasks[INFLIGHT];
} inf;

static int64_t far_sleeper(void *arg)
{
	inf.waiting++;
	if (rl_sleep_until(inf.deadline) == -RILL_ECANCELED)
		inf.cancelled++;
	return 0;
}

/* Spawned last: runs once every sleeper has filled its entry, yields so
 * that the next queue_enter takes them all, and stops the region. */
static struct rl_kcounters inf_after;
static uint64_t inf_t1, inf_s1;

static int64_t inflight_census(void *arg)
{
	rl_task_yield();
	rl_bench_stop();
	inf_t1 = rl_clock_ns();
	inf_s1 = rl_bench_syscalls();
	inf_after = counters();
	for (int i = 0; i < INFLIGHT; i++)
		rl_task_cancel(inf.tasks[i]);
	return 0;
}

static void inflight_cost(void)
{
	struct rl_kcounters before;
	struct rl_loop l;
	uint64_t t0, s0, ops;

	loop_init(&l, 4096, 8192);
	inf.deadline = rl_clock_ns() + 3600000000000ull;	/* an hour: never */
	before = counters();
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (int i = 0; i < INFLIGHT; i++) {
		inf.tasks[i] = rl_loop_spawn(&l, far_sleeper, NULL);
		if (!inf.tasks[i])
			die("spawn %d failed", i);
		rl_task_detach(inf.tasks[i]);
	}
	if (!rl_loop_spawn(&l, inflight_census, NULL))
		die("spawn failed");
	loop_run(&l);
	ops = inf_after.queue_ops - before.queue_ops;
	if (inf.waiting != INFLIGHT || inf.cancelled != INFLIGHT || ops != INFLIGHT)
		die("rt_task_inflight: %u waited, %u cancelled, %lu in the kernel", inf.waiting,
		    inf.cancelled, (unsigned long)ops);
	rl_printf("BENCHREGION name=rt_task_inflight iters=%u ns=%lu syscalls=%lu "
		  "bytes_per_task=%lu user_bytes_per_task=%lu\n", INFLIGHT, inf_t1 - t0,
		  inf_s1 - s0 - 1,
		  (unsigned long)((before.free_pages - inf_after.free_pages) * 4096 / INFLIGHT),
		  (unsigned long)((inf_after.user_pages - before.user_pages) * 4096 / INFLIGHT));
	rl_loop_fini(&l);
}

/* ---- round trips ------------------------------------------------------------------------ */

static inline uint64_t stamp_differs(const char *back, uint64_t i)
{
	return (uint8_t)(back[0] ^ (char)i);
}

static bool ended(void *res, unsigned i)
{
	return rl_ipc_result(res, i)->status == -RILL_EPIPE;
}

static uint64_t ok_len(void *res, unsigned i, const char *what)
{
	struct rl_ipc_result *r = rl_ipc_result(res, i);

	if (r->status != 0)
		die("%s: action %u: status %d", what, i, r->status);
	return r->length;
}

/* The raw peer: echo each message back until the lane ends. */
static int pong(rl_handle_t lane)
{
	static char buf[4096];
	char res[2 * 32];
	struct rl_chain c;
	struct rl_queue q;
	struct rl_cqe *e;
	uint64_t len = 0;

	who = "pong";
	if (rl_queue_init(&q, 4, 8) < 0)
		die("queue_init");
	for (bool first = true;; first = false) {
		unsigned last = first ? 0 : 1;
		struct rl_sqe *s = rl_get_sqe(&q);

		rl_chain_init(&c);
		if (!first)
			rl_chain_send(&c, buf, len);
		rl_chain_recv(&c, buf, sizeof(buf));
		if (!s || rl_chain_prep(s, lane, &c, res, 0))
			die("prep");
		while (!(e = rl_peek_cqe(&q)))
			if (rl_submit_and_wait(&q, 1, 0) < 0)
				die("queue_enter");
		if (e->result)
			die("completion %ld", (long)e->result);
		rl_cqe_done(&q);
		if (!first && ok_len(res, 0, "reply") != len)
			die("reply length");
		if (ended(res, last))
			return 0;
		len = ok_len(res, last, "request");
	}
}

/* The same peer as a task. */
static int64_t pong_task(void *arg)
{
	static char buf[4096];
	rl_handle_t lane = (rl_handle_t)(uint64_t)arg;
	char res[2 * 32];
	struct rl_chain c;
	uint64_t len = 0;

	for (bool first = true;; first = false) {
		unsigned last = first ? 0 : 1;
		int64_t r;

		rl_chain_init(&c);
		if (!first)
			rl_chain_send(&c, buf, len);
		rl_chain_recv(&c, buf, sizeof(buf));
		r = rl_await_ipc(lane, &c, res);
		if (r)
			die("await_ipc: %ld", (long)r);
		if (!first && ok_len(res, 0, "reply") != len)
			die("reply length");
		if (ended(res, last))
			return 0;
		len = ok_len(res, last, "request");
	}
}

static int taskpong(rl_handle_t lane)
{
	struct rl_loop l;

	who = "taskpong";
	loop_init(&l, 4, 8);
	if (!rl_loop_spawn(&l, pong_task, (void *)(uint64_t)lane))
		die("spawn failed");
	loop_run(&l);
	return 0;
}

/* Start the peer (role) on a new stream: our lane. */
static rl_handle_t start_peer(const char *role, int64_t *proc)
{
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { PROG, role };
	rl_handle_t l[2];
	int64_t p;

	if ((p = rl_stream(l)) < 0)
		die("stream_create: %ld", (long)p);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[1], 0 } };
	opts.nhandles = 1;
	p = rl_spawn_file(PROG, 2, argv, &opts, NULL);
	rl_handle_close(l[1]);
	if (p < 0)
		die("cannot start %s (%ld)", role, (long)p);
	*proc = p;
	return l[0];
}

static void reap_peer(int64_t p, const char *what)
{
	int64_t st = rl_process_wait((rl_handle_t)p);

	if (st != 0)
		die("%s ended with status %ld", what, (long)st);
	rl_handle_close(p);
}

static void report_pings(const char *name, uint64_t t0, uint64_t t1, uint64_t s0, uint64_t s1,
			 uint64_t bad)
{
	if (bad)
		die("%s: a wrong reply", name);
	rl_printf("BENCHREGION name=%s iters=%u ns=%lu syscalls=%lu\n", name, PINGS, t1 - t0,
		  s1 - s0 - 1);
}

static void raw_pingpong(void)
{
	static char msg[1], back[4096];
	char res[2 * 32];
	struct rl_chain c;
	struct rl_queue q;
	uint64_t t0 = 0, t1, s0 = 0, s1, bad = 0;
	int64_t p;
	rl_handle_t lane = start_peer("pong", &p);

	if (rl_queue_init(&q, 4, 8) < 0)
		die("queue_init");
	rl_chain_init(&c);
	rl_chain_send(&c, msg, 1);
	rl_chain_recv(&c, back, sizeof(back));
	for (unsigned i = 0; i < WARM + PINGS; i++) {
		struct rl_sqe *e = rl_get_sqe(&q);
		struct rl_cqe *ce;

		if (i == WARM) {
			s0 = rl_bench_syscalls();
			t0 = rl_clock_ns();
			rl_bench_start();
		}
		msg[0] = (char)i;
		if (!e || rl_chain_prep(e, lane, &c, res, i))
			die("prep");
		while (!(ce = rl_peek_cqe(&q)))
			if (rl_submit_and_wait(&q, 1, 0) < 0)
				die("queue_enter");
		bad |= (uint64_t)ce->result | ce->aux[0] | (rl_ipc_result(res, 1)->length ^ 1) |
		       stamp_differs(back, i);
		rl_cqe_done(&q);
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	report_pings("rt_ipc_raw_1B", t0, t1, s0, s1, bad);
	rl_handle_close(lane);
	reap_peer(p, "pong");
	rl_handle_close(q.handle);
}

static struct {
	rl_handle_t lane;
	uint64_t t0, t1, s0, s1, bad;
} tp;

static int64_t ping_task(void *arg)
{
	static char msg[1], back[4096];
	char res[2 * 32];
	struct rl_chain c;

	rl_chain_init(&c);
	rl_chain_send(&c, msg, 1);
	rl_chain_recv(&c, back, sizeof(back));
	for (unsigned i = 0; i < WARM + PINGS; i++) {
		if (i == WARM) {
			tp.s0 = rl_bench_syscalls();
			tp.t0 = rl_clock_ns();
			rl_bench_start();
		}
		msg[0] = (char)i;
		tp.bad |= (uint64_t)rl_await_ipc(tp.lane, &c, res) |
			  (rl_ipc_result(res, 0)->status | rl_ipc_result(res, 1)->status) |
			  (rl_ipc_result(res, 1)->length ^ 1) | stamp_differs(back, i);
	}
	rl_bench_stop();
	tp.t1 = rl_clock_ns();
	tp.s1 = rl_bench_syscalls();
	return 0;
}

static void task_pingpong(void)
{
	struct rl_loop l;
	int64_t p;

	tp.lane = start_peer("taskpong", &p);
	loop_init(&l, 4, 8);
	if (!rl_loop_spawn(&l, ping_task, NULL))
		die("spawn failed");
	loop_run(&l);
	report_pings("rt_ipc_task_1B", tp.t0, tp.t1, tp.s0, tp.s1, tp.bad);
	rl_handle_close(tp.lane);
	reap_peer(p, "taskpong");
	rl_loop_fini(&l);
}

int main(int argc, char **argv)
{
	rl_handle_t lane = rl_startup_handle_or0("lane");

	if (argc > 1 && !strcmp(argv[1], "pong"))
		return pong(lane);
	if (argc > 1 && !strcmp(argv[1], "taskpong"))
		return taskpong(lane);
	if (argc > 1)
		die("unknown role %s", argv[1]);
	task_nop();
	await_raw();
	await_task();
	yield_cost();
	inflight_cost();
	raw_pingpong();
	task_pingpong();
	return 0;
}
