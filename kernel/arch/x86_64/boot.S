/*
 * boot.S - multiboot entry: 32-bit protected mode to 64-bit long mode.
 *
 * The boot loader (QEMU -kernel or GRUB) jumps to _start32 in 32-bit
 * protected mode with paging off, EAX = multiboot magic, EBX = physical
 * address of the multiboot information. We
 *   1. save EAX/EBX, zero .bss (physical addresses: paging is off),
 *   2. check that the CPU has long mode,
 *   3. build boot page tables mapping the first 1 GiB three times:
 *        identity      (PML4[0]),   needed while switching,
 *        direct map    (PML4[256]), 0xffff800000000000 + phys,
 *        kernel image  (PML4[511]), 0xffffffff80000000 + phys,
 *   4. enable PAE, long mode, NX, paging; far-jump into 64-bit code,
 *   5. jump to the higher half and call kmain(magic, info).
 * boot_pml4 stays in use by the AP trampoline (it needs a CR3 below 4 GiB);
 * paging.c builds the kernel's real page tables later.
 */
#include <kernel/memlayout.h>

#define MB_MAGIC	0x1BADB002
#define MB_FLAGS	((1 << 0) | (1 << 1) | (1 << 16))	/* align mods, mem info, address fields */

#define PHYS(sym)	((sym) - KERNEL_VMA)

	.section .multiboot, "a"
	.align 8
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
	.long mb_header			/* header_addr */
	.long __image_start_phys	/* load_addr */
	.long __load_end_phys		/* load_end_addr */
	.long __bss_end_phys		/* bss_end_addr */
	.long _start32			/* entry_addr */

	.section .boot.text, "ax"
	.code32
	.global _start32
_start32:
	cli
	cld
	/* .bss is not zeroed yet, so park the arguments in .data. */
	movl	%eax, PHYS(boot_magic)
	movl	%ebx, PHYS(boot_mbi)

	movl	$__bss_start_phys, %edi
	movl	$__bss_end_phys, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb

	movl	$PHYS(boot_stack_top), %esp

	/* Long mode available? CPUID 0x80000001 EDX bit 29. */
	movl	$0x80000000, %eax
	cpuid
	cmpl	$0x80000001, %eax
	jb	no_long_mode
	movl	$0x80000001, %eax
	cpuid
	testl	$(1 << 29), %edx
	jz	no_long_mode
	movl	%edx, %ebp		/* keep: bit 20 = NX */

	/* boot_pd: 512 x 2 MiB pages = first 1 GiB, present | write | huge. */
	movl	$PHYS(boot_pd), %edi
	movl	$0x83, %eax
	movl	$512, %ecx
1:	movl	%eax, (%edi)
	movl	$0, 4(%edi)
	addl	$0x200000, %eax
	addl	$8, %edi
	loop	1b

	movl	$PHYS(boot_pd), %eax
	orl	$3, %eax
	movl	%eax, PHYS(boot_pdpt_lo)		/* pdpt_lo[0] */
	movl	%eax, PHYS(boot_pdpt_hi) + 510 * 8	/* pdpt_hi[510]: -2 GiB */

	movl	$PHYS(boot_pdpt_lo), %eax
	orl	$3, %eax
	movl	%eax, PHYS(boot_pml4)			/* identity */
	movl	%eax, PHYS(boot_pml4) + 256 * 8		/* direct map */
	movl	$PHYS(boot_pdpt_hi), %eax
	orl	$3, %eax
	movl	%eax, PHYS(boot_pml4) + 511 * 8		/* kernel image */

	movl	%cr4, %eax
	orl	$(1 << 5), %eax		/* PAE */
	movl	%eax, %cr4

	movl	$PHYS(boot_pml4), %eax
	movl	%eax, %cr3

	movl	$0xC0000080, %ecx	/* EFER */
	rdmsr
	orl	$(1 << 8), %eax		/* LME */
	testl	$(1 << 20), %ebp
	jz	2f
	orl	$(1 << 11), %eax	/* NXE */
2:	wrmsr

	movl	%cr0, %eax
	orl	$((1 << 31) | (1 << 16) | 1), %eax	/* PG | WP | PE */
	movl	%eax, %cr0

	lgdt	boot_gdtr
	ljmp	$0x08, $start64_low

no_long_mode:
	/* Say so on COM1 (no init needed for QEMU) and stop. */
	movl	$no_lm_msg, %esi
	movw	$0x3f8, %dx
3:	lodsb
	testb	%al, %al
	jz	4f
	outb	%al, %dx
	jmp	3b
4:	hlt
	jmp	4b

	.code64
start64_low:
	movabs	$start64_high, %rax
	jmp	*%rax

	.section .boot.data, "aw"
	.align 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
boot_gdt_end:
	.global boot_gdtr
boot_gdtr:
	.word boot_gdt_end - boot_gdt - 1
	.quad boot_gdt
no_lm_msg:
	.asciz "rill: this CPU has no long mode (x86-64 required)\r\n"

	.text
start64_high:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	xorw	%ax, %ax
	movw	%ax, %fs
	movw	%ax, %gs
	movabs	$boot_stack_top, %rsp
	xorl	%ebp, %ebp
	movl	boot_magic(%rip), %edi
	movl	boot_mbi(%rip), %esi
	call	kmain
5:	cli
	hlt
	jmp	5b

	.data
	.align 4
	.global boot_magic, boot_mbi
boot_magic:	.long 0
boot_mbi:	.long 0

	.bss
	.align 4096
	.global boot_pml4
boot_pml4:	.skip 4096
boot_pdpt_lo:	.skip 4096
boot_pdpt_hi:	.skip 4096
boot_pd:	.skip 4096
	.global boot_stack_bottom, boot_stack_top
boot_stack_bottom:
	.skip 16384
boot_stack_top:
