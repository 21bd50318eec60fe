/*
 * timer.h - per-CPU one-shot timers with nanosecond deadlines.
 *
 * Each CPU keeps its armed timers in a min-heap (timerheap.c) and programs
 * its local APIC timer for the earliest deadline. A timer fires on the CPU
 * that armed it, in interrupt context, with interrupts off: its function
 * must be short and must not block.
 */
#ifndef KERNEL_TIMER_H
#define KERNEL_TIMER_H

#include <kernel/timerheap.h>
#include <kernel/types.h>

struct timer;
typedef void (*timer_fn)(struct timer *t, void *arg);

struct timer {
	struct timer_node node;	/* deadline, heap position */
	timer_fn fn;
	void *arg;
	int cpu;		/* CPU whose heap holds it, -1 when idle */
};

void timer_init(struct timer *t, timer_fn fn, void *arg);

/* Arm (or re-arm) t on this CPU to fire at the monotonic time deadline (ns);
 * a deadline in the past fires at once. Returns 0 or -ENOMEM. */
int timer_arm(struct timer *t, uint64_t deadline);

/* Disarm t. Returns true when it was armed (so fn will not run). When fn is
 * running on another CPU right now, waits for it to finish. */
bool timer_cancel(struct timer *t);

/* Per-CPU setup: the heap and the APIC timer vector. */
void timer_cpu_init(void);

/* Timers fired on this CPU since boot. */
uint64_t timer_fired_count(void);

#endif
