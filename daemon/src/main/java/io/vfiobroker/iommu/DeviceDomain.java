package io.vfiobroker.iommu;

import io.vfiobroker.domain.Backend;

import java.util.List;

/**
 * An IOMMU domain the daemon opened for a lease: the fds to hand over, in order, and what the daemon must do
 * when the lease ends (reset the devices, then close its own copies).
 */
public interface DeviceDomain extends AutoCloseable {

    Backend backend();

    List<HandoverFd> fds();

    /** VFIO_DEVICE_RESET on every device that supports it; returns a line per device for the audit log. */
    List<String> resetDevices();

    @Override
    void close();

    /**
     * A domain whose end needs no VFIO call (the demo host's files, stand-ins, a domain taken back): resetting
     * reports {@code resets}, closing closes the fds and then runs {@code onClose}.
     */
    static DeviceDomain of(Backend backend, List<HandoverFd> fds, java.util.function.Supplier<List<String>> resets, Runnable onClose) {
        return new DeviceDomain() {
            @Override
            public Backend backend() {
                return backend;
            }

            @Override
            public List<HandoverFd> fds() {
                return fds;
            }

            @Override
            public List<String> resetDevices() {
                return resets.get();
            }

            @Override
            public void close() {
                fds.forEach(f -> f.fd().close());
                onClose.run();
            }
        };
    }

    /**
     * A domain taken back after a daemon restart: the client holds the fds, the daemon none, so there is nothing
     * to close and no device fd to reset through.
     */
    static DeviceDomain adopted(Backend backend) {
        return of(backend, List.of(), () -> List.of("no reset: the daemon restarted during this lease and holds no device fd"), () -> { });
    }
}
