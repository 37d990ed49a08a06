/* NETLINK_SOCK_DIAG (inet_diag): who owns a TCP socket, found by its exact 4-tuple. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"

/* An IPv6 socket connected over IPv4 reports its addresses v4-mapped (::ffff:a.b.c.d). */
static int same_addr(int got_family, const __be32 *got, int family, const uint8_t *want) {
	if (got_family == family)
		return memcmp(got, want, family == AF_INET ? 4 : 16) == 0;
	if (got_family == AF_INET6 && family == AF_INET) {
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		return memcmp(got, mapped, 12) == 0 && memcmp((const uint8_t *)got + 12, want, 4) == 0;
	}
	return 0;
}

/* family AF_INET (addresses 4 bytes) or AF_INET6 (16 bytes); src/sport are the wanted socket's own
 * (local) address and port, dst/dport its peer's; ports in host order. On success fills the owner uid,
 * the socket inode (0 = orphaned or a timewait socket: no file, no owner) and the TCP state. */
int vb_inet_diag_tcp(int family, const uint8_t *src, int sport, const uint8_t *dst, int dport,
		     int *uid, uint64_t *inode, int *state) {
	size_t alen = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
	if (alen == 0)
		return -EAFNOSUPPORT;
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q;
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST; /* no NLM_F_DUMP: an exact lookup by id */
	q.nlh.nlmsg_seq = 1;
	q.req.sdiag_family = (uint8_t)family;
	q.req.sdiag_protocol = IPPROTO_TCP;
	q.req.idiag_states = ~0u;
	q.req.id.idiag_sport = htons((uint16_t)sport);
	q.req.id.idiag_dport = htons((uint16_t)dport);
	memcpy(q.req.id.idiag_src, src, alen);
	memcpy(q.req.id.idiag_dst, dst, alen);
	q.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	q.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int r;
	do {
		r = (int)sendto(fd, &q, sizeof(q), 0, (struct sockaddr *)&kernel, sizeof(kernel));
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	union {
		char buf[8192];
		struct nlmsghdr align;
	} a;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	do {
		r = poll(&p, 1, 1000);
	} while (r < 0 && errno == EINTR);
	if (r <= 0) {
		r = r == 0 ? -ETIMEDOUT : -errno;
		close(fd);
		return r;
	}
	long n = recv(fd, a.buf, sizeof(a.buf), MSG_DONTWAIT);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	for (struct nlmsghdr *h = &a.align; NLMSG_OK(h, (unsigned long)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *err = NLMSG_DATA(h);
			return err->error < 0 ? err->error : -ENOENT;
		}
		if (h->nlmsg_type == NLMSG_DONE)
			break;
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			continue;
		struct inet_diag_msg *m = NLMSG_DATA(h);
		/* An exact lookup can fall back to a listener on that address and port: only the 4-tuple counts. */
		if (m->id.idiag_sport != q.req.id.idiag_sport || m->id.idiag_dport != q.req.id.idiag_dport ||
		    !same_addr(m->idiag_family, m->id.idiag_src, family, src) ||
		    !same_addr(m->idiag_family, m->id.idiag_dst, family, dst))
			return -ENOENT;
		*uid = (int)m->idiag_uid;
		*inode = m->idiag_inode;
		*state = m->idiag_state;
		return 0;
	}
	return -ENOENT;
}
