/*
 * abi/errno.h - the error vocabulary of Rill, shared by the kernel and user
 * space. Functions return 0 (or a non-negative result) on success and the
 * negated code on failure. The numbers match Linux's where the meaning is
 * the same, so the POSIX server can pass them through unchanged.
 */
#ifndef RILL_ERRNO_H
#define RILL_ERRNO_H

#define RILL_EPERM	1	/* operation not permitted (missing right) */
#define RILL_ENOENT	2	/* no such object */
#define RILL_ESRCH	3	/* no such thread or process */
#define RILL_EINTR	4	/* interrupted */
#define RILL_EIO	5	/* I/O error */
#define RILL_E2BIG	7	/* argument too large */
#define RILL_ENOEXEC	8	/* not a valid executable */
#define RILL_EBADF	9	/* bad handle */
#define RILL_EAGAIN	11	/* try again / would block */
#define RILL_ENOMEM	12	/* out of memory */
#define RILL_EACCES	13	/* access denied */
#define RILL_EFAULT	14	/* bad address */
#define RILL_EBUSY	16	/* resource busy */
#define RILL_EEXIST	17	/* already exists */
#define RILL_ENODEV	19	/* no such device */
#define RILL_EINVAL	22	/* invalid argument */
#define RILL_EMFILE	24	/* handle table full */
#define RILL_ENOSPC	28	/* no space left */
#define RILL_EPIPE	32	/* end of lane: the peer is gone */
#define RILL_ERANGE	34	/* value out of range */
#define RILL_ENOSYS	38	/* no such call or opcode */
#define RILL_EPROTO	71	/* IPC: the matched actions are incompatible */
#define RILL_EOVERFLOW	75	/* value too large */
#define RILL_EBADFD	77	/* handle names an object of the wrong type */
#define RILL_EMSGSIZE	90	/* IPC: the send is larger than the receive buffer */
#define RILL_ENOTSUP	95	/* not supported */
#define RILL_ETIMEDOUT	110	/* deadline passed */
#define RILL_ECANCELED	125	/* cancelled */

#endif
