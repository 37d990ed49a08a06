package io.vfiobroker.dra;

/**
 * Looks up what was allocated to a claim: the kubelet's request names the claim only, the allocation is in the
 * ResourceClaim's status on the API server.
 */
@FunctionalInterface
public interface ClaimSource {

    /** @throws DraException when the claim cannot be read or has no allocation for this driver */
    AllocatedClaim allocation(ClaimRef claim);
}
