/*
 * cpu.c - the table of CPUs.
 */
#include <kernel/cpu.h>

struct cpu cpus[MAX_CPUS];
unsigned int ncpus = 1;
bool percpu_ready;	/* GS base points at cpus[] on the boot CPU */

unsigned int cpu_id(void)
{
	return percpu_ready ? this_cpu()->id : 0;
}

unsigned int cpus_online(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ncpus; i++)
		n += READ_ONCE(cpus[i].online);
	return n;
}
