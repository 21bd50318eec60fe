/*
 * test_cmdline.c - host tests of the kernel command-line parser, including
 * hostile input from the boot loader.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/cmdline.h>

START_TEST(finds_values)
{
	char v[32];

	ck_assert(cmdline_find("log=debug ktest=all", "log", v, sizeof(v)));
	ck_assert_str_eq(v, "debug");
	ck_assert(cmdline_find("log=debug ktest=all", "ktest", v, sizeof(v)));
	ck_assert_str_eq(v, "all");
	ck_assert(cmdline_find("  quiet\tlog=warn  ", "quiet", v, sizeof(v)));
	ck_assert_str_eq(v, "");
	ck_assert(cmdline_find("a=1 a=2", "a", v, sizeof(v)));
	ck_assert_str_eq(v, "2");	/* last wins */
	ck_assert(cmdline_find("empty=", "empty", v, sizeof(v)));
	ck_assert_str_eq(v, "");
	ck_assert(cmdline_find("ktest.fault=pagefault", "ktest.fault", v, sizeof(v)));
	ck_assert_str_eq(v, "pagefault");
}
END_TEST

START_TEST(prefixes_do_not_match)
{
	char v[32];

	/* "ktest" must not match "ktest.fault=..." and vice versa. */
	ck_assert(!cmdline_find("ktest.fault=pagefault", "ktest", v, sizeof(v)));
	ck_assert(!cmdline_find("ktest=all", "ktest.fault", v, sizeof(v)));
	ck_assert(!cmdline_find("logx=1", "log", v, sizeof(v)));
	ck_assert(!cmdline_find("", "log", v, sizeof(v)));
	ck_assert(!cmdline_find(NULL, "log", v, sizeof(v)));
	ck_assert(!cmdline_find("log=1", "", v, sizeof(v)));
}
END_TEST

START_TEST(values_are_bounded)
{
	char v[4];

	memset(v, 'X', sizeof(v));
	ck_assert(cmdline_find("k=abcdefgh", "k", v, sizeof(v)));
	ck_assert_str_eq(v, "abc");
	ck_assert(cmdline_find("k=abcdefgh", "k", NULL, 0));
}
END_TEST

START_TEST(long_line_truncated)
{
	char *big = malloc(5000);
	char v[16];

	memset(big, 'a', 4999);
	big[4999] = '\0';
	memcpy(big + 1019, " x=1", 4);	/* ends exactly at the 1023-byte limit */
	cmdline_set(big);
	ck_assert_uint_eq(strlen(cmdline_get()), CMDLINE_MAX - 1);
	ck_assert(cmdline_get_value("x", v, sizeof(v)));
	ck_assert_str_eq(v, "1");
	memcpy(big + 1019, "aaaa", 4);
	memcpy(big + 2000, " y=2", 4);	/* beyond the limit: dropped */
	cmdline_set(big);
	ck_assert(!cmdline_has("y"));
	cmdline_set(NULL);
	ck_assert_str_eq(cmdline_get(), "");
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cmdline");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, finds_values);
	tcase_add_test(tc, prefixes_do_not_match);
	tcase_add_test(tc, values_are_bounded);
	tcase_add_test(tc, long_line_truncated);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
