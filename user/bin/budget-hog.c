/*
 * budget-hog - makes kernel objects of one kind until the kernel refuses,
 * for the budget tests (user/tests/budget.c). It is started with a small
 * kernel-memory budget of its own.
 *
 *   bin/budget-hog KIND    "page": a memory object of one page; the
 *                          hog writes there (struct hog_report) how many
 *                          it made and the error that stopped it, then
 *                          exits with that error as its status.
 *
 * KIND: processes, threads, queues, streams, handles, memobjs, mappings
 * (one page mapped again and again), ipc, pagetables (maps one page every
 * 1 GiB and touches it: each needs new page tables), pages (touches a
 * 64 MiB object of its own page by page). For the last two the refusal is
 * a fault, which ends the hog with -EFAULT after the report of how far
 * it got.
 */
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>

struct hog_report {
	volatile uint64_t made;
	volatile int64_t error;
	volatile uint64_t done;		/* 1 once error is final */
};

static struct hog_report *rep;

static int64_t one(const char *kind, struct rl_queue *q, rl_handle_t lane, int64_t mo)
{
	if (!strcmp(kind, "processes"))
		return rl_process_create(0, RL_RIGHTS_ALL, RL_RIGHTS_ALL, 0);
	if (!strcmp(kind, "threads"))
		return rl_thread_create(RL_SELF_PROCESS, 0x10000, 0x20000, 0, 0);
	if (!strcmp(kind, "queues")) {
		struct rl_queue_params p = { .sq_entries = 4, .cq_entries = 8 };

		return rl_queue_create(&p);
	}
	if (!strcmp(kind, "streams")) {
		rl_handle_t l[2];
		int64_t r = rl_stream(l);

		return r < 0 ? r : l[0];
	}
	if (!strcmp(kind, "handles"))
		return rl_handle_dup(RL_SELF_PROCESS, RL_RIGHT_WAIT);
	if (!strcmp(kind, "memobjs"))
		return rl_memobj_create(4096, 0);
	if (!strcmp(kind, "mappings"))
		return rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ);
	if (!strcmp(kind, "pages")) {
		static char *base;
		static uint64_t next;

		if (!base) {
			int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 64ull << 20,
					   RL_PROT_READ | RL_PROT_WRITE);

			if (a < 0)
				return a;
			base = (char *)a;
		}
		rep->made++;		/* counted before the touch that may fault */
		base[next] = 1;
		next += 4096;
		rep->made--;
		return 1;
	}
	if (!strcmp(kind, "ipc")) {
		/* 64 receives that nobody will ever answer: a submission of
		 * 64 queued actions waits in the kernel. */
		static char res[64 * sizeof(struct rl_ipc_result) + 64 * 8];
		static uint64_t ud;
		struct rl_chain c;
		struct rl_cqe *cqe;
		int64_t r;

		rl_chain_init(&c);
		for (int i = 0; i < 64; i++)
			rl_chain_recv(&c, res, 1);
		r = rl_chain_prep(rl_get_sqe(q), lane, &c, res, ++ud);
		if (r < 0)
			return r;
		r = rl_submit(q);
		if (r != 1)
			return r < 0 ? r : -RILL_EBUSY;
		cqe = rl_peek_cqe(q);	/* a refused one completes at once */
		if (cqe) {
			r = cqe->result;
			rl_cqe_done(q);
			return r < 0 ? r : -RILL_EPROTO;
		}
		return 1;
	}
	if (!strcmp(kind, "pagetables")) {
		static uint64_t at = 0x10000000000ull;	/* 1 TiB */
		int64_t a;

		at += 1ull << 30;
		a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, at, 4096,
			   RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED);
		if (a < 0)
			return a;
		rep->made++;		/* counted before the touch that may fault */
		*(volatile char *)a = 1;
		rep->made--;
		return 1;
	}
	return -RILL_EINVAL;
}

int main(int argc, char **argv)
{
	rl_handle_t page = (rl_handle_t)rl_startup_handle("page");
	struct rl_queue q;
	rl_handle_t l[2] = { 0, 0 };
	int64_t r, mo = 0;

	if (argc != 2 || page <= 0)
		return 2;
	r = rl_map(RL_SELF_PROCESS, page, 0, 0, 4096, RL_PROT_READ | RL_PROT_WRITE);
	if (r < 0)
		return 3;
	rep = (struct hog_report *)r;
	if (!strcmp(argv[1], "ipc") && (rl_queue_init(&q, 8, 4096) < 0 || rl_stream(l) < 0))
		return 4;
	if ((!strcmp(argv[1], "pagetables") || !strcmp(argv[1], "mappings")) &&
	    (mo = rl_memobj_create(4096, 0)) < 0)
		return 5;
	if (!strcmp(argv[1], "pages") && (mo = rl_memobj_create(64ull << 20, 0)) < 0)
		return 5;
	for (;;) {
		r = one(argv[1], &q, l[0], mo);
		if (r < 0)
			break;
		rep->made++;
	}
	rep->error = r;
	rep->done = 1;
	return (int)r;
}
