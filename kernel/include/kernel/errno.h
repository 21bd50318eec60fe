/* errno.h - kernel spellings of the ABI error codes (rill/errno.h). */
#ifndef KERNEL_ERRNO_H
#define KERNEL_ERRNO_H

#include <rill/errno.h>

#define EPERM		RILL_EPERM
#define ENOENT		RILL_ENOENT
#define ESRCH		RILL_ESRCH
#define EINTR		RILL_EINTR
#define EIO		RILL_EIO
#define E2BIG		RILL_E2BIG
#define EBADF		RILL_EBADF
#define EAGAIN		RILL_EAGAIN
#define ENOMEM		RILL_ENOMEM
#define EACCES		RILL_EACCES
#define EFAULT		RILL_EFAULT
#define EBUSY		RILL_EBUSY
#define EEXIST		RILL_EEXIST
#define ENODEV		RILL_ENODEV
#define EINVAL		RILL_EINVAL
#define ENOSPC		RILL_ENOSPC
#define EPIPE		RILL_EPIPE
#define ERANGE		RILL_ERANGE
#define ENOSYS		RILL_ENOSYS
#define ENOTSUP		RILL_ENOTSUP
#define ETIMEDOUT	RILL_ETIMEDOUT
#define ECANCELED	RILL_ECANCELED

#endif
