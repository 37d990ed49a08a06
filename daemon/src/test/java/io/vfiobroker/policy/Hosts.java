package io.vfiobroker.policy;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Generated hosts for policy tests: QEMU's edu device, one X710 PF with two VFs, accounts in etc/. */
public final class Hosts {

    /** edu sits behind the first root port, the NIC behind the second. */
    public static final PciAddress EDU = PciAddress.parse("0000:01:00.0");
    public static final PciAddress PF = PciAddress.parse("0000:02:00.0");
    public static final PciAddress VF0 = PciAddress.parse("0000:02:02.0");
    public static final PciAddress VF1 = PciAddress.parse("0000:02:02.1");
    /** The host bridge: never in an IOMMU group. */
    public static final PciAddress HOST_BRIDGE = PciAddress.parse("0000:00:00.0");

    private Hosts() {
    }

    public static HostSpec spec(HostSpec.Iommu iommu) {
        return new HostSpec(1, 2, "iavf", HostSpec.GroupLayout.PER_DEVICE, iommu, false, false, false, false, false,
                true, true, false, 1);
    }

    public static Path generate(Path dir, HostSpec.Iommu iommu) {
        return generate(dir, spec(iommu));
    }

    public static Path generate(Path dir, HostSpec spec) {
        Path root = HostTreeGenerator.generate(spec, dir);
        write(root, "etc/passwd", """
                root:x:0:0:root:/root:/bin/bash
                alice:x:1000:1000:Alice:/home/alice:/bin/bash
                bob:x:1001:1001:Bob:/home/bob:/bin/bash
                """);
        write(root, "etc/group", """
                root:x:0:
                alice:x:1000:
                bob:x:1001:
                dpdk:x:2000:bob
                storage:x:2001:
                """);
        return root;
    }

    public static InventoryScanner scanner(Path root) {
        return new InventoryScanner(new LinuxSysfsHost(root), PciIds.system());
    }

    public static HostInventory inventory(Path root) {
        return scanner(root).scan();
    }

    public static void write(Path root, String rel, String text) {
        try {
            Path p = root.resolve(rel);
            Files.createDirectories(p.getParent());
            Files.writeString(p, text);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The kernel's switch for the legacy path, as an admin would set it. */
    public static void allowUnsafeType1(Path root, boolean yes) {
        write(root, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", yes ? "Y\n" : "N\n");
    }
}
