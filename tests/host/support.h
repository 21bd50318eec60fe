/*
 * support.h - shared helpers for host unit tests of portable kernel code.
 *
 * The kernel's klog() is replaced by one that records the last message, so a
 * test can assert that a malformed input was rejected *with a log line*.
 */
#ifndef TESTS_HOST_SUPPORT_H
#define TESTS_HOST_SUPPORT_H

#include <stdint.h>

extern char host_last_log[512];	/* text of the last klog() call */
extern int host_last_log_level;	/* its level, -1 when none since reset */
extern int host_log_count;	/* klog() calls since reset */

void host_log_reset(void);

/* Report the running Check test as skipped, then leave it: prints
 * "host: SKIP <test>: <reason>", which tools/runtests.py counts as a skip
 * instead of the pass Check records (Check has no skip of its own). For a
 * test whose subject is absent on this host. */
void host_skip(const char *func, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define HOST_SKIP(...) do {						\
	host_skip(__func__, __VA_ARGS__);				\
	return;								\
} while (0)

/* Deterministic pseudo-random numbers (xorshift64*) for tests. */
void rng_seed(uint64_t seed);
uint64_t rng_next(void);
uint64_t rng_below(uint64_t n);	/* in [0, n), n > 0 */

#endif
