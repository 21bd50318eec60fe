/*
 * console - the user-space driver of the 16550 UART the system console is
 * on (the first one the kernel found: dev_list, RL_DEV_UART).
 *
 * Interrupt-driven: the receive interrupt is on, an RL_OP_IRQ_WAIT on the
 * line's IRQ object waits for it, and each interrupt drains the receive
 * FIFO; no polling of the line. This first version echoes what it
 * receives (Enter as CR LF), the start of the console the next issue's
 * TTY layer builds on; the character-device protocol, mbus and the
 * takeover of the line from the kernel's log come with the runtime.
 *
 *   console            echo for ever
 *   console echo-line  echo one line, then exit with the count of bytes
 *                      received (tests/console)
 *
 * It prints "console: ready" once the receive interrupt is armed: what is
 * typed from then on is echoed.
 */
#include <rill/rl.h>
#include <rill/string.h>

#define RBR	0	/* receive buffer (read) */
#define THR	0	/* transmit holding (write) */
#define IER	1
#define IIR	2	/* interrupt identification (read) */
#define FCR	2	/* FIFO control (write) */
#define MCR	4
#define LSR	5

#define LSR_DR		0x01	/* data ready */
#define LSR_THRE	0x20	/* transmit holding register empty */
#define MCR_DTR_RTS_OUT2 0x0b	/* OUT2 routes the interrupt to the PIC/IOAPIC */

static uint16_t base;

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void __attribute__((noreturn)) fail(const char *what, int64_t r)
{
	rl_printf("console: %s: %ld\n", what, (long)r);
	rl_process_kill(RL_SELF_PROCESS, r < 0 ? r : -1);
	__builtin_unreachable();
}

/* The transmitter drains at the line's speed: wait for room per byte
 * (the transmit interrupt comes with the TTY layer's output queue). */
static void put(uint8_t c)
{
	while (!(inb(base + LSR) & LSR_THRE))
		;
	outb(base + THR, c);
}

static int64_t find_uart(struct rl_device *out)
{
	static struct rl_device devs[64];
	int64_t n = rl_dev_list(rl_startup_info->ioport_authority, 0, devs, 64);

	if (n < 0)
		return n;
	for (int64_t i = 0; i < n && i < 64; i++) {
		if (devs[i].kind == RL_DEV_UART) {
			*out = devs[i];
			return 0;
		}
	}
	return -RILL_ENODEV;
}

int main(int argc, char **argv)
{
	bool one_line = argc > 1 && !strcmp(argv[1], "echo-line");
	struct rl_device dev;
	struct rl_queue q;
	uint64_t seen = 0, received = 0;
	int64_t io, irq, r;

	if ((r = find_uart(&dev)) < 0)
		fail("no UART in the device list", r);
	base = dev.io_base;
	if ((io = rl_ioport_open(rl_startup_info->ioport_authority, base, 8)) < 0)
		fail("ioport_open", io);
	if ((r = rl_ioport_enable(io)) < 0)
		fail("ioport_enable", r);
	if ((irq = rl_irq_open(rl_startup_info->irq_authority, dev.irq, 0)) < 0)
		fail("irq_open", irq);
	if ((r = rl_queue_init(&q, 4, 8)) < 0)
		fail("queue", r);
	outb(base + FCR, 0x07);			/* FIFOs on and cleared */
	while (inb(base + LSR) & LSR_DR)	/* nothing from before us */
		(void)inb(base + RBR);
	outb(base + MCR, MCR_DTR_RTS_OUT2);
	outb(base + IER, 0x01);			/* receive data interrupt */
	rl_printf("console: ready on %#x irq %u\n", base, dev.irq);
	for (;;) {
		struct rl_sqe *e = rl_get_sqe(&q);
		struct rl_cqe *c;

		e->opcode = RL_OP_IRQ_WAIT;
		e->handle = (rl_handle_t)irq;
		e->user_data = 1;
		e->arg[0] = seen;		/* the count we have handled */
		r = rl_submit_and_wait(&q, 1, 0);
		if (r < 0 && r != -RILL_EINTR)
			fail("queue_enter", r);
		if (!(c = rl_peek_cqe(&q)))
			continue;
		if (c->result < 0)
			fail("IRQ_WAIT", c->result);
		seen = (uint64_t)c->result;
		rl_cqe_done(&q);
		(void)inb(base + IIR);
		while (inb(base + LSR) & LSR_DR) {
			uint8_t ch = inb(base + RBR);

			received++;
			put(ch);
			if (ch == '\r') {
				put('\n');
				if (one_line) {
					outb(base + IER, 0);
					rl_irq_ack(irq);
					return (int)received;
				}
			}
		}
		if ((r = rl_irq_ack(irq)) < 0)
			fail("irq_ack", r);
	}
}
