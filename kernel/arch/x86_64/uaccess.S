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
 *
 * With SMAP (smap_enabled, set by arch_user_init_cpu when the CPU has it)
 * any other kernel access to a user page faults: the accesses here open
 * the window with stac and close it with clac, and interrupt entry closes
 * it too (isr.S), so a handler never runs with it open.
 */
	.macro	UA_OPEN
	testb	$1, smap_enabled(%rip)
	jz	9f
	stac
9:
	.endm

	.macro	UA_CLOSE
	testb	$1, smap_enabled(%rip)
	jz	9f
	clac
9:
	.endm

	.text
	.global uaccess_begin, uaccess_end, uaccess_fail
	.global uaccess_copy, uaccess_probe_read, uaccess_probe_write

	.balign 16
uaccess_begin:

/* long uaccess_copy(void *dst, const void *src, size_t n): 0 or -EFAULT */
uaccess_copy:
	UA_OPEN
	mov	%rdx, %rcx
	shr	$3, %rcx
	rep movsq
	mov	%rdx, %rcx
	and	$7, %ecx
	rep movsb
	UA_CLOSE
	xor	%eax, %eax
	ret

/* long uaccess_probe_read(uintptr_t addr): 0 when a read would not fault */
uaccess_probe_read:
	UA_OPEN
	movb	(%rdi), %al
	UA_CLOSE
	xor	%eax, %eax
	ret

/* long uaccess_probe_write(uintptr_t addr): 0 when a write would not
 * fault (an atomic or of 0: no store of the user's own can be lost) */
uaccess_probe_write:
	UA_OPEN
	lock orb $0, (%rdi)
	UA_CLOSE
	xor	%eax, %eax
	ret

uaccess_fail:
	UA_CLOSE
	mov	$-14, %rax		/* -EFAULT */
	ret
uaccess_end:
