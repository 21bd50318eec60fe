/*
 * switch.S - kernel thread context switch.
 *
 * context_switch(uint64_t *save_rsp, uint64_t new_rsp): pushes the
 * callee-saved registers on the current stack, stores the stack pointer in
 * *save_rsp, loads new_rsp, pops the other thread's registers and returns
 * into it. Caller-saved registers need no saving: the C caller assumes
 * they are clobbered.
 *
 * A new thread's stack is prepared by sched.c so that the first switch to
 * it "returns" into thread_trampoline with r12 = entry, r13 = arg.
 */
	.text
	.global context_switch
context_switch:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret

	.global thread_trampoline
thread_trampoline:
	movq	%r12, %rdi
	movq	%r13, %rsi
	xorl	%ebp, %ebp
	call	thread_start
	ud2
