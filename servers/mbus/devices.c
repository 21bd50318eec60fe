/*
 * devices.c - mbus publishes what the kernel found at boot (dev_list) as
 * permanent objects: no publisher, no lane. Drivers find their devices
 * here by properties instead of hard-coded addresses (docs/mbus.md lists
 * the keys; the formats are fixed so that an `equal` match can name a
 * device: lowercase hex with 0x, PCI ids with 4 digits).
 */
#include <rill/format.h>
#include <rill/string.h>

#include "mbus.h"

struct props {
	struct mbus_prop p[MBUS_PROPS_MAX];
	uint32_t n;
};

static void add(struct props *ps, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (ps->n == MBUS_PROPS_MAX)
		return;
	memcpy(ps->p[ps->n].key, key, strlen(key) + 1);
	va_start(ap, fmt);
	rill_vsnprintf(ps->p[ps->n].value, sizeof(ps->p[0].value), fmt, ap);
	va_end(ap);
	ps->n++;
}

/* A readable name for the PCI classes whose meaning is plain; NULL for
 * the rest (a driver matches those by pci-class). */
static const char *pci_class_name(const struct rl_device *d)
{
	switch (d->class_code) {
	case 0x01: return "storage";
	case 0x02: return "network";
	case 0x03: return "display";
	case 0x04: return "multimedia";
	case 0x06: return "bridge";
	case 0x07: return d->subclass == 0x00 ? "serial" : NULL;
	case 0x0c: return d->subclass == 0x03 ? "usb" : NULL;
	default: return NULL;
	}
}

/* COM1..COM4 by the ports the PC gave them. */
static const char *uart_name(uint16_t io)
{
	switch (io) {
	case 0x3f8: return "com1";
	case 0x2f8: return "com2";
	case 0x3e8: return "com3";
	case 0x2e8: return "com4";
	default: return NULL;
	}
}

static void describe(const struct rl_device *d, struct props *ps)
{
	const char *name;

	ps->n = 0;
	switch (d->kind) {
	case RL_DEV_PCI:
		add(ps, "bus", "pci");
		if ((name = pci_class_name(d)))
			add(ps, "class", "%s", name);
		add(ps, "pci-vendor", "0x%04x", d->vendor);
		add(ps, "pci-device", "0x%04x", d->device);
		add(ps, "pci-class", "0x%02x%02x%02x", d->class_code, d->subclass, d->prog_if);
		add(ps, "pci-address", "0000:%02x:%02x.%x", d->bus, d->slot, d->func);
		/* A function without an interrupt pin reports line 0: no IRQ,
		 * not IRQ 0. */
		if (d->irq_pin && d->irq != 0xff)
			add(ps, "irq", "%u", d->irq);
		break;
	case RL_DEV_UART:
		add(ps, "bus", "legacy");
		add(ps, "class", "serial");
		if ((name = uart_name(d->io_base)))
			add(ps, "name", "%s", name);
		add(ps, "io-base", "0x%x", d->io_base);
		add(ps, "irq", "%u", d->irq);
		break;
	case RL_DEV_PS2:
		add(ps, "bus", "legacy");
		add(ps, "class", "ps2");
		add(ps, "io-base", "0x%x", d->io_base);
		add(ps, "irq", "%u", d->irq);
		add(ps, "aux-irq", "%u", d->aux_irq);
		break;
	default:
		return;		/* a kind this mbus does not know: not published */
	}
	/* Its place in dev_list, where the rest (BARs) is. */
	add(ps, "dev-index", "%u", d->index);
}

int mbus_publish_devices(rl_handle_t auth)
{
	int64_t n = rl_dev_list(auth, 0, NULL, 0);
	struct rl_device *list;
	struct props ps;

	if (n <= 0)
		return n < 0 ? (int)n : 0;
	list = calloc((size_t)n, sizeof(*list));
	if (!list)
		return -RILL_ENOMEM;
	n = rl_dev_list(auth, 0, list, (uint64_t)n);	/* the same list: it is fixed at boot */
	for (int64_t i = 0; i < n; i++) {
		describe(&list[i], &ps);
		if (ps.n && !mbus_object_add(ps.p, ps.n, NULL, 0, 0)) {
			free(list);
			return -RILL_ENOMEM;
		}
	}
	free(list);
	return 0;
}
