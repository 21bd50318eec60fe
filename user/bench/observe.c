/*
 * observe - the cost of forwarding one foreign (Linux-numbered) system
 * call to a supervisor, the mechanism the POSIX server is built on: the
 * supervised thread executes `syscall` with rax = 39 (getpid); the
 * supervisor gets the stop with the registers (RL_OP_OBSERVE with a
 * register buffer), then resumes it with the result and observes the next
 * stop in one batch (RL_OP_RESUME + RL_OP_OBSERVE): one queue_enter per
 * forwarded call. The region covers both sides, kernel included.
 *   BENCHREGION name=forward_syscall iters=<calls> ns=<guest ns> syscalls=<n>
 */
#include <rill/bench.h>
#include <rill/rl.h>

#define CALLS 20000

static void __attribute__((noreturn)) caller(void *arg)
{
	uint64_t bad = 0;

	for (uint64_t i = 0; i < CALLS; i++) {
		int64_t r;

		__asm__ volatile("syscall" : "=a"(r) : "a"(39ull) : "rcx", "r11", "memory");
		bad += r != (int64_t)i;
	}
	rl_thread_exit(bad);
	__builtin_unreachable();
}

int main(int argc, char **argv)
{
	static struct rl_regs regs;
	struct rl_queue q;
	uint64_t t0, t1, s0, s1;
	char *stack = rl_alloc_pages(65536);
	int64_t h, status = -1;

	if (!stack || rl_queue_init(&q, 8, 16))
		return 1;
	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)caller,
			     (((uint64_t)stack + 65536) & ~15ull) - 8, 0, RL_THREAD_SUPERVISED);
	if (h < 0 || rl_thread_start((uint64_t)h) < 0)
		return 1;
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (uint64_t i = 0, expect = 1;; i++, expect = 2) {
		struct rl_sqe *e;
		struct rl_cqe *c;
		int64_t kind = 0;

		if (i == 0) {
			e = rl_get_sqe(&q);
			e->opcode = RL_OP_OBSERVE;
			e->handle = (rl_handle_t)h;
			e->user_data = 1;
			e->arg[0] = (uint64_t)&regs;
		}
		while (expect) {
			rl_submit_and_wait(&q, (uint32_t)expect, 0);
			while ((c = rl_peek_cqe(&q))) {
				if (c->user_data == 1)
					kind = c->result;
				expect--;
				rl_cqe_done(&q);
			}
		}
		if (kind != RL_OBS_SYSCALL) {
			status = kind == RL_OBS_EXIT ? 0 : kind;
			break;
		}
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_RESUME;
		e->handle = (rl_handle_t)h;
		e->user_data = 2;
		e->arg[0] = RL_RESUME_SET_RAX;
		e->arg[1] = i;
		e = rl_get_sqe(&q);
		e->opcode = RL_OP_OBSERVE;
		e->handle = (rl_handle_t)h;
		e->user_data = 1;
		e->arg[0] = (uint64_t)&regs;
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	if (status != 0) {
		rl_printf("observe: forwarding failed (%ld)\n", (long)status);
		return 1;
	}
	/* syscalls counts the supervisor's entries and the forwarded calls
	 * themselves; report the supervisor's per forwarded call. */
	rl_printf("BENCHREGION name=forward_syscall iters=%u ns=%lu syscalls=%lu\n", CALLS,
		  t1 - t0, s1 - s0 - 1 - CALLS);
	return 0;
}
