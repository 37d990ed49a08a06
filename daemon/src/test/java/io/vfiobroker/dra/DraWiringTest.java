package io.vfiobroker.dra;

import io.vfiobroker.host.SysfsHost;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;

import static org.assertj.core.api.Assertions.assertThat;

/** The daemon with {@code vfio-broker.dra.enabled=true} on the demo host serves and registers the DRA plugin. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE, properties = {"vfio-broker.demo=true",
        "vfio-broker.state-dir=${java.io.tmpdir}/vfio-broker-dra-wiring-${random.uuid}", "vfio-broker.dra.enabled=true",
        // the demo root is long; the registration socket path must fit sun_path
        "vfio-broker.dra.driver-name=vfio.example.io",
        "vfio-broker.dra.node-name=demo-node", "vfio-broker.dra.pools[0].name=edu",
        "vfio-broker.dra.pools[0].selectors.vendorDevice=1234:*"})
class DraWiringTest {

    @TestConfiguration
    static class Claims {
        @Bean
        ClaimSource claimSource() {
            return ref -> {
                throw new DraException("claim " + ref.describe() + " not found");
            };
        }
    }

    @Autowired
    DraPlugin plugin;
    @Autowired
    SysfsHost host;

    @Test
    void theDaemonRegistersTheDraPluginAndAnswersOnItsEndpoint() throws Exception {
        try (FakeDraKubelet kubelet = new FakeDraKubelet(((io.vfiobroker.host.LinuxSysfsHost) host).root())) {
            assertThat(kubelet.register().getName()).isEqualTo("vfio.example.io");
            var claim = FakeDraKubelet.claim("ns", "c", "uid-1");
            assertThat(kubelet.prepare(claim).getError()).contains("claim ns/c (uid uid-1) not found");
            assertThat(kubelet.unprepare(claim).getError()).isEmpty();
        }
        assertThat(plugin.registered()).isTrue();
    }
}
