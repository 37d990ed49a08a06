package io.vfiobroker.dra;

import io.vfiobroker.config.BrokerProperties;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;


/** Serves the kubelet DRA plugin when {@code vfio-broker.dra.enabled=true}. */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "vfio-broker.dra.enabled", havingValue = "true")
public class DraConfiguration {

    @Bean
    DraDriver draDriver(DraProperties props, BrokerProperties broker, SysfsHost host, DeviceProvisioning core, KubeletAllocationHook hook,
                        ObjectProvider<ClaimSource> claims,
                        @org.springframework.beans.factory.annotation.Value("${vfio-broker.dra.api-server:}") String apiServer,
                        @org.springframework.beans.factory.annotation.Value("${vfio-broker.dra.api-timeout:10s}") java.time.Duration apiTimeout) {
        // An API server URL that needs no credentials (kubectl proxy; the VM tests' stand-in), else the pod's own.
        ClaimSource source = claims.getIfAvailable(() -> apiServer.isBlank() ? ApiServerClaims.inCluster(props.driverName(), apiTimeout)
                : new ApiServerClaims(java.net.URI.create(apiServer), null, null, props.driverName(), apiTimeout));
        return new DraDriver(props, host, core, hook, source,
                broker.stateDir() != null ? broker.stateDir() : BrokerProperties.defaultStateDir(host));
    }

    /**
     * ResourceSlices for the pools, through the pod's service account: after device and binding events, and every
     * {@code vfio-broker.dra.refresh-interval} (60s) for what no event reports.
     * Outside a pod (no KUBERNETES_SERVICE_HOST, no client bean) nothing is published, and the log says so.
     */
    @Bean(destroyMethod = "close")
    DraSlices draSlices(DraProperties props, DeviceProvisioning core,
                        ObjectProvider<io.fabric8.kubernetes.client.KubernetesClient> client, io.vfiobroker.events.EventBus bus,
                        @org.springframework.beans.factory.annotation.Value("${vfio-broker.dra.refresh-interval:60s}") java.time.Duration every) {
        io.fabric8.kubernetes.client.KubernetesClient c = client.getIfAvailable(() -> System.getenv("KUBERNETES_SERVICE_HOST") == null ? null
                : new io.fabric8.kubernetes.client.KubernetesClientBuilder().build());
        if (c == null) {
            org.slf4j.LoggerFactory.getLogger(DraConfiguration.class).warn("event=resourceslices-off reason=\"not in a pod: no API server to publish to\"");
            return DraSlices.off();
        }
        DraSlices slices = new DraSlices(new SliceDevices(props, core), new ResourceSlicePublisher(c, props),
                core);
        slices.follow(bus);
        slices.start(every);
        return slices;
    }

    @Bean(initMethod = "start", destroyMethod = "close")
    DraPlugin draPlugin(DraProperties props, SysfsHost host, DraDriver driver) {
        return new DraPlugin(props, host, driver);
    }
}
