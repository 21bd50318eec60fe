/*
 * In-OS tests of the resources drivers get: I/O port ranges, IRQ objects
 * and device memory. Test programs receive init's authorities (see
 * servers/init/init.c). The IRQ test drives the real COM1 UART: enabling its
 * transmitter-empty interrupt raises IRQ 4 at once.
 */
#include <rill/ipc.h>
#include <rill/portio.h>
#include <rill/rl.h>
#include <rill/test.h>

#define COM1 0x3f8
#define SEC 1000000000ull

DEFINE_TEST(ioport_errors)
{
	rl_handle_t a = rl_startup_handle_or0(RL_NAME_IOPORT_AUTH);

	TEST_ASSERT(a > 0);
	TEST_EQ(rl_ioport_open(a, 0x3f8, 0), -RILL_EINVAL);
	TEST_EQ(rl_ioport_open(a, 0xfff0, 0x20), -RILL_EINVAL);
	TEST_EQ(rl_ioport_open(a, 0x10000, 1), -RILL_EINVAL);
	TEST_EQ(rl_ioport_open(9999, 0x3f8, 8), -RILL_EBADF);
	TEST_EQ(rl_ioport_open(RL_SELF_PROCESS, 0x3f8, 8), -RILL_EBADFD);
	TEST_EQ(rl_ioport_enable(RL_SELF_THREAD), -RILL_EBADFD);
	{
		int64_t io = rl_ioport_open(a, COM1, 8), weak;

		TEST_ASSERT(io > 0);
		weak = rl_handle_dup(io, RL_RIGHT_DUP);
		TEST_ASSERT(weak > 0);
		TEST_EQ(rl_ioport_enable(weak), -RILL_EPERM);
		TEST_EQ(rl_handle_close(weak), 0);
		TEST_EQ(rl_handle_close(io), 0);
	}
}

static struct rl_queue q;

static int64_t wait_one(uint64_t ud, uint64_t deadline, int64_t *result)
{
	struct rl_cqe *c;
	int64_t r = rl_submit_and_wait(&q, 1, deadline);

	c = rl_peek_cqe(&q);
	if (!c)
		return r < 0 ? r : -RILL_ETIMEDOUT;
	if (c->user_data != ud)
		return -RILL_EINVAL;
	*result = c->result;
	rl_cqe_done(&q);
	return 0;
}

DEFINE_TEST(irq_from_the_uart)
{
	rl_handle_t ia = rl_startup_handle_or0(RL_NAME_IRQ_AUTH);
	int64_t io, irq, res = 0;
	uint8_t ier, mcr;
	struct rl_sqe *e;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	io = rl_ioport_open(rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), COM1, 8);
	TEST_ASSERT(io > 0);
	TEST_EQ(rl_ioport_enable(io), 0);
	TEST_EQ(rl_irq_open(ia, 2, 0), -RILL_EINVAL);
	TEST_EQ(rl_irq_open(ia, 16, 0), -RILL_EINVAL);
	TEST_EQ(rl_irq_open(ia, 4, 1), -RILL_EINVAL);
	TEST_EQ(rl_irq_open(RL_SELF_PROCESS, 4, 0), -RILL_EBADFD);
	irq = rl_irq_open(ia, 4, 0);
	TEST_ASSERT(irq > 0);
	TEST_EQ(rl_irq_open(ia, 4, 0), -RILL_EBUSY);

	e = rl_get_sqe(&q);
	e->opcode = RL_OP_IRQ_WAIT;
	e->handle = (rl_handle_t)irq;
	e->user_data = 1;
	e->arg[0] = 0;
	TEST_EQ(rl_submit(&q), 1);
	TEST_ASSERT(!rl_peek_cqe(&q));		/* nothing has fired yet */

	ier = inb(COM1 + 1);
	mcr = inb(COM1 + 4);
	outb(COM1 + 4, mcr | 0x08);		/* OUT2: route the interrupt */
	outb(COM1 + 1, 0x02);			/* transmitter-empty interrupt */
	TEST_EQ(wait_one(1, rl_clock_ns() + 10 * SEC, &res), 0);
	TEST_ASSERT(res >= 1);
	(void)inb(COM1 + 2);			/* IIR: acknowledge at the device */
	outb(COM1 + 1, ier);
	outb(COM1 + 4, mcr);
	TEST_EQ(rl_irq_ack(irq), 0);

	/* A wait for a count already reached completes at once. */
	e = rl_get_sqe(&q);
	e->opcode = RL_OP_IRQ_WAIT;
	e->handle = (rl_handle_t)irq;
	e->user_data = 2;
	e->arg[0] = 0;
	TEST_EQ(rl_submit(&q), 1);
	TEST_EQ(wait_one(2, rl_clock_ns() + SEC, &res), 0);
	TEST_ASSERT(res >= 1);

	/* Closing the object frees the line for another driver. */
	TEST_EQ(rl_handle_close(irq), 0);
	irq = rl_irq_open(ia, 4, 0);
	TEST_ASSERT(irq > 0);
	TEST_EQ(rl_handle_close(irq), 0);
	TEST_EQ(rl_handle_close(io), 0);
	TEST_EQ(rl_handle_close(q.handle), 0);
}

DEFINE_TEST(device_memory)
{
	rl_handle_t pa = rl_startup_handle_or0(RL_NAME_PHYS_AUTH);
	int64_t mo, a;
	volatile uint64_t *hpet;

	TEST_EQ(rl_memobj_physical(pa, 0x100000, 4096), -RILL_EPERM);	/* RAM */
	TEST_EQ(rl_memobj_physical(pa, 0xfed00010, 4096), -RILL_EINVAL);
	TEST_EQ(rl_memobj_physical(pa, 0xfed00000, 0), -RILL_EINVAL);
	TEST_EQ(rl_memobj_physical(pa, 0xfffffffffffff000ull, 0x2000), -RILL_EPERM);
	TEST_EQ(rl_memobj_physical(RL_SELF_PROCESS, 0xfed00000, 4096), -RILL_EBADFD);
	mo = rl_memobj_physical(pa, 0xfed00000, 4096);	/* the HPET */
	TEST_ASSERT(mo > 0);
	TEST_EQ(rl_memobj_cow(mo), -RILL_EPERM);	/* no DERIVE right on device memory */
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ);
	TEST_ASSERT(a > 0);
	hpet = (volatile uint64_t *)a;
	/* General capabilities: vendor 0x8086 in bits 16-31 under QEMU, and a
	 * nonzero tick period in bits 32-63. */
	TEST_EQ((hpet[0] >> 16) & 0xffff, 0x8086);
	TEST_ASSERT((hpet[0] >> 32) != 0);
	TEST_EQ(rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_EXEC), -RILL_EPERM);

	/* The kernel copies ordinary memory only: an IPC send from device
	 * memory is refused at submission, even now that the page is
	 * entered (this process has device memory, so its copies go
	 * through its page tables, which say what a page is). */
	{
		struct rl_queue iq;
		struct rl_chain c;
		rl_handle_t l[2];
		char res[32];

		TEST_EQ(rl_queue_init(&iq, 2, 4), 0);
		TEST_EQ(rl_stream(l), 0);
		rl_chain_init(&c);
		rl_chain_send(&c, (const void *)a, 8);
		TEST_EQ(rl_ipc_call(&iq, l[0], &c, res), -RILL_EFAULT);
		TEST_EQ(rl_handle_close(l[0]), 0);
		TEST_EQ(rl_handle_close(l[1]), 0);
		TEST_EQ(rl_handle_close(iq.handle), 0);
		TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)iq.hdr, iq.hdr->ring_size), 0);
	}
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 4096), 0);
	TEST_EQ(rl_handle_close(mo), 0);
}
