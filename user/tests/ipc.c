/*
 * In-OS tests of IPC streams (docs/ipc.md): matching, compatibility,
 * transfers, handles, credentials, offer/accept chains, dismiss, end of
 * lane, shutdown, process death, many concurrent conversations, bad input,
 * and the example client and server. Every wait has a deadline, so a hang
 * is a failure, not a stuck run.
 */
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define MS		1000000ull
#define KERNEL_PTR	0xffff800000000000ull
#define PAGES(n)	(((n) + 4095) & ~4095ull)
#define kc_settle	rl_test_counters_settle

static struct rl_queue q;
static bool q_ready;

/* One queue for the whole program, large enough for 10,000 conversations. */
static struct rl_queue *Q(void)
{
	if (!q_ready) {
		TEST_EQ(rl_queue_init(&q, 4096, 16384), 0);
		q_ready = true;
	}
	return &q;
}

static void stream(rl_handle_t l[2])
{
	TEST_EQ(rl_stream(l), 0);
	TEST_ASSERT(l[0] > 0 && l[1] > 0 && l[0] != l[1]);
}

static void close2(rl_handle_t l[2])
{
	TEST_EQ(rl_handle_close(l[0]), 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
}

/* Submit one chain now (the kernel reads it then, so the caller may
 * reuse it at once); rsize 0: the chain's own result size. */
static void post_ex(rl_handle_t lane, const struct rl_chain *c, void *res, uint64_t ud,
		    uint64_t flags, uint64_t rsize)
{
	struct rl_sqe *e = rl_get_sqe(Q());

	TEST_ASSERT(e != NULL);
	TEST_EQ(rl_chain_prep(e, lane, c, res, ud), 0);
	e->arg[4] = flags;
	if (rsize)
		e->arg[3] = rsize;
	TEST_EQ(rl_submit(&q), 1);
}

static void post(rl_handle_t lane, const struct rl_chain *c, void *res, uint64_t ud)
{
	post_ex(lane, c, res, ud, 0, 0);
}

static void post_flags(rl_handle_t lane, const struct rl_chain *c, void *res, uint64_t ud,
		       uint64_t flags)
{
	post_ex(lane, c, res, ud, flags, 0);
}

/* Enter what is queued and collect n completions into out[user_data]
 * (user_data < max); fail after 5 s. */
static void reap(unsigned n, struct rl_cqe *out, unsigned max)
{
	uint64_t deadline = rl_clock_ns() + 5000 * MS;
	unsigned got = 0;

	rl_submit(Q());
	while (got < n) {
		struct rl_cqe *c = rl_peek_cqe(&q);

		if (!c) {
			TEST_ASSERT(rl_clock_ns() < deadline);
			rl_submit_and_wait(&q, 1, deadline);
			continue;
		}
		TEST_ASSERT(c->user_data < max);
		out[c->user_data] = *c;
		rl_cqe_done(&q);
		got++;
	}
}

/* Nothing completes within ms milliseconds. */
static void expect_quiet(unsigned ms)
{
	rl_submit(Q());
	rl_sleep_ns(ms * MS);
	TEST_ASSERT(rl_peek_cqe(&q) == NULL);
}

static int status(void *res, unsigned i)
{
	return rl_ipc_result(res, i)->status;
}

static struct rl_kcounters before;

static void close_queue(void)
{
	if (q_ready) {
		rl_handle_close(q.handle);
		rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size);
		q_ready = false;
	}
}

/* Each test notes the kernel counters with no queue of its own (what a
 * failed test left behind is withdrawn with the old one), then starts on
 * a fresh queue; at the end it closes that queue, and then everything the
 * test made must be gone (a queue keeps finished submissions for reuse
 * until it closes). */
static void begin(void)
{
	size_t n;

	/* The runtime's own queue and the initrd mapping come into being on
	 * first use; let that happen before counting. */
	rl_initrd_file("bin/ipc-echo-client", &n);
	close_queue();
	kc_settle(&before);
	Q();
}

static void kc_expect_back(const struct rl_kcounters *b)
{
	close_queue();
	rl_test_counters_expect_back(b);
}

static void kc_expect_back_but_slabs(const struct rl_kcounters *b)
{
	close_queue();
	rl_test_counters_expect_back_but_slabs(b);
}

/* ---- streams and lanes ----------------------------------------------------------- */

DEFINE_TEST(stream_gives_two_lanes)
{
	rl_handle_t l[2];
	struct rl_handle_info hi;
	struct rl_kcounters mid;

	begin();
	stream(l);
	TEST_EQ(rl_handle_info(l[0], &hi), 0);
	TEST_EQ(hi.type, RL_OBJ_LANE);
	TEST_EQ(hi.rights, RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
	rl_test_counters_read(&mid);
	TEST_EQ(mid.streams, before.streams + 1);
	close2(l);
	TEST_EQ(rl_raw_stream_create(KERNEL_PTR), -RILL_EFAULT);
	TEST_EQ(rl_stream_create(0), -RILL_EFAULT);
	kc_expect_back(&before);
}

/* The action array is read when queue_enter consumes the entry (docs/abi.md):
 * two entries prepared from one chain variable, changed between them and
 * submitted by one queue_enter, both carry its last contents; an entry
 * consumed already keeps what it had when its queue_enter ran. */
DEFINE_TEST(chain_read_at_enter)
{
	static const char first[] = "first", second[] = "second", third[] = "third";
	char res[3][64], rres[512];
	struct rl_cqe out[4];
	struct rl_chain c;
	rl_handle_t l[2];

	begin();
	stream(l);
	rl_chain_init(&c);
	rl_chain_send(&c, first, sizeof(first));
	TEST_EQ(rl_chain_prep(rl_get_sqe(Q()), l[0], &c, res[0], 0), 0);
	rl_chain_init(&c);
	rl_chain_send(&c, second, sizeof(second));
	TEST_EQ(rl_chain_prep(rl_get_sqe(Q()), l[0], &c, res[1], 1), 0);
	TEST_EQ(rl_submit(&q), 2);
	/* Consumed (the sends wait on lane 0): changing the chain now
	 * changes nothing queued. */
	rl_chain_init(&c);
	rl_chain_send(&c, third, sizeof(third));
	post(l[0], &c, res[2], 2);
	rl_chain_init(&c);
	for (unsigned i = 0; i < 3; i++)
		rl_chain_recv_inline(&c, 16);
	post(l[1], &c, rres, 3);
	reap(4, out, 4);
	for (unsigned i = 0; i < 4; i++)
		TEST_EQ(out[i].result, 0);
	for (unsigned i = 0; i < 3; i++) {
		const char *want = i < 2 ? second : third;

		TEST_EQ(status(rres, i), 0);
		TEST_EQ(rl_ipc_result(rres, i)->length, strlen(want) + 1);
		TEST_ASSERT(!memcmp(rl_ipc_inline(rres, i), want, strlen(want) + 1));
	}
	close2(l);
	kc_expect_back(&before);
}

DEFINE_TEST(fifo_matching)
{
	static const char *msg[4] = { "a", "bb", "ccc", "dddd" };
	char res[4][64], rres[512];
	struct rl_cqe out[8];
	struct rl_chain c;
	rl_handle_t l[2];

	begin();
	stream(l);
	/* Four sends from four submissions wait on lane 0 ... */
	for (unsigned i = 0; i < 4; i++) {
		rl_chain_init(&c);
		rl_chain_send(&c, msg[i], strlen(msg[i]));
		post(l[0], &c, res[i], i);
	}
	expect_quiet(20);
	/* ... and meet four receives of one submission in order. */
	rl_chain_init(&c);
	for (unsigned i = 0; i < 4; i++)
		rl_chain_recv_inline(&c, 8);
	post(l[1], &c, rres, 4);
	reap(5, out, 8);
	for (unsigned i = 0; i < 5; i++)
		TEST_EQ(out[i].result, 0);
	for (unsigned i = 0; i < 4; i++) {
		TEST_EQ(status(res[i], 0), 0);
		TEST_EQ(status(rres, i), 0);
		TEST_EQ(rl_ipc_result(rres, i)->length, strlen(msg[i]));
		TEST_ASSERT(!memcmp(rl_ipc_inline(rres, i), msg[i], strlen(msg[i])));
	}
	/* The other way round: receives wait, sends arrive one by one. */
	rl_chain_init(&c);
	rl_chain_recv_inline(&c, 8);
	rl_chain_recv_inline(&c, 8);
	post(l[0], &c, rres, 0);
	for (unsigned i = 0; i < 2; i++) {
		rl_chain_init(&c);
		rl_chain_send(&c, msg[3 - i], strlen(msg[3 - i]));
		post(l[1], &c, res[i], 1 + i);
	}
	reap(3, out, 8);
	TEST_ASSERT(!memcmp(rl_ipc_inline(rres, 0), "dddd", 4));
	TEST_ASSERT(!memcmp(rl_ipc_inline(rres, 1), "ccc", 3));
	close2(l);
	kc_expect_back(&before);
}

/* ---- compatibility of every pair ------------------------------------------------- */

static int64_t memobj;	/* a handle to push */

static void add_action(struct rl_chain *c, unsigned type, char *buf)
{
	switch (type) {
	case RL_IPC_SEND:
		rl_chain_send(c, "x", 1);
		break;
	case RL_IPC_SEND_SG: {
		static struct rl_iovec iov[1] = { { 0, 1 } };

		iov[0].base = (uint64_t)"y";
		rl_chain_send_sg(c, iov, 1);
		break;
	}
	case RL_IPC_RECV:
		rl_chain_recv(c, buf, 16);
		break;
	case RL_IPC_RECV_INLINE:
		rl_chain_recv_inline(c, 16);
		break;
	case RL_IPC_PUSH_HANDLE:
		rl_chain_push(c, (rl_handle_t)memobj, RL_RIGHTS_ALL);
		break;
	case RL_IPC_PULL_HANDLE:
		rl_chain_pull(c, 0);
		break;
	case RL_IPC_IMBUE_CREDS:
		rl_chain_imbue(c);
		break;
	case RL_IPC_EXTRACT_CREDS:
		rl_chain_extract(c);
		break;
	case RL_IPC_OFFER:
		rl_chain_offer(c, 0);
		break;
	case RL_IPC_ACCEPT:
		rl_chain_accept(c, 0);
		break;
	default:
		rl_chain_dismiss(c);
		break;
	}
}

static bool is_send(unsigned t)
{
	return t == RL_IPC_SEND || t == RL_IPC_SEND_SG;
}

static bool is_recv(unsigned t)
{
	return t == RL_IPC_RECV || t == RL_IPC_RECV_INLINE;
}

/* What a (mine, theirs) pair gives mine. */
static int expected(unsigned a, unsigned b)
{
	if (a == RL_IPC_DISMISS)
		return 0;
	if (b == RL_IPC_DISMISS)
		return -RILL_ECANCELED;
	if ((is_send(a) && is_recv(b)) || (is_recv(a) && is_send(b)) ||
	    (a == RL_IPC_PUSH_HANDLE && b == RL_IPC_PULL_HANDLE) ||
	    (a == RL_IPC_PULL_HANDLE && b == RL_IPC_PUSH_HANDLE) ||
	    (a == RL_IPC_IMBUE_CREDS && b == RL_IPC_EXTRACT_CREDS) ||
	    (a == RL_IPC_EXTRACT_CREDS && b == RL_IPC_IMBUE_CREDS) ||
	    (a == RL_IPC_OFFER && b == RL_IPC_ACCEPT) || (a == RL_IPC_ACCEPT && b == RL_IPC_OFFER))
		return 0;
	return -RILL_EPROTO;
}

DEFINE_TEST(every_pair)
{
	char ra[128], rb[128], ba[16], bb[16];
	struct rl_cqe out[2];
	rl_handle_t l[2];
	unsigned pairs = 0, ok = 0;

	begin();
	memobj = rl_memobj_create(4096, 0);
	TEST_ASSERT(memobj > 0);
	stream(l);
	for (unsigned a = RL_IPC_SEND; a <= RL_IPC_DISMISS; a++) {
		for (unsigned b = RL_IPC_SEND; b <= RL_IPC_DISMISS; b++) {
			struct rl_chain ca, cb;

			rl_chain_init(&ca);
			rl_chain_init(&cb);
			add_action(&ca, a, ba);
			add_action(&cb, b, bb);
			post(l[0], &ca, ra, 0);
			post(l[1], &cb, rb, 1);
			reap(2, out, 2);
			TEST_EQ(out[0].result, 0);
			TEST_EQ(out[1].result, 0);
			if (status(ra, 0) != expected(a, b) || status(rb, 0) != expected(b, a))
				rl_test_fail(__FILE__, __LINE__, "pair %u/%u gave %d/%d, expected %d/%d",
					     a, b, status(ra, 0), status(rb, 0), expected(a, b),
					     expected(b, a));
			TEST_EQ(out[0].aux[0], status(ra, 0) != 0);
			/* A pulled handle is real: close it. */
			if (b == RL_IPC_PULL_HANDLE && a == RL_IPC_PUSH_HANDLE) {
				struct rl_handle_info hi;

				TEST_EQ(rl_handle_info(rl_ipc_result(rb, 0)->handle,
						       &hi), 0);
				TEST_EQ(hi.type, RL_OBJ_MEMORY);
				TEST_EQ(rl_handle_close(rl_ipc_result(rb, 0)->handle), 0);
			}
			if (a == RL_IPC_PULL_HANDLE && b == RL_IPC_PUSH_HANDLE)
				TEST_EQ(rl_handle_close(rl_ipc_result(ra, 0)->handle), 0);
			if (is_send(a) && is_recv(b)) {
				TEST_EQ(rl_ipc_result(rb, 0)->length, 1);
				TEST_EQ(rl_ipc_result(ra, 0)->length, 1);
				TEST_EQ(b == RL_IPC_RECV ? bb[0] : *(char *)rl_ipc_inline(rb, 0),
					a == RL_IPC_SEND ? 'x' : 'y');
			}
			pairs++;
			ok += expected(a, b) == 0 && expected(b, a) == 0;
		}
	}
	TEST_EQ(pairs, 121);
	/* both succeed: 8 send/receive pairs, push/pull, imbue/extract and
	 * offer/accept both ways, and dismiss/dismiss */
	TEST_EQ(ok, 8 + 2 + 2 + 2 + 1);
	close2(l);
	rl_handle_close(memobj);
	kc_expect_back(&before);
}

/* ---- sizes ------------------------------------------------------------------------ */

DEFINE_TEST(buffer_too_small)
{
	char res0[128], res1[128], buf[4];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	rl_handle_t l[2];

	begin();
	stream(l);
	rl_chain_init(&a);
	rl_chain_send(&a, "0123456789", 10);
	rl_chain_init(&b);
	rl_chain_recv(&b, buf, sizeof(buf));
	post(l[0], &a, res0, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 2);
	TEST_EQ(status(res0, 0), -RILL_EMSGSIZE);
	TEST_EQ(status(res1, 0), -RILL_EMSGSIZE);
	/* The same into an inline receive; an exact fit passes. */
	rl_chain_init(&b);
	rl_chain_recv_inline(&b, 9);
	rl_chain_recv_inline(&b, 10);
	rl_chain_init(&a);
	rl_chain_send(&a, "0123456789", 10);
	rl_chain_send(&a, "0123456789", 10);
	post(l[0], &a, res0, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 2);
	TEST_EQ(status(res0, 0), -RILL_EMSGSIZE);
	TEST_EQ(status(res1, 0), -RILL_EMSGSIZE);
	TEST_EQ(status(res0, 1), 0);
	TEST_EQ(status(res1, 1), 0);
	TEST_EQ(out[0].aux[0], 1);
	TEST_ASSERT(!memcmp(rl_ipc_inline(res1, 1), "0123456789", 10));
	close2(l);
	kc_expect_back(&before);
}

DEFINE_TEST(inline_bounds)
{
	static char big[RL_IPC_INLINE_MAX + 8], res[2 * 32 + RL_IPC_INLINE_MAX + 16], sres[64];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	rl_handle_t l[2];

	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	memset(res, 0, sizeof(res));	/* fault the buffers in before counting */
	memset(sres, 0, sizeof(sres));
	begin();
	stream(l);
	/* The bound itself passes, byte for byte, next to a small one. */
	rl_chain_init(&b);
	rl_chain_recv_inline(&b, 3);
	rl_chain_recv_inline(&b, RL_IPC_INLINE_MAX);
	TEST_EQ(rl_chain_result_size(&b), 2 * 32 + 8 + RL_IPC_INLINE_MAX);
	rl_chain_init(&a);
	rl_chain_send(&a, "abc", 3);
	rl_chain_send(&a, big, RL_IPC_INLINE_MAX);
	post(l[1], &b, res, 1);
	post(l[0], &a, sres, 0);
	reap(2, out, 2);
	TEST_EQ(status(res, 0), 0);
	TEST_EQ(status(res, 1), 0);
	TEST_EQ(rl_ipc_result(res, 0)->offset, 64);
	TEST_EQ(rl_ipc_result(res, 1)->offset, 72);	/* 8-byte aligned */
	TEST_ASSERT(!memcmp(rl_ipc_inline(res, 0), "abc", 3));
	TEST_ASSERT(!memcmp(rl_ipc_inline(res, 1), big, RL_IPC_INLINE_MAX));
	/* One byte above the bound, or a result buffer too small for the
	 * inline area, fails the submission. */
	rl_chain_init(&b);
	TEST_EQ(rl_chain_recv_inline(&b, RL_IPC_INLINE_MAX + 1), -1);
	b.overflow = false;
	b.act[0].type = RL_IPC_RECV_INLINE;
	b.act[0].len = RL_IPC_INLINE_MAX + 1;
	b.count = 1;
	post(l[1], &b, res, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EINVAL);
	rl_chain_init(&b);
	rl_chain_recv_inline(&b, 16);
	post_ex(l[1], &b, res, 0, 0, 32 + 15);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EINVAL);
	close2(l);
	kc_expect_back(&before);
}

DEFINE_TEST(scatter_gather)
{
	static char buf[20000], res0[64], res1[64];
	static char p1[5000], p3[9000];
	struct rl_iovec iov[4] = {
		{ (uint64_t)p1, sizeof(p1) }, { (uint64_t)"-mid-", 5 }, { (uint64_t)p3, 0 },
		{ (uint64_t)p3, sizeof(p3) },
	};
	struct rl_iovec many[RL_IPC_MAX_IOV + 1];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	rl_handle_t l[2];

	memset(p1, 'A', sizeof(p1));
	memset(p3, 'C', sizeof(p3));
	memset(buf, 0, sizeof(buf));
	begin();
	stream(l);
	rl_chain_init(&a);
	rl_chain_send_sg(&a, iov, 4);
	rl_chain_init(&b);
	rl_chain_recv(&b, buf, sizeof(buf));
	post(l[0], &a, res0, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 2);
	TEST_EQ(status(res0, 0), 0);
	TEST_EQ(rl_ipc_result(res1, 0)->length, 5000 + 5 + 9000);
	TEST_ASSERT(!memcmp(buf, p1, 5000));
	TEST_ASSERT(!memcmp(buf + 5000, "-mid-", 5));
	TEST_ASSERT(!memcmp(buf + 5005, p3, 9000));
	/* Too many pieces, a piece in the kernel, a piece unmapped: the
	 * submission fails and the stream is untouched. */
	for (unsigned i = 0; i <= RL_IPC_MAX_IOV; i++)
		many[i] = (struct rl_iovec){ (uint64_t)p1, 1 };
	rl_chain_init(&a);
	rl_chain_send_sg(&a, many, RL_IPC_MAX_IOV + 1);
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EINVAL);
	iov[1].base = KERNEL_PTR;
	rl_chain_init(&a);
	rl_chain_send_sg(&a, iov, 4);
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EFAULT);
	iov[1].base = 0x1000;
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EFAULT);
	rl_chain_init(&a);
	rl_chain_send_sg(&a, (struct rl_iovec *)KERNEL_PTR, 2);
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EFAULT);
	close2(l);
	kc_expect_back(&before);
}

DEFINE_TEST(large_transfer_in_pieces)
{
	size_t n = 1 << 20;
	char *src = rl_alloc_pages(n), *dst = rl_alloc_pages(n), res0[64], res1[64];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	rl_handle_t l[2];

	TEST_ASSERT(src && dst);
	for (size_t i = 0; i < n; i++)
		src[i] = (char)(i * 131 + (i >> 12));
	memset(dst, 0, n);	/* faulted in before counting */
	begin();
	stream(l);
	rl_chain_init(&a);
	rl_chain_send(&a, src, n);
	rl_chain_init(&b);
	rl_chain_recv(&b, dst, n);
	post(l[1], &b, res1, 1);
	post(l[0], &a, res0, 0);
	reap(2, out, 2);
	TEST_EQ(status(res1, 0), 0);
	TEST_EQ(rl_ipc_result(res1, 0)->length, n);
	TEST_ASSERT(!memcmp(src, dst, n));
	close2(l);
	kc_expect_back(&before);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)src, n);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)dst, n);
}

/* A SEND longer than a chunk (64 KiB) moves outside the family lock, in
 * chunks with interrupts on: every byte still arrives, in place. */
DEFINE_TEST(chunked_transfer_8M)
{
	size_t n = 8 << 20, bad = 0;
	uint64_t *src = rl_alloc_pages(n), *dst = rl_alloc_pages(n);
	char res0[64], res1[64];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	rl_handle_t l[2];

	TEST_ASSERT(src && dst);
	for (size_t i = 0; i < n / 8; i++) {
		src[i] = i * 0x9e3779b97f4a7c15ull ^ (i >> 7);
		dst[i] = ~0ull;
	}
	begin();
	stream(l);
	rl_chain_init(&a);
	rl_chain_send(&a, src, n);
	rl_chain_init(&b);
	rl_chain_recv(&b, dst, n);
	post(l[1], &b, res1, 1);
	post(l[0], &a, res0, 0);
	reap(2, out, 2);
	TEST_EQ(out[0].result, 0);
	TEST_EQ(out[1].result, 0);
	TEST_EQ(status(res0, 0), 0);
	TEST_EQ(status(res1, 0), 0);
	TEST_EQ(rl_ipc_result(res0, 0)->length, n);
	TEST_EQ(rl_ipc_result(res1, 0)->length, n);
	for (size_t i = 0; i < n / 8; i++)
		bad += dst[i] != (i * 0x9e3779b97f4a7c15ull ^ (i >> 7));
	TEST_EQ(bad, 0);
	close2(l);
	kc_expect_back(&before);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)src, n);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)dst, n);
}

struct big_sender {
	rl_handle_t lane;
	const void *buf;
	size_t len;
	volatile bool started;
	int64_t result, status, length;
};

static void big_send(void *arg)
{
	struct big_sender *s = arg;
	struct rl_queue sq;
	struct rl_chain c;
	char res[64];

	if (rl_queue_init(&sq, 4, 8)) {
		s->result = -1000;
		return;
	}
	rl_chain_init(&c);
	rl_chain_send(&c, s->buf, s->len);
	s->started = true;
	s->result = rl_ipc_call(&sq, s->lane, &c, res);
	s->status = rl_ipc_result(res, 0)->status;
	s->length = (int64_t)rl_ipc_result(res, 0)->length;
	rl_handle_close(sq.handle);
}

/* A shutdown while a long transfer is in flight (another thread's SEND is
 * copying): both sides complete once, with -EPIPE, and nothing leaks. */
DEFINE_TEST(chunked_transfer_shutdown_midway)
{
	size_t n = 32 << 20;
	char *src = rl_alloc_pages(n), *dst = rl_alloc_pages(n), res1[64];
	struct big_sender s = { 0 };
	struct rl_kcounters mid;
	struct rl_cqe out[2];
	struct rl_chain b;
	rl_handle_t l[2];
	int64_t th;

	TEST_ASSERT(src && dst);
	memset(src, 0x5a, n);
	memset(dst, 0, n);
	begin();
	stream(l);
	rl_chain_init(&b);
	rl_chain_recv(&b, dst, n);
	post(l[1], &b, res1, 1);
	s.lane = l[0];
	s.buf = src;
	s.len = n;
	th = rl_thread_spawn(big_send, &s);
	TEST_ASSERT(th > 0);
	while (!s.started)
		rl_yield();
	rl_sleep_ns(3 * MS);
	TEST_EQ(rl_lane_shutdown(l[1]), 0);
	reap(1, out, 2);
	TEST_EQ(rl_thread_join((rl_handle_t)th), 0);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(out[1].result, 0);
	TEST_EQ(s.result, 0);
	TEST_EQ(status(res1, 0), -RILL_EPIPE);
	TEST_EQ(s.status, -RILL_EPIPE);
	TEST_EQ(rl_ipc_result(res1, 0)->length, 0);
	TEST_EQ(s.length, 0);
	expect_quiet(20);	/* exactly once */
	close2(l);
	close_queue();
	/* The thread's stack stays with the runtime: compare what IPC holds. */
	rl_test_counters_settle(&mid);
	TEST_EQ(mid.streams, before.streams);
	TEST_EQ(mid.ipc_actions, before.ipc_actions);
	TEST_EQ(mid.queues, before.queues);
	TEST_EQ(mid.threads, before.threads);
	TEST_EQ(mid.handles, before.handles);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)src, n);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)dst, n);
}

/* ---- handles ----------------------------------------------------------------------- */

DEFINE_TEST(handle_rights_reduced_and_required)
{
	char res0[64], res1[64];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	struct rl_handle_info hi;
	struct rl_kcounters mid;
	rl_handle_t l[2];
	int64_t mo, weak;

	begin();
	mo = rl_memobj_create(4096, 0);
	TEST_ASSERT(mo > 0);
	stream(l);
	/* Passed with READ only; the receiver requires READ: it gets READ. */
	rl_chain_init(&a);
	rl_chain_push(&a, (rl_handle_t)mo, RL_RIGHT_READ | RL_RIGHT_DUP);
	rl_chain_init(&b);
	rl_chain_pull(&b, RL_RIGHT_READ);
	post(l[0], &a, res0, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 2);
	TEST_EQ(status(res0, 0), 0);
	TEST_EQ(status(res1, 0), 0);
	TEST_EQ(rl_handle_info(rl_ipc_result(res1, 0)->handle, &hi), 0);
	TEST_EQ(hi.rights, RL_RIGHT_READ | RL_RIGHT_DUP);
	TEST_EQ(rl_map(RL_SELF_PROCESS, rl_ipc_result(res1, 0)->handle, 0, 0, 4096,
		       RL_PROT_READ | RL_PROT_WRITE), -RILL_EPERM);
	TEST_EQ(rl_handle_close(rl_ipc_result(res1, 0)->handle), 0);
	/* Required WRITE, passed READ: both fail, no handle appears. */
	rl_test_counters_read(&mid);
	rl_chain_init(&a);
	rl_chain_push(&a, (rl_handle_t)mo, RL_RIGHT_READ);
	rl_chain_init(&b);
	rl_chain_pull(&b, RL_RIGHT_READ | RL_RIGHT_WRITE);
	post(l[0], &a, res0, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 2);
	TEST_EQ(status(res0, 0), -RILL_EACCES);
	TEST_EQ(status(res1, 0), -RILL_EACCES);
	TEST_EQ(rl_ipc_result(res1, 0)->handle, 0);
	{
		struct rl_kcounters now;

		rl_test_counters_read(&now);
		TEST_EQ(now.handles, mid.handles);
	}
	/* A handle without TRANSFER cannot be pushed; a bad one neither. */
	weak = rl_handle_dup(mo, RL_RIGHT_READ);
	TEST_ASSERT(weak > 0);
	rl_chain_init(&a);
	rl_chain_push(&a, (rl_handle_t)weak, RL_RIGHTS_ALL);
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EPERM);
	rl_chain_init(&a);
	rl_chain_push(&a, 0x12345, RL_RIGHTS_ALL);
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EBADF);
	/* The pushed object is captured at submission: closing the handle
	 * before the match does not matter. */
	rl_chain_init(&a);
	rl_chain_push(&a, (rl_handle_t)weak, 0);
	rl_handle_close(weak);
	weak = rl_handle_dup(mo, RL_RIGHT_READ | RL_RIGHT_TRANSFER);
	rl_chain_init(&a);
	rl_chain_push(&a, (rl_handle_t)weak, RL_RIGHTS_ALL);
	post(l[0], &a, res0, 0);
	rl_submit(&q);
	rl_handle_close(weak);
	rl_chain_init(&b);
	rl_chain_pull(&b, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 2);
	TEST_EQ(status(res1, 0), 0);
	TEST_EQ(rl_handle_info(rl_ipc_result(res1, 0)->handle, &hi), 0);
	TEST_EQ(hi.rights, RL_RIGHT_READ | RL_RIGHT_TRANSFER);
	rl_handle_close(rl_ipc_result(res1, 0)->handle);
	/* A pushed action that never matches gives its reference back. */
	rl_chain_init(&a);
	rl_chain_push(&a, (rl_handle_t)mo, RL_RIGHTS_ALL);
	post(l[0], &a, res0, 0);
	rl_submit(&q);
	close2(l);
	reap(1, out, 2);
	TEST_EQ(status(res0, 0), -RILL_EPIPE);
	rl_handle_close(mo);
	kc_expect_back(&before);
}

DEFINE_TEST(lane_handles_travel)
{
	char res0[64], res1[64], res2[64], buf[8];
	struct rl_cqe out[3];
	struct rl_chain a, b;
	rl_handle_t l[2], m[2], got;

	begin();
	stream(l);
	stream(m);
	/* Pass lane m[1] over stream l, then use the received handle. */
	rl_chain_init(&a);
	rl_chain_push(&a, m[1], RL_RIGHTS_ALL);
	rl_chain_init(&b);
	rl_chain_pull(&b, RL_RIGHT_SUBMIT);
	post(l[0], &a, res0, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 3);
	TEST_EQ(status(res1, 0), 0);
	got = rl_ipc_result(res1, 0)->handle;
	TEST_EQ(rl_handle_close(m[1]), 0);	/* the copy keeps the lane */
	rl_chain_init(&a);
	rl_chain_send(&a, "lane", 4);
	rl_chain_init(&b);
	rl_chain_recv(&b, buf, sizeof(buf));
	post(m[0], &a, res0, 0);
	post(got, &b, res2, 2);
	reap(2, out, 3);
	TEST_EQ(status(res2, 0), 0);
	TEST_ASSERT(!memcmp(buf, "lane", 4));
	rl_handle_close(got);
	rl_handle_close(m[0]);
	close2(l);
	kc_expect_back(&before);
}

/* ---- credentials ------------------------------------------------------------------- */

DEFINE_TEST(credentials)
{
	char res0[64], res1[64];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	struct rl_handle_info me, th;
	rl_handle_t l[2];

	begin();
	TEST_EQ(rl_handle_info(RL_SELF_PROCESS, &me), 0);
	TEST_EQ(rl_handle_info(RL_SELF_THREAD, &th), 0);
	stream(l);
	rl_chain_init(&a);
	rl_chain_imbue(&a);
	rl_chain_init(&b);
	rl_chain_extract(&b);
	post(l[0], &a, res0, 0);
	post(l[1], &b, res1, 1);
	reap(2, out, 2);
	TEST_EQ(status(res1, 0), 0);
	TEST_EQ(rl_ipc_result(res1, 0)->offset, me.id);
	TEST_EQ(rl_ipc_result(res1, 0)->thread, th.id);
	/* An imbue carries nothing of the sender's choosing: any payload is
	 * refused, and a handle must name a credentials token (tests/creds),
	 * so credentials cannot be forged. */
	rl_chain_init(&a);
	rl_chain_imbue(&a);
	a.act[0].buf = 1;
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EINVAL);
	a.act[0].buf = 0;
	a.act[0].handle = RL_SELF_PROCESS;
	post(l[0], &a, res0, 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EBADFD);
	close2(l);
	kc_expect_back(&before);
}

/* Another process's credentials: the example client asks us, and we
 * check the id we extract against its process handle. */
DEFINE_TEST(credentials_of_another_process)
{
	char res[3 * 32 + 64], rres[64], reply[72];
	struct rl_cqe out[2];
	struct rl_chain c;
	struct rl_handle_info child;
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "ipc-echo-client", "1" };
	rl_handle_t l[2];
	int64_t p;

	begin();
	stream(l);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[0], 0 } };
	opts.nhandles = 1;
	p = rl_spawn_file("bin/ipc-echo-client", 2, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	TEST_EQ(rl_handle_close(l[0]), 0);
	TEST_EQ(rl_handle_info(p, &child), 0);
	rl_chain_init(&c);
	rl_chain_accept(&c, RL_IPC_WANT_LANE);
	rl_chain_extract(&c);
	rl_chain_recv_inline(&c, 64);
	post(l[1], &c, res, 0);
	reap(1, out, 2);
	TEST_EQ(status(res, 0), 0);
	TEST_EQ(status(res, 1), 0);
	TEST_EQ(rl_ipc_result(res, 1)->offset, child.id);
	/* Answer as the server would, so the client exits 0. */
	memcpy(reply, &child.id, 8);
	for (unsigned i = 0; i < rl_ipc_result(res, 2)->length; i++) {
		char ch = ((char *)rl_ipc_inline(res, 2))[i];

		reply[8 + i] = ch >= 'a' && ch <= 'z' ? ch - 32 : ch;
	}
	rl_chain_init(&c);
	rl_chain_send(&c, reply, 8 + rl_ipc_result(res, 2)->length);
	post_flags(rl_ipc_result(res, 0)->handle, &c, rres, 1, RL_IPC_CLOSE_LANE);
	reap(1, out, 2);
	TEST_EQ(status(rres, 0), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)p), 0);
	rl_handle_close(p);
	rl_handle_close(l[1]);
	kc_expect_back(&before);
}

/* ---- offer / accept ---------------------------------------------------------------- */

DEFINE_TEST(nested_conversation_in_one_submission)
{
	char cres[8 * 32 + 64], sres[8 * 32 + 128];
	struct rl_cqe out[2];
	struct rl_chain c, s;
	rl_handle_t l[2];

	begin();
	stream(l);
	/* Client: offer { send req, offer { send inner }, recv reply }. */
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);		/* 0 */
	rl_chain_send(&c, "req", 3);	/* 1 */
	rl_chain_offer(&c, 0);		/* 2 */
	rl_chain_send(&c, "inner", 5);	/* 3 */
	rl_chain_end(&c);
	rl_chain_recv_inline(&c, 32);	/* 4 */
	/* Server: accept { recv req, accept { recv inner }, send reply }. */
	rl_chain_init(&s);
	rl_chain_accept(&s, 0);		/* 0 */
	rl_chain_recv_inline(&s, 32);	/* 1 */
	rl_chain_accept(&s, 0);		/* 2 */
	rl_chain_recv_inline(&s, 32);	/* 3 */
	rl_chain_end(&s);
	rl_chain_send(&s, "reply", 5);	/* 4 */
	post(l[1], &s, sres, 1);
	post(l[0], &c, cres, 0);
	reap(2, out, 2);
	TEST_EQ(out[0].result, 0);
	TEST_EQ(out[0].aux[0], 0);
	TEST_EQ(out[1].aux[0], 0);
	for (unsigned i = 0; i < 5; i++) {
		TEST_EQ(status(cres, i), 0);
		TEST_EQ(status(sres, i), 0);
	}
	TEST_ASSERT(!memcmp(rl_ipc_inline(sres, 1), "req", 3));
	TEST_ASSERT(!memcmp(rl_ipc_inline(sres, 3), "inner", 5));
	TEST_ASSERT(!memcmp(rl_ipc_inline(cres, 4), "reply", 5));
	/* A failed offer fails what depends on it, in one completion. */
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, "x", 1);
	rl_chain_recv_inline(&c, 8);
	rl_chain_init(&s);
	rl_chain_recv_inline(&s, 8);
	post(l[0], &c, cres, 0);
	post(l[1], &s, sres, 1);
	reap(2, out, 2);
	TEST_EQ(status(cres, 0), -RILL_EPROTO);
	TEST_EQ(status(cres, 1), -RILL_EPROTO);
	TEST_EQ(status(cres, 2), -RILL_EPROTO);
	TEST_EQ(out[0].aux[0], 3);
	close2(l);
	kc_expect_back(&before);
}

DEFINE_TEST(accept_keeps_a_lane)
{
	char cres[4 * 32 + 64], sres[4 * 32 + 64], rres[64];
	struct rl_cqe out[3];
	struct rl_chain c, s;
	rl_handle_t l[2], conv;

	begin();
	stream(l);
	rl_chain_init(&s);
	rl_chain_accept(&s, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&s, 32);
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, "ping", 4);
	rl_chain_recv_inline(&c, 32);
	post(l[1], &s, sres, 1);
	post(l[0], &c, cres, 0);
	reap(1, out, 3);	/* only the server's: the client waits for a reply */
	TEST_EQ(out[1].result, 0);
	conv = rl_ipc_result(sres, 0)->handle;
	TEST_ASSERT(conv > 0);
	expect_quiet(20);
	/* The reply, in a later submission that also closes the lane. */
	rl_chain_init(&s);
	rl_chain_send(&s, "pong", 4);
	post_flags(conv, &s, rres, 2, RL_IPC_CLOSE_LANE);
	reap(2, out, 3);
	TEST_EQ(status(rres, 0), 0);
	TEST_EQ(status(cres, 2), 0);
	TEST_ASSERT(!memcmp(rl_ipc_inline(cres, 2), "pong", 4));
	TEST_EQ(rl_handle_close(conv), -RILL_EBADF);	/* closed by the flag */
	close2(l);
	kc_expect_back(&before);
}

DEFINE_TEST(dismiss)
{
	char r0[2 * 32 + 16], r1[2 * 32 + 16];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	rl_handle_t l[2];

	begin();
	stream(l);
	rl_chain_init(&a);
	rl_chain_dismiss(&a);
	rl_chain_dismiss(&a);
	rl_chain_init(&b);
	rl_chain_recv_inline(&b, 16);
	rl_chain_dismiss(&b);
	post(l[0], &a, r0, 0);
	post(l[1], &b, r1, 1);
	reap(2, out, 2);
	TEST_EQ(status(r0, 0), 0);
	TEST_EQ(status(r1, 0), -RILL_ECANCELED);
	TEST_EQ(status(r0, 1), 0);
	TEST_EQ(status(r1, 1), 0);
	/* An offer dismissed: what follows it fails with it. */
	rl_chain_init(&a);
	rl_chain_offer(&a, 0);
	rl_chain_send(&a, "x", 1);
	rl_chain_init(&b);
	rl_chain_dismiss(&b);
	post(l[0], &a, r0, 0);
	post(l[1], &b, r1, 1);
	reap(2, out, 2);
	TEST_EQ(status(r0, 0), -RILL_ECANCELED);
	TEST_EQ(status(r0, 1), -RILL_ECANCELED);
	TEST_EQ(status(r1, 0), 0);
	close2(l);
	kc_expect_back(&before);
}

/* ---- hang-up -------------------------------------------------------------------- */

DEFINE_TEST(end_of_lane_on_close)
{
	char r0[3 * 32 + 16], r1[64];
	struct rl_cqe out[2];
	struct rl_chain a, b;
	rl_handle_t l[2], dup;

	begin();
	stream(l);
	rl_chain_init(&a);
	rl_chain_recv_inline(&a, 16);
	rl_chain_offer(&a, 0);
	rl_chain_send(&a, "x", 1);
	post(l[0], &a, r0, 0);
	expect_quiet(10);
	/* A second handle keeps lane 1 open; closing the last one ends it. */
	dup = (rl_handle_t)rl_handle_dup(l[1], RL_RIGHT_SUBMIT);
	TEST_ASSERT(dup > 0);
	TEST_EQ(rl_handle_close(l[1]), 0);
	expect_quiet(10);
	TEST_EQ(rl_handle_close(dup), 0);
	reap(1, out, 2);
	TEST_EQ(out[0].result, 0);
	TEST_EQ(status(r0, 0), -RILL_EPIPE);
	TEST_EQ(status(r0, 1), -RILL_EPIPE);
	TEST_EQ(status(r0, 2), -RILL_EPIPE);
	/* Later actions on the surviving lane fail at once. */
	rl_chain_init(&b);
	rl_chain_send(&b, "y", 1);
	rl_chain_dismiss(&b);
	post(l[0], &b, r1, 1);
	reap(1, out, 2);
	TEST_EQ(status(r1, 0), -RILL_EPIPE);
	TEST_EQ(status(r1, 1), -RILL_EPIPE);
	TEST_EQ(out[1].aux[0], 2);
	TEST_EQ(rl_handle_close(l[0]), 0);
	kc_expect_back(&before);
}

DEFINE_TEST(shutdown)
{
	char r0[64], r1[64];
	struct rl_cqe out[2];
	struct rl_chain a;
	struct rl_sqe *e;
	rl_handle_t l[2];

	begin();
	stream(l);
	rl_chain_init(&a);
	rl_chain_recv_inline(&a, 16);
	post(l[1], &a, r1, 1);
	expect_quiet(10);
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_LANE_SHUTDOWN;
	e->handle = l[0];
	e->user_data = 0;
	reap(2, out, 2);
	TEST_EQ(out[0].result, 0);
	TEST_EQ(status(r1, 0), -RILL_EPIPE);
	/* Both lanes stay ended; the handles still close normally. */
	rl_chain_init(&a);
	rl_chain_send(&a, "z", 1);
	post(l[0], &a, r0, 0);
	post(l[1], &a, r1, 1);
	reap(2, out, 2);
	TEST_EQ(status(r0, 0), -RILL_EPIPE);
	TEST_EQ(status(r1, 0), -RILL_EPIPE);
	TEST_EQ(rl_lane_shutdown(l[1]), 0);
	TEST_EQ(rl_lane_shutdown((rl_handle_t)Q()->handle), -RILL_EBADFD);
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_LANE_SHUTDOWN;
	e->handle = l[0];
	e->arg[0] = 1;
	e->user_data = 0;
	reap(1, out, 2);
	TEST_EQ(out[0].result, -RILL_EINVAL);
	close2(l);
	kc_expect_back(&before);
}

/* Wait for "ready" from a peer on lane back. */
static void wait_ready(rl_handle_t back)
{
	char res[64];
	struct rl_cqe out[4];
	struct rl_chain c;

	rl_chain_init(&c);
	rl_chain_recv_inline(&c, 16);
	post(back, &c, res, 3);
	reap(1, out, 4);
	TEST_EQ(status(res, 0), 0);
	TEST_ASSERT(!memcmp(rl_ipc_inline(res, 0), "ready", 5));
}

/* A receive into a page shared copy-on-write with a snapshot, filled by
 * another process's send, so the kernel writes it through the receiver's
 * page tables, and then by our own send, so it writes through the MMU:
 * each time the page is copied first and the snapshot keeps its bytes. A
 * receive into a read-only mapping of the snapshot is refused at
 * submission. */
DEFINE_TEST(receive_into_copy_on_write_page)
{
	static const char old[] = "old bytes, shared", fresh[] = "fresh bytes";
	char res[64];
	struct rl_cqe out[2];
	struct rl_chain c;
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "ipc-test-peer", "send", fresh };
	rl_handle_t l[2];
	int64_t A, B, p;
	char *a, *b;

	begin();
	A = rl_memobj_create(4096, 0);
	TEST_ASSERT(A > 0);
	a = (char *)rl_map(RL_SELF_PROCESS, (rl_handle_t)A, 0, 0, 4096,
			   RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT((int64_t)a > 0);
	memcpy(a, old, sizeof(old));
	B = rl_memobj_cow(A);
	TEST_ASSERT(B > 0);
	b = (char *)rl_map(RL_SELF_PROCESS, (rl_handle_t)B, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT((int64_t)b > 0);
	TEST_ASSERT(!memcmp(a, old, sizeof(old)));	/* entered read-only, shared */
	TEST_ASSERT(!memcmp(b, old, sizeof(old)));

	stream(l);
	rl_chain_init(&c);
	rl_chain_recv(&c, b, 64);		/* read-only: refused */
	post(l[0], &c, res, 1);
	reap(1, out, 2);
	TEST_EQ(out[1].result, -RILL_EFAULT);
	rl_chain_init(&c);
	rl_chain_recv(&c, a, 64);
	post(l[0], &c, res, 0);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[1], 0 } };
	opts.nhandles = 1;
	p = rl_spawn_file("bin/ipc-test-peer", 3, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	rl_handle_close(l[1]);
	reap(1, out, 2);
	TEST_EQ(out[0].result, 0);
	TEST_EQ(status(res, 0), 0);
	TEST_EQ(rl_ipc_result(res, 0)->length, sizeof(fresh) - 1);
	TEST_ASSERT(!memcmp(a, fresh, sizeof(fresh) - 1));
	TEST_ASSERT(!memcmp(b, old, sizeof(old)));	/* the snapshot kept its bytes */
	TEST_EQ(rl_process_wait((rl_handle_t)p), 0);
	rl_handle_close(p);
	rl_handle_close(l[0]);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, 4096), 0);
	rl_handle_close(B);

	/* Again with the receive's page shared and both sides in this
	 * process: the match happens in our own system call, so the kernel
	 * writes through the MMU, where the page is read-only. */
	B = rl_memobj_cow(A);
	TEST_ASSERT(B > 0);
	b = (char *)rl_map(RL_SELF_PROCESS, (rl_handle_t)B, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT((int64_t)b > 0);
	TEST_ASSERT(!memcmp(a, fresh, sizeof(fresh) - 1));	/* entered read-only again */
	stream(l);
	rl_chain_init(&c);
	rl_chain_recv(&c, a, 64);
	post(l[0], &c, res, 0);
	rl_chain_init(&c);
	rl_chain_send(&c, old, sizeof(old));
	post(l[1], &c, res + 32, 1);	/* (a RECV's one result, then ours) */
	reap(2, out, 2);
	TEST_EQ(out[0].result, 0);
	TEST_EQ(out[1].result, 0);
	TEST_ASSERT(!memcmp(a, old, sizeof(old)));
	TEST_ASSERT(!memcmp(b, fresh, sizeof(fresh) - 1));	/* the snapshot's bytes */
	close2(l);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 4096), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)b, 4096), 0);
	rl_handle_close(A);
	rl_handle_close(B);
	kc_expect_back(&before);
}

DEFINE_TEST(server_dies_mid_conversation)
{
	char cres[4 * 32 + 64];
	struct rl_cqe out[4];
	struct rl_chain c;
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "ipc-test-peer", "accept" };
	rl_handle_t l[2], b[2];
	int64_t p;

	begin();
	stream(l);
	stream(b);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[1], 0 },
							  { "back", b[1], 0 } };
	opts.nhandles = 2;
	p = rl_spawn_file("bin/ipc-test-peer", 2, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	rl_handle_close(l[1]);
	rl_handle_close(b[1]);
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, "help", 4);
	rl_chain_recv_inline(&c, 32);
	post(l[0], &c, cres, 0);
	wait_ready(b[0]);	/* the peer holds the conversation, mid-way */
	expect_quiet(10);
	TEST_EQ(rl_process_kill(p, 9), 0);
	reap(1, out, 4);
	TEST_EQ(status(cres, 0), 0);
	TEST_EQ(status(cres, 1), 0);
	TEST_EQ(status(cres, 2), -RILL_EPIPE);
	TEST_EQ(rl_process_wait((rl_handle_t)p), 9);
	rl_handle_close(p);
	close2((rl_handle_t[2]){ l[0], b[0] });
	kc_expect_back(&before);
}

DEFINE_TEST(client_dies_mid_conversation)
{
	char sres[3 * 32 + 64], rres[64];
	struct rl_cqe out[4];
	struct rl_chain s;
	struct rl_spawn_opts opts = { 0 };
	const char *argv[] = { "ipc-test-peer", "offer" };
	rl_handle_t l[2], b[2], conv;
	int64_t p;

	begin();
	stream(l);
	stream(b);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[0], 0 },
							  { "back", b[1], 0 } };
	opts.nhandles = 2;
	p = rl_spawn_file("bin/ipc-test-peer", 2, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	rl_handle_close(b[1]);
	wait_ready(b[0]);	/* its conversation is submitted */
	/* We still hold l[0] too, so only the peer's queue going away can
	 * withdraw its waiting offer. Accept it first: the conversation is
	 * live when the peer dies. */
	rl_chain_init(&s);
	rl_chain_accept(&s, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&s, 32);
	post(l[1], &s, sres, 0);
	reap(1, out, 4);
	TEST_EQ(status(sres, 1), 0);
	conv = rl_ipc_result(sres, 0)->handle;
	TEST_EQ(rl_process_kill(p, 9), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)p), 9);
	/* Its half of the conversation is gone: the reply finds an ended lane
	 * (never a hang, whenever the teardown completes). */
	for (int tries = 0;; tries++) {
		rl_chain_init(&s);
		rl_chain_recv_inline(&s, 8);
		post(conv, &s, rres, 1);
		reap(1, out, 4);
		if (status(rres, 0) == -RILL_EPIPE)
			break;
		TEST_ASSERT(tries < 100);
		rl_sleep_ns(10 * MS);
	}
	rl_handle_close(conv);
	rl_handle_close(p);
	close2(l);
	rl_handle_close(b[0]);
	kc_expect_back(&before);
}

DEFINE_TEST(queue_closed_with_actions_waiting)
{
	struct rl_queue q2;
	char res[64], r1[64];
	struct rl_cqe out[2];
	struct rl_chain c;
	struct rl_sqe *e;
	rl_handle_t l[2];

	begin();
	TEST_EQ(rl_queue_init(&q2, 4, 8), 0);
	stream(l);
	rl_chain_init(&c);
	rl_chain_recv_inline(&c, 16);
	e = rl_get_sqe(&q2);
	TEST_EQ(rl_chain_prep(e, l[0], &c, res, 0), 0);
	TEST_EQ(rl_submit(&q2), 1);
	TEST_EQ(rl_handle_close(q2.handle), 0);
	/* The withdrawn receive no longer takes our send: a second receive
	 * on the same lane gets it. */
	rl_chain_init(&c);
	rl_chain_send(&c, "s", 1);
	post(l[1], &c, r1, 1);
	rl_chain_init(&c);
	rl_chain_recv_inline(&c, 16);
	post(l[0], &c, res, 0);
	reap(2, out, 2);
	TEST_EQ(status(res, 0), 0);
	TEST_EQ(*(char *)rl_ipc_inline(res, 0), 's');
	close2(l);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)q2.hdr, q2.hdr->ring_size);
	kc_expect_back(&before);
}

/* ---- scale ------------------------------------------------------------------------- */

#define CONVS	10000
#define SLOTS	256

struct srv {
	rl_handle_t lane;
	uint64_t served;
	int failed;
	uint32_t done;		/* set last: its memory is given back */
};

/* One server thread: SLOTS accepts posted, each request answered with its
 * own bytes reversed. */
static void server_thread(void *arg)
{
	struct srv *sv = arg;
	struct mem {
		char res[SLOTS][3 * 32 + 32], reply[SLOTS][32], rres[SLOTS][32];
		struct rl_chain acc, rep[SLOTS];
	} *m = rl_alloc_pages(sizeof(*m));
	struct rl_queue sq;
	unsigned live = SLOTS;

	if (!m || rl_queue_init(&sq, 1024, 2048) < 0) {
		sv->failed = 1;
		return;
	}
#define res m->res
#define reply m->reply
#define rres m->rres
#define acc m->acc
#define rep m->rep
	rl_chain_init(&acc);
	rl_chain_accept(&acc, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&acc, 32);
	for (unsigned i = 0; i < SLOTS; i++)
		rl_chain_prep(rl_get_sqe(&sq), sv->lane, &acc, res[i], i << 1);
	while (live) {
		struct rl_cqe *c;

		rl_submit_and_wait(&sq, 1, 0);
		while ((c = rl_peek_cqe(&sq))) {
			unsigned i = (unsigned)(c->user_data >> 1);

			if (c->user_data & 1) {
				sv->failed |= c->result || status(rres[i], 0);
			} else if (status(res[i], 0)) {
				sv->failed |= status(res[i], 0) != -RILL_EPIPE;
				live--;
			} else {
				uint64_t n = rl_ipc_result(res[i], 1)->length;
				const char *in = rl_ipc_inline(res[i], 1);
				struct rl_sqe *e;

				for (uint64_t k = 0; k < n; k++)
					reply[i][k] = in[n - 1 - k];
				rl_chain_init(&rep[i]);
				rl_chain_send(&rep[i], reply[i], n);
				e = rl_get_sqe(&sq);
				rl_chain_prep(e, rl_ipc_result(res[i], 0)->handle, &rep[i], rres[i],
					      i << 1 | 1);
				e->arg[4] = RL_IPC_CLOSE_LANE;
				rl_chain_prep(rl_get_sqe(&sq), sv->lane, &acc, res[i], i << 1);
				sv->served++;
			}
			rl_cqe_done(&sq);
		}
	}
	rl_submit(&sq);
	rl_handle_close(sq.handle);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)sq.hdr, sq.hdr->ring_size);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)m, PAGES(sizeof(*m)));
	__atomic_store_n(&sv->done, 1, __ATOMIC_RELEASE);
#undef res
#undef reply
#undef rres
#undef acc
#undef rep
}

struct conv {
	char req[16];
	unsigned len;
	char res[3 * 32 + 16];
};

/* n conversations on one stream, all submitted before one server thread
 * starts; every reply checked. */
static void serve_many(struct conv *cv, unsigned n)
{
	struct rl_kcounters mid;
	struct srv sv = { 0 };
	struct rl_chain c;
	rl_handle_t l[2];
	int64_t th;
	unsigned ok = 0, got = 0;
	uint64_t deadline;

	stream(l);
	/* Every conversation is submitted before the server starts ... */
	for (unsigned i = 0; i < n; i++) {
		cv[i].len = (unsigned)rill_snprintf(cv[i].req, sizeof(cv[i].req), "c%u", i);
		rl_chain_init(&c);
		rl_chain_offer(&c, 0);
		rl_chain_send(&c, cv[i].req, cv[i].len);
		rl_chain_recv_inline(&c, 16);
		post(l[0], &c, cv[i].res, i);
	}
	rl_test_counters_read(&mid);
	TEST_EQ(mid.ipc_actions, before.ipc_actions + 3 * n);
	/* ... then one thread serves them all. */
	sv.lane = l[1];
	th = rl_thread_spawn(server_thread, &sv);
	TEST_ASSERT(th > 0);
	deadline = rl_clock_ns() + 60000 * MS;
	while (got < n) {
		struct rl_cqe *e = rl_peek_cqe(&q);

		if (!e) {
			TEST_ASSERT(rl_clock_ns() < deadline);
			rl_submit_and_wait(&q, 1, deadline);
			continue;
		}
		{
			struct conv *v = &cv[e->user_data];
			const char *in = rl_ipc_inline(v->res, 2);
			bool right = e->result == 0 && e->aux[0] == 0 &&
				     rl_ipc_result(v->res, 2)->length == v->len;

			for (unsigned k = 0; right && k < v->len; k++)
				right = in[k] == v->req[v->len - 1 - k];
			ok += right;
		}
		rl_cqe_done(&q);
		got++;
	}
	TEST_EQ(ok, n);
	TEST_EQ(rl_handle_close(l[0]), 0);	/* the server's accepts end */
	/* Join once it has given its memory back, so that its calls and our
	 * join do not run side by side (each would use a runtime queue). */
	while (!__atomic_load_n(&sv.done, __ATOMIC_ACQUIRE))
		rl_sleep_ns(MS);
	TEST_EQ(rl_thread_join((rl_handle_t)th), 0);
	rl_handle_close(th);
	TEST_EQ(sv.failed, 0);
	TEST_EQ(sv.served, n);
	rl_handle_close(l[1]);
}

/* 1,000 first (kernel caches and the runtime grow for good), then 10,000
 * counted. */
DEFINE_TEST(ten_thousand_concurrent_conversations)
{
	struct conv *cv = rl_alloc_pages(CONVS * sizeof(*cv));

	TEST_ASSERT(cv != NULL);
	memset(cv, 0, CONVS * sizeof(*cv));	/* faulted in before counting */
	begin();
	serve_many(cv, 1000);
	begin();
	serve_many(cv, CONVS);
	kc_expect_back_but_slabs(&before);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)cv, PAGES(CONVS * sizeof(*cv)));
}

/* ---- bad input --------------------------------------------------------------------- */

static int64_t submit_raw(rl_handle_t lane, const struct rl_ipc_action *a, uint64_t n,
			  void *res, uint64_t rsize, uint64_t flags)
{
	struct rl_sqe *e = rl_get_sqe(Q());
	struct rl_cqe out[1];

	e->opcode = RL_OP_IPC;
	e->handle = lane;
	e->user_data = 0;
	e->arg[0] = (uint64_t)a;
	e->arg[1] = n;
	e->arg[2] = (uint64_t)res;
	e->arg[3] = rsize;
	e->arg[4] = flags;
	reap(1, out, 1);
	return out[0].result;
}

DEFINE_TEST(bad_submissions_fail_alone)
{
	static struct rl_ipc_action a[RL_IPC_MAX_CHAIN + 1];
	static char res[(RL_IPC_MAX_CHAIN + 1) * 32], buf[16];
	char r0[64], r1[64];
	struct rl_cqe out[2];
	struct rl_chain x, y;
	rl_handle_t l[2];
	void *ro;

	memset(a, 0, sizeof(a));	/* fault the buffers in before counting */
	memset(res, 0, sizeof(res));
	memset(buf, 0, sizeof(buf));
	begin();
	stream(l);
	ro = rl_alloc_pages(4096);
	TEST_EQ(rl_protect(RL_SELF_PROCESS, (uint64_t)ro, 4096, RL_PROT_READ), 0);
	/* A receive waits on lane 1 through all of this, and is matched at
	 * the end: nothing bad disturbed it. */
	rl_chain_init(&y);
	rl_chain_recv_inline(&y, 16);
	post(l[1], &y, r1, 1);
	rl_submit(&q);

#define ACT(i, t, d) (a[i] = (struct rl_ipc_action){ .type = (t), .depth = (d) })
	/* ancillary action without an offer */
	ACT(0, RL_IPC_DISMISS, 0);
	ACT(1, RL_IPC_DISMISS, 1);
	TEST_EQ(submit_raw(l[0], a, 2, res, sizeof(res), 0), -RILL_EINVAL);
	/* depth jump, first action not at depth 0, depth above the maximum */
	ACT(0, RL_IPC_OFFER, 0);
	ACT(1, RL_IPC_DISMISS, 2);
	TEST_EQ(submit_raw(l[0], a, 2, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_DISMISS, 1);
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	for (unsigned i = 0; i <= RL_IPC_MAX_DEPTH + 1; i++)
		ACT(i, RL_IPC_OFFER, i);
	TEST_EQ(submit_raw(l[0], a, RL_IPC_MAX_DEPTH + 2, res, sizeof(res), 0), -RILL_EINVAL);
	/* too long, empty */
	for (unsigned i = 0; i <= RL_IPC_MAX_CHAIN; i++)
		ACT(i, RL_IPC_DISMISS, 0);
	TEST_EQ(submit_raw(l[0], a, RL_IPC_MAX_CHAIN + 1, res, sizeof(res), 0), -RILL_EINVAL);
	TEST_EQ(submit_raw(l[0], a, 0, res, sizeof(res), 0), -RILL_EINVAL);
	/* unknown types, flags, reserved fields, stray arguments */
	ACT(0, 0, 0);
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_DISMISS + 1, 0);
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_SEND, 0);
	a[0].flags = RL_IPC_WANT_LANE;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_OFFER, 0);
	a[0].flags = 0x80;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_DISMISS, 0);
	a[0].reserved = 1;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_DISMISS, 0);
	a[0].rights = RL_RIGHT_READ;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_PULL_HANDLE, 0);
	a[0].rights = 0x80000000u;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EINVAL);
	ACT(0, RL_IPC_DISMISS, 0);
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 2), -RILL_EINVAL);
	/* buffers in the kernel, unmapped, read-only for a receive */
	ACT(0, RL_IPC_SEND, 0);
	a[0].buf = KERNEL_PTR;
	a[0].len = 8;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EFAULT);
	a[0].buf = 0x1000;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EFAULT);
	a[0].buf = (uint64_t)buf;
	a[0].len = ~0ull;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EFAULT);
	ACT(0, RL_IPC_RECV, 0);
	a[0].buf = (uint64_t)ro;
	a[0].len = 8;
	TEST_EQ(submit_raw(l[0], a, 1, res, sizeof(res), 0), -RILL_EFAULT);
	ACT(0, RL_IPC_DISMISS, 0);
	TEST_EQ(submit_raw(l[0], (void *)KERNEL_PTR, 1, res, sizeof(res), 0), -RILL_EFAULT);
	TEST_EQ(submit_raw(l[0], a, 1, (void *)KERNEL_PTR, 64, 0), -RILL_EFAULT);
	TEST_EQ(submit_raw(l[0], a, 1, ro, 64, 0), -RILL_EFAULT);
	TEST_EQ(submit_raw(l[0], a, 1, res, 31, 0), -RILL_EINVAL);
	/* handles: of the wrong type, bad, without the right */
	TEST_EQ(submit_raw((rl_handle_t)q.handle, a, 1, res, sizeof(res), 0), -RILL_EBADFD);
	TEST_EQ(submit_raw(0x7654321, a, 1, res, sizeof(res), 0), -RILL_EBADF);
	TEST_EQ(submit_raw(-5, a, 1, res, sizeof(res), 0), -RILL_EBADF);
	{
		int64_t weak = rl_handle_dup(l[0], RL_RIGHT_DUP);

		TEST_ASSERT(weak > 0);
		TEST_EQ(submit_raw((rl_handle_t)weak, a, 1, res, sizeof(res), 0), -RILL_EPERM);
		rl_handle_close(weak);
	}
	/* A chain whose second push is bad gives back the first's object. */
	{
		int64_t mo = rl_memobj_create(4096, 0);
		struct rl_kcounters k0, k1;

		rl_test_counters_read(&k0);
		ACT(0, RL_IPC_PUSH_HANDLE, 0);
		a[0].handle = (rl_handle_t)mo;
		ACT(1, RL_IPC_PUSH_HANDLE, 0);
		a[1].handle = 0x7654321;
		TEST_EQ(submit_raw(l[0], a, 2, res, sizeof(res), 0), -RILL_EBADF);
		rl_handle_close(mo);
		rl_test_counters_read(&k1);
		TEST_EQ(k1.memobjs, k0.memobjs - 1);
	}
	/* The receive queued at the start was not disturbed by any of it. */
	rl_chain_init(&x);
	rl_chain_send(&x, "ok", 2);
	post(l[0], &x, r0, 0);
	reap(2, out, 2);
	TEST_EQ(status(r0, 0), 0);
	TEST_EQ(status(r1, 0), 0);
	TEST_ASSERT(!memcmp(rl_ipc_inline(r1, 0), "ok", 2));
	/* The results buffer unmapped between submission and completion: the
	 * submission reports -EFAULT; the data still arrived; the peer is fine. */
	{
		char *gone = rl_alloc_pages(4096);

		rl_chain_init(&x);
		rl_chain_recv(&x, buf, sizeof(buf));
		post(l[0], &x, gone, 0);
		rl_submit(&q);
		rl_unmap(RL_SELF_PROCESS, (uint64_t)gone, 4096);
		rl_chain_init(&x);
		rl_chain_send(&x, "late", 4);
		post(l[1], &x, r0, 1);
		reap(2, out, 2);
		TEST_EQ(out[0].result, -RILL_EFAULT);
		TEST_EQ(out[1].result, 0);
		TEST_EQ(status(r0, 0), 0);
		TEST_ASSERT(!memcmp(buf, "late", 4));
	}
	close2(l);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)ro, 4096);
	kc_expect_back(&before);
}

/* ---- the example ------------------------------------------------------------------- */

static void example_run(void)
{
	struct rl_spawn_opts opts = { 0 };
	const char *sargv[] = { "ipc-echo-server", "8" };
	const char *cargv[] = { "ipc-echo-client", "200", "4" };
	rl_handle_t l[2];
	int64_t srv, cl[3];

	stream(l);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[1], 0 } };
	opts.nhandles = 1;
	srv = rl_spawn_file("bin/ipc-echo-server", 2, sargv, &opts, NULL);
	TEST_ASSERT(srv > 0);
	rl_handle_close(l[1]);
	opts.handles = (const struct rl_spawn_handle[]){ { "lane", l[0], 0 } };
	opts.nhandles = 1;
	for (unsigned i = 0; i < 3; i++) {
		cl[i] = rl_spawn_file("bin/ipc-echo-client", 3, cargv, &opts, NULL);
		TEST_ASSERT(cl[i] > 0);
	}
	rl_handle_close(l[0]);
	for (unsigned i = 0; i < 3; i++) {
		TEST_EQ(rl_process_wait((rl_handle_t)cl[i]), 0);
		rl_handle_close(cl[i]);
	}
	/* The last client gone, the listening lane ends and the server too. */
	TEST_EQ(rl_process_wait((rl_handle_t)srv), 0);
	rl_handle_close(srv);
}

/* ---- cancellation ------------------------------------------------------------------- */

static void cancel_op(uint64_t target, uint64_t ud)
{
	struct rl_sqe *e = rl_get_sqe(Q());

	TEST_ASSERT(e != NULL);
	e->opcode = RL_OP_CANCEL;
	e->arg[0] = target;
	e->user_data = ud;
	TEST_EQ(rl_submit(&q), 1);
}

/* A waiting IPC submission can be cancelled: its waiting actions complete
 * with -ECANCELED and the submission completes; the peer sees nothing of
 * an action that never matched (its own send meets the next receive). */
DEFINE_TEST(cancel_waiting_submission)
{
	char res[64], res2[64], sres[64], rres[64];
	struct rl_cqe out[8];
	struct rl_chain c;
	rl_handle_t l[2];

	begin();
	stream(l);
	rl_chain_init(&c);
	rl_chain_recv_inline(&c, 16);
	rl_chain_recv_inline(&c, 16);
	post(l[0], &c, res, 1);
	expect_quiet(10);
	cancel_op(1, 2);
	reap(2, out, 8);
	TEST_EQ(out[2].result, 1);		/* one submission cancelled */
	TEST_EQ(out[1].result, 0);
	TEST_EQ(out[1].aux[0], 2);		/* both its actions failed ... */
	TEST_EQ(status(res, 0), -RILL_ECANCELED);	/* ... cancelled */
	TEST_EQ(status(res, 1), -RILL_ECANCELED);
	cancel_op(1, 3);			/* nothing left to cancel */
	reap(1, out, 8);
	TEST_EQ(out[3].result, -RILL_ENOENT);
	/* The peer's send waits for the next receive, not the cancelled one. */
	rl_chain_init(&c);
	rl_chain_send(&c, "hello", 5);
	post(l[1], &c, sres, 4);
	expect_quiet(10);
	rl_chain_init(&c);
	rl_chain_recv_inline(&c, 16);
	post(l[0], &c, res2, 5);
	reap(2, out, 8);
	TEST_EQ(out[4].result, 0);
	TEST_EQ(out[5].result, 0);
	TEST_EQ(status(sres, 0), 0);
	TEST_EQ(status(res2, 0), 0);
	TEST_ASSERT(!memcmp(rl_ipc_inline(res2, 0), "hello", 5));
	(void)rres;
	close2(l);
	kc_expect_back(&before);
}

/* Cancelling a conversation half-way: what matched keeps its result, the
 * rest fails with -ECANCELED, and the ancillary stream the cancelled
 * submission held ends, so the peer's action there fails with -EPIPE. */
DEFINE_TEST(cancel_mid_conversation)
{
	char cres[128], sres[128], sres2[64];
	struct rl_cqe out[8];
	struct rl_chain c;
	rl_handle_t l[2], child;

	begin();
	stream(l);
	rl_chain_init(&c);			/* client: offer, send, wait for a reply */
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, "req", 3);
	rl_chain_recv_inline(&c, 16);
	post(l[0], &c, cres, 1);
	rl_chain_init(&c);			/* server: accept, take the request */
	rl_chain_accept(&c, RL_IPC_WANT_LANE);
	rl_chain_recv_inline(&c, 16);
	post(l[1], &c, sres, 2);
	reap(1, out, 8);
	TEST_EQ(out[2].result, 0);
	TEST_EQ(status(sres, 0), 0);
	TEST_EQ(status(sres, 1), 0);
	child = rl_ipc_result(sres, 0)->handle;
	TEST_ASSERT(child > 0);
	cancel_op(1, 3);			/* the client gives up on the reply */
	reap(2, out, 8);
	TEST_EQ(out[3].result, 1);
	TEST_EQ(out[1].result, 0);
	TEST_EQ(out[1].aux[0], 1);
	TEST_EQ(status(cres, 0), 0);		/* offer and send had matched */
	TEST_EQ(status(cres, 1), 0);
	TEST_EQ(status(cres, 2), -RILL_ECANCELED);
	rl_chain_init(&c);			/* the server's late reply */
	rl_chain_send(&c, "rep", 3);
	post(child, &c, sres2, 4);
	reap(1, out, 8);
	TEST_EQ(out[4].result, 0);
	TEST_EQ(status(sres2, 0), -RILL_EPIPE);
	TEST_EQ(rl_handle_close(child), 0);
	close2(l);
	kc_expect_back(&before);
}

/* Three clients of 200 requests (4 in flight each) and one server; run
 * twice, counting the second time (the first grows kernel caches). */
DEFINE_TEST(example_server_and_clients)
{
	Q();
	example_run();
	begin();
	example_run();
	kc_expect_back_but_slabs(&before);
}

