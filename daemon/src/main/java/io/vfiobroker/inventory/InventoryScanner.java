package io.vfiobroker.inventory;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.domain.KernelSupport;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.domain.PciClass;
import io.vfiobroker.domain.Sriov;
import io.vfiobroker.host.DirSnapshot;
import io.vfiobroker.host.SysfsHost;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ForkJoinPool;

/** Reads the host's PCI devices, IOMMU groups and IOMMU units the way the kernel lays them out in sysfs. */
public final class InventoryScanner {

    public static final String VFIO_PCI = "vfio-pci";
    private static final Set<String> GROUP_FRIENDLY_DRIVERS = Set.of(VFIO_PCI, "pci-stub");
    private static final String DEVICES = "sys/bus/pci/devices/";
    private final SysfsHost host;
    private final PciIds ids;
    private final Platforms platforms;

    public InventoryScanner(SysfsHost host, PciIds ids) {
        this.host = host;
        this.ids = ids;
        this.platforms = new Platforms(host);
    }

    public SysfsHost host() {
        return host;
    }

    public HostInventory scan() {
        List<PciAddress> addresses = deviceAddresses();
        Map<String, String> unitOf = deviceUnits();
        // Each device is a handful of small reads: spread them over the cores, keep the output ordered.
        List<Device> devices = addresses.size() < 64
                ? addresses.stream().map(a -> readDevice(a, unitOf)).toList()
                : ForkJoinPool.commonPool().submit(() -> addresses.parallelStream().map(a -> readDevice(a, unitOf)).toList()).join();
        Platforms.Platform p = platforms.read(true);
        return new HostInventory(devices, groups(devices), p.units(), p.kernel());
    }

    /** One device, or empty when the host has no such function. */
    public Optional<Device> device(PciAddress address) {
        // One device: its own iommu link is cheaper than listing every unit's devices (which a full scan amortizes).
        return snapshot(address).map(snap -> readDevice(address, snap, Map.of()));
    }

    private Optional<DirSnapshot> snapshot(PciAddress address) {
        Optional<DirSnapshot> snap = host.snapshot(DEVICES + address, DEVICE_FILES, DEVICE_LINKS);
        // A PF's virtfnN links are 0..sriov_numvfs-1: read by name, so no device directory is listed (a VF has none).
        int numVfs = snap.map(s -> s.files().get("sriov_numvfs")).map(InventoryScanner::parseIntOr).orElse(0);
        if (numVfs <= 0) return snap;
        List<String> virtfns = new ArrayList<>(numVfs);
        for (int i = 0; i < numVfs; i++) virtfns.add("virtfn" + i);
        Map<String, String> links = new java.util.HashMap<>(snap.get().links());
        host.snapshot(DEVICES + address, List.of(), virtfns).ifPresent(v -> links.putAll(v.links()));
        return Optional.of(new DirSnapshot(snap.get().files(), links));
    }

    /**
     * The part of the inventory one device's decisions need: the device, its IOMMU group mates, every IOMMU unit
     * and the kernel's support. A full scan per Acquire costs as much as the host is large.
     */
    public Optional<HostInventory> around(PciAddress address) {
        Optional<Device> d = knownDevice(address);
        if (d.isEmpty()) return Optional.empty();
        List<Device> devices = new ArrayList<>();
        if (d.get().iommuGroup() == null) {
            devices.add(d.get());
        } else {
            for (String n : host.list("sys/kernel/iommu_groups/" + d.get().iommuGroup() + "/devices")) {
                if (!PciAddress.isValid(n)) continue;
                PciAddress a = PciAddress.parse(n);
                if (a.equals(address)) devices.add(d.get());
                else knownDevice(a).ifPresent(devices::add);
            }
            if (devices.stream().noneMatch(x -> x.address().equals(address))) devices.add(d.get());
        }
        Platforms.Platform p = platforms.read(false);
        return Optional.of(new HostInventory(devices, groups(devices), p.units(), p.kernel()));
    }

    // Acquire reads its device and the group mates every time. Most of a device's facts change only when the
    // device is re-created, which gives it a new sysfs directory; its driver changes with bind and unbind. So a
    // read is reused while the directory's identity and the driver link are unchanged (two syscalls instead of
    // a directory snapshot), and for at most a second, for the few attributes root may write (numa_node,
    // reset_method, driver_override).
    private static final long KNOWN_TTL_NS = 1_000_000_000L;

    private record Known(Object identity, String driverLink, long readAt, Device device) {
    }

    private final Map<PciAddress, Known> known = new java.util.concurrent.ConcurrentHashMap<>();

    private Optional<Device> knownDevice(PciAddress address) {
        Optional<Object> identity = host.identity(DEVICES + address);
        if (identity.isEmpty()) {
            known.remove(address);
            return device(address);
        }
        String driver = host.linkTarget(DEVICES + address + "/driver").orElse(null);
        long now = System.nanoTime();
        Known k = known.get(address);
        if (k != null && k.identity().equals(identity.get()) && java.util.Objects.equals(k.driverLink(), driver) && now - k.readAt() < KNOWN_TTL_NS) {
            return Optional.of(k.device());
        }
        Optional<Device> d = device(address);
        // Read after the checks: a change between them makes the next call miss, never a stale hit.
        if (d.isPresent()) known.put(address, new Known(identity.get(), driver, now, d.get()));
        else known.remove(address);
        return d;
    }

    public List<PciAddress> deviceAddresses() {
        return host.list("sys/bus/pci/devices").stream()
                .filter(PciAddress::isValid) // the kernel writes nothing else here; anything odd is not ours to read
                .map(PciAddress::parse)
                .sorted()
                .toList();
    }

    /** Device name to IOMMU unit, from each unit's devices/ directory: one listing instead of a link per device. */
    private Map<String, String> deviceUnits() {
        Map<String, String> unitOf = new java.util.HashMap<>();
        for (String unit : host.list("sys/class/iommu")) {
            for (String dev : host.list("sys/class/iommu/" + unit + "/devices")) unitOf.put(dev, unit);
        }
        return unitOf;
    }

    private static final List<String> DEVICE_FILES = List.of("uevent", "driver_override", "numa_node", "reset_method", "boot_vga",
            "sriov_totalvfs", "sriov_numvfs");
    private static final List<String> DEVICE_LINKS = List.of("iommu_group", "physfn");
    // Only when uevent lacks the ids (old kernels, hand-made trees): the same facts one attribute at a time.
    private static final List<String> ID_FILES = List.of("vendor", "device", "subsystem_vendor", "subsystem_device", "class");
    private static final List<String> ID_LINKS = List.of("driver", "iommu");

    private Device readDevice(PciAddress address, Map<String, String> unitOf) {
        return readDevice(address, snapshot(address).orElse(new DirSnapshot(Map.of(), Map.of())), unitOf);
    }

    private Device readDevice(PciAddress address, DirSnapshot snap, Map<String, String> unitOf) {
        Map<String, String> f = snap.files();
        Map<String, String> l = snap.links();
        String vendor;
        String device;
        String subVendor = null;
        String subDevice = null;
        int classCode;
        String driver;
        // The kernel's uevent carries ids, class and driver together (and, unlike config space, a VF's real ids).
        Map<String, String> uevent = keyValues(f.getOrDefault("uevent", ""));
        String pciId = uevent.get("PCI_ID");
        if (pciId != null && pciId.length() == 9) {
            vendor = pciId.substring(0, 4).toLowerCase();
            device = pciId.substring(5).toLowerCase();
            String subsys = uevent.get("PCI_SUBSYS_ID");
            if (subsys != null && subsys.length() == 9) {
                subVendor = subsys.substring(0, 4).toLowerCase();
                subDevice = subsys.substring(5).toLowerCase();
            }
            classCode = parseHex(uevent.getOrDefault("PCI_CLASS", "0"));
            driver = uevent.get("DRIVER");
        } else {
            DirSnapshot ids = host.snapshot(DEVICES + address, ID_FILES, ID_LINKS).orElse(snap);
            f = ids.files();
            l = new java.util.HashMap<>(snap.links());
            l.putAll(ids.links());
            f = merge(snap.files(), f);
            vendor = hexId(Optional.ofNullable(f.get("vendor")));
            device = hexId(Optional.ofNullable(f.get("device")));
            subVendor = hexId(Optional.ofNullable(f.get("subsystem_vendor")));
            subDevice = hexId(Optional.ofNullable(f.get("subsystem_device")));
            classCode = Optional.ofNullable(f.get("class")).map(InventoryScanner::parseHex).orElse(0);
            driver = lastComponent(l.get("driver"));
        }
        final Map<String, String> links = l;
        String override = Optional.ofNullable(f.get("driver_override")).filter(s -> !s.isEmpty() && !s.equals("(null)")).orElse(null);
        int numa = Optional.ofNullable(f.get("numa_node")).map(InventoryScanner::parseIntOr).orElse(-1);
        List<String> reset = Optional.ofNullable(f.get("reset_method")).filter(s -> !s.isBlank()).map(s -> List.of(s.split("\\s+"))).orElse(List.of());
        boolean bootVga = "1".equals(f.get("boot_vga"));
        Integer group = Optional.ofNullable(lastComponent(l.get("iommu_group"))).map(InventoryScanner::parseIntOrNull).orElse(null);
        String unit = unitOf.get(address.toString());
        if (unit == null && group != null) {
            // Not listed under any /sys/class/iommu/*/devices: ask the device's own link.
            unit = lastComponent(host.linkTarget(DEVICES + address + "/iommu").orElse(null));
        }
        Sriov sriov = null;
        if (f.containsKey("sriov_totalvfs")) {
            List<PciAddress> vfs = links.keySet().stream().filter(e -> e.startsWith("virtfn"))
                    .sorted((a, b) -> Integer.compare(parseIntOr(a.substring(6)), parseIntOr(b.substring(6))))
                    .map(e -> lastComponent(links.get(e)))
                    .filter(PciAddress::isValid).map(PciAddress::parse)
                    .toList();
            sriov = new Sriov(parseIntOr(f.get("sriov_totalvfs")), Optional.ofNullable(f.get("sriov_numvfs")).map(InventoryScanner::parseIntOr).orElse(0), vfs);
        }
        String pf = lastComponent(l.get("physfn"));
        PciAddress physfn = PciAddress.isValid(pf) ? PciAddress.parse(pf) : null;
        return new Device(address, vendor, device, subVendor, subDevice, new PciClass(classCode),
                vendor == null ? null : ids.vendor(vendor).orElse(null),
                vendor == null || device == null ? null : ids.device(vendor, device).orElse(null),
                driver, override, numa, reset, bootVga, group, unit, sriov, physfn);
    }

    private static Map<String, String> merge(Map<String, String> a, Map<String, String> b) {
        Map<String, String> m = new java.util.HashMap<>(a);
        m.putAll(b);
        return m;
    }

    private static String lastComponent(String linkTarget) {
        if (linkTarget == null) return null;
        int slash = linkTarget.lastIndexOf('/');
        return slash < 0 ? linkTarget : linkTarget.substring(slash + 1);
    }

    private static Map<String, String> keyValues(String text) {
        Map<String, String> m = new java.util.HashMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) m.put(line.substring(0, eq), line.substring(eq + 1));
        }
        return m;
    }

    /** Groups from the devices' iommu_group links, which the kernel keeps in step with /sys/kernel/iommu_groups. */
    private List<IommuGroup> groups(List<Device> devices) {
        Map<PciAddress, Device> byAddress = new java.util.HashMap<>();
        Map<Integer, List<PciAddress>> members = new TreeMap<>();
        for (Device d : devices) {
            byAddress.put(d.address(), d);
            if (d.iommuGroup() != null) members.computeIfAbsent(d.iommuGroup(), k -> new ArrayList<>()).add(d.address());
        }
        List<IommuGroup> groups = new ArrayList<>(members.size());
        members.forEach((id, list) -> groups.add(group(id, list, byAddress)));
        return groups;
    }

    public static IommuGroup group(int id, Collection<PciAddress> members, Map<PciAddress, Device> byAddress) {
        List<String> blockers = new ArrayList<>();
        for (PciAddress a : members) {
            Device d = byAddress.get(a);
            if (d == null) continue; // not a PCI function (the kernel can group other buses too)
            String why = viabilityBlocker(d);
            if (why != null) blockers.add(why);
        }
        return new IommuGroup(id, List.copyOf(members), blockers.isEmpty() && !members.isEmpty(), blockers);
    }

    /**
     * Why this device keeps its group from being usable through VFIO, or null. The kernel's rule: every member
     * is bound to a VFIO driver, to an allowed stub, or to nothing; a PCI bridge may keep its port driver.
     */
    public static String viabilityBlocker(Device d) {
        if (d.driver() == null || GROUP_FRIENDLY_DRIVERS.contains(d.driver())) return null;
        if (d.pciClass().isPciBridge() && "pcieport".equals(d.driver())) return null;
        return d.address() + " is bound to " + d.driver();
    }

    public KernelSupport kernelSupport() {
        return platforms.kernelSupport();
    }

    private static String hexId(Optional<String> raw) {
        return raw.map(s -> s.startsWith("0x") ? s.substring(2) : s).map(String::toLowerCase).orElse(null);
    }

    private static int parseHex(String s) {
        try {
            return Integer.parseUnsignedInt(s.startsWith("0x") ? s.substring(2) : s, 16);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static int parseIntOr(String s) {
        try {
            return Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static Integer parseIntOrNull(String s) {
        try {
            return Integer.valueOf(s.strip());
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
