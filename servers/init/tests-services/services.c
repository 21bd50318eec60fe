/*
 * tests-services/services - init's services, run in the "services" boot
 * (init started what etc/init.conf says, then the test runner): the
 * control lane (protocols/init/init.proto) answers, refuses what it cannot
 * read and goes on serving; a service killed mid-run is started again
 * and the kernel's counters come back to where they were.
 */
#include <proto/init.h>
#include <rill/ipc.h>
#include <rill/rl.h>
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
	for (int round = 0; round <= 3; round++) {
		if (round == 1)
			rl_test_counters_settle(&before);
		TEST_EQ(kill("console", 0x4b1), INIT_MSG_KILLED);
		TEST_EQ(rep.killed.error, 0);
		TEST_ASSERT(running_with("console", starts + (uint32_t)round + 1));
		TEST_EQ(rep.service.last_status, 0x4b1);
		TEST_EQ(rep.service.exits, starts + (uint32_t)round);
		rl_printf("services: console restarted, round %d\n", round);
	}
	rl_test_counters_expect_back_but_slabs(&before);
}
