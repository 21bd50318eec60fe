/*
 * chardev.c - the console's character-device service (protocols/chardev,
 * docs/userspace.md "Drivers").
 *
 * A client OFFERs (WANT_LANE) on the listening stream ("chardev-server"
 * is our end), the listener ACCEPTs with WANT_LANE: the new stream is one
 * conversation, served by a task of its own. Each request is an OFFER on
 * the conversation with the request and the reply on its own ancillary
 * stream:
 *
 *   client: [OFFER, SEND request, RECV_INLINE reply]     on the conversation
 *   driver: [ACCEPT (WANT_LANE), RECV_INLINE request]    then [SEND reply]
 *
 * so the conversation itself carries only OFFER/ACCEPT pairs, and the
 * driver can keep an ACCEPT posted there while a request waits, without
 * it ever meeting the client's RECV of a reply (a stream pairs actions
 * first with first: a RECV against a RECV fails both).
 *
 * One request at a time per conversation; a client that wants to read and
 * write at once opens two. A request that waits (read with nothing there,
 * write with no room, drain) also waits for the conversation: a request
 * that comes meanwhile interrupts it (its reply carries EINTR, then the
 * new request is served), and the conversation's end (the client closed
 * it, or died) ends the wait and the task, leaving nothing behind.
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
	rl_handle_t lane;	/* the conversation */
	rl_handle_t rlane;	/* the request being served: its own stream */
	struct waiter w;
	bool gone;		/* the conversation ended during a wait */
	bool have_next;		/* a request came during a wait: served next */
	rl_handle_t next_lane;
	const uint8_t *msg;	/* the next request's bytes, in rbuf */
	uint64_t msg_len;
	int32_t msg_status;
	uint64_t rbuf[(2 * sizeof(struct rl_ipc_result) + RECV_MAX) / 8];
	union chardev_any req;
	union chardev_any rep;
	uint64_t out[CHARDEV_MSG_MAX / 8];
};

/* A subscription: its request's stream carries the events. */
struct sub {
	rl_handle_t lane;
	uint32_t mask, events, dropped;
	struct waiter w;	/* parked until there is an event */
	struct waiter on;	/* on con.subscribers */
	uint64_t out[CHARDEV_EVENT_MAX / 8];
};

/* What get_line reports beyond the hardware's: the TTY layer's flags. */
static struct chardev_line line_flags;
static struct chardev_winsize winsize;

/* ---- waiting, sending ------------------------------------------------------------ */

/* Wait until woken, until the deadline (0: none), or for the next request
 * on the conversation, whichever is first. CW_REQUEST: next_lane and
 * msg* hold it (have_next is the caller's to set). */
static int conv_wait(struct conv *cv, uint64_t deadline)
{
	struct rl_ipc_result *acc = rl_ipc_result(cv->rbuf, 0), *rq = rl_ipc_result(cv->rbuf, 1);
	struct rl_op ops[2];
	struct rl_chain c;
	struct rl_sqe *e;
	uint32_t n = 1;

	wait_arm(&cv->w);	/* before anything that can switch away */
	rl_chain_init(&c);
	rl_chain_accept(&c, RL_IPC_WANT_LANE);
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
	if (acc->status == -RILL_ECANCELED)
		return n == 2 && ops[1].done && ops[1].result == 0 ? CW_TIMEOUT : CW_WOKE;
	if (acc->status)
		return CW_GONE;		/* -EPIPE: the client closed it, or died */
	cv->next_lane = acc->handle;
	if (rq->status == -RILL_ECANCELED) {
		/* The wake withdrew the receive after the ACCEPT had matched:
		 * the request waits on its stream. */
		rl_chain_init(&c);
		rl_chain_recv_inline(&c, RECV_MAX);
		if (rl_await_ipc(cv->next_lane, &c, cv->rbuf) < 0)
			rl_ipc_result(cv->rbuf, 0)->status = -RILL_EPIPE;
		rq = rl_ipc_result(cv->rbuf, 0);
		cv->msg = rl_ipc_inline(cv->rbuf, 0);
	} else {
		cv->msg = rl_ipc_inline(cv->rbuf, 1);
	}
	cv->msg_status = rq->status;
	cv->msg_len = rq->status ? 0 : rq->length;
	return CW_REQUEST;
}

/* SEND on a request's stream: whether the client got it. */
static bool send_on(rl_handle_t lane, const void *buf, int len)
{
	char res[sizeof(struct rl_ipc_result)];
	struct rl_chain c;

	if (len <= 0)
		return false;	/* our own bug: the client sees EPIPE */
	rl_chain_init(&c);
	rl_chain_send(&c, buf, (size_t)len);
	return rl_await_ipc(lane, &c, res) == 0 && rl_ipc_result(res, 0)->status == 0;
}

static bool send_out(struct conv *cv, int len)
{
	return send_on(cv->rlane, cv->out, len);
}

static bool refuse(struct conv *cv, int err)
{
	struct chardev_refused m = { .error = err };

	return send_out(cv, chardev_refused_encode(&m, cv->out, sizeof(cv->out)));
}

/* ---- the requests ------------------------------------------------------------------ */

/* What ended a wait other than what it waited for: a new request
 * (interrupts: -EINTR, the request is served next) or the end of the
 * conversation (no reply is wanted any more: -EPIPE). */
static int wait_ended(struct conv *cv, int w)
{
	if (w == CW_REQUEST) {
		cv->have_next = true;
		return -RILL_EINTR;
	}
	cv->gone = true;
	return -RILL_EPIPE;
}

static void do_read(struct conv *cv)
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

			if (w == CW_REQUEST || w == CW_GONE) {
				err = wait_ended(cv, w);
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
			return;
	}
	d->error = err;
	if (!send_out(cv, chardev_data_encode(d, cv->out, sizeof(cv->out))) &&
	    d->bytes_len <= bq_room(&con.in)) {
		/* The client cancelled its submission (or died) while we
		 * replied: the bytes go back in front, for the next reader. */
		for (uint32_t i = d->bytes_len; i > 0; i--)
			con.in.buf[--con.in.head & (QSIZE - 1)] = d->bytes[i - 1];
		if (con.readers.head)
			wake(con.readers.head);
	}
}

static void do_write(struct conv *cv)
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
			if (w == CW_REQUEST || w == CW_GONE) {
				r->error = wait_ended(cv, w);
				break;
			}
		}
		wl_del(&cv->w);
		if (r->error == -RILL_EPIPE)
			return;
		if (!r->error)
			r->count = out_queue(q->bytes, q->bytes_len);
	}
	send_out(cv, chardev_written_encode(r, cv->out, sizeof(cv->out)));
}

/* Until the output queue is sent and the transmitter idle: the THRE
 * interrupt wakes drainers when the queue empties; the last byte's
 * shift-out (TEMT) raises no interrupt, so that is looked at again a
 * character's time later. interruptible: a new request or the
 * conversation's end ends the wait (0 or wait_ended's error); otherwise
 * the conversation is not looked at meanwhile (the line's speed bounds
 * the wait). */
static int wait_drained(struct conv *cv, bool interruptible)
{
	int err = 0;

	wl_add(&con.drainers, &cv->w);
	while (!tx_idle()) {
		uint64_t dl = bq_used(&con.out) ? 0 : rl_clock_ns() + CHAR_NS;

		tx_kick();
		if (interruptible) {
			int w = conv_wait(cv, dl);

			if (w == CW_REQUEST || w == CW_GONE) {
				err = wait_ended(cv, w);
				break;
			}
		} else {
			park(&cv->w, dl);
		}
	}
	wl_del(&cv->w);
	return err;
}

static void do_drain(struct conv *cv)
{
	struct chardev_drained *r = &cv->rep.drained;

	memset(r, 0, sizeof(*r));
	r->error = wait_drained(cv, true);
	if (r->error != -RILL_EPIPE)
		send_out(cv, chardev_drained_encode(r, cv->out, sizeof(cv->out)));
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

static void do_set_line(struct conv *cv)
{
	const struct chardev_set_line *q = &cv->req.set_line;
	struct chardev_line_set *r = &cv->rep.line_set;
	struct line_cfg hw = {
		.baud = q->line.baud, .data_bits = q->line.data_bits,
		.stop_bits = q->line.stop_bits, .parity = (uint8_t)q->line.parity,
	};

	memset(r, 0, sizeof(*r));
	/* Flow control is not the 16550's (no automatic RTS/CTS; XON/XOFF
	 * is the TTY layer's ixon); a baud the divisor cannot make exactly
	 * is refused rather than approximated. Checked before anything
	 * waits or changes. */
	if (q->line.flow != CHARDEV_FLOW_NONE || !hw.baud || hw.baud > UART_CLOCK ||
	    UART_CLOCK % hw.baud) {
		r->error = -RILL_ENOTSUP;
	} else {
		/* drain, flush: after what is queued has gone out (line_set
		 * has no EINTR, so this wait is not interrupted). */
		if (q->when != CHARDEV_WHEN_NOW)
			wait_drained(cv, false);
		if (q->when == CHARDEV_WHEN_FLUSH)
			con.in.head = con.in.tail;
		if (!uart_set_line(&hw))
			r->error = -RILL_ENOTSUP;
		else
			line_flags = q->line;
	}
	send_out(cv, chardev_line_set_encode(r, cv->out, sizeof(cv->out)));
}

static void do_flush(struct conv *cv)
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
	send_out(cv, chardev_flushed_encode(&cv->rep.flushed, cv->out, sizeof(cv->out)));
}

/* The line held at space for ms (0: 250), once what is queued has gone
 * out; nothing is sent meanwhile. */
static void do_send_break(struct conv *cv)
{
	uint32_t ms = cv->req.send_break.ms ? cv->req.send_break.ms : 250;

	wait_drained(cv, false);
	uart_break(true);
	rl_sleep_for((uint64_t)ms * 1000000);
	uart_break(false);
	memset(&cv->rep.break_sent, 0, sizeof(cv->rep.break_sent));
	send_out(cv, chardev_break_sent_encode(&cv->rep.break_sent, cv->out, sizeof(cv->out)));
}

void post_event(uint32_t events, uint32_t dropped)
{
	for (struct waiter *w = con.subscribers.head; w; w = w->next) {
		struct sub *s = (struct sub *)((char *)w - __builtin_offsetof(struct sub, on));

		if (!(events & s->mask))
			continue;
		s->events |= events & s->mask;
		s->dropped += dropped;
		wake(&s->w);
	}
}

/* A subscription's task: events on its stream until the client closes
 * its end (seen at the next event's SEND: the client's side has a RECV
 * posted, which anything but a SEND from us would fail). */
static int64_t sub_task(void *arg)
{
	struct sub *s = arg;
	struct chardev_event e;

	wl_add(&con.subscribers, &s->on);
	for (;;) {
		while (!s->events)
			park(&s->w, 0);
		e.events = s->events;
		e.dropped = s->dropped;
		s->events = s->dropped = 0;
		if (!send_on(s->lane, s->out, chardev_event_encode(&e, s->out, sizeof(s->out))))
			break;
	}
	wl_del(&s->on);
	rl_handle_close(s->lane);
	free(s);
	return 0;
}

/* subscribe: the reply says what is true already; with a non-empty mask
 * the request's stream then carries the events, and the conversation
 * goes on. */
static void do_subscribe(struct conv *cv)
{
	struct chardev_subscribed *r = &cv->rep.subscribed;
	uint32_t mask = cv->req.subscribe.events;
	struct sub *s = NULL;

	memset(r, 0, sizeof(*r));
	if (mask && !(s = malloc(sizeof(*s))))
		r->error = -RILL_ENOMEM;
	if (bq_used(&con.in))
		r->pending |= CHARDEV_EVENTS_READABLE;
	if (bq_room(&con.out))
		r->pending |= CHARDEV_EVENTS_WRITABLE;
	r->pending &= mask;
	if (!send_out(cv, chardev_subscribed_encode(r, cv->out, sizeof(cv->out))) || !s) {
		free(s);
		return;
	}
	memset(s, 0, sizeof(*s));
	s->lane = cv->rlane;
	s->mask = mask;
	if (rl_task_spawn_detached(sub_task, s) < 0) {
		free(s);
		return;
	}
	cv->rlane = 0;		/* the subscription's now */
}

static void do_winsize(struct conv *cv, int id)
{
	if (id == CHARDEV_MSG_SET_WINSIZE) {
		winsize = cv->req.set_winsize.size;
		post_event(CHARDEV_EVENTS_WINSIZE, 0);
		memset(&cv->rep.winsize_set, 0, sizeof(cv->rep.winsize_set));
		send_out(cv, chardev_winsize_set_encode(&cv->rep.winsize_set, cv->out,
							sizeof(cv->out)));
		return;
	}
	memset(&cv->rep.winsize_is, 0, sizeof(cv->rep.winsize_is));
	cv->rep.winsize_is.size = winsize;
	send_out(cv, chardev_winsize_is_encode(&cv->rep.winsize_is, cv->out, sizeof(cv->out)));
}

/* The request in msg, on rlane. */
static void serve(struct conv *cv)
{
	const uint8_t *m = cv->msg;
	uint32_t proto;
	uint16_t id;
	int got;

	if (cv->msg_status == -RILL_EMSGSIZE) {	/* longer than any message */
		refuse(cv, -RILL_EPROTO);
		return;
	}
	if (cv->msg_status)
		return;		/* an OFFER with no request: nobody to answer */
	if (cv->msg_len < RL_PROTO_HDR_SIZE) {
		refuse(cv, -RILL_EPROTO);
		return;
	}
	memcpy(&proto, m, 4);
	memcpy(&id, m + 4, 2);
	if (proto != CHARDEV_PROTO_ID || m[6] != CHARDEV_VERSION) {
		refuse(cv, -RILL_EPROTO);
		return;
	}
	/* Only requests are served (odd ids up to subscribe): an unknown id,
	 * a reply or an event sent to us is a message we do not serve. */
	if (id > CHARDEV_MSG_SUBSCRIBE || !(id & 1)) {
		refuse(cv, -RILL_ENOSYS);
		return;
	}
	got = chardev_decode(m, cv->msg_len, &cv->req);
	if (got != id) {
		refuse(cv, -RILL_EPROTO);
		return;
	}
	switch (got) {
	case CHARDEV_MSG_READ:
		do_read(cv);
		break;
	case CHARDEV_MSG_WRITE:
		do_write(cv);
		break;
	case CHARDEV_MSG_GET_LINE:
		memset(&cv->rep.line_is, 0, sizeof(cv->rep.line_is));
		get_line(&cv->rep.line_is.line);
		send_out(cv, chardev_line_is_encode(&cv->rep.line_is, cv->out, sizeof(cv->out)));
		break;
	case CHARDEV_MSG_SET_LINE:
		do_set_line(cv);
		break;
	case CHARDEV_MSG_GET_WINSIZE:
	case CHARDEV_MSG_SET_WINSIZE:
		do_winsize(cv, got);
		break;
	case CHARDEV_MSG_FLUSH:
		do_flush(cv);
		break;
	case CHARDEV_MSG_DRAIN:
		do_drain(cv);
		break;
	case CHARDEV_MSG_SEND_BREAK:
		do_send_break(cv);
		break;
	case CHARDEV_MSG_SUBSCRIBE:
		do_subscribe(cv);
		break;
	default:
		refuse(cv, -RILL_ENOSYS);
	}
}

static int64_t conversation(void *arg)
{
	/* ~10 KiB: on the task's stack, which the runtime reuses. */
	struct conv cv;

	memset(&cv, 0, sizeof(cv));
	cv.lane = (rl_handle_t)(uint64_t)arg;
	con.conversations++;
	while (!cv.gone) {
		if (!cv.have_next) {
			int w = conv_wait(&cv, 0);

			if (w == CW_GONE)
				break;
			if (w != CW_REQUEST)
				continue;	/* nobody wakes an idle conversation */
		}
		cv.have_next = false;
		cv.rlane = cv.next_lane;
		/* The request is decoded before anything can wait, so the
		 * next one may land in rbuf meanwhile. */
		serve(&cv);
		if (cv.rlane)
			rl_handle_close(cv.rlane);
		cv.rlane = 0;
	}
	if (cv.have_next)
		rl_handle_close(cv.next_lane);
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
