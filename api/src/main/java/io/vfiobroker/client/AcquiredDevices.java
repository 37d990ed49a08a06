package io.vfiobroker.client;

import io.vfiobroker.api.v1.FdBundle;
import io.vfiobroker.api.v1.FdInfo;
import io.vfiobroker.api.v1.Lease;
import io.vfiobroker.nativeshim.DmaBackend;
import io.vfiobroker.nativeshim.IommuFd;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.VfioContainer;
import io.vfiobroker.nativeshim.VfioDevice;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The fds of one lease, typed; closing releases the lease and closes every fd. */
public final class AcquiredDevices implements AutoCloseable {

    private final VfioBrokerClient client;
    private final Lease lease;
    private final FdBundle bundle;
    private final List<OwnedFd> fds;
    private final List<AutoCloseable> wrappers = new ArrayList<>();
    private boolean closed;

    AcquiredDevices(VfioBrokerClient client, Lease lease, FdBundle bundle, List<OwnedFd> fds) {
        this.client = client;
        this.lease = lease;
        this.bundle = bundle;
        this.fds = List.copyOf(fds);
    }

    public Lease lease() {
        return lease;
    }

    public FdBundle bundle() {
        return bundle;
    }

    /** The raw fds, in the order of {@link FdBundle#getFdsList()}. */
    public List<OwnedFd> fds() {
        return fds;
    }

    private Optional<Integer> indexOf(FdInfo.Kind kind, String device) {
        for (int i = 0; i < bundle.getFdsCount(); i++) {
            FdInfo f = bundle.getFds(i);
            if (f.getKind() == kind && (device == null || device.equals(f.getDevice()))) return Optional.of(i);
        }
        return Optional.empty();
    }

    /** The VFIO device fd of {@code address}, as a device object. */
    public synchronized VfioDevice device(String address) {
        int i = indexOf(FdInfo.Kind.KIND_DEVICE, address).orElseThrow(() -> new BrokerException("no device fd for " + address + " in this lease"));
        VfioDevice d = new VfioDevice(fds.get(i).duplicate(), address);
        wrappers.add(d);
        return d;
    }

    /** Where DMA maps go: the legacy container, or the iommufd's IOAS. */
    public synchronized DmaBackend dma() {
        Optional<Integer> c = indexOf(FdInfo.Kind.KIND_CONTAINER, null);
        if (c.isPresent()) {
            VfioContainer container = VfioContainer.adopt(fds.get(c.get()).duplicate(), "container of lease " + lease.getId());
            wrappers.add(container);
            return container;
        }
        int i = indexOf(FdInfo.Kind.KIND_IOMMUFD, null).orElseThrow(() -> new BrokerException("lease has neither container nor iommufd"));
        IommuFd iommufd = IommuFd.adopt(fds.get(i).duplicate(), "iommufd of lease " + lease.getId());
        wrappers.add(iommufd);
        return iommufd.ioas(bundle.getFds(i).getIoasId());
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (AutoCloseable w : wrappers) {
            try {
                w.close();
            } catch (Exception ignored) {
                // closing fds the daemon will clean up anyway
            }
        }
        fds.forEach(OwnedFd::close);
        try {
            client.release(lease.getId());
        } catch (io.grpc.StatusRuntimeException e) {
            // Ended already (taken back, or ended once its fds closed): what close asks for has happened.
            if (e.getStatus().getCode() != io.grpc.Status.Code.NOT_FOUND) throw e;
        }
    }
}
