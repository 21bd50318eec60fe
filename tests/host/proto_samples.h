/*
 * proto_samples.h - valid values of every message of protocols/ (mbus,
 * chardev, init), for tests/host/test_proto.c and tests/fuzz/fuzz_proto.c.
 *
 * sample_fill(proto, id, mode, seed, m) fills the zeroed struct m of
 * message id: SAMPLE_MIN (every count, length and number at its lowest),
 * SAMPLE_MAX (at its highest: the largest encoding), SAMPLE_RANDOM (drawn
 * from seed), SAMPLE_ERROR (a reply carrying an error it may carry; false
 * for requests and events). Handles take slots 0, 1, ... in field order.
 */
#ifndef TESTS_HOST_PROTO_SAMPLES_H
#define TESTS_HOST_PROTO_SAMPLES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <proto/chardev.h>
#include <proto/init.h>
#include <proto/mbus.h>

enum sample_mode { SAMPLE_MIN, SAMPLE_MAX, SAMPLE_RANDOM, SAMPLE_ERROR };

static const struct rl_proto_desc *const sample_protos[] = { &mbus_proto, &chardev_proto,
							    &init_proto };

/* Room for a decoded message of any of them. */
union sample_any {
	union mbus_any a;
	union chardev_any b;
	union init_any c;
};
#define SAMPLE_NPROTOS (sizeof(sample_protos) / sizeof(sample_protos[0]))

struct sample_gen {
	enum sample_mode mode;
	uint64_t s;
};

static uint64_t sg_next(struct sample_gen *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A number in [lo, hi] as the mode wants it. */
static uint64_t sg_num(struct sample_gen *g, uint64_t lo, uint64_t hi)
{
	if (g->mode == SAMPLE_MIN)
		return lo;
	if (g->mode == SAMPLE_MAX)
		return hi;
	if (hi - lo == UINT64_MAX)
		return sg_next(g);
	return lo + sg_next(g) % (hi - lo + 1);
}

static void sg_str(struct sample_gen *g, char *dst, size_t max)
{
	size_t n = (size_t)sg_num(g, 0, max);

	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(g->mode == SAMPLE_RANDOM ? 1 + sg_next(g) % 255 : 'a' + i % 26);
	dst[n] = 0;
}

static uint32_t sg_bytes(struct sample_gen *g, uint8_t *dst, size_t lo, size_t max)
{
	uint32_t n = (uint32_t)sg_num(g, lo, max);

	for (uint32_t i = 0; i < n; i++)
		dst[i] = (uint8_t)(g->mode == SAMPLE_RANDOM ? sg_next(g) : i * 7);
	return n;
}

/* One of the values listed. */
static uint64_t sg_pick(struct sample_gen *g, const uint64_t *v, size_t n)
{
	return v[sg_num(g, 0, n - 1)];
}

static void fill_props(struct sample_gen *g, struct mbus_prop *p, uint32_t *count)
{
	*count = (uint32_t)sg_num(g, 0, MBUS_PROPS_MAX);
	for (uint32_t i = 0; i < *count; i++) {
		sg_str(g, p[i].key, MBUS_KEY_MAX);
		sg_str(g, p[i].value, MBUS_VALUE_MAX);
	}
}

static void fill_matches(struct sample_gen *g, struct mbus_match *p, uint32_t *count)
{
	static const uint64_t ops[] = { MBUS_MATCH_OP_EQUAL, MBUS_MATCH_OP_PREFIX,
					MBUS_MATCH_OP_PRESENT, MBUS_MATCH_OP_ABSENT };

	*count = (uint32_t)sg_num(g, 0, MBUS_MATCHES_MAX);
	for (uint32_t i = 0; i < *count; i++) {
		sg_str(g, p[i].key, MBUS_KEY_MAX);
		p[i].op = (enum mbus_match_op)sg_pick(g, ops, 4);
		sg_str(g, p[i].value, MBUS_VALUE_MAX);
	}
}

static bool fill_mbus(struct sample_gen *g, uint16_t id, union mbus_any *m)
{
	switch (id) {
	case MBUS_MSG_REFUSED:
		m->refused.error = -RILL_EPROTO;	/* it has no other form */
		return true;
	case MBUS_MSG_PUBLISH:
		fill_props(g, m->publish.props, &m->publish.props_count);
		m->publish.lane = 0;
		return true;
	case MBUS_MSG_PUBLISHED:
		m->published.object = sg_num(g, 0, UINT64_MAX);
		return true;
	case MBUS_MSG_FIND:
		fill_matches(g, m->find.matches, &m->find.matches_count);
		m->find.after = sg_num(g, 0, UINT64_MAX);
		return true;
	case MBUS_MSG_FOUND:
		m->found.objects_count = (uint32_t)sg_num(g, 0, MBUS_IDS_MAX);
		for (uint32_t i = 0; i < m->found.objects_count; i++)
			m->found.objects[i] = sg_num(g, 0, UINT64_MAX);
		m->found.more = sg_num(g, 0, 1);
		return true;
	case MBUS_MSG_GET:
		m->get.object = sg_num(g, 0, UINT64_MAX);
		m->get.want_lane = sg_num(g, 0, 1);
		return true;
	case MBUS_MSG_OBJECT:
		m->object.object = sg_num(g, 0, UINT64_MAX);
		fill_props(g, m->object.props, &m->object.props_count);
		m->object.lane = sg_num(g, 0, 1) ? 0 : RL_PROTO_NO_HANDLE;
		return true;
	case MBUS_MSG_WATCH:
		fill_matches(g, m->watch.matches, &m->watch.matches_count);
		return true;
	case MBUS_MSG_WATCHING:
		m->watching.watch = sg_num(g, 0, UINT64_MAX);
		return true;
	case MBUS_MSG_APPEARED:
		m->appeared.watch = sg_num(g, 0, UINT64_MAX);
		m->appeared.object = sg_num(g, 0, UINT64_MAX);
		fill_props(g, m->appeared.props, &m->appeared.props_count);
		return true;
	case MBUS_MSG_DISAPPEARED:
		m->disappeared.watch = sg_num(g, 0, UINT64_MAX);
		m->disappeared.object = sg_num(g, 0, UINT64_MAX);
		return true;
	case MBUS_MSG_UNWATCH:
		m->unwatch.watch = sg_num(g, 0, UINT64_MAX);
		return true;
	case MBUS_MSG_REMOVE:
		m->remove.object = sg_num(g, 0, UINT64_MAX);
		return true;
	case MBUS_MSG_UNWATCHED:
	case MBUS_MSG_REMOVED:
		return true;
	}
	return false;
}

static void fill_line(struct sample_gen *g, struct chardev_line *l)
{
	static const uint64_t parity[] = { CHARDEV_PARITY_NONE, CHARDEV_PARITY_EVEN,
					   CHARDEV_PARITY_ODD };
	static const uint64_t flow[] = { CHARDEV_FLOW_NONE, CHARDEV_FLOW_RTSCTS,
					 CHARDEV_FLOW_XONXOFF };

	l->baud = (uint32_t)sg_num(g, 50, 4000000);
	l->data_bits = (uint8_t)sg_num(g, 5, 8);
	l->stop_bits = (uint8_t)sg_num(g, 1, 2);
	l->parity = (enum chardev_parity)sg_pick(g, parity, 3);
	l->flow = (enum chardev_flow)sg_pick(g, flow, 3);
	l->iflag = (uint32_t)sg_num(g, 0, CHARDEV_IFLAG_ALL) & CHARDEV_IFLAG_ALL;
	l->oflag = (uint32_t)sg_num(g, 0, CHARDEV_OFLAG_ALL) & CHARDEV_OFLAG_ALL;
	l->lflag = (uint32_t)sg_num(g, 0, CHARDEV_LFLAG_ALL) & CHARDEV_LFLAG_ALL;
	l->cc_count = sg_bytes(g, l->cc, 0, CHARDEV_CC_COUNT);
}

static void fill_winsize(struct sample_gen *g, struct chardev_winsize *w)
{
	w->rows = (uint16_t)sg_num(g, 0, UINT16_MAX);
	w->cols = (uint16_t)sg_num(g, 0, UINT16_MAX);
	w->xpixel = (uint16_t)sg_num(g, 0, UINT16_MAX);
	w->ypixel = (uint16_t)sg_num(g, 0, UINT16_MAX);
}

static bool fill_chardev(struct sample_gen *g, uint16_t id, union chardev_any *m)
{
	static const uint64_t when[] = { CHARDEV_WHEN_NOW, CHARDEV_WHEN_DRAIN, CHARDEV_WHEN_FLUSH };
	static const uint64_t queue[] = { CHARDEV_QUEUE_INPUT, CHARDEV_QUEUE_OUTPUT,
					  CHARDEV_QUEUE_BOTH };

	switch (id) {
	case CHARDEV_MSG_REFUSED:
		m->refused.error = -RILL_ENOSYS;
		return true;
	case CHARDEV_MSG_READ:
		m->read.max = (uint32_t)sg_num(g, 1, CHARDEV_IO_MAX);
		m->read.nonblock = sg_num(g, 0, 1);
		return true;
	case CHARDEV_MSG_DATA:
		m->data.bytes_len = sg_bytes(g, m->data.bytes, 0, CHARDEV_IO_MAX);
		return true;
	case CHARDEV_MSG_WRITE:
		m->write.bytes_len = sg_bytes(g, m->write.bytes, 0, CHARDEV_IO_MAX);
		m->write.nonblock = sg_num(g, 0, 1);
		return true;
	case CHARDEV_MSG_WRITTEN:
		m->written.count = (uint32_t)sg_num(g, 0, UINT32_MAX);
		return true;
	case CHARDEV_MSG_LINE_IS:
		fill_line(g, &m->line_is.line);
		return true;
	case CHARDEV_MSG_SET_LINE:
		m->set_line.when = (enum chardev_when)sg_pick(g, when, 3);
		fill_line(g, &m->set_line.line);
		return true;
	case CHARDEV_MSG_WINSIZE_IS:
		fill_winsize(g, &m->winsize_is.size);
		return true;
	case CHARDEV_MSG_SET_WINSIZE:
		fill_winsize(g, &m->set_winsize.size);
		return true;
	case CHARDEV_MSG_FLUSH:
		m->flush.queue = (enum chardev_queue)sg_pick(g, queue, 3);
		return true;
	case CHARDEV_MSG_SEND_BREAK:
		m->send_break.ms = (uint32_t)sg_num(g, 0, 10000);
		return true;
	case CHARDEV_MSG_SUBSCRIBE:
		m->subscribe.events = (uint32_t)sg_num(g, 0, CHARDEV_EVENTS_ALL) & CHARDEV_EVENTS_ALL;
		return true;
	case CHARDEV_MSG_SUBSCRIBED:
		m->subscribed.pending = (uint32_t)sg_num(g, 0, CHARDEV_EVENTS_ALL) &
					CHARDEV_EVENTS_ALL;
		return true;
	case CHARDEV_MSG_EVENT:
		m->event.events = (uint32_t)sg_num(g, 0, CHARDEV_EVENTS_ALL) & CHARDEV_EVENTS_ALL;
		m->event.dropped = (uint32_t)sg_num(g, 0, UINT32_MAX);
		return true;
	case CHARDEV_MSG_GET_LINE:
	case CHARDEV_MSG_LINE_SET:
	case CHARDEV_MSG_GET_WINSIZE:
	case CHARDEV_MSG_WINSIZE_SET:
	case CHARDEV_MSG_FLUSHED:
	case CHARDEV_MSG_DRAIN:
	case CHARDEV_MSG_DRAINED:
	case CHARDEV_MSG_BREAK_SENT:
		return true;
	}
	return false;
}

static bool fill_init(struct sample_gen *g, uint16_t id, union init_any *m)
{
	static const uint64_t states[] = { INIT_STATE_RUNNING, INIT_STATE_WAITING,
					   INIT_STATE_STOPPED };

	switch (id) {
	case INIT_MSG_REFUSED:
		m->refused.error = -RILL_ENOSYS;
		return true;
	case INIT_MSG_STATUS:
		sg_str(g, m->status.name, INIT_NAME_MAX);
		return true;
	case INIT_MSG_SERVICE:
		m->service.state = (enum init_state)sg_pick(g, states, 3);
		m->service.starts = (uint32_t)sg_num(g, 0, UINT32_MAX);
		m->service.exits = (uint32_t)sg_num(g, 0, UINT32_MAX);
		m->service.last_status = (int64_t)sg_num(g, 0, UINT64_MAX);
		return true;
	case INIT_MSG_KILL:
		sg_str(g, m->kill.name, INIT_NAME_MAX);
		m->kill.status = (int64_t)sg_num(g, 0, UINT64_MAX);
		return true;
	case INIT_MSG_KILLED:
		return true;
	}
	return false;
}

/* The protocol's own dispatchers. */
static inline int sample_peek(const struct rl_proto_desc *p, const void *buf, size_t len)
{
	if (p == &mbus_proto)
		return mbus_peek(buf, len);
	if (p == &chardev_proto)
		return chardev_peek(buf, len);
	return init_peek(buf, len);
}

static inline int sample_decode(const struct rl_proto_desc *p, const void *buf, size_t len,
			 union sample_any *out)
{
	if (p == &mbus_proto)
		return mbus_decode(buf, len, &out->a);
	if (p == &chardev_proto)
		return chardev_decode(buf, len, &out->b);
	return init_decode(buf, len, &out->c);
}

/* An error each reply may carry: the protocol's EPROTO, or its own. */
static int32_t sample_error(const struct rl_proto_desc *p, uint16_t id, uint64_t seed)
{
	if (seed % 2 == 0 || id == 0)
		return -RILL_EPROTO;
	if (p == &mbus_proto) {
		switch (id) {
		case MBUS_MSG_PUBLISHED: return -RILL_EEXIST;
		case MBUS_MSG_FOUND: return -RILL_EINVAL;
		case MBUS_MSG_OBJECT: return -RILL_ENOENT;
		case MBUS_MSG_WATCHING: return -RILL_ENOSPC;
		case MBUS_MSG_UNWATCHED: return -RILL_ENOENT;
		case MBUS_MSG_REMOVED: return -RILL_EPERM;
		}
	} else if (p == &init_proto) {
		switch (id) {
		case INIT_MSG_SERVICE: return -RILL_ENOENT;
		case INIT_MSG_KILLED: return -RILL_ESRCH;
		}
	} else {
		switch (id) {
		case CHARDEV_MSG_DATA: return -RILL_EAGAIN;
		case CHARDEV_MSG_WRITTEN: return -RILL_EPIPE;
		case CHARDEV_MSG_LINE_SET: return -RILL_ENOTSUP;
		case CHARDEV_MSG_DRAINED: return -RILL_EINTR;
		case CHARDEV_MSG_BREAK_SENT: return -RILL_ENOTSUP;
		}
	}
	return p == &chardev_proto ? -RILL_EIO : -RILL_ENOMEM;
}

/* The descriptor of message id, or NULL. */
static const struct rl_proto_msg_desc *sample_msg(const struct rl_proto_desc *p, uint16_t id)
{
	for (unsigned i = 0; i < p->count; i++)
		if (p->msgs[i].id == id)
			return &p->msgs[i];
	return NULL;
}

static bool sample_fill(const struct rl_proto_desc *p, uint16_t id, enum sample_mode mode,
			uint64_t seed, void *m)
{
	const struct rl_proto_msg_desc *d = sample_msg(p, id);
	struct sample_gen g = { .mode = mode, .s = seed };

	memset(m, 0, d->size);
	if (mode == SAMPLE_ERROR) {
		if (d->kind != RL_PROTO_REPLY)
			return false;
		*(int32_t *)m = sample_error(p, id, seed);	/* error comes first */
		return true;
	}
	if (p == &mbus_proto)
		return fill_mbus(&g, id, m);
	if (p == &init_proto)
		return fill_init(&g, id, m);
	return fill_chardev(&g, id, m);
}

#endif
