/*
 * spinlock.c - the contended path of spin_lock (spinlock.h).
 */
#include <kernel/spinlock.h>

__attribute__((cold, noinline, no_caller_saved_registers)) void spin_lock_contended(spinlock_t *l)
{
	do {
		/* Spin on a plain read so the line stays shared until free. */
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
			tlb_shootdown_poll();
			arch_cpu_relax();
		}
	} while (!spin_trylock(l));
}
