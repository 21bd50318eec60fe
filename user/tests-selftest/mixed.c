/*
 * mixed - a fixture of the test runner's self-test (booted with "test
 * selftest", never in the normal run): one test passes, one fails on
 * purpose, one skips. Its end line and exit status (1) must agree.
 */
#include <rill/test.h>

DEFINE_TEST(passes)
{
	TEST_EQ(1 + 1, 2);
}

DEFINE_TEST(fails)
{
	TEST_EQ(1 + 1, 3);	/* deliberately false */
}

DEFINE_TEST(skips)
{
	TEST_SKIP("deliberate skip (runner self-test)");
}
