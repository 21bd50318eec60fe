/*
 * console.h - what the console driver's files share (docs/userspace.md,
 * "Drivers"). Everything runs on one thread, as tasks of one loop
 * (rill/rt.h): the state below is touched by one task at a time, between
 * two waits, so it needs no lock.
 */
#ifndef CONSOLE_H
#define CONSOLE_H

#include <rill/portio.h>
#include <rill/rl.h>
#include <rill/rt.h>

/* ---- the 16550 ---- */
#define RBR	0	/* receive buffer (read) */
#define THR	0	/* transmit holding (write) */
#define DLL	0	/* divisor latch, low (LCR_DLAB set) */
#define IER	1
#define DLM	1	/* divisor latch, high (LCR_DLAB set) */
#define IIR	2	/* interrupt identification (read) */
#define FCR	2	/* FIFO control (write) */
#define LCR	3
#define MCR	4
#define LSR	5

#define IER_RX		0x01	/* received data available */
#define IER_THRE	0x02	/* transmit holding register empty */
#define IER_RLS		0x04	/* receiver line status: errors, break */
#define IIR_NONE	0x01	/* no interrupt pending */
#define LCR_DLAB	0x80
#define LCR_BREAK	0x40
#define LSR_DR		0x01	/* data ready */
#define LSR_OE		0x02	/* overrun: a byte was lost in the UART */
#define LSR_PE		0x04
#define LSR_FE		0x08
#define LSR_BI		0x10	/* break received */
#define LSR_THRE	0x20	/* transmit holding register empty */
#define LSR_TEMT	0x40	/* transmitter empty: nothing left to send */
#define MCR_DTR_RTS_OUT2 0x0b	/* OUT2 routes the interrupt to the PIC/IOAPIC */

#define UART_CLOCK	115200	/* the divisor's base: baud = UART_CLOCK / divisor */

/* ---- byte queues ---- */
#define QSIZE	4096u		/* a power of two: head and tail wrap freely */

struct bq {
	uint8_t buf[QSIZE];
	uint32_t head, tail;	/* next to take, next to fill */
};

static inline uint32_t bq_used(const struct bq *q)
{
	return q->tail - q->head;
}

static inline uint32_t bq_room(const struct bq *q)
{
	return QSIZE - bq_used(q);
}

static inline void bq_put(struct bq *q, uint8_t c)
{
	q->buf[q->tail++ & (QSIZE - 1)] = c;
}

static inline uint8_t bq_get(struct bq *q)
{
	return q->buf[q->head++ & (QSIZE - 1)];
}

/* ---- waiting for another task ----
 *
 * The runtime has no condition variables; a task that waits for what
 * another task does (input, room in the output queue, the transmitter
 * going idle) waits in an ordinary operation, with its waiter on a list
 * and armed. The other task wakes it with rl_task_cancel, which ends the
 * wait with -ECANCELED whatever it waits in (docs/runtime.md). A waiter
 * is woken at most once per arming, and wait_done() takes a cancel that
 * came after the wait had already ended for another reason, so that it
 * cannot end the task's next, unrelated wait. */
struct waiter {
	struct rl_task *task;
	struct waiter *next, *prev;
	struct wlist *on;	/* the list it is on, or NULL */
	bool armed;		/* waiting (or about to): wake may cancel */
};

struct wlist {
	struct waiter *head, *tail;
};

void wl_add(struct wlist *l, struct waiter *w);
void wl_del(struct waiter *w);
void wake(struct waiter *w);
void wake_all(struct wlist *l);
/* Arm w (before anything that can switch away) and end its wait. */
void wait_arm(struct waiter *w);
void wait_done(struct waiter *w);
/* Wait until woken or the deadline (0: none): true when woken. */
bool park(struct waiter *w, uint64_t deadline);

/* ---- the device ---- */
struct line_cfg {
	uint32_t baud;
	uint8_t data_bits, stop_bits, parity;	/* parity: enum chardev_parity */
};

struct console {
	uint16_t base;
	uint8_t irq_line;
	rl_handle_t irq;
	uint8_t ier;		/* what IER holds */
	bool breaking;		/* send_break holds the line: nothing is sent */
	struct bq in, out;	/* typed bytes for readers; bytes to send */
	struct wlist readers;	/* blocking reads, first come first served */
	struct wlist room;	/* writers (and the log) waiting for room in out */
	struct wlist drainers;	/* waiting for out to be sent and the line idle */
	struct wlist subscribers; /* conversations with events to deliver */
	uint32_t conversations;	/* open: while none is, typed bytes are echoed */
	bool out_was_full;	/* a writer found no room: "writable" is due */
	uint64_t received, dropped;
};

extern struct console con;

/* console.c */
void tx_kick(void);
/* Program the line; false if the hardware cannot (the caller checked
 * the ranges). */
bool uart_set_line(const struct line_cfg *l);
void uart_get_line(struct line_cfg *l);
void uart_break(bool on);
bool tx_idle(void);
/* Queue output: every byte or (all == false) as many as fit; the count. */
uint32_t out_queue(const uint8_t *b, uint32_t n);

/* chardev.c */
/* Serve the chardev protocol on the listening lane (a task). */
int64_t listener_task(void *listen);
/* An event for every subscriber whose mask has it (chardev events). */
void post_event(uint32_t events, uint32_t dropped);

#endif
