/*
 * In-OS tests of what a process may reach of the native ABI.
 *
 * A process created RL_PROCESS_FOREIGN (the home of an unmodified Linux
 * program) has no native system calls at all: every `syscall` of its
 * threads, whatever its number, stops the thread for its supervisor. And
 * the rights of a process's RL_SELF_PROCESS / RL_SELF_THREAD pseudo-handles
 * are its creator's choice, not every right.
 *
 * The child programs are a few instructions of position-independent code
 * (below, between labels), copied into a memory object mapped at CODE_VA
 * in the child; a data page at DATA_VA is shared with this process.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define CODE_VA		0x10000000ull
#define DATA_VA		0x10001000ull
#define STACK_VA	0x10010000ull
#define STACK_LEN	0x4000ull
#define WAIT_NS		(20ull * 1000000000ull)

/* Native system-call numbers there are (abi/syscalls.def): one past the
 * highest, since the table may have gaps. */
static const char native_numbers[] = {
#define SYSCALL(nr, name, ...) [nr] = 1,
#include <abi/syscalls.def>
#undef SYSCALL
};
#define NATIVE_CALLS ((uint64_t)sizeof(native_numbers))

/*
 * all_calls: rdi = the highest native call number + 1. Makes call n (with
 * rdi = 0, rsi = rdx = RL_RIGHTS_ALL, r10 = n: process_create would make
 * a process with them) for every n in turn, then Linux's getpid (39), then
 * ud2.
 */
extern const char all_calls[], all_calls_end[];
__asm__(".text\n"
	"all_calls:\n"
	"	movq %rdi, %r12\n"
	"	xorl %ebx, %ebx\n"
	"1:	leal 0x20000000(%rbx), %eax\n"
	"	xorl %edi, %edi\n"
	"	movl $0x7ff, %esi\n"
	"	movl $0x7ff, %edx\n"
	"	movq %rbx, %r10\n"
	"	syscall\n"
	"	incl %ebx\n"
	"	cmpq %r12, %rbx\n"
	"	jb 1b\n"
	"	movl $39, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"all_calls_end:\n");

/*
 * self_rights: rdi = the data page. Stores, at its offsets
 *   0: handle_info(RL_SELF_PROCESS, page + 64)   (rights at page + 68)
 *   8: handle_info(RL_SELF_THREAD, page + 96)    (rights at page + 100)
 *  16: thread_create(RL_SELF_PROCESS, CODE_VA, STACK_VA, 0, 0) (needs MANAGE)
 *  24: handle_dup(RL_SELF_THREAD, 0)                            (needs DUP)
 * then thread_exit(0).
 */
extern const char self_rights[], self_rights_end[];
__asm__(".text\n"
	"self_rights:\n"
	"	movq %rdi, %rbx\n"
	"	movl $0x7ffffffe, %edi\n"
	"	leaq 64(%rbx), %rsi\n"
	"	movl $0x20000006, %eax\n"
	"	syscall\n"
	"	movq %rax, 0(%rbx)\n"
	"	movl $0x7fffffff, %edi\n"
	"	leaq 96(%rbx), %rsi\n"
	"	movl $0x20000006, %eax\n"
	"	syscall\n"
	"	movq %rax, 8(%rbx)\n"
	"	movl $0x7ffffffe, %edi\n"
	"	movl $0x10000000, %esi\n"
	"	movl $0x10010000, %edx\n"
	"	xorl %r10d, %r10d\n"
	"	xorl %r8d, %r8d\n"
	"	movl $0x2000000d, %eax\n"
	"	syscall\n"
	"	movq %rax, 16(%rbx)\n"
	"	movl $0x7fffffff, %edi\n"
	"	xorl %esi, %esi\n"
	"	movl $0x20000005, %eax\n"
	"	syscall\n"
	"	movq %rax, 24(%rbx)\n"
	"	xorl %edi, %edi\n"
	"	movl $0x20000010, %eax\n"
	"	syscall\n"
	"	ud2\n"
	"self_rights_end:\n");

_Static_assert(RL_SYS_handle_info == 0x20000006 && RL_SYS_handle_dup == 0x20000005 &&
	       RL_SYS_thread_create == 0x2000000d && RL_SYS_thread_exit == 0x20000010,
	       "the child code's call numbers");

struct child {
	int64_t proc;
	volatile uint64_t *data;	/* the data page, as this process sees it */
};

/* A process (flags, self rights) with code at CODE_VA, the data page at
 * DATA_VA and a stack below STACK_VA + STACK_LEN. */
static void child_make(struct child *c, uint64_t flags, uint32_t prights, uint32_t trights,
		       const char *code, const char *code_end)
{
	int64_t mo, a;

	c->proc = rl_process_create(flags, prights, trights, 0);
	TEST_ASSERT(c->proc > 0);
	mo = rl_memobj_create(4096, 0);
	TEST_ASSERT(mo > 0);
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT(a > 0);
	memcpy((void *)a, code, (size_t)(code_end - code));
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)a, 4096), 0);
	TEST_EQ(rl_map((rl_handle_t)c->proc, (rl_handle_t)mo, 0, CODE_VA, 4096,
		       RL_PROT_READ | RL_PROT_EXEC | RL_MAP_FIXED), (int64_t)CODE_VA);
	TEST_EQ(rl_handle_close(mo), 0);

	mo = rl_memobj_create(4096, 0);
	TEST_ASSERT(mo > 0);
	a = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, 4096, RL_PROT_READ | RL_PROT_WRITE);
	TEST_ASSERT(a > 0);
	c->data = (volatile uint64_t *)a;
	TEST_EQ(rl_map((rl_handle_t)c->proc, (rl_handle_t)mo, 0, DATA_VA, 4096,
		       RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED), (int64_t)DATA_VA);
	TEST_EQ(rl_handle_close(mo), 0);

	mo = rl_memobj_create(STACK_LEN, 0);
	TEST_ASSERT(mo > 0);
	TEST_EQ(rl_map((rl_handle_t)c->proc, (rl_handle_t)mo, 0, STACK_VA, STACK_LEN,
		       RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED), (int64_t)STACK_VA);
	TEST_EQ(rl_handle_close(mo), 0);
}

static void child_free(struct child *c)
{
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)c->data, 4096), 0);
	TEST_EQ(rl_handle_close(c->proc), 0);
}

static int64_t op(struct rl_queue *q, uint16_t opcode, rl_handle_t h, uint64_t a0,
		  uint64_t a1, struct rl_cqe *out)
{
	struct rl_sqe e = { .opcode = opcode, .handle = h, .arg = { a0, a1 } };
	struct rl_cqe c;
	int64_t r;

	r = rl_call(q, &e, &c);
	if (r < 0)
		return r;
	if (out)
		*out = c;
	return c.result;
}

static void queue_free(struct rl_queue *q)
{
	TEST_EQ(rl_handle_close(q->handle), 0);
	TEST_EQ(rl_unmap(RL_SELF_PROCESS, (uint64_t)q->hdr, q->hdr->ring_size), 0);
}

/* Every native call of a foreign process, by number, reaches its
 * supervisor as a foreign call, with its arguments; none runs: the
 * kernel makes no process, thread, queue, memory object or handle for
 * it. */
DEFINE_TEST(foreign_process_has_no_native_calls)
{
	struct rl_kcounters k0, k1;
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;
	struct child ch;
	int64_t th;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	child_make(&ch, RL_PROCESS_FOREIGN, RL_RIGHTS_ALL, RL_RIGHTS_ALL, all_calls,
		   all_calls_end);
	/* Its threads all have a supervisor. */
	TEST_EQ(rl_thread_create(ch.proc, CODE_VA, STACK_VA + STACK_LEN, 0, 0),
		-RILL_EINVAL);
	th = rl_thread_create(ch.proc, CODE_VA, STACK_VA + STACK_LEN, NATIVE_CALLS,
			      RL_THREAD_SUPERVISED);
	TEST_ASSERT(th > 0);
	rl_test_counters_read(&k0);
	TEST_EQ(rl_thread_start(th), 0);
	for (uint64_t n = 0; n < NATIVE_CALLS; n++) {
		TEST_EQ(op(&q, RL_OP_OBSERVE, (rl_handle_t)th, (uint64_t)&regs, 0, &c),
			RL_OBS_SYSCALL);
		TEST_EQ(c.aux[0], RL_SYSCALL_BASE + n);
		TEST_EQ(regs.r10, n);
		TEST_EQ(regs.rdi, 0);
		TEST_EQ(regs.rsi, RL_RIGHTS_ALL);
		TEST_EQ(op(&q, RL_OP_RESUME, (rl_handle_t)th, RL_RESUME_SET_RAX,
			   (uint64_t)-RILL_ENOSYS, NULL), 0);
	}
	TEST_EQ(op(&q, RL_OP_OBSERVE, (rl_handle_t)th, 0, 0, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(op(&q, RL_OP_RESUME, (rl_handle_t)th, 0, 0, NULL), 0);
	TEST_EQ(op(&q, RL_OP_OBSERVE, (rl_handle_t)th, 0, 0, &c), RL_OBS_FAULT);
	TEST_EQ(c.aux[1] >> 32, 6);	/* #UD: the end of its code */
	/* Still stopped, after every call: nothing was made for it. */
	rl_test_counters_read(&k1);
	TEST_EQ(k1.processes, k0.processes);
	TEST_EQ(k1.threads, k0.threads);
	TEST_EQ(k1.queues, k0.queues);
	TEST_EQ(k1.memobjs, k0.memobjs);
	TEST_EQ(k1.handles, k0.handles);
	TEST_EQ(k1.streams, k0.streams);
	TEST_EQ(op(&q, RL_OP_RESUME, (rl_handle_t)th, RL_RESUME_KILL, 0, NULL), 0);
	TEST_EQ(op(&q, RL_OP_OBSERVE, (rl_handle_t)th, 0, 0, &c), RL_OBS_EXIT);
	TEST_EQ(op(&q, RL_OP_PROCESS_WAIT, (rl_handle_t)ch.proc, 0, 0, NULL), -RILL_EINTR);
	TEST_EQ(rl_handle_close(th), 0);
	child_free(&ch);
	queue_free(&q);
}

/* The self pseudo-handles carry what the creator gave: with every right
 * the child can make threads and duplicate its own handle; with only
 * WAIT (process) and OBSERVE (thread) it cannot. */
static void run_self_rights(uint32_t prights, uint32_t trights, volatile uint64_t *out)
{
	struct rl_queue q;
	struct child ch;
	int64_t th;

	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	child_make(&ch, 0, prights, trights, self_rights, self_rights_end);
	th = rl_thread_create(ch.proc, CODE_VA, STACK_VA + STACK_LEN, DATA_VA, 0);
	TEST_ASSERT(th > 0);
	TEST_EQ(rl_thread_start(th), 0);
	TEST_EQ(op(&q, RL_OP_PROCESS_WAIT, (rl_handle_t)ch.proc, 0, 0, NULL), 0);
	for (int i = 0; i < 32; i++)
		out[i] = ch.data[i];
	TEST_EQ(rl_handle_close(th), 0);
	child_free(&ch);
	queue_free(&q);
}

DEFINE_TEST(self_rights_set_by_creator)
{
	static uint64_t d[32];
	struct rl_kcounters k0;

	rl_test_counters_settle(&k0);
	run_self_rights(RL_RIGHTS_ALL, RL_RIGHTS_ALL, d);
	TEST_EQ(d[0], 0);
	TEST_EQ(d[8] >> 32, RL_RIGHTS_ALL);	/* struct rl_handle_info.rights */
	TEST_EQ(d[1], 0);
	TEST_EQ(d[12] >> 32, RL_RIGHTS_ALL);
	TEST_ASSERT((int64_t)d[2] > 0);		/* a thread, never started */
	TEST_ASSERT((int64_t)d[3] > 0);

	run_self_rights(RL_RIGHT_WAIT, RL_RIGHT_OBSERVE, d);
	TEST_EQ(d[0], 0);
	TEST_EQ(d[8] >> 32, RL_RIGHT_WAIT);
	TEST_EQ(d[1], 0);
	TEST_EQ(d[12] >> 32, RL_RIGHT_OBSERVE);
	TEST_EQ(d[2], -RILL_EPERM);
	TEST_EQ(d[3], -RILL_EPERM);
	rl_test_counters_expect_back(&k0);
}

/* rl_spawn_image passes the choice on: the startup block's own handles
 * carry the same rights as the pseudo-handles. */
DEFINE_TEST(spawn_foreign_is_supervised)
{
	const struct rl_spawn_opts opts = { .foreign = true };
	struct rl_queue q;
	struct rl_cqe c;
	rl_handle_t th;
	size_t len;
	const void *elf = rl_initrd_file("bin/ipc-test-peer", &len);
	const char *argv[] = { "ipc-test-peer" };
	int64_t ph;

	if (!elf) {
		TEST_ASSERT(rl_startup_handle(RL_NAME_INITRD) > 0);	/* init gives tests the initrd */
		rl_test_fail(__FILE__, __LINE__, "bin/ipc-test-peer missing from the initrd");
	}
	TEST_EQ(rl_queue_init(&q, 4, 8), 0);
	ph = rl_spawn_image(elf, len, 1, argv, &opts, &th);
	TEST_ASSERT(ph > 0);
	/* Its very first system call, whatever it is, comes to us. */
	TEST_EQ(op(&q, RL_OP_OBSERVE, th, 0, 0, &c), RL_OBS_SYSCALL);
	TEST_ASSERT(c.aux[0] >= RL_SYSCALL_BASE && c.aux[0] < RL_SYSCALL_BASE + NATIVE_CALLS);
	TEST_EQ(rl_process_kill(ph, 9), 0);
	TEST_EQ(op(&q, RL_OP_PROCESS_WAIT, (rl_handle_t)ph, 0, 0, NULL), 9);
	TEST_EQ(rl_handle_close(th), 0);
	TEST_EQ(rl_handle_close(ph), 0);
	queue_free(&q);
}

/*
 * process_dispatch: the in-process path for a foreign system call.
 *
 * dispatch_child (rdi = the data page): getpid (39), whose answer the stub
 * takes from the data page's word 1, stored at word 0; then call 1000 with
 * rdi = 5, rsi = 7, answered rdi + rsi by the stub, stored at word 2; then
 * exit (60), which the stub sends on with a syscall of its own from inside
 * its range: the supervisor sees it. dispatch_stub .. dispatch_stub_end is
 * the range, dispatch_stub the entry.
 */
extern const char dispatch_child[], dispatch_stub[], dispatch_stub_end[];
__asm__(".text\n"
	"dispatch_child:\n"
	"	movq %rdi, %r12\n"
	"	movl $39, %eax\n"
	"	syscall\n"
	"	movq %rax, 0(%r12)\n"
	"	movl $1000, %eax\n"
	"	movl $5, %edi\n"
	"	movl $7, %esi\n"
	"	syscall\n"
	"	movq %rax, 16(%r12)\n"
	"	movl $60, %eax\n"
	"	xorl %edi, %edi\n"
	"	syscall\n"
	"	ud2\n"
	"dispatch_stub:\n"
	"	cmpq $39, %rax\n"
	"	jne 1f\n"
	"	movabsq $0x10001008, %rax\n"	/* DATA_VA + 8 */
	"	movq (%rax), %rax\n"
	"	jmpq *%rcx\n"
	"1:	cmpq $1000, %rax\n"
	"	jne 2f\n"
	"	leaq (%rdi,%rsi), %rax\n"
	"	jmpq *%rcx\n"
	"2:	leaq -128(%rsp), %rsp\n"
	"	pushq %rcx\n"
	"	pushq %r11\n"
	"	syscall\n"
	"	popq %r11\n"
	"	popq %rcx\n"
	"	leaq 128(%rsp), %rsp\n"
	"	jmpq *%rcx\n"
	"dispatch_stub_end:\n");

DEFINE_TEST(dispatch_in_process)
{
	uint64_t stub = CODE_VA + (uint64_t)(dispatch_stub - dispatch_child);
	uint64_t len = (uint64_t)(dispatch_stub_end - dispatch_stub);
	struct rl_queue q;
	struct rl_regs regs;
	struct rl_cqe c;
	struct child ch;
	int64_t th, weak;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	child_make(&ch, RL_PROCESS_FOREIGN, RL_RIGHTS_ALL, RL_RIGHTS_ALL, dispatch_child,
		   dispatch_stub_end);
	/* Bad calls: handles, rights, ranges. */
	TEST_EQ(rl_process_dispatch(0x5555, stub, stub, len), -RILL_EBADF);
	TEST_EQ(rl_raw_process_dispatch(1ull << 40, stub, stub, len), -RILL_EBADF);
	TEST_EQ(rl_process_dispatch(RL_SELF_THREAD, stub, stub, len), -RILL_EBADFD);
	weak = rl_handle_dup(ch.proc, RL_RIGHT_DUP);
	TEST_ASSERT(weak > 0);
	TEST_EQ(rl_process_dispatch(weak, stub, stub, len), -RILL_EPERM);
	TEST_EQ(rl_handle_close(weak), 0);
	TEST_EQ(rl_process_dispatch(ch.proc, stub + len, stub, len), -RILL_EINVAL);
	TEST_EQ(rl_process_dispatch(ch.proc, stub - 1, stub, len), -RILL_EINVAL);
	TEST_EQ(rl_process_dispatch(ch.proc, stub, stub, 0), -RILL_EINVAL);
	TEST_EQ(rl_process_dispatch(ch.proc, stub, stub, 2ull << 30), -RILL_EINVAL);
	TEST_EQ(rl_process_dispatch(ch.proc, 0xffff800000000000ull,
				    0xffff800000000000ull, 4096), -RILL_EINVAL);
	TEST_EQ(rl_process_dispatch(ch.proc, 0x7ffffffff000ull, 0x7ffffffff000ull,
				    0x2000), -RILL_EINVAL);
	TEST_EQ(rl_process_dispatch(ch.proc, 0, stub, 0), -RILL_EINVAL);
	TEST_EQ(rl_process_dispatch(ch.proc, 0, 0, 0), 0);	/* off: fine */

	TEST_EQ(rl_process_dispatch(ch.proc, stub, stub, len), 0);
	ch.data[1] = 777;
	th = rl_thread_create(ch.proc, CODE_VA, STACK_VA + STACK_LEN, DATA_VA,
			      RL_THREAD_SUPERVISED);
	TEST_ASSERT(th > 0);
	TEST_EQ(rl_thread_start(th), 0);
	/* getpid and call 1000 never stop the thread; exit does, from the
	 * stub's own syscall, with the stub's registers. */
	TEST_EQ(op(&q, RL_OP_OBSERVE, (rl_handle_t)th, (uint64_t)&regs, 0, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 60);
	TEST_EQ(regs.rax, 60);
	TEST_ASSERT(regs.rip > stub && regs.rip <= stub + len);
	TEST_EQ(ch.data[0], 777);
	TEST_EQ(ch.data[2], 12);
	TEST_EQ(rl_process_kill(ch.proc, 9), 0);
	TEST_EQ(op(&q, RL_OP_PROCESS_WAIT, (rl_handle_t)ch.proc, 0, 0, NULL), 9);
	TEST_EQ(rl_handle_close(th), 0);
	child_free(&ch);
	queue_free(&q);
}

/* Without dispatch a foreign process's getpid stops it as before; turned
 * off again, the same. */
DEFINE_TEST(dispatch_off_stops_as_before)
{
	uint64_t stub = CODE_VA + (uint64_t)(dispatch_stub - dispatch_child);
	uint64_t len = (uint64_t)(dispatch_stub_end - dispatch_stub);
	struct rl_queue q;
	struct rl_cqe c;
	struct child ch;
	int64_t th;

	TEST_EQ(rl_queue_init(&q, 8, 16), 0);
	child_make(&ch, RL_PROCESS_FOREIGN, RL_RIGHTS_ALL, RL_RIGHTS_ALL, dispatch_child,
		   dispatch_stub_end);
	TEST_EQ(rl_process_dispatch(ch.proc, stub, stub, len), 0);
	TEST_EQ(rl_process_dispatch(ch.proc, 0, 0, 0), 0);
	th = rl_thread_create(ch.proc, CODE_VA, STACK_VA + STACK_LEN, DATA_VA,
			      RL_THREAD_SUPERVISED);
	TEST_ASSERT(th > 0);
	TEST_EQ(rl_thread_start(th), 0);
	TEST_EQ(op(&q, RL_OP_OBSERVE, (rl_handle_t)th, 0, 0, &c), RL_OBS_SYSCALL);
	TEST_EQ(c.aux[0], 39);
	TEST_EQ(rl_process_kill(ch.proc, 9), 0);
	TEST_EQ(op(&q, RL_OP_PROCESS_WAIT, (rl_handle_t)ch.proc, 0, 0, NULL), 9);
	TEST_EQ(rl_handle_close(th), 0);
	child_free(&ch);
	queue_free(&q);
}
