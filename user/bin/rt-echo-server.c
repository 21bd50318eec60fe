/*
 * rt-echo-server - an echo server written with the asynchronous runtime
 * (docs/runtime.md, where it is the worked example): one task per
 * conversation, each written as straight-line code, any number of them
 * in flight on one thread.
 *
 *   client:  [OFFER, SEND request, RECV_INLINE reply]   on the listening lane
 *   server:  [ACCEPT (want lane), RECV_INLINE request]  then [SEND reply]
 *            on the conversation's lane, which it then closes
 *
 * The reply is the request, byte for byte. A request that starts with
 * "sleep " waits 10 ms before its reply (other conversations go on
 * meanwhile). The server ends when the listening lane does (every client
 * handle closed), and exits with the number of conversations it served.
 *
 *   bin/rt-echo-server       lane: rl_startup_handle("lane")
 */
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>

#define REQ_MAX		256

static uint32_t served;

/* One conversation. It first waits for a client; once one came, it
 * starts the task that waits for the next, then answers its own. */
static int64_t conversation(void *listen)
{
	char res[2 * sizeof(struct rl_ipc_result) + REQ_MAX];
	struct rl_ipc_result *req = rl_ipc_result(res, 1);
	struct rl_chain c;
	rl_handle_t lane;
	int64_t r;

	r = rl_accept((rl_handle_t)(uint64_t)listen, REQ_MAX, res, &lane);
	if (r < 0 && r != -RILL_EAGAIN)
		return r == -RILL_EPIPE ? 0 : r;	/* no more clients: the loop ends */
	if (rl_task_spawn_detached(conversation, listen) < 0)
		return -RILL_ENOMEM;
	if (r)
		return r;		/* this client went away */
	if (req->status == 0) {
		const char *msg = rl_ipc_inline(res, 1);

		if (req->length >= 6 && !memcmp(msg, "sleep ", 6))
			rl_sleep_for(10000000);
		rl_chain_init(&c);
		rl_chain_send(&c, msg, req->length);
		if (rl_await_ipc(lane, &c, res) == 0 && rl_ipc_result(res, 0)->status == 0)
			served++;
	}
	rl_handle_close(lane);
	return 0;
}

int main(int argc, char **argv)
{
	rl_handle_t listen = rl_startup_handle_or0("lane");
	struct rl_loop loop;

	if (listen <= 0 || rl_loop_init(&loop, 256, 1024) < 0 ||
	    !rl_loop_spawn(&loop, conversation, (void *)(uint64_t)listen))
		return -1;
	if (rl_loop_run(&loop) != 0)
		return -2;
	rl_loop_fini(&loop);
	return served;
}
