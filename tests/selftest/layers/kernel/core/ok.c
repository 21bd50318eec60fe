/* Fine: lower layers only. */
#include <kernel/spinlock.h>
#include <kernel/vm.h>
