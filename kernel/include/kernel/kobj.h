/*
 * kobj.h - reference-counted kernel objects (base/kobj.c).
 *
 * Every object a handle can name starts with a struct kobj: its type (enum
 * rl_object_type), a reference count and a kernel-wide id. The last
 * kobj_put calls its destroy. Handles and their tables are object.h's.
 */
#ifndef KERNEL_KOBJ_H
#define KERNEL_KOBJ_H

#include <kernel/types.h>

struct handle_table;

struct kobj {
	uint32_t type;
	uint32_t refs;
	uint64_t id;
	void (*destroy)(struct kobj *o);	/* called when refs reach 0 */
	/* Optional: handles carrying watch_right are counted, and orphaned()
	 * runs when the last of them is closed (a supervised thread nobody
	 * can resume any more is ended this way). Handles in own_table (a
	 * process's own table) are not counted: a process holding the only
	 * handles to itself cannot be reached. */
	uint32_t watch_right;
	uint32_t watched_handles;
	void (*orphaned)(struct kobj *o);
	struct handle_table *own_table;
};

void kobj_init(struct kobj *o, uint32_t type, void (*destroy)(struct kobj *));

static inline void kobj_get(struct kobj *o)
{
	__atomic_fetch_add(&o->refs, 1, __ATOMIC_RELAXED);
}

void kobj_put(struct kobj *o);

/* Objects of each type alive. */
extern uint64_t kobj_count[16];

#endif
