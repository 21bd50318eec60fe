/*
 * bench.c - the failure path of bench programs (rill/bench.h).
 */
#include <stdarg.h>
#include <rill/bench.h>
#include <rill/format.h>
#include <rill/rl.h>

void rl_bench_fail(const char *prog, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	rl_bench_reset();
	va_start(ap, fmt);
	rill_vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	rl_printf("bench: FAIL %s: %s\n", prog, why);
	/* The whole process: a peer or a helper thread failing must not
	 * leave the rest running as if nothing happened. */
	rl_process_kill(RL_SELF_PROCESS, 1);
	for (;;)
		rl_exit(1);
}
