/*
 * rill/ipc.h - building IPC action chains, submitting them and reading
 * their results in place (docs/ipc.md).
 *
 *	struct rl_chain c;
 *	rl_chain_init(&c);
 *	rl_chain_offer(&c, 0);		// what follows goes to the new stream
 *	rl_chain_send(&c, req, len);
 *	rl_chain_recv_inline(&c, 256);
 *	rl_chain_end(&c);		// back to depth 0 (optional at the end)
 *	char res[rl_chain_result_size(&c)];
 *	rl_ipc_call(&q, lane, &c, res);	// or rl_chain_prep + rl_submit
 *	struct rl_ipc_result *r = rl_ipc_result(res, 2);
 *	const void *reply = rl_ipc_inline(res, 2);
 *
 * A chain lives on the stack (32 bytes per action). The kernel reads the
 * actions when the submission is consumed (queue_enter), so the chain may
 * be reused after that; the result buffer must stay until the completion.
 */
#ifndef RILL_IPC_H
#define RILL_IPC_H

#include <rill/rl.h>

struct rl_chain {
	struct rl_ipc_action act[RL_IPC_MAX_CHAIN];
	unsigned count;
	unsigned depth;		/* depth of the next action */
	uint64_t inline_bytes;	/* inline area the results need */
	bool overflow;		/* an add did not fit: submitting fails */
};

void rl_chain_init(struct rl_chain *c);
/* Each add returns the action's index (its result's index), or -1 when
 * the chain is full or the arguments are out of range. */
int rl_chain_send(struct rl_chain *c, const void *buf, size_t len);
int rl_chain_send_sg(struct rl_chain *c, const struct rl_iovec *iov, unsigned n);
int rl_chain_recv(struct rl_chain *c, void *buf, size_t cap);
int rl_chain_recv_inline(struct rl_chain *c, size_t cap);
int rl_chain_push(struct rl_chain *c, rl_handle_t h, uint32_t rights_mask);
int rl_chain_pull(struct rl_chain *c, uint32_t rights_required);
int rl_chain_imbue(struct rl_chain *c);
int rl_chain_extract(struct rl_chain *c);
/* Forward the identity a credentials token holds (docs/ipc.md). */
int rl_chain_imbue_token(struct rl_chain *c, rl_handle_t token);
/* EXTRACT_CREDS that also returns a token (rl_ipc_result.handle). */
int rl_chain_extract_token(struct rl_chain *c);
int rl_chain_dismiss(struct rl_chain *c);
/* OFFER/ACCEPT, and the actions added after it go to the new stream until
 * rl_chain_end. flags: RL_IPC_WANT_LANE for a handle to this side. */
int rl_chain_offer(struct rl_chain *c, unsigned flags);
int rl_chain_accept(struct rl_chain *c, unsigned flags);
void rl_chain_end(struct rl_chain *c);
/* Bytes of the result buffer: the result array plus the inline area. */
static inline size_t rl_chain_result_size(const struct rl_chain *c)
{
	return c->count * sizeof(struct rl_ipc_result) + c->inline_bytes;
}

/* Fill a submission entry for the chain on lane (rl_get_sqe's). */
int rl_chain_prep(struct rl_sqe *e, rl_handle_t lane, const struct rl_chain *c, void *results,
		  uint64_t user_data);
/* Submit on q and wait for this completion alone (rl_call): its result,
 * 0 or -errno for the whole submission. */
int64_t rl_ipc_call(struct rl_queue *q, rl_handle_t lane, const struct rl_chain *c,
		    void *results);

static inline struct rl_ipc_result *rl_ipc_result(void *results, unsigned i)
{
	return (struct rl_ipc_result *)results + i;
}

static inline void *rl_ipc_inline(void *results, unsigned i)
{
	return (char *)results + rl_ipc_result(results, i)->offset;
}

/* Create a stream: lanes[0] and lanes[1]. 0 or -errno. */
static inline int64_t rl_stream(rl_handle_t lanes[2])
{
	return rl_stream_create(lanes);
}

/* Shut a lane's stream down now (both sides see -EPIPE). */
int64_t rl_lane_shutdown(rl_handle_t lane);

#endif
