/*
 * rill/proto.h - the wire format every protocol of protocols/ shares, and
 * the bounded reader and writer its generated codecs are made of
 * (docs/protocols.md; tools/protogen.py writes the codecs).
 *
 * A message is a 16-byte header, then its fields in declaration order,
 * then zero bytes up to a multiple of 8. Little-endian throughout.
 *
 *	 0      4      6  7  8          12         16
 *	+------+------+--+--+----------+----------+--------- ... ---+-------+
 *	|proto | msg  |v |nh| length   | error    | fields          | 0 pad |
 *	+------+------+--+--+----------+----------+--------- ... ---+-------+
 *	 proto: the protocol's id; msg: the message id; v: the protocol's
 *	 version; nh: handles pushed with it; length: the whole message, this
 *	 header and the padding included; error: replies, 0 or -RILL_E*
 *	 (then nothing follows the header); 0 in requests and events.
 *
 * Each scalar sits at its natural alignment from the start of the message
 * (the gap before it is padding); a string, byte string or array is a u32
 * count and its items (a string's bytes are followed by a NUL). Every
 * padding byte must be 0. A decoder reads one message in place, never past
 * its length, and accepts exactly what the encoder can produce: one
 * encoding per value, so decode(encode(x)) == x and encode(decode(b)) == b.
 *
 * Errors (the same from encoders, which refuse what a decoder would):
 *	-RILL_EPROTO	not this protocol, version or message (or a request
 *			where a reply belongs)
 *	-RILL_EMSGSIZE	truncated, trailing bytes, a length that disagrees
 *			with the buffer or exceeds the message's maximum; for
 *			an encoder, the buffer is too small
 *	-RILL_ERANGE	a value outside its declared range: an enum, unknown
 *			flag bits, a count or length above its maximum, a
 *			reply error the protocol does not declare
 *	-RILL_EINVAL	malformed: non-zero padding, a NUL inside a string or
 *			none after it, a bool not 0 or 1, handle slots that
 *			are not exactly 0..nh-1
 *
 * The reader and writer keep the first error and ignore everything after
 * it, so a codec checks once per step that may loop.
 */
#ifndef RILL_PROTO_H
#define RILL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <abi/errno.h>

#define RL_PROTO_HDR_SIZE	16
#define RL_PROTO_MSG_MAX	4096	/* every message fits one RECV_INLINE */
#define RL_PROTO_MAX_HANDLES	8	/* handle slots per message */
#define RL_PROTO_NO_HANDLE	0xff	/* an optional handle slot left empty */

/* Message kinds. */
#define RL_PROTO_REQUEST	1
#define RL_PROTO_REPLY		2
#define RL_PROTO_EVENT		3

/* The header, decoded. */
struct rl_proto_hdr {
	uint32_t proto;
	uint16_t msg;
	uint8_t version;
	uint8_t handles;	/* handles pushed with the message */
	uint32_t length;	/* bytes, header and padding included */
	int32_t error;		/* replies: 0 or -RILL_E* */
};

/* One message of a protocol, for code that handles any (tests, fuzzing,
 * tracing). encode and decode are the message's own. */
struct rl_proto_msg_desc {
	const char *name;
	uint16_t id;
	uint8_t kind;		/* RL_PROTO_* */
	uint16_t reply;		/* requests: the id of their reply */
	uint32_t size;		/* sizeof the message's struct */
	uint32_t max;		/* bytes an encoding can take at most */
	uint8_t handles;	/* handle fields */
	int (*encode)(const void *m, void *buf, size_t cap);
	int (*decode)(const void *buf, size_t len, void *m);
};

struct rl_proto_desc {
	const char *name;
	uint32_t id;
	uint8_t version;
	uint32_t max;		/* the largest message's max */
	unsigned count;
	const struct rl_proto_msg_desc *msgs;
};

/* --- writer -------------------------------------------------------------- */

struct rl_proto_w {
	uint8_t *p;
	size_t cap;
	size_t off;
	int err;		/* first error, or 0 */
};

static inline void rl_pw_fail(struct rl_proto_w *w, int err)
{
	if (!w->err)
		w->err = err;
}

static inline void rl_pw_bytes(struct rl_proto_w *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->off) {
		rl_pw_fail(w, -RILL_EMSGSIZE);
		return;
	}
	for (size_t i = 0; i < n; i++)
		w->p[w->off + i] = ((const uint8_t *)src)[i];
	w->off += n;
}

static inline void rl_pw_zero(struct rl_proto_w *w, size_t n)
{
	if (w->err)
		return;
	if (n > w->cap - w->off) {
		rl_pw_fail(w, -RILL_EMSGSIZE);
		return;
	}
	for (size_t i = 0; i < n; i++)
		w->p[w->off + i] = 0;
	w->off += n;
}

static inline void rl_pw_align(struct rl_proto_w *w, size_t a)
{
	rl_pw_zero(w, (a - (w->off & (a - 1))) & (a - 1));
}

/* An n-byte little-endian scalar at its natural alignment. */
static inline void rl_pw_uint(struct rl_proto_w *w, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	rl_pw_align(w, n);
	rl_pw_bytes(w, b, n);
}

/* --- reader -------------------------------------------------------------- */

struct rl_proto_r {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err;		/* first error, or 0 */
};

static inline void rl_pr_fail(struct rl_proto_r *r, int err)
{
	if (!r->err)
		r->err = err;
}

/* The next n bytes, or NULL (and -RILL_EMSGSIZE) when fewer are left. */
static inline const uint8_t *rl_pr_take(struct rl_proto_r *r, size_t n)
{
	const uint8_t *s;

	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		rl_pr_fail(r, -RILL_EMSGSIZE);
		return NULL;
	}
	s = r->p + r->off;
	r->off += n;
	return s;
}

/* Skip padding up to alignment a: every byte must be 0. */
static inline void rl_pr_align(struct rl_proto_r *r, size_t a)
{
	size_t n = (a - (r->off & (a - 1))) & (a - 1);
	const uint8_t *s = rl_pr_take(r, n);

	for (size_t i = 0; s && i < n; i++)
		if (s[i])
			rl_pr_fail(r, -RILL_EINVAL);
}

static inline uint64_t rl_pr_uint(struct rl_proto_r *r, size_t n)
{
	const uint8_t *s;
	uint64_t v = 0;

	rl_pr_align(r, n);
	s = rl_pr_take(r, n);
	for (size_t i = 0; s && i < n; i++)
		v |= (uint64_t)s[i] << (8 * i);
	return v;
}

/* --- counted items ------------------------------------------------------- */

/* A string of at most max bytes from a char[max + 1] holding it with its
 * NUL: the u32 length, the bytes, a NUL. None within max + 1: -RILL_ERANGE. */
static inline void rl_pw_string(struct rl_proto_w *w, const char *s, size_t max)
{
	size_t n = 0;

	while (n <= max && s[n])
		n++;
	if (n > max) {
		rl_pw_fail(w, -RILL_ERANGE);
		return;
	}
	rl_pw_uint(w, n, 4);
	rl_pw_bytes(w, s, n);
	rl_pw_zero(w, 1);
}

/* Into a char[max + 1]: no NUL among the bytes, one after them. */
static inline void rl_pr_string(struct rl_proto_r *r, char *dst, size_t max)
{
	uint64_t n = rl_pr_uint(r, 4);
	const uint8_t *s;

	if (!r->err && n > max)
		rl_pr_fail(r, -RILL_ERANGE);
	s = rl_pr_take(r, (size_t)n + 1);
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		if (!s[i])
			rl_pr_fail(r, -RILL_EINVAL);
		dst[i] = (char)s[i];
	}
	if (s[n])
		rl_pr_fail(r, -RILL_EINVAL);
	dst[n] = 0;
}

/* A byte string: the u32 length (at most max), the bytes. */
static inline void rl_pw_blob(struct rl_proto_w *w, const uint8_t *b, uint32_t len, size_t max)
{
	if (len > max) {
		rl_pw_fail(w, -RILL_ERANGE);
		return;
	}
	rl_pw_uint(w, len, 4);
	rl_pw_bytes(w, b, len);
}

static inline void rl_pr_blob(struct rl_proto_r *r, uint8_t *dst, uint32_t *len, size_t max)
{
	uint64_t n = rl_pr_uint(r, 4);
	const uint8_t *s;

	if (!r->err && n > max)
		rl_pr_fail(r, -RILL_ERANGE);
	s = rl_pr_take(r, (size_t)n);
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i];
	*len = (uint32_t)n;
}

/* An array's count, at most max (else -RILL_ERANGE and 0). */
static inline uint32_t rl_pr_count(struct rl_proto_r *r, size_t max)
{
	uint64_t n = rl_pr_uint(r, 4);

	if (r->err)
		return 0;
	if (n > max) {
		rl_pr_fail(r, -RILL_ERANGE);
		return 0;
	}
	return (uint32_t)n;
}

/* --- framing -------------------------------------------------------------- */

/* Read and check a header against buf and len: the protocol, its version,
 * that length equals len, is a multiple of 8 and at most max (each message
 * passes its own, a dispatcher the protocol's). Message id, kind and error
 * are the caller's to check. */
static inline int rl_proto_hdr_read(const void *buf, size_t len, uint32_t proto,
				    uint8_t version, uint32_t max, struct rl_proto_hdr *h)
{
	struct rl_proto_r r = { .p = buf, .len = len };

	if (len < RL_PROTO_HDR_SIZE)
		return -RILL_EMSGSIZE;
	h->proto = (uint32_t)rl_pr_uint(&r, 4);
	h->msg = (uint16_t)rl_pr_uint(&r, 2);
	h->version = (uint8_t)rl_pr_uint(&r, 1);
	h->handles = (uint8_t)rl_pr_uint(&r, 1);
	h->length = (uint32_t)rl_pr_uint(&r, 4);
	h->error = (int32_t)(uint32_t)rl_pr_uint(&r, 4);
	if (h->proto != proto || h->version != version)
		return -RILL_EPROTO;
	if (h->length != len || len % 8 || len > max)
		return -RILL_EMSGSIZE;
	return 0;
}

/* Start a message in buf: the header, with length and handle count left
 * for rl_proto_end. */
static inline void rl_proto_begin(struct rl_proto_w *w, void *buf, size_t cap, uint32_t proto,
				  uint8_t version, uint16_t msg, int32_t error)
{
	w->p = buf;
	w->cap = cap;
	w->off = 0;
	w->err = 0;
	rl_pw_uint(w, proto, 4);
	rl_pw_uint(w, msg, 2);
	rl_pw_uint(w, version, 1);
	rl_pw_uint(w, 0, 1);
	rl_pw_uint(w, 0, 4);
	rl_pw_uint(w, (uint32_t)error, 4);
}

/* Pad to 8, fill in length and handle count: the length, or the first
 * error. */
static inline int rl_proto_end(struct rl_proto_w *w, unsigned handles)
{
	rl_pw_align(w, 8);
	if (w->err)
		return w->err;
	w->p[7] = (uint8_t)handles;
	for (size_t i = 0; i < 4; i++)
		w->p[8 + i] = (uint8_t)(w->off >> (8 * i));
	return (int)w->off;
}

/* The end of a decode: padding to 8 checked, nothing left over. */
static inline int rl_proto_finish(struct rl_proto_r *r)
{
	rl_pr_align(r, 8);
	if (!r->err && r->off != r->len)
		rl_pr_fail(r, -RILL_EMSGSIZE);
	return r->err;
}

/* Handle slots: each used slot below 'used' handles, none twice, every one
 * of 0..used-1 named. mask collects the slots seen so far. */
static inline int rl_proto_slot(uint8_t slot, bool optional, unsigned *mask, unsigned *used)
{
	if (slot == RL_PROTO_NO_HANDLE)
		return optional ? 0 : -RILL_EINVAL;
	if (slot >= RL_PROTO_MAX_HANDLES || (*mask & (1u << slot)))
		return -RILL_EINVAL;
	*mask |= 1u << slot;
	(*used)++;
	return 0;
}

static inline int rl_proto_slots_done(unsigned mask, unsigned used)
{
	return mask == (1u << used) - 1 ? 0 : -RILL_EINVAL;
}

#endif
