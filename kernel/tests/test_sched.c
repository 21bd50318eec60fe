/*
 * test_sched.c - in-kernel tests of timers, threads, the scheduler,
 * spinlocks and wait queues across CPUs, and TLB shootdown.
 */
#include <kernel/cpu.h>
#include <kernel/kheap.h>
#include <kernel/kstack.h>
#include <kernel/ktest.h>
#include <kernel/memlayout.h>
#include <kernel/pmm.h>
#include <kernel/sched.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/timer.h>
#include <kernel/vmm.h>
#include <kernel/waitq.h>
#include <rill/string.h>

/* A countdown latch: wait until n threads said done. */
struct latch {
	struct waitq wq;
	int count;
};

static void latch_init(struct latch *l, int n)
{
	waitq_init(&l->wq);
	l->count = n;
}

static void latch_done(struct latch *l)
{
	if (__atomic_sub_fetch(&l->count, 1, __ATOMIC_ACQ_REL) == 0)
		waitq_wake_all(&l->wq);
}

/* true when all finished within the timeout */
static bool latch_wait(struct latch *l, uint64_t timeout_ns)
{
	return WAITQ_WAIT(&l->wq, __atomic_load_n(&l->count, __ATOMIC_ACQUIRE) == 0,
			  clock_ns() + timeout_ns);
}

/* Wait for exited threads to be reaped, so counters settle. */
static void settle(uint64_t threads_before)
{
	/* Idle CPUs free dead threads, each stack with a TLB shootdown that
	 * waits for every vCPU: on a loaded host (4 vCPUs, 2 cores, other
	 * QEMUs) 14 of them took more than 2 s. Returns as soon as done. */
	uint64_t end = clock_ns() + 10 * NSEC_PER_SEC;

	while (sched_threads_alive() > threads_before && clock_ns() < end)
		sched_sleep_ns(NSEC_PER_MSEC);
	if (sched_threads_alive() > threads_before)
		sched_dump();
}

/* --- timers ------------------------------------------------------------- */

#define NTIMERS 64

static struct {
	struct timer t[NTIMERS];
	uint64_t deadline[NTIMERS];
	uint64_t fired_at[NTIMERS];
	int order[NTIMERS];
	int nfired;
	spinlock_t lock;
} tt;

static void timer_record(struct timer *t, void *arg)
{
	int i = (int)(uintptr_t)arg;

	spin_lock(&tt.lock);
	tt.fired_at[i] = clock_ns();
	tt.order[tt.nfired++] = i;
	spin_unlock(&tt.lock);
}

KTEST(timer_deadlines_fire_in_order)
{
	uint64_t seed = 42, now = clock_ns();
	irqflags_t f;

	memset(&tt, 0, sizeof(tt));
	spin_init(&tt.lock);
	f = arch_irq_save();	/* arm all of them on this CPU at once */
	for (int i = 0; i < NTIMERS; i++) {
		timer_init(&tt.t[i], timer_record, (void *)(uintptr_t)i);
		tt.deadline[i] = now + 5 * NSEC_PER_MSEC + (kt_rand(&seed) % 40) * NSEC_PER_MSEC;
		KT_ASSERT_EQ(timer_arm(&tt.t[i], tt.deadline[i]), 0);
	}
	arch_irq_restore(f);
	/* Cancel a few: they must never fire. */
	for (int i = 0; i < NTIMERS; i += 8)
		KT_ASSERT(timer_cancel(&tt.t[i]));
	sched_sleep_ns(80 * NSEC_PER_MSEC);
	KT_ASSERT_EQ(tt.nfired, NTIMERS - NTIMERS / 8);
	for (int k = 0; k < tt.nfired; k++) {
		int i = tt.order[k];

		KT_ASSERT(i % 8 != 0);
		KT_ASSERT(tt.fired_at[i] >= tt.deadline[i]);
		if (k > 0)
			KT_ASSERT(tt.deadline[tt.order[k - 1]] <= tt.deadline[i]);
	}
	for (int i = 0; i < NTIMERS; i++)
		KT_ASSERT(!timer_cancel(&tt.t[i]));
}

/* A timer that re-arms itself for a deadline nearer than its handler takes
 * (1 ns ahead, the handler spinning 2 us): each fire must come from an
 * interrupt of its own. Before timer_interrupt took "now" once, it popped
 * the re-armed timer again and again inside one interrupt, interrupts off:
 * a 10 us latency probe on a slow emulated CPU held that CPU there for
 * good, and a TLB shootdown waiting for it never ended. */
#define STORM_FIRES 64

static struct {
	struct timer t;
	uint64_t irq_at[STORM_FIRES];
	volatile int n;
} storm;

static void storm_fire(struct timer *t, void *arg)
{
	uint64_t end = clock_ns() + 2000;

	storm.irq_at[storm.n] = this_cpu()->irq_count;
	while (clock_ns() < end)
		arch_cpu_relax();
	if (++storm.n < STORM_FIRES)
		timer_arm(t, clock_ns() + 1);
}

KTEST(timer_rearmed_waits_for_next_interrupt)
{
	uint64_t deadline = clock_ns() + 2 * NSEC_PER_SEC;

	memset(&storm, 0, sizeof(storm));
	timer_init(&storm.t, storm_fire, NULL);
	KT_ASSERT_EQ(timer_arm(&storm.t, clock_ns() + 1), 0);
	while (storm.n < STORM_FIRES && clock_ns() < deadline)
		sched_sleep_ns(NSEC_PER_MSEC);
	KT_ASSERT_EQ(storm.n, STORM_FIRES);
	for (int i = 1; i < STORM_FIRES; i++)
		KT_ASSERT(storm.irq_at[i] != storm.irq_at[i - 1]);
}

/* --- threads and sleeping ---------------------------------------------- */

static struct latch sleep_latch;
static volatile uint64_t sleep_late_ns;

static void sleeper(void *arg)
{
	uint64_t ns = (uint64_t)(uintptr_t)arg;
	uint64_t t0 = clock_ns();

	sched_sleep_ns(ns);
	if (clock_ns() < t0 + ns)
		sleep_late_ns = 1;	/* woke early: a failure */
	latch_done(&sleep_latch);
}

KTEST(sched_many_threads_sleep)
{
	uint64_t threads0 = sched_threads_alive(), stacks0 = kstack_in_use();
	uint64_t seed = 7;
	const int n = 100;

	latch_init(&sleep_latch, n);
	sleep_late_ns = 0;
	for (int i = 0; i < n; i++) {
		uint64_t ns = (1 + kt_rand(&seed) % 30) * NSEC_PER_MSEC;

		KT_ASSERT(thread_create("sleeper", sleeper, (void *)(uintptr_t)ns,
					SCHED_PRIO_DEFAULT, -1));
	}
	KT_ASSERT(latch_wait(&sleep_latch, 20 * NSEC_PER_SEC));
	KT_ASSERT_EQ(sleep_late_ns, 0);
	settle(threads0);
	KT_ASSERT_EQ(sched_threads_alive(), threads0);
	KT_ASSERT_EQ(kstack_in_use(), stacks0);
}

/* A busy loop that never yields is preempted: on one CPU the other thread
 * still gets to run and stops it. */
static volatile bool spin_stop;
static volatile uint64_t spin_loops;
static struct latch busy_latch;

static void busy(void *arg)
{
	while (!spin_stop)
		spin_loops++;
	latch_done(&busy_latch);
}

static void stopper(void *arg)
{
	/* Under TCG the slice may end before busy() ran at all, so first
	 * wait (yielding) until it has looped. busy() never yields, so this
	 * thread runs again only if busy() is preempted (same CPU, same
	 * priority): reaching the store proves preemption. */
	while (READ_ONCE(spin_loops) == 0)
		sched_yield();
	spin_stop = true;
	latch_done(&busy_latch);
}

KTEST(sched_preempts_busy_loop)
{
	uint64_t threads0 = sched_threads_alive();

	spin_stop = false;
	spin_loops = 0;
	latch_init(&busy_latch, 2);
	KT_ASSERT(thread_create("busy", busy, NULL, SCHED_PRIO_DEFAULT, 0));
	KT_ASSERT(thread_create("stopper", stopper, NULL, SCHED_PRIO_DEFAULT, 0));
	KT_ASSERT(latch_wait(&busy_latch, 10 * NSEC_PER_SEC));
	KT_ASSERT(spin_stop);
	KT_ASSERT(spin_loops > 0);
	settle(threads0);
}

/* Priorities: a ready higher-priority thread runs before a lower one. */
static int prio_log[3];
static int prio_pos;
static struct latch prio_latch;

static void prio_thread(void *arg)
{
	prio_log[__atomic_fetch_add(&prio_pos, 1, __ATOMIC_SEQ_CST)] = (int)(uintptr_t)arg;
	latch_done(&prio_latch);
}

KTEST(sched_priority_order)
{
	uint64_t threads0 = sched_threads_alive();
	irqflags_t f;

	prio_pos = 0;
	latch_init(&prio_latch, 3);
	/* Create all three on CPU 0 before any can run: this test runs at
	 * default priority on CPU 0, so block preemption while creating. */
	f = arch_irq_save();
	KT_ASSERT(thread_create("p-low", prio_thread, (void *)5, 5, 0));
	KT_ASSERT(thread_create("p-high", prio_thread, (void *)25, 25, 0));
	KT_ASSERT(thread_create("p-mid", prio_thread, (void *)15, 15, 0));
	arch_irq_restore(f);
	KT_ASSERT(latch_wait(&prio_latch, 5 * NSEC_PER_SEC));
	KT_ASSERT_EQ(prio_log[0], 25);
	KT_ASSERT_EQ(prio_log[1], 15);
	KT_ASSERT_EQ(prio_log[2], 5);
	settle(threads0);
}

/* --- spinlocks and wait queues across CPUs ------------------------------ */

static spinlock_t shared_lock = SPINLOCK_INIT;
static uint64_t shared_counter;	/* guarded by shared_lock */
static struct latch lock_latch;

/* Each handoff of a contended lock under TCG may wait for the host to
 * schedule the holder's vCPU thread, so keep the count modest. */
#define LOCK_ROUNDS 2000

static void lock_worker(void *arg)
{
	for (int i = 0; i < LOCK_ROUNDS; i++) {
		irqflags_t f = spin_lock_irqsave(&shared_lock);
		uint64_t v = shared_counter;

		/* A non-atomic read-modify-write: lost updates would show. */
		arch_cpu_relax();
		shared_counter = v + 1;
		spin_unlock_irqrestore(&shared_lock, f);
	}
	latch_done(&lock_latch);
}

KTEST(spinlock_across_cpus)
{
	uint64_t threads0 = sched_threads_alive();
	unsigned n = cpus_online() * 2;

	shared_counter = 0;
	latch_init(&lock_latch, (int)n);
	for (unsigned i = 0; i < n; i++)
		KT_ASSERT(thread_create("locker", lock_worker, NULL, SCHED_PRIO_DEFAULT,
					(int)(i % cpus_online())));
	KT_ASSERT(latch_wait(&lock_latch, 60 * NSEC_PER_SEC));
	KT_ASSERT_EQ(shared_counter, (uint64_t)n * LOCK_ROUNDS);
	settle(threads0);
}

/* Producer/consumer through a wait queue, the two on different CPUs. */
#define PC_ITEMS 2000
static struct {
	struct waitq not_empty, not_full;
	spinlock_t lock;
	int buf[8];
	unsigned head, tail;	/* guarded by lock */
	uint64_t sum;
	struct latch done;
} pc;

static bool pc_has_item(void)
{
	return READ_ONCE(pc.head) != READ_ONCE(pc.tail);
}

static bool pc_has_room(void)
{
	return READ_ONCE(pc.tail) - READ_ONCE(pc.head) < ARRAY_SIZE(pc.buf);
}

static void producer(void *arg)
{
	for (int i = 1; i <= PC_ITEMS; i++) {
		irqflags_t f;

		WAITQ_WAIT(&pc.not_full, pc_has_room(), 0);
		f = spin_lock_irqsave(&pc.lock);
		pc.buf[pc.tail % ARRAY_SIZE(pc.buf)] = i;
		pc.tail++;
		spin_unlock_irqrestore(&pc.lock, f);
		waitq_wake_one(&pc.not_empty);
	}
	latch_done(&pc.done);
}

static void consumer(void *arg)
{
	for (int i = 0; i < PC_ITEMS; i++) {
		irqflags_t f;

		WAITQ_WAIT(&pc.not_empty, pc_has_item(), 0);
		f = spin_lock_irqsave(&pc.lock);
		pc.sum += pc.buf[pc.head % ARRAY_SIZE(pc.buf)];
		pc.head++;
		spin_unlock_irqrestore(&pc.lock, f);
		waitq_wake_one(&pc.not_full);
	}
	latch_done(&pc.done);
}

KTEST(waitq_producer_consumer)
{
	uint64_t threads0 = sched_threads_alive();
	unsigned ncpu = cpus_online();

	memset(&pc, 0, sizeof(pc));
	waitq_init(&pc.not_empty);
	waitq_init(&pc.not_full);
	spin_init(&pc.lock);
	latch_init(&pc.done, 2);
	KT_ASSERT(thread_create("producer", producer, NULL, SCHED_PRIO_DEFAULT, 0));
	KT_ASSERT(thread_create("consumer", consumer, NULL, SCHED_PRIO_DEFAULT,
				ncpu > 1 ? 1 : 0));
	KT_ASSERT(latch_wait(&pc.done, 60 * NSEC_PER_SEC));
	KT_ASSERT_EQ(pc.sum, (uint64_t)PC_ITEMS * (PC_ITEMS + 1) / 2);
	settle(threads0);
}

KTEST(waitq_timeout)
{
	struct waitq wq;
	uint64_t t0 = clock_ns();
	bool ok;

	waitq_init(&wq);
	ok = WAITQ_WAIT(&wq, false, t0 + 20 * NSEC_PER_MSEC);
	KT_ASSERT(!ok);
	KT_ASSERT(clock_ns() >= t0 + 20 * NSEC_PER_MSEC);
	KT_ASSERT(list_empty(&wq.waiters));
}

/* --- TLB shootdown ----------------------------------------------------- */

static struct {
	uintptr_t va;
	volatile int phase;		/* 1: read old, 2: read new */
	volatile uint64_t seen_old[MAX_CPUS], seen_new[MAX_CPUS];
	struct latch ready, done;
} tlb;

static void tlb_reader(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;

	/* Load the translation into this CPU's TLB. */
	tlb.seen_old[me] = *(volatile uint64_t *)tlb.va;
	latch_done(&tlb.ready);
	/* Spin (no sleeping: stay on this CPU with the TLB warm). */
	while (tlb.phase != 2)
		arch_cpu_relax();
	tlb.seen_new[me] = *(volatile uint64_t *)tlb.va;
	latch_done(&tlb.done);
}

KTEST(tlb_shootdown_all_cpus)
{
	uint64_t threads0 = sched_threads_alive();
	unsigned n = cpus_online(), me = cpu_id();
	paddr_t a, b;
	uint64_t served0[MAX_CPUS];

	/* A shootdown needs another CPU holding the old translation. */
	if (n < 2)
		KT_SKIP("one CPU online: no other CPU's TLB to shoot down");
	a = pmm_alloc_zeroed_page();
	b = pmm_alloc_zeroed_page();
	KT_ASSERT(a && b);
	*(uint64_t *)phys_to_virt(a) = 0xaaaa;
	*(uint64_t *)phys_to_virt(b) = 0xbbbb;
	tlb.va = KSTACK_REGION + 0x3000001000ull;
	tlb.phase = 1;
	latch_init(&tlb.ready, (int)n - 1);
	latch_init(&tlb.done, (int)n - 1);
	for (unsigned i = 0; i < n; i++)
		served0[i] = READ_ONCE(cpus[i].tlb_shootdowns);
	KT_ASSERT_EQ(vmm_map(tlb.va, a, VMM_WRITE), 0);
	for (unsigned i = 0; i < n; i++) {
		if (i == me)
			continue;
		tlb.seen_old[i] = tlb.seen_new[i] = 0;
		KT_ASSERT(thread_create("tlb-reader", tlb_reader, (void *)(uintptr_t)i,
					SCHED_PRIO_DEFAULT + 1, (int)i));
	}
	KT_ASSERT(latch_wait(&tlb.ready, 10 * NSEC_PER_SEC));
	/* Every other CPU has the old translation cached now. Swap frames. */
	KT_ASSERT_EQ(vmm_unmap(tlb.va), a);
	KT_ASSERT_EQ(vmm_map(tlb.va, b, VMM_WRITE), 0);
	KT_ASSERT_EQ(*(volatile uint64_t *)tlb.va, 0xbbbb);
	tlb.phase = 2;
	KT_ASSERT(latch_wait(&tlb.done, 10 * NSEC_PER_SEC));
	for (unsigned i = 0; i < n; i++) {
		if (i == me)
			continue;
		KT_ASSERT_EQ(tlb.seen_old[i], 0xaaaa);
		KT_ASSERT_EQ(tlb.seen_new[i], 0xbbbb);
		KT_ASSERT(READ_ONCE(cpus[i].tlb_shootdowns) > served0[i]);
	}
	KT_ASSERT_EQ(vmm_unmap(tlb.va), b);
	pmm_free(a, 0);
	pmm_free(b, 0);
	settle(threads0);
}
