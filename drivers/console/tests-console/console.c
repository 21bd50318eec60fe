/*
 * The console driver (bin/console) echoing what is typed on the serial
 * line, having taken the line over from the kernel's log (which it then
 * prints, so the runner still sees every line once). Run only in the boot
 * that types (tools/runtests.py's console boot:
 * "console-input" makes init run tests-console/, and the runner types
 * CONSOLE_TEXT once "console: ready" shows). The runner also checks that
 * the echo reached the serial output.
 */
#include <rill/rl.h>
#include <rill/string.h>
#include <rill/test.h>

#define TYPED	"rill-echo-7731\r"	/* tools/runtests.py CONSOLE_TEXT */

DEFINE_TEST(echoes_a_typed_line)
{
	const struct rl_spawn_handle hs[] = {
		{ RL_NAME_IRQ_AUTH, rl_startup_handle_or0(RL_NAME_IRQ_AUTH), 0 },
		{ RL_NAME_IOPORT_AUTH, rl_startup_handle_or0(RL_NAME_IOPORT_AUTH), 0 },
		{ RL_NAME_LOG_AUTH, rl_startup_handle_or0(RL_NAME_LOG_AUTH), 0 },
	};
	const struct rl_spawn_opts opts = { .handles = hs, .nhandles = 3 };
	const char *argv[] = { "console", "takeover", "echo-line" };
	int64_t p;

	p = rl_spawn_file("bin/console", 3, argv, &opts, NULL);
	TEST_ASSERT(p > 0);
	/* It exits after the line with the count of bytes it received. */
	TEST_EQ(rl_process_wait((rl_handle_t)p), (int64_t)strlen(TYPED));
	TEST_EQ(rl_handle_close(p), 0);
}
