package io.vfiobroker.nativeshim;

/** The few libc constants the Java side passes to the shim (x86-64 Linux), checked by {@code AbiLayoutTest}. */
public final class LibcAbi {
    private LibcAbi() {
    }

    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_TRUNC = 01000;
    public static final int O_NONBLOCK = 04000;

    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;

    public static final int POLLIN = 0x001;
    public static final int POLLOUT = 0x004;
    public static final int POLLERR = 0x008;
    public static final int POLLHUP = 0x010;
    public static final int POLLNVAL = 0x020;

    public static final int EFD_NONBLOCK = 04000;
    public static final int EFD_SEMAPHORE = 1;

    public static final int EPOLLIN = 0x001;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;

    public static final int RLIMIT_MEMLOCK = 8;
    /** All ones: "unlimited". */
    public static final long RLIM_INFINITY = -1L;

    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;
}
