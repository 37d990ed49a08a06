package io.vfiobroker.nativeshim;

import io.vfiobroker.nativeshim.VfioAbi.vfio_device_info;
import io.vfiobroker.nativeshim.VfioAbi.vfio_irq_info;
import io.vfiobroker.nativeshim.VfioAbi.vfio_region_info;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Map;

/**
 * A VFIO device fd, from a group ({@link VfioGroup#openDevice}) or a cdev ({@link #openCdev}).
 * Region reads and writes go through the fd at the region's offset, little-endian as PCI is.
 */
public final class VfioDevice implements AutoCloseable {
    private final OwnedFd fd;
    private final String name;
    private final String context;
    private final Map<Integer, RegionInfo> regions = new ConcurrentHashMap<>();

    /** Takes ownership of a device fd; {@code name} (e.g. the PCI address) appears in errors. */
    public VfioDevice(OwnedFd fd, String name) {
        this.fd = fd;
        this.name = name;
        this.context = "device " + name;
    }

    /** Opens a vfio cdev such as {@code /dev/vfio/devices/vfio0}; it must be bound to an iommufd before use. */
    public static VfioDevice openCdev(Path path) {
        return new VfioDevice(Posix.open(path, LibcAbi.O_RDWR), path.getFileName().toString());
    }

    /** The name errors use (PCI address or cdev name). */
    public String name() {
        return name;
    }

    /** Device flags and region/irq counts. */
    public DeviceInfo info() {
        vfio_device_info i = VfioIoctls.getInfo(fd.fd(), context);
        return new DeviceInfo(i.flags, i.num_regions, i.num_irqs);
    }

    /** Region {@code index} (e.g. {@link VfioAbi#VFIO_PCI_BAR0_REGION_INDEX}); cached, regions do not move. */
    public RegionInfo regionInfo(int index) {
        return regions.computeIfAbsent(index, i -> {
            vfio_region_info r = VfioIoctls.getRegionInfo(fd.fd(), i, context);
            return new RegionInfo(r.index, r.flags, r.size, r.offset);
        });
    }

    /** Irq index {@code index} (e.g. {@link VfioAbi#VFIO_PCI_MSI_IRQ_INDEX}). */
    public IrqInfo irqInfo(int index) {
        vfio_irq_info r = VfioIoctls.getIrqInfo(fd.fd(), index, context);
        return new IrqInfo(r.index, r.flags, r.count);
    }

    /** Reads {@code buf.length} bytes of a region at {@code offset} into {@code buf}. */
    public void read(int region, long offset, byte[] buf) {
        long at = checkedOffset(region, offset, buf.length);
        int n = Posix.pread(fd.fd(), buf, at, where(region, offset));
        if (n != buf.length) {
            throw new IllegalStateException("short read of " + n + "/" + buf.length + " bytes at " + where(region, offset));
        }
    }

    /** Writes {@code data} into a region at {@code offset}. */
    public void write(int region, long offset, byte[] data) {
        long at = checkedOffset(region, offset, data.length);
        int n = Posix.pwrite(fd.fd(), data, at, where(region, offset));
        if (n != data.length) {
            throw new IllegalStateException("short write of " + n + "/" + data.length + " bytes at " + where(region, offset));
        }
    }

    /** Reads a little-endian 32-bit register, e.g. {@code read32(BAR0, 0)} on edu gives 0x010000ed. */
    public int read32(int region, long offset) {
        byte[] b = new byte[4];
        read(region, offset, b);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    /** Writes a little-endian 32-bit register. */
    public void write32(int region, long offset, int value) {
        write(region, offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
    }

    /** VFIO_DEVICE_RESET, so nothing one client left in the device reaches the next. */
    public void reset() {
        VfioIoctls.reset(fd.fd(), context);
    }

    /** Routes vectors 0..n-1 of {@code irqIndex} (MSI or MSI-X) to the given eventfds. */
    public void setIrqEventFds(int irqIndex, int... eventFds) {
        VfioIoctls.setIrqs(fd.fd(), VfioAbi.VFIO_IRQ_SET_DATA_EVENTFD | VfioAbi.VFIO_IRQ_SET_ACTION_TRIGGER, irqIndex, 0,
                eventFds, context + ", irq index " + irqIndex);
    }

    /** Disables every vector of {@code irqIndex} (DATA_NONE with count 0). */
    public void disableIrqs(int irqIndex) {
        VfioIoctls.setIrqs(fd.fd(), VfioAbi.VFIO_IRQ_SET_DATA_NONE | VfioAbi.VFIO_IRQ_SET_ACTION_TRIGGER, irqIndex, 0,
                new int[0], context + ", irq index " + irqIndex);
    }

    /** cdev only: binds to {@code iommufd}; returns the device id the iommufd knows it by. */
    public int bindIommufd(IommuFd iommufd) {
        return VfioIoctls.bindIommufd(fd.fd(), iommufd.fd(), context);
    }

    /** cdev only: attaches to an IOAS (or HWPT) id; returns the attached page table id. */
    public int attachIommufdPt(int ptId) {
        return VfioIoctls.attachIommufdPt(fd.fd(), ptId, context + ", pt " + ptId);
    }

    /** cdev only: detaches from its page table. */
    public void detachIommufdPt() {
        VfioIoctls.detachIommufdPt(fd.fd(), context);
    }

    /** The raw device fd, e.g. to hand over. */
    public int fd() {
        return fd.fd();
    }

    /** Closes the device fd (the kernel unbinds a cdev from its iommufd on close). */
    @Override
    public void close() {
        fd.close();
    }

    private long checkedOffset(int region, long offset, int len) {
        RegionInfo r = regionInfo(region);
        if (offset < 0 || offset + len > r.size()) {
            throw new IndexOutOfBoundsException(where(region, offset) + " + " + len + " is outside the region's "
                    + r.size() + " bytes");
        }
        return r.offset() + offset;
    }

    private String where(int region, long offset) {
        return String.format("%s, region %d offset 0x%x", context, region, offset);
    }
}
