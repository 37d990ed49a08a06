package io.vfiobroker.hostgen;

import io.vfiobroker.domain.PciAddress;

import java.io.IOException;
import java.io.UncheckedIOException;
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

    private final List<Fn> functions = new ArrayList<>();
    private final Set<String> drivers = new LinkedHashSet<>();
    private int nextGroup = 0;
    private int nextPort = 0;
    private final TreeFiles files;
    private final StorageAndNetwork storage;

    private HostTreeGenerator(Path root) {
        this.files = new TreeFiles(root);
        this.storage = new StorageAndNetwork(files);
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
            storage.block(ep.dir(0), "nvme0", "nvme0n1", true);
        }
        if (spec.dataDisk()) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x8086, 0x0a54, 0x8086, 0x4702, 0x010802, "nvme", List.of("flr", "bus"));
            storage.block(ep.dir(0), "nvme1", "nvme1n1", false);
        }
        if (spec.activeNic()) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x8086, 0x1533, 0x8086, 0x0001, 0x020000, "igb", List.of("flr", "bus"));
            storage.net(ep.dir(0), "eno1", true);
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
        for (HostSpec.Upper u : spec.uppers()) storage.upper(u);
        int v = 0;
        for (HostSpec.Volume vol : spec.volumes()) writeVolume(spec, vol, v++);

        for (Fn f : functions) writeFunction(spec, f);
        writeDrivers(spec);
        writeIommu(spec);
        writeModulesAndDev(spec);
        new ProcFiles(files).write(spec, storage);
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
        files.mkdirs(pfDir);
        files.text(pfDir + "/sriov_totalvfs", "64");
        files.text(pfDir + "/sriov_numvfs", Integer.toString(spec.vfsPerPf()));
        files.text(pfDir + "/sriov_offset", "16");
        files.text(pfDir + "/sriov_stride", "1");
        files.text(pfDir + "/sriov_vf_device", "154c");
        storage.net(pfDir, String.format("ens%df0", index + 1), false);
        for (int v = 0; v < spec.vfsPerPf(); v++) {
            // VF routing IDs: PF + offset 16 + v * stride 1, i.e. bus:02.0 onwards.
            int rid = 16 + v;
            PciAddress vf = new PciAddress(pf.domain(), pf.bus(), rid >> 3, rid & 7);
            String vfDir = ep.portDir() + "/" + vf;
            int g = shared ? pfGroup : nextGroup++;
            functions.add(new Fn(vf, vfDir, 0x8086, 0x154c, 0x8086, 0x0000, 0x020000, spec.vfDriver(), g, numa, false, List.of("flr")));
            if (spec.vfDriver() != null) drivers.add(spec.vfDriver());
            files.mkdirs(vfDir);
            files.link(pfDir + "/virtfn" + v, vfDir);
            files.link(vfDir + "/physfn", pfDir);
        }
    }

    private void writeFunction(HostSpec spec, Fn f) throws IOException {
        String d = f.dir();
        files.mkdirs(d);
        files.text(d + "/vendor", String.format("0x%04x", f.vendor()));
        files.text(d + "/device", String.format("0x%04x", f.device()));
        files.text(d + "/subsystem_vendor", String.format("0x%04x", f.subVendor()));
        files.text(d + "/subsystem_device", String.format("0x%04x", f.subDevice()));
        files.text(d + "/class", String.format("0x%06x", f.classCode()));
        files.text(d + "/revision", "0x01");
        files.text(d + "/numa_node", Integer.toString(f.numa()));
        files.text(d + "/driver_override", "(null)");
        files.text(d + "/enable", f.driver() != null ? "1" : "0");
        files.text(d + "/irq", "0");
        files.text(d + "/modalias", String.format("pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", f.vendor(), f.device(),
                f.subVendor(), f.subDevice(), f.classCode() >> 16, (f.classCode() >> 8) & 0xff, f.classCode() & 0xff));
        files.text(d + "/uevent", uevent(f.address(), f.driver(), f.vendor(), f.device(), f.subVendor(), f.subDevice(), f.classCode()));
        if (!f.reset().isEmpty()) files.text(d + "/reset_method", String.join(" ", f.reset()));
        if ((f.classCode() >> 16) == 0x03) files.text(d + "/boot_vga", f.bootVga() ? "1" : "0");
        for (String attr : List.of("remove", "rescan", "reset")) files.text(d + "/" + attr, "");
        files.bytes(d + "/config", configHeader(f));
        files.link("sys/bus/pci/devices/" + f.address(), d);
        // What the simulated kernel's drivers_probe binds when no override is set (the driver whose id table matches).
        String nativeDriver = f.driver() == null || f.driver().equals("vfio-pci") ? nativeDriverOf(f) : f.driver();
        if (nativeDriver != null) files.text(".sim/native-driver/" + f.address(), nativeDriver);
        if (f.driver() != null) {
            files.link(d + "/driver", "sys/bus/pci/drivers/" + f.driver());
            files.link("sys/bus/pci/drivers/" + f.driver() + "/" + f.address(), d);
        }
        if (f.group() >= 0 && spec.iommu() != HostSpec.Iommu.NONE) {
            String g = "sys/kernel/iommu_groups/" + f.group();
            files.link(d + "/iommu_group", g);
            files.link(g + "/devices/" + f.address(), d);
            if (!files.exists(g + "/type")) files.text(g + "/type", "DMA");
            files.link(d + "/iommu", "sys/devices/virtual/iommu/" + unitName(spec));
            files.link("sys/devices/virtual/iommu/" + unitName(spec) + "/devices/" + f.address(), d);
            if ("vfio-pci".equals(f.driver())) files.mkfile("dev/vfio/" + f.group());
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

    private void writeVolume(HostSpec spec, HostSpec.Volume vol, int index) throws IOException {
        List<String> ctrlDirs = new ArrayList<>();
        for (int m = 0; m < vol.members(); m++) {
            Endpoint ep = endpoint(spec, 0);
            fn(ep, 0, 0x144d, 0xa80a, 0x144d, 0xa801, 0x010802, "nvme", List.of("flr", "bus"));
            ctrlDirs.add(ep.dir(0));
        }
        storage.volume(vol, index, ctrlDirs);
    }

    private void writeDrivers(HostSpec spec) throws IOException {
        Set<String> all = new LinkedHashSet<>(drivers);
        if (spec.vfioLoaded()) all.add("vfio-pci");
        all.add("pci-stub");
        for (String drv : all) {
            String d = "sys/bus/pci/drivers/" + drv;
            files.mkdirs(d);
            for (String attr : List.of("bind", "unbind", "new_id", "remove_id")) files.text(d + "/" + attr, "");
        }
        files.text("sys/bus/pci/drivers_probe", "");
        files.text("sys/bus/pci/rescan", "");
        files.text("sys/bus/pci/drivers_autoprobe", "1");
    }

    private static String unitName(HostSpec spec) {
        return spec.iommu() == HostSpec.Iommu.AMD ? "ivhd0" : "dmar0";
    }

    private void writeIommu(HostSpec spec) throws IOException {
        files.mkdirs("sys/kernel/iommu_groups");
        files.mkdirs("sys/class/iommu");
        if (spec.iommu() == HostSpec.Iommu.NONE) return;
        String unit = "sys/devices/virtual/iommu/" + unitName(spec);
        files.mkdirs(unit + "/devices");
        if (spec.iommu() == HostSpec.Iommu.AMD) {
            files.mkdirs(unit + "/amd-iommu");
            files.text(unit + "/amd-iommu/cap", "0x190b6423");
            files.text(unit + "/amd-iommu/features", "0x25bf732fa2295afe:0x1d");
        } else {
            files.mkdirs(unit + "/intel-iommu");
            files.text(unit + "/intel-iommu/version", "1:0");
            files.text(unit + "/intel-iommu/address", "fed90000");
            files.text(unit + "/intel-iommu/cap", "d2008c40660462");
            // Bit 3 of ecap is Interrupt Remapping support.
            files.text(unit + "/intel-iommu/ecap", spec.iommu() == HostSpec.Iommu.INTEL_IR ? "f050da" : "f050d2");
        }
        files.link("sys/class/iommu/" + unitName(spec), unit);
    }

    private void writeModulesAndDev(HostSpec spec) throws IOException {
        files.mkdirs("dev");
        if (spec.vfioLoaded()) {
            files.text("sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "N");
            files.mkdirs("sys/module/vfio_pci/parameters");
            files.text("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N");
            files.mkfile("dev/vfio/vfio");
        }
        if (spec.iommufd()) {
            files.text("sys/module/iommufd/parameters/allow_unsafe_interrupts", "N");
            files.mkfile("dev/iommu");
        }
        for (String drv : drivers) {
            if (!drv.contains("-")) files.mkdirs("sys/module/" + drv);
        }
    }
}
