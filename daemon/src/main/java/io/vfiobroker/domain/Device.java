package io.vfiobroker.domain;

import java.util.List;

/**
 * One PCI function as the host reports it. Optional facts are null when the kernel does not expose them
 * (no driver bound, no IOMMU group, not SR-IOV capable).
 */
public record Device(
        PciAddress address,
        String vendorId,
        String deviceId,
        String subsystemVendorId,
        String subsystemDeviceId,
        PciClass pciClass,
        String vendorName,
        String deviceName,
        String driver,
        String driverOverride,
        int numaNode,
        List<String> resetMethods,
        boolean bootVga,
        Integer iommuGroup,
        String iommuUnit,
        Sriov sriov,
        PciAddress physicalFunction) {

    public Device {
        resetMethods = List.copyOf(resetMethods);
    }

    public boolean isVirtualFunction() { return physicalFunction != null; }

    public boolean boundTo(String driverName) { return driverName.equals(driver); }

    public String vendorDevice() { return vendorId + ":" + deviceId; }
}
