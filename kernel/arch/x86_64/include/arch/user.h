/*
 * user.h - the user-mode side of arch/ (user.c) that the rest of arch/
 * calls; what core calls is in process.h ("Arch hooks").
 */
#ifndef ARCH_USER_H
#define ARCH_USER_H

struct trap_frame;

/* Every CPU, the boot CPU from arch_user_init: SYSCALL, FPU state. */
void arch_user_init_cpu(void);

/* An exception raised in user mode (trap.c): to the thread's fault
 * handling, or the supervisor. */
void arch_user_exception(struct trap_frame *tf);

#endif
