/*
 * kobj.c - reference-counted kernel objects: ids, counts, the last put.
 */
#include <kernel/kobj.h>

uint64_t kobj_count[16];
static uint64_t next_obj_id = 1;

void kobj_init(struct kobj *o, uint32_t type, void (*destroy)(struct kobj *))
{
	o->type = type;
	o->refs = 1;
	o->id = __atomic_fetch_add(&next_obj_id, 1, __ATOMIC_RELAXED);
	o->destroy = destroy;
	o->watch_right = 0;
	o->watched_handles = 0;
	o->orphaned = NULL;
	o->own_table = NULL;
	__atomic_fetch_add(&kobj_count[type & 15], 1, __ATOMIC_RELAXED);
}

void kobj_put(struct kobj *o)
{
	if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		__atomic_fetch_sub(&kobj_count[o->type & 15], 1, __ATOMIC_RELAXED);
		o->destroy(o);
	}
}
