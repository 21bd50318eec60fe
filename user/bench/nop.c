/*
 * nop - the asynchronous no-op at batch sizes 1, 8 and 64: submit a batch
 * with one queue_enter, reap it from the completion ring without a system
 * call. Each region prints
 *   BENCHREGION name=nop_batch<B> iters=<ops> ns=<guest ns> syscalls=<n>
 * which tools/bench.py pairs with the plugin's instruction count. Every
 * submission must be consumed whole and every completion must carry its
 * own value back; anything else fails the program (rl_bench_fail).
 */
#include <rill/bench.h>
#include <rill/rl.h>

#define PROG	"nop"
#define OPS	131072

static void run(struct rl_queue *q, unsigned batch)
{
	uint64_t t0, t1, s0, s1, done = 0, reaped = 0, bad = 0;
	int64_t r;

	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	while (done < OPS) {
		struct rl_cqe *c;

		for (unsigned i = 0; i < batch; i++) {
			struct rl_sqe *e = &q->sq[q->sq_tail & q->sq_mask];

			e->opcode = RL_OP_NOP;
			e->flags = 0;
			e->handle = 0;
			e->user_data = done + i;
			e->arg[0] = done + i;
			e->reserved = 0;
			q->sq_tail++;
		}
		r = rl_submit(q);
		if (r != (int64_t)batch)
			rl_bench_fail(PROG, "batch %u: queue_enter consumed %ld", batch, (long)r);
		while ((c = rl_peek_cqe(q))) {
			/* A NOP completes with its arg0: here its user_data. */
			bad |= (uint64_t)c->result ^ c->user_data;
			reaped++;
			rl_cqe_done(q);
		}
		done += batch;
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	if (bad || reaped != OPS)
		rl_bench_fail(PROG, "batch %u: %lu of %u completions, %s", batch,
			      (unsigned long)reaped, OPS, bad ? "some with a wrong result" : "all right");
	rl_printf("BENCHREGION name=nop_batch%u iters=%u ns=%lu syscalls=%lu\n", batch, OPS,
		  t1 - t0, s1 - s0 - 1);
}

int main(int argc, char **argv)
{
	static const unsigned batches[] = { 1, 8, 64 };
	struct rl_queue q;
	int r = rl_queue_init(&q, 64, 128);

	if (r)
		rl_bench_fail(PROG, "rl_queue_init: %d", r);
	for (unsigned i = 0; i < 3; i++)
		run(&q, batches[i]);
	return 0;
}
