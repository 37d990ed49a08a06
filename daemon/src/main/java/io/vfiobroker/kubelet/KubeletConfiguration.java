package io.vfiobroker.kubelet;

import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Serves the device plugins when {@code vfio-broker.kubelet.enabled=true}. */
@Configuration(proxyBeanMethods = false)
@ConditionalOnProperty(name = "vfio-broker.kubelet.enabled", havingValue = "true")
public class KubeletConfiguration {

    @Bean(initMethod = "start", destroyMethod = "close")
    KubeletPlugins kubeletPlugins(KubeletProperties props, SysfsHost host, DeviceProvisioning core, KubeletAllocationHook hook) {
        return new KubeletPlugins(props, host, core, hook);
    }
}
