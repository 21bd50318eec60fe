/*
 * In-OS tests of the way back to user mode under a storm of interrupts.
 *
 * A page fault from user mode is resolved with interrupts on. Until
 * December 2026 the exception path returned to isr.S's trap_return with
 * them still on, and an interrupt arriving between its swapgs and iretq ran
 * in kernel mode with the user's GS base: the kernel panicked in
 * this_cpu(). Plain TCG takes interrupts only between translation blocks,
 * and swapgs; iretq share one, so only a boot under -icount (which ends
 * blocks wherever the instruction budget runs out) can land an interrupt
 * there; tools/runtests.py runs this program in such a boot of its own
 * (user-icount/smp1) as well as in the ordinary ones.
 *
 * The storm: the kernel's latency probe at its shortest period (an
 * interrupt every 10 us of guest time) while this thread takes a page fault
 * on every page of fresh anonymous memory, several rounds. The test asserts
 * that every page was entered and holds what was written, that the probe
 * fired all along, and (by finishing) that the kernel survived.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define ROUNDS		8
#define BYTES		(32ull << 20)	/* 8,192 pages a round */

DEFINE_TEST(page_faults_under_interrupts)
{
	uint64_t irq = (uint64_t)rl_startup_handle_or0(RL_NAME_IRQ_AUTH);
	uint64_t faults = 0, bad = 0, fires = 0;
	struct rl_latency lat;

	TEST_ASSERT(irq > 0);	/* init gives the tests the authorities */
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t *p = rl_alloc_pages(BYTES);

		/* A period of its own each round (10, 11, 13, 16 ... us), so
		 * no round runs in step with the faults. */
		TEST_EQ(rl_latency_probe(RL_LATPROBE_START, RL_LATPROBE_MIN_NS + r * r * 1000 + r * 317,
					 0, irq), 0);

		TEST_ASSERT(p != NULL);
		/* One write a page: each one a fault from user mode. */
		for (uint64_t off = 0; off < BYTES / 8; off += 512, faults++)
			p[off] = off ^ r;
		for (uint64_t off = 0; off < BYTES / 8; off += 512)
			bad += p[off] != (off ^ r);
		TEST_EQ(rl_latency_probe(RL_LATPROBE_STOP, 0, &lat, irq), 0);
		TEST_ASSERT(lat.fires > 0);
		fires += lat.fires;
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)p, BYTES), 0);
	}
	TEST_EQ(bad, 0);
	TEST_EQ(faults, ROUNDS * BYTES / 4096);
	rl_printf("trapreturn: %lu page faults, %lu probe interrupts\n",
		  (unsigned long)faults, (unsigned long)fires);
}
