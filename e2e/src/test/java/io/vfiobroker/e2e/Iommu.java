package io.vfiobroker.e2e;

/** The emulated platform's IOMMU, as run-vm.sh --iommu takes it. */
public enum Iommu {
    /** Intel VT-d with interrupt remapping: a safe platform for VFIO. */
    ON("on"),
    /** Intel VT-d without interrupt remapping: the unsafe-interrupts case. */
    OFF("off"),
    /** No IOMMU at all (intel_iommu=off): no groups, VFIO unusable. */
    NONE("none");

    private final String arg;

    Iommu(String arg) { this.arg = arg; }

    public String arg() { return arg; }

    public boolean interruptRemapping() { return this == ON; }

    @Override
    public String toString() { return "iommu-" + arg; }
}
