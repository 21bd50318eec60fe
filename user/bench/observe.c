/*
 * observe - the cost of forwarding one foreign (Linux-numbered) system
 * call to a supervisor, the mechanism the POSIX server is built on: the
 * supervised thread executes `syscall` with rax = 39 (getpid); the
 * supervisor gets the stop (RL_OP_OBSERVE) and reads the registers in the
 * thread's stop record (thread_record, mapped once), then resumes it with
 * the result and observes the next stop in one operation (RL_OP_OBSERVE
 * with RL_OBSERVE_RESUME): one queue_enter and one completion per
 * forwarded call. The region covers both sides, kernel included.
 *   BENCHREGION name=forward_syscall iters=<calls> ns=<guest ns> syscalls=<n>
 * Every completion is checked (each stop is a system call 39 until the
 * thread exits), and the thread checks every result
 * it gets back; any error fails the program (rl_bench_fail).
 *
 * The cheap path (process_dispatch, docs/design.md): the process's foreign
 * calls continue at an entry in the process itself, where code the POSIX
 * server would provide answers getpid from memory and returns; anything
 * else it forwards with a `syscall` of its own, from inside its range.
 *   BENCHREGION name=dispatch_getpid iters=<calls> ns=<guest ns> syscalls=<n>
 * is getpid answered so, the whole way from the program's `syscall`.
 */
#include <rill/bench.h>
#include <rill/rl.h>

#define PROG	"observe"
#define CALLS	20000

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

/* The dispatch code: rax = the number, rcx = where to return, the
 * arguments as the program left them. getpid (39) is answered from
 * stub_pid; anything else goes on with a syscall from inside the range,
 * below the caller's red zone, its rcx and r11 kept across. */
uint64_t stub_pid = 4242;
extern const char stub_begin[], stub_entry[], stub_end[];
__asm__(".text\n"
	"stub_begin:\n"
	"stub_entry:\n"
	"	cmpq $39, %rax\n"
	"	jne 1f\n"
	"	movq stub_pid(%rip), %rax\n"
	"	jmpq *%rcx\n"
	"1:	leaq -128(%rsp), %rsp\n"
	"	pushq %rcx\n"
	"	pushq %r11\n"
	"	syscall\n"
	"	popq %r11\n"
	"	popq %rcx\n"
	"	leaq 128(%rsp), %rsp\n"
	"	jmpq *%rcx\n"
	"stub_end:\n");

static int64_t linux_call(uint64_t nr)
{
	int64_t r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(nr) : "rcx", "r11", "memory");
	return r;
}

static void dispatch_getpid(void)
{
	uint64_t t0, t1, s0, s1, bad = 0;
	int64_t r;

	r = rl_process_dispatch(RL_SELF_PROCESS, (uint64_t)stub_entry, (uint64_t)stub_begin,
				(stub_end - stub_begin));
	if (r)
		rl_bench_fail(PROG, "process_dispatch: %ld", (long)r);
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	for (unsigned i = 0; i < CALLS; i++)
		bad += linux_call(39) != 4242;
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	/* Another number goes on from the stub: this thread is not
	 * supervised, so the kernel answers it -ENOSYS. */
	r = linux_call(500);
	if (bad || r != -RILL_ENOSYS)
		rl_bench_fail(PROG, "dispatch: %lu wrong getpid results, call 500 gave %ld",
			      (unsigned long)bad, (long)r);
	if ((r = rl_process_dispatch(RL_SELF_PROCESS, 0, 0, 0)) || linux_call(39) != -RILL_ENOSYS)
		rl_bench_fail(PROG, "dispatch: not turned off (%ld)", (long)r);
	rl_printf("BENCHREGION name=dispatch_getpid iters=%u ns=%lu syscalls=%lu\n", CALLS,
		  t1 - t0, s1 - s0 - 1);
}

static struct rl_sqe *sqe(struct rl_queue *q)
{
	struct rl_sqe *e = rl_get_sqe(q);

	if (!e)
		rl_bench_fail(PROG, "submission ring full");
	return e;
}

/*
 * One supervised thread making CALLS foreign calls, forwarded to us. multi:
 * one multi-shot OBSERVE armed once (RL_OBSERVE_MULTI), then per call a
 * quiet RESUME (RL_SQE_QUIET: no completion of its own) submitted by the
 * queue_enter that waits for the next stop - the POSIX server's loop. Not
 * multi: per call one OBSERVE with RL_OBSERVE_RESUME (answer and next
 * observation in one operation).
 */
static void forward(const char *name, bool multi)
{
	const volatile struct rl_stop_record *rec;
	struct rl_queue q;
	uint64_t t0, t1, s0, s1, calls = 0;
	char *stack = rl_alloc_pages(65536);
	int64_t h, r, exit_status = -1;
	struct rl_sqe *e;

	if (!stack || rl_queue_init(&q, 8, 16))
		rl_bench_fail(PROG, "no stack or queue");
	h = rl_thread_create(RL_SELF_PROCESS, (uint64_t)caller,
			     (((uint64_t)stack + 65536) & ~15ull) - 8, 0, RL_THREAD_SUPERVISED);
	if (h < 0)
		rl_bench_fail(PROG, "cannot create the supervised thread (%ld)", (long)h);
	r = rl_thread_record(h, 0);
	if (r < 0 || (r = rl_map(RL_SELF_PROCESS, (rl_handle_t)r, 0, 0, 4096, RL_PROT_READ)) < 0)
		rl_bench_fail(PROG, "cannot map the stop record (%ld)", (long)r);
	rec = (const volatile struct rl_stop_record *)r;
	if ((r = rl_thread_start(h)) < 0)
		rl_bench_fail(PROG, "cannot start the supervised thread (%ld)", (long)r);
	s0 = rl_bench_syscalls();
	t0 = rl_clock_ns();
	rl_bench_start();
	e = sqe(&q);
	e->opcode = RL_OP_OBSERVE;
	e->handle = (rl_handle_t)h;
	e->user_data = 1;
	e->arg[1] = multi ? RL_OBSERVE_MULTI : 0;
	for (;;) {
		struct rl_cqe *c;
		int64_t kind;

		r = rl_submit_and_wait(&q, 1, 0);
		if (r < 0)
			rl_bench_fail(PROG, "queue_enter: %ld", (long)r);
		c = rl_peek_cqe(&q);
		if (!c || c->user_data != 1)
			rl_bench_fail(PROG, "no observation after queue_enter");
		kind = c->result;
		if (kind == RL_OBS_EXIT)
			exit_status = (int64_t)c->aux[0];
		rl_cqe_done(&q);
		if (kind == RL_OBS_EXIT)
			break;
		if (kind != (multi ? RL_OBS_SYSCALL | RL_OBS_MORE : RL_OBS_SYSCALL) ||
		    rec->regs.rax != 39 || rec->stops != calls + 1)
			rl_bench_fail(PROG, "stop %lu: kind %ld, rax %lu, %lu stops recorded",
				      (unsigned long)calls, (long)kind, (unsigned long)rec->regs.rax,
				      (unsigned long)rec->stops);
		e = sqe(&q);
		e->handle = (rl_handle_t)h;
		if (multi) {
			/* The answer; the armed observation reports the
			 * next stop. */
			e->opcode = RL_OP_RESUME;
			e->flags = RL_SQE_QUIET;
			e->user_data = 2;
			e->arg[0] = RL_RESUME_SET_RAX;
			e->arg[1] = calls++;
		} else {
			/* The answer and the next observation in one op. */
			e->opcode = RL_OP_OBSERVE;
			e->user_data = 1;
			e->arg[1] = RL_OBSERVE_RESUME;
			e->arg[2] = RL_RESUME_SET_RAX;
			e->arg[3] = calls++;
		}
	}
	rl_bench_stop();
	t1 = rl_clock_ns();
	s1 = rl_bench_syscalls();
	/* The thread counted the results that were not the ones given. */
	if (calls != CALLS || exit_status != 0)
		rl_bench_fail(PROG, "%lu calls forwarded of %u; the thread ended with %ld",
			      (unsigned long)calls, CALLS, (long)exit_status);
	/* syscalls counts the supervisor's entries and the forwarded calls
	 * themselves; report the supervisor's per forwarded call. */
	rl_printf("BENCHREGION name=%s iters=%u ns=%lu syscalls=%lu\n", name, CALLS,
		  t1 - t0, s1 - s0 - 1 - CALLS);
	rl_handle_close(q.handle);
	rl_handle_close(h);
}

int main(int argc, char **argv)
{
	forward("forward_syscall", true);
	forward("forward_syscall_oneshot", false);
	dispatch_getpid();
	return 0;
}
