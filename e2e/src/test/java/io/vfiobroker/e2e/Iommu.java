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

    /** ON and OFF, or only those named in -De2e.iommu=on (to iterate on one). */
    public static java.util.List<Iommu> selected() {
        String only = System.getProperty("e2e.iommu", "").strip();
        if (only.isEmpty()) return java.util.List.of(ON, OFF);
        java.util.List<String> names = java.util.List.of(only.split("\\s*,\\s*"));
        return java.util.stream.Stream.of(ON, OFF).filter(i -> names.contains(i.arg)).toList();
    }

    @Override
    public String toString() { return "iommu-" + arg; }
}
