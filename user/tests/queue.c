/* In-OS tests of the queue: no-ops, overflow, cancellation, waiting. */
#include <rill/rl.h>
#include <rill/test.h>

static void reap_all(struct rl_queue *q, uint64_t *seen, uint64_t *count)
{
	struct rl_cqe *c;

	while ((c = rl_peek_cqe(q))) {
		if (seen)
			seen[c->user_data]++;
		(*count)++;
		rl_cqe_done(q);
	}
}

DEFINE_TEST(nop_roundtrip)
{
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe *c;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	e = rl_get_sqe(&q);
	TEST_ASSERT(e);
	e->opcode = RL_OP_NOP;
	e->user_data = 0x1234;
	e->arg[0] = 77;
	TEST_EQ(rl_submit(&q), 1);
	c = rl_peek_cqe(&q);
	TEST_ASSERT(c);
	TEST_EQ(c->user_data, 0x1234);
	TEST_EQ(c->result, 77);
	rl_cqe_done(&q);
	TEST_ASSERT(!rl_peek_cqe(&q));
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(bad_entries_complete_with_errors)
{
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe *c;
	int64_t want[4] = { -RILL_ENOSYS, -RILL_EINVAL, -RILL_EINVAL, -RILL_EBADF };

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	e = rl_get_sqe(&q);
	e->opcode = 999;
	e->user_data = 0;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_NOP;
	e->flags = 0x8000;	/* no such flag */
	e->user_data = 1;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_NOP;
	e->reserved = 5;
	e->user_data = 2;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_THREAD_WAIT;
	e->handle = 0x5555;
	e->user_data = 3;
	TEST_EQ(rl_submit(&q), 4);
	for (int i = 0; i < 4; i++) {
		c = rl_peek_cqe(&q);
		TEST_ASSERT(c);
		TEST_EQ(c->user_data, i);
		TEST_EQ(c->result, want[i]);
		rl_cqe_done(&q);
	}
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(enter_errors)
{
	struct rl_queue q;
	struct rl_queue_params p = { .sq_entries = 3 };

	TEST_EQ(rl_queue_create(&p), -RILL_EINVAL);
	p.sq_entries = 4;
	p.flags = 1;
	TEST_EQ(rl_queue_create(&p), -RILL_EINVAL);
	p.flags = 0;
	p.reserved = 1;
	TEST_EQ(rl_queue_create(&p), -RILL_EINVAL);
	TEST_EQ(rl_queue_create(0), -RILL_EFAULT);
	TEST_EQ(rl_raw_queue_create(0xffff800000001000ull), -RILL_EFAULT);
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	TEST_EQ(rl_queue_enter(q.handle, 5, 0, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_queue_enter(q.handle, 0, 0, 0, 0x80), -RILL_EINVAL);
	TEST_EQ(rl_queue_enter(12345, 0, 0, 0, 0), -RILL_EBADF);
	TEST_EQ(rl_queue_enter(RL_SELF_THREAD, 0, 0, 0, 0), -RILL_EBADFD);
	/* A handle without the submit right. */
	{
		int64_t h = rl_handle_dup(q.handle, RL_RIGHT_DUP);

		TEST_ASSERT(h > 0);
		TEST_EQ(rl_queue_enter(h, 0, 0, 0, 0), -RILL_EPERM);
		TEST_EQ(rl_handle_dup(h, RL_RIGHT_SUBMIT), -RILL_EPERM);
		TEST_EQ(rl_handle_close(h), 0);
	}
	/* A closed queue. */
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_queue_enter(q.handle, 0, 0, 0, 0), -RILL_EBADF);
	TEST_EQ(rl_handle_close(q.handle), -RILL_EBADF);
}

DEFINE_TEST(overflow_loses_nothing)
{
	struct rl_queue q;
	uint64_t seen[64] = { 0 }, count = 0;
	int64_t r;
	int submitted = 0;

	TEST_EQ(rl_queue_init(&q, 8, 8), 0);
	/* Fill without reaping: 8 fit in the ring, 8 more wait in the
	 * kernel, then the kernel refuses more (-EBUSY). */
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 4; i++) {
			struct rl_sqe *e = rl_get_sqe(&q);

			TEST_ASSERT(e);
			e->opcode = RL_OP_NOP;
			e->user_data = (uint64_t)(round * 4 + i);
		}
		r = rl_submit(&q);
		TEST_EQ(r, 4);
		submitted += 4;
	}
	TEST_ASSERT(q.hdr->flags & RL_RING_CQ_OVERFLOW);
	TEST_EQ(q.hdr->cq_tail - q.hdr->cq_head, 8);
	{
		struct rl_sqe *e = rl_get_sqe(&q);

		TEST_ASSERT(e);
		e->opcode = RL_OP_NOP;
		e->user_data = 16;
	}
	TEST_EQ(rl_submit(&q), -RILL_EBUSY);
	/* Reap 8; the next enter moves the waiting 8 in and takes entry 16. */
	reap_all(&q, seen, &count);
	TEST_EQ(count, 8);
	TEST_EQ(rl_submit(&q), 1);
	reap_all(&q, seen, &count);
	TEST_EQ(count, 16);
	TEST_EQ(rl_submit(&q), 0);	/* moves the last one in */
	reap_all(&q, seen, &count);
	TEST_EQ(count, 17);
	TEST_ASSERT(!(q.hdr->flags & RL_RING_CQ_OVERFLOW));
	for (int i = 0; i <= 16; i++)
		TEST_EQ(seen[i], 1);
	TEST_ASSERT(q.hdr->overflowed >= 8);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(timeout_and_cancel)
{
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe *c;
	uint64_t t0 = rl_clock_ns();

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_TIMEOUT;
	e->user_data = 1;
	e->arg[0] = t0 + 20 * 1000000ull;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_TIMEOUT;
	e->user_data = 2;
	e->arg[0] = t0 + 3600ull * 1000000000ull;
	TEST_EQ(rl_submit_and_wait(&q, 1, 0), 2);
	c = rl_peek_cqe(&q);
	TEST_ASSERT(c);
	TEST_EQ(c->user_data, 1);
	TEST_EQ(c->result, 0);
	TEST_ASSERT(rl_clock_ns() - t0 >= 20 * 1000000ull);
	rl_cqe_done(&q);
	/* Cancel the hour-long one by its user_data. */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_CANCEL;
	e->user_data = 3;
	e->arg[0] = 2;
	TEST_EQ(rl_submit(&q), 1);
	for (int i = 0; i < 2; i++) {
		c = rl_peek_cqe(&q);
		TEST_ASSERT(c);
		if (c->user_data == 2)
			TEST_EQ(c->result, -RILL_ECANCELED);
		else {
			TEST_EQ(c->user_data, 3);
			TEST_EQ(c->result, 1);
		}
		rl_cqe_done(&q);
	}
	/* Nothing left to cancel. */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_CANCEL;
	e->user_data = 4;
	e->arg[0] = 2;
	TEST_EQ(rl_submit(&q), 1);
	c = rl_peek_cqe(&q);
	TEST_ASSERT(c);
	TEST_EQ(c->result, -RILL_ENOENT);
	rl_cqe_done(&q);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(wait_deadline)
{
	struct rl_queue q;
	uint64_t t0;

	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	t0 = rl_clock_ns();
	TEST_EQ(rl_submit_and_wait(&q, 1, t0 + 10 * 1000000ull), -RILL_ETIMEDOUT);
	TEST_ASSERT(rl_clock_ns() - t0 >= 10 * 1000000ull);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

static struct rl_queue shared_q;

static void waker(void *arg)
{
	uint64_t until = rl_clock_ns() + 20 * 1000000ull;

	while (rl_clock_ns() < until)
		rl_yield();
	rl_queue_wake(shared_q.handle);
}

DEFINE_TEST(wait_woken_by_other_thread)
{
	int64_t t;

	TEST_EQ(rl_queue_init(&shared_q, 4, 8), 0);
	t = rl_thread_spawn(waker, NULL);
	TEST_ASSERT(t > 0);
	TEST_EQ(rl_submit_and_wait(&shared_q, 1, rl_clock_ns() + 60ull * 1000000000ull),
		-RILL_EINTR);
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(rl_handle_close(shared_q.handle), 0);
}

#define NOPS_TOTAL	1000000
#define NOP_THREADS	4
#define NOP_BATCH	64

static uint64_t nop_done[NOP_THREADS];

static void nop_worker(void *arg)
{
	uint64_t id = (uint64_t)arg, sent = 0, got = 0, per = NOPS_TOTAL / NOP_THREADS;
	struct rl_queue q;
	uint64_t sum = 0;

	if (rl_queue_init(&q, NOP_BATCH, 2 * NOP_BATCH))
		return;
	while (got < per) {
		struct rl_cqe *c;

		while (sent < per && sent - got < NOP_BATCH) {
			struct rl_sqe *e = rl_get_sqe(&q);

			if (!e)
				break;
			e->opcode = RL_OP_NOP;
			e->user_data = sent;
			e->arg[0] = sent;
			sent++;
		}
		rl_submit_and_wait(&q, 1, 0);
		while ((c = rl_peek_cqe(&q))) {
			if (c->result == (int64_t)c->user_data)
				sum += c->user_data;
			got++;
			rl_cqe_done(&q);
		}
	}
	/* Each value 0..per-1 completed exactly once iff the sum matches. */
	if (sum == per * (per - 1) / 2)
		nop_done[id] = got;
	rl_handle_close(q.handle);
}

DEFINE_TEST(million_nops_from_threads)
{
	int64_t t[NOP_THREADS];
	uint64_t total = 0;

	for (uint64_t i = 0; i < NOP_THREADS; i++) {
		t[i] = rl_thread_spawn(nop_worker, (void *)i);
		TEST_ASSERT(t[i] > 0);
	}
	for (int i = 0; i < NOP_THREADS; i++) {
		TEST_EQ(rl_thread_join((rl_handle_t)t[i]), 0);
		rl_handle_close(t[i]);
		total += nop_done[i];
	}
	TEST_EQ(total, NOPS_TOTAL);
}

/* A CANCEL is accepted when the completion budget is full (it is what
 * frees it): four timeouts fill a queue of four whose ring is also full of
 * unreaped completions; four CANCELs are still taken (their completions
 * and the cancelled timeouts' wait in the kernel), a fifth unreaped one is
 * not, and nothing is lost. */
DEFINE_TEST(cancel_when_budget_full)
{
	struct rl_queue q;
	struct rl_sqe *e;
	unsigned nops = 0, timeouts = 0, cancels = 0;
	uint64_t far = rl_clock_ns() + 3600ull * 1000000000ull;

	TEST_EQ(rl_queue_init(&q, 4, 4), 0);
	for (int i = 0; i < 4; i++) {
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_NOP;
		e->user_data = 100 + i;
	}
	TEST_EQ(rl_submit(&q), 4);		/* the ring now holds 4 completions */
	for (int i = 0; i < 4; i++) {
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_TIMEOUT;
		e->arg[0] = far;
		e->user_data = 200 + i;
	}
	TEST_EQ(rl_submit(&q), 4);		/* the budget is full */
	for (int i = 0; i < 4; i++) {
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_CANCEL;
		e->arg[0] = 200 + i;
		e->user_data = 300 + i;
	}
	TEST_EQ(rl_submit(&q), 4);		/* CANCELs are taken all the same */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_CANCEL;
	e->arg[0] = 12345;
	e->user_data = 400;
	TEST_EQ(rl_submit(&q), -RILL_EBUSY);	/* until a ring's worth waits unreaped */
	/* Reap everything: 4 NOPs, then 4 cancelled timeouts and 4 CANCELs
	 * (from the kernel's overflow), then the last CANCEL's -ENOENT. */
	for (int n = 0; n < 13; n++) {
		struct rl_cqe *c;

		while (!(c = rl_peek_cqe(&q)))
			TEST_ASSERT(rl_submit_and_wait(&q, 1, rl_clock_ns() + 5000000000ull) >= 0);
		if (c->user_data >= 100 && c->user_data < 104) {
			nops++;
		} else if (c->user_data >= 200 && c->user_data < 204) {
			TEST_EQ(c->result, -RILL_ECANCELED);
			timeouts++;
		} else if (c->user_data >= 300 && c->user_data < 304) {
			TEST_EQ(c->result, 1);
			cancels++;
		} else {
			TEST_EQ(c->user_data, 400);
			TEST_EQ(c->result, -RILL_ENOENT);
		}
		rl_cqe_done(&q);
	}
	TEST_EQ(nops, 4);
	TEST_EQ(timeouts, 4);
	TEST_EQ(cancels, 4);
	TEST_ASSERT(rl_peek_cqe(&q) == NULL);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size), 0);
}

/* RL_SQE_QUIET: a success posts nothing (and takes no completion slot:
 * a small ring takes any number of them), a failure completes as usual,
 * for immediate and waiting operations alike; IPC refuses it. */
DEFINE_TEST(quiet_success_posts_nothing)
{
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe *c;

	TEST_EQ(rl_queue_init(&q, 4, 4), 0);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 4; i++) {
			e = rl_get_sqe(&q);
			TEST_ASSERT(e);
			e->opcode = RL_OP_NOP;
			e->flags = RL_SQE_QUIET;
			e->user_data = 100 + i;
			e->arg[0] = 7;
		}
		TEST_EQ(rl_submit(&q), 4);
		TEST_ASSERT(!rl_peek_cqe(&q));
	}
	/* A failure is reported, quiet or not. */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_NOP;
	e->flags = RL_SQE_QUIET;
	e->user_data = 1;
	e->arg[0] = (uint64_t)-RILL_EINVAL;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_THREAD_WAIT;
	e->flags = RL_SQE_QUIET;
	e->handle = 0x5555;
	e->user_data = 2;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_IPC;
	e->flags = RL_SQE_QUIET;
	e->user_data = 3;
	TEST_EQ(rl_submit(&q), 3);
	for (uint64_t ud = 1; ud <= 3; ud++) {
		c = rl_peek_cqe(&q);
		TEST_ASSERT(c);
		TEST_EQ(c->user_data, ud);
		TEST_EQ(c->result, ud == 2 ? -RILL_EBADF : -RILL_EINVAL);
		rl_cqe_done(&q);
	}
	/* A waiting operation: a quiet timeout ends without a word; the
	 * loud one after it is the only completion. */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_TIMEOUT;
	e->flags = RL_SQE_QUIET;
	e->user_data = 4;
	e->arg[0] = rl_clock_ns() + 1000000;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_TIMEOUT;
	e->user_data = 5;
	e->arg[0] = rl_clock_ns() + 20000000;
	TEST_EQ(rl_submit(&q), 2);
	TEST_EQ(rl_submit_and_wait(&q, 1, rl_clock_ns() + 5000000000ull), 0);
	c = rl_peek_cqe(&q);
	TEST_ASSERT(c);
	TEST_EQ(c->user_data, 5);
	rl_cqe_done(&q);
	TEST_ASSERT(!rl_peek_cqe(&q));
	TEST_EQ(rl_handle_close(q.handle), 0);
}
