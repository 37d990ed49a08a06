package io.vfiobroker.nativeshim;

/** A file descriptor this process owns: closed exactly once, by {@link #close()} unless {@link #release()}d. */
public final class OwnedFd implements AutoCloseable {
    private int fd;

    public OwnedFd(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        this.fd = fd;
    }

    /** The raw fd number; throws once closed or released. */
    public int fd() {
        if (fd < 0) {
            throw new IllegalStateException("file descriptor already closed or released");
        }
        return fd;
    }

    /** Whether the fd is still held. */
    public boolean isOpen() {
        return fd >= 0;
    }

    /** Gives up ownership without closing, e.g. after handing the fd to another owner. */
    public int release() {
        int f = fd();
        fd = -1;
        return f;
    }

    /** A second, independent close-on-exec fd for the same open file. */
    public OwnedFd duplicate() {
        return new OwnedFd(NativeException.check(Shim.vb_dup_cloexec(fd()), "dup", "fd " + fd));
    }

    /** Closes the fd; a second call does nothing. */
    @Override
    public void close() {
        if (fd >= 0) {
            int f = fd;
            fd = -1;
            NativeException.check(Shim.vb_close(f), "close", "fd " + f);
        }
    }

    @Override
    public String toString() {
        return fd >= 0 ? "fd " + fd : "fd (closed)";
    }
}
