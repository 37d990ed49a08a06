package io.vfiobroker.domain;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/** A consistent snapshot of the host's PCI devices, IOMMU groups, IOMMU units and VFIO support. */
public record HostInventory(List<Device> devices, List<IommuGroup> groups, List<IommuUnit> iommuUnits,
                            KernelSupport kernel) {
    public HostInventory {
        devices = List.copyOf(devices);
        groups = List.copyOf(groups);
        iommuUnits = List.copyOf(iommuUnits);
    }

    public Optional<Device> device(PciAddress address) {
        return devices.stream().filter(d -> d.address().equals(address)).findFirst();
    }

    public Optional<IommuGroup> group(int id) {
        return groups.stream().filter(g -> g.id() == id).findFirst();
    }

    public Map<PciAddress, Device> byAddress() {
        return devices.stream().collect(Collectors.toMap(Device::address, Function.identity()));
    }
}
