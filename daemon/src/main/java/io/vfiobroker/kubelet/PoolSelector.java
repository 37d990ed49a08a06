package io.vfiobroker.kubelet;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;

import java.util.List;
import java.util.Map;

/** Evaluates a pool's selectors against the host, the way sriov-network-device-plugin reads its own. */
public final class PoolSelector {

    private final SysfsHost host;

    public PoolSelector(SysfsHost host) {
        this.host = host;
    }

    /**
     * @param originalDrivers drivers of devices vfio-broker bound, from the binding journal: a pool that selects
     *                        "iavf" VFs must keep them after they moved to vfio-pci
     */
    public boolean matches(PoolConfig.Selectors s, Device d, HostInventory inv, Map<PciAddress, String> originalDrivers) {
        if (!s.vendors().isEmpty() && !s.vendors().contains(d.vendorId())) return false;
        if (!s.devices().isEmpty() && !s.devices().contains(d.deviceId())) return false;
        if (!s.addresses().isEmpty() && !s.addresses().contains(d.address().toString())) return false;
        if (!s.numaNodes().isEmpty() && !s.numaNodes().contains(d.numaNode())) return false;
        if (!s.drivers().isEmpty()) {
            String drv = originalDrivers.containsKey(d.address()) ? originalDrivers.get(d.address()) : d.driver();
            if (drv == null || !s.drivers().contains(drv)) return false;
        }
        if (!s.pfNames().isEmpty()) {
            if (d.physicalFunction() == null) return false;
            if (s.pfNames().stream().noneMatch(p -> pfMatches(p, d, inv))) return false;
        }
        return true;
    }

    private boolean pfMatches(String entry, Device vf, HostInventory inv) {
        String name = entry;
        int lo = 0;
        int hi = Integer.MAX_VALUE;
        int hash = entry.indexOf('#');
        if (hash >= 0) {
            name = entry.substring(0, hash);
            String[] range = entry.substring(hash + 1).split("-", 2);
            try {
                lo = Integer.parseInt(range[0].strip());
                hi = range.length > 1 ? Integer.parseInt(range[1].strip()) : lo;
            } catch (NumberFormatException e) {
                return false;
            }
        }
        PciAddress pf = vf.physicalFunction();
        boolean named = name.equalsIgnoreCase(pf.toString())
                || host.list("sys/bus/pci/devices/" + pf + "/net").contains(name);
        if (!named) return false;
        if (hash < 0) return true;
        List<PciAddress> vfs = inv.device(pf).map(p -> p.sriov() == null ? List.<PciAddress>of() : p.sriov().virtualFunctions()).orElse(List.of());
        int index = vfs.indexOf(vf.address());
        return index >= lo && index <= hi;
    }
}
