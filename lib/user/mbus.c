/*
 * mbus.c - the mbus client (rill/mbus.h, docs/mbus.md): requests encoded
 * and replies decoded with the generated codecs, over chains awaited from
 * a runtime task.
 *
 * A call on the shared lane is one submission: OFFER, and on the new
 * stream SEND the request, RECV the reply. The OFFER asks no lane back
 * unless the call needs the stream after that submission (a conversation
 * it returns, or a lane to pull), so a find or get leaves nothing behind.
 *
 * Messages are decoded into structs on the calling task's stack (a few
 * KiB each, well inside its 60 KiB), never into static buffers: loops on
 * other threads may call these at the same time.
 */
#include <rill/ipc.h>
#include <rill/mbus.h>
#include <rill/rt.h>
#include <rill/string.h>

#define LANE_RIGHTS	(RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER)

/* A result buffer for chains of up to 4 actions and one reply. */
struct res {
	struct rl_ipc_result r[4];
	uint8_t inline_bytes[MBUS_MSG_MAX];
} __attribute__((aligned(8)));

/* The error of a reply that did not decode as the message expected: a
 * `refused` carries one; anything else is the server's fault. */
static int bad_reply(const void *buf, size_t len)
{
	struct mbus_refused r;

	if (mbus_refused_decode(buf, len, &r) == 0)
		return r.error;
	return -RILL_EPROTO;
}

/* Decode reply i of res as message M into *out: 0 or the reply's error,
 * or -EPROTO when it is not that message. */
#define DECODE(res, i, M, out) ({						\
	struct rl_ipc_result *__r = rl_ipc_result((res), (i));			\
	const void *__b = rl_ipc_inline((res), (i));				\
	int __e = __r->status;							\
	if (!__e)								\
		__e = mbus_##M##_decode(__b, __r->length, (out)) ? bad_reply(__b, __r->length) \
								: (out)->error; \
	__e;									\
})

/* The first failed action's status of the first n results, or 0. */
static int failed(struct res *res, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (res->r[i].status)
			return res->r[i].status;
	return 0;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap);

	if (n >= cap)
		return -RILL_ERANGE;
	memcpy(dst, src, n + 1);
	return 0;
}

int rl_mbus_prop_set(struct mbus_prop *p, const char *key, const char *value)
{
	memset(p, 0, sizeof(*p));
	if (copy_str(p->key, sizeof(p->key), key) || copy_str(p->value, sizeof(p->value), value))
		return -RILL_ERANGE;
	return 0;
}

int rl_mbus_match_set(struct mbus_match *m, const char *key, enum mbus_match_op op,
		      const char *value)
{
	memset(m, 0, sizeof(*m));
	m->op = op;
	if (copy_str(m->key, sizeof(m->key), key) ||
	    copy_str(m->value, sizeof(m->value), value ? value : ""))
		return -RILL_ERANGE;
	return 0;
}

const char *rl_mbus_prop(const struct mbus_prop *props, uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(props[i].key, key))
			return props[i].value;
	return NULL;
}

int rl_mbus_open(rl_handle_t mbus, rl_handle_t *conv)
{
	struct rl_ipc_result r;
	struct rl_chain c;
	int64_t e;

	*conv = 0;
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	e = rl_await_ipc(mbus, &c, &r);
	if (e)
		return (int)e;
	if (r.status)
		return r.status;
	*conv = r.handle;
	return 0;
}

/* ---- publish and remove ------------------------------------------------------------- */

static int publish_msg(const struct mbus_prop *props, uint32_t n, uint8_t *buf)
{
	struct mbus_publish m;

	if (n > MBUS_PROPS_MAX)
		return -RILL_ERANGE;
	memset(&m, 0, sizeof(m));
	memcpy(m.props, props, n * sizeof(props[0]));
	m.props_count = n;
	m.lane = 0;
	return mbus_publish_encode(&m, buf, MBUS_PUBLISH_MAX);
}

/* [SEND publish, PUSH lane, RECV reply] at the chain's current depth. */
static int publish_chain(struct rl_chain *c, const uint8_t *msg, int len, rl_handle_t lane)
{
	rl_chain_send(c, msg, (size_t)len);
	rl_chain_push(c, lane, LANE_RIGHTS);
	return rl_chain_recv_inline(c, MBUS_MSG_MAX);
}

int rl_mbus_publish(rl_handle_t mbus, const struct mbus_prop *props, uint32_t n,
		    rl_handle_t object_lane, rl_handle_t *conv, uint64_t *id)
{
	uint8_t msg[MBUS_PUBLISH_MAX];
	struct mbus_published rep;
	struct res res;
	struct rl_chain c;
	int len = publish_msg(props, n, msg), e, ri;

	*conv = 0;
	if (len < 0)
		return len;
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	ri = publish_chain(&c, msg, len, object_lane);
	e = (int)rl_await_ipc(mbus, &c, &res);
	if (!e)
		e = failed(&res, (unsigned)ri);
	if (!e)
		e = DECODE(&res, (unsigned)ri, published, &rep);
	if (res.r[0].status == 0 && res.r[0].handle) {
		if (e)
			rl_handle_close(res.r[0].handle);
		else
			*conv = res.r[0].handle;
	}
	if (!e)
		*id = rep.object;
	return e;
}

int rl_mbus_publish_on(rl_handle_t conv, const struct mbus_prop *props, uint32_t n,
		       rl_handle_t object_lane, uint64_t *id)
{
	uint8_t msg[MBUS_PUBLISH_MAX];
	struct mbus_published rep;
	struct res res;
	struct rl_chain c;
	int len = publish_msg(props, n, msg), e, ri;

	if (len < 0)
		return len;
	rl_chain_init(&c);
	ri = publish_chain(&c, msg, len, object_lane);
	e = (int)rl_await_ipc(conv, &c, &res);
	if (!e)
		e = failed(&res, (unsigned)ri);
	if (!e)
		e = DECODE(&res, (unsigned)ri, published, &rep);
	if (!e)
		*id = rep.object;
	return e;
}

int rl_mbus_remove(rl_handle_t conv, uint64_t id)
{
	struct mbus_remove m = { .object = id };
	uint8_t msg[MBUS_REMOVE_MAX];
	struct mbus_removed rep;
	struct res res;
	struct rl_chain c;
	int len = mbus_remove_encode(&m, msg, sizeof(msg)), e;

	if (len < 0)
		return len;
	rl_chain_init(&c);
	rl_chain_send(&c, msg, (size_t)len);
	rl_chain_recv_inline(&c, MBUS_MSG_MAX);
	e = (int)rl_await_ipc(conv, &c, &res);
	if (!e)
		e = failed(&res, 1);
	if (!e)
		e = DECODE(&res, 1, removed, &rep);
	return e;
}

/* ---- find and get ----------------------------------------------------------------- */

int rl_mbus_find_page(rl_handle_t mbus, const struct mbus_match *m, uint32_t n, uint64_t after,
		      uint64_t ids[MBUS_IDS_MAX], uint32_t *count, bool *more)
{
	struct mbus_find req;
	struct mbus_found rep;
	uint8_t msg[MBUS_FIND_MAX];
	struct res res;
	struct rl_chain c;
	int len, e;

	*count = 0;
	*more = false;
	if (n > MBUS_MATCHES_MAX)
		return -RILL_ERANGE;
	memset(&req, 0, sizeof(req));
	memcpy(req.matches, m, n * sizeof(m[0]));
	req.matches_count = n;
	req.after = after;
	len = mbus_find_encode(&req, msg, sizeof(msg));
	if (len < 0)
		return len;
	rl_chain_init(&c);
	rl_chain_offer(&c, 0);
	rl_chain_send(&c, msg, (size_t)len);
	rl_chain_recv_inline(&c, MBUS_MSG_MAX);
	e = (int)rl_await_ipc(mbus, &c, &res);
	if (!e)
		e = failed(&res, 2);
	if (!e)
		e = DECODE(&res, 2, found, &rep);
	if (e)
		return e;
	/* Ids oldest first and above after: a server that says otherwise
	 * would make a pager loop for ever. */
	for (uint32_t i = 0; i < rep.objects_count; i++)
		if (rep.objects[i] <= (i ? rep.objects[i - 1] : after))
			return -RILL_EPROTO;
	if (rep.more && !rep.objects_count)
		return -RILL_EPROTO;
	memcpy(ids, rep.objects, rep.objects_count * sizeof(ids[0]));
	*count = rep.objects_count;
	*more = rep.more;
	return 0;
}

int rl_mbus_find(rl_handle_t mbus, const struct mbus_match *m, uint32_t n, uint64_t *ids,
		 uint32_t max, uint32_t *count)
{
	uint64_t page[MBUS_IDS_MAX], after = 0;
	uint32_t got;
	bool more = true;
	int e;

	*count = 0;
	while (more) {
		e = rl_mbus_find_page(mbus, m, n, after, page, &got, &more);
		if (e)
			return e;
		for (uint32_t i = 0; i < got; i++) {
			if (*count == max)
				return -RILL_E2BIG;
			ids[(*count)++] = page[i];
		}
		if (got)
			after = page[got - 1];
	}
	return 0;
}

int rl_mbus_get(rl_handle_t mbus, uint64_t id, struct mbus_prop *props, uint32_t *nprops,
		bool want_lane, rl_handle_t *lane)
{
	struct mbus_object rep;
	struct mbus_get req = { .object = id, .want_lane = want_lane };
	uint8_t msg[MBUS_GET_MAX];
	struct res res, pres;
	struct rl_chain c;
	rl_handle_t conv;
	uint8_t slot;
	int len = mbus_get_encode(&req, msg, sizeof(msg)), e;

	*nprops = 0;
	if (lane)
		*lane = 0;
	if (len < 0)
		return len;
	if (want_lane && !lane)
		return -RILL_EINVAL;
	/* With the lane, the stream must outlive this submission: the pull
	 * is a second one, made only when the reply says a handle follows. */
	rl_chain_init(&c);
	rl_chain_offer(&c, want_lane ? RL_IPC_WANT_LANE : 0);
	rl_chain_send(&c, msg, (size_t)len);
	rl_chain_recv_inline(&c, MBUS_MSG_MAX);
	e = (int)rl_await_ipc(mbus, &c, &res);
	conv = !e && !res.r[0].status ? res.r[0].handle : 0;
	if (!e)
		e = failed(&res, 2);
	if (!e)
		e = DECODE(&res, 2, object, &rep);
	if (!e && (rep.object != id || (!want_lane && rep.lane != RL_PROTO_NO_HANDLE)))
		e = -RILL_EPROTO;
	if (!e) {
		*nprops = rep.props_count;
		memcpy(props, rep.props, rep.props_count * sizeof(props[0]));
	}
	slot = rep.lane;
	if (!e && want_lane && slot == 0) {
		rl_chain_init(&c);
		rl_chain_pull(&c, RL_RIGHT_SUBMIT);
		e = (int)rl_await_ipc(conv, &c, &pres);
		if (!e)
			e = pres.r[0].status;
		if (!e)
			*lane = pres.r[0].handle;
	}
	if (conv)
		rl_handle_close(conv);
	return e;
}

int rl_mbus_find_first(rl_handle_t mbus, const struct mbus_match *m, uint32_t n, uint64_t *id,
		       struct mbus_prop *props, uint32_t *nprops)
{
	uint64_t ids[MBUS_IDS_MAX];
	uint32_t count;
	bool more;
	int e;

	*nprops = 0;
	/* Objects can go between the find and the get: then the next one. */
	for (uint64_t after = 0;;) {
		e = rl_mbus_find_page(mbus, m, n, after, ids, &count, &more);
		if (e)
			return e;
		for (uint32_t i = 0; i < count; i++) {
			e = rl_mbus_get(mbus, ids[i], props, nprops, false, NULL);
			if (e != -RILL_ENOENT) {
				if (!e)
					*id = ids[i];
				return e;
			}
		}
		if (!more)
			return -RILL_ENOENT;
		after = ids[count - 1];
	}
}

/* ---- watches ---------------------------------------------------------------------- */

int rl_mbus_watch_open(rl_handle_t mbus, const struct mbus_match *m, uint32_t n,
		       struct rl_mbus_watch *w)
{
	struct mbus_watch req;
	uint8_t msg[MBUS_WATCH_MAX];
	struct mbus_watching rep;
	struct res res;
	struct rl_chain c;
	int len, e;

	memset(w, 0, sizeof(*w));
	if (n > MBUS_MATCHES_MAX)
		return -RILL_ERANGE;
	memset(&req, 0, sizeof(req));
	memcpy(req.matches, m, n * sizeof(m[0]));
	req.matches_count = n;
	len = mbus_watch_encode(&req, msg, sizeof(msg));
	if (len < 0)
		return len;
	/* The request, then the stream its events will come on. */
	rl_chain_init(&c);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	rl_chain_send(&c, msg, (size_t)len);
	rl_chain_offer(&c, RL_IPC_WANT_LANE);
	rl_chain_end(&c);	/* the reply: back on the conversation */
	rl_chain_recv_inline(&c, MBUS_MSG_MAX);
	e = (int)rl_await_ipc(mbus, &c, &res);
	if (!e)
		e = failed(&res, 4);
	if (!e)
		e = DECODE(&res, 3, watching, &rep);
	if (!e) {
		w->conv = res.r[0].handle;
		w->events = res.r[2].handle;
		w->id = rep.watch;
		return 0;
	}
	if (res.r[0].status == 0 && res.r[0].handle)
		rl_handle_close(res.r[0].handle);
	if (res.r[2].status == 0 && res.r[2].handle)
		rl_handle_close(res.r[2].handle);
	return e;
}

int rl_mbus_watch_next(struct rl_mbus_watch *w, struct rl_mbus_event *ev, uint64_t deadline)
{
	union mbus_any m;
	struct res res;
	struct rl_chain c;
	struct rl_sqe e;
	struct rl_ipc_result *r = &res.r[0];
	int64_t st;
	int id;

	rl_chain_init(&c);
	rl_chain_recv_inline(&c, MBUS_MSG_MAX);
	if (deadline) {
		rl_chain_prep(&e, w->events, &c, &res, 0);
		st = rl_await_deadline(&e, NULL, deadline);
		/* Withdrawn for the deadline: the event waits for next time. */
		if (st == -RILL_ETIMEDOUT && r->status == -RILL_ECANCELED)
			return -RILL_ETIMEDOUT;
		if (st == -RILL_ETIMEDOUT)
			st = 0;		/* it completed meanwhile: keep it */
	} else {
		st = rl_await_ipc(w->events, &c, &res);
	}
	if (st)
		return (int)st;
	if (r->status)
		return r->status;
	id = mbus_decode(rl_ipc_inline(&res, 0), r->length, &m);
	memset(ev, 0, sizeof(*ev));
	if (id == MBUS_MSG_APPEARED && m.appeared.watch == w->id) {
		ev->kind = MBUS_MSG_APPEARED;
		ev->object = m.appeared.object;
		ev->nprops = m.appeared.props_count;
		memcpy(ev->props, m.appeared.props, ev->nprops * sizeof(ev->props[0]));
		return 0;
	}
	if (id == MBUS_MSG_DISAPPEARED && m.disappeared.watch == w->id) {
		ev->kind = MBUS_MSG_DISAPPEARED;
		ev->object = m.disappeared.object;
		return 0;
	}
	return -RILL_EPROTO;
}

int rl_mbus_watch_close(struct rl_mbus_watch *w)
{
	struct mbus_unwatch m = { .watch = w->id };
	uint8_t msg[MBUS_UNWATCH_MAX];
	struct mbus_unwatched rep;
	struct res res;
	struct rl_chain c;
	int len = mbus_unwatch_encode(&m, msg, sizeof(msg)), e = len < 0 ? len : 0;

	if (!e && w->conv) {
		rl_chain_init(&c);
		rl_chain_send(&c, msg, (size_t)len);
		rl_chain_recv_inline(&c, MBUS_MSG_MAX);
		e = (int)rl_await_ipc(w->conv, &c, &res);
		if (!e)
			e = failed(&res, 1);
		if (!e)
			e = DECODE(&res, 1, unwatched, &rep);
	}
	if (w->conv)
		rl_handle_close(w->conv);
	if (w->events)
		rl_handle_close(w->events);
	memset(w, 0, sizeof(*w));
	return e;
}
