/*
 * latency - the longest stretch with interrupts off, and the timer latency
 * of another thread, while long kernel operations run.
 *
 * The kernel's latency probe (latency_probe, docs/kernel.md) fires a timer
 * every PROBE_NS on every CPU and records how late its handler ran: the
 * longest interrupts-off stretch seen (within a period). Meanwhile a
 * sleeper thread sleeps SLEEP_NS at a time and records how late it woke.
 * Two regions, each one operation:
 *   irqoff_ipc       one SEND of IPC_BYTES into one RECV of IPC_BYTES
 *                    between two threads over a stream (every byte checked)
 *   irqoff_snapshot  memobj_cow of the largest object that can be made,
 *                    SNAP_BYTES first, halved until one succeeds, with
 *                    SNAP_TOUCH bytes of it touched (one write a page)
 *   irqoff_batch     one queue_enter consuming BATCH NOPs (every
 *                    completion checked)
 * Each prints
 *   BENCHREGION name=<id> iters=1 ns=<guest ns> max_irqoff_ns=<probe>
 *       max_timer_late_ns=<sleeper> bytes=<size> (entries=<n> for the batch)
 * Any error fails the program (rl_bench_fail).
 */
#include <rill/bench.h>
#include <rill/ipc.h>
#include <rill/rl.h>

#define PROG		"latency"
#define IPC_BYTES	(256ull << 20)
#define SNAP_BYTES	(16ull << 30)	/* tried first; halved until it works */
#define SNAP_MIN	(64ull << 20)
#define SNAP_TOUCH	(128ull << 20)
#define PROBE_NS	20000ull
#define SLEEP_NS	200000ull
#define BATCH		4096u	/* RL_QUEUE_MAX_SQ */

static volatile bool sleeper_stop;
static volatile uint64_t sleeper_late, sleeper_wakes;

static void sleeper(void *arg)
{
	while (!sleeper_stop) {
		uint64_t t0 = rl_clock_ns(), late;

		rl_sleep_ns(SLEEP_NS);
		late = rl_clock_ns() - t0 - SLEEP_NS;
		if (late > sleeper_late)
			sleeper_late = late;
		sleeper_wakes++;
	}
}

struct sender {
	rl_handle_t lane;
	const void *buf;
	int64_t result;
	int64_t status;
};

static void send_thread(void *arg)
{
	struct sender *s = arg;
	struct rl_queue q;
	struct rl_chain c;
	char res[64];

	if (rl_queue_init(&q, 4, 8)) {
		s->result = -1;
		return;
	}
	rl_chain_init(&c);
	rl_chain_send(&c, s->buf, IPC_BYTES);
	s->result = rl_ipc_call(&q, s->lane, &c, res);
	s->status = rl_ipc_result(res, 0)->status;
	rl_handle_close(q.handle);
}

static uint64_t pattern(uint64_t i)
{
	return i * 0x9e3779b97f4a7c15ull + (i >> 9);
}

/* Start the probe and the sleeper; the region opens. */
static int64_t begin(uint64_t *t0)
{
	int64_t th, r;

	sleeper_stop = false;
	sleeper_late = sleeper_wakes = 0;
	r = rl_latency_probe(RL_LATPROBE_START, PROBE_NS, 0,
			     rl_startup_handle_or0(RL_NAME_IRQ_AUTH));
	if (r)
		rl_bench_fail(PROG, "latency_probe start: %ld", (long)r);
	th = rl_thread_spawn(sleeper, NULL);
	if (th < 0)
		rl_bench_fail(PROG, "sleeper thread: %ld", (long)th);
	rl_sleep_ns(2 * SLEEP_NS);	/* the sleeper is asleep */
	*t0 = rl_clock_ns();
	rl_bench_start();
	return th;
}

/* The region closes; stop both and print the line. */
static void end(const char *name, uint64_t t0, int64_t th, const char *unit, uint64_t amount)
{
	struct rl_latency lat;
	uint64_t t1;
	int64_t r;

	rl_bench_stop();
	t1 = rl_clock_ns();
	rl_sleep_ns(2 * SLEEP_NS);	/* a wake after the operation */
	sleeper_stop = true;
	r = rl_thread_join((rl_handle_t)th);
	if (r)
		rl_bench_fail(PROG, "%s: sleeper ended with %ld", name, (long)r);
	rl_handle_close(th);
	r = rl_latency_probe(RL_LATPROBE_STOP, 0, &lat,
			     rl_startup_handle_or0(RL_NAME_IRQ_AUTH));
	if (r)
		rl_bench_fail(PROG, "%s: latency_probe stop: %ld", name, (long)r);
	if (!lat.fires || !sleeper_wakes)
		rl_bench_fail(PROG, "%s: %lu probe interrupts, %lu sleeper wakes", name,
			      (unsigned long)lat.fires, (unsigned long)sleeper_wakes);
	rl_printf("BENCHREGION name=%s iters=1 ns=%lu max_irqoff_ns=%lu max_timer_late_ns=%lu "
		  "%s=%lu probe_period_ns=%lu\n", name, t1 - t0, lat.max_late_ns,
		  sleeper_late, unit, amount, lat.period_ns);
}

static void run_ipc(void)
{
	uint64_t *src = rl_alloc_pages(IPC_BYTES), *dst = rl_alloc_pages(IPC_BYTES), t0;
	uint64_t n = IPC_BYTES / 8, bad = 0;
	struct sender s = { 0 };
	struct rl_queue q;
	struct rl_chain c;
	struct rl_cqe out;
	rl_handle_t l[2];
	char res[64];
	int64_t th, snd, r;

	if (!src || !dst)
		rl_bench_fail(PROG, "ipc: cannot allocate 2 x %lu bytes", (unsigned long)IPC_BYTES);
	for (uint64_t i = 0; i < n; i++) {
		src[i] = pattern(i);
		dst[i] = 0;	/* faulted in before the region */
	}
	if (rl_queue_init(&q, 4, 8) || rl_stream(l))
		rl_bench_fail(PROG, "ipc: queue or stream");
	th = begin(&t0);
	/* The RECV waits first; the SEND's queue_enter then moves the bytes. */
	rl_chain_init(&c);
	rl_chain_recv(&c, dst, IPC_BYTES);
	r = rl_chain_prep(rl_get_sqe(&q), l[1], &c, res, 7);
	if (r || rl_submit(&q) != 1)
		rl_bench_fail(PROG, "ipc: RECV not submitted (%ld)", (long)r);
	s.lane = l[0];
	s.buf = src;
	snd = rl_thread_spawn(send_thread, &s);
	if (snd < 0)
		rl_bench_fail(PROG, "ipc: sender thread: %ld", (long)snd);
	r = rl_submit_and_wait(&q, 1, 0);
	if (r < 0 || !rl_peek_cqe(&q))
		rl_bench_fail(PROG, "ipc: RECV completion: %ld", (long)r);
	out = *rl_peek_cqe(&q);
	rl_cqe_done(&q);
	if (rl_thread_join((rl_handle_t)snd))
		rl_bench_fail(PROG, "ipc: sender thread failed");
	end("irqoff_ipc", t0, th, "bytes", IPC_BYTES);
	rl_handle_close(snd);
	if (out.user_data != 7 || out.result || rl_ipc_result(res, 0)->status ||
	    rl_ipc_result(res, 0)->length != IPC_BYTES)
		rl_bench_fail(PROG, "ipc: RECV result %ld status %d length %lu", (long)out.result,
			      (int)rl_ipc_result(res, 0)->status,
			      (unsigned long)rl_ipc_result(res, 0)->length);
	if (s.result || s.status)
		rl_bench_fail(PROG, "ipc: SEND result %ld status %ld", (long)s.result,
			      (long)s.status);
	for (uint64_t i = 0; i < n; i++)
		bad += dst[i] != pattern(i);
	if (bad)
		rl_bench_fail(PROG, "ipc: %lu words arrived wrong", (unsigned long)bad);
	rl_handle_close(l[0]);
	rl_handle_close(l[1]);
	rl_handle_close(q.handle);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)src, IPC_BYTES);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)dst, IPC_BYTES);
}

static void run_snapshot(void)
{
	uint64_t size = SNAP_BYTES, t0;
	int64_t mo = -1, addr, snap, th;
	char *p;

	for (; size >= SNAP_MIN; size /= 2) {
		mo = rl_memobj_create(size, 0);
		if (mo > 0)
			break;
	}
	if (mo <= 0)
		rl_bench_fail(PROG, "snapshot: no object of %lu bytes or more", (unsigned long)SNAP_MIN);
	addr = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, size,
		      RL_PROT_READ | RL_PROT_WRITE);
	if (addr < 0)
		rl_bench_fail(PROG, "snapshot: map %lu bytes: %ld", (unsigned long)size, (long)addr);
	p = (char *)addr;
	/* Touched pages spread over the whole object. */
	for (uint64_t off = 0, step = size / (SNAP_TOUCH / 4096); off < size; off += step)
		p[off] = 1;
	th = begin(&t0);
	snap = rl_memobj_cow(mo);
	if (snap < 0) {
		rl_bench_reset();
		rl_bench_fail(PROG, "snapshot of %lu bytes: %ld", (unsigned long)size, (long)snap);
	}
	end("irqoff_snapshot", t0, th, "bytes", size);
	if (p[0] != 1)
		rl_bench_fail(PROG, "snapshot: the source changed");
	rl_handle_close(snap);
	rl_unmap(RL_SELF_PROCESS, (uint64_t)addr, size);
	rl_handle_close(mo);
}

static void run_batch(void)
{
	struct rl_queue q;
	uint64_t t0, bad = 0;
	int64_t th, r;

	if (rl_queue_init(&q, BATCH, BATCH))
		rl_bench_fail(PROG, "batch: queue of %u", BATCH);
	for (unsigned i = 0; i < BATCH; i++) {
		struct rl_sqe *e = rl_get_sqe(&q);

		if (!e)
			rl_bench_fail(PROG, "batch: ring full at %u", i);
		e->opcode = RL_OP_NOP;
		e->arg[0] = i;
		e->user_data = i;
	}
	th = begin(&t0);
	r = rl_submit(&q);
	end("irqoff_batch", t0, th, "entries", BATCH);
	if (r != BATCH)
		rl_bench_fail(PROG, "batch: %ld of %u consumed", (long)r, BATCH);
	for (unsigned i = 0; i < BATCH; i++) {
		struct rl_cqe *c = rl_peek_cqe(&q);

		if (!c)
			rl_bench_fail(PROG, "batch: %u completions, not %u", i, BATCH);
		bad += c->user_data != i || c->result != (int64_t)i;
		rl_cqe_done(&q);
	}
	if (bad)
		rl_bench_fail(PROG, "batch: %lu wrong completions", (unsigned long)bad);
	rl_handle_close(q.handle);
}

int main(int argc, char **argv)
{
	run_ipc();
	run_snapshot();
	run_batch();
	return 0;
}
