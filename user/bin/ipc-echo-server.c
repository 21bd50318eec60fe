/*
 * ipc-echo-server - the request/response pattern of IPC streams, server
 * side (docs/ipc.md). One thread serves any number of conversations:
 *
 *   listening lane  <- [ACCEPT(want lane), EXTRACT_CREDS, RECV_INLINE]   x slots
 *   per request     -> [SEND reply] on the conversation's lane, which the
 *                      same submission closes (RL_IPC_CLOSE_LANE)
 *
 * Each accepted conversation carries one request; the reply is the
 * client's process id (from its credentials, which it cannot forge)
 * followed by the request upper-cased. All the submissions of one round
 * go in one queue_enter, which also waits for the next round.
 *
 *   bin/ipc-echo-server [slots]     lane: "lane"
 *
 * It ends when the listening lane does (every client handle closed, or a
 * shutdown), printing how many requests it served.
 */
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>

#define MAX_SLOTS	1024
#define REQ_MAX		256

struct slot {
	struct rl_chain chain;		/* the accept chain, kept for re-posting */
	char res[3 * sizeof(struct rl_ipc_result) + REQ_MAX];
	char reply[8 + REQ_MAX];
	char reply_res[sizeof(struct rl_ipc_result)];
	struct rl_chain reply_chain;
};

static struct slot *slots;

/* user_data: slot << 1 | (1 for a reply, 0 for an accept) */
static int post_accept(struct rl_queue *q, rl_handle_t lane, unsigned i)
{
	struct rl_sqe *e = rl_get_sqe(q);

	return e ? rl_chain_prep(e, lane, &slots[i].chain, slots[i].res, (uint64_t)i << 1) : -1;
}

int main(int argc, char **argv)
{
	rl_handle_t lane = (rl_handle_t)rl_startup_handle("lane");
	unsigned nslots = 16, live = 0;
	uint64_t served = 0, failed = 0;
	struct rl_queue q;

	if (argc > 1) {
		nslots = 0;
		for (const char *p = argv[1]; *p >= '0' && *p <= '9'; p++)
			nslots = nslots * 10 + (unsigned)(*p - '0');
	}
	if (lane <= 0 || nslots == 0 || nslots > MAX_SLOTS) {
		rl_printf("ipc-echo-server: usage: [slots 1..%u], lane named \"lane\"\n", MAX_SLOTS);
		return 2;
	}
	slots = rl_alloc_pages(nslots * sizeof(*slots));
	/* Room for every accept and every reply in flight at once. */
	if (!slots || rl_queue_init(&q, 2048, 4096) < 0)
		return 3;
	for (unsigned i = 0; i < nslots; i++) {
		struct rl_chain *c = &slots[i].chain;

		rl_chain_init(c);
		rl_chain_accept(c, RL_IPC_WANT_LANE);
		rl_chain_extract(c);
		rl_chain_recv_inline(c, REQ_MAX);
		if (post_accept(&q, lane, i) < 0)
			return 4;
		live++;
	}
	while (live) {
		struct rl_cqe *cq;

		if (rl_submit_and_wait(&q, 1, 0) < 0)
			continue;
		while ((cq = rl_peek_cqe(&q))) {
			unsigned i = (unsigned)(cq->user_data >> 1);
			struct slot *s = &slots[i];
			bool reply = cq->user_data & 1;
			int64_t r = cq->result;

			rl_cqe_done(&q);
			if (reply) {
				if (r || rl_ipc_result(s->reply_res, 0)->status)
					failed++;
				continue;
			}
			struct rl_ipc_result *acc = rl_ipc_result(s->res, 0);
			struct rl_ipc_result *who = rl_ipc_result(s->res, 1);
			struct rl_ipc_result *req = rl_ipc_result(s->res, 2);

			if (r || acc->status) {
				/* -EPIPE: the listening lane ended; stop this slot. */
				if (r || acc->status != -RILL_EPIPE)
					failed++;
				live--;
				continue;
			}
			if (!who->status && !req->status) {
				const char *in = rl_ipc_inline(s->res, 2);
				struct rl_sqe *e;

				memcpy(s->reply, &who->offset, 8);
				for (uint64_t k = 0; k < req->length; k++) {
					char ch = in[k];

					s->reply[8 + k] = ch >= 'a' && ch <= 'z' ? ch - 32 : ch;
				}
				rl_chain_init(&s->reply_chain);
				rl_chain_send(&s->reply_chain, s->reply, 8 + req->length);
				e = rl_get_sqe(&q);
				if (e) {
					/* The chain is read when this entry is consumed, at
					 * the next queue_enter, before the slot is reused. */
					rl_chain_prep(e, acc->handle, &s->reply_chain, s->reply_res,
						      (uint64_t)i << 1 | 1);
					e->arg[4] = RL_IPC_CLOSE_LANE;
					served++;
				} else {
					rl_handle_close(acc->handle);
					failed++;
				}
			} else {
				rl_handle_close(acc->handle);
				failed++;
			}
			if (post_accept(&q, lane, i) < 0)
				live--;
		}
	}
	/* Replies of the last round: consumed (and matched) by this enter. */
	rl_submit(&q);
	rl_printf("ipc-echo-server: served %lu requests, %lu failed\n", (unsigned long)served,
		  (unsigned long)failed);
	return failed ? 1 : 0;
}
