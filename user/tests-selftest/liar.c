/*
 * liar - a fixture of the test runner's self-test: besides its one real
 * test it prints a result line for a test that does not exist, so its end
 * line (passed=1) disagrees with the lines the runner sees (two passes).
 * The runner must fail the program's end check: a result line is only
 * believed together with the program's own count.
 */
#include <rill/test.h>

DEFINE_TEST(real)
{
	TEST_EQ(1 + 1, 2);
	rl_printf("utest: PASS liar/phantom (0 ms)\n");
}
