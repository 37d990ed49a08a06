package io.vfiobroker.interrupts;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.policy.Hosts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class InterruptSafetyCheckTest {

    @TempDir
    Path dir;

    private InterruptSafety assess(Path root, PciAddress a) {
        HostInventory inv = Hosts.inventory(root);
        Device d = inv.device(a).orElseThrow();
        return InterruptSafetyCheck.assess(inv, d, InterruptChips.read(new io.vfiobroker.host.LinuxSysfsHost(root)));
    }

    @Test
    void intelWithIrAndIrChipsIsSupported() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        InterruptSafety s = assess(root, Hosts.VF0);
        assertThat(s.verdict()).isEqualTo(InterruptRemapping.SUPPORTED);
        assertThat(s.safe()).isTrue();
        assertThat(s.iommuUnit()).isEqualTo("dmar0");
        assertThat(s.summary()).startsWith("0000:02:02.0 is behind dmar0, which remaps interrupts (intel-iommu/ecap 0xf050da has IR (bit 3) set")
                .contains("IR-IO-APIC");
    }

    @Test
    void intelWithoutIrNamesTheEcapBit() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_NO_IR);
        InterruptSafety s = assess(root, Hosts.EDU);
        assertThat(s.verdict()).isEqualTo(InterruptRemapping.UNSUPPORTED);
        assertThat(s.summary()).isEqualTo("0000:01:00.0 is behind dmar0, which does not remap interrupts"
                + " (intel-iommu/ecap 0xf050d2 has IR (bit 3) clear)");
    }

    @Test
    void hardwareIrButKernelBootedWithIntremapOffIsUnsupported() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        // What intremap=off leaves: the same chips without the IR- prefix.
        Hosts.write(root, "proc/interrupts", "   0:  41  IO-APIC  2-edge  timer\n  24:  0  PCI-MSIX-0000:01:00.0  0-edge  nvme0q0\n");
        InterruptSafety s = assess(root, Hosts.VF0);
        assertThat(s.verdict()).isEqualTo(InterruptRemapping.UNSUPPORTED);
        assertThat(s.summary()).contains("hardware supports interrupt remapping").contains("the kernel does not use it")
                .contains("intremap=off");
    }

    @Test
    void unreadableProcInterruptsMakesIntelIrUnknown() throws Exception {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        Files.delete(root.resolve("proc/interrupts"));
        InterruptSafety s = assess(root, Hosts.VF0);
        assertThat(s.verdict()).isEqualTo(InterruptRemapping.UNKNOWN);
        assertThat(s.safe()).isFalse();
        assertThat(s.summary()).contains("/proc/interrupts is unreadable");
    }

    @Test
    void amdIsJudgedByTheKernelsIrChips() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.AMD);
        InterruptSafety s = assess(root, Hosts.VF1);
        assertThat(s.verdict()).isEqualTo(InterruptRemapping.SUPPORTED);
        assertThat(s.iommuUnit()).isEqualTo("ivhd0");
        Hosts.write(root, "proc/interrupts", "   0:  41  IO-APIC  2-edge  timer\n");
        InterruptSafety off = assess(root, Hosts.VF1);
        assertThat(off.verdict()).isEqualTo(InterruptRemapping.UNSUPPORTED);
        assertThat(off.summary()).contains("ivhd0").contains("no IR- interrupt chips");
    }

    @Test
    void noIommuAtAllIsSaidSo() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.NONE);
        InterruptSafety s = assess(root, Hosts.EDU);
        assertThat(s.iommuPresent()).isFalse();
        assertThat(s.safe()).isFalse();
        assertThat(s.summary()).startsWith("0000:01:00.0 has no IOMMU: /sys/class/iommu is empty");
    }

    @Test
    void aDeviceOutsideEveryGroupOnAnIommuHostHasNoIommu() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        InterruptSafety s = assess(root, Hosts.HOST_BRIDGE);
        assertThat(s.iommuPresent()).isFalse();
        assertThat(s.summary()).isEqualTo("0000:00:00.0 has no iommu_group: no IOMMU translates it");
    }

    @Test
    void virtioIommuWithoutIrChipsIsUnknownNotUnsupported() throws Exception {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        // Re-label the unit as a virtio-iommu: no intel-iommu/ directory, a virtio modalias.
        Path unit = root.resolve("sys/devices/virtual/iommu/dmar0");
        try (var s = Files.walk(unit.resolve("intel-iommu"))) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        Hosts.write(root, "sys/devices/virtual/iommu/dmar0/device/modalias", "virtio:d00000017v00001AF4\n");
        Hosts.write(root, "proc/interrupts", "  24:  0  PCI-MSI-0000:00:03.0  0-edge  virtio0\n");
        InterruptSafety s = assess(root, Hosts.EDU);
        assertThat(s.verdict()).isEqualTo(InterruptRemapping.UNKNOWN);
        assertThat(s.summary()).contains("virtio-iommu exposes no interrupt-isolation flag");
    }

    @Test
    void chipsAreParsedWithoutTheirDeviceSuffix() {
        InterruptChips c = InterruptChips.parse("""
                            CPU0       CPU1
                   0:         41          0   IR-IO-APIC    2-edge      timer
                  24:          0       1200  IR-PCI-MSIX-0000:01:00.0    0-edge      nvme0q0
                  25:          0          0  IR-PCI-MSI-0000:00:17.0    0-edge      ahci
                 NMI:          0          0   Non-maskable interrupts
                """);
        assertThat(c.irChips()).containsExactly("IR-IO-APIC", "IR-PCI-MSI", "IR-PCI-MSIX");
        assertThat(InterruptChips.parse("  0:  41  IO-APIC  2-edge  timer  VIR-thing\n").irChips()).isEmpty();
    }

    @Test
    void kernelSwitchRefusalSaysHowToSetIt() {
        var k = Hosts.inventory(Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_NO_IR)).kernel();
        assertThat(UnsafeInterruptSwitch.TYPE1.allows(k)).isFalse();
        assertThat(UnsafeInterruptSwitch.TYPE1.refusal(k)).isEqualTo("vfio_iommu_type1 has allow_unsafe_interrupts=N, so"
                + " VFIO_SET_IOMMU would fail with EPERM; set it with 'echo Y > /sys/module/vfio_iommu_type1/parameters/"
                + "allow_unsafe_interrupts' or 'options vfio_iommu_type1 allow_unsafe_interrupts=1' in /etc/modprobe.d/");
        assertThat(UnsafeInterruptSwitch.IOMMUFD.refusal(k)).startsWith("iommufd is not loaded");
    }
}
