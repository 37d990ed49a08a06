package io.vfiobroker.policy;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;

import java.util.List;
import java.util.Map;

/**
 * Selector facts read from the host, for pools (device plugin and DRA): PF netdev names from sysfs, VF indices
 * from the inventory, and the drivers vfio-broker replaced, from the binding journal (a pool that selects "iavf"
 * VFs must keep them after they moved to vfio-pci).
 */
public record HostSelectorFacts(SysfsHost host, HostInventory inventory, Map<PciAddress, String> driversBefore) implements SelectorFacts {

    @Override
    public Map<String, DeviceSelector> labels() {
        return Map.of();
    }

    @Override
    public String driverBefore(Device d) {
        return driversBefore.containsKey(d.address()) ? driversBefore.get(d.address()) : d.driver();
    }

    @Override
    public boolean namesPf(PciAddress pf, String name) {
        return SelectorFacts.super.namesPf(pf, name) || host.list("sys/bus/pci/devices/" + pf + "/net").contains(name);
    }

    @Override
    public int vfIndex(Device vf) {
        return inventory.device(vf.physicalFunction())
                .map(p -> p.sriov() == null ? List.<PciAddress>of() : p.sriov().virtualFunctions())
                .orElse(List.of()).indexOf(vf.address());
    }
}
