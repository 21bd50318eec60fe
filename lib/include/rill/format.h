/*
 * format.h - printf-style formatting without libc, shared by the kernel,
 * native user programs and host tests.
 *
 * Supported: %d %i %u %x %X %o %p %s %c %%, the length modifiers hh h l ll z t j,
 * the flags '-' '0' '+' ' ' '#', a field width and a precision (both may be '*').
 * No floating point.
 */
#ifndef RILL_FORMAT_H
#define RILL_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

/* Like vsnprintf: writes at most size bytes including the NUL, returns the
 * length the full output would have had. */
int rill_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int rill_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Streams the output through put(c, ctx), one character at a time. Returns
 * the number of characters produced. */
int rill_vformat(void (*put)(char c, void *ctx), void *ctx, const char *fmt,
		 va_list ap);

#endif
