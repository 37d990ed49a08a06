package io.vfiobroker.iommu;

import java.util.List;

/**
 * An IOMMU domain the daemon opened for a lease: the fds to hand over, in order, and what the daemon must do
 * when the lease ends (reset the devices, then close its own copies).
 */
public interface DeviceDomain extends AutoCloseable {

    String backend();

    List<HandoverFd> fds();

    /** VFIO_DEVICE_RESET on every device that supports it; returns a line per device for the audit log. */
    List<String> resetDevices();

    @Override
    void close();

    /**
     * A domain taken back after a daemon restart: the client holds the fds, the daemon none, so there is nothing
     * to close and no device fd to reset through.
     */
    static DeviceDomain adopted(String backend) {
        return new DeviceDomain() {
            @Override
            public String backend() {
                return backend;
            }

            @Override
            public List<HandoverFd> fds() {
                return List.of();
            }

            @Override
            public List<String> resetDevices() {
                return List.of("no reset: the daemon restarted during this lease and holds no device fd");
            }

            @Override
            public void close() {
            }
        };
    }
}
