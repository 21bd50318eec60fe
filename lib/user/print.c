/* print.c - formatted output to the kernel console (debug_write). */
#include <rill/format.h>
#include <rill/rl.h>
#include <rill/string.h>

int rl_vprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = rill_vsnprintf(buf, sizeof(buf), fmt, ap);

	rl_debug_write(buf, n < (int)sizeof(buf) ? (uint64_t)n : sizeof(buf) - 1);
	return n;
}

int rl_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rl_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void rl_puts(const char *s)
{
	rl_debug_write(s, strlen(s));
}
