package io.vfiobroker.cli;

import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** A device (its whole group is meant) or an IOMMU group number: what bind and release act on. */
final class GroupTarget {
    @Parameters(paramLabel = "ADDR", description = "a device (DDDD:BB:DD.F); its whole IOMMU group is meant")
    String address;

    @Option(names = "--group", paramLabel = "N", description = "an IOMMU group number")
    Integer group;
}
