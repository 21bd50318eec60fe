/*
 * fuzz_proto.c - libFuzzer target for the protocol decoders tools/protogen.py
 * makes from protocols/ (mbus, chardev).
 *
 * Every input goes to every decoder of every protocol as it is, and once
 * more framed: the first two bytes pick a protocol and a message, and the
 * rest becomes its body behind a valid header (so the fields are reached,
 * not just the header checks). Checked for each decode:
 *   - the result is 0 or one of the documented errors (-EPROTO, -EMSGSIZE,
 *     -ERANGE, -EINVAL);
 *   - what decodes encodes back to exactly the same bytes (one encoding per
 *     value), and decodes again to the same struct;
 *   - the dispatchers (<proto>_peek, <proto>_decode) agree with the typed
 *     decoder;
 *   - nothing is read past the input: the input lives in a heap block of
 *     exactly its length, so ASan stops a read one byte too far.
 *
 * Build (libFuzzer, make fuzz):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/include -Iabi/include \
 *     -Ibuild/gen -DRILL_HOST_TEST tests/fuzz/fuzz_proto.c build/gen/proto/ *.c
 * Smoke mode (-DFUZZ_STANDALONE, part of make test): `fuzz_proto [iterations
 * [seed]]` runs random inputs and mutations of valid messages from a fixed
 * seed and prints "PASS fuzz-proto (<n> inputs)".
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../host/proto_samples.h"

#ifdef FUZZ_STANDALONE
static unsigned long standalone_iter;
static unsigned long long standalone_seed;
#endif

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL fuzz-proto: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
#ifdef FUZZ_STANDALONE
	fprintf(stderr, "(standalone input #%lu, seed %#llx)\n", standalone_iter,
		standalone_seed);
	exit(1);
#else
	abort();
#endif
}

#define CHECK(c, ...)				\
	do {					\
		if (!(c))			\
			fail(__VA_ARGS__);	\
	} while (0)

static union sample_any out, again, any;
static uint8_t enc[RL_PROTO_MSG_MAX + 64];
static unsigned long decoded;	/* inputs some decoder accepted */

static void check_one(const struct rl_proto_desc *p, const struct rl_proto_msg_desc *d,
		      const uint8_t *buf, size_t len)
{
	int r = d->decode(buf, len, &out);
	int id;

	CHECK(r == 0 || r == -RILL_EPROTO || r == -RILL_EMSGSIZE || r == -RILL_ERANGE ||
	      r == -RILL_EINVAL, "%s/%s: decode gave %d", p->name, d->name, r);
	id = sample_decode(p, buf, len, &any);
	if (r) {
		CHECK(id != d->id, "%s/%s: refused (%d) but the dispatcher took it", p->name,
		      d->name, r);
		return;
	}
	decoded++;
	CHECK(id == d->id, "%s/%s: decoded but the dispatcher says %d", p->name, d->name, id);
	CHECK(!memcmp(&any, &out, d->size), "%s/%s: the dispatcher decoded differently",
	      p->name, d->name);
	r = d->encode(&out, enc, sizeof(enc));
	CHECK(r >= 0 && (size_t)r == len, "%s/%s: decoded %zu bytes, encodes to %d", p->name,
	      d->name, len, r);
	CHECK(!memcmp(enc, buf, len), "%s/%s: decoded, but encodes to other bytes", p->name,
	      d->name);
	CHECK(d->decode(enc, len, &again) == 0 && !memcmp(&again, &out, d->size),
	      "%s/%s: the encoding decodes differently", p->name, d->name);
}

/* Every decoder, on a heap block of exactly len bytes. */
static void check_all(const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		abort();
	if (len)
		memcpy(buf, data, len);
	for (unsigned i = 0; i < SAMPLE_NPROTOS; i++)
		for (unsigned j = 0; j < sample_protos[i]->count; j++)
			check_one(sample_protos[i], &sample_protos[i]->msgs[j], buf, len);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t framed[RL_PROTO_MSG_MAX + 64];
	const struct rl_proto_desc *p;
	const struct rl_proto_msg_desc *d;
	size_t body, len;

	check_all(data, size);
	if (size < 2)
		return 0;
	/* Framed: byte 0 picks the protocol, byte 1 the message (its low bits
	 * the handle count too). */
	p = sample_protos[data[0] % SAMPLE_NPROTOS];
	d = &p->msgs[data[1] % p->count];
	body = size - 2;
	if (body > p->max - RL_PROTO_HDR_SIZE)
		body = p->max - RL_PROTO_HDR_SIZE;
	len = RL_PROTO_HDR_SIZE + body;
	framed[0] = (uint8_t)p->id;
	framed[1] = (uint8_t)(p->id >> 8);
	framed[2] = (uint8_t)(p->id >> 16);
	framed[3] = (uint8_t)(p->id >> 24);
	framed[4] = (uint8_t)d->id;
	framed[5] = (uint8_t)(d->id >> 8);
	framed[6] = p->version;
	framed[7] = (uint8_t)(data[0] / SAMPLE_NPROTOS % (d->handles + 1));
	framed[8] = (uint8_t)len;
	framed[9] = (uint8_t)(len >> 8);
	framed[10] = 0;
	framed[11] = 0;
	memset(framed + 12, 0, 4);
	memcpy(framed + RL_PROTO_HDR_SIZE, data + 2, body);
	check_all(framed, len);
	return 0;
}

#ifdef FUZZ_STANDALONE
static uint64_t sm_state;

static uint64_t splitmix(void)
{
	uint64_t z = (sm_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000;
	static uint8_t buf[RL_PROTO_MSG_MAX + 64];
	static union sample_any m;

	standalone_seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x1bc0feedull;
	sm_state = standalone_seed;
	for (standalone_iter = 0; standalone_iter < n; standalone_iter++) {
		size_t len;

		if (standalone_iter % 2) {
			/* Random bytes, the first two picking a framing. */
			len = splitmix() % 600;
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)splitmix();
			LLVMFuzzerTestOneInput(buf, len);
			continue;
		}
		/* A valid message with a few bytes changed, its length kept or cut. */
		{
			const struct rl_proto_desc *p = sample_protos[splitmix() % SAMPLE_NPROTOS];
			const struct rl_proto_msg_desc *d = &p->msgs[splitmix() % p->count];
			enum sample_mode mode = (enum sample_mode)(splitmix() % 4);
			int r;

			if (!sample_fill(p, d->id, mode, splitmix(), &m))
				continue;
			r = d->encode(&m, buf, sizeof(buf));
			CHECK(r > 0, "%s/%s: a sample does not encode (%d)", p->name, d->name, r);
			len = (size_t)r;
			for (unsigned k = splitmix() % 4; k > 0; k--)
				buf[splitmix() % len] = (uint8_t)(splitmix() % 3 ? splitmix() : 0);
			if (splitmix() % 8 == 0)
				len = splitmix() % (len + 1);
			check_all(buf, len);
		}
	}
	CHECK(decoded > n / 20, "only %lu inputs decoded: the fuzzer reaches no fields", decoded);
	printf("PASS fuzz-proto (%lu inputs, %lu decoded)\n", n, decoded);
	return 0;
}
#endif
