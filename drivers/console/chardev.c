/*
 * chardev.c - the console's character-device service (protocols/chardev,
 * docs/userspace.md "Drivers").
 *
 * A client OFFERs on the listening stream ("chardev-server" is our end),
 * the listener ACCEPTs with WANT_LANE, and the new stream is one
 * conversation, served by a task of its own: it receives a request, does
 * it, replies, and receives the next. One request at a time per
 * conversation; a client that wants to read and write at once opens two.
 *
 * A request that waits (read with nothing there, write with no room,
 * drain) also waits for the next message on its conversation: a request
 * that comes meanwhile cancels it (its reply carries EINTR, then the new
 * request is served), and the conversation's end (the client closed it or
 * died) ends the wait and the task, leaving nothing behind.
 *
 * Everything that cannot be decoded gets `refused`: EPROTO (another
 * protocol or version, truncated, too long, a bad value), ENOSYS (an
 * unknown message id, or one that is not a request); the conversation
 * goes on.
 */
#include <proto/chardev.h>
#include <rill/ipc.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>

#include "console.h"

#define RECV_MAX	RL_PROTO_MSG_MAX	/* so that anything up to 4 KiB is read, and refused */
#define CHAR_NS		100000ull	/* about one character at 115200 baud */

enum { CW_WOKE, CW_REQUEST, CW_TIMEOUT, CW_GONE };

struct conv {
	rl_handle_t lane;
	struct waiter w;
	bool have_req;		/* rbuf holds a request not served yet */
	uint32_t mask;		/* subscribed events */
	uint32_t events, dropped;	/* to deliver */
	struct waiter ev;	/* on con.subscribers */
	uint64_t rbuf[(sizeof(struct rl_ipc_result) + RECV_MAX) / 8];
	union chardev_any req;
	union chardev_any rep;
	uint64_t out[CHARDEV_MSG_MAX / 8];
};

/* What get_line reports beyond the hardware's: the TTY layer's flags. */
static struct chardev_line line_flags;
static struct chardev_winsize winsize;

/* ---- waiting, sending ------------------------------------------------------------ */

/* Wait until woken, until the deadline (0: none), or for the next message
 * on the conversation (into rbuf), whichever is first. */
static int conv_wait(struct conv *cv, uint64_t deadline)
{
	struct rl_ipc_result *r = (struct rl_ipc_result *)cv->rbuf;
	struct rl_op ops[2];
	struct rl_chain c;
	struct rl_sqe *e;
	uint32_t n = 1;

	wait_arm(&cv->w);	/* before anything that can switch away */
	rl_chain_init(&c);
	rl_chain_recv_inline(&c, RECV_MAX);
	e = rl_op_sqe(&ops[0]);
	rl_chain_prep(e, cv->lane, &c, cv->rbuf, (uint64_t)&ops[0]);
	if (deadline) {
		e = rl_op_sqe(&ops[1]);
		e->opcode = RL_OP_TIMEOUT;
		e->arg[0] = deadline;
		n = 2;
	}
	(void)rl_op_wait_any(ops, n);
	wait_done(&cv->w);
	if (ops[0].result < 0)
		return CW_GONE;
	if (r->status == 0 || r->status == -RILL_EMSGSIZE)
		return CW_REQUEST;	/* too long for us: refused below */
	if (r->status == -RILL_ECANCELED)
		return n == 2 && ops[1].done && ops[1].result == 0 ? CW_TIMEOUT : CW_WOKE;
	return CW_GONE;
}

/* Send the reply encoded in cv->out: false when the conversation is gone. */
static bool send_out(struct conv *cv, int len)
{
	char res[sizeof(struct rl_ipc_result)];
	struct rl_chain c;

	if (len <= 0)
		return false;	/* our own bug: end the conversation, visibly */
	rl_chain_init(&c);
	rl_chain_send(&c, cv->out, (size_t)len);
	return rl_await_ipc(cv->lane, &c, res) == 0 &&
	       rl_ipc_result(res, 0)->status == 0;
}

static bool refuse(struct conv *cv, int err)
{
	struct chardev_refused m = { .error = err };

	return send_out(cv, chardev_refused_encode(&m, cv->out, sizeof(cv->out)));
}

/* ---- the requests ------------------------------------------------------------------ */

/* A new message came while a request waited: that one ends with EINTR
 * (sent by the caller), and the message is served next. */
static int interrupted(struct conv *cv)
{
	cv->have_req = true;
	return -RILL_EINTR;
}

static bool do_read(struct conv *cv)
{
	const struct chardev_read *q = &cv->req.read;
	struct chardev_data *d = &cv->rep.data;
	int err = 0;

	memset(d, 0, sizeof(*d));
	if (!bq_used(&con.in) && q->nonblock) {
		err = -RILL_EAGAIN;
	} else {
		wl_add(&con.readers, &cv->w);
		/* First come, first served: bytes are the first reader's. */
		while (!(bq_used(&con.in) && con.readers.head == &cv->w)) {
			int w = conv_wait(cv, 0);

			if (w == CW_REQUEST) {
				err = interrupted(cv);
				break;
			}
			if (w == CW_GONE) {
				err = -RILL_EPIPE;
				break;
			}
		}
		wl_del(&cv->w);
		if (!err)
			while (d->bytes_len < q->max && bq_used(&con.in))
				d->bytes[d->bytes_len++] = bq_get(&con.in);
		if (bq_used(&con.in) && con.readers.head)
			wake(con.readers.head);		/* the rest is the next one's */
		if (err == -RILL_EPIPE)
			return false;
	}
	d->error = err;
	return send_out(cv, chardev_data_encode(d, cv->out, sizeof(cv->out)));
}

static bool do_write(struct conv *cv)
{
	const struct chardev_write *q = &cv->req.write;
	struct chardev_written *r = &cv->rep.written;

	memset(r, 0, sizeof(*r));
	if (q->nonblock) {
		/* As much as fits now; none at all is EAGAIN. */
		r->count = out_queue(q->bytes, q->bytes_len);
		if (!r->count && q->bytes_len)
			r->error = -RILL_EAGAIN;
	} else {
		/* All of it in one piece (it fits: IO_MAX < QSIZE), so that
		 * two writers' bytes never interleave within a write. */
		wl_add(&con.room, &cv->w);
		while (bq_room(&con.out) < q->bytes_len) {
			int w;

			con.out_was_full = true;
			tx_kick();
			w = conv_wait(cv, 0);
			if (w == CW_REQUEST) {
				r->error = interrupted(cv);
				break;
			}
			if (w == CW_GONE) {
				wl_del(&cv->w);
				return false;
			}
		}
		wl_del(&cv->w);
		if (!r->error)
			r->count = out_queue(q->bytes, q->bytes_len);
	}
	return send_out(cv, chardev_written_encode(r, cv->out, sizeof(cv->out)));
}

/* Until the output queue is sent and the transmitter idle: the THRE
 * interrupt wakes drainers when the queue empties; the last byte's
 * shift-out (TEMT) raises no interrupt, so that is looked at again a
 * character's time later. interruptible: a new message ends the wait
 * (CW_REQUEST); otherwise it is not received meanwhile. */
static int wait_drained(struct conv *cv, bool interruptible)
{
	int w = CW_WOKE;

	wl_add(&con.drainers, &cv->w);
	while (!tx_idle()) {
		uint64_t dl = bq_used(&con.out) ? 0 : rl_clock_ns() + CHAR_NS;

		tx_kick();
		if (interruptible) {
			w = conv_wait(cv, dl);
			if (w == CW_REQUEST || w == CW_GONE)
				break;
		} else {
			park(&cv->w, dl);
		}
	}
	wl_del(&cv->w);
	return w;
}

static bool do_drain(struct conv *cv)
{
	struct chardev_drained *r = &cv->rep.drained;
	int w = wait_drained(cv, true);

	memset(r, 0, sizeof(*r));
	if (w == CW_GONE)
		return false;
	if (w == CW_REQUEST)
		r->error = interrupted(cv);
	return send_out(cv, chardev_drained_encode(r, cv->out, sizeof(cv->out)));
}

static void get_line(struct chardev_line *l)
{
	struct line_cfg hw;

	uart_get_line(&hw);
	*l = line_flags;
	l->baud = hw.baud;
	l->data_bits = hw.data_bits;
	l->stop_bits = hw.stop_bits;
	l->parity = (enum chardev_parity)hw.parity;
	l->flow = CHARDEV_FLOW_NONE;
}

static bool do_set_line(struct conv *cv)
{
	const struct chardev_set_line *q = &cv->req.set_line;
	struct chardev_line_set *r = &cv->rep.line_set;
	struct line_cfg hw = {
		.baud = q->line.baud, .data_bits = q->line.data_bits,
		.stop_bits = q->line.stop_bits, .parity = (uint8_t)q->line.parity,
	};

	memset(r, 0, sizeof(*r));
	/* Flow control is not the 16550's (no auto RTS/CTS; XON/XOFF is
	 * the TTY layer's ixon); a baud the divisor cannot make exactly is
	 * refused rather than approximated. Checked before anything waits
	 * or changes. */
	if (q->line.flow != CHARDEV_FLOW_NONE || !hw.baud || hw.baud > UART_CLOCK ||
	    UART_CLOCK % hw.baud) {
		r->error = -RILL_ENOTSUP;
	} else {
		/* drain, flush: after what is queued has gone out. Not ended
		 * by a new request (line_set has no EINTR): that one waits
		 * in the stream until this is done, which the line's speed
		 * bounds. */
		if (q->when != CHARDEV_WHEN_NOW)
			wait_drained(cv, false);
		if (q->when == CHARDEV_WHEN_FLUSH)
			con.in.head = con.in.tail;
		if (!uart_set_line(&hw)) {
			r->error = -RILL_ENOTSUP;
		} else {
			line_flags = q->line;
		}
	}
	return send_out(cv, chardev_line_set_encode(r, cv->out, sizeof(cv->out)));
}

static bool do_flush(struct conv *cv)
{
	enum chardev_queue which = cv->req.flush.queue;

	if (which & CHARDEV_QUEUE_INPUT)
		con.in.head = con.in.tail;
	if (which & CHARDEV_QUEUE_OUTPUT) {
		con.out.head = con.out.tail;
		wake_all(&con.room);
		wake_all(&con.drainers);
	}
	memset(&cv->rep.flushed, 0, sizeof(cv->rep.flushed));
	return send_out(cv, chardev_flushed_encode(&cv->rep.flushed, cv->out, sizeof(cv->out)));
}

/* The line held at space for ms (0: 250), once what is queued has gone
 * out; nothing is sent meanwhile. */
static bool do_send_break(struct conv *cv)
{
	uint32_t ms = cv->req.send_break.ms ? cv->req.send_break.ms : 250;

	wait_drained(cv, false);
	uart_break(true);
	rl_sleep_for((uint64_t)ms * 1000000);
	uart_break(false);
	memset(&cv->rep.break_sent, 0, sizeof(cv->rep.break_sent));
	return send_out(cv, chardev_break_sent_encode(&cv->rep.break_sent, cv->out,
						      sizeof(cv->out)));
}

void post_event(uint32_t events, uint32_t dropped)
{
	for (struct waiter *w = con.subscribers.head; w; w = w->next) {
		struct conv *cv = (struct conv *)((char *)w - __builtin_offsetof(struct conv, ev));

		if (!(events & cv->mask))
			continue;
		cv->events |= events & cv->mask;
		cv->dropped += dropped;
		wake(&cv->w);
	}
}

/* subscribe: the reply says what is true already; with a non-empty mask
 * the conversation then carries events only, until it ends (a stream
 * pairs its actions first with first: an event sent while the client
 * sends a request would fail both, so the two never share a stream). */
static bool do_subscribe(struct conv *cv)
{
	struct chardev_subscribed *r = &cv->rep.subscribed;

	memset(r, 0, sizeof(*r));
	cv->mask = cv->req.subscribe.events;
	if (bq_used(&con.in))
		r->pending |= CHARDEV_EVENTS_READABLE;
	if (bq_room(&con.out))
		r->pending |= CHARDEV_EVENTS_WRITABLE;
	r->pending &= cv->mask;
	if (!send_out(cv, chardev_subscribed_encode(r, cv->out, sizeof(cv->out))))
		return false;
	if (!cv->mask)
		return true;
	cv->ev.task = rl_task_self();
	wl_add(&con.subscribers, &cv->ev);
	for (;;) {
		struct chardev_event *e = &cv->rep.event;

		while (!cv->events)
			park(&cv->w, 0);
		e->events = cv->events;
		e->dropped = cv->dropped;
		cv->events = cv->dropped = 0;
		if (!send_out(cv, chardev_event_encode(e, cv->out, sizeof(cv->out))))
			break;
	}
	wl_del(&cv->ev);
	return false;
}

static bool do_winsize(struct conv *cv, int id)
{
	if (id == CHARDEV_MSG_SET_WINSIZE) {
		winsize = cv->req.set_winsize.size;
		post_event(CHARDEV_EVENTS_WINSIZE, 0);
		memset(&cv->rep.winsize_set, 0, sizeof(cv->rep.winsize_set));
		return send_out(cv, chardev_winsize_set_encode(&cv->rep.winsize_set, cv->out,
							       sizeof(cv->out)));
	}
	memset(&cv->rep.winsize_is, 0, sizeof(cv->rep.winsize_is));
	cv->rep.winsize_is.size = winsize;
	return send_out(cv, chardev_winsize_is_encode(&cv->rep.winsize_is, cv->out,
						      sizeof(cv->out)));
}

/* The message in rbuf: false when the conversation is over. */
static bool serve(struct conv *cv)
{
	struct rl_ipc_result *r = (struct rl_ipc_result *)cv->rbuf;
	const uint8_t *m = rl_ipc_inline(cv->rbuf, 0);
	uint32_t proto;
	uint16_t id;
	int got;

	if (r->status)			/* longer than any message */
		return refuse(cv, -RILL_EPROTO);
	if (r->length < RL_PROTO_HDR_SIZE)
		return refuse(cv, -RILL_EPROTO);
	memcpy(&proto, m, 4);
	memcpy(&id, m + 4, 2);
	if (proto != CHARDEV_PROTO_ID || m[6] != CHARDEV_VERSION)
		return refuse(cv, -RILL_EPROTO);
	/* Only requests are served: an unknown id, a reply or an event
	 * sent to us is a message we do not serve. */
	if (id > CHARDEV_MSG_EVENT || id == CHARDEV_MSG_REFUSED || !(id & 1) ||
	    id == CHARDEV_MSG_EVENT)
		return refuse(cv, -RILL_ENOSYS);
	got = chardev_decode(m, r->length, &cv->req);
	if (got != id)
		return refuse(cv, -RILL_EPROTO);
	switch (got) {
	case CHARDEV_MSG_READ:
		return do_read(cv);
	case CHARDEV_MSG_WRITE:
		return do_write(cv);
	case CHARDEV_MSG_GET_LINE:
		memset(&cv->rep.line_is, 0, sizeof(cv->rep.line_is));
		get_line(&cv->rep.line_is.line);
		return send_out(cv, chardev_line_is_encode(&cv->rep.line_is, cv->out,
							   sizeof(cv->out)));
	case CHARDEV_MSG_SET_LINE:
		return do_set_line(cv);
	case CHARDEV_MSG_GET_WINSIZE:
	case CHARDEV_MSG_SET_WINSIZE:
		return do_winsize(cv, got);
	case CHARDEV_MSG_FLUSH:
		return do_flush(cv);
	case CHARDEV_MSG_DRAIN:
		return do_drain(cv);
	case CHARDEV_MSG_SEND_BREAK:
		return do_send_break(cv);
	case CHARDEV_MSG_SUBSCRIBE:
		return do_subscribe(cv);
	}
	return refuse(cv, -RILL_ENOSYS);
}

static int64_t conversation(void *arg)
{
	/* ~8.5 KiB: on the task's stack, which the runtime reuses. */
	struct conv cv;

	memset(&cv, 0, sizeof(cv));
	cv.lane = (rl_handle_t)(uint64_t)arg;
	con.conversations++;
	for (;;) {
		if (!cv.have_req) {
			int w = conv_wait(&cv, 0);

			if (w == CW_GONE)
				break;
			if (w != CW_REQUEST)
				continue;
		}
		cv.have_req = false;
		if (!serve(&cv))
			break;
	}
	con.conversations--;
	rl_handle_close(cv.lane);
	return 0;
}

int64_t listener_task(void *listen)
{
	for (;;) {
		char res[sizeof(struct rl_ipc_result)];
		struct rl_ipc_result *acc = rl_ipc_result(res, 0);
		struct rl_chain c;
		int64_t r;

		rl_chain_init(&c);
		rl_chain_accept(&c, RL_IPC_WANT_LANE);
		r = rl_await_ipc((rl_handle_t)(uint64_t)listen, &c, res);
		if (r < 0 || acc->status == -RILL_EPIPE)
			return r;	/* every client end closed: no more clients */
		if (acc->status)
			continue;	/* this client went away */
		if (rl_task_spawn_detached(conversation, (void *)(uint64_t)acc->handle) < 0)
			rl_handle_close(acc->handle);	/* it sees EPIPE */
	}
}
