/*
 * entry.S - entering the kernel from user mode through SYSCALL, and the
 * first entry of a thread into user mode.
 *
 * SYSCALL leaves the user rip in rcx and rflags in r11, masks IF, DF, TF
 * and AC (MSR_SFMASK) and does not switch stacks. syscall_entry switches
 * to the thread's kernel stack (cpu->kstack_top, gs:24), builds the same
 * struct trap_frame an interrupt from user mode would (vector 256, the
 * number in the error field), and
 * calls syscall_dispatch(frame) with interrupts on. It leaves through
 * trap_return (iretq), so a frame changed by a supervisor or a signal is
 * restored whole.
 */
#include <arch/cpu_arch.h>
#include <arch/frame.h>

	.text
	.global syscall_entry
syscall_entry:
	swapgs
	movq	%rsp, %gs:8
	movq	%gs:24, %rsp
	pushq	$GDT_UDATA		/* ss */
	pushq	%gs:8			/* rsp */
	pushq	%r11			/* rflags */
	pushq	$GDT_UCODE		/* cs */
	pushq	%rcx			/* rip */
	pushq	%rax			/* error: the call's number, kept for
					   RL_OBS_INTERRUPT (rax gets the result) */
	pushq	$256			/* vector: system call */
	PUSH_GPRS
	xorl	%ebp, %ebp		/* end of the kernel backtrace */
	movq	%rsp, %rdi
	sti
	call	syscall_dispatch
	cli
	jmp	trap_return

/*
 * enter_user_first(rip, rsp, arg, kstack_top): start user mode at rip with
 * stack rsp and rdi = arg, every other register zero, on a fresh kernel
 * stack. Interrupts must be off.
 */
	.global enter_user_first
enter_user_first:
	movq	%rcx, %rsp
	pushq	$GDT_UDATA
	pushq	%rsi
	pushq	$0x202			/* IF */
	pushq	$GDT_UCODE
	pushq	%rdi
	pushq	$0
	pushq	$0
	movq	%rdx, %rdi
	xorl	%eax, %eax
	pushq	%rax			/* rax */
	pushq	%rax			/* rbx */
	pushq	%rax			/* rcx */
	pushq	%rax			/* rdx */
	pushq	%rax			/* rsi */
	pushq	%rdi			/* rdi = arg */
	pushq	%rax			/* rbp */
	pushq	%rax			/* r8 */
	pushq	%rax			/* r9 */
	pushq	%rax			/* r10 */
	pushq	%rax			/* r11 */
	pushq	%rax			/* r12 */
	pushq	%rax			/* r13 */
	pushq	%rax			/* r14 */
	pushq	%rax			/* r15 */
	jmp	trap_return

/*
 * enter_user_regs(const struct rl_regs *r, kstack_top): start user mode
 * with the registers r (a thread created stopped, whose registers its
 * supervisor set; rflags already sanitized by thread_regs), on a fresh
 * kernel stack. Interrupts must be off; r must not be on that stack.
 */
	.global enter_user_regs
enter_user_regs:
	movq	%rsi, %rsp
	pushq	$GDT_UDATA
	pushq	136(%rdi)		/* rsp */
	pushq	128(%rdi)		/* rflags */
	pushq	$GDT_UCODE
	pushq	120(%rdi)		/* rip */
	pushq	$0
	pushq	$0
	pushq	112(%rdi)		/* rax (struct rl_regs: the frame's order) */
	pushq	104(%rdi)		/* rbx */
	pushq	96(%rdi)		/* rcx */
	pushq	88(%rdi)		/* rdx */
	pushq	80(%rdi)		/* rsi */
	pushq	72(%rdi)		/* rdi */
	pushq	64(%rdi)		/* rbp */
	pushq	56(%rdi)		/* r8 */
	pushq	48(%rdi)		/* r9 */
	pushq	40(%rdi)		/* r10 */
	pushq	32(%rdi)		/* r11 */
	pushq	24(%rdi)		/* r12 */
	pushq	16(%rdi)		/* r13 */
	pushq	8(%rdi)			/* r14 */
	pushq	0(%rdi)			/* r15 */
	jmp	trap_return
