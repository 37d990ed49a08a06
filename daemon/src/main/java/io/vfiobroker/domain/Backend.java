package io.vfiobroker.domain;

import java.util.Locale;

/**
 * The VFIO DMA backend, from the wire to the domain opener: the legacy type1 container or iommufd. A lease, a pool
 * and an opened domain are always one of the two; policy limits allow a set of them ("either" is both).
 */
public enum Backend {
    LEGACY, IOMMUFD;

    /** "legacy" or "iommufd": the spelling of config files, policy, JSON and the CLI. */
    public String wireName() { return name().toLowerCase(Locale.ROOT); }

    /** "legacy" or "iommufd"; anything else is refused with a message naming the value and the accepted ones. */
    public static Backend parse(String s) {
        if ("legacy".equals(s)) return LEGACY;
        if ("iommufd".equals(s)) return IOMMUFD;
        throw new IllegalArgumentException("unknown backend '" + s + "': legacy or iommufd");
    }
}
