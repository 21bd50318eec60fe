/*
 * clock.c - the monotonic nanosecond clock from the TSC.
 *
 * At boot the TSC rate is measured over 50 ms against a reference: the HPET
 * main counter when the ACPI tables list one (its period in femtoseconds is
 * in its capabilities register), else PIT channel 2 counting down at
 * 1.193182 MHz. Afterwards
 *     clock_ns() = (rdtsc() - tsc_base) * mult >> 32
 * where mult = 2^32 * 10^9 / tsc_hz, computed with a 128-bit product so it
 * cannot overflow for centuries of uptime.
 */
#include <kernel/arch.h>
#include <kernel/log.h>
#include <kernel/time.h>
#include <kernel/vmm.h>
#include <arch/clock.h>
#include <arch/x86.h>
#include <rill/abi.h>

#define HPET_CAP	0x000
#define HPET_CONFIG	0x010
#define HPET_COUNTER	0x0f0
#define PIT_HZ		1193182ull
#define CALIBRATE_NS	(50 * NSEC_PER_MSEC)

static uint64_t tsc_base;
static uint64_t tsc_hz;
static uint64_t mult;		/* ns per tick, 32.32 fixed point */
static volatile uint64_t *hpet;

uint64_t clock_ns(void)
{
	if (!mult)
		return 0;
	return (uint64_t)(((unsigned __int128)(rdtsc() - tsc_base) * mult) >> 32);
}

void clock_mark_boot(void)
{
	tsc_base = rdtsc();
}

uint64_t clock_tsc_hz(void)
{
	return tsc_hz;
}

void clock_delay_ns(uint64_t ns)
{
	uint64_t end = clock_ns() + ns;

	if (!mult) {
		/* Before calibration: assume at most a few GHz. */
		uint64_t t = rdtsc() + ns * 4;

		while (rdtsc() < t)
			arch_cpu_relax();
		return;
	}
	while (clock_ns() < end)
		arch_cpu_relax();
}

static uint64_t calibrate_hpet(paddr_t phys, const char **src)
{
	uint64_t period_fs, ticks, c0, c1, t0, t1;

	hpet = vmm_map_phys(phys, 0x400, VMM_UNCACHED);
	if (!hpet)
		return 0;
	period_fs = hpet[HPET_CAP / 8] >> 32;
	if (period_fs == 0 || period_fs > 100000000) {	/* spec: <= 100 ns */
		pr_warn("clock: HPET period %lu fs is invalid; not using it", period_fs);
		return 0;
	}
	hpet[HPET_CONFIG / 8] |= 1;	/* enable the main counter */
	ticks = CALIBRATE_NS * 1000000ull / period_fs;
	c0 = hpet[HPET_COUNTER / 8];
	t0 = rdtsc();
	do {
		c1 = hpet[HPET_COUNTER / 8];
	} while (c1 - c0 < ticks);
	t1 = rdtsc();
	*src = "HPET";
	/* 50 ms is 5e13 fs and ~1e8 TSC ticks: no 64-bit overflow below. */
	return (t1 - t0) * NSEC_PER_SEC / ((c1 - c0) * period_fs / 1000000);
}

static uint64_t calibrate_pit(const char **src)
{
	uint64_t count = PIT_HZ * CALIBRATE_NS / NSEC_PER_SEC;	/* < 65536 */
	uint64_t t0, t1;

	/* Channel 2, gate on, speaker off; mode 0 (count down once). */
	outb(0x61, (inb(0x61) & ~0x02) | 0x01);
	outb(0x43, 0xb0);
	outb(0x42, count & 0xff);
	outb(0x42, count >> 8);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20) && rdtsc() - t0 < 10000000000ull)
		;
	t1 = rdtsc();
	*src = "PIT";
	return (t1 - t0) * PIT_HZ / count;
}

void clock_init(paddr_t hpet_phys)
{
	const char *src = NULL;
	uint64_t hz = 0;

	if (hpet_phys)
		hz = calibrate_hpet(hpet_phys, &src);
	if (!hz)
		hz = calibrate_pit(&src);
	tsc_hz = hz;
	mult = (NSEC_PER_SEC << 32) / hz;	/* 2^32 * 1e9 < 2^64 */
	pr_info("clock: TSC %lu.%03lu MHz, calibrated against the %s", hz / 1000000,
		hz / 1000 % 1000, src);
}

void clock_page_init(struct rl_clock_page *cp)
{
	/* The clock never changes rate after calibration, so the page is
	 * written once; seq stays even. */
	cp->seq = 0;
	cp->tsc_base = tsc_base;
	cp->base_ns = 0;
	cp->mult = mult;
	cp->tsc_hz = tsc_hz;
	__atomic_thread_fence(__ATOMIC_RELEASE);
}
