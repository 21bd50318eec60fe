/*
 * multiboot.c - reading the Multiboot 1 information structure.
 *
 * The structure comes from the boot loader and is trusted only as far as
 * it must be: every pointer is checked to lie inside the first 1 GiB (all
 * the boot page tables map), counts are bounded, strings are copied with a
 * length limit. What does not fit is logged and dropped.
 */
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/panic.h>
#include <rill/string.h>

#define MB_BOOTLOADER_MAGIC	0x2BADB002
#define MB_INFO_MEM		(1 << 0)
#define MB_INFO_CMDLINE		(1 << 2)
#define MB_INFO_MODS		(1 << 3)
#define MB_INFO_MMAP		(1 << 6)
#define MB_INFO_LOADER_NAME	(1 << 9)

#define EARLY_LIMIT		0x40000000ull	/* boot tables map 1 GiB */

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
} __packed;

struct mb_mod {
	uint32_t start, end, string, reserved;
} __packed;

struct mb_mmap {
	uint32_t size;
	uint64_t base;
	uint64_t length;
	uint32_t type;
} __packed;

struct boot_info boot_info;

static bool early_ok(uint64_t pa, uint64_t len)
{
	return pa < EARLY_LIMIT && len <= EARLY_LIMIT - pa;
}

/* Copy a NUL-terminated string from physical memory, at most size-1 bytes. */
static void copy_string(char *dst, size_t size, uint32_t pa)
{
	size_t n = 0;

	if (pa && early_ok(pa, size)) {
		const char *s = phys_to_virt(pa);

		while (n + 1 < size && s[n])
			n++;
		memcpy(dst, s, n);
	}
	dst[n] = '\0';
}

void multiboot_parse(uint32_t magic, uint32_t info)
{
	const struct mb_info *mb;
	static char cmd[CMDLINE_MAX];

	if (magic != MB_BOOTLOADER_MAGIC)
		panic("not started by a multiboot loader (magic %x)", magic);
	if (!early_ok(info, sizeof(*mb)))
		panic("multiboot information at %x is out of reach", info);
	mb = phys_to_virt(info);

	if (mb->flags & MB_INFO_LOADER_NAME)
		copy_string(boot_info.loader, sizeof(boot_info.loader), mb->boot_loader_name);
	if (mb->flags & MB_INFO_CMDLINE) {
		copy_string(cmd, sizeof(cmd), mb->cmdline);
		cmdline_set(cmd);
	}

	if ((mb->flags & MB_INFO_MMAP) && early_ok(mb->mmap_addr, mb->mmap_length)) {
		uint64_t p = mb->mmap_addr, end = p + mb->mmap_length;

		while (p + sizeof(struct mb_mmap) <= end) {
			const struct mb_mmap *e = phys_to_virt(p);

			if (e->size < 20)
				break;
			if (boot_info.nmmap == BOOT_MAX_MMAP) {
				pr_warn("multiboot: memory map has more than %d entries; rest ignored",
					BOOT_MAX_MMAP);
				break;
			}
			if (e->length) {
				struct boot_mmap_entry *m = &boot_info.mmap[boot_info.nmmap++];

				m->base = e->base;
				m->length = e->base + e->length < e->base ? -e->base : e->length;
				m->type = e->type >= 1 && e->type <= 5 ? e->type : BOOT_MEM_RESERVED;
			}
			p += (uint64_t)e->size + 4;
		}
	} else if (mb->flags & MB_INFO_MEM) {
		boot_info.mmap[0] = (struct boot_mmap_entry){ 0, (uint64_t)mb->mem_lower << 10,
							      BOOT_MEM_AVAILABLE };
		boot_info.mmap[1] = (struct boot_mmap_entry){ 0x100000, (uint64_t)mb->mem_upper << 10,
							      BOOT_MEM_AVAILABLE };
		boot_info.nmmap = 2;
	}
	if (boot_info.nmmap == 0)
		panic("the boot loader gave no memory map");

	if ((mb->flags & MB_INFO_MODS) && mb->mods_count) {
		uint32_t n = mb->mods_count;

		if (!early_ok(mb->mods_addr, (uint64_t)n * sizeof(struct mb_mod)))
			n = 0;
		for (uint32_t i = 0; i < n; i++) {
			const struct mb_mod *m = (const struct mb_mod *)phys_to_virt(mb->mods_addr) + i;
			struct boot_module *bm;

			if (boot_info.nmods == BOOT_MAX_MODS) {
				pr_warn("multiboot: more than %d modules; rest ignored", BOOT_MAX_MODS);
				break;
			}
			if (m->end < m->start) {
				pr_warn("multiboot: module %u has end before start; ignored", i);
				continue;
			}
			bm = &boot_info.mods[boot_info.nmods++];
			bm->start = m->start;
			bm->end = m->end;
			copy_string(bm->name, sizeof(bm->name), m->string);
		}
	}
}
