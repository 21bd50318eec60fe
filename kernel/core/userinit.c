/*
 * userinit.c - starting user space: the kernel loads the native program
 * "init" (ELF64, static) from the initrd the boot loader passed, and gives
 * it handles to the initrd's contents and to the resources drivers need
 * (IRQs, I/O ports, physical memory). Everything after that is init's job.
 *
 * Init's first thread starts with rdi pointing at a struct rl_startup near
 * the top of its stack; the kernel command line is copied above it. The
 * initrd and the authorities come in the block's named handles
 * (RL_NAME_INITRD, RL_NAME_*_AUTH), as any parent hands handles on.
 */
#include <kernel/budget.h>
#include <kernel/boot.h>
#include <kernel/cmdline.h>
#include <kernel/errno.h>
#include <kernel/log.h>
#include <kernel/memlayout.h>
#include <kernel/process.h>
#include <kernel/userinit.h>
#include <rill/cpio.h>
#include <rill/elf.h>
#include <rill/string.h>

#define STACK_TOP	0x00007fffffe00000ull
#define STACK_SIZE	(256 * 1024ull)

extern struct kobj irq_authority, ioport_authority, phys_authority, clock_authority;
extern struct kobj log_authority;

/* Copy len bytes into a populated anonymous object at off. */
static void memobj_write(struct memobj *mo, uint64_t off, const void *src, size_t len)
{
	const char *s = src;

	while (len) {
		size_t n = MIN(len, PAGE_SIZE - (off & (PAGE_SIZE - 1)));

		memcpy(memobj_kaddr(mo, off), s, n);
		off += n;
		s += n;
		len -= n;
	}
}

int load_elf(struct process *p, const void *img, size_t len, uint64_t *entry)
{
	struct elf_image ei;
	int r = elf_parse(img, len, RL_USER_TOP, &ei);

	if (r < 0)
		return r;
	if (ei.type != ELF_ET_EXEC || ei.has_interp)
		return -ENOEXEC;	/* static, fixed-address programs only */
	for (unsigned i = 0; i < ei.nseg; i++) {
		const struct elf_segment *s = &ei.seg[i];
		uint64_t start = ALIGN_DOWN(s->vaddr, (uint64_t)PAGE_SIZE);
		uint64_t end = ALIGN_UP(s->vaddr + s->memsz, (uint64_t)PAGE_SIZE);
		unsigned prot = (s->flags & ELF_PF_R ? RL_PROT_READ : 0) |
				(s->flags & ELF_PF_W ? RL_PROT_WRITE : 0) |
				(s->flags & ELF_PF_X ? RL_PROT_EXEC : 0);
		struct memobj *mo;
		int64_t a;

		if (start < RL_USER_BOTTOM)
			return -ENOEXEC;
		r = memobj_create_anon(end - start, NULL, &mo);
		if (r)
			return r;
		r = memobj_populate(mo);
		if (!r) {
			memobj_write(mo, s->vaddr - start, (const char *)img + s->offset, s->filesz);
			a = vm_map(&p->as, mo, 0, start, end - start, prot, 7, RL_MAP_FIXED);
			if (a < 0)
				r = a == -EEXIST ? -ENOEXEC : (int)a;
		}
		kobj_put(&mo->obj);
		if (r)
			return r;
	}
	*entry = ei.entry;
	return 0;
}

static int give(struct process *p, struct kobj *o, uint32_t rights)
{
	return handle_install(&p->handles, o, rights);
}

/* Give o to init under name (shorter than RL_HANDLE_NAME_MAX, in st's
 * zeroed table): 0 or a negative error. */
static int give_named(struct process *p, struct rl_startup *st, const char *name,
		      struct kobj *o, uint32_t rights)
{
	struct rl_named_handle *e = &st->handles[st->nhandles];
	int h = give(p, o, rights);

	if (h < 0)
		return h;
	memcpy(e->name, name, strlen(name));
	e->handle = (rl_handle_t)h;
	e->rights = rights;
	st->nhandles++;
	return 0;
}

static int start_init(const char *path)
{
	const struct boot_module *m = &boot_info.mods[0];
	const void *initrd = phys_to_virt(m->start);
	size_t initrd_len = m->end - m->start;
	struct cpio_entry e;
	struct process *p;
	struct uthread *u;
	struct memobj *stack, *rd;
	/* 2 KiB: static rather than on this stack; init starts once. */
	static struct rl_startup st;
	const char *cl = cmdline_get();
	size_t cl_len = strlen(cl) + 1, path_len = strlen(path) + 1;
	uint64_t entry, sp, cl_va, path_va, argv_va, argv[2];
	int r;

	r = cpio_find(initrd, initrd_len, path, &e);
	if (r < 0) {
		pr_err("init: %s not found in the initrd (%d)", path, r);
		return r;
	}
	p = process_create("init", &budget_root);
	if (!p)
		return -ENOMEM;
	r = load_elf(p, e.data, e.size, &entry);
	if (r) {
		pr_err("init: %s is not a loadable static ELF64 program (%d)", path, r);
		goto fail;
	}

	/* The initrd, copied into a memory object init may read and share. */
	r = memobj_create_anon(initrd_len ? initrd_len : 1, NULL, &rd);
	if (r)
		goto fail;
	r = memobj_populate(rd);
	if (!r)
		memobj_write(rd, 0, initrd, initrd_len);
	if (!r)
		r = give_named(p, &st, RL_NAME_INITRD, &rd->obj, RL_RIGHT_READ | RL_RIGHT_DUP |
			       RL_RIGHT_TRANSFER | RL_RIGHT_DERIVE);
	kobj_put(&rd->obj);
	if (!r)
		r = give_named(p, &st, RL_NAME_IRQ_AUTH, &irq_authority, RL_RIGHTS_ALL);
	if (!r)
		r = give_named(p, &st, RL_NAME_IOPORT_AUTH, &ioport_authority, RL_RIGHTS_ALL);
	if (!r)
		r = give_named(p, &st, RL_NAME_PHYS_AUTH, &phys_authority, RL_RIGHTS_ALL);
	if (!r)
		r = give_named(p, &st, RL_NAME_CLOCK_AUTH, &clock_authority, RL_RIGHTS_ALL);
	if (!r)
		r = give_named(p, &st, RL_NAME_LOG_AUTH, &log_authority, RL_RIGHTS_ALL);
	if (r)
		goto fail;

	r = memobj_create_anon(STACK_SIZE, NULL, &stack);
	if (r)
		goto fail;
	{
		int64_t a = vm_map(&p->as, stack, 0, STACK_TOP - STACK_SIZE, STACK_SIZE,
				   RL_PROT_READ | RL_PROT_WRITE, 7, RL_MAP_FIXED);

		kobj_put(&stack->obj);
		if (a < 0) {
			r = (int)a;
			goto fail;
		}
	}

	r = uthread_create(p, entry, 0, 0, false, &u);
	if (r)
		goto fail;
	st.self_thread = give(p, &u->obj, RL_RIGHTS_ALL);
	st.self_process = give(p, &p->obj, RL_RIGHTS_ALL);

	/* Stack, from the top: command line, path, argv[2], startup block. */
	sp = STACK_TOP;
	cl_va = sp -= cl_len;
	path_va = sp -= path_len;
	sp = ALIGN_DOWN(sp, 16ull);
	argv_va = sp -= sizeof(argv);
	argv[0] = path_va;
	argv[1] = 0;
	sp -= sizeof(st);
	sp = ALIGN_DOWN(sp, 16ull);
	st.magic = RL_STARTUP_MAGIC;
	st.version = RL_STARTUP_VERSION;
	st.clock_page = p->clock_va;
	st.argc = 1;
	st.argv = argv_va;
	st.cmdline = cl_va;
	if (vm_rw(&p->as, cl_va, (void *)cl, cl_len, true) ||
	    vm_rw(&p->as, path_va, (void *)path, path_len, true) ||
	    vm_rw(&p->as, argv_va, argv, sizeof(argv), true) ||
	    vm_rw(&p->as, sp, &st, sizeof(st), true)) {
		r = -EFAULT;
		kobj_put(&u->obj);
		goto fail;
	}
	u->stack = sp - 8;		/* as if called: rsp + 8 is 16-aligned */
	u->arg = sp;
	r = uthread_start(u);
	kobj_put(&u->obj);
	if (r)
		goto fail;
	kobj_put(&p->obj);
	pr_info("init: started %s (entry %lx)", path, entry);
	return 0;
fail:
	pr_err("init: cannot start %s (%d)", path, r);
	process_kill(p, r);
	kobj_put(&p->obj);
	return r;
}

void userinit(void)
{
	char path[64] = "bin/init";

	cmdline_get_value("init", path, sizeof(path));
	if (boot_info.nmods == 0) {
		pr_warn("init: no initrd was loaded; no user space");
		return;
	}
	start_init(path);
}
