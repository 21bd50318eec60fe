/*
 * futex-peer - the other process of the cross-process futex tests
 * (user/tests/process.c). "shared" is a two-page memory object; the
 * peer maps its second page only (offset 4096), so the words the test
 * and the peer share lie at other addresses and other offsets into their
 * mappings. struct futex_shared is at the start of that page.
 *
 *   bin/futex-peer shared   reports its mapping's address, waits on
 *                           word until woken (exit 3 if not), then wakes
 *                           back until it wakes one waiter (exit 4 if it
 *                           never does).
 *   bin/futex-peer private  reports the addresses of two words of its
 *                           own memory, w1 and w2; waits on w1 until
 *                           woken (exit 3), then on w2 until woken
 *                           (exit 5), then until w2 is 7 (exit 6).
 * Exit 0: all went as planned; 2: bad arguments or no mapping.
 */
#include <rill/rl.h>
#include <rill/string.h>

#define SEC	1000000000ull

struct futex_shared {
	uint32_t word, back, state, pad;
	uint64_t peer_addr, w1_addr, w2_addr;
};

static uint32_t w1, w2;

static void report(struct futex_shared *s)
{
	__atomic_store_n(&s->state, 1, __ATOMIC_SEQ_CST);
	rl_futex_wake(&s->state, 1);
}

int main(int argc, char **argv)
{
	rl_handle_t mo = (rl_handle_t)rl_startup_handle("shared");
	struct futex_shared *s;
	int64_t a;

	if (argc != 2 || mo <= 0)
		return 2;
	a = rl_map(RL_SELF_PROCESS, mo, 4096, 0, 4096, RL_PROT_READ | RL_PROT_WRITE);
	if (a <= 0)
		return 2;
	s = (struct futex_shared *)a;
	if (!strcmp(argv[1], "shared")) {
		uint64_t end;

		s->peer_addr = (uint64_t)a;
		report(s);
		if (rl_futex_wait(&s->word, 0, rl_clock_ns() + 30 * SEC) != 0)
			return 3;
		end = rl_clock_ns() + 30 * SEC;
		while (rl_futex_wake(&s->back, 1) != 1)
			if (rl_clock_ns() > end)
				return 4;
			else
				rl_sleep_ns(SEC / 1000);
		return 0;
	}
	if (!strcmp(argv[1], "private")) {
		s->w1_addr = (uint64_t)&w1;
		s->w2_addr = (uint64_t)&w2;
		report(s);
		if (rl_futex_wait(&w1, 0, rl_clock_ns() + 30 * SEC) != 0)
			return 3;
		if (rl_futex_wait(&w2, 0, rl_clock_ns() + 30 * SEC) != 0)
			return 5;
		while (__atomic_load_n(&w2, __ATOMIC_SEQ_CST) == 0)
			if (rl_futex_wait(&w2, 0, rl_clock_ns() + 30 * SEC) == -RILL_ETIMEDOUT)
				break;
		return __atomic_load_n(&w2, __ATOMIC_SEQ_CST) == 7 ? 0 : 6;
	}
	return 2;
}
