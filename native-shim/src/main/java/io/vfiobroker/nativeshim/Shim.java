package io.vfiobroker.nativeshim;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

/**
 * JNA view of libvfiobroker_shim. Every call returns {@code >= 0} or {@code -errno} (see shim.h). Direct mapping
 * (static natives bound once): a lease cycle makes dozens of these calls, and interface mapping's proxy and
 * per-call argument conversion cost more than most of the syscalls behind them.
 */
final class Shim {
    static {
        Native.register(Shim.class, NativeLibrary.getInstance("vfiobroker_shim"));
    }

    private Shim() {
    }

    static native int vb_shim_version();

    static native long vb_abi_report(byte[] buf, long cap);

    static native int vb_ioctl_ptr(int fd, long request, Structure arg);

    static native int vb_ioctl_ptr(int fd, long request, Pointer arg);

    static native int vb_ioctl_val(int fd, long request, long arg);

    static native int vb_open(String path, int flags, int mode);

    static native int vb_close(int fd);

    static native int vb_dup_cloexec(int fd);

    static native long vb_sysfs_snapshot(String dir, byte[] files, byte[] links, String linkPrefix, int list, byte[] out, long cap);

    static native long vb_read(int fd, byte[] buf, long len);

    static native long vb_write(int fd, byte[] buf, long len);

    static native long vb_pread(int fd, byte[] buf, long len, long offset);

    static native long vb_pwrite(int fd, byte[] buf, long len, long offset);

    static native int vb_poll(int[] fds, short[] events, short[] revents, int n, int timeoutMs);

    static native int vb_eventfd(int initval, int flags);

    static native int vb_lexists(String path);

    static native int vb_epoll_create();

    static native int vb_epoll_ctl(int epfd, int op, int fd, int events, long token);

    static native int vb_epoll_wait(int epfd, long[] tokens, int[] events, int max, int timeoutMs);

    static native int vb_mmap_anon(long len, PointerByReference out);

    static native int vb_munmap(Pointer addr, long len);

    static native int vb_mlock(Pointer addr, long len);

    static native int vb_munlock(Pointer addr, long len);

    static native int vb_pidfd_open(int pid, int flags);

    static native int vb_pidfd_send_signal(int pidfd, int sig);

    static native int vb_kcmp_file(int pid1, int pid2, int fd1, int fd2);

    static native long vb_fd_scan(String proc, byte[] targets, int skipPid, byte[] out, long cap);

    static native int vb_peer_pidfd(int sock);

    static native int vb_prlimit_get(int pid, int resource, LongByReference cur, LongByReference max);

    static native int vb_prlimit_set(int pid, int resource, long cur, long max);

    static native int vb_unix_listen(String path, int type, int backlog);

    static native int vb_unix_connect(String path, int type);

    static native int vb_accept(int fd);

    static native int vb_accept_nonblock(int fd);

    static native int vb_set_nonblock(int fd, int on);

    static native int vb_socketpair(int type, int[] sv);

    static native int vb_shutdown(int fd, int how);

    static native long vb_send_fds(int sock, byte[] buf, long len, int[] fds, int nfds);

    static native long vb_recv_fds(int sock, byte[] buf, long len, int[] fds, int maxfds, IntByReference nfds);

    static native int vb_peer_cred(int sock, IntByReference pid, IntByReference uid, IntByReference gid);

    static native int vb_peer_groups(int sock, int[] gids, int max);

    static native int vb_inet_diag_tcp(int family, byte[] src, int sport, byte[] dst, int dport, IntByReference uid, LongByReference inode,
                                       IntByReference state);

    static native int vb_uevent_open(int groups);

    static native long vb_uevent_recv(int fd, byte[] buf, long len, int timeoutMs, IntByReference senderPid);

    /** Interface-mapped: direct mapping cannot pass a String[] (argv, envp). */
    interface Exec extends Library {
        Exec LIB = Native.load("vfiobroker_shim", Exec.class);

        int vb_exec_fds(String file, String[] argv, String[] envp, int[] fds, int n);
    }
}
