package io.vfiobroker.inventory;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.LinuxSysfsHost;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The inventory against layouts the kernel writes, not the generator's: a tree transcribed link by link from
 * a q35 guest with an Intel IOMMU and QEMU's edu device, and this machine's own read-only /sys.
 */
class KernelLayoutTest {

    @TempDir
    Path root;

    private void file(String rel, String content) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content + "\n");
    }

    private void link(String rel, String target) throws IOException {
        Path p = root.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.createSymbolicLink(p, Path.of(target));
    }

    @Test
    void readsAQ35GuestAsTheKernelLaysItOut() throws IOException {
        String edu = "sys/devices/pci0000:00/0000:00:03.0";
        file(edu + "/vendor", "0x1234");
        file(edu + "/device", "0x11e8");
        file(edu + "/subsystem_vendor", "0x1af4");
        file(edu + "/subsystem_device", "0x1100");
        file(edu + "/class", "0x00ff00");
        file(edu + "/numa_node", "-1");
        file(edu + "/driver_override", "(null)");
        file(edu + "/uevent", "DRIVER=vfio-pci\nPCI_CLASS=FF00\nPCI_ID=1234:11E8\nPCI_SUBSYS_ID=1AF4:1100\nPCI_SLOT_NAME=0000:00:03.0");
        link(edu + "/iommu_group", "../../../kernel/iommu_groups/3");
        link(edu + "/iommu", "../../virtual/iommu/dmar0");
        link(edu + "/driver", "../../../bus/pci/drivers/vfio-pci");
        link("sys/bus/pci/devices/0000:00:03.0", "../../../devices/pci0000:00/0000:00:03.0");
        Files.createDirectories(root.resolve("sys/bus/pci/drivers/vfio-pci"));
        link("sys/kernel/iommu_groups/3/devices/0000:00:03.0", "../../../../devices/pci0000:00/0000:00:03.0");
        file("sys/devices/virtual/iommu/dmar0/intel-iommu/ecap", "f00f5e");
        file("sys/devices/virtual/iommu/dmar0/intel-iommu/cap", "12008c22260286");
        link("sys/class/iommu/dmar0", "../../devices/virtual/iommu/dmar0");
        link("sys/devices/virtual/iommu/dmar0/devices/0000:00:03.0", "../../../../pci0000:00/0000:00:03.0");
        file("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N");
        Files.createDirectories(root.resolve("sys/module/vfio"));
        Files.createDirectories(root.resolve("sys/module/vfio_pci"));

        HostInventory inv = new InventoryScanner(new LinuxSysfsHost(root), PciIds.empty()).scan();

        Device d = inv.device(PciAddress.parse("0000:00:03.0")).orElseThrow();
        assertThat(d.vendorDevice()).isEqualTo("1234:11e8");
        assertThat(d.subsystemVendorId()).isEqualTo("1af4");
        assertThat(d.pciClass().code()).isEqualTo(0x00ff00);
        assertThat(d.driver()).isEqualTo("vfio-pci");
        assertThat(d.driverOverride()).isNull();
        assertThat(d.iommuGroup()).isEqualTo(3);
        assertThat(d.iommuUnit()).isEqualTo("dmar0");
        assertThat(inv.group(3).orElseThrow().viable()).isTrue();
        // An ecap with bit 3 (IR) set, as QEMU advertises with intremap=on.
        assertThat(inv.iommuUnits()).singleElement()
                .satisfies(u -> assertThat(u.interruptRemapping()).isEqualTo(InterruptRemapping.SUPPORTED));
        assertThat(inv.kernel().vfioIommuType1()).isTrue();
        assertThat(inv.kernel().type1AllowUnsafeInterrupts()).isFalse();
    }

    @Test
    void agreesWithLspciOnThisMachinesRealSysfs() throws Exception {
        assertThat(Path.of("/sys/bus/pci/devices")).as("this machine has PCI devices in sysfs").isDirectory();
        Process p = new ProcessBuilder("lspci", "-D", "-n", "-mm").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("lspci output: %s", out).isZero();
        // -mm -n lines: 0000:00:03.0 "0200" "1af4" "1041" ...
        Set<String> expected = out.lines().filter(l -> !l.isBlank()).map(l -> {
            String[] f = l.split(" ");
            return f[0] + " " + f[2].replace("\"", "") + ":" + f[3].replace("\"", "");
        }).collect(Collectors.toCollection(TreeSet::new));

        HostInventory inv = new InventoryScanner(new LinuxSysfsHost(Path.of("/")), PciIds.empty()).scan();
        Set<String> ours = inv.devices().stream().map(d -> d.address() + " " + d.vendorDevice())
                .collect(Collectors.toCollection(TreeSet::new));
        assertThat(ours).isNotEmpty().isEqualTo(expected);
    }
}
