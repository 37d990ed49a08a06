package io.vfiobroker.kubelet;

import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.lease.LeaseService;

import java.util.List;
import java.util.Map;

/**
 * Where the lease service ties broker-mode allocations to leases: called once per container in Allocate,
 * after the devices were checked and before the answer goes to the kubelet. The kubelet names neither pod nor
 * uid here, so a lease can be prepared for the resource and devices only; the client process in the pod is
 * identified later by SO_PEERCRED when it connects. Extra env returned (a ticket, say) is passed to the container.
 */
public interface KubeletAllocationHook {

    Map<String, String> allocated(String resourceName, PoolConfig.Mode mode, List<PciAddress> devices);

    KubeletAllocationHook NONE = (resource, mode, devices) -> Map.of();

    /** Broker mode: registers the allocation with the lease service and hands its token to the container. */
    static KubeletAllocationHook leases(LeaseService leases) {
        return (resource, mode, devices) -> mode == PoolConfig.Mode.BROKER
                ? Map.of(VfioBrokerClient.ALLOCATION_ENV, leases.registerAllocation(resource, devices))
                : Map.of();
    }
}
