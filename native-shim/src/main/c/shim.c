/* vfio-broker native shim: thin, errno-preserving wrappers around the syscalls the daemon needs. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int vb_shim_version(void) { return 1; }

/* glibc 2.36 has pidfd_open, older ones do not: go through syscall(2) either way. */
int vb_pidfd_open(int pid, unsigned int flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
