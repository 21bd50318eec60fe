/*
 * test_selftest.c - fixtures of the test runner's own self-test
 * (tools/runtests.py, step "selftest"): one test that passes, one that
 * fails on purpose and one that skips. "ktest=all" never runs them (see
 * KTEST_SELFTEST); the self-test boots with their names and checks that
 * the runner counts exactly one of each and fails the boot.
 */
#include <kernel/ktest.h>
#include <kernel/log.h>

KTEST_SELFTEST(pass)
{
	KT_ASSERT_EQ(1 + 1, 2);
}

KTEST_SELFTEST(fail)
{
	KT_ASSERT_EQ(1 + 1, 3);		/* deliberately false */
}

KTEST_SELFTEST(skip)
{
	KT_SKIP("deliberate skip (runner self-test)");
}

/* Prints a result line for a test that does not exist: the runner must
 * notice the name it did not expect and the done line (passed= one less
 * than the lines show). */
KTEST_SELFTEST(liar)
{
	kprintf("ktest: PASS selftest_ghost (0 ms)\n");
}
