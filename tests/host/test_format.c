/*
 * test_format.c - host tests of lib/common/format.c against glibc's printf
 * for the conversions both support, plus truncation and bounds.
 */
#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rill/format.h>

/* These tests feed odd and broken formats on purpose. */
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
#pragma GCC diagnostic ignored "-Wformat-overflow"

/* Format with both and compare. */
#define SAME(...)							\
	do {								\
		char a[256], b[256];					\
		int ra = rill_snprintf(a, sizeof(a), __VA_ARGS__);	\
		int rb = snprintf(b, sizeof(b), __VA_ARGS__);		\
		ck_assert_str_eq(a, b);					\
		ck_assert_int_eq(ra, rb);				\
	} while (0)

START_TEST(integers)
{
	SAME("%d %i %u", 0, -1, 4000000000u);
	SAME("%d", INT32_MIN);
	SAME("%ld %lu", (long)INT64_MIN, (unsigned long)UINT64_MAX);
	SAME("%lld %llx %llX", -123456789012345ll, 0xdeadbeefcafeull, 0xabcdefull);
	SAME("%zu %zd %td %jd", (size_t)12345, (ssize_t)-5, (ptrdiff_t)-7, (intmax_t)99);
	SAME("%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
	SAME("%o %#o %#o", 8, 8, 0);
	SAME("%x %#x %#X %#x", 255, 255, 255, 0);
}
END_TEST

START_TEST(widths_and_flags)
{
	SAME("[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
	SAME("[%05d] [%-05d] [%+05d]", -42, -42, 42);
	SAME("[%.3d] [%8.3d] [%-8.3d] [%08.3d]", 7, 7, 7, 7);
	SAME("[%.0d] [%.0x] [%5.0d]", 0, 0, 0);
	SAME("[%*d] [%-*d] [%*d]", 6, 1, 6, 1, -6, 1);
	SAME("[%.*d]", 4, 3);
	SAME("[%016lx] [%#018lx]", 0x1234ul, 0x1234ul);
}
END_TEST

START_TEST(strings_and_chars)
{
	SAME("[%s] [%10s] [%-10s] [%.2s] [%5.1s]", "abc", "abc", "abc", "abc", "abc");
	SAME("[%c] [%3c] [%-3c]", 'x', 'y', 'z');
	SAME("100%% done");
	SAME("[%*s] [%-*s]", 4, "a", 4, "b");
	{
		char a[32];

		rill_snprintf(a, sizeof(a), "%s", (char *)NULL);
		ck_assert_str_eq(a, "(null)");
	}
}
END_TEST

START_TEST(pointers)
{
	char a[64];

	rill_snprintf(a, sizeof(a), "%p", (void *)0xffffffff80001234ull);
	ck_assert_str_eq(a, "0xffffffff80001234");
}
END_TEST

START_TEST(truncation)
{
	char buf[8];
	int n;

	memset(buf, 'X', sizeof(buf));
	n = rill_snprintf(buf, 5, "hello world %d", 42);
	ck_assert_int_eq(n, 14);
	ck_assert_str_eq(buf, "hell");
	ck_assert_int_eq(buf[5], 'X');	/* nothing written past size */

	n = rill_snprintf(buf, 0, "abc");	/* size 0: nothing written at all */
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(buf[0], 'h');

	n = rill_snprintf(buf, 1, "abc");
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(hostile_formats)
{
	char buf[64];

	/* Unknown conversion and a trailing '%': printed, never a crash. */
	rill_snprintf(buf, sizeof(buf), "a%qb");
	ck_assert_str_eq(buf, "a%qb");
	rill_snprintf(buf, sizeof(buf), "end%");
	ck_assert_str_eq(buf, "end%");
	/* Absurd widths are clamped and truncated to the buffer. */
	ck_assert_int_le(rill_snprintf(buf, sizeof(buf), "%999999999d", 1), 4097);
	ck_assert_int_eq((int)strlen(buf), 63);
}
END_TEST

struct sink {
	char buf[64];
	int n;
};

static void sink_put(char c, void *ctx)
{
	struct sink *k = ctx;

	if (k->n < (int)sizeof(k->buf) - 1)
		k->buf[k->n] = c;
	k->n++;
}

static int sink_format(struct sink *k, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = rill_vformat(sink_put, k, fmt, ap);
	va_end(ap);
	k->buf[k->n < (int)sizeof(k->buf) ? k->n : (int)sizeof(k->buf) - 1] = '\0';
	return r;
}

START_TEST(streaming)
{
	struct sink k = { .n = 0 };
	int r = sink_format(&k, "%s=%d;%x", "key", 12345, 255u);

	/* Every character goes through the sink exactly once, in order. */
	ck_assert_int_eq(r, 12);
	ck_assert_int_eq(k.n, 12);
	ck_assert_str_eq(k.buf, "key=12345;ff");
	ck_assert_int_eq(rill_snprintf(NULL, 0, "%s=%d", "key", 12345), 9);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, integers);
	tcase_add_test(tc, widths_and_flags);
	tcase_add_test(tc, strings_and_chars);
	tcase_add_test(tc, pointers);
	tcase_add_test(tc, truncation);
	tcase_add_test(tc, hostile_formats);
	tcase_add_test(tc, streaming);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
