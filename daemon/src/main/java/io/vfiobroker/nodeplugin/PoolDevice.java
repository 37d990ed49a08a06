package io.vfiobroker.nodeplugin;

import io.vfiobroker.domain.PciAddress;

/**
 * A device as one pool lists it to the kubelet.
 *
 * @param group    IOMMU group, null when the kernel put it in none (then it is never healthy)
 * @param numaNode -1 when the platform reports none
 * @param reason   why it is unhealthy, null when healthy
 */
public record PoolDevice(PciAddress address, Integer group, int numaNode, String reason) {

    public static final String HEALTHY = "Healthy";
    public static final String UNHEALTHY = "Unhealthy";

    public String id() {
        return address.toString();
    }

    public boolean healthy() {
        return reason == null;
    }

    public String health() {
        return healthy() ? HEALTHY : UNHEALTHY;
    }
}
