/*
 * boot.h - what the boot loader told us, copied out of its structures (which
 * live in memory the allocator will reuse) into kernel memory.
 */
#ifndef KERNEL_BOOT_H
#define KERNEL_BOOT_H

#include <kernel/types.h>

#define BOOT_MAX_MMAP	64
#define BOOT_MAX_MODS	8

enum boot_mem_type {
	BOOT_MEM_AVAILABLE = 1,
	BOOT_MEM_RESERVED = 2,
	BOOT_MEM_ACPI_RECLAIM = 3,
	BOOT_MEM_ACPI_NVS = 4,
	BOOT_MEM_BAD = 5,
};

struct boot_mmap_entry {
	uint64_t base;
	uint64_t length;
	uint32_t type;		/* enum boot_mem_type; unknown types are reserved */
};

struct boot_module {
	paddr_t start;
	paddr_t end;		/* exclusive */
	char name[64];
};

struct boot_info {
	char loader[32];
	struct boot_mmap_entry mmap[BOOT_MAX_MMAP];
	unsigned int nmmap;
	struct boot_module mods[BOOT_MAX_MODS];
	unsigned int nmods;
};

extern struct boot_info boot_info;

/* Parse the multiboot information at physical address info (magic checked
 * by the caller) into boot_info and the command line. */
void multiboot_parse(uint32_t magic, uint32_t info);

#endif
