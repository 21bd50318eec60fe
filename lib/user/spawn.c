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

/* The caller's table of handles to give, checked before anything is
 * created (rl.h lists the errors). */
static int64_t check_handles(const struct rl_spawn_opts *opts)
{
	const struct rl_spawn_handle *hs = opts->handles;
	struct rl_handle_info hi;

	if (opts->nhandles > RL_STARTUP_HANDLES)
		return -RILL_E2BIG;
	if (opts->nhandles && !hs)
		return -RILL_EINVAL;
	for (uint32_t i = 0; i < opts->nhandles; i++) {
		if (!hs[i].name)
			return -RILL_EINVAL;
		if (strnlen(hs[i].name, RL_HANDLE_NAME_MAX + 1) > RL_HANDLE_NAME_MAX)
			return -RILL_E2BIG;
		if (!rl_handle_name_valid(hs[i].name, RL_HANDLE_NAME_MAX + 1))
			return -RILL_EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(hs[j].name, hs[i].name))
				return -RILL_EEXIST;
		if (hs[i].handle <= 0 || rl_handle_info(hs[i].handle, &hi) < 0)
			return -RILL_EBADF;
		if (!(hi.rights & RL_RIGHT_TRANSFER) || (hs[i].rights & ~hi.rights))
			return -RILL_EPERM;
	}
	return 0;
}

/* Give the checked table to the child, into st's zeroed handles[]. */
static int64_t give_handles(int64_t child, const struct rl_spawn_opts *opts,
			    struct rl_startup *st)
{
	struct rl_handle_info hi;

	for (uint32_t i = 0; i < opts->nhandles; i++) {
		const struct rl_spawn_handle *h = &opts->handles[i];
		struct rl_named_handle *e = &st->handles[i];
		uint32_t rights = h->rights;
		int64_t r;

		if (!rights) {
			r = rl_handle_info(h->handle, &hi);
			if (r < 0)
				return r;
			rights = hi.rights;
		}
		r = rl_process_give(child, h->handle, rights);
		if (r < 0)
			return r;
		memcpy(e->name, h->name, strlen(h->name));
		e->handle = (rl_handle_t)r;
		e->rights = rights;
	}
	st->nhandles = opts->nhandles;
	return 0;
}

int64_t rl_spawn_image(const void *elf, size_t len, int argc, const char *const *argv,
		       const struct rl_spawn_opts *opts, rl_handle_t *thread_out)
{
	static const struct rl_spawn_opts none;
	bool supervised;
	uint32_t prights, trights;
	struct elf_image ei;
	/* Built in place, in the child's stack (2 KiB: not on ours). */
	struct rl_startup *st;
	int64_t ph, th, r;
	char *top;
	uint64_t sp, argv_va, strs[32];
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
	r = check_handles(opts);
	if (r < 0)
		return r;
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
	argv_va = CHILD_STACK_TOP - (uint64_t)(stack + CHILD_STACK_SIZE - top);
	top -= sizeof(*st);
	top = (char *)((uint64_t)top & ~15ull);
	st = (struct rl_startup *)top;	/* the object is fresh: all zero */
	st->magic = RL_STARTUP_MAGIC;
	st->version = RL_STARTUP_VERSION;
	st->argc = (uint64_t)argc;
	st->argv = argv_va;
	st->clock_page = rl_startup_info->clock_page;
	sp = CHILD_STACK_TOP - (uint64_t)(stack + CHILD_STACK_SIZE - top);

	th = rl_thread_create(ph, ei.entry, sp - 8, sp,
			      supervised ? RL_THREAD_SUPERVISED : 0);
	if (th < 0) {
		r = th;
		goto fail_stack;
	}
	st->self_process = (rl_handle_t)rl_process_give(ph, ph, prights);
	st->self_thread = (rl_handle_t)rl_process_give(ph, th, trights);
	r = give_handles(ph, opts, st);
	if (r < 0) {
		rl_handle_close(th);
		goto fail_stack;
	}
	if (opts->edit_startup)
		opts->edit_startup(st, opts->edit_arg);
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

/* Set once, under initrd_lock; never changed after. */
static const char *initrd_base;
static uint64_t initrd_size;
static rl_mutex_t initrd_lock = RL_MUTEX_INIT;

const void *rl_initrd_file(const char *path, size_t *len)
{
	int64_t rd = rl_startup_handle(RL_NAME_INITRD);
	struct rl_handle_info hi;
	struct cpio_entry e;

	rl_mutex_lock(&initrd_lock);
	if (!initrd_base && rd > 0 && rl_handle_info((rl_handle_t)rd, &hi) == 0 && hi.size) {
		int64_t a = rl_map(RL_SELF_PROCESS, (rl_handle_t)rd, 0, 0, hi.size, RL_PROT_READ);

		if (a >= 0) {
			initrd_base = (const char *)a;
			initrd_size = hi.size;
		}
	}
	rl_mutex_unlock(&initrd_lock);
	/* The object is the archive rounded up to pages; its trailer ends it. */
	if (!initrd_base || cpio_find(initrd_base, initrd_size, path, &e))
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
