/*
 * support.c - host replacements for the few kernel services portable code
 * calls (klog, kprintf).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/log.h>
#include "support.h"

char host_last_log[512];
int host_last_log_level = -1;
int host_log_count;

void host_log_reset(void)
{
	host_last_log[0] = '\0';
	host_last_log_level = -1;
	host_log_count = 0;
}

/* func is the test's function, which Check's START_TEST names <test>_fn. */
void host_skip(const char *func, const char *fmt, ...)
{
	size_t n = strlen(func);
	va_list ap;

	if (n > 3 && !strcmp(func + n - 3, "_fn"))
		n -= 3;
	printf("host: SKIP %.*s: ", (int)n, func);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void vklog(int level, const char *fmt, va_list ap)
{
	vsnprintf(host_last_log, sizeof(host_last_log), fmt, ap);
	host_last_log_level = level;
	host_log_count++;
	if (getenv("HOST_TEST_LOG"))
		fprintf(stderr, "klog(%d): %s\n", level, host_last_log);
}

void klog(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vklog(level, fmt, ap);
	va_end(ap);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static uint64_t rng_state;

void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

uint64_t rng_below(uint64_t n)
{
	return rng_next() % n;
}
