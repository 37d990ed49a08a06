package io.vfiobroker.protect;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Finds the devices the host depends on, the way SPDK's setup.sh and dpdk-devbind do: the PCI parents of
 * mounted block devices and active swap (through dm/md/LVM slaves), disks with holders, network interfaces
 * that are up with an address or route, and the console VGA.
 */
public final class ProtectionScanner {

    private final SysfsHost host;

    public ProtectionScanner(SysfsHost host) {
        this.host = host;
    }

    /** Every protected device with every reason it is protected. */
    public Map<PciAddress, List<ProtectedDevice>> scan(java.util.Collection<Device> devices) {
        Map<PciAddress, List<ProtectedDevice>> out = new LinkedHashMap<>();
        for (String[] mount : mounts()) {
            String source = mount[0];
            String target = mount[1];
            if (!source.startsWith("/dev/")) continue;
            String name = blockName(source.substring(5));
            ProtectedDevice.Rule rule = target.equals("/") ? ProtectedDevice.Rule.BOOT_DISK : ProtectedDevice.Rule.MOUNTED_DISK;
            for (PciAddress a : pciParentsOfBlock(name, new HashSet<>())) {
                add(out, new ProtectedDevice(a, rule, "backs " + target + " (" + name + ")"));
            }
        }
        for (String line : host.read("proc/swaps").orElse("").lines().skip(1).toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 0 || !f[0].startsWith("/dev/")) continue;
            String name = blockName(f[0].substring(5));
            for (PciAddress a : pciParentsOfBlock(name, new HashSet<>())) {
                add(out, new ProtectedDevice(a, ProtectedDevice.Rule.SWAP, "backs active swap (" + name + ")"));
            }
        }
        for (String disk : host.list("sys/block")) {
            List<String> holders = holdersOf(disk);
            if (holders.isEmpty()) continue;
            for (PciAddress a : pciParentsOfBlock(disk, new HashSet<>())) {
                add(out, new ProtectedDevice(a, ProtectedDevice.Rule.DISK_HOLDERS,
                        "has block device " + disk + " held by " + String.join(", ", holders)));
            }
        }
        Set<String> routed = routedInterfaces();
        Set<String> addressed = ipv6Interfaces();
        for (String ifname : host.list("sys/class/net")) {
            String state = host.read("sys/class/net/" + ifname + "/operstate").orElse("unknown");
            boolean up = state.equals("up");
            if (!up || !(routed.contains(ifname) || addressed.contains(ifname))) continue;
            Optional<PciAddress> a = pciParent("sys/class/net/" + ifname);
            String why = routed.contains(ifname) ? "is the parent of " + ifname + ", which is up and carries routes"
                    : "is the parent of " + ifname + ", which is up with an address";
            a.ifPresent(addr -> add(out, new ProtectedDevice(addr, ProtectedDevice.Rule.ACTIVE_NIC, why)));
        }
        for (Device d : devices) {
            if (d.bootVga()) add(out, new ProtectedDevice(d.address(), ProtectedDevice.Rule.CONSOLE_VGA, "is the console VGA (boot_vga=1)"));
        }
        return out;
    }

    /**
     * Why binding {@code group} would take something the host depends on, as sentences naming rule and device;
     * empty when nothing in it is protected or every protected member is overridden.
     */
    public static List<String> refusals(IommuGroup group, PciAddress requested, Map<PciAddress, List<ProtectedDevice>> protectedDevices,
                                        Set<PciAddress> overrides) {
        List<String> out = new ArrayList<>();
        for (PciAddress member : group.devices()) {
            if (overrides.contains(member)) continue;
            for (ProtectedDevice p : protectedDevices.getOrDefault(member, List.of())) {
                if (member.equals(requested)) {
                    out.add(p.sentence() + " [rule " + p.rule().wireName() + "; override: list " + member + " in protectedOverrides]");
                } else {
                    out.add(requested + " is in IOMMU group " + group.id() + " with " + p.sentence()
                            + " [rule " + p.rule().wireName() + "; override: list " + member + " in protectedOverrides]");
                }
            }
        }
        return out;
    }

    private static void add(Map<PciAddress, List<ProtectedDevice>> out, ProtectedDevice p) {
        List<ProtectedDevice> list = out.computeIfAbsent(p.address(), k -> new ArrayList<>());
        if (!list.contains(p)) list.add(p);
    }

    private List<String[]> mounts() {
        List<String[]> out = new ArrayList<>();
        for (String line : host.read("proc/mounts").orElse("").lines().toList()) {
            String[] f = line.split(" ");
            if (f.length >= 2) out.add(new String[]{f[0], f[1].replace("\\040", " ")});
        }
        return out;
    }

    /** /dev/mapper/vg-root and /dev/disk/by-uuid/… are links to the kernel's name (dm-0, nvme0n1p2). */
    private String blockName(String devRelative) {
        String[] parts = devRelative.split("/");
        for (String part : parts) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) return parts[parts.length - 1];
        }
        return host.linkName("dev/" + devRelative).orElse(parts[parts.length - 1]);
    }

    private List<String> holdersOf(String disk) {
        List<String> holders = new ArrayList<>(host.list("sys/block/" + disk + "/holders"));
        for (String part : host.list("sys/block/" + disk)) {
            if (part.startsWith(disk)) {
                for (String h : host.list("sys/block/" + disk + "/" + part + "/holders")) holders.add(h + " (on " + part + ")");
            }
        }
        return holders;
    }

    /** PCI functions under a block device, following dm/md slaves down to the disks. */
    private Set<PciAddress> pciParentsOfBlock(String name, Set<String> seen) {
        Set<PciAddress> out = new HashSet<>();
        if (!isSafeName(name) || !seen.add(name)) return out;
        String base = "sys/class/block/" + name;
        pciParent(base).ifPresent(out::add);
        for (String slave : host.list(base + "/slaves")) out.addAll(pciParentsOfBlock(slave, seen));
        return out;
    }

    /** The last PCI address in a sysfs class link's target (…/0000:00:1d.0/0000:01:00.0/nvme/nvme0/nvme0n1). */
    private Optional<PciAddress> pciParent(String classLink) {
        Optional<String> target = host.linkTarget(classLink);
        if (target.isEmpty()) return Optional.empty();
        PciAddress last = null;
        for (String part : target.get().split("/")) {
            if (PciAddress.isValid(part)) last = PciAddress.parse(part);
        }
        return Optional.ofNullable(last);
    }

    private static boolean isSafeName(String name) {
        return !name.isEmpty() && !name.contains("/") && !name.equals(".") && !name.equals("..");
    }

    /** Interfaces with any IPv4 route (an address brings its subnet route; dpdk-devbind's "in ip route"). */
    private Set<String> routedInterfaces() {
        Set<String> out = new HashSet<>();
        for (String line : host.read("proc/net/route").orElse("").lines().skip(1).toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 1) out.add(f[0]);
        }
        return out;
    }

    /** Interfaces with a non-link-local IPv6 address (link-local fe80:: is on every up interface). */
    private Set<String> ipv6Interfaces() {
        Set<String> out = new HashSet<>();
        for (String line : host.read("proc/net/if_inet6").orElse("").lines().toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 6 && !f[0].startsWith("fe80") && !f[5].equals("lo")) out.add(f[5]);
        }
        return out;
    }
}
