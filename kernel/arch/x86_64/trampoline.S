/*
 * trampoline.S - real-mode start of the application processors.
 *
 * This code is copied to AP_TRAMPOLINE_PHYS (0x8000) and runs there after
 * the STARTUP IPI, in 16-bit real mode with CS:IP = 0x0800:0000. It goes
 * through 32-bit protected mode to long mode using the boot page tables
 * (boot_pml4, below 4 GiB, which also map the kernel image), then jumps to
 * ap_start64 in the higher half, which switches to the kernel's page tables
 * and the AP's guarded stack and calls ap_entry(cpu).
 * The BSP fills tramp_cr3/stack/entry/cpu before each STARTUP IPI, and boots
 * one AP at a time, so one parameter block suffices.
 */
#include <kernel/memlayout.h>

#define T(sym)	((sym) - tramp_start + AP_TRAMPOLINE_PHYS)

	.section .trampoline, "a"
	.code16
	.global tramp_start, tramp_end
tramp_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	lgdtl	T(tramp_gdtr)
	movl	%cr0, %eax
	orl	$1, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $T(tramp32)

	.code32
tramp32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	%cr4, %eax
	orl	$((1 << 5) | (1 << 7)), %eax	/* PAE | PGE */
	movl	%eax, %cr4
	movl	T(tramp_cr3), %eax
	movl	%eax, %cr3
	movl	$0xC0000080, %ecx
	rdmsr
	orl	$(1 << 8), %eax			/* LME */
	orl	T(tramp_efer_nx), %eax		/* NXE when the BSP had it */
	wrmsr
	movl	%cr0, %eax
	orl	$((1 << 31) | (1 << 16) | 1), %eax
	movl	%eax, %cr0
	ljmpl	$0x18, $T(tramp64)

	.code64
tramp64:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	/* Still on the boot tables: hand over to ap_start64 in the higher
	 * half, which loads the kernel's tables and the AP's own stack. */
	movq	T(tramp_cpu), %rdi
	movq	T(tramp_stack), %rsi
	movq	T(tramp_kcr3), %rdx
	movq	T(tramp_entry), %rax
	jmp	*%rax

	.align 16
tramp_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
tramp_gdtr:
	.word tramp_gdtr - tramp_gdt - 1
	.long T(tramp_gdt)
	.align 8
	.global tramp_cr3, tramp_kcr3, tramp_stack, tramp_entry, tramp_cpu, tramp_efer_nx
tramp_cr3:	.quad 0		/* boot_pml4: identity + kernel image */
tramp_kcr3:	.quad 0		/* the kernel's own PML4 */
tramp_stack:	.quad 0
tramp_entry:	.quad 0
tramp_cpu:	.quad 0
tramp_efer_nx:	.quad 0
tramp_end:

	.text
	.global ap_start64
ap_start64:
	movq	%rdx, %cr3
	movq	%rsi, %rsp
	xorl	%ebp, %ebp
	call	ap_entry
	ud2
