/*
 * In-OS tests of the shared zero page: a read of an anonymous page nobody
 * wrote maps one read-only zero page and allocates nothing; the first
 * write allocates the page (charged then) and every mapping of the object
 * (in this thread, another thread on another CPU, a second mapping) sees
 * the write, while other objects still read zeroes. Snapshots, futexes,
 * process_rw and IPC copies over such pages.
 */
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define PAGE	4096ull
#define MS	1000000ull
#define MIB	(1ull << 20)

static int64_t new_mo(uint64_t size)
{
	int64_t mo = rl_memobj_create(size, 0);

	TEST_ASSERT(mo > 0);
	return mo;
}

static uint64_t map_prot(int64_t mo, uint64_t len, unsigned prot)
{
	int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, len, prot);

	TEST_ASSERT(a > 0);
	return (uint64_t)a;
}

static uint64_t budget_used(void)
{
	struct rl_budget b;

	TEST_EQ(rl_process_budget(RL_SELF_PROCESS, &b), 0);
	return b.used;
}

/* Reading 64 MiB nobody wrote: no page, no tree node; the budget grows by
 * the page tables the reads entered and nothing else. Then writes: each
 * costs one page, is seen by the object's other mapping (which had the
 * zero page entered) and by no other object. */
DEFINE_TEST(reading_64m_untouched_costs_no_pages)
{
	const uint64_t size = 64 * MIB, step = 1024 * PAGE;
	struct rl_kcounters start, c0, c1, c2;
	uint64_t u0, u1, u2, a, b, other;
	int64_t mo, mo2;
	uint64_t sum = 0;

	rl_test_warm_up();
	rl_test_counters_settle(&start);
	mo = new_mo(size);
	mo2 = new_mo(size);
	a = map_prot(mo, size, RL_PROT_READ | RL_PROT_WRITE);
	b = map_prot(mo, size, RL_PROT_READ);
	other = map_prot(mo2, size, RL_PROT_READ | RL_PROT_WRITE);
	rl_test_counters_read(&c0);
	u0 = budget_used();
	for (uint64_t off = 0; off < size; off += PAGE)
		sum += ((volatile uint64_t *)(a + off))[off / PAGE % 512];
	for (uint64_t off = 0; off < size; off += step)
		sum += ((volatile uint64_t *)(b + off))[1] + ((volatile uint64_t *)(other + off))[1];
	rl_test_counters_read(&c1);
	u1 = budget_used();
	TEST_EQ(sum, 0);
	TEST_EQ(c1.user_pages, c0.user_pages);
	TEST_EQ(c1.memobj_nodes, c0.memobj_nodes);
	/* 16384 pages entered: at least 32 page tables, charged as such. */
	TEST_ASSERT(c1.page_tables >= c0.page_tables + 32);
	TEST_EQ(u1 - u0, (c1.page_tables - c0.page_tables) * PAGE);
	rl_printf("zeropage: 64 MiB read: +%lu page tables, +0 pages\n",
		  (unsigned long)(c1.page_tables - c0.page_tables));

	/* Writes after the reads: one page each, charged. */
	for (uint64_t off = 0; off < size; off += step)
		((volatile uint64_t *)(a + off))[1] = 0x5000 + off / step;
	rl_test_counters_read(&c2);
	u2 = budget_used();
	TEST_EQ(c2.user_pages, c1.user_pages + size / step);
	TEST_ASSERT(u2 - u1 >= size / step * PAGE);
	TEST_EQ(u2 - u1 - (c2.page_tables - c1.page_tables) * PAGE -
		(c2.memobj_nodes - c1.memobj_nodes) * PAGE, size / step * PAGE);
	for (uint64_t off = 0; off < size; off += step) {
		TEST_EQ(((volatile uint64_t *)(a + off))[1], 0x5000 + off / step);
		/* The read-only mapping read this page before: it follows. */
		TEST_EQ(((volatile uint64_t *)(b + off))[1], 0x5000 + off / step);
		/* Private: the other object still reads zero there. */
		TEST_EQ(((volatile uint64_t *)(other + off))[1], 0);
		TEST_EQ(((volatile uint64_t *)(a + off + PAGE))[1], 0);
	}
	rl_test_counters_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages + size / step);
	/* The zero page itself was never written. */
	TEST_EQ(((volatile uint64_t *)(other + 5 * PAGE))[1], 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, size), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, b, size), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, other, size), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(mo2), 0);
	rl_test_counters_expect_back_but_tables(&start);
}

/* A thread on another CPU keeps reading a page that maps the zero page
 * (its TLB holds the entry); a write here must reach it. */
static volatile uint64_t *spin_word;
static volatile uint32_t spin_seen, spin_started;

static void spin_reader(void *arg)
{
	uint64_t until = rl_clock_ns() + 5000 * MS;

	(void)arg;
	spin_started = 1;
	while (*spin_word == 0 && rl_clock_ns() < until)
		;
	spin_seen = *spin_word != 0;
}

DEFINE_TEST(write_reaches_a_reader_of_the_zero_page)
{
	for (unsigned round = 0; round < 20; round++) {
		int64_t mo = new_mo(4 * PAGE), t;
		uint64_t a = map_prot(mo, 4 * PAGE, RL_PROT_READ | RL_PROT_WRITE);

		spin_word = (volatile uint64_t *)(a + 2 * PAGE + 64);
		spin_seen = spin_started = 0;
		TEST_EQ(*spin_word, 0);
		t = rl_thread_spawn(spin_reader, NULL);
		TEST_ASSERT(t > 0);
		while (!spin_started)
			rl_yield();
		rl_sleep_ns(round % 3 * MS);
		*spin_word = 1 + round;
		TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
		TEST_EQ(spin_seen, 1);
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 4 * PAGE), 0);
		TEST_EQ(rl_handle_close(mo), 0);
	}
}

/* Snapshots of an object whose pages were only read: nothing to share;
 * both sides stay zero until written, and writes stay on their side. */
DEFINE_TEST(snapshot_of_read_pages)
{
	struct rl_kcounters c0, c1;
	int64_t A, B;
	volatile uint64_t *a, *b;

	rl_test_warm_up();
	rl_test_counters_settle(&c0);
	A = new_mo(8 * PAGE);
	a = (volatile uint64_t *)map_prot(A, 8 * PAGE, RL_PROT_READ | RL_PROT_WRITE);
	for (unsigned p = 0; p < 8; p++)
		TEST_EQ(a[p * 512], 0);
	a[3 * 512] = 33;			/* one page written before */
	B = rl_memobj_cow(A);
	TEST_ASSERT(B > 0);
	b = (volatile uint64_t *)map_prot(B, 8 * PAGE, RL_PROT_READ | RL_PROT_WRITE);
	for (unsigned p = 0; p < 8; p++)
		TEST_EQ(b[p * 512], p == 3 ? 33 : 0);
	rl_test_counters_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + 1);
	a[512] = 11;
	b[2 * 512] = 22;
	TEST_EQ(b[512], 0);
	TEST_EQ(a[2 * 512], 0);
	TEST_EQ(a[512], 11);
	TEST_EQ(b[2 * 512], 22);
	a[3 * 512] = 34;
	TEST_EQ(b[3 * 512], 33);
	rl_test_counters_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + 4);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 8 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, 8 * PAGE), 0);
	TEST_EQ(rl_handle_close(A), 0);
	TEST_EQ(rl_handle_close(B), 0);
	rl_test_counters_expect_back(&c0);
}

/* Futexes on a word of a page that was only read: it reads zero, the
 * wait compares against it, and a later write is the futex's word. */
DEFINE_TEST(futex_on_zero_page)
{
	int64_t mo = new_mo(2 * PAGE);
	uint64_t a = map_prot(mo, 2 * PAGE, RL_PROT_READ | RL_PROT_WRITE);
	uint64_t r = map_prot(mo, 2 * PAGE, RL_PROT_READ);
	volatile uint32_t *w = (volatile uint32_t *)(a + PAGE + 8);

	TEST_EQ(((volatile uint32_t *)(r + PAGE + 8))[0], 0);
	TEST_EQ(rl_raw_futex_wait(r + PAGE + 8, 1, 0), -RILL_EAGAIN);
	TEST_EQ(rl_raw_futex_wait(r + PAGE + 8, 0, rl_clock_ns() + 2 * MS), -RILL_ETIMEDOUT);
	*w = 7;
	TEST_EQ(rl_raw_futex_wait(r + PAGE + 8, 0, 0), -RILL_EAGAIN);
	TEST_EQ(rl_raw_futex_wait(r + PAGE + 8, 7, rl_clock_ns() + 2 * MS), -RILL_ETIMEDOUT);
	TEST_EQ(((volatile uint32_t *)(r + PAGE + 8))[0], 7);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 2 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, r, 2 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* process_rw reads untouched memory as zeroes without allocating, and
 * writes into a page that had the zero page entered. */
DEFINE_TEST(process_rw_over_zero_pages)
{
	struct rl_kcounters c0, c1;
	static uint8_t buf[3 * PAGE];
	int64_t mo;
	uint64_t a;

	rl_test_warm_up();
	memset(buf, 0xaa, sizeof(buf));
	rl_test_counters_settle(&c0);
	mo = new_mo(16 * PAGE);
	a = map_prot(mo, 16 * PAGE, RL_PROT_READ | RL_PROT_WRITE);
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, a + 100, buf, sizeof(buf), RL_RW_READ),
		sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i])
			rl_test_fail(__FILE__, __LINE__, "byte %lu: %x", (unsigned long)i, buf[i]);
	rl_test_counters_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages);
	/* Pages 0-3 now have the zero page entered (by the kernel's read):
	 * write through process_rw, then read directly. */
	memset(buf, 0x5c, sizeof(buf));
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, a + PAGE + 8, buf, 16, RL_RW_WRITE), 16);
	TEST_EQ(((volatile uint8_t *)a)[PAGE + 8], 0x5c);
	TEST_EQ(((volatile uint8_t *)a)[PAGE + 23], 0x5c);
	TEST_EQ(((volatile uint8_t *)a)[PAGE + 24], 0);
	rl_test_counters_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + 1);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 16 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	rl_test_counters_expect_back_but_tables(&c0);
}

/* IPC: a send from pages only read (zeroes) and a receive into pages that
 * had the zero page entered. */
DEFINE_TEST(ipc_over_zero_pages)
{
	struct rl_queue q;
	static struct rl_chain c, d;	/* read at queue_enter: one each */
	rl_handle_t l[2];
	uint64_t res[2][8];
	int64_t mo = new_mo(8 * PAGE);
	uint64_t a = map_prot(mo, 8 * PAGE, RL_PROT_READ | RL_PROT_WRITE);
	volatile uint8_t *src = (volatile uint8_t *)a, *dst = (volatile uint8_t *)(a + 4 * PAGE);
	unsigned done = 0;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	TEST_EQ(rl_stream(l), 0);
	TEST_EQ(dst[100], 0);			/* zero page entered at dst */
	TEST_EQ(src[PAGE + 5], 0);
	dst[2 * PAGE] = 0xee;			/* dst's third page written */
	rl_chain_init(&c);
	rl_chain_send(&c, (const void *)(src + 10), 2 * PAGE + 100);
	TEST_EQ(rl_chain_prep(rl_get_sqe(&q), l[0], &c, res[0], 1), 0);
	rl_chain_init(&d);
	rl_chain_recv(&d, (void *)(dst + 50), 3 * PAGE);
	TEST_EQ(rl_chain_prep(rl_get_sqe(&q), l[1], &d, res[1], 2), 0);
	rl_submit_and_wait(&q, 2, rl_clock_ns() + 2000 * MS);
	while (done < 2) {
		struct rl_cqe *e = rl_peek_cqe(&q);

		TEST_ASSERT(e != NULL);
		TEST_EQ(e->result, 0);
		rl_cqe_done(&q);
		done++;
	}
	TEST_EQ(rl_ipc_result(res[1], 0)->status, 0);
	TEST_EQ(rl_ipc_result(res[1], 0)->length, 2 * PAGE + 100);
	/* The copy wrote zeroes over the 0xee: the whole range is zero. */
	for (uint64_t i = 0; i < 3 * PAGE; i++)
		if (dst[i])
			rl_test_fail(__FILE__, __LINE__, "dst byte %lu: %x", (unsigned long)i, dst[i]);
	/* Now a non-zero send into pages read before. */
	src[20] = 0x77;
	src[PAGE + 20] = 0x78;
	rl_chain_init(&c);
	rl_chain_send(&c, (const void *)src, 2 * PAGE);
	TEST_EQ(rl_chain_prep(rl_get_sqe(&q), l[0], &c, res[0], 3), 0);
	TEST_EQ(dst[PAGE + 300], 0);
	rl_chain_init(&d);
	rl_chain_recv(&d, (void *)(dst + PAGE), 2 * PAGE);
	TEST_EQ(rl_chain_prep(rl_get_sqe(&q), l[1], &d, res[1], 4), 0);
	rl_submit_and_wait(&q, 2, rl_clock_ns() + 2000 * MS);
	for (done = 0; done < 2; done++) {
		struct rl_cqe *e = rl_peek_cqe(&q);

		TEST_ASSERT(e != NULL);
		TEST_EQ(e->result, 0);
		rl_cqe_done(&q);
	}
	TEST_EQ(dst[PAGE + 20], 0x77);
	TEST_EQ(dst[2 * PAGE + 20], 0x78);
	TEST_EQ(dst[2 * PAGE + 21], 0);
	TEST_EQ(rl_handle_close(l[0]), 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 8 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}
