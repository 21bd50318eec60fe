/*
 * pager-client - a process faulting on a paged memory object, for
 * tests/pager: the handle named "object" is the object. It maps it read-only and reads
 * the first word of each page index in argv[1..], each of which must hold
 * the pattern tests/pager's pager supplies ((offset / 8) * 2654435761 + 7).
 * Exits 0 when all matched, 3 on a mismatch; a fault the pager cannot
 * answer (it is gone) ends it with -EFAULT.
 */
#include <rill/rl.h>

static uint64_t num(const char *s)
{
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

int main(int argc, char **argv)
{
	rl_handle_t mo = (rl_handle_t)rl_startup_handle("object");
	struct rl_handle_info info;
	int64_t a;

	if (mo <= 0 || rl_handle_info(mo, &info))
		return 2;
	a = rl_map(RL_SELF_PROCESS, mo, 0, 0, info.size, RL_PROT_READ);
	if (a < 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		uint64_t off = num(argv[i]) * 4096;

		if (*(volatile uint64_t *)(a + off) != (off / 8) * 2654435761ull + 7)
			return 3;
	}
	return 0;
}
