package io.vfiobroker.kubelet;

import io.vfiobroker.binding.BindingService;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.policy.PolicyService;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;


/** Serves the device plugins when {@code vfio-broker.kubelet.enabled=true}. */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "vfio-broker.kubelet.enabled", havingValue = "true")
public class KubeletConfiguration {

    @Bean(initMethod = "start", destroyMethod = "close")
    KubeletPlugins kubeletPlugins(KubeletProperties props, SysfsHost host, InventoryScanner scanner, BindingService binding,
                                  ObjectProvider<PolicyService> policy, ObjectProvider<KubeletAllocationHook> hook) {
        PolicyService ps = policy.getIfAvailable();
        // Without a policy service nothing is granted: default deny, as for a missing policy file.
        DeviceAccess access = ps != null ? DeviceAccess.policy(ps)
                : (r, d, i) -> java.util.Optional.of("no policy service: every device is refused (default deny)");
        return new KubeletPlugins(props, host, scanner, binding, access, hook.getIfAvailable(() -> KubeletAllocationHook.NONE));
    }

    /** Broker-mode Allocate answers a token the pod's client presents on Acquire; unclaimed, it expires after the TTL. */
    @Bean
    KubeletAllocationHook brokerAllocations(LeaseService leases, Allocations allocations) {
        return KubeletAllocationHook.leases(leases, allocations);
    }
}
