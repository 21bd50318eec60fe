/*
 * devices.c - the devices the kernel found at boot, for user space.
 *
 * devices_init walks PCI configuration space once (every bus, slot and
 * function whose vendor id answers) and probes the legacy devices a PC
 * has at fixed places (the four COM ports, the 8042). Each BAR is sized
 * the usual way, with the function's decoding turned off meanwhile, and
 * left as the firmware assigned it. The list never changes after boot
 * (no hot plug yet); dev_list copies it out to a holder of the I/O-port
 * authority, which is what a driver needs anyway. Interrupt routing of
 * PCI devices behind the I/O APIC needs the ACPI _PRT (AML), which the
 * kernel does not interpret: the interrupt line the firmware wrote is
 * reported as it is.
 */
#include <arch/pci.h>
#include <kernel/errno.h>
#include <kernel/log.h>
#include <kernel/process.h>
#include <kernel/syscall.h>
#include <kernel/userinit.h>
#include <abi/rill.h>
#include <rill/string.h>

#define MAX_DEVICES	128

static struct rl_device devices[MAX_DEVICES];
static unsigned ndevices;
extern struct kobj ioport_authority;

static struct rl_device *new_device(uint32_t kind)
{
	struct rl_device *d;

	if (ndevices == MAX_DEVICES)
		return NULL;
	d = &devices[ndevices];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->index = ndevices++;
	return d;
}

/* Size BAR i of a function (header type 0: six BARs; a bridge two) with
 * decoding off; returns how many slots it took (2 for 64-bit memory). */
static unsigned size_bar(unsigned b, unsigned s, unsigned f, unsigned i,
			 struct rl_device_bar *bar)
{
	unsigned off = 0x10 + 4 * i;
	uint32_t orig = arch_pci_read32(b, s, f, off), probe, hi = 0, hiprobe = ~0u;
	uint64_t mask;

	arch_pci_write32(b, s, f, off, ~0u);
	probe = arch_pci_read32(b, s, f, off);
	arch_pci_write32(b, s, f, off, orig);
	if (orig & 1) {
		mask = probe & ~3u & 0xffff;
		bar->flags = RL_BAR_IO;
		bar->base = orig & ~3u;
		bar->size = mask ? (~mask & 0xffff) + 1 : 0;
		return 1;
	}
	if (((orig >> 1) & 3) == 2 && i < 5) {
		hi = arch_pci_read32(b, s, f, off + 4);
		arch_pci_write32(b, s, f, off + 4, ~0u);
		hiprobe = arch_pci_read32(b, s, f, off + 4);
		arch_pci_write32(b, s, f, off + 4, hi);
		bar->flags = RL_BAR_64;
	}
	mask = (uint64_t)hiprobe << 32 | (probe & ~0xfu);
	if (!(bar->flags & RL_BAR_64))
		mask |= 0xffffffff00000000ull;
	bar->base = (uint64_t)hi << 32 | (orig & ~0xfu);
	bar->size = (probe & ~0xfu) ? ~mask + 1 : 0;
	if (orig & 8)
		bar->flags |= RL_BAR_PREFETCH;
	if (!bar->size)
		bar->base = 0, bar->flags = 0;
	return bar->flags & RL_BAR_64 ? 2 : 1;
}

static void add_function(unsigned b, unsigned s, unsigned f, uint32_t id)
{
	uint32_t cls = arch_pci_read32(b, s, f, 0x08);
	uint32_t hdr = arch_pci_read32(b, s, f, 0x0c) >> 16 & 0x7f;
	uint32_t irq = arch_pci_read32(b, s, f, 0x3c);
	uint32_t cmd = arch_pci_read32(b, s, f, 0x04);
	unsigned nbars = hdr == 0 ? 6 : hdr == 1 ? 2 : 0;
	struct rl_device *d = new_device(RL_DEV_PCI);

	if (!d)
		return;
	d->vendor = id & 0xffff;
	d->device = id >> 16;
	d->revision = cls & 0xff;
	d->prog_if = cls >> 8 & 0xff;
	d->subclass = cls >> 16 & 0xff;
	d->class_code = cls >> 24;
	d->bus = (uint8_t)b;
	d->slot = (uint8_t)s;
	d->func = (uint8_t)f;
	d->irq = irq & 0xff;
	d->irq_pin = irq >> 8 & 0xff;
	/* Sizing writes the BARs: no decoding meanwhile (the status half of
	 * the register is write-one-to-clear: written as 0). */
	arch_pci_write32(b, s, f, 0x04, cmd & 0xfff8);
	for (unsigned i = 0; i < nbars;)
		i += size_bar(b, s, f, i, &d->bar[i]);
	arch_pci_write32(b, s, f, 0x04, cmd & 0xffff);
	pr_info("pci %02x:%02x.%u %04x:%04x class %02x.%02x.%02x irq %u pin %u", b, s, f,
		d->vendor, d->device, d->class_code, d->subclass, d->prog_if, d->irq, d->irq_pin);
}

static void scan_pci(void)
{
	for (unsigned b = 0; b < 256; b++) {
		for (unsigned s = 0; s < 32; s++) {
			uint32_t id = arch_pci_read32(b, s, 0, 0);
			unsigned nf;

			if ((id & 0xffff) == 0xffff)
				continue;
			nf = arch_pci_read32(b, s, 0, 0x0c) >> 16 & 0x80 ? 8 : 1;
			for (unsigned f = 0; f < nf; f++) {
				if (f)
					id = arch_pci_read32(b, s, f, 0);
				if ((id & 0xffff) != 0xffff)
					add_function(b, s, f, id);
			}
		}
	}
}

static void scan_legacy(void)
{
	static const struct { uint16_t base; uint8_t irq; } com[] = {
		{ 0x3f8, 4 }, { 0x2f8, 3 }, { 0x3e8, 4 }, { 0x2e8, 3 },
	};
	struct rl_device *d;

	for (unsigned i = 0; i < ARRAY_SIZE(com); i++) {
		if (!arch_uart_present(com[i].base) || !(d = new_device(RL_DEV_UART)))
			continue;
		d->io_base = com[i].base;
		d->irq = com[i].irq;
		pr_info("uart com%u at %#x irq %u", i + 1, com[i].base, com[i].irq);
	}
	if (arch_ps2_present() && (d = new_device(RL_DEV_PS2))) {
		d->io_base = 0x60;
		d->irq = 1;
		d->aux_irq = 12;
		pr_info("ps2 controller at 0x60/0x64 irq 1, 12");
	}
}

void devices_init(void)
{
	scan_pci();
	scan_legacy();
	pr_info("devices: %u found", ndevices);
}

/* (authority, start, buf, count) -> how many devices there are; copies
 * those from start on, at most count, into buf. */
SYSCALL_DEFINE(dev_list)
{
	struct kobj *o;
	uint64_t n;
	int r = a0 > INT32_MAX ? -EBADF : handle_get(a0, RL_OBJ_IOPORT_AUTHORITY, 0, &o, NULL);

	if (r)
		return r;
	kobj_put(o);
	if (a1 >= ndevices || !a3)
		return ndevices;
	n = MIN(a3, ndevices - a1);
	if (copy_to_user(a2, &devices[a1], n * sizeof(struct rl_device)))
		return -EFAULT;
	return ndevices;
}
