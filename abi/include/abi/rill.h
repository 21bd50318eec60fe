/*
 * abi/rill.h - the kernel/user interface of Rill, shared by the kernel and
 * every native program. docs/abi.md explains each part; this header is the
 * definition. Rules that hold throughout:
 *
 *   - fixed-width types, explicit padding, sizes and offsets asserted;
 *   - every reserved field must be zero (-RILL_EINVAL otherwise), so it can
 *     be given a meaning later;
 *   - a call returns a non-negative result or a negated RILL_E* code;
 *   - memory user space can write is read once by the kernel, then checked.
 */
#ifndef RILL_ABI_H
#define RILL_ABI_H

#include <stdint.h>
#include <abi/errno.h>

/* ---- system calls ------------------------------------------------------ */

/* Native numbers are RL_SYSCALL_BASE + n (abi/syscalls.def). Linux uses
 * 0..~460 and x32 sets bit 30; bit 29 alone is neither, so any other
 * number is foreign: it is reported to the thread's supervisor, or fails
 * with -RILL_ENOSYS when there is none. */
#define RL_SYSCALL_BASE		0x20000000u

enum {
#define SYSCALL(nr, name, ...) RL_SYS_##name = RL_SYSCALL_BASE + (nr),
#include <abi/syscalls.def>
#undef SYSCALL
};

/* ---- handles and rights ------------------------------------------------ */

/* A handle is a positive 32-bit value naming an entry of the calling
 * process's handle table. Two pseudo-handles name the caller itself, with
 * the rights its creator gave them (process_create). */
typedef int32_t rl_handle_t;
#define RL_HANDLE_INVALID	0
#define RL_SELF_PROCESS		0x7ffffffe
#define RL_SELF_THREAD		0x7fffffff

enum rl_object_type {
	RL_OBJ_NONE = 0,
	RL_OBJ_PROCESS = 1,
	RL_OBJ_THREAD = 2,
	RL_OBJ_QUEUE = 3,
	RL_OBJ_MEMORY = 4,
	RL_OBJ_IRQ = 5,
	RL_OBJ_IOPORT = 6,
	RL_OBJ_IRQ_AUTHORITY = 7,
	RL_OBJ_IOPORT_AUTHORITY = 8,
	RL_OBJ_PHYS_AUTHORITY = 9,
	RL_OBJ_LANE = 10,		/* one side of an IPC stream */
	RL_OBJ_CLOCK_AUTHORITY = 11,	/* clock_set_realtime */
	RL_OBJ_CREDS = 12,		/* a credentials token (IPC, docs/ipc.md) */
	RL_OBJ_PAGER = 13,		/* the server side of a paged memory object */
	RL_OBJ_LOG_AUTHORITY = 14,	/* the kernel log (klog_control, LOG_WAIT) */
};

#define RL_RIGHT_READ		0x0001u	/* memory: map readable, read */
#define RL_RIGHT_WRITE		0x0002u	/* memory: map writable, write */
#define RL_RIGHT_EXEC		0x0004u	/* memory: map executable */
#define RL_RIGHT_DUP		0x0008u	/* handle_dup */
#define RL_RIGHT_TRANSFER	0x0010u	/* process_give, IPC push handle */
#define RL_RIGHT_MANAGE		0x0020u	/* process: threads, mappings, handles, kill */
#define RL_RIGHT_CONTROL	0x0040u	/* thread: start, kill, set base */
#define RL_RIGHT_OBSERVE	0x0080u	/* thread: observe, regs, resume */
#define RL_RIGHT_WAIT		0x0100u	/* process/thread exit, irq wait */
#define RL_RIGHT_SUBMIT		0x0200u	/* queue: enter, wake; lane: IPC, shutdown */
#define RL_RIGHT_DERIVE		0x0400u	/* authorities: open a sub-resource;
					   memory: copy-on-write snapshot */
#define RL_RIGHTS_ALL		0x07ffu

struct rl_handle_info {
	uint32_t type;		/* enum rl_object_type */
	uint32_t rights;
	uint64_t id;		/* kernel-wide object id: same object, same id */
	uint64_t size;		/* memory objects: bytes; others 0 */
	uint64_t reserved;
};

/* ---- the queue ---------------------------------------------------------- */

/* Submission entry: 64 bytes. */
struct rl_sqe {
	uint16_t opcode;	/* RL_OP_* */
	uint16_t flags;		/* RL_SQE_*, or 0 */
	rl_handle_t handle;	/* the object the operation acts on */
	uint64_t user_data;	/* returned in the completion */
	uint64_t arg[5];	/* per opcode */
	uint64_t reserved;	/* must be 0 */
};

/* struct rl_sqe flags */
#define RL_SQE_QUIET	0x1u	/* no completion when the operation succeeds
				   (result >= 0); a failure completes as usual.
				   Not for RL_OP_IPC (EINVAL). */

/* Completion entry: 32 bytes. */
struct rl_cqe {
	uint64_t user_data;	/* the submitter's value */
	int64_t result;		/* >= 0 per opcode, or -RILL_E* */
	uint64_t aux[2];	/* per opcode, 0 unless documented */
};

_Static_assert(sizeof(struct rl_sqe) == 64, "sqe size");
_Static_assert(sizeof(struct rl_cqe) == 32, "cqe size");

/* Asynchronous operations. */
enum rl_opcode {
	RL_OP_NOP = 0,		/* result = arg[0] */
	RL_OP_TIMEOUT = 1,	/* arg[0] = monotonic deadline (ns); result 0 */
	RL_OP_CANCEL = 2,	/* arg[0] = user_data to cancel; result = ops cancelled or -ENOENT */
	RL_OP_MAP = 3,		/* handle = process, arg[0] = memory object, arg[1] = offset,
				   arg[2] = address (0: kernel picks), arg[3] = length,
				   arg[4] = RL_PROT_* | RL_MAP_*; result = address */
	RL_OP_UNMAP = 4,	/* handle = process, arg[0] = address, arg[1] = length */
	RL_OP_PROTECT = 5,	/* handle = process, arg[0] = address, arg[1] = length,
				   arg[2] = RL_PROT_* */
	RL_OP_IRQ_WAIT = 6,	/* handle = irq, arg[0] = last sequence seen;
				   result = sequence of a later interrupt */
	RL_OP_OBSERVE = 7,	/* handle = thread, arg[0] = struct rl_regs * to fill
				   (0: none), arg[1] = RL_OBSERVE_RESUME or 0,
				   arg[2], arg[3] = RESUME's arg[0], arg[1] with it;
				   result = RL_OBS_*, aux per kind */
	RL_OP_PROCESS_WAIT = 8,	/* handle = process; result = exit status */
	RL_OP_THREAD_WAIT = 9,	/* handle = thread; result = exit status */
	RL_OP_RESUME = 10,	/* handle = thread, arg[0] = RL_RESUME_* flags,
				   arg[1] = rax with RL_RESUME_SET_RAX; result 0 */
	RL_OP_IPC = 11,		/* handle = lane, arg[0] = struct rl_ipc_action[arg[1]],
				   arg[2] = result buffer, arg[3] = its size,
				   arg[4] = RL_IPC_CLOSE_LANE or 0;
				   result 0 (each action's own in the result buffer) or
				   -errno for the submission; aux[0] = actions that failed */
	RL_OP_LANE_SHUTDOWN = 12, /* handle = lane; result 0. Ends the stream: waiting
				   and later actions on both lanes fail with -EPIPE */
	RL_OP_DISCARD = 13,	/* handle = process, arg[0] = address, arg[1] = length;
				   result 0. The pages behind it are freed (reads give
				   zeros) where the area owns them (docs/abi.md) */
	RL_OP_PAGER_WAIT = 14,	/* handle = pager (RL_RIGHT_SUBMIT); args 0; completes
				   with the next request: result = RL_PAGER_*,
				   aux[0] = offset, aux[1] = length; -EPIPE once
				   the pager is gone */
	RL_OP_LOG_WAIT = 15,	/* handle = log authority; arg[0] = a position in
				   the kernel log; completes when the log has
				   grown past it: result = the log's head */
	RL_OP_COUNT
};

/* RL_OP_PAGER_WAIT results: what is asked of the pager. */
#define RL_PAGER_READ		1	/* supply [aux[0], aux[0] + aux[1]) (pager_supply) */

/* Layout of the memory a queue shares with its process (see docs/abi.md):
 *
 *   ring_addr + 0          struct rl_ring_header (one page)
 *   ring_addr + sq_offset  struct rl_sqe sq[sq_entries]
 *   ring_addr + cq_offset  struct rl_cqe cq[cq_entries]
 *
 * Indices run freely (uint32_t, wrapping); slot = index & (entries - 1).
 * The submission ring is produced by user space (sq_tail) and consumed by
 * the kernel (sq_head); the completion ring is produced by the kernel
 * (cq_tail) and consumed by user space (cq_head). Each field has one
 * writer; the fields sit on their own cache lines. */
struct rl_ring_header {
	uint32_t sq_tail;		/* user writes (release) */
	uint32_t pad0[15];
	uint32_t cq_head;		/* user writes (release) */
	uint32_t pad1[15];
	uint32_t sq_head;		/* kernel writes */
	uint32_t pad2[15];
	uint32_t cq_tail;		/* kernel writes (release) */
	uint32_t flags;			/* kernel writes: RL_RING_* */
	uint64_t overflowed;		/* completions that waited in the kernel */
	uint32_t pad3[12];
	uint32_t sq_entries;		/* constant from here on */
	uint32_t cq_entries;
	uint32_t sq_offset;
	uint32_t cq_offset;
	uint32_t ring_size;
	uint32_t pad4[11];
};

_Static_assert(sizeof(struct rl_ring_header) == 320, "ring header size");
_Static_assert(__builtin_offsetof(struct rl_ring_header, cq_head) == 64, "cq_head");
_Static_assert(__builtin_offsetof(struct rl_ring_header, sq_head) == 128, "sq_head");
_Static_assert(__builtin_offsetof(struct rl_ring_header, cq_tail) == 192, "cq_tail");
_Static_assert(__builtin_offsetof(struct rl_ring_header, sq_entries) == 256, "sq_entries");

/* rl_ring_header.flags */
#define RL_RING_CQ_OVERFLOW	0x1u	/* completions wait in the kernel: call
					   queue_enter to move them into the ring */

#define RL_QUEUE_MAX_SQ		4096u
#define RL_QUEUE_MAX_CQ		16384u

struct rl_queue_params {
	uint32_t sq_entries;	/* in: power of two, 1..RL_QUEUE_MAX_SQ */
	uint32_t cq_entries;	/* in: power of two >= sq_entries, <= RL_QUEUE_MAX_CQ;
				   0 means 2 * sq_entries */
	uint32_t flags;		/* in: must be 0 */
	uint32_t reserved;	/* must be 0 */
	uint64_t ring_addr;	/* out: where the ring is mapped */
	uint64_t ring_size;	/* out: bytes */
};

/* queue_enter flags */
#define RL_ENTER_WAIT		0x1u	/* wait for min_complete completions */

/* ---- memory ------------------------------------------------------------- */

#define RL_PROT_READ		0x1u
#define RL_PROT_WRITE		0x2u
#define RL_PROT_EXEC		0x4u
#define RL_MAP_FIXED		0x100u	/* exactly at arg[2], replacing nothing but
					   reservations */
#define RL_MAP_RESERVE		0x200u	/* no object (arg[0], arg[1] and the
					   protection 0): the range is taken, any
					   access to it faults */
#define RL_MAP_REPLACE		0x400u	/* with FIXED: replace whatever overlaps,
					   atomically */
#define RL_MAP_SHARED		0x800u	/* the area shares its object (Linux
					   MAP_SHARED): RL_OP_DISCARD keeps its
					   pages */

#define RL_USER_TOP		0x0000800000000000ull	/* first address above user space */
#define RL_USER_BOTTOM		0x0000000000010000ull	/* lowest mappable address */
#define RL_MEMOBJ_MAX		(1ull << 36)		/* 64 GiB */

/* vm_regions: one area of an address space (docs/abi.md). */
struct rl_region {
	uint64_t start;		/* first address */
	uint64_t length;	/* bytes */
	uint64_t offset;	/* of start within the object (0 without one) */
	uint64_t object;	/* the memory object's kernel-wide id (handle_info's
				   id): two areas with one id map one object;
				   0 for a reservation (RL_MAP_RESERVE) */
	uint32_t prot;		/* RL_PROT_* now */
	uint32_t maxprot;	/* RL_PROT_* the mapping's handle allowed */
	uint32_t flags;		/* RL_MAP_* the area was mapped with, but FIXED */
	uint32_t reserved;	/* 0 */
};

/* process_rw flags */
#define RL_RW_READ		0x0u
#define RL_RW_WRITE		0x1u

/* ---- threads ------------------------------------------------------------ */

/* process_create flags */
#define RL_PROCESS_FOREIGN	0x1u	/* no native system calls: every `syscall` of
					   its threads (which must be supervised) is
					   reported to the supervisor */

/* thread_create flags */
#define RL_THREAD_SUPERVISED	0x1u	/* faults, exits and foreign system calls
					   stop the thread until resumed; they are
					   reported through RL_OP_OBSERVE */
#define RL_THREAD_STOPPED	0x2u	/* (with SUPERVISED) started at once, but
					   stopped before its first instruction
					   (RL_OBS_CREATED): its supervisor sets
					   its registers and resumes it */

#define RL_BASE_FS		0
#define RL_BASE_GS		1

#define RL_REGS_GET		0
#define RL_REGS_SET		1

/* The user-visible registers of a stopped thread. The general registers
 * come in the order the kernel saves them on entry (r15 first), so a stop
 * copies them as one block. */
struct rl_regs {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t rip, rflags, rsp, fs_base, gs_base;
};

_Static_assert(sizeof(struct rl_regs) == 20 * 8, "regs size");

/*
 * A supervised thread's stop record (thread_record): a page its supervisor
 * maps read-only, which the kernel fills at every stop before the stop is
 * reported, so an OBSERVE needs no register buffer and the supervisor
 * reads the registers where they lie (a thread stopped when its record
 * is made starts with that stop). stops counts the stops recorded
 * (each one writes the whole record before it is reported; an EXIT stop
 * writes kind, info and stops but not regs). The record is what the
 * thread was at its stop: thread_regs SET and thread_set_base change the
 * thread, not the record.
 */
struct rl_stop_record {
	struct rl_regs regs;
	uint64_t stops;
	uint32_t kind;		/* RL_OBS_* */
	uint32_t reserved;
	uint64_t info[2];	/* as the OBSERVE completion's aux[0], aux[1] */
};

_Static_assert(sizeof(struct rl_stop_record) == 24 * 8, "stop record size");

/* thread_fpu operations */
#define RL_FPU_GET		0
#define RL_FPU_SET		1

/* A stopped thread's x87/SSE/AVX state (thread_fpu): the XSAVE standard
 * (uncompacted) format, as Intel's SDM vol. 1 ch. 13 defines it. Its
 * size is what thread_fpu returns for len 0: 576 (x87 and SSE) or 832
 * (and AVX: ymm_hi present), the same for every thread of a boot.
 * GET writes every component out and sets its xstate_bv bit; SET
 * accepts a clear bit as "initial state" (FCW 0x37f, MXCSR from the
 * area, the rest zero), and refuses (-EINVAL) a bit of a component the
 * kernel has not enabled, any nonzero byte from xcomp_bv on, and MXCSR
 * bits outside mxcsr_mask (as GET reports it). */
struct rl_fpu_area {
	uint16_t fcw, fsw;
	uint8_t ftw;		/* abridged: one bit per register, 1 = valid */
	uint8_t reserved0;
	uint16_t fop;
	uint64_t fip, fdp;
	uint32_t mxcsr, mxcsr_mask;
	uint8_t st[8][16];	/* st0-st7, 80 bits each in 16 bytes */
	uint8_t xmm[16][16];
	uint8_t reserved1[96];	/* ignored by SET, zero from GET */
	uint64_t xstate_bv;	/* bit 0 x87, 1 SSE, 2 AVX */
	uint64_t xcomp_bv;	/* must be 0 */
	uint64_t reserved2[6];	/* must be 0 */
	uint8_t ymm_hi[16][16];	/* upper halves of ymm0-15 (size 832 only) */
};

#define RL_FPU_XSTATE_X87	0x1ull
#define RL_FPU_XSTATE_SSE	0x2ull
#define RL_FPU_XSTATE_AVX	0x4ull
#define RL_FPU_SIZE_SSE		576u
#define RL_FPU_SIZE_AVX		832u

_Static_assert(sizeof(struct rl_fpu_area) == RL_FPU_SIZE_AVX, "fpu area size");
_Static_assert(__builtin_offsetof(struct rl_fpu_area, mxcsr) == 24, "fpu mxcsr");
_Static_assert(__builtin_offsetof(struct rl_fpu_area, xmm) == 160, "fpu xmm");
_Static_assert(__builtin_offsetof(struct rl_fpu_area, xstate_bv) == 512, "fpu header");
_Static_assert(__builtin_offsetof(struct rl_fpu_area, ymm_hi) == RL_FPU_SIZE_SSE, "fpu ymm_hi");

/* Observation kinds (RL_OP_OBSERVE result). */
enum rl_observation {
	RL_OBS_SYSCALL = 1,	/* foreign system call; aux[0] = number (rax);
				   resume sets rax from the registers */
	RL_OBS_FAULT = 2,	/* aux[0] = address, aux[1] = vector << 32 | error code */
	RL_OBS_EXIT = 3,	/* aux[0] = exit status; the thread is gone */
	RL_OBS_INTERRUPT = 4,	/* thread_interrupt; aux[1] = 1 when it was
				   leaving a system call, aux[0] = that call's
				   number (its result in rax: -EINTR for a wait
				   cut short), else both 0 (stopped in user
				   mode) */
	RL_OBS_CREATED = 5,	/* RL_THREAD_STOPPED: not run yet; aux 0 */
};

/* thread_resume / RL_OP_RESUME flags */
#define RL_RESUME_KILL		0x1u	/* end the thread instead */
#define RL_RESUME_SET_RAX	0x2u	/* set rax (a system call's result) first */

/* RL_OP_OBSERVE arg[1] */
#define RL_OBSERVE_RESUME	0x1u	/* resume the stopped thread first (arg[2] =
					   RL_RESUME_* flags, arg[3] = rax), then
					   observe its next stop */
#define RL_OBSERVE_MULTI	0x2u	/* stay armed (arg[0] must be 0: read the
					   stop record): every stop is reported,
					   with RL_OBS_MORE in the result, until a
					   report without it ends the observation
					   (the exit, a cancel, or a stop that found
					   the completion ring full: observe again) */
#define RL_OBS_MORE		0x100	/* in an OBSERVE result: still armed */

/* ---- devices ------------------------------------------------------------- */

/* What the kernel found at boot (dev_list): every PCI function, and the
 * legacy devices it probed. Drivers find their devices here (through
 * mbus, which publishes this list), not by hard-coded addresses. */
enum rl_device_kind {
	RL_DEV_PCI = 1,
	RL_DEV_UART = 2,	/* a 16550-like serial port: io_base, 8 ports, irq */
	RL_DEV_PS2 = 3,		/* the 8042 controller: ports 0x60 and 0x64, irq 1
				   (keyboard) and aux_irq 12 (mouse) */
};

#define RL_BAR_IO		0x1u	/* I/O ports, else memory */
#define RL_BAR_64		0x2u	/* a 64-bit memory BAR (it took two slots) */
#define RL_BAR_PREFETCH		0x4u

struct rl_device_bar {
	uint64_t base;		/* as the firmware assigned it; 0: unused */
	uint64_t size;
	uint32_t flags;		/* RL_BAR_* */
	uint32_t reserved;
};

struct rl_device {
	uint32_t kind;		/* RL_DEV_* */
	uint32_t index;		/* its place in the list, for this boot */
	uint16_t vendor, device;		/* PCI ids (0 for legacy devices) */
	uint8_t class_code, subclass, prog_if, revision;
	uint8_t bus, slot, func;		/* PCI address */
	uint8_t irq;		/* legacy: its ISA IRQ; PCI: the interrupt line the
				   firmware wrote (0xff: none) */
	uint8_t irq_pin;	/* PCI: 1-4 for INTA-INTD, 0 none */
	uint8_t aux_irq;	/* RL_DEV_PS2: the mouse's IRQ; else 0 */
	uint16_t io_base;	/* legacy devices: their first port */
	struct rl_device_bar bar[6];	/* PCI: BAR n at bar[n] (a 64-bit BAR's
					   upper slot stays 0) */
};

/* ---- the kernel log ------------------------------------------------------ */

/*
 * The kernel log (klog_control RL_KLOG_MAP): every line the kernel logs
 * and every debug_write, in a ring the kernel writes and a privileged
 * reader maps read-only. head counts the bytes ever written; byte n is at
 * data[n % size] while n >= head - size. A reader copies [from, head)
 * (no older than head - size), then reads head again: bytes older than
 * the new head - size may have been overwritten while it copied, and are
 * lost. RL_OP_LOG_WAIT waits for head to pass a position.
 */
struct rl_klog {
	uint32_t magic;		/* RL_KLOG_MAGIC */
	uint32_t version;	/* 1 */
	uint64_t size;		/* bytes of data */
	uint64_t head;		/* bytes written so far (release store) */
	uint64_t reserved[5];
	char data[];		/* size bytes */
};

#define RL_KLOG_MAGIC		0x474f4c4bu	/* "KLOG" */
#define RL_KLOG_MAP		0	/* -> read-only memory object of the log */
#define RL_KLOG_CONSOLE		1	/* arg 0: the kernel stops writing its log
					   and debug_write to the serial line
					   (panics always do); 1: it writes again.
					   Returns the log position where it
					   stopped (or started again): bytes
					   before it went to the line, none after
					   (or: bytes from it on will). Arg 0 with
					   the line already handed over: where the
					   owner's latest LOG_WAIT said it had
					   printed to (docs/abi.md) */
#define RL_KLOG_PRINTED		2	/* arg 0: how far the log has reached the
					   serial line: the head while the kernel
					   prints it, else where its owner's latest
					   LOG_WAIT said it had printed to */

/* ---- time --------------------------------------------------------------- */

/* The clock page, mapped read-only in every process (its address is in the
 * startup block). ns = base_ns + ((rdtsc() - tsc_base) * mult >> 32),
 * read under the seqcount: retry while seq is odd or changed. */
struct rl_clock_page {
	uint32_t seq;
	uint32_t reserved;
	uint64_t tsc_base;
	uint64_t base_ns;
	uint64_t mult;		/* ns per tick, 32.32 fixed point */
	uint64_t tsc_hz;
	int64_t realtime_offset; /* realtime ns since 1970 (UTC) = monotonic ns + this */
};

/* ---- starting a process --------------------------------------------------- */

/*
 * A new program's first thread starts with rdi = the address of this block
 * (on its stack for init; wherever its creator put it otherwise). All
 * sizeof(struct rl_startup) bytes at rdi are mapped readable, whatever
 * nhandles says: the child's runtime checks the block without reading past
 * it (docs/abi.md, "Starting a process").
 *
 * Handles other than the process's and thread's own come by name in
 * handles[0..nhandles): each name at most once, 1..RL_HANDLE_NAME_MAX bytes
 * of [a-z0-9._-] NUL-padded to the end of its field, each handle > 0.
 */
#define RL_STARTUP_VERSION	2
#define RL_STARTUP_HANDLES	64	/* entries of rl_startup.handles[] */
#define RL_HANDLE_NAME_MAX	23	/* bytes of a name, without its NUL */

struct rl_named_handle {
	char name[RL_HANDLE_NAME_MAX + 1];	/* NUL-padded */
	rl_handle_t handle;		/* in the new process's table */
	uint32_t rights;		/* the rights it was given with */
};

struct rl_startup {
	uint32_t magic;			/* RL_STARTUP_MAGIC */
	uint32_t version;		/* RL_STARTUP_VERSION */
	rl_handle_t self_process;	/* handles in the new process's table */
	rl_handle_t self_thread;
	uint64_t clock_page;		/* address of struct rl_clock_page */
	uint64_t argc;
	uint64_t argv;			/* char *argv[argc + 1] */
	uint64_t cmdline;		/* kernel command line (init only; else 0) */
	uint32_t nhandles;		/* entries of handles[] in use */
	uint32_t reserved0;		/* 0 */
	uint64_t reserved1;		/* 0 */
	struct rl_named_handle handles[RL_STARTUP_HANDLES];
};

/* The names the kernel gives init its handles by; init hands them on
 * under the same names. */
#define RL_NAME_INITRD		"initrd"	/* memory object: the initrd (cpio) */
#define RL_NAME_IRQ_AUTH	"irq-authority"
#define RL_NAME_IOPORT_AUTH	"ioport-authority"
#define RL_NAME_PHYS_AUTH	"phys-authority"
#define RL_NAME_CLOCK_AUTH	"clock-authority"
#define RL_NAME_LOG_AUTH	"log-authority"	/* the kernel log (klog_control) */

#define RL_STARTUP_MAGIC	0x52494c4cu	/* "RILL" */

/* ---- kernel-memory budgets ---------------------------------------------------- */

/* process_budget: the budget a process's kernel memory is charged to
 * (docs/abi.md: budgets). */
struct rl_budget {
	uint64_t limit;		/* bytes */
	uint64_t used;		/* bytes charged now */
	uint64_t id;		/* same budget (shared), same id */
	uint64_t reserved;
};

/* ---- kernel accounting ---------------------------------------------------- */

struct rl_kcounters {
	uint64_t free_pages;
	uint64_t heap_objects;		/* kernel heap objects in use */
	uint64_t processes;
	uint64_t threads;		/* user threads */
	uint64_t queues;
	uint64_t memobjs;
	uint64_t mappings;
	uint64_t handles;		/* over all handle tables */
	uint64_t queue_ops;		/* waiting operations in flight (not IPC) */
	uint64_t user_pages;		/* pages owned by memory objects */
	uint64_t page_tables;		/* user page-table pages */
	uint64_t syscalls;		/* system calls made (all CPUs) */
	uint64_t streams;		/* IPC streams alive (ancillary ones too) */
	uint64_t ipc_actions;		/* IPC actions submitted, not yet completed */
	uint64_t memobj_nodes;		/* page-sized nodes of memory objects' page trees */
	uint64_t reserved[1];
};

/* ---- latency probe (latency_probe, docs/kernel.md) ---------------------------- */

/* latency_probe commands */
#define RL_LATPROBE_START	1	/* period_ns in RL_LATPROBE_MIN..MAX: maxima reset,
					   a timer fires every period on every CPU */
#define RL_LATPROBE_READ	2	/* the figures so far */
#define RL_LATPROBE_STOP	3	/* stop, then the figures */
#define RL_LATPROBE_MIN_NS	10000ull	/* 10 us */
#define RL_LATPROBE_MAX_NS	10000000ull	/* 10 ms */

struct rl_latency {
	uint64_t period_ns;		/* the running (or last) probe's period */
	uint64_t fires;			/* probe interrupts taken, all CPUs */
	uint64_t max_late_ns;		/* longest delay from a probe's deadline to its
					   handler: a lower bound of the longest
					   stretch with interrupts off (within a
					   period) */
	uint32_t max_late_cpu;		/* where it was seen */
	uint32_t running;		/* 1 while started */
	uint64_t reserved[4];
};

/* ---- IPC streams (docs/ipc.md) ---------------------------------------------- */

/* Action types (struct rl_ipc_action.type). */
enum rl_ipc_type {
	RL_IPC_SEND = 1,	/* buf, len: bytes to send */
	RL_IPC_SEND_SG = 2,	/* buf = struct rl_iovec[len], len <= RL_IPC_MAX_IOV */
	RL_IPC_RECV = 3,	/* buf, len: receive buffer and its capacity */
	RL_IPC_RECV_INLINE = 4,	/* len = capacity <= RL_IPC_INLINE_MAX; the bytes land
				   in the result buffer (rl_ipc_result.offset) */
	RL_IPC_PUSH_HANDLE = 5,	/* handle (needs RL_RIGHT_TRANSFER); rights = mask of
				   the handle's rights passed on */
	RL_IPC_PULL_HANDLE = 6,	/* rights = rights the pulled handle must carry */
	RL_IPC_IMBUE_CREDS = 7,	/* handle 0: the kernel supplies who submitted it;
				   handle = a credentials token (needs
				   RL_RIGHT_TRANSFER): the identity it holds,
				   forwarded by the submitter */
	RL_IPC_EXTRACT_CREDS = 8, /* result: the imbued process and thread ids, and
				   who forwarded them (0: nobody); flags
				   RL_IPC_WANT_TOKEN */
	RL_IPC_OFFER = 9,	/* new ancillary stream; flags RL_IPC_WANT_LANE */
	RL_IPC_ACCEPT = 10,	/* new ancillary stream; flags RL_IPC_WANT_LANE */
	RL_IPC_DISMISS = 11,	/* matches anything; the peer's action fails */
};

/* rl_ipc_action.flags */
#define RL_IPC_WANT_LANE	0x01u	/* OFFER/ACCEPT: return a handle to this side's
					   lane of the new stream (rl_ipc_result.handle);
					   without it the lane ends when the submission
					   completes */
#define RL_IPC_WANT_TOKEN	0x02u	/* EXTRACT_CREDS: also return a credentials
					   token of the identity extracted
					   (rl_ipc_result.handle, RL_OBJ_CREDS) */

/* RL_OP_IPC arg[4] */
#define RL_IPC_CLOSE_LANE	0x01u	/* close the lane handle once the actions are
					   posted; the lane stays open until this
					   submission completes */

#define RL_IPC_MAX_CHAIN	64	/* actions per submission */
#define RL_IPC_MAX_DEPTH	8	/* nesting of offer/accept */
#define RL_IPC_MAX_IOV		16	/* pieces of one RL_IPC_SEND_SG */
#define RL_IPC_INLINE_MAX	4096	/* capacity of one RL_IPC_RECV_INLINE */

/* One action of a chain: 32 bytes. Depth 0 goes to the submission's lane;
 * depth d + 1 to the stream made by the nearest OFFER/ACCEPT at depth d
 * before it. Reserved fields must be 0. */
struct rl_ipc_action {
	uint16_t type;		/* enum rl_ipc_type */
	uint8_t depth;
	uint8_t flags;		/* RL_IPC_WANT_LANE */
	uint32_t rights;	/* PUSH: mask passed on; PULL: rights required */
	rl_handle_t handle;	/* PUSH: the handle to pass (it stays with the sender);
				   IMBUE_CREDS: a token to forward, or 0 */
	uint32_t reserved;
	uint64_t buf;
	uint64_t len;
};

struct rl_iovec {
	uint64_t base;
	uint64_t len;
};

/* Each action's result: 32 bytes, result[i] for action i, at the start of
 * the result buffer. Inline data follows the array: RECV_INLINE i's bytes
 * are at (char *)results + results[i].offset. */
struct rl_ipc_result {
	int32_t status;		/* 0 or -RILL_E* (docs/ipc.md: errors) */
	rl_handle_t handle;	/* PULL: the new handle; OFFER/ACCEPT with
				   RL_IPC_WANT_LANE: the lane; EXTRACT with
				   RL_IPC_WANT_TOKEN: the token */
	uint64_t length;	/* SEND*, RECV*: bytes moved; EXTRACT: the
				   process id of the forwarder (0: imbued by
				   the process itself) */
	uint64_t offset;	/* RECV_INLINE: where its bytes are;
				   EXTRACT: the imbuer's process id */
	uint64_t thread;	/* EXTRACT: the imbuer's thread id */
};

_Static_assert(sizeof(struct rl_ipc_action) == 32, "ipc action size");
_Static_assert(sizeof(struct rl_ipc_result) == 32, "ipc result size");

/* Every structure kernel and user space share has its size (and the
 * offset of fields added later) fixed here: a change that moves one fails
 * to compile on both sides, not at run time. */
_Static_assert(sizeof(struct rl_handle_info) == 32, "handle_info size");
_Static_assert(sizeof(struct rl_queue_params) == 32, "queue_params size");
_Static_assert(sizeof(struct rl_clock_page) == 48, "clock page size");
_Static_assert(__builtin_offsetof(struct rl_clock_page, realtime_offset) == 40, "realtime_offset");
_Static_assert(sizeof(struct rl_named_handle) == 32, "named handle size");
_Static_assert(__builtin_offsetof(struct rl_startup, nhandles) == 48, "startup nhandles");
_Static_assert(__builtin_offsetof(struct rl_startup, handles) == 64, "startup handles");
_Static_assert(sizeof(struct rl_startup) == 64 + 32 * RL_STARTUP_HANDLES, "startup size");
_Static_assert(sizeof(struct rl_klog) == 64, "klog header size");
_Static_assert(sizeof(struct rl_device_bar) == 24, "device bar size");
_Static_assert(sizeof(struct rl_device) == 24 + 6 * 24, "device size");
_Static_assert(sizeof(struct rl_budget) == 32, "budget size");
_Static_assert(sizeof(struct rl_kcounters) == 128, "kcounters size (grows only at the end)");
_Static_assert(sizeof(struct rl_latency) == 64, "latency size");
_Static_assert(sizeof(struct rl_iovec) == 16, "iovec size");
_Static_assert(sizeof(struct rl_region) == 48, "region size");

#endif
