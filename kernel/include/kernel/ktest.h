/*
 * ktest.h - in-kernel tests.
 *
 * KTEST(name) { ... } defines a test function and registers it in the
 * .ktests section. The boot option "ktest=all" (or "ktest=name1,name2")
 * runs them one after the other in a kernel thread, each printing
 *     ktest: PASS name          or
 *     ktest: FAIL name: file:line: reason
 * then "ktest: done passed=N failed=M", and leaves QEMU through
 * isa-debug-exit (code 0 when all passed, 1 otherwise).
 *
 * KT_ASSERT* record the first failure and return from the test function;
 * a test must leave no threads running and no memory allocated when it
 * returns (tests check the kernel's counters themselves).
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

void ktest_fail(const char *file, int line, const char *fmt, ...) __printf(3, 4);
bool ktest_failed(void);

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
