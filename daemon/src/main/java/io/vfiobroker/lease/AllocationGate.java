package io.vfiobroker.lease;

import io.vfiobroker.domain.PciAddress;

import java.util.Set;

/**
 * What Acquire asks of broker-mode allocations (kept by the kubelet adapter): whether a token may lease now, and
 * that a lease now holds it or has ended. Implementations are thread-safe.
 */
public interface AllocationGate {

    /** An allocation a client may lease under: its Kubernetes resource (the policy principal) and its devices. */
    record Allocation(String token, String resource, Set<PciAddress> devices) {
        public Allocation {
            devices = Set.copyOf(devices);
        }

        public String describe() {
            return "allocation of " + resource + " " + devices.stream().sorted().toList();
        }
    }

    /** The allocation {@code token} names, if it may lease now; else a {@link LeaseException} saying why. */
    Allocation claimable(String token);

    /** Lease {@code leaseId} now holds the allocation; a {@link LeaseException} if another lease does or the token is gone. */
    void claim(String token, String leaseId);

    /** A lease ended: its allocation may be claimed again. */
    void leaseEnded(String leaseId);

    /** No broker-mode pool: no token is valid. */
    AllocationGate NONE = new AllocationGate() {
        @Override
        public Allocation claimable(String token) {
            throw new LeaseException(LeaseException.Kind.DENIED, "unknown allocation token (VFIO_BROKER_ALLOCATION): this daemon serves "
                    + "no broker-mode pool");
        }

        @Override
        public void claim(String token, String leaseId) {
        }

        @Override
        public void leaseEnded(String leaseId) {
        }
    };
}
