/* userinit.h - loading native programs and starting init. */
#ifndef KERNEL_USERINIT_H
#define KERNEL_USERINIT_H

#include <kernel/types.h>

struct process;

/* Load a static ELF64 executable into p's address space. */
int load_elf(struct process *p, const void *img, size_t len, uint64_t *entry);
/* Start init from the initrd (cmdline "init=<path>", default bin/init). */
void userinit(void);

/* Boot-time set-up of the user-space subsystems. */
void futex_init(void);
void authorities_init(void);
/* The devices found at boot, for dev_list (core/devices.c). */
void devices_init(void);
/* The kernel log's ring and authority (core/klog.c). */
void klog_init(void);

#endif
