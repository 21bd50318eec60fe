/*
 * latprobe.c - the latency probe (system call latency_probe).
 *
 * While started, a timer on every online CPU fires once per period and
 * records, in its handler, how late it runs against its programmed
 * deadline (clock_ns, TSC-based). An interrupt can only be late because
 * the CPU had interrupts off (or was serving another interrupt), so the
 * largest lateness seen is the longest stretch with interrupts off on that
 * CPU, less up to one period (a stretch that began before the deadline was
 * armed is seen only from the deadline on). Stopped, it costs nothing: the
 * timers are not armed and no other path looks at it.
 *
 * One probe for the whole machine; start, read and stop are serialized by
 * probe_lock. The timers are armed by a short kernel thread pinned to each
 * CPU (a timer fires on the CPU that armed it); the handler re-arms its
 * own timer, so the probe keeps running on that CPU until stopped.
 */
#include <kernel/object.h>
#include <kernel/cpu.h>
#include <kernel/errno.h>
#include <kernel/sched.h>
#include <kernel/spinlock.h>
#include <kernel/syscall.h>
#include <kernel/time.h>
#include <kernel/timer.h>
#include <kernel/vm.h>
#include <abi/rill.h>

struct probe_cpu {
	struct timer t;
	uint64_t deadline;
	uint64_t max_late;
	uint64_t fires;
};

static struct probe_cpu probes[MAX_CPUS];
static bool probe_on;			/* read by the handlers */
static uint64_t probe_period;
static uint32_t probe_armed;		/* CPUs whose timer is armed (atomic) */
static spinlock_t probe_lock = SPINLOCK_INIT;
static bool probe_busy;			/* a start or stop in progress (probe_lock) */

static void probe_fire(struct timer *t, void *arg)
{
	struct probe_cpu *pc = arg;
	uint64_t now = clock_ns();
	uint64_t late = now > pc->deadline ? now - pc->deadline : 0;

	if (late > pc->max_late)
		pc->max_late = late;
	pc->fires++;
	if (__atomic_load_n(&probe_on, __ATOMIC_SEQ_CST)) {
		pc->deadline = now + probe_period;
		timer_arm(t, pc->deadline);
	}
}

/* Runs pinned on one CPU: arm its timer there, then go. */
static void probe_starter(void *arg)
{
	struct probe_cpu *pc = arg;
	irqflags_t f = arch_irq_save();

	pc->deadline = clock_ns() + probe_period;
	timer_arm(&pc->t, pc->deadline);
	arch_irq_restore(f);
	__atomic_fetch_add(&probe_armed, 1, __ATOMIC_ACQ_REL);
	thread_exit();
}

static void probe_read(struct rl_latency *out)
{
	*out = (struct rl_latency){ .period_ns = probe_period,
				    .running = __atomic_load_n(&probe_on, __ATOMIC_ACQUIRE) };
	for (unsigned i = 0; i < ncpus; i++) {
		uint64_t late = READ_ONCE(probes[i].max_late);

		out->fires += READ_ONCE(probes[i].fires);
		if (late > out->max_late_ns) {
			out->max_late_ns = late;
			out->max_late_cpu = i;
		}
	}
}

/* Claim the right to start or stop (false: another caller is at it). */
static bool probe_claim(void)
{
	irqflags_t f = spin_lock_irqsave(&probe_lock);
	bool ok = !probe_busy;

	probe_busy = true;
	spin_unlock_irqrestore(&probe_lock, f);
	return ok;
}

static void probe_release(void)
{
	__atomic_store_n(&probe_busy, false, __ATOMIC_RELEASE);
}

static int probe_start(uint64_t period)
{
	unsigned want = 0;

	if (__atomic_load_n(&probe_on, __ATOMIC_ACQUIRE))
		return -EBUSY;
	probe_period = period;
	probe_armed = 0;
	for (unsigned i = 0; i < ncpus; i++) {
		probes[i].max_late = 0;
		probes[i].fires = 0;
		timer_init(&probes[i].t, probe_fire, &probes[i]);
	}
	__atomic_store_n(&probe_on, true, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < ncpus; i++) {
		if (!cpus[i].online)
			continue;
		if (!thread_create("latprobe", probe_starter, &probes[i], SCHED_PRIOS - 1, (int)i))
			break;
		want++;
	}
	/* Every CPU's timer runs before the caller goes on measuring. */
	while (__atomic_load_n(&probe_armed, __ATOMIC_ACQUIRE) < want)
		sched_yield();
	return 0;
}

static void probe_stop(void)
{
	__atomic_store_n(&probe_on, false, __ATOMIC_SEQ_CST);
	/* The first cancel waits for a handler running elsewhere, which may
	 * re-arm once (it read probe_on before the store); the second
	 * removes that. Nothing re-arms afterwards. */
	for (unsigned i = 0; i < ncpus; i++) {
		timer_cancel(&probes[i].t);
		timer_cancel(&probes[i].t);
	}
}

SYSCALL_DEFINE(latency_probe)
{
	struct rl_latency out;
	struct kobj *auth;
	int r;

	/* A timer on every CPU is the machine's business: it takes the IRQ
	 * authority (init's, and what it hands on), like opening an IRQ. */
	r = a3 > INT32_MAX ? -EBADF : handle_get(a3, RL_OBJ_IRQ_AUTHORITY, 0, &auth, NULL);
	if (r)
		return r;
	kobj_put(auth);
	if (a0 < RL_LATPROBE_START || a0 > RL_LATPROBE_STOP)
		return -EINVAL;
	if (a0 == RL_LATPROBE_START && (a1 < RL_LATPROBE_MIN_NS || a1 > RL_LATPROBE_MAX_NS))
		return -EINVAL;
	if (a0 != RL_LATPROBE_START && a1)
		return -EINVAL;
	if (a0 != RL_LATPROBE_READ) {
		if (!probe_claim())
			return -EBUSY;
		if (a0 == RL_LATPROBE_START)
			r = probe_start(a1);
		else if (__atomic_load_n(&probe_on, __ATOMIC_ACQUIRE))
			probe_stop();
		else
			r = -ENOENT;	/* not running */
		probe_release();
		if (r)
			return r;
	}
	if (!a2)
		return 0;
	probe_read(&out);
	return copy_to_user(a2, &out, sizeof(out)) ? -EFAULT : 0;
}
