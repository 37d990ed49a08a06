package io.vfiobroker.domain;

import java.util.List;

/** SR-IOV facts of a physical function: how many VFs it can have, has, and which they are. */
public record Sriov(int totalVfs, int numVfs, List<PciAddress> virtualFunctions) {
    public Sriov {
        virtualFunctions = List.copyOf(virtualFunctions);
    }
}
