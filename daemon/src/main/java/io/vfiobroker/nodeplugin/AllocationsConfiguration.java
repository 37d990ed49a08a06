package io.vfiobroker.nodeplugin;

import io.vfiobroker.lease.LeaseService;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.time.Duration;

/** One registry of broker-mode allocations, and one hook into the leases, shared by the device plugin and the DRA driver. */
@Configuration(proxyBeanMethods = false)
public class AllocationsConfiguration {

    /** Unclaimed, an allocation's token expires after the TTL. */
    @Bean
    Allocations brokerAllocationRegistry(@Value("${vfio-broker.kubelet.allocation-ttl:1h}") Duration ttl) {
        return new Allocations(ttl);
    }

    /**
     * Broker-mode Allocate (and Prepare) answers a token the pod's client presents on Acquire. Only with a plugin
     * enabled: without one, the leases refuse every token as "no broker-mode pool".
     */
    @Bean
    @ConditionalOnExpression("${vfio-broker.kubelet.enabled:false} or ${vfio-broker.dra.enabled:false}")
    KubeletAllocationHook brokerAllocations(LeaseService leases, Allocations allocations) {
        return KubeletAllocationHook.leases(leases, allocations);
    }
}
