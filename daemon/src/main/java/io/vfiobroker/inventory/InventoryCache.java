package io.vfiobroker.inventory;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.domain.IommuUnit;
import io.vfiobroker.domain.KernelSupport;
import io.vfiobroker.domain.PciAddress;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The inventory kept current device by device: one full scan at start, then only the functions a uevent (or the
 * daemon's own binding) names are read again. Groups are derived from the cached devices on demand.
 */
public final class InventoryCache {

    /** What one refresh changed; {@code before} or {@code after} is null when the device appeared or went. */
    public record Change(PciAddress address, Device before, Device after) {
        public boolean changed() {
            return before == null ? after != null : !before.equals(after);
        }
    }

    private final InventoryScanner scanner;
    private final ConcurrentSkipListMap<PciAddress, Device> devices = new ConcurrentSkipListMap<>();
    private volatile List<IommuUnit> units = List.of();
    private volatile KernelSupport kernel;

    public InventoryCache(InventoryScanner scanner) {
        this.scanner = scanner;
        rescan();
    }

    /** Reads everything again (start-up, and an admin's explicit request). */
    public synchronized HostInventory rescan() {
        HostInventory inv = scanner.scan();
        devices.clear();
        for (Device d : inv.devices()) devices.put(d.address(), d);
        units = inv.iommuUnits();
        kernel = inv.kernel();
        return inv;
    }

    /** Reads one function again; removes it when sysfs no longer has it. */
    public synchronized Change refresh(PciAddress a) {
        Device before = devices.get(a);
        Device after = scanner.device(a).orElse(null);
        if (after == null) devices.remove(a);
        else devices.put(a, after);
        return new Change(a, before, after);
    }

    /** Forgets a function the kernel said is gone (without asking sysfs, which may lag the uevent). */
    public synchronized Change remove(PciAddress a) {
        return new Change(a, devices.remove(a), null);
    }

    public Optional<Device> device(PciAddress a) {
        return Optional.ofNullable(devices.get(a));
    }

    public List<Device> devices() {
        return List.copyOf(devices.values());
    }

    /** Virtual functions the cache knows for {@code pf}. */
    public List<PciAddress> virtualFunctionsOf(PciAddress pf) {
        return devices.values().stream().filter(d -> pf.equals(d.physicalFunction())).map(Device::address).toList();
    }

    public List<IommuGroup> groups() {
        Map<PciAddress, Device> by = new TreeMap<>(devices);
        Map<Integer, List<PciAddress>> members = new TreeMap<>();
        for (Device d : by.values()) {
            if (d.iommuGroup() != null) members.computeIfAbsent(d.iommuGroup(), k -> new ArrayList<>()).add(d.address());
        }
        List<IommuGroup> out = new ArrayList<>();
        members.forEach((id, m) -> out.add(InventoryScanner.group(id, m, by)));
        return out;
    }

    public List<IommuUnit> iommuUnits() {
        return units;
    }

    public KernelSupport kernel() {
        return kernel;
    }

    public HostInventory snapshot() {
        return new HostInventory(devices(), groups(), units, kernel);
    }
}
