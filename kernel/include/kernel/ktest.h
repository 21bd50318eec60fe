/*
 * ktest.h - in-kernel tests.
 *
 * KTEST(name) { ... } defines a test function and registers it in the
 * .ktests section. The boot option "ktest=all" (or "ktest=name1,name2")
 * runs them one after the other in a kernel thread. First
 *     ktest: registered=R selected=S
 * (R tests in the kernel, S of them chosen by the command line), then per
 * test one of
 *     ktest: PASS name (N ms)
 *     ktest: FAIL name: file:line: reason
 *     ktest: SKIP name: reason
 * then "ktest: done passed=N failed=M skipped=K", and QEMU is left through
 * isa-debug-exit: code 0 when none failed and at least one was selected,
 * 1 otherwise. tools/runtests.py checks every one of these numbers against
 * the lines it saw and the tests the kernel image holds.
 *
 * KT_ASSERT* record the first failure and return from the test function;
 * KT_SKIP(reason) returns and reports the test as skipped (never as
 * passed): for a test whose subject is absent, e.g. a cross-CPU test on
 * one CPU. A test must leave no threads running and no memory allocated
 * when it returns (tests check the kernel's counters themselves).
 *
 * KTEST_SELFTEST(name) registers "selftest_<name>", a fixture of the test
 * runner's own self-test (deliberate failures): "ktest=all" never selects
 * it, only naming it does.
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include <kernel/types.h>

struct ktest {
	const char *name;
	void (*fn)(void);
};

#define KTEST(tname)							\
	static void ktest_fn_##tname(void);				\
	static const struct ktest ktest_def_##tname			\
		__attribute__((section(".ktests"), used, aligned(8))) =	\
		{ #tname, ktest_fn_##tname };				\
	static void ktest_fn_##tname(void)

#define KTEST_SELFTEST_PREFIX "selftest_"
#define KTEST_SELFTEST(tname) KTEST(selftest_##tname)

void ktest_fail(const char *file, int line, const char *fmt, ...) __printf(3, 4);
bool ktest_failed(void);
void ktest_skip(const char *fmt, ...) __printf(1, 2);

#define KT_SKIP(...)							\
	do {								\
		ktest_skip(__VA_ARGS__);				\
		return;							\
	} while (0)

#define KT_ASSERT(cond)							\
	do {								\
		if (!(cond)) {						\
			ktest_fail(__FILE__, __LINE__, "%s", #cond);	\
			return;						\
		}							\
	} while (0)

#define KT_ASSERT_EQ(a, b)						\
	do {								\
		uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);	\
		if (__a != __b) {					\
			ktest_fail(__FILE__, __LINE__, "%s == %s (%lu != %lu)", \
				   #a, #b, __a, __b);			\
			return;						\
		}							\
	} while (0)

/* Run the tests selected by the command line; does not return. */
void ktest_main(const char *which) __noreturn;

/* Deliberate faults for testing the crash path ("ktest.fault=..."). */
void ktest_fault_trigger(const char *kind) __noreturn;



/* xorshift64: deterministic pseudo-random numbers for tests. */
static inline uint64_t kt_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}
#endif
