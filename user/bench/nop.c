/*
 * nop - the asynchronous no-op at batch sizes 1, 8 and 64: submit a batch
 * with one queue_enter, reap it from the completion ring without a system
 * call. Each region prints
 *   BENCHREGION name=nop_batch<B> iters=<ops> ns=<guest ns> syscalls=<n>
 * which tools/bench.py pairs with the plugin's instruction count.
 */
#include <rill/bench.h>
#include <rill/rl.h>

#define OPS 131072

static int run(struct rl_queue *q, unsigned batch)
{
	uint64_t t0, t1, s0, s1, done = 0, sum = 0;

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
			e->arg[0] = 1;
			e->reserved = 0;
			q->sq_tail++;
		}
		rl_submit(q);
		while ((c = rl_peek_cqe(q))) {
			sum += (uint64_t)c->result;
			rl_cqe_done(q);
		}
		done += batch;
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	if (sum != OPS) {
		rl_printf("nop: batch %u: %lu of %u completions\n", batch, sum, OPS);
		return 1;
	}
	rl_printf("BENCHREGION name=nop_batch%u iters=%u ns=%lu syscalls=%lu\n", batch, OPS,
		  t1 - t0, s1 - s0 - 1);
	return 0;
}

int main(int argc, char **argv)
{
	static const unsigned batches[] = { 1, 8, 64 };
	struct rl_queue q;
	int bad = 0;

	if (rl_queue_init(&q, 64, 128))
		return 1;
	for (unsigned i = 0; i < 3; i++)
		bad += run(&q, batches[i]);
	return bad;
}
