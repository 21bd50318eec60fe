/*
 * testmain.c - main() of in-OS test programs: runs the DEFINE_TEST
 * registry (section rl_tests). A failing assertion longjmps back here
 * through a tiny saved context (no libc: our own setjmp).
 */
#include <rill/format.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

extern const struct rl_test __start_rl_tests[], __stop_rl_tests[];

static uint64_t jb[8];
static char failmsg[256];
static const char *progname = "?";

int rl_setjmp(uint64_t *b) __attribute__((returns_twice));
void rl_longjmp(uint64_t *b, int v) __attribute__((noreturn));

__asm__(".text\n"
	".global rl_setjmp\n"
	"rl_setjmp:\n"
	"	movq %rbx, 0(%rdi)\n"
	"	movq %rbp, 8(%rdi)\n"
	"	movq %r12, 16(%rdi)\n"
	"	movq %r13, 24(%rdi)\n"
	"	movq %r14, 32(%rdi)\n"
	"	movq %r15, 40(%rdi)\n"
	"	leaq 8(%rsp), %rdx\n"
	"	movq %rdx, 48(%rdi)\n"
	"	movq (%rsp), %rdx\n"
	"	movq %rdx, 56(%rdi)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	".global rl_longjmp\n"
	"rl_longjmp:\n"
	"	movl %esi, %eax\n"
	"	movq 0(%rdi), %rbx\n"
	"	movq 8(%rdi), %rbp\n"
	"	movq 16(%rdi), %r12\n"
	"	movq 24(%rdi), %r13\n"
	"	movq 32(%rdi), %r14\n"
	"	movq 40(%rdi), %r15\n"
	"	movq 48(%rdi), %rsp\n"
	"	jmp *56(%rdi)\n");

void rl_test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n = rill_snprintf(failmsg, sizeof(failmsg), "%s:%d: ", file, line);

	va_start(ap, fmt);
	rill_vsnprintf(failmsg + n, sizeof(failmsg) - n, fmt, ap);
	va_end(ap);
	rl_longjmp(jb, 1);
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc <= 1)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	volatile int failed = 0;

	if (argc > 0) {
		const char *s = strrchr(argv[0], '/');

		progname = s ? s + 1 : argv[0];
	}
	for (const struct rl_test *t = __start_rl_tests; t < __stop_rl_tests; t++) {
		uint64_t t0;

		if (!selected(t->name, argc, argv))
			continue;
		t0 = rl_clock_ns();
		if (rl_setjmp(jb) == 0) {
			t->fn();
			rl_printf("utest: PASS %s/%s (%lu ms)\n", progname, t->name,
				  (rl_clock_ns() - t0) / 1000000);
		} else {
			rl_printf("utest: FAIL %s/%s: %s\n", progname, t->name, failmsg);
			failed++;
		}
	}
	return failed;
}
