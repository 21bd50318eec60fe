/*
 * linuxbench - the Linux counterparts of Rill's IPC benchmarks, in one
 * static musl binary that is also the initramfs's /init.
 *
 *   musl-gcc -static -O2 -o linuxbench linuxbench.c
 *
 * As PID 1 (booted by tools/linuxbench.py): gives itself a console, raises
 * RLIMIT_NOFILE, runs the benchmarks named in the environment variable
 * lbench (comma-separated; the kernel passes unknown `name=value` command
 * line words to init as environment), or every default one, each in a child
 * process of its own, then powers the machine off so QEMU exits.
 * Otherwise (for trying it out on the host): `linuxbench [name...]`.
 *
 * Each benchmark brackets what it measures with Rill's marker instructions
 * (tools/bench.py): a 7-byte `nopl disp32(%rax)` with displacement
 * 0x52494c01 (start) / 0x52494c02 (stop), NOPs to the CPU, which the QEMU
 * plugin tools/plugin/insncount.c counts between. After the stop it prints
 *   BENCHREGION name=<id> iters=<n> ns=<CLOCK_MONOTONIC ns> [key=value ...]
 * The clock is read outside the markers, so it is not counted.
 *
 * Benchmarks
 *   ipc_pingpong_1B, ipc_pingpong_4KiB
 *       parent and forked child, two pipes: the parent writes the payload,
 *       the child reads all of it and writes it back, the parent reads all of
 *       it. One op = one round trip.
 *   ipc_inflight_1, _8, _64, _512
 *       one single-threaded server, C forked clients, each with a request
 *       pipe and a reply pipe; a client loops writing an 8-byte request and
 *       reading the 8-byte reply, so C requests are in flight. The server
 *       loops on poll() over every request pipe, reading each ready request
 *       and writing its reply. The region (in the server, once every client
 *       has been served at least once) covers a fixed number of requests;
 *       one op = one request. server_syscalls= counts the server's poll,
 *       read and write calls in the region.
 *   getpid (calibration only, not in the default set)
 *       one getpid system call per op (make bench runs it: the figure
 *       docs/testing.md compares a system call with).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define NOFILE_LIMIT 4096

static inline void bench_start(void)
{
	__asm__ volatile(".byte 0x0f,0x1f,0x80; .long 0x52494c01" ::: "memory");
}

static inline void bench_stop(void)
{
	__asm__ volatile(".byte 0x0f,0x1f,0x80; .long 0x52494c02" ::: "memory");
}

/*
 * Let the kernel finish deferred work (RCU callbacks freeing the previous
 * benchmark's processes, workqueues) before a region starts: the plugin
 * counts every instruction of the machine, not only this process's.
 * Costs no host time under -icount sleep=off.
 */
#define SETTLE_NS 200000000

static void settle(void)
{
	struct timespec ts = { 0, SETTLE_NS };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One write(2) per line: nothing buffered is duplicated by fork, and lines
 * from different processes do not interleave. */
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	(void)!write(1, buf, (size_t)n);
}

static void die(const char *what)
{
	say("linuxbench: %s: %s\n", what, strerror(errno));
	_exit(1);
}

/* 0: n bytes read; 1: end of file before the first byte (the peer is
 * done: the normal end of a run); -1: an error, or end of file part-way. */
static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;
	size_t want = n;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0 && n == want)
			return 1;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Close every descriptor >= 3 except keep1 and keep2. */
static void close_others(int keep1, int keep2)
{
	int lo = keep1 < keep2 ? keep1 : keep2;
	int hi = keep1 < keep2 ? keep2 : keep1;

	if (lo > 3)
		syscall(SYS_close_range, 3u, (unsigned)lo - 1, 0u);
	if (hi > lo + 1)
		syscall(SYS_close_range, (unsigned)lo + 1, (unsigned)hi - 1, 0u);
	syscall(SYS_close_range, (unsigned)hi + 1, ~0u, 0u);
}

/* ---- pipe ping-pong ---------------------------------------------------- */

#define PP_WARMUP 200

static inline void stamp(char *msg, size_t size, uint64_t i)
{
	if (size >= 8)
		memcpy(msg, &i, 8);
	else
		msg[0] = (char)i;
}

static inline uint64_t stamp_differs(const char *back, size_t size, uint64_t i)
{
	uint64_t v;

	if (size < 8)
		return (uint8_t)(back[0] ^ (char)i);
	memcpy(&v, back, 8);
	return v ^ i;
}

static int pingpong(const char *name, size_t size, unsigned iters)
{
	int to_child[2], to_parent[2], status;
	static char buf[65536];
	uint64_t t0, t1;
	pid_t pid;

	if (pipe(to_child) || pipe(to_parent))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		for (;;) {
			int r = read_full(to_child[0], buf, size);

			if (r)
				_exit(r == 1 ? 0 : 1); /* EOF: the parent is done */
			if (write_full(to_parent[1], buf, size))
				_exit(1);
		}
	}
	close(to_child[0]);
	close(to_parent[1]);
	memset(buf, 0x5a, size);

	for (unsigned i = 0; i < PP_WARMUP; i++)
		if (write_full(to_child[1], buf, size) || read_full(to_parent[0], buf, size))
			die("ping-pong warm-up");

	/* As Rill's: each round's message starts with its number, checked
	 * when it comes back (a store and a compare). */
	settle();
	t0 = now_ns();
	bench_start();
	for (unsigned i = 0; i < iters; i++) {
		stamp(buf, size, i);
		if (write_full(to_child[1], buf, size) || read_full(to_parent[0], buf, size) ||
		    stamp_differs(buf, size, i)) {
			__asm__ volatile(".byte 0x0f,0x1f,0x80; .long 0x52494c03" ::: "memory");
			die("ping-pong: a failed call or a wrong reply");
		}
	}
	bench_stop();
	t1 = now_ns();

	close(to_child[1]);
	close(to_parent[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		say("linuxbench: %s: child failed (status %#x)\n", name, status);
		return 1;
	}
	say("BENCHREGION name=%s iters=%u ns=%llu size=%zu\n", name, iters,
	    (unsigned long long)(t1 - t0), size);
	return 0;
}

/* ---- poll server with C clients -------------------------------------- */

struct server {
	unsigned nclients;
	struct pollfd *pfd; /* request pipes' read ends, one per client */
	int *reply;         /* reply pipes' write ends */
	unsigned *served;   /* requests served per client */
	pid_t *pids;
	uint64_t syscalls;  /* poll + read + write calls */
};

static void client(int req, int rep) __attribute__((noreturn));
static void client(int req, int rep)
{
	uint64_t msg = 0, ans;

	for (;;) {
		msg++;
		int r;

		if (write_full(req, &msg, sizeof msg))
			_exit(1);
		r = read_full(rep, &ans, sizeof ans);
		if (r)
			_exit(r == 1 ? 0 : 1); /* EOF: the server closed the reply pipe */
		if (ans != msg + 1)
			_exit(2);
	}
}

/*
 * Serve until `total` more requests are served; with `all` also until every
 * client was served at least once. Returns 0, or -1 on a broken client.
 */
static int serve(struct server *s, uint64_t total, int all)
{
	uint64_t done = 0, sys = 0;
	unsigned missing = 0;

	if (all)
		for (unsigned i = 0; i < s->nclients; i++)
			missing += s->served[i] == 0;
	while (done < total || missing) {
		int n = poll(s->pfd, s->nclients, -1);

		sys++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (unsigned i = 0; i < s->nclients && n > 0; i++) {
			uint64_t msg;
			short re = s->pfd[i].revents;

			if (!re)
				continue;
			n--;
			if (!(re & POLLIN))
				return -1; /* POLLHUP/POLLERR without data: client gone */
			sys++;
			if (read(s->pfd[i].fd, &msg, sizeof msg) != sizeof msg)
				return -1;
			msg++;
			sys++;
			if (write(s->reply[i], &msg, sizeof msg) != sizeof msg)
				return -1;
			if (s->served[i]++ == 0 && missing)
				missing--;
			if (++done == total && !missing)
				break;
		}
	}
	s->syscalls = sys;
	return 0;
}

static int inflight(const char *name, unsigned nclients, unsigned iters)
{
	struct server s = { .nclients = nclients };
	uint64_t t0, t1;
	int bad = 0, rc;

	s.pfd = calloc(nclients, sizeof *s.pfd);
	s.reply = calloc(nclients, sizeof *s.reply);
	s.served = calloc(nclients, sizeof *s.served);
	s.pids = calloc(nclients, sizeof *s.pids);
	if (!s.pfd || !s.reply || !s.served || !s.pids)
		die("calloc");

	for (unsigned i = 0; i < nclients; i++) {
		int req[2], rep[2];

		if (pipe(req) || pipe(rep))
			die("pipe (RLIMIT_NOFILE too low?)");
		s.pids[i] = fork();
		if (s.pids[i] < 0)
			die("fork");
		if (s.pids[i] == 0) {
			/* Drop every other client's server-side ends, so each
			 * client sees EOF when the server closes its reply pipe. */
			close_others(req[1], rep[0]);
			client(req[1], rep[0]);
		}
		close(req[1]);
		close(rep[0]);
		s.pfd[i].fd = req[0];
		s.pfd[i].events = POLLIN;
		s.reply[i] = rep[1];
	}

	/* Warm up: every client served at least once, and two rounds. */
	if (serve(&s, 2ull * nclients, 1)) {
		say("linuxbench: %s: warm-up failed\n", name);
		bad = 1;
	} else {
		settle();
		t0 = now_ns();
		bench_start();
		rc = serve(&s, iters, 0);
		if (rc)
			__asm__ volatile(".byte 0x0f,0x1f,0x80; .long 0x52494c03" ::: "memory");
		else
			bench_stop();
		t1 = now_ns();
		if (rc) {
			say("linuxbench: %s: serving failed\n", name);
			bad = 1;
		} else {
			say("BENCHREGION name=%s iters=%u ns=%llu server_syscalls=%llu clients=%u\n",
			    name, iters, (unsigned long long)(t1 - t0),
			    (unsigned long long)s.syscalls, nclients);
		}
	}

	/* Stop the clients: EOF on their reply pipes; then reap them. */
	for (unsigned i = 0; i < nclients; i++)
		close(s.reply[i]);
	for (unsigned i = 0; i < nclients; i++) {
		int status;

		if (waitpid(s.pids[i], &status, 0) != s.pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			say("linuxbench: %s: client %u failed (status %#x)\n", name, i, status);
			bad = 1;
		}
	}
	for (unsigned i = 0; i < nclients; i++)
		close(s.pfd[i].fd);
	free(s.pfd);
	free(s.reply);
	free(s.served);
	free(s.pids);
	return bad;
}

/* ---- calibration: getpid -------------------------------------------- */

static int getpid_bench(const char *name, unsigned iters)
{
	uint64_t t0, t1;
	long bad = 0;

	settle();
	t0 = now_ns();
	bench_start();
	for (unsigned i = 0; i < iters; i++)
		bad |= syscall(SYS_getpid) <= 0;
	bench_stop();
	t1 = now_ns();
	if (bad) {
		say("linuxbench: %s: getpid failed\n", name);
		return 1;
	}
	say("BENCHREGION name=%s iters=%u ns=%llu\n", name, iters,
	    (unsigned long long)(t1 - t0));
	return 0;
}

/* ---- table and driver ----------------------------------------------- */

enum kind { PINGPONG, INFLIGHT, GETPID };

static const struct bench {
	const char *name;
	enum kind kind;
	unsigned arg;   /* payload bytes or clients */
	unsigned iters; /* round trips or requests */
	int dflt;       /* in the default set */
} benches[] = {
	{ "ipc_pingpong_1B", PINGPONG, 1, 2000, 1 },
	{ "ipc_pingpong_4KiB", PINGPONG, 4096, 2000, 1 },
	{ "ipc_inflight_1", INFLIGHT, 1, 2048, 1 },
	{ "ipc_inflight_8", INFLIGHT, 8, 2048, 1 },
	{ "ipc_inflight_64", INFLIGHT, 64, 2048, 1 },
	{ "ipc_inflight_512", INFLIGHT, 512, 4096, 1 },
	{ "getpid", GETPID, 0, 20000, 0 },
};

#define NBENCH (sizeof benches / sizeof benches[0])

static int run_one(const struct bench *b)
{
	switch (b->kind) {
	case PINGPONG:
		return pingpong(b->name, b->arg, b->iters);
	case INFLIGHT:
		return inflight(b->name, b->arg, b->iters);
	case GETPID:
		return getpid_bench(b->name, b->iters);
	}
	return 1;
}

/* Each benchmark in a child of its own: a crash loses one result only. */
static int run_isolated(const struct bench *b)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0)
		_exit(run_one(b));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		say("linuxbench: %s failed (status %#x)\n", b->name, status);
		return 1;
	}
	return 0;
}

static const struct bench *find(const char *name, size_t len)
{
	for (size_t i = 0; i < NBENCH; i++)
		if (strlen(benches[i].name) == len && !memcmp(benches[i].name, name, len))
			return &benches[i];
	return NULL;
}

/* Run the comma-separated list, or the default set when list is NULL. */
static int run_list(const char *list)
{
	int bad = 0, n = 0;

	if (!list) {
		for (size_t i = 0; i < NBENCH; i++)
			if (benches[i].dflt) {
				bad += run_isolated(&benches[i]);
				n++;
			}
	} else {
		while (*list) {
			size_t len = strcspn(list, ",");
			const struct bench *b = find(list, len);

			if (len) {
				if (b) {
					bad += run_isolated(b);
					n++;
				} else {
					say("linuxbench: unknown benchmark %.*s\n", (int)len, list);
					bad++;
				}
			}
			list += len;
			if (*list == ',')
				list++;
		}
	}
	say("linuxbench: done benchmarks=%d failed=%d\n", n, bad);
	return bad;
}

static void raise_nofile(void)
{
	struct rlimit rl = { NOFILE_LIMIT, NOFILE_LIMIT };

	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		/* Not root (on the host): take what the hard limit allows. */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
}

/* PID 1: make sure fds 0-2 are the console (the kernel opened
 * /dev/console from the initramfs; devtmpfs is the fallback). */
static void init_console(void)
{
	int fd;

	if (fcntl(1, F_GETFD) != -1)
		return;
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

int main(int argc, char **argv)
{
	int bad;

	signal(SIGPIPE, SIG_IGN);
	if (getpid() != 1) {
		raise_nofile();
		if (argc < 2)
			return run_list(NULL) ? 1 : 0;
		bad = 0;
		for (int i = 1; i < argc; i++)
			bad += run_list(argv[i]);
		return bad ? 1 : 0;
	}

	init_console();
	raise_nofile();
	say("linuxbench: init started\n");
	run_list(getenv("lbench"));
	sync();
	reboot(RB_POWER_OFF);
	/* Not reached; PID 1 must never exit (the kernel would panic). */
	for (;;)
		pause();
}
