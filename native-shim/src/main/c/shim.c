/* vfio-broker native shim: generic ioctl, file and memory calls. See shim.h for the convention. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

int vb_shim_version(void) { return 2; }

/* Ioctl numbers live on the Java side (VfioAbi, IommufdAbi) and are checked against vb_abi_report. */
int vb_ioctl_ptr(int fd, unsigned long request, void *arg) { return (int)VB_RET(ioctl(fd, request, arg)); }

int vb_ioctl_val(int fd, unsigned long request, unsigned long arg) { return (int)VB_RET(ioctl(fd, request, arg)); }

/* O_CLOEXEC always: the daemon must never leak a device fd into a child it spawns. */
int vb_open(const char *path, int flags, int mode) { return (int)VB_RET(open(path, flags | O_CLOEXEC, mode)); }

int vb_close(int fd) { return (int)VB_RET(close(fd)); }

int vb_dup_cloexec(int fd) { return (int)VB_RET(fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

long vb_read(int fd, void *buf, unsigned long len) { return VB_RET(read(fd, buf, len)); }

long vb_write(int fd, const void *buf, unsigned long len) { return VB_RET(write(fd, buf, len)); }

long vb_pread(int fd, void *buf, unsigned long len, long offset) { return VB_RET(pread(fd, buf, len, offset)); }

long vb_pwrite(int fd, const void *buf, unsigned long len, long offset) { return VB_RET(pwrite(fd, buf, len, offset)); }

/* Waits for any of n fds; revents[i] is filled in. Returns the number of ready fds, 0 on timeout. */
int vb_poll(const int *fds, const short *events, short *revents, int n, int timeout_ms) {
	struct pollfd p[64];
	if (n < 0 || n > 64)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		p[i].fd = fds[i];
		p[i].events = events[i];
		p[i].revents = 0;
	}
	int r;
	do {
		r = poll(p, (nfds_t)n, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (int i = 0; i < n; i++)
		revents[i] = p[i].revents;
	return r;
}

int vb_eventfd(unsigned int initval, int flags) { return (int)VB_RET(eventfd(initval, flags | EFD_CLOEXEC)); }

/* 1 if the path names anything (a dangling link too), 0 if not; no exception on the Java side for a miss. */
int vb_lexists(const char *path) {
	struct stat st;
	if (lstat(path, &st) == 0)
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

int vb_epoll_create(void) { return (int)VB_RET(epoll_create1(EPOLL_CLOEXEC)); }

/* struct epoll_event is packed on x86-64: the caller passes its fields, never the struct. */
int vb_epoll_ctl(int epfd, int op, int fd, unsigned int events, uint64_t token) {
	struct epoll_event ev = {.events = events, .data.u64 = token};
	return (int)VB_RET(epoll_ctl(epfd, op, fd, &ev));
}

/* Waits for up to max (<= 64) events; token[i] and events[i] are filled in. Returns the count, 0 on timeout. */
int vb_epoll_wait(int epfd, uint64_t *tokens, unsigned int *events, int max, int timeout_ms) {
	struct epoll_event ev[64];
	if (max < 1 || max > 64)
		return -EINVAL;
	int r;
	do {
		r = epoll_wait(epfd, ev, max, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (int i = 0; i < r; i++) {
		tokens[i] = ev[i].data.u64;
		events[i] = ev[i].events;
	}
	return r;
}

/* Anonymous private memory, e.g. a DMA buffer. The address comes back through *out. */
int vb_mmap_anon(unsigned long len, void **out) {
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

int vb_munmap(void *addr, unsigned long len) { return (int)VB_RET(munmap(addr, len)); }

int vb_mlock(const void *addr, unsigned long len) { return (int)VB_RET(mlock(addr, len)); }

int vb_munlock(const void *addr, unsigned long len) { return (int)VB_RET(munlock(addr, len)); }
