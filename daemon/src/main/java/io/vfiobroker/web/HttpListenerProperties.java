package io.vfiobroker.web;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The HTTP listener as Spring Boot's {@code server.*} sets it up, bound once for the guard ({@link WebGuardConfiguration})
 * and the Unix-socket relay ({@link UnixHttpConfiguration}), so both take the same listener for TLS or plain.
 *
 * @param address {@code server.address}; blank: all addresses
 * @param ssl     {@code server.ssl.*}
 */
@ConfigurationProperties("server")
public record HttpListenerProperties(String address, Ssl ssl) {

    /** @param enabled Spring Boot's switch (default true): off, the listener is plain whatever else is set */
    public record Ssl(Boolean enabled, String keyStore, String certificate, String bundle, String clientAuth) {
        public Ssl {
            if (enabled == null) enabled = true;
            if (keyStore == null) keyStore = "";
            if (certificate == null) certificate = "";
            if (bundle == null) bundle = "";
            if (clientAuth == null) clientAuth = "none";
        }
    }

    public HttpListenerProperties {
        if (address == null) address = "";
        if (ssl == null) ssl = new Ssl(null, null, null, null, null);
    }

    /** Whether Spring Boot serves TLS: switched on, with a key store, a PEM certificate or an SSL bundle to serve it with. */
    public boolean tls() {
        return ssl.enabled() && !(ssl.keyStore().isBlank() && ssl.certificate().isBlank() && ssl.bundle().isBlank());
    }

    public boolean clientCertificates() {
        return "need".equalsIgnoreCase(ssl.clientAuth().strip());
    }

    /** Plain HTTP that only this host reaches: the one listener the Unix socket relays to. */
    public boolean plainLoopback() {
        return !tls() && WebGuardConfiguration.loopback(address);
    }
}
