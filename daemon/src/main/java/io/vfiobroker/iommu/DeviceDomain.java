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
}
