/*
 * In-OS tests of supervision: a thread created RL_THREAD_SUPERVISED stops
 * on foreign system calls, unresolvable faults and exit; its supervisor
 * sees each stop through RL_OP_OBSERVE, reads and writes its registers
 * with thread_regs and lets it go on with thread_resume. The POSIX server
 * is built on exactly this loop.
 *
 * Every supervised thread here lives in this process (RL_SELF_PROCESS).
 * A thread left stopped (a failed assertion leaves its test early) would
 * keep the process alive after main returns, so a watchdog thread waits
 * for the main thread's end and then kills the process with its status.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define STACK_SIZE	(64 * 1024)
#define WAIT_NS		(20ull * 1000000000ull)	/* "never happened" */
#define NO_CQE		(-100000)		/* wait_cqe: nothing arrived */

/* ---- helpers ----------------------------------------------------------- */

static struct rl_queue watchdog_q;

/* Wait for the main thread to end, then end the process with its status,
 * killing any thread a failed test left stopped or running. */
static void watchdog(void *arg)
{
	struct rl_sqe *e = rl_get_sqe(&watchdog_q);
	struct rl_cqe *c;

	(void)arg;
	e->opcode = RL_OP_THREAD_WAIT;
	e->handle = rl_startup_info->self_thread;
	rl_submit(&watchdog_q);
	while (!(c = rl_peek_cqe(&watchdog_q)))
		rl_submit_and_wait(&watchdog_q, 1, 0);
	rl_process_kill(RL_SELF_PROCESS, c->result);
}

static void start_watchdog(void)
{
	static bool started;
	int64_t t;

	if (started)
		return;
	if (rl_queue_init(&watchdog_q, 2, 4))
		rl_test_fail(__FILE__, __LINE__, "no queue for the watchdog");
	t = rl_thread_spawn(watchdog, NULL);
	if (t < 0)
		rl_test_fail(__FILE__, __LINE__, "no watchdog thread (%ld)", (long)t);
	rl_handle_close(t);
	started = true;
}

/* A thread of this process starting at fn(arg) on a fresh stack, as if
 * fn had been called: rsp = 16-byte aligned - 8. Not started. */
static int64_t make_thread(void (*fn)(void *), void *arg, uint64_t flags, uint64_t *sp_out)
{
	char *stack;
	uint64_t sp;

	start_watchdog();
	stack = rl_alloc_pages(STACK_SIZE);
	if (!stack)
		return -RILL_ENOMEM;
	sp = (((uint64_t)stack + STACK_SIZE) & ~15ull) - 8;
	if (sp_out)
		*sp_out = sp;
	return rl_thread_create(RL_SELF_PROCESS, (uint64_t)fn, sp, (uint64_t)arg, flags);
}

static void forget_thread(rl_handle_t h)
{
	rl_handle_close(h);
}

/* The next completion, waiting up to WAIT_NS; 0, or NO_CQE. */
static int64_t wait_cqe(struct rl_queue *q, struct rl_cqe *out)
{
	uint64_t deadline = rl_clock_ns() + WAIT_NS;
	struct rl_cqe *c;

	while (!(c = rl_peek_cqe(q))) {
		int64_t r = rl_submit_and_wait(q, 1, deadline);

		if (r < 0 && r != -RILL_EINTR && !rl_peek_cqe(q))
			return NO_CQE;
	}
	*out = *c;
	rl_cqe_done(q);
	return 0;
}

static void queue_op(struct rl_queue *q, uint16_t opcode, rl_handle_t h, uint64_t ud)
{
	struct rl_sqe *e = rl_get_sqe(q);

	if (!e)
		rl_test_fail(__FILE__, __LINE__, "submission ring full");
	e->opcode = opcode;
	e->handle = h;
	e->user_data = ud;
}

/* Submit one op and wait for its completion: its result, or NO_CQE. */
static int64_t do_op(struct rl_queue *q, uint16_t opcode, rl_handle_t h, struct rl_cqe *out)
{
	static uint64_t ud = 1000;
	int64_t r;

	queue_op(q, opcode, h, ++ud);
	r = rl_submit(q);
	if (r != 1)
		return r < 0 ? r : NO_CQE;
	r = wait_cqe(q, out);
	if (r)
		return r;
	if (out->user_data != ud)
		rl_test_fail(__FILE__, __LINE__, "completion for %lu, expected %lu",
			     (unsigned long)out->user_data, (unsigned long)ud);
	return out->result;
}

static int64_t observe(struct rl_queue *q, rl_handle_t h, struct rl_cqe *out)
{
	return do_op(q, RL_OP_OBSERVE, h, out);
}

static int64_t thread_wait(struct rl_queue *q, rl_handle_t h)
{
	struct rl_cqe c;

	return do_op(q, RL_OP_THREAD_WAIT, h, &c);
}

/* A foreign (Linux-numbered) system call with six arguments. */
static inline int64_t foreign6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
			       uint64_t a3, uint64_t a4, uint64_t a5)
{
	register uint64_t r10 __asm__("r10") = a3;
	register uint64_t r8 __asm__("r8") = a4;
	register uint64_t r9 __asm__("r9") = a5;
	int64_t ret;

	__asm__ volatile("syscall"
			 : "=a"(ret), "+r"(r10), "+r"(r8), "+r"(r9)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Spin (yielding) until *flag is set, at most WAIT_NS. */
static bool wait_flag(volatile uint32_t *flag)
{
	uint64_t deadline = rl_clock_ns() + WAIT_NS;

	while (!*flag) {
		if (rl_clock_ns() > deadline)
			return false;
		rl_yield();
	}
	return true;
}

/* ---- the first user context of a thread ------------------------------------ */

/* Entered straight from thread_create: makes a foreign call at once, so
 * the supervisor sees the registers the kernel started it with; exits
 * with whatever the supervisor put in rax. */
void probe_entry(void *arg);
__asm__(".text\n"
	".global probe_entry\n"
	"probe_entry:\n"
	"	movl $39, %eax\n"
	"	syscall\n"
	"	movq %rax, %rdi\n"
	"	movl $0x20000010, %eax\n"	/* RL_SYS_thread_exit */
	"	syscall\n"
	"	ud2\n");

_Static_assert(RL_SYS_thread_exit == 0x20000010, "probe_entry's exit number");

DEFINE_TEST(entry_state)
{
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;
	uint64_t sp;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(probe_entry, (void *)0x1234567890ull, RL_THREAD_SUPERVISED, &sp);
	TEST_ASSERT(h > 0);
	TEST_EQ(sp & 15, 8);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(c.aux[1], 0);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
	TEST_EQ(regs.rax, 39);
	TEST_EQ(regs.rdi, 0x1234567890ull);
	TEST_EQ(regs.rsp, sp);
	TEST_EQ(regs.rip, (uint64_t)probe_entry + 7);	/* movl imm32 (5) + syscall (2) */
	TEST_EQ(regs.rcx, regs.rip);			/* syscall's own return address */
	TEST_ASSERT(regs.rflags & 0x200);		/* IF */
	/* Every other register starts at zero. */
	TEST_EQ(regs.rbx | regs.rdx | regs.rsi | regs.rbp | regs.r8 | regs.r9 | regs.r10 |
		regs.r12 | regs.r13 | regs.r14 | regs.r15, 0);
	TEST_EQ(regs.fs_base | regs.gs_base, 0);
	regs.rax = 5555;
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 5555);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 5555);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- the foreign-call round trip ---------------------------------------------- */

#define ROUNDS	1000

struct loop_arg {
	uint64_t rounds;
	uint64_t bad;		/* replies that were not 1234 + i */
	uint64_t done;
};

static void __attribute__((noreturn)) loop_entry(void *p)
{
	struct loop_arg *a = p;
	uint64_t bad = 0;

	for (uint64_t i = 0; i < a->rounds; i++)
		if (foreign6(39, 11 + i, 22, 33, 44, 55, 66) != (int64_t)(1234 + i))
			bad++;
	a->bad = bad;
	a->done = a->rounds;
	rl_thread_exit(bad ? 100 : 0);
	__builtin_unreachable();
}

DEFINE_TEST(syscall_roundtrip)
{
	static struct loop_arg a = { .rounds = ROUNDS };
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;
	uint64_t t0, ns;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	t0 = rl_clock_ns();
	for (uint64_t i = 0; i < ROUNDS; i++) {
		TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
		TEST_EQ(c.aux[0], 39);
		TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
		TEST_EQ(regs.rax, 39);
		TEST_EQ(regs.rdi, 11 + i);
		TEST_EQ(regs.rsi, 22);
		TEST_EQ(regs.rdx, 33);
		TEST_EQ(regs.r10, 44);
		TEST_EQ(regs.r8, 55);
		TEST_EQ(regs.r9, 66);
		regs.rax = 1234 + i;
		TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), 0);
		TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	}
	ns = rl_clock_ns() - t0;
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 0);
	TEST_EQ(a.done, ROUNDS);
	TEST_EQ(a.bad, 0);
	rl_printf("observe: %d foreign-call round trips in %lu us: %lu per second\n", ROUNDS,
		  (unsigned long)(ns / 1000),
		  (unsigned long)(ns ? (uint64_t)ROUNDS * 1000000000ull / ns : 0));
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- faults ----------------------------------------------------------------------- */

static void __attribute__((noreturn)) recovered(uint64_t status)
{
	rl_thread_exit(status);
	__builtin_unreachable();
}

static volatile uintptr_t fault_addr = 0x10;	/* hidden from the compiler */

static void __attribute__((noreturn)) fault_entry(void *p)
{
	(void)p;
	(void)*(volatile uint64_t *)fault_addr;
	rl_thread_exit(1);	/* not reached: the supervisor moves rip */
	__builtin_unreachable();
}

DEFINE_TEST(fault_fixed_by_supervisor)
{
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(fault_entry, NULL, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_FAULT);
	TEST_EQ(c.aux[0], 0x10);
	TEST_EQ(c.aux[1] >> 32, 14);
	TEST_EQ(c.aux[1] & 0x5, 0x4);		/* user-mode read of a missing page */
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
	TEST_ASSERT(regs.rip >= (uint64_t)fault_entry && regs.rip < (uint64_t)fault_entry + 64);
	/* Make it "call" recovered(77): aligned stack minus the return address. */
	regs.rip = (uint64_t)recovered;
	regs.rdi = 77;
	regs.rsp = (regs.rsp & ~15ull) - 8;
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 77);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 77);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(fault_resume_kill)
{
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(fault_entry, NULL, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_FAULT);
	TEST_EQ(c.aux[0], 0x10);
	TEST_EQ(c.aux[1] >> 32, 14);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_KILL, 0), 0);
	/* It ends (killed: -EINTR), and the end is reported like any exit. */
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), -RILL_EINTR);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ((int64_t)c.aux[0], -RILL_EINTR);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), -RILL_ESRCH);
	/* The process (this one) lives on. */
	TEST_EQ(rl_yield(), 0);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- exit ------------------------------------------------------------------------- */

static void __attribute__((noreturn)) exit7_entry(void *p)
{
	(void)p;
	rl_thread_exit(7);
	__builtin_unreachable();
}

DEFINE_TEST(exit_report)
{
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(exit7_entry, NULL, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 7);
	TEST_EQ(c.aux[1], 0);
	/* Gone: nothing more to observe, nothing to read or resume. */
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), -RILL_ESRCH);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), -RILL_EBUSY);
	TEST_EQ(rl_thread_resume(h, 0, 0), -RILL_EBUSY);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 7);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), -RILL_ESRCH);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* An OBSERVE waiting before the thread exits gets the exit too. */
DEFINE_TEST(exit_report_pending_observer)
{
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(exit7_entry, NULL, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	queue_op(&q, RL_OP_OBSERVE, (rl_handle_t)h, 1);
	TEST_EQ(rl_submit(&q), 1);
	TEST_ASSERT(!rl_peek_cqe(&q));
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.user_data, 1);
	TEST_EQ(c.result, RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 7);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 7);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), -RILL_ESRCH);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- errors ----------------------------------------------------------------------- */

static volatile uint32_t spin_go, spin_running;

/* Runs (yielding) until spin_go, then makes one foreign call and exits
 * with its result. */
static void __attribute__((noreturn)) spin_entry(void *p)
{
	(void)p;
	spin_running = 1;
	while (!spin_go)
		rl_yield();
	rl_thread_exit(foreign6(39, 1, 2, 3, 4, 5, 6));
	__builtin_unreachable();
}

DEFINE_TEST(observe_unsupervised)
{
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(exit7_entry, NULL, 0, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), -RILL_EINVAL);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 7);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), -RILL_EINVAL);
	/* Not a thread; no such handle. */
	TEST_EQ(observe(&q, RL_SELF_PROCESS, &c), -RILL_EBADFD);
	TEST_EQ(observe(&q, q.handle, &c), -RILL_EBADFD);
	TEST_EQ(observe(&q, 0x5555, &c), -RILL_EBADF);
	TEST_EQ(observe(&q, 0, &c), -RILL_EBADF);
	/* The caller itself is not supervised. */
	TEST_EQ(observe(&q, RL_SELF_THREAD, &c), -RILL_EINVAL);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(not_stopped_is_busy)
{
	struct rl_queue q;
	struct rl_regs regs = { 0 };
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	spin_go = 0;
	spin_running = 0;
	h = make_thread(spin_entry, NULL, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	/* Created, not started. */
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), -RILL_EBUSY);
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), -RILL_EBUSY);
	TEST_EQ(rl_thread_resume(h, 0, 0), -RILL_EBUSY);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_KILL, 0), -RILL_EBUSY);
	/* Running. */
	TEST_EQ(rl_thread_start(h), 0);
	TEST_ASSERT(wait_flag(&spin_running));
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), -RILL_EBUSY);
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), -RILL_EBUSY);
	TEST_EQ(rl_thread_resume(h, 0, 0), -RILL_EBUSY);
	/* Ourselves: running, not stopped. */
	TEST_EQ(rl_thread_regs(RL_SELF_THREAD, RL_REGS_GET, &regs), -RILL_EBUSY);
	TEST_EQ(rl_thread_resume(RL_SELF_THREAD, 0, 0), -RILL_EBUSY);
	/* Stopped, then resumed: running again. */
	spin_go = 1;
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
	TEST_EQ(regs.rdi, 1);
	TEST_EQ(regs.r9, 6);
	/* Resumed without SET: rax still holds the number. */
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(rl_thread_resume(h, 0, 0), -RILL_EBUSY);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 39);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(regs_set_checks)
{
	static const uint64_t bad_addr[] = {
		0x0000800000000000ull,	/* first non-canonical */
		0x0000fffffffff000ull,
		0xffff800000000000ull,	/* kernel half */
		0xffffffff80000000ull,
		~0ull,
	};
	struct rl_queue q;
	struct rl_regs regs, now, bad;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(probe_entry, (void *)1, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
	for (unsigned i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		bad = regs;
		bad.rip = bad_addr[i];
		TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &bad), -RILL_EINVAL);
		bad = regs;
		bad.rsp = bad_addr[i];
		TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &bad), -RILL_EINVAL);
		bad = regs;
		bad.fs_base = bad_addr[i];
		TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &bad), -RILL_EINVAL);
		bad = regs;
		bad.gs_base = bad_addr[i];
		TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &bad), -RILL_EINVAL);
	}
	/* A refused SET changed nothing. */
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &now), 0);
	TEST_EQ(now.rip, regs.rip);
	TEST_EQ(now.rsp, regs.rsp);
	TEST_EQ(now.fs_base, regs.fs_base);
	/* Bad arguments. */
	TEST_EQ(rl_thread_regs(h, 2, &regs), -RILL_EINVAL);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, 0), -RILL_EFAULT);
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_regs(h, RL_REGS_GET, 0xffffffff80000000ull), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_regs(h, RL_REGS_SET, 0xffff800000000000ull), -RILL_EFAULT);
	/* The clock page is read-only: GET cannot write there, SET can read it. */
	TEST_EQ(rl_raw_thread_regs(h, RL_REGS_GET, rl_startup_info->clock_page),
		-RILL_EFAULT);
	TEST_EQ(rl_thread_resume(h, 4, 0), -RILL_EINVAL);
	/* Privileged rflags bits are not the supervisor's to set: IOPL, VM,
	 * NT stay clear and IF stays set. */
	regs.rflags = 0x3000 | 0x20000 | 0x4000 | 0x1;
	regs.rax = 21;
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), 0);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &now), 0);
	TEST_EQ(now.rflags & (0x3000 | 0x20000 | 0x4000), 0);
	TEST_EQ(now.rflags & 0x201, 0x201);
	TEST_EQ(now.rax, 21);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 21);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 21);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(observe_right_needed)
{
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;
	int64_t h, weak;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(probe_entry, (void *)3, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	weak = rl_handle_dup(h, RL_RIGHTS_ALL & ~RL_RIGHT_OBSERVE);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_thread_start(weak), 0);	/* CONTROL is enough */
	TEST_EQ(observe(&q, (rl_handle_t)weak, &c), -RILL_EPERM);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_regs(weak, RL_REGS_GET, &regs), -RILL_EPERM);
	TEST_EQ(rl_thread_regs(weak, RL_REGS_SET, &regs), -RILL_EPERM);
	TEST_EQ(rl_thread_resume(weak, 0, 0), -RILL_EPERM);
	TEST_EQ(rl_thread_resume(weak, RL_RESUME_KILL, 0), -RILL_EPERM);
	/* Still stopped, untouched. */
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
	TEST_EQ(regs.rax, 39);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)weak), 39);
	TEST_EQ(rl_handle_close(weak), 0);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(bad_observe_entries)
{
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(probe_entry, (void *)4, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_OBSERVE;
	e->handle = (rl_handle_t)h;
	e->user_data = 1;
	e->flags = 0x8000;	/* no such flag */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_OBSERVE;
	e->handle = (rl_handle_t)h;
	e->user_data = 2;
	e->reserved = 1;
	TEST_EQ(rl_submit(&q), 2);
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.user_data, 1);
	TEST_EQ(c.result, -RILL_EINVAL);
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.user_data, 2);
	TEST_EQ(c.result, -RILL_EINVAL);
	/* Neither became the observer: a proper one works. */
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 39);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(busy_then_cancel)
{
	struct rl_queue q, q2;
	struct rl_sqe *e;
	struct rl_cqe c;
	int64_t h;
	int seen_cancel = 0, seen_cancelled = 0;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	TEST_EQ(rl_queue_init(&q2, 8, 16), 0);
	h = make_thread(probe_entry, (void *)5, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	/* One observer at a time, whichever queue asks. */
	queue_op(&q, RL_OP_OBSERVE, (rl_handle_t)h, 1);
	TEST_EQ(rl_submit(&q), 1);
	TEST_ASSERT(!rl_peek_cqe(&q));
	queue_op(&q, RL_OP_OBSERVE, (rl_handle_t)h, 2);
	TEST_EQ(rl_submit(&q), 1);
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.user_data, 2);
	TEST_EQ(c.result, -RILL_EBUSY);
	TEST_EQ(observe(&q2, (rl_handle_t)h, &c), -RILL_EBUSY);
	/* Cancel the pending one by its user_data. */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_CANCEL;
	e->user_data = 3;
	e->arg[0] = 1;
	TEST_EQ(rl_submit(&q), 1);
	for (int i = 0; i < 2; i++) {
		TEST_EQ(wait_cqe(&q, &c), 0);
		if (c.user_data == 1) {
			TEST_EQ(c.result, -RILL_ECANCELED);
			seen_cancelled++;
		} else {
			TEST_EQ(c.user_data, 3);
			TEST_EQ(c.result, 1);
			seen_cancel++;
		}
	}
	TEST_EQ(seen_cancel, 1);
	TEST_EQ(seen_cancelled, 1);
	/* The slot is free again: a later OBSERVE (from the other queue) gets
	 * the next stop, and the cancelled one did not consume it. */
	queue_op(&q2, RL_OP_OBSERVE, (rl_handle_t)h, 4);
	TEST_EQ(rl_submit(&q2), 1);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(wait_cqe(&q2, &c), 0);
	TEST_EQ(c.user_data, 4);
	TEST_EQ(c.result, RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	TEST_ASSERT(!rl_peek_cqe(&q));
	/* The first queue observes again: it gets the exit. */
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 39);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_handle_close(q2.handle), 0);
}

/* Closing the queue of a pending OBSERVE cancels it: the thread's next
 * stop waits for a later observer instead of vanishing. */
DEFINE_TEST(observer_queue_closed)
{
	struct rl_queue q, q2;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	TEST_EQ(rl_queue_init(&q2, 8, 16), 0);
	h = make_thread(probe_entry, (void *)6, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	queue_op(&q, RL_OP_OBSERVE, (rl_handle_t)h, 1);
	TEST_EQ(rl_submit(&q), 1);
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q2, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q2, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(thread_wait(&q2, (rl_handle_t)h), 39);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q2.handle), 0);
}

/* thread_kill of a stopped thread ends it; the exit is still reported. */
DEFINE_TEST(kill_stopped)
{
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(probe_entry, (void *)7, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_kill(h), 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), -RILL_EINTR);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ((int64_t)c.aux[0], -RILL_EINTR);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), -RILL_ESRCH);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* Without a supervisor a foreign call fails with -ENOSYS (and the thread
 * goes on). */
DEFINE_TEST(unsupervised_foreign_call)
{
	TEST_EQ(foreign6(39, 11, 22, 33, 44, 55, 66), -RILL_ENOSYS);
	TEST_EQ(foreign6(0, 0, 0, 0, 0, 0, 0), -RILL_ENOSYS);
	TEST_EQ(foreign6(60, 0, 0, 0, 0, 0, 0), -RILL_ENOSYS);	/* Linux exit */
	TEST_EQ(foreign6(0x40000027, 0, 0, 0, 0, 0, 0), -RILL_ENOSYS);
	TEST_EQ(rl_yield(), 0);
}

/* ---- the cheap path: registers in the completion's buffer, RESUME as an
 * operation, one queue_enter per forwarded call ------------------------------- */

DEFINE_TEST(syscall_roundtrip_one_enter_per_call)
{
	static struct loop_arg a = { .rounds = ROUNDS };
	static struct rl_regs regs;
	struct rl_kcounters k0, k1;
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe *c;
	uint64_t enters = 0;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	rl_kcounters(&k0, sizeof(k0));
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_OBSERVE;
	e->handle = (rl_handle_t)h;
	e->user_data = 1;
	e->arg[0] = (uint64_t)&regs;
	for (uint64_t i = 0; i <= ROUNDS; i++) {
		bool observed = false;
		uint32_t expect = i ? 2 : 1;	/* the RESUME's completion too */

		/* Wait for the stop (and the previous RESUME's completion). */
		while (!observed || expect) {
			int64_t r = rl_submit_and_wait(&q, expect, rl_clock_ns() + WAIT_NS);

			enters++;
			/* Nobody wakes this queue or kills this thread, so
			 * neither -EINTR nor anything else is an answer here
			 * (docs/abi.md, queue_enter). */
			TEST_ASSERT(r >= 0);
			while ((c = rl_peek_cqe(&q))) {
				expect--;
				if (c->user_data == 1) {
					observed = true;
					TEST_EQ(c->result, i < ROUNDS ? RL_OBS_SYSCALL : RL_OBS_EXIT);
				} else {
					TEST_EQ(c->user_data, 2);
					TEST_EQ(c->result, 0);
				}
				rl_cqe_done(&q);
			}
		}
		if (i == ROUNDS)
			break;
		/* The registers arrived with the observation. */
		TEST_EQ(regs.rax, 39);
		TEST_EQ(regs.rdi, 11 + i);
		TEST_EQ(regs.rsi, 22);
		TEST_EQ(regs.r9, 66);
		/* Resume with the result and observe the next stop: one batch. */
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_RESUME;
		e->handle = (rl_handle_t)h;
		e->user_data = 2;
		e->arg[0] = RL_RESUME_SET_RAX;
		e->arg[1] = 1234 + i;
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_OBSERVE;
		e->handle = (rl_handle_t)h;
		e->user_data = 1;
		e->arg[0] = (uint64_t)&regs;
	}
	rl_kcounters(&k1, sizeof(k1));
	TEST_EQ(a.bad, 0);
	TEST_EQ(a.done, ROUNDS);
	rl_printf("observe: %lu queue_enter calls for %u forwarded calls (%lu system calls "
		  "in all, the forwarded ones included)\n", (unsigned long)enters, ROUNDS,
		  (unsigned long)(k1.syscalls - k0.syscalls));
	/* One enter per forwarded call (and one for the exit report). */
	TEST_EQ(enters, ROUNDS + 1);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 0);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(resume_op_errors)
{
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, NULL, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	/* Not stopped (never started): busy. */
	TEST_EQ(do_op(&q, RL_OP_RESUME, (rl_handle_t)h, &c), -RILL_EBUSY);
	TEST_EQ(do_op(&q, RL_OP_RESUME, 0x7777, &c), -RILL_EBADF);
	TEST_EQ(do_op(&q, RL_OP_RESUME, RL_SELF_PROCESS, &c), -RILL_EBADFD);
	{
		struct rl_sqe *e = rl_get_sqe(&q);

		e->opcode = RL_OP_RESUME;
		e->handle = (rl_handle_t)h;
		e->user_data = 9;
		e->arg[0] = 0x80;		/* unknown flag */
		TEST_EQ(rl_submit(&q), 1);
		TEST_EQ(wait_cqe(&q, &c), 0);
		TEST_EQ(c.result, -RILL_EINVAL);
		/* A regs buffer in the kernel half: refused at submission. */
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_OBSERVE;
		e->handle = (rl_handle_t)h;
		e->user_data = 10;
		e->arg[0] = 0xffff800000000000ull;
		TEST_EQ(rl_submit(&q), 1);
		TEST_EQ(wait_cqe(&q, &c), 0);
		TEST_EQ(c.result, -RILL_EFAULT);
	}
	TEST_EQ(rl_thread_kill(h), 0);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* OBSERVE with RL_OBSERVE_RESUME: arg[0] regs buffer, arg[2] resume
 * flags, arg[3] rax; returns the op's result. */
static int64_t observe_resume(struct rl_queue *q, rl_handle_t h, struct rl_regs *regs,
			      uint64_t mode, uint64_t flags, uint64_t rax, struct rl_cqe *out)
{
	static uint64_t ud = 5000;
	struct rl_sqe *e = rl_get_sqe(q);

	if (!e)
		rl_test_fail(__FILE__, __LINE__, "submission ring full");
	e->opcode = RL_OP_OBSERVE;
	e->handle = h;
	e->user_data = ++ud;
	e->arg[0] = (uint64_t)regs;
	e->arg[1] = mode;
	e->arg[2] = flags;
	e->arg[3] = rax;
	if (rl_submit(q) != 1 || wait_cqe(q, out))
		return NO_CQE;
	if (out->user_data != ud)
		rl_test_fail(__FILE__, __LINE__, "completion for %lu, expected %lu",
			     (unsigned long)out->user_data, (unsigned long)ud);
	return out->result;
}

/* The answer and the next observation in one operation: every call gets
 * its result, the registers come with each stop, RL_RESUME_KILL through
 * it ends the thread; a failed op changes nothing. */
DEFINE_TEST(observe_resume_op)
{
	static struct loop_arg a = { .rounds = 50 };
	struct rl_regs regs;
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	/* Never started: not stopped, so nothing happens, and the op
	 * leaves no observer behind. */
	TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, RL_OBSERVE_RESUME, 0, 0, &c),
		-RILL_EBUSY);
	TEST_EQ(rl_thread_start(h), 0);
	memset(&regs, 0, sizeof(regs));
	TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, 0, 0, 0, &c), RL_OBS_SYSCALL);
	for (uint64_t i = 0; i < a.rounds; i++) {
		TEST_EQ(regs.rax, 39);
		TEST_EQ(regs.rdi, 11 + i);
		TEST_EQ(regs.r9, 66);
		if (i == 3) {
			/* Refused, each leaving the stop as it was: unknown
			 * mode bit, unknown resume flag, resume arguments
			 * without RL_OBSERVE_RESUME. */
			TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, 0x2, 0, 0, &c),
				-RILL_EINVAL);
			TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, RL_OBSERVE_RESUME,
					       0x80, 0, &c), -RILL_EINVAL);
			TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, 0, RL_RESUME_SET_RAX,
					       1, &c), -RILL_EINVAL);
			TEST_EQ(observe_resume(&q, 0x7777, &regs, RL_OBSERVE_RESUME, 0, 0, &c),
				-RILL_EBADF);
			TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
			TEST_EQ(regs.rdi, 11 + i);
		}
		if (i == 5) {
			/* Another observer waiting: EBUSY, and the thread is
			 * not resumed (its registers still readable). */
			queue_op(&q, RL_OP_OBSERVE, (rl_handle_t)h, 77);
			TEST_EQ(rl_submit(&q), 1);
			TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, RL_OBSERVE_RESUME,
					       RL_RESUME_SET_RAX, 1234 + i, &c), -RILL_EBUSY);
			TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
			TEST_EQ(regs.rdi, 11 + i);
			{
				struct rl_sqe *e = rl_get_sqe(&q);

				TEST_ASSERT(e != NULL);
				e->opcode = RL_OP_CANCEL;
				e->user_data = 78;
				e->arg[0] = 77;
			}
			TEST_EQ(rl_submit(&q), 1);
			for (int k = 0; k < 2; k++) {
				TEST_EQ(wait_cqe(&q, &c), 0);
				TEST_EQ(c.result, c.user_data == 77 ? -RILL_ECANCELED : 1);
			}
		}
		memset(&regs, 0, sizeof(regs));
		TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, RL_OBSERVE_RESUME,
				       RL_RESUME_SET_RAX, 1234 + i, &c),
			i + 1 < a.rounds ? RL_OBS_SYSCALL : RL_OBS_EXIT);
	}
	TEST_EQ(c.aux[0], 0);		/* the exit status: no wrong result */
	TEST_EQ(a.done, a.rounds);
	TEST_EQ(a.bad, 0);
	/* Gone: nothing left to resume. */
	TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, RL_OBSERVE_RESUME, 0, 0, &c),
		-RILL_EBUSY);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 0);
	forget_thread((rl_handle_t)h);

	/* RL_RESUME_KILL through it: the next stop is the exit. */
	a.rounds = 5;
	a.done = 0;
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, 0, 0, 0, &c), RL_OBS_SYSCALL);
	TEST_EQ(observe_resume(&q, (rl_handle_t)h, &regs, RL_OBSERVE_RESUME, RL_RESUME_KILL, 0,
			       &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], (uint64_t)-RILL_EINTR);
	TEST_EQ(a.done, 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), -RILL_EINTR);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* A stop that a resume ended before any OBSERVE took it is never
 * reported: the next OBSERVE gets the thread's next stop. */
DEFINE_TEST(ended_stop_not_reported)
{
	static struct loop_arg a = { .rounds = 2 };
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_start(h), 0);
	/* Wait until it has stopped, without observing: resume fails with
	 * EBUSY until then. */
	for (uint64_t until = rl_clock_ns() + WAIT_NS;
	     rl_thread_resume(h, RL_RESUME_SET_RAX, 1234) != 0;) {
		TEST_ASSERT(rl_clock_ns() < until);
		rl_yield();
	}
	/* Its second call (rdi 12) is what OBSERVE reports, not the first. */
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	{
		struct rl_regs regs;

		TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
		TEST_EQ(regs.rdi, 12);
	}
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 1235), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 0);
	TEST_EQ(a.bad, 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)h), 0);
	forget_thread((rl_handle_t)h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* A supervised thread nobody can resume any more (every handle with the
 * OBSERVE right closed) ends when it stops, or at once if it is stopped:
 * a dead supervisor takes its threads with it instead of leaving them
 * stopped forever. */
DEFINE_TEST(orphaned_supervised_thread_ends)
{
	static struct loop_arg a = { .rounds = 1 };
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h, w;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	/* Stops after the last handle went. */
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	w = rl_handle_dup(h, RL_RIGHT_WAIT);
	TEST_ASSERT(w > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(rl_handle_close(h), 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)w), -RILL_EINTR);
	TEST_EQ(a.done, 0);
	TEST_EQ(rl_handle_close(w), 0);
	/* Stopped when the last handle goes. */
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	w = rl_handle_dup(h, RL_RIGHT_WAIT);
	TEST_ASSERT(w > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_handle_close(h), 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)w), -RILL_EINTR);
	TEST_EQ(a.done, 0);
	TEST_EQ(rl_handle_close(w), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- registers against resume-with-kill, from several threads ------------------- */

/* Once a resume has been accepted the thread is no longer stopped, even
 * before it has run: its registers can no longer be read or written and
 * it cannot be resumed twice. (Accepting them in that window let a
 * thread_regs write a frame whose thread was exiting.) */
DEFINE_TEST(regs_after_resume_busy)
{
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	for (int kill = 0; kill < 2; kill++) {
		int64_t h = make_thread(probe_entry, (void *)7, RL_THREAD_SUPERVISED, NULL);

		TEST_ASSERT(h > 0);
		TEST_EQ(rl_thread_start(h), 0);
		TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
		TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
		TEST_EQ(rl_thread_resume(h, kill ? RL_RESUME_KILL : RL_RESUME_SET_RAX,
					 31), 0);
		TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), -RILL_EBUSY);
		TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), -RILL_EBUSY);
		TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 32), -RILL_EBUSY);
		TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
		TEST_EQ(thread_wait(&q, (rl_handle_t)h), kill ? -RILL_EINTR : 31);
		forget_thread((rl_handle_t)h);
	}
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/*
 * Supervisor threads read and write a stopped thread's registers while
 * another resumes it with RL_RESUME_KILL. The registers of a stopped
 * thread must live in the thread object: a thread_regs that checked the
 * state, then copied the caller's buffer and then wrote the thread's trap
 * frame could write into a kernel stack freed (and reused by the next
 * victim) in between. Writers aim every thread they catch at poisoned(),
 * so a write that lands in the wrong thread's frame sends that thread
 * there and it is seen; a write into a stack the kernel took for itself
 * brings the kernel down.
 */
#define RACE_ROUNDS	200
#define RACERS		3

static volatile uint32_t poison_hits;

static void __attribute__((noreturn)) poisoned(void)
{
	__atomic_fetch_add(&poison_hits, 1, __ATOMIC_RELAXED);
	rl_thread_exit(77);
	__builtin_unreachable();
}

struct race {
	volatile rl_handle_t victim;	/* 0: none this moment */
	volatile uint32_t stop;
	uint64_t tries;			/* attempts by all racers */
	uint64_t gets, sets, busy, other;	/* per-outcome counts (all racers) */
};

static void racer(void *p)
{
	struct race *r = p;
	struct rl_regs regs;

	while (!r->stop) {
		rl_handle_t h = r->victim;
		int64_t e;

		/* Each turn ends in a yield: at -smp 1 the main thread needs
		 * the CPU (with a CPU each, yielding costs next to nothing). */
		rl_yield();
		if (!h)
			continue;
		e = rl_thread_regs(h, RL_REGS_GET, &regs);
		if (e == 0) {
			__atomic_fetch_add(&r->gets, 1, __ATOMIC_RELAXED);
			regs.rip = (uint64_t)poisoned;
			e = rl_thread_regs(h, RL_REGS_SET, &regs);
			if (e == 0)
				__atomic_fetch_add(&r->sets, 1, __ATOMIC_RELAXED);
		}
		__atomic_fetch_add(&r->tries, 1, __ATOMIC_RELAXED);
		if (e == -RILL_EBUSY)
			__atomic_fetch_add(&r->busy, 1, __ATOMIC_RELAXED);
		else if (e != 0 && e != -RILL_EBADF)	/* EBADF: closed under us */
			__atomic_fetch_add(&r->other, 1, __ATOMIC_RELAXED);
	}
}

static void racer_idle(void *p)
{
	(void)p;
}

DEFINE_TEST(regs_race_resume_kill)
{
	static struct race r;
	struct rl_kcounters before;
	struct rl_queue q;
	struct rl_cqe c;
	int64_t racers[RACERS];

	char *stack;
	uint64_t sp;

	start_watchdog();
	stack = rl_alloc_pages(STACK_SIZE);	/* one victim at a time */
	TEST_ASSERT(stack != NULL);
	sp = (((uint64_t)stack + STACK_SIZE) & ~15ull) - 8;
	/* rl_thread_join's first use makes the runtime's queue: before the
	 * counters are read. */
	racers[0] = rl_thread_spawn(racer_idle, NULL);
	TEST_ASSERT(racers[0] > 0);
	TEST_EQ(rl_thread_join((rl_handle_t)racers[0]), 0);
	TEST_EQ(rl_handle_close(racers[0]), 0);
	rl_test_counters_settle(&before);
	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	for (int i = 0; i < RACERS; i++) {
		racers[i] = rl_thread_spawn(racer, &r);
		TEST_ASSERT(racers[i] > 0);
	}
	for (uint32_t round = 0; round < RACE_ROUNDS; round++) {
		int64_t h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)probe_entry, sp, 0,
					     RL_THREAD_SUPERVISED);

		TEST_ASSERT(h > 0);
		TEST_EQ(rl_thread_start(h), 0);
		TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_SYSCALL);
		r.victim = (rl_handle_t)h;
		/* Let the racers get going on this victim, then kill it. */
		uint64_t t0 = __atomic_load_n(&r.tries, __ATOMIC_RELAXED);
		uint64_t until = rl_clock_ns() + 20000000;	/* 20 ms at most */

		/* (Bounded by time: under TCG a racer's vCPU may not run
		 * for a while, however often this one yields.) */
		while (__atomic_load_n(&r.tries, __ATOMIC_RELAXED) < t0 + 1 + round % 8 &&
		       rl_clock_ns() < until)
			rl_yield();
		TEST_EQ(rl_thread_resume(h, RL_RESUME_KILL, 0), 0);
		TEST_EQ(observe(&q, (rl_handle_t)h, &c), RL_OBS_EXIT);
		TEST_EQ(thread_wait(&q, (rl_handle_t)h), -RILL_EINTR);
		r.victim = 0;
		forget_thread((rl_handle_t)h);
	}
	r.stop = 1;
	for (int i = 0; i < RACERS; i++) {
		TEST_EQ(rl_thread_join((rl_handle_t)racers[i]), 0);
		TEST_EQ(rl_handle_close(racers[i]), 0);
	}
	rl_printf("regs_race: %lu reads, %lu writes, %lu busy over %d rounds\n",
		  (unsigned long)r.gets, (unsigned long)r.sets, (unsigned long)r.busy,
		  RACE_ROUNDS);
	TEST_EQ(poison_hits, 0);
	TEST_EQ(r.other, 0);
	TEST_ASSERT(r.gets > 0);	/* the race was run, not missed */
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size), 0);
	/* Objects, threads and pages of objects must all be back; free pages
	 * may not be when this runs first in a boot (only=observe): the
	 * kernel's first stacks and slab pages stay with it, as the other
	 * tests here would have made them anyway. */
	rl_test_counters_expect_back_but_slabs(&before);
}

/* ---- the stop record ------------------------------------------------------------ */

/* thread_record: every stop is in the record before it is reported, the
 * same registers thread_regs reads; the record outlives the thread. */
DEFINE_TEST(stop_record)
{
	static struct loop_arg a = { .rounds = 3 };
	const volatile struct rl_stop_record *rec, *rec2;
	struct rl_regs regs, seen;
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h, mo, mo2, addr, addr2;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	mo = rl_thread_record(h, 0);
	TEST_ASSERT(mo > 0);
	addr = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT(addr > 0);
	rec = (const volatile struct rl_stop_record *)addr;
	TEST_EQ(rec->stops, 0);
	/* Read-only: the kernel's report, not a way to change the thread. */
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096,
		       RL_PROT_READ | RL_PROT_WRITE), -RILL_EPERM);
	TEST_EQ(rl_thread_start(h), 0);
	for (uint64_t i = 0; i < a.rounds; i++) {
		TEST_EQ(observe(&q, h, &c), RL_OBS_SYSCALL);
		TEST_EQ(rec->stops, i + 1);
		TEST_EQ(rec->kind, RL_OBS_SYSCALL);
		TEST_EQ(rec->info[0], 39);
		TEST_EQ(rec->info[1], 0);
		TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
		memcpy(&seen, (const void *)&rec->regs, sizeof(seen));
		TEST_EQ(memcmp(&seen, &regs, sizeof(regs)), 0);
		TEST_EQ(seen.rax, 39);
		TEST_EQ(seen.rdi, 11 + i);
		TEST_EQ(seen.r9, 66);
		/* A change made during the stop is the thread's, not the
		 * record's. */
		TEST_ASSERT(seen.r11 != 0x5555);	/* the flags, at a syscall */
		regs.r11 = 0x5555;	/* clobbered by syscall: the thread's loop
					   cannot tell */
		TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &regs), 0);
		TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
		TEST_EQ(regs.r11, 0x5555);
		TEST_EQ(rec->regs.r11, seen.r11);
		TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 1234 + i), 0);
	}
	/* A second handle names the same page. */
	mo2 = rl_thread_record(h, 0);
	TEST_ASSERT(mo2 > 0 && mo2 != mo);
	addr2 = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo2, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT(addr2 > 0);
	rec2 = (const volatile struct rl_stop_record *)addr2;
	/* (The last resume let it go on: it may have reached its exit.) */
	TEST_ASSERT(rec2->stops == a.rounds || rec2->stops == a.rounds + 1);
	TEST_EQ(observe(&q, h, &c), RL_OBS_EXIT);
	TEST_EQ(rec->kind, RL_OBS_EXIT);
	TEST_EQ(rec->info[0], 0);
	TEST_EQ(rec->stops, a.rounds + 1);
	TEST_EQ(thread_wait(&q, h), 0);
	TEST_EQ(a.bad, 0);
	/* The thread is gone, its record still mapped and readable. */
	forget_thread(h);
	TEST_EQ(rec2->stops, a.rounds + 1);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)addr, 4096), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)addr2, 4096), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(mo2), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* A thread created stopped is recorded at that stop too, with the
 * registers its supervisor is about to set. */
DEFINE_TEST(stop_record_created)
{
	const volatile struct rl_stop_record *rec;
	struct rl_regs regs, seen;
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h, mo, addr;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(probe_entry, (void *)5, RL_THREAD_SUPERVISED | RL_THREAD_STOPPED, NULL);
	TEST_ASSERT(h > 0);
	mo = rl_thread_record(h, 0);
	TEST_ASSERT(mo > 0);
	addr = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT(addr > 0);
	rec = (const volatile struct rl_stop_record *)addr;
	TEST_EQ(observe(&q, h, &c), RL_OBS_CREATED);
	TEST_EQ(rec->stops, 1);
	TEST_EQ(rec->kind, RL_OBS_CREATED);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &regs), 0);
	memcpy(&seen, (const void *)&rec->regs, sizeof(seen));
	TEST_EQ(memcmp(&seen, &regs, sizeof(regs)), 0);
	TEST_EQ(seen.rdi, 5);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe(&q, h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rec->stops, 2);
	TEST_EQ(rec->regs.rax, 39);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 77), 0);
	TEST_EQ(observe(&q, h, &c), RL_OBS_EXIT);
	TEST_EQ(thread_wait(&q, h), 77);
	forget_thread(h);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)addr, 4096), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(stop_record_errors)
{
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h, weak, plain, mo;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(probe_entry, (void *)3, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_record(h, 1), -RILL_EINVAL);
	TEST_EQ(rl_thread_record(0x7fff0000, 0), -RILL_EBADF);
	TEST_EQ(rl_raw_thread_record(~0ull, 0), -RILL_EBADF);
	TEST_EQ(rl_thread_record(RL_SELF_PROCESS, 0), -RILL_EBADFD);
	TEST_EQ(rl_thread_record(q.handle, 0), -RILL_EBADFD);
	weak = rl_handle_dup(h, RL_RIGHTS_ALL & ~RL_RIGHT_OBSERVE);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_thread_record(weak, 0), -RILL_EPERM);
	/* Not supervised: nothing ever stops it, nothing to record. */
	plain = make_thread(spin_entry, NULL, 0, NULL);
	TEST_ASSERT(plain > 0);
	TEST_EQ(rl_thread_record(plain, 0), -RILL_EINVAL);
	TEST_EQ(rl_handle_close(plain), 0);
	/* The failures left nothing behind: the first good call makes it. */
	mo = rl_thread_record(h, 0);
	TEST_ASSERT(mo > 0);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 3), 0);
	TEST_EQ(thread_wait(&q, (rl_handle_t)weak), 3);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	forget_thread(h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- multi-shot observation ----------------------------------------------------- */

static void arm_multi(struct rl_queue *q, rl_handle_t h, uint64_t ud)
{
	struct rl_sqe *e = rl_get_sqe(q);

	TEST_ASSERT(e);
	e->opcode = RL_OP_OBSERVE;
	e->handle = h;
	e->user_data = ud;
	e->arg[1] = RL_OBSERVE_MULTI;
	TEST_EQ(rl_submit(q), 1);
}

static void resume_quiet(struct rl_queue *q, rl_handle_t h, uint64_t rax)
{
	struct rl_sqe *e = rl_get_sqe(q);

	TEST_ASSERT(e);
	e->opcode = RL_OP_RESUME;
	e->flags = RL_SQE_QUIET;
	e->handle = h;
	e->user_data = 99;
	e->arg[0] = RL_RESUME_SET_RAX;
	e->arg[1] = rax;
}

/* One OBSERVE armed once reports every stop (RL_OBS_MORE) and ends with
 * the exit; the quiet RESUMEs post nothing: one completion per stop. */
DEFINE_TEST(multi_observe_loop)
{
	static struct loop_arg a = { .rounds = 40 };
	const volatile struct rl_stop_record *rec;
	struct rl_queue q;
	struct rl_cqe c;
	int64_t h, mo, addr;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	mo = rl_thread_record(h, 0);
	TEST_ASSERT(mo > 0);
	addr = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT(addr > 0);
	rec = (const volatile struct rl_stop_record *)addr;
	arm_multi(&q, h, 7);
	TEST_EQ(rl_thread_start(h), 0);
	for (uint64_t i = 0; i < a.rounds; i++) {
		TEST_EQ(wait_cqe(&q, &c), 0);
		TEST_EQ(c.user_data, 7);
		TEST_EQ(c.result, RL_OBS_SYSCALL | RL_OBS_MORE);
		TEST_EQ(c.aux[0], 39);
		TEST_EQ(rec->stops, i + 1);
		TEST_EQ(rec->regs.rdi, 11 + i);
		resume_quiet(&q, h, 1234 + i);
	}
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.user_data, 7);
	TEST_EQ(c.result, RL_OBS_EXIT);	/* the last report: no MORE */
	TEST_ASSERT(!rl_peek_cqe(&q));
	TEST_EQ(thread_wait(&q, h), 0);
	TEST_EQ(a.bad, 0);
	TEST_EQ(observe(&q, h, &c), -RILL_ESRCH);
	forget_thread(h);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, addr, 4096), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* A multi-shot observation ends with a cancel (the thread goes on being
 * stoppable and a new OBSERVE gets its next stop) and refuses a register
 * buffer. */
DEFINE_TEST(multi_observe_cancel)
{
	static struct loop_arg a = { .rounds = 2 };
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe c;
	int64_t h;
	struct rl_regs regs;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_OBSERVE;
	e->handle = h;
	e->user_data = 5;
	e->arg[0] = (uint64_t)&regs;
	e->arg[1] = RL_OBSERVE_MULTI;
	TEST_EQ(rl_submit(&q), 1);
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.result, -RILL_EINVAL);
	arm_multi(&q, h, 5);
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_CANCEL;
	e->user_data = 6;
	e->arg[0] = 5;
	TEST_EQ(rl_submit(&q), 1);
	for (int i = 0; i < 2; i++) {
		TEST_EQ(wait_cqe(&q, &c), 0);
		if (c.user_data == 5)
			TEST_EQ(c.result, -RILL_ECANCELED);
		else
			TEST_EQ(c.result, 1);
	}
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe(&q, h, &c), RL_OBS_SYSCALL);	/* one-shot, nothing else armed */
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 1234), 0);
	arm_multi(&q, h, 8);
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.user_data, 8);
	TEST_EQ(c.result, RL_OBS_SYSCALL | RL_OBS_MORE);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 1235), 0);
	TEST_EQ(wait_cqe(&q, &c), 0);
	TEST_EQ(c.result, RL_OBS_EXIT);
	TEST_EQ(thread_wait(&q, h), 0);
	TEST_EQ(a.bad, 0);
	forget_thread(h);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* Stops reported faster than the supervisor reaps: while the completion
 * ring has room each report keeps the observation armed; the stop that
 * finds it full is still reported (in the overflow) but without
 * RL_OBS_MORE: the observation has ended, the next stop waits for a new
 * OBSERVE. */
DEFINE_TEST(multi_observe_ring_full_ends_it)
{
	static struct loop_arg a = { .rounds = 4 };
	struct rl_queue q;
	struct rl_cqe c;
	const volatile struct rl_stop_record *rec;
	int64_t h, mo, addr;
	uint64_t deadline;

	TEST_EQ(rl_queue_init(&q, 2, 2), 0);
	h = make_thread(loop_entry, &a, RL_THREAD_SUPERVISED, NULL);
	TEST_ASSERT(h > 0);
	mo = rl_thread_record(h, 0);
	TEST_ASSERT(mo > 0);
	addr = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT(addr > 0);
	rec = (const volatile struct rl_stop_record *)addr;
	arm_multi(&q, h, 3);
	TEST_EQ(rl_thread_start(h), 0);
	/* Three stops, none reaped: resume each as soon as it is recorded. */
	for (uint64_t i = 0; i < 3; i++) {
		deadline = rl_clock_ns() + WAIT_NS;
		while (rec->stops < i + 1 && rl_clock_ns() < deadline)
			rl_yield();
		TEST_EQ(rec->stops, i + 1);
		TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 1234 + i), 0);
	}
	deadline = rl_clock_ns() + WAIT_NS;
	while (rec->stops < 4 && rl_clock_ns() < deadline)
		rl_yield();
	TEST_EQ(rec->stops, 4);
	for (int i = 0; i < 3; i++) {
		TEST_EQ(wait_cqe(&q, &c), 0);
		TEST_EQ(c.user_data, 3);
		TEST_EQ(c.result, i < 2 ? RL_OBS_SYSCALL | RL_OBS_MORE : RL_OBS_SYSCALL);
	}
	/* The fourth stop was not reported: nothing is armed. */
	TEST_ASSERT(!rl_peek_cqe(&q));
	TEST_EQ(observe(&q, h, &c), RL_OBS_SYSCALL);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 1237), 0);
	TEST_EQ(observe(&q, h, &c), RL_OBS_EXIT);
	TEST_EQ(thread_wait(&q, h), 0);
	TEST_EQ(a.bad, 0);
	forget_thread(h);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, addr, 4096), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}
