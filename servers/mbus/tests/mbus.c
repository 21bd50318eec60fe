/*
 * In-OS tests of bin/mbus and the client library rill/mbus.h
 * (docs/mbus.md): the devices it publishes from the kernel's list,
 * publish / find (paging) / get (a lane copy that reaches its publisher,
 * in this process and in another), remove and who may, watches (existing
 * objects, later ones, a publisher that dies), 50 clients at once, and
 * every kind of malformed request answered with `refused` while mbus
 * keeps serving. mbus's own object (class=mbus) shows its counters, which
 * must come back after each client goes (objects, watches,
 * conversations: mbus leaks nothing when a client vanishes). Each test
 * starts an mbus of its own and ends it by closing the client lane: it
 * must exit with 0, and the kernel's counters must be back to before it
 * started.
 *
 * The library is called from runtime tasks: each test runs one loop. A
 * task cannot leave through rl_test_fail (it longjmps off the task's
 * stack), so checks inside tasks record the failure (CK, CK_EQ) and
 * return; run() reports it.
 */
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/mbus.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>
#include <rill/test.h>

#define MS		1000000ull
#define LANE_RIGHTS	(RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER)

/* ---- checks inside tasks ----------------------------------------------------------- */

static int fail_line;
static const char *fail_what;
static int64_t fail_a, fail_b;

static int failed_at(int line, const char *what, int64_t a, int64_t b)
{
	if (!fail_line) {
		fail_line = line;
		fail_what = what;
		fail_a = a;
		fail_b = b;
	}
	return -1;
}

#define CK(c) do {							\
	if (!(c))							\
		return failed_at(__LINE__, #c, 0, 0);			\
} while (0)
#define CK_EQ(a, b) do {						\
	int64_t __a = (int64_t)(a), __b = (int64_t)(b);			\
	if (__a != __b)							\
		return failed_at(__LINE__, #a " == " #b, __a, __b);	\
} while (0)

/* Run fn(arg) as the one task of a loop; a check that failed in it fails
 * the test. */
static void run(rl_task_fn fn, void *arg)
{
	struct rl_loop l;
	struct rl_task *t;
	int64_t st;

	fail_line = 0;
	TEST_EQ(rl_loop_init(&l, 256, 1024), 0);
	t = rl_loop_spawn(&l, fn, arg);
	TEST_ASSERT(t);
	TEST_EQ(rl_loop_run(&l), 0);
	st = t->status;
	rl_loop_fini(&l);
	if (fail_line)
		rl_test_fail(__FILE__, fail_line, "%s (%ld, expected %ld)", fail_what, (long)fail_a,
			     (long)fail_b);
	TEST_EQ(st, 0);
}

/* ---- mbus, started once ------------------------------------------------------------- */

static rl_handle_t mb;			/* our lane to mbus ("mbus") */
static int64_t mbus_proc;
static struct rl_kcounters before_mbus;
static uint64_t base_objects;		/* mbus's own object and the devices */

static int64_t nothing(void *arg)
{
	return 0;
}

/* What this process makes once (the runtime's queue, malloc's first
 * chunk, a loop's first chunk, the initrd's mapping) made before the
 * counters are taken. */
static void warm_up(struct rl_kcounters *c)
{
	struct rl_loop l;
	size_t len;

	rl_test_warm_up();
	free(malloc(16));
	TEST_ASSERT(rl_initrd_file("bin/mbus", &len));
	TEST_ASSERT(rl_initrd_file("bin/mbus-peer", &len));
	TEST_EQ(rl_loop_init(&l, 256, 1024), 0);
	TEST_ASSERT(rl_loop_spawn(&l, nothing, NULL));
	TEST_EQ(rl_loop_run(&l), 0);
	rl_loop_fini(&l);
	rl_test_counters_settle(c);
}

struct stats {
	uint64_t objects, watches, conversations, requests, refused;
};

static int read_stats(struct stats *s)
{
	struct mbus_match m;
	struct mbus_prop p[MBUS_PROPS_MAX];
	uint32_t n;
	uint64_t id;
	const char *keys[] = { "objects", "watches", "conversations", "requests", "refused" };
	uint64_t *v[] = { &s->objects, &s->watches, &s->conversations, &s->requests, &s->refused };

	CK_EQ(rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "mbus"), 0);
	CK_EQ(rl_mbus_find_first(mb, &m, 1, &id, p, &n), 0);
	for (int i = 0; i < 5; i++) {
		const char *val = rl_mbus_prop(p, n, keys[i]);

		CK(val);
		*v[i] = 0;
		for (; *val; val++) {
			CK(*val >= '0' && *val <= '9');
			*v[i] = *v[i] * 10 + (uint64_t)(*val - '0');
		}
	}
	return 0;
}

/* Wait (up to 3 s) until mbus holds exactly these: a conversation that
 * ended on the client's side is gone from mbus only once mbus has seen its
 * end. convs counts the asking conversation too (1: no other). */
static int settle_n(uint64_t objects, uint64_t watches, uint64_t convs)
{
	uint64_t until = rl_clock_ns() + 3000 * MS;
	struct stats s;

	for (;;) {
		CK(read_stats(&s) == 0);
		if (s.objects == objects && s.watches == watches && s.conversations == convs)
			return 0;
		if (rl_clock_ns() > until)
			break;
		rl_sleep_for(5 * MS);
	}
	CK_EQ(s.objects, objects);
	CK_EQ(s.watches, watches);
	CK_EQ(s.conversations, convs);
	return 0;
}

static int settle(uint64_t objects, uint64_t watches)
{
	return settle_n(objects, watches, 1);
}

static int64_t first_settle(void *arg)
{
	struct stats s;
	uint64_t until = rl_clock_ns() + 3000 * MS;

	do {
		CK(read_stats(&s) == 0);
		if (s.conversations == 1)
			break;
		rl_sleep_for(5 * MS);
	} while (rl_clock_ns() < until);
	CK_EQ(s.conversations, 1);
	CK_EQ(s.watches, 0);
	CK(s.objects >= 1);
	base_objects = s.objects;
	return 0;
}

static int64_t wait_mbus(void *arg)
{
	struct rl_sqe e = { .opcode = RL_OP_PROCESS_WAIT, .handle = (rl_handle_t)mbus_proc };
	int64_t *status = arg;

	*status = rl_await_deadline(&e, NULL, rl_clock_ns() + 3000 * MS);
	return 0;
}

/* Each test has an mbus of its own, and ends it: when the last client
 * lane goes, mbus ends by itself (status 0), and everything it and the
 * test made is given back (the kernel's counters as before it started). */
static void end_mbus(void)
{
	int64_t status = -1;

	TEST_EQ(rl_handle_close(mb), 0);
	run(wait_mbus, &status);
	if (status == -RILL_ETIMEDOUT)
		rl_process_kill((rl_handle_t)mbus_proc, 0);
	TEST_EQ(status, 0);
	TEST_EQ(rl_handle_close((rl_handle_t)mbus_proc), 0);
	mbus_proc = 0;
	rl_test_counters_expect_back_but_tables(&before_mbus);
}

/* Run fn in a test of its own mbus. */
static void with_mbus(rl_task_fn fn, void *arg)
{
	struct rl_spawn_handle h[2];
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "bin/mbus" };
	rl_handle_t l[2];

	if (mbus_proc) {
		/* A test before this one failed with mbus running. */
		rl_process_kill((rl_handle_t)mbus_proc, 0);
		rl_handle_close((rl_handle_t)mbus_proc);
		rl_handle_close(mb);
		mbus_proc = 0;
	}
	warm_up(&before_mbus);
	TEST_EQ(rl_stream(l), 0);
	h[0] = (struct rl_spawn_handle){ "mbus-server", l[1], 0 };
	h[1] = (struct rl_spawn_handle){ RL_NAME_IOPORT_AUTH, rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0 };
	opts.handles = h;
	opts.nhandles = h[1].handle ? 2 : 1;
	mbus_proc = rl_spawn_file("bin/mbus", 1, argv, &opts, NULL);
	TEST_ASSERT(mbus_proc > 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
	mb = l[0];
	run(first_settle, NULL);
	run(fn, arg);
	end_mbus();
}

static int set_props(struct mbus_prop *p, const char *const *kv, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		CK_EQ(rl_mbus_prop_set(&p[i], kv[2 * i], kv[2 * i + 1]), 0);
	return 0;
}

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* ---- devices ------------------------------------------------------------------------ */

static int64_t devices_task(void *arg)
{
	struct mbus_match m[3];
	struct mbus_prop p[MBUS_PROPS_MAX];
	uint64_t ids[512];
	uint32_t n, count;
	uint64_t id;
	rl_handle_t lane = 1;
	int64_t ndev = rl_dev_list(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0, NULL, 0);

	CK(ndev > 0);
	/* COM1 by class and name, as a console driver would look for it. */
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "serial");
	rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_EQUAL, "com1");
	CK_EQ(rl_mbus_find_first(mb, m, 2, &id, p, &n), 0);
	CK(streq(rl_mbus_prop(p, n, "bus"), "legacy"));
	CK(streq(rl_mbus_prop(p, n, "io-base"), "0x3f8"));
	CK(streq(rl_mbus_prop(p, n, "irq"), "4"));
	/* A device has no lane: get with want_lane gives none. */
	CK_EQ(rl_mbus_get(mb, id, p, &n, true, &lane), 0);
	CK_EQ(lane, 0);
	CK(streq(rl_mbus_prop(p, n, "name"), "com1"));

	/* The PS/2 controller. */
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "ps2");
	CK_EQ(rl_mbus_find_first(mb, m, 1, &id, p, &n), 0);
	CK(streq(rl_mbus_prop(p, n, "io-base"), "0x60"));
	CK(streq(rl_mbus_prop(p, n, "irq"), "1"));

	/* Intel's PCI functions (q35 is Intel's chipset). */
	rl_mbus_match_set(&m[0], "bus", MBUS_MATCH_OP_EQUAL, "pci");
	rl_mbus_match_set(&m[1], "pci-vendor", MBUS_MATCH_OP_EQUAL, "0x8086");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 512, &count), 0);
	CK(count >= 1);
	for (uint32_t i = 0; i < count; i++) {
		const char *a, *c, *d;

		CK_EQ(rl_mbus_get(mb, ids[i], p, &n, false, NULL), 0);
		a = rl_mbus_prop(p, n, "pci-address");
		c = rl_mbus_prop(p, n, "pci-class");
		d = rl_mbus_prop(p, n, "pci-device");
		CK(a && strlen(a) == 12 && !strncmp(a, "0000:", 5) && a[7] == ':' && a[10] == '.');
		CK(c && strlen(c) == 8 && !strncmp(c, "0x", 2));
		CK(d && strlen(d) == 6 && !strncmp(d, "0x", 2));
	}
	/* q35's host bridge at 00:00.0, named as a bridge. */
	rl_mbus_match_set(&m[0], "pci-address", MBUS_MATCH_OP_EQUAL, "0000:00:00.0");
	CK_EQ(rl_mbus_find_first(mb, m, 1, &id, p, &n), 0);
	CK(streq(rl_mbus_prop(p, n, "class"), "bridge"));
	CK(streq(rl_mbus_prop(p, n, "pci-class"), "0x060000"));
	CK(streq(rl_mbus_prop(p, n, "pci-vendor"), "0x8086"));
	CK(!rl_mbus_prop(p, n, "irq"));		/* no interrupt pin: no IRQ */
	/* q35's network function (e1000e) has one. */
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "network");
	rl_mbus_match_set(&m[1], "irq", MBUS_MATCH_OP_PRESENT, "");
	CK_EQ(rl_mbus_find_first(mb, m, 2, &id, p, &n), 0);
	CK(streq(rl_mbus_prop(p, n, "bus"), "pci"));
	CK(streq(rl_mbus_prop(p, n, "pci-class"), "0x020000"));

	/* Every device of the kernel's list, once: mbus's own object is the
	 * one without `bus`. */
	rl_mbus_match_set(&m[0], "bus", MBUS_MATCH_OP_PRESENT, "");
	CK_EQ(rl_mbus_find(mb, m, 1, ids, 512, &count), 0);
	CK_EQ(count, ndev);
	CK_EQ(base_objects, ndev + 1);
	rl_mbus_match_set(&m[0], "bus", MBUS_MATCH_OP_ABSENT, "");
	CK_EQ(rl_mbus_find(mb, m, 1, ids, 512, &count), 0);
	CK_EQ(count, 1);
	/* Prefix: every legacy UART's io-base starts with 0x. */
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "serial");
	rl_mbus_match_set(&m[1], "io-base", MBUS_MATCH_OP_PREFIX, "0x3");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 512, &count), 0);
	CK(count >= 1);
	return settle(base_objects, 0);
}

DEFINE_TEST(devices_are_published)
{
	if (!rl_startup_handle_or0(RL_NAME_IOPORT_AUTH))
		TEST_SKIP("no ioport authority: mbus would publish no devices");
	with_mbus(devices_task, NULL);
}

/* ---- publish, find, get ------------------------------------------------------------- */

static int64_t publish_task(void *arg)
{
	static const char *const kv[] = { "class", "test", "name", "alpha", "unit", "7" };
	struct mbus_prop p[MBUS_PROPS_MAX], q[MBUS_PROPS_MAX];
	struct mbus_match m[2];
	struct rl_handle_info a, b;
	char res[sizeof(struct rl_ipc_result) + 64];
	uint64_t id, id2, ids[8];
	uint32_t n, count;
	rl_handle_t obj[2], other[2], conv, conv2, got;

	CK_EQ(rl_stream(obj), 0);
	CK_EQ(rl_stream(other), 0);
	CK(set_props(p, kv, 3) == 0);
	CK_EQ(rl_mbus_publish(mb, p, 3, obj[0], &conv, &id), 0);
	CK(conv > 0);
	CK(id > base_objects);

	/* get: the properties as published, and a copy of the lane. */
	CK_EQ(rl_mbus_get(mb, id, q, &n, false, NULL), 0);
	CK_EQ(n, 3);
	CK_EQ(memcmp(p, q, 3 * sizeof(p[0])), 0);
	CK_EQ(rl_mbus_get(mb, id, q, &n, true, &got), 0);
	CK(got > 0);
	CK_EQ(rl_handle_info(got, &a), 0);
	CK_EQ(rl_handle_info(obj[0], &b), 0);
	CK_EQ(a.id, b.id);		/* the very lane published */
	/* A message sent on the copy reaches the publisher's end (both
	 * sides in flight at once: this task is both). */
	{
		char rres[sizeof(struct rl_ipc_result) + 64];
		struct rl_chain tx, rx;
		struct rl_op op[2];

		rl_chain_init(&tx);
		rl_chain_send(&tx, "over mbus", 9);
		rl_chain_init(&rx);
		rl_chain_recv_inline(&rx, 64);
		rl_chain_prep(rl_op_sqe(&op[0]), got, &tx, res, (uint64_t)&op[0]);
		rl_chain_prep(rl_op_sqe(&op[1]), obj[1], &rx, rres, (uint64_t)&op[1]);
		CK_EQ(rl_op_wait_all(op, 2), 0);
		CK_EQ(op[0].result, 0);
		CK_EQ(op[1].result, 0);
		CK_EQ(rl_ipc_result(res, 0)->status, 0);
		CK_EQ(rl_ipc_result(rres, 0)->status, 0);
		CK_EQ(rl_ipc_result(rres, 0)->length, 9);
		CK_EQ(memcmp(rl_ipc_inline(rres, 0), "over mbus", 9), 0);
	}
	CK_EQ(rl_handle_close(got), 0);

	/* find: equal, prefix, present, absent; several terms must all hold. */
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "test");
	CK_EQ(rl_mbus_find(mb, m, 1, ids, 8, &count), 0);
	CK_EQ(count, 1);
	CK_EQ(ids[0], id);
	rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_PREFIX, "alp");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 8, &count), 0);
	CK_EQ(count, 1);
	rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_PREFIX, "alpx");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 8, &count), 0);
	CK_EQ(count, 0);
	rl_mbus_match_set(&m[1], "unit", MBUS_MATCH_OP_PRESENT, "");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 8, &count), 0);
	CK_EQ(count, 1);
	rl_mbus_match_set(&m[1], "unit", MBUS_MATCH_OP_ABSENT, "");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 8, &count), 0);
	CK_EQ(count, 0);
	/* present with a value, an empty key: EINVAL */
	rl_mbus_match_set(&m[1], "unit", MBUS_MATCH_OP_PRESENT, "7");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 8, &count), -RILL_EINVAL);
	rl_mbus_match_set(&m[1], "", MBUS_MATCH_OP_EQUAL, "7");
	CK_EQ(rl_mbus_find(mb, m, 2, ids, 8, &count), -RILL_EINVAL);

	/* publish errors: a duplicate key, an empty key (EINVAL), a lane
	 * published already (EEXIST), not a lane (EINVAL); each leaves no
	 * conversation behind (settle below counts them). */
	memcpy(q, p, sizeof(p[0]) * 3);
	rl_mbus_prop_set(&q[2], "name", "again");
	CK_EQ(rl_mbus_publish(mb, q, 3, other[0], &conv2, &id2), -RILL_EINVAL);
	CK_EQ(conv2, 0);
	rl_mbus_prop_set(&q[2], "", "empty");
	CK_EQ(rl_mbus_publish(mb, q, 3, other[0], &conv2, &id2), -RILL_EINVAL);
	CK_EQ(rl_mbus_publish(mb, p, 3, obj[0], &conv2, &id2), -RILL_EEXIST);
	{
		int64_t mo = rl_memobj_create(4096, 0);

		CK(mo > 0);
		CK_EQ(rl_mbus_publish(mb, p, 3, (rl_handle_t)mo, &conv2, &id2), -RILL_EINVAL);
		CK_EQ(rl_handle_close((rl_handle_t)mo), 0);
	}
	/* an object with no properties at all is fine, and another on the
	 * same conversation */
	CK_EQ(rl_mbus_publish_on(conv, p, 0, other[0], &id2), 0);
	CK(id2 > id);
	CK_EQ(rl_mbus_get(mb, id2, q, &n, false, NULL), 0);
	CK_EQ(n, 0);
	CK_EQ(rl_mbus_get(mb, 1ull << 40, q, &n, false, NULL), -RILL_ENOENT);
	CK_EQ(settle_n(base_objects + 2, 0, 2), 0);

	/* The conversation ends: both its objects go with it. */
	CK_EQ(rl_handle_close(conv), 0);
	CK_EQ(settle(base_objects, 0), 0);
	CK_EQ(rl_mbus_get(mb, id, q, &n, false, NULL), -RILL_ENOENT);
	CK_EQ(rl_mbus_get(mb, id2, q, &n, false, NULL), -RILL_ENOENT);
	for (int i = 0; i < 2; i++) {
		CK_EQ(rl_handle_close(obj[i]), 0);
		CK_EQ(rl_handle_close(other[i]), 0);
	}
	return 0;
}

DEFINE_TEST(publish_find_get)
{
	with_mbus(publish_task, NULL);
}

/* ---- find paging, remove ---------------------------------------------------------- */

#define PAGED	150

static int64_t paging_task(void *arg)
{
	rl_handle_t paged_lanes[PAGED][2];
	struct mbus_prop p[2];
	struct mbus_match m;
	uint64_t ids[MBUS_IDS_MAX], all[PAGED], got[PAGED + 1], after = 0;
	uint32_t count, total = 0;
	rl_handle_t conv, other;
	bool more;
	char num[16];
	int pages = 0;

	CK_EQ(rl_mbus_open(mb, &conv), 0);
	for (int i = 0; i < PAGED; i++) {
		CK_EQ(rl_stream(paged_lanes[i]), 0);
		rill_snprintf(num, sizeof(num), "%d", i);
		rl_mbus_prop_set(&p[0], "class", "paged");
		rl_mbus_prop_set(&p[1], "n", num);
		CK_EQ(rl_mbus_publish_on(conv, p, 2, paged_lanes[i][0], &all[i]), 0);
		CK(!i || all[i] > all[i - 1]);
	}
	/* Pages of 64, oldest first, `more` on all but the last. */
	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "paged");
	do {
		CK_EQ(rl_mbus_find_page(mb, &m, 1, after, ids, &count, &more), 0);
		CK_EQ(count, more ? MBUS_IDS_MAX : PAGED % MBUS_IDS_MAX);
		for (uint32_t i = 0; i < count; i++)
			CK_EQ(ids[i], all[total + i]);
		total += count;
		after = ids[count - 1];
		pages++;
	} while (more);
	CK_EQ(total, PAGED);
	CK_EQ(pages, (PAGED + MBUS_IDS_MAX - 1) / MBUS_IDS_MAX);
	/* after in the middle, and past the end */
	CK_EQ(rl_mbus_find_page(mb, &m, 1, all[99], ids, &count, &more), 0);
	CK_EQ(count, PAGED - 100);
	CK_EQ(ids[0], all[100]);
	CK(!more);
	CK_EQ(rl_mbus_find_page(mb, &m, 1, all[PAGED - 1], ids, &count, &more), 0);
	CK_EQ(count, 0);
	CK(!more);
	/* every page at once; too many for the caller's array */
	CK_EQ(rl_mbus_find(mb, &m, 1, got, PAGED + 1, &count), 0);
	CK_EQ(count, PAGED);
	CK_EQ(memcmp(got, all, sizeof(all)), 0);
	CK_EQ(rl_mbus_find(mb, &m, 1, got, 100, &count), -RILL_E2BIG);
	CK_EQ(count, 100);

	/* remove: only on the publishing conversation. */
	CK_EQ(rl_mbus_open(mb, &other), 0);
	CK_EQ(rl_mbus_remove(other, all[5]), -RILL_EPERM);
	CK_EQ(rl_mbus_remove(other, 1), -RILL_EPERM);	/* mbus's own */
	CK_EQ(rl_mbus_remove(other, 1ull << 40), -RILL_ENOENT);
	CK_EQ(rl_mbus_remove(conv, all[5]), 0);
	CK_EQ(rl_mbus_remove(conv, all[5]), -RILL_ENOENT);
	CK_EQ(rl_mbus_find(mb, &m, 1, got, PAGED + 1, &count), 0);
	CK_EQ(count, PAGED - 1);
	CK_EQ(got[5], all[6]);
	CK_EQ(settle_n(base_objects + PAGED - 1, 0, 3), 0);
	CK_EQ(rl_handle_close(other), 0);
	CK_EQ(rl_handle_close(conv), 0);
	CK_EQ(settle(base_objects, 0), 0);
	CK_EQ(rl_mbus_find(mb, &m, 1, got, PAGED + 1, &count), 0);
	CK_EQ(count, 0);
	for (int i = 0; i < PAGED; i++) {
		CK_EQ(rl_handle_close(paged_lanes[i][0]), 0);
		CK_EQ(rl_handle_close(paged_lanes[i][1]), 0);
	}
	return 0;
}

DEFINE_TEST(find_pages_and_remove)
{
	with_mbus(paging_task, NULL);
}

/* ---- watches ------------------------------------------------------------------------ */

static int expect_event(struct rl_mbus_watch *w, uint16_t kind, uint64_t id, const char *name)
{
	struct rl_mbus_event ev;

	CK_EQ(rl_mbus_watch_next(w, &ev, rl_clock_ns() + 3000 * MS), 0);
	CK_EQ(ev.kind, kind);
	if (id)
		CK_EQ(ev.object, id);
	if (name)
		CK(streq(rl_mbus_prop(ev.props, ev.nprops, "name"), name));
	return 0;
}

static int64_t spawn_peer(const char *name)
{
	struct rl_spawn_opts opts = { 0 };
	struct rl_spawn_handle h = { "mbus", mb, 0 };
	const char *argv[] = { "bin/mbus-peer", "class=watched", name };

	opts.handles = &h;
	opts.nhandles = 1;
	return rl_spawn_file("bin/mbus-peer", 3, argv, &opts, NULL);
}

static int64_t watch_task(void *arg)
{
	struct rl_mbus_event ev;
	struct mbus_prop p[2];
	struct mbus_match m;
	struct rl_mbus_watch w, none;
	char res[sizeof(struct rl_ipc_result) * 2 + 64];
	rl_handle_t a[2], b[2], conv, got;
	uint64_t ida, idb, idp;
	uint32_t n;
	struct rl_chain c;
	int64_t peer;

	CK_EQ(rl_stream(a), 0);
	CK_EQ(rl_stream(b), 0);
	rl_mbus_prop_set(&p[0], "class", "watched");
	rl_mbus_prop_set(&p[1], "name", "a");
	CK_EQ(rl_mbus_publish(mb, p, 2, a[0], &conv, &ida), 0);

	/* There before the watch: reported first. */
	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "watched");
	CK_EQ(rl_mbus_watch_open(mb, &m, 1, &w), 0);
	CK(w.id && w.conv && w.events);
	CK_EQ(expect_event(&w, MBUS_MSG_APPEARED, ida, "a"), 0);
	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "nothing-like-it");
	CK_EQ(rl_mbus_watch_open(mb, &m, 1, &none), 0);
	CK(none.id > w.id);
	/* Nothing more yet: the deadline passes, the stream stays usable. */
	CK_EQ(rl_mbus_watch_next(&w, &ev, rl_clock_ns() + 20 * MS), -RILL_ETIMEDOUT);
	CK_EQ(settle_n(base_objects + 1, 2, 4), 0);

	/* Published later, removed. */
	rl_mbus_prop_set(&p[1], "name", "b");
	CK_EQ(rl_mbus_publish_on(conv, p, 2, b[0], &idb), 0);
	CK_EQ(expect_event(&w, MBUS_MSG_APPEARED, idb, "b"), 0);
	CK_EQ(rl_mbus_remove(conv, ida), 0);
	CK_EQ(expect_event(&w, MBUS_MSG_DISAPPEARED, ida, NULL), 0);

	/* A publisher in another process: its object appears, its lane
	 * reaches it (it echoes), and when it dies the object disappears. */
	peer = spawn_peer("name=peer");
	CK(peer > 0);
	CK_EQ(rl_mbus_watch_next(&w, &ev, rl_clock_ns() + 3000 * MS), 0);
	CK_EQ(ev.kind, MBUS_MSG_APPEARED);
	CK(streq(rl_mbus_prop(ev.props, ev.nprops, "name"), "peer"));
	idp = ev.object;
	CK_EQ(rl_mbus_get(mb, idp, p, &n, true, &got), 0);
	CK(got > 0);
	rl_chain_init(&c);
	rl_chain_send(&c, "ping", 4);
	rl_chain_recv_inline(&c, 64);
	CK_EQ(rl_await_ipc(got, &c, res), 0);
	CK_EQ(rl_ipc_result(res, 0)->status, 0);
	CK_EQ(rl_ipc_result(res, 1)->status, 0);
	CK_EQ(rl_ipc_result(res, 1)->length, 4);
	CK_EQ(memcmp(rl_ipc_inline(res, 1), "ping", 4), 0);
	CK_EQ(rl_handle_close(got), 0);
	CK_EQ(rl_process_kill((rl_handle_t)peer, 0), 0);
	CK_EQ(expect_event(&w, MBUS_MSG_DISAPPEARED, idp, NULL), 0);
	CK_EQ(rl_handle_close((rl_handle_t)peer), 0);

	/* The other watch saw none of it. */
	CK_EQ(rl_mbus_watch_next(&none, &ev, rl_clock_ns() + 10 * MS), -RILL_ETIMEDOUT);
	/* Unwatched: no event follows, the stream ends. */
	CK_EQ(rl_mbus_watch_close(&none), 0);
	CK_EQ(rl_mbus_remove(conv, idb), 0);
	CK_EQ(expect_event(&w, MBUS_MSG_DISAPPEARED, idb, NULL), 0);
	CK_EQ(rl_mbus_watch_close(&w), 0);
	CK_EQ(rl_handle_close(conv), 0);
	CK_EQ(settle(base_objects, 0), 0);
	for (int i = 0; i < 2; i++) {
		CK_EQ(rl_handle_close(a[i]), 0);
		CK_EQ(rl_handle_close(b[i]), 0);
	}
	return 0;
}

DEFINE_TEST(watch_existing_later_and_dead_publisher)
{
	with_mbus(watch_task, NULL);
}

/* Clients that vanish: a watcher that closes its lanes with events
 * queued, a publisher that pushes nothing after a publish that says a
 * handle follows, a conversation closed in the middle of a watch, a
 * publisher process killed. mbus's counters come back each time. */
static int64_t vanish_task(void *arg)
{
	struct mbus_prop p[2];
	struct mbus_match m;
	struct rl_mbus_watch w;
	struct mbus_publish pub;
	uint8_t msg[MBUS_PUBLISH_MAX];
	char res[sizeof(struct rl_ipc_result) * 2];
	rl_handle_t conv, l[2];
	struct rl_chain c;
	uint64_t id;
	int64_t peers[4];
	int len;

	/* A watcher that never reads: events pile up, then it goes. */
	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_PRESENT, "");
	CK_EQ(rl_mbus_watch_open(mb, &m, 1, &w), 0);
	CK_EQ(rl_stream(l), 0);
	rl_mbus_prop_set(&p[0], "class", "vanish");
	CK_EQ(rl_mbus_publish(mb, p, 1, l[0], &conv, &id), 0);
	CK_EQ(settle_n(base_objects + 1, 1, 3), 0);
	CK_EQ(rl_handle_close(w.conv), 0);
	CK_EQ(rl_handle_close(w.events), 0);
	CK_EQ(rl_handle_close(conv), 0);
	CK_EQ(settle(base_objects, 0), 0);

	/* A publish whose handle never comes: mbus's pull ends with the
	 * conversation. */
	memset(&pub, 0, sizeof(pub));
	pub.props_count = 1;
	pub.props[0] = p[0];
	len = mbus_publish_encode(&pub, msg, sizeof(msg));
	CK(len > 0);
	CK_EQ(rl_mbus_open(mb, &conv), 0);
	rl_chain_init(&c);
	rl_chain_send(&c, msg, (size_t)len);
	CK_EQ(rl_await_ipc(conv, &c, res), 0);
	CK_EQ(rl_ipc_result(res, 0)->status, 0);
	CK_EQ(settle_n(base_objects, 0, 2), 0);
	CK_EQ(rl_handle_close(conv), 0);
	CK_EQ(settle(base_objects, 0), 0);

	/* Watches on a conversation that ends while they are open. */
	CK_EQ(rl_mbus_watch_open(mb, &m, 1, &w), 0);
	CK_EQ(rl_handle_close(w.conv), 0);
	CK_EQ(settle(base_objects, 0), 0);
	{
		/* Its event stream ended with it: after the snapshot, EPIPE. */
		struct rl_mbus_event ev;
		int e;

		while ((e = rl_mbus_watch_next(&w, &ev, rl_clock_ns() + 3000 * MS)) == 0)
			;
		CK_EQ(e, -RILL_EPIPE);
	}
	CK_EQ(rl_handle_close(w.events), 0);

	/* Publishers killed all at once. */
	for (int i = 0; i < 4; i++) {
		peers[i] = spawn_peer("name=victim");
		CK(peers[i] > 0);
	}
	CK_EQ(settle_n(base_objects + 4, 0, 5), 0);
	for (int i = 0; i < 4; i++)
		CK_EQ(rl_process_kill((rl_handle_t)peers[i], 0), 0);
	CK_EQ(settle(base_objects, 0), 0);
	for (int i = 0; i < 4; i++)
		CK_EQ(rl_handle_close((rl_handle_t)peers[i]), 0);
	CK_EQ(rl_handle_close(l[0]), 0);
	CK_EQ(rl_handle_close(l[1]), 0);
	return 0;
}

DEFINE_TEST(vanishing_clients_leave_nothing)
{
	with_mbus(vanish_task, NULL);
}

/* A watcher that does not read while more than RL_MBUS_EVENTS_MAX events
 * pile up loses its watch: mbus drops the queue and ends the event
 * stream, rather than spend its memory on it. Other watches go on. */
static int64_t flood_task(void *arg)
{
	struct rl_mbus_event ev;
	struct mbus_prop p;
	struct mbus_match m;
	struct rl_mbus_watch slow, other;
	rl_handle_t l[2], conv;
	uint64_t id;
	int got = 0, e;

	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "flood");
	CK_EQ(rl_mbus_watch_open(mb, &m, 1, &slow), 0);
	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "not-flood");
	CK_EQ(rl_mbus_watch_open(mb, &m, 1, &other), 0);
	CK_EQ(rl_stream(l), 0);
	CK_EQ(rl_mbus_open(mb, &conv), 0);
	rl_mbus_prop_set(&p, "class", "flood");
	/* The same lane again once it is no longer published: 2 events a round. */
	for (int i = 0; i < RL_MBUS_EVENTS_MAX; i++) {
		CK_EQ(rl_mbus_publish_on(conv, &p, 1, l[0], &id), 0);
		CK_EQ(rl_mbus_remove(conv, id), 0);
	}
	CK_EQ(settle_n(base_objects, 1, 4), 0);	/* the slow one is gone */
	/* What had reached its stream before, then the end. */
	while ((e = rl_mbus_watch_next(&slow, &ev, rl_clock_ns() + 3000 * MS)) == 0)
		got++;
	CK_EQ(e, -RILL_EPIPE);
	CK(got < 2 * RL_MBUS_EVENTS_MAX);
	CK_EQ(rl_mbus_watch_close(&slow), -RILL_ENOENT);	/* no such watch any more */
	CK_EQ(rl_mbus_watch_next(&other, &ev, rl_clock_ns() + 10 * MS), -RILL_ETIMEDOUT);
	CK_EQ(rl_mbus_watch_close(&other), 0);
	CK_EQ(rl_handle_close(conv), 0);
	CK_EQ(rl_handle_close(l[0]), 0);
	CK_EQ(rl_handle_close(l[1]), 0);
	return settle(base_objects, 0);
}

DEFINE_TEST(slow_watcher_loses_its_watch)
{
	with_mbus(flood_task, NULL);
}

/* ---- many clients at once ------------------------------------------------------------ */

#define CLIENTS	50

static struct {
	int published, done, errors, line;
	bool release;			/* the census is taken: close */
	uint64_t peak_convs;
	struct rl_mbus_watch w;
} crowd;

static int64_t client(void *arg)
{
	uint64_t i = (uint64_t)arg, id, found;
	struct mbus_prop p[2], q[MBUS_PROPS_MAX];
	struct mbus_match m[2];
	rl_handle_t l[2], conv;
	uint32_t n, count;
	char name[16];
	int r = -1;

	rill_snprintf(name, sizeof(name), "c%lu", (unsigned long)i);
	rl_mbus_prop_set(&p[0], "class", "crowd");
	rl_mbus_prop_set(&p[1], "name", name);
	if (rl_stream(l) || rl_mbus_publish(mb, p, 2, l[0], &conv, &id))
		goto out;
	crowd.published++;
	/* Everyone holds a conversation open until all have published. */
	while (crowd.published < CLIENTS)
		rl_sleep_for(1 * MS);
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "crowd");
	rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_EQUAL, name);
	if (rl_mbus_find(mb, m, 2, &found, 1, &count) || count != 1 || found != id)
		goto out;
	if (rl_mbus_get(mb, id, q, &n, false, NULL) || n != 2 ||
	    !streq(rl_mbus_prop(q, n, "name"), name))
		goto out;
	if (rl_mbus_find(mb, m, 1, NULL, 0, &count) != -RILL_E2BIG)
		goto out;
	crowd.done++;
	while (!crowd.release)
		rl_sleep_for(1 * MS);
	rl_handle_close(conv);
	r = 0;
out:
	if (r) {
		crowd.errors++;
		crowd.published = crowd.done = CLIENTS;	/* nobody waits for us */
		crowd.release = true;
	}
	rl_handle_close(l[0]);
	rl_handle_close(l[1]);
	return r;
}

static int64_t crowd_task(void *arg)
{
	struct rl_task *t[CLIENTS];
	struct rl_mbus_event ev;
	struct mbus_match m;
	struct stats s;
	int appeared = 0, gone = 0, e;

	memset(&crowd, 0, sizeof(crowd));
	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "crowd");
	CK_EQ(rl_mbus_watch_open(mb, &m, 1, &crowd.w), 0);
	for (uint64_t i = 0; i < CLIENTS; i++)
		CK((t[i] = rl_task_spawn(client, (void *)i)));
	while (crowd.done < CLIENTS)
		rl_sleep_for(1 * MS);
	/* The census, then everyone may close (whatever it found: no task
	 * may be left waiting when this one returns). */
	e = read_stats(&s);
	crowd.release = true;
	for (int i = 0; i < CLIENTS; i++)
		rl_task_join(t[i]);
	CK_EQ(e, 0);
	CK_EQ(crowd.errors, 0);
	/* all 50 publishers' conversations, the watch's, this one */
	CK_EQ(s.conversations, CLIENTS + 2);
	CK_EQ(s.objects, base_objects + CLIENTS);
	/* The watch saw each appear and (their conversations closed) go. */
	while (appeared + gone < 2 * CLIENTS) {
		CK_EQ(rl_mbus_watch_next(&crowd.w, &ev, rl_clock_ns() + 3000 * MS), 0);
		if (ev.kind == MBUS_MSG_APPEARED)
			appeared++;
		else
			gone++;
		CK(gone <= appeared);
	}
	CK_EQ(appeared, CLIENTS);
	CK_EQ(rl_mbus_watch_close(&crowd.w), 0);
	return settle(base_objects, 0);
}

DEFINE_TEST(fifty_clients_at_once)
{
	with_mbus(crowd_task, NULL);
}

/* What a find costs, one at a time from one task: printed for the record
 * (docs/mbus.md), checked only for being done. */
static int64_t timing_task(void *arg)
{
	struct mbus_match m;
	uint64_t ids[MBUS_IDS_MAX], t0, t1, t2;
	uint32_t count;
	bool more;
	const int rounds = 200;
	struct mbus_prop p[MBUS_PROPS_MAX];
	uint32_t n;

	rl_mbus_match_set(&m, "class", MBUS_MATCH_OP_EQUAL, "mbus");
	t0 = rl_clock_ns();
	for (int i = 0; i < rounds; i++) {
		CK_EQ(rl_mbus_find_page(mb, &m, 1, 0, ids, &count, &more), 0);
		CK_EQ(count, 1);
	}
	t1 = rl_clock_ns();
	for (int i = 0; i < rounds; i++)
		CK_EQ(rl_mbus_get(mb, ids[0], p, &n, false, NULL), 0);
	t2 = rl_clock_ns();
	rl_printf("mbus: find round trip %lu ns, get %lu ns (%d each, one at a time)\n",
		  (unsigned long)((t1 - t0) / rounds), (unsigned long)((t2 - t1) / rounds), rounds);
	return settle(base_objects, 0);
}

DEFINE_TEST(round_trip)
{
	with_mbus(timing_task, NULL);
}

/* ---- malformed requests ------------------------------------------------------------ */

/* Send len bytes on lane (pushing the np handles of push), then receive
 * the reply: its message id (decoded into *rep), or a negative error. The
 * SEND's own status lands in *send_st. */
static int raw_call(rl_handle_t lane, bool offer, const void *msg, size_t len,
		    const rl_handle_t *push, unsigned np, int *send_st, union mbus_any *rep)
{
	uint64_t res[(8 * sizeof(struct rl_ipc_result) + MBUS_MSG_MAX) / 8];
	struct rl_chain c;
	int si, ri;
	int64_t e;

	rl_chain_init(&c);
	if (offer)
		rl_chain_offer(&c, 0);
	si = rl_chain_send(&c, msg, len);
	for (unsigned i = 0; i < np; i++)
		rl_chain_push(&c, push[i], LANE_RIGHTS);
	ri = rl_chain_recv_inline(&c, MBUS_MSG_MAX);
	e = rl_await_ipc(lane, &c, res);
	if (e)
		return (int)e;
	*send_st = rl_ipc_result(res, (unsigned)si)->status;
	if (rl_ipc_result(res, (unsigned)ri)->status)
		return rl_ipc_result(res, (unsigned)ri)->status;
	return mbus_decode(rl_ipc_inline(res, (unsigned)ri), rl_ipc_result(res, (unsigned)ri)->length,
			   rep);
}

static int dropped(rl_handle_t far);

/* A request that must be refused with error, the conversation going on.
 * When its header is of mbus's protocol and version, the handles it
 * announces (byte 7) are pushed with it, each the end of a fresh stream:
 * mbus takes them (docs/mbus.md) and keeps none, so each stream ends. */
static int refused(rl_handle_t conv, const uint8_t *msg, size_t len, int error, unsigned *count)
{
	union mbus_any rep;
	rl_handle_t push[RL_PROTO_MAX_HANDLES], far[RL_PROTO_MAX_HANDLES];
	unsigned np = 0;
	int st;

	if (len >= RL_PROTO_HDR_SIZE && msg[0] == 'm' && msg[1] == 'b' && msg[2] == 'u' &&
	    msg[3] == 's' && msg[6] == MBUS_VERSION && msg[7] <= RL_PROTO_MAX_HANDLES)
		np = msg[7];
	for (unsigned i = 0; i < np; i++) {
		rl_handle_t l[2];

		CK_EQ(rl_stream(l), 0);
		push[i] = l[0];
		far[i] = l[1];
	}
	CK_EQ(raw_call(conv, false, msg, len, push, np, &st, &rep), MBUS_MSG_REFUSED);
	CK_EQ(st, 0);
	CK_EQ(rep.refused.error, error);
	(*count)++;
	for (unsigned i = 0; i < np; i++) {
		CK_EQ(rl_handle_close(push[i]), 0);
		CK_EQ(dropped(far[i]), 0);
		CK_EQ(rl_handle_close(far[i]), 0);
	}
	return 0;
}

/* The conversation and a fresh one both still served. */
static int still_serving(rl_handle_t conv)
{
	union mbus_any rep;
	struct mbus_get g = { .object = 1 };
	uint8_t msg[MBUS_GET_MAX];
	struct mbus_prop p[MBUS_PROPS_MAX];
	uint32_t n;
	int len = mbus_get_encode(&g, msg, sizeof(msg)), st;

	CK(len > 0);
	CK_EQ(raw_call(conv, false, msg, (size_t)len, NULL, 0, &st, &rep), MBUS_MSG_OBJECT);
	CK_EQ(rep.object.error, 0);
	CK_EQ(rep.object.object, 1);
	CK_EQ(rl_mbus_get(mb, 1, p, &n, false, NULL), 0);
	CK(streq(rl_mbus_prop(p, n, "class"), "mbus"));
	return 0;
}

static void put32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* Each request kind, valid, into msg: its length. */
static int valid_request(int kind, uint8_t *msg)
{
	union mbus_any m;

	memset(&m, 0, sizeof(m));
	switch (kind) {
	case MBUS_MSG_PUBLISH:
		m.publish.props_count = 1;
		rl_mbus_prop_set(&m.publish.props[0], "class", "bad");
		return mbus_publish_encode(&m.publish, msg, MBUS_MSG_MAX);
	case MBUS_MSG_FIND:
		m.find.matches_count = 1;
		rl_mbus_match_set(&m.find.matches[0], "class", MBUS_MATCH_OP_EQUAL, "mbus");
		return mbus_find_encode(&m.find, msg, MBUS_MSG_MAX);
	case MBUS_MSG_GET:
		m.get.object = 1;
		return mbus_get_encode(&m.get, msg, MBUS_MSG_MAX);
	case MBUS_MSG_WATCH:
		m.watch.matches_count = 1;
		rl_mbus_match_set(&m.watch.matches[0], "class", MBUS_MATCH_OP_EQUAL, "mbus");
		return mbus_watch_encode(&m.watch, msg, MBUS_MSG_MAX);
	case MBUS_MSG_UNWATCH:
		m.unwatch.watch = 1;
		return mbus_unwatch_encode(&m.unwatch, msg, MBUS_MSG_MAX);
	default:
		m.remove.object = 1;
		return mbus_remove_encode(&m.remove, msg, MBUS_MSG_MAX);
	}
}

/* A handle mbus must not keep: a lane whose peer sees the stream end once
 * mbus (and we) closed it. */
static int dropped(rl_handle_t far)
{
	char res[sizeof(struct rl_ipc_result) + 16];
	struct rl_chain c;
	struct rl_sqe e;

	rl_chain_init(&c);
	rl_chain_recv_inline(&c, 16);
	rl_chain_prep(&e, far, &c, res, 0);
	CK_EQ(rl_await_deadline(&e, NULL, rl_clock_ns() + 3000 * MS), 0);
	CK_EQ(rl_ipc_result(res, 0)->status, -RILL_EPIPE);
	return 0;
}

static int64_t malformed_task(void *arg)
{
	static const int kinds[] = { MBUS_MSG_PUBLISH, MBUS_MSG_FIND, MBUS_MSG_GET, MBUS_MSG_WATCH,
				     MBUS_MSG_UNWATCH, MBUS_MSG_REMOVE };
	uint8_t msg[5000], bad[5000];
	union mbus_any rep;
	struct stats s0, s1;
	unsigned sent = 0;
	rl_handle_t conv;
	int len, st;

	CK_EQ(read_stats(&s0), 0);
	CK_EQ(rl_mbus_open(mb, &conv), 0);
	for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		uint8_t nh;

		len = valid_request(kinds[k], msg);
		CK(len >= 24);
		nh = msg[7];
		/* truncated: as it is, and with the length patched to match */
		CK_EQ(refused(conv, msg, (size_t)len - 8, -RILL_EPROTO, &sent), 0);
		memcpy(bad, msg, (size_t)len);
		put32(bad + 8, (uint32_t)len - 8);
		CK_EQ(refused(conv, bad, (size_t)len - 8, -RILL_EPROTO, &sent), 0);
		CK_EQ(refused(conv, msg, 7, -RILL_EPROTO, &sent), 0);	/* not even a header */
		/* oversized: trailing zeros, length patched */
		memset(bad + len, 0, 8);
		put32(bad + 8, (uint32_t)len + 8);
		CK_EQ(refused(conv, bad, (size_t)len + 8, -RILL_EPROTO, &sent), 0);
		/* another protocol, another version */
		memcpy(bad, msg, (size_t)len);
		bad[0] ^= 0x20;
		CK_EQ(refused(conv, bad, (size_t)len, -RILL_EPROTO, &sent), 0);
		memcpy(bad, msg, (size_t)len);
		bad[6] = MBUS_VERSION + 1;
		CK_EQ(refused(conv, bad, (size_t)len, -RILL_EPROTO, &sent), 0);
		/* a message id mbus does not know: ENOSYS */
		memcpy(bad, msg, (size_t)len);
		bad[4] = 99;
		CK_EQ(refused(conv, bad, (size_t)len, -RILL_ENOSYS, &sent), 0);
		/* a handle more than the message has: refused, and mbus keeps
		 * none of them */
		memcpy(bad, msg, (size_t)len);
		bad[7] = (uint8_t)(nh + 1);
		CK_EQ(refused(conv, bad, (size_t)len, -RILL_EPROTO, &sent), 0);
		/* publish without its handle */
		if (nh) {
			memcpy(bad, msg, (size_t)len);
			bad[7] = 0;
			CK_EQ(refused(conv, bad, (size_t)len, -RILL_EPROTO, &sent), 0);
		}
		CK_EQ(still_serving(conv), 0);
	}
	/* garbage; nothing; longer than any message (over a receive: both
	 * sides fail, the reply still comes); a reply sent as a request */
	for (unsigned i = 0, x = 12345; i < 64; i++) {
		x = x * 1103515245u + 12345u;
		bad[i] = (uint8_t)(x >> 16);
	}
	CK_EQ(refused(conv, bad, 64, -RILL_EPROTO, &sent), 0);
	CK_EQ(refused(conv, bad, 0, -RILL_EPROTO, &sent), 0);
	memset(bad, 0, sizeof(bad));
	CK_EQ(raw_call(conv, false, bad, sizeof(bad), NULL, 0, &st, &rep), MBUS_MSG_REFUSED);
	CK_EQ(st, -RILL_EMSGSIZE);
	CK_EQ(rep.refused.error, -RILL_EPROTO);
	sent++;
	{
		struct mbus_found f = { .objects_count = 1, .objects = { 1 } };

		len = mbus_found_encode(&f, msg, sizeof(msg));
		CK(len > 0);
		CK_EQ(refused(conv, msg, (size_t)len, -RILL_EPROTO, &sent), 0);
	}
	/* The first request of a conversation (with mbus's ACCEPT) too. */
	CK_EQ(raw_call(mb, true, bad + 1, 40, NULL, 0, &st, &rep), MBUS_MSG_REFUSED);
	CK_EQ(rep.refused.error, -RILL_EPROTO);
	sent++;
	CK_EQ(still_serving(conv), 0);

	/* Every one counted as refused, and nothing kept. */
	CK_EQ(read_stats(&s1), 0);
	CK_EQ(s1.refused - s0.refused, sent);
	CK_EQ(rl_handle_close(conv), 0);
	return settle(base_objects, 0);
}

DEFINE_TEST(malformed_requests_are_refused)
{
	with_mbus(malformed_task, NULL);
}

