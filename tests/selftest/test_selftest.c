/*
 * test_selftest.c - a fixture of the test runner's self-test
 * (tools/runtests.py, selftest/host), never part of the normal host run:
 * one test passes, one fails on purpose, one skips. The runner must count
 * exactly one of each, and fail.
 */
#include <check.h>
#include <stdlib.h>

#include "support.h"

START_TEST(passes)
{
	ck_assert_int_eq(1 + 1, 2);
}
END_TEST

START_TEST(fails)
{
	ck_assert_int_eq(1 + 1, 3);	/* deliberately false */
}
END_TEST

START_TEST(skips)
{
	HOST_SKIP("deliberate skip (runner self-test)");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("selftest");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, passes);
	tcase_add_test(tc, fails);
	tcase_add_test(tc, skips);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
