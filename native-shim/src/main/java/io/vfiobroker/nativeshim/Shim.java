package io.vfiobroker.nativeshim;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/** JNA view of libvfiobroker_shim. Every call returns {@code >= 0} or {@code -errno} (see shim.h). */
interface Shim extends Library {
    Shim LIB = Native.load("vfiobroker_shim", Shim.class);

    int vb_shim_version();

    long vb_abi_report(byte[] buf, long cap);

    int vb_ioctl_ptr(int fd, long request, Structure arg);

    int vb_ioctl_ptr(int fd, long request, Pointer arg);

    int vb_ioctl_val(int fd, long request, long arg);

    int vb_open(String path, int flags, int mode);

    int vb_close(int fd);

    int vb_dup_cloexec(int fd);

    int vb_exec_fds(String file, String[] argv, String[] envp, int[] fds, int n);

    long vb_sysfs_snapshot(String dir, byte[] files, byte[] links, String linkPrefix, int list, byte[] out, long cap);

    long vb_read(int fd, byte[] buf, long len);

    long vb_write(int fd, byte[] buf, long len);

    long vb_pread(int fd, byte[] buf, long len, long offset);

    long vb_pwrite(int fd, byte[] buf, long len, long offset);

    int vb_poll(int[] fds, short[] events, short[] revents, int n, int timeoutMs);

    int vb_eventfd(int initval, int flags);

    int vb_lexists(String path);

    int vb_epoll_create();

    int vb_epoll_ctl(int epfd, int op, int fd, int events, long token);

    int vb_epoll_wait(int epfd, long[] tokens, int[] events, int max, int timeoutMs);

    int vb_mmap_anon(long len, PointerByReference out);

    int vb_munmap(Pointer addr, long len);

    int vb_mlock(Pointer addr, long len);

    int vb_munlock(Pointer addr, long len);

    int vb_pidfd_open(int pid, int flags);

    int vb_pidfd_send_signal(int pidfd, int sig);

    int vb_prlimit_get(int pid, int resource, LongByReference cur, LongByReference max);

    int vb_prlimit_set(int pid, int resource, long cur, long max);

    int vb_unix_listen(String path, int type, int backlog);

    int vb_unix_connect(String path, int type);

    int vb_accept(int fd);

    int vb_socketpair(int type, int[] sv);

    int vb_shutdown(int fd, int how);

    long vb_send_fds(int sock, byte[] buf, long len, int[] fds, int nfds);

    long vb_recv_fds(int sock, byte[] buf, long len, int[] fds, int maxfds, IntByReference nfds);

    int vb_peer_cred(int sock, IntByReference pid, IntByReference uid, IntByReference gid);

    int vb_peer_groups(int sock, int[] gids, int max);

    int vb_uevent_open(int groups);

    long vb_uevent_recv(int fd, byte[] buf, long len, int timeoutMs, IntByReference senderPid);
}
