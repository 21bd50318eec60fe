/*
 * timerheap.h - a binary min-heap of timers ordered by deadline.
 *
 * Portable core of the per-CPU timer queues (timer.c adds the lock and the
 * hardware). Ties fire in insertion order (a sequence number breaks them),
 * so timers with equal deadlines run first-armed, first-fired.
 */
#ifndef KERNEL_TIMERHEAP_H
#define KERNEL_TIMERHEAP_H

#include <kernel/types.h>

struct timer_node {
	uint64_t deadline;	/* ns on the monotonic clock */
	uint64_t seq;		/* insertion order, breaks ties */
	uint32_t index;		/* position in the heap, TIMERHEAP_NONE if not armed */
};

#define TIMERHEAP_NONE 0xffffffffu

struct timerheap {
	struct timer_node **slots;	/* caller-provided array of capacity entries */
	uint32_t capacity;
	uint32_t count;
	uint64_t next_seq;
};

/* capacity above TIMERHEAP_NONE - 1 is clamped to it. */
void timerheap_init(struct timerheap *h, struct timer_node **slots, uint32_t capacity);
/* Every node goes through this once before its first insert. */
void timer_node_init(struct timer_node *t);
/* 0, or -1 when the heap is full or t is already armed (in any heap). The
 * deadline must be set before and not changed while armed. */
int timerheap_insert(struct timerheap *h, struct timer_node *t);
/* Removes t if armed in this heap; returns true when it was. */
bool timerheap_remove(struct timerheap *h, struct timer_node *t);
/* Earliest timer or NULL. */
struct timer_node *timerheap_peek(const struct timerheap *h);
/* Removes and returns the earliest timer whose deadline <= now, or NULL. */
struct timer_node *timerheap_pop_expired(struct timerheap *h, uint64_t now);
/* Check the heap order and the index back-pointers. 0 when consistent. */
int timerheap_check(const struct timerheap *h);

#endif
