/*
 * mbus - the registry (docs/mbus.md, protocol: docs/protocols.md "mbus").
 *
 *   bin/mbus     "mbus-server": the server end of the listening stream
 *                "ioport-authority" (optional): publish the kernel's devices
 *
 * One thread, one loop, one task per conversation. A client OFFERs a
 * stream on the listening lane; the task that ACCEPTs it serves requests
 * on it ([RECV] a request, [SEND] its reply, in turn) until the client's
 * side ends. What a conversation published lives as long as the
 * conversation: when it ends (the publisher closed it or died) its objects
 * disappear and its watches go. A watch's events go on a stream of their
 * own, which the client OFFERs right after the `watch` request; a sender
 * task per watch feeds it while events are queued.
 *
 * mbus answers everything it cannot read with `refused` and goes on
 * serving: one client's garbage never reaches another's conversation.
 */
#include <rill/format.h>
#include <rill/ipc.h>
#include <rill/string.h>

#include "mbus.h"

#define RES_MAX		(2 * sizeof(struct rl_ipc_result) + RL_IPC_INLINE_MAX)
#define LANE_RIGHTS	(RL_RIGHT_SUBMIT | RL_RIGHT_DUP | RL_RIGHT_TRANSFER)

struct mbus_stats mbus_stats;

static struct object *objects_head, *objects_tail;
static struct watch *watches;
static uint64_t next_object = 1, next_watch = 1;
static struct object *self;		/* mbus's own object: its counters */

static void watch_kill(struct watch *w);

/* ---- properties and matches ---------------------------------------------------------- */

static const char *prop_get(const struct mbus_prop *props, uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (!strcmp(props[i].key, key))
			return props[i].value;
	return NULL;
}

/* Keys not empty and each once (EINVAL otherwise): the decoder has checked
 * lengths and NULs already. */
static bool props_valid(const struct mbus_prop *props, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!props[i].key[0])
			return false;
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(props[i].key, props[j].key))
				return false;
	}
	return true;
}

static bool matches_valid(const struct mbus_match *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!m[i].key[0])
			return false;
		if ((m[i].op == MBUS_MATCH_OP_PRESENT || m[i].op == MBUS_MATCH_OP_ABSENT) &&
		    m[i].value[0])
			return false;
	}
	return true;
}

static bool matches(const struct object *o, const struct mbus_match *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const char *v = prop_get(o->props, o->nprops, m[i].key);

		switch (m[i].op) {
		case MBUS_MATCH_OP_EQUAL:
			if (!v || strcmp(v, m[i].value))
				return false;
			break;
		case MBUS_MATCH_OP_PREFIX:
			if (!v || strncmp(v, m[i].value, strlen(m[i].value)))
				return false;
			break;
		case MBUS_MATCH_OP_PRESENT:
			if (!v)
				return false;
			break;
		case MBUS_MATCH_OP_ABSENT:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

/* ---- mbus's own object ------------------------------------------------------------- */

static const char *const stat_keys[] = { "objects", "watches", "conversations", "requests",
					 "refused" };

/* Rewrite the counters in mbus's own object, so that whoever reads it
 * (get, find, a watch's snapshot) sees them as they are now. */
static void stats_sync(void)
{
	const uint64_t v[] = { mbus_stats.objects, mbus_stats.watches, mbus_stats.conversations,
			       mbus_stats.requests, mbus_stats.refused };

	if (!self)
		return;
	for (uint32_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		rill_snprintf(self->props[1 + i].value, sizeof(self->props[0].value), "%lu",
			      (unsigned long)v[i]);
}

/* ---- watches and their events ---------------------------------------------------------- */

static void watch_free(struct watch *w)
{
	while (w->head) {
		struct event *e = w->head;

		w->head = e->next;
		free(e);
	}
	if (w->events)
		rl_handle_close(w->events);
	free(w);
}

/* Feed a watch's event stream while events are queued, one SEND at a time
 * (the watcher's receives pace it), then end; the next event starts
 * another. It frees the watch if it was unwatched meanwhile. */
static int64_t sender(void *arg)
{
	struct watch *w = arg;
	uint8_t buf[MBUS_APPEARED_MAX];
	union {
		struct mbus_appeared a;
		struct mbus_disappeared d;
	} m;
	char res[sizeof(struct rl_ipc_result)];

	while (!w->dead && w->head) {
		struct event *e = w->head;
		struct rl_chain c;
		int len;

		w->head = e->next;
		if (!w->head)
			w->tail = NULL;
		w->queued--;
		memset(&m, 0, sizeof(m));
		if (e->msg == MBUS_MSG_APPEARED) {
			m.a.watch = w->id;
			m.a.object = e->object;
			m.a.props_count = e->nprops;
			memcpy(m.a.props, e->props, e->nprops * sizeof(e->props[0]));
			len = mbus_appeared_encode(&m.a, buf, sizeof(buf));
		} else {
			m.d.watch = w->id;
			m.d.object = e->object;
			len = mbus_disappeared_encode(&m.d, buf, sizeof(buf));
		}
		free(e);
		if (len < 0)
			continue;	/* cannot be: the properties were valid */
		rl_chain_init(&c);
		rl_chain_send(&c, buf, (size_t)len);
		if (rl_await_ipc(w->events, &c, res) < 0 || rl_ipc_result(res, 0)->status) {
			/* The watcher closed its event stream (or we shut it
			 * down): the watch is over. */
			if (!w->dead)
				watch_kill(w);
		}
	}
	w->sending = false;
	if (w->dead)
		watch_free(w);
	return 0;
}

static void watch_kick(struct watch *w)
{
	if (w->dead || !w->events || w->sending || !w->head)
		return;
	if (rl_task_spawn_detached(sender, w) == 0)
		w->sending = true;
	else
		watch_kill(w);	/* no memory for a task: the watcher sees its stream end */
}

/* Queue an event for w; a watcher that lets too many pile up loses the
 * watch rather than mbus its memory. */
static void event_push(struct watch *w, uint16_t msg, const struct object *o)
{
	uint32_t n = msg == MBUS_MSG_APPEARED ? o->nprops : 0;
	struct event *e;

	if (w->dead)
		return;
	if (w->queued >= RL_MBUS_EVENTS_MAX ||
	    !(e = malloc(sizeof(*e) + n * sizeof(e->props[0])))) {
		watch_kill(w);
		return;
	}
	e->next = NULL;
	e->msg = msg;
	e->object = o->id;
	e->nprops = n;
	if (n) {
		stats_sync();
		memcpy(e->props, o->props, n * sizeof(e->props[0]));
	}
	if (w->tail)
		w->tail->next = e;
	else
		w->head = e;
	w->tail = e;
	w->queued++;
	watch_kick(w);
}

/* End a watch: no event follows. Its sender, if one runs, frees it when
 * its SEND ends, which shutting the stream down makes happen now. */
static void watch_kill(struct watch *w)
{
	if (w->dead)
		return;
	w->dead = true;
	if (w->prev)
		w->prev->next = w->next;
	else
		watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	mbus_stats.watches--;
	if (!w->sending) {
		watch_free(w);
		return;
	}
	/* Synchronous (it completes at once): an await here would let other
	 * tasks run in the middle of the callers' walks over the lists. */
	if (w->events)
		rl_lane_shutdown(w->events);
}

/* ---- objects ------------------------------------------------------------------------ */

struct object *mbus_object_add(const struct mbus_prop *props, uint32_t n, struct conv *owner,
			       rl_handle_t lane, uint64_t koid)
{
	struct object *o = malloc(sizeof(*o) + n * sizeof(o->props[0]));

	if (!o)
		return NULL;
	memset(o, 0, sizeof(*o));
	o->id = next_object++;
	o->owner = owner;
	o->lane = lane;
	o->lane_koid = koid;
	o->nprops = n;
	memcpy(o->props, props, n * sizeof(props[0]));
	o->prev = objects_tail;
	if (objects_tail)
		objects_tail->next = o;
	else
		objects_head = o;
	objects_tail = o;
	mbus_stats.objects++;
	for (struct watch *w = watches, *next; w; w = next) {
		next = w->next;
		if (matches(o, w->matches, w->nmatches))
			event_push(w, MBUS_MSG_APPEARED, o);
	}
	return o;
}

static void object_remove(struct object *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else
		objects_head = o->next;
	if (o->next)
		o->next->prev = o->prev;
	else
		objects_tail = o->prev;
	mbus_stats.objects--;
	for (struct watch *w = watches, *next; w; w = next) {
		next = w->next;
		if (matches(o, w->matches, w->nmatches))
			event_push(w, MBUS_MSG_DISAPPEARED, o);
	}
	if (o->lane)
		rl_handle_close(o->lane);
	free(o);
}

static struct object *object_find(uint64_t id)
{
	for (struct object *o = objects_head; o; o = o->next)
		if (o->id == id)
			return o;
	return NULL;
}

/* ---- one conversation ------------------------------------------------------------------ */

/* Send a reply of len bytes on the conversation, pushing h when not 0: 0,
 * or the error that ends the conversation. */
static int reply(struct conv *cv, const void *buf, int len, rl_handle_t h)
{
	char res[2 * sizeof(struct rl_ipc_result)];
	struct rl_chain c;

	if (len < 0)
		return len;	/* an encoder refused our own reply: a bug */
	rl_chain_init(&c);
	rl_chain_send(&c, buf, (size_t)len);
	if (h)
		rl_chain_push(&c, h, LANE_RIGHTS);
	if (rl_await_ipc(cv->lane, &c, res) < 0)
		return -RILL_EPIPE;
	if (rl_ipc_result(res, 0)->status)
		return rl_ipc_result(res, 0)->status;
	return h ? rl_ipc_result(res, 1)->status : 0;
}

static int refuse(struct conv *cv, int error)
{
	struct mbus_refused m = { .error = error };
	uint8_t buf[MBUS_REFUSED_MAX];

	mbus_stats.refused++;
	return reply(cv, buf, mbus_refused_encode(&m, buf, sizeof(buf)), 0);
}

/* Pull n handles the client pushed with a message (0 on failure). */
static int pull(struct conv *cv, unsigned n, rl_handle_t *out)
{
	char res[RL_PROTO_MAX_HANDLES * sizeof(struct rl_ipc_result)];
	struct rl_chain c;
	int err = 0;

	rl_chain_init(&c);
	for (unsigned i = 0; i < n; i++)
		rl_chain_pull(&c, 0);
	if (rl_await_ipc(cv->lane, &c, res) < 0)
		return -RILL_EPIPE;
	for (unsigned i = 0; i < n; i++) {
		struct rl_ipc_result *r = rl_ipc_result(res, i);

		out[i] = r->status ? 0 : r->handle;
		if (r->status && !err)
			err = r->status;
	}
	return err;
}

/* A request mbus will not serve: take the handles its header says came
 * with it (so that they do not stand in the way of the reply, and are not
 * kept), then answer `refused`. Only a header of this protocol and version
 * is trusted for the count; a client that pushed handles behind garbage
 * loses its conversation when the reply meets them. */
static int refuse_request(struct conv *cv, const uint8_t *msg, size_t len, int error)
{
	if (len >= RL_PROTO_HDR_SIZE && msg[7] && msg[7] <= RL_PROTO_MAX_HANDLES &&
	    (msg[0] | msg[1] << 8 | msg[2] << 16 | (uint32_t)msg[3] << 24) == MBUS_PROTO_ID &&
	    msg[6] == MBUS_VERSION) {
		rl_handle_t h[RL_PROTO_MAX_HANDLES];
		int e = pull(cv, msg[7], h);

		for (unsigned i = 0; i < msg[7]; i++)
			if (h[i])
				rl_handle_close(h[i]);
		if (e == -RILL_EPIPE)
			return e;
	}
	return refuse(cv, error);
}

static int do_publish(struct conv *cv, const struct mbus_publish *req)
{
	struct mbus_published rep = { 0 };
	uint8_t buf[MBUS_PUBLISHED_MAX];
	struct rl_handle_info info;
	rl_handle_t lane;
	int e = pull(cv, 1, &lane);

	if (e == -RILL_EPIPE)
		return e;
	if (e)
		rep.error = -RILL_EINVAL;	/* not pushed, or without the rights */
	else if (!props_valid(req->props, req->props_count) ||
		 rl_handle_info(lane, &info) || info.type != RL_OBJ_LANE ||
		 (info.rights & (RL_RIGHT_SUBMIT | RL_RIGHT_TRANSFER)) !=
			 (RL_RIGHT_SUBMIT | RL_RIGHT_TRANSFER))
		rep.error = -RILL_EINVAL;
	else if (mbus_stats.objects >= RL_MBUS_OBJECTS_MAX)
		rep.error = -RILL_ENOMEM;
	else {
		for (struct object *o = objects_head; o; o = o->next)
			if (o->lane && o->lane_koid == info.id)
				rep.error = -RILL_EEXIST;	/* that lane is published */
	}
	if (!rep.error) {
		struct object *o = mbus_object_add(req->props, req->props_count, cv, lane, info.id);

		if (o)
			rep.object = o->id;
		else
			rep.error = -RILL_ENOMEM;
	}
	if (rep.error && lane)
		rl_handle_close(lane);
	return reply(cv, buf, mbus_published_encode(&rep, buf, sizeof(buf)), 0);
}

static int do_find(struct conv *cv, const struct mbus_find *req)
{
	struct mbus_found rep = { 0 };
	uint8_t buf[MBUS_FOUND_MAX];

	if (!matches_valid(req->matches, req->matches_count))
		rep.error = -RILL_EINVAL;
	else
		for (struct object *o = objects_head; o; o = o->next) {
			if (o->id <= req->after || !matches(o, req->matches, req->matches_count))
				continue;
			if (rep.objects_count == MBUS_IDS_MAX) {
				rep.more = true;
				break;
			}
			rep.objects[rep.objects_count++] = o->id;
		}
	return reply(cv, buf, mbus_found_encode(&rep, buf, sizeof(buf)), 0);
}

static int do_get(struct conv *cv, const struct mbus_get *req)
{
	static struct mbus_object rep;	/* no wait between filling and encoding */
	uint8_t buf[MBUS_OBJECT_MAX];
	struct object *o = object_find(req->object);
	rl_handle_t give = 0;
	int len;

	memset(&rep, 0, sizeof(rep));
	rep.lane = RL_PROTO_NO_HANDLE;
	if (!o) {
		rep.error = -RILL_ENOENT;
	} else {
		rep.object = o->id;
		rep.props_count = o->nprops;
		memcpy(rep.props, o->props, o->nprops * sizeof(o->props[0]));
		if (req->want_lane && o->lane) {
			rep.lane = 0;
			give = o->lane;
		}
	}
	len = mbus_object_encode(&rep, buf, sizeof(buf));
	return reply(cv, buf, len, give);
}

/* `watch`: the client OFFERs the watch's event stream right after the
 * request; mbus ACCEPTs it (also when the reply is an error, so that the
 * stream stays in step) and replies. The watch is linked, its snapshot of
 * existing objects queued, before the first wait: nothing published
 * meanwhile is missed or reported twice. */
static int do_watch(struct conv *cv, const struct mbus_watch *req)
{
	char res[2 * sizeof(struct rl_ipc_result)];
	struct mbus_watching rep = { 0 };
	uint8_t buf[MBUS_WATCHING_MAX];
	struct watch *w = NULL;
	struct rl_chain c;
	int len;

	if (!matches_valid(req->matches, req->matches_count))
		rep.error = -RILL_EINVAL;
	else if (mbus_stats.watches >= RL_MBUS_WATCHES_MAX)
		rep.error = -RILL_ENOSPC;
	else if (!(w = calloc(1, sizeof(*w))))
		rep.error = -RILL_ENOMEM;
	if (w) {
		w->id = next_watch++;
		w->owner = cv;
		w->nmatches = req->matches_count;
		memcpy(w->matches, req->matches, sizeof(w->matches));
		w->next = watches;
		if (watches)
			watches->prev = w;
		watches = w;
		mbus_stats.watches++;
		/* Pinned while this task waits below: a kill meanwhile (too
		 * many events) leaves the freeing to us. */
		w->sending = true;
		for (struct object *o = objects_head; o && !w->dead; o = o->next)
			if (matches(o, w->matches, w->nmatches))
				event_push(w, MBUS_MSG_APPEARED, o);
		rep.watch = w->id;
		if (w->dead)
			rep.error = -RILL_ENOMEM;
	}
	len = mbus_watching_encode(&rep, buf, sizeof(buf));
	rl_chain_init(&c);
	rl_chain_accept(&c, rep.error ? 0 : RL_IPC_WANT_LANE);
	rl_chain_end(&c);	/* the reply goes on the conversation */
	rl_chain_send(&c, buf, (size_t)len);
	if (rl_await_ipc(cv->lane, &c, res) < 0)
		rl_ipc_result(res, 0)->status = -RILL_EPIPE;
	if (w) {
		w->sending = false;
		if (!rl_ipc_result(res, 0)->status && !rep.error)
			w->events = rl_ipc_result(res, 0)->handle;
		if (w->dead) {
			watch_free(w);
		} else if (!w->events) {
			watch_kill(w);
		} else {
			watch_kick(w);
		}
	}
	if (rl_ipc_result(res, 0)->status)
		return rl_ipc_result(res, 0)->status;	/* no OFFER came: out of step */
	return rl_ipc_result(res, 1)->status;
}

static int do_unwatch(struct conv *cv, const struct mbus_unwatch *req)
{
	struct mbus_unwatched rep = { .error = -RILL_ENOENT };
	uint8_t buf[MBUS_UNWATCHED_MAX];

	for (struct watch *w = watches; w; w = w->next)
		if (w->id == req->watch && w->owner == cv) {
			watch_kill(w);
			rep.error = 0;
			break;
		}
	return reply(cv, buf, mbus_unwatched_encode(&rep, buf, sizeof(buf)), 0);
}

static int do_remove(struct conv *cv, const struct mbus_remove *req)
{
	struct mbus_removed rep = { 0 };
	uint8_t buf[MBUS_REMOVED_MAX];
	struct object *o = object_find(req->object);

	if (!o)
		rep.error = -RILL_ENOENT;
	else if (o->owner != cv)
		rep.error = -RILL_EPERM;
	else
		object_remove(o);
	return reply(cv, buf, mbus_removed_encode(&rep, buf, sizeof(buf)), 0);
}

/* One request: 0 to go on, or an error that ends the conversation. */
static int serve(struct conv *cv, const uint8_t *msg, size_t len)
{
	union mbus_any req;
	int id;

	mbus_stats.requests++;
	stats_sync();
	if (len >= RL_PROTO_HDR_SIZE &&
	    (msg[0] | msg[1] << 8 | msg[2] << 16 | (uint32_t)msg[3] << 24) == MBUS_PROTO_ID &&
	    msg[6] == MBUS_VERSION && (msg[4] | msg[5] << 8) > MBUS_MSG_REMOVED)
		return refuse_request(cv, msg, len, -RILL_ENOSYS);	/* newer than us */
	id = mbus_decode(msg, len, &req);
	switch (id) {
	case MBUS_MSG_PUBLISH:
		return do_publish(cv, &req.publish);
	case MBUS_MSG_FIND:
		return do_find(cv, &req.find);
	case MBUS_MSG_GET:
		return do_get(cv, &req.get);
	case MBUS_MSG_WATCH:
		return do_watch(cv, &req.watch);
	case MBUS_MSG_UNWATCH:
		return do_unwatch(cv, &req.unwatch);
	case MBUS_MSG_REMOVE:
		return do_remove(cv, &req.remove);
	default:
		/* Undecodable, or a reply or event sent as a request. */
		return refuse_request(cv, msg, len, -RILL_EPROTO);
	}
}

/* A conversation ends: what it published disappears, its watches go. */
static void conv_end(struct conv *cv)
{
	for (struct object *o = objects_head, *next; o; o = next) {
		next = o->next;
		if (o->owner == cv)
			object_remove(o);
	}
	for (struct watch *w = watches, *next; w; w = next) {
		next = w->next;
		if (w->owner == cv)
			watch_kill(w);
	}
	rl_handle_close(cv->lane);
	mbus_stats.conversations--;
}

/* Wait for a client; once one came, start the task that waits for the
 * next, then serve this one until its side of the stream ends. */
static int64_t conversation(void *listen)
{
	char res[RES_MAX];
	struct rl_ipc_result *req;
	struct rl_chain c;
	struct conv cv;
	unsigned at = 1;
	int64_t r;

	r = rl_accept((rl_handle_t)(uint64_t)listen, RL_IPC_INLINE_MAX, res, &cv.lane);
	if (r < 0 && r != -RILL_EAGAIN)
		return 0;		/* no more clients: mbus ends with the last conversation */
	if (rl_task_spawn_detached(conversation, listen) < 0)
		rl_printf("mbus: no memory for a task: no further clients\n");
	if (r)
		return 0;		/* this client went away */
	mbus_stats.conversations++;
	for (;;) {
		req = rl_ipc_result(res, at);
		if (req->status == -RILL_EMSGSIZE) {
			/* Longer than any message: both sides failed, and the
			 * client waits for its reply next. */
			mbus_stats.requests++;
			if (refuse(&cv, -RILL_EPROTO))
				break;
		} else if (req->status) {
			break;		/* ended, or out of step (not a SEND) */
		} else if (serve(&cv, rl_ipc_inline(res, at), req->length)) {
			break;
		}
		rl_chain_init(&c);
		rl_chain_recv_inline(&c, RL_IPC_INLINE_MAX);
		if (rl_await_ipc(cv.lane, &c, res) < 0)
			break;
		at = 0;
	}
	conv_end(&cv);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct mbus_prop me[] = {
		{ "class", "mbus" }, { "objects", "" }, { "watches", "" },
		{ "conversations", "" }, { "requests", "" }, { "refused", "" },
	};
	rl_handle_t listen = rl_startup_handle_or0("mbus-server");
	rl_handle_t auth = rl_startup_handle_or0(RL_NAME_IOPORT_AUTH);
	struct rl_loop loop;

	if (!listen) {
		rl_printf("mbus: no \"mbus-server\" handle\n");
		return -1;
	}
	_Static_assert(sizeof(me) / sizeof(me[0]) == 1 + sizeof(stat_keys) / sizeof(stat_keys[0]),
		       "one property per counter");
	self = mbus_object_add(me, sizeof(me) / sizeof(me[0]), NULL, 0, 0);
	if (!self)
		return -2;
	if (auth && mbus_publish_devices(auth) < 0)
		rl_printf("mbus: could not read the device list\n");
	stats_sync();
	rl_printf("mbus: ready (%lu objects)\n", (unsigned long)mbus_stats.objects);
	if (rl_loop_init(&loop, 256, 1024) < 0 ||
	    !rl_loop_spawn(&loop, conversation, (void *)(uint64_t)listen))
		return -3;
	if (rl_loop_run(&loop) != 0)
		return -4;
	rl_loop_fini(&loop);
	return 0;
}
