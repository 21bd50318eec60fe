/* crt0.S - entry of native programs: rdi = struct rl_startup *. */
	.text
	.global _start
_start:
	xorl	%ebp, %ebp
	andq	$-16, %rsp
	call	rl_start
	ud2
