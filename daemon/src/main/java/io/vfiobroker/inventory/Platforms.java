package io.vfiobroker.inventory;

import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.IommuUnit;
import io.vfiobroker.domain.KernelSupport;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.interrupts.InterruptChips;
import io.vfiobroker.interrupts.UnsafeInterruptSwitch;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The host's IOMMU units (and whether they remap interrupts) and the kernel's VFIO and iommufd support. */
final class Platforms {

    // Intel VT-d extended capability register, bit 3: Interrupt Remapping support.
    private static final long INTEL_ECAP_IR = 1L << 3;

    // IOMMU units and the kernel's IR- chips are fixed at boot, its modules and switches change rarely: Acquire
    // re-reads them at most once a second (a full scan always does). The kernel still refuses what its switches forbid.
    private static final long PLATFORM_TTL_NS = 1_000_000_000L;

    record Platform(List<IommuUnit> units, KernelSupport kernel, long readAt) {
    }

    private final SysfsHost host;
    private volatile Platform platform;

    Platforms(SysfsHost host) {
        this.host = host;
    }

    private List<IommuUnit> iommuUnits(boolean irChipsSeen) {
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
                InterruptRemapping ir = irChipsSeen ? InterruptRemapping.SUPPORTED : InterruptRemapping.UNKNOWN;
                String evidence = irChipsSeen
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

    /** The units and support, read again when {@code fresh} or older than a second. */
    Platform read(boolean fresh) {
        Platform p = platform;
        long now = System.nanoTime();
        if (fresh || p == null || now - p.readAt() > PLATFORM_TTL_NS) {
            boolean irChips = irChips();
            p = new Platform(List.copyOf(iommuUnits(irChips)), kernelSupport(irChips), now);
            platform = p;
        }
        return p;
    }

    private boolean irChips() {
        return Boolean.TRUE.equals(InterruptChips.read(host).kernelRemaps());
    }

    KernelSupport kernelSupport() {
        return kernelSupport(irChips());
    }

    private KernelSupport kernelSupport(boolean irChips) {
        return new KernelSupport(
                host.exists("sys/module/vfio"),
                host.exists("sys/module/vfio_pci") || host.exists("sys/bus/pci/drivers/vfio-pci"),
                host.exists("sys/module/vfio_iommu_type1"),
                host.exists("sys/module/iommufd"),
                host.exists("dev/vfio/vfio"),
                host.exists("dev/iommu"),
                UnsafeInterruptSwitch.TYPE1.allowed(host),
                UnsafeInterruptSwitch.IOMMUFD.allowed(host),
                irChips);
    }

    private static long parseHexLong(String s) {
        try {
            return Long.parseUnsignedLong(s.startsWith("0x") ? s.substring(2) : s, 16);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
