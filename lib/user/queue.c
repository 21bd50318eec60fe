/*
 * queue.c - the user side of the rings: filling submission entries,
 * submitting them, reaping completions (without system calls).
 */
#include <rill/rl.h>
#include <rill/string.h>

int rl_queue_init(struct rl_queue *q, uint32_t sq_entries, uint32_t cq_entries)
{
	struct rl_queue_params p = { .sq_entries = sq_entries, .cq_entries = cq_entries };
	int64_t h = rl_queue_create(&p);
	char *base;

	if (h < 0)
		return (int)h;
	base = (char *)p.ring_addr;
	q->handle = (rl_handle_t)h;
	q->hdr = (struct rl_ring_header *)base;
	q->sq = (struct rl_sqe *)(base + q->hdr->sq_offset);
	q->cq = (struct rl_cqe *)(base + q->hdr->cq_offset);
	q->sq_mask = q->hdr->sq_entries - 1;
	q->cq_mask = q->hdr->cq_entries - 1;
	q->sq_tail = 0;
	q->to_submit = 0;
	q->cq_head = 0;
	return 0;
}

struct rl_sqe *rl_get_sqe(struct rl_queue *q)
{
	uint32_t head = __atomic_load_n(&q->hdr->sq_head, __ATOMIC_ACQUIRE);
	struct rl_sqe *e;

	if (q->sq_tail - head > q->sq_mask)
		return NULL;
	e = &q->sq[q->sq_tail & q->sq_mask];
	*e = (struct rl_sqe){ 0 };
	q->sq_tail++;
	return e;
}

static uint32_t publish(struct rl_queue *q)
{
	uint32_t n = q->sq_tail - __atomic_load_n(&q->hdr->sq_tail, __ATOMIC_RELAXED);

	__atomic_store_n(&q->hdr->sq_tail, q->sq_tail, __ATOMIC_RELEASE);
	q->to_submit += n;
	return q->to_submit;
}

static int64_t enter(struct rl_queue *q, uint32_t min, uint64_t deadline, unsigned flags)
{
	int64_t r = rl_queue_enter(q->handle, publish(q), min, deadline, flags);

	if (r > 0)
		q->to_submit -= (uint32_t)r;
	return r;
}

int64_t rl_submit(struct rl_queue *q)
{
	return enter(q, 0, 0, 0);
}

int64_t rl_submit_and_wait(struct rl_queue *q, uint32_t min, uint64_t deadline)
{
	return enter(q, min, deadline, RL_ENTER_WAIT);
}

int64_t rl_call(struct rl_queue *q, const struct rl_sqe *op, struct rl_cqe *out)
{
	struct rl_sqe *e = rl_get_sqe(q);
	struct rl_cqe *c;
	int64_t r;

	if (!e)
		return -RILL_EBUSY;
	*e = *op;
	for (;;) {
		r = rl_submit_and_wait(q, 1, 0);
		if (r < 0 && r != -RILL_EINTR)
			return r;
		c = rl_peek_cqe(q);
		if (c)
			break;
	}
	*out = *c;
	rl_cqe_done(q);
	return out->result;
}

/*
 * The runtime's queues for rl_sync_op. A caller takes a free one, waits on
 * it without holding any lock, and gives it back, so one thread waiting
 * for a long time (a process or thread to end) never blocks another's
 * call. Queues are kept for reuse: the runtime holds as many as threads
 * once waited at the same time (at most SYS_QUEUES; more wait their turn).
 */
#define SYS_QUEUES 32

static struct rl_queue sys_q[SYS_QUEUES];
static bool sys_busy[SYS_QUEUES], sys_live[SYS_QUEUES];
static rl_mutex_t sys_lock = RL_MUTEX_INIT;

static int sys_take(void)
{
	for (;;) {
		int pick = -1;

		rl_mutex_lock(&sys_lock);
		for (int i = 0; i < SYS_QUEUES && pick < 0; i++)
			if (sys_live[i] && !sys_busy[i])
				pick = i;
		for (int i = 0; i < SYS_QUEUES && pick < 0; i++)
			if (!sys_live[i] && !sys_busy[i])
				pick = i;
		if (pick >= 0)
			sys_busy[pick] = true;
		rl_mutex_unlock(&sys_lock);
		if (pick >= 0)
			return pick;
		rl_sleep_ns(1000000);	/* 32 threads already waiting */
	}
}

static void sys_give_back(int i)
{
	rl_mutex_lock(&sys_lock);
	sys_busy[i] = false;
	rl_mutex_unlock(&sys_lock);
}

int64_t rl_sync_op(const struct rl_sqe *op, struct rl_cqe *out)
{
	struct rl_cqe tmp;
	int i = sys_take();
	int64_t r;

	if (!sys_live[i]) {
		r = rl_queue_init(&sys_q[i], 4, 8);
		if (r < 0) {
			rl_mutex_lock(&sys_lock);
			sys_busy[i] = false;
			rl_mutex_unlock(&sys_lock);
			return r;
		}
		sys_live[i] = true;
	}
	r = rl_call(&sys_q[i], op, out ? out : &tmp);
	sys_give_back(i);
	return r;
}
