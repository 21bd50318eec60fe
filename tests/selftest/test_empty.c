/*
 * test_empty.c - a fixture of the test runner's self-test: a Check program
 * that runs no test and exits 0. The runner must fail it (a program that
 * tests nothing proves nothing).
 */
#include <check.h>
#include <stdlib.h>

int main(void)
{
	Suite *s = suite_create("empty");
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
