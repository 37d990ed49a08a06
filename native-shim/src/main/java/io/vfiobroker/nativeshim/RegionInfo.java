package io.vfiobroker.nativeshim;

/** One device region (BAR, ROM, config space): where it sits in the device fd and what it allows. */
public record RegionInfo(int index, int flags, long size, long offset) {
    /** Whether the region can be read through the device fd. */
    public boolean readable() {
        return (flags & VfioAbi.VFIO_REGION_INFO_FLAG_READ) != 0;
    }

    /** Whether the region can be written through the device fd. */
    public boolean writable() {
        return (flags & VfioAbi.VFIO_REGION_INFO_FLAG_WRITE) != 0;
    }

    /** Whether the region may be mmap()ed from the device fd. */
    public boolean mappable() {
        return (flags & VfioAbi.VFIO_REGION_INFO_FLAG_MMAP) != 0;
    }
}
