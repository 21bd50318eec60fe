/*
 * ipc.c - action chains (rill/ipc.h).
 */
#include <rill/ipc.h>
#include <rill/string.h>

void rl_chain_init(struct rl_chain *c)
{
	c->count = 0;
	c->depth = 0;
	c->inline_bytes = 0;
	c->overflow = false;
}

static struct rl_ipc_action *add(struct rl_chain *c, unsigned type)
{
	struct rl_ipc_action *a;

	if (c->count >= RL_IPC_MAX_CHAIN) {
		c->overflow = true;
		return NULL;
	}
	a = &c->act[c->count++];
	*a = (struct rl_ipc_action){ .type = (uint16_t)type, .depth = (uint8_t)c->depth };
	return a;
}

static int idx(struct rl_chain *c, struct rl_ipc_action *a)
{
	return a ? (int)(a - c->act) : -1;
}

int rl_chain_send(struct rl_chain *c, const void *buf, size_t len)
{
	struct rl_ipc_action *a = add(c, RL_IPC_SEND);

	if (a) {
		a->buf = (uint64_t)buf;
		a->len = len;
	}
	return idx(c, a);
}

int rl_chain_send_sg(struct rl_chain *c, const struct rl_iovec *iov, unsigned n)
{
	struct rl_ipc_action *a = add(c, RL_IPC_SEND_SG);

	if (a) {
		a->buf = (uint64_t)iov;
		a->len = n;
	}
	return idx(c, a);
}

int rl_chain_recv(struct rl_chain *c, void *buf, size_t cap)
{
	struct rl_ipc_action *a = add(c, RL_IPC_RECV);

	if (a) {
		a->buf = (uint64_t)buf;
		a->len = cap;
	}
	return idx(c, a);
}

int rl_chain_recv_inline(struct rl_chain *c, size_t cap)
{
	struct rl_ipc_action *a;

	if (cap > RL_IPC_INLINE_MAX) {
		c->overflow = true;
		return -1;
	}
	a = add(c, RL_IPC_RECV_INLINE);
	if (a) {
		a->len = cap;
		c->inline_bytes += (cap + 7) & ~(uint64_t)7;
	}
	return idx(c, a);
}

int rl_chain_push(struct rl_chain *c, rl_handle_t h, uint32_t rights_mask)
{
	struct rl_ipc_action *a = add(c, RL_IPC_PUSH_HANDLE);

	if (a) {
		a->handle = h;
		a->rights = rights_mask;
	}
	return idx(c, a);
}

int rl_chain_pull(struct rl_chain *c, uint32_t rights_required)
{
	struct rl_ipc_action *a = add(c, RL_IPC_PULL_HANDLE);

	if (a)
		a->rights = rights_required;
	return idx(c, a);
}

int rl_chain_imbue(struct rl_chain *c)
{
	return idx(c, add(c, RL_IPC_IMBUE_CREDS));
}

int rl_chain_extract(struct rl_chain *c)
{
	return idx(c, add(c, RL_IPC_EXTRACT_CREDS));
}

int rl_chain_imbue_token(struct rl_chain *c, rl_handle_t token)
{
	struct rl_ipc_action *a = add(c, RL_IPC_IMBUE_CREDS);

	if (a)
		a->handle = token;
	return idx(c, a);
}

int rl_chain_extract_token(struct rl_chain *c)
{
	struct rl_ipc_action *a = add(c, RL_IPC_EXTRACT_CREDS);

	if (a)
		a->flags = RL_IPC_WANT_TOKEN;
	return idx(c, a);
}

int rl_chain_dismiss(struct rl_chain *c)
{
	return idx(c, add(c, RL_IPC_DISMISS));
}

static int stream_action(struct rl_chain *c, unsigned type, unsigned flags)
{
	struct rl_ipc_action *a = add(c, type);

	if (!a)
		return -1;
	a->flags = (uint8_t)flags;
	c->depth++;
	return idx(c, a);
}

int rl_chain_offer(struct rl_chain *c, unsigned flags)
{
	return stream_action(c, RL_IPC_OFFER, flags);
}

int rl_chain_accept(struct rl_chain *c, unsigned flags)
{
	return stream_action(c, RL_IPC_ACCEPT, flags);
}

void rl_chain_end(struct rl_chain *c)
{
	if (c->depth)
		c->depth--;
}

int rl_chain_prep(struct rl_sqe *e, rl_handle_t lane, const struct rl_chain *c, void *results,
		  uint64_t user_data)
{
	if (c->overflow || !c->count)
		return -RILL_EINVAL;
	e->opcode = RL_OP_IPC;
	e->flags = 0;
	e->handle = lane;
	e->user_data = user_data;
	e->arg[0] = (uint64_t)c->act;
	e->arg[1] = c->count;
	e->arg[2] = (uint64_t)results;
	e->arg[3] = rl_chain_result_size(c);
	e->arg[4] = 0;
	e->reserved = 0;
	return 0;
}

int64_t rl_ipc_call(struct rl_queue *q, rl_handle_t lane, const struct rl_chain *c,
		    void *results)
{
	struct rl_sqe e;
	struct rl_cqe out;
	int64_t r = rl_chain_prep(&e, lane, c, results, 0x1bc);

	if (r)
		return r;
	r = rl_call(q, &e, &out);
	return r < 0 ? r : out.result;
}

int64_t rl_lane_shutdown(rl_handle_t lane)
{
	struct rl_sqe e = { .opcode = RL_OP_LANE_SHUTDOWN, .handle = lane };
	struct rl_cqe out;
	int64_t r = rl_sync_op(&e, &out);

	return r < 0 ? r : out.result;
}
