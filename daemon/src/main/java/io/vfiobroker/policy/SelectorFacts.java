package io.vfiobroker.policy;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;

import java.util.Map;

/**
 * What a {@link DeviceSelector} needs beyond the {@link Device} record: the policy's labels, and for the pool-only
 * criteria {@code driver} and {@code pfName}, facts that only the host and the binding journal know.
 */
public interface SelectorFacts {

    Map<String, DeviceSelector> labels();

    /** The driver the device had before vfio-broker bound it; its current one when vfio-broker did not bind it. */
    default String driverBefore(Device d) {
        return d.driver();
    }

    /** Whether {@code name} names this PF: its PCI address, or (where the host is read) one of its netdevs. */
    default boolean namesPf(PciAddress pf, String name) {
        return name.equalsIgnoreCase(pf.toString());
    }

    /** The VF's index under its PF, -1 when not known. */
    default int vfIndex(Device vf) {
        return -1;
    }

    static SelectorFacts of(Map<String, DeviceSelector> labels) {
        return () -> labels;
    }
}
