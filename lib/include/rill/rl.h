/*
 * rill/rl.h - the native runtime (first layer): start-up, the queue, time,
 * threads, a futex mutex, memory, formatted output. No libc.
 */
#ifndef RILL_RL_H
#define RILL_RL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <abi/rill.h>
#include <rill/syscall.h>

/* ---- start-up ---- */
extern const struct rl_startup *rl_startup_info;
int main(int argc, char **argv);
/* The handle the parent gave this program under name (the block's
 * handles[]), or -RILL_ENOENT when it gave none by that name, -RILL_EINVAL
 * when name is not a valid handle name or the parent's table was
 * malformed (lib/user/start.c says what is checked). */
int64_t rl_startup_handle(const char *name);
/* The same, or 0 when there is no such handle. */
static inline rl_handle_t rl_startup_handle_or0(const char *name)
{
	int64_t h = rl_startup_handle(name);

	return h > 0 ? (rl_handle_t)h : 0;
}
/* The rights the parent says it gave that handle with (the kernel's word
 * is rl_handle_info); errors as rl_startup_handle. */
int64_t rl_startup_rights(const char *name);
/* Whether name[0..size) holds a valid handle name: 1..RL_HANDLE_NAME_MAX
 * bytes of [a-z0-9._-] and a NUL. */
bool rl_handle_name_valid(const char *name, size_t size);
void rl_exit(int64_t status) __attribute__((noreturn));	/* this thread */

/* ---- the queue ---- */
struct rl_queue {
	rl_handle_t handle;
	struct rl_ring_header *hdr;
	struct rl_sqe *sq;
	struct rl_cqe *cq;
	uint32_t sq_mask, cq_mask;
	uint32_t sq_tail;	/* local: entries filled, not yet published */
	uint32_t to_submit;	/* published, not yet passed to queue_enter */
	uint32_t cq_head;
};

int rl_queue_init(struct rl_queue *q, uint32_t sq_entries, uint32_t cq_entries);
/* A free submission entry (zeroed), or NULL when the ring is full. */
struct rl_sqe *rl_get_sqe(struct rl_queue *q);
/* Submit every filled entry; with wait, block until min completions are
 * available or the deadline (0: none). Returns queue_enter's result. */
int64_t rl_submit(struct rl_queue *q);
int64_t rl_submit_and_wait(struct rl_queue *q, uint32_t min, uint64_t deadline);
/* Next completion, or NULL; rl_cqe_done releases it. No system call. */
static inline struct rl_cqe *rl_peek_cqe(struct rl_queue *q)
{
	uint32_t tail = __atomic_load_n(&q->hdr->cq_tail, __ATOMIC_ACQUIRE);

	return tail != q->cq_head ? &q->cq[q->cq_head & q->cq_mask] : NULL;
}
static inline void rl_cqe_done(struct rl_queue *q)
{
	__atomic_store_n(&q->hdr->cq_head, ++q->cq_head, __ATOMIC_RELEASE);
}
/* Submit one op and wait for its completion (convenience; other
 * completions arriving meanwhile are an error for this helper). */
int64_t rl_call(struct rl_queue *q, const struct rl_sqe *op, struct rl_cqe *out);

/* The runtime's own queue, for the helpers below (thread-safe). */
int64_t rl_sync_op(const struct rl_sqe *op, struct rl_cqe *out);

/* ---- time ---- */
uint64_t rl_clock_ns(void);
/* Nanoseconds since 1970-01-01 UTC (CLOCK_REALTIME), no system call:
 * the clock page's monotonic time plus its realtime offset. */
uint64_t rl_clock_realtime_ns(void);
void rl_sleep_ns(uint64_t ns);

/* ---- memory ---- */
int64_t rl_map(rl_handle_t proc, rl_handle_t mo, uint64_t off, uint64_t addr, uint64_t len,
	       unsigned flags);
int64_t rl_unmap(rl_handle_t proc, uint64_t addr, uint64_t len);
int64_t rl_protect(rl_handle_t proc, uint64_t addr, uint64_t len, unsigned prot);
/* Fresh zeroed anonymous memory mapped read/write; NULL on failure. */
void *rl_alloc_pages(size_t len);
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);

/* ---- synchronisation ---- */
typedef struct { uint32_t v; } rl_mutex_t;
#define RL_MUTEX_INIT { 0 }
void rl_mutex_lock(rl_mutex_t *m);
void rl_mutex_unlock(rl_mutex_t *m);

/* ---- threads ---- */
/* Start fn(arg) in a new thread of this process; returns its handle. */
int64_t rl_thread_spawn(void (*fn)(void *), void *arg);
/* Wait for a thread to end; returns its status. */
int64_t rl_thread_join(rl_handle_t t);

/* ---- processes ---- */
/* One handle to give a child (struct rl_spawn_opts.handles). */
struct rl_spawn_handle {
	const char *name;	/* how the child finds it: rl_startup_handle(name) */
	rl_handle_t handle;	/* the caller's */
	uint32_t rights;	/* what the child gets, a subset of the handle's
				   rights; 0: every right it has here */
};

struct rl_spawn_opts {
	bool supervised;		/* its first thread is RL_THREAD_SUPERVISED */
	/* RL_PROCESS_FOREIGN: none of its system calls reach the kernel,
	 * each stops its (then necessarily supervised) thread. */
	bool foreign;
	/* With restrict_self: the rights of the child's RL_SELF_PROCESS and
	 * RL_SELF_THREAD and of its startup block's self handles; otherwise
	 * every right. */
	bool restrict_self;
	uint32_t self_process_rights, self_thread_rights;
	/* Kernel-memory budget in bytes, carved out of the caller's (0: the
	 * child shares the caller's). */
	uint64_t budget;
	/* Handles of the caller to give to the child by name: handles[0..
	 * nhandles), at most RL_STARTUP_HANDLES, each name once. The spawn
	 * fails before it creates anything on a bad table (-RILL_E2BIG: too
	 * many, or a name longer than RL_HANDLE_NAME_MAX; -RILL_EINVAL: a
	 * name empty or with a byte outside [a-z0-9._-]; -RILL_EEXIST: a name
	 * twice; -RILL_EBADF: not a handle; -RILL_EPERM: rights it lacks or
	 * no TRANSFER) and on any handle the kernel refuses to give. */
	const struct rl_spawn_handle *handles;
	uint32_t nhandles;
	/* Tests of the child's checks only: called on the finished startup
	 * block just before it is copied into the child. */
	void (*edit_startup)(struct rl_startup *st, void *arg);
	void *edit_arg;
};
/* Start a native program image (static ELF64) as a new process with args;
 * returns the process handle. opts may be NULL. */
int64_t rl_spawn_image(const void *elf, size_t len, int argc, const char *const *argv,
		       const struct rl_spawn_opts *opts, rl_handle_t *thread_out);
int64_t rl_process_wait(rl_handle_t p);
/* A file of the initrd this process was given (its RL_NAME_INITRD handle,
 * mapped read-only on first use); NULL when there is no initrd or no such
 * file. */
const void *rl_initrd_file(const char *path, size_t *len);
/* rl_spawn_image of an initrd file (-RILL_ENOENT when it is missing). */
int64_t rl_spawn_file(const char *path, int argc, const char *const *argv,
		      const struct rl_spawn_opts *opts, rl_handle_t *thread_out);

/* ---- output ---- */
int rl_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rl_vprintf(const char *fmt, va_list ap);
void rl_puts(const char *s);

#endif
