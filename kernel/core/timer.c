/*
 * timer.c - per-CPU timer queues on the local APIC one-shot timer.
 *
 * Each CPU has a heap of armed timers (capacity doubles when full) under its
 * own lock. The APIC timer is always programmed for the earliest deadline;
 * with no timer armed it is left off. On the interrupt, expired timers are
 * popped one at a time and their functions called with the lock dropped, so
 * a function may re-arm its own or other timers. `running` names the timer
 * whose function is executing, so timer_cancel can wait for it.
 */
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/kheap.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/timer.h>
#include <kernel/trap.h>
#include <arch/apic.h>
#include <rill/string.h>

#define INITIAL_SLOTS 64

struct cpu_timers {
	spinlock_t lock;
	struct timerheap heap;
	struct timer *volatile running;	/* fn executing now, or NULL */
	uint64_t fired;
};

static struct cpu_timers timers[MAX_CPUS];

static struct cpu_timers *timers_of(int cpu)
{
	return &timers[cpu];
}

void timer_init(struct timer *t, timer_fn fn, void *arg)
{
	timer_node_init(&t->node);
	t->fn = fn;
	t->arg = arg;
	t->cpu = -1;
}

/* Program the APIC for the earliest deadline; lock held. */
static void reprogram(struct cpu_timers *ct)
{
	struct timer_node *n = timerheap_peek(&ct->heap);
	uint64_t now;

	if (!n)
		return;
	now = clock_ns();
	lapic_timer_oneshot(n->deadline > now ? n->deadline - now : 0);
}

static int grow(struct cpu_timers *ct)
{
	uint32_t cap = ct->heap.capacity * 2;
	struct timer_node **slots = kmalloc(cap * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	memcpy(slots, ct->heap.slots, ct->heap.count * sizeof(*slots));
	kfree(ct->heap.slots);
	ct->heap.slots = slots;
	ct->heap.capacity = cap;
	return 0;
}

int timer_arm(struct timer *t, uint64_t deadline)
{
	struct cpu_timers *ct;
	irqflags_t f;
	int r = 0;

	timer_cancel(t);
	f = arch_irq_save();
	ct = timers_of(cpu_id());
	spin_lock(&ct->lock);
	if (ct->heap.count == ct->heap.capacity)
		r = grow(ct);
	if (r == 0) {
		t->node.deadline = deadline;
		timerheap_insert(&ct->heap, &t->node);
		t->cpu = (int)cpu_id();
		if (timerheap_peek(&ct->heap) == &t->node)
			reprogram(ct);
	}
	spin_unlock(&ct->lock);
	arch_irq_restore(f);
	return r;
}

bool timer_cancel(struct timer *t)
{
	for (;;) {
		int cpu = READ_ONCE(t->cpu);
		struct cpu_timers *ct;
		irqflags_t f;
		bool removed;

		if (cpu < 0)
			return false;
		ct = timers_of(cpu);
		f = spin_lock_irqsave(&ct->lock);
		if (READ_ONCE(t->cpu) != cpu) {
			spin_unlock_irqrestore(&ct->lock, f);
			continue;	/* moved meanwhile: retry */
		}
		removed = timerheap_remove(&ct->heap, &t->node);
		if (removed || ct->running != t)
			t->cpu = -1;
		spin_unlock_irqrestore(&ct->lock, f);
		if (removed)
			return true;
		/* Popped: its function may be running on that CPU. When that
		 * is this CPU, we are inside the function (re-arming itself). */
		if (cpu == (int)cpu_id())
			return false;
		while (READ_ONCE(ct->running) == t)
			arch_cpu_relax();
		return false;
	}
}

static void timer_interrupt(struct trap_frame *tf, void *arg)
{
	struct cpu_timers *ct = timers_of(cpu_id());
	uint64_t now = clock_ns();
	struct timer_node *n;

	/* Only timers due when the interrupt came: a timer that re-arms
	 * itself closer than its handler takes (a latency probe of 10 us on
	 * a slow emulated CPU) waits for the next interrupt, so this loop
	 * ends and the IPIs pending behind it are served. */
	spin_lock(&ct->lock);
	while ((n = timerheap_pop_expired(&ct->heap, now))) {
		struct timer *t = container_of(n, struct timer, node);

		ct->running = t;
		ct->fired++;
		spin_unlock(&ct->lock);
		t->fn(t, t->arg);
		spin_lock(&ct->lock);
		/* Unless fn re-armed it here, it is idle now. */
		if (t->node.index == TIMERHEAP_NONE && t->cpu == (int)cpu_id())
			t->cpu = -1;
		ct->running = NULL;
	}
	reprogram(ct);
	spin_unlock(&ct->lock);
}

void timer_cpu_init(void)
{
	struct cpu_timers *ct = timers_of(cpu_id());
	struct timer_node **slots = kmalloc(INITIAL_SLOTS * sizeof(*slots));

	if (!slots)
		panic("timer: out of memory");
	spin_init(&ct->lock);
	timerheap_init(&ct->heap, slots, INITIAL_SLOTS);
	if (cpu_id() == 0 && trap_set_handler(VEC_TIMER, timer_interrupt, NULL) < 0)
		panic("timer: vector %d taken", VEC_TIMER);
}

uint64_t timer_fired_count(void)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < MAX_CPUS; i++)
		n += READ_ONCE(timers[i].fired);
	return n;
}
