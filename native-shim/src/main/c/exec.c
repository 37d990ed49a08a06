/* exec a program with chosen fds at 3, 4, ... and nothing else inherited: how `vfio-broker run` hands a lease's
 * fds to a program the systemd way (LISTEN_FDS). Returns only on failure, with -errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

int vb_exec_fds(const char *file, char *const argv[], char *const envp[], const int *fds, int n) {
    if (n < 0 || n > 250) return -EINVAL;
    int high[256];
    /* Move every fd out of the 3..3+n range first, so placing one cannot clobber another. */
    for (int i = 0; i < n; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + n);
        if (high[i] < 0) return -errno;
    }
    for (int i = 0; i < n; i++) {
        if (dup2(high[i], 3 + i) < 0) return -errno; /* dup2 leaves FD_CLOEXEC clear on the new fd */
    }
    /* The JVM holds fds without CLOEXEC (jars, epoll, sockets): the program gets the lease's fds and nothing else. */
    if (syscall(SYS_close_range, 3 + n, ~0U, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = 3 + n; fd < max; fd++) close((int)fd);
    }
    execvpe(file, argv, envp);
    return -errno;
}
