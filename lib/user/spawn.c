/*
 * spawn.c - starting a native program (static ELF64) as a new process,
 * entirely from user space: the parent builds the child's memory objects,
 * maps them into the child, hands it its own handles and starts its first
 * thread.
 */
#include <rill/cpio.h>
#include <rill/elf.h>
#include <rill/rl.h>
#include <rill/string.h>

#define CHILD_STACK_TOP		0x00007fffffe00000ull
#define CHILD_STACK_SIZE	(256 * 1024ull)

/* Map a fresh object of len bytes into the child at addr with prot,
 * filling it from data (n bytes at offset 'at'). */
static int64_t load_region(rl_handle_t child, uint64_t addr, uint64_t len, unsigned prot,
			   const void *data, size_t n, uint64_t at)
{
	int64_t mo = rl_memobj_create(len, 0), r;
	char *p;

	if (mo < 0)
		return mo;
	r = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, len, RL_PROT_READ | RL_PROT_WRITE);
	if (r >= 0) {
		p = (char *)r;
		memcpy(p + at, data, n);
		rl_unmap(RL_SELF_PROCESS, (uint64_t)p, len);
		r = rl_map(child, (rl_handle_t)mo, 0, addr, len, prot | RL_MAP_FIXED);
	}
	rl_handle_close(mo);
	return r < 0 ? r : 0;
}

/* Give h to the child with every right it has here; 0 when it cannot. */
static rl_handle_t give(int64_t child, rl_handle_t h)
{
	struct rl_handle_info hi;
	int64_t r;

	if (!h || rl_handle_info(h, &hi) < 0)
		return 0;
	r = rl_process_give(child, h, hi.rights);
	return r < 0 ? 0 : (rl_handle_t)r;
}

int64_t rl_spawn_image(const void *elf, size_t len, int argc, const char *const *argv,
		       const struct rl_spawn_opts *opts, rl_handle_t *thread_out)
{
	static const struct rl_spawn_opts none;
	bool supervised;
	uint32_t prights, trights;
	struct elf_image ei;
	struct rl_startup st;
	int64_t ph, th, r;
	char *top;
	uint64_t sp, strs[32];
	size_t total = 0;
	char *stack;
	int64_t mo;

	if (!opts)
		opts = &none;
	supervised = opts->supervised || opts->foreign;
	prights = opts->restrict_self ? opts->self_process_rights : RL_RIGHTS_ALL;
	trights = opts->restrict_self ? opts->self_thread_rights : RL_RIGHTS_ALL;
	r = elf_parse(elf, len, RL_USER_TOP, &ei);
	if (r < 0)
		return r;
	if (ei.type != ELF_ET_EXEC || ei.has_interp || argc < 0 || argc > 31)
		return -RILL_ENOEXEC;
	ph = rl_process_create(opts->foreign ? RL_PROCESS_FOREIGN : 0, prights, trights,
			       opts->budget);
	if (ph < 0)
		return ph;
	for (unsigned i = 0; i < ei.nseg; i++) {
		const struct elf_segment *s = &ei.seg[i];
		uint64_t start = s->vaddr & ~4095ull;
		uint64_t end = (s->vaddr + s->memsz + 4095) & ~4095ull;
		unsigned prot = (s->flags & ELF_PF_R ? RL_PROT_READ : 0) |
				(s->flags & ELF_PF_W ? RL_PROT_WRITE : 0) |
				(s->flags & ELF_PF_X ? RL_PROT_EXEC : 0);

		r = load_region((rl_handle_t)ph, start, end - start, prot,
				(const char *)elf + s->offset, s->filesz, s->vaddr - start);
		if (r < 0)
			goto fail;
	}

	/* The stack: a memory object filled here (arguments and the startup
	 * block at its top), then mapped into the child. */
	mo = rl_memobj_create(CHILD_STACK_SIZE, 0);
	if (mo < 0) {
		r = mo;
		goto fail;
	}
	r = rl_map(RL_SELF_PROCESS, (rl_handle_t)mo, 0, 0, CHILD_STACK_SIZE,
		   RL_PROT_READ | RL_PROT_WRITE);
	if (r < 0)
		goto fail_mo;
	stack = (char *)r;
	top = stack + CHILD_STACK_SIZE;
	for (int i = argc - 1; i >= 0; i--) {
		size_t n = strlen(argv[i]) + 1;

		total += n;
		if (total > 16384) {
			r = -RILL_E2BIG;
			goto fail_stack;
		}
		top -= n;
		memcpy(top, argv[i], n);
		strs[i] = CHILD_STACK_TOP - (uint64_t)(stack + CHILD_STACK_SIZE - top);
	}
	strs[argc] = 0;
	top = (char *)((uint64_t)top & ~15ull);
	top -= (argc + 1) * sizeof(uint64_t);
	memcpy(top, strs, (argc + 1) * sizeof(uint64_t));
	memset(&st, 0, sizeof(st));
	st.magic = RL_STARTUP_MAGIC;
	st.version = 1;
	st.argc = (uint64_t)argc;
	st.argv = CHILD_STACK_TOP - (uint64_t)(stack + CHILD_STACK_SIZE - top);
	st.clock_page = rl_startup_info->clock_page;
	top -= sizeof(st);
	top = (char *)((uint64_t)top & ~15ull);
	sp = CHILD_STACK_TOP - (uint64_t)(stack + CHILD_STACK_SIZE - top);

	th = rl_thread_create(ph, ei.entry, sp - 8, sp,
			      supervised ? RL_THREAD_SUPERVISED : 0);
	if (th < 0) {
		r = th;
		goto fail_stack;
	}
	st.self_process = (rl_handle_t)rl_process_give(ph, ph, prights);
	st.self_thread = (rl_handle_t)rl_process_give(ph, th, trights);
	st.irq_authority = give(ph, opts->irq_authority);
	st.ioport_authority = give(ph, opts->ioport_authority);
	st.phys_authority = give(ph, opts->phys_authority);
	st.clock_authority = give(ph, opts->clock_authority);
	st.log_authority = give(ph, opts->log_authority);
	for (unsigned i = 0; i < 4; i++)
		st.handles[i] = give(ph, opts->handles[i]);
	if (opts->initrd) {
		int64_t h = rl_process_give(ph, opts->initrd,
					    RL_RIGHT_READ | RL_RIGHT_DUP | RL_RIGHT_TRANSFER);

		st.initrd = h > 0 ? (rl_handle_t)h : 0;
		st.initrd_size = h > 0 ? rl_startup_info->initrd_size : 0;
	}
	memcpy(top, &st, sizeof(st));
	rl_unmap(RL_SELF_PROCESS, (uint64_t)stack, CHILD_STACK_SIZE);
	r = rl_map((rl_handle_t)ph, (rl_handle_t)mo, 0, CHILD_STACK_TOP - CHILD_STACK_SIZE,
		   CHILD_STACK_SIZE, RL_PROT_READ | RL_PROT_WRITE | RL_MAP_FIXED);
	rl_handle_close(mo);
	if (r < 0 || (r = rl_thread_start(th)) < 0) {
		rl_handle_close(th);
		goto fail;
	}
	if (thread_out)
		*thread_out = (rl_handle_t)th;
	else
		rl_handle_close(th);
	return ph;
fail_stack:
	rl_unmap(RL_SELF_PROCESS, (uint64_t)stack, CHILD_STACK_SIZE);
fail_mo:
	rl_handle_close(mo);
fail:
	rl_process_kill(ph, r);
	rl_handle_close(ph);
	return r;
}

static const char *initrd_base;
static rl_mutex_t initrd_lock = RL_MUTEX_INIT;

const void *rl_initrd_file(const char *path, size_t *len)
{
	const struct rl_startup *st = rl_startup_info;
	struct cpio_entry e;

	rl_mutex_lock(&initrd_lock);
	if (!initrd_base && st->initrd > 0 && st->initrd_size) {
		int64_t a = rl_map(RL_SELF_PROCESS, st->initrd, 0, 0,
				   (st->initrd_size + 4095) & ~4095ull, RL_PROT_READ);

		if (a >= 0)
			initrd_base = (const char *)a;
	}
	rl_mutex_unlock(&initrd_lock);
	if (!initrd_base || cpio_find(initrd_base, st->initrd_size, path, &e))
		return NULL;
	*len = e.size;
	return e.data;
}

int64_t rl_spawn_file(const char *path, int argc, const char *const *argv,
		      const struct rl_spawn_opts *opts, rl_handle_t *thread_out)
{
	size_t len;
	const void *elf = rl_initrd_file(path, &len);

	if (!elf)
		return -RILL_ENOENT;
	return rl_spawn_image(elf, len, argc, argv, opts, thread_out);
}
