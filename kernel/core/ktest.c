/*
 * ktest.c - the in-kernel test runner (see ktest.h).
 */
#include <stdarg.h>
#include <kernel/arch.h>
#include <kernel/ktest.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/time.h>
#include <rill/format.h>
#include <rill/string.h>

extern const struct ktest __ktests_start[], __ktests_end[];

static bool cur_failed, cur_skipped;
static char cur_reason[200];

void ktest_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cur_failed)
		return;
	cur_failed = true;
	n = rill_snprintf(cur_reason, sizeof(cur_reason), "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= sizeof(cur_reason))
		return;
	va_start(ap, fmt);
	rill_vsnprintf(cur_reason + n, sizeof(cur_reason) - n, fmt, ap);
	va_end(ap);
}

bool ktest_failed(void)
{
	return cur_failed;
}

/* A failure recorded before the skip wins: the test is reported failed. */
void ktest_skip(const char *fmt, ...)
{
	va_list ap;

	if (cur_failed || cur_skipped)
		return;
	cur_skipped = true;
	va_start(ap, fmt);
	rill_vsnprintf(cur_reason, sizeof(cur_reason), fmt, ap);
	va_end(ap);
}

/* Is name in the comma-separated list (or is the list "all")? The runner's
 * self-test fixtures fail on purpose: only naming them selects them. */
static bool selected(const char *which, const char *name)
{
	size_t len = strlen(name);
	const char *p = which;

	if (!strcmp(which, "all"))
		return strncmp(name, KTEST_SELFTEST_PREFIX, strlen(KTEST_SELFTEST_PREFIX)) != 0;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == len && !strncmp(p, name, n))
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* The counts come first, so the runner can tell a test that never
 * reported from one that was never there. */
static unsigned count_selected(const char *which, unsigned *registered)
{
	unsigned n = 0;

	*registered = 0;
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
		(*registered)++;
		n += selected(which, t->name);
	}
	return n;
}

void ktest_main(const char *which)
{
	unsigned passed = 0, failed = 0, skipped = 0, registered, nsel;

	nsel = count_selected(which, &registered);
	kprintf("ktest: registered=%u selected=%u\n", registered, nsel);
	for (const struct ktest *t = __ktests_start; t < __ktests_end; t++) {
		uint64_t t0;

		if (!selected(which, t->name))
			continue;
		cur_failed = cur_skipped = false;
		cur_reason[0] = '\0';
		t0 = clock_ns();
		t->fn();
		if (cur_failed) {
			failed++;
			kprintf("ktest: FAIL %s: %s\n", t->name, cur_reason);
		} else if (cur_skipped) {
			skipped++;
			kprintf("ktest: SKIP %s: %s\n", t->name, cur_reason);
		} else {
			passed++;
			kprintf("ktest: PASS %s (%lu ms)\n", t->name,
				(unsigned long)((clock_ns() - t0) / 1000000));
		}
	}
	kprintf("ktest: done passed=%u failed=%u skipped=%u\n", passed, failed, skipped);
	/* Nothing selected (a misspelt name) is a failure, not a pass. */
	arch_qemu_exit(failed || nsel == 0 ? 1 : 0);
}

/* Unbounded on purpose: it must run into the stack's guard page. */
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int __attribute__((noinline)) recurse(volatile int depth)
{
	volatile char pad[512];

	pad[0] = (char)depth;
	return recurse(depth + 1) + pad[0];
}

void __attribute__((noinline)) ktest_fault_trigger(const char *kind)
{
	pr_info("ktest: triggering a deliberate %s fault", kind);
	if (!strcmp(kind, "stackoverflow"))
		recurse(0);
	if (!strcmp(kind, "panic"))
		panic("deliberate panic (ktest.fault=panic)");
	/* Default and "pagefault": read an unmapped kernel address. */
	(void)*(volatile uint64_t *)0xffffc00000001000ull;
	panic("the deliberate fault did not fault");
}
