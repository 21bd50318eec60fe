/*
 * init - the first user program. The kernel gives it, by name, the initrd
 * (RL_NAME_INITRD) and the hardware authorities (RL_NAME_*_AUTH).
 *
 * With "test" or "bench" on the kernel command line, init's one job is to
 * start bin/testrunner (user/bin/testrunner.c) with the directory to run
 * (tests/ or bench/; with "selftest" too, tests-selftest/ or
 * bench-selftest/, the runners' deliberately failing fixtures; with
 * "console-input", tests-console/, which need somebody typing on the serial
 * line), its tag
 * (utest or bench) and the command line's only= and except=, handing on
 * the initrd and the authorities under the same names; then wait for it
 * and end the machine through QEMU's isa-debug-exit port: 0 when the
 * runner ended with status 0, 1 otherwise (some program failed, or the
 * runner itself could not start or crashed; tools/runtests.py then finds
 * no done line). Otherwise init reports that user space is up and waits.
 */
#include <rill/rl.h>
#include <rill/string.h>

static void qemu_exit(int code)
{
	int64_t io = rl_ioport_open(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0xf4, 4);

	if (io >= 0 && rl_ioport_enable(io) == 0)
		__asm__ volatile("outl %0, %1" : : "a"((uint32_t)code), "Nd"((uint16_t)0xf4));
	rl_printf("init: cannot leave QEMU (%ld)\n", (long)io);
}

static bool has_word(const char *line, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = line; *p; p++) {
		if ((p == line || p[-1] == ' ') && !strncmp(p, w, n) &&
		    (p[n] == 0 || p[n] == ' ' || p[n] == '='))
			return true;
	}
	return false;
}

/* The value of word=value on the command line, copied into buf ("" if
 * absent). */
static void word_value(const char *line, const char *w, char *buf, size_t size)
{
	size_t n = strlen(w), k = 0;

	buf[0] = 0;
	for (const char *p = line; *p; p++) {
		if ((p == line || p[-1] == ' ') && !strncmp(p, w, n) && p[n] == '=') {
			for (p += n + 1; *p && *p != ' ' && k + 1 < size; p++)
				buf[k++] = *p;
			buf[k] = 0;
			return;
		}
	}
}

/* The handles init hands on to the test runner: all it was given, with
 * every right. */
static const char *const runner_handles[] = {
	RL_NAME_INITRD, RL_NAME_IRQ_AUTH, RL_NAME_IOPORT_AUTH, RL_NAME_PHYS_AUTH,
	RL_NAME_CLOCK_AUTH, RL_NAME_LOG_AUTH,
};

#define NRUNNER	(sizeof(runner_handles) / sizeof(runner_handles[0]))

/* Run bin/testrunner on dir; its exit status (negative: it could not
 * start). */
static int64_t run_tests(const char *cmdline, const char *dir, const char *tag)
{
	char only[64 + 5] = "only=", except[64 + 7] = "except=";
	const char *argv[5] = { "bin/testrunner", dir, tag };
	struct rl_spawn_handle hs[NRUNNER];
	struct rl_spawn_opts opts = { .handles = hs };
	int argc = 3;
	int64_t p, status;

	/* "only=<program>" runs that one alone (for working on it);
	 * "except=<program>" all but that one. */
	word_value(cmdline, "only", only + 5, sizeof(only) - 5);
	word_value(cmdline, "except", except + 7, sizeof(except) - 7);
	if (only[5])
		argv[argc++] = only;
	if (except[7])
		argv[argc++] = except;
	for (unsigned i = 0; i < NRUNNER; i++) {
		int64_t h = rl_startup_handle(runner_handles[i]);

		if (h > 0)
			hs[opts.nhandles++] = (struct rl_spawn_handle){ runner_handles[i],
									(rl_handle_t)h, 0 };
	}
	p = rl_spawn_file("bin/testrunner", argc, argv, &opts, NULL);
	if (p < 0) {
		rl_printf("init: cannot start bin/testrunner (%ld)\n", (long)p);
		return p;
	}
	status = rl_process_wait((rl_handle_t)p);
	rl_handle_close(p);
	if (status != 0)
		rl_printf("init: bin/testrunner ended with status %ld\n", (long)status);
	return status;
}

/* init waits on it for ever once it has nothing to do: nobody wakes it. */
static uint32_t idle_word;

int main(int argc, char **argv)
{
	const struct rl_startup *st = rl_startup_info;
	const char *cmdline = st->cmdline ? (const char *)st->cmdline : "";

	rl_printf("init: running (own process handle %d, %u handles by name)\n",
		  st->self_process, st->nhandles);
	if (has_word(cmdline, "test") || has_word(cmdline, "bench")) {
		bool test = has_word(cmdline, "test"), self = has_word(cmdline, "selftest");
		const char *dir = test ? (self ? "tests-selftest/"
					  : has_word(cmdline, "console-input") ? "tests-console/"
					  : "tests/")
				       : (self ? "bench-selftest/" : "bench/");
		int64_t status = run_tests(cmdline, dir, test ? "utest" : "bench");

		qemu_exit(status ? 1 : 0);
		return status ? 1 : 0;
	}
	rl_printf("init: user space is up; no shell yet\n");
	for (;;)
		rl_futex_wait(&idle_word, 0, 0);
}
