/*
 * The console driver (bin/console) on the serial line, in the boot that
 * types (tools/runtests.py's console boot: "console-input" makes init run
 * tests-console/). Tests run last to first:
 *
 *  - echoes_a_typed_line: the driver takes the line over from the
 *    kernel's log (which it then prints, so the runner still sees every
 *    line once), nobody talks to it, so it echoes what is typed: the
 *    runner types CONSOLE_TEXT once "console: ready" shows, and checks the
 *    echo reached the serial output;
 *  - reads_a_typed_line: a second driver, without takeover, with a
 *    chardev client: once the client's conversation is open it says
 *    READ_MARKER, the runner types CONSOLE_READ_TEXT, and the client's
 *    reads get it (not echoed: a conversation is open); it writes it back
 *    through the driver for the runner to see.
 */
#include <proto/chardev.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define TYPED		"rill-echo-7731\r"	/* tools/runtests.py CONSOLE_TEXT */
#define READ_MARKER	"console-test: reading through chardev"	/* CONSOLE_READ_MARKER */
#define READ_TYPED	"rill-read-4402\r"	/* CONSOLE_READ_TEXT */
#define SEC		1000000000ull

static struct rl_queue q;
static uint64_t res[(3 * sizeof(struct rl_ipc_result) + CHARDEV_MSG_MAX) / 8 + 1];
static uint64_t msg[CHARDEV_MSG_MAX / 8];
static union chardev_any rep;

/* Submit c on lane and wait for it, 20 s at most (typing waits for the
 * runner). */
static void call(rl_handle_t lane, const struct rl_chain *c, void *results)
{
	struct rl_sqe *e = rl_get_sqe(&q);
	struct rl_cqe *cq;

	rl_chain_prep(e, lane, c, results, 1);
	rl_submit_and_wait(&q, 1, rl_clock_ns() + 20 * SEC);
	cq = rl_peek_cqe(&q);
	TEST_ASSERT(cq);	/* no answer: the driver is killed below all the same */
	TEST_EQ(cq->result, 0);
	rl_cqe_done(&q);
}

/* One request (len bytes of msg) on conversation cv: the reply's id. */
static int request(rl_handle_t cv, int len)
{
	struct rl_chain c;

	TEST_ASSERT(len > 0);
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, msg, (size_t)len);
	rl_chain_recv_inline(&c, CHARDEV_MSG_MAX);
	call(cv, &c, res);
	TEST_EQ(rl_ipc_result(res, 2)->status, 0);
	return chardev_decode(rl_ipc_inline(res, 2), rl_ipc_result(res, 2)->length, &rep);
}

static int64_t drv;

static void reads_a_typed_line_body(void)
{
	const struct rl_spawn_handle hs[] = {
		{ "chardev-server", 0, 0 },
		{ RL_NAME_IRQ_AUTH, rl_startup_handle_or0(RL_NAME_IRQ_AUTH), 0 },
		{ RL_NAME_IOPORT_AUTH, rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0 },
	};
	struct rl_spawn_handle h[3] = { hs[0], hs[1], hs[2] };
	const struct rl_spawn_opts opts = { .handles = h, .nhandles = 3 };
	const char *argv[] = { "console" };
	char line[64];
	uint32_t got = 0;
	rl_handle_t srv[2], cv;
	uint64_t r[8];
	struct rl_chain c;
	int len;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	TEST_EQ(rl_stream(srv), 0);
	h[0].handle = srv[1];
	drv = rl_spawn_file("bin/console", 1, argv, &opts, NULL);
	TEST_ASSERT(drv > 0);
	TEST_EQ(rl_handle_close(srv[1]), 0);
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	call(srv[0], &c, r);
	TEST_EQ(rl_ipc_result(r, 0)->status, 0);
	cv = rl_ipc_result(r, 0)->handle;
	/* The conversation is open once a request came back: from now on
	 * typed bytes are kept for readers. */
	len = chardev_get_winsize_encode(&(struct chardev_get_winsize){ 0 }, msg, sizeof(msg));
	TEST_EQ(request(cv, len), CHARDEV_MSG_WINSIZE_IS);
	rl_printf("%s\n", READ_MARKER);
	while (got < sizeof(line) && (!got || line[got - 1] != '\r')) {
		struct chardev_read rd = { .max = (uint32_t)(sizeof(line) - got) };

		TEST_EQ(request(cv, chardev_read_encode(&rd, msg, sizeof(msg))), CHARDEV_MSG_DATA);
		TEST_EQ(rep.data.error, 0);
		TEST_ASSERT(rep.data.bytes_len > 0);
		memcpy(line + got, rep.data.bytes, rep.data.bytes_len);
		got += rep.data.bytes_len;
	}
	TEST_EQ(got, strlen(READ_TYPED));
	TEST_EQ(memcmp(line, READ_TYPED, got), 0);
	{
		struct chardev_write w = { .bytes_len = 0 };

		memcpy(w.bytes, "read back: ", 11);
		memcpy(w.bytes + 11, line, got - 1);
		memcpy(w.bytes + 11 + got - 1, "\r\n", 2);
		w.bytes_len = 11 + got - 1 + 2;
		TEST_EQ(request(cv, chardev_write_encode(&w, msg, sizeof(msg))), CHARDEV_MSG_WRITTEN);
		TEST_EQ(rep.written.count, w.bytes_len);
		TEST_EQ(request(cv, chardev_drain_encode(&(struct chardev_drain){ 0 }, msg,
							 sizeof(msg))), CHARDEV_MSG_DRAINED);
		TEST_EQ(rep.drained.error, 0);
	}
	TEST_EQ(rl_handle_close(cv), 0);
	TEST_EQ(rl_handle_close(srv[0]), 0);
}

/* Defined first: runs after echoes_a_typed_line. */
DEFINE_TEST(reads_a_typed_line)
{
	reads_a_typed_line_body();
	TEST_EQ(rl_process_kill((rl_handle_t)drv, -9), 0);
	TEST_EQ(rl_process_wait((rl_handle_t)drv), -9);
	TEST_EQ(rl_handle_close(drv), 0);
}

DEFINE_TEST(echoes_a_typed_line)
{
	const struct rl_spawn_handle hs[] = {
		{ RL_NAME_IRQ_AUTH, rl_startup_handle_or0(RL_NAME_IRQ_AUTH), 0 },
		{ RL_NAME_IOPORT_AUTH, rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0 },
		{ RL_NAME_LOG_AUTH, rl_startup_handle_or0(RL_NAME_LOG_AUTH), 0 },
	};
	const struct rl_spawn_opts opts = { .handles = hs, .nhandles = 3 };
	const char *argv[] = { "console", "takeover", "echo-line" };
	int64_t p;

	p = rl_spawn_file("bin/console", 3, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	/* It exits after the line with the count of bytes it received. */
	TEST_EQ(rl_process_wait((rl_handle_t)p), (int64_t)strlen(TYPED));
	TEST_EQ(rl_handle_close(p), 0);
}
