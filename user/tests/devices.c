/*
 * In-OS tests of dev_list (docs/abi.md, "Devices"): what the kernel found
 * at boot on QEMU's q35 machine (tools/qemu.py), read whole and in pieces,
 * each PCI BAR sized sanely, and the errors.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define MAX 128

static struct rl_device all[MAX], part[MAX];

static int64_t list(uint64_t start, struct rl_device *buf, uint64_t count)
{
	return rl_dev_list(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), start, buf, count);
}

static bool pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

DEFINE_TEST(the_machine_is_listed)
{
	int64_t n = list(0, NULL, 0);
	bool bridge = false, com1 = false, ps2 = false;

	TEST_ASSERT(n >= 3 && n <= MAX);
	TEST_EQ(list(0, all, MAX), n);
	for (int64_t i = 0; i < n; i++) {
		const struct rl_device *d = &all[i];

		TEST_EQ(d->index, (uint64_t)i);
		if (d->kind == RL_DEV_PCI) {
			TEST_ASSERT(d->vendor != 0xffff && d->vendor != 0);
			TEST_ASSERT(d->slot < 32 && d->func < 8);
			if (d->bus == 0 && d->slot == 0 && d->func == 0)
				bridge = d->class_code == 6 && d->subclass == 0;
			for (int b = 0; b < 6; b++) {
				const struct rl_device_bar *bar = &d->bar[b];

				if (!bar->size) {
					TEST_EQ(bar->base, 0);
					TEST_EQ(bar->flags, 0);
					continue;
				}
				TEST_ASSERT(pow2(bar->size));
				if (bar->flags & RL_BAR_IO) {
					TEST_ASSERT(bar->size <= 256);
					TEST_ASSERT(bar->base + bar->size <= 0x10000);
				} else {
					/* Assigned by the firmware: aligned to its size. */
					TEST_EQ(bar->base & (bar->size - 1), 0);
					TEST_ASSERT(bar->size >= 16);
				}
				if (bar->flags & RL_BAR_64) {
					TEST_ASSERT(b < 5);
					TEST_EQ(d->bar[b + 1].size, 0);
					b++;
				}
			}
		} else if (d->kind == RL_DEV_UART) {
			TEST_ASSERT(d->irq == 3 || d->irq == 4);
			com1 |= d->io_base == 0x3f8 && d->irq == 4;
		} else {
			TEST_EQ(d->kind, RL_DEV_PS2);
			ps2 = d->io_base == 0x60 && d->irq == 1 && d->aux_irq == 12;
		}
	}
	TEST_ASSERT(bridge);	/* q35's host bridge at 00:00.0 */
	TEST_ASSERT(com1);	/* the serial line the tests write to */
	TEST_ASSERT(ps2);
}

/* Read in pieces of 3, the same list; past the end, nothing written. */
DEFINE_TEST(pieces_add_up)
{
	int64_t n = list(0, all, MAX);

	TEST_ASSERT(n > 0);
	memset(part, 0x5a, sizeof(part));
	for (int64_t at = 0; at < n; at += 3)
		TEST_EQ(list((uint64_t)at, part + at, 3), n);
	TEST_EQ(memcmp(part, all, (size_t)n * sizeof(all[0])), 0);
	memset(part, 0x5a, sizeof(part[0]));
	TEST_EQ(list((uint64_t)n, part, 5), n);
	TEST_EQ(list(~0ull, part, 5), n);
	TEST_EQ(((unsigned char *)part)[0], 0x5a);
}

DEFINE_TEST(errors)
{
	struct rl_queue q;

	TEST_EQ(rl_queue_init(&q, 2, 2), 0);
	TEST_EQ(rl_dev_list(q.handle, 0, all, 1), -RILL_EBADFD);
	TEST_EQ(rl_dev_list(rl_startup_handle_or0(RL_NAME_IRQ_AUTH), 0, all, 1), -RILL_EBADFD);
	TEST_EQ(rl_dev_list(0x7fff0000, 0, all, 1), -RILL_EBADF);
	TEST_EQ(rl_raw_dev_list(1ull << 40, 0, (uint64_t)all, 1), -RILL_EBADF);
	TEST_EQ(rl_raw_dev_list(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0, 0xffff800000001000ull, 1),
		-RILL_EFAULT);
	TEST_EQ(rl_raw_dev_list(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0, 16, 1), -RILL_EFAULT);
	TEST_EQ(rl_handle_close(q.handle), 0);
}
