/*
 * support.c - host replacements for the few kernel services portable code
 * calls (klog, kprintf).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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
