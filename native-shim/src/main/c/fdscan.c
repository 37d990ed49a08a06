/* Who holds a file: one pass over every process's fd links, done here because a lease end pays for it and the
 * JVM's per-link Path and String objects doubled its cost. The kernel's readlink of each /proc fd link remains. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

static int all_digits(const char *s) {
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/*
 * proc: the proc mount. targets: NUL-separated link texts, ended by an empty one. skip_pid: a process not to look
 * into (the caller). Writes one line "PID FD INDEX\n" per fd whose link is targets[INDEX]. Processes and fds that
 * vanish meanwhile are skipped. Returns bytes written, -ENOBUFS when out is too small, or -errno for proc itself.
 */
long vb_fd_scan(const char *proc, const char *targets, int skip_pid, char *out, long cap) {
	const char *t[64];
	size_t tlen[64];
	int nt = 0;
	for (const char *p = targets; *p && nt < 64; p += strlen(p) + 1) {
		t[nt] = p;
		tlen[nt++] = strlen(p);
	}
	DIR *pd = opendir(proc);
	if (!pd)
		return -errno;
	long pos = 0;
	int rc = 0;
	struct dirent *pe;
	char link[4096];
	while (rc == 0 && (pe = readdir(pd))) {
		if (!all_digits(pe->d_name) || atoi(pe->d_name) == skip_pid)
			continue;
		char path[4200];
		snprintf(path, sizeof path, "%s/%s/fd", proc, pe->d_name);
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		DIR *fd = fdopendir(dfd);
		if (!fd) {
			close(dfd);
			continue;
		}
		struct dirent *fe;
		while ((fe = readdir(fd))) {
			if (fe->d_name[0] == '.')
				continue;
			ssize_t n = readlinkat(dfd, fe->d_name, link, sizeof link - 1);
			if (n < 0)
				continue;
			for (int i = 0; i < nt; i++) {
				if ((size_t)n != tlen[i] || memcmp(link, t[i], (size_t)n) != 0)
					continue;
				int w = snprintf(out + pos, pos < cap ? (size_t)(cap - pos) : 0, "%s %s %d\n", pe->d_name, fe->d_name, i);
				if (w < 0 || pos + w >= cap) {
					rc = -ENOBUFS;
				} else {
					pos += w;
				}
				break;
			}
			if (rc)
				break;
		}
		closedir(fd);
	}
	closedir(pd);
	return rc ? rc : pos;
}
