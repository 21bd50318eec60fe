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
 *
 * Realtime (nanoseconds since 1970, UTC) is the monotonic clock plus an
 * offset kept in the clock page, so user space reads it without a system
 * call. At boot the offset comes from the CMOS real-time clock (QEMU's is
 * the host's UTC time); clock_set_realtime changes it.
 */
#include <kernel/arch.h>
#include <kernel/errno.h>
#include <kernel/log.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/vmm.h>
#include <arch/clock.h>
#include <arch/x86.h>
#include <abi/rill.h>
#include <rill/string.h>

#define HPET_CAP	0x000
#define HPET_CONFIG	0x010
#define HPET_COUNTER	0x0f0
#define PIT_HZ		1193182ull
#define CALIBRATE_NS	(50 * NSEC_PER_MSEC)

static uint64_t tsc_base;
static uint64_t tsc_hz;
static uint64_t mult;		/* ns per tick, 32.32 fixed point */
static volatile uint64_t *hpet;
static struct rl_clock_page *page;	/* the one clock page, mapped everywhere */
static int64_t boot_offset;		/* realtime - monotonic at boot (RTC) */
static spinlock_t realtime_lock = SPINLOCK_INIT;

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

/* ---- realtime: the CMOS clock at boot, an offset after ---------------------- */

#define CMOS_INDEX	0x70
#define CMOS_DATA	0x71

static unsigned cmos(unsigned reg)
{
	outb(CMOS_INDEX, (uint8_t)reg);	/* bit 7 clear: NMIs stay enabled */
	return inb(CMOS_DATA);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_since_epoch(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Seconds since 1970 from the RTC, or -1 when it reads as nonsense. Read
 * twice, equal, outside an update (status A bit 7), so no field rolls
 * over between reads. */
static int64_t rtc_read(void)
{
	unsigned v[6], w[6], b, pm;
	int tries = 0;

	do {
		while ((cmos(0x0a) & 0x80) && ++tries < 100000)
			;
		v[0] = cmos(0x00); v[1] = cmos(0x02); v[2] = cmos(0x04);
		v[3] = cmos(0x07); v[4] = cmos(0x08); v[5] = cmos(0x09);
		while ((cmos(0x0a) & 0x80) && ++tries < 100000)
			;
		w[0] = cmos(0x00); w[1] = cmos(0x02); w[2] = cmos(0x04);
		w[3] = cmos(0x07); w[4] = cmos(0x08); w[5] = cmos(0x09);
	} while (memcmp(v, w, sizeof(v)) && ++tries < 100000);
	b = cmos(0x0b);
	pm = v[2] & 0x80;
	v[2] &= 0x7f;
	if (!(b & 0x04))	/* BCD */
		for (int i = 0; i < 6; i++)
			v[i] = (v[i] & 0x0f) + (v[i] >> 4) * 10;
	if (!(b & 0x02))	/* 12-hour clock: 12 AM is 0, 12 PM 12 */
		v[2] = v[2] % 12 + (pm ? 12 : 0);
	if (v[0] > 59 || v[1] > 59 || v[2] > 23 || !v[3] || v[3] > 31 || !v[4] || v[4] > 12 ||
	    v[5] > 99)
		return -1;
	/* No century register is relied on: years 00-69 are 20xx. */
	return days_since_epoch(v[5] + (v[5] < 70 ? 2000 : 1900), v[4], v[3]) * 86400 +
	       v[2] * 3600 + v[1] * 60 + v[0];
}

void clock_page_init(struct rl_clock_page *cp)
{
	int64_t s = rtc_read();

	/* The rate never changes after calibration; only the realtime
	 * offset does, written under seq (odd while it changes). */
	if (s < 0)
		pr_warn("clock: the RTC reads as nonsense; realtime starts at 1970");
	else
		pr_info("clock: realtime from the RTC: %ld s since 1970", (long)s);
	boot_offset = (s < 0 ? 0 : s * (int64_t)NSEC_PER_SEC) - (int64_t)clock_ns();
	cp->seq = 0;
	cp->tsc_base = tsc_base;
	cp->base_ns = 0;
	cp->mult = mult;
	cp->tsc_hz = tsc_hz;
	cp->realtime_offset = boot_offset;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	page = cp;
}

int clock_set_realtime(uint64_t ns)
{
	irqflags_t f;
	int64_t off;

	if (!page || ns > (uint64_t)INT64_MAX)
		return -EINVAL;
	f = spin_lock_irqsave(&realtime_lock);
	off = (int64_t)(ns - clock_ns());
	__atomic_store_n(&page->seq, page->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&page->realtime_offset, off, __ATOMIC_RELAXED);
	__atomic_store_n(&page->seq, page->seq + 1, __ATOMIC_RELEASE);
	spin_unlock_irqrestore(&realtime_lock, f);
	return 0;
}
