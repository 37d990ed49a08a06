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
    /** The kernel nests stacked devices at most MAX_NEST_DEV (8) deep. */
    static final int MAX_STACK_DEPTH = 8;
    private static final int IFF_UP = 0x1;

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
        activeNics(out);
        for (Device d : devices) {
            if (d.bootVga()) add(out, new ProtectedDevice(d.address(), ProtectedDevice.Rule.CONSOLE_VGA, "is the console VGA (boot_vga=1)"));
        }
        return out;
    }

    // ---- network: the interface itself and every device stacked on it ----------------------------------------

    /** An upper device of an interface; {@code port} when the lower is enslaved (bond, team, bridge). */
    private record Upper(String name, boolean port) {
    }

    private void activeNics(Map<PciAddress, List<ProtectedDevice>> out) {
        List<String> ifnames = host.list("sys/class/net").stream().filter(ProtectionScanner::isSafeName).sorted().toList();
        if (ifnames.isEmpty()) return;
        NetState net = NetState.read(host, view);
        Map<String, Map<String, Boolean>> uppers = uppers(ifnames);
        for (String ifname : ifnames) {
            java.util.Optional<PciAddress> a = pciParent("sys/class/net/" + ifname);
            if (a.isEmpty()) continue;
            for (List<Upper> chain : activeChains(ifname, uppers, net)) {
                String why;
                if (chain.isEmpty()) {
                    why = "is the parent of " + ifname + ", which is up " + net.describe(ifname);
                } else {
                    StringBuilder b = new StringBuilder("is the parent of " + ifname + "; " + ifname);
                    for (int i = 0; i < chain.size(); i++) {
                        Upper u = chain.get(i);
                        b.append(i == 0 ? " " : ", which ").append(u.port() ? "is a port of " : "is the parent of ").append(u.name());
                    }
                    b.append(", which is up ").append(net.describe(chain.get(chain.size() - 1).name()));
                    why = b.toString();
                }
                add(out, new ProtectedDevice(a.get(), ProtectedDevice.Rule.ACTIVE_NIC, why));
            }
        }
    }

    /**
     * Lower name to its uppers, from both ends: upper_* and master on the lower, lower_*, brif/ and
     * bonding/slaves on the upper (older kernels and some drivers fill only one side).
     */
    private Map<String, Map<String, Boolean>> uppers(List<String> ifnames) {
        Map<String, Map<String, Boolean>> out = new java.util.HashMap<>();
        java.util.function.BiConsumer<String[], Boolean> edge = (lu, port) -> {
            if (isSafeName(lu[0]) && isSafeName(lu[1]) && !lu[0].equals(lu[1])) {
                out.computeIfAbsent(lu[0], k -> new java.util.TreeMap<>()).merge(lu[1], port, Boolean::logicalOr);
            }
        };
        for (String ifname : ifnames) {
            String dir = "sys/class/net/" + ifname;
            for (String e : host.list(dir)) {
                if (e.startsWith("upper_")) {
                    edge.accept(new String[]{ifname, e.substring(6)}, false);
                } else if (e.startsWith("lower_")) {
                    edge.accept(new String[]{e.substring(6), ifname}, false);
                } else if (e.equals("master")) {
                    host.linkName(dir + "/master").ifPresent(m -> edge.accept(new String[]{ifname, m}, true));
                } else if (e.equals("brif")) {
                    for (String port : host.list(dir + "/brif")) edge.accept(new String[]{port, ifname}, true);
                } else if (e.equals("bonding")) {
                    for (String slave : host.read(dir + "/bonding/slaves").orElse("").split("\\s+")) {
                        if (!slave.isEmpty()) edge.accept(new String[]{slave, ifname}, true);
                    }
                }
            }
        }
        return out;
    }

    /**
     * Paths from {@code ifname} up to each active device on it (the empty path: the interface itself), breadth
     * first and at most {@link #MAX_STACK_DEPTH} deep, so a loop in a broken tree ends.
     */
    private List<List<Upper>> activeChains(String ifname, Map<String, Map<String, Boolean>> uppers, NetState net) {
        List<List<Upper>> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        seen.add(ifname);
        List<List<Upper>> level = List.of(List.of());
        for (int depth = 0; depth <= MAX_STACK_DEPTH && !level.isEmpty(); depth++) {
            List<List<Upper>> next = new ArrayList<>();
            for (List<Upper> path : level) {
                String name = path.isEmpty() ? ifname : path.get(path.size() - 1).name();
                if (net.active(name) && up(name)) out.add(path);
                if (depth == MAX_STACK_DEPTH) continue;
                for (Map.Entry<String, Boolean> u : uppers.getOrDefault(name, Map.of()).entrySet()) {
                    if (!seen.add(u.getKey())) continue;
                    List<Upper> longer = new ArrayList<>(path);
                    longer.add(new Upper(u.getKey(), u.getValue()));
                    next.add(longer);
                }
            }
            level = next;
        }
        return out;
    }

    /** operstate up, or unknown (drivers without carrier reporting) with IFF_UP set. */
    private boolean up(String ifname) {
        String dir = "sys/class/net/" + ifname;
        String state = host.read(dir + "/operstate").orElse("unknown");
        if (state.equals("up")) return true;
        if (!state.equals("unknown")) return false;
        String flags = host.read(dir + "/flags").orElse("0x0");
        try {
            return (Long.decode(flags) & IFF_UP) != 0;
        } catch (NumberFormatException e) {
            return false;
        }
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

    private static void add(Map<PciAddress, List<ProtectedDevice>> out, ProtectedDevice p) {
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
}
