package io.vfiobroker.nodeplugin;

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

    /**
     * Broker mode: registers the allocation (the leases of those it replaces are taken back) and hands its token to the
     * container; the lease service asks {@code allocations} when a client presents it.
     */
    static KubeletAllocationHook leases(LeaseService leases, Allocations allocations) {
        leases.allocations(allocations);
        return (resource, mode, devices) -> {
            if (mode != PoolConfig.Mode.BROKER) return Map.of();
            Map.Entry<String, List<String>> r = allocations.register(resource, new java.util.LinkedHashSet<>(devices));
            leases.allocationReplaced(resource, devices, r.getValue());
            return Map.of(VfioBrokerClient.ALLOCATION_ENV, r.getKey());
        };
    }
}
