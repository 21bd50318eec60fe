/*
 * rill/portio.h - x86 port I/O for drivers in user space. A port answers
 * only after rl_ioport_enable of a range holding it (docs/abi.md); before
 * that, or outside it, the instruction faults like any other.
 */
#ifndef RILL_PORTIO_H
#define RILL_PORTIO_H

#include <stdint.h>

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

#endif
