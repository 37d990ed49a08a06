package io.vfiobroker.domain;

import java.util.Locale;

/**
 * The VFIO DMA backend, from the wire to the domain opener: the legacy type1 container or iommufd. EITHER exists
 * only in policy limits ("no constraint"); a lease, a pool and an opened domain are always one of the other two.
 */
public enum Backend {
    LEGACY, IOMMUFD, EITHER;

    /** "legacy", "iommufd" or "either": the spelling of config files, policy, JSON and the CLI. */
    public String wireName() { return name().toLowerCase(Locale.ROOT); }

    /** "legacy" or "iommufd"; anything else is refused with a message naming the value and the accepted ones. */
    public static Backend parse(String s) {
        if ("legacy".equals(s)) return LEGACY;
        if ("iommufd".equals(s)) return IOMMUFD;
        throw new IllegalArgumentException("unknown backend '" + s + "': legacy or iommufd");
    }

    /** Refuses EITHER where a concrete backend is needed (a pool, a lease, an opened domain). */
    public Backend concrete(String what) {
        if (this == EITHER) throw new IllegalArgumentException(what + ": backend must be legacy or iommufd, not either");
        return this;
    }
}
