package io.vfiobroker.interrupts;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.IommuUnit;

import java.util.ArrayList;
import java.util.List;

/**
 * Judges one device's interrupt isolation from its IOMMU unit (what the hardware can do) and the kernel's
 * interrupt chips (what the kernel actually does). Both must agree before a device counts as safe.
 */
public final class InterruptSafetyCheck {

    private InterruptSafetyCheck() {
    }

    public static InterruptSafety assess(HostInventory inventory, Device device, InterruptChips chips) {
        List<String> evidence = new ArrayList<>();
        if (device.iommuGroup() == null && device.iommuUnit() == null) {
            String why = inventory.iommuUnits().isEmpty()
                    ? "has no IOMMU: /sys/class/iommu is empty and the device has no iommu_group (VT-d/AMD-Vi off in firmware,"
                      + " or the kernel booted without intel_iommu=on / with iommu=off)"
                    : "has no iommu_group: no IOMMU translates it";
            evidence.add(why);
            return new InterruptSafety(device.address(), null, InterruptRemapping.UNSUPPORTED, false, why, evidence);
        }
        IommuUnit unit = device.iommuUnit() == null ? null
                : inventory.iommuUnits().stream().filter(u -> u.name().equals(device.iommuUnit())).findFirst().orElse(null);
        if (unit != null) evidence.add(unit.name() + " (" + unit.type() + "): " + unit.evidence());
        evidence.add(chips.describe());
        Boolean remaps = chips.kernelRemaps();
        String name = unit != null ? unit.name() : device.iommuUnit();
        String behind = name != null ? "is behind " + name + ", which " : "is in IOMMU group " + device.iommuGroup() + ", whose IOMMU ";

        if (unit == null || !isX86(unit)) {
            // Without an x86 unit's flag only the kernel's chips can show remapping; their absence proves nothing
            // on platforms (ARM ITS, virtio-iommu) that isolate MSIs without IR- chips.
            if (Boolean.TRUE.equals(remaps)) {
                return verdict(device, name, InterruptRemapping.SUPPORTED, behind + "remaps interrupts (" + chips.describe() + ")", evidence);
            }
            String what = unit == null ? "the device's IOMMU unit is not listed under /sys/class/iommu"
                    : unit.type() + " exposes no interrupt-isolation flag";
            return verdict(device, name, InterruptRemapping.UNKNOWN,
                    behind + "may not isolate interrupts: cannot tell (" + what + "; " + chips.describe() + ")", evidence);
        }
        InterruptRemapping hw = unit.interruptRemapping();
        if (hw == InterruptRemapping.UNSUPPORTED) {
            return verdict(device, name, InterruptRemapping.UNSUPPORTED, behind + "does not remap interrupts (" + unit.evidence() + ")", evidence);
        }
        if (remaps == null) {
            return verdict(device, name, InterruptRemapping.UNKNOWN, behind + "may not remap interrupts: " + unit.evidence()
                    + ", but /proc/interrupts is unreadable, so whether the kernel enabled remapping is unknown", evidence);
        }
        if (remaps) {
            // The kernel turns remapping on only when every unit supports it, so IR- chips vouch for this unit too.
            String hwText = hw == InterruptRemapping.SUPPORTED ? unit.evidence() + "; " : "";
            return verdict(device, name, InterruptRemapping.SUPPORTED, behind + "remaps interrupts (" + hwText + chips.describe() + ")", evidence);
        }
        String hwText = hw == InterruptRemapping.SUPPORTED
                ? "whose hardware supports interrupt remapping (" + unit.evidence() + ") but the kernel does not use it: "
                  + chips.describe() + " (booted with intremap=off?)"
                : "does not remap interrupts (" + unit.evidence() + "; " + chips.describe() + ")";
        String clause = hw == InterruptRemapping.SUPPORTED ? "is behind " + name + ", " + hwText : behind + hwText;
        return verdict(device, name, InterruptRemapping.UNSUPPORTED, clause, evidence);
    }

    private static boolean isX86(IommuUnit u) {
        return u.type().equals("intel-vt-d") || u.type().equals("amd-vi");
    }

    private static InterruptSafety verdict(Device d, String unit, InterruptRemapping v, String reason, List<String> evidence) {
        return new InterruptSafety(d.address(), unit, v, true, reason, evidence);
    }
}
