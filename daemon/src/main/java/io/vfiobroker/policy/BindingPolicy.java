package io.vfiobroker.policy;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Which devices the broker may move to vfio-pci at all, in the manner of SPDK's PCI_ALLOWED / PCI_BLOCKED:
 * a device matching any {@code deny} selector is never bound (deny wins); when {@code allow} is non-empty a
 * device must match one of its selectors. {@code protectedOverrides} are exact addresses the admin allows to
 * bind even though the binding checks find them in use (a mounted disk, the routed NIC, the boot VGA).
 */
public record BindingPolicy(List<DeviceSelector> allow, List<DeviceSelector> deny, List<PciAddress> protectedOverrides) {

    public static final BindingPolicy OPEN = new BindingPolicy(List.of(), List.of(), List.of());

    public BindingPolicy {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        protectedOverrides = List.copyOf(protectedOverrides);
    }

    /** Whether binding the device is permitted, and the sentence saying why. */
    public record Verdict(boolean permitted, String reason) {
    }

    public Verdict check(Device d, Map<String, DeviceSelector> labels) {
        for (int i = 0; i < deny.size(); i++) {
            if (deny.get(i).matches(d, labels, null)) {
                return new Verdict(false, d.address() + " matches binding.deny[" + i + "], so it is never bound to vfio-pci");
            }
        }
        if (allow.isEmpty()) return new Verdict(true, d.address() + " may be bound: binding.allow is empty and no binding.deny entry matches");
        List<Integer> hits = new ArrayList<>();
        for (int i = 0; i < allow.size(); i++) if (allow.get(i).matches(d, labels, null)) hits.add(i);
        if (hits.isEmpty()) return new Verdict(false, d.address() + " matches no binding.allow entry, so it is not bound to vfio-pci");
        return new Verdict(true, d.address() + " may be bound: it matches binding.allow[" + hits.get(0) + "]");
    }

    public boolean isProtectedOverride(PciAddress a) {
        return protectedOverrides.contains(a);
    }
}
