/*
 * tests-services/services - init's services, run in the "services" boot
 * (init started what etc/init.conf says, then the test runner): the
 * control lane (protocols/init/init.proto) answers, refuses what it cannot
 * read and goes on serving; a service killed mid-run is started again
 * and the kernel's counters come back to where they were.
 */
#include <proto/chardev.h>
#include <proto/init.h>
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/mbus.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>
#include <rill/test.h>

static struct rl_queue q;
static bool q_ready;

static struct rl_queue *Q(void)
{
	if (!q_ready && rl_queue_init(&q, 8, 16) == 0)
		q_ready = true;
	return &q;
}

#define RES	(4 * sizeof(struct rl_ipc_result) + RL_PROTO_MSG_MAX)
static uint64_t res[RES / 8];
static union init_any rep;

/* One request (msg, len) in a conversation of its own: the reply's id
 * (decoded into rep), or a negative error. */
static int call(const void *msg, size_t len)
{
	rl_handle_t lane = rl_startup_handle_or0("init");
	struct rl_chain c;
	struct rl_ipc_result *r;
	int64_t e;

	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, msg, len);
	rl_chain_recv_inline(&c, RL_PROTO_MSG_MAX);
	if ((e = rl_ipc_call(Q(), lane, &c, res)) < 0)
		return (int)e;
	r = rl_ipc_result(res, 2);
	if (r->status)
		return (int)r->status;
	return init_decode(rl_ipc_inline(res, 2), r->length, &rep);
}

static uint64_t msg[INIT_MSG_MAX / 8 + 8];

static int status(const char *name)
{
	struct init_status m = { 0 };
	int len;

	memcpy(m.name, name, strlen(name) + 1);
	len = init_status_encode(&m, msg, sizeof(msg));
	return len < 0 ? len : call(msg, (size_t)len);
}

static int kill(const char *name, int64_t st)
{
	struct init_kill m = { .status = st };
	int len;

	memcpy(m.name, name, strlen(name) + 1);
	len = init_kill_encode(&m, msg, sizeof(msg));
	return len < 0 ? len : call(msg, (size_t)len);
}

DEFINE_TEST(status_of_a_running_service)
{
	TEST_ASSERT(rl_startup_handle_or0("init") > 0);
	TEST_EQ(status("console"), INIT_MSG_SERVICE);
	TEST_EQ(rep.service.error, 0);
	TEST_EQ(rep.service.state, INIT_STATE_RUNNING);
	TEST_ASSERT(rep.service.starts >= 1);
	TEST_EQ(rep.service.exits, rep.service.starts - 1);
}

DEFINE_TEST(unknown_service)
{
	TEST_EQ(status("no-such-service"), INIT_MSG_SERVICE);
	TEST_EQ(rep.service.error, -RILL_ENOENT);
	TEST_EQ(kill("no-such-service", 1), INIT_MSG_KILLED);
	TEST_EQ(rep.killed.error, -RILL_ENOENT);
}

/* Every way a request can be wrong gets a refused reply, and the next
 * conversation is served as before. */
DEFINE_TEST(malformed_requests_refused)
{
	struct init_status m = { 0 };
	struct init_service sv = { 0 };
	uint8_t *b = (uint8_t *)msg;
	int len;

	memcpy(m.name, "console", 8);
	len = init_status_encode(&m, msg, sizeof(msg));
	TEST_ASSERT(len > 16);
	for (int cut = 0; cut < len; cut += 3) {	/* truncated */
		TEST_EQ(call(msg, (size_t)cut), INIT_MSG_REFUSED);
		TEST_EQ(rep.refused.error, -RILL_EPROTO);
		len = init_status_encode(&m, msg, sizeof(msg));
	}
	b[len] = 0;					/* trailing bytes */
	TEST_EQ(call(msg, (size_t)len + 8), INIT_MSG_REFUSED);
	TEST_EQ(rep.refused.error, -RILL_EPROTO);
	b[0] ^= 1;					/* another protocol */
	TEST_EQ(call(msg, (size_t)len), INIT_MSG_REFUSED);
	b[0] ^= 1;
	b[6]++;						/* another version */
	TEST_EQ(call(msg, (size_t)len), INIT_MSG_REFUSED);
	b[6]--;
	b[4] = 99;					/* an unknown message */
	TEST_EQ(call(msg, (size_t)len), INIT_MSG_REFUSED);
	TEST_ASSERT(rep.refused.error == -RILL_ENOSYS || rep.refused.error == -RILL_EPROTO);
	len = init_service_encode(&sv, msg, sizeof(msg));	/* a reply as a request */
	TEST_EQ(call(msg, (size_t)len), INIT_MSG_REFUSED);
	for (unsigned i = 0; i < sizeof(msg); i++)	/* garbage */
		b[i] = (uint8_t)(i * 37 + 11);
	TEST_EQ(call(msg, 48), INIT_MSG_REFUSED);
	TEST_EQ(call(msg, 0), INIT_MSG_REFUSED);
	/* still serving */
	TEST_EQ(status("console"), INIT_MSG_SERVICE);
	TEST_EQ(rep.service.state, INIT_STATE_RUNNING);
}

/* Several requests on one conversation, as a client that keeps its lane. */
DEFINE_TEST(one_conversation_many_requests)
{
	rl_handle_t lane = rl_startup_handle_or0("init"), conv;
	struct init_status m = { 0 };
	struct rl_chain c;
	int len;

	memcpy(m.name, "console", 8);
	len = init_status_encode(&m, msg, sizeof(msg));
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	rl_chain_send(&c, msg, (size_t)len);
	rl_chain_recv_inline(&c, RL_PROTO_MSG_MAX);
	TEST_EQ(rl_ipc_call(Q(), lane, &c, res), 0);
	TEST_EQ(rl_ipc_result(res, 0)->status, 0);
	conv = rl_ipc_result(res, 0)->handle;
	TEST_EQ(init_decode(rl_ipc_inline(res, 2), rl_ipc_result(res, 2)->length, &rep),
		INIT_MSG_SERVICE);
	for (int i = 0; i < 20; i++) {
		rl_chain_init(&c);
		rl_chain_send(&c, msg, (size_t)len);
		rl_chain_recv_inline(&c, RL_PROTO_MSG_MAX);
		TEST_EQ(rl_ipc_call(Q(), conv, &c, res), 0);
		TEST_EQ(rl_ipc_result(res, 1)->status, 0);
		TEST_EQ(init_decode(rl_ipc_inline(res, 1), rl_ipc_result(res, 1)->length, &rep),
			INIT_MSG_SERVICE);
		TEST_EQ(rep.service.state, INIT_STATE_RUNNING);
	}
	TEST_EQ(rl_handle_close(conv), 0);
}

/* ---- the console driver, through the lane init gives ---- */

static uint64_t cres[RES / 8], cmsg[CHARDEV_MSG_MAX / 8 + 1];

/* A conversation with the console driver on lane (0: the "console" lane
 * init gives); its lane, or 0. */
static rl_handle_t console_open_on(rl_handle_t lane)
{
	struct rl_chain c;

	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	if (rl_ipc_call(Q(), lane ? lane : rl_startup_handle_or0("console"), &c, cres) < 0 ||
	    rl_ipc_result(cres, 0)->status)
		return 0;
	return rl_ipc_result(cres, 0)->handle;
}

static rl_handle_t console_open(void)
{
	return console_open_on(0);
}

/* Write text through the driver: the count it says it queued, or an
 * error. */
static int64_t console_write_on(rl_handle_t lane, const char *text)
{
	struct chardev_write w = { .bytes_len = (uint32_t)strlen(text) };
	union chardev_any r;
	rl_handle_t cv = console_open_on(lane);
	struct rl_chain c;
	int len;

	if (!cv)
		return -RILL_EPIPE;
	memcpy(w.bytes, text, w.bytes_len);
	len = chardev_write_encode(&w, cmsg, sizeof(cmsg));
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, cmsg, (size_t)len);
	rl_chain_recv_inline(&c, CHARDEV_MSG_MAX);
	if (rl_ipc_call(Q(), cv, &c, cres) < 0 || rl_ipc_result(cres, 2)->status ||
	    chardev_decode(rl_ipc_inline(cres, 2), rl_ipc_result(cres, 2)->length, &r) !=
	    CHARDEV_MSG_WRITTEN) {
		rl_handle_close(cv);
		return -RILL_EPROTO;
	}
	rl_handle_close(cv);
	return r.written.error ? r.written.error : (int64_t)r.written.count;
}

static int64_t console_write(const char *text)
{
	return console_write_on(0, text);
}

/* ---- the console driver, found on mbus ---- */

#define THROUGH_MBUS	"services: written through the lane mbus gave\r\n"

static int64_t on_mbus_result;

/* In a task (rill/mbus.h): the driver found on mbus as a chardev named
 * console on com1, and a write through the lane mbus hands out. */
static int64_t find_console(void *arg)
{
	rl_handle_t mbus = rl_startup_handle_or0("mbus"), lane = 0;
	struct mbus_match m[2];
	struct mbus_prop props[MBUS_PROPS_MAX];
	const char *dev;
	uint64_t console, com1;
	uint32_t n;
	char num[24];
	int64_t w;

	if (!mbus)
		return -1;
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "serial");
	rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_EQUAL, "com1");
	if (rl_mbus_find_first(mbus, m, 2, &com1, props, &n) < 0)
		return -2;
	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "chardev");
	rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_EQUAL, "console");
	if (rl_mbus_find_first(mbus, m, 2, &console, props, &n) < 0)
		return -3;
	dev = rl_mbus_prop(props, n, "device");
	rill_snprintf(num, sizeof(num), "%lu", (unsigned long)com1);
	if (!dev || strcmp(dev, num))
		return -4;
	if (rl_mbus_get(mbus, console, props, &n, true, &lane) < 0 || !lane)
		return -5;
	w = console_write_on(lane, THROUGH_MBUS);
	rl_handle_close(lane);
	return w != (int64_t)strlen(THROUGH_MBUS) ? -6 : (int64_t)console;
}

static bool running_with(const char *name, uint32_t starts);

/* mbus killed: init starts it again, and the console driver, whose watch
 * ended with the old one, publishes itself on the new one. */
DEFINE_TEST(console_published_again_after_mbus_restart)
{
	uint64_t until = rl_clock_ns() + 30000000000ull;
	int64_t found = 0;
	uint32_t starts;

	TEST_EQ(status("mbus"), INIT_MSG_SERVICE);
	starts = rep.service.starts;
	TEST_EQ(kill("mbus", 0x3b), INIT_MSG_KILLED);
	TEST_EQ(rep.killed.error, 0);
	TEST_ASSERT(running_with("mbus", starts + 1));
	while (found <= 0 && rl_clock_ns() < until) {
		struct rl_loop l;
		struct rl_task *t;

		TEST_EQ(rl_loop_init(&l, 16, 32), 0);
		t = rl_loop_spawn(&l, find_console, NULL);
		TEST_ASSERT(t);
		TEST_EQ(rl_loop_run(&l), 0);
		found = t->status;
		rl_loop_fini(&l);
		if (found <= 0)
			rl_sleep_ns(50000000);
	}
	TEST_ASSERT(found > 0);
	TEST_EQ(status("console"), INIT_MSG_SERVICE);
	TEST_EQ(rep.service.state, INIT_STATE_RUNNING);
}

DEFINE_TEST(console_found_on_mbus)
{
	struct rl_loop l;
	struct rl_task *t;

	TEST_EQ(rl_loop_init(&l, 16, 32), 0);
	t = rl_loop_spawn(&l, find_console, NULL);
	TEST_ASSERT(t);
	TEST_EQ(rl_loop_run(&l), 0);
	on_mbus_result = t->status;
	rl_loop_fini(&l);
	TEST_ASSERT(on_mbus_result > 0);
}

/* Wait (up to 30 s) for the service to be running with starts. */
static bool running_with(const char *name, uint32_t starts)
{
	uint64_t until = rl_clock_ns() + 30000000000ull;

	while (rl_clock_ns() < until) {
		if (status(name) == INIT_MSG_SERVICE && rep.service.state == INIT_STATE_RUNNING &&
		    rep.service.starts == starts)
			return true;
		rl_sleep_ns(20000000);
	}
	return false;
}

/* The console driver killed mid-run: init starts it again, the system
 * goes on (this test's own output reaches the serial line through the new
 * driver, which is how the runner sees it pass), and the kernel's counters
 * are back where they were with the old driver. */
DEFINE_TEST(killed_service_restarted_without_leaks)
{
	struct rl_kcounters before;
	uint32_t starts;

	TEST_EQ(status("console"), INIT_MSG_SERVICE);
	starts = rep.service.starts;
	rl_test_warm_up();
	/* Round 0 warms up: the first restart leaves 2 mappings, 2 pages and
	 * 2 heap objects more than the boot's start did, once (the rounds
	 * after it leave none); the counters are taken after it. */
	static const char hello[] = "services: written through the driver\r\n";
	static uint64_t bg[RES / 8];
	struct rl_queue bq;

	TEST_EQ(rl_queue_init(&bq, 4, 8), 0);
	TEST_EQ(console_write(hello), (int64_t)strlen(hello));
	for (int round = 0; round <= 3; round++) {
		struct chardev_read rd = { .max = 64 };
		struct rl_chain c;
		struct rl_cqe *cq;
		rl_handle_t cv;
		int len;

		if (round == 1)
			rl_test_counters_settle(&before);
		/* A client mid-request when the driver dies: a read waiting
		 * for input nobody types. */
		cv = console_open();
		TEST_ASSERT(cv > 0);
		len = chardev_read_encode(&rd, cmsg, sizeof(cmsg));
		rl_chain_init(&c);
		rl_chain_offer(&c, 0);
		rl_chain_send(&c, cmsg, (size_t)len);
		rl_chain_recv_inline(&c, CHARDEV_MSG_MAX);
		TEST_EQ(rl_chain_prep(rl_get_sqe(&bq), cv, &c, bg, 7), 0);
		TEST_EQ(rl_submit(&bq), 1);
		TEST_EQ(kill("console", 0x4b1), INIT_MSG_KILLED);
		TEST_EQ(rep.killed.error, 0);
		/* The read ends: its stream went with the driver. */
		TEST_EQ(rl_submit_and_wait(&bq, 1, rl_clock_ns() + 10000000000ull) >= 0, 1);
		cq = rl_peek_cqe(&bq);
		TEST_ASSERT(cq && cq->user_data == 7);
		rl_cqe_done(&bq);
		TEST_ASSERT(rl_ipc_result(bg, 2)->status < 0 || rl_ipc_result(bg, 0)->status < 0);
		TEST_EQ(rl_handle_close(cv), 0);
		TEST_ASSERT(running_with("console", starts + (uint32_t)round + 1));
		TEST_EQ(rep.service.last_status, 0x4b1);
		TEST_EQ(rep.service.exits, starts + (uint32_t)round);
		/* The new driver serves the same lane. */
		TEST_EQ(console_write(hello), (int64_t)strlen(hello));
		rl_printf("services: console restarted, round %d\n", round);
	}
	rl_test_counters_expect_back_but_heap(&before);
	rl_handle_close(bq.handle);
}
