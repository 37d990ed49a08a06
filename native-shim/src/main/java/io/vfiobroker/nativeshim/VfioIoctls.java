package io.vfiobroker.nativeshim;

import static io.vfiobroker.nativeshim.NativeException.check;
import static io.vfiobroker.nativeshim.VfioAbi.*;

import com.sun.jna.Memory;
import io.vfiobroker.nativeshim.VfioAbi.vfio_device_attach_iommufd_pt;
import io.vfiobroker.nativeshim.VfioAbi.vfio_device_bind_iommufd;
import io.vfiobroker.nativeshim.VfioAbi.vfio_device_detach_iommufd_pt;
import io.vfiobroker.nativeshim.VfioAbi.vfio_device_info;
import io.vfiobroker.nativeshim.VfioAbi.vfio_group_status;
import io.vfiobroker.nativeshim.VfioAbi.vfio_iommu_type1_dma_map;
import io.vfiobroker.nativeshim.VfioAbi.vfio_iommu_type1_dma_unmap;
import io.vfiobroker.nativeshim.VfioAbi.vfio_irq_info;
import io.vfiobroker.nativeshim.VfioAbi.vfio_irq_set;
import io.vfiobroker.nativeshim.VfioAbi.vfio_region_info;

/**
 * The VFIO ioctls, in kernel order, one line each: raw fds and kernel structs in, the result out,
 * {@code -errno} turned into a {@link NativeException} naming the ioctl and {@code context} ("group 7").
 */
public final class VfioIoctls {

    private VfioIoctls() {
    }

    /** Container: the API version, {@link VfioAbi#VFIO_API_VERSION} on every kernel so far. */
    public static int getApiVersion(int container, String context) {
        return check(Shim.vb_ioctl_val(container, VFIO_GET_API_VERSION, 0), "VFIO_GET_API_VERSION", context);
    }

    /** Container: whether an extension such as {@link VfioAbi#VFIO_TYPE1v2_IOMMU} is supported. */
    public static boolean checkExtension(int container, int extension, String context) {
        return check(Shim.vb_ioctl_val(container, VFIO_CHECK_EXTENSION, extension), "VFIO_CHECK_EXTENSION", context) > 0;
    }

    /** Container: select the IOMMU model; EPERM here is type1 refusing unsafe interrupts. */
    public static void setIommu(int container, int type, String context) {
        check(Shim.vb_ioctl_val(container, VFIO_SET_IOMMU, type), "VFIO_SET_IOMMU", context);
    }

    /** Group: fills {@code status.flags} (viable, container set). */
    public static vfio_group_status getStatus(int group, String context) {
        vfio_group_status s = new vfio_group_status();
        check(Shim.vb_ioctl_ptr(group, VFIO_GROUP_GET_STATUS, s), "VFIO_GROUP_GET_STATUS", context);
        return s;
    }

    /** Group: attach to a container (the kernel reads the container fd through a pointer). */
    public static void setContainer(int group, int container, String context) {
        try (Memory m = new Memory(4)) {
            m.setInt(0, container);
            check(Shim.vb_ioctl_ptr(group, VFIO_GROUP_SET_CONTAINER, m), "VFIO_GROUP_SET_CONTAINER", context);
        }
    }

    /** Group: detach from its container. */
    public static void unsetContainer(int group, String context) {
        check(Shim.vb_ioctl_val(group, VFIO_GROUP_UNSET_CONTAINER, 0), "VFIO_GROUP_UNSET_CONTAINER", context);
    }

    /** Group: a new device fd for {@code name}, the PCI address such as {@code "0000:00:03.0"}. */
    public static int getDeviceFd(int group, String name, String context) {
        byte[] bytes = (name + "\0").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        try (Memory m = new Memory(bytes.length)) {
            m.write(0, bytes, 0, bytes.length);
            return check(Shim.vb_ioctl_ptr(group, VFIO_GROUP_GET_DEVICE_FD, m), "VFIO_GROUP_GET_DEVICE_FD", context);
        }
    }

    /** Device: flags, number of regions and irqs. */
    public static vfio_device_info getInfo(int device, String context) {
        vfio_device_info i = new vfio_device_info();
        check(Shim.vb_ioctl_ptr(device, VFIO_DEVICE_GET_INFO, i), "VFIO_DEVICE_GET_INFO", context);
        return i;
    }

    /** Device: size, flags and fd offset of region {@code index}. */
    public static vfio_region_info getRegionInfo(int device, int index, String context) {
        vfio_region_info r = new vfio_region_info();
        r.index = index;
        check(Shim.vb_ioctl_ptr(device, VFIO_DEVICE_GET_REGION_INFO, r), "VFIO_DEVICE_GET_REGION_INFO", context);
        return r;
    }

    /** Device: flags and vector count of irq {@code index}. */
    public static vfio_irq_info getIrqInfo(int device, int index, String context) {
        vfio_irq_info r = new vfio_irq_info();
        r.index = index;
        check(Shim.vb_ioctl_ptr(device, VFIO_DEVICE_GET_IRQ_INFO, r), "VFIO_DEVICE_GET_IRQ_INFO", context);
        return r;
    }

    /** Device: VFIO_DEVICE_SET_IRQS with {@code fds.length} s32 values (eventfds, or -1 to detach) as data. */
    public static void setIrqs(int device, int flags, int index, int start, int[] fds, String context) {
        int header = new vfio_irq_set().size();
        try (Memory m = new Memory(header + 4L * Math.max(fds.length, 1))) {
            vfio_irq_set s = new vfio_irq_set(m);
            s.argsz = header + 4 * fds.length;
            s.flags = flags;
            s.index = index;
            s.start = start;
            s.count = fds.length;
            s.write();
            m.write(header, fds, 0, fds.length);
            check(Shim.vb_ioctl_ptr(device, VFIO_DEVICE_SET_IRQS, m), "VFIO_DEVICE_SET_IRQS", context);
        }
    }

    /** Device: function-level (or other) reset. */
    public static void reset(int device, String context) {
        check(Shim.vb_ioctl_val(device, VFIO_DEVICE_RESET, 0), "VFIO_DEVICE_RESET", context);
    }

    /** Container: map user memory at {@code vaddr} to {@code iova}; charges the caller's RLIMIT_MEMLOCK. */
    public static void mapDma(int container, vfio_iommu_type1_dma_map map, String context) {
        check(Shim.vb_ioctl_ptr(container, VFIO_IOMMU_MAP_DMA, map), "VFIO_IOMMU_MAP_DMA", context);
    }

    /** Container: unmap; the kernel writes back the byte count it unmapped into {@code size}. */
    public static void unmapDma(int container, vfio_iommu_type1_dma_unmap unmap, String context) {
        check(Shim.vb_ioctl_ptr(container, VFIO_IOMMU_UNMAP_DMA, unmap), "VFIO_IOMMU_UNMAP_DMA", context);
    }

    /** Device cdev: bind to an iommufd; returns the device id ({@code out_devid}). */
    public static int bindIommufd(int device, int iommufd, String context) {
        vfio_device_bind_iommufd b = new vfio_device_bind_iommufd();
        b.iommufd = iommufd;
        check(Shim.vb_ioctl_ptr(device, VFIO_DEVICE_BIND_IOMMUFD, b), "VFIO_DEVICE_BIND_IOMMUFD", context);
        return b.out_devid;
    }

    /** Device cdev: attach to an IOAS or HWPT; returns the pt id the kernel attached (may be a new HWPT). */
    public static int attachIommufdPt(int device, int ptId, String context) {
        vfio_device_attach_iommufd_pt a = new vfio_device_attach_iommufd_pt();
        a.pt_id = ptId;
        check(Shim.vb_ioctl_ptr(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, a), "VFIO_DEVICE_ATTACH_IOMMUFD_PT", context);
        return a.pt_id;
    }

    /** Device cdev: detach from its page table (DMA blocked afterwards). */
    public static void detachIommufdPt(int device, String context) {
        vfio_device_detach_iommufd_pt d = new vfio_device_detach_iommufd_pt();
        check(Shim.vb_ioctl_ptr(device, VFIO_DEVICE_DETACH_IOMMUFD_PT, d), "VFIO_DEVICE_DETACH_IOMMUFD_PT", context);
    }
}
