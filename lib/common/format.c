/*
 * format.c - printf-style formatting for the kernel, native programs and
 * host tests (see rill/format.h for what is supported).
 *
 * One engine, rill_vformat, streams characters through a callback; the
 * snprintf family is a callback that fills a bounded buffer. Nothing here
 * allocates or takes locks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <rill/format.h>

struct spec {
	bool left, zero, plus, space, alt;
	int width;		/* -1: none */
	int prec;		/* -1: none */
	int len;		/* 0 int, 1 long, 2 long long, -1 short, -2 char, 3 size/ptrdiff/intmax */
};

struct out {
	void (*put)(char c, void *ctx);
	void *ctx;
	int count;
};

static void emit(struct out *o, char c)
{
	o->put(c, o->ctx);
	o->count++;
}

static void emit_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		emit(o, c);
}

/* Emit a number already converted to digits (reversed in buf[0..n)). */
static void emit_number(struct out *o, const struct spec *s, const char *digits,
			int n, const char *prefix)
{
	int plen = 0, zeros = 0, total, pad;

	while (prefix[plen])
		plen++;
	if (s->prec >= 0 && s->prec > n)
		zeros = s->prec - n;
	total = plen + zeros + n;
	pad = s->width > total ? s->width - total : 0;
	if (s->zero && !s->left && s->prec < 0) {
		zeros += pad;
		pad = 0;
	}
	if (!s->left)
		emit_pad(o, ' ', pad);
	for (int i = 0; i < plen; i++)
		emit(o, prefix[i]);
	emit_pad(o, '0', zeros);
	while (n > 0)
		emit(o, digits[--n]);
	if (s->left)
		emit_pad(o, ' ', pad);
}

static void format_unsigned(struct out *o, const struct spec *s, uint64_t v,
			    unsigned base, bool upper, bool negative)
{
	const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char digits[24];
	const char *prefix = "";
	int n = 0;

	if (v == 0 && s->prec == 0) {
		n = 0;	/* "%.0d" of 0 prints no digits */
	} else {
		do {
			digits[n++] = set[v % base];
			v /= base;
		} while (v);
	}
	if (negative)
		prefix = "-";
	else if (s->plus)
		prefix = "+";
	else if (s->space)
		prefix = " ";
	if (s->alt && base == 16 && n > 0 && !(n == 1 && digits[0] == '0'))
		prefix = upper ? "0X" : "0x";
	if (s->alt && base == 8 && (n == 0 || digits[n - 1] != '0'))
		digits[n++] = '0';
	emit_number(o, s, digits, n, prefix);
}

static void format_string(struct out *o, const struct spec *s, const char *str)
{
	int n = 0;

	if (!str)
		str = "(null)";
	while (str[n] && (s->prec < 0 || n < s->prec))
		n++;
	if (!s->left)
		emit_pad(o, ' ', s->width - n);
	for (int i = 0; i < n; i++)
		emit(o, str[i]);
	if (s->left)
		emit_pad(o, ' ', s->width - n);
}

static int64_t get_signed(const struct spec *s, va_list *ap)
{
	switch (s->len) {
	case -2: return (signed char)va_arg(*ap, int);
	case -1: return (short)va_arg(*ap, int);
	case 0: return va_arg(*ap, int);
	case 1: return va_arg(*ap, long);
	default: return va_arg(*ap, long long);
	}
}

static uint64_t get_unsigned(const struct spec *s, va_list *ap)
{
	switch (s->len) {
	case -2: return (unsigned char)va_arg(*ap, unsigned int);
	case -1: return (unsigned short)va_arg(*ap, unsigned int);
	case 0: return va_arg(*ap, unsigned int);
	case 1: return va_arg(*ap, unsigned long);
	default: return va_arg(*ap, unsigned long long);
	}
}

int rill_vformat(void (*put)(char c, void *ctx), void *ctx, const char *fmt,
		 va_list ap_in)
{
	struct out o = { put, ctx, 0 };
	va_list ap;

	va_copy(ap, ap_in);
	while (*fmt) {
		struct spec s = { .width = -1, .prec = -1 };
		char c = *fmt++;

		if (c != '%') {
			emit(&o, c);
			continue;
		}
		for (;; fmt++) {
			if (*fmt == '-') s.left = true;
			else if (*fmt == '0') s.zero = true;
			else if (*fmt == '+') s.plus = true;
			else if (*fmt == ' ') s.space = true;
			else if (*fmt == '#') s.alt = true;
			else break;
		}
		if (*fmt == '*') {
			s.width = va_arg(ap, int);
			if (s.width < 0) {
				s.left = true;
				s.width = -s.width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9') {
				s.width = (s.width < 0 ? 0 : s.width) * 10 + (*fmt++ - '0');
				if (s.width > 4096)
					s.width = 4096;
			}
		}
		if (*fmt == '.') {
			fmt++;
			s.prec = 0;
			if (*fmt == '*') {
				s.prec = va_arg(ap, int);
				if (s.prec < 0)
					s.prec = -1;
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9') {
					s.prec = s.prec * 10 + (*fmt++ - '0');
					if (s.prec > 4096)
						s.prec = 4096;
				}
			}
		}
		if (*fmt == 'h') {
			s.len = -1;
			if (*++fmt == 'h') {
				s.len = -2;
				fmt++;
			}
		} else if (*fmt == 'l') {
			s.len = 1;
			if (*++fmt == 'l') {
				s.len = 2;
				fmt++;
			}
		} else if (*fmt == 'z' || *fmt == 't' || *fmt == 'j') {
			s.len = 3;
			fmt++;
		}
		c = *fmt;
		if (c)
			fmt++;
		switch (c) {
		case 'd':
		case 'i': {
			int64_t v = get_signed(&s, &ap);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

			format_unsigned(&o, &s, mag, 10, false, v < 0);
			break;
		}
		case 'u':
			format_unsigned(&o, &s, get_unsigned(&s, &ap), 10, false, false);
			break;
		case 'x':
		case 'X':
			format_unsigned(&o, &s, get_unsigned(&s, &ap), 16, c == 'X', false);
			break;
		case 'o':
			format_unsigned(&o, &s, get_unsigned(&s, &ap), 8, false, false);
			break;
		case 'p':
			s.alt = true;
			s.len = 2;
			format_unsigned(&o, &s, (uintptr_t)va_arg(ap, void *), 16, false, false);
			break;
		case 's':
			format_string(&o, &s, va_arg(ap, const char *));
			break;
		case 'c': {
			char ch = (char)va_arg(ap, int);

			if (!s.left)
				emit_pad(&o, ' ', s.width - 1);
			emit(&o, ch);
			if (s.left)
				emit_pad(&o, ' ', s.width - 1);
			break;
		}
		case '%':
			emit(&o, '%');
			break;
		case '\0':
			emit(&o, '%');
			break;
		default:
			/* Unknown conversion: print it as written. */
			emit(&o, '%');
			emit(&o, c);
			break;
		}
	}
	va_end(ap);
	return o.count;
}

struct bufctx {
	char *buf;
	size_t size;
	size_t pos;
};

static void buf_put(char c, void *p)
{
	struct bufctx *b = p;

	if (b->pos + 1 < b->size)
		b->buf[b->pos] = c;
	b->pos++;
}

int rill_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct bufctx b = { buf, size, 0 };
	int n = rill_vformat(buf_put, &b, fmt, ap);

	if (size > 0)
		buf[b.pos < size ? b.pos : size - 1] = '\0';
	return n;
}

int rill_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rill_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
