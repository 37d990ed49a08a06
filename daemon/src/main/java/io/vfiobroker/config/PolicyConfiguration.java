package io.vfiobroker.config;

import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.policy.PolicyService;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.nio.file.Path;
import java.time.Duration;

/**
 * Wires the policy service. {@code vfio-broker.policy-file} (default /etc/vfio-broker/policy.yaml) is watched
 * for changes and reloaded on SIGHUP; {@code vfio-broker.policy-watch=false} and
 * {@code vfio-broker.policy-sighup=false} turn those off.
 */
@Configuration(proxyBeanMethods = false)
public class PolicyConfiguration {

    @Bean(destroyMethod = "close")
    PolicyService policyService(InventoryScanner scanner,
                                @Value("${vfio-broker.policy-file:/etc/vfio-broker/policy.yaml}") Path file,
                                @Value("${vfio-broker.policy-watch:true}") boolean watch,
                                @Value("${vfio-broker.policy-poll-interval:5s}") Duration poll,
                                @Value("${vfio-broker.policy-sighup:true}") boolean sighup) {
        PolicyService service = new PolicyService(file, scanner);
        if (watch) service.startWatching(poll);
        if (sighup) service.installSighup();
        return service;
    }
}
