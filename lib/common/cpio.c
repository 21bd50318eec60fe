/*
 * cpio.c - parser for cpio "newc" archives held in memory (see rill/cpio.h).
 *
 * Every length taken from the archive is compared against what is left of
 * it by subtraction, never by adding to an offset first, so no field value
 * can wrap a size_t and no check can be bypassed by overflow. All reads are
 * byte reads: the archive may sit at any alignment.
 */
#include <stdbool.h>
#include <rill/cpio.h>
#include <abi/errno.h>
#include <rill/string.h>

#define CPIO_MAGIC	"070701"
#define CPIO_MAGIC_CRC	"070702"
#define CPIO_TRAILER	"TRAILER!!!"

/* Field order after the 6-byte magic; each field is 8 hex digits. */
enum {
	F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE,
	F_DEVMAJOR, F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK,
	F_COUNT
};

/* Bytes needed to pad n up to a multiple of 4. */
static size_t pad4(size_t n)
{
	return (4 - (n & 3)) & 3;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses the 8 hex digits at p; false if any is not a hex digit. */
static bool parse_field(const char *p, uint32_t *val)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		int d = hex_value(p[i]);

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*val = v;
	return true;
}

/*
 * Validates the entry at off. Returns 0 for the trailer, which ends the
 * archive whatever follows its name, or 1 with the entry described in *out
 * and *next set to the offset of the following entry. *next may be past len
 * when the final data padding is missing: the next call then fails, as it
 * must, since an archive ends with a trailer.
 */
static int parse_entry(const char *base, size_t len, size_t off,
		       struct cpio_entry *out, size_t *next)
{
	const char *hdr, *name;
	uint32_t f[F_COUNT];
	size_t rest, namesize, size, skip;

	if (off > len || (off & 3) != 0)
		return -RILL_EINVAL;
	rest = len - off;
	if (rest < CPIO_HEADER_SIZE)
		return -RILL_EINVAL;
	hdr = base + off;
	if (memcmp(hdr, CPIO_MAGIC, 6) != 0 &&
	    memcmp(hdr, CPIO_MAGIC_CRC, 6) != 0)
		return -RILL_EINVAL;
	for (int i = 0; i < F_COUNT; i++)
		if (!parse_field(hdr + 6 + 8 * i, &f[i]))
			return -RILL_EINVAL;

	/* The name: namesize bytes, its only NUL the last one. */
	rest -= CPIO_HEADER_SIZE;
	namesize = f[F_NAMESIZE];
	if (namesize == 0 || namesize > rest)
		return -RILL_EINVAL;
	name = hdr + CPIO_HEADER_SIZE;
	if (name[namesize - 1] != '\0' ||
	    strnlen(name, namesize) != namesize - 1)
		return -RILL_EINVAL;
	if (namesize == sizeof(CPIO_TRAILER) &&
	    memcmp(name, CPIO_TRAILER, sizeof(CPIO_TRAILER)) == 0)
		return 0;
	rest -= namesize;

	/* Padding after the name, then the data. */
	skip = pad4(CPIO_HEADER_SIZE + namesize);
	size = f[F_FILESIZE];
	if (skip > rest || size > rest - skip)
		return -RILL_EINVAL;
	rest -= skip;

	out->name = name;
	out->namelen = namesize - 1;
	out->data = name + namesize + skip;
	out->size = size;
	out->mode = f[F_MODE];
	out->ino = f[F_INO];
	out->nlink = f[F_NLINK];
	out->uid = f[F_UID];
	out->gid = f[F_GID];
	out->mtime = f[F_MTIME];

	/* len - rest is where the data starts; its padding may run past len. */
	*next = (len - rest) + size;
	*next += pad4(*next);
	return 1;
}

int cpio_next(const void *archive, size_t len, size_t *offset,
	      struct cpio_entry *out)
{
	struct cpio_entry e;
	size_t next;
	int r;

	if (!archive || !offset)
		return -RILL_EINVAL;
	r = parse_entry(archive, len, *offset, &e, &next);
	if (r == 1) {
		*out = e;
		*offset = next;
	}
	return r;
}

/* Strips leading "/" and "./" (repeatedly); "." on its own becomes "". */
static void normalise(const char **s, size_t *n)
{
	for (;;) {
		if (*n >= 1 && (*s)[0] == '/') {
			(*s)++;
			(*n)--;
		} else if (*n >= 2 && (*s)[0] == '.' && (*s)[1] == '/') {
			*s += 2;
			*n -= 2;
		} else {
			break;
		}
	}
	if (*n == 1 && (*s)[0] == '.')
		*n = 0;
}

int cpio_find(const void *archive, size_t len, const char *path,
	      struct cpio_entry *out)
{
	struct cpio_entry e = { 0 }, match = { 0 };
	size_t offset = 0, plen;
	bool found = false;
	int r;

	if (!path)
		return -RILL_EINVAL;
	plen = strlen(path);
	normalise(&path, &plen);
	while ((r = cpio_next(archive, len, &offset, &e)) > 0) {
		const char *name = e.name;
		size_t nlen = e.namelen;

		normalise(&name, &nlen);
		if (nlen == plen && memcmp(name, path, plen) == 0) {
			match = e;
			found = true;
		}
	}
	if (r < 0)
		return r;
	if (!found)
		return -RILL_ENOENT;
	*out = match;
	return 0;
}
