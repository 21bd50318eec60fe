/*
 * log.c - the kernel log on the serial console.
 *
 * Each line: "[  seconds.micros] cpuN level: text". Whole lines are
 * serialised by log_lock (irqsave, so interrupt handlers may log). After a
 * panic the lock is taken with a bounded wait so that a CPU that died
 * holding it cannot silence the panic report.
 */
#include <kernel/arch.h>
#include <kernel/cpu.h>
#include <kernel/log.h>
#include <kernel/panic.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <abi/rill.h>
#include <rill/format.h>
#include <rill/string.h>

static spinlock_t log_lock = SPINLOCK_INIT;
static int log_level = LOG_INFO;
static bool console_on = true;

/* Before core attaches the ring: the first bytes of the boot (the rest,
 * if any, are counted as lost). */
#define EARLY_SIZE 16384
static char early[EARLY_SIZE];
static uint64_t early_head;
static struct rl_klog *ring;
static uint64_t ring_size;

static void ring_put(char c)
{
	if (ring) {
		ring->data[ring->head % ring_size] = c;
		__atomic_store_n(&ring->head, ring->head + 1, __ATOMIC_RELEASE);
	} else {
		if (early_head < EARLY_SIZE)
			early[early_head] = c;
		early_head++;
	}
}

static void out(char c)
{
	ring_put(c);
	if (console_on || panic_in_progress)
		arch_console_putc(c);
}

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(int level)
{
	if (level >= LOG_ERROR && level <= LOG_DEBUG)
		log_level = level;
}

int log_parse_level(const char *name)
{
	for (int i = 0; i < (int)ARRAY_SIZE(level_names); i++)
		if (!strcmp(name, level_names[i]))
			return i;
	return -1;
}

static void console_put(char c, void *ctx)
{
	out(c);
}

/* Returns whether the lock was taken (it may not be, after a panic). */
static bool log_lock_acquire(irqflags_t *flags)
{
	*flags = arch_irq_save();
	if (!panic_in_progress) {
		spin_lock(&log_lock);
		return true;
	}
	for (int i = 0; i < 1000000; i++) {
		if (spin_trylock(&log_lock))
			return true;
		arch_cpu_relax();
	}
	return false;
}

static void log_lock_release(bool locked, irqflags_t flags)
{
	if (locked)
		spin_unlock(&log_lock);
	arch_irq_restore(flags);
}

static void vkprintf_locked(const char *fmt, va_list ap)
{
	rill_vformat(console_put, NULL, fmt, ap);
}

static void kprintf_locked(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vkprintf_locked(fmt, ap);
	va_end(ap);
}

void vklog(int level, const char *fmt, va_list ap)
{
	irqflags_t flags;
	uint64_t ns;
	bool locked;

	if (level > log_level)
		return;
	ns = clock_ns();
	locked = log_lock_acquire(&flags);
	kprintf_locked("[%5lu.%06lu] cpu%u %s: ", (unsigned long)(ns / 1000000000ull),
		       (unsigned long)(ns % 1000000000ull / 1000), cpu_id(),
		       level_names[level < 0 ? 0 : level > LOG_DEBUG ? LOG_DEBUG : level]);
	vkprintf_locked(fmt, ap);
	out('\n');
	log_lock_release(locked, flags);
}

void klog(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vklog(level, fmt, ap);
	va_end(ap);
}

void kprintf(const char *fmt, ...)
{
	irqflags_t flags;
	bool locked;
	va_list ap;

	locked = log_lock_acquire(&flags);
	va_start(ap, fmt);
	vkprintf_locked(fmt, ap);
	va_end(ap);
	log_lock_release(locked, flags);
}

void console_write(const char *s, size_t len)
{
	irqflags_t f;
	bool locked = log_lock_acquire(&f);

	for (size_t i = 0; i < len; i++)
		out(s[i]);
	log_lock_release(locked, f);
}

void log_attach_ring(struct rl_klog *r, uint64_t bytes)
{
	irqflags_t f;
	bool locked = log_lock_acquire(&f);
	uint64_t n = early_head < EARLY_SIZE ? early_head : EARLY_SIZE;

	r->magic = RL_KLOG_MAGIC;
	r->version = 1;
	r->size = bytes - sizeof(*r);
	ring_size = r->size;
	/* The early bytes first; those that did not fit are gone, but
	 * counted, so positions stay true. */
	for (uint64_t i = 0; i < n && i < ring_size; i++)
		r->data[i] = early[i];
	__atomic_store_n(&r->head, early_head, __ATOMIC_RELEASE);
	ring = r;
	log_lock_release(locked, f);
}

uint64_t log_console(bool on)
{
	irqflags_t f;
	bool locked = log_lock_acquire(&f);
	uint64_t at = ring ? ring->head : early_head;

	console_on = on;
	log_lock_release(locked, f);
	return at;
}

uint64_t log_console_resume(uint64_t from)
{
	irqflags_t f;
	bool locked = log_lock_acquire(&f);
	uint64_t head = ring ? ring->head : early_head;

	if (ring && !console_on) {
		if (head - from > ring_size)
			from = head - ring_size;
		for (; from < head; from++)
			arch_console_putc(ring->data[from % ring_size]);
	}
	console_on = true;
	log_lock_release(locked, f);
	return head;
}

uint64_t log_head(void)
{
	return ring ? __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) : 0;
}
