/* time.c - the monotonic clock, read from the clock page without a system call. */
#include <rill/rl.h>

uint64_t rl_clock_ns(void)
{
	const volatile struct rl_clock_page *cp =
		(const volatile struct rl_clock_page *)rl_startup_info->clock_page;
	uint32_t seq;
	uint64_t ns, lo, hi;

	do {
		seq = cp->seq;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		ns = cp->base_ns +
		     (uint64_t)(((unsigned __int128)(((hi << 32) | lo) - cp->tsc_base) * cp->mult) >> 32);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((seq & 1) || seq != cp->seq);
	return ns;
}

uint64_t rl_clock_realtime_ns(void)
{
	const volatile struct rl_clock_page *cp =
		(const volatile struct rl_clock_page *)rl_startup_info->clock_page;
	uint32_t seq;
	uint64_t ns, lo, hi;

	do {
		seq = cp->seq;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		ns = cp->base_ns +
		     (uint64_t)(((unsigned __int128)(((hi << 32) | lo) - cp->tsc_base) * cp->mult) >> 32) +
		     (uint64_t)cp->realtime_offset;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((seq & 1) || seq != cp->seq);
	return ns;
}

void rl_sleep_ns(uint64_t ns)
{
	uint32_t word = 0;
	uint64_t deadline = rl_clock_ns() + ns;

	/* A futex wait nobody wakes, until the deadline. */
	while (rl_futex_wait(&word, 0, deadline) != -RILL_ETIMEDOUT &&
	       rl_clock_ns() < deadline)
		;
}
