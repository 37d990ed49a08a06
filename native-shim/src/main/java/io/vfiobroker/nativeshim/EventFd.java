package io.vfiobroker.nativeshim;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

/** An eventfd: a 64-bit counter, e.g. the target of an MSI vector ({@link VfioDevice#setIrqEventFds}). */
public final class EventFd implements AutoCloseable {
    private final OwnedFd fd;

    private EventFd(OwnedFd fd) {
        this.fd = fd;
    }

    /** A new eventfd with counter {@code initial}; {@code flags} from {@link LibcAbi} (EFD_NONBLOCK, EFD_SEMAPHORE). */
    public static EventFd create(int initial, int flags) {
        return new EventFd(new OwnedFd(NativeException.check(Shim.vb_eventfd(initial, flags), "eventfd", "")));
    }

    /** Adds {@code value} to the counter, waking readers. */
    public void signal(long value) {
        Posix.write(fd.fd(), ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(value).array());
    }

    /** Reads and resets the counter (blocks while it is 0 unless EFD_NONBLOCK, which then throws EAGAIN). */
    public long read() {
        return ByteBuffer.wrap(Posix.read(fd.fd(), 8)).order(ByteOrder.nativeOrder()).getLong();
    }

    /** Waits until the counter is non-zero or the timeout passes; true if it is readable. */
    public boolean await(Duration timeout) {
        return Posix.awaitReadable(fd.fd(), (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
    }

    /** The raw eventfd. */
    public int fd() {
        return fd.fd();
    }

    @Override
    public void close() {
        fd.close();
    }
}
