/*
 * console - the user-space driver of the 16550 UART the system console is
 * on, serving the character-device protocol (protocols/chardev) on the
 * asynchronous runtime (docs/userspace.md, "Drivers").
 *
 * One thread, one loop (rill/rt.h), these tasks:
 *   irq        RL_OP_IRQ_WAIT on the line's IRQ: received bytes go to the
 *              input queue (or are echoed, below); the output queue goes
 *              to the transmitter on its THRE interrupt, which is enabled
 *              only while that queue holds bytes
 *   log        in takeover mode: the kernel's log, from its ring, into the
 *              output queue (RL_OP_LOG_WAIT says when there is more)
 *   listener   ACCEPTs conversations on "chardev-server" and starts a task
 *              for each (chardev.c)
 *
 * Typed bytes: while at least one conversation is open they go to the
 * input queue, for the readers (the first waiting reader first); while
 * none is, each one is echoed (CR as CR LF) and dropped, as the console
 * did before it served anyone: a machine whose console nobody reads
 * still shows what is typed.
 *
 *   console [takeover] [echo-line]
 *     takeover   take the line over from the kernel's log (it needs the
 *                log authority): the kernel stops writing its log and
 *                debug_write text there (RL_KLOG_CONSOLE), and the log
 *                task prints them from the log's ring instead, from the
 *                very position where the kernel stopped, every byte once
 *     echo-line  echo one line, then give the line back (printing the log
 *                up to where the kernel takes over again) and exit with
 *                the count of bytes received (tests-console/console)
 *   Without takeover the kernel goes on writing its log on the line
 *   itself, between the driver's bytes (tests/chardev runs so).
 *
 * Handles: "ioport-authority", "irq-authority", "log-authority" (takeover),
 * "chardev-server" (optional: the server end of the listening stream;
 * clients hold the other end). It prints "console: ready" once the
 * receive interrupt is armed: what is typed from then on is taken.
 */
#include <proto/chardev.h>
#include <rill/format.h>
#include <rill/mbus.h>
#include <rill/rl.h>
#include <rill/rt.h>
#include <rill/string.h>

#include "console.h"

#define SEC	1000000000ull

struct console con;

static bool one_line;

static void __attribute__((noreturn)) fail(const char *what, int64_t r)
{
	rl_printf("console: %s: %ld\n", what, (long)r);
	rl_process_kill(RL_SELF_PROCESS, r < 0 ? r : -1);
	__builtin_unreachable();
}

/* ---- waiting for another task (console.h) ------------------------------------ */

void wl_add(struct wlist *l, struct waiter *w)
{
	w->task = rl_task_self();
	w->next = NULL;
	w->prev = l->tail;
	if (l->tail)
		l->tail->next = w;
	else
		l->head = w;
	l->tail = w;
	w->on = l;
}

void wl_del(struct waiter *w)
{
	struct wlist *l = w->on;

	if (!l)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		l->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		l->tail = w->prev;
	w->next = w->prev = NULL;
	w->on = NULL;
}

void wake(struct waiter *w)
{
	if (w->armed) {
		w->armed = false;
		rl_task_cancel(w->task);
	}
}

void wake_all(struct wlist *l)
{
	for (struct waiter *w = l->head; w; w = w->next)
		wake(w);
}

void wait_arm(struct waiter *w)
{
	w->task = rl_task_self();
	w->armed = true;
}

void wait_done(struct waiter *w)
{
	w->armed = false;
	/* A wake that came once the wait had ended another way left its
	 * cancel pending: an await of nothing takes it here (it returns
	 * -ECANCELED at once, submitting nothing). */
	if (rl_task_self()->cancel) {
		struct rl_sqe nop = { .opcode = RL_OP_NOP };

		(void)rl_await(&nop, NULL);
	}
}

bool park(struct waiter *w, uint64_t deadline)
{
	struct rl_sqe t = { .opcode = RL_OP_TIMEOUT };
	int64_t r;

	t.arg[0] = deadline ? deadline : rl_clock_ns() + 3600 * SEC;
	wait_arm(w);
	r = rl_await(&t, NULL);
	wait_done(w);
	return r == -RILL_ECANCELED;
}

/* ---- the UART ------------------------------------------------------------------- */

/* The device, from the kernel's device list. Kept in this one function:
 * it moves to mbus. */
static int find_uart(uint16_t *base, uint8_t *irq)
{
	static struct rl_device devs[64];
	int64_t n = rl_dev_list(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0, devs, 64);

	if (n < 0)
		return (int)n;
	for (int64_t i = 0; i < n && i < 64; i++) {
		if (devs[i].kind == RL_DEV_UART) {
			*base = devs[i].io_base;
			*irq = devs[i].irq;
			return 0;
		}
	}
	return -RILL_ENODEV;
}

/* A property's number: decimal, or hex after 0x; -EINVAL for anything
 * else (mbus is trusted to say what the kernel said, but its answer is
 * input like any other). */
static int parse_u64(const char *t, uint64_t *v)
{
	unsigned base = 10;

	*v = 0;
	if (t[0] == '0' && t[1] == 'x') {
		base = 16;
		t += 2;
	}
	if (!*t)
		return -RILL_EINVAL;
	for (; *t; t++) {
		unsigned d = *t >= '0' && *t <= '9' ? (unsigned)(*t - '0') :
			     *t >= 'a' && *t <= 'f' ? (unsigned)(*t - 'a' + 10) : 99;

		if (d >= base || *v > (UINT64_MAX - d) / base)
			return -RILL_EINVAL;
		*v = *v * base + d;
	}
	return 0;
}

/* The UART on mbus (docs/mbus.md): the serial device named com1, or the
 * first serial device; its ports and IRQ from its properties. Its object
 * id in *id. */
static int find_uart_on_mbus(rl_handle_t mbus, uint16_t *base, uint8_t *irq, uint64_t *id)
{
	struct mbus_match m[3];
	struct mbus_prop props[MBUS_PROPS_MAX];
	const char *io, *line;
	uint32_t n;
	uint64_t v;
	int r;

	rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "serial");
	rl_mbus_match_set(&m[1], "bus", MBUS_MATCH_OP_EQUAL, "legacy");
	rl_mbus_match_set(&m[2], "name", MBUS_MATCH_OP_EQUAL, "com1");
	r = rl_mbus_find_first(mbus, m, 3, id, props, &n);
	if (r == -RILL_ENOENT)
		r = rl_mbus_find_first(mbus, m, 2, id, props, &n);
	if (r < 0)
		return r;
	io = rl_mbus_prop(props, n, "io-base");
	line = rl_mbus_prop(props, n, "irq");
	if (!io || !line || parse_u64(io, &v) || v > 0xfff8)
		return -RILL_EPROTO;
	*base = (uint16_t)v;
	if (parse_u64(line, &v) || v > 15)
		return -RILL_EPROTO;
	*irq = (uint8_t)v;
	return 0;
}

/* Our own object on mbus: a chardev named console on that UART, reached
 * through the lane init gave us as "chardev" (the client end of the
 * stream we serve). It lives as long as conversation *conv. */
static int publish_on_mbus(rl_handle_t mbus, uint64_t uart, rl_handle_t *conv, uint64_t *id)
{
	struct mbus_prop props[4];
	char num[24];
	rl_handle_t lane = rl_startup_handle_or0("chardev");

	if (!lane)
		return -RILL_ENOENT;
	rill_snprintf(num, sizeof(num), "%lu", (unsigned long)uart);
	rl_mbus_prop_set(&props[0], "class", "chardev");
	rl_mbus_prop_set(&props[1], "name", "console");
	rl_mbus_prop_set(&props[2], "device", num);
	rl_mbus_prop_set(&props[3], "driver", "bin/console");
	return rl_mbus_publish(mbus, props, 4, lane, conv, id);
}

static void set_ier(uint8_t v)
{
	if (v != con.ier) {
		con.ier = v;
		outb(con.base + IER, v);
	}
}

/* Output waits in con.out; the THRE interrupt takes it from there. */
void tx_kick(void)
{
	if (bq_used(&con.out) && !con.breaking)
		set_ier(con.ier | IER_THRE);
}

bool tx_idle(void)
{
	return !bq_used(&con.out) && (inb(con.base + LSR) & LSR_TEMT);
}

uint32_t out_queue(const uint8_t *b, uint32_t n)
{
	uint32_t k = n < bq_room(&con.out) ? n : bq_room(&con.out);

	for (uint32_t i = 0; i < k; i++)
		bq_put(&con.out, b[i]);
	if (k < n)
		con.out_was_full = true;
	tx_kick();
	return k;
}

void uart_get_line(struct line_cfg *l)
{
	uint16_t b = con.base;
	uint8_t lcr = inb(b + LCR), lo, hi;
	uint16_t div;

	outb(b + LCR, lcr | LCR_DLAB);
	lo = inb(b + DLL);
	hi = inb(b + DLM);
	outb(b + LCR, lcr & ~LCR_DLAB);
	div = (uint16_t)(lo | hi << 8);
	l->baud = div ? UART_CLOCK / div : UART_CLOCK;
	l->data_bits = (uint8_t)(5 + (lcr & 3));
	l->stop_bits = (lcr & 4) ? 2 : 1;
	l->parity = !(lcr & 0x08) ? CHARDEV_PARITY_NONE
		  : (lcr & 0x10) ? CHARDEV_PARITY_EVEN : CHARDEV_PARITY_ODD;
}

/* Divisor and framing. Only bauds that divide the 1.8432 MHz / 16 clock
 * exactly: anything else would be a different speed than asked. (5 data
 * bits with 2 stop bits is 1.5 stop bits on a 16550.) */
bool uart_set_line(const struct line_cfg *l)
{
	uint16_t b = con.base;
	uint32_t div;
	uint8_t lcr;

	if (!l->baud || l->baud > UART_CLOCK || UART_CLOCK % l->baud)
		return false;
	div = UART_CLOCK / l->baud;
	lcr = (uint8_t)((l->data_bits - 5) | (l->stop_bits == 2 ? 4 : 0));
	if (l->parity == CHARDEV_PARITY_ODD)
		lcr |= 0x08;
	else if (l->parity == CHARDEV_PARITY_EVEN)
		lcr |= 0x18;
	if (con.breaking)
		lcr |= LCR_BREAK;
	outb(b + LCR, lcr | LCR_DLAB);
	outb(b + DLL, (uint8_t)div);
	outb(b + DLM, (uint8_t)(div >> 8));
	outb(b + LCR, lcr);
	return true;
}

void uart_break(bool on)
{
	uint8_t lcr = inb(con.base + LCR);

	con.breaking = on;
	outb(con.base + LCR, on ? lcr | LCR_BREAK : lcr & ~LCR_BREAK);
	if (!on)
		tx_kick();
}

/* ---- the kernel's log (takeover) ------------------------------------------------ */

static const volatile struct rl_klog *klog;
static uint64_t logpos;
static struct waiter log_waiter;

/* Polled, for the end only (echo-line): what is left goes out now. */
static void put_polled(uint8_t c)
{
	while (!(inb(con.base + LSR) & LSR_THRE))
		;
	outb(con.base + THR, c);
}

/* The log from logpos up to upto into the output queue, a line at a time
 * (at most LOG_PIECE bytes), waiting for room for the whole line: client
 * writes go in whole too, so neither cuts into a line of the other. A
 * writer more than the ring ahead of us costs the oldest bytes. */
#define LOG_PIECE	512u

static void log_wait_room(uint32_t need)
{
	while (bq_room(&con.out) < need) {
		tx_kick();
		wl_add(&con.room, &log_waiter);
		park(&log_waiter, 0);
		wl_del(&log_waiter);
	}
}

static void log_out(uint64_t upto)
{
	while (logpos < upto) {
		uint32_t n = 0, need = 0;

		if (upto - logpos > klog->size)
			logpos = upto - klog->size;
		/* The piece: up to and with the next newline. */
		while (logpos + n < upto && n < LOG_PIECE) {
			char c = klog->data[(logpos + n) % klog->size];

			n++;
			need += c == '\n' ? 2 : 1;
			if (c == '\n')
				break;
		}
		log_wait_room(need);
		if (upto - logpos > klog->size)
			continue;		/* overwritten while we waited */
		for (uint32_t i = 0; i < n; i++) {
			uint8_t c = (uint8_t)klog->data[(logpos + i) % klog->size];

			if (c == '\n')
				bq_put(&con.out, '\r');	/* as the kernel's own console does */
			bq_put(&con.out, c);
		}
		logpos += n;
	}
	tx_kick();
}

/* Until every byte queued so far has gone to the UART. The log's next
 * LOG_WAIT says "printed up to here" to the kernel (RL_KLOG_PRINTED, and
 * where a restarted driver goes on): it must not say so of bytes still
 * in our queue, which die with us. */
static void log_wait_sent(void)
{
	uint32_t mark = con.out.tail;

	while ((int32_t)(con.out.head - mark) < 0) {
		tx_kick();
		wl_add(&con.room, &log_waiter);
		park(&log_waiter, 0);
		wl_del(&log_waiter);
	}
}

static int64_t log_task(void *arg)
{
	rl_handle_t a = rl_startup_handle_or0(RL_NAME_LOG_AUTH);

	for (;;) {
		struct rl_sqe e = { .opcode = RL_OP_LOG_WAIT, .handle = a, .arg = { logpos } };
		int64_t r = rl_await(&e, NULL);

		if (r < 0)
			fail("LOG_WAIT", r);
		log_out((uint64_t)r);
		log_wait_sent();
	}
}

static void take_over(void)
{
	rl_handle_t a = rl_startup_handle_or0(RL_NAME_LOG_AUTH);
	int64_t mo = rl_klog_control(a, RL_KLOG_MAP, 0), at;

	if (mo < 0)
		fail("klog_control MAP (no log authority?)", mo);
	at = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 64 * 1024, RL_PROT_READ);
	if (at < 0)
		fail("map the log", at);
	klog = (const volatile struct rl_klog *)at;
	if ((at = rl_klog_control(a, RL_KLOG_CONSOLE, 0)) < 0)
		fail("klog_control CONSOLE", at);
	logpos = (uint64_t)at;
}

/* echo-line's end: what is queued goes out, the line goes back to the
 * kernel (the log up to where it takes over printed first), and the
 * process ends with the count of bytes received. */
static void __attribute__((noreturn)) finish_line(void)
{
	set_ier(0);
	while (bq_used(&con.out))
		put_polled(bq_get(&con.out));
	rl_irq_ack(con.irq);
	if (klog) {
		int64_t at = rl_klog_control(rl_startup_handle_or0(RL_NAME_LOG_AUTH),
					     RL_KLOG_CONSOLE, 1);

		if (at >= 0) {
			if ((uint64_t)at - logpos > klog->size)
				logpos = (uint64_t)at - klog->size;
			for (; logpos < (uint64_t)at; logpos++) {
				char c = klog->data[logpos % klog->size];

				if (c == '\n')
					put_polled('\r');
				put_polled((uint8_t)c);
			}
		}
	}
	while (!(inb(con.base + LSR) & LSR_TEMT))
		;
	rl_process_kill(RL_SELF_PROCESS, (int64_t)con.received);
	rl_exit((int64_t)con.received);
}

/* ---- the interrupt ---------------------------------------------------------------- */

static void echo(uint8_t c)
{
	static const uint8_t crlf[2] = { '\r', '\n' };

	if (c == '\r')
		out_queue(crlf, 2);
	else
		out_queue(&c, 1);
	if (c == '\r' && one_line)
		finish_line();
}

static void received(uint8_t c)
{
	con.received++;
	if (!con.conversations) {
		echo(c);
		return;
	}
	if (!bq_room(&con.in)) {
		con.dropped++;
		post_event(CHARDEV_EVENTS_OVERRUN, 1);
		return;
	}
	bq_put(&con.in, c);
	if (con.readers.head)
		wake(con.readers.head);
	post_event(CHARDEV_EVENTS_READABLE, 0);
}

/* Everything the UART has for us: line status, received bytes, room in
 * the transmitter. Until IIR says nothing is pending, so that the line's
 * interrupt can rise again. Bytes go to THR only while it is empty
 * (THRE): the interrupt, not a spin, says when there is room again. */
static void service(void)
{
	uint16_t b = con.base;

	for (int round = 0; round < 64; round++) {
		uint8_t iir = inb(b + IIR), lsr = inb(b + LSR);
		uint32_t before = bq_used(&con.out);

		if (lsr & LSR_BI)
			post_event(CHARDEV_EVENTS_BREAK, 0);
		if (lsr & (LSR_PE | LSR_FE))
			post_event(CHARDEV_EVENTS_FRAMING, 0);
		if (lsr & LSR_OE)
			post_event(CHARDEV_EVENTS_OVERRUN, 0);
		while (lsr & LSR_DR) {
			received(inb(b + RBR));
			lsr = inb(b + LSR);
		}
		while (!con.breaking && bq_used(&con.out) && (lsr & LSR_THRE)) {
			outb(b + THR, bq_get(&con.out));
			lsr = inb(b + LSR);
		}
		if (!bq_used(&con.out) || con.breaking)
			set_ier(con.ier & ~IER_THRE);
		if (bq_used(&con.out) < before) {
			wake_all(&con.room);
			if (con.out_was_full && bq_room(&con.out) >= QSIZE / 2) {
				con.out_was_full = false;
				post_event(CHARDEV_EVENTS_WRITABLE, 0);
			}
		}
		if (!bq_used(&con.out))
			wake_all(&con.drainers);
		if (iir & IIR_NONE)
			break;
	}
}

static int64_t irq_task(void *arg)
{
	uint64_t seen = 0;

	for (;;) {
		struct rl_sqe e = { .opcode = RL_OP_IRQ_WAIT, .handle = con.irq, .arg = { seen } };
		int64_t r = rl_await(&e, NULL);

		if (r < 0)
			fail("IRQ_WAIT", r);
		seen = (uint64_t)r;
		service();
		if ((r = rl_irq_ack(con.irq)) < 0)
			fail("irq_ack", r);
		/* The line is edge-triggered and was masked until the ack: a
		 * byte that came (or THR that emptied) after the last look
		 * raised it while masked, and that edge is gone; the line
		 * then stays high with no new edge, and input stops (the
		 * typed-line boot hung so, one boot in three). Look once
		 * more now that it is unmasked: anything later makes an
		 * edge of its own. */
		service();
	}
}

/* Published on mbus for as long as we run: publish, then watch our own
 * object; the watch ends (EPIPE) when mbus does, and init starts a new
 * one on the same lane, which knows nothing of us: publish again. */
static int64_t mbus_task(void *arg)
{
	rl_handle_t mbus = rl_startup_handle_or0("mbus");
	uint64_t uart = (uint64_t)arg, delay = 10000000;

	for (;;) {
		static struct rl_mbus_event ev;
		struct rl_mbus_watch w;
		struct mbus_match m[2];
		rl_handle_t conv;
		uint64_t self;
		int64_t r;

		if ((r = publish_on_mbus(mbus, uart, &conv, &self)) < 0) {
			rl_printf("console: cannot publish on mbus (%ld); trying again\n", (long)r);
			rl_sleep_for(delay);
			delay = delay < 1000000000 ? delay * 2 : delay;
			continue;
		}
		delay = 10000000;
		rl_printf("console: on mbus as object %lu (device %lu)\n", (unsigned long)self,
			  (unsigned long)uart);
		rl_mbus_match_set(&m[0], "class", MBUS_MATCH_OP_EQUAL, "chardev");
		rl_mbus_match_set(&m[1], "name", MBUS_MATCH_OP_EQUAL, "console");
		if (rl_mbus_watch_open(mbus, m, 2, &w) == 0) {
			while ((r = rl_mbus_watch_next(&w, &ev, 0)) == 0)
				;		/* (our own appearing, mostly) */
			rl_mbus_watch_close(&w);
		}
		rl_handle_close(conv);
		rl_printf("console: mbus went away (%ld); publishing again\n", (long)r);
		rl_sleep_for(delay);
	}
	return 0;
}

struct setup {
	bool takeover;
	rl_handle_t listen;
};

/* Find the UART, take it, start the tasks, say so, publish ourselves: a
 * task, since mbus is asked through the runtime. */
static int64_t setup_task(void *arg)
{
	const struct setup *su = arg;
	rl_handle_t mbus = rl_startup_handle_or0("mbus");
	uint64_t uart = 0;
	int64_t io, irq, r;

	if (mbus) {
		if ((r = find_uart_on_mbus(mbus, &con.base, &con.irq_line, &uart)) < 0)
			fail("no UART on mbus", r);
	} else if ((r = find_uart(&con.base, &con.irq_line)) < 0) {
		fail("no UART in the device list", r);
	}
	if ((io = rl_ioport_open(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), con.base, 8)) < 0)
		fail("ioport_open", io);
	if ((r = rl_ioport_enable(io)) < 0)
		fail("ioport_enable", r);
	if ((irq = rl_irq_open(rl_startup_handle_or0(RL_NAME_IRQ_AUTH), con.irq_line, 0)) < 0)
		fail("irq_open", irq);
	con.irq = (rl_handle_t)irq;
	/* The kernel may still be sending its last bytes: changing the
	 * FIFO mode under them loses them. Wait for the transmitter to be
	 * empty (TEMT) first. */
	while (!(inb(con.base + LSR) & LSR_TEMT))
		;
	/* FIFOs off: with them on, QEMU 7.2's UART behind a socket logs some
	 * transmitted bytes twice (every boot of the console test, the
	 * kernel's own polled output included; never with them off), though
	 * every byte is written only into an empty transmitter. The cost: one
	 * received byte buffered, not 16 (QEMU holds input back until it is
	 * read; real hardware could drop bytes typed faster than the
	 * interrupt is served), and one transmitted byte per THRE. */
	outb(con.base + FCR, 0x00);
	while (inb(con.base + LSR) & LSR_DR)	/* nothing from before us */
		(void)inb(con.base + RBR);
	outb(con.base + MCR, MCR_DTR_RTS_OUT2);
	con.ier = 0xff;				/* unknown: set_ier writes */
	set_ier(IER_RX | IER_RLS);
	if (su->takeover) {
		take_over();
		if (rl_task_spawn_detached(log_task, NULL) < 0)
			fail("spawn", -RILL_ENOMEM);
	}
	if (rl_task_spawn_detached(irq_task, NULL) < 0 ||
	    (su->listen && rl_task_spawn_detached(listener_task,
						  (void *)(uint64_t)su->listen) < 0))
		fail("spawn", -RILL_ENOMEM);
	rl_printf("console: ready on %#x irq %u%s\n", con.base, con.irq_line,
		  su->takeover ? ", printing the kernel's log" : "");
	if (mbus && rl_task_spawn_detached(mbus_task, (void *)(uint64_t)uart) < 0)
		fail("spawn", -RILL_ENOMEM);
	return 0;
}


int main(int argc, char **argv)
{
	static struct setup su;
	struct rl_loop loop;
	int64_t r;

	su.listen = rl_startup_handle_or0("chardev-server");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "echo-line"))
			one_line = true;
		else if (!strcmp(argv[i], "takeover"))
			su.takeover = true;
		else
			fail("unknown argument", -RILL_EINVAL);
	}
	if ((r = rl_loop_init(&loop, 256, 1024)) < 0)
		fail("loop", r);
	if (!rl_loop_spawn(&loop, setup_task, &su))
		fail("spawn", -RILL_ENOMEM);
	r = rl_loop_run(&loop);
	fail("loop ended", r);
}
