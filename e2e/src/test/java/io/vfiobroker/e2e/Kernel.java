package io.vfiobroker.e2e;

/** The kernels every VM scenario runs on; names match the cache pointers e2e/vm/prepare.sh makes. */
public enum Kernel {
    /** Debian bookworm's default kernel: vfio as modules, legacy container only. */
    DEBIAN_6_1("debian-6.1", false),
    /** Debian's 6.12 backport: .ko.xz modules, still no CONFIG_IOMMUFD. */
    DEBIAN_6_12("debian-6.12", false),
    /** 6.12 built from linux-source-6.12 with IOMMUFD and VFIO_DEVICE_CDEV built in. */
    CUSTOM_6_12("custom-6.12", true);

    private final String cacheName;
    private final boolean iommufd;

    Kernel(String cacheName, boolean iommufd) {
        this.cacheName = cacheName;
        this.iommufd = iommufd;
    }

    public String cacheName() { return cacheName; }

    /** Whether the kernel has iommufd, so /dev/iommu must exist in the guest. */
    public boolean hasIommufd() { return iommufd; }

    /** Modules are built in: /sys/module holds only those with parameters or a version. */
    public boolean builtInVfio() { return this == CUSTOM_6_12; }

    /**
     * The kernels to boot. By default the oldest (Debian 6.1, VFIO as modules) and the built 6.12 (built in, iommufd):
     * Debian's 6.12 is the same source as the built one, with modules instead, and each boot costs minutes of one core
     * (the test command has to fit its time budget). {@code -De2e.kernels=all} boots all three; a list such as
     * {@code debian-6.12,custom-6.12} boots those (to iterate on one).
     */
    public static java.util.List<Kernel> selected() {
        String only = System.getProperty("e2e.kernels", "").strip();
        if (only.isEmpty()) return java.util.List.of(DEBIAN_6_1, CUSTOM_6_12);
        if (only.equals("all")) return java.util.List.of(values());
        java.util.List<String> names = java.util.List.of(only.split("\\s*,\\s*"));
        for (String n : names) {
            if (java.util.Arrays.stream(values()).noneMatch(k -> k.cacheName.equals(n))) {
                throw new IllegalArgumentException("e2e.kernels: no kernel '" + n + "' (all, or a list of debian-6.1, debian-6.12, custom-6.12)");
            }
        }
        return java.util.Arrays.stream(values()).filter(k -> names.contains(k.cacheName)).toList();
    }

    @Override
    public String toString() { return cacheName; }
}
