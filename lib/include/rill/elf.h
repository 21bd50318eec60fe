/*
 * elf.h - the parts of ELF64 (x86-64, little-endian) needed to load a
 * program, and a validating parser of an image held in memory.
 *
 * The layouts follow the System V gABI; the names are Rill's own (ELF_
 * prefix, struct elf64_*) so they clash with nothing on the host. Portable:
 * built into the kernel, native programs and host tests.
 */
#ifndef RILL_ELF_H
#define RILL_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* e_ident */
#define ELF_NIDENT		16
#define ELF_EI_MAG0		0	/* 0x7f 'E' 'L' 'F' */
#define ELF_EI_CLASS		4
#define ELF_EI_DATA		5
#define ELF_EI_VERSION		6
#define ELF_EI_OSABI		7
#define ELF_MAGIC		"\177ELF"
#define ELF_CLASS64		2
#define ELF_DATA2LSB		1
#define ELF_EV_CURRENT		1

/* e_type */
#define ELF_ET_EXEC		2
#define ELF_ET_DYN		3

/* e_machine */
#define ELF_EM_X86_64		62

/* p_type */
#define ELF_PT_NULL		0
#define ELF_PT_LOAD		1
#define ELF_PT_DYNAMIC		2
#define ELF_PT_INTERP		3
#define ELF_PT_NOTE		4
#define ELF_PT_PHDR		6
#define ELF_PT_TLS		7
#define ELF_PT_GNU_STACK	0x6474e551u

/* p_flags */
#define ELF_PF_X		0x1u
#define ELF_PF_W		0x2u
#define ELF_PF_R		0x4u

struct elf64_ehdr {
	unsigned char e_ident[ELF_NIDENT];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff;
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
};

struct elf64_phdr {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header is 64 bytes");
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 phdr is 56 bytes");

#define ELF_MAX_SEGMENTS	16
#define ELF_PAGE_SIZE		4096ull

struct elf_segment {
	uint64_t vaddr, memsz, offset, filesz;
	uint32_t flags;		/* ELF_PF_*, other bits cleared */
	uint64_t align;		/* p_align: 0, 1 or a power of two */
};

struct elf_image {
	uint64_t entry;
	uint16_t type;		/* ELF_ET_EXEC or ELF_ET_DYN */
	unsigned nseg;		/* PT_LOAD segments, 1..ELF_MAX_SEGMENTS */
	struct elf_segment seg[ELF_MAX_SEGMENTS];	/* sorted by vaddr */
	bool has_tls;
	struct elf_segment tls;	/* the PT_TLS template, if has_tls */
	uint64_t phdr_vaddr;	/* program headers in memory; 0: unknown */
	uint16_t phnum, phentsize;
	bool has_interp;	/* a PT_INTERP names a dynamic linker */
	uint64_t lowest, highest;	/* page-rounded span of the PT_LOADs */
};

/*
 * Validates the ELF image img[0..len) and describes it in *out (which is
 * unspecified on failure). Returns 0, or -RILL_ENOEXEC for anything wrong;
 * no input makes it read outside the image, and img may have any alignment.
 *
 * Accepted: ELFCLASS64, little-endian, EV_CURRENT (both in e_ident and
 * e_version), EM_X86_64, ET_EXEC or ET_DYN, e_phentsize == 56, and the
 * program header table inside the file. Then 1..ELF_MAX_SEGMENTS PT_LOADs,
 * each with 0 < memsz, filesz <= memsz, its file range inside the image,
 * vaddr + memsz <= user_top, p_align 0, 1 or a power of two, and
 * vaddr == offset modulo the page size when p_align >= the page size; in
 * file order they must ascend by vaddr without overlapping (two may share a
 * page, not a byte). The entry point must lie in a PT_LOAD with ELF_PF_X.
 * At most one PT_TLS (filesz <= memsz, file range inside the image, below
 * user_top), at most one PT_INTERP (inside the image, a NUL-terminated
 * string) and at most one PT_PHDR. Other program header types are ignored.
 *
 * For ET_DYN the addresses are relative to a load base the caller picks;
 * the checks against user_top hold for a base of 0. The policy decisions
 * (whether to accept ET_DYN, an interpreter, W+X segments, a segment at
 * page 0) are the caller's.
 */
int elf_parse(const void *img, size_t len, uint64_t user_top,
	      struct elf_image *out);

#endif
