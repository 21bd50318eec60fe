/*
 * ipc-echo-client - the request/response pattern of IPC streams, client
 * side (docs/ipc.md). A whole conversation is one submission:
 *
 *   [OFFER, IMBUE_CREDS, SEND request, RECV_INLINE reply]
 *
 * OFFER creates a stream only this conversation uses; the three actions
 * after it (depth 1) go to that stream without another system call, and
 * its lane ends by itself when the submission completes.
 *
 *   bin/ipc-echo-client <requests> [in flight]   lane: "lane"
 *
 * Checks every reply (its own process id, then the request upper-cased);
 * exits 0 when all of them were right.
 */
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>

#define MAX_FLIGHT	64

struct conv {
	struct rl_chain chain;
	char req[32];
	size_t len;
	char res[4 * sizeof(struct rl_ipc_result) + 64];
};

static unsigned num(const char *p)
{
	unsigned n = 0;

	while (*p >= '0' && *p <= '9')
		n = n * 10 + (unsigned)(*p++ - '0');
	return n;
}

static void start(struct rl_queue *q, rl_handle_t lane, struct conv *c, unsigned slot,
		  uint64_t seq)
{
	struct rl_sqe *e = rl_get_sqe(q);

	c->len = (size_t)rill_snprintf(c->req, sizeof(c->req), "hello %lu", (unsigned long)seq);
	rl_chain_init(&c->chain);
	rl_chain_offer(&c->chain, 0);
	rl_chain_imbue(&c->chain);
	rl_chain_send(&c->chain, c->req, c->len);
	rl_chain_recv_inline(&c->chain, 64);
	rl_chain_prep(e, lane, &c->chain, c->res, slot);
}

int main(int argc, char **argv)
{
	rl_handle_t lane = (rl_handle_t)rl_startup_handle("lane");
	unsigned total = argc > 1 ? num(argv[1]) : 0, flight = argc > 2 ? num(argv[2]) : 1;
	unsigned started = 0, done = 0, bad = 0;
	struct conv *convs;
	struct rl_handle_info me;
	struct rl_queue q;

	if (lane <= 0 || flight == 0 || flight > MAX_FLIGHT) {
		rl_printf("ipc-echo-client: usage: <requests> [in flight 1..%u]\n", MAX_FLIGHT);
		return 2;
	}
	convs = rl_alloc_pages(flight * sizeof(*convs));
	if (!convs || rl_queue_init(&q, 64, 128) < 0 ||
	    rl_handle_info(RL_SELF_PROCESS, &me) < 0)
		return 3;
	while (started < total && started < flight) {
		start(&q, lane, &convs[started], started, started);
		started++;
	}
	while (done < total) {
		struct rl_cqe *cq;

		rl_submit_and_wait(&q, 1, 0);
		while ((cq = rl_peek_cqe(&q))) {
			unsigned slot = (unsigned)cq->user_data;
			struct conv *c = &convs[slot];
			struct rl_ipc_result *rep = rl_ipc_result(c->res, 3);
			const char *in = rl_ipc_inline(c->res, 3);
			uint64_t pid;

			if (cq->result || rep->status || rep->length != 8 + c->len) {
				bad++;
			} else {
				memcpy(&pid, in, 8);
				for (size_t k = 0; k < c->len; k++) {
					char ch = c->req[k];

					if (in[8 + k] != (ch >= 'a' && ch <= 'z' ? ch - 32 : ch))
						pid = 0;
				}
				if (pid != me.id)
					bad++;
			}
			rl_cqe_done(&q);
			done++;
			if (started < total) {
				start(&q, lane, c, slot, started);
				started++;
			}
		}
	}
	if (bad)
		rl_printf("ipc-echo-client: %u of %u replies wrong\n", bad, total);
	return bad ? 1 : 0;
}
