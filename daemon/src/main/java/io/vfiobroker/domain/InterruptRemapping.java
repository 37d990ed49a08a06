package io.vfiobroker.domain;

/** Whether an IOMMU unit remaps (isolates) device interrupts, the seed's core safety condition. */
public enum InterruptRemapping {
    SUPPORTED, UNSUPPORTED, UNKNOWN;

    public String wireName() { return name().toLowerCase(java.util.Locale.ROOT); }
}
