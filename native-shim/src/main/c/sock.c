/* AF_UNIX sockets with fd passing and peer credentials, and the kernel uevent netlink socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"

#define VB_MAX_FDS 64

static int unix_addr(const char *path, struct sockaddr_un *a, socklen_t *len) {
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/* type is SOCK_STREAM or SOCK_SEQPACKET; the caller removes a stale path first. */
int vb_unix_listen(const char *path, int type, int backlog) {
	struct sockaddr_un a;
	socklen_t len;
	int r = unix_addr(path, &a, &len);
	if (r < 0)
		return r;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int vb_unix_connect(const char *path, int type) {
	struct sockaddr_un a;
	socklen_t len;
	int r = unix_addr(path, &a, &len);
	if (r < 0)
		return r;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int vb_accept(int fd) {
	int r;
	do {
		r = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

int vb_socketpair(int type, int *sv) { return (int)VB_RET(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv)); }

int vb_shutdown(int fd, int how) { return (int)VB_RET(shutdown(fd, how)); }

/* Sends len bytes (len >= 1: SCM_RIGHTS rides on data) with nfds descriptors in one message.
 * MSG_NOSIGNAL: a vanished peer must give EPIPE, not kill the daemon with SIGPIPE. */
long vb_send_fds(int sock, const void *buf, unsigned long len, const int *fds, int nfds) {
	if (nfds < 0 || nfds > VB_MAX_FDS)
		return -EINVAL;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VB_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	long r;
	do {
		r = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* Receives one message: payload into buf, descriptors (close-on-exec) into fds, their count into
 * *nfds. Returns the payload length (0 = peer closed). If the payload or the descriptors did not fit,
 * every received fd is closed and -EMSGSIZE returned: a half-received handover is useless. */
long vb_recv_fds(int sock, void *buf, unsigned long len, int *fds, int maxfds, int *nfds) {
	if (maxfds < 0 || maxfds > VB_MAX_FDS)
		return -EINVAL;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VB_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = CMSG_SPACE(sizeof(int) * (maxfds > 0 ? maxfds : 1)) };
	long r;
	do {
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	int n = 0, dropped = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int got[VB_MAX_FDS];
		memcpy(got, CMSG_DATA(c), sizeof(int) * (size_t)k);
		for (int i = 0; i < k; i++) {
			if (n < maxfds)
				fds[n++] = got[i];
			else {
				close(got[i]);
				dropped++;
			}
		}
	}
	if (dropped || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		*nfds = 0;
		return -EMSGSIZE;
	}
	*nfds = n;
	return r;
}

/* The kernel's view of who is on the other end (as of connect/socketpair), never a claim. */
int vb_peer_cred(int sock, int *pid, int *uid, int *gid) {
	struct ucred c;
	socklen_t len = sizeof(c);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &c, &len) < 0)
		return -errno;
	*pid = c.pid;
	*uid = (int)c.uid;
	*gid = (int)c.gid;
	return 0;
}

/* The peer's supplementary groups as of connect (SO_PEERGROUPS, Linux 4.13): up to max, the count returned.
 * -ERANGE when the peer has more than max. */
int vb_peer_groups(int sock, int *gids, int max) {
	socklen_t len = (socklen_t)(max * (int)sizeof(gid_t));
	if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, gids, &len) < 0)
		return -errno;
	return (int)(len / sizeof(gid_t));
}

/* groups = 1 is the kernel's own uevent multicast group (2 would be udev's re-broadcast). */
int vb_uevent_open(unsigned int groups) {
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_groups = groups };
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Waits up to timeout_ms for one datagram; returns its length, 0 on timeout. *sender_pid is the
 * netlink port of the sender: 0 means the kernel, anything else is a process and is not trusted. */
long vb_uevent_recv(int fd, void *buf, unsigned long len, int timeout_ms, int *sender_pid) {
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int pr;
	do {
		pr = poll(&p, 1, timeout_ms);
	} while (pr < 0 && errno == EINTR);
	if (pr < 0)
		return -errno;
	if (pr == 0)
		return 0;
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
	long r = recvmsg(fd, &msg, MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (msg.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	*sender_pid = (int)from.nl_pid;
	return r;
}

/* SO_PEERPIDFD (Linux 6.5): a pidfd of the process that connected, immune to pid reuse. -ENOPROTOOPT before 6.5. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
int vb_peer_pidfd(int sock) {
	int fd = -1;
	socklen_t len = sizeof(fd);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) < 0)
		return -errno;
	return fd;
}
