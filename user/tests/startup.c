/*
 * In-OS tests of the startup protocol: handles given to a child by name
 * (struct rl_spawn_opts.handles, the block's handles[], rl_startup_handle;
 * docs/abi.md, "Starting a process").
 *
 * The child is bin/startup-peer, which checks what it was given against
 * its arguments and ends with 0, or the number of the first check that
 * failed: 1 bad arguments, 2 an untrusted block that still showed a
 * handle, 3 a malformed table whose names were found, 4 the wrong number
 * of handles, 5 a name that was not given found (or the wrong error), 6 an
 * invalid name not refused, 7 two entries with one handle; 10 + 4k.. for
 * the k-th listed handle: 10 not found, 11 the table's rights wrong, 12
 * the kernel's rights wrong, 13 another object. 42: the block was not
 * trusted at all (argc 0).
 *
 * The spawner refuses a bad table before it creates anything: each error
 * test checks that no process was made.
 */
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define PEER			"bin/startup-peer"
#define STATUS_UNTRUSTED	42
#define R_RO			(RL_RIGHT_READ | RL_RIGHT_TRANSFER)
#define R_RW			(RL_RIGHT_READ | RL_RIGHT_WRITE | RL_RIGHT_DUP)

/* Run body once uncounted, so that the kernel's caches and this
 * process's page tables grow to what it needs (the initrd mapping, a
 * slab for a larger handle table), then again counted: everything the
 * second run made must be gone after it. */
static void counted(void (*body)(void))
{
	struct rl_kcounters before;
	size_t n;

	rl_test_warm_up();
	TEST_ASSERT(rl_initrd_file(PEER, &n) != NULL);
	body();
	rl_test_counters_settle(&before);
	body();
	rl_test_counters_expect_back(&before);
}

static int64_t memobj(void)
{
	int64_t mo = rl_memobj_create(4096, 0);

	TEST_ASSERT(mo > 0);
	return mo;
}

static uint64_t id_of(int64_t h)
{
	struct rl_handle_info hi;

	TEST_EQ(rl_handle_info((rl_handle_t)h, &hi), 0);
	return hi.id;
}

static uint32_t rights_of(int64_t h)
{
	struct rl_handle_info hi;

	TEST_EQ(rl_handle_info((rl_handle_t)h, &hi), 0);
	return hi.rights;
}

/* Run the peer to its end; its exit status. */
static int64_t run_peer(int argc, const char *const *argv, const struct rl_spawn_opts *opts)
{
	int64_t p = rl_spawn_file(PEER, argc, argv, opts, NULL), status;

	TEST_ASSERT(p > 0);
	status = rl_process_wait((rl_handle_t)p);
	TEST_EQ(rl_handle_close(p), 0);
	return status;
}

/* The spawn must fail with err and make no process. */
static void refused(const struct rl_spawn_opts *opts, int64_t err)
{
	const char *argv[] = { "startup-peer", "given", "0" };
	struct rl_kcounters c0, c1;

	rl_test_counters_read(&c0);
	TEST_EQ(rl_spawn_file(PEER, 3, argv, opts, NULL), err);
	rl_test_counters_read(&c1);
	TEST_EQ(c1.processes, c0.processes);
}

static void no_handles_body(void)
{
	const char *argv[] = { "startup-peer", "given", "0" };
	struct rl_spawn_opts opts = { 0 };

	TEST_EQ(run_peer(3, argv, NULL), 0);
	TEST_EQ(run_peer(3, argv, &opts), 0);
}

DEFINE_TEST(no_handles)
{
	counted(no_handles_body);
}

static void one_handle_body(void)
{
	char id[24];
	const char *argv[] = { "startup-peer", "given", "1", "mbus", "0", id };
	struct rl_spawn_opts opts = { 0 };
	int64_t mo;
	char rights[16];

	mo = memobj();
	rill_snprintf(id, sizeof(id), "%lu", (unsigned long)id_of(mo));
	rill_snprintf(rights, sizeof(rights), "%u", R_RO);
	argv[4] = rights;
	opts.handles = (const struct rl_spawn_handle[]){ { "mbus", (rl_handle_t)mo, R_RO } };
	opts.nhandles = 1;
	TEST_EQ(run_peer(6, argv, &opts), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(one_handle)
{
	counted(one_handle_body);
}

/* Each handle arrives with exactly the rights given: fewer than the
 * parent's, or (rights 0) all of them. */
static void rights_as_given_body(void)
{
	char ids[3][24], rs[3][16];
	const char *argv[12] = { "startup-peer", "given", "3" };
	struct rl_spawn_opts opts = { 0 };
	struct rl_spawn_handle hs[3];
	rl_handle_t l[2];
	int64_t mo;
	uint32_t want[3];

	mo = memobj();
	TEST_EQ(rl_stream(l), 0);
	hs[0] = (struct rl_spawn_handle){ "log", (rl_handle_t)mo, RL_RIGHT_READ };
	hs[1] = (struct rl_spawn_handle){ "console.rw", (rl_handle_t)mo, R_RW };
	hs[2] = (struct rl_spawn_handle){ "lane_0", l[1], 0 };
	want[0] = RL_RIGHT_READ;
	want[1] = R_RW;
	want[2] = rights_of(l[1]);
	for (unsigned i = 0; i < 3; i++) {
		rill_snprintf(rs[i], sizeof(rs[i]), "%u", want[i]);
		rill_snprintf(ids[i], sizeof(ids[i]), "%lu", (unsigned long)id_of(hs[i].handle));
		argv[3 + 3 * i] = hs[i].name;
		argv[4 + 3 * i] = rs[i];
		argv[5 + 3 * i] = ids[i];
	}
	opts.handles = hs;
	opts.nhandles = 3;
	TEST_EQ(run_peer(12, argv, &opts), 0);
	TEST_EQ(rl_handle_close(l[0]), 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(rights_as_given)
{
	counted(rights_as_given_body);
}

static unsigned many_n;

/* many_n entries h0 .. h<n-1>, all the same object with R_RO. */
static void many(void)
{
	static struct rl_spawn_handle hs[RL_STARTUP_HANDLES];
	static char names[RL_STARTUP_HANDLES][8];
	unsigned n = many_n;
	char ns[8], rs[16], id[24];
	const char *argv[] = { "startup-peer", "many", ns, rs, id };
	struct rl_spawn_opts opts = { .handles = hs, .nhandles = n };
	int64_t mo;

	mo = memobj();
	for (unsigned i = 0; i < n; i++) {
		rill_snprintf(names[i], sizeof(names[i]), "h%u", i);
		hs[i] = (struct rl_spawn_handle){ names[i], (rl_handle_t)mo, R_RO };
	}
	rill_snprintf(ns, sizeof(ns), "%u", n);
	rill_snprintf(rs, sizeof(rs), "%u", R_RO);
	rill_snprintf(id, sizeof(id), "%lu", (unsigned long)id_of(mo));
	TEST_EQ(run_peer(5, argv, &opts), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(thirty_two_handles)
{
	many_n = 32;
	counted(many);
}

DEFINE_TEST(as_many_handles_as_fit)
{
	many_n = RL_STARTUP_HANDLES;
	counted(many);
}

static void longest_name_body(void)
{
	static const char name[] = "abcdefghijklmnopqrstuvw";	/* RL_HANDLE_NAME_MAX */
	char id[24], rs[16];
	const char *argv[] = { "startup-peer", "given", "1", name, rs, id };
	struct rl_spawn_opts opts = { 0 };
	int64_t mo;

	_Static_assert(sizeof(name) == RL_HANDLE_NAME_MAX + 1, "longest name");
	mo = memobj();
	rill_snprintf(id, sizeof(id), "%lu", (unsigned long)id_of(mo));
	rill_snprintf(rs, sizeof(rs), "%u", R_RO);
	opts.handles = (const struct rl_spawn_handle[]){ { name, (rl_handle_t)mo, R_RO } };
	opts.nhandles = 1;
	TEST_EQ(run_peer(6, argv, &opts), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(longest_name)
{
	counted(longest_name_body);
}

static void duplicate_names_refused_body(void)
{
	struct rl_spawn_opts opts = { 0 };
	int64_t mo, other;

	mo = memobj();
	other = memobj();
	opts.handles = (const struct rl_spawn_handle[]){ { "mbus", (rl_handle_t)mo, 0 },
							  { "log", (rl_handle_t)other, 0 },
							  { "mbus", (rl_handle_t)other, 0 } };
	opts.nhandles = 3;
	refused(&opts, -RILL_EEXIST);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(other), 0);
}

DEFINE_TEST(duplicate_names_refused)
{
	counted(duplicate_names_refused_body);
}

static void too_many_handles_refused_body(void)
{
	static struct rl_spawn_handle hs[RL_STARTUP_HANDLES + 1];
	static char names[RL_STARTUP_HANDLES + 1][8];
	struct rl_spawn_opts opts = { .handles = hs, .nhandles = RL_STARTUP_HANDLES + 1 };
	int64_t mo;

	mo = memobj();
	for (unsigned i = 0; i <= RL_STARTUP_HANDLES; i++) {
		rill_snprintf(names[i], sizeof(names[i]), "h%u", i);
		hs[i] = (struct rl_spawn_handle){ names[i], (rl_handle_t)mo, 0 };
	}
	refused(&opts, -RILL_E2BIG);
	opts.nhandles = 0xffffffffu;
	refused(&opts, -RILL_E2BIG);
	opts.nhandles = 1;
	opts.handles = NULL;
	refused(&opts, -RILL_EINVAL);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(too_many_handles_refused)
{
	counted(too_many_handles_refused_body);
}

static void bad_names_refused_body(void)
{
	static const char *const invalid[] = { "", "Mbus", "a b", "log/0", "tab\t", "\xc3\xa9" };
	struct rl_spawn_handle h;
	struct rl_spawn_opts opts = { .handles = &h, .nhandles = 1 };
	int64_t mo;

	mo = memobj();
	h = (struct rl_spawn_handle){ "abcdefghijklmnopqrstuvwx", (rl_handle_t)mo, 0 };
	refused(&opts, -RILL_E2BIG);		/* RL_HANDLE_NAME_MAX + 1 bytes */
	h.name = "a-name-that-goes-on-far-too-long-for-a-handle";
	refused(&opts, -RILL_E2BIG);
	for (unsigned i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		h.name = invalid[i];
		refused(&opts, -RILL_EINVAL);
	}
	h.name = NULL;
	refused(&opts, -RILL_EINVAL);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(bad_names_refused)
{
	counted(bad_names_refused_body);
}

static void bad_handles_refused_body(void)
{
	struct rl_spawn_handle h = { "mbus", 0, 0 };
	struct rl_spawn_opts opts = { .handles = &h, .nhandles = 1 };
	int64_t mo, weak;

	refused(&opts, -RILL_EBADF);		/* 0 */
	h.handle = 0x5555;
	refused(&opts, -RILL_EBADF);		/* no such handle */
	h.handle = -1;
	refused(&opts, -RILL_EBADF);
	mo = memobj();
	h.handle = (rl_handle_t)mo;
	h.rights = RL_RIGHTS_ALL + 1;		/* a right nobody has */
	refused(&opts, -RILL_EPERM);
	weak = rl_handle_dup((rl_handle_t)mo, RL_RIGHT_READ | RL_RIGHT_DUP);
	TEST_ASSERT(weak > 0);
	h.handle = (rl_handle_t)weak;
	h.rights = RL_RIGHT_READ;
	refused(&opts, -RILL_EPERM);		/* no TRANSFER */
	h.rights = RL_RIGHT_READ | RL_RIGHT_WRITE;
	refused(&opts, -RILL_EPERM);		/* more than it has */
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(bad_handles_refused)
{
	counted(bad_handles_refused_body);
}

/* ---- a malformed block: the child's runtime must not trust it, and must
 * not crash ---- */

enum corruption {
	C_COUNT_OVER,		/* nhandles one above RL_STARTUP_HANDLES */
	C_COUNT_HUGE,		/* nhandles 0xffffffff */
	C_UNTERMINATED,		/* a name filling its field, no NUL */
	C_NOT_PADDED,		/* bytes after the name's NUL */
	C_BAD_BYTE,		/* a byte outside [a-z0-9._-] */
	C_EMPTY,		/* an empty name */
	C_DUPLICATE,		/* two entries with one name */
	C_HANDLE_ZERO,		/* a handle 0 */
	C_HANDLE_NEGATIVE,	/* a handle below 0 */
	C_MAGIC,		/* the block's magic */
	C_VERSION,		/* version 1 (four numbered slots) */
	C_RESERVED0,
	C_RESERVED1,
	C_COUNT
};

static void corrupt(struct rl_startup *st, void *arg)
{
	switch ((enum corruption)(uintptr_t)arg) {
	case C_COUNT_OVER: st->nhandles = RL_STARTUP_HANDLES + 1; break;
	case C_COUNT_HUGE: st->nhandles = 0xffffffffu; break;
	case C_UNTERMINATED: memset(st->handles[1].name, 'a', sizeof(st->handles[1].name)); break;
	case C_NOT_PADDED: st->handles[0].name[sizeof(st->handles[0].name) - 1] = 'x'; break;
	case C_BAD_BYTE: st->handles[1].name[0] = 'H'; break;
	case C_EMPTY: memset(st->handles[0].name, 0, sizeof(st->handles[0].name)); break;
	case C_DUPLICATE: memcpy(st->handles[1].name, st->handles[0].name, sizeof(st->handles[1].name)); break;
	case C_HANDLE_ZERO: st->handles[1].handle = 0; break;
	case C_HANDLE_NEGATIVE: st->handles[0].handle = -5; break;
	case C_MAGIC: st->magic ^= 1; break;
	case C_VERSION: st->version = 1; break;
	case C_RESERVED0: st->reserved0 = 1; break;
	case C_RESERVED1: st->reserved1 = 1ull << 63; break;
	case C_COUNT: break;
	}
}

static void malformed_block_child_survives_body(void)
{
	const char *argv[] = { "startup-peer", "malformed" };
	struct rl_spawn_opts opts = { .edit_startup = corrupt };
	int64_t mo;

	mo = memobj();
	opts.handles = (const struct rl_spawn_handle[]){ { "h0", (rl_handle_t)mo, R_RO },
							  { "h1", (rl_handle_t)mo, R_RO } };
	opts.nhandles = 2;
	for (uintptr_t c = 0; c < C_COUNT; c++) {
		int64_t want = c >= C_MAGIC ? STATUS_UNTRUSTED : 0, got;

		opts.edit_arg = (void *)c;
		got = run_peer(2, argv, &opts);
		if (got != want)
			rl_test_fail(__FILE__, __LINE__, "corruption %lu: status %ld, expected %ld",
				     (unsigned long)c, (long)got, (long)want);
	}
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(malformed_block_child_survives)
{
	counted(malformed_block_child_survives_body);
}
