/*
 * In-OS tests of every native system call (abi/syscalls.def): the
 * success path of each, and its errors. The handle errors are one table
 * (handle_errors): for each call and each handle argument, a handle that
 * does not exist (-EBADF), one naming the wrong kind of object (-EBADFD)
 * and one lacking the right the call needs (-EPERM); the same for the
 * queue operations that take handles (op_handle_errors). Pointers that are
 * NULL, unmapped, in the kernel half, read-only (for output) or run off
 * the end of a mapping give -EFAULT (bad_pointers); reserved values and
 * unknown flags give -EINVAL (bad_flags). Numbers outside the native table
 * give -ENOSYS to an unsupervised thread (unknown_numbers). The tests
 * that throw errors at the kernel check that nothing leaked and that the
 * queue still works afterwards.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define SEC		1000000000ull
#define KERNEL_PTR	0xffffffff80000000ull
#define NONCANON_PTR	0x0000800000000000ull
#define UNMAPPED_PTR	0x0000000000001000ull	/* below RL_USER_BOTTOM: never mapped */
/* The hardware authorities the test runner gives by name (0: not given). */
#define IRQ_AUTH	rl_startup_handle_or0(RL_NAME_IRQ_AUTH)
#define IOPORT_AUTH	rl_startup_handle_or0(RL_NAME_IOPORT_AUTH)
#define PHYS_AUTH	rl_startup_handle_or0(RL_NAME_PHYS_AUTH)
#define CLOCK_AUTH	rl_startup_handle_or0(RL_NAME_CLOCK_AUTH)

static int64_t sys(unsigned nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		   uint64_t a4, uint64_t a5)
{
	return rl_syscall6(RL_SYSCALL_BASE + nr, a0, a1, a2, a3, a4, a5);
}

/* ---- fixtures: one handle of each kind ------------------------------------------ */

enum kind {
	K_ANY,		/* any object will do */
	K_PROCESS,
	K_THREAD,
	K_QUEUE,
	K_MEMORY,
	K_IRQ,
	K_IOPORT,
	K_IRQ_AUTH,
	K_IOPORT_AUTH,
	K_PHYS_AUTH,
	K_COUNT
};

static const uint32_t kind_type[K_COUNT] = {
	[K_PROCESS] = RL_OBJ_PROCESS, [K_THREAD] = RL_OBJ_THREAD, [K_QUEUE] = RL_OBJ_QUEUE,
	[K_MEMORY] = RL_OBJ_MEMORY, [K_IRQ] = RL_OBJ_IRQ, [K_IOPORT] = RL_OBJ_IOPORT,
	[K_IRQ_AUTH] = RL_OBJ_IRQ_AUTHORITY, [K_IOPORT_AUTH] = RL_OBJ_IOPORT_AUTHORITY,
	[K_PHYS_AUTH] = RL_OBJ_PHYS_AUTHORITY,
};

static rl_handle_t fix[K_COUNT];	/* 0: not available here */
static rl_handle_t stale;		/* a closed handle */
static struct rl_queue fixq;
static int rights_unchecked;		/* -EPERM checks a missing fixture prevented */

/* init gives test programs its hardware authorities; a program started
 * without them cannot make the checks that need them, and its tests say
 * SKIP instead of passing (skip_without_authorities, at their end). */
static bool authorities_held(void)
{
	return IRQ_AUTH > 0 && IOPORT_AUTH > 0 && PHYS_AUTH > 0;
}

static void skip_without_authorities(const char *what)
{
	if (!authorities_held())
		TEST_SKIP("the hardware authorities were not given: %s not checked", what);
}

static void __attribute__((noreturn)) idle_entry(void *p)
{
	(void)p;
	rl_thread_exit(0);
	__builtin_unreachable();
}

#define STACK_SIZE (64 * 1024)

static uint64_t new_stack(void)
{
	char *s = rl_alloc_pages(STACK_SIZE);

	return s ? (((uint64_t)s + STACK_SIZE) & ~15ull) - 8 : 0;
}

static void fixtures_open(void)
{
	int64_t h;

	TEST_EQ(rl_queue_init(&fixq, 8, 16), 0);
	fix[K_QUEUE] = fixq.handle;
	h = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(h > 0);
	fix[K_PROCESS] = (rl_handle_t)h;
	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)idle_entry, new_stack(), 0, 0);
	TEST_ASSERT(h > 0);		/* never started */
	fix[K_THREAD] = (rl_handle_t)h;
	h = rl_memobj_create(4096, 0);
	TEST_ASSERT(h > 0);
	fix[K_MEMORY] = (rl_handle_t)h;
	fix[K_ANY] = fix[K_MEMORY];
	/* Test programs may hold init's authorities; with them, an IRQ and a
	 * port range to test those calls' rights too. */
	fix[K_IRQ_AUTH] = IRQ_AUTH;
	fix[K_IOPORT_AUTH] = IOPORT_AUTH;
	fix[K_PHYS_AUTH] = PHYS_AUTH;
	if (IRQ_AUTH > 0) {
		h = rl_irq_open(IRQ_AUTH, 5, 0);	/* unused on q35 */
		TEST_ASSERT(h > 0);
		fix[K_IRQ] = (rl_handle_t)h;
	}
	if (IOPORT_AUTH > 0) {
		h = rl_ioport_open(IOPORT_AUTH, 0x80, 1);
		TEST_ASSERT(h > 0);
		fix[K_IOPORT] = (rl_handle_t)h;
	}
	h = rl_memobj_create(4096, 0);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_handle_close(h), 0);
	stale = (rl_handle_t)h;
	for (int k = K_PROCESS; k < K_COUNT; k++) {
		struct rl_handle_info hi;

		if (!fix[k])
			continue;
		TEST_EQ(rl_handle_info(fix[k], &hi), 0);
		TEST_EQ(hi.type, kind_type[k]);
	}
}

static void fixtures_close(void)
{
	struct rl_sqe op = { .opcode = RL_OP_PROCESS_WAIT, .handle = fix[K_PROCESS] };

	TEST_EQ(rl_thread_kill(fix[K_THREAD]), 0);
	TEST_EQ(rl_thread_join(fix[K_THREAD]), -RILL_EINTR);
	TEST_EQ(rl_process_kill(fix[K_PROCESS], 0), 0);
	TEST_EQ(rl_sync_op(&op, NULL), 0);
	for (int k = K_PROCESS; k < K_COUNT; k++) {
		if (k >= K_IRQ_AUTH || !fix[k])
			continue;	/* the authorities stay */
		TEST_EQ(rl_handle_close(fix[k]), 0);
		fix[k] = 0;
	}
	fix[K_ANY] = 0;
}

static void counters(struct rl_kcounters *c)
{
	TEST_EQ(rl_kcounters(c, sizeof(*c)), sizeof(*c));
}

/* The counters of objects: they change only when something is created or
 * freed. (Free pages and heap objects also move with lazy freeing.) */
static bool same_objects(const struct rl_kcounters *a, const struct rl_kcounters *b)
{
	return a->handles == b->handles && a->queues == b->queues &&
	       a->queue_ops == b->queue_ops && a->memobjs == b->memobjs &&
	       a->processes == b->processes && a->threads == b->threads &&
	       a->mappings == b->mappings;
}

#define sleep_ms(ms)	rl_sleep_ns((uint64_t)(ms) * 1000000ull)

/* A snapshot once the system is quiet: an ended thread or process (of an
 * earlier test, or the program before this one) drops its last
 * references just after its waiters complete. */
static void quiet_counters(struct rl_kcounters *c)
{
	uint64_t until = rl_clock_ns() + 5 * SEC;
	struct rl_kcounters d;

	counters(c);
	do {
		sleep_ms(2);
		counters(&d);
		if (same_objects(c, &d))
			return;
		*c = d;
	} while (rl_clock_ns() < until);
}

/* Every object created since before was freed (allowing the same moment
 * for the last references to go). */
static void same_counters(const struct rl_kcounters *before)
{
	uint64_t until = rl_clock_ns() + 5 * SEC;
	struct rl_kcounters now;

	for (;;) {
		counters(&now);
		if (same_objects(before, &now) || rl_clock_ns() > until)
			break;
		sleep_ms(2);
	}
	TEST_EQ(now.handles, before->handles);
	TEST_EQ(now.queues, before->queues);
	TEST_EQ(now.queue_ops, before->queue_ops);
	TEST_EQ(now.memobjs, before->memobjs);
	TEST_EQ(now.processes, before->processes);
	TEST_EQ(now.threads, before->threads);
	TEST_EQ(now.mappings, before->mappings);
}

static void nop_roundtrip(void)
{
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe *c;

	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	e = rl_get_sqe(&q);
	TEST_ASSERT(e);
	e->opcode = RL_OP_NOP;
	e->user_data = 0xfeed;
	e->arg[0] = 4242;
	TEST_EQ(rl_submit_and_wait(&q, 1, rl_clock_ns() + 10 * SEC), 1);
	c = rl_peek_cqe(&q);
	TEST_ASSERT(c);
	TEST_EQ(c->user_data, 0xfeed);
	TEST_EQ(c->result, 4242);
	rl_cqe_done(&q);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

/* ---- the handle table ------------------------------------------------------------- */

struct hrow {
	const char *name;
	unsigned nr;		/* RL_SYSCALL_BASE + nr */
	int harg;		/* which argument is the handle */
	enum kind kind;
	uint32_t right;		/* needed: each bit is tested alone */
	uint64_t a[6];		/* the other arguments: valid */
	rl_handle_t wrong;	/* a handle of the wrong type (0: the default) */
};

#define N(x) (RL_SYS_##x - RL_SYSCALL_BASE)

static const int64_t bad_handles[] = { 0, 0x5555, 0x7ffffffd, -1, INT32_MIN, 0xfffff };

static uint64_t scratch[64] __attribute__((aligned(64)));
static struct rl_handle_info info;
static struct rl_regs regs;

static int64_t call_row(const struct hrow *r, int64_t h)
{
	uint64_t a[6];

	memcpy(a, r->a, sizeof(a));
	a[r->harg] = (uint64_t)h;
	return sys(r->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The handle-error checks of one call: returns how many were made. */
static int check_row(const struct hrow *r)
{
	int n = 0;

	for (unsigned i = 0; i < sizeof(bad_handles) / sizeof(bad_handles[0]); i++, n++)
		if (call_row(r, bad_handles[i]) != -RILL_EBADF)
			rl_test_fail(__FILE__, __LINE__, "%s: handle %ld gave %ld, not -EBADF",
				     r->name, (long)bad_handles[i], (long)call_row(r, bad_handles[i]));
	if (call_row(r, stale) != -RILL_EBADF)
		rl_test_fail(__FILE__, __LINE__, "%s: closed handle gave %ld", r->name,
			     (long)call_row(r, stale));
	n++;
	if (r->kind != K_ANY || r->wrong) {
		rl_handle_t wrong[3] = {
			r->wrong ? r->wrong : r->kind == K_PROCESS ? RL_SELF_THREAD : RL_SELF_PROCESS,
			r->kind == K_MEMORY ? fixq.handle : fix[K_MEMORY],
			r->kind == K_QUEUE ? fix[K_THREAD] : fixq.handle,
		};

		for (int i = 0; i < (r->wrong ? 1 : 3); i++, n++)
			if (call_row(r, wrong[i]) != -RILL_EBADFD)
				rl_test_fail(__FILE__, __LINE__, "%s: wrong type (%d) gave %ld, not -EBADFD",
					     r->name, i, (long)call_row(r, wrong[i]));
	}
	if (r->right && !fix[r->kind])
		rights_unchecked++;
	if (r->right && fix[r->kind]) {
		struct rl_handle_info hi;

		TEST_EQ(rl_handle_info(fix[r->kind], &hi), 0);
		for (uint32_t bit = 1; bit <= r->right; bit <<= 1) {
			int64_t weak, got;

			if (!(r->right & bit))
				continue;
			weak = rl_handle_dup(fix[r->kind], hi.rights & ~bit);
			TEST_ASSERT(weak > 0);
			got = call_row(r, weak);
			TEST_EQ(rl_handle_close(weak), 0);
			if (got != -RILL_EPERM)
				rl_test_fail(__FILE__, __LINE__, "%s: without right %#x gave %ld, not -EPERM",
					     r->name, bit, (long)got);
			n++;
		}
	}
	return n;
}

DEFINE_TEST(handle_errors)
{
	struct rl_kcounters before;
	int checks = 0;

	fixtures_open();
	rights_unchecked = 0;
	quiet_counters(&before);
	{
		const uint64_t buf = (uint64_t)scratch, fxp = fix[K_PROCESS], fxm = fix[K_MEMORY];
#define ROW(call, h, k, rt, ...) { .name = #call, .nr = N(call), .harg = h, .kind = k, \
				   .right = rt, .a = { __VA_ARGS__ } }
		const struct hrow rows[] = {
			ROW(queue_enter, 0, K_QUEUE, RL_RIGHT_SUBMIT, 0),
			ROW(queue_wake, 0, K_QUEUE, RL_RIGHT_SUBMIT, 0),
			ROW(handle_close, 0, K_ANY, 0, 0),
			ROW(handle_dup, 0, K_ANY, RL_RIGHT_DUP, 0, 0),
			ROW(handle_info, 0, K_ANY, 0, 0, (uint64_t)&info),
			ROW(process_give, 0, K_PROCESS, RL_RIGHT_MANAGE, 0, fxm, RL_RIGHT_READ),
			/* The handle given: any object moves but a queue (its
			 * rings live here). */
			{ .name = "process_give(handle)", .nr = N(process_give), .harg = 1,
			  .kind = K_ANY, .right = RL_RIGHT_TRANSFER, .a = { fxp, 0, 0 },
			  .wrong = fix[K_QUEUE] },
			ROW(process_kill, 0, K_PROCESS, RL_RIGHT_MANAGE, 0, 9),
			ROW(process_rw, 0, K_PROCESS, RL_RIGHT_MANAGE, 0, buf, buf + 64, 8, RL_RW_READ),
			ROW(thread_create, 0, K_PROCESS, RL_RIGHT_MANAGE, 0, (uint64_t)idle_entry,
			    buf + 256, 0, 0),
			ROW(thread_start, 0, K_THREAD, RL_RIGHT_CONTROL, 0),
			ROW(thread_kill, 0, K_THREAD, RL_RIGHT_CONTROL, 0),
			ROW(thread_set_base, 0, K_THREAD, RL_RIGHT_CONTROL, 0, RL_BASE_FS, 0),
			ROW(thread_regs, 0, K_THREAD, RL_RIGHT_OBSERVE, 0, RL_REGS_GET,
			    (uint64_t)&regs),
			ROW(thread_resume, 0, K_THREAD, RL_RIGHT_OBSERVE, 0, 0),
			ROW(memobj_physical, 0, K_PHYS_AUTH, RL_RIGHT_DERIVE, 0, 0xfeb00000ull, 4096),
			ROW(memobj_cow, 0, K_MEMORY, RL_RIGHT_READ | RL_RIGHT_DERIVE, 0),
			ROW(irq_open, 0, K_IRQ_AUTH, RL_RIGHT_DERIVE, 0, 5, 0),
			ROW(irq_ack, 0, K_IRQ, RL_RIGHT_CONTROL, 0),
			ROW(ioport_open, 0, K_IOPORT_AUTH, RL_RIGHT_DERIVE, 0, 0x80, 1),
			ROW(ioport_enable, 0, K_IOPORT, RL_RIGHT_CONTROL, 0),
		};
#undef ROW

		for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			checks += check_row(&rows[i]);
	}
	/* Pseudo-handles are not table entries: they cannot be closed. */
	TEST_EQ(rl_handle_close(RL_SELF_PROCESS), -RILL_EBADF);
	TEST_EQ(rl_handle_close(RL_SELF_THREAD), -RILL_EBADF);
	/* Nothing was created, nothing leaked, nothing was killed. */
	same_counters(&before);
	{
		struct rl_handle_info hi;

		TEST_EQ(rl_handle_info(fix[K_THREAD], &hi), 0);
		TEST_EQ(hi.type, RL_OBJ_THREAD);
	}
	fixtures_close();
	nop_roundtrip();
	rl_printf("syscalls: %d handle checks (authorities %s)\n", checks,
		  authorities_held() ? "held" : "absent");
	if (rights_unchecked)
		TEST_SKIP("the hardware authorities were not given: %d -EPERM checks not made",
			  rights_unchecked);
}

/* The same for the queue operations that take handles. */
DEFINE_TEST(op_handle_errors)
{
	struct rl_kcounters before;
	struct rl_queue q;
	struct {
		const char *name;
		uint16_t opcode;
		enum kind kind;
		uint32_t right;
		uint64_t arg[5];
	} rows[] = {
		{ "MAP", RL_OP_MAP, K_PROCESS, RL_RIGHT_MANAGE, { 0, 0, 0, 4096, RL_PROT_READ } },
		{ "UNMAP", RL_OP_UNMAP, K_PROCESS, RL_RIGHT_MANAGE, { 0x10000000, 4096 } },
		{ "PROTECT", RL_OP_PROTECT, K_PROCESS, RL_RIGHT_MANAGE,
		  { 0x10000000, 4096, RL_PROT_READ } },
		{ "IRQ_WAIT", RL_OP_IRQ_WAIT, K_IRQ, RL_RIGHT_WAIT, { ~0ull } },
		{ "OBSERVE", RL_OP_OBSERVE, K_THREAD, RL_RIGHT_OBSERVE, { 0 } },
		{ "PROCESS_WAIT", RL_OP_PROCESS_WAIT, K_PROCESS, RL_RIGHT_WAIT, { 0 } },
		{ "THREAD_WAIT", RL_OP_THREAD_WAIT, K_THREAD, RL_RIGHT_WAIT, { 0 } },
	};
	int checks = 0;

	fixtures_open();
	rights_unchecked = 0;
	rows[0].arg[0] = (uint64_t)fix[K_MEMORY];
	TEST_EQ(rl_queue_init(&q, 16, 32), 0);
	quiet_counters(&before);
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t hs[16], want[16];
		int n = 0;

		for (unsigned j = 0; j < sizeof(bad_handles) / sizeof(bad_handles[0]); j++) {
			hs[n] = bad_handles[j];
			want[n++] = -RILL_EBADF;
		}
		hs[n] = stale;
		want[n++] = -RILL_EBADF;
		hs[n] = rows[i].kind == K_PROCESS ? RL_SELF_THREAD : RL_SELF_PROCESS;
		want[n++] = -RILL_EBADFD;
		hs[n] = fixq.handle;
		want[n++] = -RILL_EBADFD;
		if (fix[rows[i].kind]) {
			struct rl_handle_info hi;

			TEST_EQ(rl_handle_info(fix[rows[i].kind], &hi), 0);
			hs[n] = rl_handle_dup(fix[rows[i].kind], hi.rights & ~rows[i].right);
			TEST_ASSERT(hs[n] > 0);
			want[n++] = -RILL_EPERM;
		} else {
			rights_unchecked++;
		}
		for (int j = 0; j < n; j++) {
			struct rl_sqe *e = rl_get_sqe(&q);

			TEST_ASSERT(e);
			e->opcode = rows[i].opcode;
			e->handle = (rl_handle_t)hs[j];
			e->user_data = (uint64_t)j;
			memcpy(e->arg, rows[i].arg, sizeof(e->arg));
		}
		TEST_EQ(rl_submit(&q), n);
		for (int j = 0; j < n; j++) {
			struct rl_cqe *c = rl_peek_cqe(&q);

			TEST_ASSERT(c);
			TEST_EQ(c->user_data, j);
			if (c->result != want[j])
				rl_test_fail(__FILE__, __LINE__, "%s: handle %ld gave %ld, not %ld",
					     rows[i].name, (long)hs[j], (long)c->result, (long)want[j]);
			rl_cqe_done(&q);
			checks++;
		}
		if (want[n - 1] == -RILL_EPERM)
			TEST_EQ(rl_handle_close(hs[n - 1]), 0);
	}
	/* MAP's memory object argument is a handle too. */
	{
		int64_t weak = rl_handle_dup(fix[K_MEMORY], RL_RIGHT_WRITE | RL_RIGHT_DUP);
		struct rl_sqe op = { .opcode = RL_OP_MAP, .handle = RL_SELF_PROCESS,
				     .arg = { 0x5555, 0, 0, 4096, RL_PROT_READ } };
		struct rl_cqe c;

		TEST_ASSERT(weak > 0);
		TEST_EQ(rl_call(&q, &op, &c), -RILL_EBADF);
		op.arg[0] = (uint64_t)fixq.handle;
		TEST_EQ(rl_call(&q, &op, &c), -RILL_EBADFD);
		op.arg[0] = (uint64_t)weak;		/* no READ */
		/* docs/abi.md, MAP: -EPERM without the rights the protection
		 * needs. */
		TEST_EQ(rl_call(&q, &op, &c), -RILL_EPERM);
		TEST_EQ(rl_handle_close(weak), 0);
		checks += 3;
	}
	same_counters(&before);
	TEST_EQ(rl_handle_close(q.handle), 0);
	fixtures_close();
	nop_roundtrip();
	rl_printf("syscalls: %d operation handle checks\n", checks);
	if (rights_unchecked)
		TEST_SKIP("the hardware authorities were not given: %d -EPERM checks not made",
			  rights_unchecked);
}

/* ---- pointers ------------------------------------------------------------------------- */

/* Two pages of which only the first is mapped: the last bytes of the first
 * page run into the hole. */
static char *edge_page(void)
{
	char *p = rl_alloc_pages(2 * 4096);

	if (!p || rl_unmap(RL_SELF_PROCESS, (uint64_t)p + 4096, 4096) != 0)
		return NULL;
	return p;
}

DEFINE_TEST(bad_pointers)
{
	struct rl_kcounters before;
	const uint64_t clock = rl_startup_info->clock_page;	/* read-only */
	char *edge;
	uint64_t end, ro_params, rw_params;
	int64_t mo, q;

	mo = rl_memobj_create(4096, 0);
	TEST_ASSERT(mo > 0);
	{
		/* The same page mapped twice: writable to fill it, read-only. */
		struct rl_queue_params *rw = (struct rl_queue_params *)rl_map(
			RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ | RL_PROT_WRITE);

		TEST_ASSERT((int64_t)rw > 0);
		*rw = (struct rl_queue_params){ .sq_entries = 4 };
		rw_params = (uint64_t)rw;
		ro_params = (uint64_t)rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096,
					     RL_PROT_READ);
		TEST_ASSERT((int64_t)ro_params > 0);
		TEST_EQ(((struct rl_queue_params *)ro_params)->sq_entries, 4);
	}
	/* Last: nothing may be mapped into its hole afterwards. */
	edge = edge_page();
	TEST_ASSERT(edge);
	end = (uint64_t)edge + 4096;
	/* If a write into the read-only clock page were let through, it
	 * must not change the clock: write what is there. */
	memcpy(scratch, (const void *)clock, 16);
	quiet_counters(&before);
	{
		/* Inputs: nothing mapped, kernel half, non-canonical, straddling. */
		const uint64_t in[] = { 0, UNMAPPED_PTR, KERNEL_PTR, NONCANON_PTR, ~0ull - 7,
					end - 8 };
		/* Outputs: the same, and read-only memory. */
		const uint64_t out[] = { 0, UNMAPPED_PTR, KERNEL_PTR, NONCANON_PTR, ~0ull - 7,
					 end - 8, clock };

		for (unsigned i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
			TEST_EQ(rl_raw_debug_write(in[i], 16), -RILL_EFAULT);
			TEST_EQ(rl_raw_queue_create(in[i]), -RILL_EFAULT);
			TEST_EQ(rl_raw_process_rw(RL_SELF_PROCESS, (uint64_t)scratch, in[i], 16,
						  RL_RW_WRITE), -RILL_EFAULT);
			TEST_EQ(rl_process_rw(RL_SELF_PROCESS, in[i], scratch, 16,
					      RL_RW_READ), -RILL_EFAULT);
			if ((in[i] & 3) == 0) {
				TEST_EQ(rl_raw_futex_wait(in[i] == end - 8 ? end : in[i], 0, 0),
					-RILL_EFAULT);
				TEST_EQ(rl_raw_futex_wake(in[i] == end - 8 ? end : in[i], 1),
					-RILL_EFAULT);
			}
		}
		for (unsigned i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
			TEST_EQ(rl_raw_handle_info(RL_SELF_PROCESS, out[i]), -RILL_EFAULT);
			TEST_EQ(rl_raw_handle_info(mo, out[i]), -RILL_EFAULT);
			TEST_EQ(rl_raw_kcounters(out[i], sizeof(struct rl_kcounters)), -RILL_EFAULT);
			TEST_EQ(rl_raw_process_rw(RL_SELF_PROCESS, (uint64_t)scratch, out[i], 16,
						  RL_RW_READ), -RILL_EFAULT);
			TEST_EQ(rl_process_rw(RL_SELF_PROCESS, out[i], scratch, 16,
					      RL_RW_WRITE), -RILL_EFAULT);
		}
		/* queue_create writes its results back: valid parameters in
		 * read-only memory make it undo everything it did. */
		TEST_EQ(rl_raw_queue_create(ro_params), -RILL_EFAULT);
		/* Lengths that wrap around. */
		TEST_EQ(rl_process_rw(RL_SELF_PROCESS, (uint64_t)scratch, scratch,
				      ~0ull - 100, RL_RW_READ), -RILL_EFAULT);
	}
	/* A process's memory read through another process handle. */
	q = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(q > 0);
	TEST_EQ(rl_process_rw(q, 0x400000, scratch, 8, RL_RW_READ),
		-RILL_EFAULT);
	TEST_EQ(rl_process_kill(q, 0), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)q), 0);
	TEST_EQ(rl_handle_close(q), 0);
	same_counters(&before);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, ro_params, 4096), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, rw_params, 4096), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)edge, 4096), 0);
	nop_roundtrip();
}

/* ---- reserved values and unknown flags -------------------------------------------------- */

static uint32_t futex_word;

DEFINE_TEST(bad_flags)
{
	struct rl_kcounters before;
	struct rl_queue_params p;
	struct rl_queue q;
	uint64_t stack = new_stack();
	int64_t t, mo;

	TEST_ASSERT(stack);
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)idle_entry, stack, 0, 0);
	TEST_ASSERT(t > 0);
	mo = rl_memobj_create(4096, 0);
	TEST_ASSERT(mo > 0);
	quiet_counters(&before);
	TEST_EQ(rl_debug_write(scratch, (1u << 20) + 1), -RILL_EINVAL);
	TEST_EQ(rl_debug_write(scratch, ~0ull), -RILL_EINVAL);
	/* queue_create: every field checked. */
	{
		static const struct rl_queue_params bad[] = {
			{ .sq_entries = 0 },
			{ .sq_entries = 3 },
			{ .sq_entries = RL_QUEUE_MAX_SQ * 2 },
			{ .sq_entries = 8, .cq_entries = 4 },
			{ .sq_entries = 8, .cq_entries = 24 },
			{ .sq_entries = 8, .cq_entries = RL_QUEUE_MAX_CQ * 2 },
			{ .sq_entries = 4, .flags = 1 },
			{ .sq_entries = 4, .flags = 0x80000000u },
			{ .sq_entries = 4, .reserved = 1 },
		};

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			p = bad[i];
			TEST_EQ(rl_queue_create(&p), -RILL_EINVAL);
		}
	}
	TEST_EQ(rl_queue_enter(q.handle, 0, 0, 0, 2), -RILL_EINVAL);
	TEST_EQ(rl_queue_enter(q.handle, 0, 0, 0, 1ull << 32), -RILL_EINVAL);
	TEST_EQ(rl_queue_enter(q.handle, 5, 0, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_queue_enter(q.handle, 0, 9, 0, RL_ENTER_WAIT), -RILL_EINVAL);
	/* Rights only shrink: unknown or missing rights are refused. */
	TEST_EQ(rl_handle_dup(q.handle, RL_RIGHT_READ), -RILL_EPERM);
	TEST_EQ(rl_handle_dup(q.handle, 0x800), -RILL_EPERM);
	TEST_EQ(rl_handle_dup(mo, 1ull << 32), -RILL_EPERM);
	TEST_EQ(rl_raw_futex_wait((uint64_t)&futex_word + 1, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_raw_futex_wait((uint64_t)&futex_word + 2, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_raw_futex_wake((uint64_t)&futex_word + 3, 1), -RILL_EINVAL);
	TEST_EQ(rl_process_create(2, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0), -RILL_EINVAL);
	TEST_EQ(rl_process_create(1ull << 63, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0), -RILL_EINVAL);
	TEST_EQ(rl_process_create(0, RL_RIGHTS_ALL + 1, RL_RIGHTS_ALL, 0), -RILL_EINVAL);
	TEST_EQ(rl_process_create(0, RL_RIGHTS_ALL, 1ull << 32, 0), -RILL_EINVAL);
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, (uint64_t)scratch, scratch, 8, 2),
		-RILL_EINVAL);
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, (uint64_t)idle_entry, stack, 0, 2),
		-RILL_EINVAL);
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, KERNEL_PTR, stack, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, NONCANON_PTR, stack, 0, 0), -RILL_EINVAL);
	TEST_EQ(rl_thread_create(RL_SELF_PROCESS, (uint64_t)idle_entry, KERNEL_PTR, 0, 0),
		-RILL_EINVAL);
	TEST_EQ(rl_thread_set_base(t, 2, 0), -RILL_EINVAL);
	TEST_EQ(rl_thread_set_base(t, RL_BASE_FS, NONCANON_PTR), -RILL_EINVAL);
	TEST_EQ(rl_thread_set_base(t, RL_BASE_GS, KERNEL_PTR), -RILL_EINVAL);
	TEST_EQ(rl_thread_set_base(RL_SELF_THREAD, RL_BASE_FS, ~0ull), -RILL_EINVAL);
	TEST_EQ(rl_thread_regs(t, 2, &regs), -RILL_EINVAL);
	TEST_EQ(rl_thread_resume(t, 4, 0), -RILL_EINVAL);
	TEST_EQ(rl_thread_resume(t, 1ull << 40, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(4096, 1), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(0, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(RL_MEMOBJ_MAX + 4096, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_create(~0ull, 0), -RILL_EINVAL);
	TEST_EQ(rl_raw_kcounters((uint64_t)scratch, 0), -RILL_EINVAL);
	TEST_EQ(rl_raw_kcounters((uint64_t)scratch, sizeof(struct rl_kcounters) - 8), -RILL_EINVAL);
	TEST_EQ(rl_raw_kcounters((uint64_t)scratch, sizeof(struct rl_kcounters) + 8), -RILL_EINVAL);
	/* The rest need the authorities. */
	if (IRQ_AUTH > 0) {
		uint64_t a = (uint64_t)IRQ_AUTH;

		TEST_EQ(rl_irq_open(a, 5, 1), -RILL_EINVAL);
		TEST_EQ(rl_irq_open(a, 0, 0), -RILL_EINVAL);
		TEST_EQ(rl_irq_open(a, 2, 0), -RILL_EINVAL);
		TEST_EQ(rl_irq_open(a, 16, 0), -RILL_EINVAL);
		TEST_EQ(rl_irq_open(a, ~0ull, 0), -RILL_EINVAL);
	}
	if (IOPORT_AUTH > 0) {
		uint64_t a = (uint64_t)IOPORT_AUTH;

		TEST_EQ(rl_ioport_open(a, 0x80, 0), -RILL_EINVAL);
		TEST_EQ(rl_ioport_open(a, 0x10000, 1), -RILL_EINVAL);
		TEST_EQ(rl_ioport_open(a, 0xffff, 2), -RILL_EINVAL);
		TEST_EQ(rl_ioport_open(a, 0, 0x10001), -RILL_EINVAL);
	}
	if (PHYS_AUTH > 0) {
		uint64_t a = (uint64_t)PHYS_AUTH;

		/* RAM is never device memory; a range that wraps is refused. */
		TEST_EQ(rl_memobj_physical(a, 0x100000, 4096), -RILL_EPERM);
		TEST_EQ(rl_memobj_physical(a, ~0ull - 4095, 8192), -RILL_EPERM);
	}
	same_counters(&before);
	TEST_EQ(rl_thread_kill(t), 0);
	TEST_EQ(rl_thread_join((rl_handle_t)t), -RILL_EINTR);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
	nop_roundtrip();
	skip_without_authorities("the authority calls' flags");
}

/* ---- numbers outside the table ---------------------------------------------------------- */

DEFINE_TEST(unknown_numbers)
{
	static const uint64_t nrs[] = {
		RL_SYSCALL_BASE + 200, 0x2000ffff, RL_SYSCALL_BASE + 0x0fffffff,
		RL_SYSCALL_BASE - 1, RL_SYSCALL_BASE | (1ull << 32), 0x40000027 /* x32 getpid */,
		0x40000000, 39 /* getpid */, 0, 60 /* exit */, 231 /* exit_group */, 1000,
		0xffffffffffffffffull, 0x8000000000000000ull,
	};
	uint64_t first_free = RL_SYSCALL_BASE + rl_syscall_count;

	TEST_EQ(rl_syscall6(first_free, 0, 0, 0, 0, 0, 0), -RILL_ENOSYS);
	for (unsigned i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		int64_t r = rl_syscall6(nrs[i], 1, 2, 3, 4, 5, 6);

		if (r != -RILL_ENOSYS)
			rl_test_fail(__FILE__, __LINE__, "number %#lx gave %ld, not -ENOSYS",
				     (unsigned long)nrs[i], (long)r);
	}
	nop_roundtrip();
}

/* ---- success paths ---------------------------------------------------------------------- */

DEFINE_TEST(debug_write_and_yield)
{
	static const char msg[] = "syscalls: debug_write reaches the console\n";
	static char big[300];	/* more than the kernel's 256-byte chunk */

	TEST_EQ(rl_debug_write(msg, sizeof(msg) - 1), sizeof(msg) - 1);
	TEST_EQ(rl_debug_write(0, 0), 0);		/* nothing to read */
	memset(big, '.', sizeof(big));
	memcpy(big, "syscalls: a long write ", 23);
	big[sizeof(big) - 1] = '\n';
	TEST_EQ(rl_debug_write(big, sizeof(big)), sizeof(big));	/* > one chunk */
	TEST_EQ(rl_yield(), 0);
	TEST_EQ(rl_yield(), 0);
}

DEFINE_TEST(handles)
{
	struct rl_handle_info hi, hi2;
	int64_t mo, d;

	TEST_EQ(rl_handle_info(RL_SELF_PROCESS, &hi), 0);
	TEST_EQ(hi.type, RL_OBJ_PROCESS);
	TEST_EQ(hi.rights, RL_RIGHTS_ALL);
	TEST_EQ(hi.size, 0);
	TEST_EQ(hi.reserved, 0);
	TEST_EQ(rl_handle_info(rl_startup_info->self_process, &hi2), 0);
	TEST_EQ(hi2.type, RL_OBJ_PROCESS);
	TEST_EQ(hi2.id, hi.id);				/* same object, same id */
	TEST_EQ(rl_handle_info(RL_SELF_THREAD, &hi), 0);
	TEST_EQ(hi.type, RL_OBJ_THREAD);
	TEST_EQ(rl_handle_info(rl_startup_info->self_thread, &hi2), 0);
	TEST_EQ(hi2.id, hi.id);
	mo = rl_memobj_create(3 * 4096, 0);
	TEST_ASSERT(mo > 0);
	TEST_EQ(rl_handle_info(mo, &hi), 0);
	TEST_EQ(hi.type, RL_OBJ_MEMORY);
	TEST_EQ(hi.size, 3 * 4096);
	TEST_ASSERT(hi.rights & RL_RIGHT_DUP);
	d = rl_handle_dup(mo, RL_RIGHT_READ);
	TEST_ASSERT(d > 0 && d != mo);
	TEST_EQ(rl_handle_info(d, &hi2), 0);
	TEST_EQ(hi2.rights, RL_RIGHT_READ);
	TEST_EQ(hi2.id, hi.id);
	TEST_EQ(rl_handle_dup(d, RL_RIGHT_READ), -RILL_EPERM);	/* no DUP */
	TEST_EQ(rl_handle_close(mo), 0);
	TEST_EQ(rl_handle_close(mo), -RILL_EBADF);
	TEST_EQ(rl_handle_info(d, &hi2), 0);	/* the object lives on */
	TEST_EQ(rl_handle_close(d), 0);
	TEST_EQ(rl_handle_info(d, &hi2), -RILL_EBADF);
	/* A pseudo-handle can be made real. */
	d = rl_handle_dup(RL_SELF_PROCESS, RL_RIGHT_WAIT);
	TEST_ASSERT(d > 0);
	TEST_EQ(rl_handle_info(d, &hi2), 0);
	TEST_EQ(hi2.type, RL_OBJ_PROCESS);
	TEST_EQ(hi2.rights, RL_RIGHT_WAIT);
	TEST_EQ(rl_handle_close(d), 0);
}

DEFINE_TEST(queue_calls)
{
	struct rl_queue_params p = { .sq_entries = 8 };
	struct rl_ring_header *hdr;
	int64_t q;

	q = rl_queue_create(&p);
	TEST_ASSERT(q > 0);
	TEST_ASSERT(p.ring_addr >= RL_USER_BOTTOM && p.ring_addr < RL_USER_TOP);
	TEST_EQ(p.ring_addr & 4095, 0);
	hdr = (struct rl_ring_header *)p.ring_addr;
	TEST_EQ(hdr->sq_entries, 8);
	TEST_EQ(hdr->cq_entries, 16);		/* 0 means twice sq_entries */
	TEST_EQ(hdr->ring_size, p.ring_size);
	TEST_EQ(rl_queue_enter(q, 0, 0, 0, 0), 0);
	TEST_EQ(rl_queue_wake(q), 0);
	/* Waiting for zero completions returns at once. */
	TEST_EQ(rl_queue_enter(q, 0, 0, 0, RL_ENTER_WAIT), 0);
	TEST_EQ(rl_handle_close(q), 0);
	nop_roundtrip();
}

static volatile uint32_t fw_word;
static volatile int64_t fw_result = 1;

static void futex_waiter(void *arg)
{
	(void)arg;
	fw_result = rl_futex_wait(&fw_word, 0, rl_clock_ns() + 30 * SEC);
}

DEFINE_TEST(futexes)
{
	uint64_t t0 = rl_clock_ns(), deadline;
	int64_t t, woken = 0;

	futex_word = 5;
	TEST_EQ(rl_futex_wait(&futex_word, 4, 0), -RILL_EAGAIN);
	TEST_EQ(rl_futex_wait(&futex_word, 5, t0 + 5 * 1000000ull), -RILL_ETIMEDOUT);
	TEST_ASSERT(rl_clock_ns() - t0 >= 5 * 1000000ull);
	TEST_EQ(rl_futex_wait(&futex_word, 5, 1), -RILL_ETIMEDOUT);	/* past */
	TEST_EQ(rl_futex_wake(&futex_word, 10), 0);
	/* A real waiter, woken. */
	fw_word = 0;
	t = rl_thread_spawn(futex_waiter, NULL);
	TEST_ASSERT(t > 0);
	deadline = rl_clock_ns() + 20 * SEC;
	while (woken == 0 && rl_clock_ns() < deadline) {
		woken = rl_futex_wake(&fw_word, 1);
		if (!woken)
			rl_yield();
	}
	TEST_EQ(woken, 1);
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0);
	TEST_EQ(fw_result, 0);
	TEST_EQ(rl_handle_close(t), 0);
}

static uint64_t fs_word[2] = { 0x1122334455667788ull, 0x99 };
static uint64_t gs_word[2] = { 0x0badc0ffee0ddf00ull, 0x77 };

static uint64_t read_fs0(void)
{
	uint64_t v;

	__asm__ volatile("movq %%fs:0, %0" : "=r"(v));
	return v;
}

static uint64_t read_gs8(void)
{
	uint64_t v;

	__asm__ volatile("movq %%gs:8, %0" : "=r"(v));
	return v;
}

/* Exits with the word at %fs:0. */
void fs_exit_entry(void *arg);
__asm__(".text\n"
	".global fs_exit_entry\n"
	"fs_exit_entry:\n"
	"	movq %fs:0, %rdi\n"
	"	movl $0x20000010, %eax\n"	/* RL_SYS_thread_exit */
	"	syscall\n"
	"	ud2\n");

_Static_assert(RL_SYS_thread_exit == 0x20000010, "fs_exit_entry's exit number");

DEFINE_TEST(thread_bases)
{
	static uint64_t word = 0x5151;
	int64_t t;

	TEST_EQ(rl_thread_set_base(RL_SELF_THREAD, RL_BASE_FS, (uint64_t)fs_word), 0);
	TEST_EQ(read_fs0(), fs_word[0]);
	TEST_EQ(rl_thread_set_base(RL_SELF_THREAD, RL_BASE_GS, (uint64_t)gs_word), 0);
	TEST_EQ(read_gs8(), gs_word[1]);
	/* Both survive being switched out. */
	for (int i = 0; i < 10; i++)
		TEST_EQ(rl_yield(), 0);
	TEST_EQ(read_fs0(), fs_word[0]);
	TEST_EQ(read_gs8(), gs_word[1]);
	TEST_EQ(rl_thread_set_base(RL_SELF_THREAD, RL_BASE_FS, 0), 0);
	TEST_EQ(rl_thread_set_base(RL_SELF_THREAD, RL_BASE_GS, 0), 0);
	/* Another thread's base, set before it starts. */
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)fs_exit_entry, new_stack(), 0, 0);
	TEST_ASSERT(t > 0);
	TEST_EQ(rl_thread_set_base(t, RL_BASE_FS, (uint64_t)&word), 0);
	TEST_EQ(rl_thread_start(t), 0);
	TEST_EQ(rl_thread_start(t), -RILL_EBUSY);
	TEST_EQ(rl_thread_join((rl_handle_t)t), 0x5151);
	TEST_EQ(rl_handle_close(t), 0);
}

static void __attribute__((noreturn)) exit_with(void *arg)
{
	rl_thread_exit((uint64_t)arg);
	__builtin_unreachable();
}

static volatile uint32_t spin_stop;

static void __attribute__((noreturn)) spinner(void *arg)
{
	(void)arg;
	while (!spin_stop)
		rl_yield();
	rl_thread_exit(1);
	__builtin_unreachable();
}

DEFINE_TEST(threads)
{
	struct rl_kcounters a, b;
	uint64_t stacks[3] = { new_stack(), new_stack(), new_stack() };
	int64_t t, t2;

	TEST_ASSERT(stacks[0] && stacks[1] && stacks[2]);
	quiet_counters(&a);
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)exit_with, stacks[0], 1234, 0);
	TEST_ASSERT(t > 0);
	counters(&b);
	TEST_EQ(b.threads, a.threads + 1);
	TEST_EQ(b.handles, a.handles + 1);
	TEST_EQ(rl_thread_start(t), 0);
	TEST_EQ(rl_thread_join((rl_handle_t)t), 1234);
	TEST_EQ(rl_thread_start(t), -RILL_EBUSY);	/* ended */
	TEST_EQ(rl_thread_kill(t), 0);		/* harmless now */
	TEST_EQ(rl_thread_join((rl_handle_t)t), 1234);
	TEST_EQ(rl_handle_close(t), 0);
	/* Killing a running thread, and one never started. */
	spin_stop = 0;
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)spinner, stacks[1], 0, 0);
	TEST_ASSERT(t > 0);
	TEST_EQ(rl_thread_start(t), 0);
	TEST_EQ(rl_thread_kill(t), 0);
	TEST_EQ(rl_thread_join((rl_handle_t)t), -RILL_EINTR);
	TEST_EQ(rl_handle_close(t), 0);
	t2 = rl_thread_create(RL_SELF_PROCESS, (uint64_t)spinner, stacks[2], 0, 0);
	TEST_ASSERT(t2 > 0);
	TEST_EQ(rl_thread_kill(t2), 0);
	TEST_EQ(rl_thread_start(t2), -RILL_EBUSY);
	TEST_EQ(rl_thread_join((rl_handle_t)t2), -RILL_EINTR);
	TEST_EQ(rl_handle_close(t2), 0);
	same_counters(&a);	/* all gone */
}

/* thread_regs and thread_resume on a stopped thread: see tests/observe for
 * the whole of supervision. */
void stop_entry(void *arg);
__asm__(".text\n"
	".global stop_entry\n"
	"stop_entry:\n"
	"	movl $39, %eax\n"
	"	syscall\n"
	"	movq %fs:0, %rdi\n"
	"	addq %rax, %rdi\n"
	"	movl $0x20000010, %eax\n"	/* RL_SYS_thread_exit */
	"	syscall\n"
	"	ud2\n");

DEFINE_TEST(thread_regs_resume)
{
	static uint64_t word = 1000;
	struct rl_queue q;
	struct rl_sqe *e;
	struct rl_cqe *c;
	struct rl_regs r;
	int64_t t, res;

	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)stop_entry, new_stack(), 0,
			     RL_THREAD_SUPERVISED);
	TEST_ASSERT(t > 0);
	TEST_EQ(rl_thread_start(t), 0);
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_OBSERVE;
	e->handle = (rl_handle_t)t;
	TEST_EQ(rl_submit_and_wait(&q, 1, rl_clock_ns() + 20 * SEC), 1);
	c = rl_peek_cqe(&q);
	TEST_ASSERT(c);
	TEST_EQ(c->result, RL_OBS_SYSCALL);
	rl_cqe_done(&q);
	TEST_EQ(rl_thread_regs(t, RL_REGS_GET, &r), 0);
	TEST_EQ(r.rax, 39);
	/* Pointers: as everywhere. */
	TEST_EQ(rl_thread_regs(t, RL_REGS_GET, 0), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_regs(t, RL_REGS_GET, KERNEL_PTR), -RILL_EFAULT);
	TEST_EQ(rl_raw_thread_regs(t, RL_REGS_GET, rl_startup_info->clock_page),
		-RILL_EFAULT);
	TEST_EQ(rl_raw_thread_regs(t, RL_REGS_SET, UNMAPPED_PTR), -RILL_EFAULT);
	/* The new FS base and rax take effect on resume. */
	r.fs_base = (uint64_t)&word;
	r.rax = 23;
	TEST_EQ(rl_thread_regs(t, RL_REGS_SET, &r), 0);
	TEST_EQ(rl_thread_resume(t, 0, 0), 0);
	res = rl_thread_join((rl_handle_t)t);
	TEST_EQ(res, 1023);
	TEST_EQ(rl_handle_close(t), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(processes_and_memory)
{
	static const char text[] = "written by process_rw";
	char back[sizeof(text)];
	struct rl_handle_info hi;
	int64_t p, mo, snap, h, weak;
	char *a, *b;

	/* A child: map memory into it, reach it with process_rw. */
	p = rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	TEST_ASSERT(p > 0);
	mo = rl_memobj_create(8192, 0);
	TEST_ASSERT(mo > 0);
	TEST_EQ(rl_map((rl_handle_t)p, (rl_handle_t)mo, 0, 0x400000, 8192,
		       RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED), 0x400000);
	TEST_EQ(rl_process_rw(p, 0x400ff0, (void *)text, sizeof(text),
			      RL_RW_WRITE), sizeof(text));		/* across the page */
	memset(back, 0, sizeof(back));
	TEST_EQ(rl_process_rw(p, 0x400ff0, back, sizeof(back), RL_RW_READ),
		sizeof(back));
	TEST_EQ(memcmp(back, text, sizeof(text)), 0);
	TEST_EQ(rl_process_rw(p, 0x401ff8, back, 16, RL_RW_READ),
		-RILL_EFAULT);					/* off the end */
	TEST_EQ(rl_process_rw(p, 0x400000, back, 0, RL_RW_READ), 0);
	/* Our own memory through the pseudo-handle. */
	memset(back, 0, sizeof(back));
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, (uint64_t)text, back, sizeof(text),
			      RL_RW_READ), sizeof(text));
	TEST_EQ(memcmp(back, text, sizeof(text)), 0);
	/* Writing needs writable memory: text is read-only data. */
	TEST_EQ(rl_process_rw(RL_SELF_PROCESS, (uint64_t)text, back, sizeof(text),
			      RL_RW_WRITE), -RILL_EFAULT);
	/* Giving a handle: rights only shrink. */
	h = rl_process_give(p, mo, RL_RIGHT_READ);
	TEST_ASSERT(h > 0);
	weak = rl_handle_dup(mo, RL_RIGHT_READ | RL_RIGHT_TRANSFER);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_process_give(p, weak, RL_RIGHT_READ | RL_RIGHT_WRITE),
		-RILL_EPERM);
	TEST_ASSERT(rl_process_give(p, weak, RL_RIGHT_READ) > 0);
	TEST_EQ(rl_handle_close(weak), 0);
	/* A thread in it, killed with it. */
	h = rl_thread_create(p, 0x400000, 0x402000, 0, 0);
	TEST_ASSERT(h > 0);
	TEST_EQ(rl_process_kill(p, 5), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)p), 5);
	TEST_EQ(rl_process_kill(p, 6), 0);		/* the first status stays */
	TEST_EQ(rl_process_wait((rl_handle_t)p), 5);
	TEST_EQ(rl_thread_join((rl_handle_t)h), -RILL_EINTR);
	TEST_EQ(rl_thread_start(h), -RILL_EBUSY);
	TEST_EQ(rl_thread_create(p, 0x400000, 0x402000, 0, 0), -RILL_ESRCH);
	TEST_EQ(rl_handle_close(h), 0);
	TEST_EQ(rl_handle_close(p), 0);
	/* Copy-on-write snapshots. */
	a = (char *)rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 8192,
			   RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT((int64_t)a > 0);
	TEST_EQ(memcmp(a + 0xff0, text, sizeof(text)), 0);	/* what the child saw */
	a[0] = 'A';
	snap = rl_memobj_cow(mo);
	TEST_ASSERT(snap > 0);
	TEST_EQ(rl_handle_info(snap, &hi), 0);
	TEST_EQ(hi.type, RL_OBJ_MEMORY);
	TEST_EQ(hi.size, 8192);
	a[0] = 'B';
	b = (char *)rl_map(RL_SELF_PROCESS, (rl_handle_t)snap, 0, 0, 8192, RL_PROT_READ);
	TEST_ASSERT((int64_t)b > 0);
	TEST_EQ(b[0], 'A');
	TEST_EQ(a[0], 'B');
	TEST_EQ(memcmp(b + 0xff0, text, sizeof(text)), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 8192), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, 8192), 0);
	TEST_EQ(rl_handle_close(snap), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}

DEFINE_TEST(kcounters_call)
{
	struct rl_kcounters a, b;

	TEST_EQ(rl_kcounters(&a, sizeof(a)), sizeof(a));
	TEST_EQ(rl_yield(), 0);
	TEST_EQ(rl_kcounters(&b, sizeof(b)), sizeof(b));
	TEST_ASSERT(a.processes >= 2);		/* init and this program */
	TEST_ASSERT(a.threads >= 2);
	TEST_ASSERT(a.queues >= 1);
	TEST_ASSERT(a.handles >= 4);
	TEST_ASSERT(a.free_pages > 0);
	TEST_ASSERT(b.syscalls >= a.syscalls + 2);
	TEST_EQ(b.reserved[0], 0);
}

/* The latency probe: every error path, and figures that make sense. */
DEFINE_TEST(latency_probe_call)
{
	uint64_t irq = (uint64_t)IRQ_AUTH;
	struct rl_latency lat;
	int64_t q;

	TEST_ASSERT(irq > 0);	/* init gives the tests the authorities */
	/* Without the IRQ authority: refused, whatever the command. */
	TEST_EQ(rl_latency_probe(RL_LATPROBE_START, 100000, 0, 0), -RILL_EBADF);
	TEST_EQ(rl_raw_latency_probe(RL_LATPROBE_READ, 0, 0, 1ull << 40), -RILL_EBADF);
	q = rl_memobj_create(4096, 0);
	TEST_ASSERT(q > 0);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_START, 100000, 0, q), -RILL_EBADFD);
	TEST_EQ(rl_handle_close(q), 0);

	TEST_EQ(rl_latency_probe(0, 0, 0, irq), -RILL_EINVAL);
	TEST_EQ(rl_latency_probe(4, 0, 0, irq), -RILL_EINVAL);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_START, RL_LATPROBE_MIN_NS - 1, 0, irq), -RILL_EINVAL);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_START, RL_LATPROBE_MAX_NS + 1, 0, irq), -RILL_EINVAL);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_READ, 1, 0, irq), -RILL_EINVAL);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_STOP, 0, 0, irq), -RILL_ENOENT);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_START, 100000, 0, irq), 0);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_START, 100000, 0, irq), -RILL_EBUSY);
	rl_sleep_ns(2000000);
	TEST_EQ(rl_raw_latency_probe(RL_LATPROBE_READ, 0, 0x10, irq), -RILL_EFAULT);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_READ, 0, &lat, irq), 0);
	TEST_EQ(lat.running, 1);
	TEST_EQ(lat.period_ns, 100000);
	TEST_ASSERT(lat.fires >= 1);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_STOP, 0, &lat, irq), 0);
	TEST_EQ(lat.running, 0);
	TEST_ASSERT(lat.max_late_ns < 1000000000ull);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_STOP, 0, 0, irq), -RILL_ENOENT);
	TEST_EQ(rl_latency_probe(RL_LATPROBE_READ, 0, &lat, irq), 0);
	TEST_EQ(lat.running, 0);
}

/* CLOCK_REALTIME from the clock page: the RTC's time at boot (QEMU's is
 * the host's), moving with the monotonic clock; clock_set_realtime takes
 * the clock authority and moves only realtime. */
DEFINE_TEST(realtime_clock)
{
	uint64_t auth = (uint64_t)CLOCK_AUTH, set = 1ull << 60, t0, m0, t1, m1;
	int64_t off0, d;

	t0 = rl_clock_realtime_ns();
	m0 = rl_clock_ns();
	off0 = (int64_t)(t0 - m0);
	/* Between 2020-01-01 and 2100-01-01. */
	TEST_ASSERT(t0 > 1577836800ull * 1000000000ull);
	TEST_ASSERT(t0 < 4102444800ull * 1000000000ull);
	rl_sleep_ns(2000000);
	t1 = rl_clock_realtime_ns();
	m1 = rl_clock_ns();
	TEST_ASSERT(t1 - t0 >= 2000000);
	/* Realtime - monotonic stays put (two reads: within 1 ms). */
	d = (int64_t)(t1 - m1) - off0;
	TEST_ASSERT(d < 1000000 && d > -1000000);

	TEST_EQ(rl_clock_set_realtime(0, set), -RILL_EBADF);
	TEST_EQ(rl_raw_clock_set_realtime(1ull << 40, set), -RILL_EBADF);
	TEST_EQ(rl_clock_set_realtime(RL_SELF_PROCESS, set), -RILL_EBADFD);
	if (auth == 0 || IRQ_AUTH <= 0)
		TEST_SKIP("no clock authority (init gives it to its tests)");
	TEST_EQ(rl_clock_set_realtime(IRQ_AUTH, set), -RILL_EBADFD);
	TEST_EQ(rl_clock_set_realtime(auth, 1ull << 63), -RILL_EINVAL);
	d = (int64_t)(rl_clock_realtime_ns() - rl_clock_ns()) - off0;
	TEST_ASSERT(d < 1000000 && d > -1000000);	/* refused: unchanged */

	m0 = rl_clock_ns();
	TEST_EQ(rl_clock_set_realtime(auth, set), 0);
	t1 = rl_clock_realtime_ns();
	m1 = rl_clock_ns();
	TEST_ASSERT(t1 >= set && t1 < set + 1000000000ull);
	TEST_ASSERT(m1 >= m0 && m1 - m0 < 1000000000ull);	/* monotonic unmoved */
	/* Earlier than boot is allowed too (a negative offset). */
	TEST_EQ(rl_clock_set_realtime(auth, 5), 0);
	TEST_ASSERT(rl_clock_realtime_ns() < 1000000000ull);
	/* Back to the time it is: the offset it had. */
	TEST_EQ(rl_clock_set_realtime(auth, rl_clock_ns() + (uint64_t)off0), 0);
	d = (int64_t)(rl_clock_realtime_ns() - rl_clock_ns()) - off0;
	TEST_ASSERT(d < 1000000 && d > -1000000);
}

/* The hardware calls are for holders of the authorities (init, and test
 * programs when init gives them its own). Without them only the handle
 * errors are reachable. */
DEFINE_TEST(authority_calls)
{
	TEST_EQ(rl_ioport_open(RL_SELF_PROCESS, 0x80, 1), -RILL_EBADFD);
	TEST_EQ(rl_ioport_open(0x5555, 0x80, 1), -RILL_EBADF);
	TEST_EQ(rl_irq_open(RL_SELF_THREAD, 5, 0), -RILL_EBADFD);
	TEST_EQ(rl_irq_open(0x5555, 5, 0), -RILL_EBADF);
	TEST_EQ(rl_memobj_physical(RL_SELF_PROCESS, 0xfeb00000ull, 4096), -RILL_EBADFD);
	TEST_EQ(rl_memobj_physical(0x5555, 0xfeb00000ull, 4096), -RILL_EBADF);
	TEST_EQ(rl_irq_ack(RL_SELF_PROCESS), -RILL_EBADFD);
	TEST_EQ(rl_ioport_enable(RL_SELF_PROCESS), -RILL_EBADFD);
	if (IOPORT_AUTH > 0) {
		/* Authorities are different kinds from each other. */
		TEST_EQ(rl_irq_open(IOPORT_AUTH, 5, 0), -RILL_EBADFD);
		TEST_EQ(rl_memobj_physical(IOPORT_AUTH, 0xfeb00000ull, 4096),
			-RILL_EBADFD);
		TEST_EQ(rl_ioport_enable(IOPORT_AUTH), -RILL_EBADFD);
	}
	if (IRQ_AUTH > 0) {
		TEST_EQ(rl_ioport_open(IRQ_AUTH, 0x80, 1), -RILL_EBADFD);
		TEST_EQ(rl_irq_ack(IRQ_AUTH), -RILL_EBADFD);
	}
	if (IOPORT_AUTH > 0) {
		int64_t io = rl_ioport_open(IOPORT_AUTH, 0x80, 1);
		struct rl_handle_info hi;

		TEST_ASSERT(io > 0);
		TEST_EQ(rl_handle_info(io, &hi), 0);
		TEST_EQ(hi.type, RL_OBJ_IOPORT);
		TEST_EQ(rl_ioport_enable(io), 0);
		__asm__ volatile("outb %%al, $0x80" : : "a"(0));	/* POST code: harmless */
		TEST_EQ(rl_handle_close(io), 0);
	}
	nop_roundtrip();
	skip_without_authorities("the calls on the authorities themselves");
}
