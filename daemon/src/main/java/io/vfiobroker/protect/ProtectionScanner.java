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
 * mounted block devices and active swap (through dm/md/LVM slaves), every device of a mounted btrfs file system
 * or an imported zfs pool, disks with holders, network interfaces that are up with an address or route or carry
 * such a device stacked on them (bond, team, bridge, VLAN, macvlan, nested), and the console VGA. Mounts and
 * network state are read through a {@link HostView}, so a daemon in a pod sees the host's, not its own.
 */
public final class ProtectionScanner {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ProtectionScanner.class);
    private static final int MAX_PROC_TEXT = 4 << 20;

    private final SysfsHost host;
    private final HostView view;
    /** null until the first check, so the first one is always logged. */
    private volatile String lastBlindness;

    public ProtectionScanner(SysfsHost host) {
        this(host, HostView.own(host));
    }

    public ProtectionScanner(SysfsHost host, HostView view) {
        this.host = host;
        this.view = view;
    }

    public HostView view() {
        return view;
    }

    /**
     * Why the host's view cannot be read, logged loudly once per change; empty when it can. Binding is then
     * refused for every device (an exact-address override still wins): guessing "nothing is protected" from a
     * container's mount table is how a boot disk gets unbound.
     */
    public java.util.Optional<String> blindness() {
        java.util.Optional<String> why = view.blindness();
        String now = why.orElse("");
        if (!now.equals(lastBlindness)) {
            lastBlindness = now;
            if (why.isPresent()) {
                log.error("event=host-view-blind reason=\"{}\" binding=refused", now);
            } else {
                log.info("event=host-view proc=/{}", view.proc());
            }
        }
        return why;
    }

    /** Every protected device with every reason it is protected. */
    public Map<PciAddress, List<ProtectedDevice>> scan(java.util.Collection<Device> devices) {
        Map<PciAddress, List<ProtectedDevice>> out = new LinkedHashMap<>();
        java.util.Optional<String> blind = blindness();
        if (blind.isPresent()) {
            for (Device d : devices) {
                add(out, new ProtectedDevice(d.address(), ProtectedDevice.Rule.HOST_VIEW,
                        "cannot be checked against the host's mounts and routes: " + blind.get()));
            }
        }
        List<String[]> mounts = mounts();
        for (String[] mount : mounts) {
            String source = mount[0];
            String target = mount[1];
            if (!source.startsWith("/dev/")) continue;
            String name = blockName(source.substring(5));
            ProtectedDevice.Rule rule = target.equals("/") ? ProtectedDevice.Rule.BOOT_DISK : ProtectedDevice.Rule.MOUNTED_DISK;
            for (PciAddress a : pciParentsOfBlock(name, new HashSet<>())) {
                add(out, new ProtectedDevice(a, rule, "backs " + target + " (" + name + ")"));
            }
        }
        btrfsMembers(mounts, out);
        zfsMembers(mounts, out);
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
        new ActiveNics(host, view).scan(out);
        for (Device d : devices) {
            if (d.bootVga()) add(out, new ProtectedDevice(d.address(), ProtectedDevice.Rule.CONSOLE_VGA, "is the console VGA (boot_vga=1)"));
        }
        return out;
    }

    // ---- multi-device file systems ------------------------------------------------------------------------------

    /**
     * /proc/mounts names one device of a btrfs file system; /sys/fs/btrfs/&lt;fsid&gt;/devices links to all of them.
     * A file system is registered there only while mounted, so every member is protected, mount seen or not.
     */
    private void btrfsMembers(List<String[]> mounts, Map<PciAddress, List<ProtectedDevice>> out) {
        for (String fsid : host.list("sys/fs/btrfs")) {
            if (!isSafeName(fsid) || !host.exists("sys/fs/btrfs/" + fsid + "/devices")) continue;
            List<String> members = host.list("sys/fs/btrfs/" + fsid + "/devices").stream()
                    .filter(ProtectionScanner::isSafeName).sorted().toList();
            if (members.isEmpty()) continue;
            String label = host.read("sys/fs/btrfs/" + fsid + "/label").orElse("");
            Set<String> targets = new java.util.LinkedHashSet<>();
            for (String[] m : mounts) {
                if (m[2].equals("btrfs") && m[0].startsWith("/dev/") && members.contains(blockName(m[0].substring(5)))) targets.add(m[1]);
            }
            String fs = "btrfs file system " + (label.isEmpty() ? fsid : "'" + label + "' (" + fsid + ")");
            String where = targets.isEmpty() ? " (mounted: it is registered in /sys/fs/btrfs)" : " mounted at " + String.join(", ", targets);
            for (String member : members) {
                for (PciAddress a : pciParentsOfBlock(member, new HashSet<>())) {
                    add(out, new ProtectedDevice(a, ProtectedDevice.Rule.BTRFS_MEMBER, "holds " + member + ", a device of " + fs + where
                            + " (devices " + String.join(", ", members) + ")"));
                }
            }
        }
    }

    /**
     * zfs mount sources are datasets ("tank/home"), and zfs holds its vdevs without holders links. Imported
     * pools are the directories of /proc/spl/kstat/zfs; a vdev is a block device that udev's blkid saw as
     * zfs_member, labelled with its pool's name. When zfs is loaded but the imported pools cannot be read, every
     * zfs_member is protected.
     */
    private void zfsMembers(List<String[]> mounts, Map<PciAddress, List<ProtectedDevice>> out) {
        Map<String, Set<String>> mountedPools = new java.util.TreeMap<>();
        for (String[] m : mounts) {
            if (m[2].equals("zfs")) mountedPools.computeIfAbsent(m[0].split("/")[0], k -> new java.util.LinkedHashSet<>()).add(m[1]);
        }
        boolean loaded = host.exists("sys/module/zfs") || !mountedPools.isEmpty();
        if (!loaded) return;
        boolean kstat = host.exists("proc/spl/kstat/zfs");
        Set<String> imported = new java.util.TreeSet<>(mountedPools.keySet());
        for (String e : host.list("proc/spl/kstat/zfs")) {
            if (isSafeName(e) && host.exists("proc/spl/kstat/zfs/" + e + "/state")) imported.add(e);
        }
        int found = 0;
        for (String block : host.list("sys/class/block").stream().filter(ProtectionScanner::isSafeName).sorted().toList()) {
            String dev = host.read("sys/class/block/" + block + "/dev").orElse("");
            if (!dev.matches("\\d+:\\d+")) continue;
            Map<String, String> udev = udevProperties(host.read("run/udev/data/b" + dev).orElse(""));
            if (!"zfs_member".equals(udev.get("ID_FS_TYPE"))) continue;
            String pool = udev.getOrDefault("ID_FS_LABEL", "");
            String why;
            if (!pool.isEmpty() && imported.contains(pool)) {
                Set<String> at = mountedPools.getOrDefault(pool, Set.of());
                why = "holds " + block + ", a vdev of zfs pool " + pool + ", which is imported"
                        + (at.isEmpty() ? "" : " and mounted at " + String.join(", ", at));
            } else if (!kstat) {
                why = "holds " + block + ", a zfs_member" + (pool.isEmpty() ? "" : " of pool " + pool)
                        + ", and the imported pools cannot be read from /proc/spl/kstat/zfs, so it is taken as in use";
            } else if (pool.isEmpty() && !imported.isEmpty()) {
                why = "holds " + block + ", a zfs_member without a pool name while pools " + String.join(", ", imported) + " are imported";
            } else {
                continue;
            }
            found++;
            for (PciAddress a : pciParentsOfBlock(block, new HashSet<>())) {
                add(out, new ProtectedDevice(a, ProtectedDevice.Rule.ZFS_MEMBER, why));
            }
        }
        if (found == 0 && !imported.isEmpty()) {
            log.warn("event=zfs-vdevs-unknown pools={} reason=\"no block device has udev data ID_FS_TYPE=zfs_member under /run/udev/data\"",
                    imported);
        }
    }

    /** udev's database lines "E:KEY=value". */
    private static Map<String, String> udevProperties(String text) {
        Map<String, String> out = new java.util.HashMap<>();
        for (String line : text.lines().toList()) {
            if (!line.startsWith("E:")) continue;
            int eq = line.indexOf('=');
            if (eq > 2) out.put(line.substring(2, eq), line.substring(eq + 1));
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

    static void add(Map<PciAddress, List<ProtectedDevice>> out, ProtectedDevice p) {
        List<ProtectedDevice> list = out.computeIfAbsent(p.address(), k -> new ArrayList<>());
        if (!list.contains(p)) list.add(p);
    }

    private List<String[]> mounts() {
        List<String[]> out = new ArrayList<>();
        for (String line : host.readText(view.path("mounts"), MAX_PROC_TEXT).orElse("").lines().toList()) {
            String[] f = line.split(" ");
            if (f.length >= 3) out.add(new String[]{f[0], f[1].replace("\\040", " "), f[2]});
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
        pciParent(host, base).ifPresent(out::add);
        for (String slave : host.list(base + "/slaves")) out.addAll(pciParentsOfBlock(slave, seen));
        return out;
    }

    /** The last PCI address in a sysfs class link's target (…/0000:00:1d.0/0000:01:00.0/nvme/nvme0/nvme0n1). */
    static Optional<PciAddress> pciParent(SysfsHost host, String classLink) {
        Optional<String> target = host.linkTarget(classLink);
        if (target.isEmpty()) return Optional.empty();
        PciAddress last = null;
        for (String part : target.get().split("/")) {
            if (PciAddress.isValid(part)) last = PciAddress.parse(part);
        }
        return Optional.ofNullable(last);
    }

    static boolean isSafeName(String name) {
        return !name.isEmpty() && !name.contains("/") && !name.equals(".") && !name.equals("..");
    }
}
