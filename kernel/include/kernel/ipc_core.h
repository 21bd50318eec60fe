/*
 * ipc_core.h - the portable heart of IPC streams: lanes, queued actions,
 * FIFO matching, compatibility, chains and ancillary streams. No locks, no
 * memory of its own, no knowledge of address spaces: the kernel wraps it
 * (locking, allocation, copying bytes between processes, handles,
 * credentials) and the host tests drive it directly (tests/host/test_ipc.c,
 * tests/fuzz/fuzz_ipc.c).
 *
 * Model
 *   A stream has two lanes, 0 and 1. Actions posted to a lane wait in its
 *   FIFO queue. The first action waiting on one lane is matched with the
 *   first on the other, the second with the second, and so on: whenever
 *   both queues are non-empty their heads are matched and removed.
 *
 *   A submission is a chain of actions, each with a depth. Depth-0 actions
 *   go, in order, to the lane the submission names. An action at depth
 *   d + 1 belongs to the ancillary stream created by the nearest preceding
 *   OFFER or ACCEPT at depth d; it is posted (in order, with its depth-
 *   (d + 1) siblings) to that stream's lane once the OFFER/ACCEPT has been
 *   matched: the OFFER side gets lane 0 of the new stream, the ACCEPT side
 *   lane 1. If the OFFER/ACCEPT fails, its ancillary actions fail with the
 *   same error without being posted.
 *
 * Compatibility of a matched pair (a on one lane, b on the other):
 *   SEND or SEND_SG   with RECV or RECV_INLINE          transfer
 *   PUSH_HANDLE       with PULL_HANDLE                  handle transfer
 *   IMBUE_CREDS       with EXTRACT_CREDS                credentials
 *   OFFER             with ACCEPT                       new stream
 *   DISMISS           with anything                     the DISMISS succeeds,
 *                                                       the other fails with
 *                                                       IPC_E_DISMISSED
 *   any other pair                                      both fail with
 *                                                       IPC_E_MISMATCH
 *   (DISMISS with DISMISS: both succeed.)
 *   A transfer whose send is longer than the receive's capacity fails on
 *   both sides with IPC_E_TOO_SMALL.
 *
 * End of lane: ipc_lane_end (the last handle of a lane went away, or an
 * explicit shutdown) fails every action waiting on either lane, and every
 * action posted to the stream later, with IPC_E_END.
 */
#ifndef KERNEL_IPC_CORE_H
#define KERNEL_IPC_CORE_H

#include <kernel/types.h>
#include <abi/rill.h>

/* The ABI's action types, one source (abi/rill.h): the core's names. */
enum ipc_type {
	IPC_SEND = RL_IPC_SEND,			/* buf, len */
	IPC_SEND_SG = RL_IPC_SEND_SG,		/* buf = iovec array, len = total bytes
						   (wrapper sums) */
	IPC_RECV = RL_IPC_RECV,			/* buf, len = capacity */
	IPC_RECV_INLINE = RL_IPC_RECV_INLINE,	/* len = capacity (<= the inline bound) */
	IPC_PUSH_HANDLE = RL_IPC_PUSH_HANDLE,	/* arg = handle, rights = mask passed on */
	IPC_PULL_HANDLE = RL_IPC_PULL_HANDLE,	/* rights = rights required */
	IPC_IMBUE_CREDS = RL_IPC_IMBUE_CREDS,
	IPC_EXTRACT_CREDS = RL_IPC_EXTRACT_CREDS,
	IPC_OFFER = RL_IPC_OFFER,
	IPC_ACCEPT = RL_IPC_ACCEPT,
	IPC_DISMISS = RL_IPC_DISMISS,
	IPC_TYPE_MAX = RL_IPC_DISMISS,
};

/* Results (negated where stored in status). */
enum ipc_error {
	IPC_OK = 0,
	IPC_E_MISMATCH = 1,	/* incompatible pair */
	IPC_E_TOO_SMALL = 2,	/* send longer than the receive buffer */
	IPC_E_END = 3,		/* end of lane: peer closed or shut down */
	IPC_E_DISMISSED = 4,	/* the peer dismissed this action */
	IPC_E_CHAIN = 5,	/* the OFFER/ACCEPT this action depended on failed
				   (the action carries that error instead when
				   known; this one is for malformed cases) */
	IPC_E_TRANSFER = 6,	/* the wrapper's callback failed (out of memory) */
	IPC_E_FAULT = 7,	/* the wrapper could not read or write a buffer */
	IPC_E_RIGHTS = 8,	/* a pulled handle lacks the rights required */
	IPC_E_CANCELED = 9,	/* withdrawn by its submitter (ipc_withdraw) */
	IPC_E_MAX = 9,
};

/* Not an error: a transfer callback's answer "the bytes will move later,
 * outside the caller's lock". The pair leaves the matching (both actions
 * IPC_ST_BUSY, nothing can end or withdraw them) until the wrapper calls
 * ipc_transfer_end. */
#define IPC_IN_PROGRESS	0x100

#define IPC_MAX_CHAIN	64	/* actions per submission */
#define IPC_MAX_DEPTH	8

struct ipc_action;
struct ipc_lane;
struct ipc_stream;

/* A queued action: fixed size, no pointers into user memory beyond the
 * opaque words the wrapper interprets. */
struct ipc_action {
	struct ipc_action *next;	/* FIFO link on a lane */
	struct ipc_submission *sub;	/* owner */
	uint64_t buf;			/* wrapper-defined (user address) */
	uint64_t len;
	uint32_t arg;			/* handle for PUSH_HANDLE */
	uint32_t rights;
	uint16_t type;			/* enum ipc_type */
	uint8_t depth;
	uint8_t state;			/* IPC_ST_* */
	uint16_t index;			/* position in the submission */
	int16_t error;			/* enum ipc_error once done */
	uint64_t result_len;		/* bytes moved (transfers) */
	union {
		struct ipc_stream *child;	/* done OFFER/ACCEPT: the new stream */
		struct ipc_lane *queued_on;	/* QUEUED: its lane; BUSY: the lane
						   it was matched from (else NULL) */
	};
};

enum { IPC_ST_NEW, IPC_ST_QUEUED, IPC_ST_DONE, IPC_ST_BUSY };

struct ipc_lane {
	struct ipc_stream *stream;
	struct ipc_action *head, *tail;
	bool ended;			/* closed or shut down (either side) */
};

struct ipc_stream {
	struct ipc_lane lane[2];
	void *priv;			/* the wrapper's (refcounts, lock) */
};

/* A submission: its actions live in the caller's array. */
struct ipc_submission {
	struct ipc_action *actions;
	unsigned count;
	unsigned pending;		/* actions not yet done */
	void *priv;
};

/* What the wrapper supplies. Each callback runs while the core's caller
 * holds whatever lock protects the streams involved. */
struct ipc_ops {
	/* Move the bytes of a matched SEND/SEND_SG into a RECV/RECV_INLINE
	 * (send->len <= recv->len guaranteed); return IPC_OK or an error
	 * that fails both sides, or IPC_IN_PROGRESS to move them later (see
	 * ipc_transfer_end). */
	int (*transfer)(void *ctx, struct ipc_action *send, struct ipc_action *recv);
	/* PUSH_HANDLE into PULL_HANDLE: check rights, move the handle. */
	int (*move_handle)(void *ctx, struct ipc_action *push, struct ipc_action *pull);
	/* IMBUE into EXTRACT: record the imbuer's identity in the extract. */
	int (*creds)(void *ctx, struct ipc_action *imbue, struct ipc_action *extract);
	/* A new stream for a matched OFFER/ACCEPT; NULL when out of memory
	 * (both fail with IPC_E_TRANSFER). */
	struct ipc_stream *(*new_stream)(void *ctx);
	/* An action finished (error set); when sub->pending reaches 0 the
	 * submission is complete. */
	void (*done)(void *ctx, struct ipc_action *a);
};

void ipc_stream_init(struct ipc_stream *s, void *priv);

/* Check a chain before anything is posted: types known, depth starts at 0
 * and grows by at most one, and only right after an OFFER/ACCEPT at the
 * depth above (or a sibling at the same depth), count within
 * IPC_MAX_CHAIN, depth within IPC_MAX_DEPTH. 0, or -1 bad count, -2
 * unknown type, -3 depth above the maximum, -4 depth jump, -5 ancillary
 * action without an OFFER/ACCEPT before it. */
int ipc_chain_check(const struct ipc_action *a, unsigned count);

/* Post a checked submission's depth-0 actions to lane (0 or 1) of s,
 * matching as far as possible; ancillary actions follow their OFFER/
 * ACCEPT as it matches. Completion is reported through ops->done. */
void ipc_submit(struct ipc_stream *s, unsigned lane, struct ipc_submission *sub,
		const struct ipc_ops *ops, void *ctx);
/* The same for a chain the caller has already passed through
 * ipc_chain_check (result 0), which is not run again. */
void ipc_submit_checked(struct ipc_stream *s, unsigned lane, struct ipc_submission *sub,
			const struct ipc_ops *ops, void *ctx);

/* End a lane (its last handle closed) or shut it down: waiting actions
 * on both lanes fail with IPC_E_END, and so does anything posted later. */
void ipc_lane_end(struct ipc_stream *s, unsigned lane, const struct ipc_ops *ops, void *ctx);

/* Withdraw a submission (its queue is gone): each of its actions still
 * waiting on a lane leaves it and fails with err (an enum ipc_error),
 * followed by its never-posted descendants (err normalized as a callback
 * result; IPC_OK becomes IPC_E_END). Afterwards sub->pending is 0.
 * The peers see nothing: a withdrawn action was never matched. */
/* Finish a transfer whose callback answered IPC_IN_PROGRESS: a is either
 * action of the pair (still IPC_ST_BUSY). Both complete with err (an enum
 * ipc_error, normalized as a callback result), the lane-0 one first; on
 * IPC_OK both get result_len = the send's len. Call it under the lock that
 * protects the stream, exactly once per pair. The stream of a busy pair is
 * a->queued_on->stream (read it before this call). */
void ipc_transfer_end(struct ipc_action *a, int err, const struct ipc_ops *ops, void *ctx);

void ipc_withdraw(struct ipc_submission *sub, int err, const struct ipc_ops *ops, void *ctx);

#endif
