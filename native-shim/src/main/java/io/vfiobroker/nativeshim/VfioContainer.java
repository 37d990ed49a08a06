package io.vfiobroker.nativeshim;

import io.vfiobroker.nativeshim.VfioAbi.vfio_iommu_type1_dma_map;
import io.vfiobroker.nativeshim.VfioAbi.vfio_iommu_type1_dma_unmap;
import java.nio.file.Path;

/** A legacy VFIO container ({@code /dev/vfio/vfio}): groups attach to it, DMA maps go through it. */
public final class VfioContainer implements DmaBackend, AutoCloseable {
    public static final Path DEFAULT_PATH = Path.of("/dev/vfio/vfio");

    private final OwnedFd fd;
    private final String context;

    private VfioContainer(OwnedFd fd, String context) {
        this.fd = fd;
        this.context = context;
    }

    /** Wraps a container fd received from the broker (groups already attached, IOMMU already set). */
    public static VfioContainer adopt(OwnedFd fd, String context) {
        return new VfioContainer(fd, context);
    }

    /** Opens {@code /dev/vfio/vfio} and checks the API version. */
    public static VfioContainer open() {
        return open(DEFAULT_PATH);
    }

    /** Opens the container node at {@code path} and checks the API version. */
    public static VfioContainer open(Path path) {
        OwnedFd fd = Posix.open(path, LibcAbi.O_RDWR);
        VfioContainer c = new VfioContainer(fd, "container " + path);
        try {
            int v = VfioIoctls.getApiVersion(fd.fd(), c.context);
            if (v != VfioAbi.VFIO_API_VERSION) {
                throw new IllegalStateException(path + " speaks VFIO API " + v + ", expected " + VfioAbi.VFIO_API_VERSION);
            }
            return c;
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    /** Whether the kernel offers an IOMMU model or extension, e.g. {@link VfioAbi#VFIO_TYPE1v2_IOMMU}. */
    public boolean checkExtension(int extension) {
        return VfioIoctls.checkExtension(fd.fd(), extension, context);
    }

    /** Selects the IOMMU model; needs at least one group attached. EPERM = unsafe interrupts refused. */
    public void setIommu(int type) {
        VfioIoctls.setIommu(fd.fd(), type, context);
    }

    @Override
    public void map(long vaddr, long iova, long size, boolean writable) {
        vfio_iommu_type1_dma_map m = new vfio_iommu_type1_dma_map();
        m.flags = VfioAbi.VFIO_DMA_MAP_FLAG_READ | (writable ? VfioAbi.VFIO_DMA_MAP_FLAG_WRITE : 0);
        m.vaddr = vaddr;
        m.iova = iova;
        m.size = size;
        VfioIoctls.mapDma(fd.fd(), m, context + String.format(", iova 0x%x size 0x%x", iova, size));
    }

    @Override
    public long unmap(long iova, long size) {
        vfio_iommu_type1_dma_unmap u = new vfio_iommu_type1_dma_unmap();
        u.iova = iova;
        u.size = size;
        VfioIoctls.unmapDma(fd.fd(), u, context + String.format(", iova 0x%x size 0x%x", iova, size));
        return u.size;
    }

    @Override
    public String kind() {
        return "vfio-type1";
    }

    /** The raw container fd, e.g. to hand over with {@link UnixSockets#sendFds}. */
    public int fd() {
        return fd.fd();
    }

    /** Closes the container; the kernel drops its mappings and detaches remaining groups. */
    @Override
    public void close() {
        fd.close();
    }
}
