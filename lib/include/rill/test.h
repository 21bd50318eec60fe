/*
 * rill/test.h - in-OS test programs. A program defines tests with
 *
 *	DEFINE_TEST(name) { ... TEST_ASSERT(cond); TEST_EQ(a, b); ... }
 *
 * and links lib/user/testmain.c, whose main runs every test (or those
 * named in argv) and prints, per test, one line on the console:
 *	utest: PASS <program>/<name> (<ms> ms)
 *	utest: FAIL <program>/<name>: <file>:<line>: <message>
 *	utest: SKIP <program>/<name>: <reason>
 * and at the end
 *	utest: end <program> passed=<n> failed=<n> skipped=<n>
 * which tools/runtests.py compares with the lines it saw (a program that
 * stops early has no end line, and fails). The program's exit status is
 * the number of failed tests.
 */
#ifndef RILL_TEST_H
#define RILL_TEST_H

#include <rill/rl.h>

struct rl_test {
	const char *name;
	void (*fn)(void);
};

#define DEFINE_TEST(tname)						\
	static void test_##tname(void);					\
	static const struct rl_test rl_test_##tname			\
		__attribute__((used, section("rl_tests"), aligned(8))) = \
		{ #tname, test_##tname };				\
	static void test_##tname(void)

/* Record a failure and leave the test. */
void rl_test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/* Leave the test reported as skipped, never as passed: for a test whose
 * subject is absent here. Whatever ran before the skip had to pass. */
void rl_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#define TEST_SKIP(...) rl_test_skip(__VA_ARGS__)

#define TEST_ASSERT(c) do {						\
	if (!(c))							\
		rl_test_fail(__FILE__, __LINE__, "%s", #c);		\
} while (0)

#define TEST_EQ(a, b) do {						\
	int64_t __a = (int64_t)(a), __b = (int64_t)(b);			\
	if (__a != __b)							\
		rl_test_fail(__FILE__, __LINE__, "%s == %ld, expected %s == %ld", \
			     #a, (long)__a, #b, (long)__b);		\
} while (0)

/* Kernel counters (rl_kcounters) for leak checks. They are system-wide:
 * settle waits until they stop moving (work left over by earlier tests);
 * expect_back fails the test unless every counter returns to *before
 * within 5 s (exited threads and ended processes are freed a little after
 * their waiters complete). */
/* Make what the runtime makes on first use (its queue, used by rl_map
 * and friends) and fault in 48 KiB of stack, so that neither is counted
 * as a test's doing. */
void rl_test_warm_up(void);
void rl_test_counters_read(struct rl_kcounters *c);
void rl_test_counters_settle(struct rl_kcounters *c);
/* Every counter back where it was (within 5 s), but that the kernel heap
 * may hold fewer objects: one of an earlier test freed late is not this
 * test's leak; more objects are. */
void rl_test_counters_expect_back(const struct rl_kcounters *before);
/* The same without free pages, for tests that free thousands of kernel
 * objects in an order scheduling decides: the heap may keep a slab page
 * more or less (leaks still show in every other counter). */
void rl_test_counters_expect_back_but_slabs(const struct rl_kcounters *before);
/* As _but_slabs, and page-table pages too: the kernel keeps a process's
 * page tables until it ends (docs/memory.md), so a test whose areas land
 * where no table was may leave one; everything else must be back. */
void rl_test_counters_expect_back_but_tables(const struct rl_kcounters *before);
/* As _but_slabs, and the kernel heap's object count too: a stream family
 * keeps ended streams for reuse, how many depends on scheduling (leaks
 * of streams, handles, processes... still show in their own counters). */
void rl_test_counters_expect_back_but_heap(const struct rl_kcounters *before);

#endif
