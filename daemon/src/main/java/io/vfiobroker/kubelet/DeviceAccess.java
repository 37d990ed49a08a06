package io.vfiobroker.kubelet;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.policy.Decision;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.policy.Principal;

import java.util.List;
import java.util.Optional;

/** Whether policy lets a Kubernetes resource have a device; a refusal is the reason, ready for a log or an error. */
@FunctionalInterface
public interface DeviceAccess {

    Optional<String> refusal(String resourceName, PciAddress device, HostInventory inventory);

    DeviceAccess ALLOW_ALL = (r, d, i) -> Optional.empty();

    /**
     * The policy engine, asked for the principal "Kubernetes resource R". No uid: the kubelet acts for pods whose
     * uids we never see, so only {@code kubernetesResource} (or {@code any}) rules can grant pool devices.
     */
    static DeviceAccess policy(PolicyService policy) {
        return (resource, device, inventory) -> {
            Decision d = policy.decide(principal(resource), device, inventory);
            return d instanceof Decision.Refused r ? Optional.of(r.reason()) : Optional.empty();
        };
    }

    static Principal principal(String resourceName) {
        return new Principal(-1, -1, List.of(), null, resourceName);
    }
}
