/*
 * test_cpio.c - host tests of the cpio "newc" parser (lib/common/cpio.c).
 *
 * Archives are built in memory by a small writer that mirrors
 * tools/mkcpio.py, then damaged on purpose. Every parse runs on a malloc'd
 * copy of exactly the bytes under test, so AddressSanitizer catches any
 * read past the end. Each walk also checks the invariants a caller relies
 * on: names and data inside the archive, names NUL-terminated, offsets
 * aligned and increasing, and a clean error or trailer at the end.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rill/cpio.h>
#include <abi/errno.h>
#include "support.h"

/*
 * For hot loops: a passing ck_assert costs a message to Check's runner
 * (_mark_point), which would dominate the fuzz tests.
 */
#define REQUIRE(c)							\
	do {								\
		if (!(c))						\
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c); \
	} while (0)

#define S_DIR	0040755u
#define S_REG	0100644u
#define S_EXE	0100755u
#define S_LNK	0120777u

/* Field indexes in the header, after the 6-byte magic. */
enum {
	F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE,
	F_DEVMAJOR, F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK,
	F_COUNT
};

/* --- archive writer ------------------------------------------------------ */

struct cbuf {
	unsigned char *p;
	size_t len, cap;
	const char *magic;	/* "070701" unless a test changes it */
	int lower;		/* write hex digits in lower case */
	uint32_t next_ino;
};

static void cb_init(struct cbuf *b)
{
	memset(b, 0, sizeof(*b));
	b->magic = "070701";
	b->next_ino = 1;
}

static void cb_put(struct cbuf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void cb_pad(struct cbuf *b)
{
	static const unsigned char zero[4];

	cb_put(b, zero, (4 - b->len % 4) % 4);
}

/* One entry with explicit header values; returns the header's offset. */
static size_t cb_entry_ex(struct cbuf *b, const char *name, uint32_t mode,
			  const void *data, size_t size, uint32_t uid,
			  uint32_t gid, uint32_t nlink, uint32_t mtime)
{
	uint32_t f[F_COUNT] = { 0 };
	char hdr[CPIO_HEADER_SIZE + 1];
	size_t at = b->len;
	int n;

	f[F_INO] = strcmp(name, "TRAILER!!!") ? b->next_ino++ : 0;
	f[F_MODE] = mode;
	f[F_UID] = uid;
	f[F_GID] = gid;
	f[F_NLINK] = nlink;
	f[F_MTIME] = mtime;
	f[F_FILESIZE] = (uint32_t)size;
	f[F_NAMESIZE] = (uint32_t)strlen(name) + 1;
	n = snprintf(hdr, sizeof(hdr), "%s", b->magic);
	for (int i = 0; i < F_COUNT; i++)
		n += snprintf(hdr + n, sizeof(hdr) - n,
			      b->lower ? "%08x" : "%08X", f[i]);
	ck_assert_int_eq(n, CPIO_HEADER_SIZE);
	cb_put(b, hdr, CPIO_HEADER_SIZE);
	cb_put(b, name, strlen(name) + 1);
	cb_pad(b);
	if (size) {
		cb_put(b, data, size);
		cb_pad(b);
	}
	return at;
}

static size_t cb_file(struct cbuf *b, const char *name, const char *text)
{
	return cb_entry_ex(b, name, S_REG, text, strlen(text), 0, 0, 1, 0);
}

static size_t cb_dir(struct cbuf *b, const char *name)
{
	return cb_entry_ex(b, name, S_DIR, NULL, 0, 0, 0, 2, 0);
}

static size_t cb_trailer(struct cbuf *b)
{
	return cb_entry_ex(b, "TRAILER!!!", 0, NULL, 0, 0, 0, 1, 0);
}

/* Overwrites field idx of the header at hdr with value (8 hex digits). */
static void set_field(unsigned char *buf, size_t hdr, int idx, uint32_t value)
{
	char tmp[9];

	snprintf(tmp, sizeof(tmp), "%08X", value);
	memcpy(buf + hdr + 6 + 8 * idx, tmp, 8);
}

/* A small archive in the shape mkcpio.py writes. */
static void sample(struct cbuf *b)
{
	cb_init(b);
	cb_dir(b, "bin");
	cb_entry_ex(b, "bin/sh", S_EXE, "\x7f" "ELF-not-really", 15, 0, 0, 1,
		    1700000000u);
	cb_file(b, "empty", "");
	cb_dir(b, "etc");
	cb_file(b, "etc/motd", "hello from the initrd\n");
	cb_entry_ex(b, "etc/link", S_LNK, "motd", 4, 0, 0, 1, 0);
	cb_entry_ex(b, "owned", S_REG, "abc", 3, 1000, 100, 1, 0xdeadbeefu);
	cb_trailer(b);
}

#define SAMPLE_ENTRIES 7

/* --- walking ------------------------------------------------------------- */

/* What a walk saw, as offsets into the archive so copies can be compared. */
struct rec {
	size_t name_off, namelen, data_off, size;
	uint32_t mode, ino, nlink, uid, gid, mtime;
};

struct walk {
	int ret;		/* 0: reached the trailer; < 0: the error */
	int n;
	struct rec *recs;
};

/* Walks buf[0..len) from a private copy of exactly len bytes. */
static struct walk walk_copy(const unsigned char *buf, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);
	size_t off = 0, max = len / (CPIO_HEADER_SIZE + 2) + 1;
	struct walk w = { 0, 0, calloc(max, sizeof(struct rec)) };
	struct cpio_entry e;
	int r;

	REQUIRE(copy);
	REQUIRE(w.recs);
	memcpy(copy, buf, len);
	for (;;) {
		size_t prev = off;

		memset(&e, 0xa5, sizeof(e));
		r = cpio_next(copy, len, &off, &e);
		if (r <= 0) {
			REQUIRE(off == prev);	/* untouched */
			break;
		}
		REQUIRE(r == 1);
		/* Invariants of an entry handed out. */
		REQUIRE(prev % 4 == 0);
		REQUIRE(off > prev);
		REQUIRE(off % 4 == 0);
		REQUIRE(e.name >= (const char *)copy + prev + CPIO_HEADER_SIZE);
		REQUIRE(e.name + e.namelen < (const char *)copy + len);
		REQUIRE(e.name[e.namelen] == '\0');
		REQUIRE(strlen(e.name) == e.namelen);
		REQUIRE(e.data >= (const void *)(e.name + e.namelen + 1));
		REQUIRE((const unsigned char *)e.data + e.size <= copy + len);
		REQUIRE(((const unsigned char *)e.data - copy) % 4 == 0);
		REQUIRE((const unsigned char *)e.data + e.size <= copy + off);
		REQUIRE(w.n < (int)max);
		w.recs[w.n++] = (struct rec){
			.name_off = (size_t)(e.name - (const char *)copy),
			.namelen = e.namelen,
			.data_off = (size_t)((const unsigned char *)e.data - copy),
			.size = e.size, .mode = e.mode, .ino = e.ino,
			.nlink = e.nlink, .uid = e.uid, .gid = e.gid,
			.mtime = e.mtime,
		};
	}
	w.ret = r;
	if (r < 0)
		REQUIRE(r == -RILL_EINVAL);
	else	/* the trailer again: still 0, offset unchanged */
		REQUIRE(cpio_next(copy, len, &off, &e) == 0);
	free(copy);
	return w;
}

static void walk_free(struct walk *w)
{
	free(w->recs);
	w->recs = NULL;
}

static int walk_result(const unsigned char *buf, size_t len)
{
	struct walk w = walk_copy(buf, len);

	walk_free(&w);
	return w.ret < 0 ? w.ret : w.n;
}

/* cpio_find on a private copy; copies the data out to *data (malloc'd). */
static int find_copy(const unsigned char *buf, size_t len, const char *path,
		     struct cpio_entry *out, char **name, void **data)
{
	unsigned char *copy = malloc(len ? len : 1);
	int r;

	memcpy(copy, buf, len);
	memset(out, 0x5a, sizeof(*out));
	r = cpio_find(copy, len, path, out);
	if (r == 0) {
		REQUIRE(out->name + out->namelen < (const char *)copy + len);
		REQUIRE((const unsigned char *)out->data + out->size <=
			  copy + len);
		if (name)
			*name = strndup(out->name, out->namelen);
		if (data) {
			*data = malloc(out->size + 1);
			memcpy(*data, out->data, out->size);
		}
	}
	free(copy);
	return r;
}

/* --- valid archives ------------------------------------------------------ */

START_TEST(reads_sample)
{
	struct cbuf b;
	struct cpio_entry e;
	size_t off = 0;

	sample(&b);
	ck_assert_int_eq(b.len % 4, 0);

	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_uint_eq(e.namelen, 3);
	ck_assert_str_eq(e.name, "bin");
	ck_assert_uint_eq(e.mode, S_DIR);
	ck_assert_uint_eq(e.size, 0);
	ck_assert_uint_eq(e.nlink, 2);
	ck_assert_uint_eq(e.ino, 1);

	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_str_eq(e.name, "bin/sh");
	ck_assert_uint_eq(e.mode, S_EXE);
	ck_assert_uint_eq(e.size, 15);
	ck_assert_mem_eq(e.data, "\x7f" "ELF-not-really", 15);
	ck_assert_uint_eq(e.mtime, 1700000000u);
	ck_assert_uint_eq(e.ino, 2);

	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_str_eq(e.name, "empty");
	ck_assert_uint_eq(e.size, 0);
	ck_assert_uint_eq(e.mode, S_REG);

	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_str_eq(e.name, "etc");

	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_str_eq(e.name, "etc/motd");
	ck_assert_uint_eq(e.size, 22);
	ck_assert_mem_eq(e.data, "hello from the initrd\n", 22);

	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_str_eq(e.name, "etc/link");
	ck_assert_uint_eq(e.mode, S_LNK);
	ck_assert_mem_eq(e.data, "motd", 4);

	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_str_eq(e.name, "owned");
	ck_assert_uint_eq(e.uid, 1000);
	ck_assert_uint_eq(e.gid, 100);
	ck_assert_uint_eq(e.nlink, 1);
	ck_assert_uint_eq(e.mtime, 0xdeadbeefu);
	ck_assert_mem_eq(e.data, "abc", 3);

	/* The trailer: 0, and again 0 with the offset left on it. */
	{
		size_t at = off;

		memset(&e, 0, sizeof(e));
		ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 0);
		ck_assert_uint_eq(off, at);
		ck_assert_ptr_null(e.name);	/* untouched */
		ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 0);
		ck_assert_uint_eq(off, at);
	}
	ck_assert_int_eq(walk_result(b.p, b.len), SAMPLE_ENTRIES);
	free(b.p);
}
END_TEST

/* Every combination of name and data length exercises both paddings. */
START_TEST(padding_all_lengths)
{
	static const char data[] = "0123456789abcdef";
	char names[12][16];
	struct cbuf b;
	struct cpio_entry e;
	size_t off = 0;
	int n = 0;

	cb_init(&b);
	for (int nl = 1; nl <= 12; nl++) {
		memset(names[nl - 1], 'a' + nl, nl);
		names[nl - 1][nl] = '\0';
		for (int dl = 0; dl <= 9; dl++)
			cb_entry_ex(&b, names[nl - 1], S_REG, data, dl, 0, 0, 1,
				    (uint32_t)dl);
	}
	cb_trailer(&b);
	for (int nl = 1; nl <= 12; nl++) {
		for (int dl = 0; dl <= 9; dl++) {
			ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
			ck_assert_uint_eq(e.namelen, (size_t)nl);
			ck_assert_str_eq(e.name, names[nl - 1]);
			ck_assert_uint_eq(e.size, (size_t)dl);
			ck_assert_uint_eq(e.mtime, (uint32_t)dl);
			ck_assert_mem_eq(e.data, data, dl);
			n++;
		}
	}
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 0);
	ck_assert_int_eq(walk_result(b.p, b.len), n);
	free(b.p);
}
END_TEST

START_TEST(crc_magic_and_lowercase)
{
	struct cbuf b;
	struct cpio_entry e;
	char *data = NULL;

	cb_init(&b);
	b.magic = "070702";
	cb_entry_ex(&b, "crc", S_REG, "data", 4, 0xabcdef, 0, 1, 0);
	b.magic = "070701";
	b.lower = 1;
	cb_entry_ex(&b, "lower", S_REG, "xyz", 3, 0xabcdef, 0xfedcba, 1, 0);
	b.lower = 0;
	cb_trailer(&b);
	ck_assert_int_eq(walk_result(b.p, b.len), 2);
	ck_assert_int_eq(find_copy(b.p, b.len, "lower", &e, NULL, (void **)&data), 0);
	ck_assert_uint_eq(e.uid, 0xabcdef);
	ck_assert_uint_eq(e.gid, 0xfedcba);
	ck_assert_mem_eq(data, "xyz", 3);
	free(data);
	ck_assert_int_eq(find_copy(b.p, b.len, "crc", &e, NULL, NULL), 0);
	ck_assert_uint_eq(e.size, 4);
	free(b.p);
}
END_TEST

START_TEST(trailer_only_and_empty)
{
	struct cbuf b;
	struct cpio_entry e;
	size_t off = 0;

	cb_init(&b);
	cb_trailer(&b);
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 0);
	ck_assert_uint_eq(off, 0);
	ck_assert_int_eq(walk_result(b.p, b.len), 0);
	ck_assert_int_eq(find_copy(b.p, b.len, "x", &e, NULL, NULL),
			 -RILL_ENOENT);
	/* Trailer followed by the 512-byte block padding cpio(1) adds. */
	cb_put(&b, (unsigned char[512]){ 0 }, 512 - b.len % 512);
	ck_assert_int_eq(walk_result(b.p, b.len), 0);
	free(b.p);

	/* Nothing at all, or a NULL archive: malformed (no trailer). */
	ck_assert_int_eq(walk_result((const unsigned char *)"", 0), -RILL_EINVAL);
	off = 0;
	ck_assert_int_eq(cpio_next(NULL, 0, &off, &e), -RILL_EINVAL);
	ck_assert_int_eq(cpio_find(NULL, 0, "x", &e), -RILL_EINVAL);
}
END_TEST

/* The trailer may stop right after its name, without padding. */
START_TEST(unpadded_trailer_accepted)
{
	struct cbuf b;

	cb_init(&b);
	cb_file(&b, "a", "1");
	cb_trailer(&b);
	/* header 110 + "TRAILER!!!\0" 11 = 121, padded to 124. */
	ck_assert_int_eq(walk_result(b.p, b.len - 3), 1);
	ck_assert_int_eq(walk_result(b.p, b.len - 4), -RILL_EINVAL);
	free(b.p);
}
END_TEST

START_TEST(missing_trailer)
{
	struct cbuf b;
	struct cpio_entry e;
	size_t off = 0;

	cb_init(&b);
	cb_file(&b, "a", "1");
	cb_file(&b, "b", "22");
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_uint_eq(off, b.len);
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), -RILL_EINVAL);
	ck_assert_uint_eq(off, b.len);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	ck_assert_int_eq(find_copy(b.p, b.len, "a", &e, NULL, NULL),
			 -RILL_EINVAL);
	free(b.p);
}
END_TEST

/* --- malformed headers --------------------------------------------------- */

START_TEST(bad_magic)
{
	static const char *const bad[] = {
		"070700", "070703", "070707", "170701", "07070 ", "O70701",
		"\0\0\0\0\0\0", "070701"	/* last: control, valid */
	};
	struct cbuf b;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sample(&b);
		memcpy(b.p, bad[i], 6);
		ck_assert_int_eq(walk_result(b.p, b.len),
				 i + 1 == sizeof(bad) / sizeof(bad[0]) ?
				 SAMPLE_ENTRIES : -RILL_EINVAL);
		free(b.p);
	}
	/* Damage to a later header's magic stops the walk there. */
	{
		struct cpio_entry e;
		size_t off = 0, second;

		cb_init(&b);
		cb_file(&b, "first", "1");
		second = cb_file(&b, "second", "2");
		cb_trailer(&b);
		b.p[second + 5] = '7';	/* 070707: the old binary-ish odc */
		ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
		ck_assert_str_eq(e.name, "first");
		ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), -RILL_EINVAL);
		ck_assert_uint_eq(off, second);
		free(b.p);
	}
}
END_TEST

/* A non-hex character in any digit of any of the 13 fields. */
START_TEST(non_hex_digit_every_position)
{
	static const char bad[] = { 'g', 'G', 'x', ' ', '-', '+', '\0', '\xff',
				    '/', ':', '@', '`' };
	struct cbuf b;
	size_t second;

	cb_init(&b);
	cb_file(&b, "first", "1");
	second = cb_file(&b, "second", "22");
	cb_trailer(&b);
	for (int pos = 6; pos < CPIO_HEADER_SIZE; pos++) {
		for (size_t k = 0; k < sizeof(bad); k++) {
			unsigned char saved0 = b.p[pos];
			unsigned char saved1 = b.p[second + pos];

			b.p[pos] = (unsigned char)bad[k];
			ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
			b.p[pos] = saved0;
			b.p[second + pos] = (unsigned char)bad[k];
			ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
			b.p[second + pos] = saved1;
		}
	}
	ck_assert_int_eq(walk_result(b.p, b.len), 2);
	free(b.p);
}
END_TEST

START_TEST(bad_namesize)
{
	struct cbuf b;
	size_t h;

	/* namesize 0 */
	cb_init(&b);
	h = cb_file(&b, "name", "data");
	cb_trailer(&b);
	set_field(b.p, h, F_NAMESIZE, 0);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);

	/* namesize one too small: the last byte counted is 'e', not NUL */
	set_field(b.p, h, F_NAMESIZE, 4);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	/* one too large: the NUL is inside, the last byte is padding */
	set_field(b.p, h, F_NAMESIZE, 6);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	/* exactly right */
	set_field(b.p, h, F_NAMESIZE, 5);
	ck_assert_int_eq(walk_result(b.p, b.len), 1);
	/* past the end of the archive, and the maximum */
	set_field(b.p, h, F_NAMESIZE, (uint32_t)b.len);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	set_field(b.p, h, F_NAMESIZE, 0xffffffffu);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	free(b.p);

	/* A NUL inside the name: "ab\0d" with namesize 5. */
	cb_init(&b);
	h = cb_file(&b, "abcd", "data");
	cb_trailer(&b);
	b.p[h + CPIO_HEADER_SIZE + 2] = '\0';
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	free(b.p);

	/* The name runs to the very end of a truncated archive. */
	cb_init(&b);
	h = cb_file(&b, "abcdefgh", "");
	ck_assert_int_eq(walk_result(b.p, h + CPIO_HEADER_SIZE + 8),
			 -RILL_EINVAL);
	ck_assert_int_eq(walk_result(b.p, h + CPIO_HEADER_SIZE + 9),
			 -RILL_EINVAL);	/* the name fits, its padding not */
	free(b.p);
}
END_TEST

START_TEST(bad_filesize)
{
	struct cbuf b;
	struct cpio_entry e;
	size_t h, off;

	cb_init(&b);
	h = cb_file(&b, "f", "1234567");	/* data at 112..119 */
	cb_trailer(&b);
	/* One byte more than is left, exactly what is left, and the max. */
	set_field(b.p, h, F_FILESIZE, (uint32_t)(b.len - 112 + 1));
	off = 0;
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), -RILL_EINVAL);
	set_field(b.p, h, F_FILESIZE, (uint32_t)(b.len - 112));
	off = 0;
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), 1);
	ck_assert_uint_eq(off, b.len);	/* swallowed the trailer */
	ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), -RILL_EINVAL);
	set_field(b.p, h, F_FILESIZE, 0xffffffffu);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	set_field(b.p, h, F_FILESIZE, 0x80000000u);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	/* A smaller size just misplaces the next header. */
	set_field(b.p, h, F_FILESIZE, 3);
	ck_assert_int_eq(walk_result(b.p, b.len), -RILL_EINVAL);
	set_field(b.p, h, F_FILESIZE, 7);
	ck_assert_int_eq(walk_result(b.p, b.len), 1);
	free(b.p);
}
END_TEST

START_TEST(bad_offsets)
{
	struct cbuf b;
	struct cpio_entry e;
	static const size_t offs[] = { 1, 2, 3, 5, 111, 113 };

	sample(&b);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t off = offs[i];

		ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), -RILL_EINVAL);
		ck_assert_uint_eq(off, offs[i]);
	}
	/* Past the end, including offsets that would wrap an addition. */
	{
		size_t big[] = { b.len + 4, b.len + 1000, SIZE_MAX & ~(size_t)3,
				 (SIZE_MAX & ~(size_t)3) - 108 };

		for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
			size_t off = big[i];

			ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e),
					 -RILL_EINVAL);
		}
	}
	/* At the end exactly: no trailer there. */
	{
		size_t off = b.len;

		ck_assert_int_eq(cpio_next(b.p, b.len, &off, &e), -RILL_EINVAL);
	}
	ck_assert_int_eq(cpio_next(b.p, b.len, NULL, &e), -RILL_EINVAL);
	free(b.p);

	/* A well-formed header at an offset that is not a multiple of 4. */
	for (size_t shift = 1; shift < 4; shift++) {
		struct cbuf c;
		size_t off = shift;

		cb_init(&c);
		cb_put(&c, "xxx", shift);
		cb_file(&c, "f", "data");
		cb_trailer(&c);
		ck_assert_int_eq(cpio_next(c.p, c.len, &off, &e), -RILL_EINVAL);
		ck_assert_uint_eq(off, shift);
		free(c.p);
	}
}
END_TEST

/* Looks like a trailer but is not one: a prefix, a longer name, case. */
START_TEST(near_trailer_names)
{
	static const char *const names[] = { "TRAILER!!", "TRAILER!!!!",
					     "trailer!!!", "./TRAILER!!!",
					     "TRAILER!!!x" };
	struct cbuf b;

	cb_init(&b);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cb_file(&b, names[i], "x");
	cb_trailer(&b);
	cb_file(&b, "after", "not reached");
	ck_assert_int_eq(walk_result(b.p, b.len), 5);
	{
		struct cpio_entry e;

		ck_assert_int_eq(find_copy(b.p, b.len, "after", &e, NULL, NULL),
				 -RILL_ENOENT);
		ck_assert_int_eq(find_copy(b.p, b.len, "TRAILER!!!", &e, NULL,
					   NULL), 0);	/* "./TRAILER!!!" */
	}
	free(b.p);
}
END_TEST

/* --- truncation and fuzzing ---------------------------------------------- */

static void check_prefix_of(const struct walk *w, const struct walk *full)
{
	REQUIRE(w->n <= full->n);
	for (int i = 0; i < w->n; i++)
		REQUIRE(memcmp(&w->recs[i], &full->recs[i],
			       sizeof(struct rec)) == 0);
}

START_TEST(truncated_at_every_offset)
{
	struct cbuf b;
	struct walk full;

	sample(&b);
	full = walk_copy(b.p, b.len);
	ck_assert_int_eq(full.ret, 0);
	ck_assert_int_eq(full.n, SAMPLE_ENTRIES);
	for (size_t len = 0; len <= b.len; len++) {
		struct walk w = walk_copy(b.p, len);

		/* Only the trailer's padding (3 bytes) may go missing. */
		if (len + 3 >= b.len) {
			ck_assert_int_eq(w.ret, 0);
			ck_assert_int_eq(w.n, SAMPLE_ENTRIES);
		} else {
			ck_assert_int_eq(w.ret, -RILL_EINVAL);
		}
		check_prefix_of(&w, &full);
		walk_free(&w);
	}
	walk_free(&full);
	free(b.p);
}
END_TEST

/* Values likely to matter when written into a header field. */
static uint32_t interesting(size_t len)
{
	static const uint32_t v[] = { 0, 1, 2, 3, 4, 5, 0x6e, 0x6f, 0x70,
				      0x7fffffff, 0x80000000u, 0xfffffffeu,
				      0xffffffffu };
	uint64_t k = rng_below(sizeof(v) / sizeof(v[0]) + 3);

	if (k < sizeof(v) / sizeof(v[0]))
		return v[k];
	if (k == sizeof(v) / sizeof(v[0]))
		return (uint32_t)len + (uint32_t)rng_below(9) - 4;
	return (uint32_t)rng_below(len + 1);
}

static void mutate(unsigned char *p, size_t len)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	int n = 1 + (int)rng_below(4);

	while (n--) {
		size_t at = rng_below(len);

		switch (rng_below(5)) {
		case 0:		/* any byte */
			p[at] = (unsigned char)rng_next();
			break;
		case 1:		/* a different hex digit: still parses */
			p[at] = (unsigned char)hex[rng_below(sizeof(hex) - 1)];
			break;
		case 2:		/* NUL: names and magics */
			p[at] = 0;
			break;
		case 3:		/* flip one bit */
			p[at] ^= (unsigned char)(1u << rng_below(8));
			break;
		default: {	/* a whole field of some header to a value */
			size_t hdr = at & ~(size_t)3;
			char tmp[9];

			/* find a header start at or before at */
			while (hdr > 0 && (hdr + 5 > len ||
					   memcmp(p + hdr, "07070", 5) != 0))
				hdr -= 4;
			if (hdr + CPIO_HEADER_SIZE > len)
				break;
			snprintf(tmp, sizeof(tmp), "%08X", interesting(len));
			memcpy(p + hdr + 6 + 8 * rng_below(F_COUNT), tmp, 8);
			break;
		}
		}
	}
}

START_TEST(fuzz_mutations)
{
	struct cbuf b;
	unsigned char *m;
	int ok = 0, bad = 0;

	rng_seed(0xc910c910ull);
	sample(&b);
	m = malloc(b.len);
	for (int iter = 0; iter < 30000; iter++) {
		size_t len = b.len;
		struct cpio_entry e;
		int r;

		memcpy(m, b.p, b.len);
		mutate(m, b.len);
		if (rng_below(4) == 0)
			len = rng_below(b.len + 1);
		r = walk_result(m, len);
		if (r >= 0)
			ok++;
		else
			bad++;
		/* find must agree with the walk on malformed archives */
		r = find_copy(m, len, rng_below(2) ? "etc/motd" : "/bin/sh", &e,
			      NULL, NULL);
		REQUIRE(r == 0 || r == -RILL_ENOENT || r == -RILL_EINVAL);
	}
	/* Both outcomes must have been exercised. */
	ck_assert_int_gt(ok, 1000);
	ck_assert_int_gt(bad, 1000);
	free(m);
	free(b.p);
}
END_TEST

/* Random bytes behind a valid magic, and random valid-looking headers. */
START_TEST(fuzz_random)
{
	unsigned char buf[1024];

	rng_seed(0x5eed0001ull);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = rng_below(sizeof(buf) + 1);

		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)rng_next();
		if (len >= 6)
			memcpy(buf, rng_below(2) ? "070701" : "070702", 6);
		if (len >= CPIO_HEADER_SIZE && rng_below(2)) {
			/* hex fields with small sizes, so names and data fit */
			for (int f = 0; f < F_COUNT; f++) {
				char tmp[9];
				uint32_t v = (uint32_t)rng_next();

				if (f == F_NAMESIZE || f == F_FILESIZE)
					v = (uint32_t)rng_below(len);
				snprintf(tmp, sizeof(tmp), "%08x", v);
				memcpy(buf + 6 + 8 * f, tmp, 8);
			}
		}
		REQUIRE(walk_result(buf, len) <= (int)(len / 112));
	}
}
END_TEST

/* --- cpio_find ------------------------------------------------------------ */

START_TEST(find_prefixes)
{
	static const struct {
		const char *path, *want;	/* want NULL: not found */
	} cases[] = {
		{ "bin/sh", "sh!" }, { "/bin/sh", "sh!" }, { "./bin/sh", "sh!" },
		{ "//bin/sh", "sh!" }, { "/./bin/sh", "sh!" },
		{ "etc/motd", "motd" }, { "/etc/motd", "motd" },
		{ "./etc/motd", "motd" }, { "plain", "p" }, { "/plain", "p" },
		{ "bin", "" }, { "/bin", "" }, { ".", "root" }, { "/", "root" },
		{ "", "root" }, { "./", "root" },
		{ "bi", NULL }, { "bin/s", NULL }, { "bin/sh/", NULL },
		{ "bin/shx", NULL }, { "etc", NULL }, { "motd", NULL },
		{ "../etc/motd", NULL }, { ".etc/motd", NULL },
		{ "etc//motd", NULL }, { "TRAILER!!!", NULL },
	};
	struct cbuf b;

	cb_init(&b);
	cb_entry_ex(&b, ".", S_DIR, "root", 4, 0, 0, 2, 0);	/* odd, but fine */
	cb_dir(&b, "./bin");
	cb_file(&b, "./bin/sh", "sh!");
	cb_file(&b, "/etc/motd", "motd");
	cb_file(&b, "plain", "p");
	cb_trailer(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpio_entry e;
		void *data = NULL;
		int r = find_copy(b.p, b.len, cases[i].path, &e, NULL, &data);

		if (!cases[i].want) {
			ck_assert_msg(r == -RILL_ENOENT, "%s: %d", cases[i].path, r);
			continue;
		}
		ck_assert_msg(r == 0, "%s: %d", cases[i].path, r);
		ck_assert_uint_eq(e.size, strlen(cases[i].want));
		ck_assert_mem_eq(data, cases[i].want, e.size);
		free(data);
	}
	ck_assert_int_eq(cpio_find(b.p, b.len, NULL, &(struct cpio_entry){ 0 }),
			 -RILL_EINVAL);
	free(b.p);
}
END_TEST

START_TEST(find_details)
{
	struct cbuf b;
	struct cpio_entry e;
	char *name = NULL;
	void *data = NULL;
	size_t bad;

	sample(&b);
	ck_assert_int_eq(find_copy(b.p, b.len, "/empty", &e, &name, &data), 0);
	ck_assert_str_eq(name, "empty");
	ck_assert_uint_eq(e.size, 0);
	ck_assert_uint_eq(e.mode, S_REG);
	free(name);
	free(data);
	ck_assert_int_eq(find_copy(b.p, b.len, "etc", &e, &name, NULL), 0);
	ck_assert_uint_eq(e.mode & 0170000u, 0040000u);
	ck_assert_str_eq(name, "etc");
	free(name);
	ck_assert_int_eq(find_copy(b.p, b.len, "etc/link", &e, NULL, &data), 0);
	ck_assert_uint_eq(e.mode & 0170000u, 0120000u);
	ck_assert_mem_eq(data, "motd", 4);
	free(data);
	ck_assert_int_eq(find_copy(b.p, b.len, "nope", &e, NULL, NULL),
			 -RILL_ENOENT);
	free(b.p);

	/* Duplicates: the last one wins. */
	cb_init(&b);
	cb_file(&b, "dup", "one");
	cb_file(&b, "other", "x");
	cb_file(&b, "./dup", "two");
	cb_trailer(&b);
	ck_assert_int_eq(find_copy(b.p, b.len, "dup", &e, NULL, &data), 0);
	ck_assert_mem_eq(data, "two", 3);
	free(data);
	free(b.p);

	/* Damage after the match is still reported, and *out not written. */
	cb_init(&b);
	cb_file(&b, "first", "1");
	bad = cb_file(&b, "second", "2");
	cb_trailer(&b);
	b.p[bad] = 'X';
	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(cpio_find(b.p, b.len, "first", &e), -RILL_EINVAL);
	ck_assert_ptr_null(e.name);
	ck_assert_int_eq(cpio_find(b.p, b.len, "second", &e), -RILL_EINVAL);
	free(b.p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpio");
	TCase *tc = tcase_create("core");
	TCase *fz = tcase_create("fuzz");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, reads_sample);
	tcase_add_test(tc, padding_all_lengths);
	tcase_add_test(tc, crc_magic_and_lowercase);
	tcase_add_test(tc, trailer_only_and_empty);
	tcase_add_test(tc, unpadded_trailer_accepted);
	tcase_add_test(tc, missing_trailer);
	tcase_add_test(tc, bad_magic);
	tcase_add_test(tc, non_hex_digit_every_position);
	tcase_add_test(tc, bad_namesize);
	tcase_add_test(tc, bad_filesize);
	tcase_add_test(tc, bad_offsets);
	tcase_add_test(tc, near_trailer_names);
	tcase_add_test(tc, find_prefixes);
	tcase_add_test(tc, find_details);
	tcase_add_test(fz, truncated_at_every_offset);
	tcase_add_test(fz, fuzz_mutations);
	tcase_add_test(fz, fuzz_random);
	tcase_set_timeout(fz, 120);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, fz);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
