/*
 * pci.h - PCI configuration space, through the legacy mechanism (ports
 * 0xcf8/0xcfc: every PC chipset QEMU models has it). One lock makes each
 * address-then-data pair atomic.
 */
#ifndef ARCH_PCI_H
#define ARCH_PCI_H

#include <kernel/types.h>

uint32_t arch_pci_read32(unsigned bus, unsigned slot, unsigned func, unsigned off);
void arch_pci_write32(unsigned bus, unsigned slot, unsigned func, unsigned off, uint32_t v);

/* Legacy devices: whether a 16550-like UART answers at base (its scratch
 * register holds what is written), and whether an 8042 PS/2 controller
 * seems present (its status port does not float). */
bool arch_uart_present(uint16_t base);
bool arch_ps2_present(void);

#endif
