package io.vfiobroker.interrupts;

import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.PciAddress;

import java.util.List;

/**
 * Whether a device's interrupts are remapped (isolated), so that a user-space driver cannot forge MSI
 * writes into the host — the condition the original VFIO refused to work without.
 *
 * @param device        the device judged
 * @param iommuUnit     the IOMMU unit translating it, null when none is known
 * @param verdict       SUPPORTED, UNSUPPORTED or UNKNOWN
 * @param iommuPresent  false when no IOMMU translates the device at all (VFIO cannot isolate it)
 * @param reason        the clause that follows the address in a sentence: "is behind dmar0, which …"
 * @param evidence      each fact that led there, in the order it was weighed
 */
public record InterruptSafety(PciAddress device, String iommuUnit, InterruptRemapping verdict, boolean iommuPresent,
                              String reason, List<String> evidence) {

    public InterruptSafety {
        evidence = List.copyOf(evidence);
    }

    public boolean safe() {
        return iommuPresent && verdict == InterruptRemapping.SUPPORTED;
    }

    /** A sentence naming the device: "0000:3b:02.1 is behind dmar0, which does not remap interrupts (…)". */
    public String summary() {
        return device + " " + reason;
    }
}
