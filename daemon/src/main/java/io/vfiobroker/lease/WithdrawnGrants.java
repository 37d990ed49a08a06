package io.vfiobroker.lease;

import io.vfiobroker.policy.Decision;
import io.vfiobroker.policy.LeasePolicy;
import io.vfiobroker.policy.PolicyService;

import java.util.Collection;
import java.util.function.BiConsumer;

/**
 * After a policy reload: a live lease the policy no longer grants (for any device it reaches) is taken back, unless
 * the policy says to keep such leases until they end.
 */
final class WithdrawnGrants {

    private WithdrawnGrants() {
    }

    /** Calls {@code revoke} with the lease id and the reason for each lease whose grant was withdrawn. */
    static void check(PolicyService policy, Collection<LeaseRegistry.Held> leases, BiConsumer<String, String> revoke) {
        if (policy.current().leases().onWithdrawnGrant() == LeasePolicy.OnWithdrawnGrant.KEEP) return;
        for (LeaseRegistry.Held h : leases) {
            if (!h.lease().live()) continue;
            for (Lease.Device d : h.lease().allDevices()) {
                Decision decision;
                try {
                    decision = policy.decide(h.principal(), d.address());
                } catch (RuntimeException e) {
                    continue; // device gone: hot removal ends it
                }
                if (decision instanceof Decision.Refused r) {
                    revoke.accept(h.lease().id(), "grant withdrawn by policy reload: " + r.reason());
                    break;
                }
            }
        }
    }
}
