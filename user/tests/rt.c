/*
 * In-OS tests of the asynchronous runtime (rill/rt.h, docs/runtime.md):
 * thousands of tasks in flight at once, joins, timers in order, waits for
 * all and for the first of several, cancellation (of a wait, of a task
 * not waiting, of a join), IPC round trips between tasks of one loop and
 * of loops on two threads, a loop whose tasks wait for each other, and a
 * task stack overflow meeting its guard page.
 *
 * Every test that builds a loop checks that the kernel's counters come
 * back once it is gone (page tables excepted: the kernel keeps those
 * until the process ends, docs/memory.md).
 */
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>
#include <rill/test.h>

#define MS	1000000ull

static int64_t nothing(void *arg)
{
	return (int64_t)(uint64_t)arg;
}

/* What the runtime makes once per process (the rl_sync_op queue,
 * malloc's first chunk, which rl_thread_spawn uses) made before a test
 * counts. */
static void warm_up(struct rl_kcounters *before)
{
	struct rl_loop l;

	rl_test_warm_up();
	free(malloc(16));
	TEST_EQ(rl_loop_init(&l, 8, 16), 0);
	TEST_ASSERT(rl_loop_spawn(&l, nothing, NULL));
	TEST_EQ(rl_loop_run(&l), 0);
	rl_loop_fini(&l);
	rl_test_counters_settle(before);
}

/* ---- spawning, joining, exiting --------------------------------------------------- */

static int64_t exits_early(void *arg)
{
	rl_task_exit(-7);
}

static int64_t parent(void *arg)
{
	struct rl_task *kids[3];
	int *detached_ran = arg;

	kids[0] = rl_task_spawn(nothing, (void *)41);
	kids[1] = rl_task_spawn(exits_early, NULL);
	kids[2] = rl_task_spawn(nothing, (void *)43);
	for (int i = 0; i < 3; i++)
		if (!kids[i])
			return -1;
	if (rl_task_spawn_detached(nothing, NULL))
		return -2;
	/* Joined in another order than they end; one has ended already. */
	rl_task_yield();
	if (rl_task_join(kids[2]) != 43 || rl_task_join(kids[0]) != 41 ||
	    rl_task_join(kids[1]) != -7)
		return -3;
	(*detached_ran)++;
	return 0;
}

DEFINE_TEST(spawn_join_exit)
{
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *p;
	int ran = 0;

	warm_up(&before);
	TEST_EQ(rl_loop_init(&l, 8, 16), 0);
	p = rl_loop_spawn(&l, parent, &ran);
	TEST_ASSERT(p);
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(p->status, 0);
	TEST_EQ(ran, 1);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* ---- thousands of tasks ------------------------------------------------------------- */

struct crowd {
	uint64_t start;
	uint32_t woke, late, early, errors;
	uint64_t peak_ops;	/* kernel queue_ops seen while all waited */
	uint64_t ops0;
	uint32_t n;
};

static struct crowd crowd;

/* Sleep until start + (i % 50) ms and count. */
static int64_t sleeper(void *arg)
{
	uint64_t i = (uint64_t)arg, deadline = crowd.start + (i % 50) * MS;

	if (rl_sleep_until(deadline) != 0)
		crowd.errors++;
	if (rl_clock_ns() < deadline)
		crowd.early++;
	crowd.woke++;
	return 0;
}

/* Spawned last, so it runs after every sleeper has filled its entry; a
 * yield lets the next queue_enter hand them all to the kernel. Then read
 * how many operations the kernel holds in flight for us. */
static int64_t census(void *arg)
{
	struct rl_kcounters c;

	rl_task_yield();
	rl_kcounters(&c, sizeof(c));
	crowd.peak_ops = c.queue_ops - crowd.ops0;
	return 0;
}

/* The kernel's per-CPU timer heap grows (from a slab object to pages)
 * the first time it holds that many timers, and never shrinks: n timers
 * armed at once, before counting, so that growth is not the test's. */
static void grow_timer_heap(uint32_t n)
{
	uint64_t deadline = rl_clock_ns() + 20 * MS, got = 0;
	struct rl_queue q;
	struct rl_cqe *c;

	TEST_EQ(rl_queue_init(&q, 4096, 8192), 0);
	for (uint32_t i = 0; i < n; i++) {
		struct rl_sqe *e = rl_get_sqe(&q);

		if (!e) {
			TEST_ASSERT(rl_submit(&q) > 0);
			e = rl_get_sqe(&q);
		}
		e->opcode = RL_OP_TIMEOUT;
		e->arg[0] = deadline;
	}
	while (got < n) {
		rl_submit_and_wait(&q, 1, 0);
		while ((c = rl_peek_cqe(&q))) {
			TEST_EQ(c->result, 0);
			got++;
			rl_cqe_done(&q);
		}
	}
	rl_handle_close(q.handle);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size);
}

static void run_crowd(uint32_t n, uint32_t sq, uint32_t cq, bool detached)
{
	struct rl_kcounters before, now;
	struct rl_loop l;

	grow_timer_heap(n);
	warm_up(&before);
	memset(&crowd, 0, sizeof(crowd));
	crowd.n = n;
	TEST_EQ(rl_loop_init(&l, sq, cq), 0);
	rl_test_counters_read(&now);
	crowd.ops0 = now.queue_ops;
	for (uint64_t i = 0; i < n; i++) {
		struct rl_task *t = rl_loop_spawn(&l, sleeper, (void *)i);

		TEST_ASSERT(t);
		if (detached)
			rl_task_detach(t);
	}
	TEST_ASSERT(rl_loop_spawn(&l, census, NULL));
	crowd.start = rl_clock_ns() + 300 * MS;	/* after they all wait */
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(crowd.woke, n);
	TEST_EQ(crowd.errors, 0);
	TEST_EQ(crowd.early, 0);
	/* One queue_enter carries many tasks' submissions. */
	TEST_ASSERT(l.turns < n / 8);
	TEST_EQ(l.inflight, 0);
	if (cq >= 2 * n) {
		/* All in flight at once. */
		TEST_EQ(crowd.peak_ops, n);
	} else {
		/* Never more than the completion ring's budget. */
		TEST_ASSERT(crowd.peak_ops <= cq);
	}
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

DEFINE_TEST(five_thousand_tasks_at_once)
{
	run_crowd(5000, 4096, 16384, false);
}

/* More tasks than the completion ring bounds in flight (cq 1,024) and
 * than the submission ring holds (256): tasks wait for ring entries and
 * for the kernel's budget, and still all complete. */
DEFINE_TEST(five_thousand_tasks_small_ring)
{
	run_crowd(5000, 256, 1024, true);
}

/* ---- timers --------------------------------------------------------------------------- */

static struct {
	uint32_t order[32], n;
	uint64_t base;
} timers;

static int64_t timed(void *arg)
{
	uint64_t k = (uint64_t)arg;

	if (rl_sleep_until(timers.base + k * 3 * MS) != 0)
		return -1;
	timers.order[timers.n++] = (uint32_t)k;
	return 0;
}

DEFINE_TEST(timers_fire_in_order)
{
	struct rl_kcounters before;
	struct rl_loop l;

	warm_up(&before);
	memset(&timers, 0, sizeof(timers));
	TEST_EQ(rl_loop_init(&l, 64, 128), 0);
	timers.base = rl_clock_ns() + 20 * MS;
	/* Spawned latest deadline first. */
	for (uint64_t k = 20; k > 0; k--)
		TEST_ASSERT(rl_loop_spawn(&l, timed, (void *)k));
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(timers.n, 20);
	for (uint32_t i = 0; i < 20; i++)
		TEST_EQ(timers.order[i], i + 1);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* ---- several operations ------------------------------------------------------------- */

static int64_t several(void *arg)
{
	uint64_t now = rl_clock_ns();
	struct rl_sqe nop = { .opcode = RL_OP_NOP, .arg = { 99 } };
	struct rl_cqe out;
	struct rl_op ops[3];
	struct rl_sqe *e;
	int64_t r;

	/* All of three timers. */
	for (int i = 0; i < 3; i++) {
		e = rl_op_sqe(&ops[i]);
		e->opcode = RL_OP_TIMEOUT;
		e->arg[0] = now + (uint64_t)(3 - i) * 2 * MS;
	}
	if (rl_op_wait_all(ops, 3) != 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (!ops[i].done || ops[i].result != 0)
			return -2;
	if (rl_clock_ns() < now + 6 * MS)
		return -3;
	/* The first of two timers: the earlier; the other is cancelled. */
	now = rl_clock_ns();
	e = rl_op_sqe(&ops[0]);
	e->opcode = RL_OP_TIMEOUT;
	e->arg[0] = now + 10000 * MS;
	e = rl_op_sqe(&ops[1]);
	e->opcode = RL_OP_TIMEOUT;
	e->arg[0] = now + 2 * MS;
	if (rl_op_wait_any(ops, 2) != 1)
		return -4;
	if (ops[1].result != 0 || !ops[0].done || ops[0].result != -RILL_ECANCELED)
		return -5;
	if (rl_clock_ns() > now + 5000 * MS)
		return -6;
	/* A deadline: an immediate operation beats it, a receive nobody
	 * answers does not. */
	if (rl_await_deadline(&nop, &out, rl_clock_ns() + 1000 * MS) != 99 || out.result != 99)
		return -7;
	{
		struct rl_chain c;
		char buf[8], res[32];
		rl_handle_t lanes[2];

		if (rl_stream(lanes) < 0)
			return -8;
		rl_chain_init(&c);
		rl_chain_recv(&c, buf, sizeof(buf));
		struct rl_sqe op;
		if (rl_chain_prep(&op, lanes[0], &c, res, 0))
			return -9;
		r = rl_await_deadline(&op, &out, rl_clock_ns() + 5 * MS);
		rl_handle_close(lanes[0]);
		rl_handle_close(lanes[1]);
		if (r != -RILL_ETIMEDOUT)
			return -10;
	}
	return 0;
}

DEFINE_TEST(wait_all_any_deadline)
{
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *t;

	warm_up(&before);
	TEST_EQ(rl_loop_init(&l, 16, 32), 0);
	t = rl_loop_spawn(&l, several, NULL);
	TEST_ASSERT(t);
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(t->status, 0);
	TEST_EQ(l.inflight, 0);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* ---- cancellation --------------------------------------------------------------------- */

static struct {
	struct rl_task *victim;
	int64_t first, second;
	uint64_t t0, t1;
} cx;

static int64_t long_sleeper(void *arg)
{
	cx.t0 = rl_clock_ns();
	cx.first = rl_sleep_for(10000 * MS);	/* cancelled */
	cx.t1 = rl_clock_ns();
	cx.second = rl_sleep_for(1 * MS);	/* the cancel is used up */
	return 5;
}

static int64_t canceller(void *arg)
{
	rl_sleep_for(2 * MS);		/* the victim waits by now */
	rl_task_cancel(cx.victim);
	return rl_task_join(cx.victim);
}

DEFINE_TEST(cancel_waiting_task)
{
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *c;

	warm_up(&before);
	memset(&cx, 0, sizeof(cx));
	TEST_EQ(rl_loop_init(&l, 16, 32), 0);
	cx.victim = rl_loop_spawn(&l, long_sleeper, NULL);
	c = rl_loop_spawn(&l, canceller, NULL);
	TEST_ASSERT(cx.victim && c);
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(cx.first, -RILL_ECANCELED);
	TEST_EQ(cx.second, 0);
	TEST_ASSERT(cx.t1 - cx.t0 < 5000 * MS);
	TEST_EQ(c->status, 5);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* A task cancelled before it ever ran (and one cancelling itself): the
 * next wait fails at once without submitting anything, the one after it
 * works. */
static int64_t cancelled_early(void *arg)
{
	struct rl_sqe nop = { .opcode = RL_OP_NOP, .arg = { 3 } };
	int64_t a, b;

	a = rl_await(&nop, NULL);
	b = rl_await(&nop, NULL);
	rl_task_cancel(rl_task_self());
	if (rl_sleep_for(10000 * MS) != -RILL_ECANCELED)
		return -1;
	return a == -RILL_ECANCELED && b == 3 ? 0 : -2;
}

static struct rl_task *join_target;

/* Cancelled while joining a task that sleeps long: the join ends, the
 * target is still joinable; then the target is cancelled and joined. */
static int64_t joiner(void *arg)
{
	int64_t r = rl_task_join(join_target);

	if (r != -RILL_ECANCELED)
		return -1;
	rl_task_cancel(join_target);
	return rl_task_join(join_target) == -RILL_ECANCELED ? 0 : -2;
}

static int64_t sleeps_long(void *arg)
{
	return rl_sleep_for(10000 * MS);
}

static int64_t cancels_joiner(void *arg)
{
	rl_sleep_for(2 * MS);
	rl_task_cancel(arg);
	return 0;
}

static struct rl_task *early;

static int64_t cancels_now(void *arg)
{
	rl_task_cancel(early);	/* spawned after us: runnable, not waiting */
	return 0;
}

DEFINE_TEST(cancel_not_waiting_and_join)
{
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *j;
	uint64_t t0;

	warm_up(&before);
	TEST_EQ(rl_loop_init(&l, 16, 32), 0);
	/* Tasks run in spawn order: cancels_now before early. */
	TEST_ASSERT(rl_loop_spawn(&l, cancels_now, NULL));
	early = rl_loop_spawn(&l, cancelled_early, NULL);
	join_target = rl_loop_spawn(&l, sleeps_long, NULL);
	j = rl_loop_spawn(&l, joiner, NULL);
	TEST_ASSERT(early && join_target && j);
	TEST_ASSERT(rl_loop_spawn(&l, cancels_joiner, j));
	t0 = rl_clock_ns();
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_ASSERT(rl_clock_ns() - t0 < 5000 * MS);
	TEST_EQ(early->status, 0);
	TEST_EQ(j->status, 0);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* An IPC receive nobody answers, cancelled: -ECANCELED, the action's
 * status says so, and the next await works. */
static int64_t cancelled_receive(void *arg)
{
	rl_handle_t *lanes = arg;
	struct rl_sqe nop = { .opcode = RL_OP_NOP, .arg = { 8 } };
	struct rl_chain c;
	char buf[8], res[32];

	rl_chain_init(&c);
	rl_chain_recv(&c, buf, sizeof(buf));
	if (rl_await_ipc(lanes[0], &c, res) != -RILL_ECANCELED)
		return -1;
	if (rl_ipc_result(res, 0)->status != -RILL_ECANCELED)
		return -2;
	return rl_await(&nop, NULL) == 8 ? 0 : -3;
}

DEFINE_TEST(cancel_ipc_await)
{
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *t;
	rl_handle_t lanes[2];

	warm_up(&before);
	TEST_EQ(rl_loop_init(&l, 16, 32), 0);
	TEST_EQ(rl_stream(lanes), 0);
	t = rl_loop_spawn(&l, cancelled_receive, lanes);
	TEST_ASSERT(t);
	TEST_ASSERT(rl_loop_spawn(&l, cancels_joiner, t));
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(t->status, 0);
	rl_handle_close(lanes[0]);
	rl_handle_close(lanes[1]);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* Cancels raining on tasks that sleep, wait for a deadline and wait for
 * pairs of timers: every cancel issued to a task without one pending is
 * seen exactly once, by one wait returning -ECANCELED, or is still
 * pending when the task ends. Nothing is left in flight. */
#define STORM_TASKS	300
#define STORM_ROUNDS	30

static struct {
	uint64_t seed;
	uint32_t issued, seen, pending_at_end, errors, running;
	rl_handle_t lanes[2];
	struct rl_task *t[STORM_TASKS];
} storm;

static uint32_t storm_rand(uint32_t n)
{
	storm.seed = storm.seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(storm.seed >> 33) % n;
}

static void storm_saw(int64_t r, int64_t normal)
{
	if (r == -RILL_ECANCELED)
		storm.seen++;
	else if (r != normal)
		storm.errors++;
}

static int64_t storm_task(void *arg)
{
	for (int k = 0; k < STORM_ROUNDS; k++) {
		uint64_t now = rl_clock_ns();
		uint32_t what = storm_rand(3);

		if (what == 0) {
			storm_saw(rl_sleep_until(now + storm_rand(3000) * 1000), 0);
		} else if (what == 1) {
			struct rl_chain c;
			struct rl_sqe op;
			char buf[8], res[32];

			rl_chain_init(&c);
			rl_chain_recv(&c, buf, sizeof(buf));
			rl_chain_prep(&op, storm.lanes[0], &c, res, 0);
			storm_saw(rl_await_deadline(&op, NULL, now + storm_rand(3000) * 1000),
				  -RILL_ETIMEDOUT);
		} else {
			struct rl_op ops[2];

			for (int i = 0; i < 2; i++) {
				struct rl_sqe *e = rl_op_sqe(&ops[i]);

				e->opcode = RL_OP_TIMEOUT;
				e->arg[0] = now + storm_rand(3000) * 1000;
			}
			storm_saw(rl_op_wait_all(ops, 2), 0);
		}
	}
	if (rl_task_self()->cancel)
		storm.pending_at_end++;
	storm.running--;
	return 0;
}

static int64_t storm_canceller(void *arg)
{
	while (storm.running) {
		for (int i = 0; i < 10; i++) {
			struct rl_task *t = storm.t[storm_rand(STORM_TASKS)];

			if (!t->ended && !t->cancel)
				storm.issued++;
			rl_task_cancel(t);
		}
		rl_sleep_for(300 * 1000);
	}
	return 0;
}

DEFINE_TEST(cancel_storm)
{
	struct rl_kcounters before;
	struct rl_loop l;

	warm_up(&before);
	memset(&storm, 0, sizeof(storm));
	storm.seed = 12345;
	TEST_EQ(rl_loop_init(&l, 256, 1024), 0);
	TEST_EQ(rl_stream(storm.lanes), 0);
	storm.running = STORM_TASKS;
	for (int i = 0; i < STORM_TASKS; i++)
		TEST_ASSERT((storm.t[i] = rl_loop_spawn(&l, storm_task, NULL)));
	TEST_ASSERT(rl_loop_spawn(&l, storm_canceller, NULL));
	TEST_EQ(rl_loop_run(&l), 0);
	rl_printf("rt: cancel_storm: %u cancels issued, %u seen by a wait, %u pending at the end\n",
		  storm.issued, storm.seen, storm.pending_at_end);
	TEST_EQ(storm.errors, 0);
	TEST_ASSERT(storm.issued > 100);
	TEST_EQ(storm.seen + storm.pending_at_end, storm.issued);
	TEST_EQ(l.inflight, 0);
	rl_handle_close(storm.lanes[0]);
	rl_handle_close(storm.lanes[1]);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* ---- IPC ------------------------------------------------------------------------------ */

/* One conversation per task (the docs/runtime.md server): accept one
 * conversation with its 8-byte request, hand the accepting on to a new
 * task, answer request + 1 after a short wait, close the lane. */
static uint32_t served;

static int64_t conversation(void *listen)
{
	char res[2 * 32 + 8];
	uint64_t req, reply;
	struct rl_chain c;
	rl_handle_t lane;

	rl_chain_init(&c);
	rl_chain_accept(&c, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&c, 8);
	if (rl_await_ipc((rl_handle_t)(uint64_t)listen, &c, res) < 0)
		return -1;
	if (rl_ipc_result(res, 0)->status == -RILL_EPIPE)
		return 0;		/* every client is gone */
	if (rl_ipc_result(res, 0)->status || rl_ipc_result(res, 1)->status)
		return -2;
	if (rl_task_spawn_detached(conversation, listen))
		return -3;
	lane = rl_ipc_result(res, 0)->handle;
	memcpy(&req, rl_ipc_inline(res, 1), 8);
	rl_sleep_for(5 * MS);		/* many conversations wait at once */
	reply = req + 1;
	rl_chain_init(&c);
	rl_chain_send(&c, &reply, 8);
	if (rl_await_ipc(lane, &c, res) < 0 || rl_ipc_result(res, 0)->status)
		return -4;
	rl_handle_close(lane);
	served++;
	return 0;
}

struct client_arg {
	rl_handle_t lane;
	uint32_t id, rounds;
};

static uint32_t client_errors;

static int64_t client(void *arg)
{
	struct client_arg *a = arg;
	char res[3 * 32 + 8];
	struct rl_chain c;

	for (uint32_t k = 0; k < a->rounds; k++) {
		uint64_t req = (uint64_t)a->id << 32 | k, ans;

		rl_chain_init(&c);
		rl_chain_offer(&c, 0);
		rl_chain_send(&c, &req, 8);
		rl_chain_recv_inline(&c, 8);
		if (rl_await_ipc(a->lane, &c, res) < 0)
			return -1;
		for (int i = 0; i < 3; i++)
			if (rl_ipc_result(res, i)->status)
				return -2;
		memcpy(&ans, rl_ipc_inline(res, 2), 8);
		if (ans != req + 1) {
			client_errors++;
			return -3;
		}
	}
	return 0;
}

#define NCLIENTS	200
#define ROUNDS		5

static struct client_arg cargs[NCLIENTS];

/* Start the clients, join them, then end the stream: the waiting
 * conversation task sees -EPIPE and the loop ends. */
static int64_t clients_main(void *arg)
{
	rl_handle_t *lanes = arg;
	struct rl_task *t[NCLIENTS];

	for (uint32_t i = 0; i < NCLIENTS; i++) {
		cargs[i] = (struct client_arg){ lanes[0], i, ROUNDS };
		t[i] = rl_task_spawn(client, &cargs[i]);
		if (!t[i])
			return -1;
	}
	for (uint32_t i = 0; i < NCLIENTS; i++)
		if (rl_task_join(t[i]) != 0)
			return -2;
	rl_handle_close(lanes[0]);
	return 0;
}

DEFINE_TEST(ipc_round_trips_one_loop)
{
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *m;
	rl_handle_t lanes[2];
	uint64_t t0;

	warm_up(&before);
	served = client_errors = 0;
	TEST_EQ(rl_loop_init(&l, 256, 1024), 0);
	TEST_EQ(rl_stream(lanes), 0);
	TEST_ASSERT(rl_loop_spawn(&l, conversation, (void *)(uint64_t)lanes[1]));
	m = rl_loop_spawn(&l, clients_main, lanes);
	TEST_ASSERT(m);
	t0 = rl_clock_ns();
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(m->status, 0);
	TEST_EQ(client_errors, 0);
	TEST_EQ(served, NCLIENTS * ROUNDS);
	/* 1,000 conversations of 5 ms each took far less than 5 s: they
	 * overlapped. */
	TEST_ASSERT(rl_clock_ns() - t0 < 4000 * MS);
	rl_handle_close(lanes[1]);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* The server's loop on a thread of its own, the clients' on this one. */
static struct rl_loop server_loop;
static int64_t server_loop_result = -1;

static void server_thread(void *lane)
{
	if (rl_loop_spawn(&server_loop, conversation, lane))
		server_loop_result = rl_loop_run(&server_loop);
}

DEFINE_TEST(ipc_loops_on_two_threads)
{
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *m;
	rl_handle_t lanes[2];
	int64_t th;

	warm_up(&before);
	served = client_errors = 0;
	TEST_EQ(rl_loop_init(&l, 256, 1024), 0);
	TEST_EQ(rl_loop_init(&server_loop, 256, 1024), 0);
	TEST_EQ(rl_stream(lanes), 0);
	th = rl_thread_spawn(server_thread, (void *)(uint64_t)lanes[1]);
	TEST_ASSERT(th > 0);
	m = rl_loop_spawn(&l, clients_main, lanes);
	TEST_ASSERT(m);
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(m->status, 0);
	TEST_EQ(rl_thread_join((rl_handle_t)th), 0);
	rl_handle_close(th);
	TEST_EQ(server_loop_result, 0);
	TEST_EQ(client_errors, 0);
	TEST_EQ(served, NCLIENTS * ROUNDS);
	rl_handle_close(lanes[1]);
	rl_loop_fini(&server_loop);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* Clients as tasks against bin/rt-echo-server (docs/runtime.md's
 * example), in another process: every reply is its request. */
struct echo_arg {
	rl_handle_t lane;
	uint32_t id;
};

static uint32_t echo_errors;

static int64_t echo_client(void *arg)
{
	struct echo_arg *a = arg;
	char msg[64], res[3 * 32 + 256];
	struct rl_chain c;

	for (uint32_t k = 0; k < 4; k++) {
		int n = rill_snprintf(msg, sizeof(msg), "%s%u/%u", (a->id + k) % 2 ? "sleep " : "",
				      a->id, k);

		rl_chain_init(&c);
		rl_chain_offer(&c, 0);
		rl_chain_send(&c, msg, (size_t)n);
		rl_chain_recv_inline(&c, 256);
		if (rl_await_ipc(a->lane, &c, res) < 0 || rl_ipc_result(res, 2)->status ||
		    rl_ipc_result(res, 2)->length != (uint64_t)n ||
		    memcmp(rl_ipc_inline(res, 2), msg, (size_t)n)) {
			echo_errors++;
			return -1;
		}
	}
	return 0;
}

#define ECHO_CLIENTS	100

static struct echo_arg eargs[ECHO_CLIENTS];

static int64_t echo_main(void *arg)
{
	rl_handle_t *lane = arg;
	struct rl_task *t[ECHO_CLIENTS];

	for (uint32_t i = 0; i < ECHO_CLIENTS; i++) {
		eargs[i] = (struct echo_arg){ *lane, i };
		if (!(t[i] = rl_task_spawn(echo_client, &eargs[i])))
			return -1;
	}
	for (uint32_t i = 0; i < ECHO_CLIENTS; i++)
		if (rl_task_join(t[i]) != 0)
			return -2;
	return 0;
}

DEFINE_TEST(echo_server_process)
{
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "bin/rt-echo-server" };
	struct rl_kcounters before;
	struct rl_loop l;
	struct rl_task *m;
	rl_handle_t lanes[2];
	int64_t p;

	warm_up(&before);
	echo_errors = 0;
	TEST_EQ(rl_stream(lanes), 0);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", lanes[1], 0 } };
	opts.nhandles = 1;
	p = rl_spawn_file("bin/rt-echo-server", 1, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	TEST_EQ(rl_handle_close(lanes[1]), 0);
	TEST_EQ(rl_loop_init(&l, 64, 256), 0);
	m = rl_loop_spawn(&l, echo_main, &lanes[0]);
	TEST_ASSERT(m);
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(m->status, 0);
	TEST_EQ(echo_errors, 0);
	TEST_EQ(rl_handle_close(lanes[0]), 0);	/* the server's listening ends */
	TEST_EQ(rl_process_wait((rl_handle_t)p), ECHO_CLIENTS * 4);
	rl_handle_close(p);
	rl_loop_fini(&l);
	rl_test_counters_expect_back_but_tables(&before);
}

/* A reservation of the program's own where the runtime puts its task
 * chunks (below 0x700000000000) is left whole: the chunks go elsewhere. */
DEFINE_TEST(chunks_leave_program_reservations_alone)
{
	const uint64_t len = 4ull << 30, top = 0x700000000000ull;
	struct rl_kcounters before;
	struct rl_region r;
	struct rl_loop l;

	warm_up(&before);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, top - len, len, RL_MAP_RESERVE | RL_MAP_FIXED),
		(int64_t)(top - len));
	TEST_EQ(rl_loop_init(&l, 64, 128), 0);
	for (int i = 0; i < 200; i++)
		TEST_ASSERT(rl_loop_spawn(&l, nothing, NULL));
	TEST_EQ(rl_loop_run(&l), 0);
	TEST_EQ(rl_vm_regions(RL_SELF_PROCESS, top - len, &r, 1), 1);
	TEST_EQ(r.start, top - len);
	TEST_EQ(r.length, len);
	TEST_EQ(r.object, 0);
	rl_loop_fini(&l);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, top - len, len), 0);
	rl_test_counters_expect_back_but_tables(&before);
}

/* ---- a loop that can never finish ----------------------------------------------------- */

static struct rl_task *ring[2];

static int64_t joins_other(void *arg)
{
	uint64_t i = (uint64_t)arg;

	rl_task_yield();		/* both exist by now */
	return rl_task_join(ring[1 - i]);
}

DEFINE_TEST(tasks_joining_each_other_stop_the_loop)
{
	struct rl_loop l;

	TEST_EQ(rl_loop_init(&l, 8, 16), 0);
	ring[0] = rl_loop_spawn(&l, joins_other, (void *)0);
	ring[1] = rl_loop_spawn(&l, joins_other, (void *)1);
	TEST_ASSERT(ring[0] && ring[1]);
	TEST_EQ(rl_loop_run(&l), 2);
	rl_loop_fini(&l);
}

/* ---- stack overflow --------------------------------------------------------------------- */

static struct rl_loop ovf_loop;
static volatile uint64_t ovf_guard;	/* the overflowing task's guard page */

static volatile uint64_t depth_limit = ~0ull;	/* never reached */

static uint64_t __attribute__((noinline)) recurse(uint64_t n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	return n < depth_limit ? recurse(n + 1) + pad[0] : 0;
}

static int64_t overflows(void *arg)
{
	ovf_guard = ((uint64_t)rl_task_self() & ~(uint64_t)(RL_TASK_SLOT - 1));
	return (int64_t)recurse(0);
}

static void ovf_thread(void *arg)
{
	if (rl_loop_spawn(&ovf_loop, overflows, NULL))
		rl_loop_run(&ovf_loop);
	rl_exit(0);
}

/* A supervised thread runs a loop whose task recurses without end: the
 * fault is reported at the task's guard page (a page-fault stop, vector
 * 14), not anywhere else. Killed, it leaves this process running. */
DEFINE_TEST(stack_overflow_hits_guard_page)
{
	struct rl_sqe obs = { .opcode = RL_OP_OBSERVE };
	struct rl_sqe wt = { .opcode = RL_OP_THREAD_WAIT };
	char *stack = rl_alloc_pages(64 * 1024);
	struct rl_cqe c;
	int64_t h;

	TEST_ASSERT(stack);
	TEST_EQ(rl_loop_init(&ovf_loop, 8, 16), 0);
	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)ovf_thread,
			     (((uint64_t)stack + 64 * 1024) & ~15ull) - 8, 0, RL_THREAD_SUPERVISED);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	obs.handle = (rl_handle_t)h;
	TEST_EQ(rl_sync_op(&obs, &c), RL_OBS_FAULT);
	TEST_ASSERT(ovf_guard);
	TEST_ASSERT(c.aux[0] >= ovf_guard && c.aux[0] < ovf_guard + RL_TASK_GUARD);
	TEST_EQ(c.aux[1] >> 32, 14);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_KILL, 0), 0);
	wt.handle = (rl_handle_t)h;
	TEST_EQ(rl_sync_op(&wt, NULL), -RILL_EINTR);
	rl_handle_close(h);
	rl_loop_fini(&ovf_loop);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)stack, 64 * 1024);
}

/* Unsupervised, the same overflow ends its process with -EFAULT (and a
 * line in the kernel log), as any fault nobody resolves. */
DEFINE_TEST(stack_overflow_ends_process)
{
	const char *argv[] = { "bin/rt-overflow" };
	int64_t p = rl_spawn_file("bin/rt-overflow", 1, argv, NULL, NULL);

	TEST_ASSERT(p > 0);
	TEST_EQ(rl_process_wait((rl_handle_t)p), -RILL_EFAULT);
	rl_handle_close(p);
}
