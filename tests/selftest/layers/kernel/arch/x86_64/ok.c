/* Fine: its own layer and lower. */
#include <kernel/types.h>
#include <kernel/vm.h>
#include <arch/x86.h>
