package io.vfiobroker.web;

import io.vfiobroker.DaemonApplication;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** An HTTP listener beyond loopback starts only with TLS and a way to authenticate callers; the daemon says which is missing. */
class WebListenerRefusalTest {

    @Test
    void theDaemonRefusesToStartOnAllAddressesWithoutTls() throws Exception {
        Path dir = Files.createTempDirectory("vb-listener-");
        Files.writeString(dir.resolve("policy.yaml"), "version: 1\nrules: []\n");
        assertThatThrownBy(() -> DaemonApplication.start("--server.address=0.0.0.0", "--server.port=0", "--vfio-broker.demo=true",
                "--vfio-broker.state-dir=" + dir.resolve("state"), "--vfio-broker.run-dir=" + dir.resolve("run"),
                "--vfio-broker.policy-file=" + dir.resolve("policy.yaml"), "--vfio-broker.policy-watch=false", "--vfio-broker.policy-sighup=false",
                "--server.shutdown=immediate").close())
                .hasStackTraceContaining("the HTTP listener on 0.0.0.0 is not loopback-only and needs TLS");
    }

    @Test
    void tlsAloneIsNotEnoughButClientCertificatesOrTokensAre() {
        assertThatThrownBy(() -> WebGuardConfiguration.checkListener("192.0.2.1", true, false, false))
                .hasMessageContaining("needs client certificates (server.ssl.client-auth=need").hasMessageContaining("bearer tokens");
        assertThatThrownBy(() -> WebGuardConfiguration.checkListener("", false, true, true)).hasMessageContaining("all addresses")
                .hasMessageContaining("needs TLS");
        assertThatCode(() -> WebGuardConfiguration.checkListener("192.0.2.1", true, true, false)).doesNotThrowAnyException();
        assertThatCode(() -> WebGuardConfiguration.checkListener("::", true, false, true)).doesNotThrowAnyException();
        assertThatCode(() -> WebGuardConfiguration.checkListener("127.0.0.1", false, false, false)).doesNotThrowAnyException();
        assertThatCode(() -> WebGuardConfiguration.checkListener("::1", false, false, false)).doesNotThrowAnyException();
        assertThatCode(() -> WebGuardConfiguration.checkListener("localhost", false, false, false)).doesNotThrowAnyException();
    }
}
