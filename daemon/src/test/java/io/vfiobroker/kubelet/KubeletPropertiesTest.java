package io.vfiobroker.kubelet;

import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.io.ByteArrayResource;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KubeletPropertiesTest {

    /** The shape the Helm chart renders into daemon.yaml. */
    static final String CHART_DAEMON_YAML = """
            vfio-broker:
              kubelet:
                enabled: true
                plugin-dir: /var/lib/kubelet/device-plugins
                cdi-dir: /var/run/cdi
                cdi: true
                resource-domain: vfio-broker.io
                broker-socket-dir: /run/vfio-broker
                refresh-interval: 5s
                pools:
                  - name: intel-x710-vf
                    mode: device-nodes
                    backend: legacy
                    selectors:
                      vendors: ["8086"]
                      devices: ["154c"]
                      drivers: ["iavf"]
                  - name: edu
                    mode: broker
                    backend: iommufd
                    selectors:
                      numaNodes: [0]
                      pfNames: ["ens1f0#0-3"]
            """;

    static KubeletProperties bind(String yaml) throws Exception {
        var sources = new YamlPropertySourceLoader().load("daemon.yaml", new ByteArrayResource(yaml.getBytes()));
        return new Binder(ConfigurationPropertySources.from(sources)).bind("vfio-broker.kubelet", KubeletProperties.class).get();
    }

    @Test
    void theChartsDaemonConfigBindsWithHostPathsBelowTheRoot() throws Exception {
        KubeletProperties p = bind(CHART_DAEMON_YAML);
        assertThat(p.enabled()).isTrue();
        assertThat(p.pluginDir()).isEqualTo("var/lib/kubelet/device-plugins");
        assertThat(p.cdiDir()).isEqualTo("var/run/cdi");
        assertThat(p.refreshInterval()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.pools()).hasSize(2);
        assertThat(p.pools().get(0).mode()).isEqualTo(PoolConfig.Mode.DEVICE_NODES);
        assertThat(p.pools().get(0).selectors().devices()).containsExactly("154c");
        assertThat(p.pools().get(1).mode()).isEqualTo(PoolConfig.Mode.BROKER);
        assertThat(p.pools().get(1).backend()).isEqualTo(PoolConfig.DeviceBackend.IOMMUFD);
        assertThat(p.pools().get(1).selectors().pfNames()).containsExactly("ens1f0#0-3");
        assertThat(p.resourceName(p.pools().get(1))).isEqualTo("vfio-broker.io/edu");
    }

    @Test
    void aPoolWithoutSelectorsOrWithABadNameIsRefusedWithAMessage() {
        assertThatThrownBy(() -> new PoolConfig("all", null, null, null)).hasMessageContaining("has no selectors");
        assertThatThrownBy(() -> new PoolConfig("Bad/Name", null, null, null)).hasMessageContaining("pool name 'Bad/Name'");
    }
}
