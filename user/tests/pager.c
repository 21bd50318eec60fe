/*
 * In-OS tests of paged memory objects (memobj_pager_create, RL_OP_PAGER_WAIT,
 * pager_supply, pager_evict): a pager thread serving pages computed from
 * their offset to concurrent faulters, one request per page however many
 * wait, eviction and refault, kernel copies (which fail rather than wait),
 * a pager that answers the wrong page first, never answers (the faulter is
 * killed, not stuck) or dies (faulters fail their fault and are ended),
 * and hostile arguments to every call.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define PAGE	4096ull
#define MS	1000000ull
#define KERNEL_PTR	0xffff800000000000ull

static uint64_t pat(uint64_t off)
{
	return (off / 8) * 2654435761ull + 7;
}

/* A queue's handle and its ring mapping (which would outlive the handle). */
static void close_queue(struct rl_queue *q)
{
	uint64_t size = q->hdr->ring_size;

	rl_handle_close(q->handle);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)q->hdr, size);
}

/* The runtime's queue (rl_map's) is made on first use: before counting. */
static void warm_up(void)
{
	struct rl_sqe nop = { .opcode = RL_OP_NOP, .arg = { 5 } };

	TEST_EQ(rl_sync_op(&nop, NULL), 5);
}

/* ---- a pager thread ---------------------------------------------------------- */

#define MAX_PAGES	256

struct server {
	rl_handle_t pager;
	uint64_t pages;
	volatile uint32_t reqs[MAX_PAGES];	/* requests seen per page */
	volatile uint32_t bad;			/* a request out of range */
	volatile uint32_t stop, ended;
	volatile int64_t last_error;
};

static void fill(uint64_t *buf, uint64_t off)
{
	for (unsigned w = 0; w < PAGE / 8; w++)
		buf[w] = pat(off + w * 8);
}

static void serve(void *arg)
{
	struct server *s = arg;
	static uint64_t buf[PAGE / 8];
	struct rl_queue q;
	bool posted = false;

	if (rl_queue_init(&q, 4, 8)) {
		s->last_error = -1;
		s->ended = 1;
		return;
	}
	for (;;) {
		struct rl_cqe *e;

		if (!posted) {
			struct rl_sqe *sq = rl_get_sqe(&q);

			memset(sq, 0, sizeof(*sq));
			sq->opcode = RL_OP_PAGER_WAIT;
			sq->handle = s->pager;
			sq->user_data = 1;
			posted = true;
		}
		rl_submit_and_wait(&q, 1, rl_clock_ns() + 5 * MS);
		e = rl_peek_cqe(&q);
		if (!e) {
			if (s->stop)
				break;
			continue;
		}
		posted = false;
		if (e->result != RL_PAGER_READ || e->aux[1] != PAGE || e->aux[0] % PAGE ||
		    e->aux[0] / PAGE >= s->pages) {
			s->last_error = e->result;
			s->bad++;
			rl_cqe_done(&q);
			if (e->result < 0)
				break;
			continue;
		}
		s->reqs[e->aux[0] / PAGE]++;
		fill(buf, e->aux[0]);
		rl_cqe_done(&q);
		s->last_error = rl_pager_supply(s->pager, e->aux[0], buf, PAGE, 0);
	}
	if (posted) {
		struct rl_sqe *sq = rl_get_sqe(&q);

		memset(sq, 0, sizeof(*sq));
		sq->opcode = RL_OP_CANCEL;
		sq->arg[0] = 1;
		sq->user_data = 2;
		rl_submit_and_wait(&q, 2, rl_clock_ns() + 1000 * MS);
	}
	close_queue(&q);
	s->ended = 1;
}

static int64_t paged(uint64_t size, rl_handle_t *pager)
{
	int64_t mo = rl_memobj_pager_create(size, 0, pager);

	TEST_ASSERT(mo > 0);
	TEST_ASSERT(*pager > 0);
	return mo;
}

static uint64_t map_ro(int64_t mo, uint64_t len, unsigned prot)
{
	int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, len, prot);

	TEST_ASSERT(a > 0);
	return (uint64_t)a;
}

/* ---- concurrent faulters -------------------------------------------------------- */

static struct server srv;
static int64_t srv_thread;
static volatile uint64_t base;
static volatile uint32_t faulter_errors;

static void faulter(void *arg)
{
	uint64_t k = (uint64_t)arg;

	for (uint64_t i = 0; i < srv.pages; i++) {
		uint64_t p = (i * (2 * k + 1) + k * 37) % srv.pages;	/* another order each */
		uint64_t off = p * PAGE + (k % 4) * 1024;

		if (*(volatile uint64_t *)(base + off) != pat(off))
			faulter_errors++;
	}
}

static void server_start(rl_handle_t pager, uint64_t pages)
{
	int64_t t;

	memset((void *)&srv, 0, sizeof(srv));
	srv.pager = pager;
	srv.pages = pages;
	t = rl_thread_spawn(serve, &srv);
	TEST_ASSERT(t > 0);
	srv_thread = t;
}

static void server_stop(void)
{
	uint64_t until = rl_clock_ns() + 3000 * MS;

	srv.stop = 1;
	while (!srv.ended && rl_clock_ns() < until)
		rl_sleep_ns(MS);
	TEST_EQ(srv.ended, 1);
	TEST_EQ(rl_thread_join((rl_handle_t)srv_thread), 0);	/* its stack goes */
	TEST_EQ(rl_handle_close(srv_thread), 0);
}

DEFINE_TEST(concurrent_faulters_one_request_per_page)
{
	struct rl_kcounters c0, c1;
	const uint64_t pages = MAX_PAGES;
	rl_handle_t pager = 0;
	int64_t mo, t[4];

	warm_up();
	rl_test_counters_settle(&c0);
	mo = paged(pages * PAGE, &pager);
	base = map_ro(mo, pages * PAGE, RL_PROT_READ);
	faulter_errors = 0;
	server_start(pager, pages);
	for (uint64_t k = 0; k < 4; k++) {
		t[k] = rl_thread_spawn(faulter, (void *)k);
		TEST_ASSERT(t[k] > 0);
	}
	for (unsigned k = 0; k < 4; k++) {
		TEST_EQ(rl_thread_join((rl_handle_t)t[k]), 0);
		rl_handle_close(t[k]);
	}
	TEST_EQ(faulter_errors, 0);
	TEST_EQ(srv.bad, 0);
	for (unsigned p = 0; p < pages; p++)
		if (srv.reqs[p] != 1)
			rl_test_fail(__FILE__, __LINE__, "page %u requested %u times", p,
				     srv.reqs[p]);
	TEST_EQ(srv.last_error, PAGE);
	rl_test_counters_read(&c1);
	TEST_ASSERT(c1.user_pages >= c0.user_pages + pages);

	/* Evict 16 pages: they go, and the next reads ask again. */
	TEST_EQ(rl_pager_evict(pager, 32 * PAGE, 16 * PAGE), 16);
	TEST_EQ(rl_pager_evict(pager, 32 * PAGE, 16 * PAGE), 0);
	for (uint64_t p = 0; p < pages; p++)
		TEST_EQ(*(volatile uint64_t *)(base + p * PAGE + 8), pat(p * PAGE + 8));
	for (unsigned p = 0; p < pages; p++)
		TEST_EQ(srv.reqs[p], p >= 32 && p < 48 ? 2 : 1);
	server_stop();
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, base, pages * PAGE), 0);
	TEST_EQ(rl_handle_close(pager), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	rl_test_counters_expect_back_but_tables(&c0);
}

/* Writes go to the object's page (seen through another mapping); an
 * eviction drops them (the pager is asked again). Kernel copies of a
 * missing page fail at once and ask nothing; of a present page, work. */
DEFINE_TEST(writes_evictions_and_kernel_copies)
{
	rl_handle_t pager = 0;
	int64_t mo = paged(8 * PAGE, &pager);
	uint64_t a = map_ro(mo, 8 * PAGE, RL_PROT_READ | RL_PROT_WRITE);
	uint64_t r = map_ro(mo, 8 * PAGE, RL_PROT_READ);
	uint64_t buf[4];

	/* Nothing supplied, nobody serving: kernel copies fail, no request. */
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, a + 3 * PAGE, buf, 8, RL_RW_READ),
		-RILL_EFAULT);
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, a + 3 * PAGE, buf, 8, RL_RW_WRITE),
		-RILL_EFAULT);
	TEST_EQ(rl_raw_futex_wait(a + 3 * PAGE, 0, 0), -RILL_EFAULT);
	TEST_EQ(rl_memobj_cow(mo), -RILL_EPERM);	/* no snapshots of paged objects */
	server_start(pager, 8);
	TEST_EQ(*(volatile uint64_t *)(a + 3 * PAGE + 16), pat(3 * PAGE + 16));
	TEST_EQ(srv.reqs[3], 1);
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, r + 3 * PAGE, buf, 16, RL_RW_READ), 16);
	TEST_EQ(buf[1], pat(3 * PAGE + 8));
	*(volatile uint64_t *)(a + 3 * PAGE) = 0x1234;
	TEST_EQ(*(volatile uint64_t *)(r + 3 * PAGE), 0x1234);
	/* A write fault on a missing page asks too. */
	*(volatile uint64_t *)(a + 5 * PAGE + 8) = 0x55;
	TEST_EQ(*(volatile uint64_t *)(r + 5 * PAGE), pat(5 * PAGE));
	TEST_EQ(*(volatile uint64_t *)(r + 5 * PAGE + 8), 0x55);
	TEST_EQ(srv.reqs[5], 1);
	/* Evicted: the next read sees the pager's bytes again. */
	TEST_EQ(rl_pager_evict(pager, 0, 8 * PAGE), 2);
	TEST_EQ(*(volatile uint64_t *)(r + 3 * PAGE), pat(3 * PAGE));
	TEST_EQ(srv.reqs[3], 2);
	server_stop();
	TEST_EQ(srv.bad, 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 8 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, r, 8 * PAGE), 0);
	TEST_EQ(rl_handle_close(pager), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* ---- a pager that answers the wrong page first, by hand -------------------------- */

static volatile uint32_t one_done;
static volatile uint64_t one_value;

static void one_reader(void *arg)
{
	one_value = *(volatile uint64_t *)((uint64_t)arg + 6 * PAGE);
	one_done = 1;
}

static int64_t pager_wait_now(struct rl_queue *q, rl_handle_t pager, struct rl_cqe *out,
			      uint64_t deadline)
{
	struct rl_sqe *sq = rl_get_sqe(q);
	struct rl_cqe *e;

	memset(sq, 0, sizeof(*sq));
	sq->opcode = RL_OP_PAGER_WAIT;
	sq->handle = pager;
	sq->user_data = 7;
	rl_submit_and_wait(q, 1, deadline);
	e = rl_peek_cqe(q);
	if (!e)
		return 1;
	*out = *e;
	rl_cqe_done(q);
	return 0;
}

DEFINE_TEST(wrong_page_first_then_right)
{
	static uint64_t buf[PAGE / 8];
	struct rl_queue q;
	struct rl_cqe e;
	rl_handle_t pager = 0;
	int64_t mo = paged(8 * PAGE, &pager), t;
	uint64_t a = map_ro(mo, 8 * PAGE, RL_PROT_READ);

	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	one_done = 0;
	t = rl_thread_spawn(one_reader, (void *)a);
	TEST_ASSERT(t > 0);
	TEST_EQ(pager_wait_now(&q, pager, &e, rl_clock_ns() + 2000 * MS), 0);
	TEST_EQ(e.result, RL_PAGER_READ);
	TEST_EQ(e.aux[0], 6 * PAGE);
	TEST_EQ(e.aux[1], PAGE);
	/* Garbage: another page. The reader keeps waiting, and no new
	 * request comes for page 6 while its first is outstanding. */
	fill(buf, 2 * PAGE);
	TEST_EQ(rl_pager_supply(pager, 2 * PAGE, buf, PAGE, 0), PAGE);
	TEST_EQ(pager_wait_now(&q, pager, &e, rl_clock_ns() + 30 * MS), 1);
	TEST_EQ(one_done, 0);
	/* Supplying a page that is there already changes nothing. */
	memset(buf, 0xee, sizeof(buf));
	TEST_EQ(rl_pager_supply(pager, 2 * PAGE, buf, PAGE, 0), PAGE);
	TEST_EQ(*(volatile uint64_t *)(a + 2 * PAGE), pat(2 * PAGE));
	fill(buf, 6 * PAGE);
	TEST_EQ(rl_pager_supply(pager, 6 * PAGE, buf, PAGE, 0), PAGE);
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(one_value, pat(6 * PAGE));
	/* The PAGER_WAIT still queued (from the timed-out wait) completes
	 * with -EPIPE when the pager goes. */
	TEST_EQ(rl_handle_close(pager), 0);
	rl_submit_and_wait(&q, 1, rl_clock_ns() + 1000 * MS);
	{
		struct rl_cqe *c = rl_peek_cqe(&q);

		TEST_ASSERT(c != NULL);
		TEST_EQ(c->result, -RILL_EPIPE);
		rl_cqe_done(&q);
	}
	/* Present pages stay readable after the pager is gone. */
	TEST_EQ(*(volatile uint64_t *)(a + 6 * PAGE + 8), pat(6 * PAGE + 8));
	rl_handle_close(t);
	close_queue(&q);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 8 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* ---- a pager that never answers, or dies ---------------------------------------- */

static int64_t client(int64_t mo, const char *page)
{
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "pager-client", page };
	int64_t p;

	opts.handles = (const struct rl_spawn_handle[]){ { "object", (rl_handle_t)mo, 0 } };
	opts.nhandles = 1;
	p = rl_spawn_file("bin/pager-client", 2, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	return p;
}

/* Wait for p's exit with a deadline: its status, or 1000 when it did
 * not end in time. */
static int64_t wait_exit(int64_t p, uint64_t ms)
{
	struct rl_queue q;
	struct rl_sqe *e;
	int64_t r = 1000;

	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	e = rl_get_sqe(&q);
	memset(e, 0, sizeof(*e));
	e->opcode = RL_OP_PROCESS_WAIT;
	e->handle = (rl_handle_t)p;
	e->user_data = 1;
	rl_submit_and_wait(&q, 1, rl_clock_ns() + ms * MS);
	if (rl_peek_cqe(&q)) {
		r = rl_peek_cqe(&q)->result;
		rl_cqe_done(&q);
	}
	close_queue(&q);	/* cancels the wait if left */
	return r;
}

DEFINE_TEST(silent_pager_faulter_killable)
{
	static uint64_t buf[PAGE / 8];
	rl_handle_t pager = 0;
	int64_t mo = paged(8 * PAGE, &pager), p;

	fill(buf, 1 * PAGE);
	TEST_EQ(rl_pager_supply(pager, PAGE, buf, PAGE, 0), PAGE);
	p = client(mo, "1");			/* a supplied page: no pager needed */
	TEST_EQ(wait_exit(p, 5000), 0);
	rl_handle_close(p);
	p = client(mo, "4");			/* nobody answers */
	TEST_EQ(wait_exit(p, 100), 1000);	/* still waiting */
	TEST_EQ(rl_process_kill(p, 9), 0);
	TEST_EQ(wait_exit(p, 5000), 9);
	rl_handle_close(p);
	TEST_EQ(rl_handle_close(pager), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(dead_pager_faults_are_reported)
{
	static uint64_t buf[PAGE / 8];
	rl_handle_t pager = 0;
	int64_t mo = paged(8 * PAGE, &pager), p, p2, ok;

	fill(buf, 2 * PAGE);
	TEST_EQ(rl_pager_supply(pager, 2 * PAGE, buf, PAGE, 0), PAGE);
	p = client(mo, "5");
	TEST_EQ(wait_exit(p, 100), 1000);	/* waiting for the pager */
	TEST_EQ(rl_handle_close(pager), 0);	/* the pager dies */
	TEST_EQ(wait_exit(p, 5000), -RILL_EFAULT);
	rl_handle_close(p);
	p2 = client(mo, "6");			/* a later fault fails at once */
	TEST_EQ(wait_exit(p2, 5000), -RILL_EFAULT);
	rl_handle_close(p2);
	ok = client(mo, "2");			/* supplied pages still serve */
	TEST_EQ(wait_exit(ok, 5000), 0);
	rl_handle_close(ok);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* The pager's last handle held by another process: the pager dies when
 * that process ends (its handle table goes), and faults fail from then. */
DEFINE_TEST(pager_dies_with_its_process)
{
	static uint64_t buf[PAGE / 8];
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "pager-client", "3" };
	rl_handle_t pager = 0;
	int64_t mo = paged(8 * PAGE, &pager), p;

	fill(buf, 3 * PAGE);
	TEST_EQ(rl_pager_supply(pager, 3 * PAGE, buf, PAGE, 0), PAGE);
	opts.handles = (const struct rl_spawn_handle[]){ { "object", (rl_handle_t)mo, 0 },
							  { "pager", pager, 0 } };
	opts.nhandles = 2;
	p = rl_spawn_file("bin/pager-client", 2, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	TEST_EQ(rl_handle_close(pager), 0);	/* the child's is the last */
	TEST_EQ(wait_exit(p, 5000), 0);		/* it read page 3 and ended */
	rl_handle_close(p);
	p = client(mo, "4");
	TEST_EQ(wait_exit(p, 5000), -RILL_EFAULT);
	rl_handle_close(p);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* A supervised faulter of a dead pager: its supervisor sees the fault
 * (RL_OBS_FAULT at the address, #PF), as for any bad access. */
DEFINE_TEST(dead_pager_fault_seen_by_supervisor)
{
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "pager-client", "7" };
	struct rl_sqe e;
	struct rl_cqe c;
	rl_handle_t pager = 0, th = 0;
	int64_t mo = paged(8 * PAGE, &pager), p;

	opts.supervised = true;
	opts.handles = (const struct rl_spawn_handle[]){ { "object", (rl_handle_t)mo, 0 } };
	opts.nhandles = 1;
	p = rl_spawn_file("bin/pager-client", 2, argv, &opts, &th);
	TEST_ASSERT(p > 0 && th > 0);
	TEST_EQ(wait_exit(p, 100), 1000);	/* waiting for page 7 */
	TEST_EQ(rl_handle_close(pager), 0);
	memset(&e, 0, sizeof(e));
	e.opcode = RL_OP_OBSERVE;
	e.handle = th;
	TEST_EQ(rl_sync_op(&e, &c), RL_OBS_FAULT);
	/* The first word of page 7 of its mapping: a user read of a page
	 * not present (#PF, error code 4). */
	TEST_EQ(c.aux[0] & (PAGE - 1), 0);
	TEST_ASSERT(c.aux[0] >= RL_USER_BOTTOM + 7 * PAGE && c.aux[0] < RL_USER_TOP);
	TEST_EQ(c.aux[1] >> 32, 14);
	TEST_EQ(c.aux[1] & 0xffffffff, 4);
	memset(&e, 0, sizeof(e));
	e.opcode = RL_OP_RESUME;
	e.handle = th;
	e.arg[0] = RL_RESUME_KILL;
	TEST_EQ(rl_sync_op(&e, NULL), 0);
	TEST_EQ(wait_exit(p, 5000), -RILL_EINTR);
	rl_handle_close(th);
	rl_handle_close(p);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* ---- hostile arguments ------------------------------------------------------------ */

DEFINE_TEST(hostile_arguments)
{
	struct rl_kcounters c0;
	static uint64_t buf[2 * PAGE / 8];
	struct rl_queue q;
	struct rl_cqe e;
	rl_handle_t pager = 0, weak;
	int64_t mo, anon;
	uint64_t a;

	warm_up();
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	memset(buf, 1, sizeof(buf));
	rl_test_counters_settle(&c0);
	/* Creation. */
	TEST_EQ(rl_memobj_pager_create(PAGE, 1, &pager), -RILL_EINVAL);
	TEST_EQ(rl_memobj_pager_create(0, 0, &pager), -RILL_EINVAL);
	TEST_EQ(rl_memobj_pager_create(RL_MEMOBJ_MAX + PAGE, 0, &pager), -RILL_EINVAL);
	TEST_EQ(rl_raw_memobj_pager_create(PAGE, 0, KERNEL_PTR), -RILL_EFAULT);
	TEST_EQ(rl_memobj_pager_create(PAGE, 0, 0), -RILL_EFAULT);
	rl_test_counters_expect_back(&c0);

	mo = paged(4 * PAGE, &pager);
	anon = rl_memobj_create(PAGE, 0);
	TEST_ASSERT(anon > 0);
	/* Handles. */
	TEST_EQ(rl_pager_supply(12345, 0, buf, PAGE, 0), -RILL_EBADF);
	TEST_EQ(rl_raw_pager_supply(1ull << 32, 0, (uint64_t)buf, PAGE, 0), -RILL_EBADF);
	TEST_EQ(rl_pager_supply(mo, 0, buf, PAGE, 0), -RILL_EBADFD);
	TEST_EQ(rl_pager_supply(anon, 0, buf, PAGE, 0), -RILL_EBADFD);
	TEST_EQ(rl_pager_evict(mo, 0, PAGE), -RILL_EBADFD);
	TEST_EQ(rl_pager_evict(0, 0, PAGE), -RILL_EBADF);
	weak = (rl_handle_t)rl_handle_dup(pager, RL_RIGHT_DUP);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_pager_supply(weak, 0, buf, PAGE, 0), -RILL_EPERM);
	TEST_EQ(rl_pager_evict(weak, 0, PAGE), -RILL_EPERM);
	TEST_EQ(pager_wait_now(&q, weak, &e, rl_clock_ns() + 1000 * MS), 0);
	TEST_EQ(e.result, -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(pager_wait_now(&q, (rl_handle_t)mo, &e, rl_clock_ns() + 1000 * MS), 0);
	TEST_EQ(e.result, -RILL_EBADFD);
	TEST_EQ(pager_wait_now(&q, 12345, &e, rl_clock_ns() + 1000 * MS), 0);
	TEST_EQ(e.result, -RILL_EBADF);
	{
		struct rl_sqe *sq = rl_get_sqe(&q);
		struct rl_cqe *c;

		memset(sq, 0, sizeof(*sq));
		sq->opcode = RL_OP_PAGER_WAIT;
		sq->handle = pager;
		sq->arg[2] = 1;			/* arguments must be 0 */
		rl_submit_and_wait(&q, 1, rl_clock_ns() + 1000 * MS);
		c = rl_peek_cqe(&q);
		TEST_ASSERT(c != NULL);
		TEST_EQ(c->result, -RILL_EINVAL);
		rl_cqe_done(&q);
	}
	/* Ranges and flags. */
	TEST_EQ(rl_pager_supply(pager, 0, buf, PAGE, 1), -RILL_EINVAL);
	TEST_EQ(rl_pager_supply(pager, 100, buf, PAGE, 0), -RILL_EINVAL);
	TEST_EQ(rl_pager_supply(pager, 0, buf, 100, 0), -RILL_EINVAL);
	TEST_EQ(rl_pager_supply(pager, 0, buf, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_pager_supply(pager, 4 * PAGE, buf, PAGE, 0), -RILL_EINVAL);
	TEST_EQ(rl_pager_supply(pager, 3 * PAGE, buf, 2 * PAGE, 0),
		-RILL_EINVAL);
	TEST_EQ(rl_pager_supply(pager, 2 * PAGE, buf, ~0ull - PAGE + 1, 0),
		-RILL_EINVAL);
	TEST_EQ(rl_pager_supply(pager, ~0ull - PAGE + 1, buf, PAGE, 0),
		-RILL_EINVAL);
	TEST_EQ(rl_pager_evict(pager, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_pager_evict(pager, PAGE, 4 * PAGE), -RILL_EINVAL);
	TEST_EQ(rl_pager_evict(pager, 8, PAGE), -RILL_EINVAL);
	/* Buffers: kernel, unmapped, and the paged object's own missing
	 * pages (which must fail, not wait for ourselves). */
	TEST_EQ(rl_raw_pager_supply(pager, 0, KERNEL_PTR, PAGE, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_pager_supply(pager, 0, 0x1000, PAGE, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_pager_supply(pager, 0, ~0ull - 100, PAGE, 0), -RILL_EFAULT);
	a = map_ro(mo, 4 * PAGE, RL_PROT_READ);
	TEST_EQ(rl_raw_pager_supply(pager, 0, a + PAGE, PAGE, 0), -RILL_EFAULT);
	/* Two pages at once, then a reader gets them with no request. */
	fill(buf, 0);
	fill(buf + PAGE / 8, PAGE);
	TEST_EQ(rl_pager_supply(pager, 0, buf, 2 * PAGE, 0), 2 * PAGE);
	TEST_EQ(*(volatile uint64_t *)(a + PAGE + 24), pat(PAGE + 24));
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 4 * PAGE), 0);
	TEST_EQ(rl_handle_close(pager), 0);
	/* Gone: the object stays, its pager's handle does not. */
	TEST_EQ(rl_pager_supply(pager, 0, buf, PAGE, 0), -RILL_EBADF);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(anon), 0);
	rl_test_counters_expect_back_but_slabs(&c0);
	close_queue(&q);
}
