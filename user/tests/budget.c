/*
 * In-OS tests of kernel-memory budgets: a process given a small budget of
 * its own (bin/budget-hog) makes objects of one kind until the kernel
 * refuses with -ENOMEM, while this process keeps serving IPC round trips
 * on a stream from a thread of its own and can still make what it needs;
 * once the hog has ended, every kernel counter is back where it was.
 */
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define MS		1000000ull
#define HOG_BUDGET	(1ull << 20)

struct hog_report {
	volatile uint64_t made;
	volatile int64_t error;
	volatile uint64_t done;
};

/* ---- the neighbour: an echo server on a stream, and its client ------------------ */

static rl_handle_t lanes[2];
static volatile uint32_t serve_stop;
static volatile uint64_t served;

static void server(void *arg)
{
	static char res[256];
	struct rl_queue q;
	struct rl_chain c;

	(void)arg;
	if (rl_queue_init(&q, 4, 8))
		return;
	while (!serve_stop) {
		rl_chain_init(&c);
		rl_chain_recv_inline(&c, 64);
		if (rl_ipc_call(&q, lanes[1], &c, res) || rl_ipc_result(res, 0)->status)
			break;
		rl_chain_init(&c);
		rl_chain_send(&c, rl_ipc_inline(res, 0), rl_ipc_result(res, 0)->length);
		if (rl_ipc_call(&q, lanes[1], &c, res + 128) || rl_ipc_result(res + 128, 0)->status)
			break;
		served++;
	}
	rl_handle_close(q.handle);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size);
}

/* One round trip through the neighbour's server. */
static void round_trip(struct rl_queue *q, uint64_t i)
{
	char res[256];
	struct rl_chain c;

	rl_chain_init(&c);
	rl_chain_send(&c, &i, sizeof(i));
	rl_chain_recv_inline(&c, 64);
	TEST_EQ(rl_ipc_call(q, lanes[0], &c, res), 0);
	TEST_EQ(rl_ipc_result(res, 0)->status, 0);
	TEST_EQ(rl_ipc_result(res, 1)->status, 0);
	TEST_EQ(rl_ipc_result(res, 1)->length, sizeof(i));
	TEST_ASSERT(!memcmp(rl_ipc_inline(res, 1), &i, sizeof(i)));
}

/* ---- one run of the hog ------------------------------------------------------------ */

static void run_hog(const char *kind, int64_t want_status, uint64_t min_made)
{
	static uint64_t trips;
	struct rl_spawn_opts opts = { .budget = HOG_BUDGET };
	struct rl_spawn_handle hs[2];
	int64_t rd = rl_startup_handle(RL_NAME_INITRD);
	const char *argv[] = { "budget-hog", kind };
	struct rl_budget mine0, mine, hogs;
	struct hog_report *rep;
	struct rl_queue q, wq;
	struct rl_sqe *e;
	struct rl_cqe *c;
	uint64_t deadline;
	int64_t page, a, ph;
	uint64_t served0 = served;

	TEST_EQ(rl_process_budget(RL_SELF_PROCESS, &mine0), 0);
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	page = rl_memobj_create(4096, 0);
	TEST_ASSERT(page > 0);
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)page, 0, 0, 4096, RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT(a > 0);
	rep = (struct hog_report *)a;
	/* The initrd too, as the test runner gives every program. */
	hs[0] = (struct rl_spawn_handle){ "page", (rl_handle_t)page, 0 };
	hs[1] = (struct rl_spawn_handle){ RL_NAME_INITRD, (rl_handle_t)rd,
					  RL_RIGHT_READ | RL_RIGHT_DUP | RL_RIGHT_TRANSFER };
	opts.handles = hs;
	opts.nhandles = rd > 0 ? 2 : 1;
	ph = rl_spawn_file("bin/budget-hog", 2, argv, &opts, NULL);
	TEST_ASSERT(ph > 0);
	/* Its budget is its own, carved out of ours. */
	TEST_EQ(rl_process_budget(ph, &hogs), 0);
	TEST_EQ(hogs.limit, HOG_BUDGET);
	TEST_ASSERT(hogs.id != mine0.id);
	TEST_EQ(rl_process_budget(RL_SELF_PROCESS, &mine), 0);
	TEST_ASSERT(mine.used >= mine0.used + HOG_BUDGET);
	/* The neighbour serves all along, until the hog has ended. */
	TEST_EQ(rl_queue_init(&wq, 2, 4), 0);
	e = rl_get_sqe(&wq);
	e->opcode = RL_OP_PROCESS_WAIT;
	e->handle = (rl_handle_t)ph;
	TEST_EQ(rl_submit(&wq), 1);
	deadline = rl_clock_ns() + 60000 * MS;
	while (!(c = rl_peek_cqe(&wq))) {
		TEST_ASSERT(rl_clock_ns() < deadline);
		round_trip(&q, trips++);
		if (rl_process_budget(ph, &hogs) == 0 && hogs.used > hogs.limit)
			rl_test_fail(__FILE__, __LINE__, "%s: budget overdrawn: %lu of %lu", kind,
				     (unsigned long)hogs.used, (unsigned long)hogs.limit);
	}
	TEST_EQ(c->result, want_status);
	rl_cqe_done(&wq);
	TEST_EQ(rl_handle_close(wq.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)wq.hdr, wq.hdr->ring_size), 0);
	rl_printf("budget: %s: %lu made with a %lu KiB budget, then %ld\n", kind,
		  (unsigned long)rep->made, (unsigned long)(HOG_BUDGET >> 10),
		  (long)rep->error);
	TEST_ASSERT(rep->made >= min_made);
	if (want_status == -RILL_ENOMEM) {
		TEST_EQ(rep->done, 1);
		TEST_EQ(rep->error, -RILL_ENOMEM);
	}
	/* We can still make what we need, and the server still answers. */
	round_trip(&q, trips++);
	TEST_ASSERT(served > served0);
	TEST_EQ(rl_handle_close(ph), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 4096), 0);
	TEST_EQ(rl_handle_close(page), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size), 0);
	/* The hog's carved budget is given back (its last thread may still
	 * be tearing it down: wait). What stays charged to us is page tables
	 * for the addresses we used (kept until we end) and the like. */
	deadline = rl_clock_ns() + 5000 * MS;
	do {
		TEST_EQ(rl_process_budget(RL_SELF_PROCESS, &mine), 0);
		if (mine.used < mine0.used + 64 * 1024)
			break;
		rl_sleep_ns(5 * MS);
	} while (rl_clock_ns() < deadline);
	TEST_ASSERT(mine.used < mine0.used + 64 * 1024);
}

static int64_t server_thread;

static void neighbour_start(void)
{
	TEST_EQ(rl_stream(lanes), 0);
	serve_stop = 0;
	server_thread = rl_thread_spawn(server, NULL);
	TEST_ASSERT(server_thread > 0);
}

static void neighbour_stop(void)
{
	/* Closing the server's lane ends its wait with -EPIPE. */
	serve_stop = 1;
	TEST_EQ(rl_handle_close(lanes[0]), 0);
	TEST_EQ(rl_thread_join((rl_handle_t)server_thread), 0);
	TEST_EQ(rl_handle_close(server_thread), 0);
	TEST_EQ(rl_handle_close(lanes[1]), 0);
}

static void hog_test(const char *kind, int64_t want_status, uint64_t min_made)
{
	static bool warmed;
	struct rl_kcounters before;
	size_t n;

	/* The runtime's queue and the initrd mapping come into being on
	 * first use: before counting. */
	TEST_ASSERT(rl_initrd_file("bin/budget-hog", &n) != NULL);
	neighbour_start();
	/* So do the page tables under the addresses a first hog's set-up
	 * maps here (unmapping keeps tables; where they fall moves as the
	 * initrd mapped before them grows): one whole run first. */
	if (!warmed) {
		run_hog("processes", -RILL_ENOMEM, 10);
		warmed = true;
	}
	neighbour_stop();
	rl_test_counters_settle(&before);
	neighbour_start();
	run_hog(kind, want_status, min_made);
	neighbour_stop();
	/* (Thousands of objects freed: the heap may keep some pages.) */
	rl_test_counters_expect_back_but_slabs(&before);
}

DEFINE_TEST(budget_processes)  { hog_test("processes", -RILL_ENOMEM, 10); }
DEFINE_TEST(budget_threads)    { hog_test("threads", -RILL_ENOMEM, 10); }
DEFINE_TEST(budget_queues)     { hog_test("queues", -RILL_ENOMEM, 10); }
DEFINE_TEST(budget_streams)    { hog_test("streams", -RILL_ENOMEM, 100); }
DEFINE_TEST(budget_handles)    { hog_test("handles", -RILL_ENOMEM, 1000); }
DEFINE_TEST(budget_ipc)        { hog_test("ipc", -RILL_ENOMEM, 10); }
DEFINE_TEST(budget_memobjs)    { hog_test("memobjs", -RILL_ENOMEM, 100); }
DEFINE_TEST(budget_mappings)   { hog_test("mappings", -RILL_ENOMEM, 100); }
DEFINE_TEST(budget_pages)      { hog_test("pages", -RILL_EFAULT, 100); }
/* Page tables: the touch that needs a table the budget cannot pay for
 * faults, and an unsupervised fault ends the process. */
DEFINE_TEST(budget_page_tables) { hog_test("pagetables", -RILL_EFAULT, 10); }

/* A budget cannot be carved out of more than there is; a child sharing
 * ours shows the same budget. */
DEFINE_TEST(budget_carving)
{
	struct rl_budget mine, child;
	int64_t ph;

	TEST_EQ(rl_process_budget(RL_SELF_PROCESS, &mine), 0);
	TEST_ASSERT(mine.used > 0 && mine.used <= mine.limit);
	TEST_EQ(rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, mine.limit), -RILL_ENOMEM);
	TEST_EQ(rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, ~0ull), -RILL_ENOMEM);
	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(ph > 0);
	TEST_EQ(rl_process_budget(ph, &child), 0);
	TEST_EQ(child.id, mine.id);
	TEST_EQ(rl_handle_close(ph), 0);
	/* Too small to hold even the process: refused, nothing left over. */
	TEST_EQ(rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 64), -RILL_ENOMEM);
	TEST_EQ(rl_process_budget(RL_SELF_PROCESS, 0), -RILL_EFAULT);
	TEST_EQ(rl_process_budget(12345, &child), -RILL_EBADF);
}
