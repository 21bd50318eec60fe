/*
 * mbus-peer - a publisher in a process of its own, for tests/mbus: it
 * publishes one object whose properties are its arguments (key=value
 * each) and whose lane is a stream it serves, then echoes every message
 * that comes on that lane until it is killed (its object must then
 * disappear) or the stream ends.
 *
 *   bin/mbus-peer key=value...    "mbus": a lane to mbus
 *
 * Exit status: 0 when the stream ended, negative on an error.
 */
#include <rill/ipc.h>
#include <rill/mbus.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>

static int g_argc;
static char **g_argv;

static int64_t peer(void *arg)
{
	struct mbus_prop props[MBUS_PROPS_MAX];
	char res[sizeof(struct rl_ipc_result) + 256];
	rl_handle_t mbus = rl_startup_handle_or0("mbus"), lanes[2], conv;
	uint32_t n = 0;
	uint64_t id;
	int e;

	if (!mbus)
		return -1;
	for (int i = 1; i < g_argc && n < MBUS_PROPS_MAX; i++) {
		char key[MBUS_KEY_MAX + 1];
		const char *eq = strchr(g_argv[i], '=');
		size_t kl = eq ? (size_t)(eq - g_argv[i]) : 0;

		if (!eq || kl > MBUS_KEY_MAX)
			return -2;
		memcpy(key, g_argv[i], kl);
		key[kl] = 0;
		if (rl_mbus_prop_set(&props[n++], key, eq + 1))
			return -3;
	}
	if (rl_stream(lanes))
		return -4;
	e = rl_mbus_publish(mbus, props, n, lanes[0], &conv, &id);
	if (e) {
		rl_printf("mbus-peer: publish: %d\n", e);
		return -5;
	}
	rl_handle_close(lanes[0]);	/* mbus has its copy */
	for (;;) {
		struct rl_chain c;

		rl_chain_init(&c);
		rl_chain_recv_inline(&c, 256);
		if (rl_await_ipc(lanes[1], &c, res) || rl_ipc_result(res, 0)->status)
			return 0;
		rl_chain_init(&c);
		rl_chain_send(&c, rl_ipc_inline(res, 0), rl_ipc_result(res, 0)->length);
		if (rl_await_ipc(lanes[1], &c, res) || rl_ipc_result(res, 0)->status)
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct rl_loop loop;
	struct rl_task *t;
	int64_t st;

	g_argc = argc;
	g_argv = argv;
	if (rl_loop_init(&loop, 16, 32) < 0 || !(t = rl_loop_spawn(&loop, peer, NULL)))
		return -10;
	if (rl_loop_run(&loop) != 0)
		return -11;
	st = t->status;
	rl_loop_fini(&loop);
	return st;
}
