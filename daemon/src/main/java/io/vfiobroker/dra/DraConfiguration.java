package io.vfiobroker.dra;

import io.vfiobroker.binding.BindingService;
import io.vfiobroker.config.BrokerProperties;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.kubelet.DeviceAccess;
import io.vfiobroker.kubelet.KubeletAllocationHook;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.policy.PolicyService;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.util.Optional;

/** Serves the kubelet DRA plugin when {@code vfio-broker.dra.enabled=true}. */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "vfio-broker.dra.enabled", havingValue = "true")
public class DraConfiguration {

    @Bean
    DraDriver draDriver(DraProperties props, BrokerProperties broker, SysfsHost host, InventoryScanner scanner, BindingService binding,
                        ObjectProvider<PolicyService> policy, ObjectProvider<LeaseService> leases, ObjectProvider<ClaimSource> claims,
                        io.vfiobroker.kubelet.Allocations allocations,
                        @org.springframework.beans.factory.annotation.Value("${vfio-broker.dra.api-server:}") String apiServer,
                        @org.springframework.beans.factory.annotation.Value("${vfio-broker.dra.api-timeout:10s}") java.time.Duration apiTimeout) {
        PolicyService ps = policy.getIfAvailable();
        // Without a policy service nothing is granted: default deny, as for a missing policy file.
        DeviceAccess access = ps != null ? DeviceAccess.policy(ps)
                : (r, d, i) -> Optional.of("no policy service: every device is refused (default deny)");
        LeaseService ls = leases.getIfAvailable();
        KubeletAllocationHook hook = ls != null ? KubeletAllocationHook.leases(ls, allocations) : KubeletAllocationHook.NONE;
        // An API server URL that needs no credentials (kubectl proxy; the VM tests' stand-in), else the pod's own.
        ClaimSource source = claims.getIfAvailable(() -> apiServer.isBlank() ? ApiServerClaims.inCluster(props.driverName(), apiTimeout)
                : new ApiServerClaims(java.net.URI.create(apiServer), null, null, props.driverName(), apiTimeout));
        return new DraDriver(props, host, scanner, binding, access, hook, source,
                broker.stateDir() != null ? broker.stateDir() : BrokerProperties.defaultStateDir(host));
    }

    /**
     * ResourceSlices for the pools, through the pod's service account: after device and binding events, and every
     * {@code vfio-broker.dra.refresh-interval} (60s) for what no event reports.
     * Outside a pod (no KUBERNETES_SERVICE_HOST, no client bean) nothing is published, and the log says so.
     */
    @Bean(destroyMethod = "close")
    DraSlices draSlices(DraProperties props, SysfsHost host, InventoryScanner scanner, BindingService binding,
                        ObjectProvider<io.fabric8.kubernetes.client.KubernetesClient> client, io.vfiobroker.events.EventBus bus,
                        @org.springframework.beans.factory.annotation.Value("${vfio-broker.dra.refresh-interval:60s}") java.time.Duration every) {
        io.fabric8.kubernetes.client.KubernetesClient c = client.getIfAvailable(() -> System.getenv("KUBERNETES_SERVICE_HOST") == null ? null
                : new io.fabric8.kubernetes.client.KubernetesClientBuilder().build());
        if (c == null) {
            org.slf4j.LoggerFactory.getLogger(DraConfiguration.class).warn("event=resourceslices-off reason=\"not in a pod: no API server to publish to\"");
            return DraSlices.off();
        }
        DraSlices slices = new DraSlices(new SliceDevices(props, host), new ResourceSlicePublisher(c, props),
                scanner, binding);
        slices.follow(bus);
        slices.start(every);
        return slices;
    }

    @Bean(initMethod = "start", destroyMethod = "close")
    DraPlugin draPlugin(DraProperties props, SysfsHost host, DraDriver driver) {
        return new DraPlugin(props, host, driver);
    }
}
