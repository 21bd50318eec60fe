/*
 * sched.c - threads, per-CPU run queues, blocking and preemption.
 *
 * Switching: schedule() runs with interrupts off, takes this CPU's run
 * queue lock and keeps it across context_switch(); the thread switched to
 * releases it (finish_switch, or thread_start for a new thread). So the
 * lock protects the switch itself: no other CPU can see the outgoing thread
 * on a queue before its registers are saved.
 *
 * Wake-up rule: thread_wake on a BLOCKED thread that is still its CPU's
 * current thread (it marked itself BLOCKED but has not switched away yet)
 * only sets it RUNNING again; otherwise it becomes READY on its CPU's queue.
 * A queued thread is therefore never running, which makes stealing safe.
 *
 * Lock order: run queue (lower CPU number first when two) -> timer queue.
 */
#include <kernel/cpu.h>
#include <kernel/kheap.h>
#include <kernel/kstack.h>
#include <kernel/process.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/sched.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <rill/format.h>
#include <rill/string.h>

struct runqueue {
	spinlock_t lock;
	struct list_head q[SCHED_PRIOS];
	uint32_t bitmap;		/* bit p set when q[p] is non-empty */
	unsigned nr_ready;
	struct thread *idle;
	struct thread *last;		/* thread switched away from */
	struct list_head dead;		/* exited threads awaiting the reaper */
	struct thread *handoff;		/* woken by thread_wake_sync: READY but on
					   no list, runs next (see there) */
	struct timer slice_timer;
	uint64_t slice_end;		/* when the running thread's slice ends */
};

static struct runqueue rqs[MAX_CPUS];
static struct kmem_cache *thread_cache;
static spinlock_t all_lock = SPINLOCK_INIT;
static struct list_head all_threads = LIST_HEAD_INIT(all_threads);
static uint64_t nthreads;
static uint64_t next_id = 1;
static unsigned next_cpu;

void context_switch(uint64_t *save_rsp, uint64_t new_rsp);
void thread_trampoline(void);
void thread_start(void (*entry)(void *), void *arg) __noreturn;

bool sched_running(void)
{
	return READ_ONCE(this_cpu()->current->state) == THREAD_RUNNING;
}

static void enqueue(struct runqueue *rq, struct thread *t)
{
	if (t->queued)
		return;
	list_add_tail(&rq->q[t->prio], &t->rq_link);
	rq->bitmap |= 1u << t->prio;
	rq->nr_ready++;
	t->queued = true;
}

static void dequeue(struct runqueue *rq, struct thread *t)
{
	list_del(&t->rq_link);
	if (list_empty(&rq->q[t->prio]))
		rq->bitmap &= ~(1u << t->prio);
	rq->nr_ready--;
	t->queued = false;
}

static struct thread *pick(struct runqueue *rq)
{
	struct thread *t;

	if (!rq->bitmap)
		return NULL;
	t = list_first_entry(&rq->q[31 - __builtin_clz(rq->bitmap)], struct thread, rq_link);
	dequeue(rq, t);
	return t;
}

/* Lock held by whoever switched to us: release it, park a dead predecessor. */
static void finish_switch(void)
{
	struct runqueue *rq = &rqs[this_cpu()->id];	/* (the scheduler runs: GS is set) */
	struct thread *prev = rq->last;

	if (prev && prev->state == THREAD_DEAD)
		list_add_tail(&rq->dead, &prev->rq_link);
	rq->last = NULL;
	spin_unlock(&rq->lock);
}

/*
 * The slice timer is armed lazily: a switch only moves slice_end, and the
 * timer, when it fires early (the slice it was armed for ended at a switch
 * already), re-arms itself for the new end. So a switch costs no timer-heap
 * work, however often threads block and wake. On an idle CPU it fires once
 * more, harmlessly, and then stays off.
 */
static void slice_expired(struct timer *t, void *arg)
{
	struct runqueue *rq = arg;
	struct cpu *c = this_cpu();

	if (c->current == rq->idle)
		return;
	if (clock_ns() >= READ_ONCE(rq->slice_end))
		c->need_resched = 1;
	else
		timer_arm(t, READ_ONCE(rq->slice_end));
}

/* A new slice for the thread about to run (rq->lock held). */
static void slice_start(struct runqueue *rq, uint64_t now)
{
	WRITE_ONCE(rq->slice_end, now + SCHED_SLICE_NS);
	if (READ_ONCE(rq->slice_timer.cpu) < 0)
		timer_arm(&rq->slice_timer, now + SCHED_SLICE_NS);
}

/*
 * Interrupts must be off; the run queue lock must not be held.
 * preempt: an involuntary switch (interrupt return). A thread preempted
 * between marking itself BLOCKED and calling sched_block must stay
 * runnable, or a wake-up that came before it marked itself would be lost;
 * it re-checks its condition when it runs again.
 */
static void schedule(bool preempt)
{
	struct cpu *c = this_cpu();
	struct runqueue *rq = &rqs[c->id];
	struct thread *prev = c->current, *next;
	uint64_t now = clock_ns();
	bool handed;

	spin_lock(&rq->lock);
	c->need_resched = 0;
	if (preempt && prev->state == THREAD_BLOCKED)
		prev->state = THREAD_RUNNING;
	next = rq->handoff;
	handed = false;
	if (next) {
		/* It runs now, unless prev goes on running or a thread of
		 * higher priority is ready: then it queues (before prev). */
		rq->handoff = NULL;
		if ((prev->state == THREAD_RUNNING && prev != rq->idle) ||
		    (rq->bitmap && 31 - __builtin_clz(rq->bitmap) > next->prio)) {
			enqueue(rq, next);
			next = NULL;
		} else {
			handed = true;
		}
	}
	if (prev->state == THREAD_RUNNING && prev != rq->idle) {
		prev->state = THREAD_READY;
		enqueue(rq, prev);
	}
	if (!next)
		next = pick(rq);
	if (!next)
		next = rq->idle;
	next->state = THREAD_RUNNING;
	if (next == prev) {
		/* Keep a slice running: a thread picked again after its slice
		 * expired would otherwise run with none, and a thread of the
		 * same priority woken later would never get the CPU. */
		if (prev != rq->idle)
			slice_start(rq, now);
		spin_unlock(&rq->lock);
		return;
	}
	prev->runtime_ns += now - prev->last_start_ns;
	next->last_start_ns = now;
	next->switches++;
	c->current = next;
	rq->last = prev;
	/* A thread handed the CPU by one that blocked goes on with the
	 * rest of its slice: a pair taking turns shares one. */
	if (next != rq->idle && !handed)
		slice_start(rq, now);
	arch_switch(prev->uarch, next->uarch);
	context_switch(&prev->rsp, next->rsp);
	finish_switch();
}

void thread_start(void (*entry)(void *), void *arg)
{
	finish_switch();
	arch_irq_enable();
	entry(arg);
	thread_exit();
}

static void sleep_timer_fn(struct timer *tm, void *arg)
{
	struct thread *t = arg;

	t->timed_out = true;
	thread_wake(t);
}

static struct thread *thread_alloc(const char *name, int prio)
{
	struct thread *t = kmem_cache_zalloc(thread_cache);
	irqflags_t f;

	if (!t)
		return NULL;
	t->prio = prio < 0 ? 0 : prio >= SCHED_PRIOS ? SCHED_PRIOS - 1 : prio;
	list_init(&t->rq_link);
	timer_init(&t->sleep_timer, sleep_timer_fn, t);
	rill_snprintf(t->name, sizeof(t->name), "%s", name);
	f = spin_lock_irqsave(&all_lock);
	t->id = next_id++;
	list_add_tail(&all_threads, &t->all_link);
	__atomic_fetch_add(&nthreads, 1, __ATOMIC_RELAXED);
	spin_unlock_irqrestore(&all_lock, f);
	return t;
}

/* Release everything first and count the thread gone last, so that a
 * caller who sees the count drop sees every resource back. */
static void thread_free(struct thread *t)
{
	irqflags_t f;

	if (t->kstack_top)
		kstack_free(t->kstack_top);
	f = spin_lock_irqsave(&all_lock);
	list_del(&t->all_link);
	spin_unlock_irqrestore(&all_lock, f);
	kmem_cache_free(thread_cache, t);
	__atomic_fetch_sub(&nthreads, 1, __ATOMIC_RELEASE);
}

/*
 * Free exited threads, from every CPU's dead list: a parked thread is no
 * longer running anywhere (finish_switch parks it after the switch away),
 * so any CPU may free it. Draining all lists means one idle CPU suffices to
 * reclaim everything. Interrupts must be on (freeing a stack shoots down
 * its mappings).
 */
static void reap(void)
{
	struct list_head dead;
	struct list_head *p, *tmp;

	list_init(&dead);
	for (unsigned i = 0; i < cpus_online(); i++) {
		struct runqueue *rq = &rqs[i];
		irqflags_t f;

		if (READ_ONCE(rq->dead.next) == &rq->dead)
			continue;
		f = spin_lock_irqsave(&rq->lock);
		list_for_each_safe(p, tmp, &rq->dead) {
			list_del(p);
			list_add_tail(&dead, p);
		}
		spin_unlock_irqrestore(&rq->lock, f);
	}
	list_for_each_safe(p, tmp, &dead)
		thread_free(list_entry(p, struct thread, rq_link));
}

static unsigned choose_cpu(void)
{
	unsigned n = cpus_online(), best = 0, best_load = ~0u;
	unsigned start = __atomic_fetch_add(&next_cpu, 1, __ATOMIC_RELAXED);

	for (unsigned i = 0; i < n; i++) {
		unsigned c = (start + i) % n;
		unsigned load = READ_ONCE(rqs[c].nr_ready) +
				(READ_ONCE(cpus[c].current) != READ_ONCE(rqs[c].idle));

		if (load < best_load) {
			best = c;
			best_load = load;
		}
	}
	return best;
}

struct thread *thread_create(const char *name, void (*entry)(void *), void *arg,
			     int prio, int cpu)
{
	struct thread *t;
	uint64_t *sp;
	struct runqueue *rq;
	irqflags_t f;

	if (arch_irq_enabled())
		reap();
	if (cpu >= (int)cpus_online())
		return NULL;
	t = thread_alloc(name, prio);
	if (!t)
		return NULL;
	t->kstack_top = kstack_alloc();
	if (!t->kstack_top) {
		thread_free(t);
		return NULL;
	}
	t->entry = entry;
	t->arg = arg;
	t->pinned = cpu >= 0;
	t->cpu = cpu >= 0 ? (unsigned)cpu : choose_cpu();

	/* Initial frame popped by context_switch, then "ret" into
	 * thread_trampoline with a 16-byte aligned stack. */
	sp = (uint64_t *)t->kstack_top;
	*--sp = 0;
	*--sp = 0;
	*--sp = (uint64_t)thread_trampoline;
	*--sp = 0;			/* rbp */
	*--sp = 0;			/* rbx */
	*--sp = (uint64_t)entry;	/* r12 */
	*--sp = (uint64_t)arg;		/* r13 */
	*--sp = 0;			/* r14 */
	*--sp = 0;			/* r15 */
	t->rsp = (uint64_t)sp;

	rq = &rqs[t->cpu];
	f = spin_lock_irqsave(&rq->lock);
	t->state = THREAD_READY;
	enqueue(rq, t);
	if (cpus[t->cpu].current == rq->idle || t->prio > cpus[t->cpu].current->prio) {
		cpus[t->cpu].need_resched = 1;
		if (t->cpu != cpu_id())
			smp_send_resched(t->cpu);
	}
	spin_unlock_irqrestore(&rq->lock, f);
	return t;
}

void thread_exit(void)
{
	struct runqueue *rq;

	arch_irq_disable();
	rq = &rqs[cpu_id()];
	spin_lock(&rq->lock);
	thread_current()->state = THREAD_DEAD;
	spin_unlock(&rq->lock);
	schedule(false);
	panic("dead thread scheduled");
}

void sched_yield(void)
{
	irqflags_t f = arch_irq_save();

	schedule(false);
	arch_irq_restore(f);
}

void sched_preempt(void)
{
	schedule(true);
}

/* Lock the run queue that owns t (t->cpu may change while unlocked). */
static struct runqueue *lock_thread_rq(struct thread *t)
{
	for (;;) {
		unsigned cpu = READ_ONCE(t->cpu);
		struct runqueue *rq = &rqs[cpu];

		spin_lock(&rq->lock);
		if (READ_ONCE(t->cpu) == cpu)
			return rq;
		spin_unlock(&rq->lock);
	}
}

/*
 * The current thread changes its own state between RUNNING and BLOCKED
 * without its run queue lock: no other CPU can take it off this one
 * while it runs, and a waker, which changes BLOCKED to RUNNING under the
 * lock, either reads BLOCKED (and wakes it) or came first, in which case
 * the locked exchange here orders the waiter's later check of its
 * condition after the waker's store of it, and the check sees it.
 */
void sched_prepare_block(void)
{
	__atomic_exchange_n(&thread_current()->state, THREAD_BLOCKED, __ATOMIC_SEQ_CST);
}

void sched_cancel_block(void)
{
	enum thread_state blocked = THREAD_BLOCKED;

	__atomic_compare_exchange_n(&thread_current()->state, &blocked, THREAD_RUNNING, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

bool sched_block(uint64_t deadline)
{
	struct thread *t = thread_current();
	irqflags_t f = arch_irq_save();

	t->timed_out = false;
	if (deadline)
		timer_arm(&t->sleep_timer, deadline);
	schedule(false);
	if (deadline)
		timer_cancel(&t->sleep_timer);
	arch_irq_restore(f);
	return !t->timed_out;
}

bool thread_wake(struct thread *t)
{
	irqflags_t f = arch_irq_save();
	struct runqueue *rq = lock_thread_rq(t);
	struct cpu *c = &cpus[t->cpu];
	bool woke = false;

	if (t->state == THREAD_BLOCKED) {
		woke = true;
		if (c->current == t) {
			t->state = THREAD_RUNNING;
		} else {
			t->state = THREAD_READY;
			enqueue(rq, t);
			if (c->current == rq->idle || t->prio > c->current->prio) {
				c->need_resched = 1;
				if (t->cpu != cpu_id())
					smp_send_resched(t->cpu);
			}
		}
	}
	spin_unlock(&rq->lock);
	arch_irq_restore(f);
	return woke;
}

/*
 * A wake-up by a thread that is about to block: t, if it sleeps on this
 * CPU, becomes READY without joining the run queue and is remembered as
 * the run queue's handoff, so that the waker's next switch goes straight
 * to it (no enqueue, no pick). need_resched makes sure that switch comes
 * even if the waker does not block after all (system-call and interrupt
 * return check it). While remembered, t is READY and on no list, so no
 * other CPU can run or steal it, and it cannot exit: the pointer stays
 * good until schedule() takes it.
 */
bool thread_wake_sync(struct thread *t)
{
	irqflags_t f = arch_irq_save();
	struct cpu *c = this_cpu();
	struct runqueue *rq = &rqs[c->id];
	bool woke = false;

	spin_lock(&rq->lock);
	if (READ_ONCE(t->cpu) == c->id && !rq->handoff && t != c->current &&
	    t->state == THREAD_BLOCKED) {
		t->state = THREAD_READY;
		rq->handoff = t;
		c->need_resched = 1;
		woke = true;
	}
	spin_unlock(&rq->lock);
	arch_irq_restore(f);
	if (__builtin_expect(!woke, 0))
		return thread_wake(t);	/* (a tail call: no frame kept) */
	return true;
}

void sched_sleep_until(uint64_t deadline)
{
	while (clock_ns() < deadline) {
		sched_prepare_block();
		sched_block(deadline);
	}
}

void sched_sleep_ns(uint64_t ns)
{
	sched_sleep_until(clock_ns() + ns);
}

/* Move one ready thread from the busiest CPU to this idle one. Interrupts
 * off. Returns true when a thread was taken. */
static bool steal(void)
{
	unsigned me = cpu_id(), victim = me, most = 0;
	struct runqueue *a, *b;
	struct thread *t = NULL;

	for (unsigned i = 0; i < cpus_online(); i++) {
		if (i != me && READ_ONCE(rqs[i].nr_ready) > most) {
			most = READ_ONCE(rqs[i].nr_ready);
			victim = i;
		}
	}
	if (victim == me)
		return false;
	a = &rqs[MIN(me, victim)];
	b = &rqs[MAX(me, victim)];
	spin_lock(&a->lock);
	spin_lock(&b->lock);
	for (int p = SCHED_PRIOS - 1; p >= 0 && !t; p--) {
		struct list_head *pos;

		list_for_each(pos, &rqs[victim].q[p]) {
			struct thread *c = list_entry(pos, struct thread, rq_link);

			if (!c->pinned) {
				t = c;
				break;
			}
		}
	}
	if (t) {
		dequeue(&rqs[victim], t);
		t->cpu = me;
		enqueue(&rqs[me], t);
	}
	spin_unlock(&b->lock);
	spin_unlock(&a->lock);
	return t != NULL;
}

static __noreturn void idle_loop(void)
{
	struct runqueue *rq = &rqs[cpu_id()];

	for (;;) {
		reap();
		arch_irq_disable();
		if (READ_ONCE(rq->nr_ready) || this_cpu()->need_resched || steal()) {
			schedule(false);
			arch_irq_enable();
			continue;
		}
		if (!list_empty(&rq->dead)) {	/* parked since reap() looked */
			arch_irq_enable();
			continue;
		}
		arch_idle();	/* sti; hlt: a wake-up IPI ends the hlt */
	}
}

static void rq_init(struct runqueue *rq)
{
	spin_init(&rq->lock);
	for (int p = 0; p < SCHED_PRIOS; p++)
		list_init(&rq->q[p]);
	list_init(&rq->dead);
	timer_init(&rq->slice_timer, slice_expired, rq);
}

void sched_init(void)
{
	thread_cache = kmem_cache_create("thread", sizeof(struct thread), 64);
	if (!thread_cache)
		panic("sched: no thread cache");
}

void sched_init_cpu(void)
{
	struct cpu *c = this_cpu();
	struct runqueue *rq = &rqs[c->id];
	char name[16];
	struct thread *idle;

	rq_init(rq);
	rill_snprintf(name, sizeof(name), "idle%u", c->id);
	idle = thread_alloc(name, 0);
	if (!idle)
		panic("sched: no memory for the idle thread");
	idle->cpu = c->id;
	idle->pinned = true;
	idle->state = THREAD_RUNNING;
	idle->last_start_ns = clock_ns();
	rq->idle = idle;
	c->current = idle;
}

void sched_idle(void)
{
	arch_irq_enable();
	idle_loop();
}

uint64_t sched_threads_alive(void)
{
	return __atomic_load_n(&nthreads, __ATOMIC_ACQUIRE);
}

unsigned sched_nr_ready(unsigned cpu)
{
	return READ_ONCE(rqs[cpu].nr_ready);
}

void sched_dump(void)
{
	static const char *const names[] = { "ready", "running", "blocked", "dead" };
	irqflags_t f = spin_lock_irqsave(&all_lock);
	struct list_head *p;

	list_for_each(p, &all_threads) {
		struct thread *t = list_entry(p, struct thread, all_link);

		pr_info("sched: thread %lu %-12s %-7s cpu%u prio %d%s%s switches %lu",
			t->id, t->name, names[t->state], t->cpu, t->prio,
			t->queued ? " queued" : "", cpus[t->cpu].current == t ? " current" : "",
			t->switches);
	}
	spin_unlock_irqrestore(&all_lock, f);
	for (unsigned i = 0; i < cpus_online(); i++)
		pr_info("sched: cpu%u ready %u dead-list %s need_resched %u", i,
			rqs[i].nr_ready, list_empty(&rqs[i].dead) ? "empty" : "non-empty",
			cpus[i].need_resched);
}
