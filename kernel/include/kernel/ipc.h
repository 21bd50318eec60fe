/*
 * ipc.h - IPC streams in the kernel (kernel/ipc/stream.c): lane objects,
 * the RL_OP_IPC and RL_OP_LANE_SHUTDOWN queue operations and the
 * stream_create system call. The matching itself is ipc_core.h's.
 */
#ifndef KERNEL_IPC_H
#define KERNEL_IPC_H

#include <kernel/queue.h>

void ipc_init(void);

/* What queue.c calls (op_ipc, ipc_queue_dead, ipc_cancel,
 * op_lane_shutdown) is declared in queue.h. */

extern uint64_t nr_streams, nr_ipc_actions;

#endif
