package io.vfiobroker.inventory;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.domain.IommuUnit;
import io.vfiobroker.domain.KernelSupport;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.domain.PciClass;
import io.vfiobroker.domain.Sriov;
import io.vfiobroker.host.SysfsHost;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Collectors;

/** Reads the host's PCI devices, IOMMU groups and IOMMU units the way the kernel lays them out in sysfs. */
public final class InventoryScanner {

    public static final String VFIO_PCI = "vfio-pci";
    private static final Set<String> GROUP_FRIENDLY_DRIVERS = Set.of(VFIO_PCI, "pci-stub");
    private static final String DEVICES = "sys/bus/pci/devices/";
    // Intel VT-d extended capability register, bit 3: Interrupt Remapping support.
    private static final long INTEL_ECAP_IR = 1L << 3;

    private final SysfsHost host;
    private final PciIds ids;

    public InventoryScanner(SysfsHost host, PciIds ids) {
        this.host = host;
        this.ids = ids;
    }

    public SysfsHost host() {
        return host;
    }

    public HostInventory scan() {
        List<PciAddress> addresses = deviceAddresses();
        // Each device is a dozen small reads: spread them over the cores, keep the output ordered.
        List<Device> devices = addresses.size() < 64
                ? addresses.stream().map(this::readDevice).toList()
                : ForkJoinPool.commonPool().submit(() -> addresses.parallelStream().map(this::readDevice).toList()).join();
        KernelSupport kernel = kernelSupport();
        return new HostInventory(devices, groups(devices), iommuUnits(kernel), kernel);
    }

    /** One device, or empty when the host has no such function. */
    public Optional<Device> device(PciAddress address) {
        if (!host.exists(DEVICES + address)) return Optional.empty();
        return Optional.of(readDevice(address));
    }

    public List<PciAddress> deviceAddresses() {
        return host.list("sys/bus/pci/devices").stream()
                .filter(PciAddress::isValid) // the kernel writes nothing else here; anything odd is not ours to read
                .map(PciAddress::parse)
                .sorted()
                .toList();
    }

    public Device readDevice(PciAddress address) {
        String dir = DEVICES + address + "/";
        Set<String> entries = new HashSet<>(host.list(dir.substring(0, dir.length() - 1)));
        String vendor = hexId(host.read(dir + "vendor"));
        String device = hexId(host.read(dir + "device"));
        String subVendor = entries.contains("subsystem_vendor") ? hexId(host.read(dir + "subsystem_vendor")) : null;
        String subDevice = entries.contains("subsystem_device") ? hexId(host.read(dir + "subsystem_device")) : null;
        int classCode = host.read(dir + "class").map(InventoryScanner::parseHex).orElse(0);
        String driver = entries.contains("driver") ? host.linkName(dir + "driver").orElse(null) : null;
        String override = entries.contains("driver_override")
                ? host.read(dir + "driver_override").filter(s -> !s.isEmpty() && !s.equals("(null)")).orElse(null)
                : null;
        int numa = entries.contains("numa_node") ? host.read(dir + "numa_node").map(InventoryScanner::parseIntOr).orElse(-1) : -1;
        List<String> reset = entries.contains("reset_method")
                ? host.read(dir + "reset_method").map(s -> List.of(s.split("\\s+"))).orElse(List.of())
                : List.of();
        boolean bootVga = entries.contains("boot_vga") && host.read(dir + "boot_vga").map("1"::equals).orElse(false);
        Integer group = entries.contains("iommu_group")
                ? host.linkName(dir + "iommu_group").map(InventoryScanner::parseIntOrNull).orElse(null)
                : null;
        String unit = entries.contains("iommu") ? host.linkName(dir + "iommu").orElse(null) : null;
        Sriov sriov = null;
        if (entries.contains("sriov_totalvfs")) {
            List<PciAddress> vfs = entries.stream().filter(e -> e.startsWith("virtfn"))
                    .sorted((a, b) -> Integer.compare(parseIntOr(a.substring(6)), parseIntOr(b.substring(6))))
                    .map(e -> host.linkName(dir + e).filter(PciAddress::isValid).map(PciAddress::parse).orElse(null))
                    .filter(java.util.Objects::nonNull)
                    .toList();
            sriov = new Sriov(host.read(dir + "sriov_totalvfs").map(InventoryScanner::parseIntOr).orElse(0),
                    host.read(dir + "sriov_numvfs").map(InventoryScanner::parseIntOr).orElse(0), vfs);
        }
        PciAddress physfn = entries.contains("physfn")
                ? host.linkName(dir + "physfn").filter(PciAddress::isValid).map(PciAddress::parse).orElse(null)
                : null;
        return new Device(address, vendor, device, subVendor, subDevice, new PciClass(classCode),
                vendor == null ? null : ids.vendor(vendor).orElse(null),
                vendor == null || device == null ? null : ids.device(vendor, device).orElse(null),
                driver, override, numa, reset, bootVga, group, unit, sriov, physfn);
    }

    private List<IommuGroup> groups(List<Device> devices) {
        Map<PciAddress, Device> byAddress = devices.stream()
                .collect(Collectors.toMap(Device::address, d -> d, (a, b) -> a, LinkedHashMap::new));
        Map<Integer, List<PciAddress>> members = new TreeMap<>();
        for (String name : host.list("sys/kernel/iommu_groups")) {
            Integer id = parseIntOrNull(name);
            if (id == null) continue;
            List<PciAddress> list = host.list("sys/kernel/iommu_groups/" + name + "/devices").stream()
                    .filter(PciAddress::isValid).map(PciAddress::parse).sorted().toList();
            members.put(id, list);
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

    private List<IommuUnit> iommuUnits(KernelSupport kernel) {
        List<IommuUnit> units = new ArrayList<>();
        for (String name : host.list("sys/class/iommu").stream().sorted().toList()) {
            String dir = "sys/class/iommu/" + name + "/";
            if (host.exists(dir + "intel-iommu")) {
                Map<String, String> regs = new LinkedHashMap<>();
                for (String r : List.of("version", "cap", "ecap", "address")) {
                    host.read(dir + "intel-iommu/" + r).ifPresent(v -> regs.put(r, v));
                }
                String ecap = regs.get("ecap");
                InterruptRemapping ir;
                String evidence;
                if (ecap == null) {
                    ir = InterruptRemapping.UNKNOWN;
                    evidence = "intel-iommu/ecap unreadable";
                } else if ((parseHexLong(ecap) & INTEL_ECAP_IR) != 0) {
                    ir = InterruptRemapping.SUPPORTED;
                    evidence = "intel-iommu/ecap 0x" + ecap + " has IR (bit 3) set";
                } else {
                    ir = InterruptRemapping.UNSUPPORTED;
                    evidence = "intel-iommu/ecap 0x" + ecap + " has IR (bit 3) clear";
                }
                units.add(new IommuUnit(name, "intel-vt-d", ir, evidence, regs));
            } else if (host.exists(dir + "amd-iommu")) {
                Map<String, String> regs = new LinkedHashMap<>();
                for (String r : List.of("cap", "features")) {
                    host.read(dir + "amd-iommu/" + r).ifPresent(v -> regs.put(r, v));
                }
                // AMD-Vi exposes no IR bit in sysfs; the kernel's IR-* interrupt chips are the evidence.
                InterruptRemapping ir = kernel.interruptRemappingChipsSeen() ? InterruptRemapping.SUPPORTED : InterruptRemapping.UNKNOWN;
                String evidence = kernel.interruptRemappingChipsSeen()
                        ? "IR- interrupt chips in /proc/interrupts"
                        : "AMD-Vi exposes no IR flag and /proc/interrupts shows no IR- chips";
                units.add(new IommuUnit(name, "amd-vi", ir, evidence, regs));
            } else {
                String type = name.startsWith("virtio") || host.read(dir + "device/modalias").map(m -> m.startsWith("virtio")).orElse(false)
                        ? "virtio-iommu" : "other";
                units.add(new IommuUnit(name, type, InterruptRemapping.UNKNOWN,
                        "no interrupt-remapping capability is exposed for " + type + " units", Map.of()));
            }
        }
        return units;
    }

    public KernelSupport kernelSupport() {
        boolean irChips = host.read("proc/interrupts").map(s -> s.contains(" IR-")).orElse(false);
        return new KernelSupport(
                host.exists("sys/module/vfio"),
                host.exists("sys/module/vfio_pci") || host.exists("sys/bus/pci/drivers/vfio-pci"),
                host.exists("sys/module/vfio_iommu_type1"),
                host.exists("sys/module/iommufd"),
                host.exists("dev/vfio/vfio"),
                host.exists("dev/iommu"),
                host.read("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts").map(InventoryScanner::yes).orElse(null),
                host.read("sys/module/iommufd/parameters/allow_unsafe_interrupts").map(InventoryScanner::yes).orElse(null),
                irChips);
    }

    private static Boolean yes(String v) {
        return v.equals("Y") || v.equals("1");
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

    private static long parseHexLong(String s) {
        try {
            return Long.parseUnsignedLong(s.startsWith("0x") ? s.substring(2) : s, 16);
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
