/*
 * init - the first user program (docs/init.md). The kernel gives it, by
 * name, the initrd (RL_NAME_INITRD) and the hardware and log authorities
 * (RL_NAME_*_AUTH).
 *
 * It reads its configuration, etc/init.conf in the initrd (init.conf=<path>
 * on the kernel command line names another), makes the streams it names,
 * starts each service with the handles it names, logs what it starts and
 * how each ends, and starts a service again when its restart policy says
 * so. It serves its control lane (protocols/init/init.proto: a service's
 * status, kill) to the programs it gives "init" to. Everything runs on the
 * asynchronous runtime: a task per service waits for its process, a task
 * per control conversation answers it.
 *
 * With "test" or "bench" on the command line, init starts bin/testrunner
 * (user/bin/testrunner.c) with the directory to run (tests/ or bench/;
 * with "selftest" too, tests-selftest/ or bench-selftest/, the runners'
 * deliberately failing fixtures; with "console-input", tests-console/,
 * which need somebody typing on the serial line; with "services",
 * tests-services/, run with the configured services up), its tag (utest
 * or bench) and the command line's only= and except=, handing on the
 * initrd, the authorities, and with "services" the client ends of the
 * configuration's streams and "init"; then waits for it and ends the
 * machine through QEMU's isa-debug-exit port: 0 when the runner ended with
 * status 0, 1 otherwise. Without "services" a test boot starts no service.
 */
#include <proto/init.h>
#include <rill/ipc.h>
#include <rill/portio.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>

#include "config.h"

static void qemu_exit(int code)
{
	int64_t io = rl_ioport_open(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0xf4, 4);

	if (io >= 0 && rl_ioport_enable(io) == 0)
		outl(0xf4, (uint32_t)code);
	rl_printf("init: cannot leave QEMU (%ld)\n", (long)io);
}

static bool has_word(const char *line, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = line; *p; p++) {
		if ((p == line || p[-1] == ' ') && !strncmp(p, w, n) &&
		    (p[n] == 0 || p[n] == ' ' || p[n] == '='))
			return true;
	}
	return false;
}

/* The value of word=value on the command line, copied into buf ("" if
 * absent). */
static void word_value(const char *line, const char *w, char *buf, size_t size)
{
	size_t n = strlen(w), k = 0;

	buf[0] = 0;
	for (const char *p = line; *p; p++) {
		if ((p == line || p[-1] == ' ') && !strncmp(p, w, n) && p[n] == '=') {
			for (p += n + 1; *p && *p != ' ' && k + 1 < size; p++)
				buf[k++] = *p;
			buf[k] = 0;
			return;
		}
	}
}

static struct conf cfg;
static rl_handle_t control_server;	/* init's end of its control stream */

/* ---- handles by name ---- */

/* The handle a give's source names: a stream's end, init's control lane,
 * or one init was given; 0 if none. */
static rl_handle_t source_handle(const char *src)
{
	for (unsigned i = 0; i < cfg.nstreams; i++) {
		struct conf_stream *s = &cfg.streams[i];
		size_t n = strlen(s->name);

		if (!strcmp(src, s->name))
			return s->client;
		if (!strncmp(src, s->name, n) && !strcmp(src + n, ".server"))
			return s->server;
	}
	return rl_startup_handle_or0(src);
}

/* ---- services ---- */

#define QUICK_NS	(1000ull * 1000 * 1000)	/* ended sooner: a quick failure */
#define QUICK_MAX	5			/* that many in a row: given up */
#define DELAY_NS	(100ull * 1000 * 1000)	/* first delay; doubles to ... */
#define DELAY_MAX_NS	(2000ull * 1000 * 1000)

static int64_t start_service(struct conf_service *s)
{
	struct rl_spawn_handle hs[INIT_GIVES_MAX];
	struct rl_spawn_opts opts = { .handles = hs };
	const char *argv[INIT_ARGS_MAX + 1];

	for (unsigned i = 0; i < s->ngives; i++) {
		rl_handle_t h = source_handle(s->gives[i].source);

		if (!h) {
			rl_printf("init: %s: no handle %s to give\n", s->name, s->gives[i].source);
			return -RILL_ENOENT;
		}
		hs[opts.nhandles++] = (struct rl_spawn_handle){ s->gives[i].name, h, 0 };
	}
	for (unsigned i = 0; i < s->argc; i++)
		argv[i] = s->argv[i];
	argv[s->argc] = NULL;
	return rl_spawn_file(s->argv[0], (int)s->argc, argv, &opts, NULL);
}

static int64_t run_service(void *arg)
{
	struct conf_service *s = arg;
	unsigned quick = 0;

	for (;;) {
		struct rl_sqe e = { .opcode = RL_OP_PROCESS_WAIT };
		uint64_t t0 = rl_clock_ns();
		int64_t p = start_service(s), status;

		if (p < 0) {
			rl_printf("init: cannot start %s (%s): %ld\n", s->name, s->argv[0], (long)p);
			status = p;
		} else {
			s->proc = (rl_handle_t)p;
			s->starts++;
			s->state = INIT_STATE_RUNNING;
			rl_printf("init: started %s (%s), start %u\n", s->name, s->argv[0], s->starts);
			e.handle = s->proc;
			status = rl_await(&e, NULL);
			s->proc = 0;
			rl_handle_close((rl_handle_t)p);
			s->exits++;
			s->last_status = status;
			rl_printf("init: %s ended with status %ld\n", s->name, (long)status);
		}
		if (s->restart == RESTART_NEVER ||
		    (s->restart == RESTART_ON_FAILURE && status == 0 && p >= 0)) {
			s->state = INIT_STATE_STOPPED;
			return 0;
		}
		quick = rl_clock_ns() - t0 < QUICK_NS ? quick + 1 : 0;
		if (quick >= QUICK_MAX) {
			rl_printf("init: %s failed %u times in a row within a second of its start;"
				  " not restarted\n", s->name, quick);
			s->state = INIT_STATE_STOPPED;
			return 0;
		}
		s->state = INIT_STATE_WAITING;
		if (quick) {
			uint64_t d = DELAY_NS << (quick - 1);

			rl_sleep_for(d < DELAY_MAX_NS ? d : DELAY_MAX_NS);
		}
		rl_printf("init: restarting %s\n", s->name);
	}
}

/* ---- the control lane ---- */

static struct conf_service *find_service(const char *name)
{
	for (unsigned i = 0; i < cfg.nservices; i++)
		if (!strcmp(cfg.services[i].name, name))
			return &cfg.services[i];
	return NULL;
}

/* The reply to one request (buf, len) in out; its length. */
static int answer(const void *buf, size_t len, void *out, size_t cap)
{
	union init_any m;
	int id = init_decode(buf, len, &m);
	struct conf_service *s;

	if (id != INIT_MSG_STATUS && id != INIT_MSG_KILL) {
		/* Undecodable, or an unknown id (-ENOSYS), or not a request. */
		struct init_refused r = { .error = id == -RILL_ENOSYS ? -RILL_ENOSYS : -RILL_EPROTO };

		return init_refused_encode(&r, out, cap);
	}
	s = find_service(id == INIT_MSG_STATUS ? m.status.name : m.kill.name);
	if (id == INIT_MSG_STATUS) {
		struct init_service r = { .error = s ? 0 : -RILL_ENOENT };

		if (s) {
			r.state = s->state;
			r.starts = s->starts;
			r.exits = s->exits;
			r.last_status = s->last_status;
		}
		return init_service_encode(&r, out, cap);
	} else {
		struct init_killed r = { .error = !s ? -RILL_ENOENT : !s->proc ? -RILL_ESRCH : 0 };

		if (!r.error) {
			rl_printf("init: killing %s (status %ld), as asked\n", s->name,
				  (long)m.kill.status);
			if (rl_process_kill(s->proc, m.kill.status) < 0)
				r.error = -RILL_ESRCH;
		}
		return init_killed_encode(&r, out, cap);
	}
}

#define CONV_RES	(2 * sizeof(struct rl_ipc_result) + RL_PROTO_MSG_MAX)

/* One conversation: its first request came with the accept; then one
 * request after another until the client ends it. */
static int64_t control(void *unused)
{
	uint64_t res[CONV_RES / 8], out[INIT_MSG_MAX / 8];
	struct rl_ipc_result *req;
	struct rl_chain c;
	rl_handle_t lane;
	int64_t r;

	r = rl_accept(control_server, RL_PROTO_MSG_MAX, res, &lane);
	if (r < 0 && r != -RILL_EAGAIN)
		return r;		/* no more clients */
	if (rl_task_spawn_detached(control, NULL) < 0)
		rl_printf("init: no memory for the next control conversation\n");
	if (r)
		return 0;		/* the client went away */
	req = rl_ipc_result(res, 1);
	while (req->status == 0) {
		int len = answer(rl_ipc_inline(res, 1), req->length, out, sizeof(out));

		if (len < 0)
			break;		/* (a bug here: the encoders cannot fail) */
		rl_chain_init(&c);
		rl_chain_send(&c, out, (size_t)len);
		rl_chain_recv_inline(&c, RL_PROTO_MSG_MAX);
		if (rl_await_ipc(lane, &c, res) < 0 || rl_ipc_result(res, 0)->status)
			break;
		/* Results: 0 the send, 1 the next request. */
		req = rl_ipc_result(res, 1);
	}
	rl_handle_close(lane);
	return 0;
}

/* ---- the test runner ---- */

/* Before the machine ends, everything logged so far must be on the serial
 * line (the harness reads the runner's last lines there). A console
 * driver that owns the line prints it: wait for it to get there (up to 5
 * s). One that is gone, or stuck, leaves it to the kernel: take the line
 * back, and the kernel prints what the driver had not. */
static void log_reaches_the_line(void)
{
	rl_handle_t a = rl_startup_handle_or0(RL_NAME_LOG_AUTH);
	int64_t mo = rl_klog_control(a, RL_KLOG_MAP, 0), at;
	uint64_t until = rl_clock_ns() + 5000000000ull, head;

	if (mo < 0)
		return;
	at = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ);
	rl_handle_close((rl_handle_t)mo);
	if (at < 0)
		return;
	head = __atomic_load_n(&((const struct rl_klog *)at)->head, __ATOMIC_ACQUIRE);
	while (rl_klog_control(a, RL_KLOG_PRINTED, 0) < (int64_t)head &&
	       rl_clock_ns() < until)
		rl_sleep_for(10000000);
	if (rl_klog_control(a, RL_KLOG_PRINTED, 0) < (int64_t)head)
		rl_klog_control(a, RL_KLOG_CONSOLE, 1);
}

struct runner {
	const char *cmdline, *dir, *tag;
	bool services;
};

#define RUNNER_HANDLES	(6 + INIT_STREAMS_MAX + 1)

static int64_t run_tests(void *arg)
{
	static const char *const mine[] = {
		RL_NAME_INITRD, RL_NAME_IRQ_AUTH, RL_NAME_IOPORT_AUTH, RL_NAME_PHYS_AUTH,
		RL_NAME_CLOCK_AUTH, RL_NAME_LOG_AUTH,
	};
	const struct runner *t = arg;
	char only[64 + 5] = "only=", except[64 + 7] = "except=";
	const char *argv[5] = { "bin/testrunner", t->dir, t->tag };
	struct rl_spawn_handle hs[RUNNER_HANDLES];
	struct rl_spawn_opts opts = { .handles = hs };
	struct rl_sqe e = { .opcode = RL_OP_PROCESS_WAIT };
	int argc = 3;
	int64_t p, status;

	/* "only=<program>" runs that one alone (for working on it);
	 * "except=<program>" all but that one. */
	word_value(t->cmdline, "only", only + 5, sizeof(only) - 5);
	word_value(t->cmdline, "except", except + 7, sizeof(except) - 7);
	if (only[5])
		argv[argc++] = only;
	if (except[7])
		argv[argc++] = except;
	for (unsigned i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		int64_t h = rl_startup_handle(mine[i]);

		if (h > 0)
			hs[opts.nhandles++] = (struct rl_spawn_handle){ mine[i], (rl_handle_t)h, 0 };
	}
	if (t->services) {
		for (unsigned i = 0; i < cfg.nstreams; i++)
			hs[opts.nhandles++] = (struct rl_spawn_handle){ cfg.streams[i].name,
									cfg.streams[i].client, 0 };
		hs[opts.nhandles++] = (struct rl_spawn_handle){ "init", cfg.control_client, 0 };
	}
	p = rl_spawn_file("bin/testrunner", argc, argv, &opts, NULL);
	if (p < 0) {
		rl_printf("init: cannot start bin/testrunner (%ld)\n", (long)p);
		status = p;
	} else {
		e.handle = (rl_handle_t)p;
		status = rl_await(&e, NULL);
		rl_handle_close((rl_handle_t)p);
	}
	if (status != 0)
		rl_printf("init: bin/testrunner ended with status %ld\n", (long)status);
	log_reaches_the_line();
	qemu_exit(status ? 1 : 0);
	return status;
}

/* ---- start ---- */

static void complain(const char *file, unsigned line, const char *why)
{
	rl_printf("init: %s:%u: %s\n", file, line, why);
}

/* Read the configuration and make its streams and init's own; false when
 * there is nothing to run. */
static bool configure(const char *cmdline)
{
	char path[64];
	const char *text;
	size_t len;
	rl_handle_t l[2];

	word_value(cmdline, "init.conf", path, sizeof(path));
	if (!path[0])
		memcpy(path, "etc/init.conf", sizeof("etc/init.conf"));
	text = rl_initrd_file(path, &len);
	if (!text) {
		rl_printf("init: no %s in the initrd; no service started\n", path);
		return false;
	}
	if (init_config_parse(text, len, &cfg, path, complain) > 0)
		rl_printf("init: %s has errors; the services it states right are started\n", path);
	for (unsigned i = 0; i < cfg.nstreams; i++) {
		if (rl_stream(l) < 0) {
			rl_printf("init: cannot make the stream %s\n", cfg.streams[i].name);
			continue;
		}
		cfg.streams[i].client = l[0];
		cfg.streams[i].server = l[1];
	}
	if (rl_stream(l) == 0) {
		cfg.control_client = l[0];
		control_server = l[1];
	}
	return true;
}

/* init waits on it for ever once it has nothing to do: nobody wakes it. */
static uint32_t idle_word;

int main(int argc, char **argv)
{
	const struct rl_startup *st = rl_startup_info;
	const char *cmdline = st->cmdline ? (const char *)st->cmdline : "";
	bool test = has_word(cmdline, "test"), bench = has_word(cmdline, "bench");
	bool services = !(test || bench) || has_word(cmdline, "services");
	struct runner t = { .cmdline = cmdline, .services = services };
	static struct rl_loop loop;

	rl_printf("init: running (own process handle %d, %u handles by name)\n",
		  st->self_process, st->nhandles);
	if (services && !configure(cmdline))
		services = false;
	if (rl_loop_init(&loop, 64, 256) < 0) {
		rl_printf("init: cannot make its event loop\n");
		if (test || bench)
			qemu_exit(1);
		for (;;)
			rl_futex_wait(&idle_word, 0, 0);
	}
	if (services) {
		for (unsigned i = 0; i < cfg.nservices; i++)
			rl_loop_spawn(&loop, run_service, &cfg.services[i]);
		if (control_server)
			rl_loop_spawn(&loop, control, NULL);
	}
	if (test || bench) {
		bool self = has_word(cmdline, "selftest");

		t.tag = test ? "utest" : "bench";
		t.dir = test ? (self ? "tests-selftest/"
			       : has_word(cmdline, "console-input") ? "tests-console/"
			       : services ? "tests-services/" : "tests/")
			     : (self ? "bench-selftest/" : "bench/");
		rl_loop_spawn(&loop, run_tests, &t);
	} else {
		rl_printf("init: user space is up; %u services\n", cfg.nservices);
	}
	rl_loop_run(&loop);
	/* Every service stopped, and nobody holds the control lane. */
	rl_printf("init: nothing left to run\n");
	for (;;)
		rl_futex_wait(&idle_word, 0, 0);
}
