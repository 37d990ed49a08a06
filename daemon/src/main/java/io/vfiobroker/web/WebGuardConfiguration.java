package io.vfiobroker.web;

import io.vfiobroker.authz.Authorization;
import io.vfiobroker.authz.BearerTokens;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.Ordered;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * The HTTP listener's guard ({@link WebGuard}) and its refusal to listen beyond loopback unprotected: on any other
 * address it needs TLS ({@code server.ssl.*}) and either client certificates ({@code server.ssl.client-auth=need}
 * with a trust store) or bearer tokens ({@code vfio-broker.web.token-file}, one per line, as for gRPC's TCP listener).
 * {@code vfio-broker.web.host-names}: further names (comma-separated) the daemon answers to besides localhost,
 * 127.0.0.1, [::1] and {@code server.address}.
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(HttpListenerProperties.class)
public class WebGuardConfiguration {

    @Bean
    BearerTokens webBearerTokens(@Value("${vfio-broker.web.token-file:}") String tokenFile) throws IOException {
        return BearerTokens.load(tokenFile.isBlank() ? null : Path.of(tokenFile));
    }

    @Bean
    HttpIdentity httpIdentity(Authorization authz, BearerTokens webBearerTokens) {
        return new HttpIdentity(authz, webBearerTokens);
    }

    @Bean
    WebGuard webGuard(HttpIdentity identity, BearerTokens webBearerTokens, HttpListenerProperties listener,
                      @Value("${vfio-broker.web.host-names:}") String names) {
        String address = listener.address();
        checkListener(address, listener.tls(), listener.clientCertificates(), !webBearerTokens.isEmpty());
        Set<String> hosts = new LinkedHashSet<>(Set.of("localhost", "127.0.0.1", "[::1]"));
        if (!address.isBlank()) hosts.add(hostName(address.strip()));
        for (String n : names.split(",")) if (!n.isBlank()) hosts.add(hostName(n.strip()));
        return new WebGuard(identity, hosts);
    }

    @Bean
    FilterRegistrationBean<WebGuard> webGuardRegistration(WebGuard guard) {
        FilterRegistrationBean<WebGuard> r = new FilterRegistrationBean<>(guard);
        r.setOrder(Ordered.HIGHEST_PRECEDENCE);
        r.addUrlPatterns("/*");
        return r;
    }

    /** Refuses a listener beyond loopback that has no TLS or no way to authenticate its callers, saying which is missing. */
    static void checkListener(String address, boolean tls, boolean clientCerts, boolean tokens) {
        if (loopback(address)) return;
        String where = address.isBlank() ? "all addresses" : address;
        if (!tls) {
            throw new IllegalStateException("the HTTP listener on " + where + " is not loopback-only and needs TLS: set server.ssl.key-store "
                    + "(or server.ssl.bundle), or listen on 127.0.0.1");
        }
        if (!clientCerts && !tokens) {
            throw new IllegalStateException("the HTTP listener on " + where + " needs client certificates (server.ssl.client-auth=need with "
                    + "server.ssl.trust-store) or bearer tokens (vfio-broker.web.token-file): remote callers could not be identified");
        }
    }

    static boolean loopback(String address) {
        if (address == null || address.isBlank()) return false;
        try {
            for (InetAddress a : InetAddress.getAllByName(address.strip())) if (!a.isLoopbackAddress()) return false;
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static String hostName(String n) {
        String h = n.toLowerCase(Locale.ROOT);
        return h.contains(":") && !h.startsWith("[") ? "[" + h + "]" : h;
    }
}
