package io.vfiobroker.nativeshim;

import java.nio.file.Path;

/** A VFIO group ({@code /dev/vfio/<N>}): must be viable and in a container before devices open. */
public final class VfioGroup implements AutoCloseable {
    private final OwnedFd fd;
    private final int groupId;
    private final String context;
    private boolean attached;

    private VfioGroup(OwnedFd fd, int groupId) {
        this.fd = fd;
        this.groupId = groupId;
        this.context = "group " + groupId;
    }

    /** Opens {@code /dev/vfio/<groupId>}. */
    public static VfioGroup open(int groupId) {
        return open(Path.of("/dev/vfio", Integer.toString(groupId)), groupId);
    }

    /** Opens the group node at {@code path} (e.g. under a test root). */
    public static VfioGroup open(Path path, int groupId) {
        return new VfioGroup(Posix.open(path, LibcAbi.O_RDWR), groupId);
    }

    /** The IOMMU group number. */
    public int groupId() {
        return groupId;
    }

    /** Raw VFIO_GROUP_GET_STATUS flags. */
    public int statusFlags() {
        return VfioIoctls.getStatus(fd.fd(), context).flags;
    }

    /** Whether every device of the group is bound to a VFIO-safe driver. */
    public boolean isViable() {
        return (statusFlags() & VfioAbi.VFIO_GROUP_FLAGS_VIABLE) != 0;
    }

    /** Whether the group is attached to a container. */
    public boolean isContainerSet() {
        return (statusFlags() & VfioAbi.VFIO_GROUP_FLAGS_CONTAINER_SET) != 0;
    }

    /** Attaches the group to {@code container}; error reads "VFIO_GROUP_SET_CONTAINER: EBUSY (group 7)". */
    public void setContainer(VfioContainer container) {
        VfioIoctls.setContainer(fd.fd(), container.fd(), context);
        attached = true;
    }

    /** Detaches the group from its container. */
    public void unsetContainer() {
        VfioIoctls.unsetContainer(fd.fd(), context);
        attached = false;
    }

    /** Opens a device of this group by its PCI address, e.g. {@code "0000:00:03.0"}. */
    public VfioDevice openDevice(String pciAddress) {
        int dfd = VfioIoctls.getDeviceFd(fd.fd(), pciAddress, context + ", device " + pciAddress);
        return new VfioDevice(new OwnedFd(dfd), pciAddress);
    }

    /** The raw group fd, e.g. to hand over. */
    public int fd() {
        return fd.fd();
    }

    /** Detaches from the container if attached here, then closes the group fd. */
    @Override
    public void close() {
        try {
            if (attached && fd.isOpen()) {
                unsetContainer();
            }
        } finally {
            fd.close();
        }
    }
}
