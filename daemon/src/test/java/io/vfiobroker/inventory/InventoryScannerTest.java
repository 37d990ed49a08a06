package io.vfiobroker.inventory;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class InventoryScannerTest {

    @TempDir
    Path dir;

    private HostInventory scan(HostSpec spec) {
        HostTreeGenerator.generate(spec, dir.resolve("host"));
        return new InventoryScanner(new LinuxSysfsHost(dir.resolve("host")), PciIds.empty()).scan();
    }

    @Test
    void acquiresReadOfADeviceSeesAnUnbindAndARecreatedDeviceAtOnce() throws Exception {
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2), dir.resolve("host"));
        io.vfiobroker.host.SimulatedKernelHost host = new io.vfiobroker.host.SimulatedKernelHost(root);
        InventoryScanner scanner = new InventoryScanner(host, PciIds.empty());
        PciAddress vf = scanner.scan().devices().stream().filter(Device::isVirtualFunction).findFirst().orElseThrow().address();
        assertThat(scanner.around(vf).orElseThrow().device(vf).orElseThrow().driver()).isEqualTo("iavf");
        assertThat(scanner.around(vf).orElseThrow().device(vf).orElseThrow().driver()).isEqualTo("iavf"); // reused

        host.write("sys/bus/pci/devices/" + vf + "/driver/unbind", vf.toString());
        assertThat(scanner.around(vf).orElseThrow().device(vf).orElseThrow().driver()).isNull();

        // The same address, another device: the kernel gives it a new directory.
        Path devDir = root.resolve("sys/bus/pci/devices/" + vf).toRealPath();
        Path moved = devDir.resolveSibling("gone");
        java.nio.file.Files.move(devDir, moved);
        java.nio.file.Files.createDirectory(devDir);
        try (var files = java.nio.file.Files.list(moved)) {
            for (Path f : files.toList()) {
                if (java.nio.file.Files.isSymbolicLink(f)) java.nio.file.Files.createSymbolicLink(devDir.resolve(f.getFileName()), java.nio.file.Files.readSymbolicLink(f));
                else if (java.nio.file.Files.isRegularFile(f)) java.nio.file.Files.copy(f, devDir.resolve(f.getFileName()));
            }
        }
        String uevent = java.nio.file.Files.readString(devDir.resolve("uevent"));
        java.nio.file.Files.writeString(devDir.resolve("uevent"), uevent.replace("PCI_ID=8086:154C", "PCI_ID=8086:1889"));
        assertThat(scanner.around(vf).orElseThrow().device(vf).orElseThrow().vendorDevice()).isEqualTo("8086:1889");
    }

    @Test
    void listsEveryPfAndVfOfTheSpecWithTheirSriovLinks() {
        HostInventory inv = scan(HostSpec.sriovScale(3, 5));
        List<Device> pfs = inv.devices().stream().filter(d -> d.sriov() != null).toList();
        List<Device> vfs = inv.devices().stream().filter(Device::isVirtualFunction).toList();
        assertThat(pfs).hasSize(3);
        assertThat(vfs).hasSize(15);
        for (Device pf : pfs) {
            assertThat(pf.sriov().numVfs()).isEqualTo(5);
            assertThat(pf.sriov().totalVfs()).isEqualTo(64);
            assertThat(pf.sriov().virtualFunctions()).hasSize(5)
                    .allSatisfy(vf -> assertThat(inv.device(vf).orElseThrow().physicalFunction()).isEqualTo(pf.address()));
            assertThat(pf.driver()).isEqualTo("i40e");
        }
        assertThat(vfs).allSatisfy(vf -> {
            assertThat(vf.vendorDevice()).isEqualTo("8086:154c");
            assertThat(vf.driver()).isEqualTo("iavf");
            assertThat(vf.iommuGroup()).isNotNull();
        });
        // PFs alternate over two NUMA nodes
        assertThat(pfs.stream().map(Device::numaNode).distinct()).containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void perDeviceLayoutGivesEveryVfItsOwnGroup() {
        HostInventory inv = scan(HostSpec.sriovScale(2, 4));
        for (Device vf : inv.devices().stream().filter(Device::isVirtualFunction).toList()) {
            IommuGroup g = inv.group(vf.iommuGroup()).orElseThrow();
            assertThat(g.devices()).containsExactly(vf.address());
            assertThat(g.viable()).isFalse();
            assertThat(g.blockers()).containsExactly(vf.address() + " is bound to iavf");
        }
    }

    @Test
    void sharedLayoutPutsPfAndVfsInOneGroup() {
        HostInventory inv = scan(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        Device pf = inv.devices().stream().filter(d -> d.sriov() != null).findFirst().orElseThrow();
        IommuGroup g = inv.group(pf.iommuGroup()).orElseThrow();
        assertThat(g.devices()).hasSize(4).contains(pf.address()).containsAll(pf.sriov().virtualFunctions());
    }

    @Test
    void bridgeLayoutGroupsTheBridgeWithItsEndpointAndABridgeDoesNotBlockViability() {
        HostInventory inv = scan(HostSpec.sriovScale(1, 0).withLayout(HostSpec.GroupLayout.BRIDGE).withVfDriver(null));
        Device pf = inv.devices().stream().filter(d -> d.sriov() != null).findFirst().orElseThrow();
        IommuGroup g = inv.group(pf.iommuGroup()).orElseThrow();
        assertThat(g.devices()).hasSize(2);
        Device bridge = inv.device(g.devices().stream().filter(a -> !a.equals(pf.address())).findFirst().orElseThrow()).orElseThrow();
        assertThat(bridge.pciClass().isPciBridge()).isTrue();
        assertThat(g.blockers()).containsExactly(pf.address() + " is bound to i40e");
    }

    @Test
    void vfsBoundToVfioPciMakeViableGroups() {
        HostInventory inv = scan(HostSpec.sriovScale(1, 2).withVfDriver("vfio-pci"));
        List<IommuGroup> vfGroups = inv.devices().stream().filter(Device::isVirtualFunction)
                .map(vf -> inv.group(vf.iommuGroup()).orElseThrow()).toList();
        assertThat(vfGroups).hasSize(2).allSatisfy(g -> assertThat(g.viable()).isTrue());
        assertThat(dir.resolve("host/dev/vfio/" + vfGroups.get(0).id())).exists();
    }

    @Test
    void intelInterruptRemappingFollowsTheEcapIrBit() {
        HostInventory on = scan(HostSpec.demo());
        assertThat(on.iommuUnits()).singleElement().satisfies(u -> {
            assertThat(u.name()).isEqualTo("dmar0");
            assertThat(u.type()).isEqualTo("intel-vt-d");
            assertThat(u.interruptRemapping()).isEqualTo(InterruptRemapping.SUPPORTED);
            assertThat(u.evidence()).contains("ecap").contains("bit 3) set");
        });
        assertThat(on.kernel().interruptRemappingChipsSeen()).isTrue();
    }

    @Test
    void intelWithoutIrIsReportedUnsupported() {
        HostInventory off = scan(HostSpec.demo().withIommu(HostSpec.Iommu.INTEL_NO_IR));
        assertThat(off.iommuUnits()).singleElement()
                .satisfies(u -> assertThat(u.interruptRemapping()).isEqualTo(InterruptRemapping.UNSUPPORTED));
        assertThat(off.kernel().interruptRemappingChipsSeen()).isFalse();
    }

    @Test
    void noIommuMeansNoGroupsAndNoUnits() {
        HostInventory none = scan(HostSpec.demo().withIommu(HostSpec.Iommu.NONE));
        assertThat(none.iommuUnits()).isEmpty();
        assertThat(none.groups()).isEmpty();
        assertThat(none.devices()).allSatisfy(d -> assertThat(d.iommuGroup()).isNull());
    }

    @Test
    void amdUnitsTakeTheirVerdictFromInterruptChips() {
        HostInventory amd = scan(HostSpec.demo().withIommu(HostSpec.Iommu.AMD));
        assertThat(amd.iommuUnits()).singleElement().satisfies(u -> {
            assertThat(u.type()).isEqualTo("amd-vi");
            assertThat(u.interruptRemapping()).isEqualTo(InterruptRemapping.SUPPORTED);
            assertThat(u.evidence()).contains("IR- interrupt chips");
        });
    }

    @Test
    void demoHostHasTheProtectedAndSharedPieces() {
        HostInventory inv = scan(HostSpec.demo());
        assertThat(inv.devices()).anySatisfy(d -> assertThat(d.bootVga()).isTrue());
        Device gpu = inv.devices().stream().filter(d -> d.vendorDevice().equals("10de:24b0")).findFirst().orElseThrow();
        assertThat(inv.group(gpu.iommuGroup()).orElseThrow().devices()).hasSize(2);
        assertThat(inv.kernel().vfio()).isTrue();
        assertThat(inv.kernel().type1AllowUnsafeInterrupts()).isFalse();
        assertThat(inv.kernel().iommufd()).isFalse();
        assertThat(inv.device(PciAddress.parse("0000:01:00.0")).orElseThrow().resetMethods()).containsExactly("flr", "bus");
    }

    @Test
    void kernelWithoutVfioModulesIsReported() {
        HostInventory inv = scan(HostSpec.demo().withVfioLoaded(false).withIommufd(true));
        assertThat(inv.kernel().vfio()).isFalse();
        assertThat(inv.kernel().vfioContainerNode()).isFalse();
        assertThat(inv.kernel().iommufd()).isTrue();
        assertThat(inv.kernel().iommufdNode()).isTrue();
    }
}
