package io.vfiobroker.web;

import io.vfiobroker.authz.BearerTokens;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextConfiguration;
import org.springframework.boot.actuate.autoconfigure.web.ManagementContextType;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.core.Ordered;

import java.io.IOException;
import java.nio.file.Path;

/** {@link ManagementGuard} in the child context of a separate management listener (listed in META-INF/spring). */
@ManagementContextConfiguration(value = ManagementContextType.CHILD, proxyBeanMethods = false)
public class ManagementGuardConfiguration {

    @Bean
    FilterRegistrationBean<ManagementGuard> managementGuard(@Value("${vfio-broker.metrics.token-file:}") String tokenFile) throws IOException {
        FilterRegistrationBean<ManagementGuard> r = new FilterRegistrationBean<>(
                new ManagementGuard(BearerTokens.load(tokenFile.isBlank() ? null : Path.of(tokenFile))));
        r.setOrder(Ordered.HIGHEST_PRECEDENCE);
        r.addUrlPatterns("/*");
        return r;
    }
}
