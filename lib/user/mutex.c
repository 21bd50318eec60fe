/*
 * mutex.c - a futex-based mutex: 0 free, 1 locked, 2 locked with waiters.
 * The uncontended paths make no system call.
 */
#include <rill/rl.h>

void rl_mutex_lock(rl_mutex_t *m)
{
	uint32_t c = 0;

	if (__atomic_compare_exchange_n(&m->v, &c, 1, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(&m->v, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		rl_futex_wait(&m->v, 2, 0);
		c = __atomic_exchange_n(&m->v, 2, __ATOMIC_ACQUIRE);
	}
}

void rl_mutex_unlock(rl_mutex_t *m)
{
	if (__atomic_exchange_n(&m->v, 0, __ATOMIC_RELEASE) == 2)
		rl_futex_wake(&m->v, 1);
}
