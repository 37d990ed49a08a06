package io.vfiobroker.dra;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.IommuUnit;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.nodeplugin.DeviceHealth;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.policy.SelectorFacts;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the DRA driver offers, per pool, as the scheduler will see it: each device a pool's selectors match that can
 * be handed over (it has an IOMMU group), with the attributes a DeviceClass or claim selects on. Values are String,
 * Long or Boolean, as a DeviceAttribute carries them. A device that left the host is not offered; one the kernel keeps
 * from being handed over ({@link DeviceHealth}: no IOMMU group, a group no longer viable, iommufd gone) is withdrawn
 * until it can be again. Withdrawn rather than tainted: device taints are behind a feature gate, and an allocation
 * already made stands either way.
 */
public final class SliceDevices {

    /** One device of a slice: its DNS-label name and attributes (insertion order is the wire order). */
    public record Entry(String name, Map<String, Object> attributes) {
        public Entry {
            attributes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(attributes));
        }
    }

    /**
     * @param pools     the devices of every configured pool, keyed by DRA pool name ({@code <node>-<pool>}), in config order
     * @param withdrawn the pools' devices not offered now, "pool/device" to why
     */
    public record Offer(Map<String, List<Entry>> pools, Map<String, String> withdrawn) {
        public Offer {
            pools = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(pools));
            withdrawn = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(withdrawn));
        }
    }

    private final DraProperties props;
    private final DeviceProvisioning core;

    public SliceDevices(DraProperties props, DeviceProvisioning core) {
        this.props = props;
        this.core = core;
    }

    /** The devices of every configured pool, keyed by DRA pool name ({@code <node>-<pool>}), pools in config order. */
    public Map<String, List<Entry>> of(HostInventory inv, Map<PciAddress, String> originalDrivers) {
        return offer(inv, originalDrivers).pools();
    }

    public Offer offer(HostInventory inv, Map<PciAddress, String> originalDrivers) {
        Map<String, IommuUnit> units = new LinkedHashMap<>();
        for (IommuUnit u : inv.iommuUnits()) units.put(u.name(), u);
        Map<String, List<Entry>> out = new LinkedHashMap<>();
        Map<String, String> withdrawn = new LinkedHashMap<>();
        SelectorFacts facts = core.selectorFacts(inv, originalDrivers);
        for (PoolConfig pool : props.pools()) {
            List<Entry> devices = new ArrayList<>();
            for (Device d : inv.devices()) {
                if (!pool.selectors().matches(d, facts, null)) continue;
                String problem = DeviceHealth.problem(pool, d, inv, core.deviceNodes());
                if (problem != null) {
                    withdrawn.put(props.poolName(pool) + "/" + DraDriver.deviceName(d.address()), problem);
                    continue;
                }
                devices.add(new Entry(DraDriver.deviceName(d.address()), attributes(d, inv, units, originalDrivers)));
            }
            out.put(props.poolName(pool), List.copyOf(devices));
        }
        return new Offer(out, withdrawn);
    }

    static Map<String, Object> attributes(Device d, HostInventory inv, Map<String, IommuUnit> units, Map<PciAddress, String> originalDrivers) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("pciAddress", d.address().toString());
        a.put("vendorId", d.vendorId());
        a.put("deviceId", d.deviceId());
        if (d.pciClass() != null) a.put("class", String.format("0x%06x", d.pciClass().code()));
        if (d.numaNode() >= 0) a.put("numaNode", (long) d.numaNode());
        a.put("iommuGroup", (long) d.iommuGroup());
        PciAddress pf = d.physicalFunction();
        if (pf != null) {
            a.put("pfAddress", pf.toString());
            inv.device(pf).map(Device::sriov).ifPresent(s -> {
                int i = s.virtualFunctions().indexOf(d.address());
                if (i >= 0) a.put("vfIndex", (long) i);
            });
        }
        IommuUnit unit = d.iommuUnit() == null ? null : units.get(d.iommuUnit());
        a.put("interruptRemapping", unit != null && unit.interruptRemapping() == InterruptRemapping.SUPPORTED);
        // The driver the device had before vfio-pci: what a claim's selector means by "an iavf VF".
        String driver = originalDrivers.containsKey(d.address()) ? originalDrivers.get(d.address()) : d.driver();
        if (driver != null && !driver.equals("vfio-pci")) a.put("driver", driver);
        return a;
    }
}
