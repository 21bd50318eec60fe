/*
 * test_proto.c - host tests of the protocol codecs tools/protogen.py makes
 * from protocols/ (rill/proto.h, docs/protocols.md): every message of mbus
 * and chardev round trips, and every decoder rejects each class of bad
 * input with its error: truncation at every length, trailing and oversized
 * input, wrong protocol, version or message, bad header fields, enums and
 * flags out of range, counts and lengths above their maximum, malformed
 * strings, non-zero padding, bad handle slots. Encoders refuse the same
 * values and never write past their buffer.
 *
 * Inputs are copied into heap blocks of exactly their length, so ASan
 * catches a decoder reading one byte too far.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_samples.h"

#define BUF 8192

/* A heap copy of exactly n bytes (n may be 0). */
static uint8_t *exact(const void *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	if (n)
		memcpy(p, src, n);
	return p;
}

static int decode_exact(const struct rl_proto_msg_desc *d, const void *buf, size_t len, void *m)
{
	uint8_t *p = exact(buf, len);
	int r = d->decode(p, len, m);

	free(p);
	return r;
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + i] = (uint8_t)(v >> (8 * i));
}

/* Encode a sample; the length. */
static int encode_sample(const struct rl_proto_desc *p, const struct rl_proto_msg_desc *d,
			 enum sample_mode mode, uint64_t seed, void *m, uint8_t *buf)
{
	int len;

	if (!sample_fill(p, d->id, mode, seed, m))
		return -1;
	len = d->encode(m, buf, BUF);
	ck_assert_msg(len > 0, "%s/%s mode %d: encode %d", p->name, d->name, mode, len);
	return len;
}

/* Calls f for every message of every protocol with a few samples each. */
#define FOR_SAMPLES(p, d, mode, seed)						\
	for (unsigned pi_ = 0; pi_ < SAMPLE_NPROTOS; pi_++)			\
		for (const struct rl_proto_desc *p = sample_protos[pi_]; p; p = NULL) \
			for (unsigned mi_ = 0; mi_ < p->count; mi_++)		\
				for (const struct rl_proto_msg_desc *d = &p->msgs[mi_]; d; d = NULL) \
					for (int k_ = 0; k_ < 24; k_++)		\
						for (enum sample_mode mode = k_ < 3 ? (enum sample_mode)k_ : \
						     k_ < 5 ? SAMPLE_ERROR : SAMPLE_RANDOM, *once_ = &mode; \
						     once_; once_ = NULL)		\
							for (uint64_t seed = 0x5eed + k_, *o2_ = &seed; o2_; o2_ = NULL)

START_TEST(round_trip)
{
	static uint8_t buf[BUF], again[BUF];
	static union sample_any m, out, any;
	unsigned n = 0;

	FOR_SAMPLES(p, d, mode, seed) {
		int len = encode_sample(p, d, mode, seed, &m, buf);
		struct rl_proto_hdr h;

		if (len < 0)
			continue;
		n++;
		ck_assert_int_eq(len % 8, 0);
		ck_assert_uint_le((unsigned)len, d->max);
		ck_assert_uint_le(d->max, p->max);
		ck_assert_uint_le(p->max, RL_PROTO_MSG_MAX);
		ck_assert_int_eq(rl_proto_hdr_read(buf, len, p->id, p->version, p->max, &h), 0);
		ck_assert_uint_eq(h.msg, d->id);
		ck_assert_uint_eq(h.length, (unsigned)len);
		ck_assert_int_eq(d->decode(buf, len, &out), 0);
		ck_assert_msg(!memcmp(&m, &out, d->size), "%s/%s mode %d: decoded differs",
			      p->name, d->name, mode);
		ck_assert_int_eq(d->encode(&out, again, BUF), len);
		ck_assert(!memcmp(buf, again, len));
		/* The dispatchers agree. */
		ck_assert_int_eq(sample_peek(p, buf, len), d->id);
		ck_assert_int_eq(sample_decode(p, buf, len, &any), d->id);
		ck_assert(!memcmp(&any, &out, d->size));
	}
	ck_assert_uint_gt(n, 800);
}
END_TEST

/* The examples docs/protocols.md shows, byte by byte. */
START_TEST(wire_layout)
{
	static const uint8_t get[32] = {
		0x6d, 0x62, 0x75, 0x73, 5, 0, 1, 0, 32, 0, 0, 0, 0, 0, 0, 0,
		0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t publish[40] = {
		0x6d, 0x62, 0x75, 0x73, 1, 0, 1, 1, 40, 0, 0, 0, 0, 0, 0, 0,
		1, 0, 0, 0, 2, 0, 0, 0, 'a', 'b', 0, 0, 2, 0, 0, 0,
		'c', 'd', 0, 0, 0, 0, 0, 0 };
	static const uint8_t refused[16] = {
		0x63, 0x64, 0x65, 0x76, 0, 0, 1, 0, 16, 0, 0, 0, 0xda, 0xff, 0xff, 0xff };
	struct mbus_get g = { .object = 42, .want_lane = true };
	struct mbus_publish pb = { .props_count = 1, .props = { { "ab", "cd" } }, .lane = 0 };
	struct chardev_refused rf = { .error = -RILL_ENOSYS };
	uint8_t buf[64];

	ck_assert_int_eq(mbus_get_encode(&g, buf, sizeof(buf)), 32);
	ck_assert(!memcmp(buf, get, 32));
	ck_assert_int_eq(mbus_publish_encode(&pb, buf, sizeof(buf)), 40);
	ck_assert(!memcmp(buf, publish, 40));
	ck_assert_int_eq(chardev_refused_encode(&rf, buf, sizeof(buf)), 16);
	ck_assert(!memcmp(buf, refused, 16));
}
END_TEST

START_TEST(truncated_at_every_length)
{
	static uint8_t buf[BUF], cut[BUF];
	static union sample_any m, out;

	FOR_SAMPLES(p, d, mode, seed) {
		int len;

		if (seed > 0x5eed + 8)
			break;	/* min, max, errors, a few random: enough */
		len = encode_sample(p, d, mode, seed, &m, buf);
		if (len < 0)
			continue;
		for (int k = 0; k < len; k++) {
			/* Cut short. */
			ck_assert_int_eq(decode_exact(d, buf, k, &out), -RILL_EMSGSIZE);
			/* Cut short, and the header says so. */
			if (k >= RL_PROTO_HDR_SIZE && k % 8 == 0) {
				memcpy(cut, buf, k);
				put32(cut, 8, (uint32_t)k);
				ck_assert_msg(decode_exact(d, cut, k, &out) == -RILL_EMSGSIZE,
					      "%s/%s cut at %d of %d", p->name, d->name, k, len);
			}
		}
	}
}
END_TEST

START_TEST(trailing_and_oversized)
{
	static uint8_t buf[BUF], big[BUF];
	static union sample_any m, out;

	FOR_SAMPLES(p, d, mode, seed) {
		int len = encode_sample(p, d, mode, seed, &m, buf);

		if (len < 0)
			continue;
		for (int extra = 1; extra <= 16; extra++) {
			memcpy(big, buf, len);
			memset(big + len, extra & 1 ? 0 : 0x55, extra);
			/* The header's length disagrees with the buffer. */
			ck_assert_int_eq(decode_exact(d, big, len + extra, &out), -RILL_EMSGSIZE);
			/* It agrees: trailing bytes, or a length not a multiple of 8. */
			put32(big, 8, (uint32_t)(len + extra));
			ck_assert_int_eq(decode_exact(d, big, len + extra, &out), -RILL_EMSGSIZE);
		}
		/* Above the message's maximum and the protocol's. */
		memset(big, 0, sizeof(big));
		memcpy(big, buf, len);
		put32(big, 8, d->max + 8);
		ck_assert_int_eq(decode_exact(d, big, d->max + 8, &out), -RILL_EMSGSIZE);
		put32(big, 8, p->max + 8);
		ck_assert_int_eq(decode_exact(d, big, p->max + 8, &out), -RILL_EMSGSIZE);
	}
}
END_TEST

START_TEST(wrong_protocol_version_or_message)
{
	static uint8_t buf[BUF], bad[BUF];
	static union sample_any m, out;

	FOR_SAMPLES(p, d, mode, seed) {
		int len = encode_sample(p, d, mode, seed, &m, buf);

		if (len < 0 || seed > 0x5eed + 4)
			continue;
		memcpy(bad, buf, len);
		bad[0] ^= 1;
		ck_assert_int_eq(decode_exact(d, bad, len, &out), -RILL_EPROTO);
		memcpy(bad, buf, len);
		bad[6] = (uint8_t)(p->version + 1);
		ck_assert_int_eq(decode_exact(d, bad, len, &out), -RILL_EPROTO);
		/* Every other decoder of every protocol refuses it. */
		for (unsigned i = 0; i < SAMPLE_NPROTOS; i++)
			for (unsigned j = 0; j < sample_protos[i]->count; j++) {
				const struct rl_proto_msg_desc *o = &sample_protos[i]->msgs[j];

				if (o != d)
					ck_assert_int_eq(decode_exact(o, buf, len, &out),
							 -RILL_EPROTO);
			}
		/* Unknown message ids. */
		for (unsigned id = 0; id < 0x10000; id += id < 64 ? 1 : 997) {
			if (sample_msg(p, (uint16_t)id))
				continue;
			memcpy(bad, buf, len);
			bad[4] = (uint8_t)id;
			bad[5] = (uint8_t)(id >> 8);
			ck_assert_int_eq(sample_peek(p, bad, len), -RILL_EPROTO);
			ck_assert_int_eq(sample_decode(p, bad, len, &out), -RILL_EPROTO);
		}
	}
}
END_TEST

START_TEST(header_fields)
{
	static uint8_t buf[BUF], bad[BUF];
	static union sample_any m, out;

	FOR_SAMPLES(p, d, mode, seed) {
		int len = encode_sample(p, d, mode, seed, &m, buf);

		if (len < 0 || seed > 0x5eed + 4)
			continue;
		memcpy(bad, buf, len);
		if (d->kind != RL_PROTO_REPLY) {
			/* Requests and events carry no error. */
			put32(bad, 12, (uint32_t)-RILL_EIO);
			ck_assert_int_eq(decode_exact(d, bad, len, &out), -RILL_EINVAL);
		} else if (mode != SAMPLE_ERROR) {
			/* An error reply has nothing after the header. */
			put32(bad, 12, (uint32_t)-RILL_EPROTO);
			ck_assert_int_eq(decode_exact(d, bad, len, &out),
					 len == RL_PROTO_HDR_SIZE ? 0 : -RILL_EMSGSIZE);
		} else {
			/* Errors it does not declare, positive ones. */
			put32(bad, 12, (uint32_t)-RILL_EMFILE);
			ck_assert_int_eq(decode_exact(d, bad, len, &out), -RILL_ERANGE);
			put32(bad, 12, RILL_EPROTO);
			ck_assert_int_eq(decode_exact(d, bad, len, &out), -RILL_ERANGE);
			/* No handles with an error. */
			memcpy(bad, buf, len);
			bad[7] = 1;
			ck_assert_int_eq(decode_exact(d, bad, len, &out), -RILL_EINVAL);
		}
		/* More handles than the message has slots. */
		memcpy(bad, buf, len);
		bad[7] = (uint8_t)(d->handles + 1);
		ck_assert_int_eq(decode_exact(d, bad, len, &out), -RILL_EINVAL);
	}
}
END_TEST

START_TEST(refused_needs_an_error)
{
	struct mbus_refused r = { 0 };
	uint8_t buf[16] = { 0x6d, 0x62, 0x75, 0x73, 0, 0, 1, 0, 16, 0, 0, 0, 0, 0, 0, 0 };

	ck_assert_int_eq(mbus_refused_encode(&r, buf, sizeof(buf)), -RILL_EINVAL);
	ck_assert_int_eq(mbus_refused_decode(buf, 16, &r), -RILL_EINVAL);
	r.error = -RILL_EEXIST;		/* only the protocol's own errors */
	ck_assert_int_eq(mbus_refused_encode(&r, buf, sizeof(buf)), -RILL_ERANGE);
	r.error = -RILL_ENOSYS;
	ck_assert_int_eq(mbus_refused_encode(&r, buf, sizeof(buf)), 16);
	ck_assert_int_eq(mbus_refused_decode(buf, 16, &r), 0);
	ck_assert_int_eq(r.error, -RILL_ENOSYS);
	ck_assert_int_eq(mbus_peek(buf, 16), MBUS_MSG_REFUSED);
}
END_TEST

START_TEST(enums_flags_and_ranges)
{
	uint8_t buf[BUF];
	union chardev_any m;
	union mbus_any mb;
	struct mbus_find f = { .matches_count = 1, .matches = { { "k", MBUS_MATCH_OP_ABSENT, "v" } } };
	struct chardev_set_line sl = { .when = CHARDEV_WHEN_NOW,
		.line = { .baud = 115200, .data_bits = 8, .stop_bits = 1 } };
	int len;

	/* mbus find: count @16, key length @20, "k\0" @24, op @26. */
	ck_assert_int_eq(len = mbus_find_encode(&f, buf, sizeof(buf)), 48);
	ck_assert_int_eq(buf[26], MBUS_MATCH_OP_ABSENT);
	buf[26] = 4;
	ck_assert_int_eq(mbus_find_decode(buf, len, &mb.find), -RILL_ERANGE);
	f.matches[0].op = (enum mbus_match_op)4;
	ck_assert_int_eq(mbus_find_encode(&f, buf, sizeof(buf)), -RILL_ERANGE);

	/* chardev flush: queue @16, 1..3. */
	m.flush.queue = CHARDEV_QUEUE_BOTH;
	ck_assert_int_eq(len = chardev_flush_encode(&m.flush, buf, sizeof(buf)), 24);
	for (unsigned v = 0; v < 256; v++) {
		buf[16] = (uint8_t)v;
		ck_assert_int_eq(chardev_flush_decode(buf, len, &m.flush),
				 v >= 1 && v <= 3 ? 0 : -RILL_ERANGE);
	}
	m.flush.queue = (enum chardev_queue)0;
	ck_assert_int_eq(chardev_flush_encode(&m.flush, buf, sizeof(buf)), -RILL_ERANGE);

	/* chardev subscribe: flags @16; an unknown bit. */
	m.subscribe.events = CHARDEV_EVENTS_ALL;
	ck_assert_int_eq(len = chardev_subscribe_encode(&m.subscribe, buf, sizeof(buf)), 24);
	for (int bit = 0; bit < 32; bit++) {
		put32(buf, 16, 1u << bit);
		ck_assert_int_eq(chardev_subscribe_decode(buf, len, &m.subscribe),
				 (1u << bit) & CHARDEV_EVENTS_ALL ? 0 : -RILL_ERANGE);
	}
	m.subscribe.events = 0x80;
	ck_assert_int_eq(chardev_subscribe_encode(&m.subscribe, buf, sizeof(buf)), -RILL_ERANGE);

	/* chardev read: max @16 in 1..IO_MAX. */
	m.read = (struct chardev_read){ .max = 1 };
	ck_assert_int_eq(len = chardev_read_encode(&m.read, buf, sizeof(buf)), 24);
	put32(buf, 16, 0);
	ck_assert_int_eq(chardev_read_decode(buf, len, &m.read), -RILL_ERANGE);
	put32(buf, 16, CHARDEV_IO_MAX + 1);
	ck_assert_int_eq(chardev_read_decode(buf, len, &m.read), -RILL_ERANGE);
	put32(buf, 16, CHARDEV_IO_MAX);
	ck_assert_int_eq(chardev_read_decode(buf, len, &m.read), 0);
	m.read.max = 0;
	ck_assert_int_eq(chardev_read_encode(&m.read, buf, sizeof(buf)), -RILL_ERANGE);

	/* set_line: when @16, padding 17..19, baud @20, data bits @24, stop bits @25, parity @26, flow @27. */
	ck_assert_int_eq(len = chardev_set_line_encode(&sl, buf, sizeof(buf)), 48);
	for (size_t off = 16; off <= 27; off += off == 16 ? 8 : 1) {
		uint8_t keep = buf[off];

		buf[off] = 9;	/* above every range of these */
		ck_assert_int_eq(chardev_set_line_decode(buf, len, &m.set_line), -RILL_ERANGE);
		buf[off] = keep;
	}
	put32(buf, 20, 49);
	ck_assert_int_eq(chardev_set_line_decode(buf, len, &m.set_line), -RILL_ERANGE);
	put32(buf, 20, 4000001);
	ck_assert_int_eq(chardev_set_line_decode(buf, len, &m.set_line), -RILL_ERANGE);
	put32(buf, 20, 115200);
	ck_assert_int_eq(chardev_set_line_decode(buf, len, &m.set_line), 0);
	sl.line.data_bits = 4;
	ck_assert_int_eq(chardev_set_line_encode(&sl, buf, sizeof(buf)), -RILL_ERANGE);
	sl.line.data_bits = 8;
	sl.line.baud = 4000001;
	ck_assert_int_eq(chardev_set_line_encode(&sl, buf, sizeof(buf)), -RILL_ERANGE);
}
END_TEST

START_TEST(counts_and_lengths_above_maximum)
{
	static uint8_t buf[BUF];
	static union mbus_any mb;
	static union chardev_any m;
	int len;

	/* found: count @16, at most IDS_MAX. */
	mb.found = (struct mbus_found){ .objects_count = 1, .objects = { 7 } };
	ck_assert_int_eq(len = mbus_found_encode(&mb.found, buf, sizeof(buf)), 40);
	put32(buf, 16, MBUS_IDS_MAX + 1);
	ck_assert_int_eq(mbus_found_decode(buf, len, &mb.found), -RILL_ERANGE);
	put32(buf, 16, UINT32_MAX);
	ck_assert_int_eq(mbus_found_decode(buf, len, &mb.found), -RILL_ERANGE);
	put32(buf, 16, 2);	/* within bounds, but the bytes are not there */
	ck_assert_int_eq(mbus_found_decode(buf, len, &mb.found), -RILL_EMSGSIZE);
	mb.found.objects_count = MBUS_IDS_MAX + 1;
	ck_assert_int_eq(mbus_found_encode(&mb.found, buf, sizeof(buf)), -RILL_ERANGE);

	/* publish: a key above KEY_MAX (length @20). */
	mb.publish = (struct mbus_publish){ .props_count = 1, .props = { { "ab", "cd" } } };
	ck_assert_int_eq(len = mbus_publish_encode(&mb.publish, buf, sizeof(buf)), 40);
	put32(buf, 20, MBUS_KEY_MAX + 1);
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_ERANGE);
	memset(mb.publish.props[0].key, 'k', sizeof(mb.publish.props[0].key));	/* no NUL */
	ck_assert_int_eq(mbus_publish_encode(&mb.publish, buf, sizeof(buf)), -RILL_ERANGE);
	mb.publish.props[0].key[MBUS_KEY_MAX] = 0;	/* exactly KEY_MAX */
	ck_assert_int_gt(mbus_publish_encode(&mb.publish, buf, sizeof(buf)), 0);
	mb.publish.props_count = MBUS_PROPS_MAX + 1;
	ck_assert_int_eq(mbus_publish_encode(&mb.publish, buf, sizeof(buf)), -RILL_ERANGE);

	/* write: bytes length @16, at most IO_MAX. */
	m.write = (struct chardev_write){ .bytes_len = 3, .bytes = "abc" };
	ck_assert_int_eq(len = chardev_write_encode(&m.write, buf, sizeof(buf)), 24);
	put32(buf, 16, CHARDEV_IO_MAX + 1);
	ck_assert_int_eq(chardev_write_decode(buf, len, &m.write), -RILL_ERANGE);
	put32(buf, 16, 12);	/* more bytes than the message holds */
	ck_assert_int_eq(chardev_write_decode(buf, len, &m.write), -RILL_EMSGSIZE);
	m.write.bytes_len = CHARDEV_IO_MAX + 1;
	ck_assert_int_eq(chardev_write_encode(&m.write, buf, sizeof(buf)), -RILL_ERANGE);
}
END_TEST

START_TEST(malformed_strings_and_bools)
{
	uint8_t buf[BUF];
	union mbus_any mb;
	int len;

	/* publish {"ab", "cd"}: key "ab" @24, its NUL @26, padding @27, value "cd" @32, NUL @34. */
	mb.publish = (struct mbus_publish){ .props_count = 1, .props = { { "ab", "cd" } } };
	ck_assert_int_eq(len = mbus_publish_encode(&mb.publish, buf, sizeof(buf)), 40);
	buf[25] = 0;		/* a NUL inside */
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_EINVAL);
	buf[25] = 'b';
	buf[26] = 'x';		/* no NUL after */
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_EINVAL);
	buf[26] = 0;
	buf[34] = 'x';
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_EINVAL);
	buf[34] = 0;
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), 0);
	ck_assert_str_eq(mb.publish.props[0].key, "ab");
	ck_assert_str_eq(mb.publish.props[0].value, "cd");

	/* get: bool @24. */
	mb.get = (struct mbus_get){ .object = 1, .want_lane = true };
	ck_assert_int_eq(len = mbus_get_encode(&mb.get, buf, sizeof(buf)), 32);
	for (unsigned v = 2; v < 256; v++) {
		buf[24] = (uint8_t)v;
		ck_assert_int_eq(mbus_get_decode(buf, len, &mb.get), -RILL_EINVAL);
	}
}
END_TEST

START_TEST(nonzero_padding)
{
	uint8_t buf[BUF];
	union mbus_any mb;
	union chardev_any m;
	int len;

	/* get: bool @24, padding 25..31. */
	mb.get = (struct mbus_get){ .object = 1 };
	ck_assert_int_eq(len = mbus_get_encode(&mb.get, buf, sizeof(buf)), 32);
	for (int off = 25; off < 32; off++) {
		buf[off] = 0x80;
		ck_assert_int_eq(mbus_get_decode(buf, len, &mb.get), -RILL_EINVAL);
		buf[off] = 0;
	}
	/* publish {"ab", "cd"}: padding @27 before the value's length; after the lane (@35) 36..39. */
	mb.publish = (struct mbus_publish){ .props_count = 1, .props = { { "ab", "cd" } } };
	ck_assert_int_eq(len = mbus_publish_encode(&mb.publish, buf, sizeof(buf)), 40);
	for (int off = 27; off < 40; off += off == 27 ? 9 : 1) {
		buf[off] = 1;
		ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_EINVAL);
		buf[off] = 0;
	}
	/* flush: queue @16, padding 17..23. */
	m.flush.queue = CHARDEV_QUEUE_INPUT;
	ck_assert_int_eq(len = chardev_flush_encode(&m.flush, buf, sizeof(buf)), 24);
	for (int off = 17; off < 24; off++) {
		buf[off] = 0xff;
		ck_assert_int_eq(chardev_flush_decode(buf, len, &m.flush), -RILL_EINVAL);
		buf[off] = 0;
	}
}
END_TEST

START_TEST(handle_slots)
{
	uint8_t buf[BUF];
	union mbus_any mb;
	int len;

	/* publish: lane @35, required; header handles @7. */
	mb.publish = (struct mbus_publish){ .props_count = 1, .props = { { "ab", "cd" } } };
	ck_assert_int_eq(len = mbus_publish_encode(&mb.publish, buf, sizeof(buf)), 40);
	ck_assert_int_eq(buf[7], 1);
	ck_assert_int_eq(buf[35], 0);
	buf[35] = 1;		/* a slot beyond those pushed */
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_EINVAL);
	buf[35] = RL_PROTO_NO_HANDLE;	/* required */
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_EINVAL);
	buf[35] = 0;
	buf[7] = 0;		/* the header says none came */
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), -RILL_EINVAL);
	buf[7] = 1;
	ck_assert_int_eq(mbus_publish_decode(buf, len, &mb.publish), 0);
	mb.publish.lane = RL_PROTO_NO_HANDLE;
	ck_assert_int_eq(mbus_publish_encode(&mb.publish, buf, sizeof(buf)), -RILL_EINVAL);
	mb.publish.lane = 1;
	ck_assert_int_eq(mbus_publish_encode(&mb.publish, buf, sizeof(buf)), -RILL_EINVAL);

	/* object: an optional lane, last byte before the padding. */
	mb.object = (struct mbus_object){ .object = 9, .lane = RL_PROTO_NO_HANDLE };
	ck_assert_int_eq(len = mbus_object_encode(&mb.object, buf, sizeof(buf)), 32);
	ck_assert_int_eq(buf[7], 0);
	ck_assert_int_eq(buf[28], RL_PROTO_NO_HANDLE);
	ck_assert_int_eq(mbus_object_decode(buf, len, &mb.object), 0);
	ck_assert_int_eq(mb.object.lane, RL_PROTO_NO_HANDLE);
	buf[7] = 1;		/* one pushed, none named */
	ck_assert_int_eq(mbus_object_decode(buf, len, &mb.object), -RILL_EINVAL);
	buf[28] = 0;
	ck_assert_int_eq(mbus_object_decode(buf, len, &mb.object), 0);
	ck_assert_int_eq(mb.object.lane, 0);
	for (unsigned v = 1; v < 255; v++) {
		buf[28] = (uint8_t)v;
		ck_assert_int_eq(mbus_object_decode(buf, len, &mb.object), -RILL_EINVAL);
	}
}
END_TEST

START_TEST(encoder_buffer_too_small)
{
	static uint8_t buf[BUF];
	static union sample_any m;

	FOR_SAMPLES(p, d, mode, seed) {
		int len = encode_sample(p, d, mode, seed, &m, buf);

		if (len < 0 || seed > 0x5eed + 6)
			continue;
		for (int cap = 0; cap < len; cap++) {
			uint8_t *small = exact(buf, cap);

			ck_assert_int_eq(d->encode(&m, small, cap), -RILL_EMSGSIZE);
			free(small);
		}
	}
}
END_TEST

/* Any one-byte change: either a decode error of the documented kinds, or
 * a value that encodes back to exactly the changed bytes. */
START_TEST(single_byte_changes)
{
	static uint8_t buf[BUF], bad[BUF], again[BUF];
	static union sample_any m, out;
	static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0xff };
	unsigned accepted = 0, refused = 0;

	FOR_SAMPLES(p, d, mode, seed) {
		int len = encode_sample(p, d, mode, seed, &m, buf);

		if (len < 0 || seed > 0x5eed + 5)
			continue;
		for (int off = 0; off < len; off++) {
			for (unsigned v = 0; v < sizeof(vals); v++) {
				int r;

				if (buf[off] == vals[v])
					continue;
				memcpy(bad, buf, len);
				bad[off] = vals[v];
				r = decode_exact(d, bad, len, &out);
				if (r) {
					ck_assert_msg(r == -RILL_EPROTO || r == -RILL_EMSGSIZE ||
						      r == -RILL_ERANGE || r == -RILL_EINVAL,
						      "%s/%s: %d", p->name, d->name, r);
					refused++;
					continue;
				}
				accepted++;
				ck_assert_int_eq(d->encode(&out, again, BUF), len);
				ck_assert_msg(!memcmp(bad, again, len), "%s/%s: byte %d = %#x "
					      "accepted but encodes differently", p->name, d->name,
					      off, vals[v]);
			}
		}
	}
	ck_assert_uint_gt(accepted, 1000);
	ck_assert_uint_gt(refused, 1000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, wire_layout);
	tcase_add_test(tc, truncated_at_every_length);
	tcase_add_test(tc, trailing_and_oversized);
	tcase_add_test(tc, wrong_protocol_version_or_message);
	tcase_add_test(tc, header_fields);
	tcase_add_test(tc, refused_needs_an_error);
	tcase_add_test(tc, enums_flags_and_ranges);
	tcase_add_test(tc, counts_and_lengths_above_maximum);
	tcase_add_test(tc, malformed_strings_and_bools);
	tcase_add_test(tc, nonzero_padding);
	tcase_add_test(tc, handle_slots);
	tcase_add_test(tc, encoder_buffer_too_small);
	tcase_add_test(tc, single_byte_changes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
