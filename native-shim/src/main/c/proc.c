/* Process-facing calls: pidfd and resource limits of another process. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

/* glibc 2.36 has pidfd_open, older ones do not: go through syscall(2) either way. */
int vb_pidfd_open(int pid, unsigned int flags) { return (int)VB_RET(syscall(SYS_pidfd_open, pid, flags)); }

int vb_pidfd_send_signal(int pidfd, int sig) { return (int)VB_RET(syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0)); }

/* RLIM_INFINITY is all ones, i.e. -1 as a signed 64-bit value on the Java side. */
int vb_prlimit_get(int pid, int resource, uint64_t *cur, uint64_t *max) {
	struct rlimit old;
	if (prlimit(pid, resource, NULL, &old) < 0)
		return -errno;
	*cur = old.rlim_cur;
	*max = old.rlim_max;
	return 0;
}

int vb_prlimit_set(int pid, int resource, uint64_t cur, uint64_t max) {
	struct rlimit lim = { .rlim_cur = cur, .rlim_max = max };
	return (int)VB_RET(prlimit(pid, resource, &lim, NULL));
}

/* kcmp(2) KCMP_FILE: 0 when fd1 of pid1 and fd2 of pid2 are the same open file description. Finds which
 * processes hold a lease's device fd, which /proc/<pid>/fd shows only as an anonymous inode. */
int vb_kcmp_file(int pid1, int pid2, int fd1, int fd2) { return (int)VB_RET(syscall(SYS_kcmp, pid1, pid2, 0 /* KCMP_FILE */, fd1, fd2)); }
