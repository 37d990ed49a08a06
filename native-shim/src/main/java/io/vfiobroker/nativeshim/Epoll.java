package io.vfiobroker.nativeshim;

/**
 * An epoll instance. Unlike poll(2), other threads may add and remove fds while one waits, so a watcher thread
 * needs no wake-up when its set changes. Each fd is registered with a caller-chosen 64-bit token.
 */
public final class Epoll implements AutoCloseable {

    /** What one wait returned: {@code count} tokens (and their event masks) at the front of the arrays. */
    public record Ready(int count, long[] tokens, int[] events) {
    }

    private final OwnedFd fd;

    private Epoll(OwnedFd fd) {
        this.fd = fd;
    }

    public static Epoll create() {
        return new Epoll(new OwnedFd(NativeException.check(Shim.vb_epoll_create(), "epoll_create1", "")));
    }

    /** EPOLL_CTL_ADD of {@code target} for {@code events} (LibcAbi.EPOLLIN), reported with {@code token}. */
    public void add(int target, int events, long token) {
        NativeException.check(Shim.vb_epoll_ctl(fd.fd(), LibcAbi.EPOLL_CTL_ADD, target, events, token), "epoll_ctl ADD", "fd " + target);
    }

    /** EPOLL_CTL_DEL of {@code target}; call it before closing an fd another thread may be waiting on. */
    public void remove(int target) {
        NativeException.check(Shim.vb_epoll_ctl(fd.fd(), LibcAbi.EPOLL_CTL_DEL, target, 0, 0), "epoll_ctl DEL", "fd " + target);
    }

    /** Waits up to {@code timeoutMs} (-1: forever) for at most {@code max} (1..64) ready fds. */
    public Ready await(int max, int timeoutMs) {
        long[] tokens = new long[max];
        int[] events = new int[max];
        int n = NativeException.check(Shim.vb_epoll_wait(fd.fd(), tokens, events, max, timeoutMs), "epoll_wait", "");
        return new Ready(n, tokens, events);
    }

    public int fd() {
        return fd.fd();
    }

    @Override
    public void close() {
        fd.close();
    }
}
