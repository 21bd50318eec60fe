/*
 * proto.c - protocol messages over a real IPC stream (docs/protocols.md):
 * a small mbus server thread and this test talk through encoded messages,
 * with handles pushed and pulled by the slots the messages name; a
 * malformed request gets a `refused` reply and the server keeps serving.
 *
 * The server thread reports what went wrong in struct server (a thread
 * other than the test's cannot fail the test itself); the test checks it
 * after the join.
 */
#include <proto/chardev.h>
#include <proto/mbus.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define RES_SIZE	(2 * 32 + 4096 + 64)

struct server {
	rl_handle_t lane;
	rl_handle_t published;		/* the lane it was given */
	uint64_t next_id;
	int served, refused;
	int err;			/* first failure, or 0 */
	int line;			/* where */
};

#define SV_CHECK(s, c) do {						\
	if (!(c) && !(s)->err) {					\
		(s)->err = -1;						\
		(s)->line = __LINE__;					\
	}								\
} while (0)

static void set(char *dst, const char *src)
{
	memcpy(dst, src, strlen(src) + 1);
}

static uint64_t sv_res[RES_SIZE / 8], sv_out[MBUS_MSG_MAX / 8];
static union mbus_any sv_req, sv_rep;

/* Send one reply (and the handles its slots name). */
static void sv_reply(struct server *s, struct rl_queue *q, int len, rl_handle_t h)
{
	struct rl_chain c;

	SV_CHECK(s, len > 0);
	if (len <= 0)
		return;
	rl_chain_init(&c);
	rl_chain_send(&c, sv_out, (size_t)len);
	if (h)
		rl_chain_push(&c, h, RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
	SV_CHECK(s, rl_ipc_call(q, s->lane, &c, sv_res) == 0);
	SV_CHECK(s, rl_ipc_result(sv_res, 0)->status == 0);
}

/* Serve until the stream ends. */
static void server_main(void *arg)
{
	struct server *s = arg;
	struct rl_queue q;
	struct rl_chain c;

	if (rl_queue_init(&q, 8, 16)) {
		s->err = -2;
		return;
	}
	for (;;) {
		struct rl_ipc_result *r;
		int id, len = -1;
		rl_handle_t give = 0;

		rl_chain_init(&c);
		rl_chain_recv_inline(&c, MBUS_MSG_MAX);
		if (rl_ipc_call(&q, s->lane, &c, sv_res) != 0)
			break;
		r = rl_ipc_result(sv_res, 0);
		if (r->status)
			break;		/* -EPIPE: the client is done */
		id = mbus_decode(rl_ipc_inline(sv_res, 0), r->length, &sv_req);
		memset(&sv_rep, 0, sizeof(sv_rep));
		s->served++;
		if (id < 0) {
			s->refused++;
			sv_rep.refused.error = -RILL_EPROTO;
			sv_reply(s, &q, mbus_refused_encode(&sv_rep.refused, sv_out, sizeof(sv_out)), 0);
			continue;
		}
		switch (id) {
		case MBUS_MSG_PUBLISH:
			/* Pull the handle the lane slot names (slot 0: the only one). */
			rl_chain_init(&c);
			rl_chain_pull(&c, RL_RIGHT_SUBMIT);
			SV_CHECK(s, sv_req.publish.lane == 0);
			SV_CHECK(s, rl_ipc_call(&q, s->lane, &c, sv_res) == 0);
			SV_CHECK(s, rl_ipc_result(sv_res, 0)->status == 0);
			s->published = rl_ipc_result(sv_res, 0)->handle;
			sv_rep.published.object = ++s->next_id;
			len = mbus_published_encode(&sv_rep.published, sv_out, sizeof(sv_out));
			break;
		case MBUS_MSG_GET:
			if (sv_req.get.object != s->next_id || !s->published) {
				sv_rep.object.error = -RILL_ENOENT;
			} else {
				sv_rep.object.object = s->next_id;
				sv_rep.object.props_count = 1;
				set(sv_rep.object.props[0].key, "class");
				set(sv_rep.object.props[0].value, "serial");
				sv_rep.object.lane = sv_req.get.want_lane ? 0 : RL_PROTO_NO_HANDLE;
				give = sv_req.get.want_lane ? s->published : 0;
			}
			len = mbus_object_encode(&sv_rep.object, sv_out, sizeof(sv_out));
			if (sv_rep.object.error)
				give = 0;
			break;
		default:
			sv_rep.refused.error = -RILL_ENOSYS;
			len = mbus_refused_encode(&sv_rep.refused, sv_out, sizeof(sv_out));
			break;
		}
		sv_reply(s, &q, len, give);
	}
	if (s->published)
		rl_handle_close(s->published);
	rl_handle_close(q.handle);
}

static struct rl_queue q;
static bool q_ready;

static struct rl_queue *Q(void)
{
	if (!q_ready) {
		TEST_EQ(rl_queue_init(&q, 16, 32), 0);
		q_ready = true;
	}
	return &q;
}

static uint64_t res[RES_SIZE / 8], msg[MBUS_MSG_MAX / 8];
static union mbus_any rep;

/* Send a request of len bytes (pushing h when non-zero), receive the reply
 * and decode it: the reply's id, or -error. */
static int call(rl_handle_t lane, const void *req, size_t len, rl_handle_t h)
{
	struct rl_chain c;
	int ri;

	rl_chain_init(&c);
	rl_chain_send(&c, req, len);
	if (h)
		rl_chain_push(&c, h, RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);
	ri = rl_chain_recv_inline(&c, MBUS_MSG_MAX);
	TEST_EQ(rl_ipc_call(Q(), lane, &c, res), 0);
	for (int i = 0; i <= ri; i++)
		TEST_EQ(rl_ipc_result(res, (unsigned)i)->status, 0);
	return mbus_decode(rl_ipc_inline(res, (unsigned)ri), rl_ipc_result(res, (unsigned)ri)->length,
			   &rep);
}

/* Pull the n handles a reply said it carries. */
static rl_handle_t pull(rl_handle_t lane)
{
	struct rl_chain c;

	rl_chain_init(&c);
	rl_chain_pull(&c, RL_RIGHT_SUBMIT);
	TEST_EQ(rl_ipc_call(Q(), lane, &c, res), 0);
	TEST_EQ(rl_ipc_result(res, 0)->status, 0);
	return rl_ipc_result(res, 0)->handle;
}

DEFINE_TEST(mbus_over_a_stream)
{
	static struct server sv;
	static union mbus_any m;
	struct rl_handle_info info;
	rl_handle_t l[2], obj[2], got;
	int64_t th;
	int len;

	TEST_EQ(rl_stream(l), 0);
	TEST_EQ(rl_stream(obj), 0);
	memset(&sv, 0, sizeof(sv));
	sv.lane = l[1];
	th = rl_thread_spawn(server_main, &sv);
	TEST_ASSERT(th > 0);

	/* publish, pushing obj[0] in slot 0 */
	m.publish.props_count = 2;
	set(m.publish.props[0].key, "class");
	set(m.publish.props[0].value, "serial");
	set(m.publish.props[1].key, "io");
	set(m.publish.props[1].value, "0x3f8");
	m.publish.lane = 0;
	len = mbus_publish_encode(&m.publish, msg, sizeof(msg));
	TEST_ASSERT(len > 0);
	TEST_EQ(call(l[0], msg, (size_t)len, obj[0]), MBUS_MSG_PUBLISHED);
	TEST_EQ(rep.published.error, 0);
	TEST_EQ(rep.published.object, 1);

	/* get with its lane: the reply names slot 0, the handle follows */
	memset(&m, 0, sizeof(m));
	m.get.object = 1;
	m.get.want_lane = true;
	len = mbus_get_encode(&m.get, msg, sizeof(msg));
	TEST_EQ(call(l[0], msg, (size_t)len, 0), MBUS_MSG_OBJECT);
	TEST_EQ(rep.object.error, 0);
	TEST_EQ(rep.object.props_count, 1);
	TEST_EQ(strcmp(rep.object.props[0].value, "serial"), 0);
	TEST_EQ(rep.object.lane, 0);
	TEST_EQ(((const uint8_t *)rl_ipc_inline(res, 1))[7], 1);	/* nh in the header */
	got = pull(l[0]);
	TEST_ASSERT(got > 0);
	TEST_EQ(rl_handle_info(got, &info), 0);
	TEST_EQ(info.type, RL_OBJ_LANE);
	TEST_EQ(rl_handle_info(obj[0], &info), 0);
	{
		uint64_t id = info.id;

		TEST_EQ(rl_handle_info(got, &info), 0);
		TEST_EQ(info.id, id);	/* the very lane published */
	}
	TEST_EQ(rl_handle_close(got), 0);

	/* an unknown object: an error reply, the header alone, no handle */
	m.get.object = 77;
	len = mbus_get_encode(&m.get, msg, sizeof(msg));
	TEST_EQ(call(l[0], msg, (size_t)len, 0), MBUS_MSG_OBJECT);
	TEST_EQ(rep.object.error, -RILL_ENOENT);
	TEST_EQ(rl_ipc_result(res, 1)->length, RL_PROTO_HDR_SIZE);

	/* malformed requests: refused, and the server goes on */
	len = mbus_get_encode(&m.get, msg, sizeof(msg));
	((uint8_t *)msg)[25] = 1;	/* padding */
	TEST_EQ(call(l[0], msg, (size_t)len, 0), MBUS_MSG_REFUSED);
	TEST_EQ(rep.refused.error, -RILL_EPROTO);
	TEST_EQ(call(l[0], msg, 7, 0), MBUS_MSG_REFUSED);	/* truncated */
	TEST_EQ(rep.refused.error, -RILL_EPROTO);
	memset(msg, 0xa5, 64);
	TEST_EQ(call(l[0], msg, 64, 0), MBUS_MSG_REFUSED);	/* garbage */
	{
		/* another protocol's message */
		struct chardev_read rd = { .max = 16 };

		len = chardev_read_encode(&rd, msg, sizeof(msg));
		TEST_EQ(call(l[0], msg, (size_t)len, 0), MBUS_MSG_REFUSED);
	}
	/* a valid request the server does not serve */
	memset(&m, 0, sizeof(m));
	m.unwatch.watch = 3;
	len = mbus_unwatch_encode(&m.unwatch, msg, sizeof(msg));
	TEST_EQ(call(l[0], msg, (size_t)len, 0), MBUS_MSG_REFUSED);
	TEST_EQ(rep.refused.error, -RILL_ENOSYS);

	/* still serving */
	m.get.object = 1;
	m.get.want_lane = false;
	len = mbus_get_encode(&m.get, msg, sizeof(msg));
	TEST_EQ(call(l[0], msg, (size_t)len, 0), MBUS_MSG_OBJECT);
	TEST_EQ(rep.object.error, 0);
	TEST_EQ(rep.object.lane, RL_PROTO_NO_HANDLE);

	TEST_EQ(rl_handle_close(l[0]), 0);	/* the server sees -EPIPE */
	TEST_EQ(rl_thread_join((rl_handle_t)th), 0);
	TEST_EQ(rl_handle_close((rl_handle_t)th), 0);
	if (sv.err)
		rl_test_fail(__FILE__, sv.line, "server: check failed");
	TEST_EQ(sv.served, 9);
	TEST_EQ(sv.refused, 4);
	TEST_EQ(rl_handle_close(l[1]), 0);
	TEST_EQ(rl_handle_close(obj[0]), 0);
	TEST_EQ(rl_handle_close(obj[1]), 0);
}
