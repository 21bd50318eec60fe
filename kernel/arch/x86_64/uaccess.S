/*
 * uaccess.S - the kernel touching the current address space directly,
 * through the MMU, for the common case of a page that is entered already.
 * Every access here may fault; the page-fault and general-protection
 * handlers (trap.c) see a fault whose rip lies in [uaccess_begin,
 * uaccess_end) and resume at uaccess_fail, which returns -EFAULT. Nothing
 * is paged in from here: callers fall back to vm_rw / vm_check_range,
 * which resolve through the address space's areas (vm.c). So a fault here
 * never takes a lock, whatever the caller holds.
 *
 * Callers check the range is user (below RL_USER_TOP) first: a kernel
 * address would not fault.
 */
	.text
	.global uaccess_begin, uaccess_end, uaccess_fail
	.global uaccess_copy, uaccess_probe_read, uaccess_probe_write

	.balign 16
uaccess_begin:

/* long uaccess_copy(void *dst, const void *src, size_t n): 0 or -EFAULT */
uaccess_copy:
	mov	%rdx, %rcx
	shr	$3, %rcx
	rep movsq
	mov	%rdx, %rcx
	and	$7, %ecx
	rep movsb
	xor	%eax, %eax
	ret

/* long uaccess_probe_read(uintptr_t addr): 0 when a read would not fault */
uaccess_probe_read:
	movb	(%rdi), %al
	xor	%eax, %eax
	ret

/* long uaccess_probe_write(uintptr_t addr): 0 when a write would not
 * fault (an atomic or of 0: no store of the user's own can be lost) */
uaccess_probe_write:
	lock orb $0, (%rdi)
	xor	%eax, %eax
	ret

uaccess_fail:
	mov	$-14, %rax		/* -EFAULT */
	ret
uaccess_end:
