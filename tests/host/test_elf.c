/*
 * test_elf.c - host tests of the ELF64 parser (lib/common/elf.c).
 *
 * Images are described by a struct spec (an ELF header, a program header
 * table, a file length) and rendered into a malloc'd buffer of exactly that
 * length, so AddressSanitizer catches any read past the end. Each rule of
 * elf_parse() is broken on its own next to a control that keeps it, and
 * every accepted image, including those the fuzz loops produce, is checked
 * against the promises of rill/elf.h. A real executable from the host
 * (/usr/bin/true, a PIE with an interpreter) is parsed when present.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rill/elf.h>
#include <abi/errno.h>
#include "support.h"

/* A passing ck_assert costs a message to Check's runner: not in hot loops. */
#define REQUIRE(c)							\
	do {								\
		if (!(c))						\
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c); \
	} while (0)

#define TOP		0x800000000000ull	/* user_top for most tests */
#define PAGE		0x1000ull
#define MAX_PH		40
#define NOEXEC		(-RILL_ENOEXEC)

struct spec {
	struct elf64_ehdr eh;
	struct elf64_phdr ph[MAX_PH];
	unsigned n;		/* entries written at e_phoff */
	size_t len;		/* file length */
	uint64_t interp_off;	/* where interp text goes, if interp_len */
	const char *interp;
	size_t interp_len;	/* bytes of interp written, NUL included */
};

/* Indexes of the default image's program headers. */
enum { P_PHDR, L_RO, L_TEXT, L_DATA, P_TLS, P_STACK, P_NOTE, DEFAULT_N };

static struct elf64_phdr phdr(uint32_t type, uint32_t flags, uint64_t off,
			      uint64_t vaddr, uint64_t filesz, uint64_t memsz,
			      uint64_t align)
{
	return (struct elf64_phdr){ .p_type = type, .p_flags = flags,
		.p_offset = off, .p_vaddr = vaddr, .p_paddr = vaddr,
		.p_filesz = filesz, .p_memsz = memsz, .p_align = align };
}

static void sync_phnum(struct spec *s)
{
	s->eh.e_phnum = (uint16_t)s->n;
	if (s->n > 0 && s->ph[0].p_type == ELF_PT_PHDR)
		s->ph[0].p_filesz = s->ph[0].p_memsz =
			(uint64_t)s->n * sizeof(struct elf64_phdr);
}

static void add_ph(struct spec *s, struct elf64_phdr ph)
{
	ck_assert_uint_lt(s->n, MAX_PH);
	s->ph[s->n++] = ph;
	sync_phnum(s);
}

static void del_ph(struct spec *s, unsigned i)
{
	memmove(&s->ph[i], &s->ph[i + 1], (s->n - i - 1) * sizeof(s->ph[0]));
	s->n--;
	sync_phnum(s);
}

/*
 * A static executable the way ld lays one out: headers, read-only, text and
 * data+bss, each page-aligned, a TLS template at the start of data.
 */
static void default_spec(struct spec *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->eh.e_ident, ELF_MAGIC, 4);
	s->eh.e_ident[ELF_EI_CLASS] = ELF_CLASS64;
	s->eh.e_ident[ELF_EI_DATA] = ELF_DATA2LSB;
	s->eh.e_ident[ELF_EI_VERSION] = ELF_EV_CURRENT;
	s->eh.e_type = ELF_ET_EXEC;
	s->eh.e_machine = ELF_EM_X86_64;
	s->eh.e_version = ELF_EV_CURRENT;
	s->eh.e_entry = 0x401010;
	s->eh.e_phoff = sizeof(struct elf64_ehdr);
	s->eh.e_ehsize = sizeof(struct elf64_ehdr);
	s->eh.e_phentsize = sizeof(struct elf64_phdr);
	s->len = 0x3000;
	add_ph(s, phdr(ELF_PT_PHDR, ELF_PF_R, 64, 0x400040, 0, 0, 8));
	add_ph(s, phdr(ELF_PT_LOAD, ELF_PF_R, 0, 0x400000, 0x1000, 0x1000, PAGE));
	add_ph(s, phdr(ELF_PT_LOAD, ELF_PF_R | ELF_PF_X, 0x1000, 0x401000,
		       0x1000, 0x1000, PAGE));
	add_ph(s, phdr(ELF_PT_LOAD, ELF_PF_R | ELF_PF_W, 0x2000, 0x402000,
		       0x800, 0x3000, PAGE));
	add_ph(s, phdr(ELF_PT_TLS, ELF_PF_R, 0x2000, 0x402000, 0x10, 0x40, 16));
	add_ph(s, phdr(ELF_PT_GNU_STACK, ELF_PF_R | ELF_PF_W, 0, 0, 0, 0, 16));
	add_ph(s, phdr(ELF_PT_NOTE, ELF_PF_R, 0x300, 0x400300, 0x20, 0x20, 4));
}

/* A PIE with an interpreter: addresses from 0, like gcc's default. */
static void dyn_spec(struct spec *s)
{
	default_spec(s);
	s->eh.e_type = ELF_ET_DYN;
	s->eh.e_entry -= 0x400000;
	for (unsigned i = 0; i < s->n; i++)
		if (s->ph[i].p_vaddr)
			s->ph[i].p_vaddr -= 0x400000;
	s->interp = "/lib/ld-rill.so.1";
	s->interp_len = strlen(s->interp) + 1;
	s->interp_off = 0x200;
	add_ph(s, phdr(ELF_PT_INTERP, ELF_PF_R, 0x200, 0x200, s->interp_len,
		       s->interp_len, 1));
	add_ph(s, phdr(ELF_PT_DYNAMIC, ELF_PF_R | ELF_PF_W, 0x2100, 0x2100,
		       0x100, 0x100, 8));
}

/* Copies src into dst[0..len) where it fits. */
static void put(unsigned char *dst, size_t len, uint64_t at, const void *src,
		size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (at + i >= at && at + i < len)
			dst[at + i] = ((const unsigned char *)src)[i];
}

/* The file bytes, malloc'd at exactly s->len. */
static unsigned char *render(const struct spec *s)
{
	unsigned char *p = malloc(s->len ? s->len : 1);

	REQUIRE(p);
	for (size_t i = 0; i < s->len; i++)
		p[i] = (unsigned char)(i * 7 + 1);	/* no NULs by chance */
	put(p, s->len, 0, &s->eh, sizeof(s->eh));
	for (unsigned i = 0; i < s->n; i++)
		put(p, s->len, s->eh.e_phoff + i * sizeof(s->ph[0]), &s->ph[i],
		    sizeof(s->ph[0]));
	if (s->interp_len)
		put(p, s->len, s->interp_off, s->interp, s->interp_len);
	return p;
}

/* The promises of elf_parse() about an image it accepted. */
static void check_accepted(const struct elf_image *im, size_t len, uint64_t top)
{
	const struct elf_segment *last;
	bool entry_found = false;

	REQUIRE(im->type == ELF_ET_EXEC || im->type == ELF_ET_DYN);
	REQUIRE(im->nseg >= 1 && im->nseg <= ELF_MAX_SEGMENTS);
	REQUIRE(im->phentsize == sizeof(struct elf64_phdr));
	REQUIRE(im->phnum >= im->nseg);
	for (unsigned i = 0; i < im->nseg; i++) {
		const struct elf_segment *sg = &im->seg[i];

		REQUIRE(sg->memsz > 0 && sg->filesz <= sg->memsz);
		REQUIRE(sg->offset <= len && sg->filesz <= len - sg->offset);
		REQUIRE(sg->vaddr <= top && sg->memsz <= top - sg->vaddr);
		REQUIRE((sg->flags & ~7u) == 0);
		REQUIRE(sg->align <= 1 || (sg->align & (sg->align - 1)) == 0);
		if (sg->align >= PAGE)
			REQUIRE((sg->vaddr - sg->offset) % PAGE == 0);
		if (i > 0)
			REQUIRE(sg->vaddr >= im->seg[i - 1].vaddr +
					     im->seg[i - 1].memsz);
		if ((sg->flags & ELF_PF_X) && im->entry >= sg->vaddr &&
		    im->entry < sg->vaddr + sg->memsz)
			entry_found = true;
	}
	REQUIRE(entry_found);
	last = &im->seg[im->nseg - 1];
	REQUIRE(im->lowest == (im->seg[0].vaddr & ~(PAGE - 1)));
	REQUIRE(im->highest % PAGE == 0);
	REQUIRE(im->highest >= last->vaddr + last->memsz);
	REQUIRE(im->highest - (last->vaddr + last->memsz) < PAGE);
	if (im->has_tls) {
		REQUIRE(im->tls.filesz <= im->tls.memsz);
		REQUIRE(im->tls.offset <= len &&
			im->tls.filesz <= len - im->tls.offset);
	}
}

/* elf_parse on an exact-length copy of buf; checks what it accepts. */
static int parse_buf(const unsigned char *buf, size_t len, uint64_t top,
		     struct elf_image *im)
{
	unsigned char *copy = malloc(len ? len : 1);
	int r;

	REQUIRE(copy);
	memcpy(copy, buf, len);
	memset(im, 0xa5, sizeof(*im));
	r = elf_parse(copy, len, top, im);
	REQUIRE(r == 0 || r == NOEXEC);
	if (r == 0)
		check_accepted(im, len, top);
	free(copy);
	return r;
}

static int parse_spec_top(const struct spec *s, uint64_t top,
			  struct elf_image *im)
{
	unsigned char *p = render(s);
	int r = elf_parse(p, s->len, top, im);

	REQUIRE(r == 0 || r == NOEXEC);
	if (r == 0)
		check_accepted(im, s->len, top);
	free(p);
	return r;
}

static int parse_spec(const struct spec *s)
{
	struct elf_image im;

	return parse_spec_top(s, TOP, &im);
}

/* Build the default image, apply stmt to spec s, expect the verdict. */
#define REJECT(stmt)						\
	do {							\
		default_spec(&s);				\
		stmt;						\
		ck_assert_msg(parse_spec(&s) == NOEXEC, "%s", #stmt); \
	} while (0)
#define ACCEPT(stmt)						\
	do {							\
		default_spec(&s);				\
		stmt;						\
		ck_assert_msg(parse_spec(&s) == 0, "%s", #stmt); \
	} while (0)

/* --- accepted images ----------------------------------------------------- */

START_TEST(accepts_static_exec)
{
	struct spec s;
	struct elf_image im;

	default_spec(&s);
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.entry, 0x401010);
	ck_assert_uint_eq(im.type, ELF_ET_EXEC);
	ck_assert_uint_eq(im.nseg, 3);
	ck_assert_uint_eq(im.seg[0].vaddr, 0x400000);
	ck_assert_uint_eq(im.seg[0].flags, ELF_PF_R);
	ck_assert_uint_eq(im.seg[1].vaddr, 0x401000);
	ck_assert_uint_eq(im.seg[1].offset, 0x1000);
	ck_assert_uint_eq(im.seg[1].filesz, 0x1000);
	ck_assert_uint_eq(im.seg[1].flags, ELF_PF_R | ELF_PF_X);
	ck_assert_uint_eq(im.seg[2].vaddr, 0x402000);
	ck_assert_uint_eq(im.seg[2].offset, 0x2000);
	ck_assert_uint_eq(im.seg[2].filesz, 0x800);
	ck_assert_uint_eq(im.seg[2].memsz, 0x3000);
	ck_assert_uint_eq(im.seg[2].flags, ELF_PF_R | ELF_PF_W);
	ck_assert_uint_eq(im.seg[2].align, PAGE);
	ck_assert(im.has_tls);
	ck_assert_uint_eq(im.tls.vaddr, 0x402000);
	ck_assert_uint_eq(im.tls.offset, 0x2000);
	ck_assert_uint_eq(im.tls.filesz, 0x10);
	ck_assert_uint_eq(im.tls.memsz, 0x40);
	ck_assert_uint_eq(im.tls.align, 16);
	ck_assert_uint_eq(im.phdr_vaddr, 0x400040);
	ck_assert_uint_eq(im.phnum, DEFAULT_N);
	ck_assert_uint_eq(im.phentsize, 56);
	ck_assert(!im.has_interp);
	ck_assert_uint_eq(im.lowest, 0x400000);
	ck_assert_uint_eq(im.highest, 0x405000);

	/* Unknown flag bits are dropped from the result. */
	s.ph[L_TEXT].p_flags |= 0xf0000000u;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.seg[1].flags, ELF_PF_R | ELF_PF_X);
}
END_TEST

START_TEST(accepts_pie_with_interp)
{
	struct spec s;
	struct elf_image im;

	dyn_spec(&s);
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.type, ELF_ET_DYN);
	ck_assert(im.has_interp);
	ck_assert_uint_eq(im.entry, 0x1010);
	ck_assert_uint_eq(im.seg[0].vaddr, 0);
	ck_assert_uint_eq(im.lowest, 0);
	ck_assert_uint_eq(im.highest, 0x5000);
	ck_assert_uint_eq(im.phdr_vaddr, 0x40);
	/* A PIE without an interpreter (static-pie) is fine too. */
	del_ph(&s, s.n - 2);
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert(!im.has_interp);
}
END_TEST

START_TEST(phdr_vaddr_sources)
{
	struct spec s;
	struct elf_image im;

	/* PT_PHDR wins, even when it disagrees with the loads. */
	default_spec(&s);
	s.ph[P_PHDR].p_vaddr = 0x400080;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.phdr_vaddr, 0x400080);

	/* Without it: found through the load that maps the table. */
	default_spec(&s);
	del_ph(&s, P_PHDR);
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.phdr_vaddr, 0x400040);

	/* Table in the data segment's file bytes. */
	s.eh.e_phoff = 0x2100;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.phdr_vaddr, 0x402100);

	/* Ending exactly at the end of the data's file bytes, and one past. */
	s.eh.e_phoff = 0x2800 - s.n * 56;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.phdr_vaddr, 0x402800 - s.n * 56);
	s.eh.e_phoff += 8;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.phdr_vaddr, 0);

	/* In the file but in no load: unknown. */
	s.eh.e_phoff = 0x2900;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.phdr_vaddr, 0);

	/* Two PT_PHDR: rejected. */
	default_spec(&s);
	add_ph(&s, s.ph[P_PHDR]);
	ck_assert_int_eq(parse_spec(&s), NOEXEC);
}
END_TEST

/* The image may sit at any alignment (an initrd file is 4-aligned). */
START_TEST(misaligned_buffer)
{
	struct spec s;
	unsigned char *p, *big;
	struct elf_image im;

	default_spec(&s);
	p = render(&s);
	big = malloc(s.len + 8);
	for (size_t shift = 0; shift < 8; shift++) {
		memcpy(big + shift, p, s.len);
		ck_assert_int_eq(elf_parse(big + shift, s.len, TOP, &im), 0);
		ck_assert_uint_eq(im.nseg, 3);
	}
	free(big);
	free(p);
}
END_TEST

/* --- the ELF header -------------------------------------------------------- */

START_TEST(too_short)
{
	struct spec s;
	unsigned char *p;
	struct elf_image im;

	default_spec(&s);
	p = render(&s);
	for (size_t len = 0; len < sizeof(struct elf64_ehdr); len++)
		ck_assert_int_eq(parse_buf(p, len, TOP, &im), NOEXEC);
	ck_assert_int_eq(elf_parse(NULL, 0, TOP, &im), NOEXEC);
	ck_assert_int_eq(elf_parse(NULL, 4096, TOP, &im), NOEXEC);
	free(p);
}
END_TEST

START_TEST(header_rules)
{
	struct spec s;

	for (int i = 0; i < 4; i++) {
		default_spec(&s);
		s.eh.e_ident[i] ^= 0x20;
		ck_assert_int_eq(parse_spec(&s), NOEXEC);
	}
	REJECT(s.eh.e_ident[ELF_EI_CLASS] = 1);		/* ELFCLASS32 */
	REJECT(s.eh.e_ident[ELF_EI_CLASS] = 0);
	REJECT(s.eh.e_ident[ELF_EI_CLASS] = 3);
	REJECT(s.eh.e_ident[ELF_EI_DATA] = 2);		/* big-endian */
	REJECT(s.eh.e_ident[ELF_EI_DATA] = 0);
	REJECT(s.eh.e_ident[ELF_EI_VERSION] = 0);
	REJECT(s.eh.e_ident[ELF_EI_VERSION] = 2);
	REJECT(s.eh.e_version = 0);
	REJECT(s.eh.e_version = 2);
	REJECT(s.eh.e_machine = 3);			/* EM_386 */
	REJECT(s.eh.e_machine = 183);			/* EM_AARCH64 */
	REJECT(s.eh.e_machine = 0);
	REJECT(s.eh.e_type = 0);			/* ET_NONE */
	REJECT(s.eh.e_type = 1);			/* ET_REL */
	REJECT(s.eh.e_type = 4);			/* ET_CORE */
	REJECT(s.eh.e_type = 0xfe00);
	REJECT(s.eh.e_phentsize = 0);
	REJECT(s.eh.e_phentsize = 32);
	REJECT(s.eh.e_phentsize = 55);
	REJECT(s.eh.e_phentsize = 57);
	REJECT(s.eh.e_phentsize = 64);
	REJECT(s.eh.e_phnum = 0);
	/* The table must be in the file, whatever the sizes. */
	REJECT(s.eh.e_phoff = s.len);
	REJECT(s.eh.e_phoff = s.len - DEFAULT_N * 56 + 1);
	ACCEPT(s.eh.e_phoff = s.len - DEFAULT_N * 56);
	REJECT(s.eh.e_phoff = UINT64_MAX);
	REJECT(s.eh.e_phoff = UINT64_MAX - 55);
	REJECT(s.eh.e_phoff = UINT64_MAX - 10 * 56 + 1);
	REJECT(s.eh.e_phoff = 1ull << 63);
	REJECT(s.eh.e_phnum = 0xffff);			/* PN_XNUM */
	REJECT(s.eh.e_phnum = (uint16_t)(s.len / 56));
	/* What is not checked: OS/ABI, flags, section headers, ehsize. */
	ACCEPT(s.eh.e_ident[ELF_EI_OSABI] = 3);
	ACCEPT(s.eh.e_flags = 0xffffffffu);
	ACCEPT(s.eh.e_shoff = UINT64_MAX);
	ACCEPT(s.eh.e_shnum = 0xffff);
	ACCEPT(s.eh.e_ehsize = 0);
	/* A phnum smaller than the table just hides entries. */
	ACCEPT(s.eh.e_phnum = L_TEXT + 1);
	REJECT(s.eh.e_phnum = L_RO);			/* no loads left */
}
END_TEST

/* --- PT_LOAD rules --------------------------------------------------------- */

START_TEST(load_count)
{
	struct spec s;
	struct elf_image im;

	/* No PT_LOAD at all. */
	default_spec(&s);
	s.ph[L_RO].p_type = ELF_PT_NOTE;
	s.ph[L_TEXT].p_type = ELF_PT_NOTE;
	s.ph[L_DATA].p_type = ELF_PT_NOTE;
	ck_assert_int_eq(parse_spec(&s), NOEXEC);

	/* Exactly one: the text. */
	default_spec(&s);
	s.ph[L_RO].p_type = ELF_PT_NULL;
	s.ph[L_DATA].p_type = 0x60000000u;	/* unknown: ignored */
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.nseg, 1);
	ck_assert_uint_eq(im.phdr_vaddr, 0x400040);	/* from PT_PHDR */

	/* ELF_MAX_SEGMENTS, then one more. */
	for (unsigned n = 15; n <= 17; n++) {
		memset(&s, 0, sizeof(s));
		default_spec(&s);
		s.n = 0;
		s.len = (n + 1) * PAGE;
		for (unsigned i = 0; i < n; i++)
			add_ph(&s, phdr(ELF_PT_LOAD, ELF_PF_R | ELF_PF_X,
					i * PAGE, 0x400000 + i * PAGE, 0x100,
					0x100, PAGE));
		s.eh.e_entry = 0x400000 + (n - 1) * PAGE;
		ck_assert_int_eq(parse_spec_top(&s, TOP, &im),
				 n <= ELF_MAX_SEGMENTS ? 0 : NOEXEC);
		if (n <= ELF_MAX_SEGMENTS) {
			ck_assert_uint_eq(im.nseg, n);
			ck_assert_uint_eq(im.highest, 0x400000 + n * PAGE);
		}
	}
}
END_TEST

START_TEST(load_sizes_and_bounds)
{
	struct spec s;
	struct elf_image im;

	REJECT(s.ph[L_DATA].p_filesz = s.ph[L_DATA].p_memsz + 1);
	ACCEPT(s.ph[L_DATA].p_filesz = 0x1000);		/* to the end */
	ACCEPT(s.ph[L_DATA].p_filesz = 0);		/* all bss */
	REJECT(s.ph[L_DATA].p_memsz = 0; s.ph[L_DATA].p_filesz = 0);
	ACCEPT(s.ph[L_DATA].p_memsz = 1; s.ph[L_DATA].p_filesz = 1);
	/* File range. */
	REJECT(s.ph[L_DATA].p_filesz = 0x1001; s.ph[L_DATA].p_memsz = 0x3000);
	REJECT(s.ph[L_DATA].p_offset = 0x3000);		/* offset == len */
	ACCEPT(s.ph[L_DATA].p_offset = 0x3000; s.ph[L_DATA].p_filesz = 0);
	REJECT(s.ph[L_DATA].p_offset = 0x4000; s.ph[L_DATA].p_filesz = 0);
	REJECT(s.ph[L_DATA].p_offset = UINT64_MAX - 0xfff);	/* wraps */
	REJECT(s.ph[L_DATA].p_offset = (UINT64_MAX - 0x7ff) & ~0xfffull;
	       s.ph[L_DATA].p_filesz = 0x1000);
	REJECT(s.ph[L_DATA].p_filesz = UINT64_MAX;
	       s.ph[L_DATA].p_memsz = UINT64_MAX);
	/* Against user_top. */
	default_spec(&s);
	ck_assert_int_eq(parse_spec_top(&s, 0x405000, &im), 0);
	ck_assert_int_eq(parse_spec_top(&s, 0x404fff, &im), NOEXEC);
	ck_assert_int_eq(parse_spec_top(&s, 0x400000, &im), NOEXEC);
	ck_assert_int_eq(parse_spec_top(&s, 0, &im), NOEXEC);
	REJECT(s.ph[L_DATA].p_memsz = TOP);
	REJECT(s.ph[L_DATA].p_vaddr = TOP; s.ph[L_DATA].p_offset = 0);
	REJECT(s.ph[L_DATA].p_memsz = UINT64_MAX - 0x402000 + 1);	/* wraps to 0 */
	REJECT(s.ph[L_DATA].p_memsz = UINT64_MAX);
	/* With no user_top to speak of, wrapping must still be caught. */
	default_spec(&s);
	s.ph[L_DATA].p_memsz = UINT64_MAX - 0x402000 + 1;
	ck_assert_int_eq(parse_spec_top(&s, UINT64_MAX, &im), NOEXEC);
	s.ph[L_DATA].p_memsz = UINT64_MAX - 0x402000;	/* ends at the top */
	ck_assert_int_eq(parse_spec_top(&s, UINT64_MAX, &im), NOEXEC);	/* page rounding */
	s.ph[L_DATA].p_memsz = UINT64_MAX - 0x402000 - 0xfff;
	ck_assert_int_eq(parse_spec_top(&s, UINT64_MAX, &im), 0);
	ck_assert_uint_eq(im.highest, UINT64_MAX - 0xfff);
}
END_TEST

START_TEST(load_alignment)
{
	struct spec s;

	/* vaddr and offset must agree modulo the page size... */
	REJECT(s.ph[L_DATA].p_offset = 0x2008);
	REJECT(s.ph[L_DATA].p_vaddr = 0x402008);
	REJECT(s.ph[L_TEXT].p_offset = 0x800; s.ph[L_TEXT].p_filesz = 0x800);
	ACCEPT(s.ph[L_DATA].p_offset = 0x1234; s.ph[L_DATA].p_vaddr = 0x402234;
	       s.ph[L_TEXT].p_memsz = 0x1234);
	/* ...whatever larger power of two p_align is... */
	ACCEPT(s.ph[L_TEXT].p_align = 0x200000);
	REJECT(s.ph[L_TEXT].p_align = 0x200000; s.ph[L_TEXT].p_offset = 0x1800;
	       s.ph[L_TEXT].p_filesz = 0x800);
	/* ...but not when it is below a page (the loader copies). */
	ACCEPT(s.ph[L_DATA].p_offset = 0x2008; s.ph[L_DATA].p_align = 8);
	ACCEPT(s.ph[L_DATA].p_offset = 0x2008; s.ph[L_DATA].p_align = 0x800);
	ACCEPT(s.ph[L_DATA].p_offset = 0x2008; s.ph[L_DATA].p_align = 1);
	ACCEPT(s.ph[L_DATA].p_offset = 0x2008; s.ph[L_DATA].p_align = 0);
	/* p_align itself: 0, 1 or a power of two. */
	REJECT(s.ph[L_DATA].p_align = 3);
	REJECT(s.ph[L_DATA].p_align = 0x1001);
	REJECT(s.ph[L_DATA].p_align = 0x3000);
	REJECT(s.ph[L_DATA].p_align = UINT64_MAX);
	ACCEPT(s.ph[L_DATA].p_align = 1ull << 63);
	ACCEPT(s.ph[L_DATA].p_align = 2);
}
END_TEST

START_TEST(load_order_and_overlap)
{
	struct spec s;
	struct elf_image im;

	/* Out of order. */
	default_spec(&s);
	{
		struct elf64_phdr t = s.ph[L_TEXT];

		s.ph[L_TEXT] = s.ph[L_DATA];
		s.ph[L_DATA] = t;
	}
	ck_assert_int_eq(parse_spec(&s), NOEXEC);
	/* Same start, and one byte of overlap. */
	REJECT(s.ph[L_DATA].p_vaddr = 0x401000; s.ph[L_DATA].p_offset = 0x1000);
	REJECT(s.ph[L_TEXT].p_memsz = 0x1001);
	REJECT(s.ph[L_RO].p_memsz = 0x2001);
	/* Containing the next one entirely. */
	REJECT(s.ph[L_RO].p_memsz = 0x10000);
	/* Exactly adjacent, and sharing a page without sharing a byte. */
	ACCEPT(s.ph[L_TEXT].p_memsz = 0x1000);
	default_spec(&s);
	s.ph[L_TEXT].p_filesz = s.ph[L_TEXT].p_memsz = 0x800;
	s.ph[L_DATA].p_vaddr = 0x401800;
	s.ph[L_DATA].p_offset = 0x1800;
	s.ph[L_DATA].p_filesz = 0x100;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.seg[2].vaddr, 0x401800);
	ck_assert_uint_eq(im.highest, 0x405000);
	s.ph[L_DATA].p_vaddr = 0x4017ff;
	s.ph[L_DATA].p_offset = 0x17ff;
	ck_assert_int_eq(parse_spec(&s), NOEXEC);
	/* Overlap in the file is fine (headers in the first load, say). */
	ACCEPT(s.ph[L_TEXT].p_offset = 0; s.ph[L_TEXT].p_filesz = 0x1000;
	       s.ph[L_TEXT].p_vaddr = 0x401000; s.ph[L_RO].p_offset = 0);
	/* A lower segment after a non-load header is still compared. */
	default_spec(&s);
	add_ph(&s, phdr(ELF_PT_LOAD, ELF_PF_R, 0, 0x300000, 0x100, 0x100, PAGE));
	ck_assert_int_eq(parse_spec(&s), NOEXEC);
	default_spec(&s);
	add_ph(&s, phdr(ELF_PT_LOAD, ELF_PF_R, 0, 0x600000, 0x100, 0x100, PAGE));
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert_uint_eq(im.nseg, 4);
	ck_assert_uint_eq(im.highest, 0x601000);
}
END_TEST

START_TEST(entry_point)
{
	struct spec s;

	ACCEPT(s.eh.e_entry = 0x401000);
	ACCEPT(s.eh.e_entry = 0x401fff);
	REJECT(s.eh.e_entry = 0x402000);		/* data: not X */
	REJECT(s.eh.e_entry = 0x400fff);		/* rodata */
	REJECT(s.eh.e_entry = 0);
	REJECT(s.eh.e_entry = 0x500000);
	REJECT(s.eh.e_entry = UINT64_MAX);
	REJECT(s.ph[L_TEXT].p_flags = ELF_PF_R);
	ACCEPT(s.ph[L_TEXT].p_flags = ELF_PF_X);	/* X alone */
	/* In the bss part of an executable segment: still inside. */
	ACCEPT(s.ph[L_TEXT].p_filesz = 0x10; s.eh.e_entry = 0x401800);
}
END_TEST

/* --- other program headers ------------------------------------------------ */

START_TEST(tls_rules)
{
	struct spec s;
	struct elf_image im;

	default_spec(&s);
	del_ph(&s, P_TLS);
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert(!im.has_tls);

	REJECT(add_ph(&s, s.ph[P_TLS]));		/* two */
	REJECT(s.ph[P_TLS].p_filesz = 0x41);
	REJECT(s.ph[P_TLS].p_offset = 0x2ff8);		/* past the file */
	REJECT(s.ph[P_TLS].p_offset = UINT64_MAX - 4);
	REJECT(s.ph[P_TLS].p_vaddr = UINT64_MAX - 0x10);
	REJECT(s.ph[P_TLS].p_vaddr = TOP);
	REJECT(s.ph[P_TLS].p_align = 24);
	ACCEPT(s.ph[P_TLS].p_align = 0);
	ACCEPT(s.ph[P_TLS].p_align = 64);
	ACCEPT(s.ph[P_TLS].p_filesz = 0; s.ph[P_TLS].p_memsz = 0);
	ACCEPT(s.ph[P_TLS].p_offset = 0x2ff0);		/* to the end */
}
END_TEST

START_TEST(interp_rules)
{
	struct spec s;
	struct elf_image im;

	dyn_spec(&s);
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert(im.has_interp);
#define IP (s.n - 2)	/* index of PT_INTERP in dyn_spec */
#define REJECT_DYN(stmt)					\
	do {							\
		dyn_spec(&s);					\
		stmt;						\
		ck_assert_msg(parse_spec(&s) == NOEXEC, "%s", #stmt); \
	} while (0)
	REJECT_DYN(s.ph[IP].p_filesz = 0);
	REJECT_DYN(s.ph[IP].p_filesz -= 1);		/* no NUL at the end */
	REJECT_DYN(s.ph[IP].p_filesz += 1);		/* NUL before the end */
	REJECT_DYN(s.interp = "/lib\0/ld.so"; s.interp_len = 12;
		   s.ph[IP].p_filesz = 12);
	REJECT_DYN(s.ph[IP].p_offset = 0x3000);
	REJECT_DYN(s.ph[IP].p_offset = 0x2ff8; s.interp_off = 0x2ff8);
	REJECT_DYN(s.ph[IP].p_offset = UINT64_MAX - 3);
	REJECT_DYN(add_ph(&s, s.ph[IP]));		/* two */
	/* One byte: the empty string. */
	dyn_spec(&s);
	s.interp = "";
	s.interp_len = 1;
	s.ph[IP].p_filesz = 1;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
	ck_assert(im.has_interp);
	/* Ending at the last byte of the file. */
	dyn_spec(&s);
	s.interp_off = s.ph[IP].p_offset = s.len - s.interp_len;
	ck_assert_int_eq(parse_spec_top(&s, TOP, &im), 0);
#undef IP
}
END_TEST

/* --- truncation and fuzzing ---------------------------------------------- */

/* Parses every prefix of p[0..len): accepted exactly from need bytes on
 * (need 0: find it), and then always with the same result. */
static size_t check_truncations(const unsigned char *p, size_t len,
				uint64_t top, size_t need)
{
	struct elf_image full, im;
	size_t first_ok = SIZE_MAX;

	REQUIRE(parse_buf(p, len, top, &full) == 0);
	for (size_t l = 0; l <= len; l++) {
		int r = parse_buf(p, l, top, &im);

		if (r == 0) {
			if (first_ok == SIZE_MAX)
				first_ok = l;
			REQUIRE(memcmp(&im, &full, sizeof(im)) == 0);
		} else {
			REQUIRE(first_ok == SIZE_MAX);	/* monotonic */
		}
	}
	if (need)
		REQUIRE(first_ok == need);
	return first_ok;
}

START_TEST(truncated_at_every_offset)
{
	struct spec s;
	unsigned char *p;

	/* The data segment's file bytes end last, at 0x2800. */
	default_spec(&s);
	p = render(&s);
	check_truncations(p, s.len, TOP, 0x2800);
	free(p);
	dyn_spec(&s);
	p = render(&s);
	check_truncations(p, s.len, TOP, 0x2800);
	free(p);
	/* Now the program header table is last. */
	default_spec(&s);
	s.ph[L_DATA].p_filesz = 0x100;
	s.ph[P_TLS].p_filesz = 0x10;
	s.eh.e_phoff = 0x2400;
	p = render(&s);
	check_truncations(p, s.len, TOP, 0x2400 + DEFAULT_N * 56);
	free(p);
}
END_TEST

static uint64_t interesting(size_t len)
{
	static const uint64_t v[] = {
		0, 1, 2, 3, 7, 8, 16, 55, 56, 57, 63, 64, 0xfff, 0x1000, 0x1001,
		0x2000, 0x2800, 0x400000, 0x401000, 0x401010, 0x402000,
		TOP - 1, TOP, TOP + 1, 1ull << 63, UINT64_MAX - 0x1000,
		UINT64_MAX - 1, UINT64_MAX, 0xffffffffull, 0x100000000ull,
	};
	uint64_t k = rng_below(sizeof(v) / sizeof(v[0]) + 3);

	if (k < sizeof(v) / sizeof(v[0]))
		return v[k];
	if (k == sizeof(v) / sizeof(v[0]))
		return len + rng_below(9) - 4;
	if (k == sizeof(v) / sizeof(v[0]) + 1)
		return rng_below(len + 1);
	return rng_next();
}

/* Writes an interesting value over a random field of the headers. */
static void mutate_field(unsigned char *p, size_t len, unsigned nph)
{
	/* Field (offset, size) in the ELF header, then in a program header. */
	static const unsigned char eh_fields[][2] = {
		{ 4, 1 }, { 5, 1 }, { 6, 1 }, { 16, 2 }, { 18, 2 }, { 20, 4 },
		{ 24, 8 }, { 32, 8 }, { 54, 2 }, { 56, 2 },
	};
	static const unsigned char ph_fields[][2] = {
		{ 0, 4 }, { 4, 4 }, { 8, 8 }, { 16, 8 }, { 32, 8 }, { 40, 8 },
		{ 48, 8 },
	};
	uint64_t v = interesting(len);
	size_t at, size;

	if (rng_below(4) == 0) {
		unsigned k = (unsigned)rng_below(sizeof(eh_fields) / 2);

		at = eh_fields[k][0];
		size = eh_fields[k][1];
	} else {
		unsigned k = (unsigned)rng_below(sizeof(ph_fields) / 2);

		at = 64 + rng_below(nph) * 56 + ph_fields[k][0];
		size = ph_fields[k][1];
		if (k == 0 && rng_below(2))	/* a type that matters */
			v = (uint64_t[]){ 1, 3, 6, 7, 2 }[rng_below(5)];
	}
	if (at + size <= len)
		memcpy(p + at, &v, size);	/* little-endian host */
}

static void fuzz_image(const struct spec *s, uint64_t seed, int iters)
{
	unsigned char *p = render(s), *m = malloc(s->len);
	size_t hdr_bytes = 64 + s->n * 56;
	int ok = 0, bad = 0;
	struct elf_image im;

	rng_seed(seed);
	for (int iter = 0; iter < iters; iter++) {
		size_t len = s->len;
		int n = 1 + (int)rng_below(3);

		memcpy(m, p, s->len);
		while (n--) {
			switch (rng_below(4)) {
			case 0:	/* a random byte in the headers */
				m[rng_below(hdr_bytes)] = (unsigned char)rng_next();
				break;
			case 1:	/* a bit flip anywhere in the headers */
				m[rng_below(hdr_bytes)] ^=
					(unsigned char)(1u << rng_below(8));
				break;
			default:
				mutate_field(m, s->len, s->n);
				break;
			}
		}
		if (rng_below(8) == 0)
			len = rng_below(s->len + 1);
		if (parse_buf(m, len, rng_below(4) ? TOP : UINT64_MAX, &im) == 0)
			ok++;
		else
			bad++;
	}
	ck_assert_int_gt(ok, iters / 20);
	ck_assert_int_gt(bad, iters / 4);
	free(m);
	free(p);
}

START_TEST(fuzz_mutations)
{
	struct spec s;

	default_spec(&s);
	fuzz_image(&s, 0xe1f0001ull, 40000);
	dyn_spec(&s);
	fuzz_image(&s, 0xe1f0002ull, 40000);
}
END_TEST

/* Random bytes behind a valid identification. */
START_TEST(fuzz_random)
{
	struct spec s;
	unsigned char *p;
	unsigned char buf[1024];
	struct elf_image im;

	default_spec(&s);
	p = render(&s);
	rng_seed(0xe1f0003ull);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = rng_below(sizeof(buf) + 1);

		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rng_next();
		/* keep a prefix of the valid header, so later checks run */
		memcpy(buf, p, len < 64 ? len : rng_below(65));
		if (len >= 64 && rng_below(2)) {
			uint64_t phoff = rng_below(len);
			uint16_t phnum = (uint16_t)rng_below(20);

			memcpy(buf + 32, &phoff, 8);
			memcpy(buf + 56, &phnum, 2);
		}
		parse_buf(buf, len, TOP, &im);
	}
	free(p);
}
END_TEST

/* --- a real executable ------------------------------------------------------ */

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return p;
}

/* A real binary of this host, parsed whole. Absent is a skip, never a
 * pass: nothing was parsed. */
static void parse_host_binary(const char *path, const char *func)
{
	struct elf_image im;
	size_t len = 0, need;
	unsigned char *p = read_file(path, &len);

	if (!p) {
		host_skip(func, "%s is absent on this host", path);
		return;
	}
	ck_assert_msg(len >= 4 && memcmp(p, ELF_MAGIC, 4) == 0, "%s is not ELF", path);
	ck_assert_msg(parse_buf(p, len, TOP, &im) == 0, "%s", path);
	if (im.type == ELF_ET_DYN)	/* a PIE: dynamically linked */
		ck_assert_msg(im.has_interp, "%s", path);
	ck_assert_uint_ne(im.phdr_vaddr, 0);
	ck_assert_uint_ge(im.nseg, 2);
	/* Accepted from the end of the last file range on. */
	if (len <= 256 * 1024) {
		need = check_truncations(p, len, TOP, 0);
		ck_assert_uint_le(need, len);
	}
	free(p);
}

/* Debian's true is a PIE with an interpreter. */
START_TEST(host_binary_true)
{
	struct elf_image im;
	size_t len = 0;
	unsigned char *p = read_file("/usr/bin/true", &len);

	if (!p)
		HOST_SKIP("/usr/bin/true is absent on this host");
	ck_assert_int_eq(parse_buf(p, len, TOP, &im), 0);
	ck_assert_uint_eq(im.type, ELF_ET_DYN);
	ck_assert(im.has_interp);
	free(p);
	parse_host_binary("/usr/bin/true", __func__);
}
END_TEST

START_TEST(host_binary_busybox)
{
	parse_host_binary("/bin/busybox", __func__);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("elf");
	TCase *tc = tcase_create("core");
	TCase *fz = tcase_create("fuzz");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, accepts_static_exec);
	tcase_add_test(tc, accepts_pie_with_interp);
	tcase_add_test(tc, phdr_vaddr_sources);
	tcase_add_test(tc, misaligned_buffer);
	tcase_add_test(tc, too_short);
	tcase_add_test(tc, header_rules);
	tcase_add_test(tc, load_count);
	tcase_add_test(tc, load_sizes_and_bounds);
	tcase_add_test(tc, load_alignment);
	tcase_add_test(tc, load_order_and_overlap);
	tcase_add_test(tc, entry_point);
	tcase_add_test(tc, tls_rules);
	tcase_add_test(tc, interp_rules);
	tcase_add_test(tc, host_binary_true);
	tcase_add_test(tc, host_binary_busybox);
	tcase_add_test(fz, truncated_at_every_offset);
	tcase_add_test(fz, fuzz_mutations);
	tcase_add_test(fz, fuzz_random);
	tcase_set_timeout(tc, 60);
	tcase_set_timeout(fz, 120);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, fz);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
