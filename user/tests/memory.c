/*
 * In-OS tests of memory: demand paging, copy-on-write snapshots, mapping
 * errors, protection changes (enforced, checked through a child process
 * and through the kernel's own user copies), splitting areas, leak-free
 * map/unmap cycles, bad pointers passed to system calls, kernel copies
 * into user memory racing with page faults of another thread, object
 * sizes up to RL_MEMOBJ_MAX and what large sparse objects cost, and
 * snapshots of sparse objects (also while another thread writes).
 *
 * Kernel counters (kcounters) are system-wide; while a test program runs,
 * init only waits for it, so the differences are this program's doing.
 * Work the kernel finishes a little after a call returns (freeing an
 * exited thread's stack, tearing down an ended process) is waited for:
 * kc_expect_back() polls for up to a few seconds.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define PAGE		4096ull
#define MS		1000000ull
#define KERNEL_PTR	0xffff800000000000ull

/* Shared test helpers (lib/user/testmain.c, lib/user/time.c). */
#define kc_read		rl_test_counters_read
#define kc_settle	rl_test_counters_settle
#define kc_expect_back	rl_test_counters_expect_back
#define sleep_ms(ms)	rl_sleep_ns((uint64_t)(ms) * MS)

static int64_t new_mo(uint64_t size)
{
	int64_t mo = rl_memobj_create(size, 0);

	TEST_ASSERT(mo > 0);
	return mo;
}

static uint64_t map_rw(int64_t mo, uint64_t len)
{
	int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, len,
			   RL_PROT_READ | RL_PROT_WRITE);

	TEST_ASSERT(a > 0);
	TEST_EQ(a & (PAGE - 1), 0);
	return (uint64_t)a;
}

/* Does a system call that reads user memory see addr as readable?
 * futex_wait with a value that cannot match reads 4 bytes and fails at
 * once: -EAGAIN when readable, -EFAULT when not. */
static int64_t probe_read(uint64_t addr)
{
	return rl_raw_futex_wait(addr, 0xfee1dead, 0);
}

/* ---- child processes running a few instructions ------------------------------ */

/*
 * Position-independent code blobs that child processes run (no ELF, no
 * stack). They start with rdi = the thread's argument.
 *   mem_blob_store:  *(uint32_t *)rdi = 0x5a5a5a5a; thread_exit(0)
 * ud2 after a syscall that must not return turns a surprise into a fault.
 */
_Static_assert(RL_SYS_thread_exit == 0x20000010, "blob syscall number");
__asm__(".pushsection .rodata\n"
	".balign 64\n"
	"mem_blob_start:\n"
	"mem_blob_store:\n"
	"	movl $0x5a5a5a5a, (%rdi)\n"
	"	xorl %edi, %edi\n"
	"	movl $0x20000010, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"mem_blob_end:\n"
	".popsection\n");
extern const char mem_blob_start[], mem_blob_store[], mem_blob_end[];

#define CHILD_CODE	0x400000ull
#define CHILD_DATA	0x10000000ull

/* A memory object holding the blobs (read/exec for children). */
static int64_t code_object(void)
{
	int64_t mo = new_mo(PAGE);
	uint64_t a = map_rw(mo, PAGE);

	memcpy((void *)a, mem_blob_start, (size_t)(mem_blob_end - mem_blob_start));
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, PAGE), 0);
	return mo;
}

/* ---- demand paging ------------------------------------------------------------ */

DEFINE_TEST(demand_paging)
{
	static const unsigned wr[] = { 0, 17, 100, 255 }, rd[] = { 5, 50, 200 };
	struct rl_kcounters c0, c1, c2;
	int64_t mo;
	uint64_t a, b;

	rl_test_warm_up();
	kc_settle(&c0);
	mo = new_mo(1 << 20);
	a = map_rw(mo, 1 << 20);
	kc_read(&c1);
	/* Creating and mapping 1 MiB allocates no page yet. */
	TEST_EQ(c1.user_pages, c0.user_pages);
	TEST_EQ(c1.memobjs, c0.memobjs + 1);
	TEST_EQ(c1.mappings, c0.mappings + 1);

	for (unsigned i = 0; i < 4; i++)
		((volatile uint64_t *)(a + wr[i] * PAGE))[7] = 0xabc000 + wr[i];
	for (unsigned i = 0; i < 3; i++) {
		const volatile uint64_t *p = (const volatile uint64_t *)(a + rd[i] * PAGE);

		for (unsigned w = 0; w < PAGE / 8; w++)
			TEST_EQ(p[w], 0);
	}
	kc_read(&c2);
	/* 4 written; the 3 read map the shared zero page and cost nothing. */
	TEST_EQ(c2.user_pages, c0.user_pages + 4);
	/* Touching them again costs nothing. */
	for (unsigned i = 0; i < 4; i++) {
		const volatile uint64_t *p = (const volatile uint64_t *)(a + wr[i] * PAGE);

		for (unsigned w = 0; w < PAGE / 8; w++)
			TEST_EQ(p[w], w == 7 ? 0xabc000 + wr[i] : 0);
		((volatile uint64_t *)p)[8] = 1;
	}
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c0.user_pages + 4);

	/* The pages belong to the object: they survive the mapping. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 1 << 20), 0);
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c0.user_pages + 4);
	TEST_EQ(c2.mappings, c0.mappings);
	b = map_rw(mo, 1 << 20);
	for (unsigned i = 0; i < 4; i++)
		TEST_EQ(((volatile uint64_t *)(b + wr[i] * PAGE))[7], 0xabc000 + wr[i]);
	/* A mapping of part of the object, at an offset. */
	{
		int64_t c = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 100 * PAGE, 0, 2 * PAGE,
				   RL_PROT_READ);

		TEST_ASSERT(c > 0);
		TEST_EQ(((volatile uint64_t *)c)[7], 0xabc000 + 100);
		TEST_EQ(((volatile uint64_t *)(c + PAGE))[7], 0);
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)c, 2 * PAGE), 0);
	}
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c0.user_pages + 4);	/* page 101 was only read */
	/* The last mapping holds the object after its handle is closed. */
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(((volatile uint64_t *)(b + 17 * PAGE))[7], 0xabc000 + 17);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, b, 1 << 20), 0);
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c0.user_pages);
	TEST_EQ(c2.memobjs, c0.memobjs);
	TEST_EQ(c2.mappings, c0.mappings);
}

/* ---- copy-on-write ------------------------------------------------------------ */

static uint64_t pat(unsigned page, unsigned word)
{
	return 0x1000000ull * (page + 1) + word * 7;
}

DEFINE_TEST(copy_on_write)
{
	struct rl_kcounters c0, c1, c2;
	struct rl_handle_info ia, ib;
	int64_t A, B, C;
	volatile uint64_t *a, *b, *c;
	const unsigned W = PAGE / 8;

	rl_test_warm_up();
	kc_settle(&c0);
	A = new_mo(4 * PAGE);
	a = (volatile uint64_t *)map_rw(A, 4 * PAGE);
	/* Pages 0-2 written (present, writable in the page table); page 3
	 * never touched. */
	for (unsigned p = 0; p < 3; p++)
		for (unsigned w = 0; w < W; w++)
			a[p * W + w] = pat(p, w);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + 3);

	B = rl_memobj_cow(A);
	TEST_ASSERT(B > 0);
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages);		/* shared, not copied */
	TEST_EQ(c2.memobjs, c1.memobjs + 1);
	TEST_EQ(rl_handle_info(A, &ia), 0);
	TEST_EQ(rl_handle_info(B, &ib), 0);
	TEST_EQ(ib.type, RL_OBJ_MEMORY);
	TEST_EQ(ib.size, 4 * PAGE);
	TEST_ASSERT(ib.id != ia.id);

	b = (volatile uint64_t *)map_rw(B, 4 * PAGE);
	for (unsigned p = 0; p < 3; p++)
		for (unsigned w = 0; w < W; w++)
			TEST_EQ(b[p * W + w], pat(p, w));
	for (unsigned w = 0; w < W; w++)
		TEST_EQ(b[3 * W + w], 0);
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages);	/* B's page 3 read: the zero page */

	/* Writing A (whose entries were writable before the snapshot)
	 * copies the page: B keeps the old contents. */
	a[0] = 111;
	TEST_EQ(b[0], pat(0, 0));
	TEST_EQ(a[0], 111);
	TEST_EQ(a[1], pat(0, 1));			/* the copy has the rest */
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages + 1);
	/* Writing B copies too; A keeps its contents. */
	b[W + 5] = 222;
	TEST_EQ(a[W + 5], pat(1, 5));
	TEST_EQ(b[W + 5], 222);
	TEST_EQ(b[W + 6], pat(1, 6));
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages + 2);
	/* B's page 0 is no longer shared: writing it copies nothing. */
	b[1] = 333;
	TEST_EQ(a[1], pat(0, 1));
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages + 2);
	/* Page 3: A's untouched page and B's are independent. */
	a[3 * W] = 444;
	TEST_EQ(b[3 * W], 0);

	/* A second, read-only mapping of B, read while B's page 2 is still
	 * shared with A. Writing through the first mapping copies the page
	 * for B: the second mapping must follow to the copy, not keep
	 * showing the page A still has. */
	{
		volatile uint64_t *b2 = (volatile uint64_t *)rl_map(RL_SELF_PROCESS,
			(rl_handle_t)B, 0, 0, 4 * PAGE, RL_PROT_READ);

		TEST_ASSERT((int64_t)b2 > 0);
		TEST_EQ(b2[2 * W + 3], pat(2, 3));
		b[2 * W + 3] = 666;
		TEST_EQ(b2[2 * W + 3], 666);
		TEST_EQ(a[2 * W + 3], pat(2, 3));
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b2, 4 * PAGE), 0);
	}

	/* The kernel writing into a shared page (kcounters' copy-out) breaks
	 * the sharing as well: B keeps the pattern. */
	{
		struct rl_kcounters *kc = (struct rl_kcounters *)(a + 2 * W);

		TEST_EQ(rl_kcounters(kc, sizeof(*kc)), sizeof(*kc));
		TEST_ASSERT(kc->free_pages > 0 && kc->memobjs >= 2);
		for (unsigned w = 0; w < sizeof(*kc) / 8; w++)
			TEST_EQ(b[2 * W + w], w == 3 ? 666 : pat(2, w));
	}

	/* A snapshot of a snapshot, mapped read-only. */
	C = rl_memobj_cow(B);
	TEST_ASSERT(C > 0);
	c = (volatile uint64_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)C, 0, 0, 4 * PAGE,
					RL_PROT_READ);
	TEST_ASSERT((int64_t)c > 0);
	TEST_EQ(c[0], pat(0, 0));
	TEST_EQ(c[1], 333);
	TEST_EQ(c[W + 5], 222);
	TEST_EQ(c[2 * W + 9], pat(2, 9));
	b[2 * W + 9] = 555;
	TEST_EQ(c[2 * W + 9], pat(2, 9));

	/* Closing A's handle and mapping leaves B and C intact. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 4 * PAGE), 0);
	TEST_EQ(rl_handle_close(A), 0);
	TEST_EQ(b[0], pat(0, 0));
	TEST_EQ(c[W + 5], 222);

	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, 4 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)c, 4 * PAGE), 0);
	TEST_EQ(rl_handle_close(B), 0);
	TEST_EQ(rl_handle_close(C), 0);
	kc_expect_back(&c0);
}

DEFINE_TEST(copy_on_write_errors)
{
	struct rl_queue q;
	int64_t A = new_mo(PAGE), h, p;

	/* Without DERIVE, or without READ: no snapshot. */
	h = rl_handle_dup(A, RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_DUP);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_memobj_cow(h), -RILL_EPERM);
	TEST_EQ(rl_handle_close(h), 0);
	h = rl_handle_dup(A, RL_RIGHT_DERIVE);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_memobj_cow(h), -RILL_EPERM);
	TEST_EQ(rl_handle_close(h), 0);
	/* Wrong object types, bad handles. */
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	TEST_EQ(rl_memobj_cow(q.handle), -RILL_EBADFD);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_memobj_cow(q.handle), -RILL_EBADF);
	TEST_EQ(rl_memobj_cow(RL_SELF_PROCESS), -RILL_EBADFD);
	TEST_EQ(rl_memobj_cow(RL_SELF_THREAD), -RILL_EBADFD);
	TEST_EQ(rl_memobj_cow(0), -RILL_EBADF);
	TEST_EQ(rl_memobj_cow(0x7ffff), -RILL_EBADF);
	TEST_EQ(rl_raw_memobj_cow(0x100000000ull), -RILL_EBADF);
	/* With both rights it works, also on a reduced handle. */
	h = rl_handle_dup(A, RL_RIGHT_READ | RL_RIGHT_DERIVE);
	TEST_ASSERT(h > 0);
	p = rl_memobj_cow(h);
	TEST_ASSERT(p > 0);
	TEST_EQ(rl_handle_close(p), 0);
	TEST_EQ(rl_handle_close(h), 0);
	TEST_EQ(rl_handle_close(A), 0);
}

/* A writer thread keeps storing into A while the snapshot is taken: on
 * several CPUs its cached writable translation must be shot down, or
 * its later stores would land in the page B shares. */
static volatile uint64_t *cow_target;
static volatile uint32_t cow_stop, cow_running;

static void cow_writer(void *arg)
{
	uint64_t n = 1;

	cow_running = 1;
	while (!cow_stop) {
		cow_target[0] = n++;
		/* Yield now and then: on one CPU, a thread spinning in user
		 * mode alone keeps a woken sleeper of the same priority off
		 * the CPU (the scheduler does not re-arm its time slice when
		 * it preempts a thread and picks it again). */
		if ((n & 1023) == 0)
			rl_yield();
	}
}

DEFINE_TEST(copy_on_write_while_written)
{
	int64_t A, B, t;
	volatile uint64_t *b;
	uint64_t v1, v2, until;

	A = new_mo(PAGE);
	cow_target = (volatile uint64_t *)map_rw(A, PAGE);
	cow_target[0] = 0;
	cow_stop = 0;
	cow_running = 0;
	t = rl_thread_spawn(cow_writer, NULL);
	TEST_ASSERT(t > 0);
	until = rl_clock_ns() + 5000 * MS;
	while (!cow_running || cow_target[0] < 1000) {
		TEST_ASSERT(rl_clock_ns() < until);
		rl_yield();
	}
	B = rl_memobj_cow(A);
	TEST_ASSERT(B > 0);
	b = (volatile uint64_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)B, 0, 0, PAGE,
					RL_PROT_READ);
	TEST_ASSERT((int64_t)b > 0);
	v1 = b[0];
	/* Let the writer store many more values (into its own copy). */
	until = rl_clock_ns() + 5000 * MS;
	while (cow_target[0] < v1 + 100000 && rl_clock_ns() < until)
		sleep_ms(1);
	v2 = b[0];
	cow_stop = 1;
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(v2, v1);				/* the snapshot does not move */
	TEST_ASSERT(cow_target[0] >= v1 + 100000);	/* the writer went on, in its copy */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)cow_target, PAGE), 0);
	TEST_EQ(rl_handle_close(B), 0);
	TEST_EQ(rl_handle_close(A), 0);
}

/* ---- mapping errors ------------------------------------------------------------ */

DEFINE_TEST(map_errors)
{
	struct rl_kcounters c0, c1;
	struct rl_queue q;
	int64_t mo, ro, r;
	uint64_t a;
	const unsigned RW = RL_PROT_READ | RL_PROT_WRITE;

	rl_test_warm_up();
	mo = new_mo(4 * PAGE);
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	/* Two pages mapped, with a known hole above them. */
	a = map_rw(mo, 3 * PAGE);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a + 2 * PAGE, PAGE), 0);
	kc_read(&c0);

	/* Alignment of address, length and offset; zero length. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0x20000000 + 8, PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, PAGE + 1, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, 100, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 512, 0, PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, 0, RW), -RILL_EINVAL);
	/* Beyond the object (4 pages), including offsets that overflow. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, 5 * PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 4 * PAGE, 0, PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 3 * PAGE, 0, 2 * PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, ~0ull - PAGE + 1, 0, 2 * PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 2 * PAGE, 0, ~0ull - PAGE + 1, RW), -RILL_EINVAL);
	/* Addresses outside user space, or below its bottom. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, KERNEL_PTR, PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, KERNEL_PTR, PAGE, RW | RL_MAP_FIXED),
		-RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, RL_USER_TOP, PAGE, RW), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, RL_USER_TOP - PAGE, 2 * PAGE,
		       RW | RL_MAP_FIXED), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0x1000, PAGE, RW | RL_MAP_FIXED), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, PAGE, RW | RL_MAP_FIXED), -RILL_EINVAL);
	/* Unknown protection or flag bits. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, PAGE, RW | 0x8), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, PAGE, RW | 0x200), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, 0, PAGE, RW | 0x80000000u), -RILL_EINVAL);
	/* A fixed address in use, wholly or partly. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, a, PAGE, RW | RL_MAP_FIXED), -RILL_EEXIST);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, a + PAGE, 2 * PAGE, RW | RL_MAP_FIXED),
		-RILL_EEXIST);
	TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, a - PAGE, 2 * PAGE, RW | RL_MAP_FIXED),
		-RILL_EEXIST);
	/* Without RL_MAP_FIXED the address is a hint: elsewhere is fine. */
	r = rl_map(RL_SELF_PROCESS, mo, 0, a, PAGE, RL_PROT_READ);
	TEST_ASSERT(r > 0);
	TEST_ASSERT((uint64_t)r != a);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)r, PAGE), 0);

	/* Rights: a read-only handle cannot be mapped writable or executable:
	 * -EPERM, the handle lacks the rights the protection needs
	 * (docs/abi.md, MAP). */
	ro = rl_handle_dup(mo, RL_RIGHT_READ | RL_RIGHT_DUP);
	TEST_ASSERT(ro > 0);
	TEST_EQ(rl_map(RL_SELF_PROCESS, ro, 0, 0, PAGE, RW), -RILL_EPERM);
	TEST_EQ(rl_map(RL_SELF_PROCESS, ro, 0, 0, PAGE, RL_PROT_READ | RL_PROT_EXEC), -RILL_EPERM);
	TEST_EQ(rl_map(RL_SELF_PROCESS, ro, 0, 0, PAGE, RL_PROT_WRITE), -RILL_EPERM);
	/* ... but it can be mapped readable, and not made writable later. */
	r = rl_map(RL_SELF_PROCESS, ro, 0, 0, PAGE, RL_PROT_READ);
	TEST_ASSERT(r > 0);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, (uint64_t)r, PAGE, RW), -RILL_EACCES);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, (uint64_t)r, PAGE, RL_PROT_EXEC), -RILL_EACCES);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, (uint64_t)r, PAGE, 0), 0);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, (uint64_t)r, PAGE, RL_PROT_READ), 0);
	/* A range covering the read-only area and the read/write one is
	 * refused as a whole. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)r, PAGE), 0);
	TEST_EQ(rl_map(RL_SELF_PROCESS, ro, 0, a + 2 * PAGE, PAGE, RL_PROT_READ | RL_MAP_FIXED),
		(int64_t)(a + 2 * PAGE));
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, 3 * PAGE, RW), -RILL_EACCES);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, 3 * PAGE, RL_PROT_READ), 0);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, 2 * PAGE, RW), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a + 2 * PAGE, PAGE), 0);
	TEST_EQ(rl_handle_close(ro), 0);

	/* The clock page is read-only for good, and in use. */
	{
		uint64_t clk = rl_startup_info->clock_page & ~(PAGE - 1);

		TEST_EQ(rl_protect(RL_SELF_PROCESS, clk, PAGE, RW), -RILL_EACCES);
		TEST_EQ(rl_map(RL_SELF_PROCESS, mo, 0, clk, PAGE, RW | RL_MAP_FIXED), -RILL_EEXIST);
		TEST_EQ(rl_raw_kcounters(clk, sizeof(struct rl_kcounters)), -RILL_EFAULT);
		TEST_ASSERT(rl_clock_ns() > 0);
	}

	/* Handles: bad, wrong type, missing right. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0x12345, 0, 0, PAGE, RW), -RILL_EBADF);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, 0, PAGE, RW), -RILL_EBADF);
	TEST_EQ(rl_map(RL_SELF_PROCESS, RL_SELF_THREAD, 0, 0, PAGE, RW), -RILL_EBADFD);
	TEST_EQ(rl_map(RL_SELF_PROCESS, q.handle, 0, 0, PAGE, RW), -RILL_EBADFD);
	TEST_EQ(rl_map(0x12345, mo, 0, 0, PAGE, RW), -RILL_EBADF);
	TEST_EQ(rl_map(mo, mo, 0, 0, PAGE, RW), -RILL_EBADFD);
	TEST_EQ(rl_unmap(mo, a, PAGE), -RILL_EBADFD);
	TEST_EQ(rl_protect(RL_SELF_THREAD, a, PAGE, RW), -RILL_EBADFD);
	{
		int64_t weak = rl_handle_dup(rl_startup_info->self_process, RL_RIGHT_DUP);

		TEST_ASSERT(weak > 0);
		TEST_EQ(rl_map(weak, mo, 0, 0, PAGE, RW), -RILL_EPERM);
		TEST_EQ(rl_unmap(weak, a, PAGE), -RILL_EPERM);
		TEST_EQ(rl_protect(weak, a, PAGE, RW), -RILL_EPERM);
		TEST_EQ(rl_handle_close(weak), 0);
	}
	/* Unmap and protect arguments. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a + 1, PAGE), -RILL_EINVAL);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, PAGE - 1), -RILL_EINVAL);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 0), -RILL_EINVAL);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, KERNEL_PTR, PAGE), -RILL_EINVAL);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, RL_USER_TOP - PAGE, 2 * PAGE), -RILL_EINVAL);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, PAGE, 8), -RILL_EINVAL);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a + 8, PAGE, RL_PROT_READ), -RILL_EINVAL);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, 0, RL_PROT_READ), -RILL_EINVAL);

	/* None of it left a mapping behind, and the mapping still works. */
	kc_read(&c1);
	TEST_EQ(c1.mappings, c0.mappings);
	TEST_EQ(c1.memobjs, c0.memobjs);
	TEST_EQ(c1.handles, c0.handles);
	((volatile uint64_t *)a)[0] = 42;
	TEST_EQ(((volatile uint64_t *)a)[0], 42);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 2 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- protection and unmapping ----------------------------------------------------- */

DEFINE_TEST(protect_is_enforced_for_the_kernel)
{
	struct rl_kcounters c0, c1;
	int64_t mo = new_mo(4 * PAGE);
	uint64_t a;
	volatile uint64_t *v;

	rl_test_warm_up();
	a = map_rw(mo, 4 * PAGE);
	v = (volatile uint64_t *)a;
	for (unsigned p = 0; p < 4; p++)
		v[p * PAGE / 8] = 100 + p;
	kc_read(&c0);
	/* Read-only: still readable, by us and by the kernel; the kernel's
	 * copy-out refuses it. */
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, 4 * PAGE, RL_PROT_READ), 0);
	for (unsigned p = 0; p < 4; p++)
		TEST_EQ(v[p * PAGE / 8], 100 + p);
	TEST_EQ(probe_read(a), -RILL_EAGAIN);
	TEST_EQ(rl_raw_kcounters(a + PAGE, sizeof(struct rl_kcounters)), -RILL_EFAULT);
	TEST_EQ(v[PAGE / 8], 101);
	/* No access at all. */
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, 4 * PAGE, 0), 0);
	TEST_EQ(probe_read(a + 3 * PAGE), -RILL_EFAULT);
	TEST_EQ(rl_raw_debug_write(a, 1), -RILL_EFAULT);
	/* Writable again (the handle allowed it): the data is intact. */
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, 4 * PAGE, RL_PROT_READ | RL_PROT_WRITE), 0);
	TEST_EQ(rl_raw_kcounters(a + PAGE, sizeof(struct rl_kcounters)),
		sizeof(struct rl_kcounters));
	TEST_EQ(v[0], 100);
	TEST_EQ(v[3 * PAGE / 8], 103);
	v[0] = 7;
	kc_read(&c1);
	TEST_EQ(c1.mappings, c0.mappings);	/* whole-area changes split nothing */

	/* Protecting the middle page splits the area in three. */
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a + PAGE, PAGE, RL_PROT_READ), 0);
	kc_read(&c1);
	TEST_EQ(c1.mappings, c0.mappings + 2);
	TEST_EQ(rl_raw_kcounters(a + PAGE, sizeof(struct rl_kcounters)), -RILL_EFAULT);
	TEST_EQ(rl_raw_kcounters(a + 2 * PAGE, sizeof(struct rl_kcounters)),
		sizeof(struct rl_kcounters));
	TEST_EQ(rl_raw_kcounters(a, sizeof(struct rl_kcounters)), sizeof(struct rl_kcounters));
	/* A kernel copy straddling writable and read-only pages fails. */
	TEST_EQ(rl_raw_kcounters(a + PAGE - 16, sizeof(struct rl_kcounters)), -RILL_EFAULT);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 4 * PAGE), 0);
	kc_read(&c1);
	TEST_EQ(c1.mappings, c0.mappings - 1);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(unmap_middle_splits)
{
	struct rl_kcounters c0, c1;
	int64_t mo = new_mo(3 * PAGE), other = new_mo(PAGE);
	uint64_t a;
	volatile uint64_t *v;

	rl_test_warm_up();
	a = map_rw(mo, 3 * PAGE);
	v = (volatile uint64_t *)a;
	for (unsigned p = 0; p < 3; p++)
		v[p * PAGE / 8 + 1] = 0x51 + p;
	kc_read(&c0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a + PAGE, PAGE), 0);
	kc_read(&c1);
	TEST_EQ(c1.mappings, c0.mappings + 1);
	TEST_EQ(v[1], 0x51);
	TEST_EQ(v[2 * PAGE / 8 + 1], 0x53);
	TEST_EQ(probe_read(a + PAGE), -RILL_EFAULT);
	TEST_EQ(probe_read(a + 2 * PAGE), -RILL_EAGAIN);
	/* The hole is free for a fixed mapping of another object. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, other, 0, a + PAGE, PAGE,
		       RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED), (int64_t)(a + PAGE));
	TEST_EQ(v[PAGE / 8 + 1], 0);
	v[PAGE / 8 + 1] = 9;
	/* The upper part still maps the object's page 2 (offset kept). */
	TEST_EQ(v[2 * PAGE / 8 + 1], 0x53);
	/* Unmapping across all three areas removes them all. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 3 * PAGE), 0);
	kc_read(&c1);
	TEST_EQ(c1.mappings, c0.mappings - 1);
	for (unsigned p = 0; p < 3; p++)
		TEST_EQ(probe_read(a + p * PAGE), -RILL_EFAULT);
	/* Unmapping nothing is not an error. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 3 * PAGE), 0);
	/* The object kept its middle page: map it again and look. */
	a = map_rw(mo, 3 * PAGE);
	TEST_EQ(((volatile uint64_t *)a)[PAGE / 8 + 1], 0x52);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 3 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(other), 0);
}

/* A child process storing through a mapping of our object: allowed while
 * its mapping is writable, a fatal fault once it has been protected
 * read-only through the child's process handle. */
static int64_t run_store_child(int64_t code, int64_t data, unsigned prot_after_map)
{
	int64_t ph, th, st;

	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(ph > 0);
	TEST_EQ(rl_map(ph, code, 0, CHILD_CODE, PAGE,
		       RL_PROT_READ | RL_PROT_EXEC | RL_MAP_FIXED), CHILD_CODE);
	TEST_EQ(rl_map(ph, data, 0, CHILD_DATA, PAGE,
		       RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED), CHILD_DATA);
	if (prot_after_map != (RL_PROT_READ | RL_PROT_WRITE))
		TEST_EQ(rl_protect(ph, CHILD_DATA, PAGE, prot_after_map), 0);
	th = rl_thread_create(ph, CHILD_CODE + (uint64_t)(mem_blob_store - mem_blob_start), 0,
			      CHILD_DATA + 64, 0);
	TEST_ASSERT(th > 0);
	TEST_EQ(rl_thread_start(th), 0);
	st = rl_process_wait((rl_handle_t)ph);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(rl_handle_close(ph), 0);
	return st;
}

DEFINE_TEST(protect_is_enforced_for_user_code)
{
	int64_t code, data;
	volatile uint32_t *d;

	code = code_object();
	data = new_mo(PAGE);
	d = (volatile uint32_t *)map_rw(data, PAGE);
	d[16] = 1;
	TEST_EQ(run_store_child(code, data, RL_PROT_READ | RL_PROT_WRITE), 0);
	TEST_EQ(d[16], 0x5a5a5a5a);
	d[16] = 2;
	TEST_EQ(run_store_child(code, data, RL_PROT_READ), -RILL_EFAULT);
	TEST_EQ(d[16], 2);
	TEST_EQ(run_store_child(code, data, 0), -RILL_EFAULT);
	TEST_EQ(d[16], 2);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)d, PAGE), 0);
	TEST_EQ(rl_handle_close(data), 0);
	TEST_EQ(rl_handle_close(code), 0);
}

/* ---- leak-free cycles ------------------------------------------------------------ */

#define CYCLES 10000

static int64_t one_cycle(uint64_t i)
{
	int64_t mo = rl_memobj_create(PAGE * 2, 0), a;

	if (mo < 0)
		return mo;
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, PAGE * 2,
		   RL_PROT_READ | RL_PROT_WRITE);
	rl_handle_close(mo);
	if (a < 0)
		return a;
	((volatile uint64_t *)a)[i % 512] = i;
	if (((volatile uint64_t *)a)[(i + 1) % 512] != 0)
		return -RILL_EIO;
	return rl_unmap(RL_SELF_PROCESS, (uint64_t)a, PAGE * 2);
}

DEFINE_TEST(map_unmap_cycles_leak_nothing)
{
	struct rl_kcounters c0;
	uint64_t t0;

	rl_test_warm_up();
	TEST_EQ(one_cycle(0), 0);
	kc_settle(&c0);
	t0 = rl_clock_ns();
	for (uint64_t i = 1; i <= CYCLES; i++) {
		int64_t r = one_cycle(i);

		if (r != 0)
			rl_test_fail(__FILE__, __LINE__, "cycle %lu: %ld", (unsigned long)i,
				     (long)r);
	}
	rl_printf("memory: %d map/unmap cycles in %lu ms\n", CYCLES,
		  (unsigned long)((rl_clock_ns() - t0) / MS));
	kc_expect_back(&c0);
}

/* ---- bad pointers ----------------------------------------------------------------- */

DEFINE_TEST(bad_pointers_to_system_calls)
{
	struct rl_kcounters kc;
	int64_t mo = new_mo(2 * PAGE);
	uint64_t a;
	char *p;

	rl_test_warm_up();
	a = map_rw(mo, 2 * PAGE);
	p = (char *)a;
	p[PAGE - 1] = '\n';
	/* Second page gone: a known hole. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a + PAGE, PAGE), 0);

	TEST_EQ(rl_raw_debug_write(a + PAGE, 1), -RILL_EFAULT);
	TEST_EQ(rl_raw_debug_write(a + PAGE - 1, 2), -RILL_EFAULT);	/* runs into the hole */
	TEST_EQ(rl_raw_debug_write(KERNEL_PTR, 1), -RILL_EFAULT);
	TEST_EQ(rl_raw_debug_write(0xffffffff80000000ull, 16), -RILL_EFAULT);
	TEST_EQ(rl_debug_write(0, 1), -RILL_EFAULT);
	TEST_EQ(rl_raw_debug_write(RL_USER_TOP - 8, 16), -RILL_EFAULT);	/* crosses the top */
	TEST_EQ(rl_raw_debug_write(~0ull - 4, 16), -RILL_EFAULT);		/* wraps around */
	TEST_EQ(rl_raw_debug_write(a, (1 << 20) + 1), -RILL_EINVAL);
	TEST_EQ(rl_raw_debug_write(a, ~0ull), -RILL_EINVAL);
	TEST_EQ(rl_raw_debug_write(a + PAGE - 1, 1), 1);		/* the good byte */
	TEST_EQ(rl_raw_debug_write(a, 0), 0);

	TEST_EQ(rl_kcounters(&kc, sizeof(kc) - 8), -RILL_EINVAL);
	TEST_EQ(rl_kcounters(&kc, sizeof(kc) + 8), -RILL_EINVAL);
	TEST_EQ(rl_kcounters(&kc, 0), -RILL_EINVAL);
	TEST_EQ(rl_kcounters(0, sizeof(kc)), -RILL_EFAULT);
	TEST_EQ(rl_raw_kcounters(KERNEL_PTR, sizeof(kc)), -RILL_EFAULT);
	TEST_EQ(rl_raw_kcounters(a + PAGE, sizeof(kc)), -RILL_EFAULT);
	TEST_EQ(rl_raw_kcounters(a + PAGE - 8, sizeof(kc)), -RILL_EFAULT);
	TEST_EQ(rl_kcounters(&kc, sizeof(kc)), sizeof(kc));

	TEST_EQ(rl_raw_handle_info(mo, a + PAGE), -RILL_EFAULT);
	TEST_EQ(rl_raw_handle_info(mo, KERNEL_PTR), -RILL_EFAULT);
	TEST_EQ(rl_raw_futex_wake(KERNEL_PTR, 1), -RILL_EFAULT);
	TEST_EQ(rl_raw_futex_wait(a + PAGE, 0, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_queue_create(a + PAGE - 8), -RILL_EFAULT);
	TEST_EQ(rl_raw_process_rw(RL_SELF_PROCESS, a, KERNEL_PTR, 8, RL_RW_READ), -RILL_EFAULT);
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, a + PAGE, &kc, 8, RL_RW_READ),
		-RILL_EFAULT);

	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* ---- kernel copies racing with first touches ------------------------------------ */

/*
 * The kernel writes into user memory (kcounters' copy-out) page after page
 * of a fresh object while another thread writes each page for the first
 * time, right behind it. Neither may lose its write: the kernel's copy
 * must not look like sharing to the other thread's fault (a spurious
 * copy-on-write break would move the page away under the kernel's copy).
 */
#define RACE_PAGES	256
#define RACE_ROUNDS	300

static volatile uint64_t race_base;
static volatile int64_t race_cur;
static volatile uint32_t race_round, race_quit;

static void race_writer(void *arg)
{
	uint32_t seen = 0;

	for (;;) {
		while (race_round == seen && !race_quit)
			rl_yield();
		if (race_quit)
			return;
		seen = race_round;
		for (int64_t p = 0; p < RACE_PAGES; p++) {
			while (race_cur < p)
				;
			((volatile uint64_t *)(race_base + p * PAGE))[300] = 1;
		}
	}
}

DEFINE_TEST(kernel_copy_vs_first_touch)
{
	uint64_t lost = 0, t0 = rl_clock_ns(), until;
	int64_t t;
	int r;

	race_round = 0;
	race_quit = 0;
	t = rl_thread_spawn(race_writer, NULL);
	TEST_ASSERT(t > 0);
	for (r = 0; r < RACE_ROUNDS; r++) {
		int64_t mo = new_mo(RACE_PAGES * PAGE);
		uint64_t a = map_rw(mo, RACE_PAGES * PAGE);

		race_base = a;
		race_cur = -1;
		__atomic_fetch_add(&race_round, 1, __ATOMIC_SEQ_CST);
		for (int64_t p = 0; p < RACE_PAGES; p++) {
			struct rl_kcounters *kc = (struct rl_kcounters *)(a + p * PAGE);

			race_cur = p;
			if (rl_kcounters(kc, sizeof(*kc)) != sizeof(*kc))
				break;
		}
		race_cur = RACE_PAGES;
		until = rl_clock_ns() + 10000 * MS;
		for (int64_t p = 0; p < RACE_PAGES; p++) {
			volatile struct rl_kcounters *kc =
				(volatile struct rl_kcounters *)(a + p * PAGE);

			while (((volatile uint64_t *)kc)[300] != 1 && rl_clock_ns() < until)
				rl_yield();
			lost += ((volatile uint64_t *)kc)[300] != 1;
			lost += kc->free_pages == 0 || kc->user_pages == 0;
		}
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, RACE_PAGES * PAGE), 0);
		TEST_EQ(rl_handle_close(mo), 0);
		if (lost) {
			r++;
			break;
		}
	}
	race_quit = 1;
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	rl_printf("memory: %d racing kernel copies in %lu ms\n", r * RACE_PAGES,
		  (unsigned long)((rl_clock_ns() - t0) / MS));
	TEST_EQ(lost, 0);
}

/* ---- sizes, large and sparse objects ---------------------------------------------- */

#define GIB		(1ull << 30)

/* Page-table pages stay until the address space ends (unmapping clears
 * entries, not tables), and big sparse mappings make new ones: every
 * counter must come back but those, the free pages short by exactly the
 * tables made (or, with slabs, free pages not compared at all: after
 * freeing dozens of objects the heap may keep a slab page more). */
static void expect_back_but_tables(const struct rl_kcounters *before, bool slabs)
{
	struct rl_kcounters now, want = *before;

	kc_read(&now);
	TEST_ASSERT(now.page_tables >= before->page_tables);
	want.page_tables = now.page_tables;
	want.free_pages -= now.page_tables - before->page_tables;
	if (slabs)
		rl_test_counters_expect_back_but_slabs(&want);
	else
		kc_expect_back(&want);
}

static void kc_expect_back_but_tables(const struct rl_kcounters *before)
{
	expect_back_but_tables(before, false);
}

DEFINE_TEST(memobj_sizes_and_errors)
{
	static const struct {
		uint64_t ask, size;
	} ok[] = {
		{ 1, PAGE }, { PAGE + 1, 2 * PAGE }, { 2 * GIB + 1, 2 * GIB + PAGE },
		{ RL_MEMOBJ_MAX - 1, RL_MEMOBJ_MAX }, { RL_MEMOBJ_MAX, RL_MEMOBJ_MAX },
	};
	struct rl_kcounters c0;

	rl_test_warm_up();
	kc_settle(&c0);
	/* docs/abi.md: EINVAL for size 0, above RL_MEMOBJ_MAX, or flags. */
	TEST_EQ(rl_memobj_create(0, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(RL_MEMOBJ_MAX + 1, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(RL_MEMOBJ_MAX + PAGE, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(RL_MEMOBJ_MAX * 2, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(1ull << 63, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(~0ull, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(~0ull - PAGE + 2, 0), -RILL_EINVAL);	/* would round to 0 */
	TEST_EQ(rl_memobj_create(PAGE, 1), -RILL_EINVAL);
	/* An unaligned size is rounded up to whole pages. */
	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct rl_handle_info hi;
		int64_t mo = new_mo(ok[i].ask);

		TEST_EQ(rl_handle_info(mo, &hi), 0);
		TEST_EQ(hi.size, ok[i].size);
		TEST_EQ(rl_map(RL_SELF_PROCESS, mo, ok[i].size, 0, PAGE, RL_PROT_READ),
			-RILL_EINVAL);
		TEST_EQ(rl_handle_close(mo), 0);
	}
	kc_expect_back(&c0);
}

/* Map a whole object of size bytes, write its first and last pages (the
 * last one also through a kernel copy), read them back, also through a
 * mapping of the last page alone. */
static void first_and_last_page(uint64_t size)
{
	struct rl_kcounters c0, c1;
	volatile uint64_t *first, *last, *again;
	int64_t mo;
	uint64_t a;

	kc_settle(&c0);
	mo = new_mo(size);
	a = map_rw(mo, size);
	first = (volatile uint64_t *)a;
	last = (volatile uint64_t *)(a + size - PAGE);
	first[0] = size;
	last[0] = ~size;
	last[PAGE / 8 - 1] = size + 1;
	TEST_EQ(rl_raw_kcounters((uint64_t)(last + 8), sizeof(struct rl_kcounters)),
		sizeof(struct rl_kcounters));
	TEST_ASSERT(last[8] > 0);			/* free pages */
	TEST_EQ(first[0], size);
	TEST_EQ(last[0], ~size);
	TEST_EQ(last[PAGE / 8 - 1], size + 1);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + 2);
	again = (volatile uint64_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, size - PAGE, 0,
					    PAGE, RL_PROT_READ);
	TEST_ASSERT((int64_t)again > 0);
	TEST_EQ(again[0], ~size);
	TEST_EQ(again[PAGE / 8 - 1], size + 1);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)again, PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, size), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	kc_expect_back_but_tables(&c0);
}

/* Objects above 2 GiB (their flat page array of old, over 4 MiB, was
 * more than kmalloc could give: ENOMEM). */
DEFINE_TEST(objects_over_2g)
{
	rl_test_warm_up();
	first_and_last_page(2 * GIB + PAGE);
	first_and_last_page(4 * GIB);
	first_and_last_page(RL_MEMOBJ_MAX);
}

static uint64_t big_pat(uint64_t off, unsigned w)
{
	return (off ^ 0xb16b00b5ull) * 3 + w;
}

/*
 * What a 4 MiB object costs the kernel besides its pages and page tables,
 * averaged over COST_OBJS objects (slab pages are shared): empty, mapped
 * with one page touched, and with every page touched (a few of them).
 * Printed for docs/memory.md; bounded loosely.
 */
#define COST_OBJS	32
#define COST_FULL	4
#define COST_SIZE	(4ull << 20)

/* Kernel bytes per object from a to b, user pages and page tables aside. */
static int64_t meta_bytes(const struct rl_kcounters *a, const struct rl_kcounters *b,
			  unsigned nobj)
{
	int64_t pages = (int64_t)(a->free_pages - b->free_pages) -
			(int64_t)(b->user_pages - a->user_pages) -
			(int64_t)(b->page_tables - a->page_tables);

	return pages * (int64_t)PAGE / (int64_t)nobj;
}

DEFINE_TEST(memobj_4m_cost)
{
	static int64_t mo[COST_OBJS];
	static uint64_t a[COST_OBJS];
	struct rl_kcounters c0, c1, c2, c3;
	int64_t empty, one, full;

	rl_test_warm_up();
	kc_settle(&c0);
	for (unsigned i = 0; i < COST_OBJS; i++)
		mo[i] = new_mo(COST_SIZE);
	kc_read(&c1);
	for (unsigned i = 0; i < COST_OBJS; i++) {
		a[i] = map_rw(mo[i], COST_SIZE);
		((volatile uint64_t *)a[i])[0] = i;
	}
	kc_read(&c2);
	for (unsigned i = 0; i < COST_FULL; i++)
		for (uint64_t off = 0; off < COST_SIZE; off += PAGE)
			((volatile uint64_t *)(a[i] + off))[1] = off;
	kc_read(&c3);
	empty = meta_bytes(&c0, &c1, COST_OBJS);
	one = meta_bytes(&c1, &c2, COST_OBJS);
	full = meta_bytes(&c2, &c3, COST_FULL);
	rl_printf("memory: 4 MiB object: empty %ld bytes (%lu heap objects), one page touched "
		  "+%ld bytes (mapping included), every page touched +%ld bytes\n", (long)empty,
		  (unsigned long)((c1.heap_objects - c0.heap_objects) / COST_OBJS), (long)one,
		  (long)full);
	for (unsigned i = 0; i < COST_OBJS; i++) {
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, a[i], COST_SIZE), 0);
		TEST_EQ(rl_handle_close(mo[i]), 0);
	}
	expect_back_but_tables(&c0, true);
	/* A root of two entries; a page per 2 MiB touched. */
	TEST_ASSERT(empty < 1024);
	TEST_ASSERT(one <= 2 * (int64_t)PAGE);
	TEST_ASSERT(full <= 2 * (int64_t)PAGE);
}

/*
 * A 64 GiB object with four pages far apart (the first, at 2 GiB + 4 KiB,
 * at 40 GiB and the last), a snapshot of it: what it costs in the kernel
 * (page-tree nodes, heap objects, pages), printed and bounded; every
 * counter comes back.
 */
DEFINE_TEST(object_64g_costs_little)
{
	static const uint64_t at[] = { 0, 2 * GIB + PAGE, 40 * GIB, RL_MEMOBJ_MAX - PAGE };
	const unsigned n = sizeof(at) / sizeof(at[0]);
	struct rl_kcounters c0, c1, c2, c3;
	int64_t mo, snap;
	uint64_t a, s;

	rl_test_warm_up();
	kc_settle(&c0);
	mo = new_mo(RL_MEMOBJ_MAX);
	kc_read(&c1);
	rl_printf("memory: empty 64 GiB object: %ld heap objects, %ld pages, %ld tree nodes\n",
		  (long)(c1.heap_objects - c0.heap_objects),
		  (long)(c0.free_pages - c1.free_pages),
		  (long)(c1.memobj_nodes - c0.memobj_nodes));
	TEST_EQ(c1.memobj_nodes, c0.memobj_nodes);	/* the root (512 bytes) only */
	TEST_ASSERT(c1.heap_objects - c0.heap_objects <= 4);
	TEST_ASSERT((int64_t)(c0.free_pages - c1.free_pages) <= 4);

	a = map_rw(mo, RL_MEMOBJ_MAX);
	for (unsigned k = 0; k < n; k++) {
		volatile uint64_t *p = (volatile uint64_t *)(a + at[k]);

		p[0] = big_pat(at[k], 0);
		p[PAGE / 8 - 1] = big_pat(at[k], 1);
	}
	for (unsigned k = 0; k < n; k++) {
		volatile uint64_t *p = (volatile uint64_t *)(a + at[k]);

		TEST_EQ(p[0], big_pat(at[k], 0));
		TEST_EQ(p[PAGE / 8 - 1], big_pat(at[k], 1));
		TEST_EQ(p[1], 0);
	}
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c0.user_pages + n);
	/* Depth 3: a node of each lower level per page, as they are far
	 * apart. */
	TEST_EQ(c2.memobj_nodes, c0.memobj_nodes + 2 * n);

	snap = rl_memobj_cow(mo);
	TEST_ASSERT(snap > 0);
	s = (uint64_t)rl_map(RL_SELF_PROCESS, (rl_handle_t)snap, 0, 0, RL_MEMOBJ_MAX,
			     RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT((int64_t)s > 0);
	for (unsigned k = 0; k < n; k++) {
		volatile uint64_t *p = (volatile uint64_t *)(s + at[k]);

		TEST_EQ(p[0], big_pat(at[k], 0));
		TEST_EQ(p[PAGE / 8 - 1], big_pat(at[k], 1));
	}
	/* Writes on either side stay there. */
	((volatile uint64_t *)(a + at[1]))[0] = 1;
	((volatile uint64_t *)(s + at[2]))[0] = 2;
	TEST_EQ(((volatile uint64_t *)(s + at[1]))[0], big_pat(at[1], 0));
	TEST_EQ(((volatile uint64_t *)(a + at[2]))[0], big_pat(at[2], 0));
	TEST_EQ(((volatile uint64_t *)(a + at[1]))[0], 1);
	TEST_EQ(((volatile uint64_t *)(s + at[2]))[0], 2);
	kc_read(&c3);
	TEST_EQ(c3.user_pages, c0.user_pages + n + 2);	/* two copies */
	TEST_EQ(c3.memobj_nodes, c0.memobj_nodes + 4 * n);
	rl_printf("memory: 64 GiB object, %u pages touched, and its snapshot: %ld heap objects, "
		  "%ld pages (%ld tree nodes, %ld page tables, %ld user pages)\n", n,
		  (long)(c3.heap_objects - c0.heap_objects), (long)(c0.free_pages - c3.free_pages),
		  (long)(c3.memobj_nodes - c0.memobj_nodes),
		  (long)(c3.page_tables - c0.page_tables), (long)(c3.user_pages - c0.user_pages));
	/* A few dozen pages, where flat arrays would take 2 x 128 MiB. */
	TEST_ASSERT((int64_t)(c0.free_pages - c3.free_pages) <= 64);
	TEST_ASSERT(c3.heap_objects - c0.heap_objects <= 16);

	TEST_EQ(rl_unmap(RL_SELF_PROCESS, s, RL_MEMOBJ_MAX), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, RL_MEMOBJ_MAX), 0);
	TEST_EQ(rl_handle_close(snap), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	kc_expect_back_but_tables(&c0);
}

/*
 * A snapshot of a sparse 16 GiB object with a few thousand pages (more
 * than one step of the kernel's walk): every page preserved, the holes
 * still holes, and later writes on either side isolated.
 */
#define SP_SIZE		(16 * GIB)
#define SP_STRIDE	(8ull << 20)		/* a page in every 8 MiB */
#define SP_DENSE	(3 * GIB - (2ull << 20))	/* and 4 MiB across 3 GiB */
#define SP_DENSE_PAGES	1024u
#define SP_PAGES	(SP_SIZE / SP_STRIDE + SP_DENSE_PAGES)

static uint64_t sp_off(uint64_t k)
{
	uint64_t sparse = SP_SIZE / SP_STRIDE;

	/* (The sparse ones sit mid-stride, clear of the dense run.) */
	return k < sparse ? k * SP_STRIDE + SP_STRIDE / 2 + 5 * PAGE
			  : SP_DENSE + (k - sparse) * PAGE;
}

DEFINE_TEST(snapshot_of_sparse_object)
{
	struct rl_kcounters c0, c1, c2;
	int64_t mo, snap;
	uint64_t a, s;

	rl_test_warm_up();
	kc_settle(&c0);
	mo = new_mo(SP_SIZE);
	a = map_rw(mo, SP_SIZE);
	for (uint64_t k = 0; k < SP_PAGES; k++)
		((volatile uint64_t *)(a + sp_off(k)))[3] = big_pat(sp_off(k), 3);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + SP_PAGES);

	snap = rl_memobj_cow(mo);
	TEST_ASSERT(snap > 0);
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages);		/* shared, not copied */
	TEST_EQ(c2.memobj_nodes, c1.memobj_nodes * 2 - c0.memobj_nodes);	/* same shape */
	s = map_rw(snap, SP_SIZE);
	for (uint64_t k = 0; k < SP_PAGES; k++) {
		volatile uint64_t *p = (volatile uint64_t *)(s + sp_off(k));

		if (p[3] != big_pat(sp_off(k), 3) || p[2] != 0)
			rl_test_fail(__FILE__, __LINE__, "snapshot page %lu: %lx",
				     (unsigned long)k, (unsigned long)p[3]);
	}
	/* Holes stayed holes (reading one maps the shared zero page). */
	TEST_EQ(((volatile uint64_t *)(s + 4 * PAGE))[3], 0);
	TEST_EQ(((volatile uint64_t *)(s + SP_SIZE - PAGE))[3], 0);
	TEST_EQ(((volatile uint64_t *)(s + SP_DENSE - PAGE))[3], 0);

	/* Even pages written in the source, odd ones in the snapshot. */
	for (uint64_t k = 0; k < SP_PAGES; k++)
		((volatile uint64_t *)((k & 1 ? s : a) + sp_off(k)))[3] = k;
	for (uint64_t k = 0; k < SP_PAGES; k++) {
		uint64_t va = ((volatile uint64_t *)(a + sp_off(k)))[3];
		uint64_t vs = ((volatile uint64_t *)(s + sp_off(k)))[3];
		uint64_t old = big_pat(sp_off(k), 3);

		if (va != (k & 1 ? old : k) || vs != (k & 1 ? k : old))
			rl_test_fail(__FILE__, __LINE__, "page %lu: source %lx, snapshot %lx",
				     (unsigned long)k, (unsigned long)va, (unsigned long)vs);
	}
	/* One copy per page written; the three holes read cost nothing. */
	kc_read(&c2);
	TEST_EQ(c2.user_pages, c1.user_pages + SP_PAGES);

	TEST_EQ(rl_unmap(RL_SELF_PROCESS, s, SP_SIZE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, SP_SIZE), 0);
	TEST_EQ(rl_handle_close(snap), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	kc_expect_back_but_tables(&c0);
}

/*
 * Snapshots taken while another thread keeps writing the pages of an
 * object (the kernel walks it in steps, letting faults in between). The
 * writer stores an increasing counter into the pages in turn. Each page of
 * a snapshot must hold a value the page had during the call: not older
 * than the writer's last pass before it, not newer than the counter after
 * it; and it must not move afterwards while the writer goes on in the
 * source. (Whether the writer runs during a call depends on where the
 * scheduler puts it: the number of pages taken as written during the
 * calls is printed.)
 */
#define RW_PAGES	2048u
#define RW_STRIDE	(2 * PAGE)
#define RW_ROUNDS	4

static volatile uint64_t rw_base, rw_counter;
static volatile uint32_t rw_stop, rw_passes;
static uint64_t rw_seen[RW_PAGES];

static void rw_writer(void *arg)
{
	while (!rw_stop) {
		for (uint64_t k = 0; k < RW_PAGES && !rw_stop; k++) {
			uint64_t v = rw_counter + 1;

			((volatile uint64_t *)(rw_base + k * RW_STRIDE))[0] = v;
			rw_counter = v;
		}
		rw_passes++;
		rl_yield();
	}
}

static void wait_passes(uint32_t n)
{
	uint64_t until = rl_clock_ns() + 10000 * MS;

	while (rw_passes < n) {
		TEST_ASSERT(rl_clock_ns() < until);
		sleep_ms(1);
	}
}

/* One snapshot during the writes, checked; returns the number of its
 * pages written during the call. */
static uint64_t snapshot_round(int64_t mo)
{
	uint64_t before, after, s, during = 0;
	volatile uint64_t *sp;
	int64_t snap;

	before = rw_counter;
	snap = rl_memobj_cow(mo);
	after = rw_counter;
	TEST_ASSERT(snap > 0);
	s = (uint64_t)rl_map(RL_SELF_PROCESS, (rl_handle_t)snap, 0, 0, RW_PAGES * RW_STRIDE,
			     RL_PROT_READ);
	TEST_ASSERT((int64_t)s > 0);
	sp = (volatile uint64_t *)s;
	for (uint64_t k = 0; k < RW_PAGES; k++) {
		uint64_t v = sp[k * RW_STRIDE / 8];

		/* (The writer may have stored v and not yet published it in
		 * rw_counter: one ahead of "after" is possible.) */
		rw_seen[k] = v;
		during += v > before;
		if (v + RW_PAGES < before || v > after + 1)
			rl_test_fail(__FILE__, __LINE__, "page %lu: %lu, counter %lu..%lu",
				     (unsigned long)k, (unsigned long)v, (unsigned long)before,
				     (unsigned long)after);
	}
	/* Two more passes of the writer: the snapshot does not move. */
	wait_passes(rw_passes + 2);
	for (uint64_t k = 0; k < RW_PAGES; k++)
		TEST_EQ(sp[k * RW_STRIDE / 8], rw_seen[k]);
	TEST_ASSERT(((volatile uint64_t *)rw_base)[0] > after);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, s, RW_PAGES * RW_STRIDE), 0);
	TEST_EQ(rl_handle_close(snap), 0);
	return during;
}

DEFINE_TEST(snapshot_while_written_in_steps)
{
	uint64_t during = 0;
	int64_t mo, t;

	mo = new_mo(RW_PAGES * RW_STRIDE);
	rw_base = map_rw(mo, RW_PAGES * RW_STRIDE);
	rw_counter = 0;
	rw_stop = 0;
	rw_passes = 0;
	t = rl_thread_spawn(rw_writer, NULL);
	TEST_ASSERT(t > 0);
	wait_passes(2);
	for (unsigned r = 0; r < RW_ROUNDS; r++)
		during += snapshot_round(mo);
	rw_stop = 1;
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	rl_printf("memory: %u snapshots while written: %lu of their %u pages as written "
		  "during the call\n", RW_ROUNDS, (unsigned long)during, RW_ROUNDS * RW_PAGES);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, rw_base, RW_PAGES * RW_STRIDE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}
