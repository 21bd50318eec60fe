/*
 * memobj_calls.c - the system calls of memory objects and of the authorities that make device memory and set the clock (memobj_create, memobj_cow, memobj_physical, clock_set_realtime).
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

/* ---- memory objects -------------------------------------------------------------- */

#define MEM_RIGHTS (RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_EXEC | RL_RIGHT_DUP | \
		    RL_RIGHT_TRANSFER | RL_RIGHT_DERIVE)

SYSCALL_DEFINE(memobj_create)
{
	struct memobj *mo;
	int r;

	if (a1)
		return -EINVAL;
	r = memobj_create_anon(a0, process_current()->budget, &mo);
	return r ? r : install_new(&mo->obj, MEM_RIGHTS);
}

SYSCALL_DEFINE(memobj_cow)
{
	struct memobj *mo;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_MEMORY, RL_RIGHT_READ | RL_RIGHT_DERIVE, &o, NULL);
	if (r)
		return r;
	r = memobj_snapshot(container_of(o, struct memobj, obj), process_current()->budget, &mo);
	kobj_put(o);
	return r ? r : install_new(&mo->obj, MEM_RIGHTS);
}

/* The authorities init receives: one object each, never freed. */
static void authority_destroy(struct kobj *o)
{
	panic("authority object freed");
}

struct kobj irq_authority, ioport_authority, phys_authority, clock_authority;

void authorities_init(void)
{
	kobj_init(&irq_authority, RL_OBJ_IRQ_AUTHORITY, authority_destroy);
	kobj_init(&ioport_authority, RL_OBJ_IOPORT_AUTHORITY, authority_destroy);
	kobj_init(&phys_authority, RL_OBJ_PHYS_AUTHORITY, authority_destroy);
	kobj_init(&clock_authority, RL_OBJ_CLOCK_AUTHORITY, authority_destroy);
}

/* Realtime for every process (the clock page's offset): the machine's
 * business, so it takes the clock authority (init's, and what it hands
 * on: the POSIX server's settimeofday). */
SYSCALL_DEFINE(clock_set_realtime)
{
	struct kobj *o;
	int r = a0 > INT32_MAX ? -EBADF : handle_get(a0, RL_OBJ_CLOCK_AUTHORITY, 0, &o, NULL);

	if (r)
		return r;
	kobj_put(o);
	return clock_set_realtime(a1);
}

SYSCALL_DEFINE(memobj_physical)
{
	struct memobj *mo;
	struct kobj *o;
	int r;

	if (a0 > INT32_MAX)
		return -EBADF;
	r = handle_get(a0, RL_OBJ_PHYS_AUTHORITY, RL_RIGHT_DERIVE, &o, NULL);
	if (r)
		return r;
	kobj_put(o);
	/* Device memory only: RAM the allocator manages is never handed out
	 * this way (it would bypass every ownership rule). */
	if (a1 + a2 < a1 || pmm_range_managed(a1, a2))
		return -EPERM;
	r = memobj_create_phys(a1, a2, true, &mo);
	return r ? r : install_new(&mo->obj, RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_DUP |
				   RL_RIGHT_TRANSFER);
}
