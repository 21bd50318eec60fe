/*
 * In-OS tests of processes, threads, futexes and handles.
 *
 * Child processes run no ELF program: each gets one page of hand-written,
 * position-independent machine code (below) mapped read/exec at
 * CHILD_CODE, and a thread started on one of its entry points with the
 * argument in rdi. That is enough to exercise creation, exit statuses,
 * faults, kills and the release of everything a process holds.
 *
 * Kernel counters are system-wide; while a test program runs, init only
 * waits for it. The end of a process is reported (PROCESS_WAIT) before its
 * last thread has finished tearing it down, and exited kernel threads are
 * reaped a little later, so kc_expect_back() polls for a few seconds.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define PAGE		4096ull
#define MS		1000000ull
#define KERNEL_PTR	0xffff800000000000ull
#define CHILD_CODE	0x400000ull

/* Shared test helpers (lib/user/testmain.c, lib/user/time.c). */
#define kc_read		rl_test_counters_read
#define kc_settle	rl_test_counters_settle
#define kc_expect_back	rl_test_counters_expect_back
#define sleep_ms(ms)	rl_sleep_ns((uint64_t)(ms) * MS)

/* ---- child processes ------------------------------------------------------------- */

/*
 * The children's code. Each entry point starts with rdi = the thread's
 * argument and needs no stack:
 *   blob_exit   thread_exit(rdi)
 *   blob_fault  store to address 0 (a fault nothing resolves)
 *   blob_spin   loop forever
 * ud2 after a call that must not return turns a surprise into a fault.
 */
_Static_assert(RL_SYS_thread_exit == 0x20000010, "blob syscall number");
__asm__(".pushsection .rodata\n"
	".balign 64\n"
	"blob_start:\n"
	"blob_exit:\n"
	"	movl $0x20000010, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"blob_fault:\n"
	"	movl $1, 0\n"
	"	ud2\n"
	"blob_spin:\n"
	"	pause\n"
	"	jmp blob_spin\n"
	"blob_end:\n"
	".popsection\n");
extern const char blob_start[], blob_exit[], blob_fault[], blob_spin[], blob_end[];

#define ENTRY(blob) (CHILD_CODE + (uint64_t)((blob) - blob_start))

static int64_t code_mo;		/* one page holding the blobs */

static void code_setup(void)
{
	int64_t a;

	if (code_mo > 0)
		return;
	code_mo = rl_memobj_create(PAGE, 0);
	TEST_ASSERT(code_mo > 0);
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)code_mo, 0, 0, PAGE,
		   RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT(a > 0);
	memcpy((void *)a, blob_start, (size_t)(blob_end - blob_start));
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, PAGE), 0);
}

/* A new process with the code mapped and nthreads threads created at entry
 * (started when start is set). Returns the process handle; the thread
 * handles go to th[]. Errors are returned, not asserted (hot loop). */
static int64_t child_new(uint64_t entry, uint64_t arg, int nthreads, bool start, int64_t *th)
{
	int64_t ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0), r;

	if (ph < 0)
		return ph;
	r = rl_map(ph, (rl_handle_t)code_mo, 0, CHILD_CODE, PAGE,
		   RL_PROT_READ | RL_PROT_EXEC | RL_MAP_FIXED);
	if (r != (int64_t)CHILD_CODE)
		goto fail;
	for (int i = 0; i < nthreads; i++) {
		th[i] = rl_thread_create(ph, entry, 0, arg, 0);
		if (th[i] < 0) {
			r = th[i];
			goto fail;
		}
	}
	for (int i = 0; start && i < nthreads; i++) {
		r = rl_thread_start(th[i]);
		if (r < 0)
			goto fail;
	}
	return ph;
fail:
	rl_process_kill(ph, 0);
	rl_handle_close(ph);
	return r < 0 ? r : -RILL_EIO;
}

/* Warm-up: the runtime's queue and one child, so that lazily grown kernel
 * caches are grown before a baseline is taken. */
static void warm_up(void)
{
	int64_t ph, th;

	code_setup();
	ph = child_new(ENTRY(blob_exit), 7, 1, true, &th);
	TEST_ASSERT(ph > 0);
	TEST_EQ(rl_process_wait((rl_handle_t)ph), 7);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(rl_handle_close(ph), 0);
}

/* ---- process life cycle ------------------------------------------------------------ */

#define PROC_CYCLES 1000

DEFINE_TEST(process_cycles_leak_nothing)
{
	struct rl_kcounters c0;
	uint64_t t0;

	warm_up();
	kc_settle(&c0);
	t0 = rl_clock_ns();
	for (int i = 0; i < PROC_CYCLES; i++) {
		int64_t th, ph = child_new(ENTRY(blob_exit), 42, 1, true, &th), st;

		if (ph < 0)
			rl_test_fail(__FILE__, __LINE__, "cycle %d: start: %ld", i, (long)ph);
		st = rl_process_wait((rl_handle_t)ph);
		if (st != 42)
			rl_test_fail(__FILE__, __LINE__, "cycle %d: status %ld", i, (long)st);
		st = rl_thread_join((rl_handle_t)th);
		if (st != 42)
			rl_test_fail(__FILE__, __LINE__, "cycle %d: thread status %ld", i,
				     (long)st);
		if (rl_handle_close(th) || rl_handle_close(ph))
			rl_test_fail(__FILE__, __LINE__, "cycle %d: close", i);
	}
	rl_printf("process: %d process create/exit cycles in %lu ms\n", PROC_CYCLES,
		  (unsigned long)((rl_clock_ns() - t0) / MS));
	kc_expect_back(&c0);
}

DEFINE_TEST(exit_status_is_the_threads)
{
	static const int64_t st[] = { 0, 1, -1, 0x7fffffffffffffffll, -RILL_EIO };

	code_setup();
	for (unsigned i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		int64_t th, ph = child_new(ENTRY(blob_exit), (uint64_t)st[i], 1, true, &th);

		TEST_ASSERT(ph > 0);
		TEST_EQ(rl_process_wait((rl_handle_t)ph), st[i]);
		/* Waiting again gives the same status. */
		TEST_EQ(rl_process_wait((rl_handle_t)ph), st[i]);
		TEST_EQ(rl_thread_join((rl_handle_t)th), st[i]);
		TEST_EQ(rl_handle_close(th), 0);
		TEST_EQ(rl_handle_close(ph), 0);
	}
}

DEFINE_TEST(faulting_child_ends_with_efault)
{
	struct rl_kcounters c0;

	warm_up();
	kc_settle(&c0);
	for (int i = 0; i < 3; i++) {
		int64_t th, ph = child_new(ENTRY(blob_fault), 0, 1, true, &th);

		TEST_ASSERT(ph > 0);
		TEST_EQ(rl_process_wait((rl_handle_t)ph), -RILL_EFAULT);
		TEST_EQ(rl_thread_join((rl_handle_t)th), -RILL_EFAULT);
		TEST_EQ(rl_handle_close(th), 0);
		TEST_EQ(rl_handle_close(ph), 0);
		/* The system goes on: the next child runs normally. */
		ph = child_new(ENTRY(blob_exit), 42, 1, true, &th);
		TEST_ASSERT(ph > 0);
		TEST_EQ(rl_process_wait((rl_handle_t)ph), 42);
		TEST_EQ(rl_handle_close(th), 0);
		TEST_EQ(rl_handle_close(ph), 0);
	}
	/* Jumping to an unmapped address faults as well. */
	{
		int64_t th, ph = child_new(0x7000000000ull, 0, 1, true, &th);

		TEST_ASSERT(ph > 0);
		TEST_EQ(rl_process_wait((rl_handle_t)ph), -RILL_EFAULT);
		TEST_EQ(rl_handle_close(th), 0);
		TEST_EQ(rl_handle_close(ph), 0);
	}
	/* So does running code mapped without RL_PROT_EXEC (no-execute),
	 * and code the child itself made non-executable. */
	for (int k = 0; k < 2; k++) {
		int64_t th, ph = child_new(ENTRY(blob_exit), 42, 1, false, &th);

		TEST_ASSERT(ph > 0);
		if (k == 0) {
			TEST_EQ(rl_handle_close(th), 0);	/* never started */
			TEST_EQ(rl_map(ph, (rl_handle_t)code_mo, 0, CHILD_CODE + 16 * PAGE, PAGE,
				       RL_PROT_READ | RL_MAP_FIXED), CHILD_CODE + 16 * PAGE);
			th = rl_thread_create(ph, ENTRY(blob_exit) + 16 * PAGE, 0, 42, 0);
			TEST_ASSERT(th > 0);
		} else {
			TEST_EQ(rl_protect(ph, CHILD_CODE, PAGE, RL_PROT_READ), 0);
		}
		TEST_EQ(rl_thread_start(th), 0);
		TEST_EQ(rl_process_wait((rl_handle_t)ph), -RILL_EFAULT);
		TEST_EQ(rl_handle_close(th), 0);
		TEST_EQ(rl_handle_close(ph), 0);
	}
	kc_expect_back(&c0);
}

DEFINE_TEST(kill_spinning_child)
{
	struct rl_kcounters c0, c1;
	int64_t th[3], ph;

	warm_up();
	kc_settle(&c0);
	/* Three threads spinning in user mode: the kill must reach each,
	 * wherever it runs. */
	ph = child_new(ENTRY(blob_spin), 0, 3, true, th);
	TEST_ASSERT(ph > 0);
	sleep_ms(10);
	kc_read(&c1);
	TEST_EQ(c1.processes, c0.processes + 1);
	TEST_EQ(c1.threads, c0.threads + 3);
	TEST_EQ(rl_process_kill(ph, 77), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)ph), 77);
	for (int i = 0; i < 3; i++) {
		TEST_EQ(rl_thread_join((rl_handle_t)th[i]), -RILL_EINTR);
		TEST_EQ(rl_handle_close(th[i]), 0);
	}
	/* The first end wins; killing an ended process is harmless. */
	TEST_EQ(rl_process_kill(ph, 88), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)ph), 77);
	/* An ended process takes no new thread. */
	TEST_EQ(rl_thread_create(ph, ENTRY(blob_exit), 0, 0, 0), -RILL_ESRCH);
	TEST_EQ(rl_handle_close(ph), 0);
	kc_expect_back(&c0);
}

DEFINE_TEST(kill_child_never_started)
{
	struct rl_kcounters c0;
	int64_t th, ph, weak;

	warm_up();
	kc_settle(&c0);
	ph = child_new(ENTRY(blob_exit), 5, 1, false, &th);
	TEST_ASSERT(ph > 0);
	/* Rights: killing needs MANAGE, waiting needs WAIT. */
	weak = rl_handle_dup(ph, RL_RIGHT_WAIT | RL_RIGHT_DUP);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_process_kill(weak, 1), -RILL_EPERM);
	TEST_EQ(rl_thread_create(weak, ENTRY(blob_exit), 0, 0, 0), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	weak = rl_handle_dup(ph, RL_RIGHT_MANAGE);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_process_wait((rl_handle_t)weak), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_process_kill(ph, -RILL_ECANCELED), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)ph), -RILL_ECANCELED);
	TEST_EQ(rl_thread_join((rl_handle_t)th), -RILL_EINTR);
	TEST_ASSERT(rl_thread_start(th) < 0);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(rl_handle_close(ph), 0);
	/* A process never given a thread, only closed. */
	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(ph > 0);
	TEST_EQ(rl_process_create(2, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0), -RILL_EINVAL);
	TEST_EQ(rl_handle_close(ph), 0);
	kc_expect_back(&c0);
}

DEFINE_TEST(thread_create_errors)
{
	int64_t ph, th;

	code_setup();
	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(ph > 0);
	TEST_EQ(rl_thread_create(ph, KERNEL_PTR, 0, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(ph, CHILD_CODE, KERNEL_PTR, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(ph, CHILD_CODE, 0, 0, 0x2), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(0x4242, CHILD_CODE, 0, 0, 0), -RILL_EBADF);
	TEST_EQ(rl_thread_create(code_mo, CHILD_CODE, 0, 0, 0), -RILL_EBADFD);
	TEST_EQ(rl_map(ph, (rl_handle_t)code_mo, 0, CHILD_CODE, PAGE,
		       RL_PROT_READ | RL_PROT_EXEC | RL_MAP_FIXED), CHILD_CODE);
	th = rl_thread_create(ph, ENTRY(blob_exit), 0, 3, 0);
	TEST_ASSERT(th > 0);
	TEST_EQ(rl_thread_start(ph), -RILL_EBADFD);
	{
		int64_t weak = rl_handle_dup(th, RL_RIGHT_WAIT);

		TEST_ASSERT(weak > 0);
		TEST_EQ(rl_thread_start(weak), -RILL_EPERM);
		TEST_EQ(rl_thread_kill(weak), -RILL_EPERM);
		TEST_EQ(rl_handle_close(weak), 0);
	}
	/* Handle values above 32 bits name nothing (no truncation). */
	TEST_EQ(rl_raw_thread_start((uint64_t)th | 1ull << 32), -RILL_EBADF);
	TEST_EQ(rl_raw_thread_kill((uint64_t)th | 1ull << 32), -RILL_EBADF);
	TEST_EQ(rl_raw_process_kill((uint64_t)ph | 1ull << 32, 0), -RILL_EBADF);
	TEST_EQ(rl_raw_thread_create((uint64_t)ph | 1ull << 40, CHILD_CODE, 0, 0, 0), -RILL_EBADF);
	TEST_EQ(rl_raw_process_give(ph, (uint64_t)code_mo | 1ull << 32, RL_RIGHT_READ), -RILL_EBADF);
	TEST_EQ(rl_thread_start(th), 0);
	TEST_EQ(rl_thread_start(th), -RILL_EBUSY);
	TEST_EQ(rl_process_wait((rl_handle_t)ph), 3);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(rl_handle_close(ph), 0);
}

/* ---- threads of this process --------------------------------------------------------- */

static void exits_with(void *arg)
{
	rl_exit((int64_t)(uint64_t)arg);
}

static void returns(void *arg)
{
	sleep_ms((uint64_t)arg);
}

DEFINE_TEST(thread_spawn_join)
{
	int64_t t[4];

	for (uint64_t i = 0; i < 4; i++) {
		t[i] = rl_thread_spawn(exits_with, (void *)(1000 + i));
		TEST_ASSERT(t[i] > 0);
	}
	for (int i = 3; i >= 0; i--) {
		TEST_EQ(rl_thread_join((rl_handle_t)t[i]), 1000 + i);
		TEST_EQ(rl_thread_join((rl_handle_t)t[i]), 1000 + i);	/* status stays */
		TEST_EQ(rl_handle_close(t[i]), 0);
	}
	/* A thread returning from its function ends with 0. */
	t[0] = rl_thread_spawn(returns, (void *)1);
	TEST_ASSERT(t[0] > 0);
	TEST_EQ(rl_thread_join((rl_handle_t)t[0]), 0);
	TEST_EQ(rl_handle_close(t[0]), 0);
}

static uint32_t blocker_word;
static volatile uint32_t blocker_ready;
static volatile int64_t blocker_result = 1;

static void blocker(void *arg)
{
	blocker_ready = 1;
	/* The deadline only matters if the test is broken: it keeps a
	 * failed run from hanging. */
	blocker_result = rl_futex_wait(&blocker_word, 0, rl_clock_ns() + 30000 * MS);
}

DEFINE_TEST(kill_thread_blocked_in_futex)
{
	int64_t t;
	uint64_t until = rl_clock_ns() + 5000 * MS;

	blocker_word = 0;
	blocker_ready = 0;
	blocker_result = 1;
	t = rl_thread_spawn(blocker, NULL);
	TEST_ASSERT(t > 0);
	while (!blocker_ready) {
		TEST_ASSERT(rl_clock_ns() < until);
		sleep_ms(1);
	}
	sleep_ms(50);		/* let it block */
	TEST_EQ(rl_thread_kill(t), 0);
	TEST_EQ(rl_thread_join((rl_handle_t)t), -RILL_EINTR);
	/* It ended inside the call: the code after it never ran. */
	TEST_EQ(blocker_result, 1);
	/* Killing an ended thread is harmless. */
	TEST_EQ(rl_thread_kill(t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	/* Nobody waits on the word any more. */
	TEST_EQ(rl_futex_wake(&blocker_word, 10), 0);
}

DEFINE_TEST(futex_errors)
{
	uint32_t w[2] = { 5, 6 };
	uint64_t t0;

	TEST_EQ(rl_futex_wait(&w[0], 4, 0), -RILL_EAGAIN);
	TEST_EQ(rl_futex_wait(&w[1], 5, 0), -RILL_EAGAIN);
	TEST_EQ(rl_raw_futex_wait((uint64_t)&w[0] + 1, 5, 0), -RILL_EINVAL);
	TEST_EQ(rl_raw_futex_wait((uint64_t)&w[0] + 2, 5, 0), -RILL_EINVAL);
	TEST_EQ(rl_raw_futex_wake((uint64_t)&w[0] + 3, 1), -RILL_EINVAL);
	TEST_EQ(rl_raw_futex_wait(KERNEL_PTR, 0, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_futex_wait(RL_USER_TOP - 2, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_raw_futex_wait(RL_USER_TOP - 4 + 0x100000000000ull, 0, 0), -RILL_EFAULT);
	TEST_EQ(rl_futex_wait(0, 0, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_futex_wake(KERNEL_PTR, 1), -RILL_EFAULT);
	TEST_EQ(rl_futex_wake(&w[0], 1), 0);
	/* A deadline in the past, and one a little ahead. */
	TEST_EQ(rl_futex_wait(&w[0], 5, 1), -RILL_ETIMEDOUT);
	t0 = rl_clock_ns();
	TEST_EQ(rl_futex_wait(&w[0], 5, t0 + 15 * MS), -RILL_ETIMEDOUT);
	TEST_ASSERT(rl_clock_ns() - t0 >= 15 * MS);
	TEST_EQ(w[0], 5);
}

#define WAITERS 3

static uint32_t wake_word;
static volatile uint32_t wake_arrived;
static volatile int64_t wake_result[WAITERS];

static void wake_waiter(void *arg)
{
	uint64_t i = (uint64_t)arg;

	__atomic_fetch_add(&wake_arrived, 1, __ATOMIC_SEQ_CST);
	wake_result[i] = rl_futex_wait(&wake_word, 0, rl_clock_ns() + 30000 * MS);
}

static int count_results(int64_t want)
{
	int n = 0;

	for (int i = 0; i < WAITERS; i++)
		n += wake_result[i] == want;
	return n;
}

DEFINE_TEST(futex_wake_counts)
{
	int64_t t[WAITERS];
	uint64_t until = rl_clock_ns() + 5000 * MS;

	wake_word = 0;
	wake_arrived = 0;
	for (int i = 0; i < WAITERS; i++)
		wake_result[i] = 1;
	for (uint64_t i = 0; i < WAITERS; i++) {
		t[i] = rl_thread_spawn(wake_waiter, (void *)i);
		TEST_ASSERT(t[i] > 0);
	}
	while (wake_arrived < WAITERS) {
		TEST_ASSERT(rl_clock_ns() < until);
		sleep_ms(1);
	}
	sleep_ms(200);		/* let them all block */
	TEST_EQ(rl_futex_wake(&wake_word, 0), 0);
	TEST_EQ(rl_raw_futex_wake((uint64_t)&wake_word + 4, 10), 0);	/* another word */
	TEST_EQ(rl_futex_wake(&wake_word, 2), 2);
	until = rl_clock_ns() + 5000 * MS;
	while (count_results(0) < 2) {
		TEST_ASSERT(rl_clock_ns() < until);
		sleep_ms(1);
	}
	sleep_ms(20);
	TEST_EQ(count_results(0), 2);	/* exactly two woke */
	TEST_EQ(count_results(1), 1);	/* one still waits */
	TEST_EQ(rl_futex_wake(&wake_word, 100), 1);
	for (int i = 0; i < WAITERS; i++) {
		TEST_EQ(rl_thread_join((rl_handle_t)t[i]), 0);
		TEST_EQ(rl_handle_close(t[i]), 0);
	}
	TEST_EQ(count_results(0), WAITERS);
	TEST_EQ(rl_futex_wake(&wake_word, 100), 0);
}

#define MUTEX_THREADS	4
#define MUTEX_ITERS	10000

static rl_mutex_t counter_lock = RL_MUTEX_INIT;
static volatile uint64_t counter;

static void mutex_worker(void *arg)
{
	for (int i = 0; i < MUTEX_ITERS; i++) {
		rl_mutex_lock(&counter_lock);
		/* A read-modify-write with a window: lost updates would show
		 * without the lock. */
		uint64_t v = counter;

		if ((i & 63) == 0)
			rl_yield();
		counter = v + 1;
		rl_mutex_unlock(&counter_lock);
	}
}

DEFINE_TEST(contended_mutex)
{
	int64_t t[MUTEX_THREADS];
	uint64_t t0 = rl_clock_ns();

	counter = 0;
	for (int i = 0; i < MUTEX_THREADS; i++) {
		t[i] = rl_thread_spawn(mutex_worker, NULL);
		TEST_ASSERT(t[i] > 0);
	}
	for (int i = 0; i < MUTEX_THREADS; i++) {
		TEST_EQ(rl_thread_join((rl_handle_t)t[i]), 0);
		TEST_EQ(rl_handle_close(t[i]), 0);
	}
	TEST_EQ(counter, MUTEX_THREADS * MUTEX_ITERS);
	TEST_EQ(counter_lock.v, 0);
	rl_printf("process: contended mutex, %d increments in %lu ms\n",
		  MUTEX_THREADS * MUTEX_ITERS, (unsigned long)((rl_clock_ns() - t0) / MS));
}

/* ---- handles --------------------------------------------------------------------------- */

#define MEM_RIGHTS (RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_EXEC | RL_RIGHT_DUP | \
		    RL_RIGHT_TRANSFER | RL_RIGHT_DERIVE)

DEFINE_TEST(handle_errors_and_info)
{
	struct rl_handle_info hi, hj;
	struct rl_queue q;
	int64_t mo, d, d2, ph, given;

	mo = rl_memobj_create(3 * PAGE - 100, 0);
	TEST_ASSERT(mo > 0);
	memset(&hi, 0xff, sizeof(hi));
	TEST_EQ(rl_handle_info(mo, &hi), 0);
	TEST_EQ(hi.type, RL_OBJ_MEMORY);
	TEST_EQ(hi.rights, MEM_RIGHTS);
	TEST_EQ(hi.size, 3 * PAGE);
	TEST_EQ(hi.reserved, 0);
	TEST_ASSERT(hi.id != 0);

	/* Duplicates: same object, fewer rights, never more. */
	d = rl_handle_dup(mo, RL_RIGHT_READ | RL_RIGHT_DUP);
	TEST_ASSERT(d > 0);
	TEST_ASSERT(d != mo);
	TEST_EQ(rl_handle_info(d, &hj), 0);
	TEST_EQ(hj.type, RL_OBJ_MEMORY);
	TEST_EQ(hj.rights, RL_RIGHT_READ | RL_RIGHT_DUP);
	TEST_EQ(hj.id, hi.id);
	TEST_EQ(rl_handle_dup(d, RL_RIGHT_READ | RL_RIGHT_WRITE), -RILL_EPERM);
	TEST_EQ(rl_handle_dup(d, RL_RIGHTS_ALL), -RILL_EPERM);
	TEST_EQ(rl_handle_dup(d, 0x800), -RILL_EPERM);	/* not a right at all */
	d2 = rl_handle_dup(d, RL_RIGHT_READ);
	TEST_ASSERT(d2 > 0);
	TEST_EQ(rl_handle_dup(d2, RL_RIGHT_READ), -RILL_EPERM);	/* no DUP right */
	TEST_EQ(rl_handle_info(d2, &hj), 0);
	TEST_EQ(hj.rights, RL_RIGHT_READ);
	TEST_EQ(rl_handle_close(d2), 0);

	/* Close twice; a closed handle is gone for every call. */
	TEST_EQ(rl_handle_close(d), 0);
	TEST_EQ(rl_handle_close(d), -RILL_EBADF);
	TEST_EQ(rl_handle_info(d, &hj), -RILL_EBADF);
	TEST_EQ(rl_handle_dup(d, 0), -RILL_EBADF);
	/* The object lives on through mo. */
	TEST_EQ(rl_handle_info(mo, &hj), 0);
	TEST_EQ(hj.id, hi.id);
	/* Values that are no handle. */
	TEST_EQ(rl_handle_close(0), -RILL_EBADF);
	TEST_EQ(rl_handle_close(-1), -RILL_EBADF);
	TEST_EQ(rl_raw_handle_close(0x100000000ull), -RILL_EBADF);
	TEST_EQ(rl_handle_close(RL_SELF_PROCESS), -RILL_EBADF);
	TEST_EQ(rl_handle_close(RL_SELF_THREAD), -RILL_EBADF);
	TEST_EQ(rl_handle_info(0x7654321, &hj), -RILL_EBADF);
	TEST_EQ(rl_handle_info(mo, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_handle_info(mo, KERNEL_PTR), -RILL_EFAULT);

	/* The pseudo-handles and the other object types. */
	TEST_EQ(rl_handle_info(RL_SELF_PROCESS, &hj), 0);
	TEST_EQ(hj.type, RL_OBJ_PROCESS);
	TEST_EQ(hj.rights, RL_RIGHTS_ALL);
	TEST_EQ(hj.size, 0);
	{
		struct rl_handle_info hs;

		TEST_EQ(rl_handle_info(rl_startup_info->self_process, &hs), 0);
		TEST_EQ(hs.type, RL_OBJ_PROCESS);
		TEST_EQ(hs.id, hj.id);		/* the same process */
	}
	TEST_EQ(rl_handle_info(RL_SELF_THREAD, &hj), 0);
	TEST_EQ(hj.type, RL_OBJ_THREAD);
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	TEST_EQ(rl_handle_info(q.handle, &hj), 0);
	TEST_EQ(hj.type, RL_OBJ_QUEUE);
	TEST_ASSERT(hj.rights & RL_RIGHT_SUBMIT);

	/* Giving handles to another process. */
	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(ph > 0);
	TEST_EQ(rl_handle_info(ph, &hj), 0);
	TEST_EQ(hj.type, RL_OBJ_PROCESS);
	TEST_EQ(hj.rights, RL_RIGHTS_ALL);
	TEST_EQ(rl_process_give(ph, q.handle, RL_RIGHT_SUBMIT), -RILL_EBADFD);
	TEST_EQ(rl_process_give(ph, mo, RL_RIGHTS_ALL), -RILL_EPERM);
	TEST_EQ(rl_process_give(ph, 0x4242, 0), -RILL_EBADF);
	TEST_EQ(rl_process_give(mo, mo, RL_RIGHT_READ), -RILL_EBADFD);
	given = rl_process_give(ph, mo, RL_RIGHT_READ);
	TEST_ASSERT(given > 0);
	d = rl_handle_dup(mo, RL_RIGHT_READ | RL_RIGHT_DUP);	/* no TRANSFER */
	TEST_ASSERT(d > 0);
	TEST_EQ(rl_process_give(ph, d, RL_RIGHT_READ), -RILL_EPERM);
	TEST_EQ(rl_handle_close(d), 0);
	{
		int64_t weak = rl_handle_dup(ph, RL_RIGHT_WAIT | RL_RIGHT_DUP);

		TEST_ASSERT(weak > 0);
		TEST_EQ(rl_process_give(weak, mo, RL_RIGHT_READ), -RILL_EPERM);
		TEST_EQ(rl_handle_close(weak), 0);
	}
	TEST_EQ(rl_handle_close(ph), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_info(mo, &hj), -RILL_EBADF);
}

/* Handles given to a process are released with it; so are handle-table
 * slots used and freed. */
static void handle_churn(void)
{
	int64_t mo, ph;

	mo = rl_memobj_create(PAGE, 0);
	TEST_ASSERT(mo > 0);
	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(ph > 0);
	for (int i = 0; i < 100; i++)
		TEST_ASSERT(rl_process_give(ph, mo, RL_RIGHT_READ) > 0);
	TEST_ASSERT(rl_process_give(ph, ph, RL_RIGHT_WAIT) > 0);	/* itself: a cycle */
	for (int i = 0; i < 1000; i++) {
		int64_t d = rl_handle_dup(mo, RL_RIGHT_READ);

		TEST_ASSERT(d > 0);
		TEST_EQ(rl_handle_close(d), 0);
	}
	/* The kill ends it and releases its table, breaking the cycle. */
	TEST_EQ(rl_process_kill(ph, 0), 0);
	TEST_EQ(rl_handle_close(ph), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(handles_leak_nothing)
{
	struct rl_kcounters c0;

	warm_up();
	/* Once first: the kernel heap keeps an empty slab per size class,
	 * which the child's grown handle table may leave behind the first
	 * time. That is a cache, not a leak; the second round must return
	 * everything. */
	handle_churn();
	kc_settle(&c0);
	handle_churn();
	kc_expect_back(&c0);
}

/* A thread spinning in user mode must not starve a thread of the same
 * priority that wakes from a sleep (at -smp 1 they share the CPU). The
 * spinner gives up after 5 s; the sleeper must have woken before that. */
static volatile int sleeper_woke;
static volatile int spinner_gave_up;

static void spin_until_woken(void *arg)
{
	uint64_t end = rl_clock_ns() + 5000000000ull;

	while (!sleeper_woke && rl_clock_ns() < end)
		;
	spinner_gave_up = !sleeper_woke;
}

DEFINE_TEST(sleeper_not_starved_by_spinner)
{
	uint32_t word = 0;
	int64_t t;

	sleeper_woke = 0;
	spinner_gave_up = 0;
	t = rl_thread_spawn(spin_until_woken, NULL);
	TEST_ASSERT(t > 0);
	TEST_EQ(rl_futex_wait(&word, 0, rl_clock_ns() + 30000000ull), -RILL_ETIMEDOUT);
	sleeper_woke = 1;
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(spinner_gave_up, 0);
}

/* ---- processes nobody can reach ------------------------------------------------------ */

/* A process that never ran a thread and holds the only handles to itself
 * (and to a thread of its own, never started) can never do anything: once
 * the last handle from outside is closed it ends and everything goes. */
DEFINE_TEST(unreachable_process_freed)
{
	struct rl_kcounters c0;
	int64_t ph, th;

	kc_settle(&c0);
	ph = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(ph > 0);
	th = rl_thread_create(ph, CHILD_CODE, 0, 0, 0);
	TEST_ASSERT(th > 0);
	TEST_ASSERT(rl_process_give(ph, ph, RL_RIGHTS_ALL) > 0);
	TEST_ASSERT(rl_process_give(ph, th, RL_RIGHTS_ALL) > 0);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(rl_handle_close(ph), 0);
	kc_expect_back(&c0);
}

/* A chain of processes, each holding the only handle to the next: closing
 * the first ends them all, one after the other (a recursive teardown
 * would overflow the kernel stack long before the end of the chain). */
#define CHAIN	600

DEFINE_TEST(process_chain_freed)
{
	struct rl_kcounters c0;
	int64_t head, next;

	kc_settle(&c0);
	head = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(head > 0);
	next = head;
	for (int i = 1; i < CHAIN; i++) {
		int64_t p = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);

		TEST_ASSERT(p > 0);
		TEST_ASSERT(rl_process_give(next, p, RL_RIGHTS_ALL) > 0);
		if (next != head)
			TEST_EQ(rl_handle_close(next), 0);
		next = p;
	}
	TEST_EQ(rl_handle_close(next), 0);
	TEST_EQ(rl_handle_close(head), 0);
	/* (600 processes freed: the heap may keep a slab page more.) */
	rl_test_counters_expect_back_but_slabs(&c0);
}

/* A closed handle's value names nothing until its slot has been reused
 * many times: at least 2,100 reuses here (the old 11-bit generation gave
 * the value back after 2,048). */
DEFINE_TEST(stale_handle_value_not_reused)
{
	int64_t h0 = rl_handle_dup(RL_SELF_PROCESS, RL_RIGHT_WAIT), v;
	struct rl_handle_info hi;
	unsigned reuses = 0;
	uint64_t n = 0;

	TEST_ASSERT(h0 > 0);
	TEST_EQ(rl_handle_close(h0), 0);
	while (reuses < 2100) {
		v = rl_handle_dup(RL_SELF_PROCESS, RL_RIGHT_WAIT);
		TEST_ASSERT(v > 0);
		n++;
		if ((v & 0xffff) == (h0 & 0xffff))
			reuses++;
		if (v == h0)
			rl_test_fail(__FILE__, __LINE__, "value %#lx back after %u reuses of its slot",
				     (unsigned long)v, reuses);
		TEST_EQ(rl_handle_close(v), 0);
	}
	TEST_EQ(rl_handle_info(h0, &hi), -RILL_EBADF);
	rl_printf("process: %u reuses of a slot (%lu handles made) without its old value\n",
		  reuses, (unsigned long)n);
}

/* ---- futexes keyed by memory object (bin/futex-peer) ------------------------------- */

/* The second page of the object shared with bin/futex-peer (its layout). */
struct futex_shared {
	uint32_t word, back, state, pad;
	uint64_t peer_addr, w1_addr, w2_addr;
};

/* Spawn bin/futex-peer mode with the two-page object mo mapped at *a
 * here; waits until it has reported. Returns its process handle. */
static int64_t peer_start(const char *mode, int64_t *mo, uint64_t *a, struct futex_shared **s)
{
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "futex-peer", mode };
	uint64_t until = rl_clock_ns() + 10000 * MS;
	int64_t p;

	*mo = rl_memobj_create(2 * PAGE, 0);
	TEST_ASSERT(*mo > 0);
	*a = (uint64_t)rl_map(RL_SELF_PROCESS, (rl_handle_t)*mo, 0, 0, 2 * PAGE,
			      RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT((int64_t)*a > 0);
	*s = (struct futex_shared *)(*a + PAGE);
	opts.handles = (const struct rl_spawn_handle[]){ { "shared", (rl_handle_t)*mo, 0 } };
	opts.nhandles = 1;
	p = rl_spawn_file("bin/futex-peer", 2, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	while (!__atomic_load_n(&(*s)->state, __ATOMIC_SEQ_CST)) {
		TEST_ASSERT(rl_clock_ns() < until);
		rl_futex_wait(&(*s)->state, 0, rl_clock_ns() + 100 * MS);
	}
	return p;
}

static void peer_end(int64_t p, int64_t mo, uint64_t a)
{
	TEST_EQ(rl_process_wait((rl_handle_t)p), 0);
	TEST_EQ(rl_handle_close(p), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, 2 * PAGE), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

/* Call wake (returning how many it woke) until it wakes one: proof that
 * the waiter was queued on that key. Returns how many calls it took. */
#define WAKE_UNTIL_ONE(call) ({						\
	uint64_t _until = rl_clock_ns() + 10000 * MS, _n = 1;		\
	int64_t _r;							\
	while ((_r = (call)) == 0) {					\
		TEST_ASSERT(rl_clock_ns() < _until);			\
		sleep_ms(1);						\
		_n++;							\
	}								\
	TEST_EQ(_r, 1);							\
	_n;								\
})

static void nothing(void *arg)
{
	(void)arg;
}

static void futex_warm_up(void)
{
	size_t len;
	int64_t t;

	/* The initrd is mapped here on first use, and the first thread
	 * leaves the runtime's queue and stack behind: before the counters. */
	TEST_ASSERT(rl_initrd_file("bin/futex-peer", &len) != NULL);
	warm_up();
	/* The page tables under the first free addresses, where the tests'
	 * own small mappings land (unmapping keeps tables, and where that
	 * is moves as the initrd mapped before it grows): 1 MiB touched. */
	{
		int64_t mo = rl_memobj_create(256 * PAGE, 0), a;

		TEST_ASSERT(mo > 0);
		a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 256 * PAGE,
			   RL_PROT_READ | RL_PROT_WRITE);
		TEST_ASSERT(a > 0);
		for (uint64_t i = 0; i < 256; i++)
			((volatile char *)a)[i * PAGE] = 1;
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 256 * PAGE), 0);
		TEST_EQ(rl_handle_close(mo), 0);
	}
	t = rl_thread_spawn(nothing, NULL);
	TEST_ASSERT(t > 0);
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
}

DEFINE_TEST(futex_shared_object_across_processes)
{
	struct rl_kcounters c0;
	struct futex_shared *s;
	int64_t mo, p, m2;
	uint64_t a, n, peer;

	futex_warm_up();
	kc_settle(&c0);
	p = peer_start("shared", &mo, &a, &s);
	/* The same word, at another address and another offset into each
	 * process's mapping. */
	peer = s->peer_addr;
	TEST_ASSERT(peer != 0 && peer != (uint64_t)s);
	/* Another mapping of the object going, here, while the peer waits:
	 * its wait goes on (it would exit 3 if woken). */
	m2 = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 2 * PAGE, RL_PROT_READ);
	TEST_ASSERT(m2 > 0);
	sleep_ms(100);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)m2, 2 * PAGE), 0);
	/* Woken from here, through our mapping: the peer waits on its own. */
	n = WAKE_UNTIL_ONE(rl_futex_wake(&s->word, 10));
	/* And the other way: the peer wakes us through its mapping. */
	TEST_EQ(rl_futex_wait(&s->back, 0, rl_clock_ns() + 30000 * MS), 0);
	peer_end(p, mo, a);
	kc_expect_back(&c0);
	rl_printf("futex: peer at %#lx, us at %#lx; woken after %lu wake calls\n",
		  (unsigned long)peer, (unsigned long)(a + PAGE), (unsigned long)n);
}

/* Words of the peer's own memory, nothing shared: only a holder of its
 * handle with MANAGE can wake them. */
static void wake_in_other_round(void)
{
	struct futex_shared *s;
	int64_t mo, p, weak, r;
	uint64_t a;

	p = peer_start("private", &mo, &a, &s);
	weak = rl_handle_dup(p, RL_RIGHT_WAIT);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_futex_wake_in(weak, s->w1_addr, 1), -RILL_EPERM);
	TEST_EQ(rl_futex_store_wake(weak, s->w2_addr, 7, 1), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_futex_wake_in(p, s->w1_addr, 0), 0);
	/* Our word at that address is another futex (if mapped at all). */
	TEST_EQ(rl_futex_wake(&s->word, 10), 0);
	WAKE_UNTIL_ONE(rl_futex_wake_in(p, s->w1_addr, 10));
	/* The store of an unchanged value, and a wake: the peer was queued. */
	WAKE_UNTIL_ONE(rl_futex_store_wake(p, s->w2_addr, 0, 10));
	/* Then the value it waits for: stored whether or not it waits yet. */
	r = rl_futex_store_wake(p, s->w2_addr, 7, 10);
	TEST_ASSERT(r == 0 || r == 1);
	peer_end(p, mo, a);
}

DEFINE_TEST(futex_wake_in_other_process)
{
	struct rl_kcounters c0;

	futex_warm_up();
	/* Once before counting: the page tables under what the first start
	 * of a peer maps here stay (where they fall moves as the initrd
	 * grows); the second round must leave nothing behind. */
	wake_in_other_round();
	sleep_ms(100);		/* its peer's stack and objects go on another CPU */
	kc_settle(&c0);
	wake_in_other_round();
	kc_expect_back(&c0);
}

DEFINE_TEST(futex_wake_in_errors)
{
	struct rl_kcounters c0;
	static uint32_t word = 3;
	int64_t mo, p, th;
	uint64_t a;

	futex_warm_up();
	kc_settle(&c0);
	/* Handles: none, out of range, not a process, no MANAGE. */
	TEST_EQ(rl_futex_wake_in(12345, (uint64_t)&word, 1), -RILL_EBADF);
	TEST_EQ(rl_raw_futex_wake_in(1ull << 32, (uint64_t)&word, 1), -RILL_EBADF);
	TEST_EQ(rl_futex_store_wake(12345, (uint64_t)&word, 3, 1), -RILL_EBADF);
	mo = rl_memobj_create(PAGE, 0);
	TEST_ASSERT(mo > 0);
	TEST_EQ(rl_futex_wake_in(mo, (uint64_t)&word, 1), -RILL_EBADFD);
	TEST_EQ(rl_futex_store_wake(mo, (uint64_t)&word, 3, 1), -RILL_EBADFD);
	TEST_EQ(rl_futex_wake_in(RL_SELF_THREAD, (uint64_t)&word, 1), -RILL_EBADFD);
	/* Addresses, in our own process: misaligned, kernel, unmapped. */
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, (uint64_t)&word, 1), 0);
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, (uint64_t)&word + 2, 1), -RILL_EINVAL);
	TEST_EQ(rl_futex_store_wake(RL_SELF_PROCESS, (uint64_t)&word + 1, 3, 1), -RILL_EINVAL);
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, KERNEL_PTR, 1), -RILL_EFAULT);
	TEST_EQ(rl_futex_store_wake(RL_SELF_PROCESS, KERNEL_PTR, 3, 1), -RILL_EFAULT);
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, 0, 1), -RILL_EFAULT);
	TEST_EQ(rl_futex_store_wake(RL_SELF_PROCESS, 0, 3, 1), -RILL_EFAULT);
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, RL_USER_TOP, 1), -RILL_EFAULT);
	/* A value wider than the word. */
	TEST_EQ(rl_futex_store_wake(RL_SELF_PROCESS, (uint64_t)&word, 1ull << 32, 1), -RILL_EINVAL);
	TEST_EQ(rl_futex_store_wake(RL_SELF_PROCESS, (uint64_t)&word, 9, 1), 0);
	TEST_EQ(word, 9);
	/* Read-only memory: wakes, but no store. */
	a = (uint64_t)rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, PAGE, RL_PROT_READ);
	TEST_ASSERT((int64_t)a > 0);
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, a, 1), 0);
	TEST_EQ(rl_futex_store_wake(RL_SELF_PROCESS, a, 3, 1), -RILL_EFAULT);
	TEST_EQ(*(volatile uint32_t *)a, 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, a, PAGE), 0);
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, a, 1), -RILL_EFAULT);
	TEST_EQ(rl_raw_futex_wake(a, 1), -RILL_EFAULT);
	/* A process with no mapping there, then one that has ended. */
	code_setup();
	p = child_new(ENTRY(blob_exit), 0, 1, true, &th);
	TEST_ASSERT(p > 0);
	TEST_EQ(rl_futex_wake_in(p, (uint64_t)&word, 1), -RILL_EFAULT);
	TEST_EQ(rl_process_wait((rl_handle_t)p), 0);
	TEST_EQ(rl_futex_wake_in(p, CHILD_CODE, 1), -RILL_EFAULT);
	TEST_EQ(rl_futex_store_wake(p, CHILD_CODE, 3, 1), -RILL_EFAULT);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(rl_handle_close(p), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	kc_expect_back(&c0);
}

static volatile uint32_t *obj_word;
static volatile int64_t obj_result;
static volatile uint32_t obj_arrived;

static void obj_waiter(void *arg)
{
	(void)arg;
	__atomic_store_n(&obj_arrived, 1, __ATOMIC_SEQ_CST);
	obj_result = rl_futex_wait(obj_word, 0, rl_clock_ns() + 30000 * MS);
}

/* Start obj_waiter on w and let it block. */
static int64_t obj_wait_start(volatile uint32_t *w)
{
	uint64_t until = rl_clock_ns() + 5000 * MS;
	int64_t t;

	obj_word = w;
	obj_result = 1;
	obj_arrived = 0;
	t = rl_thread_spawn(obj_waiter, NULL);
	TEST_ASSERT(t > 0);
	while (!obj_arrived) {
		TEST_ASSERT(rl_clock_ns() < until);
		sleep_ms(1);
	}
	sleep_ms(100);		/* let it block */
	return t;
}

static void obj_wait_end(int64_t t, int64_t want)
{
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(obj_result, want);
}

DEFINE_TEST(futex_snapshot_is_another_futex)
{
	struct rl_kcounters c0;
	volatile uint32_t *a, *b;
	int64_t A, B, t;

	futex_warm_up();
	kc_settle(&c0);
	A = rl_memobj_create(PAGE, 0);
	TEST_ASSERT(A > 0);
	a = (volatile uint32_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)A, 0, 0, PAGE,
					RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT((int64_t)a > 0);
	a[1] = 1;
	/* A waiter in the source; the snapshot is made while it waits. */
	t = obj_wait_start(&a[0]);
	B = rl_memobj_cow(A);
	TEST_ASSERT(B > 0);
	b = (volatile uint32_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)B, 0, 0, PAGE,
					RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT((int64_t)b > 0);
	/* The source's page is replaced by its copy (copy-on-write break):
	 * the key is the object, not the page. */
	a[1] = 2;
	b[0] = 1;			/* a write in the snapshot */
	TEST_EQ(rl_futex_wake(&b[0], 10), 0);
	TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, (uint64_t)&b[0], 10), 0);
	TEST_EQ(rl_futex_store_wake(RL_SELF_PROCESS, (uint64_t)&b[0], 2, 10), 0);
	TEST_EQ(obj_result, 1);		/* still waiting */
	TEST_EQ(rl_futex_wake(&a[0], 10), 1);
	obj_wait_end(t, 0);
	TEST_EQ(a[0], 0);
	/* The other way: a waiter in the snapshot, woken only through it. */
	b[0] = 0;
	t = obj_wait_start(&b[0]);
	TEST_EQ(rl_futex_wake(&a[0], 10), 0);
	TEST_EQ(obj_result, 1);
	TEST_EQ(rl_futex_wake(&b[0], 10), 1);
	obj_wait_end(t, 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, PAGE), 0);
	TEST_EQ(rl_handle_close(A), 0);
	TEST_EQ(rl_handle_close(B), 0);
	kc_expect_back(&c0);
}

DEFINE_TEST(futex_two_mappings_one_word)
{
	struct rl_kcounters c0;
	volatile uint32_t *a, *b;
	int64_t A, t;

	futex_warm_up();
	kc_settle(&c0);
	A = rl_memobj_create(4 * PAGE, 0);
	TEST_ASSERT(A > 0);
	a = (volatile uint32_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)A, 0, 0, 4 * PAGE,
					RL_PROT_READ | RL_PROT_WRITE);
	b = (volatile uint32_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)A, 2 * PAGE, 0, PAGE,
					RL_PROT_READ);
	TEST_ASSERT((int64_t)a > 0 && (int64_t)b > 0);
	/* Waiting on a page never touched: it reads as 0 and is not made. */
	t = obj_wait_start(&b[5]);
	/* Our handle closed while it waits: the mappings and the waiter
	 * keep the object. */
	TEST_EQ(rl_handle_close(A), 0);
	TEST_EQ(rl_futex_wake(&a[2 * PAGE / 4 + 6], 10), 0);	/* next word */
	TEST_EQ(rl_futex_wake(&a[2 * PAGE / 4 + 5], 10), 1);
	obj_wait_end(t, 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 4 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, PAGE), 0);
	kc_expect_back(&c0);
}

DEFINE_TEST(futex_waiter_woken_by_unmap)
{
	struct rl_kcounters c0;
	volatile uint32_t *a, *b;
	int64_t A, t;

	futex_warm_up();
	kc_settle(&c0);
	A = rl_memobj_create(2 * PAGE, 0);
	TEST_ASSERT(A > 0);
	a = (volatile uint32_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)A, 0, 0, 2 * PAGE,
					RL_PROT_READ | RL_PROT_WRITE);
	b = (volatile uint32_t *)rl_map(RL_SELF_PROCESS, (rl_handle_t)A, 0, 0, 2 * PAGE,
					RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT((int64_t)a > 0 && (int64_t)b > 0);
	TEST_EQ(rl_handle_close(A), 0);
	/* Unmapping the other mapping of the object, or another page of
	 * this one, leaves the waiter be. */
	t = obj_wait_start(&a[PAGE / 4]);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, 2 * PAGE), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, PAGE), 0);
	sleep_ms(20);
	TEST_EQ(obj_result, 1);
	/* Its own page: it wakes with -EFAULT, the object's last reference
	 * goes with it. */
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a + PAGE, PAGE), 0);
	obj_wait_end(t, -RILL_EFAULT);
	TEST_EQ(rl_futex_wake(&a[PAGE / 4], 1), -RILL_EFAULT);
	TEST_EQ(rl_futex_wait(&a[PAGE / 4], 0, 0), -RILL_EFAULT);
	kc_expect_back(&c0);
}

/* What the calls cost (no waiter): the key is looked up in the areas on
 * every call. Printed, not checked: TCG wall time. */
DEFINE_TEST(futex_call_costs)
{
	static uint32_t word = 1;
	const int n = 20000;
	uint64_t t0, t1, t2, t3;

	t0 = rl_clock_ns();
	for (int i = 0; i < n; i++)
		TEST_EQ(rl_futex_wake(&word, 1), 0);
	t1 = rl_clock_ns();
	for (int i = 0; i < n; i++)
		TEST_EQ(rl_futex_wait(&word, 0, 0), -RILL_EAGAIN);
	t2 = rl_clock_ns();
	for (int i = 0; i < n; i++)
		TEST_EQ(rl_futex_wake_in(RL_SELF_PROCESS, (uint64_t)&word, 1), 0);
	t3 = rl_clock_ns();
	rl_printf("futex: ns per call (TCG): wake %lu, wait (EAGAIN) %lu, wake_in %lu\n",
		  (unsigned long)((t1 - t0) / n), (unsigned long)((t2 - t1) / n),
		  (unsigned long)((t3 - t2) / n));
}
