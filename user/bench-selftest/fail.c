/*
 * fail - a fixture of the bench runner's self-test (booted with "bench
 * selftest", never in `make bench`): it measures one region correctly,
 * then fails on purpose. tools/runbench.py must report the failure and
 * exit non-zero (tools/runtests.py, selftest/bench).
 */
#include <rill/bench.h>
#include <rill/rl.h>

int main(int argc, char **argv)
{
	uint64_t t0, t1;
	volatile unsigned x = 0;

	t0 = rl_clock_ns();
	rl_bench_start();
	for (unsigned i = 0; i < 1000; i++)
		x += i;
	rl_bench_stop();
	t1 = rl_clock_ns();
	rl_printf("BENCHREGION name=selftest_loop iters=1000 ns=%lu\n", t1 - t0);
	rl_bench_fail("fail", "deliberate failure (runner self-test)");
}
