/*
 * The console driver (bin/console) as a chardev server, from a client:
 * the test starts it without takeover (the kernel keeps its log on the
 * line), hands it the server end of a listening stream as
 * "chardev-server", and talks the protocol over conversations
 * (drivers/console/chardev.c: each request an OFFER on the conversation,
 * request and reply on its ancillary stream).
 *
 * Nothing is typed in this boot: the input queue stays empty, so reads
 * wait (or say EAGAIN) until interrupted. The last test kills the driver
 * and checks that the kernel's counters come back and the UART is left
 * as it was found (tests/drivers drives the same COM1 and IRQ 4 later).
 */
#include <proto/chardev.h>
#include <rill/ipc.h>
#include <rill/portio.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define SEC		1000000000ull
#define MS		1000000ull
#define NCONV		32
#define MARKER		"chardev-write-7319\r\n"	/* tools/runtests.py CHARDEV_MARKER */

#define RES_WORDS	((3 * sizeof(struct rl_ipc_result) + CHARDEV_MSG_MAX) / 8 + 1)

static struct rl_queue q, qb;		/* calls; requests left in flight */
static rl_handle_t srv[2];		/* the listening stream: ours, the driver's */
static int64_t drv;			/* the driver's process */
static uint16_t com;			/* its UART, found as the driver does */
static uint8_t com_irq;
static uint8_t ier0, mcr0, lcr0;	/* as found */
static struct rl_kcounters before_driver;
static uint64_t msg[8192 / 8], res[RES_WORDS];
static union chardev_any rep;
static uint64_t bgres[NCONV][RES_WORDS];

/* Submit c on lane in q and wait for it (10 s at most). */
static int64_t call(rl_handle_t lane, const struct rl_chain *c, void *results)
{
	struct rl_sqe *e = rl_get_sqe(&q);
	struct rl_cqe *cq;
	int64_t r;

	rl_chain_prep(e, lane, c, results, 1);
	rl_submit_and_wait(&q, 1, rl_clock_ns() + 10 * SEC);
	cq = rl_peek_cqe(&q);
	if (!cq) {
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_CANCEL;
		e->arg[0] = 1;
		e->user_data = 2;
		rl_submit_and_wait(&q, 2, 0);
		while ((cq = rl_peek_cqe(&q)))
			rl_cqe_done(&q);
		TEST_ASSERT(!"no reply within 10 s");
	}
	TEST_EQ(cq->user_data, 1);
	r = cq->result;
	rl_cqe_done(&q);
	return r;
}

/* Spawning goes deeper than rl_test_warm_up's 48 KiB of stack. */
static void __attribute__((noinline)) prefault_stack(void)
{
	volatile char buf[96 * 1024];

	for (size_t i = 0; i < sizeof(buf); i += 512)
		buf[i] = 0;
}

static void start_driver(void)
{
	const char *argv[] = { "console" };
	struct rl_device devs[64];
	int64_t n, io;

	if (drv > 0)
		return;
	rl_test_warm_up();
	n = rl_dev_list(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0, devs, 64);
	TEST_ASSERT(n > 0);
	for (int64_t i = 0; i < n && i < 64 && !com; i++)
		if (devs[i].kind == RL_DEV_UART) {
			com = devs[i].io_base;
			com_irq = devs[i].irq;
		}
	TEST_ASSERT(com);
	io = rl_ioport_open(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), com, 8);
	TEST_ASSERT(io > 0);
	TEST_EQ(rl_ioport_enable(io), 0);
	ier0 = inb(com + 1);
	mcr0 = inb(com + 4);
	lcr0 = inb(com + 3);
	/* The initrd is mapped on first use (spawning needs it). */
	TEST_ASSERT(rl_initrd_file("bin/console", (size_t[]){ 0 }));
	TEST_ASSERT(rl_initrd_file("bin/chardev-client", (size_t[]){ 0 }));
	/* Our buffers' pages, touched before counting. */
	memset(bgres, 0, sizeof(bgres));
	memset(res, 0, sizeof(res));
	memset(msg, 0, sizeof(msg));
	memset(&rep, 0, sizeof(rep));
	memset(&q, 0, sizeof(q));
	memset(&qb, 0, sizeof(qb));
	{
		/* What spawning touches in this process the first time:
		 * a client with no handles, which ends at once. */
		const char *cargv[] = { "chardev-client" };
		int64_t p = rl_spawn_file("bin/chardev-client", 1, cargv, NULL, NULL);

		TEST_ASSERT(p > 0);
		TEST_EQ(rl_process_wait((rl_handle_t)p), -1);
		TEST_EQ(rl_handle_close(p), 0);
	}
	srv[0] = srv[1] = 0;
	drv = 0;
	free(malloc(16));	/* malloc's first chunk (spawning uses it) */
	prefault_stack();
	rl_test_counters_settle(&before_driver);
	TEST_EQ(rl_queue_init(&q, 16, 32), 0);
	TEST_EQ(rl_queue_init(&qb, 64, 128), 0);
	TEST_EQ(rl_stream(srv), 0);
	{
		const struct rl_spawn_handle hs[] = {
			{ "chardev-server", srv[1], 0 },
			{ RL_NAME_IRQ_AUTH, rl_startup_handle_or0(RL_NAME_IRQ_AUTH), 0 },
			{ RL_NAME_IOPORT_AUTH, rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0 },
		};
		const struct rl_spawn_opts opts = { .handles = hs, .nhandles = 3 };

		drv = rl_spawn_file("bin/console", 1, argv, &opts, NULL);
	}
	TEST_ASSERT(drv > 0);
	TEST_EQ(rl_handle_close(srv[1]), 0);	/* the driver's now */
}

/* A new conversation with the driver. */
static rl_handle_t open_conv(void)
{
	uint64_t r[8];
	struct rl_chain c;

	start_driver();
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	TEST_EQ(call(srv[0], &c, r), 0);
	TEST_EQ(rl_ipc_result(r, 0)->status, 0);
	return rl_ipc_result(r, 0)->handle;
}

static void chain_request(struct rl_chain *c, const void *m, size_t len, unsigned flags)
{
	rl_chain_init(c);
	rl_chain_offer(c, flags);
	rl_chain_send(c, m, len);
	rl_chain_recv_inline(c, CHARDEV_MSG_MAX);
}

/* One request of len bytes of msg on conversation cv: the reply's id
 * (decoded into rep), or the decoder's -error. *send_status: the SEND's. */
static int request_raw(rl_handle_t cv, size_t len, int *send_status)
{
	struct rl_chain c;

	chain_request(&c, msg, len, 0);
	TEST_EQ(call(cv, &c, res), 0);
	TEST_EQ(rl_ipc_result(res, 0)->status, 0);
	*send_status = rl_ipc_result(res, 1)->status;
	TEST_EQ(rl_ipc_result(res, 2)->status, 0);
	return chardev_decode(rl_ipc_inline(res, 2), rl_ipc_result(res, 2)->length, &rep);
}

static int request(rl_handle_t cv, int len)
{
	int ss;

	TEST_ASSERT(len > 0);
	TEST_EQ(request_raw(cv, (size_t)len, &ss) >= 0, 1);
	TEST_EQ(ss, 0);
	return chardev_peek(rl_ipc_inline(res, 2), rl_ipc_result(res, 2)->length);
}

#define ENC(type, ...) ({							\
	struct chardev_##type m_ = { __VA_ARGS__ };				\
	chardev_##type##_encode(&m_, msg, sizeof(msg));			\
})

/* A request left in flight on qb (user_data ud), results in r. */
static void request_bg(rl_handle_t cv, int len, void *r, uint64_t ud)
{
	struct rl_chain c;
	struct rl_sqe *e = rl_get_sqe(&qb);

	TEST_ASSERT(e && len > 0);
	chain_request(&c, msg, (size_t)len, 0);
	rl_chain_prep(e, cv, &c, r, ud);
	TEST_EQ(rl_submit(&qb), 1);
}

/* n completions of qb within 10 s; each checked by the caller through
 * its results. */
static void wait_bg(unsigned n)
{
	uint64_t until = rl_clock_ns() + 10 * SEC;

	while (n) {
		struct rl_cqe *cq;

		rl_submit_and_wait(&qb, 1, until);
		while (n && (cq = rl_peek_cqe(&qb))) {
			TEST_EQ(cq->result, 0);
			rl_cqe_done(&qb);
			n--;
		}
		TEST_ASSERT(n == 0 || rl_clock_ns() < until);
	}
}

static void get_winsize_works(rl_handle_t cv)
{
	TEST_EQ(request(cv, ENC(get_winsize, 0)), CHARDEV_MSG_WINSIZE_IS);
	TEST_EQ(rep.winsize_is.error, 0);
}

/* What a conversation holds in the kernel, in the whole system: with the
 * driver alive, heap objects and pages are not compared (a stream family
 * keeps ended streams for reuse, as many as were open at once, which
 * scheduling decides), but every handle, stream, IPC action, waiting
 * operation, process and thread must be back. */
static bool same_objects(const struct rl_kcounters *a, const struct rl_kcounters *b)
{
	return a->processes == b->processes && a->threads == b->threads &&
	       a->queues == b->queues && a->memobjs == b->memobjs &&
	       a->mappings == b->mappings && a->handles == b->handles &&
	       a->queue_ops == b->queue_ops && a->streams == b->streams &&
	       a->ipc_actions == b->ipc_actions;
}

static void expect_objects_back(const struct rl_kcounters *before, bool heap)
{
	struct rl_kcounters now;
	uint64_t until = rl_clock_ns() + 5 * SEC;

	do {
		rl_sleep_ns(2 * MS);
		rl_test_counters_read(&now);
	} while (!(same_objects(before, &now) && (!heap || before->heap_objects == now.heap_objects)) &&
		 rl_clock_ns() < until);
	TEST_EQ(now.handles, before->handles);
	TEST_EQ(now.streams, before->streams);
	TEST_EQ(now.ipc_actions, before->ipc_actions);
	TEST_EQ(now.queue_ops, before->queue_ops);
	TEST_EQ(now.processes, before->processes);
	TEST_EQ(now.threads, before->threads);
	TEST_EQ(now.queues, before->queues);
	TEST_EQ(now.memobjs, before->memobjs);
	TEST_EQ(now.mappings, before->mappings);
	if (heap)
		TEST_EQ(now.heap_objects, before->heap_objects);
}

/* Tests run last to first (the order the linker leaves rl_tests in):
 * this one, first in the file, ends the program. */
DEFINE_TEST(driver_killed_leaves_nothing)
{
	start_driver();
	TEST_EQ(rl_process_kill((rl_handle_t)drv, -9), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)drv), -9);
	TEST_EQ(rl_handle_close(drv), 0);
	drv = 0;
	TEST_EQ(rl_handle_close(srv[0]), 0);
	/* Our queues keep finished submissions for reuse until they close. */
	TEST_EQ(rl_handle_close(q.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)q.hdr, q.hdr->ring_size), 0);
	TEST_EQ(rl_handle_close(qb.handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)qb.hdr, qb.hdr->ring_size), 0);
	/* The UART as we found it (the driver's IER would otherwise keep
	 * asking for interrupts nobody serves). */
	outb(com + 1, ier0);
	outb(com + 4, mcr0);
	outb(com + 3, lcr0);
	/* Everything it had is gone (the kernel frees an ended process's
	 * objects a little after its waiters complete: this waits), the
	 * kernel heap's objects too. Pages are not compared: one user page
	 * stays (its owner not found yet: not the driver's, which is gone
	 * with its process; not our queues, buffers, stack or malloc). */
	expect_objects_back(&before_driver, true);
	/* ...its IRQ line included: free for the next driver. */
	{
		int64_t irq = rl_irq_open(rl_startup_handle_or0(RL_NAME_IRQ_AUTH), com_irq, 0);

		TEST_ASSERT(irq > 0);
		TEST_EQ(rl_handle_close(irq), 0);
	}
}

DEFINE_TEST(write_reaches_the_line)
{
	rl_handle_t cv = open_conv();

	TEST_EQ(request(cv, ENC(write, .bytes = MARKER, .bytes_len = sizeof(MARKER) - 1)),
		CHARDEV_MSG_WRITTEN);
	TEST_EQ(rep.written.error, 0);
	TEST_EQ(rep.written.count, sizeof(MARKER) - 1);
	TEST_EQ(request(cv, ENC(drain, 0)), CHARDEV_MSG_DRAINED);
	TEST_EQ(rep.drained.error, 0);
	/* Drained: the transmitter is empty, every byte of it has left. */
	TEST_ASSERT(inb(com + 5) & 0x40);
	TEST_EQ(rl_handle_close(cv), 0);
}

DEFINE_TEST(winsize_round_trip)
{
	rl_handle_t a = open_conv(), b = open_conv();
	struct chardev_winsize ws = { 50, 132, 1056, 800 };

	TEST_EQ(request(a, ENC(set_winsize, .size = ws)), CHARDEV_MSG_WINSIZE_SET);
	TEST_EQ(rep.winsize_set.error, 0);
	TEST_EQ(request(b, ENC(get_winsize, 0)), CHARDEV_MSG_WINSIZE_IS);
	TEST_EQ(rep.winsize_is.size.rows, 50);
	TEST_EQ(rep.winsize_is.size.cols, 132);
	TEST_EQ(rep.winsize_is.size.xpixel, 1056);
	TEST_EQ(rep.winsize_is.size.ypixel, 800);
	TEST_EQ(rl_handle_close(a), 0);
	TEST_EQ(rl_handle_close(b), 0);
}

DEFINE_TEST(line_programmed_and_back)
{
	rl_handle_t cv = open_conv();
	struct chardev_line orig, l;

	TEST_EQ(request(cv, ENC(get_line, 0)), CHARDEV_MSG_LINE_IS);
	orig = rep.line_is.line;
	/* What the UART holds now, read by us. */
	TEST_EQ(orig.data_bits, 5 + (lcr0 & 3));
	TEST_EQ(orig.stop_bits, (lcr0 & 4) ? 2 : 1);
	TEST_EQ(orig.parity, CHARDEV_PARITY_NONE);
	TEST_ASSERT(orig.baud >= 50 && 115200 % orig.baud == 0);

	l = orig;
	l.baud = 9600;
	l.data_bits = 7;
	l.stop_bits = 2;
	l.parity = CHARDEV_PARITY_EVEN;
	l.iflag = CHARDEV_IFLAG_ICRNL;
	l.oflag = CHARDEV_OFLAG_OPOST | CHARDEV_OFLAG_ONLCR;
	l.lflag = CHARDEV_LFLAG_ICANON | CHARDEV_LFLAG_ECHO;
	l.cc_count = CHARDEV_CC_COUNT;
	for (int i = 0; i < CHARDEV_CC_COUNT; i++)
		l.cc[i] = (uint8_t)(i + 1);
	TEST_EQ(request(cv, ENC(set_line, .when = CHARDEV_WHEN_DRAIN, .line = l)),
		CHARDEV_MSG_LINE_SET);
	TEST_EQ(rep.line_set.error, 0);
	/* In the UART: 7 bits (2), 2 stop bits (4), even parity (0x18). */
	TEST_EQ(inb(com + 3), 0x1e);
	TEST_EQ(request(cv, ENC(get_line, 0)), CHARDEV_MSG_LINE_IS);
	TEST_EQ(rep.line_is.line.baud, 9600);	/* read back from the divisor */
	TEST_EQ(rep.line_is.line.data_bits, 7);
	TEST_EQ(rep.line_is.line.stop_bits, 2);
	TEST_EQ(rep.line_is.line.parity, CHARDEV_PARITY_EVEN);
	TEST_EQ(rep.line_is.line.iflag, l.iflag);
	TEST_EQ(rep.line_is.line.oflag, l.oflag);
	TEST_EQ(rep.line_is.line.lflag, l.lflag);
	TEST_EQ(rep.line_is.line.cc_count, CHARDEV_CC_COUNT);
	TEST_EQ(memcmp(rep.line_is.line.cc, l.cc, CHARDEV_CC_COUNT), 0);

	/* What a 16550 cannot do, refused with nothing changed. */
	l.baud = 1000;				/* no exact divisor */
	TEST_EQ(request(cv, ENC(set_line, .line = l)), CHARDEV_MSG_LINE_SET);
	TEST_EQ(rep.line_set.error, -RILL_ENOTSUP);
	l.baud = 230400;			/* above the clock */
	TEST_EQ(request(cv, ENC(set_line, .line = l)), CHARDEV_MSG_LINE_SET);
	TEST_EQ(rep.line_set.error, -RILL_ENOTSUP);
	l.baud = 19200;
	l.flow = CHARDEV_FLOW_RTSCTS;
	TEST_EQ(request(cv, ENC(set_line, .line = l)), CHARDEV_MSG_LINE_SET);
	TEST_EQ(rep.line_set.error, -RILL_ENOTSUP);
	TEST_EQ(inb(com + 3), 0x1e);

	TEST_EQ(request(cv, ENC(set_line, .when = CHARDEV_WHEN_FLUSH, .line = orig)),
		CHARDEV_MSG_LINE_SET);
	TEST_EQ(rep.line_set.error, 0);
	TEST_EQ(inb(com + 3), lcr0);
	TEST_EQ(request(cv, ENC(get_line, 0)), CHARDEV_MSG_LINE_IS);
	TEST_EQ(rep.line_is.line.baud, orig.baud);
	TEST_EQ(rl_handle_close(cv), 0);
}

DEFINE_TEST(flush_drain_break)
{
	rl_handle_t cv = open_conv();

	TEST_EQ(request(cv, ENC(write, .bytes = "..", .bytes_len = 2, .nonblock = true)),
		CHARDEV_MSG_WRITTEN);
	TEST_EQ(rep.written.count, 2);
	for (int which = 1; which <= 3; which++) {
		TEST_EQ(request(cv, ENC(flush, .queue = (enum chardev_queue)which)),
			CHARDEV_MSG_FLUSHED);
		TEST_EQ(rep.flushed.error, 0);
	}
	TEST_EQ(request(cv, ENC(drain, 0)), CHARDEV_MSG_DRAINED);
	TEST_EQ(rep.drained.error, 0);
	{
		uint64_t t0 = rl_clock_ns();

		TEST_EQ(request(cv, ENC(send_break, .ms = 20)), CHARDEV_MSG_BREAK_SENT);
		TEST_EQ(rep.break_sent.error, 0);
		TEST_ASSERT(rl_clock_ns() - t0 >= 20 * MS);	/* it held the line */
	}
	TEST_EQ(inb(com + 3) & 0x40, 0);			/* and let it go */
	TEST_EQ(rl_handle_close(cv), 0);
}

DEFINE_TEST(nonblock_read_on_empty_input)
{
	rl_handle_t cv = open_conv();

	TEST_EQ(request(cv, ENC(flush, .queue = CHARDEV_QUEUE_INPUT)), CHARDEV_MSG_FLUSHED);
	TEST_EQ(request(cv, ENC(read, .max = 16, .nonblock = true)), CHARDEV_MSG_DATA);
	TEST_EQ(rep.data.error, -RILL_EAGAIN);
	TEST_EQ(rep.data.bytes_len, 0);
	TEST_EQ(rl_handle_close(cv), 0);
}


/* n conversations each with a blocking read in flight; other requests
 * served meanwhile (on them and on another conversation); then a request
 * on each interrupts its read: data with EINTR, then its own reply. */
static void reads_interrupted(unsigned n)
{
	rl_handle_t cv[NCONV], other = open_conv();

	for (unsigned i = 0; i < n; i++) {
		cv[i] = open_conv();
		request_bg(cv[i], ENC(read, .max = 64), bgres[i], 100 + i);
	}
	rl_sleep_ns(30 * MS);
	TEST_ASSERT(!rl_peek_cqe(&qb));		/* they wait: nothing typed */
	get_winsize_works(other);
	TEST_EQ(request(other, ENC(write, .bytes = "", .bytes_len = 0)), CHARDEV_MSG_WRITTEN);
	TEST_ASSERT(!rl_peek_cqe(&qb));
	for (unsigned i = 0; i < n; i++)
		get_winsize_works(cv[i]);
	wait_bg(n);
	for (unsigned i = 0; i < n; i++) {
		struct rl_ipc_result *r = rl_ipc_result(bgres[i], 2);
		struct chardev_data d;

		TEST_EQ(rl_ipc_result(bgres[i], 0)->status, 0);
		TEST_EQ(r->status, 0);
		TEST_EQ(chardev_data_decode(rl_ipc_inline(bgres[i], 2), r->length, &d), 0);
		TEST_EQ(d.error, -RILL_EINTR);
		TEST_EQ(rl_handle_close(cv[i]), 0);
	}
	get_winsize_works(other);
	TEST_EQ(rl_handle_close(other), 0);
}

DEFINE_TEST(blocking_read_interrupted)
{
	reads_interrupted(1);
}

DEFINE_TEST(many_conversations)
{
	reads_interrupted(NCONV);
}

static void put32(size_t at, uint32_t v)
{
	memcpy((char *)msg + at, &v, 4);
}

static void put16(size_t at, uint16_t v)
{
	memcpy((char *)msg + at, &v, 2);
}

/* A malformed request: refused with err, and another conversation is
 * served right after. */
static void refused(rl_handle_t cv, rl_handle_t other, size_t len, int err, int send_status)
{
	int ss;

	TEST_EQ(request_raw(cv, len, &ss), CHARDEV_MSG_REFUSED);
	TEST_EQ(ss, send_status);
	TEST_EQ(rep.refused.error, err);
	get_winsize_works(other);
}

DEFINE_TEST(malformed_requests_refused)
{
	rl_handle_t cv = open_conv(), other = open_conv();
	static const uint16_t kinds[] = {
		CHARDEV_MSG_READ, CHARDEV_MSG_WRITE, CHARDEV_MSG_GET_LINE, CHARDEV_MSG_SET_LINE,
		CHARDEV_MSG_GET_WINSIZE, CHARDEV_MSG_SET_WINSIZE, CHARDEV_MSG_FLUSH,
		CHARDEV_MSG_DRAIN, CHARDEV_MSG_SEND_BREAK, CHARDEV_MSG_SUBSCRIBE,
	};
	struct chardev_line l = { .baud = 9600, .data_bits = 8, .stop_bits = 1 };

	for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int len;

		switch (kinds[k]) {
		case CHARDEV_MSG_READ:
			len = ENC(read, .max = 8);
			break;
		case CHARDEV_MSG_WRITE:
			len = ENC(write, .bytes = "abcdefgh", .bytes_len = 8);
			break;
		case CHARDEV_MSG_GET_LINE:
			len = ENC(get_line, 0);
			break;
		case CHARDEV_MSG_SET_LINE:
			len = ENC(set_line, .line = l);
			break;
		case CHARDEV_MSG_GET_WINSIZE:
			len = ENC(get_winsize, 0);
			break;
		case CHARDEV_MSG_SET_WINSIZE:
			len = ENC(set_winsize, .size = { 1, 2, 3, 4 });
			break;
		case CHARDEV_MSG_FLUSH:
			len = ENC(flush, .queue = CHARDEV_QUEUE_BOTH);
			break;
		case CHARDEV_MSG_DRAIN:
			len = ENC(drain, 0);
			break;
		case CHARDEV_MSG_SEND_BREAK:
			len = ENC(send_break, .ms = 1);
			break;
		default:
			len = ENC(subscribe, .events = 0);
			break;
		}
		TEST_ASSERT(len >= 16);
		/* Truncated: by 8 bytes (the header's length then lies), and
		 * to a partial header. */
		if (len > 16)
			refused(cv, other, (size_t)len - 8, -RILL_EPROTO, 0);
		refused(cv, other, 12, -RILL_EPROTO, 0);
		/* Oversized: 8 more bytes than the header says, and a length
		 * that matches them. */
		memset((char *)msg + len, 0, 8);
		refused(cv, other, (size_t)len + 8, -RILL_EPROTO, 0);
		put32(8, (uint32_t)len + 8);
		refused(cv, other, (size_t)len + 8, -RILL_EPROTO, 0);
		put32(8, (uint32_t)len);
		/* Another protocol, another version. */
		((uint8_t *)msg)[3] ^= 1;
		refused(cv, other, (size_t)len, -RILL_EPROTO, 0);
		((uint8_t *)msg)[3] ^= 1;
		((uint8_t *)msg)[6] = CHARDEV_VERSION + 1;
		refused(cv, other, (size_t)len, -RILL_EPROTO, 0);
		((uint8_t *)msg)[6] = CHARDEV_VERSION;
		/* An unknown id, and this kind's reply sent as a request. */
		put16(4, 77);
		refused(cv, other, (size_t)len, -RILL_ENOSYS, 0);
		put16(4, (uint16_t)(kinds[k] + 1));
		refused(cv, other, (size_t)len, -RILL_ENOSYS, 0);
		put16(4, kinds[k]);
		/* Garbage in the body: padding and values it cannot take
		 * (a window size takes any four u16s). */
		if (len > 16 && kinds[k] != CHARDEV_MSG_SET_WINSIZE) {
			memset((char *)msg + 16, 0xa5, (size_t)len - 16);
			refused(cv, other, (size_t)len, -RILL_EPROTO, 0);
		}
	}
	/* More than the driver receives at once (its SEND fails, the
	 * driver still answers), and garbage with no header at all. */
	memset(msg, 0x5a, sizeof(msg));
	refused(cv, other, sizeof(msg), -RILL_EPROTO, -RILL_EMSGSIZE);
	refused(cv, other, 64, -RILL_EPROTO, 0);
	refused(cv, other, 8, -RILL_EPROTO, 0);
	/* And the conversation that sent all that is still served. */
	get_winsize_works(cv);
	TEST_EQ(rl_handle_close(cv), 0);
	TEST_EQ(rl_handle_close(other), 0);
}

DEFINE_TEST(subscribe_winsize_events)
{
	rl_handle_t cv = open_conv(), other = open_conv(), ev;
	struct chardev_event e;
	struct rl_chain c;

	chain_request(&c, msg, (size_t)ENC(subscribe, .events = CHARDEV_EVENTS_WINSIZE |
					   CHARDEV_EVENTS_WRITABLE),
		      RL_IPC_WANT_LANE);
	TEST_EQ(call(cv, &c, res), 0);
	TEST_EQ(rl_ipc_result(res, 2)->status, 0);
	ev = rl_ipc_result(res, 0)->handle;
	TEST_EQ(chardev_decode(rl_ipc_inline(res, 2), rl_ipc_result(res, 2)->length, &rep),
		CHARDEV_MSG_SUBSCRIBED);
	TEST_EQ(rep.subscribed.pending, CHARDEV_EVENTS_WRITABLE);	/* room: yes */
	/* The conversation goes on; the event comes on the subscription. */
	get_winsize_works(cv);
	TEST_EQ(request(other, ENC(set_winsize, .size = { 24, 80, 0, 0 })),
		CHARDEV_MSG_WINSIZE_SET);
	rl_chain_init(&c);
	rl_chain_recv_inline(&c, CHARDEV_MSG_MAX);
	TEST_EQ(call(ev, &c, res), 0);
	TEST_EQ(rl_ipc_result(res, 0)->status, 0);
	TEST_EQ(chardev_event_decode(rl_ipc_inline(res, 0), rl_ipc_result(res, 0)->length, &e), 0);
	TEST_EQ(e.events, CHARDEV_EVENTS_WINSIZE);
	TEST_EQ(e.dropped, 0);
	/* Closed: the driver finds out at its next event and lets go. */
	TEST_EQ(rl_handle_close(ev), 0);
	TEST_EQ(request(other, ENC(set_winsize, .size = { 50, 132, 1056, 800 })),
		CHARDEV_MSG_WINSIZE_SET);
	TEST_EQ(rl_handle_close(cv), 0);
	TEST_EQ(rl_handle_close(other), 0);
}

/* A client process with a read in the driver, killed. */
static void kill_a_reader(void)
{
	const char *argv[] = { "chardev-client" };
	rl_handle_t ready[2], cv;
	int64_t p, dup;
	uint64_t r[8], got[4];
	struct rl_chain c;

	TEST_EQ(rl_stream(ready), 0);
	dup = rl_handle_dup(srv[0], RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
	TEST_ASSERT(dup > 0);
	{
		const struct rl_spawn_handle hs[] = {
			{ "chardev", (rl_handle_t)dup, 0 },
			{ "ready", ready[1], 0 },
		};
		const struct rl_spawn_opts opts = { .handles = hs, .nhandles = 2 };

		p = rl_spawn_file("bin/chardev-client", 1, argv, &opts, NULL);
	}
	TEST_ASSERT(p > 0);
	TEST_EQ(rl_handle_close(dup), 0);
	TEST_EQ(rl_handle_close(ready[1]), 0);
	rl_chain_init(&c);
	rl_chain_recv(&c, got, sizeof(got));
	TEST_EQ(call(ready[0], &c, r), 0);
	TEST_EQ(rl_ipc_result(r, 0)->status, 0);	/* its read is on its way */
	rl_sleep_ns(30 * MS);
	TEST_EQ(rl_process_kill((rl_handle_t)p, -9), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)p), -9);
	TEST_EQ(rl_handle_close(p), 0);
	TEST_EQ(rl_handle_close(ready[0]), 0);
	/* The driver serves on, and the dead client's read got no input:
	 * a new reader is the first in line. */
	cv = open_conv();
	get_winsize_works(cv);
	TEST_EQ(request(cv, ENC(read, .max = 8, .nonblock = true)), CHARDEV_MSG_DATA);
	TEST_EQ(rep.data.error, -RILL_EAGAIN);
	TEST_EQ(rl_handle_close(cv), 0);
}

DEFINE_TEST(killed_reader_leaks_nothing)
{
	struct rl_kcounters before;

	start_driver();
	kill_a_reader();		/* what the driver makes once: its task slots */
	rl_test_counters_settle(&before);
	kill_a_reader();
	kill_a_reader();
	expect_objects_back(&before, false);
}
