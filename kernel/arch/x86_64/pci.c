/*
 * pci.c - PCI configuration space and the probes of legacy devices (see
 * arch/pci.h). Configuration accesses are dword-aligned: off & ~3.
 */
#include <arch/pci.h>
#include <arch/x86.h>
#include <kernel/spinlock.h>

#define PCI_ADDR	0xcf8
#define PCI_DATA	0xcfc

static spinlock_t pci_lock = SPINLOCK_INIT;

static uint32_t address(unsigned bus, unsigned slot, unsigned func, unsigned off)
{
	return 0x80000000u | (bus & 0xff) << 16 | (slot & 0x1f) << 11 | (func & 7) << 8 |
	       (off & 0xfc);
}

uint32_t arch_pci_read32(unsigned bus, unsigned slot, unsigned func, unsigned off)
{
	irqflags_t f = spin_lock_irqsave(&pci_lock);
	uint32_t v;

	outl(PCI_ADDR, address(bus, slot, func, off));
	v = inl(PCI_DATA);
	spin_unlock_irqrestore(&pci_lock, f);
	return v;
}

void arch_pci_write32(unsigned bus, unsigned slot, unsigned func, unsigned off, uint32_t v)
{
	irqflags_t f = spin_lock_irqsave(&pci_lock);

	outl(PCI_ADDR, address(bus, slot, func, off));
	outl(PCI_DATA, v);
	spin_unlock_irqrestore(&pci_lock, f);
}

bool arch_uart_present(uint16_t base)
{
	uint8_t old = inb(base + 7);
	bool yes;

	outb(base + 7, 0x5a);
	yes = inb(base + 7) == 0x5a;
	outb(base + 7, 0xa5);
	yes = yes && inb(base + 7) == 0xa5;
	outb(base + 7, old);
	return yes;
}

bool arch_ps2_present(void)
{
	return inb(0x64) != 0xff;
}
