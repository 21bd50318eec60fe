/* clock.h - calibrating the TSC at boot (BSP only). */
#ifndef ARCH_CLOCK_H
#define ARCH_CLOCK_H

#include <kernel/types.h>

/* Remember the TSC at kernel entry: clock_ns() counts from here. */
void clock_mark_boot(void);

/* Calibrate the TSC against the HPET at hpet_phys (0: none), falling back to
 * the PIT. Afterwards clock_ns() runs. */
void clock_init(paddr_t hpet_phys);

/* Fill the clock page user space reads the time from (abi/rill.h). */
struct rl_clock_page;
void clock_page_init(struct rl_clock_page *cp);

#endif
