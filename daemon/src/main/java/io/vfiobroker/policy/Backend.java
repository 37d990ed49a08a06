package io.vfiobroker.policy;

import java.util.Locale;

/** Which VFIO DMA backend a grant may use: the legacy type1 container, iommufd, or whichever the host has. */
public enum Backend {
    LEGACY, IOMMUFD, EITHER;

    public String wireName() { return name().toLowerCase(Locale.ROOT); }

    /** The lowercase name leases, the store and the domain opener use. */
    public String wire() { return wireName(); }

    /** "legacy" or "iommufd" (a lease's backend), else null. */
    public static Backend parseWire(String s) {
        if (s == null) return null;
        return switch (s) {
            case "legacy" -> LEGACY;
            case "iommufd" -> IOMMUFD;
            default -> null;
        };
    }
}
