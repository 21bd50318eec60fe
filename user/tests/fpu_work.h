/*
 * fpu_work.h - the register workload of the FPU tests (user/tests/fpu.c
 * and its peer process, user/bin/fpu-peer.c).
 *
 * fpu_work_sse/avx load MXCSR, the x87 control word, an x87 value and the
 * sixteen xmm (ymm) registers from w, then loop w->iters times XORing
 * registers 0-13 with register 15 (14 and 15 stay as loaded), and store
 * them all back. Nothing but the kernel's switches can change the
 * registers between the loads and the stores, so after an odd number of
 * iterations out[i] = in[i] ^ in[15] (i < 14), after an even one in[i].
 * It writes w->id to *w->last first; each iteration compares *w->last
 * with w->id and, when another worker wrote it since, counts that in w->seen_other and writes w->id:
 * on one CPU that proves this worker was switched out in mid-loop, with
 * its registers live. With w->yield it enters the kernel (yield) every
 * iteration. rbx, rbp, r12-r15 are not touched (callee-saved).
 */
#ifndef FPU_WORK_H
#define FPU_WORK_H

#include <stdint.h>

struct fpu_work {
	uint8_t in[16][32];		/* 0 */
	uint8_t out[16][32];		/* 512 */
	uint64_t iters;			/* 1024 */
	uint64_t seen_other;		/* 1032 */
	uint64_t id;			/* 1040 */
	volatile uint64_t *last;	/* 1048 */
	double x87_in;			/* 1056 */
	double x87_out;			/* 1064 */
	uint32_t mxcsr_in;		/* 1072 */
	uint32_t mxcsr_out;		/* 1076 */
	uint16_t fcw_in;		/* 1080 */
	uint16_t fcw_out;		/* 1082 */
	uint32_t yield;			/* 1084: yield (a system call) every iteration */
};

_Static_assert(__builtin_offsetof(struct fpu_work, fcw_out) == 1082, "fpu_work layout");

void fpu_work_sse(struct fpu_work *w);
void fpu_work_avx(struct fpu_work *w);

#define FPU_WORK_BODY(LOAD, XOR, STORE, WIDTH)					\
	"	ldmxcsr 1072(%rdi)\n"						\
	"	fldcw 1080(%rdi)\n"						\
	"	fldl 1056(%rdi)\n"						\
	"	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"		\
	"	" LOAD " \\i*32(%rdi), %" WIDTH "\\i\n"				\
	"	.endr\n"							\
	"	movq 1024(%rdi), %r9\n"					\
	"	movq 1040(%rdi), %rdx\n"					\
	"	movq 1048(%rdi), %rsi\n"					\
	"	xorl %r8d, %r8d\n"						\
	"	movq %rdx, (%rsi)\n"						\
	"	testq %r9, %r9\n"						\
	"	jz 3f\n"							\
	"1:\n"									\
	"	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13\n"			\
	"	" XOR "\n"							\
	"	.endr\n"							\
	"	cmpq %rdx, (%rsi)\n"						\
	"	je 2f\n"							\
	"	incq %r8\n"							\
	"	movq %rdx, (%rsi)\n"						\
	"2:	cmpl $0, 1084(%rdi)\n"						\
	"	je 4f\n"							\
	"	movl $0x2000001c, %eax\n"	/* RL_SYS_yield */		\
	"	syscall\n"							\
	"4:	decq %r9\n"							\
	"	jnz 1b\n"							\
	"3:	movq %r8, 1032(%rdi)\n"						\
	"	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"		\
	"	" STORE " %" WIDTH "\\i, 512+\\i*32(%rdi)\n"			\
	"	.endr\n"							\
	"	fstpl 1064(%rdi)\n"						\
	"	fnstcw 1082(%rdi)\n"						\
	"	stmxcsr 1076(%rdi)\n"

__asm__(".text\n"
	".global fpu_work_sse\n"
	"fpu_work_sse:\n"
	FPU_WORK_BODY("movdqu", "xorps %xmm15, %xmm\\i", "movdqu", "xmm")
	"	ret\n"
	".global fpu_work_avx\n"
	"fpu_work_avx:\n"
	FPU_WORK_BODY("vmovdqu", "vxorps %ymm15, %ymm\\i, %ymm\\i", "vmovdqu", "ymm")
	"	vzeroupper\n"
	"	ret\n");

/* Does this CPU and kernel let user space use AVX (CPUID.AVX, OSXSAVE,
 * and XCR0 with SSE and AVX state)? */
static inline int fpu_have_avx(void)
{
	uint32_t a, b, c, d, lo, hi;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 28)) || !(c & (1u << 27)))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

/* Fill w from seed: distinct bytes per worker, an MXCSR with its own
 * rounding mode (exceptions masked), an FCW with its own rounding
 * control (precision stays extended: QEMU rounds loads to it), an x87 value of its own. */
static inline void fpu_work_fill(struct fpu_work *w, uint64_t seed, volatile uint64_t *last)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 32; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w->in[i][j] = (uint8_t)x;
		}
	w->id = seed;
	w->last = last;
	w->x87_in = (double)(seed & 0xffff) + 0.5;
	w->mxcsr_in = 0x1f80 | (uint32_t)(seed & 3) << 13 | (seed & 4 ? 0x8000u : 0);
	w->fcw_in = (uint16_t)(0x37f | ((seed >> 2) & 3) << 10);
}

/* Did the registers come back as they must? 0, or 1 + what differed. */
static inline int fpu_work_check(const struct fpu_work *w, int width)
{
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < width; j++) {
			uint8_t want = w->in[i][j];

			if (i < 14 && (w->iters & 1))
				want ^= w->in[15][j];
			if (w->out[i][j] != want)
				return 1 + i;
		}
	if (w->mxcsr_out != w->mxcsr_in)
		return 20;
	if (w->fcw_out != w->fcw_in)
		return 21;
	if (w->x87_out != w->x87_in)
		return 22;
	return 0;
}

#endif
