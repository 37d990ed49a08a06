package io.vfiobroker.web;

import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The guard and the Unix-socket relay read the listener from one binding, so they agree on whether it is TLS. */
class HttpListenerPropertiesTest {

    static HttpListenerProperties bind(Map<String, String> props) {
        return new Binder(new MapConfigurationPropertySource(props)).bindOrCreate("server", HttpListenerProperties.class);
    }

    @Test
    void aKeyStoreServesTlsUnlessSslIsSwitchedOff() {
        HttpListenerProperties on = bind(Map.of("server.address", "127.0.0.1", "server.ssl.key-store", "/etc/vfio-broker/web.p12"));
        assertThat(on.tls()).isTrue();
        assertThat(on.plainLoopback()).isFalse();
        // The relay used to ignore server.ssl.enabled and stay off for this plain loopback listener.
        HttpListenerProperties off = bind(Map.of("server.address", "127.0.0.1", "server.ssl.key-store", "/etc/vfio-broker/web.p12",
                "server.ssl.enabled", "false"));
        assertThat(off.tls()).isFalse();
        assertThat(off.plainLoopback()).isTrue();
    }

    @Test
    void aPemCertificateOrABundleServesTlsToo() {
        assertThat(bind(Map.of("server.ssl.certificate", "/etc/vfio-broker/web.crt")).tls()).isTrue();
        assertThat(bind(Map.of("server.ssl.bundle", "web")).tls()).isTrue();
        assertThat(bind(Map.of("server.ssl.client-auth", "need")).tls()).isFalse();
    }

    @Test
    void defaultsAreAllAddressesPlainWithoutClientCertificates() {
        HttpListenerProperties none = bind(Map.of());
        assertThat(none.address()).isEmpty();
        assertThat(none.tls()).isFalse();
        assertThat(none.clientCertificates()).isFalse();
        assertThat(none.plainLoopback()).isFalse();
        assertThat(bind(Map.of("server.ssl.client-auth", " NEED ")).clientCertificates()).isTrue();
        assertThat(bind(Map.of("server.address", "::1")).plainLoopback()).isTrue();
    }
}
