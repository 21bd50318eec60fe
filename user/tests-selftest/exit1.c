/*
 * exit1 - a fixture of the test runner's self-test: the program ends
 * itself with status 1 half-way through its test, before a deliberately
 * false assertion, so that failure never shows and the program prints no
 * end line. The old runner counted this as no failure at all; now init
 * reports the status and the runner the missing end line.
 */
#include <rill/test.h>

DEFINE_TEST(quits)
{
	rl_process_kill(RL_SELF_PROCESS, 1);
	TEST_EQ(1 + 1, 3);	/* never reached: hidden by the exit */
}
