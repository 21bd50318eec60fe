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

/* Abandon the open region (the plugin records nothing for it). */
static inline void rl_bench_reset(void)
{
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80; .long 0x52494c03" : : : "memory");
}

/* A bench program that meets any error (a failed call, a completion with
 * an error, a reply of the wrong length or content) calls this: it
 * abandons the open region, prints "bench: FAIL <prog>: <reason>" and ends
 * the whole process with status 1, so init counts the program failed and
 * tools/runbench.py fails `make bench` with the reason. A figure measured
 * around an error is not a measurement. */
void rl_bench_fail(const char *prog, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* System calls made so far by everyone (the kcounters call counts itself). */
static inline uint64_t rl_bench_syscalls(void)
{
	struct rl_kcounters c;

	rl_kcounters(&c, sizeof(c));
	return c.syscalls;
}

#endif
