/*
 * cpio.h - reading cpio "newc" archives held in memory (the initrd).
 *
 * The format (magic "070701", or "070702" for the variant with a data
 * checksum) is a sequence of entries, each a 110-byte ASCII header, the
 * NUL-terminated name, padding to a multiple of 4 bytes, the data, and
 * padding to a multiple of 4 again; offsets are relative to the start of the
 * archive. The entry named "TRAILER!!!" ends the archive.
 *
 * The archive is not trusted: no input makes these functions read outside
 * [archive, archive + len), and every malformed header is reported as
 * -RILL_EINVAL. Portable: built into the kernel, native programs and host
 * tests.
 */
#ifndef RILL_CPIO_H
#define RILL_CPIO_H

#include <stddef.h>
#include <stdint.h>

#define CPIO_HEADER_SIZE	110

struct cpio_entry {
	const char *name;	/* points into the archive, NUL-terminated */
	size_t namelen;		/* without the NUL */
	const void *data;	/* points into the archive */
	size_t size;
	uint32_t mode;		/* file type and permission bits, as in stat */
	uint32_t ino, nlink, uid, gid, mtime;
};

/*
 * Reads the entry at *offset (0 for the first one). Returns 1, fills *out and
 * advances *offset to the next entry; returns 0 at the trailer, leaving
 * *offset on it (so further calls keep returning 0) and *out untouched;
 * returns -RILL_EINVAL for a malformed or truncated archive, including one
 * that ends without a trailer, or a misaligned *offset. *out and *offset
 * change only when 1 is returned.
 *
 * Checks: the magic, that every field is 8 hex digits, namesize >= 1 with
 * the name's only NUL at namesize - 1, and that header, name and data lie
 * inside the archive. The 070702 checksum is not verified.
 */
int cpio_next(const void *archive, size_t len, size_t *offset,
	      struct cpio_entry *out);

/*
 * Looks up path. Leading "/" and "./" are ignored on both the path and the
 * entry names, and "." names the root, so "/bin/sh", "bin/sh" and
 * "./bin/sh" are the same file and "/", "." and "" find an entry named ".".
 * The whole archive is always walked: if a name occurs more than once the
 * last entry wins (as when extracting), and a malformed archive is reported
 * wherever the damage is. Returns 0 and fills *out if found, -RILL_ENOENT if
 * not, -RILL_EINVAL if path is NULL or the archive is malformed; *out is
 * written only on success.
 */
int cpio_find(const void *archive, size_t len, const char *path,
	      struct cpio_entry *out);

#endif
