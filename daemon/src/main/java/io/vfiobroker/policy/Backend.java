package io.vfiobroker.policy;

import java.util.Locale;

/** Which VFIO DMA backend a grant may use: the legacy type1 container, iommufd, or whichever the host has. */
public enum Backend {
    LEGACY, IOMMUFD, EITHER;

    public String wireName() { return name().toLowerCase(Locale.ROOT); }
}
