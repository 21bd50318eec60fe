/*
 * fpu-peer - the other process of the FPU tests (user/tests/fpu.c):
 * argv[1] is a seed, argv[2] the rounds. Runs the register workload of
 * fpu_work.h that many rounds with its own values (AVX when it can).
 * Exit 0: every round's registers came back whole; 1 + what differed
 * otherwise; 100: bad arguments.
 */
#include <rill/rl.h>
#include "../tests/fpu_work.h"

static uint64_t num(const char *s)
{
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

int main(int argc, char **argv)
{
	static struct fpu_work w __attribute__((aligned(64)));
	static volatile uint64_t last;
	int avx = fpu_have_avx();
	uint64_t seed, rounds;

	if (argc != 3)
		return 100;
	seed = num(argv[1]);
	rounds = num(argv[2]);
	for (uint64_t r = 0; r < rounds; r++) {
		int bad;

		fpu_work_fill(&w, seed + r * 1000, &last);
		w.iters = 200000 + r;
		if (avx)
			fpu_work_avx(&w);
		else
			fpu_work_sse(&w);
		bad = fpu_work_check(&w, avx ? 32 : 16);
		if (bad)
			return 1 + bad;
	}
	return 0;
}
