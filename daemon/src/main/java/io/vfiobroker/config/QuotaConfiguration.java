package io.vfiobroker.config;

import io.vfiobroker.quota.QuotaProperties;
import io.vfiobroker.quota.Quotas;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** The per-uid quotas ({@code vfio-broker.quota.*}) shared by fd.sock, the streams and the lease path. */
@Configuration(proxyBeanMethods = false)
public class QuotaConfiguration {

    @Bean
    Quotas quotas(QuotaProperties props) {
        return new Quotas(props);
    }
}
