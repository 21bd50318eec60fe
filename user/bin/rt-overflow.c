/*
 * rt-overflow - a task that runs off the end of its stack (user/tests/rt.c,
 * stack_overflow_ends_process): it meets its guard page, and the fault,
 * which nobody resolves, ends this process with -EFAULT.
 */
#include <rill/rl.h>
#include <rill/rt.h>

static volatile uint64_t depth_limit = ~0ull;	/* never reached */

static uint64_t __attribute__((noinline)) recurse(uint64_t n)
{
	volatile char pad[512];

	pad[0] = (char)n;
	return n < depth_limit ? recurse(n + 1) + pad[0] : 0;
}

static int64_t overflows(void *arg)
{
	return (int64_t)recurse(0);
}

int main(int argc, char **argv)
{
	struct rl_loop l;

	if (rl_loop_init(&l, 8, 16) < 0 || !rl_loop_spawn(&l, overflows, NULL))
		return 2;
	rl_loop_run(&l);
	return 3;	/* not reached: the overflow ends the process */
}
