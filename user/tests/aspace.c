/*
 * In-OS tests of the address-space primitives a POSIX server needs:
 * listing a process's areas (vm_regions), reservations (RL_MAP_RESERVE),
 * mapping over what is there (RL_MAP_REPLACE), discarding pages
 * (RL_OP_DISCARD) and forking a whole address space (vm_fork); their
 * errors and hostile arguments.
 *
 * Tests work in fixed ranges of their own far from where the kernel puts
 * "anywhere" mappings (16 TiB up), so they can name exact addresses.
 * Kernel counters are system-wide; while a test program runs, init only
 * waits for it.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define PAGE		4096ull
#define MS		1000000ull
#define KERNEL_PTR	0xffff800000000000ull
#define BASE		0x0000300000000000ull	/* this program's test ranges */

#define kc_read		rl_test_counters_read
#define kc_settle	rl_test_counters_settle
#define kc_expect_back	rl_test_counters_expect_back

#define RW		(RL_PROT_READ | RL_PROT_WRITE)

static int64_t new_mo(uint64_t size)
{
	int64_t mo = rl_memobj_create(size, 0);

	TEST_ASSERT(mo > 0);
	return mo;
}

static uint64_t obj_id(int64_t h)
{
	struct rl_handle_info hi;

	TEST_EQ(rl_handle_info(h, &hi), 0);
	return hi.id;
}

/* Map mo at exactly addr (a failure fails the test). */
static void map_at(rl_handle_t proc, int64_t mo, uint64_t off, uint64_t addr, uint64_t len,
		   unsigned flags)
{
	TEST_EQ(rl_map(proc, (rl_handle_t)mo, off, addr, len, flags | RL_MAP_FIXED),
		(int64_t)addr);
}

/* Every area of proc at or above from (up to max). */
static int64_t regions(rl_handle_t proc, uint64_t from, struct rl_region *r, unsigned max)
{
	memset(r, 0xee, sizeof(*r) * max);
	return rl_vm_regions(proc, from, r, max);
}

/* ---- vm_regions ------------------------------------------------------------------- */

DEFINE_TEST(regions_list_areas_in_order)
{
	struct rl_region r[8];
	uint64_t a = BASE + 0x100000;
	int64_t m1 = new_mo(16 * PAGE), m2 = new_mo(4 * PAGE), ro, above;

	rl_test_warm_up();
	/* m1 twice (at two offsets), m2 once through a read-only handle. */
	map_at(RL_SELF_PROCESS, m1, 2 * PAGE, a, 3 * PAGE, RW);
	map_at(RL_SELF_PROCESS, m1, 0, a + 8 * PAGE, 16 * PAGE, RL_PROT_READ);
	ro = rl_handle_dup(m2, RL_RIGHT_READ | RL_RIGHT_EXEC);
	TEST_ASSERT(ro > 0);
	map_at(RL_SELF_PROCESS, ro, PAGE, a + 30 * PAGE, 2 * PAGE, RL_PROT_READ | RL_PROT_EXEC);

	/* Above our range lie the program's own areas (stack, clock page). */
	above = regions(RL_SELF_PROCESS, a + 32 * PAGE, r, 8);
	if (above < 1 || above > 4)
		rl_test_fail(__FILE__, __LINE__, "%ld areas above", (long)above);
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 8), 3 + above);
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 3), 3);
	TEST_EQ(r[0].start, a);
	TEST_EQ(r[0].length, 3 * PAGE);
	TEST_EQ(r[0].offset, 2 * PAGE);
	TEST_EQ(r[0].prot, RW);
	TEST_EQ(r[0].maxprot, RL_PROT_READ | RL_PROT_WRITE | RL_PROT_EXEC);
	TEST_EQ(r[0].flags, 0);
	TEST_EQ(r[0].reserved, 0);
	TEST_EQ(r[0].object, obj_id(m1));
	TEST_EQ(r[1].start, a + 8 * PAGE);
	TEST_EQ(r[1].length, 16 * PAGE);
	TEST_EQ(r[1].offset, 0);
	TEST_EQ(r[1].prot, RL_PROT_READ);
	TEST_EQ(r[1].object, r[0].object);	/* one object, two areas */
	TEST_EQ(r[2].start, a + 30 * PAGE);
	TEST_EQ(r[2].length, 2 * PAGE);
	TEST_EQ(r[2].offset, PAGE);
	TEST_EQ(r[2].prot, RL_PROT_READ | RL_PROT_EXEC);
	TEST_EQ(r[2].maxprot, RL_PROT_READ | RL_PROT_EXEC);	/* the handle's rights */
	TEST_EQ(r[2].object, obj_id(m2));
	TEST_ASSERT(r[2].object != r[0].object);

	/* A start inside an area lists that area whole; one past it, the next. */
	memset(r, 0xee, sizeof(r));
	TEST_EQ(rl_vm_regions(RL_SELF_PROCESS, a + 10 * PAGE + 5, r, 1), 1);
	TEST_EQ(r[0].start, a + 8 * PAGE);
	TEST_EQ(r[1].start, 0xeeeeeeeeeeeeeeeeull);	/* nothing written past count */
	TEST_EQ(regions(RL_SELF_PROCESS, a + 24 * PAGE, r, 1), 1);
	TEST_EQ(r[0].start, a + 30 * PAGE);
	/* Protection changes and splits show. */
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a + PAGE, PAGE, RL_PROT_READ), 0);
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 3), 3);
	TEST_EQ(r[0].length, PAGE);
	TEST_EQ(r[1].start, a + PAGE);
	TEST_EQ(r[1].prot, RL_PROT_READ);
	TEST_EQ(r[1].offset, 3 * PAGE);
	TEST_EQ(r[2].start, a + 2 * PAGE);
	TEST_EQ(r[2].prot, RW);

	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 32 * PAGE), 0);
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 8), regions(RL_SELF_PROCESS, a + 32 * PAGE, r, 8));
	TEST_EQ(rl_handle_close(m1), 0);
	TEST_EQ(rl_handle_close(m2), 0);
	TEST_EQ(rl_handle_close(ro), 0);
}

/* More areas than one kernel chunk (16): all of them, in order, none
 * twice; and a count that stops in the middle of a chunk. */
DEFINE_TEST(regions_many_areas)
{
	enum { N = 40 };
	static struct rl_region r[N + 8];
	uint64_t a = BASE + 0x1000000;
	int64_t mo = new_mo(PAGE);

	rl_test_warm_up();
	for (unsigned i = 0; i < N; i++)
		map_at(RL_SELF_PROCESS, mo, 0, a + 2 * i * PAGE, PAGE,
		       i % 2 ? RL_PROT_READ : RW);
	TEST_ASSERT(regions(RL_SELF_PROCESS, a, r, N + 8) >= N);
	for (unsigned i = 0; i < N; i++) {
		TEST_EQ(r[i].start, a + 2 * i * PAGE);
		TEST_EQ(r[i].length, PAGE);
		TEST_EQ(r[i].prot, i % 2 ? RL_PROT_READ : RW);
	}
	TEST_ASSERT(r[N].start >= a + 2 * N * PAGE);
	memset(r, 0xee, sizeof(r));
	TEST_EQ(rl_vm_regions(RL_SELF_PROCESS, a, r, 21), 21);
	TEST_EQ(r[20].start, a + 40 * PAGE);
	TEST_EQ(r[21].start, 0xeeeeeeeeeeeeeeeeull);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 2 * N * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* A new process has the clock page and nothing else. */
DEFINE_TEST(regions_of_a_new_process)
{
	struct rl_region r[4], mine[4];
	int64_t ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);

	TEST_ASSERT(ph > 0);
	TEST_EQ(regions((rl_handle_t)ph, 0, r, 4), 1);
	TEST_EQ(r[0].start, rl_startup_info->clock_page);
	TEST_EQ(r[0].length, PAGE);
	TEST_EQ(r[0].prot, RL_PROT_READ);
	TEST_EQ(regions(RL_SELF_PROCESS, rl_startup_info->clock_page, mine, 1), 1);
	TEST_EQ(mine[0].start, rl_startup_info->clock_page);
	TEST_EQ(r[0].object, mine[0].object);	/* one clock page for all */
	TEST_ASSERT(r[0].object != 0);
	/* From inside it: the same area; it is the last page of user space. */
	TEST_EQ(regions((rl_handle_t)ph, r[0].start + 100, r, 4), 1);
	TEST_EQ(r[0].start + PAGE, RL_USER_TOP);
	TEST_EQ(rl_process_kill(ph, 0), 0);
	TEST_EQ(rl_handle_close(ph), 0);
}

DEFINE_TEST(regions_errors)
{
	struct rl_region r[4];
	int64_t ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0), weak, mo, ro;
	uint64_t a;

	TEST_ASSERT(ph > 0);
	/* Handles. */
	TEST_EQ(rl_vm_regions(0, 0, r, 4), -RILL_EBADF);
	TEST_EQ(rl_vm_regions(12345, 0, r, 4), -RILL_EBADF);
	TEST_EQ(rl_raw_vm_regions(0x100000000ull | (uint64_t)ph, 0, (uint64_t)r, 4), -RILL_EBADF);
	TEST_EQ(rl_vm_regions(RL_SELF_THREAD, 0, r, 4), -RILL_EBADFD);
	mo = new_mo(PAGE);
	TEST_EQ(rl_vm_regions(mo, 0, r, 4), -RILL_EBADFD);
	weak = rl_handle_dup(ph, RL_RIGHTS_ALL & ~RL_RIGHT_MANAGE);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_vm_regions(weak, 0, r, 4), -RILL_EPERM);
	/* Start: only user addresses. */
	TEST_EQ(rl_vm_regions(ph, RL_USER_TOP, r, 4), -RILL_EINVAL);
	TEST_EQ(rl_vm_regions(ph, KERNEL_PTR, r, 4), -RILL_EINVAL);
	TEST_EQ(rl_vm_regions(ph, ~0ull, r, 4), -RILL_EINVAL);
	/* Buffers: kernel, unmapped, read-only, overflowing; count 0. */
	TEST_EQ(rl_raw_vm_regions(ph, 0, KERNEL_PTR, 4), -RILL_EFAULT);
	TEST_EQ(rl_raw_vm_regions(ph, 0, RL_USER_TOP - 48, 2), -RILL_EFAULT);
	TEST_EQ(rl_vm_regions(ph, 0, r, ~0ull), -RILL_EFAULT);
	TEST_EQ(rl_vm_regions(ph, 0, r, 1ull << 60), -RILL_EFAULT);
	TEST_EQ(rl_raw_vm_regions(ph, 0, BASE + 0x5000000, 1), -RILL_EFAULT);	/* unmapped */
	ro = rl_handle_dup(mo, RL_RIGHT_READ);
	a = (uint64_t)rl_map(RL_SELF_PROCESS, (rl_handle_t)ro, 0, 0, PAGE, RL_PROT_READ);
	TEST_ASSERT((int64_t)a > 0);
	TEST_EQ(rl_raw_vm_regions(ph, 0, a, 1), -RILL_EFAULT);
	TEST_EQ(rl_vm_regions(ph, 0, 0, 0), 0);
	TEST_EQ(rl_raw_vm_regions(ph, 0, KERNEL_PTR, 0), -RILL_EFAULT);
	/* The good call still works. */
	TEST_EQ(rl_vm_regions(ph, 0, r, 4), 1);
	/* An ended process has no areas. */
	TEST_EQ(rl_process_kill(ph, 0), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)ph), 0);
	TEST_EQ(rl_vm_regions(ph, 0, r, 4), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, PAGE), 0);
	TEST_EQ(rl_handle_close(ro), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_handle_close(ph), 0);
}

/* ---- child processes ------------------------------------------------------------------ */

/*
 * Code for child processes (no ELF, no stack), entered with rdi = the
 * thread's argument:
 *   blob_load   read the quadword at rdi, then thread_exit(0): a fault
 *               there ends the process with -EFAULT instead
 *   blob_store  store 0x5a5a5a5a at rdi, thread_exit(0)
 *   blob_store_spin  the same store, then loop forever
 */
_Static_assert(RL_SYS_thread_exit == 0x20000010, "blob syscall number");
__asm__(".pushsection .rodata\n"
	".balign 64\n"
	"as_blob_start:\n"
	"as_blob_load:\n"
	"	movq (%rdi), %rax\n"
	"	xorl %edi, %edi\n"
	"	movl $0x20000010, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"as_blob_store:\n"
	"	movl $0x5a5a5a5a, (%rdi)\n"
	"	xorl %edi, %edi\n"
	"	movl $0x20000010, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"as_blob_store_spin:\n"
	"	movl $0x5a5a5a5a, (%rdi)\n"
	"1:	pause\n"
	"	jmp 1b\n"
	"as_blob_end:\n"
	".popsection\n");
extern const char as_blob_start[], as_blob_load[], as_blob_store[], as_blob_store_spin[],
	as_blob_end[];

#define CHILD_CODE	0x400000ull
#define BLOB(b)		(CHILD_CODE + (uint64_t)((b) - as_blob_start))

/* A new process (budget 0: ours) with the blobs at CHILD_CODE. */
static int64_t child_new(uint64_t budget)
{
	int64_t mo = new_mo(PAGE), ph;
	int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, PAGE, RW);

	TEST_ASSERT(a > 0);
	memcpy((void *)a, as_blob_start, (size_t)(as_blob_end - as_blob_start));
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, PAGE), 0);
	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, budget);
	TEST_ASSERT(ph > 0);
	map_at((rl_handle_t)ph, mo, 0, CHILD_CODE, PAGE, RL_PROT_READ | RL_PROT_EXEC);
	TEST_EQ(rl_handle_close(mo), 0);
	return ph;
}

/* Run entry(arg) in a thread of ph; the status the process ends with. */
static int64_t child_run(int64_t ph, uint64_t entry, uint64_t arg)
{
	int64_t th = rl_thread_create(ph, entry, 0, arg, 0), st;

	TEST_ASSERT(th > 0);
	TEST_EQ(rl_thread_start(th), 0);
	st = rl_thread_join((rl_handle_t)th);
	TEST_EQ(rl_handle_close(th), 0);
	return st;
}

static void child_end(int64_t ph)
{
	rl_process_kill(ph, 0);
	TEST_EQ(rl_handle_close(ph), 0);
}

static uint64_t rw_read64(int64_t ph, uint64_t addr, int64_t *err)
{
	uint64_t v = 0;

	*err = rl_process_rw(ph, addr, &v, 8, RL_RW_READ);
	return v;
}

/* ---- reservations ---------------------------------------------------------------------- */

DEFINE_TEST(reserve_takes_the_range)
{
	struct rl_region r[4];
	struct rl_kcounters c0;
	uint64_t a = BASE + 0x2000000;
	int64_t mo, b, ph, e;

	rl_test_warm_up();
	kc_settle(&c0);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a, 16 * PAGE, RL_MAP_RESERVE | RL_MAP_FIXED),
		(int64_t)a);
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 1), 1);
	TEST_EQ(r[0].start, a);
	TEST_EQ(r[0].length, 16 * PAGE);
	TEST_EQ(r[0].object, 0);
	TEST_EQ(r[0].prot, 0);
	TEST_EQ(r[0].maxprot, 0);
	TEST_EQ(r[0].flags, RL_MAP_RESERVE);
	/* The kernel places nothing inside: a hint there goes elsewhere, a
	 * fixed mapping replacing a real one there cannot. */
	mo = new_mo(PAGE);
	b = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, a + PAGE, PAGE, RW);
	TEST_ASSERT(b > 0);
	TEST_ASSERT((uint64_t)b < a || (uint64_t)b >= a + 16 * PAGE);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, PAGE), 0);
	/* Anywhere: a reservation the kernel placed. */
	b = rl_map(RL_SELF_PROCESS, 0, 0, 0, 4 * PAGE, RL_MAP_RESERVE);
	TEST_ASSERT(b > 0);
	TEST_EQ(regions(RL_SELF_PROCESS, (uint64_t)b, r, 1), 1);
	TEST_EQ(r[0].flags, RL_MAP_RESERVE);
	TEST_EQ(r[0].length, 4 * PAGE);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, 4 * PAGE), 0);
	/* No access at all, and no protection can be added. */
	TEST_EQ(rl_raw_futex_wait(a, 1, 0), -RILL_EFAULT);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, PAGE, RL_PROT_READ), -RILL_EACCES);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, a, PAGE, 0), 0);
	/* A write through process_rw faults too, and makes nothing. */
	{
		uint64_t v = 7;

		TEST_EQ(rl_process_rw(RL_SELF_PROCESS, a, &v, 8, RL_RW_WRITE),
			-RILL_EFAULT);
	}
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 16 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	kc_expect_back(&c0);

	/* In a child: its thread touching the reservation ends it (-EFAULT),
	 * a thread touching a mapping next to it does not. */
	mo = new_mo(PAGE);
	for (unsigned i = 0; i < 2; i++) {
		ph = child_new(0);
		TEST_EQ(rl_map(ph, 0, 0, a, 4 * PAGE, RL_MAP_RESERVE | RL_MAP_FIXED), (int64_t)a);
		map_at((rl_handle_t)ph, mo, 0, a + 4 * PAGE, PAGE, RL_PROT_READ);
		if (i == 0) {
			TEST_EQ(child_run(ph, BLOB(as_blob_load), a + 4 * PAGE), 0);
			TEST_EQ(rl_process_wait((rl_handle_t)ph), 0);
		} else {
			TEST_EQ(child_run(ph, BLOB(as_blob_load), a + PAGE + 8), -RILL_EFAULT);
			TEST_EQ(rl_process_wait((rl_handle_t)ph), -RILL_EFAULT);
		}
		if (i == 1) {
			rw_read64(ph, a, &e);
			TEST_ASSERT(e < 0);
		}
		child_end(ph);
	}
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(reserve_then_map_fixed_into_it)
{
	struct rl_region r[4];
	uint64_t a = BASE + 0x3000000;
	int64_t mo = new_mo(4 * PAGE), other = new_mo(PAGE);
	volatile uint64_t *p = (volatile uint64_t *)(a + 4 * PAGE);

	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a, 16 * PAGE, RL_MAP_RESERVE | RL_MAP_FIXED),
		(int64_t)a);
	/* FIXED alone may take a reservation's place (and only that). */
	map_at(RL_SELF_PROCESS, mo, 0, a + 4 * PAGE, 4 * PAGE, RW);
	p[0] = 42;
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 3), 3);
	TEST_EQ(r[0].start, a);
	TEST_EQ(r[0].length, 4 * PAGE);
	TEST_EQ(r[0].flags, RL_MAP_RESERVE);
	TEST_EQ(r[1].start, a + 4 * PAGE);
	TEST_EQ(r[1].length, 4 * PAGE);
	TEST_EQ(r[1].flags, 0);
	TEST_EQ(r[1].object, obj_id(mo));
	TEST_EQ(r[2].start, a + 8 * PAGE);
	TEST_EQ(r[2].length, 8 * PAGE);
	TEST_EQ(r[2].flags, RL_MAP_RESERVE);
	/* Over the mapping without REPLACE: refused, nothing changed. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)other, 0, a + 7 * PAGE, PAGE,
		       RW | RL_MAP_FIXED), -RILL_EEXIST);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a + 7 * PAGE, 2 * PAGE,
		       RL_MAP_RESERVE | RL_MAP_FIXED), -RILL_EEXIST);
	TEST_EQ(p[0], 42);
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 3), 3);
	TEST_EQ(r[1].object, obj_id(mo));
	TEST_EQ(r[1].length, 4 * PAGE);
	/* A reservation over a mapping with REPLACE: the mapping goes. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a + 4 * PAGE, 4 * PAGE,
		       RL_MAP_RESERVE | RL_MAP_FIXED | RL_MAP_REPLACE), (int64_t)a + 4 * PAGE);
	TEST_EQ(rl_raw_futex_wait((uint64_t)p, 1, 0), -RILL_EFAULT);
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 3), 3);
	TEST_EQ(r[1].flags, RL_MAP_RESERVE);
	TEST_EQ(r[1].object, 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 16 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(other), 0);
}

DEFINE_TEST(map_flag_errors)
{
	uint64_t a = BASE + 0x4000000;
	int64_t mo = new_mo(4 * PAGE), ro = rl_handle_dup(mo, RL_RIGHT_READ);
	const unsigned RES = RL_MAP_RESERVE | RL_MAP_FIXED;

	TEST_ASSERT(ro > 0);
	/* A reservation has no object, no offset, no protection, no sharing. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, a, PAGE, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 12345, 0, a, PAGE, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, PAGE, a, PAGE, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a, PAGE, RES | RL_PROT_READ), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a, PAGE, RES | RL_MAP_SHARED), -RILL_EINVAL);
	/* Ranges: misaligned, empty, overflowing, kernel, below the bottom. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a + 1, PAGE, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a, PAGE + 1, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a, 0, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a, ~0ull & ~(PAGE - 1), RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, RL_USER_TOP - PAGE, 2 * PAGE, RES),
		-RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, KERNEL_PTR, PAGE, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, PAGE, PAGE, RES), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, 0, PAGE, RES), -RILL_EINVAL);	/* FIXED at 0 */
	/* REPLACE needs FIXED; unknown bits. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, a, PAGE, RW | RL_MAP_REPLACE),
		-RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, a, PAGE, RW | 0x8), -RILL_EINVAL);
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, a, PAGE, RW | 0x1000), -RILL_EINVAL);
	{
		struct rl_sqe e = { .opcode = RL_OP_MAP, .handle = RL_SELF_PROCESS,
				    .arg = { (uint64_t)mo, 0, a, PAGE, RW | (1ull << 40) } };

		TEST_EQ(rl_sync_op(&e, NULL), -RILL_EINVAL);
	}
	/* A reservation on another process needs MANAGE on it. */
	{
		int64_t ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
		int64_t weak = rl_handle_dup(ph, RL_RIGHT_WAIT | RL_RIGHT_DUP);

		TEST_ASSERT(weak > 0);
		TEST_EQ(rl_map((rl_handle_t)weak, 0, 0, a, PAGE, RES), -RILL_EPERM);
		TEST_EQ(rl_map(RL_SELF_THREAD, 0, 0, a, PAGE, RES), -RILL_EBADFD);
		TEST_EQ(rl_handle_close(weak), 0);
		child_end(ph);
	}
	/* Nothing of it was mapped. */
	{
		struct rl_region r[1];

		TEST_ASSERT(regions(RL_SELF_PROCESS, a - 16 * PAGE, r, 1) <= 1);
		TEST_ASSERT(r[0].start > a + 16 * PAGE || r[0].start + r[0].length <= a - 16 * PAGE);
	}
	TEST_EQ(rl_handle_close(ro), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* ---- replacing ----------------------------------------------------------------------- */

static int64_t filled_mo(uint64_t len, uint64_t val)
{
	int64_t mo = new_mo(len);
	int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, len, RW);

	TEST_ASSERT(a > 0);
	for (uint64_t o = 0; o < len; o += 8)
		*(volatile uint64_t *)(a + o) = val;
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, len), 0);
	return mo;
}

DEFINE_TEST(replace_splits_partial_overlaps)
{
	struct rl_region r[4];
	uint64_t a = BASE + 0x5000000;
	int64_t m1 = filled_mo(4 * PAGE, 1), m2 = filled_mo(4 * PAGE, 2), m3 = filled_mo(4 * PAGE, 3);
	struct rl_kcounters c0, c1;

	map_at(RL_SELF_PROCESS, m1, 0, a, 4 * PAGE, RW);
	map_at(RL_SELF_PROCESS, m2, 0, a + 4 * PAGE, 4 * PAGE, RL_PROT_READ);
	kc_read(&c0);
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)m3, 0, a + 2 * PAGE, 4 * PAGE,
		       RW | RL_MAP_FIXED | RL_MAP_REPLACE), (int64_t)(a + 2 * PAGE));
	kc_read(&c1);
	TEST_EQ(c1.mappings, c0.mappings + 1);	/* two cut, one new */
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 3), 3);
	TEST_EQ(r[0].start, a);
	TEST_EQ(r[0].length, 2 * PAGE);
	TEST_EQ(r[0].object, obj_id(m1));
	TEST_EQ(r[1].start, a + 2 * PAGE);
	TEST_EQ(r[1].length, 4 * PAGE);
	TEST_EQ(r[1].object, obj_id(m3));
	TEST_EQ(r[1].offset, 0);
	TEST_EQ(r[1].prot, RW);
	TEST_EQ(r[2].start, a + 6 * PAGE);
	TEST_EQ(r[2].length, 2 * PAGE);
	TEST_EQ(r[2].object, obj_id(m2));
	TEST_EQ(r[2].offset, 2 * PAGE);
	TEST_EQ(r[2].prot, RL_PROT_READ);
	for (unsigned i = 0; i < 8; i++)
		TEST_EQ(*(volatile uint64_t *)(a + i * PAGE + 64), i < 2 ? 1 : i < 6 ? 3 : 2);
	/* Inside one area: it splits in three. Over empty space: as FIXED. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)m1, 3 * PAGE, a + 3 * PAGE, PAGE,
		       RL_PROT_READ | RL_MAP_FIXED | RL_MAP_REPLACE), (int64_t)(a + 3 * PAGE));
	TEST_EQ(regions(RL_SELF_PROCESS, a, r, 4), 4);
	TEST_EQ(r[1].length, PAGE);
	TEST_EQ(r[2].start, a + 3 * PAGE);
	TEST_EQ(r[2].object, obj_id(m1));
	TEST_EQ(r[3].start, a + 4 * PAGE);
	TEST_EQ(r[3].offset, 2 * PAGE);
	TEST_EQ(r[3].object, obj_id(m3));
	TEST_EQ(*(volatile uint64_t *)(a + 3 * PAGE), 1);
	TEST_EQ(*(volatile uint64_t *)(a + 4 * PAGE), 3);
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)m2, 0, a + 16 * PAGE, PAGE,
		       RW | RL_MAP_FIXED | RL_MAP_REPLACE), (int64_t)(a + 16 * PAGE));
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 32 * PAGE), 0);
	TEST_EQ(rl_handle_close(m1), 0);
	TEST_EQ(rl_handle_close(m2), 0);
	TEST_EQ(rl_handle_close(m3), 0);
}

/* A thread reads the range in a loop while this one replaces it again and
 * again with one of two objects: it must see one or the other, never a
 * hole (a fault would end this whole program, failing it). */
static volatile uint64_t race_addr;
static volatile int race_stop;
static volatile uint64_t race_reads, race_bad, race_seen[3];

static void race_reader(void *arg)
{
	(void)arg;
	while (!race_stop) {
		for (unsigned i = 0; i < 4; i++) {
			uint64_t v = *(volatile uint64_t *)(race_addr + i * PAGE + 8 * i);

			if (v == 1 || v == 2)
				race_seen[v]++;
			else
				race_bad++;
		}
		race_reads++;
	}
}

DEFINE_TEST(replace_is_atomic)
{
	enum { ROUNDS = 3000 };
	uint64_t a = BASE + 0x6000000, reads0;
	int64_t m[2] = { filled_mo(4 * PAGE, 1), filled_mo(4 * PAGE, 2) }, th;
	struct rl_kcounters c0;

	rl_test_warm_up();
	map_at(RL_SELF_PROCESS, m[0], 0, a, 4 * PAGE, RL_PROT_READ);
	kc_settle(&c0);
	race_addr = a;
	race_stop = 0;
	th = rl_thread_spawn(race_reader, NULL);
	TEST_ASSERT(th > 0);
	while (!race_reads)
		rl_yield();
	reads0 = race_reads;
	for (unsigned i = 1; i <= ROUNDS; i++) {
		int64_t r = rl_map(RL_SELF_PROCESS, (rl_handle_t)m[i % 2], 0, a, 4 * PAGE,
				   RL_PROT_READ | RL_MAP_FIXED | RL_MAP_REPLACE);

		if (r != (int64_t)a)
			rl_test_fail(__FILE__, __LINE__, "round %u: %ld", i, (long)r);
		if (i % 256 == 0 || i % 256 == 129) {
			/* Now and then (after each kind) wait for the reader to
			 * read the range twice: at -smp 1 it runs only then. */
			uint64_t r0 = race_reads;

			while (race_reads < r0 + 2)
				rl_yield();
		}
	}
	race_stop = 1;
	TEST_EQ(rl_thread_join((rl_handle_t)th), 0);
	TEST_EQ(rl_handle_close(th), 0);
	rl_printf("aspace: %u replaces, %lu reads of 4 pages meanwhile: %lu saw 1, %lu saw 2\n",
		  ROUNDS, (unsigned long)(race_reads - reads0), (unsigned long)race_seen[1],
		  (unsigned long)race_seen[2]);
	TEST_EQ(race_bad, 0);
	TEST_ASSERT(race_reads - reads0 > 10);
	TEST_ASSERT(race_seen[1] > 0 && race_seen[2] > 0);
	TEST_EQ(*(volatile uint64_t *)a, ROUNDS % 2 ? 2 : 1);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 4 * PAGE), 0);
	TEST_EQ(rl_handle_close(m[0]), 0);
	TEST_EQ(rl_handle_close(m[1]), 0);
	(void)c0;
}

/* A futex waiter on a word that a replace takes away wakes with -EFAULT,
 * as on an unmap; one on a word the replace leaves keeps waiting. */
static volatile int64_t fw_result[2];

static void futex_waiter(void *arg)
{
	uint64_t i = (uint64_t)arg;

	fw_result[i] = rl_raw_futex_wait(BASE + 0xc000000 + i * 4 * PAGE, 0, 0);
}

DEFINE_TEST(replace_wakes_futex_waiters_with_efault)
{
	uint64_t a = BASE + 0xc000000;
	int64_t m1 = new_mo(8 * PAGE), m2 = new_mo(2 * PAGE), th[2];

	map_at(RL_SELF_PROCESS, m1, 0, a, 8 * PAGE, RW);
	for (uint64_t i = 0; i < 2; i++) {
		fw_result[i] = 1;
		th[i] = rl_thread_spawn(futex_waiter, (void *)i);
		TEST_ASSERT(th[i] > 0);
	}
	rl_sleep_ns(30 * MS);
	TEST_EQ(fw_result[0], 1);
	TEST_EQ(fw_result[1], 1);
	/* Replace the first waiter's page only. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)m2, 0, a, 2 * PAGE,
		       RW | RL_MAP_FIXED | RL_MAP_REPLACE), (int64_t)a);
	TEST_EQ(rl_thread_join((rl_handle_t)th[0]), 0);
	TEST_EQ(fw_result[0], -RILL_EFAULT);
	rl_sleep_ns(20 * MS);
	TEST_EQ(fw_result[1], 1);
	/* A wait on the new mapping is a wait on the new object's word. */
	TEST_EQ(rl_raw_futex_wait(a, 5, 0), -RILL_EAGAIN);
	TEST_EQ(rl_raw_futex_wake(a + 4 * PAGE, 1), 1);
	TEST_EQ(rl_thread_join((rl_handle_t)th[1]), 0);
	TEST_EQ(fw_result[1], 0);
	TEST_EQ(rl_handle_close(th[0]), 0);
	TEST_EQ(rl_handle_close(th[1]), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 8 * PAGE), 0);
	TEST_EQ(rl_handle_close(m1), 0);
	TEST_EQ(rl_handle_close(m2), 0);
}

/* A replace that fails leaves what was there. */
DEFINE_TEST(replace_failure_keeps_the_old_mapping)
{
	struct rl_region r0[2], r1[2];
	uint64_t a = BASE + 0x7000000, v = 0x1234567890ull, x;
	int64_t ph = child_new(64 * 1024), mo = new_mo(PAGE), other = new_mo(4 * PAGE), e, ro;
	unsigned n;

	map_at((rl_handle_t)ph, mo, 0, a, PAGE, RW);
	TEST_EQ(rl_process_rw(ph, a, &v, 8, RL_RW_WRITE), 8);
	TEST_EQ(regions((rl_handle_t)ph, a, r0, 2), 2);	/* (and the clock page) */
	/* Rights, arguments: refused before anything changes. */
	ro = rl_handle_dup(other, RL_RIGHT_READ);
	TEST_EQ(rl_map(ph, (rl_handle_t)ro, 0, a, PAGE, RW | RL_MAP_FIXED | RL_MAP_REPLACE),
		-RILL_EPERM);
	TEST_EQ(rl_map(ph, (rl_handle_t)other, 4 * PAGE, a, PAGE,
		       RW | RL_MAP_FIXED | RL_MAP_REPLACE), -RILL_EINVAL);
	TEST_EQ(rl_map(ph, (rl_handle_t)other, 0, a, 8 * PAGE,
		       RW | RL_MAP_FIXED | RL_MAP_REPLACE), -RILL_EINVAL);
	/* Budget: fill the child's with areas until it refuses one more. */
	for (n = 0; n < 10000; n++) {
		e = rl_map(ph, (rl_handle_t)other, 0, a + (2 + 2 * n) * PAGE, PAGE,
			   RL_PROT_READ | RL_MAP_FIXED);
		if (e < 0)
			break;
	}
	TEST_EQ(e, -RILL_ENOMEM);
	TEST_ASSERT(n > 10);
	TEST_EQ(rl_map(ph, (rl_handle_t)other, 0, a, PAGE, RW | RL_MAP_FIXED | RL_MAP_REPLACE),
		-RILL_ENOMEM);
	TEST_EQ(rl_map(ph, 0, 0, a, PAGE, RL_MAP_RESERVE | RL_MAP_FIXED | RL_MAP_REPLACE),
		-RILL_ENOMEM);
	TEST_EQ(regions((rl_handle_t)ph, a, r1, 1), 1);
	TEST_EQ(r1[0].start, r0[0].start);
	TEST_EQ(r1[0].length, r0[0].length);
	TEST_EQ(r1[0].object, obj_id(mo));
	x = rw_read64(ph, a, &e);
	TEST_EQ(e, 8);
	TEST_EQ(x, v);
	child_end(ph);
	TEST_EQ(rl_handle_close(ro), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(other), 0);
}

/* ---- discarding ---------------------------------------------------------------------- */

static int64_t discard(rl_handle_t proc, uint64_t addr, uint64_t len)
{
	struct rl_sqe e = { .opcode = RL_OP_DISCARD, .handle = proc, .arg = { addr, len } };

	return rl_sync_op(&e, NULL);
}

static uint64_t budget_used(void)
{
	struct rl_budget b;

	TEST_EQ(rl_process_budget(RL_SELF_PROCESS, &b), 0);
	return b.used;
}

DEFINE_TEST(discard_frees_private_pages)
{
	struct rl_kcounters c0, c1;
	uint64_t a = BASE + 0x8000000, b = a + 64 * PAGE, u0, u1;
	int64_t mo = new_mo(16 * PAGE);
	volatile uint64_t *p = (volatile uint64_t *)a, *q = (volatile uint64_t *)b;

	rl_test_warm_up();
	map_at(RL_SELF_PROCESS, mo, 0, a, 16 * PAGE, RW);
	map_at(RL_SELF_PROCESS, mo, 0, b, 16 * PAGE, RL_PROT_READ);	/* a second view */
	for (unsigned i = 0; i < 16; i++)
		p[i * PAGE / 8 + 3] = 100 + i;
	for (unsigned i = 0; i < 16; i++)
		TEST_EQ(q[i * PAGE / 8 + 3], 100 + i);
	kc_settle(&c0);
	u0 = budget_used();
	TEST_EQ(discard(RL_SELF_PROCESS, a + 4 * PAGE, 8 * PAGE), 0);
	kc_read(&c1);
	u1 = budget_used();
	TEST_EQ(c1.user_pages, c0.user_pages - 8);
	TEST_EQ(u0 - u1, 8 * PAGE);	/* the object's budget (ours) gets them back */
	for (unsigned i = 0; i < 16; i++) {
		uint64_t want = i >= 4 && i < 12 ? 0 : 100 + i;

		TEST_EQ(p[i * PAGE / 8 + 3], want);
		TEST_EQ(q[i * PAGE / 8 + 3], want);	/* the object's pages: both views */
	}
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages - 8);	/* read back: the shared zero page */
	p[5 * PAGE / 8] = 7;
	TEST_EQ(q[5 * PAGE / 8], 7);
	/* Through the read-only view too (it is the same object), and twice. */
	TEST_EQ(discard(RL_SELF_PROCESS, b, 16 * PAGE), 0);
	TEST_EQ(discard(RL_SELF_PROCESS, b, 16 * PAGE), 0);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages - 16);
	TEST_EQ(p[5 * PAGE / 8], 0);
	TEST_EQ(p[0], 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 16 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, b, 16 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(discard_shared_and_kernel_areas_keep_data)
{
	struct rl_kcounters c0, c1;
	uint64_t a = BASE + 0x9000000, t0;
	int64_t mo = new_mo(4 * PAGE);
	volatile uint64_t *p = (volatile uint64_t *)a;

	rl_test_warm_up();
	map_at(RL_SELF_PROCESS, mo, 0, a, 4 * PAGE, RW | RL_MAP_SHARED);
	for (unsigned i = 0; i < 4; i++)
		p[i * PAGE / 8] = 55 + i;
	kc_settle(&c0);
	TEST_EQ(discard(RL_SELF_PROCESS, a, 4 * PAGE), 0);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages);
	for (unsigned i = 0; i < 4; i++)
		TEST_EQ(p[i * PAGE / 8], 55 + i);
	/* The clock page (the kernel's): still the clock. */
	t0 = rl_clock_ns();
	TEST_EQ(discard(RL_SELF_PROCESS, rl_startup_info->clock_page, PAGE), 0);
	TEST_ASSERT(rl_clock_ns() >= t0 && t0 > 0);
	/* A reservation has nothing to discard. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, a + 8 * PAGE, 4 * PAGE,
		       RL_MAP_RESERVE | RL_MAP_FIXED), (int64_t)(a + 8 * PAGE));
	TEST_EQ(discard(RL_SELF_PROCESS, a + 8 * PAGE, 4 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 12 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* In a copy-on-write pair each object gives up only its own reference. */
DEFINE_TEST(discard_snapshot_keeps_the_other_side)
{
	struct rl_kcounters c0, c1;
	uint64_t a = BASE + 0xa000000, b = a + 16 * PAGE;
	int64_t mo = new_mo(4 * PAGE), snap;
	volatile uint64_t *p = (volatile uint64_t *)a, *q = (volatile uint64_t *)b;

	rl_test_warm_up();
	map_at(RL_SELF_PROCESS, mo, 0, a, 4 * PAGE, RW);
	for (unsigned i = 0; i < 4; i++)
		p[i * PAGE / 8] = 10 + i;
	snap = rl_memobj_cow(mo);
	TEST_ASSERT(snap > 0);
	map_at(RL_SELF_PROCESS, snap, 0, b, 4 * PAGE, RW);
	kc_settle(&c0);
	/* The snapshot gives up pages 0-1: the source keeps them. */
	TEST_EQ(discard(RL_SELF_PROCESS, b, 2 * PAGE), 0);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages);	/* still the source's */
	TEST_EQ(q[0], 0);
	TEST_EQ(q[PAGE / 8], 0);
	TEST_EQ(q[2 * PAGE / 8], 12);
	TEST_EQ(p[0], 10);
	TEST_EQ(p[PAGE / 8], 11);
	/* The source gives up pages 2-3: the snapshot keeps them. */
	TEST_EQ(discard(RL_SELF_PROCESS, a + 2 * PAGE, 2 * PAGE), 0);
	TEST_EQ(p[2 * PAGE / 8], 0);
	TEST_EQ(p[3 * PAGE / 8], 0);
	TEST_EQ(q[2 * PAGE / 8], 12);
	TEST_EQ(q[3 * PAGE / 8], 13);
	/* And a page now the snapshot's alone is written in place. */
	q[3 * PAGE / 8] = 99;
	TEST_EQ(q[3 * PAGE / 8], 99);
	TEST_EQ(p[3 * PAGE / 8], 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 4 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, b, 4 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(snap), 0);
}

DEFINE_TEST(discard_large_sparse_and_other_process)
{
	struct rl_kcounters c0, c1;
	uint64_t a = BASE + 0x10000000, len = 64ull << 20, x;
	int64_t mo, ph, e;

	rl_test_warm_up();
	kc_settle(&c0);
	mo = new_mo(len);
	ph = child_new(0);
	map_at((rl_handle_t)ph, mo, 0, a, len, RW);
	for (uint64_t o = 0; o < len; o += 8ull << 20) {
		x = o + 1;
		TEST_EQ(rl_process_rw(ph, a + o, &x, 8, RL_RW_WRITE), 8);
	}
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + 8 + 1);	/* and the code page */
	TEST_EQ(discard((rl_handle_t)ph, a, len), 0);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages + 1);
	x = rw_read64(ph, a + (8ull << 20), &e);
	TEST_EQ(e, 8);
	TEST_EQ(x, 0);
	child_end(ph);
	TEST_EQ(rl_handle_close(mo), 0);
	/* (a slab page for the object's root may stay cached) */
	rl_test_counters_expect_back_but_slabs(&c0);
}

DEFINE_TEST(discard_errors)
{
	uint64_t a = BASE + 0xb000000;
	int64_t mo = new_mo(4 * PAGE), ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	int64_t weak = rl_handle_dup(ph, RL_RIGHT_WAIT | RL_RIGHT_DUP);
	volatile uint64_t *p = (volatile uint64_t *)a;

	TEST_ASSERT(weak > 0);
	map_at(RL_SELF_PROCESS, mo, 0, a, 4 * PAGE, RW);
	p[0] = 1;
	/* Handles. */
	TEST_EQ(discard(12345, a, PAGE), -RILL_EBADF);
	TEST_EQ(discard(RL_SELF_THREAD, a, PAGE), -RILL_EBADFD);
	TEST_EQ(discard((rl_handle_t)mo, a, PAGE), -RILL_EBADFD);
	TEST_EQ(discard((rl_handle_t)weak, a, PAGE), -RILL_EPERM);
	/* Ranges. */
	TEST_EQ(discard(RL_SELF_PROCESS, a + 8, PAGE), -RILL_EINVAL);
	TEST_EQ(discard(RL_SELF_PROCESS, a, PAGE - 1), -RILL_EINVAL);
	TEST_EQ(discard(RL_SELF_PROCESS, a, 0), -RILL_EINVAL);
	TEST_EQ(discard(RL_SELF_PROCESS, a, ~0ull & ~(PAGE - 1)), -RILL_EINVAL);
	TEST_EQ(discard(RL_SELF_PROCESS, KERNEL_PTR, PAGE), -RILL_EINVAL);
	TEST_EQ(discard(RL_SELF_PROCESS, RL_USER_TOP - PAGE, 2 * PAGE), -RILL_EINVAL);
	/* Not all mapped: nothing done. */
	TEST_EQ(discard(RL_SELF_PROCESS, a, 8 * PAGE), -RILL_ENOMEM);
	TEST_EQ(discard(RL_SELF_PROCESS, a - PAGE, 2 * PAGE), -RILL_ENOMEM);
	TEST_EQ(discard(ph, a, PAGE), -RILL_ENOMEM);
	TEST_EQ(p[0], 1);
	/* Reserved arguments. */
	{
		struct rl_sqe e = { .opcode = RL_OP_DISCARD, .handle = RL_SELF_PROCESS,
				    .arg = { a, PAGE, 0, 0, 1 } };

		TEST_EQ(rl_sync_op(&e, NULL), -RILL_EINVAL);
		e.arg[4] = 0;
		e.arg[2] = 1;
		TEST_EQ(rl_sync_op(&e, NULL), -RILL_EINVAL);
	}
	TEST_EQ(p[0], 1);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 4 * PAGE), 0);
	TEST_EQ(rl_handle_close(weak), 0);
	child_end(ph);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* ---- vm_fork ----------------------------------------------------------------------------- */

static uint64_t rd(int64_t ph, uint64_t addr)
{
	int64_t e;
	uint64_t v = rw_read64(ph, addr, &e);

	TEST_EQ(e, 8);
	return v;
}

static void wr(int64_t ph, uint64_t addr, uint64_t v)
{
	TEST_EQ(rl_process_rw(ph, addr, &v, 8, RL_RW_WRITE), 8);
}

/* The area of proc at addr (must exist). */
static struct rl_region area_at(int64_t ph, uint64_t addr)
{
	struct rl_region r;

	TEST_EQ(rl_vm_regions(ph, addr, &r, 1), 1);
	TEST_ASSERT(r.start <= addr && addr < r.start + r.length);
	return r;
}

DEFINE_TEST(fork_copies_and_isolates)
{
	struct rl_kcounters c0;
	struct rl_region rs, rd_;
	uint64_t P = BASE + 0x20000000, S = P + 64 * PAGE, R = P + 128 * PAGE,
		 X = P + 192 * PAGE, Y = P + 256 * PAGE;
	volatile uint64_t *p = (volatile uint64_t *)P, *sh = (volatile uint64_t *)S,
			  *x = (volatile uint64_t *)X, *y = (volatile uint64_t *)Y;
	int64_t mp, ms, mm, dst, code;

	rl_test_warm_up();
	/* Our page tables for the range, made before the count (they stay
	 * until the program ends). */
	mp = new_mo(320 * PAGE);
	map_at(RL_SELF_PROCESS, mp, 0, P, 320 * PAGE, RW);
	for (unsigned i = 0; i < 320; i += 64)
		p[i * PAGE / 8] = 1;
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, P, 320 * PAGE), 0);
	TEST_EQ(rl_handle_close(mp), 0);
	kc_settle(&c0);
	mp = new_mo(4 * PAGE);
	ms = new_mo(2 * PAGE);
	mm = new_mo(8 * PAGE);
	map_at(RL_SELF_PROCESS, mp, 0, P, 4 * PAGE, RW);
	map_at(RL_SELF_PROCESS, ms, 0, S, 2 * PAGE, RW | RL_MAP_SHARED);
	TEST_EQ(rl_map(RL_SELF_PROCESS, 0, 0, R, 8 * PAGE, RL_MAP_RESERVE | RL_MAP_FIXED),
		(int64_t)R);
	map_at(RL_SELF_PROCESS, mm, 0, X, 8 * PAGE, RW);		/* one object ... */
	map_at(RL_SELF_PROCESS, mm, 2 * PAGE, Y, 2 * PAGE, RL_PROT_READ);	/* ... twice */
	for (unsigned i = 0; i < 4; i++)
		p[i * PAGE / 8] = 1000 + i;
	sh[0] = 2000;
	x[2 * PAGE / 8] = 3000;
	TEST_EQ(y[0], 3000);

	dst = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(dst > 0);
	TEST_EQ(rl_vm_fork(dst, RL_SELF_PROCESS), 0);

	/* Every area at its place, with its protection and flags. */
	rs = area_at(RL_SELF_PROCESS, P);
	rd_ = area_at(dst, P);
	TEST_EQ(rd_.start, rs.start);
	TEST_EQ(rd_.length, rs.length);
	TEST_EQ(rd_.prot, RW);
	TEST_EQ(rd_.flags, 0);
	TEST_ASSERT(rd_.object != rs.object);	/* private: a snapshot */
	rd_ = area_at(dst, S);
	TEST_EQ(rd_.flags, RL_MAP_SHARED);
	TEST_EQ(rd_.object, obj_id(ms));	/* shared: the object itself */
	rd_ = area_at(dst, R);
	TEST_EQ(rd_.start, R);
	TEST_EQ(rd_.length, 8 * PAGE);
	TEST_EQ(rd_.flags, RL_MAP_RESERVE);
	TEST_EQ(rd_.object, 0);
	rd_ = area_at(dst, X);
	rs = area_at(dst, Y);
	TEST_EQ(rs.prot, RL_PROT_READ);
	TEST_EQ(rs.offset, 2 * PAGE);
	TEST_EQ(rs.object, rd_.object);		/* one snapshot for both */
	TEST_ASSERT(rd_.object != obj_id(mm));
	/* The clock page is the child's own (the same object), once. */
	rd_ = area_at(dst, rl_startup_info->clock_page);
	TEST_EQ(rd_.object, area_at(RL_SELF_PROCESS, rl_startup_info->clock_page).object);
	/* A copy of the program itself: its code, at the same address. */
	TEST_EQ(rd(dst, (uint64_t)&as_blob_start), *(const uint64_t *)as_blob_start);

	/* Values written before are there; writes after stay on their side. */
	for (unsigned i = 0; i < 4; i++)
		TEST_EQ(rd(dst, P + i * PAGE), 1000 + i);
	p[0] = 1111;				/* ours, through the MMU */
	wr(dst, P + PAGE, 2222);		/* the child's */
	TEST_EQ(rd(dst, P), 1000);
	TEST_EQ(p[PAGE / 8], 1001);
	TEST_EQ(rd(dst, P + PAGE), 2222);
	/* The child's MMU: a thread of it stores 0x5a5a5a5a at P + 2 pages. */
	code = new_mo(PAGE);
	{
		int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)code, 0, 0, PAGE, RW);

		TEST_ASSERT(a > 0);
		memcpy((void *)a, as_blob_start, (size_t)(as_blob_end - as_blob_start));
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, PAGE), 0);
	}
	/* (over whatever the copy holds there) */
	map_at((rl_handle_t)dst, code, 0, CHILD_CODE, PAGE,
	       RL_PROT_READ | RL_PROT_EXEC | RL_MAP_REPLACE);
	{
		int64_t th = rl_thread_create(dst, BLOB(as_blob_store_spin), 0, P + 2 * PAGE, 0);
		uint64_t until = rl_clock_ns() + 5000 * MS;

		TEST_ASSERT(th > 0);
		TEST_EQ(rl_thread_start(th), 0);
		while ((rd(dst, P + 2 * PAGE) & 0xffffffff) != 0x5a5a5a5a)
			TEST_ASSERT(rl_clock_ns() < until);
		TEST_EQ(rd(dst, P + 2 * PAGE) >> 32, 0);
		TEST_EQ(p[2 * PAGE / 8], 1002);
		TEST_EQ(rl_handle_close(th), 0);
	}
	/* Shared: both ways. */
	TEST_EQ(rd(dst, S), 2000);
	sh[0] = 2001;
	TEST_EQ(rd(dst, S), 2001);
	wr(dst, S + 8, 2002);
	TEST_EQ(sh[1], 2002);
	/* The two areas of one object share in the child, not with us. */
	wr(dst, X + 2 * PAGE, 3001);
	TEST_EQ(rd(dst, Y), 3001);
	TEST_EQ(x[2 * PAGE / 8], 3000);
	TEST_EQ(y[0], 3000);
	x[2 * PAGE / 8] = 3002;
	TEST_EQ(y[0], 3002);
	TEST_EQ(rd(dst, Y), 3001);

	TEST_EQ(rl_process_kill(dst, 9), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)dst), 9);
	TEST_EQ(rl_handle_close(dst), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, P, 320 * PAGE), 0);
	TEST_EQ(rl_handle_close(mp), 0);
	TEST_EQ(rl_handle_close(ms), 0);
	TEST_EQ(rl_handle_close(mm), 0);
	TEST_EQ(rl_handle_close(code), 0);
	rl_test_counters_expect_back_but_slabs(&c0);
}

/* A 64 MiB area with 4 pages touched: the child costs a few tree nodes,
 * no page. */
DEFINE_TEST(fork_sparse_64m_is_cheap)
{
	struct rl_kcounters c0, c1;
	struct rl_budget b0, b1;
	uint64_t a = BASE + 0x40000000, len = 64ull << 20, t0, dt;
	int64_t src, dst, mo;

	rl_test_warm_up();
	src = child_new(0);
	mo = new_mo(len);
	map_at((rl_handle_t)src, mo, 0, a, len, RW);
	for (unsigned i = 0; i < 4; i++)
		wr(src, a + i * (16ull << 20) + 8, 500 + i);
	dst = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(dst > 0);
	kc_settle(&c0);
	TEST_EQ(rl_process_budget(dst, &b0), 0);
	t0 = rl_clock_ns();
	TEST_EQ(rl_vm_fork(dst, src), 0);
	dt = rl_clock_ns() - t0;
	kc_read(&c1);
	TEST_EQ(rl_process_budget(dst, &b1), 0);
	rl_printf("aspace: fork of a 64 MiB area with 4 pages touched (and a code page): "
		  "%lu us, %lu tree nodes, %lu objects, %lu budget bytes, %lu new pages\n",
		  (unsigned long)(dt / 1000), (unsigned long)(c1.memobj_nodes - c0.memobj_nodes),
		  (unsigned long)(c1.memobjs - c0.memobjs), (unsigned long)(b1.used - b0.used),
		  (unsigned long)(c1.user_pages - c0.user_pages));
	TEST_EQ(c1.user_pages, c0.user_pages);		/* shared, not copied */
	TEST_EQ(c1.memobjs, c0.memobjs + 2);		/* the area's and the code's */
	TEST_EQ(c1.memobj_nodes, c0.memobj_nodes + 4);	/* a leaf per page touched */
	TEST_ASSERT(b1.used - b0.used < 64 * 1024);
	for (unsigned i = 0; i < 4; i++)
		TEST_EQ(rd(dst, a + i * (16ull << 20) + 8), 500 + i);
	TEST_EQ(rd(dst, a + len - 8), 0);
	child_end(dst);
	child_end(src);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* Out of budget: the child stays empty, the parent as it was. */
DEFINE_TEST(fork_enomem_changes_nothing)
{
	struct rl_kcounters c0, c1;
	struct rl_region before[4], after[4];
	struct rl_budget b0, b1;
	uint64_t a = BASE + 0x50000000;
	int64_t src, dst, mo, n;

	rl_test_warm_up();
	src = child_new(0);
	mo = new_mo(1 << 20);
	map_at((rl_handle_t)src, mo, 0, a, 1 << 20, RW);
	for (unsigned i = 0; i < 256; i++)
		wr(src, a + i * PAGE, 700 + i);
	dst = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 256 * 1024);
	TEST_ASSERT(dst > 0);
	n = regions((rl_handle_t)src, 0, before, 4);
	TEST_EQ(n, 3);	/* code, the area, the clock page */
	kc_settle(&c0);
	TEST_EQ(rl_process_budget(dst, &b0), 0);
	TEST_EQ(rl_vm_fork(dst, src), -RILL_ENOMEM);	/* 1 MiB of shared pages to pay */
	kc_read(&c1);
	TEST_EQ(rl_process_budget(dst, &b1), 0);
	TEST_EQ(b1.used, b0.used);
	TEST_EQ(c1.memobjs, c0.memobjs);
	TEST_EQ(c1.memobj_nodes, c0.memobj_nodes);
	TEST_EQ(c1.user_pages, c0.user_pages);
	TEST_EQ(c1.mappings, c0.mappings);
	TEST_EQ(regions((rl_handle_t)dst, 0, after, 4), 1);	/* its clock page */
	TEST_EQ(after[0].start, rl_startup_info->clock_page);
	TEST_EQ(regions((rl_handle_t)src, 0, after, 4), n);
	TEST_EQ(memcmp(before, after, sizeof(before[0]) * (size_t)n), 0);
	for (unsigned i = 0; i < 256; i += 17)
		TEST_EQ(rd(src, a + i * PAGE), 700 + i);
	wr(src, a, 1);
	TEST_EQ(rd(src, a), 1);
	kc_read(&c1);
	TEST_EQ(c1.user_pages, c0.user_pages);	/* written in place: no copy */
	/* With the budget to pay, the same fork works. */
	{
		int64_t big = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 4 << 20);

		TEST_ASSERT(big > 0);
		TEST_EQ(rl_vm_fork(big, src), 0);
		TEST_EQ(rd(big, a + 5 * PAGE), 705);
		TEST_EQ(rd(big, a), 1);
		child_end(big);
	}
	child_end(dst);
	child_end(src);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(fork_errors)
{
	int64_t src = child_new(0), dst, weak, mo, ended;

	dst = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(dst > 0);
	/* Handles and rights, on either side. */
	TEST_EQ(rl_vm_fork(12345, src), -RILL_EBADF);
	TEST_EQ(rl_vm_fork(dst, 12345), -RILL_EBADF);
	TEST_EQ(rl_raw_vm_fork(0x100000000ull | (uint64_t)dst, src), -RILL_EBADF);
	TEST_EQ(rl_vm_fork(RL_SELF_THREAD, src), -RILL_EBADFD);
	mo = new_mo(PAGE);
	TEST_EQ(rl_vm_fork(dst, mo), -RILL_EBADFD);
	weak = rl_handle_dup(dst, RL_RIGHTS_ALL & ~RL_RIGHT_MANAGE);
	TEST_EQ(rl_vm_fork(weak, src), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	weak = rl_handle_dup(src, RL_RIGHTS_ALL & ~RL_RIGHT_MANAGE);
	TEST_EQ(rl_vm_fork(dst, weak), -RILL_EPERM);
	/* One process on both sides. */
	TEST_EQ(rl_vm_fork(src, src), -RILL_EINVAL);
	TEST_EQ(rl_vm_fork(RL_SELF_PROCESS, RL_SELF_PROCESS), -RILL_EINVAL);
	/* Into ourselves (not empty), or a child with anything mapped
	 * (a reservation too). */
	TEST_EQ(rl_vm_fork(RL_SELF_PROCESS, src), -RILL_EBUSY);
	TEST_EQ(rl_vm_fork(src, dst), -RILL_EBUSY);
	TEST_EQ(rl_map(dst, 0, 0, BASE, PAGE, RL_MAP_RESERVE | RL_MAP_FIXED), (int64_t)BASE);
	TEST_EQ(rl_vm_fork(dst, src), -RILL_EBUSY);
	TEST_EQ(rl_unmap(dst, BASE, PAGE), 0);
	TEST_EQ(regions((rl_handle_t)dst, 0, (struct rl_region[1]){ 0 }, 1), 1);
	/* Twice into the same child: the second finds it full. */
	TEST_EQ(rl_vm_fork(dst, src), 0);
	TEST_EQ(rl_vm_fork(dst, src), -RILL_EBUSY);
	/* Something of src where the child has its clock page. */
	{
		uint64_t clk = rl_startup_info->clock_page;
		int64_t d2 = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);

		TEST_EQ(rl_unmap(src, clk, PAGE), 0);
		map_at((rl_handle_t)src, mo, 0, clk, PAGE, RL_PROT_READ);
		TEST_EQ(rl_vm_fork(d2, src), -RILL_EEXIST);
		TEST_EQ(regions((rl_handle_t)d2, 0, (struct rl_region[2]){ 0 }, 2), 1);
		child_end(d2);
	}
	/* Ended processes. */
	ended = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_EQ(rl_process_kill(ended, 0), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)ended), 0);
	TEST_EQ(rl_vm_fork(ended, src), -RILL_ESRCH);
	TEST_EQ(rl_vm_fork(dst, ended), -RILL_ESRCH);
	TEST_EQ(rl_handle_close(ended), 0);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	child_end(dst);
	child_end(src);
}
