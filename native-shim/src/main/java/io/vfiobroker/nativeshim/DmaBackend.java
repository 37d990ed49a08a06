package io.vfiobroker.nativeshim;

/** Where DMA mappings go: a legacy type1 container or an iommufd IOAS. */
public interface DmaBackend {
    /** Maps {@code size} bytes of this process's memory at {@code vaddr} to device address {@code iova}. */
    void map(long vaddr, long iova, long size, boolean writable);

    /** Removes the mapping(s) covering {@code [iova, iova + size)}; returns the bytes unmapped. */
    long unmap(long iova, long size);

    /** "vfio-type1" or "iommufd", for reports. */
    String kind();
}
