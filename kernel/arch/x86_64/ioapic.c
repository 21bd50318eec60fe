/*
 * ioapic.c - I/O APICs: routing ISA IRQs and GSIs to vectors.
 *
 * The MADT lists each I/O APIC with its first GSI, and the interrupt source
 * overrides say where ISA IRQs really arrive (QEMU moves the PIT from IRQ 0
 * to GSI 2) and with which polarity and trigger.
 * Locking: ioapic_lock (irqsave) around the index/data register pair.
 */
#include <kernel/acpi.h>
#include <kernel/errno.h>
#include <kernel/log.h>
#include <kernel/spinlock.h>
#include <kernel/vmm.h>
#include <arch/apic.h>

#define IOREGSEL	0x00
#define IOWIN		0x10
#define IOAPIC_VER	0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))

struct ioapic {
	volatile uint32_t *regs;
	uint32_t gsi_base;
	uint32_t ninputs;
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static unsigned nioapics;
static spinlock_t ioapic_lock = SPINLOCK_INIT;
static struct acpi_iso isos[ACPI_MAX_ISOS];
static unsigned nisos;

static uint32_t ioapic_read(struct ioapic *io, uint32_t reg)
{
	io->regs[IOREGSEL / 4] = reg;
	return io->regs[IOWIN / 4];
}

static void ioapic_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
	io->regs[IOREGSEL / 4] = reg;
	io->regs[IOWIN / 4] = v;
}

void ioapic_init(const struct acpi_info *acpi)
{
	for (unsigned i = 0; i < acpi->nioapics && nioapics < ACPI_MAX_IOAPICS; i++) {
		struct ioapic *io = &ioapics[nioapics];

		io->regs = vmm_map_phys(acpi->ioapics[i].phys, 0x20, VMM_UNCACHED);
		if (!io->regs)
			continue;
		io->gsi_base = acpi->ioapics[i].gsi_base;
		io->ninputs = ((ioapic_read(io, IOAPIC_VER) >> 16) & 0xff) + 1;
		for (uint32_t n = 0; n < io->ninputs; n++) {
			ioapic_write(io, IOAPIC_REDTBL(n), 1u << 16);	/* masked */
			ioapic_write(io, IOAPIC_REDTBL(n) + 1, 0);
		}
		pr_info("ioapic: id %u at %x, GSIs %u-%u", acpi->ioapics[i].id,
			acpi->ioapics[i].phys, io->gsi_base, io->gsi_base + io->ninputs - 1);
		nioapics++;
	}
	nisos = acpi->nisos;
	for (unsigned i = 0; i < nisos; i++)
		isos[i] = acpi->isos[i];
}

static struct ioapic *ioapic_for(uint32_t gsi, uint32_t *pin)
{
	for (unsigned i = 0; i < nioapics; i++) {
		if (gsi >= ioapics[i].gsi_base && gsi < ioapics[i].gsi_base + ioapics[i].ninputs) {
			*pin = gsi - ioapics[i].gsi_base;
			return &ioapics[i];
		}
	}
	return NULL;
}

/* ISA IRQ -> GSI and redirection flags (active-low, level) per the MADT. */
static uint32_t isa_to_gsi(unsigned irq, uint32_t *flags)
{
	*flags = 0;
	for (unsigned i = 0; i < nisos; i++) {
		if (isos[i].bus == 0 && isos[i].source_irq == irq) {
			uint16_t pol = isos[i].flags & 3, trig = (isos[i].flags >> 2) & 3;

			if (pol == 3)
				*flags |= 1u << 13;	/* active low */
			if (trig == 3)
				*flags |= 1u << 15;	/* level */
			return isos[i].gsi;
		}
	}
	return irq;
}

int ioapic_route_isa(unsigned irq, uint8_t vector, uint32_t apic_id)
{
	uint32_t flags, pin;
	uint32_t gsi = isa_to_gsi(irq, &flags);
	struct ioapic *io = ioapic_for(gsi, &pin);
	irqflags_t f;

	if (!io)
		return -ENODEV;
	f = spin_lock_irqsave(&ioapic_lock);
	ioapic_write(io, IOAPIC_REDTBL(pin) + 1, apic_id << 24);
	ioapic_write(io, IOAPIC_REDTBL(pin), vector | flags);
	spin_unlock_irqrestore(&ioapic_lock, f);
	return 0;
}

int ioapic_mask_isa(unsigned irq, bool masked)
{
	uint32_t flags, pin, v;
	struct ioapic *io = ioapic_for(isa_to_gsi(irq, &flags), &pin);
	irqflags_t f;

	if (!io)
		return -ENODEV;
	f = spin_lock_irqsave(&ioapic_lock);
	v = ioapic_read(io, IOAPIC_REDTBL(pin));
	v = masked ? v | (1u << 16) : v & ~(1u << 16);
	ioapic_write(io, IOAPIC_REDTBL(pin), v);
	spin_unlock_irqrestore(&ioapic_lock, f);
	return 0;
}
