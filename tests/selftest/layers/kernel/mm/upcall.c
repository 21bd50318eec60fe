/* A deliberate layer violation: mm calling up into core. */
#include <kernel/types.h>
#include <kernel/process.h>
