/*
 * rill/bench.h - benchmark regions for tools/bench.py: the markers the TCG
 * plugin (tools/plugin/insncount.c) counts guest instructions between, and
 * the line that names each region.
 */
#ifndef RILL_BENCH_H
#define RILL_BENCH_H

#include <rill/rl.h>

static inline void rl_bench_start(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80; .long 0x52494c01" : : : "memory");
}

static inline void rl_bench_stop(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80; .long 0x52494c02" : : : "memory");
}

/* A bench program that meets any error says so with this line and exits
 * non-zero: tools/runbench.py then fails `make bench` with the reason. A
 * figure measured around an error is not a measurement. */
#define BENCH_FAIL(prog, fmt, ...)					\
	rl_printf("bench: FAIL %s: " fmt "\n", prog, ##__VA_ARGS__)

/* System calls made so far by everyone (the kcounters call counts itself). */
static inline uint64_t rl_bench_syscalls(void)
{
	struct rl_kcounters c;

	rl_kcounters((uint64_t)&c, sizeof(c));
	return c.syscalls;
}

#endif
