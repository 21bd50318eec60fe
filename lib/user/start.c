/* start.c - program start-up and exit for native programs. */
#include <rill/rl.h>

const struct rl_startup *rl_startup_info;

const char *const rl_syscall_names[] = {
#define SYSCALL(nr, name, ...) [nr] = #name,
#include <rill/syscalls.def>
#undef SYSCALL
};
const unsigned rl_syscall_count = sizeof(rl_syscall_names) / sizeof(rl_syscall_names[0]);

void rl_start(const struct rl_startup *st) __attribute__((noreturn));

void rl_exit(int64_t status)
{
	for (;;)
		rl_thread_exit(status);
}

/* Returning from main ends the program, every thread of it (as exit()
 * does): a thread left blocked must not keep it alive. A process whose
 * own handle lacks MANAGE can only end its main thread. */
void rl_start(const struct rl_startup *st)
{
	int64_t status;

	rl_startup_info = st;
	status = main((int)st->argc, (char **)st->argv);
	rl_process_kill(RL_SELF_PROCESS, status);
	rl_exit(status);
}
