/*
 * serial.c - the COM1 console (16550 UART at 0x3f8, 115200 8N1) and the
 * isa-debug-exit port QEMU offers for tests.
 *
 * Output is polled: it waits for the transmit holding register to empty.
 * No locking here; log.c serialises whole lines.
 */
#include <kernel/arch.h>
#include <arch/x86.h>

#define COM1 0x3f8
#define QEMU_EXIT_PORT 0xf4

void arch_console_init(void)
{
	outb(COM1 + 1, 0x00);	/* no UART interrupts */
	outb(COM1 + 3, 0x80);	/* DLAB on */
	outb(COM1 + 0, 0x01);	/* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1, DLAB off */
	outb(COM1 + 2, 0xc7);	/* FIFO on, cleared, 14-byte threshold */
	outb(COM1 + 4, 0x03);	/* DTR | RTS */
}

static void serial_raw_putc(char c)
{
	unsigned spins = 0;

	/* Bounded wait: a missing UART must not hang the kernel. */
	while (!(inb(COM1 + 5) & 0x20) && spins++ < 100000)
		arch_cpu_relax();
	outb(COM1, (uint8_t)c);
}

void arch_console_putc(char c)
{
	if (c == '\n')
		serial_raw_putc('\r');
	serial_raw_putc(c);
}

void arch_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void arch_qemu_exit(uint32_t code)
{
	outl(QEMU_EXIT_PORT, code);
	arch_halt();
}
