/*
 * time.h - the monotonic clock.
 *
 * clock_ns() counts nanoseconds since the clock was calibrated at boot
 * (TSC scaled by a factor measured against the HPET or the PIT). Before
 * calibration it returns 0. It is the same on every CPU (the TSCs of one
 * machine run in step; QEMU keeps them so).
 */
#ifndef KERNEL_TIME_H
#define KERNEL_TIME_H

#include <kernel/types.h>

#define NSEC_PER_USEC	1000ull
#define NSEC_PER_MSEC	1000000ull
#define NSEC_PER_SEC	1000000000ull

uint64_t clock_ns(void);

/* TSC ticks per second once calibrated, 0 before. */
uint64_t clock_tsc_hz(void);

/* Realtime (ns since 1970, UTC) := ns from now on, for every process
 * (the clock page's offset); -EINVAL above INT64_MAX. */
int clock_set_realtime(uint64_t ns);

/* Busy-wait; for early boot and drivers' short delays. */
void clock_delay_ns(uint64_t ns);

#endif
