package io.vfiobroker.iommu;

import io.vfiobroker.nativeshim.OwnedFd;

import java.util.List;

/** One fd the daemon hands to a client, with what it is. */
public record HandoverFd(Kind kind, OwnedFd fd, String device, int group, int ioasId, List<Region> regions) {

    public enum Kind { CONTAINER, GROUP, DEVICE, IOMMUFD }

    /** A VFIO region of a device fd (BARs, config space), as VFIO_DEVICE_GET_REGION_INFO reports it. */
    public record Region(int index, int flags, long size, long offset) {
    }

    public HandoverFd {
        regions = List.copyOf(regions);
    }
}
