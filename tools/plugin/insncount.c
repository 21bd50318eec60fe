/*
 * insncount.c - a QEMU TCG plugin counting the guest instructions executed
 * between marker instructions that the guest itself executes.
 *
 * Written against the QEMU 7.2 plugin API (QEMU_PLUGIN_VERSION 1); built by
 * tools/plugin/build.sh into build/plugin/libinsncount.so.
 *
 *   qemu-system-x86_64 ... -icount shift=0,sleep=off \
 *       -plugin build/plugin/libinsncount.so,outfile=insns.txt[,mode=insn|tb][,inline=on|off]
 *
 * Markers
 * -------
 * A marker is the 7-byte instruction `nopl disp32(%rax)` (in 32-bit code
 * `nopl disp32(%eax)`: the same bytes), 0f 1f 80 <disp32, little-endian>,
 * whose displacement is 0x52494c00 + n ("RIL\0" + n):
 *
 *   0x52494c01  start a region
 *   0x52494c02  stop the region: writes `INSNS region=<k> count=<n>`
 *   0x52494c03  reset: the open region, if any, is discarded (no INSNS line,
 *               the region number is not used up)
 *
 * Other displacements 0x52494c00..0x52494cff are reserved and count as
 * ordinary instructions. A marker is a real NOP to the CPU, so a guest that
 * runs without the plugin is unaffected.
 *
 * What is counted
 * ---------------
 * count = the number of guest instructions executed after the start marker
 * and before the stop marker, by every vCPU, in every mode (kernel, user,
 * interrupt and exception handlers alike). The two markers themselves are
 * NOT counted; an empty region (start immediately followed by stop) counts 0.
 * k numbers the regions from 0 in the order they are stopped. A start while
 * a region is open restarts it; a stop with no open region writes a comment
 * line (starting with '#') and no INSNS line. Each line is flushed at once,
 * so a QEMU killed afterwards still leaves the complete lines behind.
 *
 * REP string instructions
 * -----------------------
 * A REP-prefixed string instruction (F3 or F2 before MOVS, CMPS, STOS,
 * LODS, SCAS, INS or OUTS) counts ONCE per execution, however many
 * iterations it makes: a `rep movsb` of 4096 bytes is one instruction, as
 * is a `rep movsq` of 512 quadwords. TCG runs each iteration as one
 * execution of the instruction (it jumps back to itself until the count
 * register is 0), and QEMU's own -icount counts each; counting them would
 * make a copy cost its length in bytes on one system and an eighth of it on
 * another, depending only on the string instruction chosen. The rule: a REP
 * instruction is counted when it is entered from a different instruction,
 * i.e. not when the last instruction the vCPU executed was this same REP
 * instruction at the same address. It is implemented without reading
 * registers: the REP instruction is counted by a callback, which remembers
 * (per vCPU) its address and the vCPU's counter just after counting; an
 * execution that finds both unchanged is a further iteration, since any
 * other instruction would have moved the counter. Consequences: a REP
 * interrupted between iterations (an interrupt, an exception, or under
 * -icount with inline=on and several vCPUs another vCPU's turn, which moves
 * the shared counter) counts once more when it resumes, like any
 * instruction started again; deterministic under -icount. profile=on
 * counts whole blocks per execution, so there a REP still counts once per
 * iteration.
 *
 * With more than one vCPU all of them count; a region started on one vCPU
 * may be stopped on another. Under -icount (which makes TCG run all vCPUs
 * round-robin on one thread, as tools/bench.py does) the count is exact at
 * any -smp. With parallel TCG threads (no -icount, -smp > 1) a marker reads
 * the other vCPUs' counters while they run, so their share is only as exact
 * as the moment of that read.
 *
 * Modes (plugin argument mode=)
 * -----------------------------
 * insn (default): an inline `counter += 1` before every instruction. Exact in
 *   every case. An instruction that raises an exception (a page fault, #DE,
 *   #GP...) has been started and is counted, and counted again if the
 *   handler returns to it; QEMU's own -icount counter (which the guest's
 *   clock reads under -icount shift=0) counts only completed instructions,
 *   so the two differ by one per such fault. An instruction that QEMU
 *   re-executes for an MMIO access under -icount is counted once (QEMU does
 *   not instrument the re-execution).
 * tb: one inline `counter += n` at the start of every translation block (TB)
 *   of n instructions, the cheapest instrumentation QEMU offers. TBs that
 *   contain a marker are counted instruction by instruction as in insn mode
 *   (the marker's own callback reads the counter), so a region that starts
 *   or stops in the middle of a TB stays exact. But a TB left early is
 *   counted whole: when an instruction in the middle of a TB raises an
 *   exception or, under -icount, accesses MMIO (QEMU abandons the TB there
 *   and re-executes the access in a TB of its own), the instructions after
 *   it in that TB are counted though they did not run. Deterministic, but
 *   an overcount, and not a small one for a loop polling a device register:
 *   booting Rill with ktest=all under -icount, Rill's HPET calibration loop
 *   alone makes mode=tb count 209.6M instructions where 172.0M ran (+22%).
 *   The cost difference measured under -icount is small (about 5% of the
 *   run time on a CPU-bound loop, none visible on Rill's boot), hence insn
 *   is the default.
 *
 * Counters (plugin argument inline=)
 * ----------------------------------
 * inline=on: the counting code is an inline add on one global counter,
 *   generated into the TB: fast, but not atomic, so only correct when the
 *   vCPUs run on one thread: -smp 1, or any -smp under -icount or
 *   -accel tcg,thread=single.
 * inline=off: each TB (or instruction) calls back into the plugin, which
 *   adds to a per-vCPU counter: correct with parallel TCG threads, slower.
 * The default is on when QEMU was started with one vCPU (and no hotplug
 * room), off otherwise.
 *
 * profile=on: also count, per translation block, the instructions it ran
 *   inside regions (whole blocks, as mode=tb), and print at exit one line
 *   "PROF pc=<hex> insns=<n>" per block start, for finding where a
 *   benchmark's instructions go (tools/benchprof.py symbolizes them).
 *   profregion=K: profile only region K (numbered as in INSNS lines).
 *
 * Other arguments: outfile=PATH (default: QEMU's log, see -d plugin).
 * Comment lines in the output start with '#': a header naming the mode, and
 * at exit the total number of instructions counted in the whole run.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MARKER_BASE	0x52494c00u
#define MARKER_LEN	7

enum marker {
	MK_NONE = 0,
	MK_START = 1,
	MK_STOP = 2,
	MK_RESET = 3,
};

enum mode {
	MODE_TB,
	MODE_INSN,
};

/* One counter per vCPU, each on its own cache line. With inline counting
 * only counters[0] is used (by all vCPUs). */
struct counter {
	uint64_t n;
	char pad[64 - sizeof(uint64_t)];
};

static enum mode mode = MODE_INSN;
static bool use_inline;
static int ncounters;
static struct counter *counters;

/* Per vCPU: the REP instruction counted last, and the vCPU's counter just
 * after it was counted. */
struct rep_state {
	uint64_t pc;
	uint64_t after;
	char pad[64 - 2 * sizeof(uint64_t)];
};

static int nreps;
static struct rep_state *reps;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *out;		/* NULL: qemu_plugin_outs() */
static bool region_open;
static uint64_t region_base;	/* total after the start marker */
static uint64_t region_index;	/* the next region's number */

/* profile=on: one record per translated block. */
struct prof {
	uint64_t pc, n, hits;
	struct prof *next;
};
static bool profile;
static struct prof *profs;
static int64_t profregion = -1;	/* profregion=K: only region K */
/* tracen=N (with profile=on): the blocks executed in the profiled region,
 * in order, from the traceskip-th on, N of them ("TRACE" lines). */
static uint64_t tracen, traceskip, traceseen, tracelen;
static uint64_t *tracebuf;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (out) {
		fputs(buf, out);
		fflush(out);
	} else {
		qemu_plugin_outs(buf);
	}
}

static inline uint64_t *counter_of(unsigned int vcpu)
{
	if (use_inline || vcpu >= (unsigned int)ncounters)
		return &counters[0].n;
	return &counters[vcpu].n;
}

/* Instructions counted so far, all vCPUs. */
static uint64_t total(void)
{
	uint64_t sum = 0;

	for (int i = 0; i < ncounters; i++)
		sum += __atomic_load_n(&counters[i].n, __ATOMIC_RELAXED);
	return sum;
}

/* Each counter is written only by its own vCPU's thread (or, with inline
 * counting, by the single TCG thread), so a relaxed load-add-store suffices;
 * the atomics only keep concurrent readers from seeing a torn value. */
static inline void count(unsigned int vcpu, uint64_t n)
{
	uint64_t *c = counter_of(vcpu);

	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static void tb_exec(unsigned int vcpu, void *udata)
{
	count(vcpu, (uint64_t)(uintptr_t)udata);
}

static void prof_exec(unsigned int vcpu, void *udata)
{
	struct prof *p = udata;

	(void)vcpu;
	if (__atomic_load_n(&region_open, __ATOMIC_RELAXED) &&
	    (profregion < 0 ||
	     __atomic_load_n(&region_index, __ATOMIC_RELAXED) == (uint64_t)profregion)) {
		__atomic_fetch_add(&p->hits, 1, __ATOMIC_RELAXED);
		if (tracebuf && traceseen++ >= traceskip && tracelen < tracen) {
			tracebuf[2 * tracelen] = p->pc;
			tracebuf[2 * tracelen + 1] = p->n;
			tracelen++;
		}
	}
}

static void insn_exec(unsigned int vcpu, void *udata)
{
	(void)udata;
	count(vcpu, 1);
}

/* Before each iteration of a REP string instruction at udata's address:
 * counted only when something else ran since its last count. */
static void rep_exec(unsigned int vcpu, void *udata)
{
	uint64_t pc = (uint64_t)(uintptr_t)udata;
	struct rep_state *r = &reps[vcpu < (unsigned int)nreps ? vcpu : 0];
	uint64_t now = __atomic_load_n(counter_of(vcpu), __ATOMIC_RELAXED);

	if (r->pc == pc && r->after == now)
		return;		/* the same instruction's next iteration */
	count(vcpu, 1);
	r->pc = pc;
	r->after = now + 1;
}

/* Runs before the marker instruction executes: every instruction before it
 * has been counted, the marker itself not yet. */
static void marker_exec(unsigned int vcpu, void *udata)
{
	enum marker kind = (enum marker)(uintptr_t)udata;

	pthread_mutex_lock(&lock);
	uint64_t now = total();
	switch (kind) {
	case MK_START:
		region_open = true;
		region_base = now + 1;	/* the start marker is not counted */
		break;
	case MK_STOP:
		if (region_open) {
			emit("INSNS region=%" PRIu64 " count=%" PRIu64 "\n",
			     region_index, now - region_base);
			region_index++;
			region_open = false;
		} else {
			emit("# stop marker without an open region (vcpu %u)\n",
			     vcpu);
		}
		break;
	case MK_RESET:
		if (region_open)
			emit("# reset: region %" PRIu64 " discarded after %" PRIu64
			     " instructions\n", region_index, now - region_base);
		region_open = false;
		break;
	default:
		break;
	}
	count(vcpu, 1);		/* the marker itself, for the running total */
	pthread_mutex_unlock(&lock);
}

static enum marker marker_kind(const struct qemu_plugin_insn *insn)
{
	const uint8_t *p;
	uint32_t disp;

	if (qemu_plugin_insn_size(insn) != MARKER_LEN)
		return MK_NONE;
	p = qemu_plugin_insn_data(insn);
	if (!p || p[0] != 0x0f || p[1] != 0x1f || p[2] != 0x80)
		return MK_NONE;
	disp = (uint32_t)p[3] | (uint32_t)p[4] << 8 | (uint32_t)p[5] << 16 |
	       (uint32_t)p[6] << 24;
	if ((disp & ~0xffu) != MARKER_BASE)
		return MK_NONE;
	switch (disp & 0xff) {
	case MK_START:
		return MK_START;
	case MK_STOP:
		return MK_STOP;
	case MK_RESET:
		return MK_RESET;
	default:
		return MK_NONE;		/* reserved: an ordinary instruction */
	}
}

/* Is this a REP-prefixed string instruction? Legacy prefixes (any order),
 * then in 64-bit code an optional REX, then the one-byte opcode, which is
 * the instruction's last byte: string instructions have no operands. */
static bool is_rep_string(const struct qemu_plugin_insn *insn)
{
	const uint8_t *p = qemu_plugin_insn_data(insn);
	size_t n = qemu_plugin_insn_size(insn), i = 0;
	bool rep = false;

	if (!p)
		return false;
	for (; i < n; i++) {
		uint8_t b = p[i];

		if (b == 0xf2 || b == 0xf3)
			rep = true;
		else if (b != 0x66 && b != 0x67 && b != 0x2e && b != 0x36 && b != 0x3e &&
			 b != 0x26 && b != 0x64 && b != 0x65 && b != 0xf0)
			break;
	}
	if (i + 2 == n && (p[i] & 0xf0) == 0x40)
		i++;		/* REX (in 32-bit code 40-4f are opcodes, never followed) */
	if (!rep || i + 1 != n)
		return false;
	switch (p[i]) {
	case 0xa4: case 0xa5:	/* movs */
	case 0xa6: case 0xa7:	/* cmps */
	case 0xaa: case 0xab:	/* stos */
	case 0xac: case 0xad:	/* lods */
	case 0xae: case 0xaf:	/* scas */
	case 0x6c: case 0x6d:	/* ins */
	case 0x6e: case 0x6f:	/* outs */
		return true;
	default:
		return false;
	}
}

static void count_rep(struct qemu_plugin_insn *insn)
{
	qemu_plugin_register_vcpu_insn_exec_cb(
		insn, rep_exec, QEMU_PLUGIN_CB_NO_REGS,
		(void *)(uintptr_t)qemu_plugin_insn_vaddr(insn));
}

static void count_insn(struct qemu_plugin_insn *insn)
{
	if (use_inline)
		qemu_plugin_register_vcpu_insn_exec_inline(
			insn, QEMU_PLUGIN_INLINE_ADD_U64, &counters[0].n, 1);
	else
		qemu_plugin_register_vcpu_insn_exec_cb(
			insn, insn_exec, QEMU_PLUGIN_CB_NO_REGS, NULL);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t n = qemu_plugin_tb_n_insns(tb), nrep = 0;
	bool has_marker = false;

	(void)id;
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		has_marker |= marker_kind(insn) != MK_NONE;
		nrep += is_rep_string(insn);
	}

	if (profile && !has_marker) {
		struct prof *p = calloc(1, sizeof(*p));

		if (p) {
			p->pc = qemu_plugin_tb_vaddr(tb);
			p->n = n;
			pthread_mutex_lock(&lock);
			p->next = profs;
			profs = p;
			pthread_mutex_unlock(&lock);
			qemu_plugin_register_vcpu_tb_exec_cb(tb, prof_exec,
							     QEMU_PLUGIN_CB_NO_REGS, p);
		}
	}

	if (mode == MODE_TB && !has_marker) {
		/* The block's other instructions at once, its REP string
		 * instruction (TCG ends a block after one) by itself. */
		if (n > nrep && use_inline)
			qemu_plugin_register_vcpu_tb_exec_inline(
				tb, QEMU_PLUGIN_INLINE_ADD_U64, &counters[0].n, n - nrep);
		else if (n > nrep)
			qemu_plugin_register_vcpu_tb_exec_cb(
				tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS,
				(void *)(uintptr_t)(n - nrep));
		for (size_t i = 0; i < n && nrep; i++)
			if (is_rep_string(qemu_plugin_tb_get_insn(tb, i)))
				count_rep(qemu_plugin_tb_get_insn(tb, i));
		return;
	}

	/* Instruction by instruction: mode=insn, or a TB holding a marker. */
	for (size_t i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		enum marker kind = marker_kind(insn);

		if (kind != MK_NONE)
			qemu_plugin_register_vcpu_insn_exec_cb(
				insn, marker_exec, QEMU_PLUGIN_CB_NO_REGS,
				(void *)(uintptr_t)kind);
		else if (is_rep_string(insn))
			count_rep(insn);
		else
			count_insn(insn);
	}
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
	(void)id;
	(void)udata;
	pthread_mutex_lock(&lock);
	if (region_open)
		emit("# region %" PRIu64 " still open at exit after %" PRIu64
		     " instructions\n", region_index, total() - region_base);
	emit("# total instructions=%" PRIu64 " regions=%" PRIu64 "\n", total(),
	     region_index);
	for (uint64_t i = 0; i < tracelen; i++)
		emit("TRACE pc=%" PRIx64 " insns=%" PRIu64 "\n", tracebuf[2 * i],
		     tracebuf[2 * i + 1]);
	for (struct prof *p = profs; p; p = p->next)
		if (p->hits)
			emit("PROF pc=%" PRIx64 " insns=%" PRIu64 "\n", p->pc,
			     p->n * p->hits);
	if (out) {
		fclose(out);
		out = NULL;
	}
	pthread_mutex_unlock(&lock);
}

static int bad_arg(const char *arg)
{
	fprintf(stderr, "insncount: bad argument '%s' (expected outfile=PATH, "
		"mode=insn|tb, inline=on|off)\n", arg);
	return -1;
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *outfile = NULL;
	int inline_arg = -1;	/* -1: automatic */
	int vcpus = 1;

	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq = strchr(arg, '=');
		const char *val = eq ? eq + 1 : "";
		size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);

		if (klen == 7 && !strncmp(arg, "outfile", klen)) {
			outfile = val;
		} else if (klen == 4 && !strncmp(arg, "mode", klen)) {
			if (!strcmp(val, "tb"))
				mode = MODE_TB;
			else if (!strcmp(val, "insn"))
				mode = MODE_INSN;
			else
				return bad_arg(arg);
		} else if (klen == 7 && !strncmp(arg, "profile", klen)) {
			if (!qemu_plugin_bool_parse("profile", val, &profile))
				return bad_arg(arg);
		} else if (klen == 10 && !strncmp(arg, "profregion", klen)) {
			char *end;

			profregion = strtoll(val, &end, 10);
			if (!*val || *end || profregion < 0)
				return bad_arg(arg);
		} else if ((klen == 6 && !strncmp(arg, "tracen", klen)) ||
			   (klen == 9 && !strncmp(arg, "traceskip", klen))) {
			char *end;
			unsigned long long v = strtoull(val, &end, 10);

			if (!*val || *end)
				return bad_arg(arg);
			if (klen == 6)
				tracen = v;
			else
				traceskip = v;
		} else if (klen == 6 && !strncmp(arg, "inline", klen)) {
			bool b;

			if (!qemu_plugin_bool_parse("inline", val, &b))
				return bad_arg(arg);
			inline_arg = b;
		} else {
			return bad_arg(arg);
		}
	}

	if (info->system_emulation) {
		vcpus = info->system.max_vcpus;
		if (vcpus < info->system.smp_vcpus)
			vcpus = info->system.smp_vcpus;
	}
	if (vcpus < 1)
		vcpus = 1;
	if (tracen && !(tracebuf = calloc(tracen, 2 * sizeof(uint64_t))))
		return -1;
	use_inline = inline_arg >= 0 ? inline_arg : vcpus == 1;
	ncounters = use_inline ? 1 : vcpus;
	if (posix_memalign((void **)&counters, 64,
			   sizeof(*counters) * (size_t)ncounters)) {
		fprintf(stderr, "insncount: out of memory\n");
		return -1;
	}
	memset(counters, 0, sizeof(*counters) * (size_t)ncounters);
	nreps = vcpus;
	reps = calloc((size_t)nreps, sizeof(*reps));
	if (!reps) {
		fprintf(stderr, "insncount: out of memory\n");
		return -1;
	}
	for (int i = 0; i < nreps; i++)
		reps[i].pc = UINT64_MAX;	/* no REP counted yet */

	if (outfile && *outfile) {
		out = fopen(outfile, "w");
		if (!out) {
			perror(outfile);
			return -1;
		}
	}
	emit("# insncount mode=%s inline=%s vcpus=%d markers-excluded\n",
	     mode == MODE_TB ? "tb" : "insn", use_inline ? "on" : "off", vcpus);

	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
