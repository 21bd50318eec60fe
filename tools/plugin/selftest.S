/*
 * selftest.S - a tiny 32-bit multiboot guest that proves the insncount
 * plugin exact (run by tools/plugin/selftest.sh, built into
 * build/plugin-test/).
 *
 * Every region is measured twice: by the plugin (start/stop markers) and by
 * QEMU's own -icount counter, which the guest reads with rdtsc (under
 * -icount the TSC is the instruction count; rdtsc ends its TB, so a read
 * includes every instruction up to and including the rdtsc itself). Between
 * the two rdtsc of a region, icount sees: mov, mov, START, <body>, STOP,
 * rdtsc = body + 5 instructions. After each region the guest prints
 *
 *     BENCHREGION name=<name> iters=<n> tsc=<rdtsc delta>
 *
 * on COM1, and at the end exits QEMU through isa-debug-exit (port 0xf4,
 * value 0: QEMU exit status 1). The expected counts live in selftest.sh.
 *
 * The REP regions (R8-R12) prove the rule that a REP string instruction
 * counts once per execution however many iterations it makes, in 32-bit
 * code and, after a switch to long mode, in 64-bit code (rep movsq, the
 * REX.W form). QEMU's icount (the rdtsc deltas) counts every iteration.
 */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0

	.set COM1, 0x3f8
	.set DEBUG_EXIT, 0xf4

/* The plugin's markers: nopl disp32(%eax) = 0f 1f 80 <disp32>. */
	.macro MARK n
	.byte 0x0f, 0x1f, 0x80
	.long 0x52494c00 + \n
	.endm
	.macro MARK_START
	MARK 1
	.endm
	.macro MARK_STOP
	MARK 2
	.endm
	.macro MARK_RESET
	MARK 3
	.endm

	.macro BEGIN
	rdtsc
	mov %eax, t0
	mov %edx, t0 + 4
	MARK_START
	.endm

	/* name: a label of a NUL-terminated string; iters: a constant. */
	.macro END name, iters
	MARK_STOP
	rdtsc
	mov $\name, %esi
	mov $\iters, %ebx
	call report
	.endm

	/* The same in 64-bit code. An elf32 object cannot hold the
	 * sign-extended absolute addresses of 64-bit memory operands, so t0 is
	 * reached through a register (zero-extended by the 32-bit mov): one
	 * more instruction, body + 6 between the two rdtsc. */
	.macro BEGIN64
	rdtsc
	mov $t0, %r8d
	mov %eax, (%r8)
	mov %edx, 4(%r8)
	MARK_START
	.endm

	.macro END64 name, iters
	MARK_STOP
	rdtsc
	mov $\name, %esi
	mov $\iters, %ebx
	call report64
	.endm

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	mov $stack_top, %esp

	/* IDT with one gate: vector 0 (#DE) -> de_handler. */
	mov $de_handler, %eax
	mov %ax, idt
	mov %cs, %bx
	mov %bx, idt + 2
	movw $0x8e00, idt + 4		/* present, DPL 0, 32-bit interrupt gate */
	shr $16, %eax
	mov %ax, idt + 6
	lidt idtr

	/* R0: a loop of 1000 x (dec; jnz), counter set up before the start. */
	mov $1000, %ecx
	BEGIN
1:	dec %ecx
	jnz 1b
	END s_loop1000, 1000

	/* R1: the same with its set-up inside the region (+1). */
	BEGIN
	mov $1000, %ecx
1:	dec %ecx
	jnz 1b
	END s_loop1000s, 1000

	/* R2: markers in the middle of straight-line code; a reserved marker
	 * (0x52494c04) is an ordinary instruction: nop, mark 4, nop, nop = 4. */
	BEGIN
	nop
	MARK 4
	nop
	nop
	END s_straight, 4

	/* R3: empty. */
	BEGIN
	END s_empty, 1

	/* R4: reset discards the open region: only the last two nops count. */
	BEGIN
	nop
	MARK_RESET
	MARK_START
	nop
	nop
	END s_reset, 2

	/* R5: an exception in the middle of a TB without markers. The #DE
	 * handler skips the 2-byte div. Completed instructions: jmp, mov, xor,
	 * xor, handler (add, iret), nop, nop, jmp = 9; plus the div that
	 * faulted = 10 started (mode=insn); mode=tb counts the faulting TB
	 * (mov, xor, xor, div, nop, nop, jmp) whole, then nop, nop, jmp again
	 * after the handler: 13. */
	BEGIN
	jmp 1f
1:	mov $1, %eax
	xor %edx, %edx
	xor %ecx, %ecx
	div %ecx			/* f7 f1: #DE */
	nop
	nop
	jmp 2f
2:	END s_fault, 1

	/* R6: two million instructions (the icount budget expires inside). */
	mov $1000000, %ecx
	BEGIN
1:	dec %ecx
	jnz 1b
	END s_loop1m, 1000000

	/* R7: an MMIO read (the local APIC version register) in the middle of
	 * a TB: jmp, mov, nop, nop, jmp = 5. Under -icount QEMU re-executes
	 * the access in a TB of its own, and mode=tb counts the rest of the
	 * first TB (nop, nop, jmp) twice: 8. */
	BEGIN
	jmp 1f
1:	mov 0xfee00030, %eax
	nop
	nop
	jmp 2f
2:	END s_mmio, 1

	/* R8: rep movsb of 1000 bytes, in the middle of the start marker's
	 * TB; TCG runs it as 1000 executions: it counts 1. */
	cld
	mov $src, %esi
	mov $dst, %edi
	mov $1000, %ecx
	BEGIN
	rep movsb
	END s_repmovsb, 1

	/* R9: the same REP three times from a loop, each time entered by a
	 * jump (its first iteration starts a TB): 3 x (mov, jmp, rep movsb,
	 * dec, jnz) = 15. */
	mov $src, %esi
	mov $dst, %edi
	mov $3, %ebx
	BEGIN
1:	mov $100, %ecx
	jmp 2f
2:	rep movsb
	dec %ebx
	jnz 1b
	END s_reploop, 3

	/* R10: a REP with a count of 0 executes once: 1. */
	mov $dst, %edi
	xor %ecx, %ecx
	BEGIN
	rep stosb
	END s_repzero, 1

	/* Long mode for the 64-bit regions: the first 4 MiB identity-mapped
	 * with 2 MiB pages. */
	mov $pdpt + 3, %eax
	mov %eax, pml4
	mov $pd + 3, %eax
	mov %eax, pdpt
	movl $0x000083, pd		/* present, writable, 2 MiB */
	movl $0x200083, pd + 8
	mov %cr4, %eax
	or $0x20, %eax			/* PAE */
	mov %eax, %cr4
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx		/* EFER */
	rdmsr
	or $0x100, %eax			/* LME */
	wrmsr
	mov %cr0, %eax
	or $0x80000000, %eax		/* PG */
	mov %eax, %cr0
	lgdt gdtr64
	ljmp $0x08, $long_mode

	.code64
long_mode:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $stack_top, %esp		/* zero-extended into %rsp */

	/* R11: rep movsq of 512 quadwords (4 KiB; f3 48 a5): 1. */
	cld
	mov $src, %esi
	mov $dst, %edi
	mov $512, %ecx
	BEGIN64
	rep movsq
	END64 s_repmovsq, 1

	/* R12: rep movsb of 4096 bytes in 64-bit code: 1. */
	mov $src, %esi
	mov $dst, %edi
	mov $4096, %ecx
	BEGIN64
	rep movsb
	END64 s_repmovsb64, 1

	mov $s_done, %esi
	call puts64
	mov $0, %al
	outb %al, $DEBUG_EXIT
	hlt
	jmp .

/* The 64-bit twins of report, puts, putc and putdec (64-bit pushes). */
report64:
	mov $t0, %r8d
	sub (%r8), %eax
	push %rax
	push %rsi
	mov $s_br, %esi
	call puts64
	pop %rsi
	call puts64
	mov $s_iters, %esi
	call puts64
	mov %ebx, %eax
	call putdec64
	mov $s_tsc, %esi
	call puts64
	pop %rax
	call putdec64
	mov $10, %al
	call putc64
	ret

putc64:
	push %rdx
	mov $COM1, %dx
	outb %al, %dx
	pop %rdx
	ret

puts64:
	push %rax
	push %rsi
1:	lodsb
	test %al, %al
	jz 2f
	call putc64
	jmp 1b
2:	pop %rsi
	pop %rax
	ret

putdec64:
	push %rbx
	push %rcx
	push %rdx
	mov $10, %ebx
	xor %ecx, %ecx
1:	xor %edx, %edx
	div %ebx
	push %rdx
	inc %ecx
	test %eax, %eax
	jnz 1b
2:	pop %rax
	add $48, %al
	call putc64
	loop 2b
	pop %rdx
	pop %rcx
	pop %rbx
	ret
	.code32

de_handler:
	addl $2, (%esp)			/* skip the faulting div %ecx */
	iret

/* report: edx:eax = TSC now, esi = region name, ebx = iterations.
 * Prints "BENCHREGION name=<esi> iters=<ebx> tsc=<eax - t0>". */
report:
	sub t0, %eax
	push %eax
	push %esi
	mov $s_br, %esi
	call puts
	pop %esi
	call puts
	mov $s_iters, %esi
	call puts
	mov %ebx, %eax
	call putdec
	mov $s_tsc, %esi
	call puts
	pop %eax
	call putdec
	mov $10, %al
	call putc
	ret

/* putc: al -> COM1 */
putc:
	push %edx
	mov $COM1, %dx
	outb %al, %dx
	pop %edx
	ret

/* puts: NUL-terminated string at esi */
puts:
	push %eax
	push %esi
1:	lodsb
	test %al, %al
	jz 2f
	call putc
	jmp 1b
2:	pop %esi
	pop %eax
	ret

/* putdec: eax in decimal */
putdec:
	push %ebx
	push %ecx
	push %edx
	mov $10, %ebx
	xor %ecx, %ecx
1:	xor %edx, %edx
	div %ebx
	push %edx
	inc %ecx
	test %eax, %eax
	jnz 1b
2:	pop %eax
	add $48, %al
	call putc
	loop 2b
	pop %edx
	pop %ecx
	pop %ebx
	ret

	.section .rodata
s_br:		.asciz "BENCHREGION name="
s_iters:	.asciz " iters="
s_tsc:		.asciz " tsc="
s_loop1000:	.asciz "loop1000"
s_loop1000s:	.asciz "loop1000-setup"
s_straight:	.asciz "straight"
s_empty:	.asciz "empty"
s_reset:	.asciz "reset"
s_fault:	.asciz "fault"
s_loop1m:	.asciz "loop1m"
s_mmio:		.asciz "mmio"
s_repmovsb:	.asciz "rep-movsb"
s_reploop:	.asciz "rep-loop"
s_repzero:	.asciz "rep-zero"
s_repmovsq:	.asciz "rep-movsq"
s_repmovsb64:	.asciz "rep-movsb64"
s_done:		.asciz "SELFTEST done\n"

	.data
	.align 8
idtr:	.word 8 - 1
	.long idt
	.align 8
gdt64:	.quad 0
	.quad 0x00209a0000000000	/* 0x08: 64-bit code */
	.quad 0x0000920000000000	/* 0x10: data */
gdtr64:	.word 3 * 8 - 1
	.long gdt64

	/* Page tables in .data: zero-filled in the file, whatever the loader
	 * does with .bss. */
	.align 4096
pml4:	.fill 4096, 1, 0
pdpt:	.fill 4096, 1, 0
pd:	.fill 4096, 1, 0

	.bss
	.align 8
t0:	.skip 8
idt:	.skip 8
	.align 16
	.skip 4096
stack_top:
src:	.skip 4096
dst:	.skip 4096
