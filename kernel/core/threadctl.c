/*
 * threadctl.c - what a supervisor does to its threads beyond registers
 * and resume (process.c): their FPU state (thread_fpu), interrupting
 * them (thread_interrupt).
 */
#include <kernel/errno.h>
#include <kernel/process.h>
#include <kernel/syscall.h>
#include <rill/string.h>

/*
 * thread_fpu(thread, op, buf, len): the FPU area of a stopped thread
 * (struct rl_fpu_area, docs/abi.md). The caller's buffer is touched only
 * outside u->lock, the thread's area only under it, after checking the
 * thread is still stopped (as thread_regs does). A SET is checked whole
 * before it is stored: the thread's own XRSTOR of it cannot fault.
 */
SYSCALL_DEFINE(thread_fpu)
{
	uint8_t buf[FPU_AREA_MAX];
	uint32_t size = arch_fpu_size();
	struct uthread *u;
	irqflags_t f;
	int e;

	if (a1 > RL_FPU_SET)
		return -EINVAL;
	e = uthread_get(a0, RL_RIGHT_OBSERVE, &u);
	if (e)
		return e;
	if (a3 == 0) {
		kobj_put(&u->obj);
		return size;
	}
	if (a1 == RL_FPU_SET) {
		e = a3 != size ? -EINVAL : copy_from_user(buf, a2, size);
		if (!e)
			e = arch_fpu_import(buf);
	} else if (a3 < size) {
		e = -EINVAL;
	}
	if (e) {
		kobj_put(&u->obj);
		return e;
	}
	f = spin_lock_irqsave(&u->lock);
	if (!uthread_stopped_locked(u)) {
		e = -EBUSY;
	} else if (a1 == RL_FPU_GET) {
		arch_fpu_export(&u->arch, buf);
	} else {
		arch_fpu_store(&u->arch, buf);
	}
	spin_unlock_irqrestore(&u->lock, f);
	kobj_put(&u->obj);
	if (!e && a1 == RL_FPU_GET)
		e = copy_to_user(a2, buf, size);
	return e ? e : (int64_t)size;
}

SYSCALL_DEFINE(thread_interrupt)
{
	struct uthread *u;
	int r = uthread_get(a0, RL_RIGHT_OBSERVE, &u);

	if (r)
		return r;
	r = uthread_interrupt(u);
	kobj_put(&u->obj);
	return r;
}
