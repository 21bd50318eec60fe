/* thread.c - threads of the current process. */
#include <rill/rl.h>

#define STACK_SIZE (64 * 1024)

struct tstart {
	void (*fn)(void *);
	void *arg;
};

static void thread_entry(struct tstart *s) __attribute__((noreturn, used));
static void thread_entry(struct tstart *s)
{
	s->fn(s->arg);
	rl_exit(0);
}

int64_t rl_thread_spawn(void (*fn)(void *), void *arg)
{
	char *stack = rl_alloc_pages(STACK_SIZE);
	struct tstart *s;
	int64_t t, r;

	if (!stack)
		return -RILL_ENOMEM;
	s = (struct tstart *)(stack + STACK_SIZE) - 1;
	s->fn = fn;
	s->arg = arg;
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)thread_entry,
			     ((uint64_t)s & ~15ull) - 8, (uint64_t)s, 0);
	if (t < 0)
		return t;
	r = rl_thread_start((uint64_t)t);
	return r < 0 ? r : t;
}

int64_t rl_thread_join(rl_handle_t t)
{
	struct rl_sqe e = { .opcode = RL_OP_THREAD_WAIT, .handle = t };

	return rl_sync_op(&e, NULL);
}

int64_t rl_process_wait(rl_handle_t p)
{
	struct rl_sqe e = { .opcode = RL_OP_PROCESS_WAIT, .handle = p };

	return rl_sync_op(&e, NULL);
}
