package io.vfiobroker.nativeshim;

import io.vfiobroker.nativeshim.IommufdAbi.iommu_iova_range;
import java.nio.file.Path;
import java.util.List;

/** An iommufd ({@code /dev/iommu}): owns IO address spaces that vfio cdevs attach to. */
public final class IommuFd implements AutoCloseable {
    public static final Path DEFAULT_PATH = Path.of("/dev/iommu");

    private final OwnedFd fd;
    private final String context;

    private IommuFd(OwnedFd fd, String context) {
        this.fd = fd;
        this.context = context;
    }

    /** Wraps an iommufd received from the broker. */
    public static IommuFd adopt(OwnedFd fd, String context) {
        return new IommuFd(fd, context);
    }

    /** An IOAS the broker already allocated in this iommufd (closing it destroys it). */
    public Ioas ioas(int id) {
        return new Ioas(this, id);
    }

    /** Opens {@code /dev/iommu}. */
    public static IommuFd open() {
        return open(DEFAULT_PATH);
    }

    /** Opens the iommufd node at {@code path}. */
    public static IommuFd open(Path path) {
        return new IommuFd(Posix.open(path, LibcAbi.O_RDWR), "iommufd " + path);
    }

    /**
     * Per-process (true) or per-user (false, the default) RLIMIT_MEMLOCK accounting. Needs
     * CAP_SYS_RESOURCE and an iommufd with no objects yet, so call it right after {@link #open}.
     */
    public void setRlimitMode(boolean perProcess) {
        IommufdIoctls.setOption(fd.fd(), IommufdAbi.IOMMU_OPTION_RLIMIT_MODE, 0, perProcess ? 1 : 0, context);
    }

    /** Whether accounting is per process (see {@link #setRlimitMode}). */
    public boolean isRlimitModePerProcess() {
        return IommufdIoctls.getOption(fd.fd(), IommufdAbi.IOMMU_OPTION_RLIMIT_MODE, 0, context) == 1;
    }

    /** Allocates an IO address space; closing the returned object destroys it. */
    public Ioas allocIoas() {
        return new Ioas(this, IommufdIoctls.ioasAlloc(fd.fd(), context));
    }

    /** The raw iommufd, e.g. to hand over (QEMU takes it as {@code -object iommufd,fd=N}). */
    public int fd() {
        return fd.fd();
    }

    String context() {
        return context;
    }

    /** Closes the iommufd; the kernel destroys every object in it. */
    @Override
    public void close() {
        fd.close();
    }

    /** One IOAS of an iommufd, used as a {@link DmaBackend} with fixed IOVAs. */
    public static final class Ioas implements DmaBackend, AutoCloseable {
        private final IommuFd owner;
        private final int id;
        private boolean destroyed;

        private Ioas(IommuFd owner, int id) {
            this.owner = owner;
            this.id = id;
        }

        /** The IOAS id, for {@link VfioDevice#attachIommufdPt}. */
        public int id() {
            return id;
        }

        /** IOVA ranges currently allowed for mapping. */
        public List<iommu_iova_range> iovaRanges() {
            return IommufdIoctls.ioasIovaRanges(owner.fd(), id, ctx());
        }

        @Override
        public void map(long vaddr, long iova, long size, boolean writable) {
            IommufdAbi.iommu_ioas_map m = new IommufdAbi.iommu_ioas_map();
            m.flags = IommufdAbi.IOMMU_IOAS_MAP_FIXED_IOVA | IommufdAbi.IOMMU_IOAS_MAP_READABLE
                    | (writable ? IommufdAbi.IOMMU_IOAS_MAP_WRITEABLE : 0);
            m.ioas_id = id;
            m.user_va = vaddr;
            m.length = size;
            m.iova = iova;
            IommufdIoctls.ioasMap(owner.fd(), m, ctx() + String.format(", iova 0x%x size 0x%x", iova, size));
        }

        @Override
        public long unmap(long iova, long size) {
            IommufdAbi.iommu_ioas_unmap u = new IommufdAbi.iommu_ioas_unmap();
            u.ioas_id = id;
            u.iova = iova;
            u.length = size;
            IommufdIoctls.ioasUnmap(owner.fd(), u, ctx() + String.format(", iova 0x%x size 0x%x", iova, size));
            return u.length;
        }

        @Override
        public String kind() {
            return "iommufd";
        }

        /** Destroys the IOAS (fails with EBUSY while a device is still attached). */
        @Override
        public void close() {
            if (!destroyed && owner.fd.isOpen()) {
                IommufdIoctls.destroy(owner.fd(), id, ctx());
            }
            destroyed = true;
        }

        private String ctx() {
            return owner.context() + ", ioas " + id;
        }
    }
}
