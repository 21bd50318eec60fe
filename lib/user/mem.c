/*
 * mem.c - mapping helpers and malloc for native programs.
 *
 * malloc: power-of-two size classes from 16 B to 2 KiB carved from 64 KiB
 * chunks, each class a free list; bigger blocks get their own mapping.
 * Every block is preceded by a 16-byte header with its class (or, for big
 * blocks, their mapped length). One mutex guards it all.
 */
#include <rill/rl.h>
#include <rill/string.h>

int64_t rl_map(rl_handle_t proc, rl_handle_t mo, uint64_t off, uint64_t addr, uint64_t len,
	       unsigned flags)
{
	struct rl_sqe e = { .opcode = RL_OP_MAP, .handle = proc,
			    .arg = { (uint64_t)mo, off, addr, len, flags } };

	return rl_sync_op(&e, NULL);
}

int64_t rl_unmap(rl_handle_t proc, uint64_t addr, uint64_t len)
{
	struct rl_sqe e = { .opcode = RL_OP_UNMAP, .handle = proc, .arg = { addr, len } };

	return rl_sync_op(&e, NULL);
}

int64_t rl_protect(rl_handle_t proc, uint64_t addr, uint64_t len, unsigned prot)
{
	struct rl_sqe e = { .opcode = RL_OP_PROTECT, .handle = proc, .arg = { addr, len, prot } };

	return rl_sync_op(&e, NULL);
}

void *rl_alloc_pages(size_t len)
{
	int64_t mo, a;

	len = (len + 4095) & ~(size_t)4095;
	mo = rl_memobj_create(len, 0);
	if (mo < 0)
		return NULL;
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, len, RL_PROT_READ | RL_PROT_WRITE);
	rl_handle_close(mo);
	return a < 0 ? NULL : (void *)a;
}

#define NCLASSES	8		/* 16 << 0 .. 16 << 7 = 2048 */
#define CHUNK		(64 * 1024)
#define BIG		0xffffffffu

struct hdr {
	uint32_t cls;
	uint32_t pad;
	uint64_t len;			/* big blocks: mapped length */
};

struct freeblk {
	struct freeblk *next;
};

static rl_mutex_t heap_lock = RL_MUTEX_INIT;
static struct freeblk *freelist[NCLASSES];
static char *chunk_pos, *chunk_end;

void *malloc(size_t n)
{
	unsigned cls = 0;
	struct hdr *h;

	if (n > (16u << (NCLASSES - 1)) - sizeof(struct hdr)) {
		size_t len = (n + sizeof(struct hdr) + 4095) & ~(size_t)4095;

		if (len < n)
			return NULL;
		h = rl_alloc_pages(len);
		if (!h)
			return NULL;
		h->cls = BIG;
		h->len = len;
		return h + 1;
	}
	while ((16u << cls) < n + sizeof(struct hdr))
		cls++;
	rl_mutex_lock(&heap_lock);
	if (freelist[cls]) {
		h = (struct hdr *)freelist[cls];
		freelist[cls] = freelist[cls]->next;
	} else {
		if (chunk_end - chunk_pos < (long)(16u << cls)) {
			chunk_pos = rl_alloc_pages(CHUNK);
			if (!chunk_pos) {
				chunk_end = NULL;
				rl_mutex_unlock(&heap_lock);
				return NULL;
			}
			chunk_end = chunk_pos + CHUNK;
		}
		h = (struct hdr *)chunk_pos;
		chunk_pos += 16u << cls;
	}
	rl_mutex_unlock(&heap_lock);
	h->cls = cls;
	return h + 1;
}

void free(void *p)
{
	struct hdr *h;

	if (!p)
		return;
	h = (struct hdr *)p - 1;
	if (h->cls == BIG) {
		rl_unmap(RL_SELF_PROCESS, (uint64_t)h, h->len);
		return;
	}
	rl_mutex_lock(&heap_lock);
	((struct freeblk *)h)->next = freelist[h->cls];
	freelist[h->cls] = (struct freeblk *)h;
	rl_mutex_unlock(&heap_lock);
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > (size_t)-1 / size)
		return NULL;
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *p, size_t n)
{
	struct hdr *h;
	size_t old;
	void *q;

	if (!p)
		return malloc(n);
	h = (struct hdr *)p - 1;
	old = h->cls == BIG ? h->len - sizeof(*h) : (16u << h->cls) - sizeof(*h);
	if (n <= old)
		return p;
	q = malloc(n);
	if (q) {
		memcpy(q, p, old);
		free(p);
	}
	return q;
}
