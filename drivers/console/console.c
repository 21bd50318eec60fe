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
 *   console [takeover] [echo-line]
 *     takeover   take the line over from the kernel's log (it needs the
 *                log authority): the kernel stops writing its log and
 *                debug_write text there (RL_KLOG_CONSOLE), and this driver
 *                prints them from the log's ring instead, from the very
 *                position where the kernel stopped (RL_OP_LOG_WAIT tells
 *                when there is more), so nothing is lost or printed twice
 *     echo-line  echo one line, then give the line back (printing the log
 *                up to where the kernel takes over again) and exit with
 *                the count of bytes received (tests-console/console)
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
#define LSR_TEMT	0x40	/* transmitter empty: nothing left to send */
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

/* The kernel's log, when this driver owns the line: printed from logpos
 * on (a writer more than the ring ahead of us costs the oldest bytes). */
static const volatile struct rl_klog *klog;
static uint64_t logpos;

static void print_log(uint64_t upto)
{
	if (upto - logpos > klog->size)
		logpos = upto - klog->size;
	for (; logpos < upto; logpos++) {
		char c = klog->data[logpos % klog->size];

		if (c == '\n')
			put('\r');	/* as the kernel's own console does */
		put((uint8_t)c);
	}
}

static void arm_log_wait(struct rl_queue *q)
{
	struct rl_sqe *e = rl_get_sqe(q);

	e->opcode = RL_OP_LOG_WAIT;
	e->handle = rl_startup_handle_or0(RL_NAME_LOG_AUTH);
	e->user_data = 2;
	e->arg[0] = logpos;
}

static void arm_irq_wait(struct rl_queue *q, rl_handle_t irq, uint64_t seen)
{
	struct rl_sqe *e = rl_get_sqe(q);

	e->opcode = RL_OP_IRQ_WAIT;
	e->handle = irq;
	e->user_data = 1;
	e->arg[0] = seen;		/* the count we have handled */
}

static void take_over(struct rl_queue *q)
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
	arm_log_wait(q);
}

static void give_back(void)
{
	int64_t at = rl_klog_control(rl_startup_handle_or0(RL_NAME_LOG_AUTH), RL_KLOG_CONSOLE, 1);

	if (at >= 0)
		print_log((uint64_t)at);	/* the kernel prints the rest */
}

static int64_t find_uart(struct rl_device *out)
{
	static struct rl_device devs[64];
	int64_t n = rl_dev_list(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0, devs, 64);

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
	bool one_line = false, takeover = false;
	struct rl_device dev;
	struct rl_queue q;
	uint64_t seen = 0, received = 0;
	int64_t io, irq, r;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "echo-line"))
			one_line = true;
		else if (!strcmp(argv[i], "takeover"))
			takeover = true;
		else
			fail("unknown argument", -RILL_EINVAL);
	}
	if ((r = find_uart(&dev)) < 0)
		fail("no UART in the device list", r);
	base = dev.io_base;
	if ((io = rl_ioport_open(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), base, 8)) < 0)
		fail("ioport_open", io);
	if ((r = rl_ioport_enable(io)) < 0)
		fail("ioport_enable", r);
	if ((irq = rl_irq_open(rl_startup_handle_or0(RL_NAME_IRQ_AUTH), dev.irq, 0)) < 0)
		fail("irq_open", irq);
	if ((r = rl_queue_init(&q, 4, 8)) < 0)
		fail("queue", r);
	/* The kernel may still be sending its last bytes: changing the
	 * FIFO mode under them loses them. Wait for the transmitter to be
	 * empty (TEMT) first. */
	while (!(inb(base + LSR) & LSR_TEMT))
		;
	/* FIFOs off: with them on, QEMU 7.2's UART behind a socket logs some
	 * transmitted bytes twice (every boot of the console test, the
	 * kernel's own polled output included; never with them off), though
	 * every byte is written only into an empty transmitter. The cost: one
	 * received byte buffered, not 16 (QEMU holds input back until it is
	 * read; real hardware could drop bytes typed faster than the
	 * interrupt is served). */
	outb(base + FCR, 0x00);
	while (inb(base + LSR) & LSR_DR)	/* nothing from before us */
		(void)inb(base + RBR);
	outb(base + MCR, MCR_DTR_RTS_OUT2);
	outb(base + IER, 0x01);			/* receive data interrupt */
	if (takeover)
		take_over(&q);
	arm_irq_wait(&q, (rl_handle_t)irq, seen);
	rl_printf("console: ready on %#x irq %u%s\n", base, dev.irq,
		  takeover ? ", printing the kernel's log" : "");
	for (;;) {
		struct rl_cqe *c;

		r = rl_submit_and_wait(&q, 1, 0);
		if (r < 0 && r != -RILL_EINTR)
			fail("queue_enter", r);
		while ((c = rl_peek_cqe(&q))) {
			uint64_t ud = c->user_data;
			int64_t res = c->result;

			rl_cqe_done(&q);
			if (res < 0)
				fail(ud == 1 ? "IRQ_WAIT" : "LOG_WAIT", res);
			if (ud == 2) {
				print_log((uint64_t)res);
				arm_log_wait(&q);
				continue;
			}
			seen = (uint64_t)res;
			(void)inb(base + IIR);
again:
			while (inb(base + LSR) & LSR_DR) {
				uint8_t ch = inb(base + RBR);

				received++;
				put(ch);
				if (ch == '\r') {
					put('\n');
					if (one_line) {
						outb(base + IER, 0);
						rl_irq_ack(irq);
						if (takeover)
							give_back();
						return (int)received;
					}
				}
			}
			if ((r = rl_irq_ack(irq)) < 0)
				fail("irq_ack", r);
			/* The COM line is edge-triggered: a byte that came
			 * after the drain but before the ack raised its edge
			 * while the line was masked, and no interrupt will
			 * come for it. Look once more after the ack. */
			if (inb(base + LSR) & LSR_DR)
				goto again;
			arm_irq_wait(&q, (rl_handle_t)irq, seen);
		}
	}
}
