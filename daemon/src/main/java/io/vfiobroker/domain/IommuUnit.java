package io.vfiobroker.domain;

import java.util.Map;

/** A hardware (or paravirtual) IOMMU as listed under /sys/class/iommu. */
public record IommuUnit(String name, String type, InterruptRemapping interruptRemapping, String evidence,
                        Map<String, String> registers) {
    public IommuUnit {
        registers = Map.copyOf(registers);
    }
}
