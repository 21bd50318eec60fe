/*
 * ipc-test-peer - a peer process for the IPC tests (user/tests/ipc.c)
 * that stops mid-conversation, so the tests can kill it there. Its lanes
 * come by name: "lane" (the one it works on) and "back" (to report on).
 *
 *   bin/ipc-test-peer accept   "lane": to serve, "back": to report
 *                              on. Accepts one conversation
 *                              (keeping its lane), receives the request,
 *                              sends "ready" on "back", then waits for
 *                              ever without replying.
 *   bin/ipc-test-peer offer    "lane": to call on, "back": to report
 *                              on. Submits a whole
 *                              conversation [OFFER, SEND, RECV_INLINE],
 *                              sends "ready" once it is submitted, waits.
 *   bin/ipc-test-peer send TEXT "lane". Sends TEXT, exits 0 when
 *                              the send succeeded.
 *   bin/ipc-test-peer imbue    "lane". Imbues its credentials,
 *                              exits 0 when they were extracted.
 *   bin/ipc-test-peer forward  "lane". Extracts credentials with a
 *                              token, sends back what it saw (process,
 *                              thread, forwarder: 3 x u64, then the token's
 *                              handle_info type) and imbues the token in the
 *                              same chain; exits 0 when all of it matched.
 */
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>

static char res[4096], res2[256];

/* On a queue of its own: the conversation may still be in flight on q. */
static int report(rl_handle_t lane)
{
	struct rl_queue q2, *q = &q2;
	struct rl_chain c;

	if (rl_queue_init(q, 2, 4) < 0)
		return -1;
	rl_chain_init(&c);
	rl_chain_send(&c, "ready", 5);
	return rl_ipc_call(q, lane, &c, res2) == 0 && rl_ipc_result(res2, 0)->status == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	rl_handle_t lane = (rl_handle_t)rl_startup_handle("lane"),
		    back = (rl_handle_t)rl_startup_handle("back");
	struct rl_queue q;
	struct rl_chain c;

	if (argc < 2 || lane <= 0 || rl_queue_init(&q, 8, 16) < 0)
		return 2;
	rl_chain_init(&c);
	if (!strcmp(argv[1], "send") && argc == 3) {
		rl_chain_send(&c, argv[2], strlen(argv[2]));
		return rl_ipc_call(&q, lane, &c, res) || rl_ipc_result(res, 0)->status ? 3 : 0;
	}
	if (!strcmp(argv[1], "imbue")) {
		rl_chain_imbue(&c);
		return rl_ipc_call(&q, lane, &c, res) || rl_ipc_result(res, 0)->status ? 3 : 0;
	}
	if (!strcmp(argv[1], "forward")) {
		struct rl_ipc_result *x;
		struct rl_handle_info info;
		uint64_t seen[4];
		rl_handle_t tok;

		rl_chain_extract_token(&c);
		if (rl_ipc_call(&q, lane, &c, res) || rl_ipc_result(res, 0)->status)
			return 3;
		x = rl_ipc_result(res, 0);
		tok = x->handle;
		if (tok <= 0 || rl_handle_info(tok, &info))
			return 4;
		seen[0] = x->offset;
		seen[1] = x->thread;
		seen[2] = x->length;
		seen[3] = info.type;
		rl_chain_init(&c);
		rl_chain_send(&c, seen, sizeof(seen));
		rl_chain_imbue_token(&c, tok);
		if (rl_ipc_call(&q, lane, &c, res) || rl_ipc_result(res, 0)->status ||
		    rl_ipc_result(res, 1)->status)
			return 5;
		return rl_handle_close(tok) ? 6 : 0;
	}
	if (back <= 0)
		return 2;
	if (!strcmp(argv[1], "accept")) {
		rl_chain_accept(&c, RL_IPC_WANT_LANE);
		rl_chain_recv_inline(&c, 64);
		if (rl_ipc_call(&q, lane, &c, res) || rl_ipc_result(res, 1)->status)
			return 3;
	} else if (!strcmp(argv[1], "offer")) {
		struct rl_sqe *e = rl_get_sqe(&q);

		rl_chain_offer(&c, 0);
		rl_chain_send(&c, "request", 7);
		rl_chain_recv_inline(&c, 64);
		if (!e || rl_chain_prep(e, lane, &c, res, 1) || rl_submit(&q) != 1)
			return 3;
	} else {
		return 2;
	}
	if (report(back))
		return 4;
	for (;;)
		rl_sleep_ns(1000000000ull);
}
