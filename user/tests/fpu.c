/*
 * In-OS tests of user FPU state (x87, SSE, AVX where the CPU has it):
 * kept whole per thread across preemption, blocking and other processes'
 * use of the registers; a new thread starts with the default state.
 * fpu_work.h has the register workload; bin/fpu-peer runs it in other
 * processes.
 */
#include <rill/rl.h>
#include <rill/test.h>
#include <rill/string.h>
#include <rill/format.h>
#include "fpu_work.h"

#define MS		1000000ull
#define WORKERS		6
#define ROUNDS		4

struct worker {
	struct fpu_work w __attribute__((aligned(64)));
	uint64_t seed;
	int avx;
	uint32_t yield;
	int bad;		/* fpu_work_check of the first bad round */
	uint64_t seen_other;	/* summed over rounds */
};

static volatile uint64_t shared_last;

static void worker_main(void *arg)
{
	struct worker *k = arg;

	for (uint64_t r = 0; r < ROUNDS && !k->bad; r++) {
		fpu_work_fill(&k->w, k->seed + r * 100, &shared_last);
		k->w.iters = (k->yield ? 300 : 1000000) + r;	/* odd and even */
		k->w.yield = k->yield;
		if (k->avx)
			fpu_work_avx(&k->w);
		else
			fpu_work_sse(&k->w);
		k->bad = fpu_work_check(&k->w, k->avx ? 32 : 16);
		k->seen_other += k->w.seen_other;
	}
}

/* The checker must notice a register that changed: its own test. */
DEFINE_TEST(checker_sees_damage)
{
	static struct fpu_work w __attribute__((aligned(64)));
	static volatile uint64_t last;

	fpu_work_fill(&w, 3, &last);
	w.iters = 7;
	fpu_work_sse(&w);
	TEST_EQ(fpu_work_check(&w, 16), 0);
	TEST_EQ(w.seen_other, 0);		/* nobody else ran */
	w.out[9][5] ^= 1;
	TEST_EQ(fpu_work_check(&w, 16), 1 + 9);
	w.out[9][5] ^= 1;
	w.mxcsr_out ^= 0x2000;
	TEST_EQ(fpu_work_check(&w, 16), 20);
	if (fpu_have_avx()) {
		fpu_work_fill(&w, 4, &last);
		w.iters = 8;
		fpu_work_avx(&w);
		TEST_EQ(fpu_work_check(&w, 32), 0);
		w.out[2][20] ^= 0x80;		/* an upper half */
		TEST_EQ(fpu_work_check(&w, 32), 1 + 2);
	}
}

/*
 * WORKERS threads of this process and two other processes, each with its
 * own registers, MXCSR, FCW and x87 value, all running at once (more of
 * them than CPUs), half of the threads with AVX where there is AVX and
 * half SSE only: every round's registers must come back as loaded.
 * seen_other counts the times a worker found another one had run since
 * its last iteration while its registers were live: on one CPU, proof
 * that it was switched out mid-round.
 */
static void run_workers(uint32_t yield, uint64_t seed0)
{
	static struct worker k[WORKERS] __attribute__((aligned(64)));
	int64_t t[WORKERS], peer[2];
	uint64_t seen = 0;
	int avx = fpu_have_avx();

	for (int i = 0; i < 2; i++) {
		char seed[24];
		const char *argv[] = { "fpu-peer", seed, "4" };

		rill_snprintf(seed, sizeof(seed), "%lu", (unsigned long)(seed0 + 50 + i));
		peer[i] = rl_spawn_file("bin/fpu-peer", 3, argv, NULL, NULL);
		TEST_ASSERT(peer[i] > 0);
	}
	for (int i = 0; i < WORKERS; i++) {
		memset(&k[i], 0, sizeof(k[i]));
		k[i].seed = seed0 + (uint64_t)i;
		k[i].avx = avx && (i & 1);
		k[i].yield = yield;
		t[i] = rl_thread_spawn(worker_main, &k[i]);
		TEST_ASSERT(t[i] > 0);
	}
	for (int i = 0; i < WORKERS; i++) {
		TEST_EQ(rl_thread_join((rl_handle_t)t[i]), 0);
		TEST_EQ(rl_handle_close(t[i]), 0);
		if (k[i].bad)
			rl_test_fail(__FILE__, __LINE__, "worker %d (%s): register state %d damaged",
				     i, k[i].avx ? "AVX" : "SSE", k[i].bad);
		seen += k[i].seen_other;
	}
	for (int i = 0; i < 2; i++) {
		TEST_EQ(rl_process_wait((rl_handle_t)peer[i]), 0);
		TEST_EQ(rl_handle_close(peer[i]), 0);
	}
	TEST_ASSERT(seen > 0);
	rl_printf("fpu: %s workers, %lu switches between them seen mid-round\n",
		  avx ? "AVX and SSE" : "SSE", (unsigned long)seen);
}

DEFINE_TEST(preempted_threads_and_processes_keep_state)
{
	run_workers(0, 1);
}

DEFINE_TEST(yielding_threads_keep_state)
{
	run_workers(1, 1000);
}

/* ---- a new thread's state ------------------------------------------------ */

struct fresh {
	uint8_t env[28];		/* 0: fnstenv */
	uint32_t pad0;
	uint32_t mxcsr;			/* 32 */
	uint32_t pad1;
	uint32_t avx;			/* 40 */
	uint8_t pad2[20];
	uint8_t xmm[16][16];		/* 64 */
	uint8_t ymm_hi[16][16];		/* 320 */
};

_Static_assert(__builtin_offsetof(struct fresh, ymm_hi) == 320, "fresh layout");

/* A thread's first instructions (rdi = struct fresh *): record the FPU
 * state the kernel started it with, then exit. */
void fresh_entry(void *arg);
__asm__(".text\n"
	".global fresh_entry\n"
	"fresh_entry:\n"
	"	fnstenv 0(%rdi)\n"
	"	stmxcsr 32(%rdi)\n"
	"	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	movdqu %xmm\\i, 64+\\i*16(%rdi)\n"
	"	.endr\n"
	"	cmpl $0, 40(%rdi)\n"
	"	je 1f\n"
	"	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vextractf128 $1, %ymm\\i, 320+\\i*16(%rdi)\n"
	"	.endr\n"
	"1:	xorl %edi, %edi\n"
	"	movl $0x20000010, %eax\n"	/* RL_SYS_thread_exit */
	"	syscall\n"
	"	ud2\n");

_Static_assert(RL_SYS_thread_exit == 0x20000010, "fresh_entry's exit number");

/* Dirty every register here, then start a thread (on one CPU it runs
 * right after this one): its first instruction must see the default
 * state (FCW 0x37f, empty x87 stack, MXCSR 0x1f80, all zero), none of ours. */
DEFINE_TEST(new_thread_starts_clean)
{
	static struct fresh f;
	static uint8_t junk[16][32] __attribute__((aligned(32)));
	uint16_t fcw = 0x0c7f, fcw0;
	uint32_t mxcsr = 0x7f80, mxcsr0;
	double d = 3.25;
	char *stack = rl_alloc_pages(16384);
	int64_t t;

	TEST_ASSERT(stack != NULL);
	for (int i = 0; i < 16; i++)
		memset(junk[i], 0xa5 ^ i, 32);
	memset(&f, 0x5a, sizeof(f));
	f.avx = (uint32_t)fpu_have_avx();
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)fresh_entry,
			     (uint64_t)stack + 16384 - 8, (uint64_t)&f, 0);
	TEST_ASSERT(t > 0);
	__asm__ volatile("fnstcw %0; stmxcsr %1" : "=m"(fcw0), "=m"(mxcsr0));
	__asm__ volatile("fldcw %0; ldmxcsr %1; fldl %2; fldl %2"
			 : : "m"(fcw), "m"(mxcsr), "m"(d));
	if (f.avx)
		__asm__ volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
				 "vmovdqu \\i*32(%0), %%ymm\\i\n"
				 ".endr" : : "r"(junk) : "memory");
	else
		__asm__ volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
				 "movdqu \\i*32(%0), %%xmm\\i\n"
				 ".endr" : : "r"(junk) : "memory");
	/* Straight to the kernel, registers still dirty. */
	{
		register uint64_t rdi __asm__("rdi") = (uint64_t)t;
		uint64_t rax = RL_SYS_thread_start;

		__asm__ volatile("syscall" : "+a"(rax), "+r"(rdi) : : "rcx", "r11", "memory");
		TEST_EQ(rax, 0);
		rax = RL_SYS_yield;
		__asm__ volatile("syscall" : "+a"(rax) : : "rcx", "r11", "memory");
	}
	__asm__ volatile("fstp %%st(0); fstp %%st(0); fldcw %0; ldmxcsr %1"
			 : : "m"(fcw0), "m"(mxcsr0));
	if (f.avx)
		__asm__ volatile("vzeroupper");
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(*(uint16_t *)f.env, 0x37f);		/* FCW */
	TEST_EQ(*(uint16_t *)(f.env + 4) & 0x3800, 0);	/* FSW: TOP 0 */
	TEST_EQ(*(uint16_t *)(f.env + 8), 0xffff);	/* FTW: every register empty */
	TEST_EQ(f.mxcsr, 0x1f80);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++) {
			TEST_EQ(f.xmm[i][j], 0);
			if (f.avx)
				TEST_EQ(f.ymm_hi[i][j], 0);
		}
}

/* ---- thread_fpu: a stopped thread's FPU state ------------------------------------ */

#define WAIT_NS		(20ull * 1000000000ull)

static struct rl_queue sq;	/* the supervisor's queue */

/* Submit op on h and wait for its completion's result (-100000: none). */
static int64_t sup_op(uint16_t opcode, rl_handle_t h, uint64_t arg0, struct rl_cqe *out)
{
	static uint64_t ud = 5000;
	uint64_t deadline = rl_clock_ns() + WAIT_NS;
	struct rl_sqe *e = rl_get_sqe(&sq);
	struct rl_cqe *c;

	if (!e)
		return -100001;
	e->opcode = opcode;
	e->handle = h;
	e->user_data = ++ud;
	e->arg[0] = arg0;
	if (rl_submit(&sq) != 1)
		return -100002;
	while (!(c = rl_peek_cqe(&sq))) {
		int64_t r = rl_submit_and_wait(&sq, 1, deadline);

		if (r < 0 && r != -RILL_EINTR && !rl_peek_cqe(&sq))
			return -100000;
	}
	*out = *c;
	rl_cqe_done(&sq);
	if (out->user_data != ud)
		return -100003;
	return out->result;
}

static int64_t observe(rl_handle_t h, struct rl_cqe *c)
{
	return sup_op(RL_OP_OBSERVE, h, 0, c);
}

/*
 * A supervised thread's program (rdi = struct fpu_work *, kept across
 * the calls): load the registers from in[] (ymm when w->yield is set,
 * else xmm), MXCSR, FCW and one x87 value; stop (foreign call 39); store
 * them in out[] and the *_out fields; stop again; exit 0.
 */
void fpu_stop_entry(void *w);
__asm__(".text\n"
	".global fpu_stop_entry\n"
	"fpu_stop_entry:\n"
	"	ldmxcsr 1072(%rdi)\n"
	"	fldcw 1080(%rdi)\n"
	"	fldl 1056(%rdi)\n"
	"	cmpl $0, 1084(%rdi)\n"
	"	je 1f\n"
	"	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu \\i*32(%rdi), %ymm\\i\n"
	"	.endr\n"
	"	jmp 2f\n"
	"1:	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	movdqu \\i*32(%rdi), %xmm\\i\n"
	"	.endr\n"
	"2:	movl $39, %eax\n"
	"	syscall\n"
	"	cmpl $0, 1084(%rdi)\n"
	"	je 3f\n"
	"	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	vmovdqu %ymm\\i, 512+\\i*32(%rdi)\n"
	"	.endr\n"
	"	jmp 4f\n"
	"3:	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
	"	movdqu %xmm\\i, 512+\\i*32(%rdi)\n"
	"	.endr\n"
	"4:	stmxcsr 1076(%rdi)\n"
	"	fnstcw 1082(%rdi)\n"
	"	fstpl 1064(%rdi)\n"
	"	movl $39, %eax\n"
	"	syscall\n"
	"	xorl %edi, %edi\n"
	"	movl $0x20000010, %eax\n"	/* RL_SYS_thread_exit */
	"	syscall\n"
	"	ud2\n");

/* A supervised thread of ours running fpu_stop_entry(w), stopped at its
 * first foreign call. */
static int64_t stopped_thread(struct fpu_work *w)
{
	static char *stacks;
	static int used;
	struct rl_cqe c;
	int64_t h;

	if (!sq.handle && rl_queue_init(&sq, 8, 16))
		rl_test_fail(__FILE__, __LINE__, "no queue");
	if (!stacks)
		stacks = rl_alloc_pages(16 * 16384);
	if (!stacks || used == 16)
		rl_test_fail(__FILE__, __LINE__, "no stack");
	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)fpu_stop_entry,
			     (uint64_t)stacks + (uint64_t)++used * 16384 - 8, (uint64_t)w,
			     RL_THREAD_SUPERVISED);
	if (h <= 0)
		rl_test_fail(__FILE__, __LINE__, "thread_create: %ld", (long)h);
	TEST_EQ(rl_thread_start(h), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	return h;
}

static void end_thread(int64_t h, uint64_t flags, int64_t want)
{
	struct rl_cqe c;

	TEST_EQ(rl_thread_resume(h, flags, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_EXIT);
	TEST_EQ((int64_t)c.aux[0], want);
	TEST_EQ(rl_handle_close(h), 0);
}

/* The 80-bit form of a double (normal, nonzero). */
static void to_ext80(double d, uint8_t out[10])
{
	uint64_t b, mant;
	int exp;

	memcpy(&b, &d, 8);
	exp = (int)((b >> 52) & 0x7ff) - 1023 + 16383;
	mant = (1ull << 63) | (b & ((1ull << 52) - 1)) << 11;
	memcpy(out, &mant, 8);
	out[8] = (uint8_t)exp;
	out[9] = (uint8_t)((exp >> 8) | (b >> 63 ? 0x80 : 0));
}

DEFINE_TEST(fpu_get_set_roundtrip)
{
	static struct fpu_work w __attribute__((aligned(64)));
	static struct rl_fpu_area a __attribute__((aligned(64)));
	static volatile uint64_t last;
	int avx = fpu_have_avx();
	uint32_t size = avx ? RL_FPU_SIZE_AVX : RL_FPU_SIZE_SSE;
	uint8_t ext[10];
	struct rl_cqe c;
	int64_t h;

	fpu_work_fill(&w, 77, &last);
	w.yield = (uint32_t)avx;
	h = stopped_thread(&w);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, 0, 0), size);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, 0, 0), size);
	memset(&a, 0xcc, sizeof(a));
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &a, sizeof(a)), size);
	/* What it loaded, as it loaded it. */
	TEST_EQ(a.fcw, w.fcw_in);
	TEST_EQ(a.mxcsr, w.mxcsr_in);
	TEST_ASSERT(a.mxcsr_mask != 0);
	TEST_EQ((a.fsw >> 11) & 7, 7);		/* TOP after one push */
	TEST_EQ(a.ftw, 0x80);			/* physical register 7 valid */
	to_ext80(w.x87_in, ext);
	TEST_EQ(memcmp(a.st[0], ext, 10), 0);
	for (int i = 0; i < 16; i++) {
		TEST_EQ(memcmp(a.xmm[i], w.in[i], 16), 0);
		if (avx)
			TEST_EQ(memcmp(a.ymm_hi[i], w.in[i] + 16, 16), 0);
	}
	TEST_EQ(a.xstate_bv, avx ? 7 : 3);
	TEST_EQ(a.xcomp_bv, 0);
	/* Change it all; the thread must find the new values in its registers. */
	for (int i = 0; i < 16; i++) {
		for (int j = 0; j < 16; j++) {
			a.xmm[i][j] = (uint8_t)(i * 16 + j);
			if (avx)
				a.ymm_hi[i][j] = (uint8_t)(255 - i * 16 - j);
		}
	}
	a.mxcsr = 0x1f80 | 0x6000;		/* round toward zero */
	a.fcw = 0x37f | 0x0c00;
	to_ext80(-6.5, a.st[0]);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), size);
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);
	TEST_EQ(w.mxcsr_out, 0x7f80);
	TEST_EQ(w.fcw_out, 0xf7f);
	TEST_ASSERT(w.x87_out == -6.5);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++) {
			TEST_EQ(w.out[i][j], (uint8_t)(i * 16 + j));
			if (avx)
				TEST_EQ(w.out[i][16 + j], (uint8_t)(255 - i * 16 - j));
		}
	/* Stopped again: what it has now (its x87 stack is empty). */
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &a, size), size);
	TEST_EQ(a.mxcsr, 0x7f80);
	TEST_EQ(a.ftw, 0);
	TEST_EQ(a.xmm[3][1], 3 * 16 + 1);
	end_thread(h, 0, 0);
}

/* A SET with an xstate_bv bit clear puts that component in its initial
 * state; GET then shows it written out, bit set. */
DEFINE_TEST(fpu_set_initial_components)
{
	static struct fpu_work w __attribute__((aligned(64)));
	static struct rl_fpu_area a __attribute__((aligned(64)));
	static volatile uint64_t last;
	int avx = fpu_have_avx();
	uint32_t size = avx ? RL_FPU_SIZE_AVX : RL_FPU_SIZE_SSE;
	struct rl_cqe c;
	int64_t h;

	fpu_work_fill(&w, 78, &last);
	w.yield = (uint32_t)avx;
	h = stopped_thread(&w);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &a, size), size);
	a.xstate_bv = RL_FPU_XSTATE_X87;	/* SSE and AVX: initial */
	a.mxcsr = 0x1f80;
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), size);
	memset(&a, 0xee, sizeof(a));
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &a, size), size);
	TEST_EQ(a.xstate_bv, avx ? 7 : 3);
	TEST_EQ(a.fcw, w.fcw_in);		/* x87 kept */
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 16; j++) {
			TEST_EQ(a.xmm[i][j], 0);
			if (avx)
				TEST_EQ(a.ymm_hi[i][j], 0);
		}
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	TEST_EQ(observe((rl_handle_t)h, &c), RL_OBS_SYSCALL);
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < (avx ? 32 : 16); j++)
			TEST_EQ(w.out[i][j], 0);
	TEST_EQ(w.mxcsr_out, 0x1f80);
	TEST_ASSERT(w.x87_out == w.x87_in);
	end_thread(h, 0, 0);
}

static uint64_t rnd_state = 0x1234567;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

DEFINE_TEST(fpu_errors_and_hostile_areas)
{
	static struct fpu_work w __attribute__((aligned(64)));
	static struct rl_fpu_area a, good, back;
	static volatile uint64_t last;
	int avx = fpu_have_avx();
	uint32_t size = avx ? RL_FPU_SIZE_AVX : RL_FPU_SIZE_SSE;
	uint64_t accepted = 0, refused = 0;
	struct rl_cqe c;
	int64_t h, weak, idle;

	fpu_work_fill(&w, 79, &last);
	w.yield = (uint32_t)avx;
	h = stopped_thread(&w);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &good, size), size);
	/* Operation, handle, rights. */
	TEST_EQ(rl_thread_fpu(h, 2, &a, size), -RILL_EINVAL);
	TEST_EQ(rl_thread_fpu(h, ~0ull, &a, size), -RILL_EINVAL);
	TEST_EQ(rl_thread_fpu(12345, RL_FPU_GET, &a, size), -RILL_EBADF);
	TEST_EQ(rl_raw_thread_fpu((uint64_t)h | 1ull << 32, RL_FPU_GET, (uint64_t)&a, size),
		-RILL_EBADF);
	TEST_EQ(rl_thread_fpu(sq.handle, RL_FPU_GET, &a, size), -RILL_EBADFD);
	TEST_EQ(rl_thread_fpu(RL_SELF_PROCESS, RL_FPU_GET, &a, size), -RILL_EBADFD);
	weak = rl_handle_dup(h, RL_RIGHTS_ALL & ~RL_RIGHT_OBSERVE);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_thread_fpu(weak, RL_FPU_GET, &a, size), -RILL_EPERM);
	TEST_EQ(rl_thread_fpu(weak, RL_FPU_SET, &good, size), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	/* Lengths and pointers. */
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &a, size - 1), -RILL_EINVAL);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &a, 1), -RILL_EINVAL);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &good, size - 1), -RILL_EINVAL);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &good, size + 1), -RILL_EINVAL);
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &good, ~0ull), -RILL_EINVAL);
	TEST_EQ(rl_raw_thread_fpu(h, RL_FPU_GET, 0x10, size), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_fpu(h, RL_FPU_GET, 0xffff800000000000ull, size), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_fpu(h, RL_FPU_GET, 0x7ffffffffff0ull, size), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_fpu(h, RL_FPU_SET, 0x10, size), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_fpu(h, RL_FPU_SET, 0xffffffff80000000ull, size), -RILL_EFAULT);
	/* Headers and MXCSR XRSTOR would fault on. */
	a = good;
	a.xstate_bv |= 1ull << 3;
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), -RILL_EINVAL);
	a = good;
	a.xstate_bv = 1ull << 63;
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), -RILL_EINVAL);
	if (!avx) {
		a = good;
		a.xstate_bv |= RL_FPU_XSTATE_AVX;
		TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), -RILL_EINVAL);
	}
	a = good;
	a.xcomp_bv = 1ull << 63 | good.xstate_bv;	/* the compacted form */
	TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), -RILL_EINVAL);
	for (int i = 0; i < 6; i++) {
		a = good;
		a.reserved2[i] = 1ull << (i * 9);
		TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), -RILL_EINVAL);
	}
	if (good.mxcsr_mask != 0xffffffffu) {
		a = good;
		a.mxcsr = 0x1f80 | (~good.mxcsr_mask & -~good.mxcsr_mask);	/* lowest reserved bit */
		TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), -RILL_EINVAL);
		a.mxcsr = 0xffffffffu;
		TEST_EQ(rl_thread_fpu(h, RL_FPU_SET, &a, size), -RILL_EINVAL);
	}
	/* Refused areas changed nothing. */
	TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &back, size), size);
	TEST_EQ(memcmp(&back, &good, size), 0);
	/* Garbage: random bytes are refused (header); random bytes with the
	 * rules kept are taken and read back as given. */
	for (int n = 0; n < 400; n++) {
		uint8_t *b = (uint8_t *)&a;
		int64_t r;

		for (uint32_t i = 0; i < size; i += 8) {
			uint64_t x = rnd();

			memcpy(b + i, &x, 8);
		}
		if (n & 1) {
			a.xstate_bv &= avx ? 7 : 3;
			a.xcomp_bv = 0;
			memset(a.reserved2, 0, sizeof(a.reserved2));
			a.mxcsr &= good.mxcsr_mask;
		}
		r = rl_thread_fpu(h, RL_FPU_SET, &a, size);
		if (n & 1) {
			TEST_EQ(r, size);
			accepted++;
			TEST_EQ(rl_thread_fpu(h, RL_FPU_GET, &back, size), size);
			TEST_EQ(back.mxcsr, a.mxcsr);
			if (a.xstate_bv & RL_FPU_XSTATE_SSE)
				TEST_EQ(memcmp(back.xmm, a.xmm, sizeof(a.xmm)), 0);
			if (a.xstate_bv & RL_FPU_XSTATE_X87)
				TEST_EQ(back.fcw, a.fcw);
		} else {
			TEST_EQ(r, -RILL_EINVAL);
			refused++;
		}
	}
	TEST_ASSERT(accepted > 0 && refused > 0);
	/* The last garbage taken goes into its registers: it runs on to its
	 * next stop, or faults in user mode (an unmasked x87 or SIMD
	 * exception): either way the kernel is not hurt. */
	TEST_EQ(rl_thread_resume(h, 0, 0), 0);
	{
		int64_t k = observe((rl_handle_t)h, &c);

		TEST_ASSERT(k == RL_OBS_SYSCALL || k == RL_OBS_FAULT);
	}
	end_thread(h, RL_RESUME_KILL, -RILL_EINTR);
	/* A thread that is not stopped: created, not started; and gone. */
	idle = rl_thread_create(RL_SELF_PROCESS, (uint64_t)fpu_stop_entry, 0x20000, 0,
				RL_THREAD_SUPERVISED);
	TEST_ASSERT(idle > 0);
	TEST_EQ(rl_thread_fpu(idle, RL_FPU_GET, &a, size), -RILL_EBUSY);
	TEST_EQ(rl_thread_fpu(idle, RL_FPU_SET, &good, size), -RILL_EBUSY);
	TEST_EQ(rl_thread_fpu(idle, RL_FPU_GET, 0, 0), size);
	TEST_EQ(rl_thread_kill(idle), 0);
	TEST_EQ(observe((rl_handle_t)idle, &c), RL_OBS_EXIT);
	TEST_EQ(rl_thread_fpu(idle, RL_FPU_GET, &a, size), -RILL_EBUSY);
	TEST_EQ(rl_handle_close(idle), 0);
	/* Ourselves: running. */
	TEST_EQ(rl_thread_fpu(RL_SELF_THREAD, RL_FPU_GET, &a, size), -RILL_EBUSY);
}
