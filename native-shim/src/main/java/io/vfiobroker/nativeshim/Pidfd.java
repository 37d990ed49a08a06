package io.vfiobroker.nativeshim;

import java.time.Duration;

/** A pidfd: a handle on one process that cannot be confused with a later process reusing the pid. */
public final class Pidfd implements AutoCloseable {
    private final OwnedFd fd;
    private final long pid;

    private Pidfd(OwnedFd fd, long pid) {
        this.fd = fd;
        this.pid = pid;
    }

    /** pidfd_open(2); ESRCH if no such process. Take it while the peer's socket is still open. */
    public static Pidfd open(long pid) {
        return new Pidfd(new OwnedFd(NativeException.check(Shim.vb_pidfd_open((int) pid, 0), "pidfd_open",
                "pid " + pid)), pid);
    }

    /**
     * The pidfd of the process that connected to {@code socketFd} (SO_PEERPIDFD, Linux 6.5+), or null where the kernel
     * has no such option (ENOPROTOOPT, EINVAL).
     */
    public static Pidfd ofPeer(int socketFd, long pid) {
        int r = Shim.vb_peer_pidfd(socketFd);
        if (r == -Errno.ENOPROTOOPT || r == -Errno.EINVAL) return null;
        return new Pidfd(new OwnedFd(NativeException.check(r, "SO_PEERPIDFD", "fd " + socketFd)), pid);
    }

    /** The pid this handle was opened for. */
    public long pid() {
        return pid;
    }

    /** Waits until the process exits or the timeout passes; true if it exited. */
    public boolean awaitExit(Duration timeout) {
        return Posix.awaitReadable(fd.fd(), (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    }

    /** Whether the process has exited already (does not block). */
    public boolean hasExited() {
        return Posix.awaitReadable(fd.fd(), 0);
    }

    /** pidfd_send_signal(2): signals exactly this process, e.g. {@link LibcAbi#SIGKILL}. */
    public void sendSignal(int signal) {
        NativeException.check(Shim.vb_pidfd_send_signal(fd.fd(), signal), "pidfd_send_signal", "pid " + pid);
    }

    /** The raw pidfd, to poll together with other fds. */
    public int fd() {
        return fd.fd();
    }

    @Override
    public void close() {
        fd.close();
    }
}
