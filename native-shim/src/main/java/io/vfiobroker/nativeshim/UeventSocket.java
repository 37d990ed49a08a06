package io.vfiobroker.nativeshim;

import com.sun.jna.ptr.IntByReference;
import java.time.Duration;
import java.util.Optional;

/** A NETLINK_KOBJECT_UEVENT socket on the kernel's group: device add/remove/bind/unbind as they happen. */
public final class UeventSocket implements AutoCloseable {
    private static final int KERNEL_GROUP = 1;
    private static final int MAX_MESSAGE = 8192;

    private final OwnedFd fd;
    private final byte[] buf = new byte[MAX_MESSAGE];

    private UeventSocket(OwnedFd fd) {
        this.fd = fd;
    }

    /** Opens and binds the socket (joining the multicast group needs root in the initial net namespace). */
    public static UeventSocket open() {
        return new UeventSocket(new OwnedFd(NativeException.check(Shim.vb_uevent_open(KERNEL_GROUP),
                "socket NETLINK_KOBJECT_UEVENT", "")));
    }

    /** The next uevent from the kernel, or empty when none arrives within {@code timeout}. Not thread-safe. */
    public Optional<Uevent> receive(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            int waitMs = (int) Math.max(0, Math.min(Integer.MAX_VALUE, (deadline - System.nanoTime()) / 1_000_000));
            IntByReference sender = new IntByReference(-1);
            int n = (int) NativeException.check(Shim.vb_uevent_recv(fd.fd(), buf, buf.length, waitMs, sender),
                    "recvmsg NETLINK_KOBJECT_UEVENT", "");
            if (n == 0) {
                return Optional.empty();
            }
            if (sender.getValue() == 0) { // only the kernel (port 0) is trusted; a process could forge events
                return Optional.of(Uevent.parse(buf, n));
            }
        }
    }

    /** The raw socket fd. */
    public int fd() {
        return fd.fd();
    }

    @Override
    public void close() {
        fd.close();
    }
}
