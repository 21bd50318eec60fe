/*
 * chardev-client - a client of the console driver that is killed in the
 * middle of a read (tests/chardev, killed_reader_leaks_nothing).
 *
 * It opens a conversation on "chardev" (the client end of the driver's
 * listening stream), submits a blocking read there, and in the same
 * queue_enter sends one byte on "ready"; then it waits for ever. Its
 * parent kills it while the driver holds the read.
 */
#include <proto/chardev.h>
#include <rill/ipc.h>
#include <rill/rl.h>

static uint64_t res[(3 * sizeof(struct rl_ipc_result) + CHARDEV_MSG_MAX) / 8 + 1];
static uint64_t res2[8], res3[8];

int main(int argc, char **argv)
{
	rl_handle_t srv = rl_startup_handle_or0("chardev"), ready = rl_startup_handle_or0("ready");
	struct chardev_read rd = { .max = 16 };
	uint64_t msg[CHARDEV_READ_MAX / 8];
	struct rl_queue q;
	struct rl_chain c;
	struct rl_sqe *e;
	rl_handle_t conv;
	int len = chardev_read_encode(&rd, msg, sizeof(msg));

	if (!srv || !ready || len <= 0 || rl_queue_init(&q, 8, 16))
		return -1;
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	if (rl_ipc_call(&q, srv, &c, res3) || rl_ipc_result(res3, 0)->status)
		return -2;
	conv = rl_ipc_result(res3, 0)->handle;
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, msg, (size_t)len);
	rl_chain_recv_inline(&c, CHARDEV_MSG_MAX);
	e = rl_get_sqe(&q);
	rl_chain_prep(e, conv, &c, res, 1);
	rl_submit(&q);
	rl_chain_init(&c);
	rl_chain_send(&c, "r", 1);
	if (rl_ipc_call(&q, ready, &c, res2))
		return -3;
	for (;;)
		rl_sleep_ns(1000000000ull);
}
