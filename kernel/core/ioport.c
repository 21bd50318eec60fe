/*
 * ioport.c - I/O-port range objects and their system calls (ioport_open, ioport_enable).
 */
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/userinit.h>
#include <kernel/pmm.h>
#include <kernel/process.h>
#include <kernel/queue.h>
#include <kernel/syscall.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <rill/string.h>

/* ---- I/O ports ------------------------------------------------------------------------ */

struct ioport_range {
	struct kobj obj;
	uint16_t base;
	uint32_t count;
};

static void ioport_destroy(struct kobj *o)
{
	kfree(container_of(o, struct ioport_range, obj));
}

SYSCALL_DEFINE(ioport_open)
{
	struct ioport_range *io;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_IOPORT_AUTHORITY, RL_RIGHT_DERIVE, &o, NULL);
	if (r)
		return r;
	kobj_put(o);
	if (a2 == 0 || a1 > 0xffff || a2 > 0x10000 - a1)
		return -EINVAL;
	io = kzalloc(sizeof(*io));
	if (!io)
		return -ENOMEM;
	kobj_init(&io->obj, RL_OBJ_IOPORT, ioport_destroy);
	io->base = (uint16_t)a1;
	io->count = (uint32_t)a2;
	return install_new(&io->obj, RL_RIGHT_CONTROL | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
}

SYSCALL_DEFINE(ioport_enable)
{
	struct ioport_range *io;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_IOPORT, RL_RIGHT_CONTROL, &o, NULL);
	if (r)
		return r;
	io = container_of(o, struct ioport_range, obj);
	r = arch_ioport_enable(&uthread_current()->arch, process_current()->budget, io->base,
			       io->count);
	kobj_put(o);
	return r;
}
