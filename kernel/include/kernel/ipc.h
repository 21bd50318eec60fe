/*
 * ipc.h - IPC streams in the kernel (kernel/ipc/stream.c): lane objects,
 * the RL_OP_IPC and RL_OP_LANE_SHUTDOWN queue operations and the
 * stream_create system call. The matching itself is ipc_core.h's.
 */
#ifndef KERNEL_IPC_H
#define KERNEL_IPC_H

#include <kernel/queue.h>

void ipc_init(void);

/* RL_OP_IPC on q: 0 when the submission now belongs to IPC (it completes
 * later on q, or already did), or a negative error the caller posts. */
int op_ipc(struct queue *q, const struct rl_sqe *sqe);
/* The queue is being destroyed: withdraw its IPC submissions (their
 * waiting actions leave their lanes; ancillary sides they held close) and
 * free the submissions it kept for reuse. */
void ipc_queue_dead(struct queue *q);
/* RL_OP_CANCEL's part in IPC: withdraw the waiting actions of q's
 * submissions with user_data ud; how many submissions that touched. */
int ipc_cancel(struct queue *q, uint64_t ud);
/* RL_OP_LANE_SHUTDOWN: immediate. */
int64_t op_lane_shutdown(const struct rl_sqe *sqe);

extern uint64_t nr_streams, nr_ipc_actions;

#endif
