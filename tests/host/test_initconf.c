/*
 * test_initconf.c - host tests of init's configuration parser
 * (servers/init/config.c): the file the build puts in the initrd, every
 * kind of line, every error (reported with its line, the rest still
 * read), limits, and random bytes (under ASan: never a read outside the
 * buffer, always a bounded result).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../servers/init/config.h"
#include "support.h"

static struct conf c;
static unsigned complaints, last_line;

static void complain(const char *file, unsigned line, const char *why)
{
	complaints++;
	last_line = line;
}

/* Parse a malloc'd copy of exactly the text (no NUL after it). */
static int parse(const char *text)
{
	size_t n = strlen(text);
	char *buf = malloc(n ? n : 1);
	int r;

	memcpy(buf, text, n);
	complaints = 0;
	last_line = 0;
	r = init_config_parse(buf, n, &c, "test.conf", complain);
	free(buf);
	ck_assert_uint_eq((unsigned)r, complaints);
	return r;
}

START_TEST(the_shipped_file)
{
	FILE *f = fopen("initrd/etc/init.conf", "r");
	static char text[65536];
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = 0;
	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_ge(c.nservices, 1);
	for (unsigned i = 0; i < c.nservices; i++) {
		ck_assert_uint_ge(c.services[i].argc, 1);
		ck_assert_int_eq(strncmp(c.services[i].argv[0], "bin/", 4), 0);
	}
}
END_TEST

START_TEST(every_kind_of_line)
{
	ck_assert_int_eq(parse("# comment\n\nstream mbus\nstream a.b_c-9\n"
			       "service mbus\n"
			       "\trun bin/mbus  --flag x   # trailing comment\n"
			       "  give mbus-server=mbus.server ioport-authority\n"
			       "\tgive a=a.b_c-9\n"
			       "\trestart always\n"
			       "service two\r\n"
			       "\trun bin/two\r\n"
			       "\trestart on-failure\r\n"
			       "service three\n\trun bin/three"), 0);
	ck_assert_uint_eq(c.nstreams, 2);
	ck_assert_str_eq(c.streams[1].name, "a.b_c-9");
	ck_assert_uint_eq(c.nservices, 3);
	ck_assert_str_eq(c.services[0].name, "mbus");
	ck_assert_uint_eq(c.services[0].argc, 3);
	ck_assert_str_eq(c.services[0].argv[0], "bin/mbus");
	ck_assert_str_eq(c.services[0].argv[1], "--flag");
	ck_assert_str_eq(c.services[0].argv[2], "x");
	ck_assert_uint_eq(c.services[0].ngives, 3);
	ck_assert_str_eq(c.services[0].gives[0].name, "mbus-server");
	ck_assert_str_eq(c.services[0].gives[0].source, "mbus.server");
	ck_assert_str_eq(c.services[0].gives[1].name, "ioport-authority");
	ck_assert_str_eq(c.services[0].gives[1].source, "ioport-authority");
	ck_assert_str_eq(c.services[0].gives[2].source, "a.b_c-9");
	ck_assert_int_eq(c.services[0].restart, RESTART_ALWAYS);
	ck_assert_int_eq(c.services[1].restart, RESTART_ON_FAILURE);
	ck_assert_str_eq(c.services[1].argv[0], "bin/two");
	ck_assert_int_eq(c.services[2].restart, RESTART_NEVER);
	ck_assert_str_eq(c.services[2].argv[0], "bin/three");
}
END_TEST

/* A 23-byte stream's server end is 30 bytes: still a valid source. */
START_TEST(long_names)
{
	ck_assert_int_eq(parse("stream abcdefghijklmnopqrstuvw\nservice s\n\trun bin/s\n"
			       "\tgive x=abcdefghijklmnopqrstuvw.server\n"), 0);
	ck_assert_str_eq(c.services[0].gives[0].source, "abcdefghijklmnopqrstuvw.server");
	ck_assert_int_eq(parse("stream abcdefghijklmnopqrstuvwx\n"), 1);
	ck_assert_int_eq(parse("service s\n\trun bin/s\n\tgive abcdefghijklmnopqrstuvwx\n"), 1);
	ck_assert_int_eq(parse("service s\n\trun bin/s\n\tgive x=abcdefghijklmnopqrstuvwx.servr\n"), 1);
}
END_TEST

struct bad { const char *text; unsigned line; unsigned services; };

START_TEST(errors_reported_and_the_rest_read)
{
	static const struct bad bad[] = {
		{ "bogus line\nservice a\n\trun bin/a\n", 1, 1 },
		{ "\trun bin/a\nservice a\n\trun bin/a\n", 1, 1 },
		{ "service\nservice a\n\trun bin/a\n", 1, 1 },
		{ "service A\nservice a\n\trun bin/a\n", 1, 1 },
		{ "service a b\nservice a\n\trun bin/a\n", 1, 1 },
		{ "service a\n\trun bin/a\nservice a\n\trun bin/b\n", 3, 1 },
		{ "stream x\nstream x\n", 2, 0 },
		{ "stream init\n", 1, 0 },
		{ "service a\n\trun bin/a\n\trun bin/b\n", 3, 1 },
		{ "service a\n\trun\n", 1, 0 },		/* line 2, then dropped (line 1) */
		{ "service a\n\trun bin/a 1 2 3 4 5 6 7 8\n", 1, 0 },
		{ "service a\n\trun bin/a\n\trestart sometimes\n", 3, 1 },
		{ "service a\n\trun bin/a\n\trestart\n", 3, 1 },
		{ "service a\n\trun bin/a\n\tgive\n", 3, 1 },
		{ "service a\n\trun bin/a\n\tgive x x\n", 3, 1 },
		{ "service a\n\trun bin/a\n\tgive X\n", 3, 1 },
		{ "service a\n\trun bin/a\n\tgive =x\n", 3, 1 },
		{ "service a\n\trun bin/a\n\tgive x=\n", 3, 1 },
		{ "service a\n\trun bin/a\n\tgive x=a=b\n", 3, 1 },
		{ "service a\n\trun bin/a\n\tfrobnicate\n", 3, 1 },
		{ "service a\n\trestart always\n", 1, 0 },	/* dropped at its end */
		{ "service a\n\trun bin/a\n\tgive a b c d e f g h i j k l m n o p q\n", 3, 1 },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i].text) >= 1, "case %u accepted", i);
		ck_assert_msg(last_line == bad[i].line, "case %u: line %u, not %u", i, last_line,
			      bad[i].line);
		ck_assert_msg(c.nservices == bad[i].services, "case %u: %u services", i,
			      c.nservices);
	}
}
END_TEST

START_TEST(limits)
{
	static char text[8192];
	size_t n = 0;

	for (int i = 0; i < 17; i++)
		n += (size_t)sprintf(text + n, "service s%d\n\trun bin/s\n", i);
	ck_assert_int_eq(parse(text), 1);	/* the 17th (its lines skipped) */
	ck_assert_uint_eq(c.nservices, 16);
	n = 0;
	for (int i = 0; i < 17; i++)
		n += (size_t)sprintf(text + n, "stream s%d\n", i);
	ck_assert_int_eq(parse(text), 1);
	ck_assert_uint_eq(c.nstreams, 16);
	n = (size_t)sprintf(text, "service a\n\trun bin/a ");
	memset(text + n, 'x', 64);
	text[n + 64] = 0;
	ck_assert_int_eq(parse(text), 2);	/* the argument, then no run */
	text[n + 63] = 0;
	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(strlen(c.services[0].argv[1]), 63);
}
END_TEST

START_TEST(nul_bytes)
{
	static const char t[] = "service a\n\trun bin/a\0x\nservice b\n\trun bin/b\n";
	char *buf = malloc(sizeof(t) - 1);

	memcpy(buf, t, sizeof(t) - 1);
	complaints = 0;
	/* The line with the NUL refused, then service a without its run. */
	ck_assert_int_eq(init_config_parse(buf, sizeof(t) - 1, &c, "t", complain), 2);
	ck_assert_uint_eq(c.nservices, 1);
	ck_assert_str_eq(c.services[0].name, "b");
	free(buf);
}
END_TEST

START_TEST(random_bytes)
{
	static const char alphabet[] = "servicstramungiv \t\n#=.-_abx019AZ\r";
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(x % 300);
		char *buf = malloc(n ? n : 1);

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (round & 1) ? (char)x : alphabet[x % (sizeof(alphabet) - 1)];
		}
		complaints = 0;
		ck_assert_int_eq(init_config_parse(buf, n, &c, "r", complain), (int)complaints);
		ck_assert_uint_le(c.nservices, INIT_SERVICES_MAX);
		ck_assert_uint_le(c.nstreams, INIT_STREAMS_MAX);
		for (unsigned i = 0; i < c.nservices; i++) {
			ck_assert_uint_ge(c.services[i].argc, 1);
			ck_assert_uint_le(c.services[i].argc, INIT_ARGS_MAX);
			ck_assert_uint_le(c.services[i].ngives, INIT_GIVES_MAX);
		}
		free(buf);
		x += (uint64_t)round;
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("initconf");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, the_shipped_file);
	tcase_add_test(tc, every_kind_of_line);
	tcase_add_test(tc, long_names);
	tcase_add_test(tc, errors_reported_and_the_rest_read);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, nul_bytes);
	tcase_add_test(tc, random_bytes);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
