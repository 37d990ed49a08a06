package io.vfiobroker.domain;

/** What the running kernel offers for VFIO, as seen in /sys/module, /sys/bus/pci/drivers and /dev. */
public record KernelSupport(
        boolean vfio,
        boolean vfioPci,
        boolean vfioIommuType1,
        boolean iommufd,
        boolean vfioContainerNode,
        boolean iommufdNode,
        Boolean type1AllowUnsafeInterrupts,
        Boolean iommufdAllowUnsafeInterrupts,
        boolean interruptRemappingChipsSeen) {
}
