/*
 * budget.h - kernel-memory budgets.
 *
 * Every allocation a process causes is charged, in bytes, to a budget: its
 * own for its threads, page tables and handle table, its creator's choice
 * for the process itself, and the budget of whoever made a memory object,
 * queue, stream or IPC submission for those and everything they grow
 * (pages of memory objects included). A charge that would pass the limit
 * fails, and the call that needed it returns -ENOMEM; nothing else is
 * affected. Uncharging gives the bytes back when the memory is freed.
 *
 * A process either shares its creator's budget or gets one of its own,
 * carved out of its creator's: the bytes are charged to the creator's
 * budget until the child's budget is freed (when the last thing charged
 * to it, the process included, is gone). init's budget is the memory the
 * kernel found free at boot.
 *
 * Figures charged (docs/abi.md has the table) are the sizes the kernel
 * allocates, rounded the way its allocators round: a whole page for
 * page-sized things, the object size for slab objects.
 */
#ifndef KERNEL_BUDGET_H
#define KERNEL_BUDGET_H

#include <kernel/types.h>

struct budget {
	uint64_t limit;		/* bytes */
	uint64_t used;		/* bytes charged (atomic) */
	uint32_t refs;		/* holders: processes, objects charged to it */
	struct budget *parent;	/* carved from (referenced), or NULL */
	uint64_t id;		/* for user space: same budget, same id */
};

/* The root budget (init's and the kernel's own processes'). */
extern struct budget budget_root;
void budget_init(uint64_t bytes);

/* A budget of bytes carved out of parent (charged to it), or NULL with
 * *err = -ENOMEM when parent cannot give them. */
struct budget *budget_carve(struct budget *parent, uint64_t bytes, int *err);

static inline void budget_get(struct budget *b)
{
	__atomic_fetch_add(&b->refs, 1, __ATOMIC_RELAXED);
}

void budget_put(struct budget *b);

/* Charge bytes: 0, or -ENOMEM when the limit would be passed. */
int budget_charge(struct budget *b, uint64_t bytes);
void budget_uncharge(struct budget *b, uint64_t bytes);

#endif
