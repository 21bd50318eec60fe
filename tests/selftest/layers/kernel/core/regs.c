/* A deliberate register access in portable code (the second violation). */
#include <kernel/types.h>

void set_fs(uint64_t v);
void set_fs(uint64_t v)
{
	/* wrmsr in a comment does not count */
	wrmsr(MSR_FS_BASE, v);
}
