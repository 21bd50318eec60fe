/*
 * log.h - the kernel log.
 *
 * Every line carries the time since boot and a level. Lines above the level
 * set by the "log=" boot option (error, warn, info, debug) are dropped.
 * Portable code logs through klog() too; host tests supply their own klog.
 */
#ifndef KERNEL_LOG_H
#define KERNEL_LOG_H

#include <stdarg.h>
#include <kernel/types.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

void klog(int level, const char *fmt, ...) __printf(2, 3);
void vklog(int level, const char *fmt, va_list ap);

/* Raw output without prefix, for multi-part lines (register dumps). */
void kprintf(const char *fmt, ...) __printf(1, 2);
/* Raw bytes to the console, not interleaved with other output. */
void console_write(const char *s, size_t len);

void log_set_level(int level);
int log_parse_level(const char *name);	/* -1 when unknown */

/*
 * Everything the log and console_write print also goes to a ring (struct
 * rl_klog, abi/rill.h) that a privileged reader maps: until core attaches
 * one (log_attach_ring), to a small early buffer, copied into the ring
 * when it comes. log_console(false) stops the serial output (a panic
 * still prints) and returns the ring position where it stopped: every
 * byte before it went to the line, none after (true: where it starts
 * again); log_head() is the ring's byte count.
 */
struct rl_klog;
void log_attach_ring(struct rl_klog *ring, uint64_t bytes);
uint64_t log_console(bool on);
/* Back on, after printing what the ring holds from position from (the
 * owner of the line left it unprinted); returns the head. */
uint64_t log_console_resume(uint64_t from);
uint64_t log_head(void);

#define pr_err(...)	klog(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)	klog(LOG_WARN, __VA_ARGS__)
#define pr_info(...)	klog(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)	klog(LOG_DEBUG, __VA_ARGS__)

#endif
