/*
 * init - the first user program. It receives the initrd and the hardware
 * authorities from the kernel, by name (RL_NAME_INITRD, RL_NAME_*_AUTH).
 *
 * With "test" on the kernel command line it is the in-OS test runner: it
 * starts every program under tests/ in the initrd ("bench": bench/; with
 * "selftest" too: tests-selftest/ or bench-selftest/, the deliberately
 * failing fixtures of the runners' self-test), one after another, and
 * prints for each (<tag> is utest, or bench)
 *	<tag>: start <prog>
 *	<tag>: FAIL <prog>/start: cannot start (<error>)	or
 *	<tag>: FAIL <prog>/exit: status <n>		for any status but 0
 * then "<tag>: done programs=<n> failed=<n>" (programs found; programs
 * that could not start or ended with a non-zero status), and ends the
 * machine through QEMU's isa-debug-exit port (0: none failed, 1: some
 * failed). tools/runtests.py and tools/runbench.py check every count
 * against the lines they saw and the initrd's listing. Otherwise init
 * reports that user space is up and waits.
 */
#include <rill/cpio.h>
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

/* What every program run gets from init, under the same names. */
static const char *const passed_on[] = {
	RL_NAME_INITRD, RL_NAME_IRQ_AUTH, RL_NAME_IOPORT_AUTH, RL_NAME_PHYS_AUTH,
	RL_NAME_CLOCK_AUTH,
};

#define NPASSED	(sizeof(passed_on) / sizeof(passed_on[0]))

static int run_dir(const char *initrd, size_t len, const char *dir, const char *tag)
{
	char only[64], except[64];
	const struct rl_startup *st = rl_startup_info;
	struct rl_spawn_handle hs[NPASSED];
	struct rl_spawn_opts opts = { .handles = hs };
	size_t dl = strlen(dir);
	struct cpio_entry e;
	size_t off = 0;
	int progs = 0, bad = 0;

	/* "only=<program>" runs that one alone (for working on it);
	 * "except=<program>" all but that one. */
	word_value((const char *)st->cmdline, "only", only, sizeof(only));
	word_value((const char *)st->cmdline, "except", except, sizeof(except));
	for (unsigned i = 0; i < NPASSED; i++) {
		int64_t h = rl_startup_handle(passed_on[i]);

		if (h > 0)
			hs[opts.nhandles++] = (struct rl_spawn_handle){ passed_on[i],
									(rl_handle_t)h, 0 };
	}
	while (cpio_next(initrd, len, &off, &e) > 0) {
		char name[128];
		const char *argv[1];
		int64_t p, status;

		if (e.namelen <= dl || strncmp(e.name, dir, dl) || e.namelen >= sizeof(name) ||
		    (e.mode & 0170000) != 0100000)
			continue;
		memcpy(name, e.name, e.namelen);
		name[e.namelen] = 0;
		if ((only[0] && strcmp(name + dl, only)) || (except[0] && !strcmp(name + dl, except)))
			continue;
		argv[0] = name;
		progs++;
		rl_printf("%s: start %s\n", tag, name + dl);
		/* Test programs are trusted with the hardware authorities, so
		 * driver-facing calls (IRQs, ports, device memory) get tested. */
		p = rl_spawn_image(e.data, e.size, 1, argv, &opts, NULL);
		if (p < 0) {
			rl_printf("%s: FAIL %s/start: cannot start (%ld)\n", tag, name + dl, (long)p);
			bad++;
			continue;
		}
		status = rl_process_wait((rl_handle_t)p);
		rl_handle_close(p);
		/* Any status but 0 is a failure: a program that ended itself
		 * with a positive status skipped the tests after that point. */
		if (status != 0) {
			rl_printf("%s: FAIL %s/exit: status %ld\n", tag, name + dl, (long)status);
			bad++;
		}
	}
	rl_printf("%s: done programs=%d failed=%d\n", tag, progs, bad);
	return bad;
}

/* init waits on it for ever once it has nothing to do: nobody wakes it. */
static uint32_t idle_word;

int main(int argc, char **argv)
{
	const struct rl_startup *st = rl_startup_info;
	const char *cmdline = (const char *)st->cmdline;
	rl_handle_t rd = rl_startup_handle_or0(RL_NAME_INITRD);
	struct rl_handle_info hi = { 0 };
	void *initrd;
	int64_t a;

	/* The object is the archive rounded up to pages; its trailer ends it. */
	rl_handle_info(rd, &hi);
	rl_printf("init: running (own process handle %d, initrd %lu bytes)\n", st->self_process,
		  (unsigned long)hi.size);
	a = rl_map(RL_SELF_PROCESS, rd, 0, 0, hi.size, RL_PROT_READ);
	if (a < 0) {
		rl_printf("init: cannot map the initrd (%ld)\n", (long)a);
		return 1;
	}
	initrd = (void *)a;
	if (has_word(cmdline, "test") || has_word(cmdline, "bench")) {
		bool test = has_word(cmdline, "test"), self = has_word(cmdline, "selftest");
		const char *dir = test ? (self ? "tests-selftest/" : "tests/")
				       : (self ? "bench-selftest/" : "bench/");
		int bad = run_dir(initrd, hi.size, dir, test ? "utest" : "bench");

		qemu_exit(bad ? 1 : 0);
		return bad;
	}
	rl_printf("init: user space is up; no shell yet\n");
	for (;;)
		rl_futex_wait(&idle_word, 0, 0);
}
