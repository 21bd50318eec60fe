/*
 * start.c - program start-up and exit for native programs, and the
 * lookup of the handles the parent gave by name.
 *
 * The startup block is written by the parent, which may be buggy, so it
 * is checked before anything in it is used, reading only the
 * sizeof(struct rl_startup) bytes at its address (the one thing the ABI
 * lets a child assume). The checks never fault and never end the program:
 *   - a wrong magic, version or reserved field: nothing in the block is
 *     trusted; main runs with argc 0, and every name lookup says EINVAL;
 *   - a bad handle table (nhandles above RL_STARTUP_HANDLES, a name empty,
 *     unterminated, not NUL-padded or with a byte outside [a-z0-9._-], a
 *     name twice, a handle <= 0): argv and the rest are used, but every
 *     name lookup says EINVAL, so a program cannot take a handle from a
 *     table whose meaning is unclear.
 * startup_ok and table_ok are set once, before main, and only read after.
 * Lookups read the block again (it lives in the program's own memory);
 * they stay within names[0..nhandles) and within each name's field.
 */
#include <rill/rl.h>
#include <rill/string.h>

const struct rl_startup *rl_startup_info;

const char *const rl_syscall_names[] = {
#define SYSCALL(nr, name, ...) [nr] = #name,
#include <abi/syscalls.def>
#undef SYSCALL
};
const unsigned rl_syscall_count = sizeof(rl_syscall_names) / sizeof(rl_syscall_names[0]);

/* What a program sees when its block is not trusted: no argument, no
 * handle (the self handles are 0; RL_SELF_PROCESS/THREAD still work). */
static const struct rl_startup no_startup = { .magic = RL_STARTUP_MAGIC,
					      .version = RL_STARTUP_VERSION };
static char *no_argv[1];
static bool table_ok;

void rl_start(const struct rl_startup *st) __attribute__((noreturn));

void rl_exit(int64_t status)
{
	for (;;)
		rl_thread_exit(status);
}

bool rl_handle_name_valid(const char *name, size_t size)
{
	size_t n = 0;

	while (n < size && name[n]) {
		char c = name[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
		n++;
	}
	return n > 0 && n <= RL_HANDLE_NAME_MAX && n < size;
}

/* The table's own check (see the top of the file). */
static bool table_valid(const struct rl_startup *st)
{
	uint32_t n = st->nhandles;

	if (n > RL_STARTUP_HANDLES)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const struct rl_named_handle *e = &st->handles[i];
		size_t len = strnlen(e->name, sizeof(e->name));

		if (!rl_handle_name_valid(e->name, sizeof(e->name)) || e->handle <= 0)
			return false;
		for (size_t k = len; k < sizeof(e->name); k++)
			if (e->name[k])
				return false;
		/* Fields are NUL-padded, so equal names are equal fields. */
		for (uint32_t j = 0; j < i; j++)
			if (!memcmp(st->handles[j].name, e->name, sizeof(e->name)))
				return false;
	}
	return true;
}

static const struct rl_named_handle *find(const char *name, int64_t *err)
{
	const struct rl_startup *st = rl_startup_info;
	size_t len;

	if (!table_ok || !name || !rl_handle_name_valid(name, RL_HANDLE_NAME_MAX + 1)) {
		*err = -RILL_EINVAL;
		return NULL;
	}
	len = strlen(name);
	for (uint32_t i = 0; i < st->nhandles; i++)
		if (!memcmp(st->handles[i].name, name, len + 1))
			return &st->handles[i];
	*err = -RILL_ENOENT;
	return NULL;
}

int64_t rl_startup_handle(const char *name)
{
	int64_t err;
	const struct rl_named_handle *e = find(name, &err);

	return e ? e->handle : err;
}

int64_t rl_startup_rights(const char *name)
{
	int64_t err;
	const struct rl_named_handle *e = find(name, &err);

	return e ? (int64_t)e->rights : err;
}

/* Returning from main ends the program, every thread of it (as exit()
 * does): a thread left blocked must not keep it alive. A process whose
 * own handle lacks MANAGE can only end its main thread. */
void rl_start(const struct rl_startup *st)
{
	int64_t status;
	int argc = 0;
	char **argv = no_argv;

	if (st->magic == RL_STARTUP_MAGIC && st->version == RL_STARTUP_VERSION &&
	    !st->reserved0 && !st->reserved1) {
		rl_startup_info = st;
		table_ok = table_valid(st);
		if (st->argc <= INT32_MAX && st->argv) {
			argc = (int)st->argc;
			argv = (char **)st->argv;
		}
	} else {
		rl_startup_info = &no_startup;
	}
	status = main(argc, argv);
	rl_process_kill(RL_SELF_PROCESS, status);
	rl_exit(status);
}
