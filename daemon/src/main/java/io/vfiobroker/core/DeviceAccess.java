package io.vfiobroker.core;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.policy.Decision;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.policy.Principal;

import java.util.Optional;

/** Whether policy lets a consumer have a device; a refusal is the reason, ready for a log or an error. */
@FunctionalInterface
public interface DeviceAccess {

    Optional<String> refusal(Principal who, PciAddress device, HostInventory inventory);

    /** The policy engine, asked with the inventory the caller already read. */
    static DeviceAccess policy(PolicyService policy) {
        return (who, device, inventory) -> {
            Decision d = policy.decide(who, device, inventory);
            return d instanceof Decision.Refused r ? Optional.of(r.reason()) : Optional.empty();
        };
    }
}
