/* One call per sysfs directory: list it, read the attributes asked for, resolve the links asked for.
 * A full inventory of an 8k-device host is ~10 syscalls per device; doing them here instead of through the
 * JVM's file APIs is what keeps the scan well under lspci's time. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "shim.h"

/* Appends tag, name, NUL, value (len bytes), NUL; returns 0 or -ENOBUFS. */
static int put(char *out, long cap, long *pos, char tag, const char *name, const char *val, long len) {
    long nlen = (long)strlen(name);
    if (*pos + 1 + nlen + 1 + len + 1 > cap) return -ENOBUFS;
    out[(*pos)++] = tag;
    memcpy(out + *pos, name, (size_t)nlen + 1);
    *pos += nlen + 1;
    memcpy(out + *pos, val, (size_t)len);
    *pos += len;
    out[(*pos)++] = '\0';
    return 0;
}

/*
 * dir: directory path. files, links: NUL-separated names, each list ended by an empty name.
 * link_prefix: entries whose name starts with it are resolved as links too ("" for none).
 * Output records: 'E' name "" (a directory entry, when list != 0), 'F' name content, 'L' name target.
 * Missing or unreadable attributes produce no record. Returns bytes written, or -errno.
 */
long vb_sysfs_snapshot(const char *dir, const char *files, const char *links, const char *link_prefix, int list,
                       char *out, long cap) {
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return -errno;
    long pos = 0;
    int rc = 0;
    char buf[4096];
    size_t plen = strlen(link_prefix);
    if (list) {
        int lfd = dup(dfd);
        DIR *d = lfd < 0 ? NULL : fdopendir(lfd);
        if (d == NULL) {
            rc = -errno;
            if (lfd >= 0) close(lfd);
            close(dfd);
            return rc;
        }
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) continue;
            rc = put(out, cap, &pos, 'E', e->d_name, "", 0);
            if (rc == 0 && plen > 0 && strncmp(e->d_name, link_prefix, plen) == 0) {
                ssize_t n = readlinkat(dfd, e->d_name, buf, sizeof buf);
                if (n > 0) rc = put(out, cap, &pos, 'L', e->d_name, buf, n);
            }
        }
        closedir(d);
    }
    for (const char *f = files; rc == 0 && *f; f += strlen(f) + 1) {
        int fd = openat(dfd, f, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        if (n < 0) continue;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) n--;
        if (memchr(buf, '\0', (size_t)n) != NULL) continue; /* binary, not a text attribute */
        rc = put(out, cap, &pos, 'F', f, buf, n);
    }
    for (const char *l = links; rc == 0 && *l; l += strlen(l) + 1) {
        ssize_t n = readlinkat(dfd, l, buf, sizeof buf);
        if (n > 0) rc = put(out, cap, &pos, 'L', l, buf, n);
    }
    close(dfd);
    return rc < 0 ? rc : pos;
}
