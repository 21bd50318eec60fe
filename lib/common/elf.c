/*
 * elf.c - validating parser of ELF64 x86-64 executables (see rill/elf.h).
 *
 * The image is untrusted. Headers are copied out with memcpy before use, so
 * the image may sit at any alignment (an initrd file is only 4-aligned), and
 * every range check is done by subtraction against what is known to be in
 * bounds, so no field value can wrap a uint64_t past a check.
 */
#include <rill/elf.h>
#include <abi/errno.h>
#include <rill/string.h>

#define NOEXEC	(-RILL_ENOEXEC)

static bool is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* True when [off, off + size) lies inside [0, len). */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= (uint64_t)len - off;
}

/* True when [vaddr, vaddr + memsz) neither wraps nor passes top. */
static bool below_top(uint64_t vaddr, uint64_t memsz, uint64_t top)
{
	return vaddr <= top && memsz <= top - vaddr;
}

static int check_ehdr(const struct elf64_ehdr *eh, size_t len)
{
	if (memcmp(eh->e_ident, ELF_MAGIC, 4) != 0 ||
	    eh->e_ident[ELF_EI_CLASS] != ELF_CLASS64 ||
	    eh->e_ident[ELF_EI_DATA] != ELF_DATA2LSB ||
	    eh->e_ident[ELF_EI_VERSION] != ELF_EV_CURRENT ||
	    eh->e_version != ELF_EV_CURRENT ||
	    eh->e_machine != ELF_EM_X86_64)
		return NOEXEC;
	if (eh->e_type != ELF_ET_EXEC && eh->e_type != ELF_ET_DYN)
		return NOEXEC;
	if (eh->e_phentsize != sizeof(struct elf64_phdr) || eh->e_phnum == 0)
		return NOEXEC;
	/* phnum < 2^16 and phentsize == 56, so the product cannot wrap. */
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * eh->e_phentsize, len))
		return NOEXEC;
	return 0;
}

static int add_load(const struct elf64_phdr *ph, size_t len, uint64_t top,
		    struct elf_image *out)
{
	struct elf_segment *s;

	if (out->nseg >= ELF_MAX_SEGMENTS)
		return NOEXEC;
	if (ph->p_memsz == 0 || ph->p_filesz > ph->p_memsz)
		return NOEXEC;
	if (!in_file(ph->p_offset, ph->p_filesz, len))
		return NOEXEC;
	if (!below_top(ph->p_vaddr, ph->p_memsz, top))
		return NOEXEC;
	if (ph->p_align > 1 && !is_pow2(ph->p_align))
		return NOEXEC;
	if (ph->p_align >= ELF_PAGE_SIZE &&
	    (ph->p_vaddr - ph->p_offset) % ELF_PAGE_SIZE != 0)
		return NOEXEC;
	if (out->nseg > 0) {
		const struct elf_segment *prev = &out->seg[out->nseg - 1];

		/* Ascending, no byte in common; sharing a page is allowed. */
		if (ph->p_vaddr < prev->vaddr ||
		    ph->p_vaddr - prev->vaddr < prev->memsz)
			return NOEXEC;
	}
	s = &out->seg[out->nseg++];
	s->vaddr = ph->p_vaddr;
	s->memsz = ph->p_memsz;
	s->offset = ph->p_offset;
	s->filesz = ph->p_filesz;
	s->flags = ph->p_flags & (ELF_PF_R | ELF_PF_W | ELF_PF_X);
	s->align = ph->p_align;
	return 0;
}

static int set_tls(const struct elf64_phdr *ph, size_t len, uint64_t top,
		   struct elf_image *out)
{
	if (out->has_tls || ph->p_filesz > ph->p_memsz)
		return NOEXEC;
	if (!in_file(ph->p_offset, ph->p_filesz, len) ||
	    !below_top(ph->p_vaddr, ph->p_memsz, top))
		return NOEXEC;
	if (ph->p_align > 1 && !is_pow2(ph->p_align))
		return NOEXEC;
	out->has_tls = true;
	out->tls.vaddr = ph->p_vaddr;
	out->tls.memsz = ph->p_memsz;
	out->tls.offset = ph->p_offset;
	out->tls.filesz = ph->p_filesz;
	out->tls.flags = ph->p_flags & (ELF_PF_R | ELF_PF_W | ELF_PF_X);
	out->tls.align = ph->p_align;
	return 0;
}

static int check_interp(const struct elf64_phdr *ph, const unsigned char *img,
			size_t len, struct elf_image *out)
{
	const char *s;

	if (out->has_interp || ph->p_filesz == 0 ||
	    !in_file(ph->p_offset, ph->p_filesz, len))
		return NOEXEC;
	s = (const char *)img + ph->p_offset;
	if (strnlen(s, ph->p_filesz) != ph->p_filesz - 1)
		return NOEXEC;	/* not one NUL-terminated string */
	out->has_interp = true;
	return 0;
}

/* The entry point must be in an executable PT_LOAD. */
static bool entry_ok(const struct elf_image *im)
{
	for (unsigned i = 0; i < im->nseg; i++) {
		const struct elf_segment *s = &im->seg[i];

		if ((s->flags & ELF_PF_X) && im->entry >= s->vaddr &&
		    im->entry - s->vaddr < s->memsz)
			return true;
	}
	return false;
}

/* Without PT_PHDR: the table's address if a PT_LOAD maps its file bytes. */
static uint64_t phdr_from_loads(const struct elf_image *im, uint64_t phoff)
{
	uint64_t size = (uint64_t)im->phnum * im->phentsize;

	for (unsigned i = 0; i < im->nseg; i++) {
		const struct elf_segment *s = &im->seg[i];

		if (phoff >= s->offset && size <= s->filesz &&
		    phoff - s->offset <= s->filesz - size)
			return s->vaddr + (phoff - s->offset);
	}
	return 0;
}

int elf_parse(const void *img, size_t len, uint64_t user_top,
	      struct elf_image *out)
{
	const unsigned char *base = img;
	struct elf64_ehdr eh;
	bool has_phdr = false;
	const struct elf_segment *last;
	uint64_t end;
	int err;

	memset(out, 0, sizeof(*out));
	if (!img || len < sizeof(eh))
		return NOEXEC;
	memcpy(&eh, base, sizeof(eh));
	err = check_ehdr(&eh, len);
	if (err)
		return err;
	out->entry = eh.e_entry;
	out->type = eh.e_type;
	out->phnum = eh.e_phnum;
	out->phentsize = eh.e_phentsize;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		struct elf64_phdr ph;

		memcpy(&ph, base + eh.e_phoff + (uint64_t)i * sizeof(ph),
		       sizeof(ph));
		switch (ph.p_type) {
		case ELF_PT_LOAD:
			err = add_load(&ph, len, user_top, out);
			break;
		case ELF_PT_TLS:
			err = set_tls(&ph, len, user_top, out);
			break;
		case ELF_PT_INTERP:
			err = check_interp(&ph, base, len, out);
			break;
		case ELF_PT_PHDR:
			if (has_phdr)
				return NOEXEC;
			has_phdr = true;
			out->phdr_vaddr = ph.p_vaddr;
			break;
		default:
			break;	/* DYNAMIC, NOTE, GNU_STACK...: the caller's */
		}
		if (err)
			return err;
	}

	if (out->nseg == 0 || !entry_ok(out))
		return NOEXEC;
	if (!has_phdr)
		out->phdr_vaddr = phdr_from_loads(out, eh.e_phoff);

	/* The segments ascend, so the last one ends highest. */
	last = &out->seg[out->nseg - 1];
	end = last->vaddr + last->memsz;	/* <= user_top: cannot wrap */
	if (end > UINT64_MAX - (ELF_PAGE_SIZE - 1))
		return NOEXEC;
	out->lowest = out->seg[0].vaddr & ~(ELF_PAGE_SIZE - 1);
	out->highest = (end + ELF_PAGE_SIZE - 1) & ~(ELF_PAGE_SIZE - 1);
	return 0;
}
