package io.vfiobroker.kubelet;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.time.Duration;

/** One registry of broker-mode allocations, shared by the device plugin and the DRA driver. */
@Configuration(proxyBeanMethods = false)
public class AllocationsConfiguration {

    /** Unclaimed, an allocation's token expires after the TTL. */
    @Bean
    Allocations brokerAllocationRegistry(@Value("${vfio-broker.kubelet.allocation-ttl:1h}") Duration ttl) {
        return new Allocations(ttl);
    }
}
