package io.vfiobroker.domain;

import java.util.List;

/** An IOMMU group: the smallest set of devices the IOMMU can isolate, hence the unit of assignment. */
public record IommuGroup(int id, List<PciAddress> devices, boolean viable, List<String> blockers) {
    public IommuGroup {
        devices = List.copyOf(devices);
        blockers = List.copyOf(blockers);
    }
}
