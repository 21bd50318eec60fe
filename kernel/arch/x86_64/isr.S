/*
 * isr.S - interrupt and exception entry stubs.
 *
 * 256 stubs, each 16 bytes apart in isr_stubs, push an error code of 0 when
 * the CPU does not (all vectors but 8, 10-14, 17, 21, 29, 30), then the vector,
 * and jump to isr_common. isr_common saves the general registers in the
 * order of struct trap_frame, calls trap_dispatch(frame), and returns with
 * iretq, interrupts off from trap_return on (iretq restores the frame's
 * IF). Entry from user mode (CS RPL 3) swaps GS so that gs:0 is the
 * per-CPU block in the kernel.
 */
#include <kernel/memlayout.h>
#include <arch/frame.h>

	.text
	.align 16
	.global isr_stubs
isr_stubs:
	vec = 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	pushq	$vec
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	isr_common
	vec = vec + 1
	.endr

isr_common:
	testb	$3, 24(%rsp)		/* CS of the interrupted context */
	jz	1f
	swapgs
1:	PUSH_GPRS
	cld
	testb	$1, smap_enabled(%rip)	/* a uaccess window (uaccess.S) closes */
	jz	3f
	clac
3:	movq	%rsp, %rdi
	call	trap_dispatch
	.global trap_return
trap_return:
	/* Interrupts off from here to iretq, whatever the handler left
	 * (a user page fault runs with them on): an interrupt between the
	 * swapgs below and iretq would find the user's GS in kernel mode. */
	cli
	POP_GPRS
	addq	$16, %rsp		/* vector, error */
	testb	$3, 8(%rsp)
	jz	2f
	swapgs
2:	iretq
