/*
 * rt_switch.S - the runtime's context switch between tasks of one loop
 * (lib/user/rt.c): no system call, the callee-saved registers and rsp.
 *
 *	void rt_switch(uint64_t *save_rsp, uint64_t rsp)
 *
 * Pushes rbp, rbx, r12-r15 on the current stack, stores rsp in *save_rsp,
 * loads rsp and pops the same six from the new stack, then returns on it.
 * Everything else is caller-saved in the SysV ABI, so a C call to it keeps
 * nothing live in them. The x87 control word and MXCSR are not switched:
 * tasks of one loop share them (docs/runtime.md).
 *
 * A new task's stack is laid out by rt.c as if it had called rt_switch:
 * six zeroed registers but r12 = the task, then the address of
 * rt_task_start, which calls rt_task_main(task) and never returns.
 */
	.text
	.global rt_switch
	.type rt_switch, @function
rt_switch:
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
	.size rt_switch, . - rt_switch

	.global rt_task_start
	.type rt_task_start, @function
rt_task_start:
	movq	%r12, %rdi
	call	rt_task_main
	ud2
	.size rt_task_start, . - rt_task_start

	.section .note.GNU-stack, "", @progbits
