/*
 * startup-peer - the child of tests/startup: it checks the named handles
 * its parent gave against what its arguments say it was given, and ends
 * with 0 when everything matched, or the number of the first check that
 * failed (user/tests/startup.c names them).
 *
 *   bin/startup-peer given <n> [<name> <rights> <id>]...
 *	exactly n handles by name; each listed one there with those rights
 *	(in the table and in the kernel) and naming the object with that
 *	kernel id.
 *   bin/startup-peer many <n> <rights> <id>
 *	exactly n handles, named h0 .. h<n-1>, each as above, all distinct.
 *   bin/startup-peer malformed
 *	the parent's table was malformed: every lookup says EINVAL, and
 *	argv still came through.
 * Run with argc 0 (the runtime did not trust the block: wrong magic,
 * version or reserved field), it checks that no handle is found and ends
 * with STATUS_UNTRUSTED.
 */
#include <rill/format.h>
#include <rill/rl.h>
#include <rill/string.h>

#define STATUS_UNTRUSTED	42

static uint64_t num(const char *s)
{
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

/* 0 when name is there with rights and id, else a check number (base+). */
static int check_one(const char *name, uint32_t rights, uint64_t id, int base)
{
	struct rl_handle_info hi;
	int64_t h = rl_startup_handle(name);

	if (h <= 0)
		return base;
	if (rl_startup_rights(name) != (int64_t)rights)
		return base + 1;
	if (rl_handle_info((rl_handle_t)h, &hi) || hi.rights != rights)
		return base + 2;
	if (hi.id != id)
		return base + 3;
	return 0;
}

/* What a lookup must say whatever was given: 0 or a check number. */
static int check_lookup_errors(int64_t absent)
{
	static const char too_long[] = "abcdefghijklmnopqrstuvwx";	/* 24 */

	if (rl_startup_handle("absent") != absent)
		return 5;
	if (rl_startup_handle("Upper") != -RILL_EINVAL ||
	    rl_startup_handle("") != -RILL_EINVAL || rl_startup_handle(NULL) != -RILL_EINVAL ||
	    rl_startup_handle(too_long) != -RILL_EINVAL || rl_startup_rights("") != -RILL_EINVAL)
		return 6;
	return 0;
}

int main(int argc, char **argv)
{
	const struct rl_startup *st = rl_startup_info;
	int r;

	if (argc == 0) {
		if (st->nhandles != 0 || rl_startup_handle("h0") != -RILL_EINVAL)
			return 2;
		return STATUS_UNTRUSTED;
	}
	if (argc < 2)
		return 1;
	if (!strcmp(argv[1], "malformed")) {
		if (rl_startup_handle("h0") != -RILL_EINVAL ||
		    rl_startup_handle("h1") != -RILL_EINVAL ||
		    rl_startup_rights("h0") != -RILL_EINVAL)
			return 3;
		return check_lookup_errors(-RILL_EINVAL);
	}
	if (argc >= 3 && !strcmp(argv[1], "given")) {
		uint64_t n = num(argv[2]);

		if (st->nhandles != n || (uint64_t)(argc - 3) % 3)
			return 4;
		for (int i = 3; i + 2 < argc; i += 3)
			if ((r = check_one(argv[i], (uint32_t)num(argv[i + 1]), num(argv[i + 2]),
					   10 + (i - 3) / 3 * 4)))
				return r;
		return check_lookup_errors(-RILL_ENOENT);
	}
	if (argc == 5 && !strcmp(argv[1], "many")) {
		uint64_t n = num(argv[2]);
		uint32_t rights = (uint32_t)num(argv[3]);
		uint64_t id = num(argv[4]);
		char name[8];

		if (st->nhandles != n || n > RL_STARTUP_HANDLES)
			return 4;
		for (uint64_t i = 0; i < n; i++) {
			rill_snprintf(name, sizeof(name), "h%lu", (unsigned long)i);
			if ((r = check_one(name, rights, id, 10)))
				return r;
			/* Each entry is its own handle. */
			for (uint64_t j = 0; j < i; j++)
				if (st->handles[j].handle == st->handles[i].handle)
					return 7;
		}
		return check_lookup_errors(-RILL_ENOENT);
	}
	return 1;
}
