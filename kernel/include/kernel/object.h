/*
 * object.h - kernel objects reached from user space, and handle tables.
 *
 * Every object a handle can name starts with a struct kobj: its type (enum
 * rl_object_type), a reference count and a kernel-wide id. A handle table
 * entry holds one reference. Handle values are ((generation + 1) << 16) |
 * index: a closed handle's value is not reused until its slot has been
 * recycled 32,766 times, and new handles take the slots in turn (the next
 * free one after the last taken), so a stale value is caught for at least
 * 32,766 times the table's size (>= 32) closes.
 *
 * Lock: each table has an irqsave spinlock. handle_get returns the object
 * with a reference the caller drops with kobj_put.
 */
#ifndef KERNEL_OBJECT_H
#define KERNEL_OBJECT_H

#include <kernel/kobj.h>
#include <kernel/spinlock.h>
#include <kernel/types.h>
#include <abi/rill.h>

/* A handle's value is ((gen + 1) << HANDLE_INDEX_BITS) | index, with gen
 * 0..HANDLE_GENS - 1: always positive, never 0, and never one of the
 * pseudo-handles (the largest value is 0x7ffeffff). */
#define HANDLE_INDEX_BITS	16
#define HANDLE_MAX		(1u << HANDLE_INDEX_BITS)	/* entries per table */
#define HANDLE_GENS		32766u

struct handle_entry {
	struct kobj *obj;	/* NULL when free */
	uint32_t rights;
	uint16_t gen;
	bool watched;		/* counted in obj->watched_handles */
};

struct handle_table {
	spinlock_t lock;
	struct handle_entry *e;
	uint32_t cap;		/* entries allocated */
	uint32_t used;
	uint32_t hint;		/* where to look for a free entry */
	bool dead;		/* destroyed: nothing can be installed any more */
	struct budget *budget;	/* the entries are charged here */
};

struct budget;
void handle_table_init(struct handle_table *t, struct budget *budget);
/* Close every handle. */
void handle_table_destroy(struct handle_table *t);

/* Install o with rights (takes a new reference). Returns the handle or
 * -EMFILE / -ENOMEM, or -ESRCH once the table is destroyed (its process
 * ended). */
int handle_install(struct handle_table *t, struct kobj *o, uint32_t rights);
/* Look h up in the current process (a value above INT32_MAX, as passed in
 * a 64-bit register, is -EBADF, never truncated): it must name an object of type (0: any)
 * whose handle carries every right in need. Returns 0 and a referenced
 * object, or -EBADF (no such handle), -EBADFD (wrong type), -EPERM
 * (missing right). *rights_out (may be NULL) receives the handle's rights. */
int handle_get(uint64_t h, uint32_t type, uint32_t need, struct kobj **out,
	       uint32_t *rights_out);
int handle_close(struct handle_table *t, rl_handle_t h);

/* Handles over all tables. */
extern uint64_t handles_in_use;

#endif
