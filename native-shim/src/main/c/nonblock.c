/* Non-blocking sockets for event loops: one thread waits in epoll and must never block on a single peer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/socket.h>

#include "shim.h"

/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC; -EAGAIN when no connection is pending (listener set non-blocking). */
int vb_accept_nonblock(int fd) {
	int r;
	do {
		r = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* Sets or clears O_NONBLOCK. */
int vb_set_nonblock(int fd, int on) {
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return (int)VB_RET(fcntl(fd, F_SETFL, fl));
}
