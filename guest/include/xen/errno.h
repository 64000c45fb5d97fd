/*
 * Error numbers returned by hypercalls, negated (-EINVAL and so on). These
 * are Xen's values, which match Linux's for the common cases. There is no C
 * library here, so they take the plain names.
 */
#ifndef _XEN_ERRNO_H
#define _XEN_ERRNO_H

#define EPERM		1	/* operation not permitted */
#define ENOENT		2	/* no such entry (e.g. vCPU id past the last) */
#define ESRCH		3	/* no such domain or process */
#define EINTR		4	/* interrupted */
#define EIO		5	/* I/O error */
#define ENXIO		6	/* no such device or address */
#define E2BIG		7	/* argument list too long */
#define ENOEXEC		8	/* exec format error */
#define EBADF		9	/* bad file number */
#define ECHILD		10	/* no child processes */
#define EAGAIN		11	/* try again */
#define EWOULDBLOCK	EAGAIN
#define ENOMEM		12	/* out of memory */
#define EACCES		13	/* permission denied */
#define EFAULT		14	/* bad address */
#define EBUSY		16	/* resource busy */
#define EEXIST		17	/* already exists */
#define EXDEV		18	/* cross-device link */
#define ENODEV		19	/* no such device */
#define EISDIR		21	/* is a directory */
#define EINVAL		22	/* invalid argument */
#define ENFILE		23	/* file table overflow */
#define EMFILE		24	/* too many open files */
#define ENOSPC		28	/* no space left */
#define EROFS		30	/* read-only */
#define EMLINK		31	/* too many links */
#define EDOM		33	/* argument out of domain */
#define ERANGE		34	/* result out of range */
#define EDEADLK		35	/* deadlock would occur */
#define ENAMETOOLONG	36	/* name too long */
#define ENOLCK		37	/* no locks available */
#define ENOSYS		38	/* hypercall or sub-op not implemented */
#define ENOTEMPTY	39	/* not empty */
#define ENODATA		61	/* no data available */
#define ETIME		62	/* timer expired */
#define EBADMSG		74	/* not a data message */
#define EOVERFLOW	75	/* value too large */
#define EILSEQ		84	/* illegal byte sequence */
#define ERESTART	85	/* restart the call */
#define EOPNOTSUPP	95	/* operation not supported */
#define ETIMEDOUT	110	/* timed out */

#endif /* _XEN_ERRNO_H */
