package io.vfiobroker.hostgen;

import io.vfiobroker.domain.PciAddress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a synthetic host (sysfs, /dev and /proc pieces) laid out exactly as the kernel lays out its own:
 * devices live under /sys/devices/pci.../, /sys/bus/pci/devices holds relative symlinks to them, and
 * driver, iommu_group, iommu, physfn and virtfn are links. Every device has a config file with a valid
 * PCI header, so pciutils can read the tree too.
 */
public final class HostTreeGenerator {

    /** One function to write. */
    private record Fn(PciAddress address, String dir, int vendor, int device, int subVendor, int subDevice,
                      int classCode, String driver, int group, int numa, boolean bootVga, List<String> reset) {
    }

    private final Path root;
    private final List<Fn> functions = new ArrayList<>();
    private final Set<String> drivers = new LinkedHashSet<>();
    private int nextGroup = 0;
    private int nextPort = 0;
    private int nextNvme = 2;
    private int nextMinor = 16;
    /** Interface name to its device directory, for stacking. */
    private final java.util.Map<String, String> netDirs = new java.util.HashMap<>();
    /** The host's mount table lines, IPv4 routes, local IPv4 addresses and IPv6 address lines. */
    private final StringBuilder hostMounts = new StringBuilder();
    private final StringBuilder hostRoutes = new StringBuilder();
    private final List<String> hostLocal4 = new ArrayList<>();
    private final StringBuilder hostInet6 = new StringBuilder();

    private HostTreeGenerator(Path root) {
        this.root = root;
    }

    /** Generates the tree below {@code root} (created if needed; must be empty or absent). */
    public static Path generate(HostSpec spec, Path root) {
        try {
            Files.createDirectories(root);
            try (var s = Files.list(root)) {
                if (s.findAny().isPresent()) throw new IllegalArgumentException("host tree target " + root + " is not empty");
            }
            new HostTreeGenerator(root).write(spec);
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write host tree under " + root + ": " + e.getMessage(), e);
        }
    }

    private void write(HostSpec spec) throws IOException {
        // Host bridge: in no group (the kernel does group it on some platforms; it never matters for assignment).
        addFunction(new PciAddress(0, 0, 0, 0), "sys/devices/pci0000:00/0000:00:00.0", 0x8086, 0x09a2, 0x8086, 0x0000,
                0x060000, null, -1, -1, false, List.of());

        String vfioOr = spec.vfioLoaded() ? "vfio-pci" : null;
        if (spec.bootDisk()) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x144d, 0xa80a, 0x144d, 0xa801, 0x010802, "nvme", List.of("flr", "bus"));
            writeBlock(ep.address(0), ep.dir(0), "nvme0", "nvme0n1", true);
        }
        if (spec.dataDisk()) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x8086, 0x0a54, 0x8086, 0x4702, 0x010802, "nvme", List.of("flr", "bus"));
            writeBlock(ep.address(0), ep.dir(0), "nvme1", "nvme1n1", false);
        }
        if (spec.activeNic()) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x8086, 0x1533, 0x8086, 0x0001, 0x020000, "igb", List.of("flr", "bus"));
            writeNet(ep.dir(0), "eno1", true);
        }
        if (spec.consoleVga()) {
            Endpoint ep = endpoint(spec, 0);
            Fn vga = fn(ep, 0, 0x1a03, 0x2000, 0x1a03, 0x2000, 0x030000, "ast", List.of("bus"));
            functions.set(functions.indexOf(vga), new Fn(vga.address(), vga.dir(), vga.vendor(), vga.device(), vga.subVendor(),
                    vga.subDevice(), vga.classCode(), vga.driver(), vga.group(), vga.numa(), true, vga.reset()));
        }
        if (spec.gpu()) {
            Endpoint ep = endpoint(spec, 1 % spec.numaNodes());
            int g = group(spec, ep, true);
            fnInGroup(ep, 0, 0x10de, 0x24b0, 0x10de, 0x14ad, 0x030000, "nouveau", g, List.of("flr", "bus"));
            fnInGroup(ep, 1, 0x10de, 0x228b, 0x10de, 0x14ad, 0x040300, "snd_hda_intel", g, List.of("bus"));
        }
        if (spec.edu()) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x1234, 0x11e8, 0x1af4, 0x1100, 0x00ff00, null, List.of("bus"));
        }
        for (int i = 0; i < spec.nicPfs(); i++) {
            writeSriovNic(spec, i, vfioOr);
        }
        for (HostSpec.Upper u : spec.uppers()) writeUpper(u);
        int v = 0;
        for (HostSpec.Volume vol : spec.volumes()) writeVolume(spec, vol, v++);

        for (Fn f : functions) writeFunction(spec, f);
        writeDrivers(spec);
        writeIommu(spec);
        writeModulesAndDev(spec);
        writeProc(spec);
    }

    /** A root port with its secondary bus; with the BRIDGE layout, a PCIe-to-PCI bridge below it as well. */
    private record Endpoint(String portDir, int domain, int bus, int group, int numa) {
        PciAddress address(int function) {
            return new PciAddress(domain, bus, 0, function);
        }

        String dir(int function) {
            return portDir + "/" + address(function);
        }
    }

    private Endpoint endpoint(HostSpec spec, int numa) {
        int port = nextPort++;
        int domain = port / 240;
        int local = port % 240;
        String hostDir = String.format("sys/devices/pci%04x:00", domain);
        // Root ports take 00:01.0 .. 00:1e.7 (248 slots); their secondary buses count up from 1.
        PciAddress portAddr = new PciAddress(domain, 0, 1 + local / 8, local % 8);
        String portDir = hostDir + "/" + portAddr;
        addFunction(portAddr, portDir, 0x8086, 0x347a, 0x8086, 0x0000, 0x060400, "pcieport", nextGroup++, numa(spec, numa),
                false, List.of());
        int bus = 1 + local;
        if (spec.layout() == HostSpec.GroupLayout.BRIDGE) {
            // A conventional PCI bridge cannot isolate what sits behind it: bridge and endpoint share a group.
            PciAddress bridge = new PciAddress(domain, bus, 0, 0);
            String bridgeDir = portDir + "/" + bridge;
            int g = nextGroup++;
            addFunction(bridge, bridgeDir, 0x1b21, 0x1080, 0x0000, 0x0000, 0x060400, null, g, numa(spec, numa), false, List.of());
            // The endpoint goes on the bridge's own secondary bus, numbered past the root-port range.
            return new Endpoint(bridgeDir, domain, 0x80 + (local % 0x7f), g, numa(spec, numa));
        }
        return new Endpoint(portDir, domain, bus, -1, numa(spec, numa));
    }

    private int numa(HostSpec spec, int node) {
        return spec.numaNodes() == 1 ? -1 : node % spec.numaNodes();
    }

    private int group(HostSpec spec, Endpoint ep, boolean shared) {
        return ep.group() >= 0 ? ep.group() : nextGroup++;
    }

    private Fn fn(Endpoint ep, int function, int vendor, int device, int sv, int sd, int cls, String driver, List<String> reset) {
        return fnInGroup(ep, function, vendor, device, sv, sd, cls, driver, ep.group() >= 0 ? ep.group() : nextGroup++, reset);
    }

    private Fn fnInGroup(Endpoint ep, int function, int vendor, int device, int sv, int sd, int cls, String driver, int group,
                         List<String> reset) {
        return addFunction(ep.address(function), ep.dir(function), vendor, device, sv, sd, cls, driver, group, ep.numa(), false, reset);
    }

    private Fn addFunction(PciAddress a, String dir, int vendor, int device, int sv, int sd, int cls, String driver, int group,
                           int numa, boolean bootVga, List<String> reset) {
        Fn f = new Fn(a, dir, vendor, device, sv, sd, cls, driver, group, numa, bootVga, reset);
        functions.add(f);
        if (driver != null) drivers.add(driver);
        return f;
    }

    private void writeSriovNic(HostSpec spec, int index, String vfioOr) throws IOException {
        int node = index % spec.numaNodes();
        Endpoint ep = endpoint(spec, node);
        int numa = numa(spec, node);
        boolean shared = spec.layout() != HostSpec.GroupLayout.PER_DEVICE;
        int pfGroup = ep.group() >= 0 ? ep.group() : nextGroup++;
        PciAddress pf = ep.address(0);
        String pfDir = ep.dir(0);
        functions.add(new Fn(pf, pfDir, 0x8086, 0x1572, 0x8086, 0x0007, 0x020000, "i40e", pfGroup, numa, false, List.of("flr", "bus")));
        drivers.add("i40e");
        mkdirs(pfDir);
        text(pfDir + "/sriov_totalvfs", "64");
        text(pfDir + "/sriov_numvfs", Integer.toString(spec.vfsPerPf()));
        text(pfDir + "/sriov_offset", "16");
        text(pfDir + "/sriov_stride", "1");
        text(pfDir + "/sriov_vf_device", "154c");
        writeNet(pfDir, String.format("ens%df0", index + 1), false);
        for (int v = 0; v < spec.vfsPerPf(); v++) {
            // VF routing IDs: PF + offset 16 + v * stride 1, i.e. bus:02.0 onwards.
            int rid = 16 + v;
            PciAddress vf = new PciAddress(pf.domain(), pf.bus(), rid >> 3, rid & 7);
            String vfDir = ep.portDir() + "/" + vf;
            int g = shared ? pfGroup : nextGroup++;
            functions.add(new Fn(vf, vfDir, 0x8086, 0x154c, 0x8086, 0x0000, 0x020000, spec.vfDriver(), g, numa, false, List.of("flr")));
            if (spec.vfDriver() != null) drivers.add(spec.vfDriver());
            mkdirs(vfDir);
            link(pfDir + "/virtfn" + v, vfDir);
            link(vfDir + "/physfn", pfDir);
        }
    }

    private void writeFunction(HostSpec spec, Fn f) throws IOException {
        String d = f.dir();
        mkdirs(d);
        text(d + "/vendor", String.format("0x%04x", f.vendor()));
        text(d + "/device", String.format("0x%04x", f.device()));
        text(d + "/subsystem_vendor", String.format("0x%04x", f.subVendor()));
        text(d + "/subsystem_device", String.format("0x%04x", f.subDevice()));
        text(d + "/class", String.format("0x%06x", f.classCode()));
        text(d + "/revision", "0x01");
        text(d + "/numa_node", Integer.toString(f.numa()));
        text(d + "/driver_override", "(null)");
        text(d + "/enable", f.driver() != null ? "1" : "0");
        text(d + "/irq", "0");
        text(d + "/modalias", String.format("pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", f.vendor(), f.device(),
                f.subVendor(), f.subDevice(), f.classCode() >> 16, (f.classCode() >> 8) & 0xff, f.classCode() & 0xff));
        text(d + "/uevent", uevent(f.address(), f.driver(), f.vendor(), f.device(), f.subVendor(), f.subDevice(), f.classCode()));
        if (!f.reset().isEmpty()) text(d + "/reset_method", String.join(" ", f.reset()));
        if ((f.classCode() >> 16) == 0x03) text(d + "/boot_vga", f.bootVga() ? "1" : "0");
        for (String attr : List.of("remove", "rescan", "reset")) text(d + "/" + attr, "");
        Files.write(root.resolve(d + "/config"), configHeader(f));
        link("sys/bus/pci/devices/" + f.address(), d);
        // What the simulated kernel's drivers_probe binds when no override is set (the driver whose id table matches).
        String nativeDriver = f.driver() == null || f.driver().equals("vfio-pci") ? nativeDriverOf(f) : f.driver();
        if (nativeDriver != null) text(".sim/native-driver/" + f.address(), nativeDriver);
        if (f.driver() != null) {
            link(d + "/driver", "sys/bus/pci/drivers/" + f.driver());
            link("sys/bus/pci/drivers/" + f.driver() + "/" + f.address(), d);
        }
        if (f.group() >= 0 && spec.iommu() != HostSpec.Iommu.NONE) {
            String g = "sys/kernel/iommu_groups/" + f.group();
            link(d + "/iommu_group", g);
            link(g + "/devices/" + f.address(), d);
            if (!Files.exists(root.resolve(g + "/type"))) text(g + "/type", "DMA");
            link(d + "/iommu", "sys/devices/virtual/iommu/" + unitName(spec));
            link("sys/devices/virtual/iommu/" + unitName(spec) + "/devices/" + f.address(), d);
            if ("vfio-pci".equals(f.driver())) mkfile("dev/vfio/" + f.group());
        }
    }

    private static String nativeDriverOf(Fn f) {
        return f.vendor() == 0x8086 && f.device() == 0x154c ? "iavf" : null;
    }

    /** The kernel's PCI uevent text: upper-case hex, class without leading zeros, DRIVER only when bound. */
    public static String uevent(PciAddress a, String driver, int vendor, int device, int subVendor, int subDevice, int classCode) {
        return (driver != null ? "DRIVER=" + driver + "\n" : "")
                + String.format("PCI_CLASS=%X%nPCI_ID=%04X:%04X%nPCI_SUBSYS_ID=%04X:%04X%nPCI_SLOT_NAME=%s%n", classCode, vendor, device,
                subVendor, subDevice, a)
                + String.format("MODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X%n", vendor, device, subVendor, subDevice,
                classCode >> 16, (classCode >> 8) & 0xff, classCode & 0xff);
    }

    /** A type-0 (or, for bridges, type-1) configuration header with ids, class and a capabilities-free status. */
    private static byte[] configHeader(Fn f) {
        byte[] c = new byte[256];
        le16(c, 0x00, f.vendor());
        le16(c, 0x02, f.device());
        le16(c, 0x04, f.driver() != null ? 0x0406 : 0x0000);
        c[0x08] = 0x01;
        c[0x09] = (byte) f.classCode();
        c[0x0a] = (byte) (f.classCode() >> 8);
        c[0x0b] = (byte) (f.classCode() >> 16);
        boolean bridge = (f.classCode() >> 8) == 0x0604;
        c[0x0e] = (byte) (bridge ? 0x01 : 0x00);
        if (bridge) {
            c[0x18] = (byte) f.address().bus();
        } else {
            le16(c, 0x2c, f.subVendor());
            le16(c, 0x2e, f.subDevice());
            c[0x3d] = 0x01; // INTA#
        }
        return c;
    }

    private static void le16(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >> 8);
    }

    private void writeBlock(PciAddress ctrl, String ctrlDir, String ctrlName, String disk, boolean holdsRoot) throws IOException {
        String nsDir = ctrlDir + "/nvme/" + ctrlName + "/" + disk;
        mkdirs(nsDir + "/holders");
        text(nsDir + "/dev", "259:" + (holdsRoot ? 0 : 3));
        link("sys/block/" + disk, nsDir);
        link("sys/class/block/" + disk, nsDir);
        if (holdsRoot) {
            for (int p = 1; p <= 2; p++) {
                String part = nsDir + "/" + disk + "p" + p;
                mkdirs(part + "/holders");
                text(part + "/dev", "259:" + p);
                text(part + "/partition", Integer.toString(p));
                link("sys/class/block/" + disk + "p" + p, part);
            }
        }
    }

    private void writeNet(String devDir, String ifname, boolean up) throws IOException {
        String netDir = devDir + "/net/" + ifname;
        mkdirs(netDir);
        text(netDir + "/operstate", up ? "up" : "down");
        text(netDir + "/flags", up ? "0x1003" : "0x1002");
        link("sys/class/net/" + ifname, netDir);
        netDirs.put(ifname, netDir);
    }

    /**
     * A virtual device stacked on others, linked as the kernel links adjacent devices: upper_X on each lower and
     * lower_Y on the upper, master for bond, team and bridge ports, bonding/slaves and brif/ on the upper.
     */
    private void writeUpper(HostSpec.Upper u) throws IOException {
        String dir = "sys/devices/virtual/net/" + u.name();
        mkdirs(dir);
        text(dir + "/operstate", u.up() ? "up" : "down");
        text(dir + "/flags", u.up() ? "0x1003" : "0x1002");
        if (u.kind() == HostSpec.UpperKind.BOND) text(dir + "/bonding/slaves", String.join(" ", u.lowers()));
        if (u.kind() == HostSpec.UpperKind.BRIDGE) text(dir + "/bridge/stp_state", "0");
        if (u.kind() == HostSpec.UpperKind.VLAN) text(dir + "/uevent", "DEVTYPE=vlan\nINTERFACE=" + u.name() + "\n");
        link("sys/class/net/" + u.name(), dir);
        for (String lower : u.lowers()) {
            String ld = netDirs.get(lower);
            if (ld == null) throw new IllegalArgumentException("upper " + u.name() + " stacks on unknown interface " + lower);
            link(ld + "/upper_" + u.name(), dir);
            link(dir + "/lower_" + lower, ld);
            switch (u.kind()) {
                case BOND -> {
                    link(ld + "/master", dir);
                    text(ld + "/bonding_slave/state", "active");
                }
                case TEAM -> link(ld + "/master", dir);
                case BRIDGE -> {
                    link(ld + "/master", dir);
                    link(ld + "/brport/bridge", dir);
                    link(dir + "/brif/" + lower, ld + "/brport");
                }
                default -> {
                }
            }
        }
        netDirs.put(u.name(), dir);
        if (u.up() && u.address() != null) address(u.name(), u.address());
    }

    /** An address and the link route it brings, as /proc/net shows them. */
    private void address(String ifname, String cidr) {
        String[] p = cidr.split("/");
        int len = Integer.parseInt(p[1]);
        if (p[0].contains(":")) {
            byte[] b;
            try {
                b = java.net.InetAddress.getByName(p[0]).getAddress();
            } catch (java.net.UnknownHostException e) {
                throw new IllegalArgumentException(cidr, e);
            }
            StringBuilder hex = new StringBuilder();
            for (byte x : b) hex.append(String.format("%02x", x & 0xff));
            hostInet6.append(String.format("%s %02x %02x %02x %02x %8s%n", hex, 10 + netDirs.size(), len, 0, 0x80, ifname));
            return;
        }
        long a = 0;
        for (String part : p[0].split("\\.")) a = (a << 8) | Integer.parseInt(part);
        long mask = len == 0 ? 0 : (0xffffffffL << (32 - len)) & 0xffffffffL;
        hostRoutes.append(String.format("%s\t%s\t00000000\t0001\t0\t0\t0\t%s\t0\t0\t0%n", ifname, routeHex(a & mask), routeHex(mask)));
        hostLocal4.add(p[0]);
    }

    /** net/route's form: the network-order word printed as a host-order (little-endian) number. */
    private static String routeHex(long a) {
        long le = ((a & 0xff) << 24) | ((a & 0xff00) << 8) | ((a >> 8) & 0xff00) | ((a >> 24) & 0xff);
        return String.format("%08X", le);
    }

    private void writeVolume(HostSpec spec, HostSpec.Volume vol, int index) throws IOException {
        List<String> disks = new ArrayList<>();
        List<String> diskDirs = new ArrayList<>();
        for (int m = 0; m < vol.members(); m++) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x144d, 0xa80a, 0x144d, 0xa801, 0x010802, "nvme", List.of("flr", "bus"));
            int n = nextNvme++;
            String disk = "nvme" + n + "n1";
            String nsDir = ep.dir(0) + "/nvme/nvme" + n + "/" + disk;
            int minor = nextMinor++;
            mkdirs(nsDir + "/holders");
            text(nsDir + "/dev", "259:" + minor);
            link("sys/block/" + disk, nsDir);
            link("sys/class/block/" + disk, nsDir);
            disks.add(disk);
            diskDirs.add(nsDir);
            if (vol.kind() == HostSpec.FsKind.ZFS) {
                // zpool on a whole disk makes a GPT with the vdev in partition 1 (and a small partition 9).
                text("run/udev/data/b259:" + minor, "E:ID_PART_TABLE_TYPE=gpt\nG:systemd\n");
                String part = nsDir + "/" + disk + "p1";
                int pminor = nextMinor++;
                mkdirs(part + "/holders");
                text(part + "/dev", "259:" + pminor);
                text(part + "/partition", "1");
                link("sys/class/block/" + disk + "p1", part);
                text("run/udev/data/b259:" + pminor, String.format("E:ID_FS_TYPE=zfs_member%nE:ID_FS_USAGE=filesystem%nE:ID_FS_LABEL=%s%n"
                        + "E:ID_FS_UUID=%d%nE:ID_PART_ENTRY_NUMBER=1%nG:systemd%n", vol.name(), 1234567890123456789L + index));
            }
        }
        if (vol.kind() == HostSpec.FsKind.BTRFS) {
            if (!vol.imported()) return;
            // The kernel registers a btrfs file system under /sys/fs/btrfs/<fsid> when it is mounted.
            String fsid = String.format("4b2a9e1c-7d3f-4c1e-9a55-%012x", index);
            text("sys/fs/btrfs/" + fsid + "/label", vol.name());
            for (int i = 0; i < disks.size(); i++) link("sys/fs/btrfs/" + fsid + "/devices/" + disks.get(i), diskDirs.get(i));
            hostMounts.append("/dev/").append(disks.get(0)).append(' ').append(vol.mountpoint())
                    .append(" btrfs rw,relatime,space_cache=v2,subvolid=5,subvol=/ 0 0\n");
        } else {
            mkdirs("sys/module/zfs/parameters");
            text("proc/spl/kstat/zfs/arcstats", "13 1 0x01 147 39984 2331236171 3087627403421\nname type data\n");
            if (!vol.imported()) return;
            text("proc/spl/kstat/zfs/" + vol.name() + "/state", "ONLINE");
            text("proc/spl/kstat/zfs/" + vol.name() + "/txgs", "");
            hostMounts.append(vol.name()).append(' ').append(vol.mountpoint()).append(" zfs rw,xattr,noacl 0 0\n");
            hostMounts.append(vol.name()).append("/home ").append(vol.mountpoint()).append("/home zfs rw,xattr,noacl 0 0\n");
        }
    }

    private void writeDrivers(HostSpec spec) throws IOException {
        Set<String> all = new LinkedHashSet<>(drivers);
        if (spec.vfioLoaded()) all.add("vfio-pci");
        all.add("pci-stub");
        for (String drv : all) {
            String d = "sys/bus/pci/drivers/" + drv;
            mkdirs(d);
            for (String attr : List.of("bind", "unbind", "new_id", "remove_id")) text(d + "/" + attr, "");
        }
        text("sys/bus/pci/drivers_probe", "");
        text("sys/bus/pci/rescan", "");
        text("sys/bus/pci/drivers_autoprobe", "1");
    }

    private static String unitName(HostSpec spec) {
        return spec.iommu() == HostSpec.Iommu.AMD ? "ivhd0" : "dmar0";
    }

    private void writeIommu(HostSpec spec) throws IOException {
        mkdirs("sys/kernel/iommu_groups");
        mkdirs("sys/class/iommu");
        if (spec.iommu() == HostSpec.Iommu.NONE) return;
        String unit = "sys/devices/virtual/iommu/" + unitName(spec);
        mkdirs(unit + "/devices");
        if (spec.iommu() == HostSpec.Iommu.AMD) {
            mkdirs(unit + "/amd-iommu");
            text(unit + "/amd-iommu/cap", "0x190b6423");
            text(unit + "/amd-iommu/features", "0x25bf732fa2295afe:0x1d");
        } else {
            mkdirs(unit + "/intel-iommu");
            text(unit + "/intel-iommu/version", "1:0");
            text(unit + "/intel-iommu/address", "fed90000");
            text(unit + "/intel-iommu/cap", "d2008c40660462");
            // Bit 3 of ecap is Interrupt Remapping support.
            text(unit + "/intel-iommu/ecap", spec.iommu() == HostSpec.Iommu.INTEL_IR ? "f050da" : "f050d2");
        }
        link("sys/class/iommu/" + unitName(spec), unit);
    }

    private void writeModulesAndDev(HostSpec spec) throws IOException {
        mkdirs("dev");
        if (spec.vfioLoaded()) {
            text("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N");
            mkdirs("sys/module/vfio_pci/parameters");
            text("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N");
            mkfile("dev/vfio/vfio");
        }
        if (spec.iommufd()) {
            text("sys/module/iommufd/parameters/allow_unsafe_interrupts", "N");
            mkfile("dev/iommu");
        }
        for (String drv : drivers) {
            if (!drv.contains("-")) mkdirs("sys/module/" + drv);
        }
    }

    private void writeProc(HostSpec spec) throws IOException {
        StringBuilder interrupts = new StringBuilder("            CPU0       CPU1\n");
        boolean ir = spec.iommu() == HostSpec.Iommu.INTEL_IR || spec.iommu() == HostSpec.Iommu.AMD;
        interrupts.append("   0:         41          0   ").append(ir ? "IR-IO-APIC" : "IO-APIC").append("    2-edge      timer\n");
        interrupts.append("  24:          0       1200  ").append(ir ? "IR-PCI-MSIX" : "PCI-MSIX").append("-0000:01:00.0    0-edge      nvme0q0\n");
        text("proc/interrupts", interrupts.toString());
        StringBuilder mounts = new StringBuilder("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\nproc /proc proc rw 0 0\n");
        if (spec.bootDisk()) {
            mounts.append("/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n/dev/nvme0n1p1 /boot/efi vfat rw,relatime 0 0\n");
        }
        mounts.append(hostMounts);
        text("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        String routeHead = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
        StringBuilder route = new StringBuilder(routeHead);
        if (spec.activeNic()) {
            route.append("eno1\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
            route.append("eno1\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n");
        }
        route.append(hostRoutes);
        StringBuilder fib = new StringBuilder();
        for (String table : List.of("Main:", "Local:")) {
            fib.append(table).append("\n  +-- 0.0.0.0/0 3 0 5\n");
            for (String a : hostLocal4) fib.append("     |-- ").append(a).append("\n        /32 host LOCAL\n");
        }
        String hostRootMount = "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n";
        ProcView host = new ProcView(hostRootMount, mounts.toString(), route.toString(), fib.toString(), hostInet6.toString(), INIT_PID_NS);
        // A pod's own view: an overlay root, its veth with the pod network, its own mounts only.
        ProcView pod = new ProcView("1203 1150 0:311 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/containerd/l/1\n",
                "overlay / overlay rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
                        + "sysfs /sys sysfs rw,relatime 0 0\ntmpfs /dev tmpfs rw,nosuid 0 0\n",
                routeHead + "eth0\t00000000\t0101F40A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                        + "eth0\t0001F40A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
                "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.244.1.7\n        /32 host LOCAL\n", "", "pid:[4026532871]");
        // /proc/self is the reader's pid directory; /proc/mounts and /proc/net are links into it, as in procfs.
        switch (spec.view()) {
            case HOST -> {
                writeProcess("proc/1", host, host.pidNs());
                writeProcess("proc/" + SELF_PID, host, host.pidNs());
            }
            case POD_HOST_PID -> {
                writeProcess("proc/1", host, host.pidNs());
                writeProcess("proc/" + SELF_PID, pod, INIT_PID_NS);
            }
            case POD -> {
                writeProcess("proc/1", pod, pod.pidNs());
                writeProcess("proc/" + SELF_PID, pod, pod.pidNs());
            }
        }
        link("proc/self", "proc/" + SELF_PID);
        link("proc/mounts", "proc/self/mounts");
        link("proc/net", "proc/self/net");
    }

    /** The daemon's own pid in a generated tree. */
    private static final int SELF_PID = 4242;
    private static final String INIT_PID_NS = "pid:[4026531836]";

    private record ProcView(String mountinfo, String mounts, String route, String fibTrie, String inet6, String pidNs) {
    }

    private void writeProcess(String dir, ProcView v, String pidNs) throws IOException {
        text(dir + "/mountinfo", "22 25 0:21 / /proc rw,relatime - proc proc rw\n" + v.mountinfo());
        text(dir + "/mounts", v.mounts());
        text(dir + "/net/route", v.route());
        text(dir + "/net/fib_trie", v.fibTrie());
        text(dir + "/net/if_inet6", v.inet6());
        Path ns = root.resolve(dir + "/ns/pid");
        Files.createDirectories(ns.getParent());
        // A magic link: its target is a name, not a path.
        Files.createSymbolicLink(ns, Path.of(pidNs));
    }

    private void mkdirs(String rel) throws IOException {
        Files.createDirectories(root.resolve(rel));
    }

    private void mkfile(String rel) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        if (!Files.exists(p)) Files.createFile(p);
    }

    private void text(String rel, String content) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content.isEmpty() || content.endsWith("\n") ? content : content + "\n", StandardCharsets.UTF_8);
    }

    /** A symlink whose target is relative to the link's directory, as the kernel's are. */
    private void link(String from, String to) throws IOException {
        Path link = root.resolve(from);
        Files.createDirectories(link.getParent());
        Path target = link.getParent().relativize(root.resolve(to));
        if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(link, target);
    }
}
