/*
 * In-OS tests of the thread primitives a POSIX server builds clone, fork
 * and signals on: threads created stopped with every register given by
 * their supervisor (RL_THREAD_STOPPED, RL_OBS_CREATED) and
 * thread_interrupt (RL_OBS_INTERRUPT).
 *
 * The supervised threads live in this process (RL_SELF_PROCESS); a thread
 * a failed assertion leaves stopped ends with the process: main's return
 * ends the test program (testmain), which kills what is left.
 */
#include <rill/rl.h>
#include <rill/test.h>
#include <rill/string.h>

#define MS		1000000ull
#define WAIT_NS		(20ull * 1000000000ull)
#define NO_CQE		(-100000)
#define STACK		(64 * 1024)

static struct rl_queue sq;

static void need_queue(void)
{
	if (!sq.handle && rl_queue_init(&sq, 16, 32))
		rl_test_fail(__FILE__, __LINE__, "no queue");
}

/* Submit one op on h, wait up to WAIT_NS for its completion: its result,
 * or NO_CQE. */
static int64_t sup_op(uint16_t opcode, rl_handle_t h, uint64_t arg0, struct rl_cqe *out)
{
	static uint64_t ud = 9000;
	uint64_t deadline = rl_clock_ns() + WAIT_NS;
	struct rl_sqe *e;
	struct rl_cqe *c;

	need_queue();
	e = rl_get_sqe(&sq);
	if (!e)
		return NO_CQE - 1;
	e->opcode = opcode;
	e->handle = h;
	e->user_data = ++ud;
	e->arg[0] = arg0;
	if (rl_submit(&sq) != 1)
		return NO_CQE - 2;
	while (!(c = rl_peek_cqe(&sq))) {
		int64_t r = rl_submit_and_wait(&sq, 1, deadline);

		if (r < 0 && r != -RILL_EINTR && !rl_peek_cqe(&sq))
			return NO_CQE;
	}
	*out = *c;
	rl_cqe_done(&sq);
	if (out->user_data != ud)
		return NO_CQE - 3;
	return out->result;
}

static int64_t observe(rl_handle_t h, struct rl_cqe *c)
{
	return sup_op(RL_OP_OBSERVE, h, 0, c);
}

static int64_t thread_wait(rl_handle_t h)
{
	struct rl_cqe c;

	return sup_op(RL_OP_THREAD_WAIT, h, 0, &c);
}

/* A fresh stack's top, 16-byte aligned. */
static uint64_t new_stack(void)
{
	char *s = rl_alloc_pages(STACK);

	if (!s)
		rl_test_fail(__FILE__, __LINE__, "no stack");
	return ((uint64_t)s + STACK) & ~15ull;
}

/* ---- threads created stopped ----------------------------------------------- */

/*
 * Entered with r15 = struct dump *: stores every general register as it
 * found it, rflags, the word at %fs:0 and xmm0, then stops (foreign call
 * 39) and, resumed, exits with rax.
 */
struct dump {
	uint64_t gpr[16];	/* rax rbx rcx rdx rsi rdi rbp rsp r8-r15 */
	uint64_t rflags;
	uint64_t fs0;
	uint8_t xmm0[16];
};

void dump_entry(void);
__asm__(".text\n"
	".global dump_entry\n"
	"dump_entry:\n"
	"	movq %rax, 0(%r15)\n"
	"	movq %rbx, 8(%r15)\n"
	"	movq %rcx, 16(%r15)\n"
	"	movq %rdx, 24(%r15)\n"
	"	movq %rsi, 32(%r15)\n"
	"	movq %rdi, 40(%r15)\n"
	"	movq %rbp, 48(%r15)\n"
	"	movq %rsp, 56(%r15)\n"
	"	movq %r8, 64(%r15)\n"
	"	movq %r9, 72(%r15)\n"
	"	movq %r10, 80(%r15)\n"
	"	movq %r11, 88(%r15)\n"
	"	movq %r12, 96(%r15)\n"
	"	movq %r13, 104(%r15)\n"
	"	movq %r14, 112(%r15)\n"
	"	movq %r15, 120(%r15)\n"
	"	pushfq\n"
	"	popq 128(%r15)\n"
	"	movq %fs:0, %rax\n"
	"	movq %rax, 136(%r15)\n"
	"	movdqu %xmm0, 144(%r15)\n"
	"	movl $39, %eax\n"
	"	syscall\n"
	"	movq %rax, %rdi\n"
	"	movl $0x20000010, %eax\n"	/* RL_SYS_thread_exit */
	"	syscall\n"
	"	ud2\n");

_Static_assert(RL_SYS_thread_exit == 0x20000010, "dump_entry's exit number");

/* Like a Linux clone child: created stopped, every register set by the
 * supervisor (rax 0, rip, rsp, the rest distinct), its FPU state and FS
 * base too, then resumed: it must run with exactly those. */
DEFINE_TEST(created_stopped_runs_with_given_registers)
{
	static struct dump d;
	static uint64_t tls[2] = { 0x7151000000000001ull, 0 };
	static struct rl_fpu_area fa __attribute__((aligned(64)));
	struct rl_regs r;
	struct rl_cqe c;
	uint64_t sp = new_stack(), sp2 = new_stack();
	int64_t h, size;

	need_queue();
	h = rl_thread_create(RL_SELF_PROCESS, 0x1000, sp - 8, 0xabcdef,
			     RL_THREAD_SUPERVISED | RL_THREAD_STOPPED);
	TEST_ASSERT(h > 0);
	/* Started already: stopped, reported as created. */
	TEST_EQ(rl_thread_start(h), -RILL_EBUSY);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_CREATED);
	TEST_EQ(c.aux[0], 0);
	TEST_EQ(c.aux[1], 0);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	TEST_EQ(r.rip, 0x1000);
	TEST_EQ(r.rsp, sp - 8);
	TEST_EQ(r.rdi, 0xabcdef);
	TEST_EQ(r.rflags, 0x202);
	TEST_EQ(r.rax | r.rbx | r.rcx | r.rdx | r.rsi | r.rbp | r.r8 | r.r9 | r.r10 | r.r11 |
		r.r12 | r.r13 | r.r14 | r.r15 | r.fs_base | r.gs_base, 0);
	/* Its FPU state is the reset one. */
	size = rl_thread_fpu(h, RL_FPU_GET, 0, 0);
	TEST_ASSERT(size == RL_FPU_SIZE_SSE || size == RL_FPU_SIZE_AVX);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &fa, size), size);
	TEST_EQ(fa.fcw, 0x37f);
	TEST_EQ(fa.mxcsr, 0x1f80);
	/* Everything, as a clone child gets it. */
	r = (struct rl_regs){
		.rax = 0, .rbx = 0x1111, .rcx = 0x2222, .rdx = 0x3333, .rsi = 0x4444,
		.rdi = 0x5555, .rbp = 0x6666, .rsp = sp2 - 64, .r8 = 0x8888, .r9 = 0x9999,
		.r10 = 0xaaaa, .r11 = 0xbbbb, .r12 = 0xcccc, .r13 = 0xdddd, .r14 = 0xeeee,
		.r15 = (uint64_t)&d, .rip = (uint64_t)dump_entry,
		.rflags = 0x202 | 0x1 | 0x80,	/* CF, SF */
		.fs_base = (uint64_t)tls,
	};
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &r), 0);
	for (int i = 0; i < 16; i++)
		fa.xmm[0][i] = (uint8_t)(0xf0 + i);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &fa, size), size);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), -RILL_EBUSY);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(d.gpr[0], 0);
	TEST_EQ(d.gpr[1], 0x1111);
	TEST_EQ(d.gpr[2], 0x2222);
	TEST_EQ(d.gpr[3], 0x3333);
	TEST_EQ(d.gpr[4], 0x4444);
	TEST_EQ(d.gpr[5], 0x5555);
	TEST_EQ(d.gpr[6], 0x6666);
	TEST_EQ(d.gpr[7], sp2 - 64);
	TEST_EQ(d.gpr[8], 0x8888);
	TEST_EQ(d.gpr[9], 0x9999);
	TEST_EQ(d.gpr[10], 0xaaaa);
	TEST_EQ(d.gpr[11], 0xbbbb);
	TEST_EQ(d.gpr[12], 0xcccc);
	TEST_EQ(d.gpr[13], 0xdddd);
	TEST_EQ(d.gpr[14], 0xeeee);
	TEST_EQ(d.gpr[15], (uint64_t)&d);
	TEST_EQ(d.rflags & 0x8d5, 0x81);	/* CF and SF as given, the rest clear */
	TEST_ASSERT(d.rflags & 0x200);
	TEST_EQ(d.fs0, tls[0]);
	for (int i = 0; i < 16; i++)
		TEST_EQ(d.xmm0[i], 0xf0 + i);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 31), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 31);
	TEST_EQ(thread_wait((rl_handle_t)h), 31);
	TEST_EQ(rl_handle_close(h), 0);
}

/* Resumed without being observed: runs; the next OBSERVE reports its next
 * stop, not the creation. */
DEFINE_TEST(created_stopped_resumed_unobserved)
{
	static struct dump d;
	struct rl_regs r;
	struct rl_cqe c;
	uint64_t sp = new_stack();
	int64_t h;

	need_queue();
	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)dump_entry, sp - 8, 0,
			     RL_THREAD_SUPERVISED | RL_THREAD_STOPPED);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	r.r15 = (uint64_t)&d;
	r.fs_base = (uint64_t)&d;	/* dump_entry reads %fs:0 */
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &r), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(d.gpr[7], sp - 8);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_KILL, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ((int64_t)c.aux[0], -RILL_EINTR);
	TEST_EQ(rl_handle_close(h), 0);
}

DEFINE_TEST(created_stopped_errors_and_ends)
{
	struct rl_kcounters k0;
	struct rl_regs r;
	struct rl_cqe c;
	uint64_t sp = new_stack();
	int64_t h, w;

	need_queue();
	/* Flags: STOPPED needs SUPERVISED; unknown bits. */
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, 0x1000, sp, 0, RL_THREAD_STOPPED), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, 0x1000, sp, 0,
				 RL_THREAD_SUPERVISED | RL_THREAD_STOPPED | 0x4), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, 0x1000, sp, 0, ~0ull), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, RL_USER_TOP, sp, 0,
				 RL_THREAD_SUPERVISED | RL_THREAD_STOPPED), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(12345, 0x1000, sp, 0, RL_THREAD_SUPERVISED | RL_THREAD_STOPPED),
		-RILL_EBADF);
	/* Registers that cannot be set are refused as for any stop. */
	h = rl_thread_create(RL_SELF_PROCESS, 0x1000, sp, 0, RL_THREAD_SUPERVISED | RL_THREAD_STOPPED);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	r.rip = 0x800000000000ull;
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &r), -RILL_EINVAL);
	TEST_EQ(rl_raw_thread_regs(h, RL_REGS_SET, 0x10), -RILL_EFAULT);
	/* Killed while created-stopped: exits -EINTR, never running. */
	TEST_EQ(rl_thread_resume(h, RL_RESUME_KILL, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ((int64_t)c.aux[0], -RILL_EINTR);
	TEST_EQ(thread_wait((rl_handle_t)h), -RILL_EINTR);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), -RILL_EBUSY);
	TEST_EQ(rl_thread_resume(h, 0, 0), -RILL_EBUSY);
	TEST_EQ(rl_handle_close(h), 0);
	/* thread_kill ends it too. */
	h = rl_thread_create(RL_SELF_PROCESS, 0x1000, sp, 0, RL_THREAD_SUPERVISED | RL_THREAD_STOPPED);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_kill(h), 0);
	TEST_EQ(thread_wait((rl_handle_t)h), -RILL_EINTR);
	TEST_EQ(rl_handle_close(h), 0);
	/* Its supervisor lets go of it (the last OBSERVE handle): it ends,
	 * and nothing stays behind. */
	rl_test_counters_settle(&k0);
	for (int i = 0; i < 50; i++) {
		h = rl_thread_create(RL_SELF_PROCESS, 0x1000, sp, 0,
				     RL_THREAD_SUPERVISED | RL_THREAD_STOPPED);
		TEST_ASSERT(h > 0);
		w = rl_handle_dup(h, RL_RIGHT_WAIT);
		TEST_ASSERT(w > 0);
		TEST_EQ(rl_handle_close(h), 0);
		TEST_EQ(thread_wait((rl_handle_t)w), -RILL_EINTR);
		TEST_EQ(rl_handle_close(w), 0);
	}
	rl_test_counters_expect_back(&k0);
}

/* ---- thread_interrupt ------------------------------------------------------- */

/* A busy loop: (rdi) += 1 forever. */
void spin_entry(void *counter);
__asm__(".text\n"
	".global spin_entry\n"
	"spin_entry:\n"
	"1:	incq (%rdi)\n"		/* 3 bytes */
	"	jmp 1b\n");

/* One native call from the block at rdi: nr, five arguments; the result
 * goes to its result field; then a foreign call 39 (a stop), then exit
 * with what the supervisor put in rax. */
struct call {
	uint64_t nr, a[5];
	int64_t result;
	uint64_t done;
};

void call_entry(void *c);
__asm__(".text\n"
	".global call_entry\n"
	"call_entry:\n"
	"	movq %rdi, %r15\n"
	"	movq 0(%r15), %rax\n"
	"	movq 8(%r15), %rdi\n"
	"	movq 16(%r15), %rsi\n"
	"	movq 24(%r15), %rdx\n"
	"	movq 32(%r15), %r10\n"
	"	movq 40(%r15), %r8\n"
	".global call_entry_syscall\n"
	"call_entry_syscall:\n"
	"	syscall\n"
	"	movq %rax, 48(%r15)\n"
	"	movq $1, 56(%r15)\n"
	"	movl $39, %eax\n"
	"	syscall\n"
	"	movq %rax, %rdi\n"
	"	movl $0x20000010, %eax\n"	/* RL_SYS_thread_exit */
	"	syscall\n"
	"	ud2\n");
extern const char call_entry_syscall[];

static int64_t start_thread(void (*fn)(void *), void *arg, uint64_t flags)
{
	int64_t h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)fn, new_stack() - 8, (uint64_t)arg,
				     flags);

	if (h <= 0)
		rl_test_fail(__FILE__, __LINE__, "thread_create: %ld", (long)h);
	if (rl_thread_start(h))
		rl_test_fail(__FILE__, __LINE__, "thread_start");
	return h;
}

static void sleep_ms(uint64_t ms)
{
	rl_sleep_ns(ms * MS);
}

/* Wait until *v changes from what it is (at most WAIT_NS). */
static bool moves(volatile uint64_t *v)
{
	uint64_t v0 = *v, until = rl_clock_ns() + WAIT_NS;

	while (*v == v0) {
		if (rl_clock_ns() > until)
			return false;
		rl_yield();
	}
	return true;
}

DEFINE_TEST(interrupt_running_thread)
{
	static volatile uint64_t n1, n2;
	struct rl_regs r;
	struct rl_cqe c;
	uint64_t t0, worst = 0;
	int64_t h;

	need_queue();
	h = start_thread(spin_entry, (void *)&n1, RL_THREAD_SUPERVISED);
	TEST_ASSERT(moves(&n1));
	for (int i = 0; i < 20; i++) {
		uint64_t ns;

		t0 = rl_clock_ns();
		TEST_EQ(rl_thread_interrupt(h), 0);
		TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
		ns = rl_clock_ns() - t0;
		worst = ns > worst ? ns : worst;
		TEST_EQ(c.aux[0], 0);		/* in user mode */
		TEST_EQ(c.aux[1], 0);
		TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
		TEST_ASSERT(r.rip == (uint64_t)spin_entry || r.rip == (uint64_t)spin_entry + 3);
		TEST_EQ(r.rdi, (uint64_t)&n1);
		/* Stopped: it does not move. */
		{
			uint64_t v = n1;

			sleep_ms(2);
			TEST_EQ(n1, v);
		}
		TEST_EQ(rl_thread_resume(h, 0, 0), 0);
		TEST_ASSERT(moves(&n1));
	}
	/* Resumed with other registers, as a signal handler is entered. */
	TEST_EQ(rl_thread_interrupt(h), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	r.rdi = (uint64_t)&n2;
	r.rip = (uint64_t)spin_entry;
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &r), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_ASSERT(moves(&n2));
	/* Killed while interrupted. */
	TEST_EQ(rl_thread_interrupt(h), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
	TEST_EQ(rl_thread_kill(h), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ((int64_t)c.aux[0], -RILL_EINTR);
	TEST_EQ(rl_thread_interrupt(h), -RILL_ESRCH);
	TEST_EQ(rl_handle_close(h), 0);
	rl_printf("threadctl: interrupt of a running thread to its observation: worst %lu us\n",
		  (unsigned long)(worst / 1000));
	TEST_ASSERT(worst < 2000 * MS);
}

/*
 * A thread blocked in a native wait: interrupted, the wait returns
 * -EINTR, the stop shows the call's number (aux) and its result (rax),
 * and the thread goes on with it when resumed. Caught before it reached
 * the call (aux[1] 0), it is let go and interrupted again.
 */
static void interrupt_in_call(struct call *k, uint64_t nr)
{
	struct rl_regs r;
	struct rl_cqe c;
	int64_t h;
	int tries = 0;

	need_queue();
	h = start_thread(call_entry, k, RL_THREAD_SUPERVISED);
	for (;;) {
		sleep_ms(20);
		TEST_EQ(rl_thread_interrupt(h), 0);
		TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
		if (c.aux[1] == 1)
			break;
		TEST_ASSERT(++tries < 10);
		TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	}
	TEST_EQ(c.aux[0], nr);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	TEST_EQ((int64_t)r.rax, -RILL_EINTR);
	TEST_EQ(r.rip, (uint64_t)call_entry_syscall + 2);
	TEST_EQ(k->done, 0);
	/* Restart it, as SA_RESTART would: back to the syscall, number in
	 * rax (its arguments are still in their registers). */
	r.rip -= 2;
	r.rax = c.aux[0];
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &r), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	sleep_ms(20);
	TEST_EQ(k->done, 0);			/* waiting again */
	/* Interrupted again: this time it goes on with -EINTR. */
	for (;;) {
		TEST_EQ(rl_thread_interrupt(h), 0);
		TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
		if (c.aux[1] == 1)
			break;
		TEST_ASSERT(++tries < 10);
		TEST_EQ(rl_thread_resume(h, 0, 0), 0);
		sleep_ms(20);
	}
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(k->done, 1);
	TEST_EQ(k->result, -RILL_EINTR);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 5), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(c.aux[0], 5);
	TEST_EQ(rl_handle_close(h), 0);
}

DEFINE_TEST(interrupt_futex_wait)
{
	static uint32_t word;
	static struct call k;

	k = (struct call){ .nr = RL_SYS_futex_wait,
			   .a = { (uint64_t)&word, 0, rl_clock_ns() + 60000 * MS } };
	interrupt_in_call(&k, RL_SYS_futex_wait);
}

/* A sleep: queue_enter waiting for a completion that never comes. */
DEFINE_TEST(interrupt_queue_wait)
{
	static struct call k;
	struct rl_queue q;

	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	k = (struct call){ .nr = RL_SYS_queue_enter,
			   .a = { (uint64_t)q.handle, 0, 1, rl_clock_ns() + 60000 * MS,
				  RL_ENTER_WAIT } };
	interrupt_in_call(&k, RL_SYS_queue_enter);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* A restarted futex_wait that is then woken returns 0. */
DEFINE_TEST(interrupted_futex_wait_restarts)
{
	static uint32_t word;
	static struct call k;
	struct rl_regs r;
	struct rl_cqe c;
	int64_t h;
	int tries = 0;

	need_queue();
	k = (struct call){ .nr = RL_SYS_futex_wait,
			   .a = { (uint64_t)&word, 0, rl_clock_ns() + 60000 * MS } };
	h = start_thread(call_entry, &k, RL_THREAD_SUPERVISED);
	for (;;) {
		sleep_ms(20);
		TEST_EQ(rl_thread_interrupt(h), 0);
		TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
		if (c.aux[1] == 1)
			break;
		TEST_ASSERT(++tries < 10);
		TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	}
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	r.rip -= 2;
	r.rax = c.aux[0];
	TEST_EQ(rl_thread_regs(h, RL_REGS_SET, &r), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	{
		uint64_t until = rl_clock_ns() + WAIT_NS;

		while (rl_futex_wake(&word, 1) != 1) {
			TEST_ASSERT(rl_clock_ns() < until);
			sleep_ms(1);
		}
	}
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(k.result, 0);
	TEST_EQ(rl_thread_resume(h, RL_RESUME_KILL, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(rl_handle_close(h), 0);
}

/* Interrupting a stopped thread: the interrupt waits, merged with any
 * other, and is taken right after the resume, before any user
 * instruction; a created-stopped thread takes it before its first. */
DEFINE_TEST(interrupt_stopped_thread_is_pending)
{
	static struct call k;
	static volatile uint64_t n;
	struct rl_regs r;
	struct rl_cqe c;
	int64_t h;

	need_queue();
	k = (struct call){ .nr = RL_SYS_yield };
	h = start_thread(call_entry, &k, RL_THREAD_SUPERVISED);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);	/* at call 39 */
	TEST_EQ(rl_thread_interrupt(h), 0);
	TEST_EQ(rl_thread_interrupt(h), 0);		/* merged */
	TEST_EQ(rl_thread_resume(h, RL_RESUME_SET_RAX, 77), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
	TEST_EQ(c.aux[0], 39);				/* leaving the foreign call */
	TEST_EQ(c.aux[1], 1);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	TEST_EQ(r.rax, 77);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);	/* one interrupt only */
	TEST_EQ(c.aux[0], 77);
	TEST_EQ(rl_handle_close(h), 0);

	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)spin_entry, new_stack() - 8, (uint64_t)&n,
			     RL_THREAD_SUPERVISED | RL_THREAD_STOPPED);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_interrupt(h), 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_INTERRUPT);
	TEST_EQ(c.aux[0], 0);
	TEST_EQ(c.aux[1], 0);
	TEST_EQ(rl_thread_regs(h, RL_REGS_GET, &r), 0);
	TEST_EQ(r.rip, (uint64_t)spin_entry);
	TEST_EQ(n, 0);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_ASSERT(moves(&n));
	TEST_EQ(rl_thread_kill(h), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(rl_handle_close(h), 0);
}

DEFINE_TEST(interrupt_errors)
{
	static volatile uint64_t n;
	struct rl_cqe c;
	int64_t h, weak;

	need_queue();
	TEST_EQ(rl_thread_interrupt(12345), -RILL_EBADF);
	TEST_EQ(rl_raw_thread_interrupt(1ull << 32), -RILL_EBADF);
	TEST_EQ(rl_thread_interrupt(sq.handle), -RILL_EBADFD);
	TEST_EQ(rl_thread_interrupt(RL_SELF_PROCESS), -RILL_EBADFD);
	/* Not supervised: nobody to report to. Ourselves neither. */
	h = start_thread(spin_entry, (void *)&n, 0);
	TEST_ASSERT(moves(&n));
	TEST_EQ(rl_thread_interrupt(h), -RILL_EINVAL);
	TEST_EQ(rl_thread_interrupt(RL_SELF_THREAD), -RILL_EINVAL);
	TEST_ASSERT(moves(&n));
	TEST_EQ(rl_thread_kill(h), 0);
	TEST_EQ(thread_wait((rl_handle_t)h), -RILL_EINTR);
	TEST_EQ(rl_handle_close(h), 0);
	/* Created, never started. */
	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)spin_entry, new_stack() - 8, (uint64_t)&n,
			     RL_THREAD_SUPERVISED);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_thread_interrupt(h), -RILL_EBUSY);
	/* Without OBSERVE. */
	weak = rl_handle_dup(h, RL_RIGHTS_ALL & ~RL_RIGHT_OBSERVE);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_thread_interrupt(weak), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_thread_kill(h), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ(rl_thread_interrupt(h), -RILL_ESRCH);
	TEST_EQ(rl_handle_close(h), 0);
}
