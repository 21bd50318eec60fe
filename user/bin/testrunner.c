/*
 * testrunner - runs the initrd's test or bench programs, one after
 * another. init starts it when the kernel command line says "test" or
 * "bench" (servers/init/init.c) and ends the machine when it returns.
 *
 *   bin/testrunner <dir> <tag> [only=<prog>] [except=<prog>]
 *
 * It starts every regular file under <dir> in the initrd (tests/, bench/,
 * tests-selftest/, bench-selftest/): with only=, just <dir><prog>; with
 * except=, all but that one. For each it prints (<tag> is utest, or bench)
 *	<tag>: start <prog>
 *	<tag>: FAIL <prog>/start: cannot start (<error>)	or
 *	<tag>: FAIL <prog>/exit: status <n>		for any status but 0
 * then "<tag>: done programs=<n> failed=<n>" (programs found; programs
 * that could not start or ended with a non-zero status), and returns the
 * number failed. tools/runtests.py and tools/runbench.py check every count
 * against the lines they saw and the initrd's listing.
 *
 * Handles (by name, from init): RL_NAME_INITRD and the hardware and log
 * authorities; in a "services" boot the client ends of init's streams and
 * "init". Each program is given every one, same names, same rights:
 * test programs are trusted with the authorities, so driver-facing calls
 * (IRQs, ports, device memory, the clock) get tested; one run without
 * them (a program started by anything else) ends those tests with a SKIP.
 */
#include <rill/cpio.h>
#include <rill/rl.h>
#include <rill/string.h>


/* The value of "<key>=<value>" among args, or "" when absent. */
static const char *arg_value(int argc, char **argv, const char *key)
{
	size_t n = strlen(key);

	for (int i = 3; i < argc; i++)
		if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	return "";
}

int main(int argc, char **argv)
{
	struct rl_spawn_handle hs[RL_STARTUP_HANDLES];
	struct rl_spawn_opts opts = { .handles = hs };
	const char *dir, *tag, *only, *except;
	struct rl_handle_info hi;
	const char *initrd;
	struct cpio_entry e;
	size_t dl, off = 0;
	int64_t rd, a;
	int progs = 0, bad = 0;

	if (argc < 3) {
		rl_printf("testrunner: usage: <dir> <tag> [only=<prog>] [except=<prog>]\n");
		return 1;
	}
	dir = argv[1];
	tag = argv[2];
	only = arg_value(argc, argv, "only");
	except = arg_value(argc, argv, "except");
	dl = strlen(dir);
	/* Every handle it was given, under the same name. */
	for (unsigned i = 0; i < RL_STARTUP_HANDLES; i++) {
		const char *name = rl_startup_info->handles[i].name;
		int64_t h = i < rl_startup_info->nhandles ? rl_startup_handle(name) : -1;

		if (h > 0)
			hs[opts.nhandles++] = (struct rl_spawn_handle){ name, (rl_handle_t)h, 0 };
	}
	rd = rl_startup_handle(RL_NAME_INITRD);
	if (rd < 0 || rl_handle_info((rl_handle_t)rd, &hi) < 0 ||
	    (a = rl_map(RL_SELF_PROCESS, (rl_handle_t)rd, 0, 0, hi.size, RL_PROT_READ)) < 0) {
		rl_printf("testrunner: no initrd (%ld)\n", (long)rd);
		return 1;
	}
	initrd = (const char *)a;
	while (cpio_next(initrd, hi.size, &off, &e) > 0) {
		char name[128];
		const char *pargv[1];
		int64_t p, status;

		if (e.namelen <= dl || strncmp(e.name, dir, dl) || e.namelen >= sizeof(name) ||
		    (e.mode & 0170000) != 0100000)
			continue;
		memcpy(name, e.name, e.namelen);
		name[e.namelen] = 0;
		if ((only[0] && strcmp(name + dl, only)) || (except[0] && !strcmp(name + dl, except)))
			continue;
		pargv[0] = name;
		progs++;
		rl_printf("%s: start %s\n", tag, name + dl);
		p = rl_spawn_image(e.data, e.size, 1, pargv, &opts, NULL);
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
