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

/* Stacks of spawned threads, freed by rl_thread_join. */
struct stack_rec {
	struct stack_rec *next;
	rl_handle_t thread;
	char *stack;
};

static struct stack_rec *stacks;
static rl_mutex_t stacks_lock = RL_MUTEX_INIT;

int64_t rl_thread_spawn(void (*fn)(void *), void *arg)
{
	struct stack_rec *rec;
	char *stack = rl_alloc_pages(STACK_SIZE);
	struct tstart *s;
	int64_t t, r;

	rec = malloc(sizeof(*rec));
	if (!stack || !rec) {
		if (stack)
			rl_unmap(RL_SELF_PROCESS, (uint64_t)stack, STACK_SIZE);
		free(rec);
		return -RILL_ENOMEM;
	}
	s = (struct tstart *)(stack + STACK_SIZE) - 1;
	s->fn = fn;
	s->arg = arg;
	t = rl_thread_create(RL_SELF_PROCESS, (uint64_t)thread_entry,
			     ((uint64_t)s & ~15ull) - 8, (uint64_t)s, 0);
	if (t < 0 || (r = rl_thread_start(t)) < 0) {
		if (t >= 0)
			rl_handle_close(t);
		rl_unmap(RL_SELF_PROCESS, (uint64_t)stack, STACK_SIZE);
		free(rec);
		return t < 0 ? t : r;
	}
	rec->thread = (rl_handle_t)t;
	rec->stack = stack;
	rl_mutex_lock(&stacks_lock);
	rec->next = stacks;
	stacks = rec;
	rl_mutex_unlock(&stacks_lock);
	return t;
}

int64_t rl_thread_join(rl_handle_t t)
{
	struct rl_sqe e = { .opcode = RL_OP_THREAD_WAIT, .handle = t };
	struct stack_rec **pp, *rec = NULL;
	struct rl_handle_info hi;
	int64_t r;

	/* Only a real wait on a thread tells that it ended (a failed wait's
	 * error could pass for a status). */
	r = rl_handle_info(t, &hi);
	if (r < 0)
		return r;
	if (hi.type != RL_OBJ_THREAD)
		return -RILL_EBADFD;
	if (!(hi.rights & RL_RIGHT_WAIT))
		return -RILL_EPERM;
	r = rl_sync_op(&e, NULL);

	/* The thread has ended: its stack can go. */
	rl_mutex_lock(&stacks_lock);
	for (pp = &stacks; *pp; pp = &(*pp)->next) {
		if ((*pp)->thread == t) {
			rec = *pp;
			*pp = rec->next;
			break;
		}
	}
	rl_mutex_unlock(&stacks_lock);
	if (rec) {
		rl_unmap(RL_SELF_PROCESS, (uint64_t)rec->stack, STACK_SIZE);
		free(rec);
	}
	return r;
}

int64_t rl_process_wait(rl_handle_t p)
{
	struct rl_sqe e = { .opcode = RL_OP_PROCESS_WAIT, .handle = p };

	return rl_sync_op(&e, NULL);
}
