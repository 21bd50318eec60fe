/*
 * In-OS tests of the kernel log's reader side (docs/abi.md, "The kernel
 * log"): the ring mapped read-only with the log authority, what the kernel
 * and debug_write print found in it, RL_OP_LOG_WAIT, handing the serial
 * line over and back, and the errors. The runner (tools/runtests.py)
 * checks besides that the text written while the line was handed over
 * never reached the serial output.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define WAIT_NS		(10ull * 1000000000ull)
/* Written only while the serial line is handed over; the runner fails the
 * boot if it shows up in the serial output (keep in step with it). */
#define HIDDEN		"klog-handover-marker-5c1e"

static const volatile struct rl_klog *log_map(int64_t *mo_out)
{
	int64_t mo = rl_klog_control(rl_startup_handle_or0(RL_NAME_LOG_AUTH), RL_KLOG_MAP, 0);
	int64_t a;

	TEST_ASSERT(mo > 0);
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 64 * 1024, RL_PROT_READ);
	TEST_ASSERT(a > 0);
	*mo_out = mo;
	return (const volatile struct rl_klog *)a;
}

static void log_unmap(const volatile struct rl_klog *k, int64_t mo)
{
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)k, 64 * 1024), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* Whether text is in the log between from and the head (what the ring
 * still holds of it, read as a reader must: copy, then check the head). */
static bool log_has(const volatile struct rl_klog *k, uint64_t from, const char *text)
{
	static char buf[64 * 1024];
	uint64_t head = __atomic_load_n(&k->head, __ATOMIC_ACQUIRE), n = 0, tl = strlen(text);

	if (head - from > k->size)
		from = head - k->size;
	for (uint64_t p = from; p < head; p++)
		buf[n++] = k->data[p % k->size];
	/* Bytes overwritten while we copied are not to be trusted. */
	uint64_t now = __atomic_load_n(&k->head, __ATOMIC_ACQUIRE), skip = 0;

	if (now - from > k->size)
		skip = now - k->size - from;
	for (uint64_t i = skip; i + tl <= n; i++)
		if (!memcmp(buf + i, text, tl))
			return true;
	return false;
}

static void say(const char *s)
{
	TEST_EQ(rl_debug_write(s, strlen(s)), (int64_t)strlen(s));
}

DEFINE_TEST(ring_holds_the_boot)
{
	int64_t mo;
	const volatile struct rl_klog *k = log_map(&mo);

	TEST_EQ(k->magic, RL_KLOG_MAGIC);
	TEST_EQ(k->version, 1);
	TEST_EQ(k->size, 64 * 1024 - 64);
	TEST_ASSERT(k->head > 0);
	/* The kernel's first lines, from before the ring existed (the early
	 * buffer, copied in), unless the ring has wrapped since. */
	if (k->head < k->size)
		TEST_ASSERT(log_has(k, 0, "Rill kernel, booted by"));
	TEST_ASSERT(log_has(k, 0, "rill: boot complete") || k->head >= k->size);
	log_unmap(k, mo);
}

DEFINE_TEST(debug_write_reaches_the_ring)
{
	int64_t mo;
	const volatile struct rl_klog *k = log_map(&mo);
	uint64_t from = k->head;

	say("klog: a line for the ring 41\n");
	TEST_ASSERT(k->head >= from + 29);
	TEST_ASSERT(log_has(k, from, "klog: a line for the ring 41\n"));
	log_unmap(k, mo);
}

static uint64_t wait_ud = 100;

static void log_wait(struct rl_queue *q, uint64_t from)
{
	struct rl_sqe *e = rl_get_sqe(q);

	TEST_ASSERT(e);
	e->opcode = RL_OP_LOG_WAIT;
	e->handle = rl_startup_handle_or0(RL_NAME_LOG_AUTH);
	e->user_data = ++wait_ud;
	e->arg[0] = from;
	TEST_EQ(rl_submit(q), 1);
}

static int64_t reap(struct rl_queue *q, uint64_t *ud)
{
	struct rl_cqe *c;
	uint64_t deadline = rl_clock_ns() + WAIT_NS;
	int64_t r;

	while (!(c = rl_peek_cqe(q))) {
		if (rl_submit_and_wait(q, 1, deadline) == -RILL_ETIMEDOUT)
			return -RILL_ETIMEDOUT;
	}
	r = c->result;
	*ud = c->user_data;
	rl_cqe_done(q);
	return r;
}

static void later_writer(void *arg)
{
	rl_sleep_ns(30 * 1000000ull);
	say("klog: written while a reader waits\n");
}

DEFINE_TEST(log_wait_completes_when_the_log_grows)
{
	struct rl_queue q;
	uint64_t ud, head;
	int64_t mo, r, t;
	const volatile struct rl_klog *k = log_map(&mo);

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	/* Behind the head: at once, with the head. */
	head = k->head;
	log_wait(&q, head - 1);
	r = reap(&q, &ud);
	TEST_ASSERT(r >= (int64_t)head);
	TEST_EQ(ud, wait_ud);
	/* At the head: only once something is written. */
	head = k->head;
	log_wait(&q, head);
	TEST_ASSERT(!rl_peek_cqe(&q));
	t = rl_thread_spawn(later_writer, NULL);
	TEST_ASSERT(t > 0);
	r = reap(&q, &ud);
	TEST_ASSERT(r > (int64_t)head);
	TEST_ASSERT(log_has(k, head, "klog: written while a reader waits"));
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
	log_unmap(k, mo);
}

DEFINE_TEST(log_wait_cancelled)
{
	struct rl_kcounters before;
	struct rl_queue q;
	struct rl_sqe *e;
	uint64_t ud, first;
	int64_t r;

	rl_test_warm_up();
	rl_test_counters_settle(&before);
	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	log_wait(&q, ~0ull >> 1);	/* far beyond anything written */
	first = wait_ud;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_CANCEL;
	e->user_data = 1;
	e->arg[0] = first;
	TEST_EQ(rl_submit(&q), 1);
	for (int i = 0; i < 2; i++) {
		r = reap(&q, &ud);
		TEST_EQ(r, ud == first ? -RILL_ECANCELED : 1);
	}
	/* And one left waiting goes with its queue. */
	log_wait(&q, ~0ull >> 1);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size), 0);
	rl_test_counters_expect_back(&before);
}

/* The console driver's move: the serial line handed over, the log goes on
 * in the ring only; then handed back. */
DEFINE_TEST(console_handover)
{
	int64_t mo;
	const volatile struct rl_klog *k = log_map(&mo);
	rl_handle_t a = rl_startup_handle_or0(RL_NAME_LOG_AUTH);
	uint64_t from = k->head;
	int64_t off, on;

	off = rl_klog_control(a, RL_KLOG_CONSOLE, 0);
	/* Where the line stopped: after the kernel's own word of it. */
	TEST_ASSERT(off > (int64_t)from);
	TEST_ASSERT(log_has(k, from, "klog: the serial line is handed over"));
	rl_debug_write(HIDDEN "\n", sizeof(HIDDEN));
	on = rl_klog_control(a, RL_KLOG_CONSOLE, 1);
	TEST_ASSERT(on >= off + (int64_t)sizeof(HIDDEN));
	/* The hidden text lies between the two positions. */
	TEST_ASSERT(log_has(k, (uint64_t)off, HIDDEN));
	TEST_ASSERT(!log_has(k, (uint64_t)on, HIDDEN));
	log_unmap(k, mo);
}

/* A driver that dies owning the line: the next one to take it over goes
 * on from where the first had printed to (its latest LOG_WAIT), so what
 * was logged in between is not lost. */
DEFINE_TEST(second_handover_resumes_where_the_owner_was)
{
	int64_t mo;
	const volatile struct rl_klog *k = log_map(&mo);
	rl_handle_t a = rl_startup_handle_or0(RL_NAME_LOG_AUTH);
	struct rl_sqe e = { .opcode = RL_OP_LOG_WAIT, .handle = a };
	int64_t off, again, on;
	uint64_t printed;

	off = rl_klog_control(a, RL_KLOG_CONSOLE, 0);
	TEST_ASSERT(off > 0);
	/* Before any wait, a second handover starts where the first did. */
	TEST_EQ(rl_klog_control(a, RL_KLOG_CONSOLE, 0), off);
	rl_debug_write(HIDDEN "\n", sizeof(HIDDEN));
	printed = k->head - 3;
	e.arg[0] = printed;	/* "printed up to here", as a driver waits */
	TEST_ASSERT(rl_sync_op(&e, NULL) > (int64_t)printed);
	TEST_EQ(rl_klog_control(a, RL_KLOG_PRINTED, 0), (int64_t)printed);
	again = rl_klog_control(a, RL_KLOG_CONSOLE, 0);
	TEST_EQ(again, (int64_t)printed);
	/* A wait from further back than the owner got does not move it back. */
	e.arg[0] = (uint64_t)off;
	TEST_ASSERT(rl_sync_op(&e, NULL) > off);
	TEST_EQ(rl_klog_control(a, RL_KLOG_CONSOLE, 0), (int64_t)printed);
	on = rl_klog_control(a, RL_KLOG_CONSOLE, 1);
	TEST_ASSERT(on > (int64_t)printed);
	/* Given back: the kernel prints it all again, up to the head. */
	TEST_ASSERT(rl_klog_control(a, RL_KLOG_PRINTED, 0) >= on);
	TEST_ASSERT(rl_klog_control(a, RL_KLOG_PRINTED, 0) <= (int64_t)k->head);
	TEST_EQ(rl_klog_control(a, RL_KLOG_PRINTED, 1), -RILL_EINVAL);
	/* Given back: the next handover is a first one again. */
	TEST_ASSERT(rl_klog_control(a, RL_KLOG_CONSOLE, 0) > on);
	TEST_ASSERT(rl_klog_control(a, RL_KLOG_CONSOLE, 1) > on);
	log_unmap(k, mo);
}

DEFINE_TEST(errors)
{
	struct rl_queue q;
	struct rl_sqe *e;
	uint64_t ud;
	int64_t mo;
	rl_handle_t a = rl_startup_handle_or0(RL_NAME_LOG_AUTH);

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	TEST_EQ(rl_klog_control(q.handle, RL_KLOG_MAP, 0), -RILL_EBADFD);
	TEST_EQ(rl_klog_control(0x7fff0000, RL_KLOG_MAP, 0), -RILL_EBADF);
	TEST_EQ(rl_raw_klog_control(1ull << 40, RL_KLOG_MAP, 0), -RILL_EBADF);
	TEST_EQ(rl_klog_control(a, 7, 0), -RILL_EINVAL);
	TEST_EQ(rl_klog_control(a, RL_KLOG_MAP, 1), -RILL_EINVAL);
	TEST_EQ(rl_klog_control(a, RL_KLOG_CONSOLE, 2), -RILL_EINVAL);
	/* Read-only. */
	mo = rl_klog_control(a, RL_KLOG_MAP, 0);
	TEST_ASSERT(mo > 0);
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ | RL_PROT_WRITE),
		-RILL_EPERM);
	TEST_EQ(rl_handle_close(mo), 0);
	/* LOG_WAIT: the authority, and no stray argument. */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_LOG_WAIT;
	e->handle = q.handle;
	e->user_data = 1;
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_LOG_WAIT;
	e->handle = a;
	e->user_data = 2;
	e->arg[1] = 1;
	TEST_EQ(rl_submit(&q), 2);
	TEST_EQ(reap(&q, &ud), -RILL_EBADFD);
	TEST_EQ(ud, 1);
	TEST_EQ(reap(&q, &ud), -RILL_EINVAL);
	TEST_EQ(ud, 2);
	TEST_EQ(rl_handle_close(q.handle), 0);
}
