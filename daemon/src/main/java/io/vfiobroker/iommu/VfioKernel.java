package io.vfiobroker.iommu;

import io.vfiobroker.nativeshim.DeviceInfo;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.RegionInfo;

import java.nio.file.Path;

/**
 * The VFIO and iommufd calls an IOMMU domain is built from, one method per call, named after the ioctl in
 * linux/vfio.h and linux/iommufd.h. A refusal is a {@code NativeException} naming the call and the kernel's errno
 * ({@code "VFIO_SET_IOMMU: EPERM (container /dev/vfio/vfio)"}). Two implementations: {@link LinuxVfioKernel} (the
 * native shim, on a real /dev) and {@link VfioKernelModel} (kernel state in memory, for the demo host and tests).
 */
public interface VfioKernel {

    /** A container fd ({@code /dev/vfio/vfio}); {@code name} is what errors about it say. */
    record Container(OwnedFd fd, String name) {
    }

    /** A group fd ({@code /dev/vfio/N}). */
    record Group(OwnedFd fd, int id) {
        public String name() {
            return "group " + id;
        }
    }

    /** A device fd, from a group or a vfio cdev; {@code name} is its PCI address or cdev name. */
    record Device(OwnedFd fd, String name) {
    }

    /** An iommufd ({@code /dev/iommu}). */
    record IommuFd(OwnedFd fd, String name) {
    }

    /** open(2) of the container node. */
    Container openContainer(Path node);

    /** open(2) of a group node; a group has one open file at a time (EBUSY). */
    Group openGroup(Path node, int group);

    /** open(2) of {@code /dev/iommu}. */
    IommuFd openIommufd(Path node);

    /** open(2) of a vfio cdev ({@code /dev/vfio/devices/vfioN}); usable once bound to an iommufd. */
    Device openCdev(Path node);

    /** dup(2): a second fd for the same open file, e.g. to hand over; the file lives until both are closed. */
    OwnedFd dup(OwnedFd fd);

    /** VFIO_GET_API_VERSION. */
    int getApiVersion(Container c);

    /** VFIO_CHECK_EXTENSION, e.g. VFIO_TYPE1v2_IOMMU. */
    boolean checkExtension(Container c, int extension);

    /** VFIO_GROUP_GET_STATUS: the VFIO_GROUP_FLAGS_* bits. */
    int groupGetStatus(Group g);

    /** VFIO_GROUP_SET_CONTAINER. */
    void groupSetContainer(Group g, Container c);

    /** VFIO_GROUP_UNSET_CONTAINER. */
    void groupUnsetContainer(Group g);

    /** VFIO_SET_IOMMU: needs a group in the container; EPERM when interrupts are not isolated and the switch is off. */
    void setIommu(Container c, int type);

    /** VFIO_GROUP_GET_DEVICE_FD by PCI address. */
    Device groupGetDeviceFd(Group g, String address);

    /** VFIO_DEVICE_GET_INFO. */
    DeviceInfo deviceGetInfo(Device d);

    /** VFIO_DEVICE_GET_REGION_INFO. */
    RegionInfo deviceGetRegionInfo(Device d, int index);

    /** VFIO_DEVICE_RESET. */
    void deviceReset(Device d);

    /** VFIO_IOMMU_MAP_DMA with VFIO_DMA_MAP_FLAG_* {@code flags}; pins against the caller's RLIMIT_MEMLOCK. */
    void iommuMapDma(Container c, long vaddr, long iova, long size, int flags);

    /** IOMMU_OPTION(IOMMU_OPTION_RLIMIT_MODE) set: per-process (true) or per-user accounting. */
    void iommuOptionRlimitMode(IommuFd fd, boolean perProcess);

    /** IOMMU_IOAS_ALLOC: the new IOAS id. */
    int ioasAlloc(IommuFd fd);

    /** IOMMU_IOAS_MAP at a fixed IOVA with IOMMU_IOAS_MAP_* {@code flags}. */
    void ioasMap(IommuFd fd, int ioas, long vaddr, long iova, long length, int flags);

    /** VFIO_DEVICE_BIND_IOMMUFD: the device id in that iommufd. */
    int deviceBindIommufd(Device d, IommuFd fd);

    /** VFIO_DEVICE_ATTACH_IOMMUFD_PT: the attached page table id. */
    int deviceAttachIommufdPt(Device d, int ptId);
}
